"""Answers reused before anyone is asked: past answers in the network close to a new question.

The best ask is the one never sent. ``AnswerFinder`` searches the same index routing uses for
past answers whose thread (the question they answered, and the answer) is close to the new
question, best first, one per thread. Answers given through Askaround itself are private and
never suggested; only imported, public threads are (Stack Exchange, Slack channels...).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from pydantic import field_serializer
from pydantic.dataclasses import dataclass as value
from sqlalchemy import select
from sqlalchemy.orm import Session

from router.network.people import ASKAROUND_SOURCE
from router.search.embedding import QUERY_CHARS, Embedder
from router.search.indexing import IndexCache
from router.storage.schema import Evidence, Person

# Cosine between the question and a past thread (its title, tags and answer) above which the
# thread is shown. Chosen on the six shared Stack Exchange sites (``askaround eval reuse``).
DEFAULT_MIN_SIMILARITY = 0.65
SEARCH_DEPTH = 50
EXCERPT_CHARS = 280


@value(frozen=True)
class PastAnswer:
    """A past answer that may already answer the question: who, when, about what, and where."""

    evidence_id: int
    person_id: int
    name: str
    question: str  # the thread's question (title and tags) as imported
    excerpt: str
    link: str | None
    answered_at: datetime
    similarity: float

    @field_serializer("similarity")
    def _rounded(self, similarity: float) -> float:
        return round(similarity, 4)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


class AnswerFinder:
    """Finds reusable past answers with the router's own index and embedder."""

    def __init__(
        self,
        *,
        indexes: IndexCache,
        embedder: Embedder,
        min_similarity: float = DEFAULT_MIN_SIMILARITY,
    ) -> None:
        self.indexes = indexes
        self.embedder = embedder
        self.min_similarity = min_similarity

    def find(
        self,
        session: Session,
        *,
        network_id: int,
        question: str,
        limit: int = 3,
        query: np.ndarray | None = None,
        min_similarity: float | None = None,
    ) -> tuple[PastAnswer, ...]:
        """Up to ``limit`` past answers close to ``question``, best first, one per thread."""
        floor = self.min_similarity if min_similarity is None else min_similarity
        if floor >= 1.0:  # reuse switched off
            return ()
        index = self.indexes.get(session, network_id=network_id)
        vector = self.embedder.encode([question[:QUERY_CHARS]])[0] if query is None else query
        ids, scores = index.vectors.search(vector, SEARCH_DEPTH)
        close = {
            int(i): float(s)
            for i, s in zip(ids.tolist(), scores.tolist(), strict=True)
            if s >= floor
        }
        if not close:
            return ()
        rows = session.execute(
            select(Evidence, Person.display_name)
            .join(Person, Person.id == Evidence.person_id)
            .where(
                Evidence.id.in_(close),
                Evidence.network_id == network_id,
                Evidence.kind == "answer",
                Evidence.source != ASKAROUND_SOURCE,
                Evidence.context != "",
                Person.erased_at.is_(None),
            )
        ).all()
        found: dict[str, PastAnswer] = {}
        for evidence, name in sorted(rows, key=lambda r: -close[r[0].id]):
            thread = evidence.context
            if thread in found:
                continue
            found[thread] = PastAnswer(
                evidence_id=evidence.id,
                person_id=evidence.person_id,
                name=name,
                question=evidence.context.split("\n")[0],
                excerpt=_excerpt(evidence.text),
                link=evidence.link,
                answered_at=evidence.created_at,
                similarity=float(close[evidence.id]),
            )
        return tuple(found.values())[:limit]
