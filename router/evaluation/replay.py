"""Replaying a site through the router and the baselines, side by side, in one run.

The history (everything before the cutoff) is imported with the Stack Exchange importer into a
network of its own and embedded, exactly as a real import would be; each case is then routed on
behalf of the question's owner at the moment it was asked, and every system's ranking is scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.evaluation.baselines import Bm25Threads, DenseThreads, Fusion, MostActive
from router.evaluation.cases import Case, Ranker, Split, split_site
from router.evaluation.metrics import Scored, Scores
from router.importers import ImportReport
from router.importers.stackexchange import import_stackexchange
from router.network.people import ensure_network
from router.progress import Progress, silent
from router.routing.learned import LearnedRanker
from router.routing.ranking import RankingWeights
from router.routing.router import Router
from router.search.backfill import embed_pending
from router.search.embedding import Embedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import ExternalId

SYSTEMS = ("router", "hand-set", "most-active", "bm25-threads", "dense-threads", "fusion")
RECALL_DEPTHS = (10, 30, 100)
MIN_K = 10  # Hit@10 and nDCG@10 need ten people
MAX_K = 200
DEPTH = 100  # MRR looks this deep; the README's reference MRRs rank everyone (most-active agrees)


class RouterRanker:
    """The router asked for each case, as the asker, at the time the question was asked."""

    def __init__(
        self,
        router: Router,
        session: Session,
        *,
        network_id: int,
        people: Mapping[int, int],
        name: str = "router",
    ) -> None:
        self.name = name
        self.ranked_by = ""
        self.router = router
        self.session = session
        self.network_id = network_id
        self.person_of = dict(people)
        self.user_of = {person: user for user, person in people.items()}

    def rank(self, case: Case, *, k: int) -> list[int]:
        route = self.router.route(
            self.session,
            network_id=self.network_id,
            question=case.text,
            asker_id=self.person_of.get(case.asker) if case.asker is not None else None,
            k=k,
            now=case.asked_at,
        )
        self.ranked_by = route.ranked_by
        return [self.user_of[c.person_id] for c in route.candidates if c.person_id in self.user_of]

    def recall(self, cases: Sequence[Case], depths: Sequence[int]) -> dict[int, float]:
        """Share of the true answerers the retrieval stage puts before the ranker, by depth."""
        found = dict.fromkeys(depths, 0)
        total = 0
        for case in cases:
            pools = self.router.pool_by_depth(
                self.session,
                network_id=self.network_id,
                question=case.text,
                now=case.asked_at,
                depths=tuple(depths),
            )
            truth = {self.person_of[user] for user in case.truth if user in self.person_of}
            total += len(case.truth)
            for depth in depths:
                found[depth] += len(truth & pools[depth])
        return {depth: found[depth] / total if total else 0.0 for depth in depths}


@dataclass(frozen=True)
class SystemResult:
    name: str
    all: Scores
    routable: Scores
    rankings: Mapping[int, tuple[int, ...]]  # question id -> user ids, best first
    seconds: float
    ranked_by: str = ""


@dataclass(frozen=True)
class Evaluation:
    """Every system's figures over all and routable cases, and the rankings behind them."""

    site: str
    embedder: str
    depth: int
    split: Split
    cases: tuple[Case, ...]
    history: ImportReport
    systems: tuple[SystemResult, ...]
    recall: Mapping[int, float] = field(default_factory=dict)  # candidate-stage, by depth

    def system(self, name: str) -> SystemResult:
        for result in self.systems:
            if result.name == name:
                return result
        raise KeyError(name)

    def table(self) -> str:
        """The figures side by side, one row per system, for all and for routable cases."""
        routable = sum(case.routable for case in self.cases)
        lines = [
            f"{self.site}: {self.split.questions} questions, cutoff "
            f"{self.split.cutoff:%Y-%m-%d %H:%M}, {len(self.cases)} cases ({routable} routable), "
            f"history {self.split.history_answers} answers",
            f"embedder {self.embedder}; MRR over each system's top {self.depth}; "
            "busy@3: share of cases whose top 3 holds the person most often there",
        ]
        if self.recall:
            lines.append(
                "candidate-stage recall (share of true answerers in the ranker's pool), by search "
                "depth: " + ", ".join(f"@{d} {r:.3f}" for d, r in sorted(self.recall.items()))
            )
        models = [f"{r.name}: {r.ranked_by}" for r in self.systems if r.ranked_by]
        if models:
            lines.append("ranked by " + "; ".join(models))
        header = (
            f"{'system':<15}{'P@1':>7}{'Hit@3':>7}{'Hit@10':>7}{'MRR':>7}{'nDCG@10':>8}"
            f"{'accMRR':>8}{'busy@3':>8}{'secs':>7}"
        )
        for subset in ("all", "routable"):
            first: Scores = getattr(self.systems[0], subset) if self.systems else Scores.of([])
            lines += ["", f"{subset} cases (n={first.cases}, accepted n={first.accepted_cases})"]
            lines.append(header)
            for result in self.systems:
                s: Scores = getattr(result, subset)
                lines.append(
                    f"{result.name:<15}{s.p_at_1:>7.3f}{s.hit_at_3:>7.3f}{s.hit_at_10:>7.3f}"
                    f"{s.mrr:>7.3f}{s.ndcg_at_10:>8.3f}{s.accepted_mrr:>8.3f}"
                    f"{s.busiest_at_3:>8.2f}{result.seconds:>7.1f}"
                )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Figures and per-case rankings as plain data (for ``--json`` and for tuning)."""
        return {
            "site": self.site,
            "embedder": self.embedder,
            "depth": self.depth,
            "cutoff": self.split.cutoff.isoformat(),
            "questions": self.split.questions,
            "history_answers": self.split.history_answers,
            "recall": {str(depth): value for depth, value in self.recall.items()},
            "systems": {
                r.name: {
                    "all": r.all.as_dict(),
                    "routable": r.routable.as_dict(),
                    "seconds": r.seconds,
                    "ranked_by": r.ranked_by,
                }
                for r in self.systems
            },
            "cases": [
                {
                    "question_id": case.question_id,
                    "asker": case.asker,
                    "asked_at": case.asked_at.isoformat(),
                    "truth": sorted(case.truth),
                    "accepted": case.accepted,
                    "routable": case.routable,
                    "rankings": {r.name: list(r.rankings[case.question_id]) for r in self.systems},
                }
                for case in self.cases
            ],
        }


def score(ranker: Ranker, cases: Sequence[Case], *, k: int, progress: Progress) -> SystemResult:
    """Rank every case with ``ranker`` and score the rankings over all and routable cases."""
    started = time.perf_counter()
    rankings: dict[int, tuple[int, ...]] = {}
    for done, case in enumerate(cases, start=1):
        rankings[case.question_id] = tuple(ranker.rank(case, k=k)[:k])
        progress(f"ranking: {ranker.name}", done, len(cases))
    seconds = time.perf_counter() - started
    scored = {
        case.question_id: Scored(rankings[case.question_id], case.truth, case.accepted)
        for case in cases
    }
    return SystemResult(
        name=ranker.name,
        all=Scores.of(list(scored.values())),
        routable=Scores.of([scored[case.question_id] for case in cases if case.routable]),
        rankings=rankings,
        seconds=seconds,
        ranked_by=str(getattr(ranker, "ranked_by", "")),
    )


def import_history(
    database: Database,
    *,
    folder: Path,
    split: Split,
    embedder: Embedder,
    progress: Progress = silent,
) -> tuple[int, ImportReport]:
    """Import everything before the cutoff into the network ``eval-<site>-<cutoff>`` and embed it.

    Both steps are idempotent, so a database kept between runs skips work already done.
    """
    name = f"eval-{folder.resolve().name}-{split.cutoff:%Y%m%dT%H%M%S}"[-100:]
    with database.transaction() as session:
        network_id = ensure_network(session, name=name, now=split.cutoff).id
        report = import_stackexchange(
            session,
            network_id=network_id,
            folder=folder,
            now=split.cutoff,
            until=split.cutoff,
            progress=progress,
        )
    with database.transaction() as session:
        embed_pending(session, network_id=network_id, embedder=embedder, progress=progress)
    return network_id, report


def _people(session: Session, network_id: int) -> dict[int, int]:
    """Stack Exchange user id -> person id in the replay network."""
    rows = session.execute(
        select(ExternalId.value, ExternalId.person_id).where(
            ExternalId.network_id == network_id, ExternalId.value.startswith("se:")
        )
    )
    return {int(value.removeprefix("se:")): person for value, person in rows}


def evaluate_site(
    *,
    folder: Path,
    database: Database,
    settings: Settings,
    embedder: Embedder,
    k: int = DEPTH,
    systems: Sequence[str] = SYSTEMS,
    limit: int | None = None,
    weights: RankingWeights | None = None,
    ranker: LearnedRanker | None = None,
    variants: Mapping[str, Callable[[Session, int], LearnedRanker | None]] | None = None,
    progress: Progress = silent,
) -> Evaluation:
    """Replay a Stack Exchange site and score the router and the baselines on the same cases.

    Each system ranks up to ``k`` people; P@1, Hit@k and nDCG@10 only look at the top, MRR looks
    as deep as the list goes.

    ``database`` and ``settings.data_dir`` should be the evaluation's own (the replay network and
    its index are written there); ``limit`` keeps only the first cases, for quick runs;
    ``weights`` tries the router with other ranking weights (for tuning); ``ranker`` is the model
    the router uses (default: the one it would pick itself); ``variants`` adds more router
    systems by name, each with a model built from the replay network (e.g. adapted to it).
    """
    variants = variants or {}
    unknown = [name for name in systems if name not in SYSTEMS and name not in variants]
    if unknown:
        raise InvalidInput(f"unknown system {unknown[0]!r}; choose from {', '.join(SYSTEMS)}")
    if not MIN_K <= k <= MAX_K:
        raise InvalidInput(f"k must be between {MIN_K} (for Hit@10 and nDCG@10) and {MAX_K}")
    split = split_site(folder, progress=progress)
    cases = split.cases[:limit] if limit is not None else split.cases
    network_id, report = import_history(
        database, folder=folder, split=split, embedder=embedder, progress=progress
    )
    rankers: dict[str, Ranker] = {"most-active": MostActive(split)}
    wanted = set(systems)
    if wanted & {"bm25-threads", "dense-threads", "fusion"}:
        bm25 = Bm25Threads(split.threads)
        dense = DenseThreads(split.threads, embedder=embedder, progress=progress)
        rankers.update({bm25.name: bm25, dense.name: dense, "fusion": Fusion([bm25, dense])})
    results: list[SystemResult] = []
    recall: dict[int, float] = {}
    with database.transaction() as session:
        people = _people(session, network_id)
        deep = settings.model_copy(update={"max_k": max(settings.max_k, k)})
        hand = deep.model_copy(update={"learned_ranking": False})
        routers = {"router": (deep, ranker), "hand-set": (hand, None)}
        for name, build in variants.items():
            routers[name] = (deep, build(session, network_id))
        for name in systems:
            if name not in routers:
                continue
            config, model = routers[name]
            router = Router(
                database=database, embedder=embedder, settings=config, weights=weights, ranker=model
            )
            router.indexes.get(session, network_id=network_id, progress=progress)
            routed = RouterRanker(router, session, network_id=network_id, people=people, name=name)
            rankers[name] = routed
            if not recall:
                recall = routed.recall(cases, RECALL_DEPTHS)
        for name in systems:
            results.append(score(rankers[name], cases, k=k, progress=progress))
    return Evaluation(
        site=folder.resolve().name,
        embedder=embedder.name,
        depth=k,
        split=split,
        cases=tuple(cases),
        history=report,
        systems=tuple(results),
        recall=recall,
    )
