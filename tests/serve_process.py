"""`askaround serve` as a child process on a free local port, for tests that stop or kill it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A local port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(
    database_url: str,
    data_dir: Path,
    port: int,
    *,
    workers: int | None = None,
    environment: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`askaround serve` on 127.0.0.1:``port`` with the test model; ``environment`` adds to or
    overrides the settings it gets."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ASKAROUND_DATABASE_URL": database_url,
        "ASKAROUND_DATA_DIR": str(data_dir),
        "ASKAROUND_MODEL_NAME": "hashing-test",
        **(environment or {}),
    }
    command = [sys.executable, "-m", "askaround", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
