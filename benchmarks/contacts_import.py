"""Import speed of a LinkedIn ``Connections.csv``: the whole ``askaround import linkedin``, twice.

A synthetic file of ``--contacts`` connections (a third without an email, 300 companies, five
positions) goes into a fresh SQLite database in a subprocess, then again (every row already
known). Prints wall seconds and the command's own summary for both.

    .venv/bin/python -m benchmarks.contacts_import [--contacts 5000]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from router.importers.contacts import LINKEDIN_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
POSITIONS = ("Engineer", "Data Scientist", "Product Manager", "Designer", "CTO")


def write_connections(path: Path, n: int) -> None:
    with path.open("w", newline="") as out:
        out.write('Notes:\n"When exporting your connection data..."\n\n')
        writer = csv.writer(out)
        writer.writerow(LINKEDIN_COLUMNS)
        for i in range(n):
            writer.writerow(
                [
                    f"First{i}",
                    f"Last{i}",
                    f"https://www.linkedin.com/in/person-{i}",
                    f"p{i}@ex{i % 50}.com" if i % 3 else "",
                    f"Company {i % 300}",
                    POSITIONS[i % len(POSITIONS)],
                    "12 Mar 2024",
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Connections.csv"
        write_connections(path, args.contacts)
        env = os.environ | {
            "ASKAROUND_DATA_DIR": str(Path(tmp) / "data"),
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
        }
        command = [sys.executable, "-c", "from askaround.cli import main; main()"]
        for label in ("first import", "re-import"):
            started = time.perf_counter()
            done = subprocess.run(
                [*command, "import", "linkedin", str(path), "-n", "mine"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = time.perf_counter() - started
            summary = done.stdout.strip().splitlines()[-1]
            print(f"{label}: {seconds:.1f} s ({summary}; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
