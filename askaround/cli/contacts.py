"""``askaround import linkedin|vcard``: contacts from outside the workspace, merged by email or id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from askaround.cli.app import import_app, services
from askaround.cli.progress import ProgressBar
from router.importers.contacts import Contact, import_contacts, parse_linkedin, parse_vcard
from router.network.people import ensure_network
from router.search.backfill import embed_pending

NetworkOption = Annotated[
    str, typer.Option("--network", "-n", help="Network name (created if missing).")
]


def _import(file: Path, network: str, parse: Callable[[Path], list[Contact]]) -> None:
    contacts = parse(file)  # the whole file is checked before anything is written
    now = datetime.now(UTC)
    built = services()
    with built.database.transaction() as session:
        network_id = ensure_network(session, name=network, now=now).id
        report = import_contacts(session, network_id=network_id, contacts=contacts, now=now)
    with ProgressBar() as progress, built.database.transaction() as session:
        embedded = embed_pending(
            session, network_id=network_id, embedder=built.embedder, progress=progress
        )
    typer.echo(f"network {network!r}: {report.summary()}; {embedded} embedded")


@import_app.command("linkedin")
def linkedin(
    file: Annotated[
        Path, typer.Argument(help="LinkedIn's Connections.csv (Settings > Get a copy).")
    ],
    network: NetworkOption = "default",
) -> None:
    """Import LinkedIn connections: name, email, company, position, when you connected."""
    _import(file, network, parse_linkedin)


@import_app.command("vcard")
def vcard(
    file: Annotated[Path, typer.Argument(help="A .vcf file with one or more cards.")],
    network: NetworkOption = "default",
) -> None:
    """Import a vCard file: FN, EMAIL, ORG, TITLE, NOTE (how you know them), X-ASKAROUND-ID."""
    _import(file, network, parse_vcard)
