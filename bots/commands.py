"""``/ask``: acknowledged at once (Slack allows 3 seconds), the work done after, the reply ephemeral.

The ack function parses, and for a question does the one write it must: the request goes to the
bot's inbox (``bots.inbox``), so an acknowledged question is asked even if the process dies right
after the ack. Help and mistakes are answered in the ack itself, everything else is acknowledged
empty (a question with "Finding the right people..."). The lazy function then applies the
sub-command, or hands the question to the bot's routing pool, and the reply goes through the
``response_url``; the replay job asks whatever a dead process left owed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy.orm import Session

from bots import messages, receipts
from bots.clients import respond
from bots.inbox import carried_out_by
from bots.runtime import Member, SlackBot
from bots.subcommands import (
    AskCommand,
    AskQuestion,
    Budget,
    Hours,
    Interests,
    SetOptOut,
    ShowBalance,
    ShowHelp,
    Snooze,
    parse_ask,
)
from router.errors import AskaroundError, InvalidInput
from router.ledger import privacy
from router.lifecycle import hours, questions
from router.network import preferences
from router.search.backfill import embed_pending
from router.storage.schema import Person

log = logging.getLogger(__name__)

COMMAND = "/ask"
COMMAND_KIND = "slack_command"
WORKING = "Finding the right people to ask…"
NOT_TAKEN = "I couldn't take that question right now; nothing was sent. Please try again."
KEPT_FIELDS = (
    "team_id",
    "user_id",
    "user_name",
    "channel_id",
    "text",
    "response_url",
    "trigger_id",
)


def request_key(command: dict[str, Any]) -> str:
    """What makes one ``/ask`` itself: its trigger id (Slack re-sends carry the same one)."""
    team = str(command.get("team_id") or "")
    trigger = command.get("trigger_id") or command.get("response_url") or ""
    return f"slack-command:{team}:{trigger}"


def acknowledge(bot: SlackBot, ack: Ack, command: dict[str, Any]) -> None:
    """The ack of one ``/ask``: help or a mistake answered in it; a question recorded first
    (what was acknowledged survives a crash or restart) and handed to the routing pool."""
    try:
        parsed = parse_ask(
            str(command.get("text") or ""), max_chars=bot.settings.max_question_chars
        )
    except InvalidInput as exc:
        ack(**messages.error_message(str(exc)), response_type="ephemeral")
        return
    if isinstance(parsed, ShowHelp):
        ack(**messages.help_message(), response_type="ephemeral")
    elif isinstance(parsed, AskQuestion):
        # The one write before the ack: what was acknowledged survives a crash or restart.
        try:
            first = bot.inbox.record(
                key=request_key(command), kind=COMMAND_KIND, payload=_kept(command)
            )
        except Exception:
            log.exception("recording /ask failed")
            ack(**messages.error_message(NOT_TAKEN), response_type="ephemeral")
            return
        if first:
            # Routing is CPU-bound: it queues on the bot's own pool, so a burst of questions
            # never takes the threads that acknowledge the next requests. (Submitted here,
            # not in a lazy listener, which bolt may start before this function recorded.)
            try:
                bot.routing.submit(carry_out_request, bot, request_key(command))
            except RuntimeError:  # shutting down: recorded, so the next start asks it
                log.warning("/ask recorded while stopping; it is asked after the restart")
            ack(text=WORKING, response_type="ephemeral")
        else:
            ack()  # the same /ask again (same trigger id): it is done once
    else:
        ack()


def register(app: App, bot: SlackBot) -> None:
    """The ``/ask`` command."""

    def parse(command: dict[str, Any]) -> AskCommand:
        return parse_ask(str(command.get("text") or ""), max_chars=bot.settings.max_question_chars)

    def ack_ask(ack: Ack, command: dict[str, Any]) -> None:
        acknowledge(bot, ack, command)

    def run_ask(command: dict[str, Any]) -> None:
        try:
            parsed = parse(command)
        except InvalidInput:
            return  # answered in the ack
        if isinstance(parsed, ShowHelp | AskQuestion):
            return  # answered in the ack; a question is on the routing pool already
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


def _kept(command: dict[str, Any]) -> dict[str, Any]:
    return {name: command.get(name) for name in KEPT_FIELDS}


@carried_out_by(COMMAND_KIND)
def carry_out_request(bot: SlackBot, key: str) -> bool:
    """Ask an acknowledged question (once, whoever gets there first); True if this call did."""
    try:
        bot.inbox.drain()
        command = bot.inbox.payload(key)
    except Exception:
        log.exception("reading acknowledged /ask %s failed; the replay job retries it", key)
        return False
    if command is None:
        return False  # carried out already, or never recorded
    url = command.get("response_url")
    try:
        parsed = parse_ask(
            str(command.get("text") or ""), max_chars=bot.settings.max_question_chars
        )
        if not isinstance(parsed, AskQuestion):
            raise InvalidInput("that is not a question")
        member = bot.member(
            team_id=str(command.get("team_id") or ""),
            user_id=str(command.get("user_id") or ""),
            name_hint=command.get("user_name"),
        )
        reply = _ask(bot, member, parsed, key)
    except AskaroundError as exc:
        bot.inbox.failed(key, str(exc), final=True)
        respond(url, messages.error_message(_sentence(str(exc))))
        return False
    except Exception as exc:
        log.exception("/ask %s failed", key)
        given_up = bot.inbox.failed(key, f"{type(exc).__name__}: {exc}")
        note = "nothing was sent." if given_up else "I'll try again in a minute."
        respond(url, messages.error_message(f"Something went wrong on our side; {note}"))
        return False
    if reply is None:
        return False
    respond(url, reply)
    bot.courier.kick()
    return True


def _ask(bot: SlackBot, member: Member, parsed: AskQuestion, key: str) -> dict[str, Any] | None:
    """The question asked and the request marked done in one transaction; None if done before."""
    with bot.transaction() as session:
        request = bot.inbox.claim(session, key)
        if request is None:
            return None
        asked = questions.ask_question(
            session,
            router=bot.services.router,
            settings=bot.settings,
            network_id=member.network_id,
            asker_id=member.person_id,
            text=parsed.text,
            now=bot.now(),
            anonymous=parsed.anonymous,
        )
        _queue_receipt(session, asked, now=bot.now())
        bot.inbox.done(request)
        slack_ids = bot.slack_ids(session, [c.person_id for c in asked.route.candidates])
    return _receipt(asked, anonymous=parsed.anonymous, slack_ids=slack_ids)


def _receipt(
    asked: questions.AskedQuestion, *, anonymous: bool, slack_ids: dict[int, str]
) -> dict[str, Any]:
    return messages.route_reply(
        asked.route,
        anonymous=anonymous,
        asked_ids=slack_ids,
        retry_at=asked.question.next_escalation_at if asked.question.status == "open" else None,
    )


def _queue_receipt(session: Session, asked: questions.AskedQuestion, *, now: datetime) -> None:
    """The asker's persistent receipt DM, queued with the question it follows."""
    question = asked.question
    receipts.enqueue_receipt(
        session,
        network_id=question.network_id,
        question_id=question.id,
        asker_id=question.asker_id,
        now=now,
    )


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
            _queue_receipt(session, asked, now=now)
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
    if isinstance(parsed, Hours):
        return _hours(bot, member, parsed)
    return messages.help_message()


def _hours(bot: SlackBot, member: Member, parsed: Hours) -> dict[str, Any]:
    """``/ask hours``: show, set or reset the hours in which questions reach the member."""
    default = bot.clients.settings.slack_working_hours
    with bot.transaction() as session:
        if parsed.hours is not None or parsed.reset:
            hours.set_working_hours(
                session,
                network_id=member.network_id,
                person_id=member.person_id,
                hours=parsed.hours,
            )
        person = session.get(Person, member.person_id)
        assert person is not None
        own, timezone = person.working_hours, person.timezone
    if own:
        return messages.plain(f"Questions reach you between {own} h ({timezone} time).")
    if default:
        return messages.plain(
            f"Questions reach you between {default} h ({timezone} time), the workspace's hours. "
            "`/ask hours 9-17` sets your own."
        )
    return messages.plain("Questions reach you any time. `/ask hours 9-17` limits them.")


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
