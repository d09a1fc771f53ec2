"""The asker's persistent receipt: one DM per question showing its status, updated in place.

When someone asks with ``/ask`` a ``receipt`` message goes into the outbox in the same
transaction as the question, so it survives a crash like the asks do. It is rendered when it is
sent, from the question as it stands then (who was asked and how each ask ended, answers so far,
escalation rounds, open or closed), and the channel keeps where it went in the outbox row's
result. Whenever something about the question changes (an ask delivered, an answer relayed, a
pass, an escalation, a close) ``refresh`` re-renders it and updates it with ``chat.update``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bots import workspace
from bots.clients import SLACK_FAILURES, SlackClients
from bots.messages import (
    CLOSE_FROM_RECEIPT,
    Message,
    actions,
    button,
    context,
    escape,
    quote,
    section,
    when,
)
from router.delivery.outbox import enqueue
from router.errors import NotFound
from router.lifecycle.views import QuestionView, load_question, question_views
from router.storage.database import Database
from router.storage.schema import OutboxMessage, Person

log = logging.getLogger(__name__)

RECEIPT = "receipt"  # the outbox kind

ASK_STATES = {
    "pending": "waiting",
    "answered": "answered",
    "passed": "passed",
    "declined": "not their area",
    "expired": "no longer needed",
}
QUESTION_STATES = {
    "open": "Open: waiting for answers.",
    "answered": "Answered: more answers may still come; close it when you have what you need.",
    "closed": "Closed.",
    "expired": "Expired.",
}


def key(question_id: int) -> str:
    return f"receipt:{question_id}"


def enqueue_receipt(
    session: Session, *, network_id: int, question_id: int, asker_id: int, now: datetime
) -> None:
    """Queue the asker's receipt DM, in the caller's transaction (with the question)."""
    enqueue(
        session,
        network_id=network_id,
        recipient_id=asker_id,
        kind=RECEIPT,
        payload={"question_id": question_id},
        idempotency_key=key(question_id),
        now=now,
    )


def receipt_message(question: QuestionView, slack_ids: dict[int, str]) -> Message:
    """The receipt for the question as it stands."""
    status = QUESTION_STATES.get(question.status, question.status)
    lines = []
    for ask in question.asks:
        slack_id = slack_ids.get(ask.person_id)
        who = f"<@{slack_id}>" if slack_id else f"*{escape(ask.person_name)}*"
        lines.append(f"• {who}: {ASK_STATES.get(ask.status, ask.status)}")
    answers = len(question.answers)
    facts = [f"{answers} answer{'s' * (answers != 1)} so far"]
    if question.round > 1:
        facts.append(f"asked more people {question.round - 1}×")
    if question.status == "open" and question.next_escalation_at is not None:
        facts.append(
            f"if nobody answers, more people are asked {when(question.next_escalation_at)}"
        )
    asked = "\n".join(lines) if lines else "Nobody asked yet."
    anonymous = " (anonymously)" if question.anonymous else ""
    text = f"Your question{anonymous}: {status}"
    blocks = [
        section(f"*Your question*{anonymous}\n{quote(question.text, 1500)}"),
        section(f"*{status}*\n{asked}"),
        context(" · ".join(facts)),
    ]
    if question.status in ("open", "answered"):  # the asker may close it from here too
        blocks.append(
            actions(
                button("Close question", CLOSE_FROM_RECEIPT, str(question.id)), block_id="receipt"
            )
        )
    return {"text": text, "blocks": blocks}


def current(session: Session, *, network_id: int, question_id: int) -> Message:
    """The receipt rendered from the database."""
    question = load_question(session, network_id=network_id, question_id=question_id)
    (view,) = question_views(session, [question])
    ids = {ask.person_id for ask in view.asks}
    slack_ids: dict[int, str] = {}
    for person in session.scalars(select(Person).where(Person.id.in_(ids))):
        slack_id = workspace.slack_user_id(person)
        if slack_id:
            slack_ids[person.id] = slack_id
    return receipt_message(view, slack_ids)


def refresh(
    database: Database, clients: SlackClients, *, network_id: int, question_id: int
) -> bool:
    """Update a sent receipt to the question's current status; False if there is none to update."""
    with database.transaction() as session:
        row = session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key(question_id))
        )
        result = (row.result or {}) if row is not None and row.status == "sent" else {}
        channel, ts = result.get("channel"), result.get("ts")
        if not isinstance(channel, str) or not isinstance(ts, str):
            return False  # not sent yet: it shows the current status when it is
        try:
            message = current(session, network_id=network_id, question_id=question_id)
        except NotFound:
            return False
        team_id = workspace.team_of(session, network_id=network_id)
    try:
        clients.for_team(team_id).chat_update(
            channel=channel, ts=ts, text=message["text"], blocks=message["blocks"]
        )
    except SLACK_FAILURES as exc:
        log.warning("updating the receipt of question %s failed: %s", question_id, exc)
        return False
    return True
