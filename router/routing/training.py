"""Training the learned ranker: every past question with known answerers is one ranking example.

For each question, in time order, the candidates are what the retrieval stage would have found
as of the moment it was asked (``Timeline``), their features what the network knew then
(``AnswerLog.as_of``), and the label whether they answered it. The window only ever grows, and
nothing is rebuilt per question. Training is LightGBM lambdarank with a fixed seed.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from router.progress import Progress, silent
from router.routing.answer_log import AnswerLog, Standing
from router.routing.ensemble import average_boosters
from router.routing.features import NAMES, Matrix, person_features
from router.routing.ranking import Hit, RankingWeights, merge_hits
from router.routing.timeline import Timeline

if TYPE_CHECKING:  # LightGBM (and the scipy/sklearn it imports) loads when a model is used
    import lightgbm as lgb

SEARCH_DEPTH = 100  # as deep as the router searches
PARAMS: dict[str, object] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [1, 3, 10],
    "learning_rate": 0.05,
    "num_leaves": 7,  # chosen leave-one-site-out (15 leaves / 200 rounds overfit the sites)
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "lambdarank_truncation_level": 20,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,  # OpenMP spinning on a loaded 2-core machine costs 20x
    "verbose": -1,
}
ROUNDS = 100
ENSEMBLE = 5  # seeded models averaged (router.routing.ensemble): one model's choices are noisy


@dataclass(frozen=True)
class PastQuestion:
    """A question from the history: its text and vector, who asked, when, and who answered."""

    text: str
    vector: npt.NDArray[np.float32]
    asker: int | None
    asked_at: float
    answerers: frozenset[int]


@dataclass
class Examples:
    """Feature rows grouped by question, with 1 for the people who really answered."""

    rows: list[Matrix] = field(default_factory=list)
    labels: list[npt.NDArray[np.float64]] = field(default_factory=list)
    people: list[npt.NDArray[np.int64]] = field(default_factory=list)  # who each row is
    sources: list[str] = field(default_factory=list)
    history: list[int] = field(default_factory=list)  # answers known when each was asked

    @property
    def questions(self) -> int:
        return len(self.rows)

    def extend(self, other: Examples) -> None:
        self.rows += other.rows
        self.labels += other.labels
        self.people += other.people
        self.sources += other.sources
        self.history += other.history

    def dataset(self) -> lgb.Dataset:
        features = np.vstack(self.rows) if self.rows else np.zeros((0, len(NAMES)))
        labels = np.concatenate(self.labels) if self.labels else np.zeros(0)
        import lightgbm as lgb

        return lgb.Dataset(
            features,
            label=labels,
            group=[len(r) for r in self.rows],
            feature_name=list(NAMES),
            free_raw_data=False,
        )


class Favours:
    """Who answered whom and when, so closeness to an asker can be read as of any moment."""

    def __init__(self, pairs: Iterable[tuple[int, int, float]] = ()) -> None:
        self.times: dict[tuple[int, int], list[float]] = {}
        for helper, helped, at in pairs:
            self.times.setdefault((helper, helped), []).append(at)
        for times in self.times.values():
            times.sort()

    def closeness(self, asker: int | None, people: Iterable[int], now: float) -> dict[int, int]:
        """Favours each person did for the asker or the asker did for them, before ``now``."""
        if asker is None:
            return {}
        result = {}
        for person in people:
            count = 0
            for pair in ((person, asker), (asker, person)):
                times = self.times.get(pair)
                if times:
                    count += bisect.bisect_left(times, now)
            if count:
                result[person] = count
        return result


def candidate_pool(hits: Sequence[Hit], standing: Standing, weights: RankingWeights) -> set[int]:
    """Who the ranker chooses among: everyone search found, plus the most active people."""
    return {hit.person_id for hit in hits} | set(standing.most_active(weights.pool_active))


def past_hits(
    timeline: Timeline, question: PastQuestion, *, now: float, weights: RankingWeights
) -> list[Hit]:
    """What the retrieval stage finds for ``question`` in the history before ``now``."""
    dense = timeline.dense(question.vector, now=now, depth=SEARCH_DEPTH)
    lexical = timeline.lexical(question.text, now=now, depth=SEARCH_DEPTH)
    owner = {row: int(timeline.people[row]) for row in set(dense[0]) | set(lexical[0])}
    return merge_hits(
        zip(*dense, strict=True),
        zip(*lexical, strict=True),
        owner,
        {},
        min_similarity=weights.min_similarity,
        similarity_window=weights.similarity_window,
    )


def question_examples(
    timeline: Timeline,
    questions: Sequence[PastQuestion],
    *,
    favours: Favours,
    weights: RankingWeights = RankingWeights(),
    source: str = "",
    keep_all: bool = False,
    progress: Progress = silent,
) -> Examples:
    """One ranking example per question whose answerers the retrieval stage found at all.

    ``keep_all`` also keeps the questions with nobody (or everybody) right in the pool, for
    measuring rather than training.
    """
    log = AnswerLog(
        timeline.people.tolist(), timeline.times.tolist(), half_life_days=weights.half_life_days
    )
    examples = Examples()
    ordered = sorted(questions, key=lambda q: q.asked_at)
    for done, question in enumerate(ordered, start=1):
        progress("training examples", done, len(ordered))
        now = question.asked_at
        hits = past_hits(timeline, question, now=now, weights=weights)
        standing = log.as_of(now)
        pool = candidate_pool(hits, standing, weights) - {question.asker}
        labels = np.asarray([1.0 if p in question.answerers else 0.0 for p in sorted(pool)])
        if not keep_all and (not labels.any() or labels.all()):
            continue
        people = sorted(pool)
        closeness = favours.closeness(question.asker, people, now)
        examples.rows.append(
            person_features(
                [h for h in hits if h.person_id in pool],
                people,
                standing=standing,
                closeness=closeness,
                weights=weights,
            )
        )
        examples.labels.append(labels)
        examples.people.append(np.asarray(people, dtype=np.int64))
        examples.sources.append(source)
        examples.history.append(timeline.size_at(now))
    return examples


def train(
    examples: Examples,
    *,
    seed: int = 12,
    rounds: int = ROUNDS,
    init_model: lgb.Booster | None = None,
    models: int = ENSEMBLE,
) -> lgb.Booster:
    """The average of ``models`` lambdarank models over ``examples``, seeded ``seed``,
    ``seed + 1``, ...; the same examples and seed give the same model."""
    import lightgbm as lgb

    boosters = []
    for offset in range(models):
        own = seed + offset
        params = dict(PARAMS, seed=own, bagging_seed=own, feature_fraction_seed=own)
        boosters.append(
            lgb.train(params, examples.dataset(), num_boost_round=rounds, init_model=init_model)
        )
    return average_boosters(boosters)
