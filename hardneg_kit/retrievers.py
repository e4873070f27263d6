"""First-stage retrievers behind one small interface: BM25, dense (faiss) and rank fusion (ranx).

Every retriever has a ``name``, ``index(doc_ids, passages) -> self``, ``rank(queries, top_k)``
(a :class:`Ranking`: arrays of the best ``top_k`` passage indices and scores per query, ties broken
by doc id) and ``search(query_ids, queries, top_k) -> ranx.Run`` (every query id present, an empty
result when nothing matched). BM25 and dense retrievers also give full score matrices
(``scores``) and the dense one its embeddings (``passage_embeddings``, ``encode``), which mining
needs.

Example:
    >>> from hardneg_kit.retrievers import make_retriever
    >>> bm25 = make_retriever("bm25").index(["d1", "d2"], ["delete a bucket", "list my instances"])
    >>> run = bm25.search(["q1"], ["how to delete a bucket"], top_k=1)
    >>> list(run["q1"])
    ['d1']
    >>> fused = make_retriever("fusion:bm25+dense:minilm-l6")  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import logging
import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from hardneg_kit.cache import atomic_path
from hardneg_kit.errors import RetrievalError

if TYPE_CHECKING:
    from ranx import Run
    from scipy import sparse

    from hardneg_kit.embeddings import TextEncoder

logger = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"[a-z0-9]+")

RETRIEVER_FORMS = (
    "'bm25', 'bm25l', 'bm25plus', 'dense:<model spec>' (e.g. 'dense:minilm-l6'), "
    "'fusion:<spec>+<spec>[+...]' (e.g. 'fusion:bm25+dense:minilm-l6')"
)


def tokenize(text: str) -> list[str]:
    """The default BM25 tokenizer: lowercase, split on anything that is not a letter or digit.

    >>> tokenize("aws s3api put-object --bucket My_Bucket")
    ['aws', 's3api', 'put', 'object', 'bucket', 'my', 'bucket']
    """
    return _TOKEN_RE.findall(text.lower())


# --------------------------------------------------------------------------- common pieces


@dataclass
class Ranking:
    """The top-k of each query as arrays (row ``i`` = query ``i``, best first).

    ``indices`` point into ``doc_ids`` (``-1`` pads rows with fewer hits); ``scores`` are the
    retriever's scores (``-inf`` pads). Equal scores are ordered by doc id.
    """

    doc_ids: list[str]
    indices: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def hits(self, i: int) -> list[tuple[str, float]]:
        """``[(doc_id, score), ...]`` of query ``i``, best first."""
        return [
            (self.doc_ids[j], float(s))
            for j, s in zip(self.indices[i], self.scores[i], strict=True)
            if j >= 0
        ]

    def to_run(self, query_ids: Sequence[str], name: str | None = None) -> Run:
        """A ranx ``Run`` with every query id present (an empty dict when nothing matched)."""
        if len(query_ids) != len(self):
            raise ValueError(f"{len(query_ids)} query ids for a ranking of {len(self)} queries.")
        return make_run({qid: dict(self.hits(i)) for i, qid in enumerate(query_ids)}, name)


def make_run(run_dict: dict[str, dict[str, float]], name: str | None = None) -> Run:
    """``ranx.Run(run_dict)`` that also accepts queries without hits (``{}``), even all of them.

    >>> sorted(make_run({"q1": {}, "q2": {}}, name="empty").keys())
    ['q1', 'q2']
    """
    from ranx import Qrels, Run

    if any(run_dict.values()):
        return Run(run_dict, name=name)
    run = Run(name=name)
    if not run_dict:
        return run
    # ranx's constructor cannot size the doc-id arrays when no query has a hit: build the typed
    # dict with the same compiled helper it uses (fast), else add the empty queries its own way
    try:
        from numba.typed import List as TypedList
        from ranx.data_structures.common import create_and_sort

        empty = [np.array([], dtype="<U1") for _ in run_dict]
        run.run = create_and_sort(
            TypedList(list(run_dict)),
            TypedList(empty),
            TypedList([np.array([], dtype=float) for _ in run_dict]),
        )
        run.sorted = True
    except (ImportError, TypeError, ValueError):  # pragma: no cover - other ranx versions
        run = Run(name=name).make_comparable(Qrels({q: {"_": 1} for q in run_dict}))
    return run


def top_k_rows(
    scores: np.ndarray, k: int, doc_rank: np.ndarray, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` best columns of each row, ordered by (-score, doc id).

    ``doc_rank[j]`` is the position of column ``j``'s doc id in sorted order (the tie-breaker);
    ``valid`` masks columns that may be returned (e.g. passages sharing a term with the query).
    """
    n, m = scores.shape
    k = max(0, min(k, m))
    out_idx = np.full((n, k), -1, dtype=np.int64)
    out_sc = np.full((n, k), -np.inf, dtype=np.float64)
    for i in range(n):
        row = scores[i]
        cand = np.flatnonzero(valid[i]) if valid is not None else np.arange(m)
        if len(cand) > k:
            threshold = np.partition(row[cand], len(cand) - k)[len(cand) - k]
            cand = cand[row[cand] >= threshold]  # keeps every tie at the boundary
        order = np.lexsort((doc_rank[cand], -row[cand]))[:k]
        out_idx[i, : len(order)] = cand[order]
        out_sc[i, : len(order)] = row[cand[order]]
    return out_idx, out_sc


