"""``askaround serve``: the HTTP API under uvicorn.

``--network N`` is the network served to requests that carry no API key. Because that opens the
network's data without credentials, it is a local development mode: it is refused unless the
server binds a loopback address, and even then keyless requests may only read (``POST /v1/route``
and the ``GET`` endpoints); every write needs a key, and a key, when sent, always decides.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from typing import Annotated

import typer

from askaround.cli.app import app, services
from askaround.wiring import Services
from router.errors import InvalidInput
from router.network.people import get_network

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
) -> None:
    """Start the HTTP API and its web page at / (API docs at /v1/docs)."""
    import uvicorn

    from askaround.api import create_app

    if network is not None and not is_loopback(host):
        raise InvalidInput(
            f"--network serves data without a key, so it binds loopback addresses only, "
            f"not {host}; "
            "use API keys (askaround keys create --network N) on a public address"
        )
    built = services()
    if network is not None:
        with built.database.transaction() as session:
            get_network(session, name=network)  # fail now on a typo, not on the first request
    application = create_app(built, open_network=network)
    stop = threading.Event()
    server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="info"))
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


def warm_when_listening(
    built: Services, stop: threading.Event, listening: Callable[[], bool], patience: float = 10.0
) -> None:
    """Warm once the server listens, so loading the model does not delay the first health check
    (imports and start-up share one interpreter); after ``patience`` seconds, warm anyway."""
    deadline = time.monotonic() + patience
    while not listening() and time.monotonic() < deadline:
        if stop.wait(0.05):
            return
    warm_and_follow(built, stop)


def warm_and_follow(built: Services, stop: threading.Event) -> None:
    """Load the model and every network's index, then keep them caught up and saved."""
    started = time.monotonic()
    try:
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
