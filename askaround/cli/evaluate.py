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
from router.errors import InvalidInput
from router.evaluation import SYSTEMS, evaluate_site
from router.evaluation.loso import leave_one_site_out, summary
from router.evaluation.vector_cache import CachedEmbedder
from router.storage.database import Database

eval_app = typer.Typer(help="Measure routing quality on replayed data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("stackexchange")
def stackexchange(
    folders: Annotated[
        list[Path],
        typer.Argument(help="Dump folders holding Posts.xml and Users.xml (several with --loso)."),
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
        str,
        typer.Option(
            "--systems", help="Comma-separated systems to run (with --loso: also 'adapted')."
        ),
    ] = ",".join(SYSTEMS),
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N cases (quick runs).")
    ] = None,
    loso: Annotated[
        bool,
        typer.Option(
            "--loso",
            help="Leave one site out: rank each site with a model trained on the others only.",
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for training (with --loso).")] = 12,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            help="Keep the replay databases, indexes and vectors here, to reuse them next run.",
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
    """Replay sites (80% history, 20% test questions): P@1, Hit@3/10, MRR, busy@3, recall."""
    started = time.perf_counter()
    built = services()
    chosen = [name.strip() for name in systems.split(",") if name.strip()]
    if loso and len(folders) < 2:
        raise InvalidInput("--loso needs at least two sites")
    if not loso and len(folders) != 1:
        raise InvalidInput("give one site, or several with --loso")
    with tempfile.TemporaryDirectory(prefix="askaround-eval-") as scratch:
        root = workdir or Path(scratch)
        root.mkdir(parents=True, exist_ok=True)
        embedder = CachedEmbedder(built.embedder, root / "vectors.sqlite")
        if loso:
            with ProgressBar() as progress:
                results = leave_one_site_out(
                    folders,
                    workdir=root,
                    settings=built.settings,
                    embedder=embedder,
                    systems=chosen,
                    k=k,
                    limit=limit,
                    seed=seed,
                    progress=progress,
                )
            for result in results:
                typer.echo(result.evaluation.table() + "\n")
            typer.echo(summary(results))
            typer.echo(f"\nwall time {time.perf_counter() - started:.0f} s")
            if json_path is not None:
                data = [r.evaluation.as_dict() for r in results]
                json_path.write_text(json.dumps(data, indent=1))
            return
        url = database or f"sqlite:///{(root / 'eval.db').resolve()}"
        settings = built.settings.model_copy(update={"data_dir": root, "database_url": url})
        replay_db = Database(url)
        try:
            replay_db.migrate()
            with ProgressBar() as progress:
                evaluation = evaluate_site(
                    folder=folders[0],
                    database=replay_db,
                    settings=settings,
                    embedder=embedder,
                    k=k,
                    systems=chosen,
                    limit=limit,
                    progress=progress,
                )
        finally:
            replay_db.dispose()
    typer.echo(evaluation.table())
    typer.echo(f"\nwall time {time.perf_counter() - started:.0f} s")
    if json_path is not None:
        json_path.write_text(json.dumps(evaluation.as_dict(), indent=1))
