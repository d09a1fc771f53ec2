"""BM25 over one network's evidence, updated in place as evidence comes and goes.

Names of tools and companies ("Grafana", "dbt", "Stripe") are rare words that dense vectors blur;
BM25 rewards exactly those, which is why it runs beside the FAISS index and the two are fused.

A query touches only the posting lists of its own terms (numpy arrays: rows and term counts), so
its cost follows how common its words are, not how many documents the network holds. Removed
documents are masked (a tombstone), never re-scored; a term found in more than ``common_cap``
documents scores only its ``common_cap`` highest-impact postings (its idf is near zero anyway).
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter

import numpy as np
import numpy.typing as npt

from router.search.id_map import Column, IdMap

Ids = npt.NDArray[np.int64]
Rows = npt.NDArray[np.int32]
Counts = npt.NDArray[np.float32]

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#]*(?:[.\-][a-z0-9+#]+)*")
_STOP_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    also get got use using used way one like know anyone thing things really much many well make
    want need
"""
STOPWORDS = frozenset(_STOP_TEXT.split())
_SEPARATOR = "\x00"  # between documents in one bulk regex pass: not a token character
_TOKEN_OR_SEPARATOR = re.compile(f"{_TOKEN.pattern}|{_SEPARATOR}")
COMMON_TERM_CAP = 50_000
BULK_MIN = 256  # below this many documents an add goes to the per-term pending lists
PENDING_MERGE_MIN = 256  # a pending tail is merged once it is this long and 5% of its posting
_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_COUNTS = np.zeros(0, dtype=np.float32)


def term_of(token: str) -> str | None:
    """The indexed term for one raw regex token (plural folded), or None for a stop word or a
    single character: the one rule shared by queries and bulk indexing."""
    if token in STOPWORDS or len(token) < 2:
        return None
    if len(token) > 4 and token.endswith("s") and not token.endswith("ss") and "." not in token:
        return token[:-1]
    return token


def raw_tokens(text: str) -> list[str]:
    """The regex tokens of ``text`` before stop words and plurals are handled."""
    return _TOKEN.findall(text.lower())


def tokenize(text: str) -> list[str]:
    """Lower-cased words and tool-like names (``node.js``, ``c++``), stop words dropped, plurals folded."""
    return [term for term in map(term_of, raw_tokens(text)) if term is not None]


class _TermCodes(dict[str, int]):
    """Raw token -> term id (-1: not indexed, -2: the document separator), each distinct raw
    token normalised once, on first sight, so term ids follow first use."""

    def __init__(self) -> None:
        super().__init__({_SEPARATOR: -2})
        self.terms: dict[str, int] = {}

    def __missing__(self, raw: str) -> int:
        term = term_of(raw)
        code = -1 if term is None else self.terms.setdefault(term, len(self.terms))
        self[raw] = code
        return code