def _check_index_input(doc_ids: Sequence[str], passages: Sequence[str]) -> None:
    if len(doc_ids) != len(passages):
        raise RetrievalError(f"{len(doc_ids)} doc ids but {len(passages)} passages.")
    if not doc_ids:
        raise RetrievalError("Cannot index an empty corpus.")
    if len(set(doc_ids)) != len(doc_ids):
        seen: set[str] = set()
        dup = next(d for d in doc_ids if d in seen or seen.add(d))
        raise RetrievalError(f"Duplicate doc id {dup!r} in the corpus.")


def _doc_rank(doc_ids: Sequence[str]) -> np.ndarray:
    rank = np.empty(len(doc_ids), dtype=np.int64)
    rank[np.argsort(np.asarray(doc_ids, dtype=object), kind="stable")] = np.arange(len(doc_ids))
    return rank


@runtime_checkable
class Retriever(Protocol):
    """The interface every retriever here implements."""

    name: str

    def index(self, doc_ids: list[str], passages: list[str]) -> Retriever: ...

    def rank(self, queries: list[str], top_k: int = 100) -> Ranking: ...

    def search(self, query_ids: list[str], queries: list[str], top_k: int = 100) -> Run: ...


class _Indexed:
    """Shared bookkeeping: the indexed doc ids and ``search`` on top of ``rank``."""

    name: str
    doc_ids: list[str]

    def _require_index(self) -> None:
        if not getattr(self, "doc_ids", None):
            raise RuntimeError(f"{self.name}: call .index(doc_ids, passages) before searching.")

    def rank(self, queries: list[str], top_k: int = 100) -> Ranking:
        raise NotImplementedError

    def search(self, query_ids: list[str], queries: list[str], top_k: int = 100) -> Run:
        """Search every query; a ranx ``Run`` named after the retriever, all query ids present.

        >>> run = bm25.search(["q1", "q2"], ["delete bucket", "list users"], 10)  # doctest: +SKIP
        """
        if len(query_ids) != len(queries):
            raise RetrievalError(f"{len(query_ids)} query ids but {len(queries)} queries.")
        if len(set(query_ids)) != len(query_ids):
            raise RetrievalError("Duplicate query ids.")
        return self.rank(list(queries), top_k).to_run(list(query_ids), name=self.name)

    def __repr__(self) -> str:
        n = len(getattr(self, "doc_ids", []) or [])
        return f"{type(self).__name__}(name={self.name!r}, indexed={n})"


# --------------------------------------------------------------------------- BM25

BM25_VARIANTS = ("okapi", "bm25l", "bm25plus")


