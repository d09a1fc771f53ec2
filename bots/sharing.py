"""Share to channel: the asker posts an answered question in a channel, the answer in its thread.

The "Share to channel" button on a relayed answer opens a small modal with a channel picker; on
submit the question is posted (without the asker's name if they asked anonymously) and the answer
goes in its thread, so the knowledge is findable. The core then records the shared answer as
public evidence for whoever answered (``router.lifecycle.sharing``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bots import messages
from bots.actions import _clicked, _member
from bots.clients import SLACK_FAILURES, respond
from bots.runtime import Member, SlackBot
from router.errors import AskaroundError
from router.lifecycle.sharing import SharedAnswer, record_shared_answer, shareable_answer

log = logging.getLogger(__name__)

SHARE_MODAL = "askaround_share_modal"
SHARE_BLOCK = "channel"
SHARE_INPUT = "picked"


def register(app: App, bot: SlackBot) -> None:
    """The Share to channel button and its modal."""

    def _ack(ack: Ack) -> None:
        ack()

    def open_picker(body: dict[str, Any], client: WebClient) -> None:
        _open_picker(bot, body, client)

    def submitted(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        _submitted(bot, ack, body, view, client)

    app.action(messages.SHARE)(ack=_ack, lazy=[open_picker])
    app.view(SHARE_MODAL)(submitted)


def share_modal(*, answer_id: int, question: str) -> dict[str, Any]:
    """The modal: which channel to share the question and its answer in."""
    return {
        "type": "modal",
        "callback_id": SHARE_MODAL,
        "private_metadata": str(answer_id),
        "title": {"type": "plain_text", "text": "Share to channel"},
        "submit": {"type": "plain_text", "text": "Share"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            messages.section(messages.quote(question, 1500)),
            {
                "type": "input",
                "block_id": SHARE_BLOCK,
                "label": {"type": "plain_text", "text": "Channel"},
                "element": {
                    "type": "conversations_select",
                    "action_id": SHARE_INPUT,
                    "filter": {"include": ["public", "private"], "exclude_bot_users": True},
                },
            },
            messages.context("The question and this answer are posted there for everyone to find."),
        ],
    }


def _open_picker(bot: SlackBot, body: dict[str, Any], client: WebClient) -> None:
    url = body.get("response_url")
    try:
        answer_id, _, _ = _clicked(body)
        member = _member(bot, body)
        with bot.transaction() as session:
            shared = shareable_answer(
                session,
                network_id=member.network_id,
                answer_id=answer_id,
                person_id=member.person_id,
            )
    except AskaroundError as exc:
        respond(url, messages.error_message(str(exc)))
        return
    try:
        client.views_open(
            trigger_id=body["trigger_id"],
            view=share_modal(answer_id=shared.answer_id, question=shared.question),
        )
    except SLACK_FAILURES as exc:
        log.warning("views.open for sharing failed: %s", exc)
        respond(url, messages.error_message("Slack could not open the form; please try again."))


def picked_channel(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(SHARE_BLOCK) or {}).get(SHARE_INPUT) or {}
    return str(field.get("selected_conversation") or "")


def _submitted(
    bot: SlackBot, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
) -> None:
    channel = picked_channel(view)
    metadata = str(view.get("private_metadata") or "")
    if not channel:
        ack(response_action="errors", errors={SHARE_BLOCK: "Pick a channel first."})
        return
    answer_id = messages.parse_id(metadata)
    if answer_id is None:
        ack(response_action="errors", errors={SHARE_BLOCK: "This form is out of date."})
        return
    user = body.get("user") or {}
    team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
    try:
        member = bot.member(team_id=team, user_id=str(user.get("id") or ""))
        with bot.transaction() as session:
            shared = shareable_answer(
                session,
                network_id=member.network_id,
                answer_id=answer_id,
                person_id=member.person_id,
            )
            first = bot.first_time(session, f"slack-share:{view.get('id') or answer_id}:{channel}")
    except AskaroundError as exc:
        ack(response_action="errors", errors={SHARE_BLOCK: str(exc)[:150]})
        return
    ack()  # the modal closes; the posts follow after the response
    if first:
        _share(bot, client, member, shared, channel)


def shared_question(shared: SharedAnswer) -> messages.Message:
    """The channel message: the question, by its asker's name unless they asked anonymously."""
    who = f"*{messages.escape(shared.asker)}* asked" if shared.asker else "Someone asked"
    text = f"{who} via Askaround:\n{messages.quote(shared.question, 2000)}"
    return {
        "text": messages.escape(
            f"{shared.asker or 'Someone'} asked: {messages.clip(shared.question, 200)}"
        ),
        "blocks": [
            messages.section(text),
            messages.context("The answer is in the thread. Shared by the asker from Askaround."),
        ],
    }


def shared_answer(shared: SharedAnswer) -> messages.Message:
    """The thread reply: who answered, and what."""
    name = messages.escape(shared.answerer)
    return {
        "text": messages.escape(f"{shared.answerer} answered: {messages.clip(shared.answer, 200)}"),
        "blocks": [messages.section(f"*{name}* answered:\n{messages.escape(shared.answer)}")],
    }


def _share(
    bot: SlackBot, client: WebClient, member: Member, shared: SharedAnswer, channel: str
) -> None:
    """Post the question, then the answer in its thread, then record the public evidence."""
    try:
        posted = client.chat_postMessage(channel=channel, **shared_question(shared))
        ts = str(posted.get("ts") or "")
        client.chat_postMessage(channel=channel, thread_ts=ts, **shared_answer(shared))
    except SLACK_FAILURES as exc:
        log.warning("sharing answer %s to %s failed: %s", shared.answer_id, channel, exc)
        with contextlib.suppress(*SLACK_FAILURES):
            client.chat_postMessage(
                channel=member.user_id,
                text=f"I could not post in <#{channel}> ({exc}); invite me there and share again.",
            )
        return
    link = f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"
    with bot.transaction() as session:
        record_shared_answer(
            session,
            network_id=member.network_id,
            answer_id=shared.answer_id,
            person_id=member.person_id,
            link=link,
            now=bot.now(),
        )
