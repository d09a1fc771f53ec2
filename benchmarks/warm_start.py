"""How long a start takes to load every network's index (what `serve` waits for to be ready).

Runs ``Router.warm`` on an existing data directory (e.g. one ``benchmarks.scale --workdir DIR``
left in ``DIR/data``) with fresh services each time. ``--rebuild`` first deletes the saved BM25
files, so the first start rebuilds from every row's text and writes them again; later starts load
them. Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.warm_start --data-dir /tmp/scale100k/data --starts 3 --rebuild
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from askaround.settings import AppSettings
from askaround.wiring import Services
from router.search.saved_text import SUFFIX


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="delete saved BM25 files first")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.rebuild:
        for saved in args.data_dir.rglob(f"*{SUFFIX}"):
            saved.unlink()
    for start in range(1, args.starts + 1):
        services = Services(AppSettings(data_dir=args.data_dir))
        services.router.embedder.encode(["load the model first: only the indexes are timed"])
        began = time.perf_counter()
        with services.database.transaction() as session:
            warmed = services.router.warm(session)
        took = time.perf_counter() - began
        files = sorted(p.name for p in args.data_dir.rglob(f"*{SUFFIX}"))
        print(
            f"start {start}: {len(warmed.loaded)} network(s) warm in {took:.2f} s "
            f"(load average {os.getloadavg()[0]:.1f}); saved BM25 files: {len(files)}"
        )
        services.database.engine.dispose()


if __name__ == "__main__":
    main()
