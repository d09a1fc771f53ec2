"""Builds the application's services from one ``Settings``: the only place things are wired."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from askaround.settings import AppSettings
from router.errors import Unavailable
from router.search.embedding import (
    Embedder,
    HashingEmbedder,
    RememberedQueries,
    SentenceTransformerEmbedder,
)
from router.search.onnx_encoder import OnnxEmbedder, onnx_available
from router.settings import Settings
from router.storage.database import Database

if TYPE_CHECKING:
    from router.routing.reuse import AnswerFinder
    from router.routing.router import Router


def pin_threads(settings: Settings) -> None:
    """Keep OpenMP thread counts explicit: torch and faiss each bring their own runtime."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import faiss

    faiss.omp_set_num_threads(settings.faiss_threads)


def build_embedder(settings: Settings) -> Embedder:
    """The configured embedder; ``hashing-test`` selects the deterministic fake (tests only)."""
    if settings.model_name == "hashing-test":
        return HashingEmbedder()
    if settings.encoder == "onnx" or (settings.encoder == "auto" and onnx_available()):
        try:
            return OnnxEmbedder(
                settings.model_name,
                batch_size=settings.embedding_batch_size,
                threads=settings.encoder_threads,
                models_dir=settings.models_dir,
            )
        except Unavailable:
            if settings.encoder == "onnx":
                raise
    return SentenceTransformerEmbedder(
        settings.model_name,
        batch_size=settings.embedding_batch_size,
        threads=settings.torch_threads,
        models_dir=settings.models_dir,
    )


@dataclass
class Services:
    """Everything an edge needs, built lazily so a CLI command pays only for what it uses."""

    settings: AppSettings
    embedder_override: Embedder | None = field(default=None)
    ready: threading.Event = field(default_factory=threading.Event)  # model and indexes loaded
    # set when the server begins a graceful stop: new requests are answered 503 shutting_down
    stopping: threading.Event = field(default_factory=threading.Event)

    @cached_property
    def database(self) -> Database:
        """The database, migrated to the code's schema first (under the migration lock)."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(self.settings.resolved_database_url)
        database.migrate()
        return database

    @cached_property
    def embedder(self) -> Embedder:
        pin_threads(self.settings)
        return RememberedQueries(self.embedder_override or build_embedder(self.settings))

    @cached_property
    def router(self) -> Router:
        from router.routing.router import Router

        return Router(database=self.database, embedder=self.embedder, settings=self.settings)

    @cached_property
    def answers(self) -> AnswerFinder:
        """Past answers close to a question, shown before anyone is asked."""
        from router.routing.reuse import AnswerFinder

        return AnswerFinder(
            indexes=self.router.indexes,
            embedder=self.embedder,
            min_similarity=self.settings.reuse_min_similarity,
        )
