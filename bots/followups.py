"""What the asker does with a relayed answer (or the receipt) besides crediting it: close the question, or open a
group DM with the person who answered ("Connect us") to follow up in their own words.

Closing goes through the core (only the asker can), which withdraws the asks still waiting: the
others' ask DMs turn into "Answered, thanks" in place when the courier delivers that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bots import messages, outbound, receipts
from bots.actions import _clicked, _member, update
from bots.clients import SLACK_FAILURES, respond
from bots.runtime import SlackBot
from bots.snapshots import answer_snapshot
from router.errors import AskaroundError, PermissionDenied
from router.lifecycle import questions
from router.storage.schema import Answer

log = logging.getLogger(__name__)


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, bot: SlackBot) -> None:
    """The Close question and Connect us buttons on a relayed answer."""

    def on(handler: Callable[[SlackBot, dict[str, Any], WebClient], None]) -> Callable[..., None]:
        def run(body: dict[str, Any], client: WebClient) -> None:
            try:
                handler(bot, body, client)
            except AskaroundError as exc:
                respond(body.get("response_url"), messages.error_message(str(exc)))

        run.__name__ = handler.__name__
        return run

    app.action(messages.CLOSE)(ack=_ack, lazy=[on(close)])
    app.action(messages.CLOSE_FROM_RECEIPT)(ack=_ack, lazy=[on(close_from_receipt)])
    app.action(messages.CONNECT)(ack=_ack, lazy=[on(connect)])


def close(bot: SlackBot, body: dict[str, Any], client: WebClient) -> None:
    """The asker closes the question from an answer; the answer's message says so."""
    answer_id, channel, ts = _clicked(body)
    member = _member(bot, body)
    with bot.transaction() as session:
        snapshot = answer_snapshot(session, network_id=member.network_id, answer_id=answer_id)
        answer = session.get(Answer, answer_id)
        assert answer is not None
        question_id = answer.question_id
        questions.close_question(
            session,
            network_id=member.network_id,
            question_id=answer.question_id,
            person_id=member.person_id,
            now=bot.now(),
        )
    message = outbound.answer_update(
        snapshot.payload, helpful=snapshot.helpful, thanked=snapshot.thanked, closed=True
    )
    update(client, channel, ts, message)
    receipts.refresh(
        bot.channel.database,
        bot.clients,
        network_id=member.network_id,
        question_id=question_id,
    )
    bot.courier.kick()  # the others' ask DMs: "Answered, thanks"


def close_from_receipt(bot: SlackBot, body: dict[str, Any], client: WebClient) -> None:
    """The asker closes the question from its receipt DM; the receipt is redrawn as closed."""
    question_id, _, _ = _clicked(body)
    member = _member(bot, body)
    with bot.transaction() as session:
        questions.close_question(
            session,
            network_id=member.network_id,
            question_id=question_id,
            person_id=member.person_id,
            now=bot.now(),
        )
    receipts.refresh(
        bot.channel.database,
        bot.clients,
        network_id=member.network_id,
        question_id=question_id,
    )
    bot.courier.kick()  # the others' ask DMs: "Answered, thanks" / no longer needed


def connect(bot: SlackBot, body: dict[str, Any], client: WebClient) -> None:
    """Open a group DM of the asker and the answerer, introduced by the question and answer."""
    answer_id, _, _ = _clicked(body)
    member = _member(bot, body)
    with bot.transaction() as session:
        snapshot = answer_snapshot(session, network_id=member.network_id, answer_id=answer_id)
        answer = session.get(Answer, answer_id)
        assert answer is not None
        if snapshot.asker_id != member.person_id:
            raise PermissionDenied("only the person who asked can connect with who answered")
        ids = bot.slack_ids(session, [answer.person_id])
    answerer = ids.get(answer.person_id)
    if answerer is None:
        raise PermissionDenied("the person who answered is not on Slack")
    asker = member.user_id
    try:
        opened = client.conversations_open(users=f"{asker},{answerer}")
        group = str((opened.get("channel") or {}).get("id") or "")
        question = messages.quote(str(snapshot.payload["question"]), 500)
        client.chat_postMessage(
            channel=group,
            text=f"<@{asker}> would like to follow up with <@{answerer}> on their question.",
            blocks=[
                messages.section(
                    f"<@{asker}> would like to follow up with <@{answerer}> about:\n{question}"
                ),
                messages.context("Askaround started this conversation; it reads nothing here."),
            ],
        )
    except SLACK_FAILURES as exc:
        log.warning("Connect us for answer %s failed: %s", answer_id, exc)
        respond(
            body.get("response_url"),
            messages.error_message("Slack could not open the conversation; please try again."),
        )
