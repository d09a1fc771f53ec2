"""What the learned ranker sees of a (question, person) pair, in terms that mean the same anywhere.

Ranks, ratios to the question's best match, within-question standings and log counts, never raw
sizes of one community, so a model trained on some networks transfers to one it has never seen.
Every feature is computed from what search found for the question (``Hit``) and from the answer
log *as of the asking time* (``AnswerLog.as_of``), so the same code serves training (as of each
past question) and routing (as of now).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from router.routing.answer_log import DAY, LAST_N, Standing
from router.routing.ranking import Hit, RankingWeights

Matrix = npt.NDArray[np.float64]
NOT_FOUND_RANK = 200.0

# name -> the kind of reason it explains (see router.routing.learned)
FEATURES: dict[str, str] = {
    "dense_best": "evidence",  # best cosine of the person's evidence to the question
    "dense_gap": "evidence",  # ... minus the question's best cosine over everyone
    "dense_top3": "evidence",  # mean of their three best cosines
    "dense_count": "evidence",  # log count of their evidence among the dense matches
    "lexical_ratio": "evidence",  # best BM25 score / the question's best BM25 score
    "lexical_count": "evidence",  # log count of their evidence among the lexical matches
    "relevance_ratio": "evidence",  # fused reciprocal-rank relevance / the best person's
    "relevance_rank": "evidence",  # log rank of that relevance among the candidates
    "answers_log": "activity",  # log answers so far
    "answers_90d": "activity",  # log answers in the last 90 days
    "answers_365d": "activity",  # log answers in the last 365 days
    "share_365d": "activity",  # their share of the network's answers in the last 365 days
    "share_last_50": "activity",  # their share of the network's last 50 answers
    "share_last_10": "activity",  # their share of the network's last 10 answers
    "active_rank": "activity",  # log rank by answers so far in the whole network
    "recent_rank": "activity",  # log rank by answers in the last 90 days
    "days_since_last": "activity",  # log days since their last answer
    "hour_presence": "presence",  # how often they answer around this hour, 1 = uniform
    "weekday_presence": "presence",  # how often they answer on this weekday, 1 = uniform
    "ties_log": "social",  # log favours between them and the asker, either way
}
NAMES: tuple[str, ...] = tuple(FEATURES)


def relevance_of(hits: Sequence[Hit], weights: RankingWeights) -> dict[int, float]:
    """Each person's discounted sum of their best few evidence credits (as the hand-set blend)."""
    credits: dict[int, list[float]] = {}
    for hit in hits:
        credits.setdefault(hit.person_id, []).append(hit.credit(weights.rrf_k))
    return {
        person: sum(
            credit * weights.discount**n
            for n, credit in enumerate(sorted(values, reverse=True)[: weights.per_person_top])
        )
        for person, values in credits.items()
    }


def _logs(values: npt.NDArray[np.float64], *, plus_one: bool) -> npt.NDArray[np.float64]:
    """``math.log`` (or ``log1p``) of each value: the very values the model was trained on, which
    NumPy's own vectorised logarithm can miss in the last bit."""
    log = math.log1p if plus_one else math.log
    return np.fromiter((log(v) for v in values.tolist()), dtype=np.float64, count=len(values))


