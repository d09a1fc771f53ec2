"""Evidence id → row number as sorted numpy arrays, not a Python dict: a million ids cost ~17 MB.

Ids mostly arrive in increasing order (the build reads by id, new evidence gets higher ids), so an
add is an append; an id out of order is inserted in place (a memory move, not a sort). Removed
ids are tombstoned and dropped once they are a quarter of the map.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]
Rows = npt.NDArray[np.int64]
COMPACT_MIN = 1024


class Column:
    """A growable numpy column (amortised doubling), so per-row state stays compact."""

    def __init__(self, dtype: type[np.generic], capacity: int = 1024) -> None:
        self._data = np.zeros(capacity, dtype=dtype)
        self.size = 0

    def _reserve(self, needed: int) -> None:
        if needed > len(self._data):
            grown = np.zeros(max(needed, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown

    def extend(self, values: npt.ArrayLike) -> None:
        values = np.asarray(values, dtype=self._data.dtype)
        needed = self.size + len(values)
        self._reserve(needed)
        self._data[self.size : needed] = values
        self.size = needed

    def insert(self, positions: npt.NDArray[np.int64], values: npt.ArrayLike) -> None:
        """Insert ``values`` before ``positions`` (as ``np.insert``), keeping the spare capacity."""
        merged = np.insert(self.view, positions, np.asarray(values, dtype=self._data.dtype))
        self._reserve(len(merged))
        self._data[: len(merged)] = merged
        self.size = len(merged)

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Keep only the rows where ``mask`` is true."""
        kept = self.view[mask]
        self._data[: len(kept)] = kept
        self.size = len(kept)

    @property
    def view(self) -> npt.NDArray[Any]:
        return self._data[: self.size]


class IdMap:
    """Distinct int64 ids, each with an int64 row; lookups are vectorised binary searches."""

    def __init__(self) -> None:
        self._keys = Column(np.int64)
        self._rows = Column(np.int64)
        self._alive = Column(np.bool_)
        self._live = 0

    def __len__(self) -> int:
        return self._live

    def __contains__(self, evidence_id: int) -> bool:
        return bool(self.find(np.asarray([evidence_id], dtype=np.int64))[0] >= 0)

    def _positions(self, ids: Ids) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        keys = self._keys.view
        at = np.searchsorted(keys, ids)
        inside = at < len(keys)
        hit = np.zeros(len(ids), dtype=np.bool_)
        hit[inside] = keys[at[inside]] == ids[inside]
        return at, hit

    def find(self, ids: Ids) -> Rows:
        """The row of each id, or -1 where the id is absent or removed."""
        ids = np.asarray(ids, dtype=np.int64)
        at, hit = self._positions(ids)
        hit[hit] = self._alive.view[at[hit]]
        rows = np.full(len(ids), -1, dtype=np.int64)
        rows[hit] = self._rows.view[at[hit]]
        return rows

    def set(self, ids: Ids, rows: Rows) -> None:
        """Map each id (distinct) to its row, replacing any row it had."""
        ids = np.asarray(ids, dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        if len(ids) == 0:
            return
        at, hit = self._positions(ids)
        if hit.any():
            positions = at[hit]
            self._live += int(np.count_nonzero(~self._alive.view[positions]))
            self._rows.view[positions] = rows[hit]
            self._alive.view[positions] = True
        new_ids, new_rows = ids[~hit], rows[~hit]
        if len(new_ids) == 0:
            return
        order = np.argsort(new_ids, kind="stable")
        new_ids, new_rows = new_ids[order], new_rows[order]
        keys = self._keys.view
        if len(keys) == 0 or new_ids[0] > keys[-1]:
            self._keys.extend(new_ids)
            self._rows.extend(new_rows)
            self._alive.extend(np.ones(len(new_ids), dtype=np.bool_))
        else:
            positions = np.searchsorted(keys, new_ids)
            self._keys.insert(positions, new_ids)
            self._rows.insert(positions, new_rows)
            self._alive.insert(positions, np.ones(len(new_ids), dtype=np.bool_))
        self._live += len(new_ids)

    def discard(self, ids: Ids) -> Rows:
        """Remove ids; returns the rows the removed ones had (absent ids are ignored)."""
        ids = np.asarray(ids, dtype=np.int64)
        at, hit = self._positions(ids)
        hit[hit] = self._alive.view[at[hit]]
        positions = np.unique(at[hit])
        self._alive.view[positions] = False
        self._live -= len(positions)
        gone: Rows = self._rows.view[positions].copy()
        dead = len(self._keys.view) - self._live
        if dead > COMPACT_MIN and dead * 4 > len(self._keys.view):
            alive = self._alive.view.copy()
            for column in (self._keys, self._rows, self._alive):
                column.keep(alive)
        return gone

    def ids(self) -> Ids:
        """Every live id, ascending."""
        live: Ids = self._keys.view[self._alive.view].copy()
        return live

    def rows(self) -> Rows:
        """Every live id's row, in id order."""
        rows: Rows = self._rows.view[self._alive.view].copy()
        return rows
