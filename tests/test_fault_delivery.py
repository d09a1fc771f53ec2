"""Delivery under crashes and stops: nothing lost, nothing twice, whatever kills a worker when.

Two worker processes SIGKILLed at random points deliver every message exactly once, because the
log channel checks its file (durable, shared) and not a process's memory; a worker asked to stop
(SIGTERM, or SIGINT when started in the background) finishes its message and hands back the rest.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import select

from router.delivery.channels import LogChannel, OutboundMessage
from router.delivery.outbox import enqueue, outbox_counts
from router.network.people import ensure_network
from router.storage.database import Database
from router.storage.schema import OutboxMessage

ROOT = Path(__file__).resolve().parents[1]


def _message(key: str, attempt: int = 1) -> OutboundMessage:
    return OutboundMessage(
        id=1,
        network_id=1,
        recipient_id=None,
        kind="ask",
        payload={},
        idempotency_key=key,
        attempt=attempt,
    )


def _keys(path: Path) -> Counter[str]:
    keys: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            keys[json.loads(line)["idempotency_key"]] += 1
        except ValueError:
            continue
    return keys


def test_log_channel_skips_a_key_another_worker_wrote_after_it_started(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    first, second = LogChannel(path), LogChannel(path)
    assert "duplicate" not in second.send(_message("ask:0"))  # both have looked at the file
    first.send(_message("ask:637", attempt=1))  # written, then its worker died unrecorded
    assert second.send(_message("ask:637", attempt=2))["duplicate"] is True
    assert _keys(path) == Counter({"ask:0": 1, "ask:637": 1})


def test_log_channel_carries_on_after_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    LogChannel(path).send(_message("ask:1"))
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"idempotency_key": "ask:2", "torn')  # killed mid-write
    channel = LogChannel(path)
    channel.send(_message("ask:2"))
    channel.send(_message("ask:3"))
    assert _keys(path) == Counter({"ask:1": 1, "ask:2": 1, "ask:3": 1})


def _enqueue(database: Database, count: int) -> set[str]:
    now = datetime.now(UTC)
    with database.transaction() as session:
        network_id = ensure_network(session, name="faults", now=now).id
        keys = {f"ask:{n}" for n in range(count)}
        for key in sorted(keys):
            enqueue(
                session,
                network_id=network_id,
                recipient_id=None,
                kind="ask",
                payload={"n": key},
                idempotency_key=key,
                now=now,
            )
    return keys


def _environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def _wait_until(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.1)
    return False


def test_two_workers_killed_at_random_points_deliver_every_message_exactly_once(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    keys = _enqueue(database, 120)
    log = tmp_path / "outbox.jsonl"
    command = [sys.executable, "-m", "tests.outbox_worker", database_url, str(log)]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, cwd=ROOT, env=_environment())

    chance = random.Random(8)
    workers = [start(), start()]
    kills = 0
    try:
        for _ in range(6):  # fewer kills than the outbox's 8 attempts: nothing can die of them
            time.sleep(chance.uniform(0.3, 1.2))
            victim = chance.randrange(2)
            workers[victim].send_signal(signal.SIGKILL)
            workers[victim].wait(timeout=30)
            kills += 1
            workers[victim] = start()

        def drained() -> bool:
            with database.transaction() as session:
                return outbox_counts(session)["pending"] == 0

        assert _wait_until(drained, 90), "the outbox did not drain"
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(timeout=30)
    assert kills == 6
    delivered = _keys(log)
    assert set(delivered) == keys
    assert [key for key, count in delivered.items() if count > 1] == []
    with database.transaction() as session:
        assert outbox_counts(session) == {"pending": 0, "sent": len(keys), "dead": 0}


class SlowWebhook(BaseHTTPRequestHandler):
    """Takes 50 ms per message and records each Idempotency-Key it received."""

    received: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(0.05)
        type(self).received.append(self.headers["Idempotency-Key"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[str]]]:
    received: ClassVar[list[str]] = []
    handler = type("Hook", (SlowWebhook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT in the background"])
def test_worker_asked_to_stop_finishes_its_message_and_hands_back_the_rest(
    database: Database,
    database_url: str,
    tmp_path: Path,
    webhook: tuple[str, list[str]],
    stop: str,
) -> None:
    url, received = webhook
    keys = _enqueue(database, 200)
    background = stop.startswith("SIGINT")

    def ignore_sigint() -> None:  # what a shell does for `cmd &`
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "askaround",
            "worker",
            "--channel",
            "webhook",
            "--url",
            url,
            "--batch",
            "200",
            "--interval",
            "0.1",
        ],
        cwd=ROOT,
        env=_environment(
            ASKAROUND_DATABASE_URL=database_url, ASKAROUND_DATA_DIR=str(tmp_path / "data")
        ),
        preexec_fn=ignore_sigint if background else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert _wait_until(lambda: len(received) >= 3, 60), "the worker sent nothing"
        worker.send_signal(signal.SIGINT if background else signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, err.decode()
    assert b"stopped by SIG" in out
    assert len(received) < len(keys)  # it stopped long before the end of the batch
    with database.transaction() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert [row.id for row in rows if row.locked_by is not None] == []  # nothing left leased
    sent = {row.idempotency_key for row in rows if row.status == "sent"}
    assert sent == set(received) and len(received) == len(set(received))
    pending = [row for row in rows if row.status == "pending"]
    assert len(pending) == len(keys) - len(sent)
    assert {row.attempts for row in pending} == {0}  # handed back untried, not counted
