"""Driving the real bolt app over HTTP: a FastAPI app with the Slack mount, signed requests, a clock.

``SlackHarness`` posts requests exactly as Slack would (signed, form-encoded or JSON) through
Starlette's test client, with the bot's clock under the test's control.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, or_, select

from askaround.wiring import Services
from bots import messages
from bots.http import mount_slack
from bots.runtime import SlackBot
from router.delivery.outbox import outbox_counts
from router.network import people
from router.search.backfill import embed_pending
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import OutboxMessage, Person
from tests import slack_signing
from tests.conftest import PG_URL
from tests.fake_slack import FakeSlack
from tests.slack_world import add_members, member

HttpResponse = Any  # what starlette's test client returns (an httpx2 or httpx response)


@dataclass
class Clock:
    at: datetime

    def __call__(self) -> datetime:
        return self.at


@dataclass
class SlackHarness:
    services: Services
    bot: SlackBot
    client: TestClient
    fake: FakeSlack
    clock: Clock
    people: dict[str, int] = field(default_factory=dict)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the outbox has nothing pending (every queued message delivered)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.bot.transaction() as session:
                if outbox_counts(session)["pending"] == 0:
                    return
            assert time.monotonic() < deadline, "the outbox never emptied"
            time.sleep(0.02)

    def idle(self, timeout: float = 10.0) -> None:
        """Wait until every queued message was tried at least once and no worker holds one."""
        deadline = time.monotonic() + timeout
        while True:
            with self.bot.transaction() as session:
                busy = session.scalar(
                    select(func.count(OutboxMessage.id)).where(
                        or_(OutboxMessage.locked_by.is_not(None), OutboxMessage.attempts == 0),
                        OutboxMessage.status == "pending",
                    )
                )
            if not busy:
                return
            assert time.monotonic() < deadline, "the courier never went idle"
            time.sleep(0.02)

    def post(
        self,
        body: str,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        secret: str = slack_signing.SECRET,
    ) -> HttpResponse:
        signed = slack_signing.signed_headers(
            body, secret=secret, timestamp=timestamp, content_type=content_type
        )
        return self.client.post(
            "/slack/events", content=body.encode(), headers={**signed, **(headers or {})}
        )

    def slash(self, text: str, *, user: str, hook: str = "cmd") -> HttpResponse:
        return self.post(
            slack_signing.slash_command_body(
                text, user_id=user, response_url=self.fake.response_url(hook)
            )
        )

    def click(
        self, action_id: str, value: str, *, user: str, channel: str, ts: str, hook: str = "act"
    ) -> HttpResponse:
        return self.post(
            slack_signing.block_action_body(
                action_id=action_id,
                value=value,
                user_id=user,
                channel_id=channel,
                message_ts=ts,
                response_url=self.fake.response_url(hook),
            )
        )

    def submit(
        self,
        *,
        callback_id: str,
        private_metadata: str,
        values: dict[str, Any],
        user: str,
        timestamp: int | None = None,
    ) -> HttpResponse:
        return self.post(
            slack_signing.view_submission_body(
                callback_id=callback_id,
                private_metadata=private_metadata,
                values=values,
                user_id=user,
            ),
            timestamp=timestamp,
        )

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str,
        retry: int | None = None,
        timestamp: int | None = None,
    ) -> HttpResponse:
        headers = (
            {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            if retry
            else None
        )
        return self.post(
            slack_signing.event_body(event, event_id=event_id),
            content_type="application/json",
            headers=headers,
            timestamp=timestamp,
        )


def buttons(call_params: dict[str, Any]) -> dict[str, str]:
    """action id -> value of every button in a posted message."""
    blocks = call_params.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return {
        element["action_id"]: element["value"]
        for block in blocks
        if block.get("type") == "actions"
        for element in block["elements"]
    }


def text_of(call_params: dict[str, Any]) -> str:
    """Everything a message, a reply or a view shows, as one string to search."""
    view = call_params.get("view")
    if isinstance(view, str):
        view = json.loads(view)
    shown = view.get("blocks") if isinstance(view, dict) else call_params.get("blocks")
    return json.dumps(shown or [], ensure_ascii=False) + str(call_params.get("text") or "")


def is_receipt(call_params: dict[str, Any]) -> bool:
    """Whether a chat.postMessage was an asker's receipt DM (bots.receipts)."""
    metadata = call_params.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return str((metadata.get("event_payload") or {}).get("key", "")).startswith("receipt:")


def dms(h: SlackHarness) -> list[dict[str, Any]]:
    """Every chat.postMessage except the askers' receipts (counted by their own tests)."""
    return [c.params for c in h.fake.calls("chat.postMessage") if not is_receipt(c.params)]


