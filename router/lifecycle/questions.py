"""A question's life: asked, answered or passed on, marked helpful, closed; escalated or expired.

    open ──answer──▶ answered ──close──▶ closed
      │                 │
      └──── no answer within answer_timeout_hours: tick() asks the next best people
            (up to max_rounds rounds, never anyone already asked) ──▶ ... ──▶ expired
            after question_ttl_days (tick(); the asker is told)

Every state change is a ``QuestionEvent`` row with its time, and every message it causes goes
to the outbox in the same transaction. Each function takes the caller's session (flush, never
commit) and ``now``; the acting person is checked (only the person asked answers, only the asker
closes) and an illegal transition raises ``Conflict``. Repeating a call that already happened
(a double click, a retried request) returns the same result and changes nothing.

Favours (see ``router.ledger.favours``): an answer is a favour of 1.0 from the answerer to the asker;
marking it helpful adds 1.0 and thanking adds 0.25, each its own row and source key.

This module is the public face of the lifecycle; edges import everything from here. Behind it:
``router.lifecycle.answers`` (answer, helpful, thanks), ``router.lifecycle.escalation`` (``tick``),
``router.lifecycle.asks`` (sending asks, events, messages) and ``router.lifecycle.views`` (the values
returned, and the reads that build them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from router.errors import Conflict, InvalidInput, PermissionDenied
from router.ledger.fairness import chosen_policy
from router.lifecycle.answers import answer_ask, check_answer, mark_helpful, thank_answer
from router.lifecycle.asks import (
    Routing,
    ask_for,
    lock_asking,
    open_question,
    record_event,
    send_asks,
    withdraw_pending_asks,
)
from router.lifecycle.escalation import tick
from router.lifecycle.retries import Retry
from router.lifecycle.states import (
    AskStatus,
    QuestionStatus,
    check_ask_move,
    move_ask,
    move_question,
)
from router.lifecycle.views import (
    AnswerView,
    AskedQuestion,
    AskView,
    QuestionHistory,
    QuestionView,
    TickReport,
    ask_view,
    get_question,
    list_questions,
    load_question,
    names_of,
    pending_asks,
    question_history,
    question_views,
)
from router.network.availability import check_snooze
from router.network.people import get_member, get_person_by_id
from router.question_text import question_text
from router.routing.route import FROM_SETTINGS, PolicyChoice, RoutingPolicy
from router.settings import Settings
from router.storage.schema import Ask, Evidence, Question

DECLINE_FACTOR = 0.5  # a decline halves the weight of the evidence that matched
MIN_EVIDENCE_WEIGHT = 0.05

__all__ = [
    "AnswerView",
    "AskView",
    "AskedQuestion",
    "QuestionHistory",
    "QuestionView",
    "Routing",
    "TickReport",
    "answer_ask",
    "ask_question",
    "check_answer",
    "close_question",
    "decline_ask",
    "get_question",
    "list_questions",
    "mark_helpful",
    "pass_ask",
    "pending_asks",
    "question_history",
    "snooze_person",
    "thank_answer",
    "tick",
    "unsnooze_person",
]


def ask_question(
    session: Session,
    *,
    router: Routing,
    settings: Settings,
    network_id: int,
    asker_id: int,
    text: str,
    now: datetime,
    k: int | None = None,
    anonymous: bool = False,
    policy: RoutingPolicy | PolicyChoice | None = FROM_SETTINGS,
    idempotency_key: str | None = None,
) -> AskedQuestion:
    """Store a question, route it, and ask the ``k`` best people (fairness per the settings).

    With an ``idempotency_key`` (see ``router.lifecycle.retries``) the same request again returns
    the question it created (``replayed``) and asks nobody; the key with another request is a
    ``Conflict``. The key is checked again under the ask lock, so concurrent repeats create one.
    """
    retry = None
    if idempotency_key is not None:
        retry = Retry.of(idempotency_key, asker_id=asker_id, text=text, k=k, anonymous=anonymous)
        earlier = retry.earlier(session, network_id=network_id)
        if earlier is not None:
            return earlier
    # held from here, as erasure holds them: forgotten meanwhile, they have no question to keep
    asker = get_member(session, network_id=network_id, person_id=asker_id, lock=True)
    if asker.deactivated:
        raise PermissionDenied("a deactivated person cannot ask")
    text = question_text(text, max_chars=settings.max_question_chars)
    k = settings.default_k if k is None else k
    if not 1 <= k <= settings.max_k:
        raise InvalidInput(f"k must be between 1 and {settings.max_k}")
    now = lock_asking(session, network_id=network_id, now=now)  # budgets spent one at a time
    if retry is not None and (earlier := retry.earlier(session, network_id=network_id)) is not None:
        return earlier  # a request with the same key committed while this one waited
    route = router.route(
        session,
        network_id=network_id,
        question=text,
        asker_id=asker_id,
        k=k,
        now=now,
        exclude=frozenset({asker_id}),
        policy=chosen_policy(policy, settings),
    )
    if route.intent != "ask":  # "who do I know at Acme?" is answered by the directory itself
        raise InvalidInput(
            "that asks who you know, not a question for them: route it to see the people"
        )
    question = Question(
        network_id=network_id,
        asker_id=asker_id,
        text=text,
        anonymous=anonymous,
        k=k,
        status=QuestionStatus.OPEN,
        round=1,
        created_at=now,
        next_escalation_at=now + timedelta(hours=settings.answer_timeout_hours),
        expires_at=now + timedelta(days=settings.question_ttl_days),
        idempotency_key=None if retry is None else retry.key,
        request_hash=None if retry is None else retry.request_hash,
    )
    if retry is None:
        session.add(question)
        session.flush()
    elif (earlier := _store_keyed(session, question=question, retry=retry)) is not None:
        return earlier
    record_event(
        session,
        question=question,
        kind="created",
        now=now,
        actor_id=asker_id,
        detail={
            "k": k,
            "anonymous": anonymous,
            "adjusted": route.adjusted,
            "notes": list(route.notes),
            "ranked_by": route.ranked_by,
        },
    )
    send_asks(session, question=question, candidates=route.candidates, round_number=1, now=now)
    session.flush()
    return AskedQuestion(question=question_views(session, [question])[0], route=route)


def _store_keyed(session: Session, *, question: Question, retry: Retry) -> AskedQuestion | None:
    """Insert a keyed question; if the key's unique index refuses it (a writer that bypassed
    the ask lock stored the key first), the question stored under it instead (or Conflict)."""
    try:
        with session.begin_nested():
            session.add(question)
            session.flush()
    except IntegrityError:
        earlier = retry.earlier(session, network_id=question.network_id)
        if earlier is None:
            raise  # another constraint: not the key's
        return earlier
    return None


def _refuse(
    session: Session,
    *,
    network_id: int,
    ask_id: int,
    person_id: int,
    now: datetime,
    status: AskStatus,
    event: str,
    detail: dict[str, object] | None = None,
) -> tuple[Ask, Question | None]:
    """Move a pending ask to ``passed``/``declined``; a repeat is a no-op (question None)."""
    ask = ask_for(session, network_id=network_id, ask_id=ask_id, person_id=person_id)
    if ask.status == status:
        return ask, None
    check_ask_move(ask, status)  # before waiting for the question's lock
    question = open_question(session, ask)
    move_ask(ask, status)  # checked again: a click or the tick may have moved it meanwhile
    ask.responded_at = now
    record_event(
        session,
        question=question,
        kind=event,
        now=now,
        actor_id=person_id,
        detail={"ask_id": ask.id, **(detail or {})},
    )
    still_waiting = session.scalar(
        select(Ask.id)
        .where(Ask.question_id == question.id, Ask.status == AskStatus.PENDING)
        .limit(1)
    )
    if (
        question.status == QuestionStatus.OPEN
        and still_waiting is None
        and question.next_escalation_at
    ):
        question.next_escalation_at = now  # everyone said no: the next tick asks others
    return ask, question


def pass_ask(
    session: Session, *, network_id: int, ask_id: int, person_id: int, now: datetime
) -> AskView:
    """Say "not now" to an ask; if everyone asked has said no, others are asked at the next tick."""
    ask, _ = _refuse(
        session,
        network_id=network_id,
        ask_id=ask_id,
        person_id=person_id,
        now=now,
        status=AskStatus.PASSED,
        event="passed",
    )
    session.flush()
    return ask_view(ask, names_of(session, [person_id]))


def decline_ask(
    session: Session, *, network_id: int, ask_id: int, person_id: int, now: datetime
) -> AskView:
    """Say "not my area": like a pass, and the evidence that matched weighs half from now on."""
    ask = ask_for(session, network_id=network_id, ask_id=ask_id, person_id=person_id)
    evidence_ids = sorted(
        {
            int(reason["evidence_id"])
            for reason in ask.reasons or []
            if isinstance(reason, dict) and reason.get("evidence_id") is not None
        }
    )
    ask, question = _refuse(
        session,
        network_id=network_id,
        ask_id=ask_id,
        person_id=person_id,
        now=now,
        status=AskStatus.DECLINED,
        event="declined",
        detail={"evidence_lowered": evidence_ids},
    )
    if question is not None and evidence_ids:
        # computed by the database from the row as it is when written: two declines at once
        # both count, and evidence deleted meanwhile is simply not there to lower
        lowered = Evidence.weight * DECLINE_FACTOR
        session.execute(
            update(Evidence)
            .where(
                Evidence.id.in_(evidence_ids),
                Evidence.person_id == person_id,
                Evidence.network_id == network_id,
            )
            .values(
                weight=case((lowered < MIN_EVIDENCE_WEIGHT, MIN_EVIDENCE_WEIGHT), else_=lowered)
            )
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return ask_view(ask, names_of(session, [person_id]))


def snooze_person(
    session: Session,
    *,
    network_id: int,
    person_id: int,
    until: datetime,
    now: datetime,
    ask_id: int | None = None,
) -> datetime:
    """Stop asking a person until ``until``; given an ask, that ask is passed too."""
    person = get_person_by_id(session, network_id=network_id, person_id=person_id)
    check_snooze(until, now=now)
    if ask_id is not None:
        _refuse(
            session,
            network_id=network_id,
            ask_id=ask_id,
            person_id=person_id,
            now=now,
            status=AskStatus.PASSED,
            event="snoozed",
            detail={"until": until.isoformat()},
        )
    person.snoozed_until = until
    session.flush()
    return until


def unsnooze_person(session: Session, *, network_id: int, person_id: int) -> None:
    """Make a snoozed person available again."""
    get_person_by_id(session, network_id=network_id, person_id=person_id).snoozed_until = None
    session.flush()


def close_question(
    session: Session, *, network_id: int, question_id: int, person_id: int, now: datetime
) -> QuestionView:
    """The asker closes a question; people still asked are told it no longer needs them."""
    question = load_question(session, network_id=network_id, question_id=question_id, lock=True)
    if question.asker_id != person_id:
        raise PermissionDenied("only the asker can close a question")
    if question.status == QuestionStatus.EXPIRED:
        raise Conflict(f"question #{question.id} has expired")
    if question.status != QuestionStatus.CLOSED:
        move_question(question, QuestionStatus.CLOSED)
        question.closed_at = now
        question.next_escalation_at = None
        withdrawn = withdraw_pending_asks(session, question=question, now=now, reason="closed")
        record_event(
            session,
            question=question,
            kind="closed",
            now=now,
            actor_id=person_id,
            detail={"withdrawn_asks": [ask.id for ask in withdrawn]},
        )
        session.flush()
    return question_views(session, [question])[0]
