"""Replaying a Stack Exchange site: the split, the metrics, the baselines and the side-by-side run."""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from router.errors import InvalidInput
from router.evaluation import (
    SYSTEMS,
    Scored,
    Scores,
    evaluate_site,
    hit_at,
    ndcg_at,
    reciprocal_rank,
    split_site,
)
from router.evaluation.baselines import Bm25Threads, MostActive, people_from_threads
from router.evaluation.cases import Thread, cutoff_of
from router.evaluation.metrics import busiest_share
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database

SITE = Path(__file__).parent / "fixtures" / "stackexchange"
ALICE, BOB, CAROL, DAVE, ERIN = 1, 2, 3, 4, 5


def test_reciprocal_rank_is_one_over_the_rank_of_the_first_right_person() -> None:
    assert reciprocal_rank([5, 3, 9], {3, 9}) == 0.5
    assert reciprocal_rank([5, 3, 9], {5}) == 1.0
    assert reciprocal_rank([5, 3, 9], {7}) == 0.0


def test_hit_at_k_counts_only_the_first_k_people() -> None:
    assert hit_at([5, 3, 9], {9}, 3) == 1.0
    assert hit_at([5, 3, 9], {9}, 2) == 0.0


def test_ndcg_rewards_right_people_near_the_top() -> None:
    # right people at ranks 2 and 3, out of two possible: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3)
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at([1, 2, 3], {2, 3}, 10) == pytest.approx(expected)
    assert ndcg_at([2, 3, 1], {2, 3}, 10) == pytest.approx(1.0)
    assert ndcg_at([1, 2, 3], {3}, 2) == 0.0


def test_scores_average_cases_and_accepted_mrr_only_counts_cases_with_one() -> None:
    scores = Scores.of(
        [
            Scored(ranking=[1, 2], truth=frozenset({2}), accepted=2),
            Scored(ranking=[3], truth=frozenset({4}), accepted=None),
        ]
    )
    assert (scores.cases, scores.accepted_cases) == (2, 1)
    assert scores.p_at_1 == 0.0
    assert scores.hit_at_3 == 0.5
    assert scores.mrr == 0.25
    assert scores.accepted_mrr == 0.5


def test_busiest_share_is_how_often_the_most_asked_person_is_in_the_top_three() -> None:
    assert busiest_share([[1, 2, 3], [1, 4, 5], [6, 7, 8, 1], [2, 9]]) == 0.5
    assert busiest_share([[1, 1, 1], [2]]) == 0.5  # a person counts once per case
    assert busiest_share([]) == 0.0


def test_cutoff_is_the_date_of_the_question_at_the_80th_percentile() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    dates = [start + timedelta(days=day) for day in (4, 0, 3, 1, 2)]
    assert cutoff_of(dates) == start + timedelta(days=4)
    assert cutoff_of(dates[1:]) == start + timedelta(days=3)
    with pytest.raises(InvalidInput):
        cutoff_of([])


def test_split_makes_cases_of_later_questions_answered_by_someone_else() -> None:
    split = split_site(SITE)
    assert split.cutoff == datetime(2020, 4, 1, 9, tzinfo=UTC)
    cases = {case.question_id: case for case in split.cases}
    # 26 was only answered by its own asker, so it is no case.
    assert sorted(cases) == [20, 23, 28]
    assert (cases[20].truth, cases[20].accepted, cases[20].routable) == (
        frozenset({ALICE, BOB}),
        ALICE,
        True,
    )
    assert (cases[23].truth, cases[23].asker) == (
        frozenset({BOB}),
        CAROL,
    )  # Carol's own answer is no truth
    assert (cases[28].truth, cases[28].routable) == (
        frozenset({ERIN}),
        False,
    )  # Erin never answered before
    assert cases[20].text.startswith("Which hops taste of grapefruit?\nWhich hop varieties")


def test_history_is_what_was_answered_before_the_cutoff() -> None:
    split = split_site(SITE)
    assert dict(split.answers_by) == {ALICE: 3, BOB: 3, CAROL: 2, DAVE: 1}
    whisky = next(thread for thread in split.threads if thread.question_id == 6)
    assert "Highland" not in whisky.text  # answer 30 came after the cutoff
    assert whisky.answerers == (CAROL,)


