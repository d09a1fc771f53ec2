"""Sending asks and recording a question's events: shared by question creation and escalation.

An ask is stored with the score and reasons that picked the person, an ``asked`` event, and an
outbox message (``ask:<ask id>``) in the same transaction, so it is delivered exactly when it
exists. Payloads are render-ready data for any channel: who it is for (name and external ids,
so Slack can find its user), the question, and "asked because ...".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.delivery.outbox import enqueue
from router.errors import Conflict, NotFound, PermissionDenied
from router.lifecycle.states import FINISHED_QUESTION, AskStatus, move_ask
from router.lifecycle.views import load_question
from router.network.people import address
from router.routing.route import Candidate, Route, RoutingPolicy
from router.storage.row_locks import hold_row
from router.storage.schema import Ask, Network, Person, Question, QuestionEvent


class Routing(Protocol):
    """What the lifecycle needs from the router (``router.routing.router.Router`` satisfies it)."""

    def route(
        self,
        session: Session,
        *,
        network_id: int,
        question: str,
        asker_id: int | None,
        k: int,
        now: datetime,
        exclude: frozenset[int] = frozenset(),
        policy: RoutingPolicy | None = None,
    ) -> Route: ...


def lock_asking(session: Session, *, network_id: int, now: datetime) -> datetime:
    """Hold the network's ask lock until the caller's transaction ends; the time to ask at.

    Choosing people reads how often each was asked (budget, rest) and recording the asks writes
    it: two questions routed at once would both spend the last of someone's budget. Under this
    lock the choices of one network are made one question at a time, and what routing reads
    next is what the previous question committed (``hold_row``).

    Routing counts the asks made up to its ``now``, but a request that read its clock first may
    take the lock second: the asks committed meanwhile are stamped after its ``now``, and it
    asked the same people again, past their budget. So the time returned is ``now`` or, when
    later, the newest ask's: asks are stamped in the order they are made, and each question
    sees every ask before it.
    """
    hold_row(session, Network.id, network_id, unchanged=Network.weekly_ask_budget)
    newest = session.scalar(
        select(Ask.created_at).where(Ask.network_id == network_id).order_by(Ask.id.desc()).limit(1)
    )
    return now if newest is None or newest <= now else newest


def record_event(
    session: Session,
    *,
    question: Question,
    kind: str,
    now: datetime,
    actor_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> QuestionEvent:
    """Append one state change to a question's history."""
    event = QuestionEvent(
        network_id=question.network_id,
        question_id=question.id,
        kind=kind,
        actor_id=actor_id,
        detail=detail or {},
        at=now,
    )
    session.add(event)
    return event


def notify(
    session: Session,
    *,
    question: Question,
    recipient_id: int,
    kind: str,
    key: str,
    now: datetime,
    **fields: Any,
) -> None:
    """Enqueue a message about ``question`` for one person, under idempotency key ``key``."""
    enqueue(
        session,
        network_id=question.network_id,
        recipient_id=recipient_id,
        kind=kind,
        payload={
            "to": address(session, recipient_id),
            "question_id": question.id,
            "question": question.text,
            **fields,
        },
        idempotency_key=key,
        now=now,
    )


def send_asks(
    session: Session,
    *,
    question: Question,
    candidates: tuple[Candidate, ...],
    round_number: int,
    now: datetime,
) -> list[Ask]:
    """Create an ask, an ``asked`` event and an outbox message for each candidate."""
    asker = session.get(Person, question.asker_id)
    asker_name = None if question.anonymous or asker is None else asker.display_name
    asks = []
    for candidate in candidates:
        ask = Ask(
            network_id=question.network_id,
            question_id=question.id,
            person_id=candidate.person_id,
            round=round_number,
            status=AskStatus.PENDING,
            score=float(candidate.score),
            reasons=[reason.as_dict() for reason in candidate.reasons],
            created_at=now,
        )
        session.add(ask)
        session.flush()
        record_event(
            session,
            question=question,
            kind="asked",
            now=now,
            detail={
                "ask_id": ask.id,
                "person_id": candidate.person_id,
                "round": round_number,
                "because": candidate.because(),
            },
        )
        notify(
            session,
            question=question,
            recipient_id=candidate.person_id,
            kind="ask",
            key=f"ask:{ask.id}",
            now=now,
            ask_id=ask.id,
            asker=asker_name,
            because=candidate.because(),
            reasons=[reason.as_dict() for reason in candidate.reasons],
            round=round_number,
            expires_at=question.expires_at.isoformat(),
        )
        asks.append(ask)
    return asks


def withdraw_pending_asks(
    session: Session, *, question: Question, now: datetime, reason: str
) -> list[Ask]:
    """Mark a finished question's unanswered asks expired and tell those people (``closed:<id>``)."""
    pending = session.scalars(
        select(Ask)
        .where(Ask.question_id == question.id, Ask.status == AskStatus.PENDING)
        .order_by(Ask.id)
    ).all()
    for ask in pending:
        move_ask(ask, AskStatus.EXPIRED)
        notify(
            session,
            question=question,
            recipient_id=ask.person_id,
            kind="closed",
            key=f"closed:{ask.id}",
            now=now,
            ask_id=ask.id,
            reason=reason,
        )
    return list(pending)


def asked_people(session: Session, *, question_id: int) -> set[int]:
    """Everyone already asked this question, whatever they did: never ask them again."""
    return set(session.scalars(select(Ask.person_id).where(Ask.question_id == question_id)))


def ask_for(session: Session, *, network_id: int, ask_id: int, person_id: int) -> Ask:
    """The ask, checked to be in this network and addressed to the acting person."""
    ask = session.get(Ask, ask_id)
    if ask is None or ask.network_id != network_id:
        raise NotFound(f"no ask #{ask_id} in this network")
    if ask.person_id != person_id:
        raise PermissionDenied("only the person asked can respond to this ask")
    return ask


def open_question(session: Session, ask: Ask) -> Question:
    """The ask's question, locked for the change to come, or Conflict if closed or expired."""
    question = load_question(
        session, network_id=ask.network_id, question_id=ask.question_id, lock=True
    )
    session.refresh(ask)  # what a concurrent tick or click did before the lock was ours
    if question.status in FINISHED_QUESTION:
        raise Conflict(f"question #{question.id} is {question.status}")
    return question
