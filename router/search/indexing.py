"""Keeping each network's search indexes in step with the database.

Vectors are stored on the evidence rows; ``embed_pending`` fills in the missing ones (and re-embeds
rows made by another model, so vector spaces never mix). ``IndexCache`` holds one
``NetworkIndex`` (FAISS + BM25 + activity) per network, loads the FAISS part from the data
directory, and applies only the difference with the database when it has changed.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from router.progress import Progress, silent
from router.search.embedding import Embedder
from router.search.lexical import LexicalIndex
from router.search.vectors import VectorIndex
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence

EMBED_CHUNK = 512
EMBED_ON_SYNC_MAX = 64
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC).timestamp()


def evidence_document(kind: str, text: str, context: str) -> str:
    """The text that represents a piece of evidence to both the embedder and BM25."""
    if kind == "interest":
        return f"Interested in {text}"
    return f"{context}\n{text}" if context else text


def embed_pending(
    session: Session, *, network_id: int, embedder: Embedder, progress: Progress = silent
) -> int:
    """Embed every evidence row of the network with no vector from ``embedder``; returns how many."""
    stale = (Evidence.network_id == network_id) & (
        Evidence.embedding.is_(None)
        | Evidence.embedding_model.is_(None)
        | (Evidence.embedding_model != embedder.name)
    )
    total = int(session.scalar(select(func.count(Evidence.id)).where(stale)) or 0)
    done = 0
    progress("embedding", 0, total)
    last_id = 0
    while done < total:
        rows = session.execute(
            select(Evidence.id, Evidence.kind, Evidence.text, Evidence.context)
            .where(stale, Evidence.id > last_id)
            .order_by(Evidence.id)
            .limit(EMBED_CHUNK)
        ).all()
        if not rows:
            break
        vectors = embedder.encode([evidence_document(r.kind, r.text, r.context) for r in rows])
        session.execute(
            update(Evidence),
            [
                {"id": r.id, "embedding": vectors[i].tobytes(), "embedding_model": embedder.name}
                for i, r in enumerate(rows)
            ],
        )
        last_id = rows[-1].id
        done += len(rows)
        progress("embedding", done, total)
    session.flush()
    return done


# The largest exponent the activity decay uses (about 2^433): evidence dated centuries ahead
# counts as if dated at that horizon instead of overflowing ``math.exp`` for the whole network.
MAX_DECAY_EXPONENT = 300.0


def decay_weight(created: float, *, half_life_days: float) -> float:
    """2^(age/half-life) of a timestamp relative to a fixed epoch, clamped so it stays finite."""
    rate = math.log(2) / (half_life_days * 86400)
    return math.exp(min(rate * (created - _EPOCH), MAX_DECAY_EXPONENT))


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
    person_of: dict[int, int] = field(default_factory=dict)
    evidence_meta: dict[int, tuple[int, float, bool]] = field(default_factory=dict)
    activity: dict[int, Activity] = field(default_factory=dict)
    half_life_days: float = 180.0
    unembedded: int = 0  # rows with no vector from the current model (after a model change)
    signature: tuple[int, ...] = ()  # never matches a real database
    checked_at: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def _count(self, person_id: int, created: float, is_answer: bool, sign: int) -> None:
        stats = self.activity.setdefault(person_id, Activity())
        if is_answer:
            stats.answers += sign
            stats.decayed += sign * decay_weight(created, half_life_days=self.half_life_days)
            if sign > 0:
                stats.last_at = max(stats.last_at, created)
        else:
            stats.other += sign

    def track(self, evidence_id: int, person_id: int, created: float, is_answer: bool) -> None:
        self.person_of[evidence_id] = person_id
        self.evidence_meta[evidence_id] = (person_id, created, is_answer)
        self._count(person_id, created, is_answer, +1)

    def untrack(self, evidence_id: int) -> None:
        meta = self.evidence_meta.pop(evidence_id, None)
        self.person_of.pop(evidence_id, None)
        if meta is not None:
            self._count(meta[0], meta[1], meta[2], -1)


class IndexCache:
    """One ``NetworkIndex`` per network, synced with the database at most every few seconds.

    ``invalidate`` forces the next lookup to sync (used after writes in this process).
    """

    def __init__(
        self,
        *,
        database: Database,
        embedder: Embedder,
        settings: Settings,
        half_life_days: float = 180.0,
    ) -> None:
        self.half_life_days = half_life_days
        self.database = database
        self.embedder = embedder
        self.settings = settings
        self._networks: dict[int, NetworkIndex] = {}
        self._lock = threading.Lock()

    def _path(self, network_id: int) -> Path:
        safe = "".join(c if c.isalnum() else "_" for c in self.embedder.name)[-60:]
        return self.settings.index_dir / f"network-{network_id}-{safe}.faiss"

    def invalidate(self, network_id: int | None = None) -> None:
        with self._lock:
            for nid, index in self._networks.items():
                if network_id is None or nid == network_id:
                    index.checked_at = 0.0

    def refresh(self, network_id: int, evidence_ids: list[int]) -> None:
        """Drop these rows from the cached index so the next lookup re-reads them (text or vector changed)."""
        with self._lock:
            index = self._networks.get(network_id)
        if index is None:
            return
        with index.lock:
            ids = np.asarray(evidence_ids, dtype=np.int64)
            index.vectors.remove(ids)
            index.lexical.remove(list(evidence_ids))
            for evidence_id in evidence_ids:
                index.untrack(evidence_id)
            index.signature = ()
            index.checked_at = 0.0

    def get(
        self, session: Session, *, network_id: int, progress: Progress = silent
    ) -> NetworkIndex:
        """The network's index, synced with what ``session`` sees if the check interval passed."""
        with self._lock:
            index = self._networks.get(network_id)
            if index is None:
                index = self._load(network_id)
                self._networks[network_id] = index
        with index.lock:
            interval = self.settings.index_check_seconds
            if index.checked_at == 0.0 or time.monotonic() - index.checked_at >= interval:
                self._sync(session, network_id, index, progress)
                index.checked_at = time.monotonic()
        return index

    def _load(self, network_id: int) -> NetworkIndex:
        settings = self.settings
        kwargs = {
            "exact_max": settings.exact_index_max,
            "hnsw_m": settings.hnsw_m,
            "ef_search": settings.hnsw_ef_search,
        }
        vectors = VectorIndex.load(
            self._path(network_id),
            model=self.embedder.name,
            dimension=self.embedder.dimension,
            **kwargs,
        ) or VectorIndex(self.embedder.dimension, **kwargs)
        return NetworkIndex(
            vectors=vectors, lexical=LexicalIndex(), half_life_days=self.half_life_days
        )

    def _signature(self, session: Session, network_id: int) -> tuple[int, ...]:
        """Cheap aggregates that change whenever rows or current-model vectors come or go."""
        current = Evidence.embedding_model == self.embedder.name
        row = session.execute(
            select(
                func.count(Evidence.id),
                func.max(Evidence.id),
                func.sum(Evidence.id),
                func.count(Evidence.id).filter(current),
                func.sum(Evidence.id).filter(current),
            ).where(Evidence.network_id == network_id)
        ).one()
        return tuple(int(value or 0) for value in row)

    def _sync(
        self, session: Session, network_id: int, index: NetworkIndex, progress: Progress
    ) -> None:
        """Apply the difference between the index and the database: every row is searched by
        BM25 and counts toward activity; rows with a vector from the current model are in FAISS."""
        signature = self._signature(session, network_id)
        if signature == index.signature:
            return
        missing = signature[0] - signature[3]
        if 0 < missing <= EMBED_ON_SYNC_MAX:
            # A few new rows (an answer given here, an interest added): embed them now rather than
            # leave them to text search. Thousands (a model change) are `askaround reembed`'s job.
            embed_pending(session, network_id=network_id, embedder=self.embedder)
            signature = self._signature(session, network_id)
        models = session.execute(
            select(Evidence.id, Evidence.embedding_model).where(Evidence.network_id == network_id)
        ).all()
        wanted = {int(row.id) for row in models}
        embedded = {int(row.id) for row in models if row.embedding_model == self.embedder.name}
        index.unembedded = len(wanted) - len(embedded)
        tracked = set(index.person_of)
        removed = sorted(tracked - wanted)
        if removed:
            index.lexical.remove(removed)
            for evidence_id in removed:
                index.untrack(evidence_id)
        new_vectors = embedded - index.vectors.ids()
        stale_vectors = index.vectors.ids() - embedded
        if stale_vectors:
            index.vectors.remove(np.asarray(sorted(stale_vectors), dtype=np.int64))
        ordered = sorted((wanted - tracked) | new_vectors)
        progress("indexing", 0, len(ordered))
        for start in range(0, len(ordered), 2000):
            chunk = ordered[start : start + 2000]
            rows = session.execute(
                select(
                    Evidence.id,
                    Evidence.person_id,
                    Evidence.kind,
                    Evidence.text,
                    Evidence.context,
                    Evidence.created_at,
                    Evidence.embedding,
                ).where(Evidence.id.in_(chunk))
            ).all()
            add_ids: list[int] = []
            add_vectors: list[np.ndarray] = []
            for row in rows:
                if row.id in new_vectors and row.embedding is not None:
                    add_ids.append(row.id)
                    add_vectors.append(np.frombuffer(row.embedding, dtype=np.float32))
                if row.id not in tracked:
                    index.lexical.add(row.id, evidence_document(row.kind, row.text, row.context))
                    index.track(
                        row.id, row.person_id, row.created_at.timestamp(), row.kind == "answer"
                    )
            if add_ids:
                index.vectors.add(np.asarray(add_ids, dtype=np.int64), np.vstack(add_vectors))
            progress("indexing", start + len(chunk), len(ordered))
        index.signature = signature
        if new_vectors or stale_vectors:
            index.vectors.save(self._path(network_id), model=self.embedder.name)
