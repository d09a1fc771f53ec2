"""BM25 over one network's evidence, updated in place as evidence comes and goes.

Names of tools and companies ("Grafana", "dbt", "Stripe") are rare words that dense vectors blur;
BM25 rewards exactly those, which is why it runs beside the FAISS index and the two are fused.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import numpy.typing as npt

Ids = npt.NDArray[np.int64]

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#]*(?:[.\-][a-z0-9+#]+)*")
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "get",
        "got",
        "use",
        "using",
        "used",
        "way",
        "one",
        "would",
        "like",
        "know",
        "anyone",
        "thing",
        "things",
        "really",
        "much",
        "many",
        "well",
        "make",
        "want",
        "need",
    ]
)


def tokenize(text: str) -> list[str]:
    """Lower-cased words and tool-like names (``node.js``, ``c++``), stop words dropped, plurals folded."""
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        if token in STOPWORDS or len(token) < 2:
            continue
        if len(token) > 4 and token.endswith("s") and not token.endswith("ss") and "." not in token:
            token = token[:-1]
        tokens.append(token)
    return tokens


class LexicalIndex:
    """Okapi BM25 with incremental add and remove (removed rows are masked, never reused)."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._row_of: dict[int, int] = {}
        self._ids: list[int] = []
        self._lengths: list[int] = []
        self._alive: list[bool] = []
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._frozen: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = {}
        self._total_length = 0
        self._live = 0
        self._arrays: tuple[npt.NDArray[np.float32], Ids] | None = None

    def __len__(self) -> int:
        return self._live

    def add(self, evidence_id: int, text: str) -> None:
        """Index one document; an id already present is replaced."""
        if evidence_id in self._row_of:
            self.remove([evidence_id])
        counts = Counter(tokenize(text))
        row = len(self._ids)
        self._row_of[evidence_id] = row
        self._ids.append(evidence_id)
        length = sum(counts.values())
        self._lengths.append(length)
        self._alive.append(True)
        self._total_length += length
        self._live += 1
        self._arrays = None
        for term, tf in counts.items():
            self._postings.setdefault(term, []).append((row, tf))
            self._frozen.pop(term, None)

    def remove(self, evidence_ids: list[int]) -> None:
        for evidence_id in evidence_ids:
            row = self._row_of.pop(evidence_id, None)
            if row is None or not self._alive[row]:
                continue
            self._alive[row] = False
            self._total_length -= self._lengths[row]
            self._live -= 1
        self._frozen.clear()

    def _posting(self, term: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None:
        frozen = self._frozen.get(term)
        if frozen is None:
            raw = self._postings.get(term)
            if not raw:
                return None
            rows = np.fromiter((r for r, _ in raw if self._alive[r]), dtype=np.int64)
            tfs = np.fromiter(
                (tf for r, tf in raw if self._alive[r]), dtype=np.float32, count=len(rows)
            )
            frozen = (rows, tfs)
            self._frozen[term] = frozen
        return frozen

    def search(self, query: str, k: int) -> tuple[Ids, npt.NDArray[np.float32]]:
        """The ``k`` best-scoring evidence ids for ``query``, best first, with their BM25 scores."""
        terms = set(tokenize(query))
        if not terms or self._live == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self._arrays is None:
            self._arrays = (
                np.asarray(self._lengths, dtype=np.float32),
                np.asarray(self._ids, dtype=np.int64),
            )
        lengths, all_ids = self._arrays
        average = max(self._total_length / self._live, 1.0)
        norm = self.k1 * (1 - self.b + self.b * lengths / average)
        scores = np.zeros(len(self._ids), dtype=np.float32)
        for term in terms:
            posting = self._posting(term)
            if posting is None or len(posting[0]) == 0:
                continue
            rows, tfs = posting
            df = len(rows)
            idf = math.log(1 + (self._live - df + 0.5) / (df + 0.5))
            scores[rows] += idf * tfs * (self.k1 + 1) / (tfs + norm[rows])
        hit_rows = np.flatnonzero(scores > 0)
        if len(hit_rows) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(hit_rows) > k:
            top = np.argpartition(-scores[hit_rows], k - 1)[:k]
            hit_rows = hit_rows[top]
        order = hit_rows[np.argsort(-scores[hit_rows], kind="stable")]
        ids = all_ids[order]
        return ids, scores[order]
