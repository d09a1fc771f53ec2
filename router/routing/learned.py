"""The learned ranker as the router uses it: a LightGBM model file, its name, and its reasons.

The pre-trained model ships in ``models/ranker/`` (rebuilt by ``askaround ranker pretrain``); a
network's own adapted model, when there is one, lives in the data directory
(``askaround ranker adapt``). With neither, routing falls back to the hand-set blend.
Explanations come from per-feature contributions (path-dependent TreeSHAP, tabled per tree by
``tree_table``; for the shipped average of seeded models, exactly the mean of theirs): a reason
is shown only when its kind of feature pushed the person up.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from router.routing.features import FEATURES, NAMES, Matrix
from router.routing.tree_table import TreeTable

if TYPE_CHECKING:  # LightGBM (and the scipy/sklearn it imports) loads when a model is used
    import lightgbm as lgb

PRETRAINED = "pretrained"
POOL_SAMPLE = 24  # others whose contributions stand for a large pool's average (exact below)


def pretrained_path(models_dir: Path) -> Path:
    """Where the shipped pre-trained model lives under the models folder."""
    return models_dir / "ranker" / f"{PRETRAINED}.txt"


def adapted_path(data_dir: Path, network_id: int) -> Path:
    """Where a network's own adapted model lives in the data directory."""
    return data_dir / "rankers" / f"network-{network_id}.txt"


@dataclass(frozen=True)
class LearnedRanker:
    """A trained model over ``features.NAMES``, named so a route can say what ranked it."""

    booster: lgb.Booster
    name: str
    meta: dict[str, Any]

    @classmethod
    def from_booster(
        cls, booster: lgb.Booster, *, kind: str, meta: dict[str, Any]
    ) -> LearnedRanker:
        text = booster.model_to_string()
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        return cls(booster=booster, name=f"{kind}-{digest}", meta=meta)

    @classmethod
    def load(cls, path: Path, *, kind: str) -> LearnedRanker | None:
        """The model at ``path`` (with its ``.json`` notes), or None when there is none."""
        if not path.is_file():
            return None
        import lightgbm as lgb

        booster = lgb.Booster(model_str=path.read_text())
        if booster.feature_name() != list(NAMES):
            return None  # trained on other features: not usable, fall back
        notes = path.with_suffix(".json")
        meta = json.loads(notes.read_text()) if notes.is_file() else {}
        ranker = cls.from_booster(booster, kind=kind, meta=meta)
        _ = ranker.table  # built with the load, not on the first route that uses it
        return ranker

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.booster.model_to_string())
        path.with_suffix(".json").write_text(json.dumps(self.meta, indent=1, sort_keys=True) + "\n")

    def score(self, features: Matrix) -> npt.NDArray[np.float64]:
        """The model's score per row: from the table (~3x faster than LightGBM's ``predict`` on a
        route's pool), else ``predict`` on one thread (OpenMP spinning on a shared 2-core machine
        took 12 ms for 230 rows that one thread scores in 0.4)."""
        if len(features) == 0:
            return np.zeros(0)
        if self.table is not None:
            return self.table.scores(np.asarray(features, dtype=np.float64))
        return np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)

    @cached_property
    def table(self) -> TreeTable | None:
        """The model tabled per tree (built once, ~0.3 s for the shipped model)."""
        return TreeTable.of(self.booster.dump_model())

    def contributions(self, features: Matrix) -> Matrix:
        """Each feature's part in each row's score (path-dependent TreeSHAP, the model's bias
        left out): from the table, ~7x faster than LightGBM's ``pred_contrib`` and equal to it
        to rounding; from ``pred_contrib`` for models the table does not cover."""
        if len(features) == 0:
            return np.zeros((0, len(NAMES)))
        if self.table is not None:
            return self.table.contributions(np.asarray(features, dtype=np.float64))
        raw = self.booster.predict(features, pred_contrib=True, num_threads=1)
        raw = np.asarray(raw, dtype=np.float64)
        return raw[:, : len(NAMES)]


def contribution_by_kind(contributions: npt.NDArray[np.float64]) -> dict[str, float]:
    """One row's contributions summed per kind of reason (evidence, activity, presence, social)."""
    totals: dict[str, float] = {}
    for name, value in zip(NAMES, contributions.tolist(), strict=True):
        kind = FEATURES[name]
        totals[kind] = totals.get(kind, 0.0) + float(value)
    return totals


def pool_drivers(
    ranker: LearnedRanker,
    features: Mapping[int, npt.NDArray[np.float64]],
    ranked: Sequence[int],
    chosen: Sequence[int],
) -> dict[int, dict[str, float]]:
    """What set each chosen person apart from the rest of the pool: their contributions against
    the pool's average, per kind. A row's contributions cost ~25 us from the tables (~0.25 ms
    from LightGBM), so a pool of more than ``POOL_SAMPLE`` others is averaged from an even
    sample of them by rank: the kinds of reason match the exact average's for 94% of
    candidates with 24 (90% with 8; ``benchmarks/reason_agreement.py``)."""
    picked = set(chosen)
    rest = [person for person in ranked if person in features and person not in picked]
    sample = rest[:: max(1, math.ceil(len(rest) / POOL_SAMPLE))]
    rows = np.vstack([features[person] for person in (*chosen, *sample)])
    contributions = ranker.contributions(rows)
    mine, theirs = contributions[: len(chosen)], contributions[len(chosen) :]
    total = mine.sum(axis=0) + (theirs.mean(axis=0) * len(rest) if len(sample) else 0.0)
    average = total / (len(chosen) + len(rest))
    return {person: contribution_by_kind(mine[i] - average) for i, person in enumerate(chosen)}


class RankerShelf:
    """Loaded models by path, reloaded when the file changes (a re-adaptation)."""

    def __init__(self) -> None:
        self._loaded: dict[Path, tuple[float, LearnedRanker | None]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, *, kind: str) -> LearnedRanker | None:
        stamp = path.stat().st_mtime if path.is_file() else -1.0
        with self._lock:
            cached = self._loaded.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        ranker = LearnedRanker.load(path, kind=kind)
        with self._lock:
            self._loaded[path] = (stamp, ranker)
        return ranker
