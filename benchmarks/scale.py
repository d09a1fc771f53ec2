"""Routing at 10k / 100k / 1M evidence rows on realistic rows, side by side with what a user would write.

Real answers from the shared Stack Exchange sites (embedded once by the real model) are repeated as
paraphrases — the vector moved by noise to a cosine of about 0.85, a few words dropped — to fill
each size, so real question titles find real dense matches at every size. For each size, in one
process and interleaved on the same real question titles:

* the project: ``Router.route`` (ONNX query encoding, FAISS + BM25, ranking, availability, reasons);
* the baseline a user would write: sentence-transformers ``encode`` + a search of the *same*
  FAISS index + summing scores per person;
* ANN recall@100 of the index against exact search, on real question vectors;
* the first route after a write (a committed insert, then the route that applies it);
* with ``--http``: ``askaround serve`` as a subprocess (``--workers N`` passed on) — time to
  healthy, time to ready, RSS per worker, and HTTP routes/s at concurrency 1 and 4 and their ratio.

Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.scale [--sizes 10000 100000] [--queries 200] [--http] [--workers N]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from askaround.settings import AppSettings
from askaround.wiring import build_embedder, pin_threads
from benchmarks.real_rows import DEFAULT_SITES, RealRows, load_real_rows
from benchmarks.synthetic import NOW, percentile
from router.network import people
from router.routing.router import Router
from router.search.embedding import SentenceTransformerEmbedder
from router.search.vectors import VectorIndex
from router.storage.database import Database
from router.storage.schema import Evidence, ExternalId, Network, Person

PARAPHRASE_NOISE = 0.035  # per-dimension noise; cosine to the original ≈ 0.85 at 384 dimensions


def populate(database: Database, real: RealRows, *, size: int, model: str, seed: int = 3) -> int:
    """A network of ``size`` rows paraphrasing the real ones; people scale with the size (kept
    from an earlier run in the same ``--workdir`` when it is there)."""
    with database.transaction() as session:
        existing = session.scalar(select(Network.id).where(Network.name == f"scale-{size}"))
    if existing is not None:
        return int(existing)
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    copies = max(size // len(real.texts), 1)
    bases = np.arange(size) % len(real.texts)
    picks = rng.integers(0, copies, size).tolist()
    owners = [f"{real.owners[b]}#{c}" for b, c in zip(bases.tolist(), picks, strict=True)]
    with database.transaction() as session:
        network_id = people.ensure_network(session, name=f"scale-{size}", now=NOW).id
        names = list(dict.fromkeys(owners))  # people in bulk: one insert per 5000, not per person
        for start in range(0, len(names), 5000):
            session.execute(
                insert(Person),
                [
                    {"network_id": network_id, "display_name": name, "created_at": NOW}
                    for name in names[start : start + 5000]
                ],
            )
        person_of = {
            name: pid
            for pid, name in session.execute(
                select(Person.id, Person.display_name).where(Person.network_id == network_id)
            )
        }
        for start in range(0, len(names), 5000):
            session.execute(
                insert(ExternalId),
                [
                    {"network_id": network_id, "person_id": person_of[name], "value": f"s:{name}"}
                    for name in names[start : start + 5000]
                ],
            )
        span = (NOW - NOW.replace(year=2024)).total_seconds()
        for start in range(0, size, 5000):
            chunk = bases[start : start + 5000]
            vectors = real.vectors[chunk] + PARAPHRASE_NOISE * rng.standard_normal(
                (len(chunk), real.vectors.shape[1])
            ).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ages = rng.random(len(chunk)) * span
            rows = []
            for offset, base in enumerate(chunk.tolist()):
                n = start + offset
                words = real.texts[base].split()
                if n >= len(real.texts) and len(words) > 6:
                    drop = set(pick.sample(range(len(words)), len(words) // 6))
                    words = [w for i, w in enumerate(words) if i not in drop]
                rows.append(
                    {
                        "network_id": network_id,
                        "person_id": person_of[owners[n]],
                        "kind": "answer",
                        "text": " ".join(words),
                        "context": real.contexts[base],
                        "source": "bench",
                        "weight": 1.0,
                        "created_at": NOW - timedelta(seconds=float(ages[offset])),
                        "embedding": vectors[offset].astype(np.float32).tobytes(),
                        "embedding_model": model,
                    }
                )
            session.execute(insert(Evidence), rows)
        return int(network_id)


def profile_routes(
    router: Router, database: Database, network_id: int, real: RealRows, n: int
) -> None:
    """Where a route's time goes: cProfile over ``n`` routes, then over routes after writes."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(n):
        route_once(router, database, network_id, real.questions[(i * 11) % len(real.questions)])
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    profiler = cProfile.Profile()
    profiler.enable()
    first_route_after_write(router, database, network_id, real, n=10)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line.split()[1] for line in status if line.startswith("VmRSS"))) / 1024


