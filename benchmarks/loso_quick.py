"""A quick leave-one-site-out loop for developing the learned ranker's features and settings.

The full replay (``askaround eval stackexchange --loso``) imports every site into a database and
routes each case through the router: ~20 minutes. This loop skips the database: each site's
history before its cutoff is a ``Timeline`` (vectors from the replay's cache), its test cases are
asked of that timeline at their own time, and a model trained on the other sites ranks the pool.
Figures follow the replay's closely (same features, pool and model) but not exactly (the replay
searches the imported index), so confirm a choice with the full replay. Prints figures only.

    .venv/bin/python -m benchmarks.loso_quick --workdir /tmp/loso ../shared/data/stackexchange/*
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from router.evaluation.cases import split_site
from router.evaluation.metrics import busiest_share
from router.evaluation.training_sets import site_history
from router.evaluation.vector_cache import CachedEmbedder
from router.routing import training
from router.routing.answer_log import DAY, AnswerLog
from router.routing.features import NAMES
from router.routing.learned import LearnedRanker
from router.routing.ranking import RankingWeights
from router.routing.recency import (
    answers_before_newest,
    effective_answerers,
    fused_order,
    stale_weight,
)
from router.routing.router import EMBED_CHARS
from router.routing.timeline import Timeline
from router.routing.training import Examples, Favours, PastQuestion, question_examples, train
from router.settings import Settings

Site = tuple[Timeline, list[PastQuestion], Favours, list[PastQuestion]]
# the options that set RankingWeights' fusion with recent activity: option -> (field, help)
FUSION_KNOBS = {
    "--recent-weight": (
        "recent_weight",
        "weight of recent activity fused with the model's order (0: the model alone)",
    ),
    "--recent-days": (
        "recent_days",
        "how far back from the newest answer recent activity is counted",
    ),
    "--recent-ramp": (
        "recent_ramp_days",
        "days of staleness at which that weight is reached in full",
    ),
    "--concentrated-below": (
        "concentrated_below",
        "effective answerers below which recent activity counts more (0: never)",
    ),
    "--concentrated-cap": (
        "concentrated_cap",
        "at most this many times the weight where few people answer",
    ),
}


def load_site(folder: Path, workdir: Path) -> Site:
    """The site's history and its test cases as past questions, cached in ``workdir/quick``."""
    cache = workdir / "quick" / f"{folder.resolve().name}.pickle"
    if cache.is_file():
        site: Site = pickle.loads(cache.read_bytes())
        return site
    from askaround.wiring import build_embedder  # the model loads only when needed

    settings = Settings()
    embedder = CachedEmbedder(build_embedder(settings), workdir / "vectors.sqlite")
    split = split_site(folder)
    timeline, past, favours = site_history(folder, cutoff=split.cutoff, embedder=embedder)
    vectors = embedder.encode([case.text.strip()[:EMBED_CHARS] for case in split.cases])
    tests = [
        PastQuestion(
            text=case.text,
            vector=vectors[i],
            asker=case.asker,
            asked_at=case.asked_at.timestamp(),
            answerers=case.truth,
        )
        for i, case in enumerate(split.cases)
    ]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps((timeline, past, favours, tests)))
    return timeline, past, favours, tests


def known_share(timeline: Timeline, tests: list[PastQuestion]) -> float:
    """Share of the true answerers who had answered anything before the question: the most any
    candidate pool built from the answer history can reach (the rest are first-time answerers)."""
    known = truths = 0
    for test in tests:
        before = set(timeline.people[: timeline.size_at(test.asked_at)].tolist())
        known += len(test.answerers & before)
        truths += len(test.answerers)
    return known / (truths or 1)


