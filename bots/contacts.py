"""``/ask who do I know at Acme?``: answered at once from the network's contacts, nobody asked."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bots import messages, workspace
from bots.runtime import SlackBot
from bots.subcommands import typed_text
from router.question_text import visible
from router.routing.contacts import contacts_route, detect
from router.routing.route import Route

COMMAND = "/ask"
SHOWN = 15


def is_contacts_question(body: dict[str, Any]) -> bool:
    """True when the ``/ask`` text asks who the member knows at a company."""
    return detect(asked_text(body)) is not None


def asked_text(body: dict[str, Any]) -> str:
    r"""The ``/ask`` text cleaned as the core cleans a question (zero-width characters gone, so
    "\ufeffwho do I know at Acme?" is recognised and "Acme\u200b" is shown as "Acme")."""
    return visible(typed_text(str(body.get("text") or "")))


def contacts_reply(route: Route) -> dict[str, Any]:
    """The people at the company and how you know them, as an ephemeral message."""
    lines = [f"*{messages.escape(route.notes[0])}*" if route.notes else "*Who you know*"]
    for candidate in route.candidates[:SHOWN]:
        how = "; ".join(reason.text for reason in candidate.reasons)
        lines.append(f"• *{messages.escape(candidate.name)}*: {messages.escape(how)}")
    if len(route.candidates) > SHOWN:
        lines.append(f"…and {len(route.candidates) - SHOWN} more.")
    text = "\n".join(lines)
    return {"text": text, "blocks": [messages.section(text)]}


def register(app: App, bot: SlackBot) -> None:
    """The contacts question (registered before ``/ask`` itself, which would ask people)."""

    def answer(ack: Ack, command: dict[str, Any]) -> None:
        text = asked_text(command)
        asked = detect(text)
        assert asked is not None  # the matcher let it through
        with bot.transaction() as session:
            network = workspace.find_team_network(
                session, team_id=str(command.get("team_id") or "")
            )
            if network is None:
                ack(
                    **messages.plain("This workspace has no contacts yet."),
                    response_type="ephemeral",
                )
                return
            asker = workspace.find_member(
                session, network_id=network.id, user_id=str(command.get("user_id") or "")
            )
            route = contacts_route(
                session,
                network_id=network.id,
                text=text,
                asked=asked,
                k=SHOWN,
                exclude=frozenset({asker.id}) if asker is not None else frozenset(),
            )
        ack(**contacts_reply(route), response_type="ephemeral")

    app.command(COMMAND, matchers=[is_contacts_question])(answer)
