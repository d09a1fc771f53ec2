"""Answering by replying: a reply in the thread of an ask DM is an answer to that ask.

Slack sends the reply as a ``message`` event (``message.im``); the ask is the one whose DM
(``Ask.channel_ref``, kept by ``bots.channel``) is the thread's parent, and only the person asked
can answer it. The event id is recorded in the same transaction as the answer, so Slack's retries
answer once. The answer modal stays, for longer answers.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from bots import messages, outbound
from bots.actions import DONE_NOTES, update
from bots.channel import ref
from bots.runtime import SlackBot
from bots.snapshots import ask_snapshot
from router.errors import AskaroundError
from router.lifecycle import questions
from router.lifecycle.states import AskStatus
from router.storage.schema import Ask

log = logging.getLogger(__name__)


def thread_reply(
    bot: SlackBot, client: WebClient, body: dict[str, Any], event: dict[str, Any]
) -> bool:
    """Answer the ask whose DM this reply is threaded under; True if it was an answer."""
    if event.get("subtype") or event.get("bot_id") or event.get("channel_type") not in (None, "im"):
        return False  # edits, joins, our own messages
    channel, parent = str(event.get("channel") or ""), event.get("thread_ts")
    text = str(event.get("text") or "").strip()
    if not channel or not parent or parent == event.get("ts") or not text:
        return False
    team = str(body.get("team_id") or event.get("team") or "")
    member = bot.member(team_id=team, user_id=str(event.get("user") or ""))
    try:
        with bot.transaction() as session:
            ask_id = session.scalar(
                select(Ask.id).where(
                    Ask.network_id == member.network_id,
                    Ask.channel_ref == ref(channel, str(parent)),
                )
            )
            if ask_id is None:
                return False  # a thread that is not an ask (e.g. a relayed answer)
            if not bot.first_time(session, f"slack-event:{team}:{body.get('event_id') or ''}"):
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
    except AskaroundError as exc:  # someone else's ask, answered already, question closed
        log.info("a thread reply in %s is not an answer: %s", channel, exc)
        return False
    bot.courier.kick()
    note = f"{DONE_NOTES[AskStatus.ANSWERED]} You said:\n{messages.quote(text, 1500)}"
    update(client, channel, str(parent), outbound.ask_done(snapshot.payload, note))
    return True
