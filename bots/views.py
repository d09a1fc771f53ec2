"""The answer modal: submitting it answers the ask through the core, before the ack.

Answering is quick (no routing), so it runs before the ack and a problem (an empty answer, a
question closed meanwhile) is shown in the modal itself. After the ack (the HTTP response has
gone) the ask DM is updated in place and the courier is kicked to relay the answer. When the
database is busy (an import holds SQLite's write lock) the answer does not wait past
``ANSWER_WAIT``: it goes to the bot's inbox, the modal closes, and it is given right after.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.exc import OperationalError

from bots import messages, outbound
from bots.actions import DONE_NOTES, update
from bots.inbox import carried_out_by
from bots.runtime import Member, SlackBot
from bots.snapshots import ask_snapshot
from router.errors import AskaroundError
from router.lifecycle import questions
from router.lifecycle.states import AskStatus

log = logging.getLogger(__name__)

ANSWER_KIND = "slack_answer"
ANSWER_WAIT = 1.5  # seconds an answer may wait for a busy database before it is queued


def submitted_text(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(messages.ANSWER_BLOCK) or {}).get(messages.ANSWER_INPUT) or {}
    return str(field.get("value") or "").strip()


def register(app: App, bot: SlackBot) -> None:
    """The answer modal's submission."""

    def answer(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        text = submitted_text(view)
        if not text:
            ack(response_action="errors", errors={messages.ANSWER_BLOCK: "Write an answer first."})
            return
        if len(text) > messages.MAX_ANSWER_CHARS:
            ack(
                response_action="errors",
                errors={
                    messages.ANSWER_BLOCK: f"At most {messages.MAX_ANSWER_CHARS} characters, please."
                },
            )
            return
        metadata = str(view.get("private_metadata") or "")
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        try:
            ask_id, _, _ = messages.parse_modal_metadata(metadata)
            member = bot.member(team_id=team, user_id=str(user.get("id") or ""))
            first = _answer(bot, member, ask_id, text, wait=ANSWER_WAIT)
        except (AskaroundError, ValueError) as exc:
            ack(response_action="errors", errors={messages.ANSWER_BLOCK: str(exc)[:150]})
            return
        except OperationalError:
            # The database is busy (an import): the answer is recorded and given after the ack,
            # rather than keeping the modal spinning past Slack's 3 seconds.
            key = f"slack-answer:{team}:{view.get('id') or ask_id}:{member.person_id}"
            payload = {"team_id": team, "user_id": user.get("id"), "text": text}
            if bot.inbox.record(key=key, kind=ANSWER_KIND, payload={**payload, "view": metadata}):
                bot.routing.submit(carry_out_answer, bot, key)
            ack()
            return
        ack()  # the modal closes; what follows runs after the response
        bot.courier.kick()
        if first:  # not a second submission: the answer and the DM update happen once
            _answered(bot, client, member, ask_id, metadata, text)

    app.view(messages.ANSWER_MODAL)(answer)


def _answer(bot: SlackBot, member: Member, ask_id: int, text: str, *, wait: float | None) -> bool:
    """Answer the ask through the core; False if this ask was answered from Slack before."""
    with bot.database.transaction(wait=wait) as session:
        first = bot.first_time(session, f"slack-answered:{ask_id}")
        questions.answer_ask(
            session,
            network_id=member.network_id,
            ask_id=ask_id,
            person_id=member.person_id,
            text=text,
            now=bot.now(),
        )
    return first


def _answered(
    bot: SlackBot, client: WebClient, member: Member, ask_id: int, metadata: str, text: str
) -> None:
    """After an answer: relay it (the courier) and show it in the ask DM in place."""
    bot.courier.kick()
    _, channel, ts = messages.parse_modal_metadata(metadata)
    with bot.transaction() as session:
        snapshot = ask_snapshot(session, network_id=member.network_id, ask_id=ask_id)
    note = f"{DONE_NOTES[AskStatus.ANSWERED]} You said:\n{messages.quote(text, 1500)}"
    update(client, channel, ts, outbound.ask_done(snapshot.payload, note))


@carried_out_by(ANSWER_KIND)
def carry_out_answer(bot: SlackBot, key: str) -> bool:
    """Give an answer acknowledged while the database was busy; True if this call gave it."""
    try:
        bot.inbox.drain()
        payload = bot.inbox.payload(key)
    except Exception:
        log.exception("reading acknowledged answer %s failed; the replay job retries it", key)
        return False
    if payload is None:
        return False
    team, metadata, text = str(payload["team_id"]), str(payload["view"]), str(payload["text"])
    try:
        ask_id, _, _ = messages.parse_modal_metadata(metadata)
        member = bot.member(team_id=team, user_id=str(payload.get("user_id") or ""))
        with bot.transaction() as session:
            request = bot.inbox.claim(session, key)
            if request is None:
                return False
            first = bot.first_time(session, f"slack-answered:{ask_id}")
            questions.answer_ask(
                session,
                network_id=member.network_id,
                ask_id=ask_id,
                person_id=member.person_id,
                text=text,
                now=bot.now(),
            )
            bot.inbox.done(request)
    except AskaroundError as exc:
        log.warning("answer %s could not be given: %s", key, exc)
        bot.inbox.failed(key, str(exc), final=True)
        return False
    except Exception as exc:
        log.exception("answer %s failed", key)
        bot.inbox.failed(key, f"{type(exc).__name__}: {exc}")
        return False
    if first:
        _answered(bot, bot.clients.for_team(team), member, ask_id, metadata, text)
    return True
