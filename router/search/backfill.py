"""Embedding evidence rows into their stored vectors: missing ones, or a whole network's.

``embed_pending`` fills in rows without a vector from the current model (and re-embeds rows made by
another model, so vector spaces never mix); ``embed_network`` does it for a whole network in short
transactions, so other writers keep going while a big job runs. This is the only place that writes
vectors.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from router.progress import Progress, silent
from router.search.embedding import Embedder
from router.storage.database import Database
from router.storage.schema import Evidence

EMBED_CHUNK = 512
EMBED_COMMIT_CHUNK = 2048  # rows embedded (length-sorted batches) per short write transaction


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


def embed_network(
    database: Database,
    *,
    network_id: int,
    embedder: Embedder,
    progress: Progress = silent,
    chunk: int = EMBED_COMMIT_CHUNK,
) -> int:
    """``embed_pending`` for big jobs (imports, reembed): the model runs outside any transaction
    and each chunk's vectors commit in a short one, so the API and the bot keep writing meanwhile.
    Returns how many rows were embedded."""
    stale = (Evidence.network_id == network_id) & (
        Evidence.embedding.is_(None)
        | Evidence.embedding_model.is_(None)
        | (Evidence.embedding_model != embedder.name)
    )
    with database.transaction() as session:
        total = int(session.scalar(select(func.count(Evidence.id)).where(stale)) or 0)
    done, last_id = 0, 0
    progress("embedding", 0, total)
    while True:
        with database.transaction() as session:
            rows = session.execute(
                select(Evidence.id, Evidence.kind, Evidence.text, Evidence.context)
                .where(stale, Evidence.id > last_id)
                .order_by(Evidence.id)
                .limit(chunk)
            ).all()
        if not rows:
            break
        vectors = embedder.encode(
            [evidence_document(r.kind, r.text, r.context) for r in rows],
            progress=_shifted(progress, done, total),
        )
        with database.transaction() as session:
            session.execute(
                update(Evidence),
                [
                    {
                        "id": r.id,
                        "embedding": vectors[i].tobytes(),
                        "embedding_model": embedder.name,
                    }
                    for i, r in enumerate(rows)
                ],
            )
        last_id = rows[-1].id
        done += len(rows)
        progress("embedding", done, max(total, done))
    return done


def _shifted(progress: Progress, offset: int, whole: int) -> Progress:
    """Progress within one chunk reported as progress over the whole job."""

    def report(stage: str, done: int, total: int) -> None:
        progress("embedding", offset + done, max(whole, offset + done))

    return report
