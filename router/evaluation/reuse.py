"""Measuring answer reuse on a Stack Exchange site: found when it exists, quiet when it does not.

The whole site is imported (every answer is a past answer someone could reuse). Two sets of
questions are then put to the ``AnswerFinder`` in their own words (the question's body, without
the title the index holds as the thread's context):

- *answered*: questions with an accepted answer. Found = the accepted answer's thread is among
  the top suggestions shown.
- *unanswered*: questions nobody answered. Any suggestion shown for one is a false show: the
  site really had no answer to it.

Figures are printed for several similarity floors, so the floor can be chosen knowingly.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from router.importers.stackexchange import import_stackexchange, read_posts, strip_html
from router.network.people import ensure_network
from router.progress import Progress, silent
from router.routing.reuse import AnswerFinder
from router.search.backfill import embed_pending
from router.search.embedding import Embedder
from router.search.indexing import IndexCache
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence

FLOORS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
TOP = 3


@dataclass(frozen=True)
class FloorFigures:
    """At one similarity floor: how often the thread was found, and how often anything showed."""

    floor: float
    found: float  # answered questions whose accepted thread is among the top suggestions
    shown_answered: float  # answered questions shown any suggestion
    shown_unanswered: float  # unanswered questions shown a suggestion anyway (false shows)


@dataclass(frozen=True)
class ReuseEvaluation:
    site: str
    answered: int
    unanswered: int
    floors: tuple[FloorFigures, ...]
    seconds: float

    def table(self) -> str:
        lines = [
            f"{self.site}: {self.answered} questions with an accepted answer, "
            f"{self.unanswered} with no answer; top {TOP} suggestions",
            f"{'floor':>6}{'found':>8}{'shown':>8}{'false shown':>13}",
        ]
        for f in self.floors:
            lines.append(
                f"{f.floor:>6.2f}{f.found:>8.3f}{f.shown_answered:>8.3f}{f.shown_unanswered:>13.3f}"
            )
        return "\n".join(lines)


def evaluate_reuse(
    *,
    folder: Path,
    database: Database,
    settings: Settings,
    embedder: Embedder,
    floors: Sequence[float] = FLOORS,
    limit: int | None = None,
    progress: Progress = silent,
) -> ReuseEvaluation:
    """Import ``folder`` whole, then score suggestions for its answered and unanswered questions."""
    started = time.perf_counter()
    posts = list(read_posts(folder))
    questions = {p.id: p for p in posts if p.is_question}
    answered_ids = {p.parent_id for p in posts if not p.is_question}
    now = max(p.created_at for p in posts)
    with database.transaction() as session:
        network_id = ensure_network(session, name=f"reuse-{folder.resolve().name}", now=now).id
        import_stackexchange(session, network_id=network_id, folder=folder, now=now)
    with database.transaction() as session:
        embed_pending(session, network_id=network_id, embedder=embedder, progress=progress)
        keys = dict(
            session.execute(
                select(Evidence.id, Evidence.source_key).where(Evidence.network_id == network_id)
            ).all()
        )
    parent_of = {p.id: p.parent_id for p in posts if not p.is_question}
    thread_of = {
        eid: parent_of.get(int(key.rsplit(":", 1)[1]))
        for eid, key in keys.items()
        if key and key.startswith("se:answer:")
    }
    indexed_answers = {int(k.rsplit(":", 1)[1]) for k in keys.values() if k and "answer" in k}
    answered = [q for q in questions.values() if q.accepted_answer_id in indexed_answers][:limit]
    unanswered = [q for q in questions.values() if q.id not in answered_ids][:limit]
    finder = AnswerFinder(
        indexes=IndexCache(database=database, embedder=embedder, settings=settings),
        embedder=embedder,
    )
    lowest = min(floors)

    texts = [
        strip_html(q.body or q.title, limit=settings.max_question_chars) or q.title
        for q in [*answered, *unanswered]
    ]
    progress("embedding questions", 0, len(texts))
    vectors = embedder.encode(texts)  # one batch: the questions are many, the model is slow
    progress("embedding questions", len(texts), len(texts))

    def suggestions(n: int) -> list[tuple[float, int | None]]:
        with database.transaction() as session:
            found = finder.find(
                session,
                network_id=network_id,
                question=texts[n],
                query=vectors[n],
                limit=50,
                min_similarity=lowest,
            )
        return [(a.similarity, thread_of.get(a.evidence_id)) for a in found]

    total = len(texts)
    results_answered = []
    for n, q in enumerate(answered):
        results_answered.append((q.id, suggestions(n)))
        progress("suggesting", n + 1, total)
    results_unanswered = []
    for n in range(len(answered), total):
        results_unanswered.append(suggestions(n))
        progress("suggesting", n + 1, total)

    def share(hits: int, of: int) -> float:
        return hits / of if of else 0.0

    figures = []
    for floor in floors:
        found = shown = 0
        for qid, got in results_answered:
            top = [thread for sim, thread in got if sim >= floor][:TOP]
            shown += bool(top)
            found += qid in top
        false = sum(any(sim >= floor for sim, _ in got) for got in results_unanswered)
        figures.append(
            FloorFigures(
                floor=floor,
                found=share(found, len(answered)),
                shown_answered=share(shown, len(answered)),
                shown_unanswered=share(false, len(unanswered)),
            )
        )
    return ReuseEvaluation(
        site=folder.resolve().name,
        answered=len(answered),
        unanswered=len(unanswered),
        floors=tuple(figures),
        seconds=time.perf_counter() - started,
    )
