"""An ask or an answer as it stands now, in the shape of the outbox payloads that showed it.

Buttons update their message in place; these rebuild what the message showed (question, asker,
reasons; answer and answerer) plus the current status, so the update matches the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from router.errors import NotFound
from router.ledger import privacy
from router.storage.schema import Answer, Ask, Person, Question


@dataclass(frozen=True)
class AskSnapshot:
    ask_id: int
    person_id: int
    status: str  # the ask's: pending | answered | passed | declined | expired
    question_status: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AnswerSnapshot:
    answer_id: int
    asker_id: int
    helpful: bool
    thanked: bool
    payload: dict[str, Any]


def _name(session: Session, person_id: int) -> str:
    person = session.get(Person, person_id)
    return person.display_name if person else f"#{person_id}"


def favours_line(
    session: Session, *, network_id: int, person_id: int, asker_id: int, anonymous: bool
) -> str | None:
    """The favours between an asked person and the asker, from the asked person's side."""
    if anonymous or person_id == asker_id:
        return None
    pair = privacy.visible_pair_balance(
        session, network_id=network_id, person_id=person_id, other_id=asker_id
    )
    if not (pair.gave_count or pair.got_count):
        return None
    name = _name(session, asker_id)
    return (
        f"Between you: {name} has answered you {pair.got_count}×, "
        f"you have answered {name} {pair.gave_count}×."
    )


def ask_snapshot(session: Session, *, network_id: int, ask_id: int) -> AskSnapshot:
    ask = session.get(Ask, ask_id)
    if ask is None or ask.network_id != network_id:
        raise NotFound(f"no ask #{ask_id} in this network")
    question = session.get(Question, ask.question_id)
    assert question is not None
    return AskSnapshot(
        ask_id=ask.id,
        person_id=ask.person_id,
        status=ask.status,
        question_status=question.status,
        payload={
            "ask_id": ask.id,
            "question_id": question.id,
            "question": question.text,
            "asker": None if question.anonymous else _name(session, question.asker_id),
            "reasons": list(ask.reasons or []),
            "favours": favours_line(
                session,
                network_id=network_id,
                person_id=ask.person_id,
                asker_id=question.asker_id,
                anonymous=question.anonymous,
            ),
        },
    )


def answer_snapshot(session: Session, *, network_id: int, answer_id: int) -> AnswerSnapshot:
    answer = session.get(Answer, answer_id)
    if answer is None or answer.network_id != network_id:
        raise NotFound(f"no answer #{answer_id} in this network")
    question = session.get(Question, answer.question_id)
    assert question is not None
    return AnswerSnapshot(
        answer_id=answer.id,
        asker_id=question.asker_id,
        helpful=answer.helpful,
        thanked=answer.thanked,
        payload={
            "answer_id": answer.id,
            "question_id": question.id,
            "question": question.text,
            "answerer": _name(session, answer.person_id),
            "answer": answer.text,
        },
    )