def measures(
    examples: Examples, tests: list[PastQuestion], scores: list[np.ndarray]
) -> tuple[float, float, float, float, float]:
    """P@1, Hit@3, MRR, busy@3 and pool recall of the test cases ranked by ``scores``."""
    p1 = hit3 = mrr = found = truths = 0.0
    rankings = []
    for people, labels, score, test in zip(
        examples.people, examples.labels, scores, tests, strict=True
    ):
        order = np.lexsort((people, -score))[:100]
        ranked = people[order].tolist()
        rankings.append(ranked)
        right = labels[order]
        first = int(np.argmax(right)) if right.any() else -1
        p1 += float(first == 0)
        hit3 += float(0 <= first < 3)
        mrr += 1.0 / (first + 1) if first >= 0 else 0.0
        found += float(labels.sum())
        truths += len(test.answerers)
    n = len(tests) or 1
    return p1 / n, hit3 / n, mrr / n, busiest_share(rankings), found / (truths or 1)


def fused(
    examples: Examples,
    tests: list[PastQuestion],
    scores: list[np.ndarray],
    timeline: Timeline,
    weights: RankingWeights,
) -> list[np.ndarray]:
    """Scores whose order is the router's: the model's fused with who answered most in the
    ``recent_days`` up to the newest answer before each question, weighted by how old that answer
    is (``router.routing.recency``)."""
    out = []
    ordered = sorted(tests, key=lambda test: test.asked_at)  # as question_examples kept them
    for people, score, test in zip(examples.people, scores, ordered, strict=True):
        n = timeline.size_at(test.asked_at)
        before = AnswerLog(timeline.people[:n], timeline.times[:n])
        counts = answers_before_newest(before, weights.recent_days)
        recent = [int(counts[before.slot_of[p]]) if p in before.slot_of else 0 for p in people]
        stale = (test.asked_at - float(before.times[-1])) / DAY if n else 0.0
        order = fused_order(
            people.tolist(),
            score,
            recent,
            stale_weight(weights, stale, effective_answerers(counts)),
        )
        ranked = np.empty(len(people))
        ranked[order] = -np.arange(len(people), dtype=np.float64)
        out.append(ranked)
    return out


def line(values: tuple[float, ...]) -> str:
    p1, hit3, mrr, busy, recall = values
    return f"{p1:>7.3f}{hit3:>7.3f}{mrr:>7.3f}{busy:>8.2f}{recall:>8.3f}"


