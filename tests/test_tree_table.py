"""The tree tables give LightGBM's own scores and TreeSHAP, and models they cannot table fall back."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from router.routing.ensemble import average_models
from router.routing.features import NAMES
from router.routing.learned import LearnedRanker, pretrained_path
from router.routing.tree_table import TreeTable

MODELS = Path(__file__).resolve().parents[1] / "models"


def rows_like_features(count: int, seed: int) -> np.ndarray:
    """Rows with repeated values (ties at split thresholds are where a walk can go wrong)."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.linspace(-3.0, 3.0, 41), size=(count, len(NAMES)))


def small_model(
    leaves: int, *, zero_as_missing: bool = False, min_data_in_leaf: int = 5
) -> lgb.Booster:
    rng = np.random.default_rng(7)
    x = rows_like_features(400, seed=3)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[rng.random(x.shape) < 0.1] = 0.0
    y = (
        np.nan_to_num(x[:, 0]) * 2
        + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2])
        + rng.random(400)
    )
    params = {
        "objective": "regression",
        "num_leaves": leaves,
        "min_data_in_leaf": min_data_in_leaf,
        "verbose": -1,
        "seed": 1,
        "zero_as_missing": zero_as_missing,
        "deterministic": True,
        "num_threads": 1,
    }
    data = lgb.Dataset(x, y, feature_name=list(NAMES), params={"verbose": -1})
    return lgb.train(params, data, num_boost_round=30)


def test_the_shipped_models_contributions_are_lightgbms_treeshap() -> None:
    booster = lgb.Booster(model_file=str(pretrained_path(MODELS)))
    table = TreeTable.of(booster.dump_model())
    assert table is not None
    rows = rows_like_features(60, seed=1)
    rows[::4, NAMES.index("days_since_last")] = np.nan  # someone who never answered
    expected = booster.predict(rows, pred_contrib=True)[:, : len(NAMES)]
    assert np.allclose(table.contributions(rows), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_missing_values_go_the_way_lightgbm_sends_them(zero_as_missing: bool) -> None:
    booster = small_model(7, zero_as_missing=zero_as_missing)
    table = TreeTable.of(booster.dump_model())
    assert table is not None
    rows = rows_like_features(80, seed=2)
    rows[::3, 0] = np.nan
    rows[1::3, 1] = 0.0
    rows[2::5, 2] = np.nan
    expected = booster.predict(rows, pred_contrib=True)[:, : len(NAMES)]
    assert np.allclose(table.contributions(rows), expected, rtol=0, atol=1e-12)
    assert np.allclose(table.scores(rows), booster.predict(rows), rtol=0, atol=1e-12)


def test_trees_without_a_split_count_in_the_score_and_in_no_contribution() -> None:
    flat = small_model(7, min_data_in_leaf=10_000)  # too few rows to split: one leaf per tree
    mixed = lgb.Booster(
        model_str=average_models([flat.model_to_string(), small_model(7).model_to_string()])
    )
    table = TreeTable.of(mixed.dump_model())
    assert table is not None
    rows = rows_like_features(30, seed=9)
    expected = mixed.predict(rows, pred_contrib=True)[:, : len(NAMES)]
    assert np.allclose(table.contributions(rows), expected, rtol=0, atol=1e-12)
    assert np.allclose(table.scores(rows), mixed.predict(rows), rtol=0, atol=1e-12)


def test_a_model_with_bigger_trees_is_explained_by_lightgbm_itself() -> None:
    booster = small_model(31)
    assert TreeTable.of(booster.dump_model()) is None
    ranker = LearnedRanker.from_booster(booster, kind="test", meta={})
    rows = rows_like_features(5, seed=4)
    expected = booster.predict(rows, pred_contrib=True)[:, : len(NAMES)]
    assert np.array_equal(ranker.contributions(rows), expected)


def test_the_ranker_explains_with_the_table_and_the_same_values() -> None:
    ranker = LearnedRanker.load(pretrained_path(MODELS), kind="pretrained")
    assert ranker is not None and ranker.table is not None
    rows = rows_like_features(11, seed=5)
    expected = ranker.booster.predict(rows, pred_contrib=True)[:, : len(NAMES)]
    assert np.allclose(ranker.contributions(rows), expected, rtol=0, atol=1e-12)


def test_the_shipped_rankers_scores_are_lightgbms_predictions() -> None:
    ranker = LearnedRanker.load(pretrained_path(MODELS), kind="pretrained")
    assert ranker is not None and ranker.table is not None
    rows = rows_like_features(130, seed=8)
    rows[::4, NAMES.index("days_since_last")] = np.nan
    assert np.allclose(ranker.score(rows), ranker.booster.predict(rows), rtol=0, atol=1e-12)
