"""Sharing an answered question to a channel: the asker makes a private exchange public.

The shared answer becomes public evidence for whoever answered (source ``askaround-shared``,
quoted in later routes, unlike the private ``askaround`` answers). An anonymous asker stays
anonymous: the shared question carries no asker name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from router.lifecycle.answers import _asker_answer
from router.lifecycle.asks import record_event
from router.lifecycle.views import names_of
from router.network.people import add_evidence
from router.storage.schema import Answer, Question

SHARED_SOURCE = "askaround-shared"  # a Q&A the asker posted in a channel: public, may be quoted


@dataclass(frozen=True)
class SharedAnswer:
    """What a shared question shows: the question, who asked (None if anonymous), the answer."""

    answer_id: int
    question: str
    asker: str | None
    answerer: str
    answer: str


def shareable_answer(
    session: Session, *, network_id: int, answer_id: int, person_id: int
) -> SharedAnswer:
    """The Q&A the asker may share (only the asker may); raises before anything is posted."""
    answer, question = _asker_answer(
        session, network_id=network_id, answer_id=answer_id, person_id=person_id
    )
    return _shared(session, answer, question)


def _shared(session: Session, answer: Answer, question: Question) -> SharedAnswer:
    names = names_of(session, [question.asker_id, answer.person_id])
    return SharedAnswer(
        answer_id=answer.id,
        question=question.text,
        asker=None if question.anonymous else names.get(question.asker_id),
        answerer=names.get(answer.person_id) or "Someone",
        answer=answer.text,
    )


def record_shared_answer(
    session: Session,
    *,
    network_id: int,
    answer_id: int,
    person_id: int,
    link: str | None,
    now: datetime,
) -> SharedAnswer:
    """Record that the asker shared an answer: public evidence for the answerer, once per answer."""
    answer, question = _asker_answer(
        session, network_id=network_id, answer_id=answer_id, person_id=person_id
    )
    add_evidence(
        session,
        network_id=network_id,
        person_id=answer.person_id,
        kind="answer",
        text=answer.text,
        context=question.text,
        source=SHARED_SOURCE,
        source_key=f"askaround:shared:{answer.id}",
        link=link,
        created_at=now,
    )
    record_event(
        session,
        question=question,
        kind="shared",
        now=now,
        actor_id=person_id,
        detail={"answer_id": answer.id, "link": link},
    )
    session.flush()
    return _shared(session, answer, question)
