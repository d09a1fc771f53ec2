"""Who wrote each piece of evidence, when, whether it is an answer and its weight: numpy columns by
evidence id (a route reads them here, not from the database).

Rows are appended and never move until a compaction, so "the answers added since row r" is a
slice: the router extends its answer log with them instead of re-reading the whole network.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from router.search.id_map import Column, IdMap, Ids

People = npt.NDArray[np.int64]
Times = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]
Weights = npt.NDArray[np.float64]


class EvidenceTable:
    """Evidence id → (person, created, is answer, weight), with removed rows tombstoned."""

    def __init__(self) -> None:
        self._rows = IdMap()
        self._person = Column(np.int64)
        self._created = Column(np.float64)
        self._answer = Column(np.bool_)
        self._weight = Column(np.float64)
        self._alive = Column(np.bool_)
        self.epoch = 0  # bumped when rows are renumbered (a compaction)
        self.removed_answers = 0  # answers removed so far (a log built before must be rebuilt)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, evidence_id: int) -> bool:
        return evidence_id in self._rows

    @property
    def row_count(self) -> int:
        """Rows written so far (live or not): the next row's number."""
        return self._person.size

    def add(
        self,
        ids: Ids,
        people: People,
        created: Times,
        answers: Flags,
        weights: Weights | None = None,
    ) -> None:
        """Record evidence (distinct ids; weight 1 unless given); an id already present is replaced."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        self.remove(ids)
        first = self._person.size
        self._person.extend(people)
        self._created.extend(created)
        self._answer.extend(answers)
        self._weight.extend(np.ones(len(ids)) if weights is None else weights)
        self._alive.extend(np.ones(len(ids), dtype=np.bool_))
        self._rows.set(ids, np.arange(first, first + len(ids), dtype=np.int64))

    def remove(self, ids: Ids) -> tuple[People, Times, Flags]:
        """Forget evidence; returns the (person, created, is answer) of what was there."""
        rows = self._rows.discard(np.asarray(ids, dtype=np.int64))
        self._alive.view[rows] = False
        gone = self._person.view[rows], self._created.view[rows], self._answer.view[rows]
        self.removed_answers += int(np.count_nonzero(gone[2]))
        dead = self._person.size - len(self._rows)
        if dead > 1024 and dead * 2 > self._person.size:
            self._compact()
        return gone

    def _compact(self) -> None:
        ids, rows = self._rows.ids(), self._rows.rows()
        for column in (self._person, self._created, self._answer, self._weight, self._alive):
            kept = column.view[rows]
            column.size = 0
            column.extend(kept)
        self._rows = IdMap()
        self._rows.set(ids, np.arange(len(ids), dtype=np.int64))
        self.epoch += 1

    def owners(self, ids: Ids) -> People:
        """The person of each id, or -1 where it is not indexed."""
        rows = self._rows.find(np.asarray(ids, dtype=np.int64))
        people = np.full(len(rows), -1, dtype=np.int64)
        found = rows >= 0
        people[found] = self._person.view[rows[found]]
        return people

    def weights(self, ids: Ids) -> Weights:
        """The weight of each id, or NaN where it is not indexed."""
        rows = self._rows.find(np.asarray(ids, dtype=np.int64))
        weights = np.full(len(rows), np.nan)
        found = rows >= 0
        weights[found] = self._weight.view[rows[found]]
        return weights

    def reweigh(self, ids: Ids, weights: Weights) -> None:
        """Set the weight of indexed ids (others are ignored)."""
        rows = self._rows.find(np.asarray(ids, dtype=np.int64))
        found = rows >= 0
        self._weight.view[rows[found]] = np.asarray(weights, dtype=np.float64)[found]

    def ids(self) -> Ids:
        """Every indexed evidence id, ascending."""
        return self._rows.ids()

    def columns(self) -> tuple[Ids, People, Times, Flags, Weights]:
        """Every live row's (id, person, created, is answer, weight), in row order."""
        ids, rows = self._rows.ids(), self._rows.rows()
        order = np.argsort(rows, kind="stable")
        ids, rows = ids[order], rows[order]
        return (
            ids,
            self._person.view[rows].copy(),
            self._created.view[rows].copy(),
            self._answer.view[rows].copy(),
            self._weight.view[rows].copy(),
        )

    def answers(self, since_row: int = 0) -> tuple[People, Times]:
        """The (person, created) of every live answer written at or after ``since_row``."""
        alive = self._alive.view[since_row:] & self._answer.view[since_row:]
        return self._person.view[since_row:][alive], self._created.view[since_row:][alive]
