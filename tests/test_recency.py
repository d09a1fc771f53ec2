"""Who answered most lately, counted back from the network's newest answer and fused with the
learned order: it does not go stale when the history stops long before a question."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np

from router.routing.answer_log import DAY, AnswerLog
from router.routing.features import NAMES
from router.routing.learned import LearnedRanker
from router.routing.ranking import RankingWeights
from router.routing.recency import (
    Recent,
    answers_before_newest,
    effective_answerers,
    fused_order,
    fused_scores,
    stale_note,
    stale_weight,
)
from router.routing.route import Route
from router.routing.router import Router
from router.routing.training import Examples, train
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from tests.network_builder import NetworkBuilder

MODEL = np.asarray([5.0, 4.0, 3.0, 2.0, 1.0])  # the model's order: person 1 first
PEOPLE = [1, 2, 3, 4, 5]
RECENT = [0, 9, 8, 7, 0]  # person 2 answered most lately, person 1 not at all


def test_recent_answers_are_counted_back_from_the_newest_answer_not_the_clock() -> None:
    start = 1.5e9
    times = [start, start + 10 * DAY, start + 1000 * DAY, start + 1400 * DAY, start + 1401 * DAY]
    log = AnswerLog([7, 7, 8, 8, 9], times)
    counts = answers_before_newest(log, 730)
    by_person = {int(log.people[slot]): int(counts[slot]) for slot in range(len(log.people))}
    # 1,401 days in, the two earliest answers are over 730 days old; the rest are not
    assert by_person == {7: 0, 8: 2, 9: 1}


def test_with_no_weight_the_model_order_stands() -> None:
    assert [PEOPLE[i] for i in fused_order(PEOPLE, MODEL, RECENT, 0.0)] == PEOPLE


def test_who_answered_most_lately_is_lifted_past_a_close_model_neighbour_only() -> None:
    order = [PEOPLE[i] for i in fused_order(PEOPLE, MODEL, RECENT, 0.5)]
    assert order[:3] == [2, 1, 3]  # one place up, not to the top of a distant list
    ranked, lifted = fused_scores(PEOPLE, MODEL, RECENT, 0.5)
    assert [person for person, _ in ranked] == order
    assert lifted == {2}
    # the model's spread is kept, dealt out in the fused order (policies scale it as before)
    assert [score for _, score in ranked] == [math.exp(s - 5.0) for s in MODEL]


def test_the_fused_weight_grows_with_how_old_the_newest_answer_is() -> None:
    weights = RankingWeights(recent_weight=1.0, recent_ramp_days=180)
    assert stale_weight(weights, 0) == 0.0  # a live network: the model's fresh features decide
    assert stale_weight(weights, -3) == 0.0  # an answer stamped after the question
    assert stale_weight(weights, 90) == 0.5
    assert stale_weight(weights, 180) == stale_weight(weights, 2000) == 1.0


def test_answers_spread_alike_over_twenty_people_count_as_twenty_answerers() -> None:
    assert effective_answerers(np.full(20, 3)) == 20.0
    assert effective_answerers(np.asarray([0, 12, 0])) == 1.0  # one person gives every answer
    assert effective_answerers(np.asarray([6, 2, 2])) == 100 / 44
    assert effective_answerers(np.zeros(4, dtype=np.int64)) == math.inf  # nobody answered


def test_where_a_few_people_give_most_answers_recent_activity_counts_more() -> None:
    weights = RankingWeights(recent_weight=0.75, concentrated_below=24, concentrated_cap=8)
    # spread over as many people as the threshold or more: the plain weight
    assert stale_weight(weights, 400, spread=24) == stale_weight(weights, 400, spread=200) == 0.75
    assert stale_weight(weights, 400) == 0.75  # nothing known of the spread
    # half as many effective answerers: four times the weight, up to the cap
    assert stale_weight(weights, 400, spread=12) == 3.0
    assert stale_weight(weights, 400, spread=1) == 6.0
    # still nothing for a live network, however concentrated
    assert stale_weight(weights, 0, spread=1) == 0.0
    # so the most active lately reaches the top of a concentrated network's list
    model, people, recent = np.arange(6.0, 0.0, -1.0), [1, 2, 3, 4, 5, 6], [1, 0, 0, 0, 0, 9]
    spread_out = fused_order(people, model, recent, stale_weight(weights, 400, spread=30))
    concentrated = fused_order(people, model, recent, stale_weight(weights, 400, spread=12))
    assert [people[i] for i in spread_out][:3] == [1, 2, 3]
    assert [people[i] for i in concentrated][:2] == [1, 6]


def test_a_stale_note_names_concentration_only_where_it_raised_the_weight() -> None:
    spread_out = Recent(counts={}, stale_days=400, weight=0.75, spread=40, concentrated=False)
    assert stale_note(spread_out) == (
        "the newest answer in this network is 400 days old; who answered most up to then counts too"
    )
    few = Recent(counts={}, stale_days=400, weight=3.0, spread=8.4, concentrated=True)
    assert stale_note(few).endswith(
        "(the more so as those answers came from few people: about 8 in effect)"
    )


def _activity_model() -> LearnedRanker:
    """A model that only counts answers so far: whoever answered most ranks first."""
    rng = np.random.default_rng(5)
    examples = Examples()
    column = NAMES.index("answers_log")
    for _ in range(300):
        rows = np.zeros((8, len(NAMES)))
        rows[:, column] = rng.uniform(0, 3, size=8)
        examples.rows.append(rows)
        examples.labels.append((rows[:, column] == rows[:, column].max()).astype(float))
    return LearnedRanker.from_booster(train(examples, rounds=20), kind="pretrained", meta={})


def _olga_and_rita(net: NetworkBuilder, *, olga_days_ago: int, rita_days_ago: int) -> None:
    """Olga answered most (about sailing), Rita less (about cycling)."""
    sailing = [f"Question {n} about sailing?|Trim the jib" for n in range(12)]
    cycling = [f"Question {n} about cycling?|Check the chain" for n in range(4)]
    net.person("olga", *sailing, days_ago=olga_days_ago)
    net.person("rita", *cycling, days_ago=rita_days_ago)


def _route(net: NetworkBuilder, settings: Settings, models: Path, weight: float) -> Route:
    """Rita's subject asked now by a newcomer, ranked by the activity-only model."""
    router = Router(
        database=net.database,
        embedder=net.embedder,
        settings=settings.model_copy(update={"models_dir": models, "index_check_seconds": 0.0}),
        weights=RankingWeights(recent_weight=weight),
        ranker=_activity_model(),
    )
    with net.database.transaction() as session:
        return router.route(
            session,
            network_id=net.network_id,
            question="how do you check the chain of a bicycle for cycling?",
            asker_id=None,
            k=2,
            now=net.now,
        )


