"""Per-network adaptation measured leave-one-site-out, without the database.

For each site: the base is the average of ``--models`` models trained on the other sites (as
``loso_quick``); it is then fine-tuned (``ADAPT_ROUNDS`` rounds, one model per seed, as
``adaptation.fine_tune``) on the site's own history before its cutoff, in two forms:

* ``regrouped``: the answers regrouped by their context (title and tags), asked just before the
  first answer, with no asker and no favours: what ``adaptation.network_examples`` reads from a
  network's database;
* ``full``: the pre-training examples (title and body, the asker, favours, the real asking time).

Each is scored on the site's test cases. ``--guard`` also fine-tunes on the older 80% of the
site's examples and prints base against tuned on the latest 20%: whether a network could tell,
from its own history, that adapting helps. Prints figures only.

    .venv/bin/python -m benchmarks.adaptation_quick --workdir /tmp/loso <six dirs>
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.loso_quick import line, load_site, measures
from router.evaluation.cases import split_site
from router.evaluation.vector_cache import CachedEmbedder
from router.importers.stackexchange import is_person, question_context, read_posts
from router.routing import training
from router.routing.adaptation import ADAPT_ROUNDS, ASKED_BEFORE_ANSWER, regrouped_questions
from router.routing.timeline import Timeline
from router.routing.training import Examples, Favours, question_examples, train
from router.settings import Settings


def regrouped(folder: Path, timeline: Timeline, workdir: Path, before: float) -> Examples:
    """The site's answers before its cutoff regrouped as ``network_examples`` regroups them."""
    from askaround.wiring import build_embedder  # the model loads only when needed

    cutoff = split_site(folder).cutoff
    posts = [post for post in read_posts(folder) if post.created_at < cutoff]
    questions = {post.id: post for post in posts if post.is_question}
    grouped: dict[str, tuple[float, set[int]]] = {}
    for post in posts:
        if post.is_question or not is_person(post.owner_id) or post.parent_id not in questions:
            continue
        context = question_context(questions[post.parent_id or 0])
        at = post.created_at.timestamp()
        first, people = grouped.get(context, (at, set()))
        people.add(post.owner_id or 0)
        grouped[context] = (min(first, at), people)
    embedder = CachedEmbedder(build_embedder(Settings()), workdir / "vectors.sqlite")
    asked = regrouped_questions(grouped, embedder, before=before)
    return question_examples(timeline, asked, favours=Favours(), source=folder.name)


def part(examples: Examples, start: int, end: int) -> Examples:
    """Questions ``start`` to ``end`` (examples are in time order)."""
    return Examples(
        examples.rows[start:end],
        examples.labels[start:end],
        examples.people[start:end],
        examples.sources[start:end],
        examples.history[start:end],
    )


def mrr(model: object, examples: Examples) -> float:
    """MRR of ``model`` over ``examples`` (each has someone right in its pool)."""
    total = 0.0
    for rows, labels, people in zip(examples.rows, examples.labels, examples.people, strict=True):
        score = np.asarray(model.predict(rows))  # type: ignore[attr-defined]
        right = labels[np.lexsort((people, -score))]
        total += 1.0 / (int(np.argmax(right)) + 1) if right.any() else 0.0
    return total / (examples.questions or 1)


def scores(model: object, test: Examples) -> list[np.ndarray]:
    """The model's score of every candidate of every test case."""
    return [np.asarray(model.predict(rows)) for rows in test.rows]  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--models", type=int, default=training.ENSEMBLE, help="in the base")
    parser.add_argument("--tunes", type=int, default=2, help="fine-tuning seeds, averaged")
    parser.add_argument("--rounds", type=int, default=ADAPT_ROUNDS)
    parser.add_argument("--rate", type=float, default=None, help="fine-tuning learning rate")
    parser.add_argument("--before", type=float, default=ASKED_BEFORE_ANSWER, help="seconds")
    parser.add_argument("--examples", action="append", choices=["regrouped", "full"])
    parser.add_argument("--guard", action="store_true")
    args = parser.parse_args()
    kinds = args.examples or ["regrouped", "full"]
    sites = {folder.resolve().name: load_site(folder, args.workdir) for folder in args.folders}
    full = {
        name: question_examples(timeline, past, favours=favours, source=name)
        for name, (timeline, past, favours, _) in sites.items()
    }
    own = {"full": full}
    if "regrouped" in kinds:
        own["regrouped"] = {
            folder.resolve().name: regrouped(
                folder, sites[folder.resolve().name][0], args.workdir, args.before
            )
            for folder in args.folders
        }
    print(f"{'site':<15}{'model':>10}{'P@1':>7}{'Hit@3':>7}{'MRR':>7}{'busy@3':>8}{'recall':>8}")
    for name, (timeline, _, favours, tests) in sites.items():
        test = question_examples(timeline, tests, favours=favours, source=name, keep_all=True)
        others = Examples()
        for other, examples in full.items():
            if other != name:
                others.extend(examples)
        base = train(others, models=args.models)
        print(f"{name:<15}{'base':>10}{line(measures(test, tests, scores(base, test)))}")
        saved = dict(training.PARAMS)
        if args.rate is not None:
            training.PARAMS["learning_rate"] = args.rate
        try:
            for kind in kinds:
                examples = own[kind][name]
                runs, guards = [], []
                for seed in range(12, 12 + args.tunes):
                    tuned = train(
                        examples, seed=seed, rounds=args.rounds, init_model=base, models=1
                    )
                    runs.append(measures(test, tests, scores(tuned, test)))
                    if args.guard:
                        cut = int(examples.questions * 0.8)
                        early = train(
                            part(examples, 0, cut),
                            seed=seed,
                            rounds=args.rounds,
                            init_model=base,
                            models=1,
                        )
                        late = part(examples, cut, examples.questions)
                        guards.append(f"{mrr(base, late):.3f}/{mrr(early, late):.3f}")
                mean = tuple(float(v) for v in np.mean(runs, axis=0))
                each = " ".join(f"{run[2]:.3f}" for run in runs)
                guard = f"  latest 20% base/tuned {' '.join(guards)}" if guards else ""
                print(f"{name:<15}{kind:>10}{line(mean)}  MRR {each}{guard}")
        finally:
            training.PARAMS.clear()
            training.PARAMS.update(saved)


if __name__ == "__main__":
    main()