def test_most_active_baseline_ranks_by_answer_count_and_skips_the_asker() -> None:
    split = split_site(SITE)
    case = next(case for case in split.cases if case.question_id == 23)
    assert MostActive(split).rank(case, k=10) == [ALICE, BOB, DAVE]


def test_thread_baselines_credit_answerers_with_the_scores_of_their_threads() -> None:
    threads = [
        Thread(question_id=1, text="", answerers=(7, 8)),
        Thread(question_id=2, text="", answerers=(8, 9, 6)),
        Thread(question_id=3, text="", answerers=(5,)),
    ]
    scores = np.array([1.0, 2.0, 0.0])
    assert people_from_threads(scores, threads, asker=6, k=10) == [8, 9, 7]  # 5: no match
    assert people_from_threads(scores, threads, asker=None, k=2) == [8, 6]
    assert people_from_threads(scores, threads, asker=None, k=10, depth=1) == [6, 8, 9]


def test_someone_who_answered_many_close_threads_beats_one_best_thread() -> None:
    threads = [Thread(question_id=i, text="", answerers=(a,)) for i, a in enumerate((1, 2, 2))]
    assert people_from_threads(np.array([1.5, 1.0, 1.0]), threads, asker=None, k=10) == [2, 1]


def test_bm25_baseline_finds_the_thread_sharing_rare_words() -> None:
    split = split_site(SITE)
    case = next(case for case in split.cases if case.question_id == 20)
    assert Bm25Threads(split.threads).rank(case, k=2) == [ALICE, BOB]


def test_replay_scores_router_and_baselines_side_by_side(
    database: Database, settings: Settings, embedder: HashingEmbedder
) -> None:
    seen: set[str] = set()
    result = evaluate_site(
        folder=SITE,
        database=database,
        settings=settings,
        embedder=embedder,
        progress=lambda stage, done, total: seen.add(stage),
    )
    assert [system.name for system in result.systems] == list(SYSTEMS)
    assert result.history.evidence_created == result.split.history_answers == 9
    for system in result.systems:
        assert (system.all.cases, system.routable.cases) == (3, 2)
        for case in result.cases:
            assert case.asker not in system.rankings[case.question_id]
    router = result.system("router")
    by_hand = sum(
        reciprocal_rank(router.rankings[case.question_id], case.truth) for case in result.cases
    )
    assert router.all.mrr == pytest.approx(by_hand / 3)
    assert router.rankings[20][0] in {ALICE, BOB}
    assert {"ranking: router", "ranking: fusion", "embedding"} <= seen
    assert "router" in result.table() and "routable cases" in result.table()


def test_replaying_into_a_kept_database_reuses_the_history(
    database: Database, settings: Settings, embedder: HashingEmbedder
) -> None:
    first = evaluate_site(
        folder=SITE, database=database, settings=settings, embedder=embedder, systems=["router"]
    )
    again = evaluate_site(
        folder=SITE, database=database, settings=settings, embedder=embedder, systems=["router"]
    )
    assert again.history.evidence_created == 0
    assert again.history.evidence_seen == first.history.evidence_created
    assert again.system("router").rankings == first.system("router").rankings


def test_replay_refuses_unknown_systems_and_too_short_rankings(
    database: Database, settings: Settings, embedder: HashingEmbedder
) -> None:
    with pytest.raises(InvalidInput, match="unknown system 'oracle'"):
        evaluate_site(
            folder=SITE, database=database, settings=settings, embedder=embedder, systems=["oracle"]
        )
    with pytest.raises(InvalidInput, match="between 10"):
        evaluate_site(folder=SITE, database=database, settings=settings, embedder=embedder, k=3)


def test_eval_command_prints_the_table_and_writes_rankings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from askaround.cli import main

    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    out = tmp_path / "eval.json"
    monkeypatch.setattr(
        sys, "argv", ["askaround", "eval", "stackexchange", str(SITE), "--json", str(out)]
    )
    main()
    printed = capsys.readouterr().out
    assert "all cases (n=3" in printed and "fusion" in printed
    written = json.loads(out.read_text())
    assert sorted(written["systems"]) == sorted(SYSTEMS)
    assert [case["question_id"] for case in written["cases"]] == [20, 23, 28]
    assert not (tmp_path / "data").exists()  # the replay never touches the configured data