def test_a_history_that_stopped_long_ago_still_knows_who_was_active_at_its_end(
    database: Database, embedder: HashingEmbedder, settings: Settings, now: datetime, tmp_path: Path
) -> None:
    """Olga answered most, five years ago; Rita lately, but 700 days before the question, so
    every activity window measured from the clock is empty."""
    net = NetworkBuilder(database, embedder, now, name="stale")
    _olga_and_rita(net, olga_days_ago=1800, rita_days_ago=700)
    assert _route(net, settings, tmp_path, 0.0).candidates[0].name == "Olga"
    result = _route(net, settings, tmp_path, 2.0)
    assert result.candidates[0].name == "Rita"
    # her match did not move this model; recent activity lifted her, and she is told so
    assert result.candidates[0].reasons[0].kind == "activity"
    assert "the newest answer in this network is 700 days old" in result.notes[0]
    # only Rita answered in those two years: the route says why activity weighed so much
    assert "those answers came from few people: about 1 in effect" in result.notes[0]


def test_a_live_network_is_ranked_by_the_model_alone_and_says_nothing_of_staleness(
    database: Database, embedder: HashingEmbedder, settings: Settings, now: datetime, tmp_path: Path
) -> None:
    """The same two people, but Rita's newest answer is from today: no weight, no note."""
    net = NetworkBuilder(database, embedder, now, name="live")
    _olga_and_rita(net, olga_days_ago=800, rita_days_ago=0)
    result = _route(net, settings, tmp_path, 2.0)
    assert result.candidates[0].name == "Olga"
    assert not any("newest answer" in note for note in result.notes)


def test_people_who_answered_alike_lately_keep_the_model_order_between_them() -> None:
    """Equal recent counts carry no order; before, they were ranked by person id, which lifted
    the lowest id over a better match."""
    model = np.asarray([1.0, 2.0, 3.0, 4.0])  # person 4 matches best
    order = fused_order([1, 2, 3, 4], model, [1, 1, 1, 1], 5.0)
    assert [[1, 2, 3, 4][i] for i in order] == [4, 3, 2, 1]
    # a real difference in recent answers still counts
    order = fused_order([1, 2, 3, 4], model, [9, 1, 1, 1], 5.0)
    assert [[1, 2, 3, 4][i] for i in order][:2] == [1, 4]
