"""The answer modal: checked and recorded before the ack, given after it, never lost between.

Before the ack only cheap reads run: the answer is not empty or too long, the form's metadata
parses, and the ask is this member's and still takes an answer; a problem is shown in the modal
itself. The submission is then recorded in the bot's inbox (``bots.inbox``: a row, or a spool
file while an import holds the database), the modal closes, and the answer is given after the
ack by the inbox's handler for it, at once on the bot's pool, or by the replay job when the
process died first: once either way. Then the ask DM is updated in place and the courier kicked
to relay the answer. When the core refuses it by then (the question closed meanwhile, the ask
moved on), or it failed too often, the answerer is told why in a DM quoting their answer back,
queued with the request's end so it goes once; a failure that will be retried tells nobody.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bots import messages, outbound, workspace
from bots.actions import DONE_NOTES, update
from bots.inbox import carried_out_by
from bots.runtime import Member, SlackBot
from bots.snapshots import ask_snapshot
from router.delivery.outbox import enqueue
from router.errors import AskaroundError, NotFound, PermissionDenied
from router.lifecycle import questions
from router.lifecycle.states import AskStatus

log = logging.getLogger(__name__)

ANSWER_KIND = "slack_answer"
NOT_TAKEN = "I couldn't take this answer right now; nothing was sent. Please try again."
GAVE_UP = "something went wrong on our side, and after several tries I gave up; nothing was sent"


def submitted_text(view: dict[str, Any]) -> str:
    values = (view.get("state") or {}).get("values") or {}
    field = (values.get(messages.ANSWER_BLOCK) or {}).get(messages.ANSWER_INPUT) or {}
    return str(field.get("value") or "").strip()


def register(app: App, bot: SlackBot) -> None:
    """The answer modal's submission."""

    def answer(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        def refuse(reason: str) -> None:
            ack(response_action="errors", errors={messages.ANSWER_BLOCK: reason[:150]})

        text = submitted_text(view)
        if not text:
            refuse("Write an answer first.")
            return
        if len(text) > messages.MAX_ANSWER_CHARS:
            refuse(f"At most {messages.MAX_ANSWER_CHARS} characters, please.")
            return
        metadata = str(view.get("private_metadata") or "")
        user = body.get("user") or {}
        team = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        user_id = str(user.get("id") or "")
        try:
            ask_id, _, _ = messages.parse_modal_metadata(metadata)
            person_id = _answerable(bot, team, user_id, ask_id, text)
        except AskaroundError as exc:
            refuse(str(exc))
            return
        except Exception:
            log.exception("checking an answer failed")
            refuse(NOT_TAKEN)
            return
        if person_id is None:
            ack()  # answered already (a second submission): nothing left to do
            return
        key = f"slack-answer:{team}:{view.get('id') or ask_id}:{person_id}"
        payload = {"team_id": team, "user_id": user_id, "text": text, "view": metadata}
        try:  # the one write before the ack: what was acknowledged survives a crash or restart
            first = bot.inbox.record(key=key, kind=ANSWER_KIND, payload=payload)
        except Exception:
            log.exception("recording an answer failed")
            refuse(NOT_TAKEN)
            return
        ack()  # the modal closes; the answer is given after the response
        if first:
            try:
                bot.routing.submit(carry_out_answer, bot, key)
            except RuntimeError:  # shutting down: recorded, so the next start gives it
                log.warning("answer recorded while stopping; it is given after the restart")

    app.view(messages.ANSWER_MODAL)(answer)


def _answerable(bot: SlackBot, team: str, user_id: str, ask_id: int, text: str) -> int | None:
    """Reading only: the answering person's id, None when they answered this ask already;
    the core's error when the ask is not theirs, or no longer takes an answer."""
    with bot.transaction() as session:
        found = workspace.find_team_member(session, team_id=team, user_id=user_id)
        if found is None:
            raise PermissionDenied("only the person asked can respond to this ask")
        network_id, person = found
        owed = questions.check_answer(  # a second form with other words is told, not dropped
            session,
            network_id=network_id,
            ask_id=ask_id,
            person_id=person.id,
            text=text,
            refuse_other_text=True,
        )
        return person.id if owed else None


def _answered(
    bot: SlackBot, client: WebClient, member: Member, ask_id: int, metadata: str, text: str
) -> None:
    """After an answer: relay it (the courier) and show it in the ask DM in place."""
    bot.courier.kick()
    _, channel, ts = messages.parse_modal_metadata(metadata)
    with bot.transaction() as session:
        snapshot = ask_snapshot(session, network_id=member.network_id, ask_id=ask_id)
    note = f"{DONE_NOTES[AskStatus.ANSWERED]} You said:\n{messages.quote(text, 1500)}"
    update(client, channel, ts, outbound.ask_done(snapshot.payload, note))


@carried_out_by(ANSWER_KIND)
def carry_out_answer(bot: SlackBot, key: str) -> bool:
    """Give an acknowledged answer (once, whoever gets there first); True if this call gave it."""
    try:
        bot.inbox.drain()
        payload = bot.inbox.payload(key)
    except Exception:
        log.exception("reading acknowledged answer %s failed; the replay job retries it", key)
        return False
    if payload is None:
        return False
    team, metadata, text = str(payload["team_id"]), str(payload["view"]), str(payload["text"])
    member: Member | None = None
    ask_id: int | None = None
    try:
        ask_id, _, _ = messages.parse_modal_metadata(metadata)
        member = bot.known_member(team_id=team, user_id=str(payload.get("user_id") or ""))
        if member is None:  # forgotten since the ack: their answer goes with them
            bot.inbox.failed(key, "the member is no longer known", final=True)
            return False
        with bot.transaction() as session:
            request = bot.inbox.claim(session, key)
            if request is None:
                return False
            first = bot.first_time(session, f"slack-answered:{ask_id}")
            questions.answer_ask(
                session,
                network_id=member.network_id,
                ask_id=ask_id,
                person_id=member.person_id,
                text=text,
                now=bot.now(),
            )
            bot.inbox.done(request)
    except AskaroundError as exc:
        log.warning("answer %s could not be given: %s", key, exc)
        _failed(bot, key, str(exc), str(exc), final=True, member=member, ask_id=ask_id, text=text)
        return False
    except Exception as exc:  # e.g. the database busy: the replay job tries again, then gives up
        log.exception("answer %s failed", key)
        error = f"{type(exc).__name__}: {exc}"
        _failed(bot, key, error, GAVE_UP, final=False, member=member, ask_id=ask_id, text=text)
        return False
    if first:
        _answered(bot, bot.clients.for_team(team), member, ask_id, metadata, text)
    return True


def _failed(
    bot: SlackBot,
    key: str,
    error: str,
    reason: str,
    *,
    final: bool,
    member: Member | None,
    ask_id: int | None,
    text: str,
) -> None:
    """Count a failed carry-out. When it ends the request (a final refusal by the core, or too
    many failed tries) the modal is long gone, so a DM to the answerer saying why, with their
    words back, is queued in the same transaction: they are told once, and a replay finds the
    request done. A failure that will be retried tells nobody."""

    def tell(session: Session) -> None:
        if member is None:  # not known as anyone: nobody to tell
            return
        enqueue(
            session,
            network_id=member.network_id,
            recipient_id=member.person_id,
            kind=outbound.ANSWER_NOT_GIVEN,
            payload={
                "question": _question(session, member, ask_id),
                "reason": reason,
                "answer": text,
            },
            idempotency_key=f"answer-not-given:{hashlib.sha256(key.encode()).hexdigest()[:40]}",
            now=bot.now(),
        )

    try:
        given_up = bot.inbox.failed(key, error, final=final, then=tell)
    except Exception:
        log.exception("counting the failure of answer %s failed; the replay job tries again", key)
        return
    if given_up:
        bot.courier.kick()


def _question(session: Session, member: Member, ask_id: int | None) -> str | None:
    """The question of the member's own ask (never someone else's), if it is still there."""
    if ask_id is None:
        return None
    try:
        snapshot = ask_snapshot(session, network_id=member.network_id, ask_id=ask_id)
    except NotFound:
        return None
    return str(snapshot.payload["question"]) if snapshot.person_id == member.person_id else None
