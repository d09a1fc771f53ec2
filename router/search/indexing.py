"""Keeping each network's search indexes in step with the database: the one freshness rule.

Vectors are stored on the evidence rows (``router.search.backfill`` fills them in). Every insert, edit or delete of evidence
appends to the ``evidence_changes`` log in the same transaction (database triggers), so
``IndexCache`` keeps a per-network cursor and applies only what came after it: a check that finds
nothing costs one index probe, whatever the network's size, and any process (API, worker, bot)
sees another's write at its next check. Index files are written by ``save_changed`` (a background
thread in ``serve``), never on a route.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.progress import Progress, silent
from router.search.backfill import evidence_document
from router.search.change_log import latest_change, pruned_through
from router.search.embedding import Embedder
from router.search.evidence_rows import COLUMNS, index_rows
from router.search.lexical import LexicalIndex
from router.search.network_index import NetworkIndex
from router.search.saved_text import SUFFIX, load_text_state, save_text_state
from router.search.vectors import VectorIndex
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, EvidenceChange

log = logging.getLogger(__name__)
EMBED_ON_SYNC_MAX = 64  # rows without a vector embedded in memory at a sync (more: `reembed`)
BUILD_CHUNK = 5000
FOLD_SLICE = 32  # vectors moved into an HNSW graph per hold of the writer lock (~5 ms each at 1M)
CHANGES_PER_CHECK = 20_000  # a route applies at most this many; the background loop does the rest


class IndexCache:
    """One ``NetworkIndex`` per network, following the evidence change log.

    ``invalidate`` makes the next lookup check the log at once (used after writes in this process);
    otherwise a lookup checks at most every ``index_check_seconds``.
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
        # False in a process whose siblings share its index files and one of them writes them
        # (``serve --workers N``): saves are atomic either way, this only spares the disk.
        self.saves = True

    def path(self, network_id: int) -> Path:
        safe = "".join(c if c.isalnum() else "_" for c in self.embedder.name)[-60:]
        return self.settings.index_dir / f"network-{network_id}-{safe}.index"

    def invalidate(self, network_id: int | None = None) -> None:
        with self._lock:
            for nid, index in self._networks.items():
                if network_id is None or nid == network_id:
                    index.checked_at = -math.inf  # due whatever the clock reads

    def refresh(self, network_id: int, evidence_ids: list[int]) -> None:
        """Check the network now: the change log already names ``evidence_ids``."""
        self.invalidate(network_id)

    def drop(self, network_id: int) -> None:
        """Forget a network's index in this process: the next route rebuilds it from the database."""
        with self._lock:
            self._networks.pop(network_id, None)

    def loaded(self) -> list[int]:
        with self._lock:
            return list(self._networks)

    def _entry(self, network_id: int) -> NetworkIndex:
        with self._lock:
            index = self._networks.get(network_id)
            if index is None:
                index = NetworkIndex(
                    vectors=self._new_vectors(),
                    lexical=LexicalIndex(),
                    half_life_days=self.half_life_days,
                )
                self._networks[network_id] = index
        return index

    def get(
        self, session: Session, *, network_id: int, progress: Progress = silent
    ) -> NetworkIndex:
        """The network's index, caught up with the change log if the check interval passed."""
        index = self._entry(network_id)
        interval = self.settings.index_check_seconds
        if not index.built or time.monotonic() - index.checked_at >= interval:
            # Once built, a route never queues behind another sync (the background one, say):
            # it searches what is there and the other sync brings the changes.
            self.sync(session, network_id=network_id, progress=progress, wait=not index.built)
        return index

    def sync(
        self,
        session: Session,
        *,
        network_id: int,
        progress: Progress = silent,
        limit: int | None = CHANGES_PER_CHECK,
        wait: bool = True,
    ) -> int:
        """Build the index if needed, then apply changes after its cursor; returns how many
        (none when ``wait`` is false and another thread is syncing this network already)."""
        index = self._entry(network_id)
        if not index.sync_lock.acquire(blocking=wait):
            return 0
        try:
            if not index.built:
                self._build(session, network_id, index, progress)
                applied = 0
            elif index.cursor < pruned_through(session, network_id):
                # The log was pruned past this index's cursor: the changes it missed are gone.
                log.info("network %s fell behind the pruned change log; rebuilding", network_id)
                self._build(session, network_id, index, progress)
                applied = 0
            else:
                applied = self._catch_up(session, network_id, index, limit)
            index.checked_at = time.monotonic()
        finally:
            index.sync_lock.release()
        return applied

    def save_changed(self) -> int:
        """Write every index with unsaved changes to the data directory; returns how many
        (none in a process that leaves saving to a sibling)."""
        if not self.saves:
            return 0
        saved = 0
        for network_id in self.loaded():
            index = self._entry(network_id)
            if not index.changed:
                continue
            with index.sync_lock:
                self._fold(index)
                with index.lock.reading():
                    index.vectors.save(
                        self.path(network_id),
                        model=self.embedder.name,
                        extra={"cursor": index.cursor},
                    )
                    save_text_state(self.path(network_id).with_suffix(SUFFIX), index)
                    index.changed = False
            saved += 1
        return saved

    def _fold(self, index: NetworkIndex) -> None:
        """Move vectors waiting beside the HNSW graph into it, a slice per hold of the writer lock
        (routes wait for one slice, not for all)."""
        while index.vectors.pending:
            with index.lock.writing():
                index.vectors.fold(FOLD_SLICE)

    def follow(self, stop: threading.Event, *, save_seconds: float) -> None:
        """Until ``stop`` is set: keep every loaded network caught up with the change log (so
        routes find nothing to apply) and write changed indexes every ``save_seconds``."""
        interval = max(self.settings.index_check_seconds, 0.2)
        last_save = time.monotonic()
        while not stop.wait(interval):
            try:
                for network_id in self.loaded():
                    with self.database.transaction() as session:
                        self.sync(session, network_id=network_id, limit=None)
                    index = self._entry(network_id)
                    with index.sync_lock:
                        self._fold(index)
                if time.monotonic() - last_save >= save_seconds:
                    self.save_changed()
                    last_save = time.monotonic()
            except Exception:  # a database hiccup must not stop freshness for the process
                log.exception("index catch-up failed; retrying")
        self.save_changed()

    def _new_vectors(self) -> VectorIndex:
        return VectorIndex(
            self.embedder.dimension,
            exact_max=self.settings.exact_index_max,
            hnsw_m=self.settings.hnsw_m,
            ef_search=self.settings.hnsw_ef_search,
        )

    def _load_saved(self, session: Session, network_id: int) -> VectorIndex | None:
        """The saved vectors, if they were made by this model from this database's log."""
        saved = VectorIndex.load(
            self.path(network_id),
            model=self.embedder.name,
            dimension=self.embedder.dimension,
            exact_max=self.settings.exact_index_max,
            hnsw_m=self.settings.hnsw_m,
            ef_search=self.settings.hnsw_ef_search,
        )
        if saved is None:
            return None
        cursor = saved.saved_manifest.get("cursor")
        if not isinstance(cursor, int) or cursor > latest_change(session, network_id):
            return None  # an older format, or a file from another (recreated) database
        if cursor < pruned_through(session, network_id):
            return None  # older than the pruned log: the changes since are gone
        return saved

    def _build(
        self, session: Session, network_id: int, index: NetworkIndex, progress: Progress
    ) -> None:
        """Read every row once: BM25 and activity from the text, vectors from a saved file or rows;
        or, when BM25 and the evidence table were saved with the vectors, read no row at all."""
        saved = self._load_saved(session, network_id)
        if saved is not None and self._restore(session, network_id, index, saved):
            return
        cursor = (
            saved.saved_manifest["cursor"]
            if saved is not None
            else latest_change(session, network_id)
        )
        # Anything written after ``cursor`` is applied again by the catch-up below (idempotent).
        vectors = saved or self._new_vectors()
        lexical = LexicalIndex()
        lexical.loading = True  # no route sees it before ``flush``: merge each term once there
        built = NetworkIndex(vectors=vectors, lexical=lexical, half_life_days=self.half_life_days)
        total = int(
            session.scalar(select(func.count(Evidence.id)).where(Evidence.network_id == network_id))
            or 0
        )
        progress("indexing", 0, total)
        present_chunks: list[np.ndarray] = []
        last_id, done = 0, 0
        while True:
            columns: Sequence[Any] = COLUMNS if saved else (*COLUMNS, Evidence.embedding)
            rows = session.execute(
                select(*columns)
                .where(Evidence.network_id == network_id, Evidence.id > last_id)
                .order_by(Evidence.id)
                .limit(BUILD_CHUNK)
            ).all()
            if not rows:
                break
            index_rows(built, rows, model=None if saved else self.embedder.name)
            present_chunks.append(
                np.asarray(
                    [row.id for row in rows if row.embedding_model == self.embedder.name],
                    dtype=np.int64,
                )
            )
            last_id = rows[-1].id
            done += len(rows)
            progress("indexing", done, total)
        present = np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *present_chunks]))
        if saved is not None:
            stale = np.setdiff1d(saved.ids(), present, assume_unique=True)
            if len(stale):  # vectors of rows deleted (or re-embedded away) before the saved cursor
                saved.remove(stale)
            missing = np.setdiff1d(present, saved.ids(), assume_unique=True)
            self._embed_missing(session, built, missing.tolist())
        self._embed_missing(session, built, None)
        built.lexical.flush()
        built.cursor = cursor
        built.changed = True  # a save writes BM25 and the evidence table, so restarts skip this
        with index.lock.writing():
            index.take(built)
        self._catch_up(session, network_id, index, None)

    def _restore(
        self, session: Session, network_id: int, index: NetworkIndex, saved: VectorIndex
    ) -> bool:
        """Take the saved vectors, BM25 and evidence table (all at one cursor) and catch up."""
        restored = NetworkIndex(
            vectors=saved, lexical=LexicalIndex(), half_life_days=self.half_life_days
        )
        cursor = saved.saved_manifest["cursor"]
        path = self.path(network_id).with_suffix(SUFFIX)
        if not load_text_state(path, cursor=cursor, into=restored):
            return False
        vectors = len(saved)
        self._embed_missing(session, restored, None)
        restored.cursor, restored.changed = cursor, len(saved) != vectors
        with index.lock.writing():
            index.take(restored)
        self._catch_up(session, network_id, index, None)
        return True

    def _embed_missing(self, session: Session, index: NetworkIndex, ids: list[int] | None) -> None:
        """Add vectors for current-model rows missing from FAISS (``ids``), or, when only a few
        rows have no vector at all, embed them in memory (the database keeps no vector for them)."""
        if ids:
            for start in range(0, len(ids), BUILD_CHUNK):
                chunk = ids[start : start + BUILD_CHUNK]
                rows = session.execute(
                    select(Evidence.id, Evidence.embedding).where(Evidence.id.in_(chunk))
                ).all()
                found = [row for row in rows if row.embedding]
                if found:
                    index.vectors.add(
                        np.asarray([row.id for row in found], dtype=np.int64),
                        np.vstack(
                            [np.frombuffer(row.embedding, dtype=np.float32) for row in found]
                        ),
                    )
        if ids is None and 0 < index.unembedded <= EMBED_ON_SYNC_MAX:
            missing = np.setdiff1d(index.evidence.ids(), index.vectors.ids()).tolist()
            text_rows = session.execute(select(*COLUMNS).where(Evidence.id.in_(missing))).all()
            self._embed_in_memory(index, text_rows)

    def _embed_in_memory(self, index: NetworkIndex, rows: Sequence[Any]) -> None:
        if not rows:
            return
        vectors = self.embedder.encode(
            [evidence_document(row.kind, row.text, row.context) for row in rows]
        )
        index.vectors.add(np.asarray([row.id for row in rows], dtype=np.int64), vectors)

    def _catch_up(
        self, session: Session, network_id: int, index: NetworkIndex, limit: int | None
    ) -> int:
        """Apply change-log entries after the cursor: re-read each changed row, or forget it."""
        applied = 0
        while limit is None or applied < limit:
            changes = session.execute(
                select(EvidenceChange.seq, EvidenceChange.evidence_id)
                .where(EvidenceChange.network_id == network_id, EvidenceChange.seq > index.cursor)
                .order_by(EvidenceChange.seq)
                .limit(BUILD_CHUNK)
            ).all()
            if not changes:
                break
            ids = sorted({int(change.evidence_id) for change in changes})
            rows = session.execute(
                select(*COLUMNS, Evidence.embedding).where(
                    Evidence.id.in_(ids), Evidence.network_id == network_id
                )
            ).all()
            # Reading happens outside the write lock; routes wait only while memory changes.
            needs_vector = [
                row
                for row in rows
                if not (row.embedding_model == self.embedder.name and row.embedding)
            ]
            embedded = (
                self.embedder.encode(
                    [evidence_document(r.kind, r.text, r.context) for r in needs_vector]
                )
                if 0 < len(needs_vector) <= EMBED_ON_SYNC_MAX
                else None
            )
            with index.lock.writing():
                gone = np.asarray(ids, dtype=np.int64)
                index.vectors.remove(gone)
                index.lexical.remove(ids)
                index.untrack(gone)
                index_rows(index, rows, model=self.embedder.name)
                if embedded is not None:
                    index.vectors.add(
                        np.asarray([r.id for r in needs_vector], dtype=np.int64), embedded
                    )
                index.cursor = int(changes[-1].seq)
                index.changed = True
            applied += len(changes)
            if len(changes) < BUILD_CHUNK:
                break
        return applied
