"""Search as it stood at any past moment: the training side of the learned ranker.

Evidence is held sorted by time, so "the network as of t" is a prefix: dense search is a product
with the first rows only, and BM25 counts document frequencies and lengths over that prefix
(exactly what ``LexicalIndex`` would score had it been built at t). Nothing later than t can
reach a feature, and no index is rebuilt per question.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from router.search.lexical import tokenize


@dataclass(frozen=True)
class Record:
    """One past answer: who gave it, when, the text it is searched by, and its vector."""

    person: int
    at: float
    document: str
    vector: npt.NDArray[np.float32]


class Timeline:
    """Dense and lexical search over the records created strictly before a given moment."""

    def __init__(self, records: Sequence[Record], *, k1: float = 1.2, b: float = 0.75) -> None:
        ordered = sorted(records, key=lambda r: r.at)
        self.times = np.asarray([r.at for r in ordered], dtype=np.float64)
        self.people = np.asarray([r.person for r in ordered], dtype=np.int64)
        dimension = len(ordered[0].vector) if ordered else 1
        self.vectors = (
            np.vstack([r.vector for r in ordered]).astype(np.float32)
            if ordered
            else np.zeros((0, dimension), dtype=np.float32)
        )
        self.k1, self.b = k1, b
        lengths = []
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for row, record in enumerate(ordered):
            counts = Counter(tokenize(record.document))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                rows, tfs = postings.setdefault(term, ([], []))
                rows.append(row)
                tfs.append(tf)
        self.lengths = np.asarray(lengths, dtype=np.float32)
        self.cumulative = np.concatenate([[0.0], np.cumsum(self.lengths, dtype=np.float64)])
        self.postings = {
            term: (np.asarray(rows, dtype=np.int64), np.asarray(tfs, dtype=np.float32))
            for term, (rows, tfs) in postings.items()
        }

    def __len__(self) -> int:
        return len(self.times)

    def size_at(self, now: float) -> int:
        """How many records were created strictly before ``now``."""
        return int(np.searchsorted(self.times, now, side="left"))

    def dense(
        self, query: npt.NDArray[np.float32], *, now: float, depth: int
    ) -> tuple[list[int], list[float]]:
        """The ``depth`` rows before ``now`` most similar to ``query``, best first."""
        n = self.size_at(now)
        if n == 0 or depth <= 0:
            return [], []
        scores = self.vectors[:n] @ query.astype(np.float32)
        top = np.argsort(-scores, kind="stable")[:depth]
        return top.tolist(), scores[top].astype(np.float64).tolist()

    def lexical(self, text: str, *, now: float, depth: int) -> tuple[list[int], list[float]]:
        """The ``depth`` rows before ``now`` with the best BM25 score for ``text``, best first."""
        n = self.size_at(now)
        # in a fixed order: float32 sums in set (hash-seeded) order differed between processes
        terms = sorted(set(tokenize(text)))
        if n == 0 or not terms or depth <= 0:
            return [], []
        average = max(float(self.cumulative[n]) / n, 1.0)
        norm = self.k1 * (1 - self.b + self.b * self.lengths[:n] / average)
        scores = np.zeros(n, dtype=np.float32)
        for term in terms:
            posting = self.postings.get(term)
            if posting is None:
                continue
            rows, tfs = posting
            df = int(np.searchsorted(rows, n, side="left"))
            if df == 0:
                continue
            rows, tfs = rows[:df], tfs[:df]
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            scores[rows] += idf * tfs * (self.k1 + 1) / (tfs + norm[rows])
        found = np.flatnonzero(scores > 0)
        order = found[np.argsort(-scores[found], kind="stable")][:depth]
        return order.tolist(), scores[order].astype(np.float64).tolist()
