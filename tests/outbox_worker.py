"""A bare outbox worker process for the fault suite: delivers through a log file until killed.

python -m tests.outbox_worker DATABASE_URL LOG_FILE
Short leases (1 s) and small batches, so a killed worker's claims come back within the test.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.delivery.channels import LogChannel
from router.delivery.outbox import RetryPolicy, deliver_due
from router.storage.database import Database

RETRY = RetryPolicy(lease=timedelta(seconds=1), base_delay=timedelta(milliseconds=100))


def main(url: str, log_file: str) -> None:
    database = Database(url)
    channel = LogChannel(Path(log_file))
    worker_id = f"fault-{os.getpid()}"
    while True:
        report = deliver_due(
            database, channel, now=datetime.now(UTC), worker_id=worker_id, batch=3, retry=RETRY
        )
        if not report.claimed:
            time.sleep(0.02)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
