"""Answering by replying: a reply in the thread of an ask DM is an answer to that ask.

Slack sends the reply as a ``message`` event (``message.im``); the ask is the one whose DM
(``Ask.channel_ref``, kept by ``bots.channel``) is the thread's parent, and only the person asked
can answer it. The event id is recorded in the same transaction as the answer, so Slack's retries
answer once. The answer modal stays, for longer answers. Once answered, the thread carries
follow-ups both ways: the answerer's replies reach the asker, the asker's replies under the
relayed answer reach whoever answered (``followup`` messages through the outbox).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bots import messages, outbound
from bots.actions import DONE_NOTES, update
from bots.channel import ref
from bots.outbound import FOLLOWUP
from bots.runtime import Member, SlackBot
from bots.snapshots import ask_snapshot
from bots.subcommands import typed_text
from router.delivery.outbox import enqueue
from router.errors import AskaroundError
from router.lifecycle import questions
from router.lifecycle.states import AskStatus
from router.storage.schema import Ask, Person, Question
from router.storage.text import scrubbed

log = logging.getLogger(__name__)


def thread_reply(
    bot: SlackBot, client: WebClient, body: dict[str, Any], event: dict[str, Any]
) -> bool:
    """Answer the ask whose DM this reply is threaded under; True if it was an answer."""
    if event.get("subtype") or event.get("bot_id") or event.get("channel_type") not in (None, "im"):
        return False  # edits, joins, our own messages
    channel, parent = str(event.get("channel") or ""), event.get("thread_ts")
    # As typed, less what no database stores: refusing it would drop the answer without a word.
    text = scrubbed(typed_text(str(event.get("text") or ""))).strip()
    if not channel or not parent or parent == event.get("ts") or not text:
        return False
    team = str(body.get("team_id") or event.get("team") or "")
    member = bot.member(team_id=team, user_id=str(event.get("user") or ""))
    event_key = f"slack-event:{team}:{body.get('event_id') or ''}"
    where = ref(channel, str(parent))
    try:
        with bot.transaction() as session:
            ask = session.scalar(
                select(Ask).where(Ask.network_id == member.network_id, Ask.channel_ref == where)
            )
            if ask is None or ask.status == "answered":
                followed = _follow_up(bot, session, member, ask, where, text, event_key)
            else:
                followed = None
                ask_id = ask.id
        if followed is not None:
            if followed:
                bot.courier.kick()  # after the commit, so the courier finds the follow-up
            return False
        with bot.transaction() as session:
            if not bot.first_time(session, event_key):
                return False  # Slack's retry of an event already handled
            questions.answer_ask(
                session,
                network_id=member.network_id,
                ask_id=ask_id,
                person_id=member.person_id,
                text=text[: messages.MAX_ANSWER_CHARS],
                now=bot.now(),
            )
            bot.first_time(session, f"slack-answered:{ask_id}")
            snapshot = ask_snapshot(session, network_id=member.network_id, ask_id=ask_id)
    except AskaroundError as exc:  # someone else's ask, the question closed
        log.info("a thread reply in %s is not an answer: %s", channel, exc)
        return False
    bot.courier.kick()
    note = f"{DONE_NOTES[AskStatus.ANSWERED]} You said:\n{messages.quote(text, 1500)}"
    update(client, channel, str(parent), outbound.ask_done(snapshot.payload, note))
    return True


def _follow_up(
    bot: SlackBot,
    session: Session,
    member: Member,
    ask: Ask | None,
    where: str,
    text: str,
    event_key: str,
) -> bool:
    """Relay a reply in an answered thread to the other side; False if it is no such thread.

    The person who answered replies under their ask DM: it goes to the asker, in the thread of
    their question. The asker replies under the relayed answers: it goes to everyone who
    answered, under their ask DM. An anonymous asker stays anonymous.
    """
    if ask is not None:
        if ask.person_id != member.person_id:
            return False
        question = session.get(Question, ask.question_id)
        assert question is not None
        recipients: list[tuple[int, int | None]] = [(question.asker_id, None)]
        sender = messages_name(session, member.person_id)
    else:
        question = session.scalar(
            select(Question).where(
                Question.network_id == member.network_id,
                Question.channel_ref == where,
                Question.asker_id == member.person_id,
            )
        )
        if question is None:
            return False
        answered = session.execute(
            select(Ask.person_id, Ask.id).where(
                Ask.question_id == question.id, Ask.status == "answered"
            )
        ).tuples()
        recipients = [(int(person_id), int(ask_id)) for person_id, ask_id in answered]
        sender = (
            "The person who asked"
            if question.anonymous
            else messages_name(session, member.person_id)
        )
    if not recipients or not bot.first_time(session, event_key):
        return False
    for recipient_id, ask_id in recipients:
        enqueue(
            session,
            network_id=question.network_id,
            recipient_id=recipient_id,
            kind=FOLLOWUP,
            payload={
                "question_id": question.id,
                "question": question.text,
                "sender": sender,
                "text": text[: messages.MAX_ANSWER_CHARS],
                **({"ask_id": ask_id} if ask_id is not None else {}),
            },
            idempotency_key=f"followup:{event_key[:150]}:{recipient_id}",
            now=bot.now(),
        )
    return True


def messages_name(session: Session, person_id: int) -> str:
    person = session.get(Person, person_id)
    return person.display_name if person else "Someone"