class BM25Retriever(_Indexed):
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
        from rank_bm25 import BM25L, BM25Okapi, BM25Plus
        from scipy import sparse

        _check_index_input(doc_ids, passages)
        tokens = [self.tokenizer(p) for p in tqdm(passages, desc="tokenize", disable=None)]
        if not any(tokens):
            raise RetrievalError("Every passage is empty after tokenization; nothing to index.")
        if self.variant == "okapi":
            model = BM25Okapi(tokens, k1=self.k1, b=self.b, epsilon=self.epsilon)
            self._floor_okapi_idf(model)
        elif self.variant == "bm25l":
            model = BM25L(tokens, k1=self.k1, b=self.b, delta=self.delta)
        else:
            model = BM25Plus(tokens, k1=self.k1, b=self.b, delta=self.delta)
        self.model, self.doc_ids = model, list(doc_ids)
        self._doc_rank = _doc_rank(self.doc_ids)

        self.vocab = {term: i for i, term in enumerate(model.idf)}
        self.idf = np.array(list(model.idf.values()), dtype=np.float64)
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
        self.matrix = sparse.csr_matrix(
            (weight, (rows_a, np.asarray(cols))), shape=(len(self.vocab), len(self.doc_ids))
        )
        logger.info(
            "%s: indexed %d passages, %d terms", self.name, len(self.doc_ids), len(self.vocab)
        )
        return self

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
            s, matched = self._score_batch(queries[start : start + self.batch_size])
            i, sc = top_k_rows(s, top_k, self._doc_rank, valid=matched)
            idx_parts.append(i)
            sc_parts.append(sc)
        k = min(top_k, len(self.doc_ids))
        if not idx_parts:
            return Ranking(self.doc_ids, np.zeros((0, k), np.int64), np.zeros((0, k)))
        return Ranking(self.doc_ids, np.vstack(idx_parts), np.vstack(sc_parts))


# --------------------------------------------------------------------------- dense

DENSE_INDEXES = ("flat", "hnsw", "ivf")


