"""Several seeded LightGBM models averaged into one, so the ranker is not one seed's accident.

Retraining on inputs that differ in the seventh digit moved leave-one-site-out MRR by up to .035
per site: one model's choices are partly noise. Averaging K models trained with different
bagging and feature-subsampling seeds steadies them. The average is itself a tree ensemble (every
model's trees, their leaf values divided by K), written as one ordinary LightGBM model file, so
scores are the mean of the models' scores and per-feature contributions (which explain a
candidate) are exactly the mean of the models' contributions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # LightGBM (and the scipy/sklearn it imports) loads when a model is used
    import lightgbm as lgb

_SCALED = ("leaf_value=", "internal_value=")  # what a tree's output and expectations are read from


def average_models(texts: Sequence[str]) -> str:
    """One model text whose prediction is the mean of ``texts``' (same features, one class)."""
    if len(texts) == 1:
        return texts[0]
    factor = 1.0 / len(texts)
    header, _ = _split(texts[0])
    trees: list[str] = []
    for text in texts:
        _, blocks = _split(text)
        trees += blocks
    numbered = [_renumbered(_scaled(block, factor), i) for i, block in enumerate(trees)]
    sizes = " ".join(str(len(block.encode())) for block in numbered)
    lines = [
        f"tree_sizes={sizes}" if line.startswith("tree_sizes=") else line
        for line in header.split("\n")
    ]
    _, footer = texts[0].split("end of trees", 1)
    parameters = footer[footer.index("parameters:") :]  # importances of one model would mislead
    return "\n".join(lines) + "".join(numbered) + "end of trees\n\n" + parameters


def average_boosters(boosters: Sequence[lgb.Booster]) -> lgb.Booster:
    """A booster predicting the mean of ``boosters``' raw scores (and contributions)."""
    if len(boosters) == 1:
        return boosters[0]
    import lightgbm as lgb

    return lgb.Booster(model_str=average_models([b.model_to_string() for b in boosters]))


def _split(text: str) -> tuple[str, list[str]]:
    """The header (up to the first tree) and each tree's block, trailing blank lines included."""
    body = text.split("end of trees", 1)[0]
    start = body.index("\nTree=") + 1
    header, rest = body[:start], body[start:]
    blocks = ["Tree=" + part for part in rest.split("Tree=")[1:]]
    return header, blocks


def _scaled(block: str, factor: float) -> str:
    lines = block.split("\n")
    for i, line in enumerate(lines):
        for key in _SCALED:
            if line.startswith(key):
                values = [float(v) * factor for v in line[len(key) :].split()]
                lines[i] = key + " ".join(repr(v) for v in values)
    return "\n".join(lines)


def _renumbered(block: str, index: int) -> str:
    return f"Tree={index}" + block[block.index("\n") :]
