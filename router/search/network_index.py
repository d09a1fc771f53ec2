"""One network's searchable state in memory: FAISS, BM25, who wrote what, and the activity prior.

Routes read it under a shared lock while the index cache applies changes under an exclusive one,
so many routes search at once and none sees a half-applied change. The activity prior and the
always-considered most active people are computed once per change, not once per route.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from router.search.evidence_table import EvidenceTable
from router.search.lexical import LexicalIndex
from router.search.vectors import VectorIndex

_EPOCH = datetime(2020, 1, 1, tzinfo=UTC).timestamp()
# The largest exponent the activity decay uses (about 2^433): evidence dated centuries ahead
# counts as if dated at that horizon instead of overflowing ``math.exp`` for the whole network.
MAX_DECAY_EXPONENT = 300.0
NOT_BUILT = -1


class ReadWriteLock:
    """Many readers or one writer; a waiting writer holds back new readers so it is never starved."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


@dataclass
class Activity:
    """How much and how recently a person has answered, for the activity prior."""

    answers: int = 0
    other: int = 0
    decayed: float = 0.0  # sum of 2^(age/half-life) relative to a fixed epoch
    last_at: float = 0.0


@dataclass
class NetworkIndex:
    """Everything routing searches for one network, built for one embedding model."""

    vectors: VectorIndex
    lexical: LexicalIndex
    evidence: EvidenceTable = field(default_factory=EvidenceTable)
    activity: dict[int, Activity] = field(default_factory=dict)
    half_life_days: float = 180.0
    cursor: int = NOT_BUILT  # the last change-log seq applied; NOT_BUILT before the first build
    changed: bool = False  # applied changes not yet saved to disk
    checked_at: float = -math.inf  # monotonic seconds; never checked yet
    lock: ReadWriteLock = field(default_factory=ReadWriteLock)
    sync_lock: threading.Lock = field(default_factory=threading.Lock)
    _prior: dict[int, float] | None = None
    _most_active: dict[int, list[int]] = field(default_factory=dict)

    @property
    def built(self) -> bool:
        return self.cursor != NOT_BUILT

    @property
    def unembedded(self) -> int:
        """Rows searched by text only: no vector from the current model (after a model change)."""
        return max(len(self.evidence) - len(self.vectors), 0)

    def take(self, built: NetworkIndex) -> None:
        """Become ``built`` (a complete index made aside while routes used this one)."""
        self.vectors, self.lexical = built.vectors, built.lexical
        self.evidence = built.evidence
        self.activity, self.cursor, self.changed = built.activity, built.cursor, built.changed
        self._prior = None
        self._most_active = {}

    def _count(self, person_id: int, created: float, is_answer: bool, sign: int) -> None:
        stats = self.activity.setdefault(person_id, Activity())
        if is_answer:
            stats.answers += sign
            rate = math.log(2) / (self.half_life_days * 86400)
            stats.decayed += sign * math.exp(min(rate * (created - _EPOCH), MAX_DECAY_EXPONENT))
            if sign > 0:
                stats.last_at = max(stats.last_at, created)
        else:
            stats.other += sign
        self._prior = None
        self._most_active.clear()

    def track(
        self,
        ids: npt.NDArray[np.int64],
        people: npt.NDArray[np.int64],
        created: npt.NDArray[np.float64],
        answers: npt.NDArray[np.bool_],
        weights: npt.NDArray[np.float64] | None = None,
    ) -> None:
        """Record who wrote each piece of evidence (distinct ids), when, and its weight; replaces
        old entries."""
        self.untrack(ids)
        self.evidence.add(ids, people, created, answers, weights)
        for person, at, is_answer in zip(
            people.tolist(), created.tolist(), answers.tolist(), strict=True
        ):
            self._count(person, at, is_answer, +1)

    def untrack(self, ids: npt.NDArray[np.int64]) -> None:
        people, created, answers = self.evidence.remove(ids)
        for person, at, is_answer in zip(
            people.tolist(), created.tolist(), answers.tolist(), strict=True
        ):
            self._count(person, at, is_answer, -1)

    def prior(self) -> dict[int, float]:
        """Recency-weighted answer counts, relative (the common decay factor to now cancels)."""
        prior = self._prior
        if prior is None:
            prior = {pid: s.decayed for pid, s in self.activity.items() if s.answers > 0}
            self._prior = prior
        return prior

    def most_active(self, n: int) -> list[int]:
        """The ``n`` people with the highest prior, considered for every question."""
        active = self._most_active.get(n)
        if active is None:
            prior = self.prior()
            active = heapq.nlargest(n, prior, key=prior.__getitem__)
            self._most_active[n] = active
        return active
