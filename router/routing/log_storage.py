"""Storage an answer log shares with the logs extended from it, so a write copies what it changes.

A log and every standing read from it must keep their figures while routes extend the log with
new answers (readers hold no lock once they have a standing). Three shapes make that cheap:

* ``AnswerTape``: the per-answer columns and the people by slot, appended in place. A log reads
  only its first ``n`` answers and ``p`` people, so an append past every reader's end disturbs
  none; only the log at the tape's end may append, any other copies first (a branch).
* ``SlotView``: person → slot over the tape's shared dict, limited to a log's first ``p`` people.
* ``RowCounts``: a people × bins table (answers per hour, per weekday) as a base array plus the
  rows changed since, copied row by row on write and folded into a new base now and then.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from router.search.id_map import Column

FOLD_MIN = 1024  # changed rows kept beside the base before they are folded into a new one


class AnswerTape:
    """Times, slots, hours, weekdays per answer (sorted by time) and people by slot, append-only."""

    def __init__(
        self,
        times: npt.NDArray[np.float64],
        slots: npt.NDArray[np.int32],
        people: npt.NDArray[np.int64],
        slot_of: dict[int, int],
    ) -> None:
        self.times = Column(np.float64, capacity=max(len(times), 1024))
        self.slots = Column(np.int32, capacity=max(len(times), 1024))
        self.hours = Column(np.int8, capacity=max(len(times), 1024))
        self.weekdays = Column(np.int8, capacity=max(len(times), 1024))
        self.people = Column(np.int64, capacity=max(len(people), 1024))
        self.slot_of = slot_of
        self.lock = threading.Lock()
        self.append(times, slots, people)

    def append(
        self,
        times: npt.NDArray[np.float64],
        slots: npt.NDArray[np.int32],
        people: npt.NDArray[np.int64],
    ) -> None:
        """Add answers (the latest) and new people (their slots are the next ones)."""
        for person in people.tolist():
            self.slot_of[int(person)] = len(self.slot_of)
        self.people.extend(people)
        self.times.extend(times)
        self.slots.extend(slots)
        self.hours.extend(hour_of(times))
        self.weekdays.extend(weekday_of(times))

    def at_end(self, answers: int, people: int) -> bool:
        """Whether a log of this many answers and people is the tape's newest (may append)."""
        return self.times.size == answers and self.people.size == people


class SlotView(Mapping[int, int]):
    """A person's slot among the first ``size`` people of a shared, only-growing dict."""

    def __init__(self, slots: dict[int, int], size: int) -> None:
        self._slots = slots
        self._size = size

    def __getitem__(self, person: int) -> int:
        slot = self._slots[person]
        if slot >= self._size:
            raise KeyError(person)
        return slot

    def __iter__(self) -> Iterator[int]:  # slots are given in insertion order
        return itertools.islice(iter(list(self._slots)), self._size)

    def __len__(self) -> int:
        return self._size


class RowCounts:
    """A people × bins count table whose writes copy only the rows they touch."""

    def __init__(
        self,
        base: npt.NDArray[np.int32],
        changed: dict[int, npt.NDArray[np.int32]] | None = None,
        size: int | None = None,
    ) -> None:
        self.base = base
        self.changed = changed if changed is not None else {}
        self.size = len(base) if size is None else size
        self._zeros = np.zeros(base.shape[1], dtype=base.dtype)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, slot: int) -> npt.NDArray[np.int32]:
        row = self.changed.get(slot)
        if row is not None:
            return row
        if slot < len(self.base):
            found: npt.NDArray[np.int32] = self.base[slot]
            return found
        if slot < self.size:
            return self._zeros
        raise IndexError(slot)

    def rows(self, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The rows of ``slots`` as one array (a slot of -1, or one not counted yet: zeros)."""
        table = np.zeros((len(slots), self.base.shape[1]), dtype=self.base.dtype)
        inside = (slots >= 0) & (slots < len(self.base))
        table[inside] = self.base[slots[inside]]
        if self.changed:
            for i, slot in enumerate(slots.tolist()):
                row = self.changed.get(slot)
                if row is not None:
                    table[i] = row
        return table

    def array(self) -> npt.NDArray[np.int32]:
        """The whole table as one array (a copy)."""
        table = np.zeros((self.size, self.base.shape[1]), dtype=self.base.dtype)
        table[: len(self.base)] = self.base
        for slot, row in self.changed.items():
            table[slot] = row
        return table

    def counted(
        self, slots: npt.NDArray[np.int64], bins: npt.NDArray[np.int64], size: int
    ) -> RowCounts:
        """A new table of ``size`` rows with one more count at each (slot, bin); this one is kept."""
        changed = dict(self.changed)
        copied: set[int] = set()
        for slot, column in zip(slots.tolist(), bins.tolist(), strict=True):
            if slot not in copied:
                changed[slot] = self[slot].copy() if slot < self.size else self._zeros.copy()
                copied.add(slot)
            changed[slot][column] += 1
        grown = RowCounts(self.base, changed, size)
        if len(changed) > max(FOLD_MIN, len(self.base) // 16):
            return RowCounts(grown.array())
        return grown


def sorted_after_counting(
    ordered: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], slots: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """``ordered`` (the sorted ``counts``, short of people who joined since) after one more
    count for each of ``slots``: raising the last copy of a value by one keeps the order."""
    fresh = len(counts) - len(ordered)
    result = np.concatenate([np.zeros(fresh, dtype=ordered.dtype), ordered])
    raised: dict[int, int] = {}
    for slot in slots.tolist():
        value = raised.get(slot, int(counts[slot]))
        result[int(np.searchsorted(result, value, side="right")) - 1] += 1
        raised[slot] = value + 1
    return result


def padded(values: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """``values`` with zero rows added up to ``size`` rows (people who joined since)."""
    if len(values) == size:
        return values.copy()
    pad = np.zeros((size - len(values), *values.shape[1:]), dtype=values.dtype)
    return np.concatenate([values, pad])


def hour_of(times: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
    return ((times // 3600) % 24).astype(np.int8)


def weekday_of(times: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
    return ((times // 86400.0 + 3) % 7).astype(np.int8)  # Monday = 0
