"""``/ask forget-me``: a confirmation first, then the erasure (the core's ``erase_person``).

The command shows what will go and two buttons; only "Forget me" erases, and only the member
who clicks it. A second click, or a member Askaround never knew, is told there is nothing left.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from askaround.forgetting import forget_person
from bots import messages, workspace
from bots.clients import respond
from bots.runtime import SlackBot

log = logging.getLogger(__name__)

COMMAND = "/ask"
WORDS = ("forget-me", "forget me", "forgetme")
CONFIRM = "forget_me_confirm"
CANCEL = "forget_me_cancel"
WARNING = (
    "*Forget you?* This removes what Askaround knows about you: your past answers and interests, "
    "your profile and Slack id, and the text of your questions and answers. The favours you gave "
    'and received stay on others\' ledgers as "a former member", so their balances do not change. '
    "This cannot be undone."
)
NOTHING = "Askaround holds nothing about you in this workspace."
DONE = "Done: Askaround has forgotten you. If you `/ask` again, you start afresh."


def is_forget_me(body: dict[str, Any]) -> bool:
    """True for ``/ask forget-me`` (any case, surrounding spaces ignored)."""
    return " ".join(str(body.get("text") or "").lower().split()) in WORDS


def confirmation() -> dict[str, Any]:
    """The ephemeral question with the two buttons."""
    return {
        "text": WARNING,
        "blocks": [
            messages.section(WARNING),
            messages.actions(
                messages.button("Forget me", CONFIRM, "forget", style="danger"),
                messages.button("Cancel", CANCEL, "cancel"),
                block_id="forget_me",
            ),
        ],
    }


def register(app: App, bot: SlackBot) -> None:
    """The ``/ask forget-me`` command and its two buttons (registered before ``/ask`` itself)."""

    def ack_command(ack: Ack) -> None:
        ack(**confirmation(), response_type="ephemeral")

    app.command(COMMAND, matchers=[is_forget_me])(ack_command)

    def ack_button(ack: Ack) -> None:
        ack()

    def confirmed(body: dict[str, Any]) -> None:
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        url = body.get("response_url")
        user_id = str(user.get("id") or "")
        try:
            with bot.transaction() as session:
                found = workspace.find_team_member(session, team_id=team, user_id=user_id)
                if found is None:
                    reply = messages.plain(NOTHING)
                else:
                    network_id, person = found
                    forget_person(
                        session,
                        services=bot.services,
                        network_id=network_id,
                        person_id=person.id,
                        now=bot.now(),
                    )  # their requests still waiting in the inbox end with it (bots.edge)
                    reply = messages.plain(DONE)
        except Exception:
            log.exception("forget-me failed")
            reply = messages.error_message("Something went wrong; nothing was erased.")
        respond(url, reply, replace=True)

    def cancelled(body: dict[str, Any]) -> None:
        respond(body.get("response_url"), messages.plain("Nothing was erased."), replace=True)

    app.action(CONFIRM)(ack=ack_button, lazy=[confirmed])
    app.action(CANCEL)(ack=ack_button, lazy=[cancelled])
