"""Fair routing on a replayed Stack Exchange site: Hit@k, the most asks anyone got in a week and
the Gini of asks, with fairness off and on (see ``router/evaluation/fairness_replay.py``).

Every test question (after the 80th-percentile cutoff, in date order) really asks k people
through the question lifecycle. Prints a table; asserts nothing.

    .venv/bin/python benchmarks/fairness_replay.py [/work/shared/data/stackexchange/beer]
        [--k 3] [--model all-MiniLM-L6-v2 | hashing-test] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from askaround.cli.progress import ProgressBar
from askaround.settings import AppSettings
from askaround.wiring import build_embedder, pin_threads
from router.evaluation.fairness_replay import replay_fairness
from router.ledger.fairness import FairnessRules
from router.storage.database import Database

DEFAULT_SITE = Path("/work/shared/data/stackexchange/beer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=DEFAULT_SITE)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--model", default=None, help="Embedding model (default: the settings').")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N test questions.")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="Keep the replay database here."
    )
    parser.add_argument("--protect-floor", type=float, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="askaround-fairness-"))
    settings = AppSettings(data_dir=data_dir, database_url=None)
    if args.model:
        settings = settings.model_copy(update={"model_name": args.model})
    pin_threads(settings)
    embedder = build_embedder(settings)
    database = Database(settings.resolved_database_url)
    database.migrate()
    rules = None
    if args.protect_floor is not None:
        rules = FairnessRules(protect_floor=args.protect_floor)
    with ProgressBar() as bar:
        replay = replay_fairness(
            folder=args.site,
            database=database,
            settings=settings,
            embedder=embedder,
            k=args.k,
            rules=rules,
            limit=args.limit,
            progress=bar,
        )
    print(json.dumps(replay.as_dict(), indent=2) if args.json else replay.table())


if __name__ == "__main__":
    main()
