"""Who answered when, as of any moment: the answer log and the standing it gives at a time.

Activity, presence and the order of the most active are read from one time-sorted log, so "the
network as of t" is a prefix; the same code serves training (as of each past question) and
routing (as of now).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from router.routing.log_storage import (
    AnswerTape,
    RowCounts,
    SlotView,
    hour_of,
    padded,
    sorted_after_counting,
    weekday_of,
)

DAY = 86400.0
LAST_N = 50


@dataclass(frozen=True)
class Standing:
    """Everyone's answering record as of one moment: counts, windows, last answer, time profile."""

    now: float
    slot_of: Mapping[int, int]
    people: npt.NDArray[np.int64]  # by slot
    total: npt.NDArray[np.int64]
    last_90d: npt.NDArray[np.int64]
    last_365d: npt.NDArray[np.int64]
    last_at: npt.NDArray[np.float64]
    decayed: npt.NDArray[np.float64]
    hours: RowCounts  # people x 24
    weekdays: RowCounts  # people x 7
    sorted_total: npt.NDArray[np.int64]
    sorted_recent: npt.NDArray[np.int64]
    last_50: npt.NDArray[np.int64]
    last_10: npt.NDArray[np.int64]
    # shared by the standings of one prefix of the log: the order by decayed activity is the
    # same at any later moment (every weight decays by the same factor)
    active_memo: dict[int, list[int]] = field(default_factory=dict)

    def most_active(self, n: int) -> list[int]:
        """The ``n`` people with the most recency-weighted answers so far (the router's pool)."""
        remembered = self.active_memo.get(n)
        if remembered is None:
            remembered = self._most_active(n)
            self.active_memo[n] = remembered
        return list(remembered)

    def _most_active(self, n: int) -> list[int]:
        weights = self.decayed
        if n <= 0 or not len(weights):
            return []
        top = np.flatnonzero(weights > 0)
        if len(top) > n:  # everyone tied with the n-th stays in, for the id tie-break below
            nth = np.partition(weights[top], len(top) - n)[len(top) - n]
            top = top[weights[top] >= nth]
        order = top[np.lexsort((self.people[top], -weights[top]))]
        return [int(p) for p in self.people[order[:n]]]


_Window = tuple[int, int, npt.NDArray[np.int64], npt.NDArray[np.int64] | None]


@dataclass(frozen=True)
class _Prefix:
    """What a standing needs that depends only on how many answers count, not on the moment."""

    n: int
    total: npt.NDArray[np.int64]
    last_at: npt.NDArray[np.float64]
    decayed: npt.NDArray[np.float64]  # relative to ``ref``, the latest answer counted
    ref: float
    hours: RowCounts
    weekdays: RowCounts
    sorted_total: npt.NDArray[np.int64]
    active: dict[int, list[int]] = field(default_factory=dict)  # see ``Standing.active_memo``


