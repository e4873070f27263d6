"""A retriever's answer as arrays: :class:`Ranking`, and the top-k selection that fills it.

A :class:`Ranking` holds, for each query in order, the ``top_k`` best passage indices and scores;
``-1`` / ``-inf`` pad rows with fewer hits. Equal scores are always ordered by doc id ascending
(:func:`doc_rank` gives each passage its place in that order), so every retriever here returns the
same list for the same scores, whatever its index or batch size.

Example:
    >>> import numpy as np
    >>> ranking = Ranking(["d1", "d2"], np.array([[1, 0]]), np.array([[0.9, 0.5]]))
    >>> ranking.hits(0)
    [('d2', 0.9), ('d1', 0.5)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hardneg_kit.retrievers.runs import make_run

if TYPE_CHECKING:
    from ranx import Run


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
        idx, sc = _best(cand, row[cand], k, doc_rank)
        out_idx[i, : len(idx)], out_sc[i, : len(idx)] = idx, sc
    return out_idx, out_sc


def top_k_sparse(
    matrix, k: int, doc_rank: np.ndarray, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k_rows` over the stored positive entries of a sparse ``(rows, docs)`` matrix.

    Only entries > 0 are candidates (the ``valid`` mask of a dense call with
    ``valid = scores > 0``); ``offsets[i]`` is added to row ``i``'s scores after that test
    (BM25+'s per-query term). Same lists and scores as the dense call, without a dense
    ``(rows, docs)`` array: memory O(nonzeros + rows x k).

    >>> from scipy import sparse
    >>> top_k_sparse(sparse.csr_matrix([[0.0, 2.0, 1.0]]), 1, np.arange(3))[0].tolist()
    [[1]]
    """
    matrix = matrix.tocsr()
    n, m = matrix.shape
    k = max(0, min(k, m))
    out_idx = np.full((n, k), -1, dtype=np.int64)
    out_sc = np.full((n, k), -np.inf, dtype=np.float64)
    for i in range(n):
        lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
        cand, vals = matrix.indices[lo:hi].astype(np.int64), matrix.data[lo:hi]
        keep = vals > 0
        cand, vals = cand[keep], vals[keep]
        if offsets is not None:
            vals = vals + offsets[i]
        idx, sc = _best(cand, vals, k, doc_rank)
        out_idx[i, : len(idx)], out_sc[i, : len(idx)] = idx, sc
    return out_idx, out_sc


def _best(
    cand: np.ndarray, vals: np.ndarray, k: int, doc_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``cand`` (scores ``vals``) by (-score, doc id); order of input free."""
    if len(cand) > k:
        threshold = np.partition(vals, len(cand) - k)[len(cand) - k]
        keep = vals >= threshold  # keeps every tie at the boundary
        cand, vals = cand[keep], vals[keep]
    order = np.lexsort((doc_rank[cand], -vals))[:k]
    return cand[order], vals[order]


def doc_rank(doc_ids: Sequence[str]) -> np.ndarray:
    """``rank[j]``: the position of ``doc_ids[j]`` in ascending doc-id order (the tie-breaker).

    >>> doc_rank(["b", "c", "a"]).tolist()
    [1, 2, 0]
    """
    rank = np.empty(len(doc_ids), dtype=np.int64)
    rank[np.argsort(np.asarray(doc_ids, dtype=object), kind="stable")] = np.arange(len(doc_ids))
    return rank
