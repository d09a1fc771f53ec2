"""Who answered most lately, fused with the learned order, because the model's features go stale.

Activity features are measured back from the asking time. When a network's history stops well
before a question (an imported dump, a quiet spell), every window is empty and the model loses
who is active. Who answered most in the ``recent_days`` up to the network's newest answer does
not age. Its order is fused with the model's by reciprocal ranks (k = 60), at a weight that grows
with how stale the history is: none when the newest answer is from today, ``recent_weight`` once
it is ``recent_ramp_days`` old, and more where a few people give most answers (fewer effective
answerers than ``concentrated_below``): there, who was active says more than any match.
Measured leave-one-site-out in docs/ranking.md ("Stale history").
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from router.routing.answer_log import DAY, AnswerLog
from router.routing.ranking import RankingWeights

RRF_K = 60.0
STALE_NOTE_DAYS = 30  # a quiet month is worth telling the asker about


def answers_before_newest(log: AnswerLog, days: float) -> npt.NDArray[np.int64]:
    """Answers per slot of ``log`` in the ``days`` up to (and including) its newest answer."""
    if not len(log):
        return np.zeros(len(log.people), dtype=np.int64)
    end = float(log.times[-1])
    start = int(np.searchsorted(log.times, end - days * DAY, side="left"))
    return np.bincount(log.slots[start:], minlength=len(log.people)).astype(np.int64)


def fused_order(
    people: Sequence[int],
    scores: npt.NDArray[np.float64],
    recent: Sequence[int],
    weight: float,
) -> list[int]:
    """Positions into ``people``, best first: the model's rank fused with the recent-activity
    rank, where equal counts share a rank (so people who answered alike keep the model's order);
    ties of the fused score by person id, as everywhere in ranking."""
    ids = np.asarray(people, dtype=np.int64)
    model_rank = np.empty(len(ids))
    model_rank[np.lexsort((ids, -scores))] = np.arange(1, len(ids) + 1)
    if weight <= 0 or not len(ids):
        return [int(i) for i in np.argsort(model_rank, kind="stable")]
    counts = np.asarray(recent, dtype=np.float64)
    ascending = np.sort(counts)  # equal counts share the best rank: a tie says nothing
    recent_rank = len(ids) - np.searchsorted(ascending, counts, side="right") + 1.0
    fused = 1.0 / (RRF_K + model_rank) + weight / (RRF_K + recent_rank)
    return [int(i) for i in np.lexsort((ids, -fused))]


def fused_scores(
    people: Sequence[int], raw: npt.NDArray[np.float64], recent: Sequence[int], weight: float
) -> tuple[list[tuple[int, float]], set[int]]:
    """(person, score) best first, and who the recent order lifted above their model rank.

    Scores keep the model's spread (exp of the raw score minus the best, in (0, 1]) and are dealt
    out in the fused order, so policies that scale them weigh as much as before.
    """
    if not len(people):
        return [], set()
    order = np.asarray(fused_order(people, raw, recent, weight), dtype=np.int64)
    spread = np.sort(np.exp(raw - raw.max()))[::-1]
    ids = np.asarray(people, dtype=np.int64)
    model_place = np.empty(len(ids), dtype=np.int64)
    model_place[np.lexsort((ids, -raw))] = np.arange(len(ids))
    ranked = list(zip(ids[order].tolist(), spread.tolist(), strict=True))
    lifted = set(ids[order[np.arange(len(ids)) < model_place[order]]].tolist())
    return ranked, lifted


def effective_answerers(counts: npt.NDArray[np.int64]) -> float:
    """How many people the answers are spread over: 1 / the sum of squared shares (inverse
    Herfindahl), so 20 people answering alike count 20 and one person doing it all counts 1."""
    total = float(counts.sum())
    if total <= 0:
        return math.inf
    return total * total / float(np.dot(counts.astype(np.float64), counts))


def stale_weight(weights: RankingWeights, stale_days: float, spread: float = math.inf) -> float:
    """How much the recent-activity order counts when the newest answer is ``stale_days`` old and
    the answers up to it are spread over ``spread`` effective answerers."""
    ramp = max(weights.recent_ramp_days, 1e-9)
    concentrated = min(
        weights.concentrated_cap, max(1.0, (weights.concentrated_below / max(spread, 1e-9)) ** 2)
    )
    return weights.recent_weight * concentrated * min(1.0, max(0.0, stale_days) / ramp)


@dataclass(frozen=True)
class Recent:
    """Each pool member's answers up to the newest one, how old that is, and the fusion weight."""

    counts: dict[int, int]
    stale_days: float
    weight: float
    spread: float = math.inf  # effective answerers up to the newest answer
    concentrated: bool = False  # so few that recent activity counts more


class RecentCounts:
    """``answers_before_newest`` per network, worked out once per answer log (routes share it)."""

    def __init__(self, weights: RankingWeights) -> None:
        self.weights = weights
        self._lock = threading.Lock()
        self._by_network: dict[int, tuple[AnswerLog, npt.NDArray[np.int64], float]] = {}

    def of(self, network_id: int, log: AnswerLog, people: Iterable[int], now: float) -> Recent:
        """``people``'s answers in the ``recent_days`` up to ``log``'s newest answer, at ``now``."""
        with self._lock:
            cached = self._by_network.get(network_id)
            if cached is None or cached[0] is not log:
                counts = answers_before_newest(log, self.weights.recent_days)
                cached = (log, counts, effective_answerers(counts))
                self._by_network[network_id] = cached
        slot_of, counts, spread = log.slot_of, cached[1], cached[2]
        stale = (now - float(log.times[-1])) / DAY if len(log) else 0.0
        return Recent(
            counts={p: int(counts[slot_of[p]]) if p in slot_of else 0 for p in people},
            stale_days=stale,
            weight=stale_weight(self.weights, stale, spread),
            spread=spread,
            concentrated=spread < self.weights.concentrated_below,
        )


def credit_lift(drivers: dict[int, dict[str, float]], lifted: Iterable[int]) -> None:
    """Whom recent activity lifted is given it as a reason, even where the model's was small."""
    for person in lifted:
        if person in drivers:
            drivers[person]["activity"] = max(drivers[person].get("activity", 0.0), 1e-3)


def stale_note(recent: Recent) -> str:
    """What a route says when the history it ranks by has stopped (empty when it has not)."""
    if recent.stale_days < STALE_NOTE_DAYS:
        return ""
    note = (
        f"the newest answer in this network is {int(recent.stale_days)} days old; "
        "who answered most up to then counts too"
    )
    if recent.concentrated:
        people = f"about {recent.spread:.0f} in effect"
        note += f" (the more so as those answers came from few people: {people})"
    return note
