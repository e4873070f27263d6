"""BM25 retrieval with rank-bm25's formulas, scored in bulk through a sparse term-document matrix.

:class:`BM25Retriever` offers the three rank-bm25 variants (``okapi``, ``bm25l``, ``bm25plus``)
and gives the same scores as rank-bm25's ``get_scores`` (``.scores``), only faster, except for
one deliberate change: the Okapi idf floor described on the class, which keeps every term's idf
positive. ``rank`` returns only passages that share at least one term with the query; it keeps
the query-passage product sparse (:func:`~hardneg_kit.retrievers.ranking.top_k_sparse`), so
memory grows with the matches, not with queries x passages (a dense batch of 256 queries over
1M passages would be 2 GB). ``scores`` stays dense: it is for a few queries or given columns.
:func:`tokenize` is the default tokenizer.

Example:
    >>> bm25 = BM25Retriever().index(["d1", "d2"], ["delete a bucket", "list my instances"])
    >>> bm25.rank(["how to delete a bucket"], top_k=1).hits(0)[0][0]
    'd1'
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from hardneg_kit.errors import RetrievalError
from hardneg_kit.retrievers.base import IndexedRetriever, check_index_input
from hardneg_kit.retrievers.ranking import Ranking, doc_rank, top_k_sparse

if TYPE_CHECKING:
    from scipy import sparse

logger = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """The default BM25 tokenizer: lowercase, split on anything that is not a letter or digit.

    >>> tokenize("aws s3api put-object --bucket My_Bucket")
    ['aws', 's3api', 'put', 'object', 'bucket', 'my', 'bucket']
    """
    return _TOKEN_RE.findall(text.lower())


BM25_VARIANTS = ("okapi", "bm25l", "bm25plus")


class BM25Retriever(IndexedRetriever):
    """BM25 with rank-bm25's formulas, scored in bulk through a sparse term-document matrix.

    ``variant`` is ``"okapi"`` (``BM25Okapi``), ``"bm25l"`` or ``"bm25plus"``; ``tokenizer`` maps
    a text to tokens (default :func:`tokenize`). The rank-bm25 model stays available as
    ``.model``; its ``get_scores`` gives the same numbers as :meth:`scores`, only slower.

    IDF floor (Okapi): ``log((N - df + 0.5) / (df + 0.5))`` is zero or negative for terms in half
    or more of the documents. rank-bm25 replaces only negative values by
    ``epsilon * mean idf``, which is itself zero or negative on tiny corpora (and can exceed the
    idf of rarer terms on large ones). Here every term with idf <= 0 gets
    ``max(min_idf, min(epsilon * mean idf, smallest positive idf))``: always > 0 and never above
    a rarer term. Scores equal rank-bm25's wherever no term reaches half the documents.

    >>> bm25 = BM25Retriever(k1=1.2, b=0.75).index(["d1", "d2"], ["s3 bucket", "ec2 instance"])
    >>> bm25.rank(["delete bucket"], top_k=2).hits(0)[0][0]
    'd1'
    """

    def __init__(
        self,
        variant: str = "okapi",
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
        delta: float | None = None,
        min_idf: float = 0.01,
        tokenizer: Callable[[str], list[str]] = tokenize,
        batch_size: int = 256,
        name: str | None = None,
    ):
        variant = variant.lower().replace("-", "").removeprefix("bm25") or "okapi"
        variant = {"okapi": "okapi", "l": "bm25l", "plus": "bm25plus"}.get(variant, variant)
        if variant not in BM25_VARIANTS:
            raise RetrievalError(f"Unknown BM25 variant; choose one of {', '.join(BM25_VARIANTS)}.")
        if min_idf <= 0:
            raise RetrievalError("min_idf must be > 0.")
        self.variant, self.k1, self.b, self.epsilon = variant, k1, b, epsilon
        self.delta = delta if delta is not None else (1.0 if variant == "bm25plus" else 0.5)
        self.min_idf, self.tokenizer, self.batch_size = min_idf, tokenizer, batch_size
        self.name = name or ("bm25" if variant == "okapi" else variant)
        self.model: Any = None
        self.doc_ids: list[str] = []
        self.vocab: dict[str, int] = {}
        self.idf: np.ndarray = np.zeros(0)
        self.matrix: sparse.csr_matrix | None = None  # (terms, docs): tf part of the weight

    # -- indexing

    def index(self, doc_ids: list[str], passages: list[str]) -> BM25Retriever:
        """Tokenize and index the passages; returns ``self``."""
        check_index_input(doc_ids, passages)
        tokens = [self.tokenizer(p) for p in tqdm(passages, desc="tokenize", disable=None)]
        if not any(tokens):
            raise RetrievalError("Every passage is empty after tokenization; nothing to index.")
        self.model, self.doc_ids = self._rank_bm25_model(tokens), list(doc_ids)
        self._doc_rank = doc_rank(self.doc_ids)
        self.vocab = {term: i for i, term in enumerate(self.model.idf)}
        self.idf = np.array(list(self.model.idf.values()), dtype=np.float64)
        self.matrix = self._weight_matrix(self.model)
        logger.info(
            "%s: indexed %d passages, %d terms", self.name, len(self.doc_ids), len(self.vocab)
        )
        return self

    def _rank_bm25_model(self, tokens: list[list[str]]) -> Any:
        """rank-bm25's model of this variant (Okapi with the idf floor applied)."""
        from rank_bm25 import BM25L, BM25Okapi, BM25Plus

        if self.variant == "okapi":
            model = BM25Okapi(tokens, k1=self.k1, b=self.b, epsilon=self.epsilon)
            self._floor_okapi_idf(model)
        elif self.variant == "bm25l":
            model = BM25L(tokens, k1=self.k1, b=self.b, delta=self.delta)
        else:
            model = BM25Plus(tokens, k1=self.k1, b=self.b, delta=self.delta)
        return model

    def _weight_matrix(self, model: Any) -> sparse.csr_matrix:
        """``(terms, docs)``: idf times the variant's tf part (a query's scores: one product)."""
        from scipy import sparse

        rows, cols, tfs = [], [], []
        for d, freqs in enumerate(model.doc_freqs):
            rows.extend(self.vocab[t] for t in freqs)
            cols.extend([d] * len(freqs))
            tfs.extend(freqs.values())
        tf = np.asarray(tfs, dtype=np.float64)
        rows_a = np.asarray(rows, dtype=np.int64)
        doc_len = np.asarray(model.doc_len, dtype=np.float64)[np.asarray(cols, dtype=np.int64)]
        norm = 1 - self.b + self.b * doc_len / model.avgdl
        k1 = self.k1
        if self.variant == "okapi":
            part = tf * (k1 + 1) / (tf + k1 * norm)
        elif self.variant == "bm25l":
            ctd = tf / norm
            part = tf * (k1 + 1) * (ctd + self.delta) / (k1 + ctd + self.delta)
        else:  # bm25plus: idf * (delta + tf-part); the delta * idf term is added per query
            part = tf * (k1 + 1) / (k1 * norm + tf)
        weight = self.idf[rows_a] * part
        return sparse.csr_matrix(
            (weight, (rows_a, np.asarray(cols))), shape=(len(self.vocab), len(self.doc_ids))
        )

    def _floor_okapi_idf(self, model: Any) -> None:
        """Give terms with idf <= 0 a small positive floor (see the class docstring)."""
        # undo rank-bm25's own flooring: recompute the raw idf from document frequencies
        n = model.corpus_size
        df: dict[str, int] = {}
        for freqs in model.doc_freqs:
            for t in freqs:
                df[t] = df.get(t, 0) + 1
        raw = {t: math.log(n - f + 0.5) - math.log(f + 0.5) for t, f in df.items()}
        values = np.array(list(raw.values()), dtype=np.float64)
        positive = values[values > 0]
        floor = self.epsilon * float(values.mean())
        if len(positive):
            floor = min(floor, float(positive.min()))
        floor = max(self.min_idf, floor)
        self.idf_floor = floor
        model.idf = {t: (v if v > 0 else floor) for t, v in raw.items()}
        low = int((values <= 0).sum())
        if low:
            logger.info(
                "%s: %d of %d terms occur in half or more of the passages; idf floored at %.4f",
                getattr(self, "name", "bm25"),
                low,
                len(values),
                floor,
            )

    # -- scoring

    def query_matrix(self, queries: list[str]) -> sparse.csr_matrix:
        """Term counts of the queries, ``(n_queries, n_terms)`` (unknown terms dropped)."""
        from scipy import sparse

        rows, cols = [], []
        for i, q in enumerate(queries):
            ids = [self.vocab[t] for t in self.tokenizer(q) if t in self.vocab]
            rows.extend([i] * len(ids))
            cols.extend(ids)
        data = np.ones(len(rows), dtype=np.float64)
        # duplicates are summed: a repeated query term counts twice, as in rank-bm25
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(queries), len(self.vocab)))

    def _score_batch(self, queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Dense scores and the mask of passages sharing at least one term with the query."""
        qm = self.query_matrix(queries)
        tf_part = (qm @ self.matrix).toarray()
        matched = tf_part > 0
        if self.variant == "bm25plus":
            tf_part += (qm @ (self.delta * self.idf))[:, None]
        return tf_part, matched

    def scores(self, queries: list[str], doc_ids: list[str] | None = None) -> np.ndarray:
        """Full BM25 scores, ``(n_queries, n_docs)`` float64 (columns = ``doc_ids`` if given).

        Equal to ``self.model.get_scores(self.tokenizer(q))`` for each query.
        """
        self._require_index()
        cols = None if doc_ids is None else self._columns(doc_ids)
        out = []
        for start in range(0, len(queries), self.batch_size):
            s, _ = self._score_batch(queries[start : start + self.batch_size])
            out.append(s if cols is None else s[:, cols])
        width = len(self.doc_ids) if cols is None else len(cols)
        return np.vstack(out) if out else np.zeros((0, width))

    def _columns(self, doc_ids: list[str]) -> np.ndarray:
        pos = {d: i for i, d in enumerate(self.doc_ids)}
        missing = [d for d in doc_ids if d not in pos]
        if missing:
            raise KeyError(f"{len(missing)} doc ids are not indexed, e.g. {missing[0]!r}.")
        return np.array([pos[d] for d in doc_ids], dtype=np.int64)

    def rank(self, queries: list[str], top_k: int = 100) -> Ranking:
        """The ``top_k`` passages per query that share at least one term with it."""
        self._require_index()
        idx_parts, sc_parts = [], []
        starts = range(0, len(queries), self.batch_size)
        for start in tqdm(starts, desc=f"search {self.name}", disable=None):
            qm = self.query_matrix(queries[start : start + self.batch_size])
            # sparse (queries, docs) product: only passages sharing a term are stored
            plus = qm @ (self.delta * self.idf) if self.variant == "bm25plus" else None
            i, sc = top_k_sparse(qm @ self.matrix, top_k, self._doc_rank, offsets=plus)
            idx_parts.append(i)
            sc_parts.append(sc)
        k = min(top_k, len(self.doc_ids))
        if not idx_parts:
            return Ranking(self.doc_ids, np.zeros((0, k), np.int64), np.zeros((0, k)))
        return Ranking(self.doc_ids, np.vstack(idx_parts), np.vstack(sc_parts))
