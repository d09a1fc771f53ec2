"""The ``askaround`` command: a thin adapter that parses arguments, calls the core, prints results.

Each group of verbs lives in its own module and registers itself on the one Typer app here.
Core errors become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import sys

from askaround.cli.app import app, register_all
from router.errors import AskaroundError


def main() -> None:
    """Entry point: run the CLI, turning core errors into one line and exit code 2."""
    register_all()
    try:
        app(standalone_mode=False)
    except AskaroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and the like
        import click

        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        if isinstance(exc, click.ClickException):
            print(f"error: {exc.format_message()}", file=sys.stderr)
            sys.exit(exc.exit_code)
        raise