def mean(rows: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(float(np.mean(column)) for column in zip(*rows, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--models", type=int, default=1, help="seeded models averaged")
    parser.add_argument(
        "--repeats", type=int, default=1, help="ensembles with the next seeds, for the spread"
    )
    parser.add_argument("--rounds", type=int, default=training.ROUNDS)
    parser.add_argument("--param", action="append", default=[], help="name=value for LightGBM")
    parser.add_argument("--drop", action="append", default=[], help="a feature to leave out")
    parser.add_argument("--pool-active", type=int, default=RankingWeights().pool_active)
    parser.add_argument("--depth", type=int, default=training.SEARCH_DEPTH)
    parser.add_argument(
        "--asked-at",
        type=datetime.fromisoformat,
        default=None,
        help="ask every test question at this moment (e.g. 2026-12-01T12:00+00:00), as "
        "POST /v1/route does with the server's clock, instead of at its own date",
    )
    for option, (field_name, help_text) in FUSION_KNOBS.items():  # the router's own defaults
        parser.add_argument(
            option,
            dest=field_name,
            type=float,
            default=getattr(RankingWeights(), field_name),
            help=help_text,
        )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="score every site with this ranker file (e.g. models/ranker/pretrained.txt) "
        "instead of training leave-one-site-out: how a shipped model takes other vectors",
    )
    args = parser.parse_args()
    for pair in args.param:
        name, _, value = pair.partition("=")
        training.PARAMS[name] = value
    training.SEARCH_DEPTH = args.depth
    weights = RankingWeights(
        pool_active=args.pool_active,
        **{field: getattr(args, field) for field, _ in FUSION_KNOBS.values()},
    )
    dropped = [NAMES.index(name) for name in args.drop]
    started = time.perf_counter()
    sites = {folder.resolve().name: load_site(folder, args.workdir) for folder in args.folders}
    if args.asked_at is not None:  # in date order, a second apart, so the order is kept
        moment = args.asked_at.timestamp()
        for name, (timeline, past, favours, tests) in sites.items():
            ordered = sorted(tests, key=lambda test: test.asked_at)
            tests = [replace(test, asked_at=moment + i) for i, test in enumerate(ordered)]
            sites[name] = (timeline, past, favours, tests)
    fixed = LearnedRanker.load(args.model, kind="pretrained") if args.model else None
    train_sets = {
        name: question_examples(timeline, past, favours=favours, source=name, weights=weights)
        for name, (timeline, past, favours, _) in sites.items()
        if fixed is None
    }
    testing = {
        name: question_examples(
            timeline, tests, favours=favours, source=name, keep_all=True, weights=weights
        )
        for name, (timeline, _, favours, tests) in sites.items()
    }
    for examples in (*train_sets.values(), *testing.values()):
        for rows in examples.rows:
            rows[:, dropped] = 0.0
    built = time.perf_counter()
    print("share of true answerers with an earlier answer (the ceiling of recall):")
    for name, (timeline, _, _, tests) in sites.items():
        print(f"  {name:<15}{known_share(timeline, tests):.3f}")
    print(f"{'site':<15}{'cases':>6}{'P@1':>7}{'Hit@3':>7}{'MRR':>7}{'busy@3':>8}{'recall':>8}")
    summary: list[str] = []
    singles_summary: list[str] = []
    for name, test in testing.items():
        timeline, tests = sites[name][0], sites[name][3]

        def mixed(scores: list[np.ndarray]) -> list[np.ndarray]:
            return fused(test, tests, scores, timeline, weights)  # noqa: B023 (used at once)

        others = Examples()
        for other, examples in train_sets.items():
            if other != name:
                others.extend(examples)
        if fixed is not None:
            scores = [fixed.score(rows) if len(rows) else rows[:, 0] for rows in test.rows]
            print(
                f"{name:<15}{test.questions:>6}{line(measures(test, sites[name][3], mixed(scores)))}"
            )
            continue
        singles = []  # each seed's model's scores: an ensemble's are their mean (ensemble.py)
        for offset in range(args.models * args.repeats):
            model = train(others, seed=args.seed + offset, rounds=args.rounds, models=1)
            singles.append(
                [np.asarray(model.predict(rows)) if len(rows) else rows[:, 0] for rows in test.rows]
            )
        runs = []
        for repeat in range(args.repeats):
            group = singles[repeat * args.models : (repeat + 1) * args.models]
            scores = [np.mean(parts, axis=0) for parts in zip(*group, strict=True)]
            runs.append(measures(test, sites[name][3], mixed(scores)))
            print(
                f"{name:<15}{test.questions:>6}{line(runs[-1])}  seeds from {args.seed + repeat * args.models}"
            )
        if args.models > 1:  # the same seeds' models one by one, for the spread of one model
            alone = [measures(test, sites[name][3], mixed(scores)) for scores in singles]
            low, high = min(r[2] for r in alone), max(r[2] for r in alone)
            singles_summary.append(
                f"{name:<15}{test.questions:>6}{line(mean(alone))}  MRR {low:.3f}-{high:.3f}"
            )
        mrrs = [run[2] for run in runs]
        summary.append(
            f"{name:<15}{test.questions:>6}{line(mean(runs))}  MRR {min(mrrs):.3f}-{max(mrrs):.3f}"
        )
    if args.repeats > 1:
        print(f"mean over {args.repeats} runs of {args.models} averaged model(s)")
        print("\n".join(summary))
    if singles_summary:
        print(f"mean over the same {args.models * args.repeats} models one by one")
        print("\n".join(singles_summary))
    print(
        f"examples {built - started:.0f} s, training and ranking {time.perf_counter() - built:.0f} s"
    )


if __name__ == "__main__":
    main()
