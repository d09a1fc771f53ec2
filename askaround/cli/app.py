"""The Typer app, its sub-command groups, and the shared way a command gets its services."""

from __future__ import annotations

import importlib

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

# Modules that add commands to ``app`` / ``import_app`` when imported.
COMMAND_MODULES = (
    "askaround.cli.core",
    "askaround.cli.imports",
    "askaround.cli.evaluate",
    "askaround.cli.ranker",
    "askaround.cli.lifecycle",
    "askaround.cli.keys",
    "askaround.cli.serve",
    "bots.cli",
)


def register_all() -> None:
    """Import every command module (each adds its commands to ``app`` when first imported)."""
    for name in COMMAND_MODULES:
        importlib.import_module(name)


def services() -> Services:
    """Services from the environment (``ASKAROUND_*``), built when a command runs."""
    return Services(settings=AppSettings())
