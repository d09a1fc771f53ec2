"""The parent of ``askaround serve --workers N``: binds the socket once, runs N worker processes on
it, restarts one that dies, and stops them all gracefully on SIGTERM or SIGINT.

Workers are started with ``spawn`` (a fresh interpreter each), so nothing heavy is ever forked:
each builds its own database engine, model and indexes after it starts. The parent imports no
model and holds no database connection while it supervises.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event

from askaround.cli.shutdown import GracefulStop
from router.errors import Unavailable

log = logging.getLogger("askaround.serve")

BACKLOG = 2048
STOP_SECONDS = 60.0  # how long in-flight requests may take to finish after a stop signal
START_TRIES = 5  # a slot that fails to start this often in a row stops the whole server
MAX_BACKOFF = 30.0
CRASH_MEMORY = 60.0  # deaths within this many seconds count towards the next back-off


WORKER_BASE_MB = 350.0  # one serving process before its indexes (model, libraries)
WORKER_KB_PER_ROW = 1.75  # its indexes, per evidence row (522 MB at 100k rows, 2,072 MB at 1M)


def planned_workers(evidence_rows: int, *, cores: int, memory_mb: int) -> int:
    """``--workers auto``: one worker per core, as many as fit ``memory_mb`` when each holds its
    own copy of the indexes; always at least one."""
    each = WORKER_BASE_MB + WORKER_KB_PER_ROW * evidence_rows / 1024
    return max(1, min(cores, int(memory_mb // each)))


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket the workers inherit (connections queue here while they start)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off only on connections of a socket that says TCP
    # (without it every response waits out the client's delayed ACK, ~40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Unavailable(f"cannot bind {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def backoff(deaths: int) -> float:
    """Seconds before restarting a slot that died ``deaths`` times lately (0.5 s, doubling)."""
    return float(min(MAX_BACKOFF, 0.5 * 2 ** max(deaths - 1, 0)))


# A worker's entry point: (slot, the shared socket, an event it sets once it listens).
Target = Callable[[int, socket.socket, Event], None]


@dataclass
class Slot:
    """One worker position: the process in it now and how its recent starts went."""

    number: int
    process: SpawnProcess | None = None
    listening: Event | None = None
    failures: int = 0  # deaths in a row since it last listened
    ever_listened: bool = False
    restart_at: float | None = None
    starts: int = 0
    deaths: list[float] = field(default_factory=list)  # when, for the back-off


class Supervisor:
    """Keeps ``workers`` processes running ``target`` on ``sock`` until a stop signal."""

    def __init__(self, *, target: Target, sock: socket.socket, workers: int) -> None:
        self.target = target
        self.sock = sock
        self.context = multiprocessing.get_context("spawn")
        self.slots = [Slot(number) for number in range(workers)]

    def run(self, stop: GracefulStop) -> None:
        """Supervise until ``stop``; Unavailable (after stopping the rest) when workers cannot
        start: one dies before it ever listened, or a slot fails to start ``START_TRIES`` times."""
        for slot in self.slots:
            self._start(slot)
        try:
            while not stop.wait(0.1):
                for slot in self.slots:
                    self._check(slot)
        except Unavailable:
            self.stop()
            raise
        log.info("stopping %d workers (%s)", len(self.slots), stop.signal_name or "stop")
        self.stop()

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s.process is not None and s.process.pid]

    def _start(self, slot: Slot) -> None:
        slot.listening = self.context.Event()
        slot.process = self.context.Process(
            target=self.target,
            args=(slot.number, self.sock, slot.listening),
            name=f"askaround-serve-{slot.number}",
            daemon=False,
        )
        slot.process.start()
        slot.restart_at = None
        slot.starts += 1
        log.info("worker %d started (pid %s)", slot.number, slot.process.pid)

    def _check(self, slot: Slot) -> None:
        now = time.monotonic()
        if slot.restart_at is not None:
            if now >= slot.restart_at:
                self._start(slot)
            return
        assert slot.process is not None and slot.listening is not None
        if slot.listening.is_set():
            slot.ever_listened = True
            slot.failures = 0
        if slot.process.is_alive():
            return
        slot.process.join()
        code = slot.process.exitcode
        if not slot.listening.is_set():
            slot.failures += 1
        if not slot.ever_listened:
            raise Unavailable(
                f"serve worker {slot.number} exited with code {code} before it listened "
                "(its log is above)"
            )
        if slot.failures >= START_TRIES:
            raise Unavailable(
                f"serve worker {slot.number} failed to start {slot.failures} times in a row "
                f"(last exit code {code}; its log is above)"
            )
        slot.deaths = [t for t in slot.deaths if now - t < CRASH_MEMORY] + [now]
        delay = backoff(len(slot.deaths))
        log.warning(
            "worker %d (pid %s) exited unexpectedly with code %s; restarting in %.1fs",
            slot.number,
            slot.process.pid,
            code,
            delay,
        )
        slot.restart_at = now + delay

    def stop(self) -> None:
        """SIGTERM every worker (each answers the connections already made and finishes its
        in-flight requests), wait, then SIGKILL the ones still running after ``STOP_SECONDS``;
        Unavailable when one had to be killed."""
        running = [s.process for s in self.slots if s.process is not None and s.process.is_alive()]
        for process in running:
            _signal(process, signal.SIGTERM)
        # the port closes (refusing new connections) once the last worker has drained it, not
        # when the slowest in-flight request is done
        self.sock.close()
        deadline = time.monotonic() + STOP_SECONDS
        killed = []
        for process in running:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                _signal(process, signal.SIGKILL)
                process.join(5)
                killed.append(process.pid)
        if killed:
            raise Unavailable(f"serve workers {killed} did not stop in {STOP_SECONDS:.0f}s")


def _signal(process: SpawnProcess, number: signal.Signals) -> None:
    if process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, number)
