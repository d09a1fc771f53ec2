"""``askaround serve``: the HTTP API under uvicorn.

``--network N`` is the network served to requests that carry no API key. Because that opens the
network's data without credentials, it is a local development mode: it is refused unless the
server binds a loopback address, and even then keyless requests may only read (``POST /v1/route``
and the ``GET`` endpoints); every write needs a key, and a key, when sent, always decides.

``--workers N`` (N > 1) runs N processes on one socket under ``askaround.cli.supervisor``: a
route holds the GIL for most of its Python work, so one process gains little from a second
request. Each worker has its own model, indexes (following the change log) and courier; only
worker 0 writes index files.

SIGTERM or SIGINT stops gracefully: running requests finish, connections already established
are answered (``503 shutting_down`` when their request came too late), then the port closes and
new connections are refused (``askaround.cli.drain``).
"""

from __future__ import annotations

import ctypes
import functools
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from types import FrameType
from typing import Annotated, Literal

import typer

from askaround.cli.app import app, services
from askaround.cli.shutdown import SIGNALS, GracefulStop
from askaround.cli.supervisor import Supervisor, bind_socket, planned_workers
from askaround.settings import AppSettings
from askaround.wiring import Services
from router.errors import InvalidInput
from router.network.directory import count_all_evidence
from router.network.people import get_network
from router.search.onnx_encoder import available_cores

log = logging.getLogger("askaround.serve")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    network: Annotated[
        str | None,
        typer.Option(
            "--network",
            "-n",
            help="Serve this network to requests without a key (read-only; loopback hosts only).",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to bind.")] = 8000,
    workers: Annotated[
        str | None,
        typer.Option(
            "--workers",
            "-w",
            help="Processes serving the one socket, each with its own model and indexes: 1 to "
            "64, or `auto` (one per core while they fit ASKAROUND_SERVE_MEMORY_MB) "
            "[default: ASKAROUND_SERVE_WORKERS, 1].",
        ),
    ] = None,
) -> None:
    """Start the HTTP API and its web page at / (API docs at /v1/docs)."""
    import uvicorn

    from askaround.api import create_app
    from askaround.cli.drain import DrainingServer

    if network is not None and not is_loopback(host):
        raise InvalidInput(
            f"--network serves data without a key, so it binds loopback addresses only, "
            f"not {host}; "
            "use API keys (askaround keys create --network N) on a public address"
        )
    asked = parse_workers(workers) if workers is not None else None
    built = services()
    count = worker_count(built, asked if asked is not None else built.settings.serve_workers)
    if network is not None:
        with built.database.transaction() as session:
            get_network(session, name=network)  # fail now on a typo, not on the first request
    if count > 1:
        built.database.dispose()  # migrated once here; each worker opens its own engine
        serve_workers(built.settings, network=network, host=host, port=port, workers=count)
        return
    application = create_app(built, open_network=network)
    stop = threading.Event()
    config = uvicorn.Config(application, host=host, port=port, log_level="info")
    server = DrainingServer(config, stopping=built.stopping)
    indexes = threading.Thread(
        target=warm_when_listening,
        args=(built, stop, lambda: server.started),
        name="askaround-indexes",
        daemon=True,
    )
    indexes.start()  # health answers at once; a route waits only for the model and its network
    try:
        server.run()
    finally:
        stop.set()
        indexes.join(timeout=30)


def parse_workers(text: str) -> int | Literal["auto"]:
    """``--workers``: a count from 1 to 64, or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    if not text.strip().isdigit() or not 1 <= int(text) <= 64:
        raise InvalidInput(f"--workers takes a number from 1 to 64 or `auto`, not {text!r}")
    return int(text)


def worker_count(built: Services, asked: int | Literal["auto"]) -> int:
    """The workers to run: as asked, or for ``auto`` as many as the cores and the memory
    budget allow for the evidence this database holds."""
    if asked != "auto":
        return asked
    with built.database.transaction() as session:
        rows = count_all_evidence(session)
    count = planned_workers(rows, cores=available_cores(), memory_mb=built.settings.serve_memory_mb)
    log.info(
        "--workers auto: %d worker(s) for %d evidence rows, %d core(s), %d MB",
        count,
        rows,
        available_cores(),
        built.settings.serve_memory_mb,
    )
    return count


def warm_when_listening(
    built: Services,
    stop: threading.Event,
    listening: Callable[[], bool],
    patience: float = 10.0,
    *,
    saves: bool = True,
) -> None:
    """Warm once the server listens, so loading the model does not delay the first health check
    (imports and start-up share one interpreter); after ``patience`` seconds, warm anyway."""
    deadline = time.monotonic() + patience
    while not listening() and time.monotonic() < deadline:
        if stop.wait(0.05):
            return
    warm_and_follow(built, stop, saves=saves)


def warm_and_follow(built: Services, stop: threading.Event, *, saves: bool = True) -> None:
    """Load the model and every network's index, then keep them caught up (and saved, unless
    ``saves`` is false: a sibling worker writes the files)."""
    started = time.monotonic()
    try:
        built.router.indexes.saves = saves
        with built.database.transaction() as session:
            warmed = built.router.warm(session)
    except Exception:
        log.exception("warming the indexes failed; routes will build them on demand")
    else:
        for network_id, reason in warmed.failed:
            log.warning(
                "network #%d: its index did not load (retried per request): %s", network_id, reason
            )
        log.info(
            "ready: model and %d network index(es) in %.1fs",
            len(warmed.loaded),
            time.monotonic() - started,
        )
    built.ready.set()
    built.router.indexes.follow(stop, save_seconds=built.settings.index_save_seconds)


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker of ``serve --workers N`` is started with (pickled to each)."""

    settings: AppSettings
    network: str | None
    host: str
    parent: int


