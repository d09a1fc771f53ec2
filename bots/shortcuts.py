"""Ask from any message: the message shortcut "Ask Askaround about this".

Whoever uses the shortcut, the question is the message's author's: they get an ephemeral
confirm in the channel (Ask it · Ask anonymously · No thanks) and only their click asks it,
through the same path as ``/ask`` (recorded before the ack, asked once, replayed after a crash).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bots import commands, messages
from bots.clients import SLACK_FAILURES, respond
from bots.runtime import SlackBot
from router.errors import InvalidInput
from router.question_text import question_text

log = logging.getLogger(__name__)

SHORTCUT = "askaround_ask_about"
ASK_IT = "askaround_consent_ask"
ASK_ANONYMOUSLY = "askaround_consent_anon"
NO_THANKS = "askaround_consent_no"
MAX_OFFERED = 1900  # a button's value holds the question (Slack allows 2000 characters)


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, bot: SlackBot) -> None:
    """The message shortcut and the author's consent buttons."""

    def offer(body: dict[str, Any], client: WebClient) -> None:
        _offer(bot, body, client)

    app.shortcut(SHORTCUT)(ack=_ack, lazy=[offer])

    def on_consent(anonymous: bool) -> Callable[..., None]:
        def run(body: dict[str, Any]) -> None:
            _consent(bot, body, anonymous=anonymous)

        run.__name__ = f"consent_{'anon' if anonymous else 'named'}"
        return run

    app.action(ASK_IT)(ack=_ack, lazy=[on_consent(False)])
    app.action(ASK_ANONYMOUSLY)(ack=_ack, lazy=[on_consent(True)])

    def no_thanks(body: dict[str, Any]) -> None:
        respond(body.get("response_url"), messages.plain("OK: nothing was asked."), replace=True)

    app.action(NO_THANKS)(ack=_ack, lazy=[no_thanks])


def _offer(bot: SlackBot, body: dict[str, Any], client: WebClient) -> None:
    message = body.get("message") or {}
    author = str(message.get("user") or "")
    invoker = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or "")
    url = body.get("response_url")
    try:
        text = question_text(str(message.get("text") or ""), max_chars=MAX_OFFERED)
    except InvalidInput:
        respond(url, messages.error_message("That message has no question I could ask."))
        return
    if not author or not channel:
        respond(url, messages.error_message("Only a person's message can be asked about."))
        return
    by = "You" if invoker == author else f"<@{invoker}>"
    value = json.dumps({"text": text})
    try:
        client.chat_postEphemeral(
            channel=channel,
            user=author,
            text=f"{by} suggested asking Askaround this. Ask it on your behalf?",
            blocks=[
                messages.section(
                    f"{by} suggested asking Askaround this, on your behalf:\n"
                    f"{messages.quote(text, 1500)}"
                ),
                messages.actions(
                    messages.button("Ask it", ASK_IT, value, style="primary"),
                    messages.button("Ask anonymously", ASK_ANONYMOUSLY, value),
                    messages.button("No thanks", NO_THANKS, "no"),
                    block_id="consent",
                ),
            ],
        )
    except SLACK_FAILURES as exc:
        log.warning("chat.postEphemeral for the shortcut failed: %s", exc)
        respond(url, messages.error_message("Slack could not show the question; try again."))
        return
    if invoker != author:
        respond(
            url, messages.plain(f"I asked <@{author}> whether to ask it: it is their question.")
        )


def _consent(bot: SlackBot, body: dict[str, Any], *, anonymous: bool) -> None:
    """The author said yes: asked as if they had typed ``/ask`` (``/ask anon``)."""
    action = (body.get("actions") or [{}])[0]
    try:
        text = str(json.loads(str(action.get("value") or "{}")).get("text") or "")
    except ValueError:
        return
    user = body.get("user") or {}
    team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
    command = {
        "team_id": team,
        "user_id": user.get("id"),
        "user_name": user.get("name"),
        "channel_id": (body.get("channel") or {}).get("id"),
        "text": f"anon {text}" if anonymous else text,
        "response_url": body.get("response_url"),
        "trigger_id": body.get("trigger_id") or action.get("action_ts"),
    }
    key = commands.request_key(command)
    if bot.inbox.record(key=key, kind=commands.COMMAND_KIND, payload=command):
        bot.routing.submit(commands.carry_out_request, bot, key)  # routing has its own pool