class AnswerLog:
    """Every answer's (person, time), sorted by time, so any moment's standing is a prefix.

    The parts of a standing that depend only on the prefix (and the 90/365-day window counts) are
    remembered, so routing (always "everything so far") pays per answer added, not per answer.
    Extending a log appends to storage it shares with its predecessor (``log_storage``), so a
    write costs what it adds, and the predecessor's readers see what they saw.
    """

    def __init__(
        self, people: npt.ArrayLike, times: npt.ArrayLike, *, half_life_days: float = 180.0
    ) -> None:
        times_array = np.asarray(times, dtype=np.float64)
        order = np.argsort(times_array, kind="stable")
        ids = np.asarray(people, dtype=np.int64)[order]
        unique, inverse = np.unique(ids, return_inverse=True)
        tape = AnswerTape(times_array[order], inverse.astype(np.int32), unique, {})
        self.rate = math.log(2) / (half_life_days * DAY)
        self._adopt(tape, len(times_array), len(unique))

    def _adopt(self, tape: AnswerTape, answers: int, people: int) -> None:
        """Read the first ``answers`` answers and ``people`` people of ``tape``."""
        self._tape = tape
        self.times: npt.NDArray[np.float64] = tape.times.view[:answers]
        self.slots: npt.NDArray[np.int32] = tape.slots.view[:answers]
        self.hours: npt.NDArray[np.int8] = tape.hours.view[:answers]
        self.weekdays: npt.NDArray[np.int8] = tape.weekdays.view[:answers]
        self.people: npt.NDArray[np.int64] = tape.people.view[:people]
        self.slot_of: Mapping[int, int] = SlotView(tape.slot_of, people)
        self._prefix: _Prefix | None = None
        self._windows: dict[float, _Window] = {}

    def __len__(self) -> int:
        return len(self.times)

    def extended(self, people: npt.ArrayLike, times: npt.ArrayLike) -> AnswerLog:
        """A new log with these answers added (this one is left as it is for its readers)."""
        new_times = np.asarray(times, dtype=np.float64)
        new_people = np.asarray(people, dtype=np.int64)
        order = np.argsort(new_times, kind="stable")
        new_times, new_people = new_times[order], new_people[order]
        known = self.slot_of
        added = [p for p in dict.fromkeys(new_people.tolist()) if p not in known]
        slot_of_added = {person: len(self.people) + i for i, person in enumerate(added)}
        new_slots = np.asarray(
            [slot_of_added[p] if p in slot_of_added else known[p] for p in new_people.tolist()],
            dtype=np.int64,
        )
        added_people = np.asarray(added, dtype=np.int64)
        appended = len(new_times) == 0 or len(self) == 0 or new_times[0] >= self.times[-1]
        tape = self._tape
        with tape.lock:  # only the newest log appends in place; any other copies (a branch)
            in_place = appended and tape.at_end(len(self), len(self.people))
            if in_place:
                tape.append(new_times, new_slots.astype(np.int32), added_people)
        if not in_place:
            at = np.searchsorted(self.times, new_times, side="right")
            tape = AnswerTape(
                np.insert(self.times, at, new_times),
                np.insert(self.slots, at, new_slots.astype(np.int32)),
                np.concatenate([self.people, added_people]),
                {},
            )
        grown = AnswerLog.__new__(AnswerLog)
        grown.rate = self.rate
        grown._adopt(tape, len(self) + len(new_times), len(self.people) + len(added))
        prefix = self._prefix
        if prefix is not None and prefix.n == len(self) and appended and len(new_times):
            grown._prefix = self._grown_prefix(prefix, grown, new_slots, new_times)
            size = len(grown.people)
            for days, (start, n, counts, ordered) in self._windows.items():
                if n == len(self):
                    grown_counts = padded(counts, size)
                    if ordered is not None:
                        ordered = sorted_after_counting(ordered, grown_counts, new_slots)
                    np.add.at(grown_counts, new_slots, 1)
                    grown._windows[days] = (start, len(grown), grown_counts, ordered)
        return grown

    def _grown_prefix(
        self,
        prefix: _Prefix,
        grown: AnswerLog,
        new_slots: npt.NDArray[np.int64],
        new_times: npt.NDArray[np.float64],
    ) -> _Prefix:
        """The whole-log prefix of ``grown`` from this log's, when the new answers are the latest."""
        size = len(grown.people)
        ref = float(new_times[-1])
        total = padded(prefix.total, size)
        sorted_total = sorted_after_counting(prefix.sorted_total, total, new_slots)
        np.add.at(total, new_slots, 1)
        last_at = np.concatenate([prefix.last_at, np.full(size - len(prefix.last_at), np.nan)])
        last_at[new_slots] = new_times
        decayed = padded(prefix.decayed, size) * math.exp(self.rate * (prefix.ref - ref))
        np.add.at(decayed, new_slots, np.exp(self.rate * (new_times - ref)))
        hours = prefix.hours.counted(new_slots, hour_of(new_times).astype(np.int64), size)
        weekdays = prefix.weekdays.counted(new_slots, weekday_of(new_times).astype(np.int64), size)
        # The order by decayed activity only changes for those who just answered: the new top n
        # is among the old top n and them.
        active: dict[int, list[int]] = {}
        for n, top in prefix.active.items():
            old = np.asarray([grown.slot_of[p] for p in top], dtype=np.int64)
            slots = np.unique(np.concatenate([old, new_slots]))
            slots = slots[decayed[slots] > 0]
            ranked = slots[np.lexsort((grown.people[slots], -decayed[slots]))]
            active[n] = [int(p) for p in grown.people[ranked[:n]]]
        return _Prefix(
            len(grown), total, last_at, decayed, ref, hours, weekdays, sorted_total, active
        )

    def _prefix_of(self, n: int) -> _Prefix:
        prefix = self._prefix
        if prefix is not None and prefix.n == n:
            return prefix
        size = len(self.people)
        slots, times = self.slots[:n], self.times[:n]
        ref = float(times[-1]) if n else 0.0
        total = np.bincount(slots, minlength=size).astype(np.int64)
        last_at = np.full(size, np.nan)
        last_at[slots] = times  # sorted by time: the last write per person is their latest
        decayed = np.bincount(slots, weights=np.exp(self.rate * (times - ref)), minlength=size)
        hours = np.bincount(slots * 24 + self.hours[:n], minlength=size * 24).reshape(size, 24)
        weekdays = np.bincount(slots * 7 + self.weekdays[:n], minlength=size * 7).reshape(size, 7)
        prefix = _Prefix(
            n,
            total,
            last_at,
            decayed.astype(np.float64),
            ref,
            RowCounts(hours.astype(np.int32)),
            RowCounts(weekdays.astype(np.int32)),
            np.sort(total),
        )
        self._prefix = prefix
        return prefix

    def _window(
        self, days: float, now: float, n: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Answers per person in ``[now - days, now)`` among the first ``n``, and those sorted."""
        size = len(self.people)
        start = int(np.searchsorted(self.times, now - days * DAY, side="left"))
        cached = self._windows.get(days)
        if cached is not None and cached[1] == n and cached[0] == start and cached[3] is not None:
            return cached[2], cached[3]
        if cached is not None and cached[1] == n and cached[0] <= start:
            counts = cached[2]
            if cached[0] < start:  # answers that left the window since
                counts = counts - np.bincount(self.slots[cached[0] : start], minlength=size)
        else:
            counts = np.bincount(self.slots[start:n], minlength=size).astype(np.int64)
        ordered = np.sort(counts)
        self._windows[days] = (start, n, counts, ordered)
        return counts, ordered

    def as_of(self, now: float) -> Standing:
        """Everyone's record counting only answers strictly before ``now``."""
        size = len(self.people)
        n = int(np.searchsorted(self.times, now, side="left"))
        prefix = self._prefix_of(n)
        recent, sorted_recent = self._window(90, now, n)
        return Standing(
            now=now,
            slot_of=self.slot_of,
            people=self.people,
            total=prefix.total,
            last_90d=recent,
            last_365d=self._window(365, now, n)[0],
            last_at=prefix.last_at,
            decayed=prefix.decayed * math.exp(self.rate * (prefix.ref - now)),
            hours=prefix.hours,
            weekdays=prefix.weekdays,
            sorted_total=prefix.sorted_total,
            sorted_recent=sorted_recent,
            last_50=np.bincount(self.slots[max(0, n - LAST_N) : n], minlength=size).astype(
                np.int64
            ),
            last_10=np.bincount(self.slots[max(0, n - 10) : n], minlength=size).astype(np.int64),
            active_memo=prefix.active,
        )
