"""``askaround keys create|list|revoke``: API keys for the HTTP API, one network each."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from askaround.cli.app import app, services
from router.network.keys import create_key, list_keys, revoke_key
from router.network.people import ensure_network, get_network

keys_app = typer.Typer(help="API keys for the HTTP API (each belongs to one network).")
app.add_typer(keys_app, name="keys", no_args_is_help=True)

NetworkOption = Annotated[str, typer.Option("--network", "-n", help="The network the key is for.")]


@keys_app.command("create")
def create(
    network: NetworkOption,
    label: Annotated[str, typer.Option("--label", help="What the key is for.")] = "",
) -> None:
    """Create a key; it is printed once, on the last line, and only its hash is stored."""
    now = datetime.now(UTC)
    with services().database.transaction() as session:
        network_row = ensure_network(session, name=network, now=now)
        issued = create_key(session, network_id=network_row.id, label=label, now=now)
    typer.echo(f"API key {issued.prefix} for network {network_row.name!r} (shown only once):")
    typer.echo(issued.plaintext)


@keys_app.command("list")
def list_(network: NetworkOption) -> None:
    """The network's keys by prefix, with label and when they were created or revoked."""
    with services().database.transaction() as session:
        rows = list_keys(session, network_id=get_network(session, name=network).id)
        for row in rows:
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            typer.echo(f"{row.prefix}  {row.created_at:%Y-%m-%d}  {state:<18} {row.label}")


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key, or its prefix as `keys list` shows it.")],
    network: NetworkOption,
) -> None:
    """Revoke a key at once: requests with it answer 401 from now on."""
    now = datetime.now(UTC)
    with services().database.transaction() as session:
        row = revoke_key(
            session, network_id=get_network(session, name=network).id, key_or_prefix=key, now=now
        )
    typer.echo(f"revoked {row.prefix}")
