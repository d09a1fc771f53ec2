"""``askaround import stackexchange|people``: bring a dump or a people file into a network.

Each import is one transaction (a bad file stores nothing), begun only once the file is read and
checked and written in bulk, so it holds the database's write lock for seconds; the new evidence
is then embedded outside it, committing every few thousand rows, so a model that fails to load never costs the
import (the next import, or ``askaround reembed``, picks the missing vectors up) and the API and
the bot keep writing while the model runs. Progress shows rows/s and the time left.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from askaround.cli.app import import_app, services
from askaround.cli.progress import ProgressBar
from askaround.wiring import Services
from router.importers import ImportReport, parse_when
from router.importers.people_file import import_people_file
from router.importers.site import write_site
from router.importers.stackexchange import read_site
from router.network.people import ensure_network
from router.search.backfill import embed_network


def _embed(built: Services, *, network_id: int, progress: ProgressBar) -> int:
    return embed_network(
        built.database, network_id=network_id, embedder=built.embedder, progress=progress
    )


def _done(network: str, report: ImportReport, embedded: int) -> None:
    typer.echo(f"network {network!r}: {report.summary()}; {embedded} embedded")


@import_app.command("stackexchange")
def stackexchange(
    folder: Annotated[
        Path,
        typer.Argument(help="A dump folder holding Posts.xml and Users.xml."),
    ],
    network: Annotated[
        str | None,
        typer.Option("--network", "-n", help="Network name (default: the folder's name)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Import only posts created strictly before this ISO date or timestamp (UTC).",
        ),
    ] = None,
    site_url: Annotated[
        str | None,
        typer.Option(
            "--site-url",
            help="Base URL for answer links, e.g. https://beer.stackexchange.com "
            "(default: the folder's name when it is a host name).",
        ),
    ] = None,
    profiles: Annotated[
        bool,
        typer.Option(
            "--profiles",
            help="Also import users' 'about me' as profile evidence (as of the dump date, "
            "so it ignores --until).",
        ),
    ] = False,
) -> None:
    """Import a Stack Exchange site: answers as evidence, askers and answerers as people."""
    cutoff = parse_when(until) if until else None
    name = network or folder.resolve().name
    now = datetime.now(UTC)
    built = services()
    with ProgressBar() as progress:
        site = read_site(
            folder, until=cutoff, site_url=site_url, profiles=profiles, progress=progress
        )
        with built.database.transaction() as session:  # the write lock is held from here only
            network_id = ensure_network(session, name=name, now=now).id
            report = write_site(
                session,
                network_id=network_id,
                site=site,
                now=now,
                profiles=profiles,
                progress=progress,
            )
        embedded = _embed(built, network_id=network_id, progress=progress)
    _done(name, report, embedded)


@import_app.command("people")
def people(
    file: Annotated[
        Path,
        typer.Argument(
            help="A .csv or .jsonl file: name, external_ids, email, timezone, interests, profile.",
        ),
    ],
    network: Annotated[
        str, typer.Option("--network", "-n", help="Network name (created if missing).")
    ] = "default",
) -> None:
    """Import people with their ids, stated interests and profile; the file is their truth."""
    now = datetime.now(UTC)
    built = services()
    with ProgressBar() as progress:
        with built.database.transaction() as session:
            network_id = ensure_network(session, name=network, now=now).id
            report = import_people_file(
                session, network_id=network_id, path=file, now=now, progress=progress
            )
        embedded = _embed(built, network_id=network_id, progress=progress)
    _done(network, report, embedded)
