"""The whole CLI in one place: askaround's own command modules, then each edge's, through the hook."""

from __future__ import annotations

import typer

from askaround import edges
from askaround.cli import (
    contacts,
    core,
    evaluate,
    imports,
    keys,
    ledger,
    lifecycle,
    migrate,
    people,
    ranker,
    reuse_eval,
    serve,
    worker,
)
from askaround.cli.app import app, import_app, services
from askaround.cli.progress import ProgressBar

# askaround's own command modules: importing them adds their commands to ``app``.
COMMAND_MODULES = (
    core,
    imports,
    contacts,
    evaluate,
    reuse_eval,
    ranker,
    lifecycle,
    ledger,
    worker,
    keys,
    people,
    serve,
    migrate,
)

_built: list[typer.Typer] = []


def build_cli() -> typer.Typer:
    """The Typer app with every command, the edges' included (built once per process)."""
    if not _built:
        edges.register_commands(
            edges.CommandHooks(
                app=app, import_app=import_app, services=services, progress=ProgressBar
            )
        )
        _built.append(app)
    return _built[0]
