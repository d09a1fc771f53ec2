"""``askaround migrate``: the database schema, brought up (or down) in its own step."""

from __future__ import annotations

from typing import Annotated

import typer

from askaround.cli.app import app
from askaround.settings import AppSettings
from router.storage.database import Database

migrate_app = typer.Typer(
    help="The database schema: upgrade it (the default), downgrade it, or show where it is.",
    invoke_without_command=True,
)
app.add_typer(migrate_app, name="migrate")


def _database() -> Database:
    """The configured database, not migrated on first use (that is this command's job)."""
    settings = AppSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database(settings.resolved_database_url)


@migrate_app.callback()
def migrate(
    context: typer.Context,
    revision: Annotated[str, typer.Option("--revision", help="Upgrade to this revision.")] = "head",
) -> None:
    """Upgrade the schema to the newest revision (on PostgreSQL under an advisory lock)."""
    if context.invoked_subcommand is not None:
        return
    database = _database()
    before, _ = database.revisions()
    database.migrate(revision)
    after, head = database.revisions()
    change = "unchanged" if before == after else f"was {before or 'empty'}"
    typer.echo(f"schema at {after} ({change}); the code's newest is {head}")


@migrate_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="The revision to go back to, e.g. 0002.")],
) -> None:
    """Take the schema back down to a revision (data in dropped columns and tables is lost)."""
    database = _database()
    before, _ = database.revisions()
    database.downgrade(revision)
    after, head = database.revisions()
    typer.echo(f"schema at {after or 'empty'} (was {before}); the code's newest is {head}")


@migrate_app.command("status")
def status() -> None:
    """Show the schema's revision and the code's newest; exit 1 when the schema is behind."""
    current, head = _database().revisions()
    if current == head:
        typer.echo(f"schema at {head}, up to date")
        return
    typer.echo(f"schema at {current or 'empty'}, the code needs {head}: run `askaround migrate`")
    raise typer.Exit(1)
