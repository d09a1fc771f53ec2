"""Buttons: on an ask DM (Answer, Pass, Not my area, Snooze me) and on a relayed answer (Helpful,
Thanks). Each is acknowledged at once; the core call follows, then the message is updated in
place (``chat.update``) to show what was done. A second click on a message already acted on
changes nothing and updates nothing: the core's calls are idempotent, and the update is made only
by the click that changed the state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bots import messages, outbound, receipts
from bots.clients import SLACK_FAILURES, respond
from bots.runtime import Member, SlackBot
from bots.snapshots import AskSnapshot, answer_snapshot, ask_snapshot
from router.errors import AskaroundError, Conflict
from router.lifecycle import questions
from router.lifecycle.states import LIVE_QUESTION, AskStatus

log = logging.getLogger(__name__)

DONE_NOTES = {
    AskStatus.ANSWERED: "You answered this one. Thank you!",
    AskStatus.PASSED: "You passed on this one. Thanks for saying so.",
    AskStatus.DECLINED: "Not your area: noted, questions like this will reach you less.",
    AskStatus.EXPIRED: "No answer needed any more: this question is closed.",
}


def _ack(ack: Ack) -> None:
    ack()


def register(app: App, bot: SlackBot) -> None:
    """The ask and answer buttons."""

    def on_ask(action: str) -> Callable[..., None]:
        def run(body: dict[str, Any], client: WebClient) -> None:
            _ask_button(bot, action, body, client)

        run.__name__ = f"ask_button_{action}"
        return run

    for action in messages.ASK_ACTIONS:
        app.action(action)(ack=_ack, lazy=[on_ask(action)])

    def on_credit(action: str) -> Callable[..., None]:
        def run(body: dict[str, Any], client: WebClient) -> None:
            _answer_button(bot, action, body, client)

        run.__name__ = f"answer_button_{action}"
        return run

    for action in messages.ANSWER_ACTIONS:
        app.action(action)(ack=_ack, lazy=[on_credit(action)])


def _clicked(body: dict[str, Any]) -> tuple[int, str | None, str | None]:
    """The id in the button's value and the message (channel, ts) it sits on."""
    value = messages.parse_id(str((body.get("actions") or [{}])[0].get("value") or ""))
    if value is None:
        raise Conflict("this button does not belong to Askaround")
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return value, channel, ts


def _member(bot: SlackBot, body: dict[str, Any]) -> Member:
    user = body.get("user") or {}
    team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
    return bot.member(team_id=team, user_id=str(user.get("id") or ""), name_hint=user.get("name"))


def update(client: WebClient, channel: str | None, ts: str | None, message: dict[str, Any]) -> None:
    """Replace a message's content; a failure is logged (the state change is already stored)."""
    if not channel or not ts:
        return
    try:
        client.chat_update(channel=channel, ts=ts, text=message["text"], blocks=message["blocks"])
    except SLACK_FAILURES as exc:
        log.warning("chat.update of %s/%s failed: %s", channel, ts, exc)


def _ask_button(bot: SlackBot, action: str, body: dict[str, Any], client: WebClient) -> None:
    url = body.get("response_url")
    try:
        ask_id, channel, ts = _clicked(body)
        member = _member(bot, body)
        with bot.transaction() as session:
            before = ask_snapshot(session, network_id=member.network_id, ask_id=ask_id)
        if before.person_id != member.person_id:
            respond(url, messages.error_message("This question was sent to someone else."))
            return
        if before.status == AskStatus.EXPIRED or before.question_status not in LIVE_QUESTION:
            update(
                client,
                channel,
                ts,
                outbound.ask_done(before.payload, DONE_NOTES[AskStatus.EXPIRED]),
            )
            return
        if before.status != AskStatus.PENDING:
            return  # a second click: the first one changed the state and the message
        if action == messages.ANSWER:
            _open_answer_modal(client, body, before, channel, ts)
            return
        note = _refuse(bot, action, member, ask_id)
    except AskaroundError as exc:
        respond(url, messages.error_message(str(exc)))
        return
    if note is not None:
        update(client, channel, ts, outbound.ask_done(before.payload, note))
        receipts.refresh(
            bot.channel.database,
            bot.clients,
            network_id=member.network_id,
            question_id=int(before.payload["question_id"]),
        )
    bot.courier.kick()


def _refuse(bot: SlackBot, action: str, member: Member, ask_id: int) -> str | None:
    """Pass, decline or snooze through the core; the note for the DM (None if nothing changed).

    The click is recorded first, in the same transaction: concurrent clicks on one ask queue
    behind it, and only the first changes anything and updates the message.
    """
    now = bot.now()
    nid, pid = member.network_id, member.person_id
    with bot.transaction() as session:
        if not bot.first_time(session, f"slack-ask-done:{ask_id}"):
            return None
        if ask_snapshot(session, network_id=nid, ask_id=ask_id).status != AskStatus.PENDING:
            return None
        if action == messages.PASS:
            questions.pass_ask(session, network_id=nid, ask_id=ask_id, person_id=pid, now=now)
            return DONE_NOTES[AskStatus.PASSED]
        if action == messages.DECLINE:
            questions.decline_ask(session, network_id=nid, ask_id=ask_id, person_id=pid, now=now)
        else:
            until = questions.snooze_person(
                session,
                network_id=nid,
                person_id=pid,
                until=now + timedelta(days=messages.SNOOZE_ME_DAYS),
                now=now,
                ask_id=ask_id,
            )
    if action == messages.DECLINE:  # committed: the evidence that matched weighs less from now on
        bot.services.router.indexes.invalidate(nid)
        return DONE_NOTES[AskStatus.DECLINED]
    return f"Snoozed: no questions until {messages.when(until)}. `/ask snooze off` ends it early."


def _open_answer_modal(
    client: WebClient,
    body: dict[str, Any],
    snapshot: AskSnapshot,
    channel: str | None,
    ts: str | None,
) -> None:
    origin = f"{channel or ''}:{ts or ''}"
    view = messages.answer_modal(
        ask_id=snapshot.ask_id, question=str(snapshot.payload["question"]), origin=origin
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SLACK_FAILURES as exc:
        log.warning("views.open failed: %s", exc)
        respond(
            body.get("response_url"),
            messages.error_message(
                "Slack could not open the answer form; please click Answer again."
            ),
        )


def _answer_button(bot: SlackBot, action: str, body: dict[str, Any], client: WebClient) -> None:
    url = body.get("response_url")
    now = bot.now()
    try:
        answer_id, channel, ts = _clicked(body)
        member = _member(bot, body)
        nid, pid = member.network_id, member.person_id
        with bot.transaction() as session:
            # recorded first: a concurrent second click waits here, then does nothing
            if not bot.first_time(session, f"slack-credit:{answer_id}:{action}"):
                return
            before = answer_snapshot(session, network_id=nid, answer_id=answer_id)
            already = before.helpful if action == messages.HELPFUL else before.thanked
            if already:
                return  # a second click: the favour is on the ledger once, the message says so
            if action == messages.HELPFUL:
                view = questions.mark_helpful(
                    session, network_id=nid, answer_id=answer_id, person_id=pid, now=now
                )
            else:
                view = questions.thank_answer(
                    session, network_id=nid, answer_id=answer_id, person_id=pid, now=now
                )
    except AskaroundError as exc:
        respond(url, messages.error_message(str(exc)))
        return
    message = outbound.answer_update(before.payload, helpful=view.helpful, thanked=view.thanked)
    update(client, channel, ts, message)
    bot.courier.kick()
