"""The answer modal: submitting it answers the ask through the core, before the ack.

Answering is quick (no routing), so it runs before the ack and a problem (an empty answer, a
question closed meanwhile) is shown in the modal itself. After the ack (the HTTP response has
gone) the ask DM is updated in place and the courier is kicked to relay the answer.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bots import messages, outbound
from bots.actions import DONE_NOTES, update
from bots.runtime import SlackBot
from bots.snapshots import ask_snapshot
from router.errors import AskaroundError
from router.lifecycle import questions
from router.lifecycle.states import AskStatus

log = logging.getLogger(__name__)


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
        try:
            ask_id, _, _ = messages.parse_modal_metadata(str(view.get("private_metadata") or ""))
            user = body.get("user") or {}
            team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
            member = bot.member(team_id=team, user_id=str(user.get("id") or ""))
            with bot.transaction() as session:
                first = bot.first_time(session, f"slack-answered:{ask_id}")
                questions.answer_ask(
                    session,
                    network_id=member.network_id,
                    ask_id=ask_id,
                    person_id=member.person_id,
                    text=text,
                    now=bot.now(),
                )
        except (AskaroundError, ValueError) as exc:
            ack(response_action="errors", errors={messages.ANSWER_BLOCK: str(exc)[:150]})
            return
        ack()  # the modal closes; what follows runs after the response
        bot.courier.kick()
        if not first:
            return  # a second submission: the answer and the DM update happened once
        _, channel, ts = messages.parse_modal_metadata(str(view.get("private_metadata") or ""))
        with bot.transaction() as session:
            snapshot = ask_snapshot(session, network_id=member.network_id, ask_id=ask_id)
        note = f"{DONE_NOTES[AskStatus.ANSWERED]} You said:\n{messages.quote(text, 1500)}"
        update(client, channel, ts, outbound.ask_done(snapshot.payload, note))

    app.view(messages.ANSWER_MODAL)(answer)
