"""``askaround serve``: the HTTP API under uvicorn.

``--network N`` is the network served to requests that carry no API key. Because that opens the
network's data without credentials, it is a local development mode: it is refused unless the
server binds a loopback address, and even then keyless requests may only read (``POST /v1/route``
and the ``GET`` endpoints); every write needs a key, and a key, when sent, always decides.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from askaround.cli.app import app, services
from askaround.cli.progress import ProgressBar
from router.errors import InvalidInput
from router.network.people import get_network


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
    with ProgressBar() as bar, built.database.transaction() as session:
        warmed = built.router.warm(session, progress=bar)  # model and indexes before requests
    for network_id, reason in warmed.failed:
        typer.echo(
            f"network #{network_id}: its index did not load (retried per request): {reason}",
            err=True,
        )
    uvicorn.run(application, host=host, port=port, log_level="info")
