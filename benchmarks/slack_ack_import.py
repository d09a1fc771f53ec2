"""Slack /ask while a bulk import writes: ack times, and whether every acknowledged question was
asked, through the real bolt app served by uvicorn and the fake Slack.

An import holds the database's write lock for seconds at a time (on SQLite, the only lock).
Here a thread writes evidence in transactions of ``--chunk`` rows, back to back, for
``--seconds``, the way ``askaround import`` does, while /ask requests arrive every
``--every`` seconds. Before issue 9 each request wrote before its ack and waited out the lock
(500 after 10 s); now the ack records the request with a short wait, spooling it to disk when
the database is busy, and it is asked after. Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.slack_ack_import [--seconds 20] [--every 0.25] [--chunk 20000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from askaround.settings import AppSettings
from askaround.wiring import Services
from benchmarks.slack_ack import QUESTIONS, serve
from benchmarks.synthetic import percentile, populate
from bots.http import mount_slack
from bots.inbox import SPOOL
from bots.runtime import SlackBot
from router.storage.schema import Evidence, Person, Question
from tests import slack_signing
from tests.fake_slack import TEAM_ID, FakeSlack


def importer(services: Services, network_id: int, *, seconds: float, chunk: int) -> list[float]:
    """Write evidence in big transactions for ``seconds``; how long each transaction held."""
    held: list[float] = []
    with services.database.transaction() as session:
        person_id = session.scalar(select(Person.id).where(Person.network_id == network_id))
    stop = time.monotonic() + seconds
    n = 0
    while time.monotonic() < stop:
        started = time.perf_counter()
        with services.database.transaction() as session:
            rows = [
                {
                    "network_id": network_id,
                    "person_id": person_id,
                    "kind": "answer",
                    "text": f"imported answer {n + i} about kafka, grafana and dbt",
                    "context": "an imported thread",
                    "source": "bench-import",
                    "source_key": f"bench-import:{n + i}",
                    "weight": 1.0,
                    "created_at": datetime.now(UTC),
                }
                for i in range(chunk)
            ]
            session.execute(insert(Evidence), rows)
        held.append(time.perf_counter() - started)
        n += chunk
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--every", type=float, default=0.25)
    parser.add_argument("--chunk", type=int, default=20_000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    fake = FakeSlack().start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(
            data_dir=Path(tmp) / "data",
            database_url=os.environ.get("ASKAROUND_BENCH_DATABASE_URL"),
            model_name="hashing-test",
            slack_signing_secret=slack_signing.SECRET,
            slack_bot_token="xoxb-bench",
            slack_api_url=fake.api_url,
        )
        services = Services(settings=settings)
        network_id, population = populate(
            services.database,
            size=2000,
            model=services.embedder.name,
            dimension=services.embedder.dimension,
            name="bench-import",
            id_prefix="slack:U",
            team_id=TEAM_ID,
        )
        bot = SlackBot(services, clock=lambda: datetime.now(UTC), jobs=[])
        app = FastAPI()
        mount_slack(app, services, bot=bot, run_courier=False)
        server, thread, port = serve(app)
        held: list[float] = []
        writer = threading.Thread(
            target=lambda: held.extend(
                importer(services, network_id, seconds=args.seconds, chunk=args.chunk)
            )
        )
        acks: list[float] = []
        statuses: list[int] = []
        spooled = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            writer.start()
            n = 0
            while writer.is_alive():
                body = slack_signing.slash_command_body(
                    QUESTIONS[n % len(QUESTIONS)],
                    user_id=f"U{(n * 37) % population:06d}",
                    response_url=fake.response_url(f"q{n}"),
                )
                started = time.perf_counter()
                response = client.post(
                    "/slack/events",
                    content=body.encode(),
                    headers=slack_signing.signed_headers(body),
                )
                acks.append((time.perf_counter() - started) * 1000)
                statuses.append(response.status_code)
                spooled = max(spooled, len(list((settings.data_dir / SPOOL).glob("*.json"))))
                n += 1
                time.sleep(args.every)
            writer.join()
            import_done = time.perf_counter()
            fake.wait_for("response_url", n, timeout=300)
            caught_up = time.perf_counter() - import_done
        with bot.transaction() as session:
            asked = int(session.scalar(select(func.count(Question.id))) or 0)
        server.should_exit = True
        thread.join(timeout=10)
        bot.close()
        services.database.dispose()
    fake.stop()
    ok = sum(1 for status in statuses if status == 200)
    print(
        f"/ask during an import ({services.database.engine.dialect.name}): {len(acks)} requests "
        f"over {args.seconds:.0f} s, import transactions held the lock "
        f"p50 {statistics.median(held):.2f} s, max {max(held):.2f} s ({len(held)} transactions)"
    )
    print(
        f"  ack p50 {statistics.median(acks):.0f} ms, p99 {percentile(acks, 0.99):.0f} ms, "
        f"max {max(acks):.0f} ms; {ok}/{len(acks)} acknowledged with 200; "
        f"up to {spooled} spooled at once"
    )
    print(
        f"  questions asked: {asked} of {len(acks)}; the last receipt {caught_up:.1f} s "
        "after the import ended"
    )


if __name__ == "__main__":
    main()
