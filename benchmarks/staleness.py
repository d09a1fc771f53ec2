"""How stale the history is when the test questions are asked, and what that does to routing.

The replay freezes each site's history at its cutoff and asks the later questions at their own
dates, up to years later. Every activity window (last 90 / 365 days) is measured back from the
asking time, so for most test questions it is empty, while every training example saw a fresh
history. This prints, per site (database-free, from ``loso_quick``'s cache):

1. the gap between a test question and the newest answer in the history;
2. "most answers in the last D days" anchored at the newest answer against the asking time;
3. leave-one-site-out MRR of the learned ranker (average of 5) with activity measured from the
   asking time ("asked", as shipped) or from the newest answer known ("horizon"), each fused
   (reciprocal ranks) with "most answers in the two years before the newest answer" at a fixed
   weight w (the shipped fusion ramps its weight with staleness: ``loso_quick --recent-ramp``);
4. whether a backtest on the site's own history (its latest 20% of questions asked of the
   history frozen before them) picks the setting that is best on the real test questions.

    .venv/bin/python -m benchmarks.staleness --workdir /tmp/loso ../shared/data/stackexchange/*
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from benchmarks.loso_quick import load_site, measures
from router.routing import answer_log, features, training
from router.routing.ranking import RankingWeights
from router.routing.recency import fused_order
from router.routing.timeline import Timeline
from router.routing.training import Examples, Favours, PastQuestion

DAY = 86400.0
PRIOR_DAYS = 730
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)
CLOCKS = ("asked", "horizon")


def frozen_standing(log: answer_log.AnswerLog, now: float, n: int) -> answer_log.Standing:
    """A standing at ``now`` that knows only the first ``n`` answers (history frozen earlier)."""
    size = len(log.people)
    prefix = log._prefix_of(n)

    def window(days: float) -> np.ndarray:
        start = min(int(np.searchsorted(log.times, now - days * DAY, side="left")), n)
        return np.bincount(log.slots[start:n], minlength=size).astype(np.int64)

    recent = window(90)
    return answer_log.Standing(
        now=now,
        slot_of=log.slot_of,
        people=log.people,
        total=prefix.total,
        last_90d=recent,
        last_365d=window(365),
        last_at=prefix.last_at,
        decayed=prefix.decayed * math.exp(log.rate * (prefix.ref - now)),
        hours=prefix.hours,
        weekdays=prefix.weekdays,
        sorted_total=prefix.sorted_total,
        sorted_recent=np.sort(recent),
        last_50=np.bincount(log.slots[max(0, n - answer_log.LAST_N) : n], minlength=size),
        last_10=np.bincount(log.slots[max(0, n - 10) : n], minlength=size),
        active_memo=prefix.active,
    )


def examples_at(
    timeline: Timeline,
    questions: list[PastQuestion],
    favours: Favours,
    *,
    clock: str,
    frozen_at: float | None,
) -> tuple[Examples, list[np.ndarray], list[PastQuestion]]:
    """Ranking examples with the history frozen at ``frozen_at`` (None: just before each
    question), activity measured from the asking time or from the newest answer known, and each
    candidate's answers in the ``PRIOR_DAYS`` before that newest answer."""
    weights = RankingWeights()
    log = answer_log.AnswerLog(
        timeline.people.tolist(), timeline.times.tolist(), half_life_days=weights.half_life_days
    )
    examples, priors, kept = Examples(), [], []
    for question in sorted(questions, key=lambda q: q.asked_at):
        now = question.asked_at
        n = timeline.size_at(now if frozen_at is None else min(now, frozen_at))
        if n == 0:
            continue
        newest = min(now, float(timeline.times[n - 1]) + 1.0)
        hits = training.past_hits(timeline, question, now=newest, weights=weights)
        standing = log.as_of(newest) if clock == "horizon" else frozen_standing(log, now, n)
        pool = training.candidate_pool(hits, standing, weights) - {question.asker}
        people = sorted(pool)
        rows = features.person_features(
            [h for h in hits if h.person_id in pool],
            people,
            standing=standing,
            closeness=favours.closeness(question.asker, people, newest),
            weights=weights,
        )
        hour, weekday = int((now // 3600) % 24), int((now // DAY + 3) % 7)
        hour_at, weekday_at = (
            features.NAMES.index("hour_presence"),
            features.NAMES.index("weekday_presence"),
        )
        start = min(int(np.searchsorted(timeline.times, newest - PRIOR_DAYS * DAY)), n)
        recent = np.bincount(log.slots[start:n], minlength=len(log.people))
        prior = np.zeros(len(people))
        for row, person in enumerate(people):
            slot = standing.slot_of.get(person)
            if slot is None:
                continue
            # presence is about the asking hour, whichever clock activity is measured on
            hours, days = standing.hours[slot][None, :], standing.weekdays[slot][None, :]
            rows[row, hour_at] = features.presence(hours, (hour - 1, hour, hour + 1))[0]
            rows[row, weekday_at] = features.presence(days, (weekday,))[0]
            prior[row] = recent[slot]
        examples.rows.append(rows)
        examples.labels.append(np.asarray([float(p in question.answerers) for p in people]))
        examples.people.append(np.asarray(people, dtype=np.int64))
        priors.append(prior)
        kept.append(question)
    return examples, priors, kept


def fused(scores: np.ndarray, prior: np.ndarray, people: np.ndarray, weight: float) -> np.ndarray:
    """Scores in the router's fused order (``recency.fused_order``) at a fixed weight."""
    order = fused_order(people.tolist(), scores, prior.tolist(), weight)
    ranked = np.empty(len(people))
    ranked[order] = -np.arange(len(people), dtype=np.float64)
    return ranked


def window_baselines(timeline: Timeline, tests: list[PastQuestion]) -> str:
    """MRR of "most answers in the last D days", from the newest answer and from the asking time."""
    newest = float(timeline.times[-1])
    parts = []
    for days in (90, 365, PRIOR_DAYS):
        figures = []
        for anchored in (True, False):
            total = 0.0
            for test in tests:
                end = newest if anchored else test.asked_at
                mask = timeline.times >= end - days * DAY
                people, counts = np.unique(timeline.people[mask], return_counts=True)
                order = [int(p) for p in people[np.lexsort((people, -counts))] if p != test.asker]
                ranks = [order.index(a) + 1 for a in test.answerers if a in order[:100]]
                total += 1.0 / min(ranks) if ranks else 0.0
            figures.append(total / (len(tests) or 1))
        parts.append(f"{days}d {figures[0]:.3f} / {figures[1]:.3f}")
    return "  ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--models", type=int, default=5)
    args = parser.parse_args()

    sites = {folder.resolve().name: load_site(folder, args.workdir) for folder in args.folders}
    print("days from the newest history answer to the test question (median / p90 / max):")
    for name, (timeline, _, _, tests) in sites.items():
        gaps = np.asarray([t.asked_at - float(timeline.times[-1]) for t in tests]) / DAY
        print(
            f"  {name:<15}{np.median(gaps):>6.0f}{np.percentile(gaps, 90):>6.0f}{gaps.max():>6.0f}"
            f"   more than 90 days: {np.mean(gaps > 90):.2f}"
        )
    print(
        "most answers in the last D days, MRR (anchored at the newest answer / at the asking time):"
    )
    for name, (timeline, _, _, tests) in sites.items():
        print(f"  {name:<15}{window_baselines(timeline, tests)}")
    train_sets = {
        name: training.question_examples(timeline, past, favours=favours, source=name)
        for name, (timeline, past, favours, _) in sites.items()
    }
    print(
        f"leave-one-site-out MRR / busy@3, average of {args.models} models; w = weight of the prior"
    )
    for name, (timeline, past, favours, tests) in sites.items():
        others = Examples()
        for other, examples in train_sets.items():
            if other != name:
                others.extend(examples)
        models = [
            training.train(others, seed=args.seed + offset, models=1)
            for offset in range(args.models)
        ]
        ordered = sorted(past, key=lambda q: q.asked_at)
        inner = ordered[int(len(ordered) * 0.8) :]
        results: dict[tuple[str, float, str], tuple[float, ...]] = {}
        for clock in CLOCKS:
            for part, questions, frozen_at in (
                ("backtest", inner, inner[0].asked_at),
                ("test", tests, None),
            ):
                examples, priors, kept = examples_at(
                    timeline, questions, favours, clock=clock, frozen_at=frozen_at
                )
                scores = [
                    np.mean([m.predict(rows) for m in models], axis=0) for rows in examples.rows
                ]
                for weight in WEIGHTS:
                    mixed = [
                        fused(s, prior, people, weight)
                        for s, prior, people in zip(scores, priors, examples.people, strict=True)
                    ]
                    results[(clock, weight, part)] = measures(examples, kept, mixed)
        settings = [(clock, weight) for clock in CLOCKS for weight in WEIGHTS]
        picked = max(settings, key=lambda s: results[(*s, "backtest")][2])
        best = max(settings, key=lambda s: results[(*s, "test")][2])
        print(
            f"{name}: backtest picks {picked} (test MRR {results[(*picked, 'test')][2]:.3f}); "
            f"best on test {best} ({results[(*best, 'test')][2]:.3f})"
        )
        for clock in CLOCKS:
            cells = "  ".join(
                f"w={w:<4} {results[(clock, w, 'test')][2]:.3f}/{results[(clock, w, 'test')][3]:.2f}"
                f" (bt {results[(clock, w, 'backtest')][2]:.3f})"
                for w in WEIGHTS
            )
            print(f"  {clock:<8}{cells}", flush=True)


if __name__ == "__main__":
    main()
