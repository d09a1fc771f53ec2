"""From evidence matches to per-person scores: pure functions, no database, no model.

Each piece of evidence found by the dense or the lexical search earns reciprocal-rank credit in
each list (so neither score scale dominates); a person's relevance is the discounted sum of their
best few pieces (one strong match beats many weak ones, but breadth still counts). Relevance is
then blended with how much and how recently the person answers, and their closeness to the asker.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RankingWeights:
    """The knobs of the blend; defaults chosen on the development sites, see the closing notes."""

    rrf_k: float = 60.0
    per_person_top: int = 5
    discount: float = 0.9  # weight of a person's n-th best evidence is discount**n
    prior_weight: float = 1.0
    prior_spread: float = 1000.0
    social_weight: float = 0.2
    social_saturation: float = 5.0
    pool_active: int = 30  # the most active people always compete, even with no matching text
    half_life_days: float = 180.0  # an answer this old counts half as much toward activity
    min_similarity: float = 0.25  # a dense match below this cosine is noise, not evidence
    similarity_window: float = 0.3  # ...and so is one this far below the best match
    # the learned order is fused with who answered most in the two years up to the network's
    # newest answer, the more the older that answer is (router.routing.recency); 0 turns it off
    recent_weight: float = 0.75  # below 1 the model keeps the larger say (1.25 cost beer .03)
    recent_days: float = 730.0
    recent_ramp_days: float = 180.0
    # ...and more where a few people give most of those answers: below this many effective
    # answerers (1 / the sum of squared shares) the weight grows with the square of the ratio
    concentrated_below: float = 24.0
    concentrated_cap: float = 8.0  # at most this many times ``recent_weight``


@dataclass(frozen=True)
class Hit:
    """One evidence row found by search: its owner, its ranks in each list, and its weight."""

    evidence_id: int
    person_id: int
    dense_rank: int | None = None
    dense_score: float | None = None
    lexical_rank: int | None = None
    lexical_score: float | None = None
    weight: float = 1.0

    def credit(self, rrf_k: float) -> float:
        """Reciprocal-rank credit from each list it appears in, scaled by the evidence weight."""
        total = 0.0
        if self.dense_rank is not None:
            total += 1.0 / (rrf_k + self.dense_rank)
        if self.lexical_rank is not None:
            total += 1.0 / (rrf_k + self.lexical_rank)
        return self.weight * total


@dataclass
class PersonScore:
    person_id: int
    relevance: float = 0.0
    prior: float = 0.0
    social: float = 0.0
    score: float = 0.0
    hits: list[tuple[float, Hit]] = field(default_factory=list)


def merge_hits(
    dense: Iterable[tuple[int, float]],
    lexical: Iterable[tuple[int, float]],
    owner: Mapping[int, int],
    weight: Mapping[int, float],
    *,
    min_similarity: float = 0.0,
    similarity_window: float = 1.0,
) -> list[Hit]:
    """Combine two ranked lists of (evidence id, score) into hits carrying both ranks.

    Dense matches below ``min_similarity`` are dropped: a small network would otherwise "match"
    every piece of evidence.
    """
    found: dict[int, dict[str, float | int]] = {}
    floor = min_similarity
    for rank, (evidence_id, score) in enumerate(dense, start=1):
        if rank == 1:
            floor = max(min_similarity, score - similarity_window)
        if score < floor:
            break
        found.setdefault(evidence_id, {})["dense_rank"] = rank
        found[evidence_id]["dense_score"] = score
    for rank, (evidence_id, score) in enumerate(lexical, start=1):
        found.setdefault(evidence_id, {})["lexical_rank"] = rank
        found[evidence_id]["lexical_score"] = score
    hits = []
    for evidence_id, ranks in found.items():
        person_id = owner.get(evidence_id)
        if person_id is None:
            continue
        hits.append(
            Hit(
                evidence_id=evidence_id,
                person_id=person_id,
                dense_rank=_int_or_none(ranks.get("dense_rank")),
                dense_score=_float_or_none(ranks.get("dense_score")),
                lexical_rank=_int_or_none(ranks.get("lexical_rank")),
                lexical_score=_float_or_none(ranks.get("lexical_score")),
                weight=weight.get(evidence_id, 1.0),
            )
        )
    return hits


def _int_or_none(value: float | int | None) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def score_people(
    hits: Iterable[Hit],
    *,
    activity: Mapping[int, float],
    closeness: Mapping[int, int],
    candidates: Iterable[int] = (),
    weights: RankingWeights = RankingWeights(),
) -> list[PersonScore]:
    """Score everyone who matched (and every extra candidate), best first.

    ``activity`` is a recency-weighted answer count per person; ``closeness`` counts favours
    between each person and the asker, either way.
    """
    people: dict[int, PersonScore] = {}
    for hit in hits:
        people.setdefault(hit.person_id, PersonScore(hit.person_id)).hits.append(
            (hit.credit(weights.rrf_k), hit)
        )
    for person_id in candidates:
        people.setdefault(person_id, PersonScore(person_id))
    if not people:
        return []
    for person in people.values():
        person.hits.sort(key=lambda pair: -pair[0])
        person.relevance = sum(
            credit * weights.discount**n
            for n, (credit, _) in enumerate(person.hits[: weights.per_person_top])
        )
    top_relevance = max(person.relevance for person in people.values()) or 1.0
    top_activity = max((activity.get(pid, 0.0) for pid in people), default=0.0) or 1.0
    spread = weights.prior_spread
    for person in people.values():
        share = activity.get(person.person_id, 0.0) / top_activity
        person.prior = math.log1p(spread * share) / math.log1p(spread)
        ties = closeness.get(person.person_id, 0)
        person.social = min(1.0, math.log1p(ties) / math.log1p(weights.social_saturation))
        person.score = (
            person.relevance / top_relevance
            + weights.prior_weight * person.prior
            + weights.social_weight * person.social
        )
    return sorted(people.values(), key=lambda p: (-p.score, p.person_id))
