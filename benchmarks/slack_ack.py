"""Slack /ask at 100k evidence rows: time from the signed slash-command request to its ack, and to
the last ask DM the fake Slack receives, through the real bolt app served by uvicorn.

Synthetic rows (topic-clustered unit vectors, text from a tech vocabulary, as in
``route_latency.py``) stand in for size; each question is embedded and routed for real. Questions
are sent one after another, each from a different asker, and each waits for its DMs, so the
figures are latencies; then a burst of questions at once shows acks stay fast while routing
queues. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/slack_ack.py [--size 100000] [--questions 50]
        [--burst 20] [--model all-MiniLM-L6-v2 | hashing-test] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from askaround.settings import AppSettings
from askaround.wiring import Services, pin_threads
from benchmarks.synthetic import percentile, populate
from bots.http import mount_slack
from bots.runtime import SlackBot
from router.storage.schema import Ask, Question
from tests import slack_signing
from tests.fake_slack import TEAM_ID, FakeSlack

QUESTIONS = [
    "what tool do you use to analyse retention cohorts?",
    "how do you tune noisy grafana alerts at night?",
    "dbt incremental models on snowflake, any advice?",
    "which payment provider handles EU VAT invoices?",
    "how do you run postgres migrations without downtime?",
    "kafka or flink for event streaming pipelines?",
    "how do you interview senior engineers?",
    "best way to deploy pytorch models behind an api?",
]


def serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, int]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, int(server.servers[0].sockets[0].getsockname()[1])


def ask_once(
    client: httpx.Client, fake: FakeSlack, bot: SlackBot, *, n: int, asker: str
) -> tuple[float, float, float, int]:
    """One /ask: ms to the ack, to the asker's receipt, to the last DM; and how many DMs."""
    posted_before = fake.count("chat.postMessage")
    receipts_before = fake.count("response_url")
    body = slack_signing.slash_command_body(
        QUESTIONS[n % len(QUESTIONS)], user_id=asker, response_url=fake.response_url(f"q{n}")
    )
    headers = slack_signing.signed_headers(body)
    started = time.perf_counter()
    response = client.post("/slack/events", content=body.encode(), headers=headers)
    acked = time.perf_counter()
    response.raise_for_status()
    fake.wait_for("response_url", receipts_before + 1, timeout=120)
    receipt = time.perf_counter()
    with bot.transaction() as session:
        latest = session.scalar(select(func.max(Question.id)))
        asks = int(session.scalar(select(func.count(Ask.id)).where(Ask.question_id == latest)) or 0)
    fake.wait_for("chat.postMessage", posted_before + asks, timeout=120)
    last_dm = time.perf_counter()
    return (
        (acked - started) * 1000,
        (receipt - started) * 1000,
        (last_dm - started) * 1000,
        asks,
    )


