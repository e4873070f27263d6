"""Rank fusion, implemented once: :func:`fuse_runs` (ranx ``fuse``) and the retriever built on it.

Every fusion in the kit goes through :func:`fuse_runs`: ``retrieve --retriever fusion:...``
(:class:`FusionRetriever`), :func:`hardneg_kit.retrievers.run_retrievers`, and mining's fused
rankings. ``rrf`` is reciprocal rank fusion (``k=60``); ``combsum`` is the sum of normalized
scores (ranx ``sum``, min-max by default); ``combmnz`` is ranx ``mnz``. A fused list is cut to
the ``top_k`` best by :func:`best_hits`: score descending, then doc id ascending.

Example:
    >>> from hardneg_kit.retrievers.runs import make_run
    >>> a = make_run({"q1": {"d1": 2.0, "d2": 1.0}})
    >>> b = make_run({"q1": {"d2": 3.0, "d3": 1.0}})
    >>> [doc for doc, _ in best_hits(fuse_runs([a, b], method="combsum")["q1"], 2)]
    ['d1', 'd2']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hardneg_kit.errors import RetrievalError
from hardneg_kit.retrievers.base import IndexedRetriever, Retriever, check_index_input
from hardneg_kit.retrievers.ranking import Ranking
from hardneg_kit.retrievers.runs import make_run

if TYPE_CHECKING:
    from ranx import Run


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


class FusionRetriever(IndexedRetriever):
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
        check_index_input(doc_ids, passages)
        for r in self.retrievers:
            r.index(doc_ids, passages)
        self.doc_ids = list(doc_ids)
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
            for j, (d, s) in enumerate(best_hits(hits, k)):
                idx[i, j], sc[i, j] = pos[d], s
        return Ranking(self.doc_ids, idx, sc)


def best_hits(hits: Mapping[str, float], k: int) -> list[tuple[str, float]]:
    """The ``k`` best ``(doc_id, score)`` of one query: score descending, then doc id ascending.

    Example:
        >>> best_hits({"b": 1.0, "a": 1.0, "c": 2.0}, 2)
        [('c', 2.0), ('a', 1.0)]
    """
    return sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


def cut_run(run: Run, query_ids: Sequence[str], k: int, name: str | None = None) -> Run:
    """``run`` cut to each query's :func:`best_hits`, with every id of ``query_ids`` present.

    ranx ``fuse`` keeps the union of the members' lists; this gives a fused run the length of
    every other run.

    Example:
        >>> cut_run(make_run({"q1": {"a": 1.0, "b": 2.0}}), ["q1", "q2"], 1)["q1"]  # doctest: +SKIP
        {'b': 2.0}
    """
    keys = run.keys()
    return make_run({q: dict(best_hits(run[q], k)) if q in keys else {} for q in query_ids}, name)