def count_terms(texts: list[str]) -> tuple[list[str], Rows, Rows, Counts, Rows]:
    """Term counts of many documents at once: the terms (in order of first use), and the
    (term id, document, count) triples sorted by term then document, plus each document's length.

    Exactly what ``tokenize`` and a ``Counter`` per document give, only faster: one regex pass
    over all documents joined by a separator, and pairs counted with numpy."""
    joined = _SEPARATOR.join(text.replace(_SEPARATOR, " ") for text in texts).lower()
    raw = _TOKEN_OR_SEPARATOR.findall(joined)
    codes_of = _TermCodes()
    codes = np.fromiter(map(codes_of.__getitem__, raw), dtype=np.int64, count=len(raw))
    docs = np.cumsum(codes == -2)
    kept = codes >= 0
    codes, docs = codes[kept], docs[kept]
    lengths = np.bincount(docs, minlength=len(texts)).astype(np.int32)
    stride = max(len(texts), 1)
    keys, tfs = np.unique(codes * stride + docs, return_counts=True)
    term_ids = (keys // stride).astype(np.int32)
    rows = (keys % stride).astype(np.int32)
    return list(codes_of.terms), term_ids, rows, tfs.astype(np.float32), lengths


class _Posting:
    """One term's documents: rows in increasing order with their term counts, plus the capped part."""

    __slots__ = ("capped", "live", "rows", "tfs")

    def __init__(self, rows: Rows, tfs: Counts) -> None:
        self.rows = rows
        self.tfs = tfs
        self.capped: tuple[Rows, Counts] | None = None
        self.live: tuple[int, int] | None = None  # (removals seen, live rows) remembered

    def live_rows(self, alive: npt.NDArray[np.bool_], removals: int) -> int:
        """How many of its rows are not removed, recounted only after a removal somewhere."""
        remembered = self.live
        if remembered is None or remembered[0] != removals:
            remembered = (removals, int(np.count_nonzero(alive[self.rows])))
            self.live = remembered
        return remembered[1]


class LexicalIndex:
    """Okapi BM25 with incremental add and remove (removed rows are masked, never reused)."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75, common_cap: int = COMMON_TERM_CAP):
        self.k1 = k1
        self.b = b
        self.common_cap = common_cap
        self._row_of = IdMap()
        self._ids = Column(np.int64)
        self._lengths = Column(np.float32)
        self._alive = Column(np.bool_)
        self._postings: dict[str, _Posting] = {}
        self._pending: dict[str, array[int]] = {}  # row, tf, ... not yet merged
        self._total_length = 0
        self._live = 0
        self._removals = 0  # documents removed so far: a posting's live count is stale after one
        # While True (a fresh index no route sees yet), bulk merges wait for ``flush``, which
        # appends each term's pieces in one pass instead of rewriting its posting per chunk.
        self.loading = False
        self._deferred: list[tuple[Rows, Rows, Counts]] = []  # (term code, row, count) pieces
        self._deferred_terms: dict[str, int] = {}

    def __len__(self) -> int:
        return self._live

    def add(self, evidence_id: int, text: str) -> None:
        """Index one document; an id already present is replaced."""
        self.add_many([evidence_id], [text])

    def add_many(self, evidence_ids: list[int], texts: list[str]) -> None:
        """Index many documents at once (ids already present are replaced)."""
        self.remove(evidence_ids)
        first = self._ids.size
        if len(evidence_ids) < BULK_MIN:
            counts = [Counter(tokenize(text)) for text in texts]
            lengths = np.asarray([sum(c.values()) for c in counts], dtype=np.int32)
        else:
            terms, term_ids, rows, tfs, lengths = count_terms(texts)
        self._row_of.set(
            np.asarray(evidence_ids, dtype=np.int64),
            np.arange(first, first + len(evidence_ids), dtype=np.int64),
        )
        self._ids.extend(evidence_ids)
        self._lengths.extend(lengths)
        self._alive.extend(np.ones(len(evidence_ids), dtype=np.bool_))
        self._total_length += int(lengths.astype(np.int64).sum())
        self._live += len(evidence_ids)
        if len(evidence_ids) < BULK_MIN:
            touched: set[str] = set()
            for offset, terms_tf in enumerate(counts):
                for term, tf in terms_tf.items():
                    self._pending.setdefault(term, array("i")).extend((first + offset, tf))
                    touched.add(term)
            for term in touched:  # a term's posting is rewritten only once its tail is large
                posting = self._postings.get(term)
                size = len(posting.rows) if posting is not None else 0
                if len(self._pending[term]) // 2 >= max(PENDING_MERGE_MIN, size // 20):
                    self._merge_pending(term)
            return
        self._add_bulk(terms, term_ids, rows + np.int32(first), tfs)

    def _add_bulk(self, terms: list[str], term_ids: Rows, rows: Rows, tfs: Counts) -> None:
        """Merge (term id, row, count) triples sorted by term, or keep them for ``flush``."""
        if self.loading:
            codes = np.asarray([self._deferred_code(term) for term in terms], dtype=np.int32)
            self._deferred.append((codes[term_ids], rows, tfs))
            return
        bounds = np.searchsorted(term_ids, np.arange(len(terms) + 1))
        for term_id, term in enumerate(terms):
            start, end = int(bounds[term_id]), int(bounds[term_id + 1])
            self._merge(term, rows[start:end].copy(), tfs[start:end].copy())

    def _deferred_code(self, term: str) -> int:
        return self._deferred_terms.setdefault(term, len(self._deferred_terms))

    def _merge(self, term: str, rows: Rows, tfs: Counts) -> None:
        """Append rows to a term's posting, dropping removed rows on the way (while loading,
        only note them: ``flush`` appends everything a term got in one pass)."""
        if self.loading:
            code = np.full(len(rows), self._deferred_code(term), dtype=np.int32)
            self._deferred.append((code, rows, tfs))
            return
        posting = self._postings.get(term)
        if posting is not None:
            keep = self._alive.view[posting.rows]
            rows = np.concatenate([posting.rows[keep], rows])
            tfs = np.concatenate([posting.tfs[keep], tfs])
        merged = _Posting(rows, tfs)
        if len(rows) > self.common_cap:
            impact = tfs / (tfs + self.k1 * (1 - self.b + self.b * self._lengths.view[rows]))
            top = np.sort(np.argpartition(-impact, self.common_cap - 1)[: self.common_cap])
            merged.capped = (rows[top], tfs[top])
        self._postings[term] = merged

    def _settle(self) -> None:
        """Append every deferred piece to its term's posting, in the order they came: one merge
        per term, giving exactly the postings that a merge per piece would have."""
        if not self._deferred:
            self._deferred_terms.clear()
            return
        codes = np.concatenate([piece[0] for piece in self._deferred])
        rows = np.concatenate([piece[1] for piece in self._deferred])
        tfs = np.concatenate([piece[2] for piece in self._deferred])
        self._deferred.clear()
        order = np.argsort(codes, kind="stable")
        rows, tfs = rows[order], tfs[order]
        bounds = np.searchsorted(codes[order], np.arange(len(self._deferred_terms) + 1))
        terms, self._deferred_terms = self._deferred_terms, {}
        self.loading = False
        try:
            for term, code in terms.items():
                start, end = int(bounds[code]), int(bounds[code + 1])
                self._merge(term, rows[start:end].copy(), tfs[start:end].copy())
        finally:
            self.loading = True

    def remove(self, evidence_ids: list[int]) -> None:
        """Mask documents by evidence id; their postings are dropped at the term's next merge."""
        if not evidence_ids:
            return
        rows = self._row_of.discard(np.asarray(evidence_ids, dtype=np.int64))
        rows = rows[self._alive.view[rows]]
        if len(rows) and self.loading:
            self._settle()  # merges before a removal keep the rows it masks, as they would have
        self._alive.view[rows] = False
        self._total_length -= int(self._lengths.view[rows].astype(np.int64).sum())
        self._live -= len(rows)
        self._removals += len(rows)

    def flush(self) -> None:
        """Merge every pending tail into its posting (after a bulk build, to stay compact) and
        end loading: the index is ready to search."""
        for term in list(self._pending):
            self._merge_pending(term)
        if self.loading:
            self._settle()
            self.loading = False

    def _merge_pending(self, term: str) -> None:
        pending = self._pending.pop(term, None)
        if pending is not None:
            pairs = np.array(pending, dtype=np.int32).reshape(-1, 2)
            self._merge(term, pairs[:, 0].copy(), pairs[:, 1].astype(np.float32))

    def _posting(self, term: str) -> tuple[int, Rows, Counts] | None:
        """A term's live document frequency and its scored rows and counts, pending tail
        included; reads only."""
        posting = self._postings.get(term)
        pending = self._pending.get(term)
        if posting is None and pending is None:
            return None
        alive = self._alive.view
        df = posting.live_rows(alive, self._removals) if posting is not None else 0
        rows, tfs = (posting.rows, posting.tfs) if posting else (_NO_ROWS, _NO_COUNTS)
        if posting is not None and posting.capped is not None:
            rows, tfs = posting.capped
        if pending:
            pairs = np.array(pending, dtype=np.int32).reshape(-1, 2)
            tail_rows, tail_tfs = pairs[:, 0], pairs[:, 1].astype(np.float32)
            df += int(np.count_nonzero(alive[tail_rows]))
            rows, tfs = np.concatenate([rows, tail_rows]), np.concatenate([tfs, tail_tfs])
        return df, rows, tfs

    def search(self, query: str, k: int) -> tuple[Ids, npt.NDArray[np.float32]]:
        """The ``k`` best-scoring evidence ids for ``query``, best first, with their BM25 scores."""
        terms = sorted(set(tokenize(query)))  # a fixed order: the same sums in every process
        empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if not terms or self._live == 0 or k <= 0:
            return empty
        alive, lengths = self._alive.view, self._lengths.view
        average = max(self._total_length / self._live, 1.0)
        found_rows: list[Rows] = []
        found_scores: list[Counts] = []
        for term in terms:
            posting = self._posting(term)
            if posting is None:
                continue
            df, rows, tfs = posting
            if df == 0:
                continue
            idf = math.log(1 + (self._live - df + 0.5) / (df + 0.5))
            live = alive[rows]
            rows, tfs = rows[live], tfs[live]
            norm = self.k1 * (1 - self.b + self.b * lengths[rows] / average)
            found_rows.append(rows)
            found_scores.append(idf * tfs * (self.k1 + 1) / (tfs + norm))
        if not found_rows:
            return empty
        if len(found_rows) == 1:
            hit_rows, scores = found_rows[0], found_scores[0]
        else:  # a term's rows are distinct, so one dense accumulator adds them up without a sort
            total = np.zeros(len(alive), dtype=np.float64)
            touched = np.zeros(len(alive), dtype=np.bool_)
            for rows, term_scores in zip(found_rows, found_scores, strict=True):
                total[rows] += term_scores
                touched[rows] = True
            hit_rows = np.flatnonzero(touched).astype(np.int32)
            scores = total[hit_rows].astype(np.float32)
        positive = scores > 0
        hit_rows, scores = hit_rows[positive], scores[positive]
        if len(hit_rows) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            hit_rows, scores = hit_rows[top], scores[top]
        order = np.argsort(-scores, kind="stable")
        ids: Ids = self._ids.view[hit_rows[order]].astype(np.int64)
        return ids, scores[order].astype(np.float32)

    def arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """The live documents and postings (pending tails included) as plain arrays, rows
        renumbered densely in their order, for a saved file; reads only."""
        alive = self._alive.view
        live = np.flatnonzero(alive)
        dense = np.full(len(alive), -1, dtype=np.int32)
        dense[live] = np.arange(len(live), dtype=np.int32)
        terms: list[str] = []
        sizes: list[int] = []
        all_rows: list[Rows] = []
        all_tfs: list[Counts] = []
        for term in [*self._postings, *(t for t in self._pending if t not in self._postings)]:
            posting = self._postings.get(term)
            rows, tfs = (posting.rows, posting.tfs) if posting else (_NO_ROWS, _NO_COUNTS)
            pending = self._pending.get(term)
            if pending:
                pairs = np.array(pending, dtype=np.int32).reshape(-1, 2)
                rows = np.concatenate([rows, pairs[:, 0]])
                tfs = np.concatenate([tfs, pairs[:, 1].astype(np.float32)])
            keep = alive[rows]
            if keep.any():
                terms.append(term)
                sizes.append(int(np.count_nonzero(keep)))
                all_rows.append(dense[rows[keep]])
                all_tfs.append(tfs[keep])
        return {
            "ids": self._ids.view[live].astype(np.int64),
            "lengths": self._lengths.view[live].astype(np.float32),
            "terms": np.frombuffer("\n".join(terms).encode(), dtype=np.uint8),
            "sizes": np.asarray(sizes, dtype=np.int64),
            "rows": np.concatenate([_NO_ROWS, *all_rows]),
            "tfs": np.concatenate([_NO_COUNTS, *all_tfs]),
            "params": np.asarray([self.k1, self.b, self.common_cap], dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> LexicalIndex:
        """The index ``arrays`` describes (each term's posting merged once, as a fresh build's);
        ValueError when they do not fit together."""
        k1, b, cap = (float(x) for x in arrays["params"])
        index = cls(k1=k1, b=b, common_cap=int(cap))
        ids = np.asarray(arrays["ids"], dtype=np.int64)
        lengths = np.asarray(arrays["lengths"], dtype=np.float32)
        sizes = np.asarray(arrays["sizes"], dtype=np.int64)
        rows = np.asarray(arrays["rows"], dtype=np.int32)
        tfs = np.asarray(arrays["tfs"], dtype=np.float32)
        blob = bytes(np.asarray(arrays["terms"], dtype=np.uint8))
        terms = blob.decode().split("\n") if blob else []
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        if (
            len(lengths) != len(ids)
            or len(np.unique(ids)) != len(ids)
            or len(terms) != len(sizes)
            or int(bounds[-1]) != len(rows)
            or len(tfs) != len(rows)
            or (len(rows) and (rows.min() < 0 or rows.max() >= len(ids)))
        ):
            raise ValueError("saved BM25 arrays do not fit together")
        index._row_of.set(ids, np.arange(len(ids), dtype=np.int64))
        index._ids.extend(ids)
        index._lengths.extend(lengths)
        index._alive.extend(np.ones(len(ids), dtype=np.bool_))
        index._total_length = int(lengths.astype(np.int64).sum())
        index._live = len(ids)
        for term, start, end in zip(terms, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            index._merge(term, rows[start:end].copy(), tfs[start:end].copy())
        return index
