"""``askaround ranker``: rebuild the shipped pre-trained ranker, or adapt it to one network."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from askaround.cli.app import app, services
from askaround.cli.progress import ProgressBar
from router.errors import Unavailable
from router.evaluation.loso import pretrain
from router.evaluation.vector_cache import CachedEmbedder
from router.network.people import get_network
from router.routing.adaptation import MIN_QUESTIONS, adapt_network
from router.routing.learned import PRETRAINED, LearnedRanker, adapted_path, pretrained_path

ranker_app = typer.Typer(help="The learned ranker: pre-train it, adapt it.", no_args_is_help=True)
app.add_typer(ranker_app, name="ranker")


@ranker_app.command("pretrain")
def pretrain_command(
    folders: Annotated[list[Path], typer.Argument(help="Stack Exchange dump folders.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Model file (default: models/ranker/pretrained.txt)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 12,
    workdir: Annotated[
        Path | None, typer.Option("--workdir", help="Keep the embedded vectors here to reuse.")
    ] = None,
) -> None:
    """Train on each site's history before its cutoff (reproducible: same data and seed)."""
    started = time.perf_counter()
    built = services()
    target = out or pretrained_path(built.settings.models_dir)
    with tempfile.TemporaryDirectory(prefix="askaround-ranker-") as scratch:
        root = workdir or Path(scratch)
        embedder = CachedEmbedder(built.embedder, root / "vectors.sqlite")
        with ProgressBar() as progress:
            ranker = pretrain(folders, embedder=embedder, seed=seed, progress=progress)
    ranker.save(target)
    size = target.stat().st_size
    typer.echo(
        f"{ranker.name}: {ranker.meta['questions']} questions from "
        f"{', '.join(ranker.meta['sites'])}; {target} ({size / 1024:.0f} KiB), "
        f"{time.perf_counter() - started:.0f} s"
    )


@ranker_app.command("adapt")
def adapt_command(
    network: Annotated[str, typer.Option("--network", help="Network name.")],
    seed: Annotated[int, typer.Option("--seed")] = 12,
) -> None:
    """Fine-tune the shipped model on this network's own answers (routing then uses it)."""
    built = services()
    base = LearnedRanker.load(pretrained_path(built.settings.models_dir), kind=PRETRAINED)
    if base is None:
        raise Unavailable("no pre-trained ranker in models/ranker/ (askaround ranker pretrain)")
    with built.database.transaction() as session:
        network_id = get_network(session, name=network).id
        result = adapt_network(
            session,
            network_id=network_id,
            embedder=built.embedder,
            base=base,
            data_dir=built.settings.data_dir,
            now=datetime.now(UTC),
            seed=seed,
        )
    if result.ranker is None:
        typer.echo(
            f"{network}: {result.questions} past questions, fewer than {MIN_QUESTIONS}; "
            f"routing keeps {base.name}"
        )
        return
    path = adapted_path(built.settings.data_dir, network_id)
    typer.echo(
        f"{network}: {result.ranker.name} from {result.questions} past questions "
        f"({result.answers} answers) on top of {base.name}; {path}"
    )
