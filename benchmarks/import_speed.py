"""Import speed side by side: the whole ``askaround import stackexchange`` of a site, old and new.

Each run is the real command in a fresh process into a fresh database (SQLite, or a new
PostgreSQL schema with ``--postgres URL``), timed from start to exit, so model loading, parsing,
writing and embedding all count. "old" is the code when issue #10 was filed (``BASELINE``,
checked out into a temporary ``git worktree``), "new" is this tree; both run on this venv with
``PYTHONPATH`` pointing at their tree. Runs alternate old, new, old, new… so load on this shared
machine falls on both alike; the load average is printed with each run.

    .venv/bin/python -m benchmarks.import_speed [--site ../shared/data/stackexchange/beer]
        [--rounds 2] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.scratch_schema import scratch_schema

ROOT = Path(__file__).resolve().parent.parent
# The parent of 8dd524e, the first commit of the #10 work (change log, ONNX, bulk imports).
BASELINE = "ebda2fe8547b47bb4cf0fac9e174d5114f6cf25b"
DEFAULT_SITE = ROOT.parent / "shared" / "data" / "stackexchange" / "beer"
CLI = "from askaround.cli import main; main()"
CREATED = re.compile(r"evidence (\d+) new")


@contextmanager
def baseline_tree(commit: str) -> Iterator[Path]:
    """A temporary worktree of ``commit`` (its models/ folder linked to this tree's)."""
    folder = Path(tempfile.mkdtemp(prefix="askaround-baseline-"))
    tree = folder / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), commit],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    try:
        yield tree
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True
        )
        subprocess.run(["rm", "-rf", str(folder)], check=False)


@contextmanager
def fresh_database(postgres: str | None, data: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in ``data``, or a new PostgreSQL schema."""
    if postgres is None:
        yield f"sqlite:///{data / 'import.db'}"
        return
    with scratch_schema(postgres) as url:
        yield url


def run_import(
    tree: Path, site: Path, postgres: str | None, model: str | None = None
) -> tuple[float, int]:
    """Seconds for the whole command and how many evidence rows it imported."""
    with tempfile.TemporaryDirectory() as data, fresh_database(postgres, Path(data)) as url:
        env = (
            os.environ
            | ({"ASKAROUND_MODEL_NAME": model} if model else {})
            | {
                "PYTHONPATH": str(tree),
                "ASKAROUND_DATA_DIR": data,
                "ASKAROUND_DATABASE_URL": url,
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
            }
        )
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", CLI, "import", "stackexchange", str(site), "-n", "site"],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import in {tree} failed:\n{done.stderr[-2000:]}")
    found = CREATED.search(done.stdout)
    if found is None:
        raise SystemExit(f"no import summary from {tree}:\n{done.stdout}")
    return seconds, int(found.group(1))


def warm(tree: Path, model: str | None) -> None:
    """Build what the tree makes once per checkout (the ONNX export), outside the timing."""
    code = (
        "from askaround.settings import AppSettings; from askaround.wiring import build_embedder; "
        "build_embedder(AppSettings()).encode(['warm'])"
    )
    env = os.environ | ({"ASKAROUND_MODEL_NAME": model} if model else {})
    env |= {"PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument(
        "--model", default=None, help="the new tree's embedding model (default: its setting)"
    )
    args = parser.parse_args()
    site = args.site.resolve()
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{site.name} into a fresh {where} database; old = {args.baseline[:7]}, new = this tree"
        f" (model {args.model or 'as set'})"
    )
    rates: dict[str, list[float]] = {"old": [], "new": []}
    walls: dict[str, list[float]] = {"old": [], "new": []}
    with baseline_tree(args.baseline) as old:
        warm(ROOT, args.model)
        for round_ in range(1, args.rounds + 1):
            for name, tree in (("old", old), ("new", ROOT)):
                load = os.getloadavg()[0]
                model = args.model if name == "new" else None
                seconds, rows = run_import(tree, site, args.postgres, model)
                rates[name].append(rows / seconds)
                walls[name].append(seconds)
                print(
                    f"  round {round_} {name}: {rows} rows in {seconds:.1f}s = "
                    f"{rows / seconds:.1f} rows/s (load average {load:.1f} -> "
                    f"{os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    old_rate, new_rate = statistics.median(rates["old"]), statistics.median(rates["new"])
    print(
        f"median: old {old_rate:.1f} rows/s ({statistics.median(walls['old']):.0f}s), "
        f"new {new_rate:.1f} rows/s ({statistics.median(walls['new']):.0f}s); "
        f"new / old = {new_rate / old_rate:.2f}x"
    )
    pairs = [n / o for o, n in zip(rates["old"], rates["new"], strict=True)]
    print("per round new / old: " + ", ".join(f"{ratio:.2f}x" for ratio in pairs))


if __name__ == "__main__":
    main()