def updated(h: SlackHarness, *channels: str, timeout: float = 10.0) -> dict[str, str]:
    """channel -> what the last chat.update there shows, once each of ``channels`` has one."""
    deadline = time.monotonic() + timeout
    while True:
        shown = {u.params["channel"]: text_of(u.params) for u in h.fake.calls("chat.update")}
        if all(c in shown for c in channels):
            return shown
        assert time.monotonic() < deadline, f"no chat.update in each of {channels}"
        time.sleep(0.02)


def relayed(h: SlackHarness, channel: str = "DUANA", timeout: float = 10.0) -> tuple[Any, str]:
    """The first answer relayed to ``channel`` (as posted) and its ts, once it arrives."""
    deadline = time.monotonic() + timeout
    while True:
        for call in h.fake.calls("chat.postMessage"):
            if call.params["channel"] == channel and messages.CONNECT in buttons(call.params):
                ts = next(
                    m["ts"] for m in h.fake.messages(channel) if messages.CONNECT in buttons(m)
                )
                return call.params, ts
        assert time.monotonic() < deadline, f"no answer was relayed to {channel}"
        time.sleep(0.02)


def answer_as(h: SlackHarness, user: str, dm: dict[str, Any], answer: str) -> None:
    """``user`` presses Answer on their ask DM and submits ``answer`` in the modal."""
    channel = f"D{user}"
    ask_id = buttons(dm)[messages.ANSWER]
    ts = next(m["ts"] for m in h.fake.messages(channel) if buttons(m))
    before = h.fake.count("views.open")
    h.click(messages.ANSWER, ask_id, user=user, channel=channel, ts=ts)
    opened = h.fake.wait_for("views.open", before + 1)[-1]
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    response = h.submit(
        callback_id=messages.ANSWER_MODAL,
        private_metadata=view["private_metadata"],
        values={messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": answer}}},
        user=user,
    )
    assert response.status_code == 200


class GatedRouter:
    """The real router, held at a gate: routing waits until the test opens it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.entered = threading.Event()

    def route(self, session: Any, **kwargs: Any) -> Any:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return self.inner.route(session, **kwargs)


TEAM = [
    member("UANA", "Ana"),
    member("UBO", "Bo", tz="America/New_York"),
    member("UCY", "Cy", tz="Asia/Tokyo"),
    member("UDEE", "Dee"),
]
EVIDENCE = {
    "UBO": (
        "Which hop for a hazy IPA?",
        "Citra and Mosaic hops, dry hopped late, give a hazy IPA its juice.",
    ),
    "UCY": (
        "Hop schedule for a NEIPA?",
        "Whirlpool hops at 80C then a big dry hop of Galaxy hops for the IPA.",
    ),
    "UDEE": ("How to proof sourdough?", "Proof the sourdough overnight in the fridge for flavour."),
}


def seed(database: Database, now: datetime, embedder: HashingEmbedder) -> dict[str, int]:
    ids = add_members(database, now, *TEAM)
    with database.transaction() as session:
        person = session.get(Person, ids["UANA"])
        assert person is not None
        network_id = person.network_id
        for user, (question, answer) in EVIDENCE.items():
            people.add_evidence(
                session,
                network_id=network_id,
                person_id=ids[user],
                kind="answer",
                text=answer,
                context=question,
                source="test",
                source_key=f"seed:{user}",
                created_at=now,
            )
        embed_pending(session, network_id=network_id, embedder=embedder)
    return ids


@pytest.fixture
def harness(
    slack_settings: Settings, fake_slack: FakeSlack, database: Database, now: datetime
) -> Iterator[SlackHarness]:
    embedder = HashingEmbedder()
    services = Services(settings=slack_settings, embedder_override=embedder)
    services.__dict__["database"] = database
    clock = Clock(now)
    bot = SlackBot(services, clock=clock, jobs=[])
    app = FastAPI()
    mount_slack(app, services, bot=bot, run_courier=False)
    ids = seed(database, now, embedder)
    with TestClient(app) as client:
        yield SlackHarness(services, bot, client, fake_slack, clock, ids)
    bot.close()


# in the database, or (SQLite only, while another writer holds its one lock) in the spool files
SPOOLED_OR_NOT = pytest.mark.parametrize(
    "spooled",
    [
        False,
        pytest.param(
            True, marks=pytest.mark.skipif(bool(PG_URL), reason="SQLite's one write lock")
        ),
    ],
)


@contextmanager
def sqlite_busy(h: SlackHarness) -> Iterator[None]:
    """While an import holds SQLite's write lock: the bot spools what it acknowledges."""
    importer = sqlite3.connect(h.bot.database.engine.url.database or "", timeout=10)
    importer.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        importer.rollback()
        importer.close()
