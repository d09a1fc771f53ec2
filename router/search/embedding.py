"""Turning text into unit vectors: the real sentence-transformers model, and a deterministic fake.

Both satisfy ``Embedder``: a ``name`` stored beside every vector (so a model change is detected and
re-embedded rather than mixed), a ``dimension``, and ``encode`` returning L2-normalised float32 rows.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from router.errors import Unavailable
from router.progress import Progress, silent
from router.search.lexical import tokenize

Vectors = npt.NDArray[np.float32]
QUERY_CHARS = (
    2000  # a query is embedded from its title and first part (the model reads ~128-256 tokens)
)
QUERY_MEMO = (
    256  # single-text encodes remembered (one request routes a question and looks for reuse)
)
# The repository's models/ folder: the manifest of named models and local artefacts (never weights).
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


class Embedder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str], *, progress: Progress = silent) -> Vectors: ...


def manifest_entry(name: str, models_dir: Path = DEFAULT_MODELS_DIR) -> dict[str, Any] | None:
    manifest = models_dir / "manifest.json"
    if not manifest.is_file():
        return None
    for entry in json.loads(manifest.read_text())["models"]:
        if name in (entry["name"], entry["source"]):
            return dict(entry)
    return None


def resolve_model_path(name: str, models_dir: Path = DEFAULT_MODELS_DIR) -> Path:
    """Where the weights for ``name`` live: a directory given as is, or the package the manifest names."""
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return candidate
    entry = manifest_entry(name, models_dir)
    if entry is None:
        raise Unavailable(
            f"unknown embedding model {name!r}: not a directory and not in the manifest"
        )
    try:
        module = importlib.import_module(entry["module"])
    except ImportError as exc:
        raise Unavailable(f"model package {entry['package']!r} is not installed") from exc
    path = Path(module.__file__ or "").parent / "model"
    if not path.is_dir():
        raise Unavailable(f"model package {entry['package']!r} has no model directory")
    return path


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers directory), loaded offline on the CPU."""

    def __init__(
        self,
        name: str,
        *,
        batch_size: int = 64,
        threads: int = 2,
        models_dir: Path = DEFAULT_MODELS_DIR,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = resolve_model_path(name, models_dir)
        entry = manifest_entry(name, models_dir)
        if entry and entry.get("precision", "fp32") != "fp32":
            raise Unavailable(
                f"model {name!r} is {entry['precision']}: it runs on ONNX Runtime only"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        _quiet_transformers()
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        if entry and "max_seq_length" in entry:
            self._model.max_seq_length = int(entry["max_seq_length"])
        self.name = entry["name"] if entry else str(path)
        measure = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dimension = measure()
        if dimension is None:
            raise Unavailable(f"model {name!r} does not report its dimension")
        self.dimension = int(dimension)
        self.batch_size = batch_size

    def encode(self, texts: list[str], *, progress: Progress = silent) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        chunk = max(self.batch_size * 4, 1)
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            vectors = self._model.encode(
                part,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[start : start + len(part)] = vectors
            progress("embedding", start + len(part), len(texts))
        return out


def _quiet_transformers() -> None:
    """Loading prints a progress bar per load; the CLI shows its own progress instead."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    except ImportError:  # pragma: no cover - transformers always comes with sentence-transformers
        pass


class HashingEmbedder:
    """A deterministic bag-of-words embedder for fast tests: shared words mean similar vectors."""

    def __init__(self, dimension: int = 1024, name: str = "hashing-test") -> None:
        self.dimension = dimension
        self.name = name

    def encode(self, texts: list[str], *, progress: Progress = silent) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        progress("embedding", len(texts), len(texts))
        return out


class RememberedQueries:
    """An embedder that remembers its last ``size`` single-text encodes, so one request that
    routes a question and then looks for past answers to it encodes the question once; batches
    (imports, re-embedding) pass straight through."""

    def __init__(self, inner: Embedder, size: int = QUERY_MEMO) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self._size = size
        self._memo: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, progress: Progress = silent) -> Vectors:
        if len(texts) != 1:
            return self.inner.encode(texts, progress=progress)
        text = texts[0]
        with self._lock:
            known = self._memo.get(text)
            if known is not None:
                self._memo.move_to_end(text)
                return known.copy()
        vectors = self.inner.encode(texts, progress=progress)
        with self._lock:
            self._memo[text] = vectors.copy()
            while len(self._memo) > self._size:
                self._memo.popitem(last=False)
        return vectors

    def __getattr__(self, attribute: str) -> Any:  # the inner model's extras (batch size, …)
        return getattr(self.inner, attribute)
