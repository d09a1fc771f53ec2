"""The Slack channel for the core's outbox: each outbound message becomes one DM, exactly once.

``send`` renders the message (``bots.outbound``), opens the DM with the recipient and posts it.
Slack has no idempotency key for ``chat.postMessage``, so the key travels in the message's
metadata, and whenever the outcome of an earlier post is unknown (a 5xx, a dropped connection,
a retry by the outbox after a crash) the DM's recent history is checked for that key before
posting again. A 429 is retried after its ``Retry-After`` (Slack did nothing).

Messages about a question sent to its asker (answers, escalation, expiry) are threaded under the
first one, whose place is kept in ``Question.channel_ref``; an ask DM's place goes in
``Ask.channel_ref`` so a later state change can update it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bots import outbound, receipts, workspace
from bots.clients import CONNECTION_ERRORS, SlackClients
from bots.snapshots import ask_snapshot
from router.delivery.channels import Deferred, OutboundMessage
from router.errors import NotFound, Unavailable
from router.lifecycle.hours import hours_of, next_start
from router.lifecycle.states import AskStatus
from router.storage.database import Database
from router.storage.schema import Ask, OutboxMessage, Person, Question

log = logging.getLogger(__name__)

METADATA_EVENT = "askaround_message"
HISTORY_LOOKBACK = 100
POST_TRIES = 3
# messages that wait for the recipient's working hours (in their timezone)
WAITS_FOR_HOURS = frozenset({"ask", outbound.REMINDER})


def _utc_now() -> datetime:
    return datetime.now(UTC)


# messages whose delivery means the asker's receipt has something new to show
RECEIPT_CHANGES = frozenset({"ask", "answer", "escalated", "expired", "closed"})


@dataclass(frozen=True)
class Target:
    team_id: str | None
    user_id: str  # Slack member id of the recipient
    thread: str | None  # "channel:ts" of the question's thread for the asker, if any
    ask_ref: str | None = None  # "channel:ts" of the ask DM a "closed" message is about
    ask_payload: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None  # what the payload lacks for Slack (favours between)
    stale: str | None = None  # why this message is no longer worth sending
    not_before: datetime | None = None  # outside the recipient's working hours: wait till then


def ref(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def parse_ref(value: str | None) -> tuple[str, str] | None:
    if not value or ":" not in value:
        return None
    channel, _, ts = value.partition(":")
    return channel, ts


class SlackChannel:
    """Delivers outbox messages as Slack DMs; satisfies ``router.delivery.channels.Channel``."""

    name = "slack"

    def __init__(
        self,
        *,
        database: Database,
        clients: SlackClients,
        render: Callable[[OutboundMessage], dict[str, Any]] = outbound.render,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.database = database
        self.clients = clients
        self.render = render
        self.clock = clock  # working hours are judged at the courier's "now"
        self._dms: dict[tuple[str | None, str], str] = {}
        self._lock = threading.Lock()

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        result = self._send(message)
        question_id = _question_id(message)
        changed = message.kind in RECEIPT_CHANGES and not result.get("skipped")
        if changed and question_id is not None:
            # the asker's receipt shows what this message changed (a failure is only logged)
            receipts.refresh(
                self.database,
                self.clients,
                network_id=message.network_id,
                question_id=question_id,
            )
        return result

    def _send(self, message: OutboundMessage) -> dict[str, Any]:
        target = self._target(message)
        if target is None:
            return {"channel": self.name, "skipped": "recipient is not on Slack"}
        if target.stale:
            return {"channel": self.name, "skipped": target.stale}
        if target.not_before is not None:
            raise Deferred(target.not_before, "outside the recipient's working hours")
        if message.kind == "closed" and target.ask_payload is not None:
            where = parse_ref(target.ask_ref)
            if where is not None:
                return self._close_ask(target, where, message)
        if target.extra:
            message = replace(message, payload={**message.payload, **target.extra})
        content = self._render(message)
        dm = self._open_dm(target)
        thread_ts: str | None = None
        question_id = _question_id(message)
        threaded = message.kind in outbound.THREADED_KINDS and question_id is not None
        if threaded and target.thread:
            where = parse_ref(target.thread)
            if where is not None and where[0] == dm:
                thread_ts = where[1]
        ts = None
        if message.attempt > 1:
            ts = self._already_posted(target.team_id, dm, message.idempotency_key)
        if ts is None:
            ts = self._post(target.team_id, dm, content, message.idempotency_key, thread_ts)
        remember = threaded and thread_ts is None and message.kind not in outbound.ASK_THREAD_KINDS
        self._remember(message, dm, ts, threaded=remember)
        result: dict[str, Any] = {"channel": dm, "ts": ts}
        if thread_ts:
            result["thread_ts"] = thread_ts
        return result

    # --- steps -----------------------------------------------------------------------------

    def _render(self, message: OutboundMessage) -> dict[str, Any]:
        """The message's Slack content; a receipt shows its question as it stands now."""
        question_id = _question_id(message)
        if message.kind == receipts.RECEIPT and question_id is not None:
            with self.database.transaction() as session:
                return receipts.current(
                    session, network_id=message.network_id, question_id=question_id
                )
        return self.render(message)

    def _target(self, message: OutboundMessage) -> Target | None:
        if message.recipient_id is None:
            return None
        with self.database.transaction() as session:
            person = session.get(Person, message.recipient_id)
            if person is None:
                return None
            user_id = workspace.slack_user_id(person)
            if user_id is None:
                return None
            team_id = workspace.team_of(session, network_id=message.network_id)
            thread = None
            question_id = _question_id(message)
            if question_id is not None:
                thread = session.scalar(
                    select(Question.channel_ref).where(Question.id == question_id)
                )
            ask_id = message.payload.get("ask_id")
            if message.kind in outbound.ASK_THREAD_KINDS and isinstance(ask_id, int):
                # to the person who answered: in the thread of their ask DM, where they reply
                thread = session.scalar(select(Ask.channel_ref).where(Ask.id == ask_id))
            ask_ref, ask_payload, extra, stale = None, None, None, None
            not_before: datetime | None = None
            if message.kind in WAITS_FOR_HOURS and not_before is None:
                hours = hours_of(person, self.clients.settings.slack_working_hours)
                not_before = next_start(self.clock(), timezone=person.timezone, hours=hours)
            if message.kind in WAITS_FOR_HOURS and isinstance(ask_id, int):
                with suppress(NotFound):  # an ask deleted since: its message still goes out
                    snapshot = ask_snapshot(session, network_id=message.network_id, ask_id=ask_id)
                    if message.kind == "ask":
                        extra = {"favours": snapshot.payload["favours"]}
                    if snapshot.status != AskStatus.PENDING:
                        stale = f"the ask is {snapshot.status} already"  # e.g. closed while queued
            if message.kind == "closed" and isinstance(ask_id, int):
                ask = session.get(Ask, ask_id)
                if ask is not None and ask.network_id == message.network_id and ask.channel_ref:
                    ask_ref = ask.channel_ref
                    ask_payload = ask_snapshot(
                        session, network_id=message.network_id, ask_id=ask_id
                    ).payload
                else:
                    shown = _ask_shown(session, ask_id)
                    if shown is None:
                        raise Unavailable(f"ask #{ask_id} is being delivered; closing it after")
                    if not shown:
                        stale = "the ask it withdraws was never shown"
            return Target(team_id, user_id, thread, ask_ref, ask_payload, extra, stale, not_before)

    def _close_ask(
        self, target: Target, where: tuple[str, str], message: OutboundMessage
    ) -> dict[str, Any]:
        """A finished question's ask DM loses its buttons in place instead of a new DM."""
        assert target.ask_payload is not None
        content = outbound.ask_done(target.ask_payload, outbound.closed_note(message.payload))
        client = self.clients.for_team(target.team_id)
        channel, ts = where
        _call(
            client,
            "chat_update",
            channel=channel,
            ts=ts,
            text=content["text"],
            blocks=content["blocks"],
        )
        return {"channel": channel, "ts": ts, "updated": True}

    def _open_dm(self, target: Target) -> str:
        key = (target.team_id, target.user_id)
        with self._lock:
            known = self._dms.get(key)
        if known:
            return known
        client = self.clients.for_team(target.team_id)
        response = _call(client, "conversations_open", users=target.user_id)
        channel = (response.get("channel") or {}).get("id")
        if not isinstance(channel, str) or not channel:
            raise Unavailable("Slack conversations.open returned no channel")
        with self._lock:
            self._dms[key] = channel
        return channel

    def _post(
        self,
        team_id: str | None,
        channel: str,
        content: dict[str, Any],
        key: str,
        thread_ts: str | None,
    ) -> str:
        """Post once: after an unknown outcome, look in the DM before trying again."""
        poster = self.clients.poster(team_id)
        last: Exception | None = None
        for attempt in range(POST_TRIES):
            if attempt > 0:
                found = self._already_posted(team_id, channel, key)
                if found is not None:
                    return found
            try:
                response = poster.chat_postMessage(
                    channel=channel,
                    text=content.get("text", ""),
                    blocks=content.get("blocks"),
                    thread_ts=thread_ts,
                    metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status >= 500:
                    last = exc  # Slack may or may not have posted it
                    continue
                raise Unavailable(f"Slack refused chat.postMessage: {_error(exc)}") from exc
            except CONNECTION_ERRORS as exc:
                last = exc
                continue
            ts = response.get("ts")
            if not isinstance(ts, str):
                raise Unavailable("Slack chat.postMessage returned no ts")
            return ts
        found = self._already_posted(team_id, channel, key)
        if found is not None:
            return found
        raise Unavailable(f"Slack chat.postMessage failed {POST_TRIES} times: {last}")

    def _already_posted(self, team_id: str | None, channel: str, key: str) -> str | None:
        """The ts of a message in ``channel`` carrying ``key`` (top level or in a thread)."""
        client = self.clients.for_team(team_id)
        response = _call(
            client,
            "conversations_history",
            channel=channel,
            limit=HISTORY_LOOKBACK,
            include_all_metadata=True,
        )
        for item in response.get("messages") or []:
            metadata = item.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                ts = item.get("ts")
                return ts if isinstance(ts, str) else None
        return None

    def _remember(self, message: OutboundMessage, channel: str, ts: str, *, threaded: bool) -> None:
        """Keep where an ask DM and a question's thread live, for later updates and replies."""
        ask_id = message.payload.get("ask_id")
        question_id = _question_id(message)
        if not (message.kind == "ask" and isinstance(ask_id, int)) and not threaded:
            return
        with self.database.transaction() as session:
            if message.kind == "ask" and isinstance(ask_id, int):
                session.execute(
                    update(Ask)
                    .where(Ask.id == ask_id, Ask.network_id == message.network_id)
                    .values(channel_ref=ref(channel, ts))
                )
            if threaded and question_id is not None:
                session.execute(
                    update(Question)
                    .where(
                        Question.id == question_id,
                        Question.network_id == message.network_id,
                        Question.channel_ref.is_(None),
                    )
                    .values(channel_ref=ref(channel, ts))
                )


def _ask_shown(session: Session, ask_id: int) -> bool | None:
    """Whether the ask's own DM (the core's outbox key ``ask:<id>``) went out; None while a
    worker is sending it. An ask not sent yet never will be: it is no longer pending."""
    row = session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == f"ask:{ask_id}")
    )
    if row is None:
        return False
    if row.status == "pending" and row.locked_by is not None:
        return None
    return row.status == "sent" and not (row.result or {}).get("skipped")


def _question_id(message: OutboundMessage) -> int | None:
    value = message.payload.get("question_id")
    return value if isinstance(value, int) else None


def _call(client: WebClient, method: str, **kwargs: Any) -> Any:
    """A repeatable Web API call; its client already retried what can be retried."""
    try:
        return getattr(client, method)(**kwargs)
    except SlackApiError as exc:
        raise Unavailable(f"Slack {method.replace('_', '.')} failed: {_error(exc)}") from exc
    except CONNECTION_ERRORS as exc:
        raise Unavailable(f"Slack unreachable ({method.replace('_', '.')}): {exc}") from exc


def _error(exc: SlackApiError) -> str:
    response = exc.response
    if response is None:
        return str(exc)
    data = response.data if isinstance(response.data, dict) else {}
    return str(data.get("error") or f"HTTP {response.status_code}")
