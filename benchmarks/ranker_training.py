"""Training the learned ranker on a network with 10k answers, and the model's size on disk.

Synthetic history (topic-clustered unit vectors, text from a tech vocabulary, 500 people with
skewed activity, two answers per question) stands in for a network; question vectors are given,
as they are cached from the import. Times building the examples (every past question as of its
own time) and fine-tuning / training from scratch. Prints figures; asserts nothing.

    .venv/bin/python -m benchmarks.ranker_training [--answers 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.synthetic import WORDS
from router.routing.adaptation import ADAPT_ROUNDS, fine_tune
from router.routing.learned import LearnedRanker
from router.routing.timeline import Record, Timeline
from router.routing.training import (
    ENSEMBLE,
    ROUNDS,
    Favours,
    PastQuestion,
    question_examples,
    train,
)

DAY = 86400.0


def history(
    answers: int, *, people: int = 500, dimension: int = 384, seed: int = 7
) -> tuple[list[Record], list[PastQuestion], list[tuple[int, int, float]]]:
    """Two answers per question, by people drawn with Zipf-like activity."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, dimension)).astype(np.float32)
    weights = 1.0 / np.arange(1, people + 1)
    weights /= weights.sum()
    records: list[Record] = []
    questions: list[PastQuestion] = []
    favours: list[tuple[int, int, float]] = []
    for _ in range(answers // 2):
        topic = int(rng.integers(200))
        asked = 1.6e9 + float(rng.uniform(0, 730)) * DAY
        words = " ".join(rng.choice(WORDS, size=12))
        vector = centres[topic] + 0.6 * rng.standard_normal(dimension).astype(np.float32)
        vector /= np.linalg.norm(vector)
        who = rng.choice(people, size=2, replace=False, p=weights)
        asker = int(rng.integers(people))
        questions.append(
            PastQuestion(
                text=words,
                vector=vector,
                asker=asker,
                asked_at=asked,
                answerers=frozenset(int(p) for p in who),
            )
        )
        for offset, person in enumerate(who):
            answer = centres[topic] + 0.6 * rng.standard_normal(dimension).astype(np.float32)
            answer /= np.linalg.norm(answer)
            text = f"{words} {' '.join(rng.choice(WORDS, size=30))}"
            at = asked + 3600.0 * (1 + offset)
            records.append(Record(person=int(person), at=at, document=text, vector=answer))
            favours.append((int(person), asker, at))
    return records, questions, favours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--answers", type=int, default=10_000)
    args = parser.parse_args()
    records, questions, favours = history(args.answers)
    c0 = time.process_time()
    t0 = time.perf_counter()
    timeline = Timeline(records)
    examples = question_examples(timeline, questions, favours=Favours(favours))
    t1 = time.perf_counter()
    rows = sum(len(r) for r in examples.rows)
    print(
        f"{args.answers:,} answers, {len(questions):,} questions: examples {t1 - t0:.1f} s "
        f"({examples.questions:,} kept, {rows:,} candidate rows)"
    )
    booster = train(examples)
    t2 = time.perf_counter()
    print(
        f"  training from scratch (lambdarank, {ENSEMBLE} averaged models of {ROUNDS} rounds):"
        f" {t2 - t1:.1f} s"
    )
    base = LearnedRanker.from_booster(booster, kind="pretrained", meta={})
    fine_tune(base, examples)
    t3 = time.perf_counter()
    print(f"  fine-tuning ({ADAPT_ROUNDS} rounds): {t3 - t2:.1f} s")
    print(f"  adaptation total (examples + fine-tune): {t1 - t0 + t3 - t2:.1f} s")
    print(f"  CPU time for all of the above: {time.process_time() - c0:.1f} s (one thread)")
    pool = np.vstack(examples.rows)[:130]  # a route scores and explains its whole pool
    one = LearnedRanker.from_booster(train(examples, models=1), kind="pretrained", meta={})
    for label, ranker in ((f"{ENSEMBLE} averaged models", base), ("one model", one)):
        t4 = time.perf_counter()
        for _ in range(20):
            ranker.score(pool)
            ranker.contributions(pool)
        took = (time.perf_counter() - t4) / 20 * 1000
        print(f"  scoring and explaining a pool of {len(pool)}, {label}: {took:.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.txt"
        base.save(path)
        print(f"  model size on disk: {path.stat().st_size / 1024:.0f} KiB")
    shipped = Path(__file__).resolve().parents[1] / "models" / "ranker" / "pretrained.txt"
    if shipped.is_file():
        print(f"  shipped models/ranker/pretrained.txt: {shipped.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
