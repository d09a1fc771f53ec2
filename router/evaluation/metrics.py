"""How good a ranking of people is, given who really answered: P@1, Hit@k, MRR, nDCG@k.

Rankings are lists of people best first; the truth is a set. Every function scores one case;
``Scores.of`` averages them over many.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass


def reciprocal_rank(ranking: Sequence[int], truth: Collection[int]) -> float:
    """1 / the rank of the first right person; 0 when nobody in the ranking is right."""
    for rank, person in enumerate(ranking, start=1):
        if person in truth:
            return 1.0 / rank
    return 0.0


def hit_at(ranking: Sequence[int], truth: Collection[int], k: int) -> float:
    """1 when one of the first ``k`` people is right (asking ``k`` people would have worked)."""
    return 1.0 if any(person in truth for person in ranking[:k]) else 0.0


def ndcg_at(ranking: Sequence[int], truth: Collection[int], k: int) -> float:
    """Normalised discounted cumulative gain of the first ``k``, each right person worth 1."""
    if not truth:
        return 0.0
    gain = sum(
        1.0 / math.log2(rank + 1)
        for rank, person in enumerate(ranking[:k], start=1)
        if person in truth
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(truth), k) + 1))
    return gain / ideal


def busiest_share(rankings: Sequence[Sequence[int]], k: int = 3) -> float:
    """The share of cases whose first ``k`` include the person who is most often among them.

    Not a quality figure but a load one: near 1.0 means the same person would be asked nearly
    every question, which a router must not do to real people.
    """
    if not rankings:
        return 0.0
    counts: dict[int, int] = {}
    for ranking in rankings:
        for person in set(ranking[:k]):
            counts[person] = counts.get(person, 0) + 1
    return max(counts.values(), default=0) / len(rankings)


@dataclass(frozen=True)
class Scored:
    """One case's ranking next to its truth (answerers) and strict truth (the accepted answerer)."""

    ranking: Sequence[int]
    truth: frozenset[int]
    accepted: int | None = None


@dataclass(frozen=True)
class Scores:
    """Mean figures over ``cases``; accepted-answerer MRR only over the ``accepted_cases`` with one."""

    cases: int
    p_at_1: float
    hit_at_3: float
    hit_at_10: float
    mrr: float
    ndcg_at_10: float
    accepted_mrr: float
    accepted_cases: int
    busiest_at_3: float

    @classmethod
    def of(cls, scored: Sequence[Scored]) -> Scores:
        """The mean of every figure over ``scored`` (all zero when there is no case)."""

        def mean(values: list[float]) -> float:
            return sum(values) / len(values) if values else 0.0

        accepted = [
            reciprocal_rank(case.ranking, {case.accepted})
            for case in scored
            if case.accepted is not None
        ]
        return cls(
            cases=len(scored),
            p_at_1=mean([hit_at(case.ranking, case.truth, 1) for case in scored]),
            hit_at_3=mean([hit_at(case.ranking, case.truth, 3) for case in scored]),
            hit_at_10=mean([hit_at(case.ranking, case.truth, 10) for case in scored]),
            mrr=mean([reciprocal_rank(case.ranking, case.truth) for case in scored]),
            ndcg_at_10=mean([ndcg_at(case.ranking, case.truth, 10) for case in scored]),
            accepted_mrr=mean(accepted),
            accepted_cases=len(accepted),
            busiest_at_3=busiest_share([case.ranking for case in scored], 3),
        )

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)
