"""Evidence rows as the in-memory indexes take them: the columns read, and one batch of rows
added to BM25, the evidence table and (with their model's vectors) FAISS."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from router.search.backfill import evidence_document
from router.search.network_index import NetworkIndex
from router.storage.schema import Evidence

COLUMNS = (
    Evidence.id,
    Evidence.person_id,
    Evidence.kind,
    Evidence.text,
    Evidence.context,
    Evidence.created_at,
    Evidence.embedding_model,
    Evidence.weight,  # kept in memory so a route reads no weight from the database
)


def index_rows(index: NetworkIndex, rows: Iterable[Any], *, model: str | None) -> None:
    """Add rows to BM25 and activity (and, given ``model``, its vectors to FAISS)."""
    ids: list[int] = []
    texts: list[str] = []
    vector_ids: list[int] = []
    vectors: list[np.ndarray] = []
    people: list[int] = []
    created: list[float] = []
    answers: list[bool] = []
    weights: list[float] = []
    for row in rows:
        ids.append(int(row.id))
        texts.append(evidence_document(row.kind, row.text, row.context))
        people.append(int(row.person_id))
        created.append(row.created_at.timestamp())
        answers.append(row.kind == "answer")
        weights.append(float(row.weight))
        if model is not None and row.embedding_model == model and row.embedding:
            vector_ids.append(int(row.id))
            vectors.append(np.frombuffer(row.embedding, dtype=np.float32))
    index.track(
        np.asarray(ids, dtype=np.int64),
        np.asarray(people, dtype=np.int64),
        np.asarray(created, dtype=np.float64),
        np.asarray(answers, dtype=np.bool_),
        np.asarray(weights, dtype=np.float64),
    )
    index.lexical.add_many(ids, texts)
    if vector_ids:
        index.vectors.add(np.asarray(vector_ids, dtype=np.int64), np.vstack(vectors))
