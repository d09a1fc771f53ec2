"""An embedder that keeps every vector it made in a SQLite file, so replays never embed twice.

Embedding six sites is the slow part of measuring (minutes per site on two shared cores); the
replay, the baselines and the ranker's training all ask for the same texts again and again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import numpy as np

from router.progress import Progress, silent
from router.search.embedding import Embedder, Vectors

CHUNK = 500


class CachedEmbedder:
    """Wraps ``inner``; vectors are keyed by the model name and the text's SHA-1."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.name}\0{text}".encode()).hexdigest()

    def encode(self, texts: list[str], *, progress: Progress = silent) -> Vectors:
        keys = [self._key(text) for text in texts]
        found: dict[str, Vectors] = {}
        with self._lock:
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(
                    f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
        if missing:
            made = self.inner.encode(missing, progress=progress)
            rows = [
                (self._key(t), made[i].astype(np.float32).tobytes()) for i, t in enumerate(missing)
            ]
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
                self._db.commit()
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([found[key] for key in keys]).astype(np.float32)
