"""Measuring routing: replay a Stack Exchange site and score the router against plain baselines.

``cases`` splits a site at its cutoff, ``baselines`` holds the systems to beat, ``metrics`` the
figures, and ``replay`` runs them all side by side (``evaluate_site``).
"""

from router.evaluation.cases import Case, Split, Thread, split_site
from router.evaluation.metrics import Scored, Scores, hit_at, ndcg_at, reciprocal_rank
from router.evaluation.replay import SYSTEMS, Evaluation, SystemResult, evaluate_site

__all__ = [
    "SYSTEMS",
    "Case",
    "Evaluation",
    "Scored",
    "Scores",
    "Split",
    "SystemResult",
    "Thread",
    "evaluate_site",
    "hit_at",
    "ndcg_at",
    "reciprocal_rank",
    "split_site",
]
