"""The courier: a kick delivers in the background; periodic jobs run, one failing job spares the
others; after stop nothing runs."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from bots.courier import Courier
from router.delivery.channels import OutboundMessage
from router.delivery.outbox import enqueue
from router.network.people import ensure_network
from router.storage.database import Database


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.arrived = threading.Event()

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        self.sent.append(message.idempotency_key)
        self.arrived.set()
        return {"ok": True}


def _enqueue(database: Database, now: datetime, key: str) -> None:
    with database.transaction() as session:
        network = ensure_network(session, name="courier", now=now)
        enqueue(
            session,
            network_id=network.id,
            recipient_id=None,
            kind="test",
            payload={},
            idempotency_key=key,
            now=now,
        )


def test_a_kick_delivers_in_the_background(database: Database, now: datetime) -> None:
    channel = Recorder()
    courier = Courier(database=lambda: database, channel=channel, clock=lambda: now)
    _enqueue(database, now, "m1")
    courier.kick()
    assert channel.arrived.wait(10)
    courier.stop()
    assert channel.sent == ["m1"]


def test_periodic_jobs_run_and_a_failing_one_spares_the_others(
    database: Database, now: datetime
) -> None:
    ran: list[str] = []

    def broken(_: datetime) -> None:
        raise RuntimeError("boom")

    def fine(moment: datetime) -> None:
        ran.append(moment.isoformat())

    courier = Courier(
        database=lambda: database,
        channel=Recorder(),
        clock=lambda: now,
        jobs=[("broken", broken), ("fine", fine)],
    )
    courier.run_jobs()
    assert ran == [now.isoformat()]


def test_after_stop_a_kick_does_nothing(database: Database, now: datetime) -> None:
    channel = Recorder()
    courier = Courier(database=lambda: database, channel=channel, clock=lambda: now)
    courier.stop()
    _enqueue(database, now, "m2")
    courier.kick()
    assert not channel.arrived.wait(0.3)
    assert courier.deliver().sent == 1  # an explicit pass still works
