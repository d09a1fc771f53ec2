"""Answers: given to an ask and delivered to the asker; marked helpful or thanked by the asker.

Each is a favour on the ledger (an answer 1.0, helpful +1.0, thanks +0.25, each its own source
key) and a message in the outbox, in the caller's transaction. Repeats change nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from router.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from router.ledger.favours import record_favour
from router.lifecycle.asks import ask_for, notify, open_question, record_event
from router.lifecycle.states import (
    FINISHED_QUESTION,
    AskStatus,
    QuestionStatus,
    check_ask_move,
    move_ask,
    move_question,
)
from router.lifecycle.views import AnswerView, answer_view, load_question, names_of
from router.network.people import ASKAROUND_SOURCE, add_evidence, get_member, record_tie
from router.storage.idempotency import insert_once
from router.storage.schema import Answer, Question
from router.storage.text import storable

MAX_ANSWER_CHARS = 20_000


def answer_text(text: str) -> str:
    """The answer as it is stored, or InvalidInput: unstorable, empty or too long."""
    text = storable(text.strip(), what="the answer")
    if not text:
        raise InvalidInput("the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidInput(f"the answer is {len(text)} characters; the limit is {MAX_ANSWER_CHARS}")
    return text


def _check_same_text(stored: Answer, text: str) -> None:
    """Conflict when ``text`` is not the answer already stored for its ask (a retry is)."""
    if answer_text(text) != stored.text:
        raise Conflict(
            f"ask #{stored.ask_id} is already answered (answer #{stored.id}) with other "
            "text; an answer cannot be replaced: send the same text to retry, or follow up"
        )


def check_answer(
    session: Session,
    *,
    network_id: int,
    ask_id: int,
    person_id: int,
    text: str,
    refuse_other_text: bool = False,
) -> bool:
    """Whether ``answer_ask`` would store this answer, found by reading only (no lock, no write),
    so an edge can refuse at once what it would refuse and carry out the rest later; False when
    the ask is answered already (nothing left to do). Raises what ``answer_ask`` would."""
    ask = ask_for(session, network_id=network_id, ask_id=ask_id, person_id=person_id)
    existing = session.scalar(select(Answer).where(Answer.ask_id == ask.id))
    if existing is not None:
        if refuse_other_text:
            _check_same_text(existing, text)
        return False
    question = session.get(Question, ask.question_id)
    assert question is not None
    if question.status in FINISHED_QUESTION:
        raise Conflict(f"question #{question.id} is {question.status}")
    check_ask_move(ask, AskStatus.ANSWERED)
    answer_text(text)
    return True


def answer_ask(
    session: Session,
    *,
    network_id: int,
    ask_id: int,
    person_id: int,
    text: str,
    now: datetime,
    refuse_other_text: bool = False,
) -> AnswerView:
    """Answer an ask: store it, record the favour, and deliver the answer to the asker.

    An ask has one answer: a repeat returns the stored one and changes nothing. With
    ``refuse_other_text`` a repeat whose text differs is a Conflict instead (the API: the new
    words would be dropped without a word); Slack keeps the first answer quietly."""
    ask = ask_for(session, network_id=network_id, ask_id=ask_id, person_id=person_id)
    # the author held before the question, as erasure holds them: an erasure waits for this
    # answer and then forgets its text too, or comes first and the answer is refused
    get_member(session, network_id=network_id, person_id=person_id, lock=True)
    existing = session.scalar(select(Answer).where(Answer.ask_id == ask.id))
    if existing is not None:
        if refuse_other_text:
            _check_same_text(existing, text)
        return answer_view(existing, names_of(session, [existing.person_id]))
    question = open_question(session, ask)
    text = answer_text(text)
    inserted = insert_once(
        session,
        model=Answer,
        values={
            "network_id": network_id,
            "question_id": question.id,
            "ask_id": ask.id,
            "person_id": person_id,
            "text": text,
            "helpful": False,
            "thanked": False,
            "created_at": now,
        },
        unique=("ask_id",),
    )
    answer = session.scalar(select(Answer).where(Answer.ask_id == ask.id))
    assert answer is not None
    names = names_of(session, [person_id])
    if not inserted:  # a concurrent duplicate won the race: it did everything below
        if refuse_other_text:
            _check_same_text(answer, text)
        return answer_view(answer, names)
    move_ask(ask, AskStatus.ANSWERED)
    ask.responded_at = now
    if question.status == QuestionStatus.OPEN:
        move_question(question, QuestionStatus.ANSWERED)
        question.next_escalation_at = None
    record_event(
        session,
        question=question,
        kind="answered",
        now=now,
        actor_id=person_id,
        detail={"ask_id": ask.id, "answer_id": answer.id},
    )
    record_favour(
        session,
        network_id=network_id,
        giver_id=person_id,
        taker_id=question.asker_id,
        kind="answer",
        source_key=f"answer:{answer.id}",
        now=now,
        answer_id=answer.id,
    )
    record_tie(
        session, network_id=network_id, helper_id=person_id, helped_id=question.asker_id, at=now
    )
    add_evidence(  # what they answered here is evidence of what they know, for later questions
        session,
        network_id=network_id,
        person_id=person_id,
        kind="answer",
        text=text,
        context=question.text,
        source=ASKAROUND_SOURCE,
        source_key=f"askaround:answer:{answer.id}",
        created_at=now,
    )
    notify(
        session,
        question=question,
        recipient_id=question.asker_id,
        kind="answer",
        key=f"answer:{answer.id}",
        now=now,
        answer_id=answer.id,
        answerer=names.get(person_id),
        answer=text,
    )
    session.flush()
    return answer_view(answer, names)


def _asker_answer(
    session: Session, *, network_id: int, answer_id: int, person_id: int
) -> tuple[Answer, Question]:
    answer = session.get(Answer, answer_id)
    if answer is None or answer.network_id != network_id:
        raise NotFound(f"no answer #{answer_id} in this network")
    question = load_question(session, network_id=network_id, question_id=answer.question_id)
    if question.asker_id != person_id:
        raise PermissionDenied("only the asker can do that")
    return answer, question


def _credit(
    session: Session, *, network_id: int, answer_id: int, person_id: int, now: datetime, kind: str
) -> AnswerView:
    """Mark an answer helpful or thanked: a flag, an event, a favour and a note to the answerer."""
    answer, question = _asker_answer(
        session, network_id=network_id, answer_id=answer_id, person_id=person_id
    )
    flag = "helpful" if kind == "helpful" else "thanked"
    names = names_of(session, [answer.person_id])
    if getattr(answer, flag):
        return answer_view(answer, names)
    # The flag flips only if no concurrent call flipped it first; the loser does nothing.
    flipped = session.execute(
        update(Answer)
        .where(Answer.id == answer.id, getattr(Answer, flag).is_(False))
        .values({flag: True})
        .execution_options(synchronize_session=False)
    )
    session.refresh(answer)
    if flipped.rowcount != 1:  # type: ignore[attr-defined]
        return answer_view(answer, names)
    record_event(
        session,
        question=question,
        kind=kind,
        now=now,
        actor_id=person_id,
        detail={"answer_id": answer.id},
    )
    record_favour(
        session,
        network_id=network_id,
        giver_id=answer.person_id,
        taker_id=question.asker_id,
        kind=kind,
        source_key=f"{kind}:{answer.id}",
        now=now,
        answer_id=answer.id,
    )
    notify(
        session,
        question=question,
        recipient_id=answer.person_id,
        kind=kind,
        key=f"{kind}:{answer.id}",
        now=now,
        answer_id=answer.id,
        asker=None if question.anonymous else names_of(session, [person_id]).get(person_id),
    )
    session.flush()
    return answer_view(answer, names)


def mark_helpful(
    session: Session, *, network_id: int, answer_id: int, person_id: int, now: datetime
) -> AnswerView:
    """The asker marks an answer helpful: +1.0 favour to the answerer, who is told."""
    return _credit(
        session,
        network_id=network_id,
        answer_id=answer_id,
        person_id=person_id,
        now=now,
        kind="helpful",
    )


def thank_answer(
    session: Session, *, network_id: int, answer_id: int, person_id: int, now: datetime
) -> AnswerView:
    """The asker thanks the answerer: +0.25 favour, and a thank-you message to them."""
    return _credit(
        session,
        network_id=network_id,
        answer_id=answer_id,
        person_id=person_id,
        now=now,
        kind="thanks",
    )