class DenseRetriever(_Indexed):
    """Bi-encoder retrieval with faiss over L2-normalized embeddings (inner product = cosine).

    ``index="flat"`` is exact (``IndexFlatIP``); ``"hnsw"`` (``IndexHNSWFlat``, ``hnsw_m``,
    ``ef_search``) and ``"ivf"`` (``IndexIVFFlat``, ``nlist`` default ~sqrt(n), ``nprobe``) are
    approximate, for large corpora. Embeddings go through the on-disk cache of
    :mod:`hardneg_kit.embeddings`.

    >>> dense = DenseRetriever("minilm-l6").index(doc_ids, passages)  # doctest: +SKIP
    >>> dense.passage_embeddings.shape  # doctest: +SKIP
    (600, 384)
    """

    def __init__(
        self,
        encoder: TextEncoder | str,
        index: str = "flat",
        batch_size: int = 32,
        cache: bool = True,
        hnsw_m: int = 32,
        ef_search: int = 128,
        nlist: int | None = None,
        nprobe: int = 16,
        name: str | None = None,
    ):
        if index not in DENSE_INDEXES:
            raise RetrievalError(f"Unknown faiss index {index!r}; choose one of {DENSE_INDEXES}.")
        if isinstance(encoder, str):
            from hardneg_kit.models import load_encoder

            encoder = load_encoder(encoder)
        self.encoder = encoder
        self.index_type, self.batch_size, self.cache = index, batch_size, cache
        self.hnsw_m, self.ef_search, self.nlist, self.nprobe = hnsw_m, ef_search, nlist, nprobe
        self.name = name or f"dense:{encoder.name}" + ("" if index == "flat" else f"@{index}")
        self.doc_ids: list[str] = []
        self.passage_embeddings: np.ndarray = np.zeros((0, 0), dtype=np.float32)
        self.faiss_index: Any = None

    def index(self, doc_ids: list[str], passages: list[str]) -> DenseRetriever:
        """Embed (or load from cache) the passages and build the faiss index; returns ``self``."""
        from hardneg_kit.embeddings import embed_passages

        _check_index_input(doc_ids, passages)
        emb = embed_passages(self.encoder, list(passages), self.batch_size, self.cache)
        self.doc_ids, self.passage_embeddings = list(doc_ids), np.ascontiguousarray(emb)
        self._doc_rank = _doc_rank(self.doc_ids)
        self.faiss_index = self._build(self.passage_embeddings)
        return self

    def _build(self, emb: np.ndarray) -> Any:
        import faiss

        n, dim = emb.shape
        if self.index_type == "flat":
            index = faiss.IndexFlatIP(dim)
        elif self.index_type == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = self.ef_search
        else:
            nlist = self.nlist or max(1, min(int(math.sqrt(n)), n // 39))
            self._quantizer = faiss.IndexFlatIP(dim)  # must outlive the IVF index
            index = faiss.IndexIVFFlat(self._quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(emb)
            index.nprobe = min(self.nprobe, nlist)
        index.add(emb)
        return index

    def encode(self, queries: list[str]) -> np.ndarray:
        """Query embeddings (cached), ``(n_queries, dim)`` float32, L2-normalized."""
        from hardneg_kit.embeddings import embed_queries

        return embed_queries(self.encoder, list(queries), self.batch_size, self.cache)

    def scores(self, queries: list[str], doc_ids: list[str] | None = None) -> np.ndarray:
        """Exact cosine scores, ``(n_queries, n_docs)`` float32 (columns = ``doc_ids`` if given)."""
        self._require_index()
        emb = self.passage_embeddings
        if doc_ids is not None:
            pos = {d: i for i, d in enumerate(self.doc_ids)}
            emb = emb[[pos[d] for d in doc_ids]]
        return self.encode(queries) @ emb.T

    def rank(self, queries: list[str], top_k: int = 100) -> Ranking:
        """The ``top_k`` nearest passages per query (approximate for ``hnsw`` / ``ivf``)."""
        self._require_index()
        k = min(top_k, len(self.doc_ids))
        if not queries or k == 0:
            shape = (len(queries), k)
            return Ranking(self.doc_ids, np.full(shape, -1, np.int64), np.full(shape, -np.inf))
        q = np.ascontiguousarray(self.encode(queries))
        sc, idx = self.faiss_index.search(q, k)
        sc = sc.astype(np.float64)
        sc[idx < 0] = -np.inf
        # faiss orders ties arbitrarily: re-sort each row by (-score, doc id)
        tie = np.where(idx >= 0, self._doc_rank[np.maximum(idx, 0)], np.iinfo(np.int64).max)
        order = np.lexsort((tie, -sc), axis=1)
        return Ranking(
            self.doc_ids, np.take_along_axis(idx, order, 1), np.take_along_axis(sc, order, 1)
        )


# --------------------------------------------------------------------------- fusion

#: the kit's fusion names -> ranx ``fuse`` methods. CombSUM is ranx ``sum`` over ``norm``-ed
#: scores (min-max by default): the same numbers as ``wsum`` with equal weights of 1.
FUSION_METHODS = {"rrf": "rrf", "combsum": "sum", "combmnz": "mnz"}


def fuse_runs(
    runs: Sequence[Run],
    method: str = "rrf",
    norm: str | None = "min-max",
    params: dict | None = None,
    name: str | None = None,
) -> Run:
    """Fuse runs (same query ids) with ranx ``fuse``: the kit's one implementation of fusion.

    Args:
        runs: the runs to fuse.
        method: ``"rrf"`` (reciprocal rank fusion, ``k=60``), ``"combsum"``, ``"combmnz"``, or
            any other ranx method name (passed through).
        norm: ranx's score normalization before fusing (``"min-max"``, ``"max"``, ``"zmuv"``,
            ``None`` ...); rank-based methods such as RRF do not depend on it.
        params: the method's parameters (``{"k": 60}`` for RRF).
        name: the fused run's name (default: ranx's).

    Example:
        >>> fused = fuse_runs([bm25_run, dense_run], method="combsum")  # doctest: +SKIP
    """
    from ranx import fuse

    fused = fuse(list(runs), norm=norm, method=FUSION_METHODS.get(method, method), params=params)
    if name is not None:
        fused.name = name
    return fused


class FusionRetriever(_Indexed):
    """Fuse the runs of several retrievers with ranx ``fuse``; itself a retriever.

    ``method`` is ``"rrf"`` (reciprocal rank fusion; ``params={"k": 60}``), ``"combsum"`` or
    ``"combmnz"`` (any other ranx method name passes through); ``norm`` is ranx's score
    normalization (``"min-max"``, ``"max"``, ``"sum"``, ``"zmuv"``, ...). Each retriever searches
    ``depth`` passages per query (default ``top_k``); the fused list is cut to ``top_k``.
    With min-max, a retriever's lowest hit for a query normalizes to 0.

    >>> fused = FusionRetriever([BM25Retriever(), DenseRetriever("minilm-l6")])  # doctest: +SKIP
    """

    def __init__(
        self,
        retrievers: Sequence[Retriever],
        method: str = "rrf",
        norm: str | None = "min-max",
        params: dict | None = None,
        depth: int | None = None,
        name: str | None = None,
    ):
        if len(retrievers) < 2:
            raise RetrievalError("Fusion needs at least two retrievers.")
        self.retrievers = list(retrievers)
        self.method, self.norm, self.params, self.depth = method, norm, params, depth
        self.name = name or f"{method}(" + "+".join(r.name for r in self.retrievers) + ")"
        self.doc_ids: list[str] = []

    def index(self, doc_ids: list[str], passages: list[str]) -> FusionRetriever:
        """Index the corpus in every member retriever; returns ``self``."""
        _check_index_input(doc_ids, passages)
        for r in self.retrievers:
            r.index(doc_ids, passages)
        self.doc_ids = list(doc_ids)
        self._doc_rank = _doc_rank(self.doc_ids)
        return self

    def fuse_runs(self, runs: Sequence[Run]) -> Run:
        """Fuse already computed runs (same query ids) with this retriever's method and norm."""
        return fuse_runs(runs, self.method, self.norm, self.params, name=self.name)

    def rank(self, queries: list[str], top_k: int = 100) -> Ranking:
        """Fuse the members' top-``depth`` lists; the ``top_k`` best, ties by doc id."""
        self._require_index()
        qids = [f"q{i}" for i in range(len(queries))]
        k = min(top_k, len(self.doc_ids))
        if not queries:
            return Ranking(self.doc_ids, np.zeros((0, k), np.int64), np.zeros((0, k)))
        depth = self.depth or top_k
        fused = self.fuse_runs([r.search(qids, queries, depth) for r in self.retrievers])
        pos = {d: i for i, d in enumerate(self.doc_ids)}
        idx = np.full((len(queries), k), -1, dtype=np.int64)
        sc = np.full((len(queries), k), -np.inf)
        for i, qid in enumerate(qids):
            hits = fused[qid] if qid in fused.keys() else {}
            items = sorted(hits.items(), key=lambda kv: (-kv[1], self._doc_rank[pos[kv[0]]]))[:k]
            for j, (d, s) in enumerate(items):
                idx[i, j], sc[i, j] = pos[d], s
        return Ranking(self.doc_ids, idx, sc)


# --------------------------------------------------------------------------- specs and files


def make_retriever(spec: str, **kwargs: Any) -> Retriever:
    """Build a retriever from a spec string.

    Forms: ``bm25`` (also ``bm25l``, ``bm25plus``), ``dense:<model spec>`` (e.g.
    ``dense:minilm-l6``, ``dense:static-minilm``, ``dense:BAAI/bge-small-en-v1.5``), and
    ``fusion:<spec>+<spec>[+...]`` (reciprocal rank fusion by default). Keyword arguments go to
    the retriever's constructor (for fusion: ``method``, ``norm``, ``params``, ``depth``).

    >>> make_retriever("bm25", k1=1.2).name
    'bm25'
    >>> make_retriever("fusion:bm25+dense:minilm-l6", method="combsum")  # doctest: +SKIP
    """
    spec = spec.strip()
    if spec.startswith("fusion:"):
        parts = [p.strip() for p in spec.removeprefix("fusion:").split("+")]
        if len(parts) < 2 or not all(parts) or any(p.startswith("fusion:") for p in parts):
            raise RetrievalError(
                f"Unknown retriever spec {spec!r}; valid forms: {RETRIEVER_FORMS}."
            )
        return FusionRetriever([make_retriever(p) for p in parts], **kwargs)
    if spec.startswith("dense:") and spec.removeprefix("dense:").strip():
        return DenseRetriever(spec.removeprefix("dense:").strip(), **kwargs)
    if spec in ("bm25", "bm25okapi", "bm25l", "bm25plus"):
        return BM25Retriever(variant=spec, **kwargs)
    raise RetrievalError(f"Unknown retriever spec {spec!r}; valid forms: {RETRIEVER_FORMS}.")


def break_ties(run: Run, name: str | None = None) -> Run:
    """A copy of ``run`` whose scores strictly decrease in (score desc, doc id asc) order.

    trec_eval orders a query's documents by score, then by doc id *descending*; ranx (an unstable
    argsort) and a plain sort order exact ties their own ways, so tied runs score differently.
    Here each query's documents are walked in (score descending, doc id ascending) order and a
    score that is not strictly below the previous written one becomes the next value below it;
    every other score keeps its value. Order and all untied scores survive; only ties move, by
    the smallest amount that all readers see.

    The comparison and the nudge are at single precision: trec_eval parses scores into a C
    ``float``, so a float64 step (``np.nextafter`` in float64) would read back as the same score
    and tie again. A tied score becomes ``np.nextafter(float32(previous), -inf)`` in float32,
    stored as the (exactly representable) float64 value; two float64 scores equal in float32 count
    as tied. A nudge can push the next score down too (when it was only one float32 step lower).

    Args:
        run: the run; not modified.
        name: the new run's name (default: ``run.name``).

    Returns:
        A new run with the same queries and documents, every query's scores distinct in float32.

    Example:
        >>> tied = make_run({"q1": {"c": 1.0, "a": 1.0, "b": 1.0, "z": 2.0}})
        >>> untied = break_ties(tied)
        >>> sorted(untied["q1"], key=untied["q1"].get, reverse=True)
        ['z', 'a', 'b', 'c']
        >>> untied["q1"]["a"] == 1.0 > untied["q1"]["b"] > untied["q1"]["c"]
        True
    """
    untied = {qid: _untie(dict(run[qid])) for qid in run.keys()}
    return make_run(untied, name=run.name if name is None else name)


def _untie(hits: dict[str, float]) -> dict[str, float]:
    """Doc -> score in (score desc, doc id asc) order, strictly decreasing in float32."""
    ordered = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))
    single = np.array([s for _, s in ordered], dtype=np.float32)
    if np.all(single[1:] < single[:-1]):  # nothing tied: keep every value
        return {d: float(s) for d, s in ordered}
    out: dict[str, float] = {}
    previous = None
    for doc, score in ordered:
        if previous is not None and not np.float32(score) < np.float32(previous):
            score = np.nextafter(np.float32(previous), np.float32(-np.inf))
        out[doc] = previous = float(score)
    return out


def write_trec(run: Run, path: str | Path, tag: str | None = None) -> Path:
    """Write a run as a TREC run file (``qid Q0 docid rank score tag``), atomically.

    Ties are broken by doc id first (:func:`break_ties`: equal scores, ascending doc id, are
    nudged apart by one float32 step each), so trec_eval, which reads scores in single precision
    and would order ties by doc id descending, and ranx, which orders them arbitrarily, see the
    same ranking. Scores are written in full (Python's shortest round-trip ``repr``), so
    :func:`read_trec` gives back the same float64 values.

    A path ending in ``.gz`` is gzip-compressed (``zcat run.trec.gz | trec_eval ...``);
    :func:`read_trec` reads both. The gzip header holds no name and mtime 0: the same run gives
    the same bytes.

    Queries without hits have no line in TREC files; :func:`hardneg_kit.evaluation.evaluate_runs`
    counts them as misses.

    >>> write_trec(run, "runs/bm25-test.trec", tag="bm25")  # doctest: +SKIP
    """
    path = Path(path)
    tag = re.sub(r"\s+", "_", tag or run.name or path.stem)
    space = re.compile(r"\s")
    for qid in run.keys():
        bad = next((x for x in (qid, *run[qid]) if space.search(x)), None)
        if bad is not None:
            raise RetrievalError(f"Id {bad!r} contains whitespace; TREC files cannot hold it.")
    untied = break_ties(run, name=tag)  # ranx writes "{score}": repr, no digits lost
    with atomic_path(path) as tmp:
        untied.save(str(tmp), kind="trec")
        if path.suffix == ".gz":  # no name, mtime 0: the same run gives the same bytes
            data = tmp.read_bytes()
            with open(tmp, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as z:
                z.write(data)
    return path


def read_trec(path: str | Path, name: str | None = None) -> Run:
    """Read a TREC run file (plain or ``.gz``); the run is named ``name``, else the file's tag.

    >>> run = read_trec("runs/bm25-test.trec")  # doctest: +SKIP
    """
    from ranx import Run

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Run file {str(path)!r} does not exist.")
    if path.stat().st_size == 0:
        return Run(name=name or path.stem)
    if path.suffix == ".gz":  # ranx reads plain files only
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / path.stem
            try:
                plain.write_bytes(gzip.decompress(path.read_bytes()))
            except (OSError, EOFError) as exc:
                raise RetrievalError(f"{path} is not a readable gzip file: {exc}") from None
            return read_trec(plain, name=name)
    try:
        return Run.from_file(str(path), kind="trec", name=name)
    except ValueError as exc:
        msg = f"{path} is not a TREC run file (qid Q0 docid rank score tag): {exc}"
        raise RetrievalError(msg) from None


def run_retrievers(
    specs: Sequence[str],
    doc_ids: list[str],
    passages: list[str],
    query_ids: list[str],
    queries: list[str],
    top_k: int = 100,
    **fusion_kwargs: Any,
) -> dict[str, Run]:
    """Search with every spec, indexing each base retriever once; fusion reuses member runs.

    ``specs`` may mix ``bm25``, ``dense:<model>`` and ``fusion:<a>+<b>``; a fusion's members are
    run (once) even when not listed themselves. Returns ``{spec: Run}`` in the order given.

    >>> runs = run_retrievers(["bm25", "dense:minilm-l6", "fusion:bm25+dense:minilm-l6"],
    ...                       doc_ids, passages, qids, queries)  # doctest: +SKIP
    """
    import time

    base: dict[str, Run] = {}

    def base_run(spec: str) -> Run:
        if spec not in base:
            start = time.perf_counter()
            retriever = make_retriever(spec).index(doc_ids, passages)
            base[spec] = retriever.search(query_ids, queries, top_k)
            base[spec].name = spec
            logger.info("%s: %.1f s", spec, time.perf_counter() - start)
        return base[spec]

    out: dict[str, Run] = {}
    for spec in specs:
        if spec.startswith("fusion:"):
            fusion = make_retriever(spec, **fusion_kwargs)
            members = [base_run(p.strip()) for p in spec.removeprefix("fusion:").split("+")]
            fused = fusion.fuse_runs(members)
            # Cut to top_k like every other run (ranx keeps the union of the members' lists).
            cut = {
                q: dict(sorted(fused[q].items(), key=lambda kv: (-kv[1], kv[0]))[:top_k])
                if q in fused.keys()
                else {}
                for q in query_ids
            }
            fused = make_run(cut, name=spec)
            out[spec] = fused
        else:
            out[spec] = base_run(spec)
    return out