def serving_rss(pid: int) -> list[float]:
    """RSS in MB of each process that serves: ``serve``'s workers, or ``serve`` itself."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"spawn_main" in (stat.parent / "cmdline").read_bytes():
                workers.append(rss_mb(int(stat.parent.name)))
        except (OSError, ValueError, StopIteration):
            continue
    return workers or [rss_mb(pid)]


def describe_rss(pid: int) -> str:
    sizes = serving_rss(pid)
    each = ", ".join(f"{mb:.0f}" for mb in sizes)
    return f"{each} MB" if len(sizes) == 1 else f"{each} MB per worker ({sum(sizes):.0f} MB)"


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def baseline_route(
    model: SentenceTransformerEmbedder, vectors: VectorIndex, owner: dict[int, int], q: str
) -> list[int]:
    """What a user would write: encode, search, sum the scores per person, take the top 3."""
    query = model.encode([q])[0]
    ids, scores = vectors.search(query, 100)
    totals: dict[int, float] = defaultdict(float)
    for i, s in zip(ids.tolist(), scores.tolist(), strict=True):
        totals[owner[i]] += s
    return sorted(totals, key=totals.__getitem__, reverse=True)[:3]


def route_once(router: Router, database: Database, network_id: int, question: str) -> float:
    with database.transaction() as session:
        started = time.perf_counter()
        router.route(session, network_id=network_id, question=question, asker_id=None, k=3, now=NOW)
        return (time.perf_counter() - started) * 1000


def recall(router: Router, database: Database, network_id: int, real: RealRows) -> str:
    with database.transaction() as session:
        index = router.indexes.get(session, network_id=network_id)
    if not index.vectors.approximate:
        return "exact index (recall 1.0)"
    queries = router.embedder.encode(real.questions[:200])
    ids, vectors = index.vectors.stored()
    found = []
    for q in queries:
        truth = ids[np.argsort(-(vectors @ q))[:100]]
        found.append(len(set(truth.tolist()) & set(index.vectors.search(q, 100)[0].tolist())) / 100)
    return f"HNSW recall@100 on {len(queries)} real questions: {np.mean(found):.3f}"


def first_route_after_write(
    router: Router, database: Database, network_id: int, real: RealRows, n: int = 50
) -> list[float]:
    timings = []
    with database.transaction() as session:
        person_id = people.ensure_person(
            session, network_id=network_id, external_ids=["s:writer"], display_name="W", now=NOW
        ).id
    for i in range(n):
        with database.transaction() as session:
            session.execute(
                insert(Evidence),
                [
                    {
                        "network_id": network_id,
                        "person_id": person_id,
                        "kind": "answer",
                        "text": real.texts[i],
                        "context": real.contexts[i],
                        "source": "bench-write",
                        "weight": 1.0,
                        "created_at": NOW,
                        "embedding": real.vectors[i].tobytes(),
                        "embedding_model": router.embedder.name,
                    }
                ],
            )
        router.indexes.invalidate(network_id)  # what the API does after its commit
        timings.append(route_once(router, database, network_id, real.questions[i]))
    return timings


def http_rate(
    base: str, key: str, questions: list[str], concurrency: int, seconds: float
) -> tuple[float, int]:
    """Routes per second over HTTP with ``concurrency`` clients for ``seconds``, and errors."""
    import httpx

    counts = {"done": 0, "errors": 0}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def hammer(offset: int) -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
        ) as client:
            i = offset
            while time.monotonic() < stop:
                q = questions[i % len(questions)]
                ok = client.post("/v1/route", json={"question": q, "k": 3}).status_code == 200
                with lock:
                    counts["done" if ok else "errors"] += 1
                i += 7

    threads = [threading.Thread(target=hammer, args=(c * 1000,)) for c in range(concurrency)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts["done"] / (time.monotonic() - began), counts["errors"]


def serve_figures(
    settings: AppSettings, network_id: int, real: RealRows, seconds: float, workers: int = 1
) -> None:
    import httpx

    from router.network.keys import create_key

    database = Database(settings.resolved_database_url)
    with database.transaction() as session:
        key = create_key(session, network_id=network_id, label="bench", now=NOW).plaintext
    port = 8700 + os.getpid() % 200
    env = {
        **os.environ,
        "ASKAROUND_DATA_DIR": str(settings.data_dir),
        "ASKAROUND_DATABASE_URL": settings.resolved_database_url,
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from askaround.cli import main; main()",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    healthy = ready = None
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            while time.monotonic() - started < 1800 and ready is None:
                try:
                    body = client.get("/v1/health").json()
                    healthy = healthy or time.monotonic() - started
                    if body.get("ready"):
                        ready = time.monotonic() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        warm: set[int] = set()  # every worker ready, not just the first: fresh connections
        while len(warm) < workers and time.monotonic() - started < 1800:
            body = httpx.get(f"{base}/v1/health", timeout=60).json()
            if body.get("ready"):
                warm.add(body.get("worker", 0))
            time.sleep(0.05)
        print(
            f"  serve --workers {workers}: healthy after {healthy or float('nan'):.1f}s, ready after {ready or float('nan'):.1f}s; RSS when ready {describe_rss(process.pid)}"
        )
        rates = {}
        for concurrency in (1, 4):
            rate, errors = http_rate(base, key, real.questions, concurrency, seconds)
            rates[concurrency] = rate
            print(f"  HTTP concurrency {concurrency}: {rate:.1f} routes/s, {errors} errors")
        print(
            f"  c4 / c1: {rates[4] / rates[1]:.2f}x; serve RSS {describe_rss(process.pid)} (load average {load_average()})"
        )
    finally:
        process.terminate()
        process.wait(timeout=60)
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--http", action="store_true")
    parser.add_argument(
        "--http-only",
        action="store_true",
        help="Only the serve figures (on the --workdir database; the in-process run saved its index).",
    )
    parser.add_argument("--http-seconds", type=float, default=15.0)
    parser.add_argument(
        "--workers", type=int, default=1, help="`askaround serve --workers N` for the HTTP figures."
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="Keep the database and saved indexes here between runs (default: a temporary one).",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="cProfile this many routes and print the top."
    )
    parser.add_argument("--sites", nargs="+", default=list(DEFAULT_SITES))
    parser.add_argument(
        "--real-max", type=int, default=None, help="Use only this many real answers."
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        settings = AppSettings(
            data_dir=(args.workdir or Path(tmp)) / "data",
            database_url=os.environ.get("ASKAROUND_BENCH_DATABASE_URL"),
        )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        pin_threads(settings)
        embedder = build_embedder(settings)
        # what a user writes by hand: the published model, as sentence-transformers loads it
        baseline_model = SentenceTransformerEmbedder("all-MiniLM-L6-v2", threads=1)
        real = load_real_rows(embedder, sites=tuple(args.sites), limit=args.real_max)
        print(
            f"real rows: {len(real.texts)} answers, {len(real.questions)} question titles; encoder {type(embedder).__name__}"
        )
        summary: dict[int, float] = {}
        for size in args.sizes:
            database = Database(settings.resolved_database_url)
            database.migrate()
            t0 = time.perf_counter()
            network_id = populate(database, real, size=size, model=embedder.name)
            if args.http_only:
                print(f"\n== {size:,} rows: serve only (load average {load_average()})")
                serve_figures(settings, network_id, real, args.http_seconds, args.workers)
                database.dispose()
                continue
            router = Router(database=database, embedder=embedder, settings=settings)
            t1 = time.perf_counter()
            rss_before = rss_mb(os.getpid())
            with database.transaction() as session:
                index = router.indexes.get(session, network_id=network_id)
            t2 = time.perf_counter()
            router.indexes.save_changed()  # a rerun in the same --workdir loads the vectors
            rss_after = rss_mb(os.getpid())
            evidence_ids = index.evidence.ids()
            owner = dict(
                zip(
                    evidence_ids.tolist(), index.evidence.owners(evidence_ids).tolist(), strict=True
                )
            )
            kind = "HNSW" if index.vectors.approximate else "exact"
            print(
                f"\n== {size:,} rows ({kind}; insert {t1 - t0:.0f}s, index build {t2 - t1:.0f}s, {database.engine.dialect.name}; load average {load_average()})"
            )
            print(
                f"  process RSS {rss_before:.0f} MB before the index, {rss_after:.0f} MB after (index structures ≈ {rss_after - rss_before:.0f} MB)"
            )
            questions = real.questions
            for q in questions[:10]:
                route_once(router, database, network_id, q)
                baseline_route(baseline_model, index.vectors, owner, q)
            ours, theirs = [], []
            for i in range(args.queries):
                q = questions[(i * 7) % len(questions)]
                ours.append(route_once(router, database, network_id, q))
                started = time.perf_counter()
                baseline_route(baseline_model, index.vectors, owner, q)
                theirs.append((time.perf_counter() - started) * 1000)
            p50, base50 = statistics.median(ours), statistics.median(theirs)
            summary[size] = p50
            print(
                f"  project route p50 {p50:.1f} / p99 {percentile(ours, 0.99):.1f} ms; baseline p50 {base50:.1f} / p99 {percentile(theirs, 0.99):.1f} ms; ratio {p50 / base50:.2f} (load average {load_average()})"
            )
            if args.profile:
                profile_routes(router, database, network_id, real, args.profile)
            print(f"  {recall(router, database, network_id, real)}")
            after = first_route_after_write(router, database, network_id, real)
            print(
                f"  first route after a write: p50 {statistics.median(after):.1f} ms, p99 {percentile(after, 0.99):.1f} ms, max {max(after):.1f} ms (n={len(after)})"
            )
            router.indexes.save_changed()
            if args.http:
                serve_figures(settings, network_id, real, args.http_seconds, args.workers)
            del router, index, owner
            database.dispose()
        sizes = sorted(summary)
        for small, big in itertools.pairwise(sizes):
            print(f"p50 at {big:,} / p50 at {small:,}: {summary[big] / summary[small]:.2f}")


if __name__ == "__main__":
    main()
