"""The bot's background worker: delivers the outbox now and then, and runs the periodic jobs.

``kick()`` asks for a delivery pass soon (after a request committed messages); a single thread
does the passes, so kicks coalesce and a slow Slack never blocks a request. Every
``interval`` seconds the thread also runs the jobs (lifecycle tick, weekly summary, clean-up)
and delivers what they enqueued and what is due for a retry. Two bots on two machines can run
side by side: the outbox leases rows and the jobs are idempotent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from router.delivery.channels import Channel
from router.delivery.outbox import (
    DeliveryReport,
    Held,
    RetryPolicy,
    deliver_due,
    held_messages,
    release_held,
)
from router.storage.database import Database

log = logging.getLogger(__name__)

MAX_PASSES = 20
Job = Callable[[datetime], object]


def worker_name() -> str:
    return f"slack@{socket.gethostname()}:{os.getpid()}"


def dead_here(worker_id: str) -> bool:
    """A worker of this machine (``[slack@]host:pid``) whose process no longer runs."""
    host, _, pid = worker_id.removeprefix("slack@").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


class Courier:
    """Delivers outbox messages through one channel, on a kick or on a timer."""

    def __init__(
        self,
        *,
        database: Callable[[], Database],
        channel: Channel,
        clock: Callable[[], datetime],
        jobs: Sequence[tuple[str, Job]] = (),
        retry: RetryPolicy | None = None,
        worker_id: str | None = None,
    ) -> None:
        self._database = database
        self.channel = channel
        self.clock = clock
        self.jobs = list(jobs)
        self.retry = retry
        self.worker_id = worker_id or worker_name()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._interval: float | None = None
        self._stopped = False

    def deliver(self) -> DeliveryReport:
        """Deliver everything due now, pass after pass, until nothing is left (or a cap)."""
        totals = {"claimed": 0, "sent": 0, "retrying": 0, "dead": 0, "lost": 0}
        for _ in range(MAX_PASSES):
            report = deliver_due(
                self._database(),
                self.channel,
                now=self.clock(),
                worker_id=self.worker_id,
                retry=self.retry,
            )
            for key, value in report.as_dict().items():
                totals[key] += value
            if report.claimed == 0 or report.sent == 0:
                break
        return DeliveryReport(**totals)

    def release_dead_workers(self) -> int:
        """Free what crashed workers of this machine claimed, instead of waiting out the lease."""
        with self._database().transaction() as session:
            held = held_messages(session, now=self.clock())
            dead = [h.worker_id for h in held if dead_here(h.worker_id)]
            released = release_held(session, worker_ids=dead)
        if released:
            log.warning("released %d messages claimed by crashed workers %s", released, dead)
        return released

    def held(self) -> list[Held]:
        """Messages other live workers hold right now (each is sent by them or freed later)."""
        with self._database().transaction() as session:
            return held_messages(session, now=self.clock())

    def run_jobs(self) -> None:
        """Run each periodic job once; one failing job does not stop the others."""
        now = self.clock()
        for name, job in self.jobs:
            try:
                job(now)
            except Exception:
                log.exception("periodic job %s failed; it runs again next interval", name)

    def kick(self) -> None:
        """Deliver soon, in the background (unless the courier was stopped)."""
        if self._ensure_thread(restart=False):
            self._wake.set()

    def start(self, interval: float = 60.0) -> None:
        """Also run the periodic jobs every ``interval`` seconds."""
        self._interval = interval
        try:
            self.release_dead_workers()
        except Exception:
            log.exception("releasing crashed workers' messages failed; their leases run out")
        self._ensure_thread(restart=True)
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread; later kicks do nothing until ``start``."""
        with self._lock:
            self._stopped = True
            thread, self._thread = self._thread, None
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    def _ensure_thread(self, *, restart: bool) -> bool:
        with self._lock:
            if self._stopped and not restart:
                return False
            if restart:
                self._stopped = False
                self._stop.clear()
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(target=self._loop, name="askaround-courier", daemon=True)
                thread.start()
                self._thread = thread
            return True

    def _loop(self) -> None:
        last_jobs = 0.0
        while not self._stop.is_set():
            interval = self._interval
            if interval is not None and time.monotonic() - last_jobs >= interval:
                last_jobs = time.monotonic()
                self.run_jobs()
            try:
                self.deliver()
            except Exception:
                log.exception("outbox delivery failed; it is retried on the next pass")
            self._wake.wait(timeout=interval if interval is not None else 60.0)
            self._wake.clear()
