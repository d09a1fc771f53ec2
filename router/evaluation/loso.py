"""Leave-one-site-out: how the learned ranker does on a community it was not trained on.

For each site, the ranker is trained on the history (before their cutoffs) of every other site,
then the site is replayed through the router with that model, beside the hand-set blend and the
baselines; optionally also with the model fine-tuned on the site's own history ("adapted").
This is how unseen communities will judge it, so features, model and settings are chosen here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from router.evaluation.cases import split_site
from router.evaluation.replay import DEPTH, SYSTEMS, Evaluation, evaluate_site
from router.evaluation.training_sets import site_examples
from router.progress import Progress, silent
from router.routing.adaptation import fine_tune, network_examples
from router.routing.learned import LearnedRanker
from router.routing.training import ENSEMBLE, Examples, train
from router.search.embedding import Embedder
from router.settings import Settings
from router.storage.database import Database

BASELINES = ("most-active", "bm25-threads", "dense-threads", "fusion")
ADAPTED = "adapted"


def pretrain(
    folders: Sequence[Path], *, embedder: Embedder, seed: int = 12, progress: Progress = silent
) -> LearnedRanker:
    """The shipped model: trained on each site's history before its cutoff, with ``seed``."""
    examples = Examples()
    for folder in folders:
        cutoff = split_site(folder).cutoff
        examples.extend(site_examples(folder, cutoff=cutoff, embedder=embedder, progress=progress))
    sites = sorted(folder.resolve().name for folder in folders)
    meta = {"sites": sites, "questions": examples.questions, "seed": seed, "models": ENSEMBLE}
    return LearnedRanker.from_booster(train(examples, seed=seed), kind="pretrained", meta=meta)


@dataclass(frozen=True)
class SiteResult:
    site: str
    evaluation: Evaluation
    trained_on: int  # questions from the other sites


def leave_one_site_out(
    folders: Sequence[Path],
    *,
    workdir: Path,
    settings: Settings,
    embedder: Embedder,
    database_url: Callable[[Path], str] | None = None,
    systems: Sequence[str] = SYSTEMS,
    k: int = DEPTH,
    limit: int | None = None,
    seed: int = 12,
    progress: Progress = silent,
) -> list[SiteResult]:
    """Each site replayed with a model that never saw it (in ``workdir/<site>``)."""
    examples: dict[Path, Examples] = {}
    for folder in folders:
        cutoff = split_site(folder).cutoff
        examples[folder] = site_examples(
            folder, cutoff=cutoff, embedder=embedder, progress=progress
        )
    results = []
    for folder in folders:
        others = Examples()
        for other in folders:
            if other != folder:
                others.extend(examples[other])
        site = folder.resolve().name
        model = LearnedRanker.from_booster(
            train(others, seed=seed), kind=f"without-{site}", meta={"seed": seed}
        )
        root = workdir / site
        root.mkdir(parents=True, exist_ok=True)
        url = (
            database_url(root)
            if database_url is not None
            else f"sqlite:///{(root / 'eval.db').resolve()}"
        )
        database = Database(url)
        try:
            database.migrate()
            site_settings = settings.model_copy(update={"data_dir": root, "database_url": url})
            variants = {ADAPTED: _adapter(model, embedder, seed)}
            evaluation = evaluate_site(
                folder=folder,
                database=database,
                settings=site_settings,
                embedder=embedder,
                k=k,
                systems=systems,
                limit=limit,
                ranker=model,
                variants=variants,
                progress=progress,
            )
        finally:
            database.dispose()
        results.append(SiteResult(site=site, evaluation=evaluation, trained_on=others.questions))
    return results


def _adapter(
    base: LearnedRanker, embedder: Embedder, seed: int
) -> Callable[[Session, int], LearnedRanker | None]:
    """Builds the "adapted" system: ``base`` fine-tuned on the replay network's own history."""

    def build(session: Session, network_id: int) -> LearnedRanker | None:
        examples = network_examples(session, network_id=network_id, embedder=embedder)
        return fine_tune(base, examples, seed=seed) if examples.questions else None

    return build


def summary(results: Sequence[SiteResult]) -> str:
    """One line per site: the router against the best baseline, and the load it puts on people."""
    header = (
        f"{'site':<15}{'cases':>6}{'P@1':>7}{'Hit@3':>7}{'MRR':>7}{'hand':>7}{'best base':>22}"
        f"{'ratio':>7}{'busy@3':>8}{'hand':>6}{'recall@100':>11}"
    )
    lines = ["leave-one-site-out, all cases (router = model trained without the site)", header]
    for result in results:
        evaluation = result.evaluation
        names = [s.name for s in evaluation.systems]
        router = evaluation.system("router").all
        hand = evaluation.system("hand-set").all if "hand-set" in names else None
        bases = [evaluation.system(n) for n in BASELINES if n in names]
        best = max(bases, key=lambda s: s.all.mrr) if bases else None
        best_text = f"{best.name} {best.all.mrr:.3f}" if best else "-"
        ratio = router.mrr / best.all.mrr if best and best.all.mrr else 0.0
        recall = evaluation.recall.get(100, 0.0)
        lines.append(
            f"{result.site:<15}{router.cases:>6}{router.p_at_1:>7.3f}{router.hit_at_3:>7.3f}"
            f"{router.mrr:>7.3f}{(hand.mrr if hand else 0.0):>7.3f}{best_text:>22}{ratio:>7.2f}"
            f"{router.busiest_at_3:>8.2f}{(hand.busiest_at_3 if hand else 0.0):>6.2f}"
            f"{recall:>11.3f}"
        )
        if ADAPTED in names:
            adapted = evaluation.system(ADAPTED).all
            lines.append(
                f"{'  adapted':<15}{adapted.cases:>6}{adapted.p_at_1:>7.3f}"
                f"{adapted.hit_at_3:>7.3f}{adapted.mrr:>7.3f}"
            )
    return "\n".join(lines)
