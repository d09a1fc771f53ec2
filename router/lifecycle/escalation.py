"""Time moving on for questions: ``tick`` escalates unanswered questions and expires old ones.

Run it every few minutes (``askaround tick``, or the bot's scheduler). A question nobody has
answered within ``answer_timeout_hours`` (or that everyone asked has passed on) goes to the next
best people: a new round, routed with everyone already asked excluded, up to ``max_rounds``.
A question older than ``question_ttl_days`` expires: its pending asks are withdrawn and the
asker is told. Due questions are locked with ``SKIP LOCKED`` on PostgreSQL so two ticks at once
never escalate the same question twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from router.ledger.fairness import chosen_policy
from router.lifecycle.asks import (
    Routing,
    asked_people,
    lock_asking,
    notify,
    record_event,
    send_asks,
    withdraw_pending_asks,
)
from router.lifecycle.states import LIVE_QUESTION, QuestionStatus, move_question
from router.lifecycle.views import TickReport
from router.routing.route import FROM_SETTINGS, PolicyChoice, RoutingPolicy
from router.settings import Settings
from router.storage.schema import Answer, Question

TICK_BATCH = 100


def _due(session: Session, query: Select[Question], limit: int) -> list[Question]:
    """Lock and load due questions, skipping ones another tick holds."""
    statement = query.order_by(Question.id).limit(limit).with_for_update(skip_locked=True)
    return list(session.scalars(statement))


def expire_questions(
    session: Session, *, now: datetime, network_id: int | None = None, limit: int = TICK_BATCH
) -> list[int]:
    """Expire questions past their time: withdraw their asks and tell each asker."""
    query = select(Question).where(Question.status.in_(LIVE_QUESTION), Question.expires_at <= now)
    if network_id is not None:
        query = query.where(Question.network_id == network_id)
    expired = []
    for question in _due(session, query, limit):
        move_question(question, QuestionStatus.EXPIRED)
        question.closed_at = now
        question.next_escalation_at = None
        withdrawn = withdraw_pending_asks(session, question=question, now=now, reason="expired")
        answers = int(
            session.scalar(select(func.count(Answer.id)).where(Answer.question_id == question.id))
            or 0
        )
        record_event(
            session,
            question=question,
            kind="expired",
            now=now,
            detail={"withdrawn_asks": [ask.id for ask in withdrawn], "answers": answers},
        )
        notify(
            session,
            question=question,
            recipient_id=question.asker_id,
            kind="expired",
            key=f"expired:{question.id}",
            now=now,
            answers=answers,
        )
        expired.append(question.id)
    session.flush()
    return expired


def escalate_questions(
    session: Session,
    *,
    router: Routing,
    settings: Settings,
    now: datetime,
    network_id: int | None = None,
    policy: RoutingPolicy | PolicyChoice | None = FROM_SETTINGS,
    limit: int = TICK_BATCH,
) -> tuple[list[int], int]:
    """Ask the next best people for every unanswered question whose round has timed out."""
    query = select(Question).where(
        Question.status == QuestionStatus.OPEN,
        Question.next_escalation_at.is_not(None),
        Question.next_escalation_at <= now,
        Question.expires_at > now,
    )
    if network_id is not None:
        query = query.where(Question.network_id == network_id)
    chosen = chosen_policy(policy, settings)
    escalated, sent = [], 0
    for question in _due(session, query, limit):
        question.next_escalation_at = None
        if question.round >= settings.max_rounds:
            record_event(
                session,
                question=question,
                kind="rounds_exhausted",
                now=now,
                detail={"rounds": question.round},
            )
            continue
        at = lock_asking(session, network_id=question.network_id, now=now)
        route = router.route(
            session,
            network_id=question.network_id,
            question=question.text,
            asker_id=question.asker_id,
            k=question.k,
            now=at,
            exclude=frozenset(asked_people(session, question_id=question.id) | {question.asker_id}),
            policy=chosen,
        )
        if not route.candidates:
            record_event(
                session,
                question=question,
                kind="nobody_left",
                now=at,
                detail={"round": question.round, "notes": list(route.notes)},
            )
            continue
        question.round += 1
        question.next_escalation_at = at + timedelta(hours=settings.answer_timeout_hours)
        asks = send_asks(
            session,
            question=question,
            candidates=route.candidates,
            round_number=question.round,
            now=at,
        )
        record_event(
            session,
            question=question,
            kind="escalated",
            now=at,
            detail={
                "round": question.round,
                "asked": [ask.person_id for ask in asks],
                "adjusted": route.adjusted,
            },
        )
        notify(
            session,
            question=question,
            recipient_id=question.asker_id,
            kind="escalated",
            key=f"escalated:{question.id}:{question.round}",
            now=at,
            round=question.round,
            asked=[candidate.name for candidate in route.candidates],
        )
        escalated.append(question.id)
        sent += len(asks)
    session.flush()
    return escalated, sent


def tick(
    session: Session,
    *,
    router: Routing,
    settings: Settings,
    now: datetime,
    network_id: int | None = None,
    policy: RoutingPolicy | PolicyChoice | None = FROM_SETTINGS,
) -> TickReport:
    """Expire questions past their time, then escalate the ones that waited too long."""
    expired = expire_questions(session, now=now, network_id=network_id)
    escalated, sent = escalate_questions(
        session, router=router, settings=settings, now=now, network_id=network_id, policy=policy
    )
    return TickReport(escalated=tuple(escalated), expired=tuple(expired), asks_sent=sent)
