"""A FAISS index of one network's evidence vectors, keyed by evidence id.

Exact inner-product search (vectors are unit length, so this is cosine) while the network is
small; HNSW once it passes a size threshold. HNSW cannot delete, so removed ids are masked and
the graph is rebuilt once the mask grows. Saved to and loaded from the data directory as one
file (manifest and vectors together) replaced atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np
import numpy.typing as npt

from router.search.embedding import Vectors

Ids = npt.NDArray[np.int64]
REBUILD_MASKED_FRACTION = 0.2
_FAISS_IO: Any = faiss  # the callback readers and writers have no type stubs
MAGIC = b"ASKAROUND-INDEX-1\n"


class VectorIndex:
    """Evidence id → vector, searchable by cosine; exact or HNSW depending on size."""

    def __init__(self, dimension: int, *, exact_max: int, hnsw_m: int, ef_search: int) -> None:
        self.dimension = dimension
        self.exact_max = exact_max
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self._index: Any = self._new_index(approximate=False)
        self._approximate = False
        self._ids: set[int] = set()
        self._masked: set[int] = set()
        self.saved_manifest: dict[str, Any] = {}

    @property
    def approximate(self) -> bool:
        return self._approximate

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> set[int]:
        return set(self._ids)

    def _new_index(self, *, approximate: bool) -> Any:
        if approximate:
            inner = faiss.IndexHNSWFlat(self.dimension, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = self.ef_search
            return faiss.IndexIDMap2(inner)
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    def add(self, ids: Ids, vectors: Vectors) -> None:
        """Add vectors; an id already present is replaced."""
        if len(ids) == 0:
            return
        present = [int(i) for i in ids if int(i) in self._ids]
        if present:
            self.remove(np.asarray(present, dtype=np.int64))
        if not self._approximate and len(self._ids) + len(ids) > self.exact_max:
            self._rebuild(extra_ids=ids, extra_vectors=vectors, approximate=True)
            return
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._ids.update(int(i) for i in ids)

    def remove(self, ids: Ids) -> None:
        """Forget vectors by evidence id (masked under HNSW until the next rebuild)."""
        gone = [int(i) for i in ids if int(i) in self._ids]
        if not gone:
            return
        self._ids.difference_update(gone)
        if self._approximate:
            self._masked.update(gone)
            if len(self._masked) > REBUILD_MASKED_FRACTION * max(len(self._ids), 1):
                self._rebuild(approximate=len(self._ids) > self.exact_max)
        else:
            self._index.remove_ids(np.asarray(gone, dtype=np.int64))

    def hnsw(self) -> Any:
        """The HNSW graph (to tune ``efSearch``); only for an approximate index."""
        if not self._approximate:
            raise ValueError("an exact index has no HNSW graph")
        inner: Any = faiss.downcast_index(self._index.index)
        return inner.hnsw

    def stored(self) -> tuple[Ids, Vectors]:
        """Every live (id, vector) pair held by the FAISS index."""
        id_map = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        vectors = self._index.index.reconstruct_n(0, self._index.ntotal)
        if not self._masked:
            return id_map, vectors
        keep = ~np.isin(id_map, np.fromiter(self._masked, dtype=np.int64))
        return id_map[keep], vectors[keep]

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
        self._approximate = approximate
        self._masked = set()
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        self._ids = {int(i) for i in ids}

    def search(self, query: Vectors, k: int) -> tuple[Ids, npt.NDArray[np.float32]]:
        """The ``k`` nearest evidence ids to one query vector, best first, with their cosines."""
        if not self._ids or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        fetch = min(k + len(self._masked), self._index.ntotal)
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1)), fetch)
        keep = [
            j
            for j, i in enumerate(ids[0])
            if i >= 0 and (not self._masked or int(i) not in self._masked)
        ][:k]
        return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)

    def save(self, path: Path, *, model: str, extra: dict[str, Any] | None = None) -> None:
        """Write the index and its manifest as one file, atomically: readers see the old or the new.

        The file is a magic line, the manifest's length and JSON, then FAISS's own bytes; it is
        written under a unique temporary name beside ``path`` and renamed over it.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            **(extra or {}),
            "model": model,
            "dimension": self.dimension,
            "approximate": self._approximate,
            "masked": sorted(self._masked),
            "count": len(self._ids),
        }
        header = json.dumps(meta).encode()
        descriptor, tmp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(MAGIC + len(header).to_bytes(8, "little") + header)
                faiss.write_index(self._index, _FAISS_IO.PyCallbackIOWriter(out.write))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

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
                raw = faiss.read_index(_FAISS_IO.PyCallbackIOReader(source.read))
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        index = cls(dimension, exact_max=exact_max, hnsw_m=hnsw_m, ef_search=ef_search)
        index._index = raw  # read_index returns the concrete type; a downcast copy would outlive it
        index._approximate = bool(meta["approximate"])
        if index._approximate:
            index.hnsw().efSearch = ef_search
        index._masked = {int(i) for i in meta["masked"]}
        stored = faiss.vector_to_array(index._index.id_map).astype(np.int64)
        index._ids = {int(i) for i in stored} - index._masked
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
