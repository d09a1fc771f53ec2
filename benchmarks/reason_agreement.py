"""How often a route's reasons are the same when the pool's average is estimated from a sample.

A reason is the kind of feature that set a chosen person apart from the pool's average
(``learned.pool_drivers``); past ``POOL_SAMPLE`` others the average comes from an even sample.
This routes real question titles over a ``benchmarks.scale`` workdir with the exact average and
with each sample size, and counts routes and candidates whose kinds of reason (in order) match.

    .venv/bin/python -m benchmarks.reason_agreement --workdir DIR [--questions 100] [--samples 24 8]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

import router.routing.learned as learned
from askaround.settings import AppSettings
from askaround.wiring import build_embedder, pin_threads
from benchmarks.real_rows import load_real_rows
from router.routing.router import Router
from router.storage.database import Database
from router.storage.schema import Network

Kinds = list[list[tuple[str, ...]]]


def reason_kinds(router: Router, database: Database, questions: list[str], sample: int) -> Kinds:
    """Each route's candidates' kinds of reason, with the pool's average from ``sample`` others."""
    learned.POOL_SAMPLE = sample
    with database.transaction() as session:
        network_id = int(session.scalar(select(Network.id).order_by(Network.id)) or 0)
    found = []
    for question in questions:
        with database.transaction() as session:
            route = router.route(
                session,
                network_id=network_id,
                question=question,
                asker_id=None,
                k=3,
                now=datetime.now(UTC),
            )
        found.append([tuple(reason.kind for reason in c.reasons) for c in route.candidates])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--samples", type=int, nargs="+", default=[24, 8])
    args = parser.parse_args()
    settings = AppSettings(data_dir=args.workdir / "data")
    pin_threads(settings)
    database = Database(settings.resolved_database_url)
    router = Router(database=database, embedder=build_embedder(settings), settings=settings)
    questions = load_real_rows(None).questions[: args.questions * 3 : 3]
    exact = reason_kinds(router, database, questions, sample=10**9)
    candidates = sum(len(route) for route in exact)
    for sample in args.samples:
        got = reason_kinds(router, database, questions, sample)
        routes = sum(a == b for a, b in zip(exact, got, strict=True))
        same = sum(
            x == y for a, b in zip(exact, got, strict=True) for x, y in zip(a, b, strict=True)
        )
        print(
            f"sample of {sample}: routes with the same reasons {routes}/{len(exact)}, "
            f"candidates {same}/{candidates}"
        )


if __name__ == "__main__":
    main()
