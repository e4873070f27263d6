"""Dense (bi-encoder) retrieval with faiss over L2-normalized embeddings: inner product = cosine.

:class:`DenseRetriever` embeds passages and queries through the on-disk cache of
:mod:`hardneg_kit.embeddings`, searches an exact (``flat``) or approximate (``hnsw``, ``ivf``)
faiss index, and re-sorts faiss's hits so that equal scores are ordered by doc id. Mining reads
its embeddings (``passage_embeddings``, ``encode``) and full score matrices (``scores``).

Example:
    >>> dense = DenseRetriever("minilm-l6")  # doctest: +SKIP
    >>> dense = dense.index(["d1", "d2"], ["a bucket", "an instance"])  # doctest: +SKIP
    >>> dense.rank(["delete a bucket"], top_k=1).hits(0)  # doctest: +SKIP
    [('d1', 0.61...)]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hardneg_kit.errors import RetrievalError
from hardneg_kit.retrievers.base import IndexedRetriever, check_index_input
from hardneg_kit.retrievers.ranking import Ranking, doc_rank

if TYPE_CHECKING:
    from hardneg_kit.embeddings import TextEncoder


DENSE_INDEXES = ("flat", "hnsw", "ivf")


class DenseRetriever(IndexedRetriever):
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

        check_index_input(doc_ids, passages)
        emb = embed_passages(self.encoder, list(passages), self.batch_size, self.cache)
        self.doc_ids, self.passage_embeddings = list(doc_ids), np.ascontiguousarray(emb)
        self._doc_rank = doc_rank(self.doc_ids)
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