def burst(
    client: httpx.Client, fake: FakeSlack, bot: SlackBot, *, n: int, population: int
) -> dict[str, Any]:
    """``n`` /ask at once: every ack time, and the time until all their DMs arrived."""
    posted_before = fake.count("chat.postMessage")
    receipts_before = fake.count("response_url")
    with bot.transaction() as session:
        asks_before = int(session.scalar(select(func.count(Ask.id))) or 0)
    acks: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        body = slack_signing.slash_command_body(
            QUESTIONS[i % len(QUESTIONS)],
            user_id=f"U{(4000 + i * 13) % population:06d}",
            response_url=fake.response_url(f"b{i}"),
        )
        started = time.perf_counter()
        response = client.post(
            "/slack/events", content=body.encode(), headers=slack_signing.signed_headers(body)
        )
        response.raise_for_status()
        with lock:
            acks.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fake.wait_for("response_url", receipts_before + n, timeout=600)
    with bot.transaction() as session:
        asks = int(session.scalar(select(func.count(Ask.id))) or 0) - asks_before
    fake.wait_for("chat.postMessage", posted_before + asks, timeout=600)
    return {
        "questions": n,
        "ack_p50_ms": round(statistics.median(acks), 1),
        "ack_p99_ms": round(percentile(acks, 0.99), 1),
        "ack_max_ms": round(max(acks), 1),
        "all_dms_ms": round((time.perf_counter() - started) * 1000, 1),
        "dms": asks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--model", default=None, help="Embedding model (default: the settings').")
    parser.add_argument(
        "--burst", type=int, default=20, help="Then this many /ask at once (0: skip)."
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    fake = FakeSlack().start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(
            data_dir=Path(tmp) / "data",
            database_url=os.environ.get("ASKAROUND_BENCH_DATABASE_URL"),
            slack_signing_secret=slack_signing.SECRET,
            slack_bot_token="xoxb-bench",
            slack_api_url=fake.api_url,
        )
        if args.model:
            settings = settings.model_copy(update={"model_name": args.model})
        pin_threads(settings)
        services = Services(settings=settings)
        embedder = services.embedder
        started = time.perf_counter()
        _, population = populate(
            services.database,
            size=args.size,
            model=embedder.name,
            dimension=embedder.dimension,
            name="bench-slack",
            id_prefix="slack:U",
            team_id=TEAM_ID,
        )
        print(
            f"{args.size} evidence rows over {population} people, model {embedder.name}, "
            f"database {services.database.engine.dialect.name} "
            f"(built in {time.perf_counter() - started:.0f}s)",
            file=sys.stderr,
        )
        bot = SlackBot(services, clock=lambda: datetime.now(UTC), jobs=[])
        app = FastAPI()
        mount_slack(app, services, bot=bot, run_courier=False)
        server, thread, port = serve(app)
        results: dict[str, Any] = {"size": args.size, "people": population, "model": embedder.name}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            cold = ask_once(client, fake, bot, n=0, asker="U000000")
            results["cold"] = {"ack_ms": cold[0], "receipt_ms": cold[1], "last_dm_ms": cold[2]}
            acks, receipts, last_dms, dms = [], [], [], []
            for n in range(1, args.questions + 1):
                ack, receipt, last_dm, count = ask_once(
                    client, fake, bot, n=n, asker=f"U{(n * 37) % population:06d}"
                )
                acks.append(ack)
                receipts.append(receipt)
                last_dms.append(last_dm)
                dms.append(count)
            if args.burst:
                results["burst"] = burst(client, fake, bot, n=args.burst, population=population)
        server.should_exit = True
        thread.join(timeout=10)
        bot.close()
        services.database.dispose()
    fake.stop()
    for name, values in (("ack", acks), ("receipt", receipts), ("last_dm", last_dms)):
        results[name] = {
            "p50_ms": round(statistics.median(values), 1),
            "p99_ms": round(percentile(values, 0.99), 1),
            "max_ms": round(max(values), 1),
        }
    results["questions"] = len(acks)
    results["dms_per_question"] = round(statistics.mean(dms), 2)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"/ask over HTTP with the fake Slack, {args.size} evidence rows, {len(acks)} questions")
    print(
        f"  cold first ask (index load): ack {cold[0]:.0f} ms, receipt {cold[1]:.0f} ms, "
        f"last DM {cold[2]:.0f} ms"
    )
    for label, key in (
        ("request -> ack", "ack"),
        ("request -> receipt", "receipt"),
        ("request -> last DM", "last_dm"),
    ):
        r = results[key]
        print(f"  {label:<20} p50 {r['p50_ms']:>8.1f} ms   p99 {r['p99_ms']:>8.1f} ms")
    print(f"  DMs per question: {results['dms_per_question']}")
    if "burst" in results:
        b = results["burst"]
        print(
            f"  burst of {b['questions']} at once: ack p50 {b['ack_p50_ms']:.1f} ms, "
            f"p99 {b['ack_p99_ms']:.1f} ms, max {b['ack_max_ms']:.1f} ms; "
            f"all {b['dms']} DMs after {b['all_dms_ms']:.0f} ms"
        )


if __name__ == "__main__":
    main()
