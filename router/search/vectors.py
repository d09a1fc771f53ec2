"""A FAISS index of one network's evidence vectors, keyed by evidence id.

Exact inner-product search (vectors are unit length, so this is cosine) while the network is
small; HNSW once it passes a size threshold, storing the vectors as 16-bit floats (half the
memory; cosines move by about 1e-4, so the same neighbours come back). HNSW cannot delete, so removed ids are masked and
the graph is rebuilt once the mask grows. Vectors added to an HNSW index wait in a small exact
buffer, searched beside the graph, and join it in slices (``fold``) off the request path: one add
to a loaded graph reallocates all its vectors (~0.2 s at 100k rows, ~1 s at 1M). Saved to and loaded from the data directory as one
file (manifest and vectors together) replaced atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np
import numpy.typing as npt

from router.search.atomic_file import write_atomically
from router.search.embedding import Vectors
from router.search.id_map import Column, IdMap

Ids = npt.NDArray[np.int64]
REBUILD_MASKED_FRACTION = 0.2
PENDING_MAX = 4096  # vectors waiting beside the HNSW graph before an add folds them in
_FAISS_IO: Any = faiss  # the callback readers and writers (and IndexHNSWSQ) have no usable stubs
MAGIC = b"ASKAROUND-INDEX-1\n"


class VectorIndex:
    """Evidence id → vector, searchable by cosine; exact or HNSW depending on size.

    FAISS holds the vectors by position (0, 1, ...); ``_id_at`` names each position's evidence and
    ``_ids`` finds an id's position. A removed position is a tombstone until the next rebuild, so
    an id removed and added again (an edit) is found at its new position only.
    """

    def __init__(self, dimension: int, *, exact_max: int, hnsw_m: int, ef_search: int) -> None:
        self.dimension = dimension
        self.exact_max = exact_max
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self._index: Any = self._new_index(approximate=False)
        self._owner: Any = None  # keeps alive the wrapper a loaded inner index belongs to
        self._approximate = False
        self._id_at = Column(np.int64)
        self._alive = Column(np.bool_)
        self._ids = IdMap()  # live id → position (a million as Python ints would be ~70 MB)
        self._dead = 0
        # Positions from ``_index.ntotal`` on: vectors not yet in the graph, in position order.
        self._pending = np.zeros((0, dimension), dtype=np.float32)
        self._pending_count = 0
        self.saved_manifest: dict[str, Any] = {}

    @property
    def approximate(self) -> bool:
        return self._approximate

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, evidence_id: int) -> bool:
        return evidence_id in self._ids

    def ids(self) -> Ids:
        """Every live evidence id, ascending."""
        return self._ids.ids()

    def _new_index(self, *, approximate: bool) -> Any:
        if approximate:
            inner = _FAISS_IO.IndexHNSWSQ(
                self.dimension,
                faiss.ScalarQuantizer.QT_fp16,
                self.hnsw_m,
                faiss.METRIC_INNER_PRODUCT,
            )
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = self.ef_search
            return inner
        return faiss.IndexFlatIP(self.dimension)

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add vectors; an id already present is replaced."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        self.remove(ids)
        if not self._approximate and len(self._ids) + len(ids) > self.exact_max:
            self._rebuild(extra_ids=ids, extra_vectors=vectors, approximate=True)
            return
        first = self._id_at.size
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        if self._approximate:
            self._hold(vectors)
        else:
            self._index.add(vectors)
        self._id_at.extend(ids)
        self._alive.extend(np.ones(len(ids), dtype=np.bool_))
        self._ids.set(ids, np.arange(first, first + len(ids), dtype=np.int64))
        if self._pending_count > PENDING_MAX:  # no background fold kept up: one in, one out
            self.fold(self._pending_count - PENDING_MAX)

    def _hold(self, vectors: Vectors) -> None:
        """Keep vectors in the exact buffer beside the graph (its capacity doubles)."""
        needed = self._pending_count + len(vectors)
        if needed > len(self._pending):
            grown = np.zeros((max(needed, 2 * len(self._pending), 64), self.dimension), np.float32)
            grown[: self._pending_count] = self._pending[: self._pending_count]
            self._pending = grown
        self._pending[self._pending_count : needed] = vectors
        self._pending_count = needed

    @property
    def pending(self) -> int:
        """Vectors searched exactly beside the HNSW graph, not yet in it."""
        return self._pending_count

    def fold(self, limit: int | None = None) -> None:
        """Add the oldest waiting vectors (``limit`` of them, or all) to the graph; the caller
        holds off searches meanwhile."""
        count = self._pending_count if limit is None else min(limit, self._pending_count)
        if count <= 0:
            return
        self._index.add(self._pending[:count])
        left = self._pending[count : self._pending_count].copy()
        self._pending, self._pending_count = left, len(left)

    def remove(self, ids: Ids) -> None:
        """Forget vectors by evidence id (tombstoned under HNSW until the next rebuild)."""
        positions = self._ids.discard(np.asarray(ids, dtype=np.int64))
        if len(positions) == 0:
            return
        if not self._approximate:  # exact: drop the rows now and renumber the ones after
            self._index.remove_ids(positions)
            keep = np.ones(self._id_at.size, dtype=np.bool_)
            keep[positions] = False
            self._id_at.keep(keep)
            self._alive.keep(keep)
            self._ids = IdMap()
            self._ids.set(self._id_at.view, np.arange(self._id_at.size, dtype=np.int64))
            return
        self._alive.view[positions] = False
        self._dead += len(positions)
        if self._dead > REBUILD_MASKED_FRACTION * max(len(self._ids), 1):
            self._rebuild(approximate=len(self._ids) > self.exact_max)

    def hnsw(self) -> Any:
        """The HNSW graph (to tune ``efSearch``); only for an approximate index."""
        if not self._approximate:
            raise ValueError("an exact index has no HNSW graph")
        return self._index.hnsw

    def stored(self) -> tuple[Ids, Vectors]:
        """Every live (id, vector) pair held by the FAISS index."""
        alive = self._alive.view
        vectors = self._index.reconstruct_n(0, self._index.ntotal)
        if self._pending_count:
            vectors = np.vstack([vectors, self._pending[: self._pending_count]])
        return self._id_at.view[alive].copy(), vectors[alive]

    def _rebuild(
        self,
        *,
        approximate: bool,
        extra_ids: Ids | None = None,
        extra_vectors: Vectors | None = None,
    ) -> None:
        ids, vectors = self.stored()
        if extra_ids is not None and extra_vectors is not None:
            ids = np.concatenate([ids, extra_ids])
            vectors = np.vstack([vectors, extra_vectors])
        self._index = self._new_index(approximate=approximate)
        self._owner = None
        self._approximate = approximate
        self._dead = 0
        self._pending, self._pending_count = np.zeros((0, self.dimension), np.float32), 0
        if len(ids):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._id_at, self._alive, self._ids = Column(np.int64), Column(np.bool_), IdMap()
        self._id_at.extend(ids)
        self._alive.extend(np.ones(len(ids), dtype=np.bool_))
        self._ids.set(ids, np.arange(len(ids), dtype=np.int64))

    def search(self, query: Vectors, k: int) -> tuple[Ids, npt.NDArray[np.float32]]:
        """The ``k`` nearest evidence ids to one query vector, best first, with their cosines."""
        if not len(self._ids) or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        fetch = min(k + self._dead, self._index.ntotal)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if fetch > 0:
            scores, found = self._index.search(query, fetch)
            positions, scores = found[0], scores[0]
        else:
            positions, scores = np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self._pending_count:  # the buffer beside the graph, searched exactly
            positions = np.concatenate(
                [positions, self._index.ntotal + np.arange(self._pending_count)]
            )
            scores = np.concatenate([scores, self._pending[: self._pending_count] @ query[0]])
            order = np.argsort(-scores, kind="stable")
            positions, scores = positions[order], scores[order]
        keep = positions >= 0
        keep[keep] = self._alive.view[positions[keep]]
        positions, scores = positions[keep][:k], scores[keep][:k]
        return self._id_at.view[positions].astype(np.int64), scores.astype(np.float32)

    def save(self, path: Path, *, model: str, extra: dict[str, Any] | None = None) -> None:
        """Write the index and its manifest as one file, atomically: readers see the old or the new.

        The file is a magic line, the manifest's length and JSON, then FAISS's own bytes (the
        index wrapped with its position → id map); it is written under a unique temporary name
        beside ``path`` and renamed over it.
        """
        self.fold()  # nothing to do when the caller folded under its writer lock first
        path.parent.mkdir(parents=True, exist_ok=True)
        dead = np.flatnonzero(~self._alive.view)
        meta = {
            **(extra or {}),
            "model": model,
            "dimension": self.dimension,
            "approximate": self._approximate,
            "dead_positions": dead.tolist(),
            "masked": [],  # ids masked by the older format; tombstones are positions now
            "count": len(self._ids),
        }
        header = json.dumps(meta).encode()
        wrapper = faiss.IndexIDMap(faiss.IndexFlatIP(self.dimension))  # must start empty
        wrapper.index, wrapper.ntotal = self._index, self._index.ntotal  # borrowed, not owned
        faiss.copy_array_to_vector(np.ascontiguousarray(self._id_at.view), wrapper.id_map)

        def fill(out: BinaryIO) -> None:
            out.write(MAGIC + len(header).to_bytes(8, "little") + header)
            faiss.write_index(wrapper, _FAISS_IO.PyCallbackIOWriter(out.write))

        write_atomically(path, fill)

    @staticmethod
    def manifest(path: Path) -> dict[str, Any] | None:
        """The manifest of a saved index without reading the vectors, or None when unreadable."""
        try:
            with path.open("rb") as source:
                return _read_manifest(source)
        except (OSError, ValueError):
            return None

    @classmethod
    def load(
        cls, path: Path, *, model: str, dimension: int, exact_max: int, hnsw_m: int, ef_search: int
    ) -> VectorIndex | None:
        """A saved index for ``model``, or None when missing, unreadable or made by another model."""
        try:
            with path.open("rb") as source:
                meta = _read_manifest(source)
                if meta["model"] != model or meta["dimension"] != dimension:
                    return None
                raw: Any = faiss.read_index(_FAISS_IO.PyCallbackIOReader(source.read))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        index = cls(dimension, exact_max=exact_max, hnsw_m=hnsw_m, ef_search=ef_search)
        index._owner = raw  # the wrapper owns the inner index: it must live as long
        index._index = faiss.downcast_index(raw.index)
        index._approximate = bool(meta["approximate"])
        if index._approximate:
            index.hnsw().efSearch = ef_search
        id_at = faiss.vector_to_array(raw.id_map).astype(np.int64)
        alive = np.ones(len(id_at), dtype=np.bool_)
        alive[np.asarray(meta.get("dead_positions", []), dtype=np.int64)] = False
        alive &= ~np.isin(id_at, np.asarray(meta["masked"], dtype=np.int64))  # the older format
        index._id_at.extend(id_at)
        index._alive.extend(alive)
        index._dead = int(np.count_nonzero(~alive))
        index._ids.set(id_at[alive], np.flatnonzero(alive).astype(np.int64))
        index.saved_manifest = meta
        return index


def _read_manifest(source: BinaryIO) -> dict[str, Any]:
    if source.read(len(MAGIC)) != MAGIC:
        raise ValueError("not an Askaround index file")
    size = int.from_bytes(source.read(8), "little")
    meta = json.loads(source.read(size))
    if not isinstance(meta, dict):
        raise ValueError("an index manifest is an object")
    return meta