def worker_settings(settings: AppSettings, workers: int) -> AppSettings:
    """``settings`` with native thread counts cut to a fair share of the cores per worker."""
    threads = max(1, available_cores() // workers)
    return settings.model_copy(
        update={
            "torch_threads": min(settings.torch_threads, threads),
            "faiss_threads": min(settings.faiss_threads, threads),
            "encoder_threads": min(settings.encoder_threads or threads, threads),
        }
    )


def limit_native_threads(threads: int) -> None:
    """Cap the OpenMP and BLAS pools of processes started from here on (read at their load)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        current = os.environ.get(name, "")
        if not (current.isdigit() and 0 < int(current) <= threads):
            os.environ[name] = str(threads)


def serve_workers(
    settings: AppSettings, *, network: str | None, host: str, port: int, workers: int
) -> None:
    """Bind once and supervise ``workers`` processes on the socket until SIGTERM or SIGINT."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    shared = worker_settings(settings, workers)
    limit_native_threads(shared.encoder_threads or 1)
    sock = bind_socket(host, port)
    bound = sock.getsockname()[1]
    spec = WorkerSpec(settings=shared, network=network, host=host, parent=os.getpid())
    supervisor = Supervisor(target=functools.partial(run_worker, spec), sock=sock, workers=workers)
    log.info(
        "serving http://%s:%d with %d workers, %d native thread(s) each (Ctrl+C to stop)",
        f"[{host}]" if ":" in host else host,
        bound,
        workers,
        shared.encoder_threads,
    )
    with GracefulStop().installed() as stop:
        supervisor.run(stop)


def run_worker(spec: WorkerSpec, slot: int, sock: socket.socket, listening: Event) -> None:
    """One worker: its own services (engine, model, indexes) built here, after the spawn; answers
    health at once and warms in the background; worker 0 alone writes the index files."""
    import uvicorn

    from askaround.api import create_app
    from askaround.cli.drain import DrainingServer

    die_with_parent(spec.parent)
    built = Services(settings=spec.settings)
    application = create_app(built, open_network=spec.network)
    config = uvicorn.Config(application, host=spec.host, log_level="info")
    server = DrainingServer(config, stopping=built.stopping)

    def stop_serving(_number: int, _frame: FrameType | None) -> None:
        server.should_exit = True  # also absorbs the signal uvicorn re-raises after its shutdown

    for number in SIGNALS:
        signal.signal(number, stop_serving)
    stop = threading.Event()
    background = [
        threading.Thread(
            target=warm_when_listening,
            args=(built, stop, lambda: server.started),
            kwargs={"saves": slot == 0},
            name="askaround-indexes",
            daemon=True,
        ),
        threading.Thread(
            target=announce_listening,
            args=(lambda: server.started, listening, stop),
            name="askaround-listening",
            daemon=True,
        ),
    ]
    for thread in background:
        thread.start()
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        for thread in background:
            thread.join(timeout=30)


def announce_listening(listening: Callable[[], bool], event: Event, stop: threading.Event) -> None:
    """Tell the supervisor this worker serves (a worker that dies before this failed to start)."""
    while not stop.wait(0.05):
        if listening():
            event.set()
            return


def die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGTERM this worker when the supervisor dies, even by SIGKILL, so a
    worker is never left orphaned on the port."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the supervisor's SIGTERM is all there is
        return
    if os.getppid() != parent:  # it died before the request took effect
        raise SystemExit(0)
