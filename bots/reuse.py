"""``/ask`` when the answer already exists: the best past Q&A first, then the member decides.

A question whose words closely match a past public answer is acknowledged with that answer
(who, when, an excerpt and a link) and two buttons: "That answers it" credits the author half
a favour and asks nobody; "Ask people anyway" routes the question as ``/ask`` always does.
Registered before ``/ask`` itself; every other question goes straight to routing, and so does
one whose lookup takes longer than ``LOOKUP_BUDGET`` (the model or the network's index still
loading after a start, a busy machine): Slack wants the ack within 3 seconds.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from concurrent.futures import TimeoutError as LookupTimeout
from typing import Any

from slack_bolt import Ack, App

from bots import commands, messages, workspace
from bots.clients import respond
from bots.runtime import SlackBot
from bots.subcommands import AskQuestion, parse_ask
from router.errors import AskaroundError, Conflict, InvalidInput
from router.ledger.reuse import credit_reuse
from router.routing.reuse import PastAnswer

log = logging.getLogger(__name__)

COMMAND = "/ask"
ANSWERED = "reuse_answered"
ASK_ANYWAY = "reuse_ask_anyway"
VALUE_CHARS = 1900  # Slack keeps a button's value under 2000 characters
REMEMBERED = 256
LOOKUP_BUDGET = 1.0  # seconds of Slack's 3 the ack may spend looking for a past answer


def past_answer_message(question: AskQuestion, answer: PastAnswer) -> dict[str, Any]:
    """The ephemeral reply: the past Q&A and the two buttons."""
    who = f"*{messages.escape(answer.name)}* answered this on {answer.answered_at:%Y-%m-%d}"
    thread = messages.link(answer.link or "", "open thread")
    link = f" · {thread}" if thread else ""
    head = "This may already be answered, so nobody needs to be asked:"
    body = (
        f"{head}\n*{messages.escape(answer.question)}*\n"
        f"{messages.quote(answer.excerpt, 600)}\n{who}{link}"
    )
    ask_value = json.dumps({"q": question.text, "anon": question.anonymous})
    return {
        "text": f"{head} {messages.escape(answer.question)}",
        "blocks": [
            messages.section(body),
            messages.actions(
                messages.button(
                    "That answers it", ANSWERED, str(answer.evidence_id), style="primary"
                ),
                messages.button("Ask people anyway", ASK_ANYWAY, ask_value),
                block_id="reuse",
            ),
        ],
    }


def register(app: App, bot: SlackBot) -> None:
    """The past-answer reply to ``/ask`` and its two buttons."""
    found: OrderedDict[tuple[str, str, str], PastAnswer] = OrderedDict()
    lock = threading.Lock()

    def question_of(body: dict[str, Any]) -> AskQuestion | None:
        try:
            parsed = parse_ask(
                str(body.get("text") or ""), max_chars=bot.settings.max_question_chars
            )
        except InvalidInput:
            return None
        if not isinstance(parsed, AskQuestion) or len(parsed.text) > VALUE_CHARS:
            return None
        return parsed

    def past_answers(team: str, question: str) -> tuple[PastAnswer, ...]:
        with bot.transaction() as session:
            network = workspace.find_team_network(session, team_id=team)
            if network is None:
                return ()
            return bot.services.answers.find(
                session, network_id=network.id, question=question, limit=1
            )

    def has_past_answer(body: dict[str, Any]) -> bool:
        question = question_of(body)
        if question is None:
            return False
        team, user = str(body.get("team_id") or ""), str(body.get("user_id") or "")
        try:
            lookup = bot.lookups.submit(past_answers, team, question.text)
            best = lookup.result(timeout=LOOKUP_BUDGET)
        except LookupTimeout:
            lookup.cancel()  # not started yet: skip it; started: it finishes unread
            log.info("no time to look for past answers (still loading?); asking people")
            return False
        except Exception:  # a failed lookup must never stop the question being asked
            log.exception("looking for past answers failed")
            return False
        if not best:
            return False
        with lock:
            found[(team, user, question.text)] = best[0]
            while len(found) > REMEMBERED:
                found.popitem(last=False)
        return True

    def show(ack: Ack, command: dict[str, Any]) -> None:
        question = question_of(command)
        key = (str(command.get("team_id") or ""), str(command.get("user_id") or ""))
        with lock:
            answer = found.pop((*key, question.text), None) if question else None
        if question is None or answer is None:  # a twin /ask took it: this one is asked
            commands.acknowledge(bot, ack, command)
            return
        ack(**past_answer_message(question, answer), response_type="ephemeral")

    app.command(COMMAND, matchers=[has_past_answer])(show)

    def ack_button(ack: Ack) -> None:
        ack()

    def member_of(body: dict[str, Any]) -> Any:
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        return bot.member(
            team_id=team, user_id=str(user.get("id") or ""), name_hint=user.get("name")
        )

    def value_of(body: dict[str, Any]) -> str:
        return str((body.get("actions") or [{}])[0].get("value") or "")

    def answered(body: dict[str, Any]) -> None:
        url = body.get("response_url")
        try:
            member = member_of(body)
            evidence_id = messages.parse_id(value_of(body))
            if evidence_id is None:
                raise Conflict("this button does not belong to Askaround")
            with bot.transaction() as session:
                favour = credit_reuse(
                    session,
                    network_id=member.network_id,
                    evidence_id=evidence_id,
                    reader_id=member.person_id,
                    now=bot.now(),
                )
                names = workspace.slack_ids(session, person_ids=[favour.giver_id]) if favour else {}
            if favour is None:
                reply = messages.plain("That was your own answer: glad it still helps.")
            else:
                who = f"<@{names[favour.giver_id]}>" if favour.giver_id in names else "Its author"
                reply = messages.plain(
                    f"Glad it helped. {who} gets half a favour for it, and nobody was asked."
                )
        except AskaroundError as exc:
            reply = messages.error_message(str(exc))
        respond(url, reply, replace=True)

    def ask_anyway(body: dict[str, Any]) -> None:
        url = body.get("response_url")
        try:
            wanted = json.loads(value_of(body))
            question = AskQuestion(str(wanted["q"]), anonymous=bool(wanted.get("anon")))
            reply = commands.perform(bot, member_of(body), question)
        except AskaroundError as exc:
            reply = messages.error_message(str(exc))
        except (ValueError, KeyError, TypeError):
            reply = messages.error_message("That button is out of date; `/ask` again.")
        respond(url, reply, replace=True)
        bot.courier.kick()

    def ask_anyway_later(body: dict[str, Any]) -> None:
        bot.routing.submit(ask_anyway, body)  # routing is CPU-bound: the bot's own pool

    app.action(ANSWERED)(ack=ack_button, lazy=[answered])
    app.action(ASK_ANYWAY)(ack=ack_button, lazy=[ask_anyway_later])
