"""The API under load: `askaround serve` in its own process(es), real model, synthetic network.

Prints, per database: routes/s, p50 and p99 of ``POST /v1/route`` at each concurrency, then
write throughput for asks (``POST /v1/questions``) and answers (``POST /v1/asks/{id}/answer``),
every status seen, and the server's memory after each step. Asserts nothing.

    .venv/bin/python -m benchmarks.api_load                       # SQLite
    .venv/bin/python -m benchmarks.api_load --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    options: --size 10000 --routes 160 --concurrency 1 4 16 --writes 120 --servers 1
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from askaround.settings import AppSettings
from askaround.wiring import build_embedder
from benchmarks.scratch_schema import scratch_schema
from benchmarks.synthetic import NOW, QUERIES, percentile, populate
from router.network.keys import create_key
from router.storage.database import Database
from router.storage.schema import ExternalId

ROOT = Path(__file__).resolve().parents[1]
DIMENSION = 384  # all-MiniLM-L6-v2, the model `askaround serve` loads by default


@dataclass
class Step:
    """What one load step measured."""

    name: str
    seconds: float
    timings: list[float]
    statuses: Counter[int]

    def line(self, unit: str) -> str:
        done = len(self.timings)
        return (
            f"  {self.name:<28} {done / self.seconds:6.1f} {unit}/s  "
            f"p50 {percentile(self.timings, 0.5):7.1f} ms  p99 {percentile(self.timings, 0.99):7.1f} ms"
            f"  statuses {dict(sorted(self.statuses.items()))}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def _servers(url: str, data_dir: Path, count: int) -> Iterator[list[tuple[str, int]]]:
    """``count`` `askaround serve` processes on one database: (base url, pid) each."""
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ASKAROUND_DATABASE_URL": url,
        "ASKAROUND_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    processes = []
    try:
        for _ in range(count):
            port = _free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "askaround", "serve", "--port", str(port)],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            processes.append((f"http://127.0.0.1:{port}", process))
        for base, process in processes:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
                if process.poll() is not None:
                    raise RuntimeError(f"the server at {base} exited")
        yield [(base, process.pid) for base, process in processes]
    finally:
        for _, process in processes:
            process.terminate()
            process.wait(timeout=60)


def _load(
    clients: list[httpx.Client], calls: list[Callable[[httpx.Client], httpx.Response]], c: int
) -> tuple[float, list[float], Counter[int], list[httpx.Response]]:
    """Run ``calls`` at concurrency ``c``, spread over the servers' clients."""
    pairs = list(zip(cycle(clients), calls, strict=False))

    def timed(pair: tuple[httpx.Client, Callable[[httpx.Client], httpx.Response]]) -> Any:
        client, call = pair
        started = time.perf_counter()
        try:
            response = call(client)
        except httpx.HTTPError:
            return (time.perf_counter() - started) * 1000, None
        return (time.perf_counter() - started) * 1000, response

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=c) as pool:
        results = list(pool.map(timed, pairs))
    seconds = time.perf_counter() - started
    statuses = Counter(r.status_code if r is not None else 0 for _, r in results)
    ok = [ms for ms, r in results if r is not None and r.status_code < 400]
    return seconds, ok, statuses, [r for _, r in results if r is not None]


def _route(client: httpx.Client, *, question: str) -> httpx.Response:
    return client.post("/v1/route", json={"question": question, "k": 3})


def _ask(client: httpx.Client, *, asker: str, question: str) -> httpx.Response:
    return client.post("/v1/questions", json={"question": question, "asker": asker, "k": 3})


def _answer(client: httpx.Client, *, ask_id: int, person: str) -> httpx.Response:
    return client.post(f"/v1/asks/{ask_id}/answer", json={"person": person, "text": "alert rules"})


def run(url: str, label: str, args: argparse.Namespace) -> None:
    database = Database(url)
    database.migrate()
    started = time.perf_counter()
    # vectors stamped with the name of the model `askaround serve` loads, or none is searched
    model = build_embedder(AppSettings()).name
    network_id, people = populate(
        database, size=args.size, dimension=DIMENSION, name="load", model=model
    )
    with database.transaction() as session:
        key = create_key(session, network_id=network_id, label="load", now=NOW).plaintext
        rows = session.execute(
            select(ExternalId.person_id, ExternalId.value).where(
                ExternalId.network_id == network_id
            )
        ).all()
        external = {int(person_id): str(value) for person_id, value in rows}
    print(
        f"\n== {label}: {args.size:,} evidence rows, {people} people "
        f"(populated in {time.perf_counter() - started:.0f}s), {args.servers} server(s)"
    )
    headers = {"Authorization": f"Bearer {key}"}
    with tempfile.TemporaryDirectory() as tmp, _servers(url, Path(tmp), args.servers) as servers:
        limits = httpx.Limits(max_connections=64)
        clients = [
            httpx.Client(base_url=base, headers=headers, timeout=120, limits=limits)
            for base, _ in servers
        ]
        # The first few dozen routes after a start are slow (the model's kernels warm up), at
        # any concurrency: they are run first and left out of every figure.
        warm = [partial(_route, question=QUERIES[i % len(QUERIES)]) for i in range(64)]
        _load(clients, warm, 4)
        memory = " / ".join(f"{_rss_mb(pid):.0f}" for _, pid in servers)
        print(f"  server memory after warm-up (64 routes, not counted): {memory} MB")
        for c in args.concurrency:
            n = max(args.routes if c > 1 else args.routes // 4, c)
            calls = [partial(_route, question=QUERIES[i % len(QUERIES)]) for i in range(n)]
            _load(clients, calls[: max(2 * c, 16)], c)  # warm every connection and thread
            seconds, timings, statuses, _ = _load(clients, calls, c)
            print(Step(f"POST /v1/route  c={c:<2}", seconds, timings, statuses).line("routes"))
            memory = " / ".join(f"{_rss_mb(pid):.0f}" for _, pid in servers)
            print(f"    server memory: {memory} MB")
        askers = sorted(external.values())
        ask_calls = [
            partial(
                _ask, asker=askers[i % len(askers)], question=f"{QUERIES[i % len(QUERIES)]} {i}"
            )
            for i in range(args.writes)
        ]
        seconds, timings, statuses, responses = _load(clients, ask_calls, args.write_concurrency)
        print(
            Step(f"POST /v1/questions c={args.write_concurrency}", seconds, timings, statuses).line(
                "asks"
            )
        )
        asks = [
            ask
            for response in responses
            if response.status_code == 201
            for ask in response.json()["question"]["asks"]
        ][: args.writes]
        answer_calls = [
            partial(_answer, ask_id=ask["id"], person=external[ask["person_id"]]) for ask in asks
        ]
        seconds, timings, statuses, _ = _load(clients, answer_calls, args.write_concurrency)
        print(
            Step(
                f"POST /v1/asks/.../answer c={args.write_concurrency}", seconds, timings, statuses
            ).line("answers")
        )
        for client in clients:
            client.close()
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="also run on this PostgreSQL (a fresh schema)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--size", type=int, default=10_000, help="evidence rows")
    parser.add_argument("--routes", type=int, default=160, help="routes per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--writes", type=int, default=120, help="asks, then as many answers")
    parser.add_argument("--write-concurrency", type=int, default=16)
    parser.add_argument("--servers", type=int, default=1, help="API processes on one database")
    args = parser.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/load.db", "SQLite", args)
    if args.postgres:
        with scratch_schema(args.postgres, prefix="load") as url:
            run(url, "PostgreSQL", args)


if __name__ == "__main__":
    main()
