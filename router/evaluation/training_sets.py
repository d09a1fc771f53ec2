"""Ranking examples from a Stack Exchange dump: every question before the cutoff with answers.

The records are the answers before the cutoff, searched by exactly the text the importer stores
(``evidence_document`` of the answer and its question's title and tags), so their vectors are the
ones the replay already embedded. Each question is asked with its title and body, as routing is.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from router.evaluation.cases import question_text
from router.importers.stackexchange import (
    MAX_TEXT_CHARS,
    Post,
    is_person,
    question_context,
    read_posts,
    strip_html,
)
from router.progress import Progress, silent
from router.routing.router import EMBED_CHARS
from router.routing.timeline import Record, Timeline
from router.routing.training import Examples, Favours, PastQuestion, question_examples
from router.search.backfill import evidence_document
from router.search.embedding import Embedder


def site_examples(
    folder: Path, *, cutoff: datetime, embedder: Embedder, progress: Progress = silent
) -> Examples:
    """One ranking example per question asked and answered before ``cutoff``."""
    timeline, past, favours = site_history(
        folder, cutoff=cutoff, embedder=embedder, progress=progress
    )
    return question_examples(
        timeline, past, favours=favours, source=folder.resolve().name, progress=progress
    )


def site_history(
    folder: Path, *, cutoff: datetime, embedder: Embedder, progress: Progress = silent
) -> tuple[Timeline, list[PastQuestion], Favours]:
    """The answers before ``cutoff`` as a timeline, the questions they answered, who helped whom."""
    questions: dict[int, Post] = {}
    answers: list[Post] = []
    for post in read_posts(folder):
        if post.created_at >= cutoff:
            continue
        if post.is_question:
            questions[post.id] = post
        elif is_person(post.owner_id) and post.parent_id in questions:
            answers.append(post)
    kept: list[tuple[Post, str]] = []
    for answer in answers:
        text = strip_html(answer.body, limit=MAX_TEXT_CHARS)
        if text:
            question = questions[answer.parent_id or 0]
            kept.append((answer, evidence_document("answer", text, question_context(question))))
    vectors = embedder.encode([document for _, document in kept], progress=progress)
    records = [
        Record(person=a.owner_id or 0, at=a.created_at.timestamp(), document=d, vector=vectors[i])
        for i, (a, d) in enumerate(kept)
    ]
    answerers: dict[int, set[int]] = {}
    favours: list[tuple[int, int, float]] = []
    for answer, _ in kept:
        question = questions[answer.parent_id or 0]
        asker = question.owner_id if is_person(question.owner_id) else None
        if answer.owner_id != asker:
            answerers.setdefault(question.id, set()).add(answer.owner_id or 0)
            if asker is not None:
                favours.append((answer.owner_id or 0, asker, answer.created_at.timestamp()))
    asked = [questions[qid] for qid in sorted(answerers)]
    texts = [question_text(q).strip()[:EMBED_CHARS] for q in asked]
    question_vectors = embedder.encode(texts, progress=progress)
    past = [
        PastQuestion(
            text=question_text(q),
            vector=question_vectors[i],
            asker=q.owner_id if is_person(q.owner_id) else None,
            asked_at=q.created_at.timestamp(),
            answerers=frozenset(answerers[q.id]),
        )
        for i, q in enumerate(asked)
    ]
    return Timeline(records), past, Favours(favours)
