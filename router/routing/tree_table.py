"""A small-tree ensemble tabled per tree: its output and exact TreeSHAP for every way a row goes.

LightGBM's ``pred_contrib`` walks every tree's every path for every row (~0.25 ms a row over the
shipped 500 trees): most of a learned route's explanation time. A tree's output and its
path-dependent TreeSHAP values depend on the row only through which way it goes at each of the
tree's splits, and the shipped trees have at most 6 splits (7 leaves), so both are tabled for
all 2^6 ways when the model loads. A row then needs its split decisions and one table row per
tree. Same values as LightGBM's ``predict`` and ``pred_contrib`` to rounding
(``tests/test_tree_table.py``); a model with bigger trees or categorical splits gets no table.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_SPLITS = 7  # splits per tree tabled (2^7 ways a row can go); bigger trees use LightGBM
_ZERO = 1e-35  # LightGBM's kZeroThreshold: what counts as zero for a zero-as-missing split


@dataclass(frozen=True)
class _Split:
    feature: int
    threshold: float
    default_left: bool
    missing: str  # "None" (NaN read as 0), "Zero" or "NaN" (those go the default way)


@dataclass(frozen=True)
class _Leaf:
    value: float
    features: tuple[int, ...]  # the distinct features split on along its path
    zero: tuple[float, ...]  # for each: the share of training rows its splits keep (product)
    edges: tuple[tuple[int, int, bool], ...]  # (feature's slot, split number, goes left)


class TreeTable:
    """A LightGBM model (its ``dump_model()``) as tables: scores and per-feature contributions."""

    def __init__(
        self, trees: list[tuple[list[_Split], list[_Leaf]]], features: int, bias: float
    ) -> None:
        self.features = features
        width = max(len(splits) for splits, _ in trees)
        self._width = width
        padded = [
            splits + [_Split(0, 0.0, True, "None")] * (width - len(splits)) for splits, _ in trees
        ]
        flat = [split for splits in padded for split in splits]
        self._feature = np.array([s.feature for s in flat], dtype=np.int64)
        self._threshold = np.array([s.threshold for s in flat])
        self._default_left = np.array([s.default_left for s in flat])
        self._nan_is_zero = np.array([s.missing != "NaN" for s in flat])
        self._zero_missing = np.array([s.missing == "Zero" for s in flat])
        self._nan_missing = np.array([s.missing == "NaN" for s in flat])
        self._bits = (1 << np.arange(width)).astype(np.uint8)  # MAX_SPLITS fits a byte
        tables = [_tree_table(leaves, width, features) for _, leaves in trees]
        self._trees = len(trees)
        self._outputs = np.concatenate([output for output, _ in tables])  # tree, then way
        self._table = np.concatenate([table for _, table in tables])  # the same rows
        self._first = np.arange(len(trees), dtype=np.int64) << width
        self._bias = bias  # the lone leaves' sum

    @classmethod
    def of(cls, model: dict[str, Any]) -> TreeTable | None:
        """The table of a dumped model, or None when a tree has more than ``MAX_SPLITS`` splits
        or a split this table does not read (categorical)."""
        trees = []
        bias = 0.0
        for tree in model["tree_info"]:
            read = _tree(tree["tree_structure"])
            if read is None or len(read[0]) > MAX_SPLITS:
                return None
            if read[0]:
                trees.append(read)
            else:
                bias += read[1][0].value  # a lone leaf: the same output for every row
        if not trees:
            return None
        return cls(trees, features=int(model["max_feature_idx"]) + 1, bias=bias)

    def scores(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Each row's raw score, as LightGBM's ``predict`` gives it."""
        ways = self._ways(rows)
        out: npt.NDArray[np.float64] = self._outputs[ways].sum(axis=1) + self._bias
        return out

    def contributions(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Each feature's part in each row's score, as ``pred_contrib`` without its bias column."""
        ways = self._ways(rows)
        picked = np.take(self._table, ways.ravel(), axis=0)
        out: npt.NDArray[np.float64] = picked.reshape(len(rows), self._trees, -1).sum(axis=1)
        return out

    def _ways(self, rows: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Each row's table row in each tree: (rows, trees), the tree's block included."""
        rows = np.asarray(rows, dtype=np.float64)
        x = rows[:, self._feature]
        left = x <= self._threshold
        if self._zero_missing.any() or np.isnan(rows).any():  # LightGBM's missing-value rules
            nan = np.isnan(x)
            x = np.where(nan & self._nan_is_zero, 0.0, x)
            by_default = (self._zero_missing & (x > -_ZERO) & (x <= _ZERO)) | (
                self._nan_missing & nan
            )
            left = np.where(by_default, self._default_left, x <= self._threshold)
        bits = left.reshape(len(rows), -1, self._width) * self._bits  # (rows, trees, splits)
        ways: npt.NDArray[np.int64] = bits.sum(axis=2, dtype=np.int64)
        return ways + self._first


def _tree(root: dict[str, Any]) -> tuple[list[_Split], list[_Leaf]] | None:
    """A dumped tree's splits (numbered as met) and leaves with their paths; None when a split
    is categorical."""
    splits: list[_Split] = []
    leaves: list[_Leaf] = []
    stack: list[tuple[dict[str, Any], tuple[tuple[int, bool, float], ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if "split_feature" not in node:
            leaves.append(_leaf(float(node["leaf_value"]), path, splits))
            continue
        if node.get("decision_type", "<=") != "<=":
            return None
        number = len(splits)
        splits.append(
            _Split(
                feature=int(node["split_feature"]),
                threshold=float(node["threshold"]),
                default_left=bool(node["default_left"]),
                missing=str(node.get("missing_type", "None")),
            )
        )
        cover = float(node["internal_count"])
        for side, left in (("left_child", True), ("right_child", False)):
            child = node[side]
            share = float(child.get("internal_count", child.get("leaf_count", 0))) / cover
            stack.append((child, (*path, (number, left, share))))
    return splits, leaves


def _leaf(value: float, path: tuple[tuple[int, bool, float], ...], splits: list[_Split]) -> _Leaf:
    features: list[int] = []
    zero: list[float] = []
    edges: list[tuple[int, int, bool]] = []
    for number, left, share in path:
        feature = splits[number].feature
        if feature not in features:
            features.append(feature)
            zero.append(1.0)
        slot = features.index(feature)
        zero[slot] *= share
        edges.append((slot, number, left))
    return _Leaf(value=value, features=tuple(features), zero=tuple(zero), edges=tuple(edges))


def _tree_table(
    leaves: list[_Leaf], width: int, features: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The tree's output and contributions for every way a row can go at its splits (way ``w``
    has bit s set when the row goes left at split s); contributions summed from each leaf's
    TreeSHAP term."""
    ways = np.arange(1 << width)
    goes_left = ((ways[:, None] >> np.arange(width)) & 1).astype(bool)  # (ways, splits)
    table = np.zeros((1 << width, features))
    output = np.zeros(1 << width)
    for leaf in leaves:
        m = len(leaf.features)
        agrees = np.ones((1 << width, m), dtype=bool)  # the row takes the path on feature j
        for slot, number, left in leaf.edges:
            agrees[:, slot] &= goes_left[:, number] == left
        output[agrees.all(axis=1)] = leaf.value  # the one leaf the row reaches
        terms = _leaf_terms(leaf.value, np.array(leaf.zero), agrees.astype(np.float64))
        table[:, list(leaf.features)] += terms
    return output, table


def _leaf_terms(
    value: float, zero: npt.NDArray[np.float64], one: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """One leaf's TreeSHAP term for each of its m features, for each row of agreements ``one``
    (ways, m): value * (one_i - zero_i) * sum over subsets S of the other features of
    |S|! (m-|S|-1)! / m! * prod_S one * prod_rest zero."""
    m = len(zero)
    weights = np.array([factorial(s) * factorial(m - s - 1) / factorial(m) for s in range(m)])
    terms = np.zeros(one.shape)
    for i in range(m):
        poly = np.ones((len(one), 1))  # coefficients of prod_j (zero_j + one_j t) by power of t
        for j in range(m):
            if j != i:
                grown = np.zeros((len(one), poly.shape[1] + 1))
                grown[:, :-1] += poly * zero[j]
                grown[:, 1:] += poly * one[:, j, None]
                poly = grown
        terms[:, i] = value * (one[:, i] - zero[i]) * (poly @ weights)
    return terms


__all__ = ["TreeTable"]
