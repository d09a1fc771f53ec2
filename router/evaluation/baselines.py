"""The straightforward baselines the router is measured against, reimplemented plainly.

- ``most-active``: the people with the most answers in the history, whatever the question.
- ``bm25-threads``: Okapi BM25 over past threads (a question with its answers before the
  cutoff), then their answerers: each person scores the sum of the scores of the best
  ``THREAD_DEPTH`` threads they answered (the classic document-based expert-finding model).
- ``dense-threads``: the same with the cosine similarity of sentence embeddings (MiniLM).
- ``fusion``: the same over the reciprocal-rank fusion of the two thread rankings.

With ``THREAD_DEPTH`` = 100 (and MRR over the top 100 people) they land near the reference
figures of the data README: fusion MRR .478 against .476 on beer, .080 against .094 on ai (80
cases, where one case moves MRR by up to .0125). They are independent of the router's own search
code, so tuning the router never moves the bar it is measured against.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from router.evaluation.cases import Case, Split, Thread
from router.progress import Progress, silent
from router.search.embedding import Embedder

RRF_K = 60.0
FUSION_DEPTH = 100
THREAD_DEPTH = 100
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def words(text: str) -> list[str]:
    """Lower-cased words, stop words and single letters dropped."""
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in _STOPWORDS]


def people_from_threads(
    scores: npt.NDArray[np.float64],
    threads: Sequence[Thread],
    *,
    asker: int | None,
    k: int,
    depth: int = THREAD_DEPTH,
) -> list[int]:
    """The answerers of the ``depth`` best threads, by the sum of those threads' ``scores``."""
    total: dict[int, float] = {}
    for index in np.argsort(-scores, kind="stable")[:depth]:
        score = float(scores[index])
        if score <= 0:
            break
        for person in threads[index].answerers:
            if person != asker:
                total[person] = total.get(person, 0.0) + score
    return sorted(total, key=lambda person: (-total[person], person))[:k]


class MostActive:
    """Everyone by how many answers they gave before the cutoff."""

    name = "most-active"

    def __init__(self, split: Split) -> None:
        self.order = sorted(
            split.answers_by, key=lambda person: (-split.answers_by[person], person)
        )

    def rank(self, case: Case, *, k: int) -> list[int]:
        return [person for person in self.order if person != case.asker][:k]


class Okapi:
    """Okapi BM25 (k1 = 1.2, b = 0.75) over a fixed list of documents."""

    def __init__(self, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.size = len(documents)
        self.postings: dict[str, list[tuple[int, int]]] = {}
        lengths = np.zeros(self.size, dtype=np.float64)
        for index, document in enumerate(documents):
            counts = Counter(words(document))
            lengths[index] = sum(counts.values())
            for word, count in counts.items():
                self.postings.setdefault(word, []).append((index, count))
        mean = float(lengths.mean()) if self.size else 0.0
        self.norm = k1 * (1 - b + b * lengths / (mean or 1.0))
        self.k1 = k1

    def scores(self, query: str) -> npt.NDArray[np.float64]:
        total = np.zeros(self.size, dtype=np.float64)
        for word in set(words(query)):
            posting = self.postings.get(word)
            if not posting:
                continue
            idf = math.log(1 + (self.size - len(posting) + 0.5) / (len(posting) + 0.5))
            rows = np.fromiter((row for row, _ in posting), dtype=np.int64, count=len(posting))
            tf = np.fromiter((tf for _, tf in posting), dtype=np.float64, count=len(posting))
            total[rows] += idf * tf * (self.k1 + 1) / (tf + self.norm[rows])
        return total


class ThreadRanker:
    """Scores past threads for a question, then people by the threads they answered."""

    name = "threads"

    def __init__(self, threads: Sequence[Thread]) -> None:
        self.threads = threads
        self._scores: dict[str, npt.NDArray[np.float64]] = {}

    def thread_scores(self, text: str) -> npt.NDArray[np.float64]:
        """One score per thread, higher is better (computed once per question)."""
        if text not in self._scores:
            self._scores[text] = self._score(text)
        return self._scores[text]

    def _score(self, text: str) -> npt.NDArray[np.float64]:
        raise NotImplementedError

    def rank(self, case: Case, *, k: int) -> list[int]:
        scores = self.thread_scores(case.text)
        return people_from_threads(scores, self.threads, asker=case.asker, k=k)


class Bm25Threads(ThreadRanker):
    name = "bm25-threads"

    def __init__(self, threads: Sequence[Thread]) -> None:
        super().__init__(threads)
        self.okapi = Okapi([thread.text for thread in threads])

    def _score(self, text: str) -> npt.NDArray[np.float64]:
        return self.okapi.scores(text)


class DenseThreads(ThreadRanker):
    name = "dense-threads"

    def __init__(
        self, threads: Sequence[Thread], *, embedder: Embedder, progress: Progress = silent
    ) -> None:
        super().__init__(threads)
        self.embedder = embedder
        texts = [thread.text for thread in threads]
        self.vectors = embedder.encode(texts, progress=progress) if texts else None

    def _score(self, text: str) -> npt.NDArray[np.float64]:
        if self.vectors is None:
            return np.zeros(0, dtype=np.float64)
        similarity: npt.NDArray[np.float64] = np.asarray(
            self.vectors @ self.embedder.encode([text])[0], dtype=np.float64
        )
        return similarity


class Fusion(ThreadRanker):
    """Reciprocal-rank fusion (k = 60) of the ``FUSION_DEPTH`` best threads of each ranker."""

    name = "fusion"

    def __init__(self, parts: Sequence[ThreadRanker]) -> None:
        super().__init__(parts[0].threads if parts else ())
        self.parts = parts

    def _score(self, text: str) -> npt.NDArray[np.float64]:
        fused = np.zeros(len(self.threads), dtype=np.float64)
        for part in self.parts:
            scores = part.thread_scores(text)
            for rank, index in enumerate(np.argsort(-scores, kind="stable")[:FUSION_DEPTH], 1):
                if scores[index] > 0:
                    fused[index] += 1.0 / (RRF_K + rank)
        return fused
