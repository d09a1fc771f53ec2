"""Route latency at 10k and 100k evidence rows, in-process and over HTTP, plus embedding throughput.

Synthetic rows (topic-clustered unit vectors, text drawn from a tech vocabulary) stand in for
size; queries are embedded by the real model. The 8 queries repeat, so after the first round
their vectors come from the embedder's memo: the in-process figures are search, ranking and
explanation (the learned ranker against the hand-set blend, taking turns), not encoding
(``benchmarks.scale`` times whole routes on real questions). Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.route_latency [--sizes 10000 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from askaround.settings import AppSettings
from askaround.wiring import Services, build_embedder, pin_threads
from benchmarks.synthetic import NOW, QUERIES, WORDS, percentile, populate
from router.network import people
from router.routing.learned import LearnedRanker
from router.routing.router import Router
from router.search.embedding import Embedder
from router.search.vectors import VectorIndex
from router.storage.database import Database


def time_in_process(
    routers: list[Router], database: Database, network_id: int, n: int
) -> list[list[float]]:
    """Milliseconds per route for each router, taking turns query by query, so a change of load
    on a shared machine weighs on each alike."""
    timings: list[list[float]] = [[] for _ in routers]
    for i in range(n):
        for router, mine in zip(routers, timings, strict=True):
            with database.transaction() as session:
                started = time.perf_counter()
                router.route(
                    session,
                    network_id=network_id,
                    question=QUERIES[i % len(QUERIES)],
                    asker_id=None,
                    k=3,
                    now=NOW,
                )
                mine.append((time.perf_counter() - started) * 1000)
    return timings


def time_parts(router: Router, database: Database, network_id: int, n: int) -> dict[str, float]:
    """Median milliseconds of each stage, measured separately."""
    with database.transaction() as session:
        index = router.indexes.get(session, network_id=network_id)
    parts: dict[str, list[float]] = {"embed query": [], "faiss search": [], "bm25 search": []}
    for i in range(n):
        q = QUERIES[i % len(QUERIES)]
        t0 = time.perf_counter()
        vector = router.embedder.encode([q])[0]
        t1 = time.perf_counter()
        index.vectors.search(vector, 100)
        t2 = time.perf_counter()
        index.lexical.search(q, 100)
        t3 = time.perf_counter()
        parts["embed query"].append((t1 - t0) * 1000)
        parts["faiss search"].append((t2 - t1) * 1000)
        parts["bm25 search"].append((t3 - t2) * 1000)
    return {name: statistics.median(values) for name, values in parts.items()}


def hnsw_recall(
    router: Router, database: Database, network_id: int, n: int = 100
) -> dict[int, tuple[float, float]]:
    """Recall@100 of the approximate index against exact search, and ms per search, by efSearch."""
    with database.transaction() as session:
        index = router.indexes.get(session, network_id=network_id)
    if not index.vectors.approximate:
        return {}
    exact = VectorIndex(index.vectors.dimension, exact_max=10**9, hnsw_m=16, ef_search=16)
    ids, vectors = index.vectors.stored()
    exact.add(ids, vectors)
    rng = np.random.default_rng(11)
    queries = vectors[rng.choice(len(vectors), n, replace=False)] + 0.3 * rng.standard_normal(
        (n, vectors.shape[1])
    ).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = [set(exact.search(q, 100)[0]) for q in queries]
    hnsw = index.vectors.hnsw()
    configured = hnsw.efSearch
    results = {}
    for ef in (128, 256, 512, 1024):
        hnsw.efSearch = ef
        started = time.perf_counter()
        found = [
            len(set(index.vectors.search(q, 100)[0]) & t) / 100
            for q, t in zip(queries, truth, strict=True)
        ]
        results[ef] = (float(np.mean(found)), (time.perf_counter() - started) * 1000 / n)
    hnsw.efSearch = configured
    return results


def time_http(services: Services, network_name: str, n: int) -> list[float] | None:
    try:
        import httpx
        import uvicorn

        from askaround.api.app import create_app
        from router.network.keys import create_key
    except ImportError as exc:
        print(f"  (HTTP skipped: {exc})")
        return None
    with services.database.transaction() as session:
        network = people.get_network(session, name=network_name)
        key = create_key(session, network_id=network.id, label="bench", now=NOW).plaintext
    config = uvicorn.Config(create_app(services), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    timings = []
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        for i in range(n + 5):
            started = time.perf_counter()
            response = client.post(
                "/v1/route", json={"question": QUERIES[i % len(QUERIES)], "asker": None, "k": 3}
            )
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            if i >= 5:
                timings.append(elapsed)
    server.should_exit = True
    thread.join(timeout=10)
    return timings


def embedding_throughput(embedder: Embedder, n: int = 512) -> float:
    pick = random.Random(1)
    texts = [" ".join(pick.choices(WORDS, k=60)) for _ in range(n)]
    embedder.encode(texts[:32])
    started = time.perf_counter()
    embedder.encode(texts)
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--compare-lightgbm",
        action="store_true",
        help="also time the same model scored and explained by LightGBM instead of its tables",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        settings = AppSettings(
            data_dir=base / "data", database_url=os.environ.get("ASKAROUND_BENCH_DATABASE_URL")
        )
        pin_threads(settings)
        embedder = build_embedder(settings)
        print(
            f"embedding throughput (import, batch {settings.embedding_batch_size}, 60-word texts): {embedding_throughput(embedder):.0f} texts/s"
        )
        for size in args.sizes:
            database = Database(settings.resolved_database_url)
            database.migrate()
            t0 = time.perf_counter()
            network_id, _ = populate(  # vectors stamped with the model that routes (searched)
                database,
                size=size,
                dimension=embedder.dimension,
                name=f"bench-{size}",
                model=embedder.name,
            )
            services = Services(settings=settings, embedder_override=embedder)
            services.__dict__["database"] = database
            router = services.router
            t1 = time.perf_counter()
            with database.transaction() as session:
                index = router.indexes.get(session, network_id=network_id)
            t2 = time.perf_counter()
            kind = "HNSW" if index.vectors.approximate else "exact"
            print(
                f"\n== {size:,} evidence rows ({kind} index; db insert {t1 - t0:.1f}s, index build {t2 - t1:.1f}s, {database.engine.dialect.name})"
            )
            with database.transaction() as session:
                model = router.ranker_for(network_id)
            hand = Router(
                database=database,
                embedder=embedder,
                settings=settings.model_copy(update={"learned_ranking": False}),
            )
            hand.indexes = router.indexes  # the same index: only the ranking differs
            routers = [router, hand]
            if args.compare_lightgbm and model is not None:  # the same model, untabled
                plain = Router(database=database, embedder=embedder, settings=settings)
                plain.indexes = router.indexes
                untabled = LearnedRanker.from_booster(model.booster, kind="untabled", meta={})
                untabled.__dict__["table"] = None  # scores and TreeSHAP from LightGBM itself
                plain.ranker_override = untabled
                routers.append(plain)
            time_in_process(routers, database, network_id, 10)
            timings, baseline, *rest = time_in_process(routers, database, network_id, args.queries)
            print(
                f"  in-process route ({model.name if model else 'hand-set'}): p50 {percentile(timings, 0.5):.1f} ms, p99 {percentile(timings, 0.99):.1f} ms  (n={len(timings)})"
            )
            print(
                f"  in-process route (hand-set, taking turns with the above): p50 {percentile(baseline, 0.5):.1f} ms, p99 {percentile(baseline, 0.99):.1f} ms  (n={len(baseline)})"
            )
            print(
                f"  learned / hand-set p50: {percentile(timings, 0.5) / percentile(baseline, 0.5):.2f}"
            )
            for other in rest:
                print(
                    f"  in-process route (the same model untabled: LightGBM's predict and pred_contrib): p50 {percentile(other, 0.5):.1f} ms, p99 {percentile(other, 0.99):.1f} ms, / hand-set {percentile(other, 0.5) / percentile(baseline, 0.5):.2f}"
                )
            for name, ms in time_parts(router, database, network_id, 50).items():
                print(f"    {name:>13}: {ms:.2f} ms median")
            for ef, (recall, ms) in hnsw_recall(router, database, network_id).items():
                print(
                    f"  HNSW efSearch {ef:>4}: recall@100 vs exact {recall:.3f}, {ms:.2f} ms/search"
                )
            http = time_http(services, f"bench-{size}", args.queries)
            if http:
                print(
                    f"  HTTP POST /v1/route: p50 {percentile(http, 0.5):.1f} ms, p99 {percentile(http, 0.99):.1f} ms  (n={len(http)})"
                )
            database.dispose()


if __name__ == "__main__":
    main()
