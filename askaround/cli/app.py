"""The Typer app, its sub-command groups, and the shared way a command gets its services.

Command modules add to ``app`` when imported; ``askaround.cli.registry.build_cli`` imports them
and lets the edges add theirs.
"""

from __future__ import annotations

import typer

from askaround.settings import AppSettings
from askaround.wiring import Services

app = typer.Typer(
    help="Askaround: route questions to the people in your network who can answer.",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(
    help="Bring people and their knowledge into a network.", no_args_is_help=True
)
app.add_typer(import_app, name="import")


def services() -> Services:
    """Services from the environment (``ASKAROUND_*``), built when a command runs."""
    return Services(settings=AppSettings())
