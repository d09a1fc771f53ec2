"""``askaround eval reuse DIR...``: how often a past answer is found, and how often one shows wrongly."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from askaround.cli.app import services
from askaround.cli.evaluate import eval_app
from askaround.cli.progress import ProgressBar
from router.evaluation.reuse import evaluate_reuse
from router.storage.database import Database


@eval_app.command("reuse")
def reuse(
    folders: Annotated[
        list[Path], typer.Argument(help="Stack Exchange dump folders (Posts.xml, Users.xml).")
    ],
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most N questions of each kind.")
    ] = None,
) -> None:
    """Suggest past answers for each site's own questions and print found / false-shown rates."""
    started = time.perf_counter()
    built = services()
    for folder in folders:
        with tempfile.TemporaryDirectory(prefix="askaround-reuse-") as scratch:
            root = Path(scratch)
            url = f"sqlite:///{(root / 'reuse.db').resolve()}"
            settings = built.settings.model_copy(update={"data_dir": root, "database_url": url})
            database = Database(url)
            try:
                database.migrate()
                with ProgressBar() as progress:
                    result = evaluate_reuse(
                        folder=folder,
                        database=database,
                        settings=settings,
                        embedder=built.embedder,
                        limit=limit,
                        progress=progress,
                    )
            finally:
                database.dispose()
        typer.echo(result.table() + f"\n({result.seconds:.0f} s)\n")
    typer.echo(f"wall time {time.perf_counter() - started:.0f} s")
