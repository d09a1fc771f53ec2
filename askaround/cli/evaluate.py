"""``askaround eval stackexchange DIR``: replay a site and score the router beside the baselines.

The replay works in a database and data directory of its own (a temporary one unless
``--workdir`` or ``--database`` is given), never in the configured ones: it creates a network and
writes an index, and a kept ``--workdir`` lets the next run skip the import and the embedding.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from askaround.cli.app import app, services
from askaround.cli.progress import ProgressBar
from router.evaluation import SYSTEMS, evaluate_site
from router.storage.database import Database

eval_app = typer.Typer(help="Measure routing quality on replayed data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("stackexchange")
def stackexchange(
    folder: Annotated[
        Path,
        typer.Argument(help="A dump folder holding Posts.xml and Users.xml."),
    ],
    k: Annotated[
        int,
        typer.Option(
            "--k",
            "-k",
            min=10,
            max=200,
            help="How many people each system ranks; MRR looks this deep.",
        ),
    ] = 100,
    systems: Annotated[
        str, typer.Option("--systems", help="Comma-separated systems to run.")
    ] = ",".join(SYSTEMS),
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N cases (quick runs).")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            help="Keep the replay database and index here, to reuse them next run.",
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option("--database", help="SQLAlchemy URL for the replay database instead."),
    ] = None,
    json_path: Annotated[
        Path | None,
        typer.Option("--json", help="Also write figures and rankings here."),
    ] = None,
) -> None:
    """Replay a site (80% history, 20% test questions) and print P@1, Hit@3/10, MRR, nDCG@10."""
    started = time.perf_counter()
    built = services()
    chosen = [name.strip() for name in systems.split(",") if name.strip()]
    with tempfile.TemporaryDirectory(prefix="askaround-eval-") as scratch:
        root = workdir or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        url = database or f"sqlite:///{(root / 'eval.db').resolve()}"
        settings = built.settings.model_copy(update={"data_dir": root, "database_url": url})
        replay_db = Database(url)
        try:
            replay_db.migrate()
            with ProgressBar() as progress:
                result = evaluate_site(
                    folder=folder,
                    database=replay_db,
                    settings=settings,
                    embedder=built.embedder,
                    k=k,
                    systems=chosen,
                    limit=limit,
                    progress=progress,
                )
        finally:
            replay_db.dispose()
    typer.echo(result.table())
    typer.echo(f"\nwall time {time.perf_counter() - started:.0f} s")
    if json_path is not None:
        json_path.write_text(json.dumps(result.as_dict(), indent=1))
