"""``/ask``: acknowledged at once (Slack allows 3 seconds), the work done after, the reply ephemeral.

The ack function only parses: help and mistakes are answered in the ack itself, everything else
is acknowledged empty (a question with "Finding the right people..."). The lazy function then
applies the sub-command, or hands the question to the bot's routing pool, and the reply goes
through the ``response_url``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App

from bots import messages
from bots.clients import respond
from bots.runtime import Member, SlackBot
from bots.subcommands import (
    AskCommand,
    AskQuestion,
    Budget,
    Interests,
    SetOptOut,
    ShowBalance,
    ShowHelp,
    Snooze,
    parse_ask,
)
from router.errors import AskaroundError, InvalidInput
from router.ledger import privacy
from router.lifecycle import questions
from router.network import preferences
from router.search.indexing import embed_pending
from router.storage.schema import Person

log = logging.getLogger(__name__)

COMMAND = "/ask"
WORKING = "Finding the right people to ask…"


def register(app: App, bot: SlackBot) -> None:
    """The ``/ask`` command."""

    def parse(command: dict[str, Any]) -> AskCommand:
        return parse_ask(str(command.get("text") or ""), max_chars=bot.settings.max_question_chars)

    def ack_ask(ack: Ack, command: dict[str, Any]) -> None:
        try:
            parsed = parse(command)
        except InvalidInput as exc:
            ack(**messages.error_message(str(exc)), response_type="ephemeral")
            return
        if isinstance(parsed, ShowHelp):
            ack(**messages.help_message(), response_type="ephemeral")
        elif isinstance(parsed, AskQuestion):
            ack(text=WORKING, response_type="ephemeral")
        else:
            ack()

    def run_ask(command: dict[str, Any]) -> None:
        try:
            parsed = parse(command)
        except InvalidInput:
            return  # answered in the ack
        if isinstance(parsed, ShowHelp):
            return
        if isinstance(parsed, AskQuestion):
            # Routing is CPU-bound: it queues on the bot's own pool, so a burst of questions
            # never takes the threads that acknowledge the next requests.
            bot.routing.submit(carry_out, command, parsed)
        else:
            carry_out(command, parsed)

    def carry_out(command: dict[str, Any], parsed: AskCommand) -> None:
        url = command.get("response_url")
        try:
            member = bot.member(
                team_id=str(command.get("team_id") or ""),
                user_id=str(command.get("user_id") or ""),
                name_hint=command.get("user_name"),
            )
            reply = perform(bot, member, parsed)
        except AskaroundError as exc:
            reply = messages.error_message(_sentence(str(exc)))
        except Exception:
            log.exception("/ask failed")
            respond(
                url, messages.error_message("Something went wrong on our side; nothing was sent.")
            )
            return
        respond(url, reply)
        bot.courier.kick()

    app.command(COMMAND)(ack=ack_ask, lazy=[run_ask])


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def perform(bot: SlackBot, member: Member, parsed: AskCommand) -> dict[str, Any]:
    """Apply one parsed ``/ask`` to the core; the ephemeral reply to show the member."""
    now = bot.now()
    nid, pid = member.network_id, member.person_id
    if isinstance(parsed, AskQuestion):
        with bot.transaction() as session:
            asked = questions.ask_question(
                session,
                router=bot.services.router,
                settings=bot.settings,
                network_id=nid,
                asker_id=pid,
                text=parsed.text,
                now=now,
                anonymous=parsed.anonymous,
            )
            slack_ids = bot.slack_ids(session, [c.person_id for c in asked.route.candidates])
        return messages.route_reply(
            asked.route,
            anonymous=parsed.anonymous,
            asked_ids=slack_ids,
            retry_at=asked.question.next_escalation_at if asked.question.status == "open" else None,
        )
    if isinstance(parsed, ShowBalance):
        with bot.transaction() as session:
            page = privacy.visible_ledger(session, network_id=nid, person_id=pid)
        return messages.balance_message(page)
    if isinstance(parsed, SetOptOut):
        with bot.transaction() as session:
            preferences.set_opted_out(
                session, network_id=nid, person_id=pid, opted_out=parsed.opted_out
            )
        if parsed.opted_out:
            return messages.plain(
                "Done: nobody will be asked to send you questions. `/ask optin` to come back."
            )
        return messages.plain("Welcome back: you can be asked questions again.")
    if isinstance(parsed, Snooze):
        return _snooze(bot, member, parsed, now)
    if isinstance(parsed, Interests):
        return _interests(bot, member, parsed, now)
    if isinstance(parsed, Budget):
        return _budget(bot, member, parsed)
    return messages.help_message()


def _snooze(bot: SlackBot, member: Member, parsed: Snooze, now: datetime) -> dict[str, Any]:
    with bot.transaction() as session:
        if parsed.duration is None:
            questions.unsnooze_person(
                session, network_id=member.network_id, person_id=member.person_id
            )
            return messages.plain("You're awake: you can be asked questions again.")
        until = questions.snooze_person(
            session,
            network_id=member.network_id,
            person_id=member.person_id,
            until=now + parsed.duration,
            now=now,
        )
    return messages.plain(
        f"Snoozed: no questions until {messages.when(until)}. `/ask snooze off` ends it early."
    )


def _interests(bot: SlackBot, member: Member, parsed: Interests, now: datetime) -> dict[str, Any]:
    nid, pid = member.network_id, member.person_id
    note = ""
    with bot.transaction() as session:
        if parsed.action == "add":
            added = preferences.add_interests(
                session, network_id=nid, person_id=pid, topics=parsed.topics, now=now
            )
            note = f"Added {len(added)}." if added else "You had those already."
        elif parsed.action == "remove":
            gone = preferences.remove_interests(
                session, network_id=nid, person_id=pid, topics=parsed.topics
            )
            missing = [t for t in parsed.topics if t.lower() not in {g.lower() for g in gone}]
            note = f"Removed {len(gone)}." + (
                f" Not in your list: {', '.join(missing)}." if missing else ""
            )
        topics = preferences.list_interests(session, network_id=nid, person_id=pid)
    if parsed.action == "add":
        with bot.transaction() as session:  # so routing finds the new interests right away
            embed_pending(session, network_id=nid, embedder=bot.services.embedder)
    reply = messages.interests_message(topics)
    if note:
        reply = messages.plain(f"{note}\n{reply['text']}")
    return reply


def _budget(bot: SlackBot, member: Member, parsed: Budget) -> dict[str, Any]:
    with bot.transaction() as session:
        if parsed.per_week is not None or parsed.reset:
            preferences.set_ask_budget(
                session,
                network_id=member.network_id,
                person_id=member.person_id,
                per_week=parsed.per_week,
            )
        person = session.get(Person, member.person_id)
        assert person is not None
        budget, own = preferences.budget_in_force(session, person=person, settings=bot.settings)
    whose = "your own" if own else "the default"
    verb = "is now" if (parsed.per_week is not None or parsed.reset) else "is"
    return messages.plain(
        f"Your budget {verb} {budget} question{'s' * (budget != 1)} a week ({whose}). "
        "`/ask budget N` changes it; `/ask budget default` resets it."
    )
