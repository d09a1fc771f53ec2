"""The ``askaround`` command: a thin adapter that parses arguments, calls the core, prints results.

Each group of verbs lives in its own module and registers itself on the one Typer app here.
Core errors become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, OperationalError

from askaround.cli.registry import build_cli
from router.errors import AskaroundError


def main() -> None:
    """Entry point: run the CLI; core errors and usage errors become one line and a non-zero exit."""
    app = build_cli()
    try:
        code = app(standalone_mode=False)  # a command's ``typer.Exit(n)`` comes back as n
        if isinstance(code, int) and code:
            sys.exit(code)
    except AskaroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except ValidationError as exc:  # settings from the environment
        for problem in exc.errors():
            field = "_".join(str(part) for part in problem["loc"]).upper()
            where = f"ASKAROUND_{field}" if field else "settings"
            print(f"error: setting {where}: {problem['msg']}", file=sys.stderr)
        sys.exit(2)
    except (OperationalError, ArgumentError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"error: cannot use the database: {reason}", file=sys.stderr)
        sys.exit(2)
    except SystemExit:
        raise
    except Exception as exc:
        # Typer bundles its own click, so usage errors are matched by shape, not by class.
        if type(exc).__name__ == "Abort":
            sys.exit(130)
        message = getattr(exc, "format_message", None)
        if callable(message) and hasattr(exc, "exit_code"):
            text = str(message()).strip()
            if text:
                print(f"error: {text}", file=sys.stderr)
            sys.exit(int(exc.exit_code) or 2)
        raise
