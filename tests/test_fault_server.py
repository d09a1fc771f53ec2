"""``askaround serve`` killed with SIGKILL in the middle of a stream of writes: restarted, it
serves at once, every write it acknowledged is there, and the database checks clean (SQLite's
integrity and foreign-key checks; on both, every ask has its outbox message and nothing dangles)."""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from router.network.keys import create_key
from router.network.people import ensure_network
from router.storage.database import Database
from router.storage.schema import Ask, OutboxMessage, Person, Question
from tests.serve_process import free_port, start_serve


def _wait_healthy(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not become healthy")


def test_server_killed_during_writes_restarts_clean_with_every_acknowledged_write(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    with database.transaction() as session:
        network_id = ensure_network(session, name="crash", now=now).id
        key = create_key(session, network_id=network_id, now=now).plaintext
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_serve(database_url, tmp_path / "data", port)
    acknowledged: dict[str, list[int]] = {"people": [], "questions": []}
    stop = threading.Event()

    def write(worker: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for n in range(10_000):
                if stop.is_set():
                    return
                ext = f"t:{worker}-{n}"
                try:
                    person = client.post("/v1/people", json={"name": ext, "external_ids": [ext]})
                    if person.status_code != 201:
                        continue
                    acknowledged["people"].append(person.json()["id"])
                    client.post(
                        f"/v1/people/{person.json()['id']}/evidence",
                        json={"kind": "interest", "text": f"grafana dashboards {n}"},
                    )
                    asked = client.post(
                        "/v1/questions", json={"question": "grafana dashboards?", "asker": ext}
                    )
                    if asked.status_code == 201:
                        acknowledged["questions"].append(asked.json()["question"]["id"])
                except httpx.HTTPError:
                    return  # the server is gone

    try:
        _wait_healthy(url)
        writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for thread in writers:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged["questions"]) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
        stop.set()
        for thread in writers:
            thread.join(timeout=30)
        assert acknowledged["questions"], "no write was acknowledged before the kill"
        server = start_serve(database_url, tmp_path / "data", port)
        _wait_healthy(url)
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for person_id in acknowledged["people"]:
                assert client.get(f"/v1/people/{person_id}").status_code == 200
            for question_id in acknowledged["questions"]:
                assert client.get(f"/v1/questions/{question_id}").status_code == 200
            after = client.post("/v1/people", json={"name": "After", "external_ids": ["t:after"]})
            assert after.status_code == 201
    finally:
        server.kill()
        server.wait(timeout=30)
    with database.transaction() as session:
        if database.is_sqlite:
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert session.execute(text("PRAGMA foreign_key_check")).all() == []
        asks = session.scalars(select(Ask.id)).all()
        messages = set(
            session.scalars(
                select(OutboxMessage.idempotency_key).where(
                    OutboxMessage.idempotency_key.like("ask:%")
                )
            )
        )
        assert {f"ask:{ask_id}" for ask_id in asks} == messages  # stored with what caused them
        questions = session.scalar(select(func.count(Question.id))) or 0
        assert questions >= len(acknowledged["questions"])
        people = session.scalar(select(func.count(Person.id))) or 0
        assert people >= len(acknowledged["people"]) + 1