def _ranks_in(
    sorted_values: npt.NDArray[np.int64], values: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """1 + how many have strictly more, for each value (ties share the best rank)."""
    above = len(sorted_values) - np.searchsorted(sorted_values, values, side="right")
    return (above + 1).astype(np.float64)


def presence(
    counts: npt.NDArray[np.int32], around: Sequence[int], prior: float = 2.0
) -> npt.NDArray[np.float64]:
    """Per row of ``counts`` (people x bins), the share of answers in the bins ``around`` against
    a uniform profile, smoothed toward 1."""
    bins = counts.shape[1]
    expected = len(around) / bins
    inside = counts[:, [i % bins for i in around]].sum(axis=1).astype(np.float64)
    total = counts.sum(axis=1).astype(np.float64)
    shares: npt.NDArray[np.float64] = (inside + prior * expected) / (total + prior) / expected
    return shares


def person_features(
    hits: Sequence[Hit],
    people: Sequence[int],
    *,
    standing: Standing,
    closeness: Mapping[int, int],
    weights: RankingWeights,
) -> Matrix:
    """One row of ``NAMES`` per person in ``people`` for the question the hits were found for;
    the standing's columns are gathered for everyone at once (a route's pool is ~100 people)."""
    dense: dict[int, list[float]] = {}
    lexical: dict[int, list[float]] = {}
    for hit in hits:  # a declined or down-weighted piece of evidence matches that much less
        if hit.dense_score is not None:
            dense.setdefault(hit.person_id, []).append(float(hit.dense_score) * hit.weight)
        if hit.lexical_score is not None:
            lexical.setdefault(hit.person_id, []).append(float(hit.lexical_score) * hit.weight)
    best_dense = max((max(v) for v in dense.values()), default=0.0)
    best_lexical = max((max(v) for v in lexical.values()), default=0.0) or 1.0
    relevance = relevance_of(hits, weights)
    pool_relevance = sorted((relevance.get(p, 0.0) for p in people), reverse=True)
    top_relevance = (pool_relevance[0] if pool_relevance else 0.0) or 1.0
    ascending = pool_relevance[::-1]
    size = len(people)
    rows = np.zeros((size, len(NAMES)), dtype=np.float64)
    for row, person in enumerate(people):
        scores = sorted(dense.get(person, []), reverse=True)
        words = lexical.get(person, [])
        mine = relevance.get(person, 0.0)
        rank = 1 + len(ascending) - bisect.bisect_right(ascending, mine)  # how many beat them
        best = scores[0] if scores else 0.0
        rows[row, :8] = (
            best,
            best - best_dense,
            sum(scores[:3]) / 3.0,
            math.log1p(len(scores)),
            max(words) / best_lexical if words else 0.0,
            math.log1p(len(words)),
            mine / top_relevance,
            math.log(rank),
        )
    slots = np.fromiter((standing.slot_of.get(p, -1) for p in people), dtype=np.int64, count=size)
    known = slots >= 0
    at = np.where(known, slots, 0)

    def gather(column: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.where(known, column[at], 0) if len(column) else np.zeros(size, dtype=np.int64)

    total, recent, yearly = (
        gather(standing.total),
        gather(standing.last_90d),
        gather(standing.last_365d),
    )
    network_365 = float(standing.last_365d.sum()) or 1.0
    moment = standing.now
    hour = int((moment // 3600) % 24)
    weekday = int((moment // DAY + 3) % 7)
    answered = total > 0
    last = np.where(answered, standing.last_at[at] if len(standing.last_at) else 0.0, 0.0)
    not_found = math.log(NOT_FOUND_RANK)
    rows[:, 8] = _logs(total.astype(np.float64), plus_one=True)
    rows[:, 9] = _logs(recent.astype(np.float64), plus_one=True)
    rows[:, 10] = _logs(yearly.astype(np.float64), plus_one=True)
    rows[:, 11] = yearly / network_365
    rows[:, 12] = gather(standing.last_50) / LAST_N
    rows[:, 13] = gather(standing.last_10) / 10.0
    rows[:, 14] = np.where(
        answered, _logs(_ranks_in(standing.sorted_total, total), plus_one=False), not_found
    )
    rows[:, 15] = np.where(
        recent > 0, _logs(_ranks_in(standing.sorted_recent, recent), plus_one=False), not_found
    )
    since = np.maximum((moment - last) / DAY, 0.0)
    rows[:, 16] = np.where(answered, _logs(since, plus_one=True), math.nan)
    rows[:, 17] = presence(standing.hours.rows(slots), (hour - 1, hour, hour + 1))
    rows[:, 18] = presence(standing.weekdays.rows(slots), (weekday,))
    rows[:, 19] = [math.log1p(closeness.get(person, 0)) for person in people]
    return rows
