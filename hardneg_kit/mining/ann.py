"""Candidate search that suits the corpus size: exact below :data:`FLAT_MAX_ROWS`, IVF above.

Below ``FLAT_MAX_ROWS`` (200,000) passages the kit searches exhaustively (faiss
``IndexFlatIP``): exact, and cheap at that size. Above it, :func:`build_index` builds a faiss
``IndexIVFFlat`` (inner product) and :func:`tune` chooses how many lists to probe:

* ``nlist`` = the power of two nearest ``sqrt(n)`` (1,024 for 1M passages), trained (k-means,
  seeded) on ``64 * nlist`` seeded rows: faiss's guideline is 30-256 rows per list;
* ``nprobe``: the smallest of 1, 2, 4, ... whose recall@k against exact search reaches
  :data:`RECALL_TARGET` (0.99) on a seeded sample of the queries, then confirmed on a second,
  disjoint (held-out) sample; if the held-out recall falls short, ``nprobe`` doubles until it
  passes. Exact neighbours come from a blockwise exhaustive scan (:func:`exact_top_k`), so the
  check itself never holds the corpus in memory.

Recall@k is the share of the exact top ``k`` that the index returns, averaged over queries.
The chosen parameters and both recalls are returned (:class:`SearchPlan`) and go into the mined
file's ``.meta.json`` (``settings.search``).

HNSW was not chosen: building it for 1M vectors takes far longer on two cores than training
IVF, and IVF lists hold plain vectors (exact scores for what they return).

Cost: IVF training O(nlist x 64 nlist x d), independent of n beyond that; adding O(n x nlist x d);
searching O(queries x (nlist + nprobe x n / nlist) x d). All linear or better in passages.

Example:
    >>> plan = tune(index, blocks, queries, k=100, seed=0)  # doctest: +SKIP
    >>> scores, rows = search(index, queries, k=100)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

#: exhaustive search up to this many passages (the in-memory path)
FLAT_MAX_ROWS = 200_000
#: recall@k of the index against exact search that the chosen ``nprobe`` must reach
RECALL_TARGET = 0.99
#: queries in the tuning sample and in the held-out sample
TUNE_QUERIES = 200

Blocks = Callable[[], Iterator[tuple[int, np.ndarray]]]


@dataclass
class SearchPlan:
    """What was built and how well it did (recorded in the mined file's settings)."""

    index: str
    rows: int
    k: int
    nlist: int | None = None
    nprobe: int | None = None
    train_rows: int | None = None
    recall_tune: float | None = None
    recall_heldout: float | None = None
    tune_queries: int = 0
    heldout_queries: int = 0
    recall_target: float = RECALL_TARGET

    def to_dict(self) -> dict:
        return asdict(self)


def nlist_for(n: int) -> int:
    """Inverted lists for ``n`` rows: the power of two nearest ``sqrt(n)``, at least 16.

    >>> nlist_for(1_000_000), nlist_for(100_000)
    (1024, 256)
    """
    return max(16, 2 ** round(math.log2(math.sqrt(max(n, 1)))))


def build_index(
    blocks: Blocks, take: Callable[[np.ndarray], np.ndarray], n: int, dim: int, seed: int = 0
):
    """An ``IndexIVFFlat`` (inner product) trained on a seeded sample, filled block by block.

    Returns ``(index, training rows)``.

    Args:
        blocks: yields ``(start, block)`` of the corpus vectors, in order.
        take: returns given rows (the training sample).
        n: rows in the corpus.
        dim: vector width.
        seed: seeds the training sample and k-means.
    """
    import faiss

    from hardneg_kit.mining.sample_pca import sample_rows

    nlist = nlist_for(n)
    train = np.ascontiguousarray(take(sample_rows(n, 64 * nlist, seed)), dtype=np.float32)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.train(train)
    for _, block in blocks():
        index.add(np.ascontiguousarray(block, dtype=np.float32))
    return index, len(train)


def exact_top_k(blocks: Iterable[tuple[int, np.ndarray]], queries: np.ndarray, k: int):
    """Exact top ``k`` rows by inner product, scanning the corpus block by block.

    Returns ``(scores, rows)``, best first; memory O(queries x (k + block)).
    """
    q = np.ascontiguousarray(queries, dtype=np.float32)
    best_s = np.full((len(q), 0), -np.inf, np.float32)
    best_r = np.zeros((len(q), 0), np.int64)
    for start, block in blocks:
        s = q @ np.asarray(block, dtype=np.float32).T
        r = np.broadcast_to(np.arange(start, start + s.shape[1]), s.shape)
        s, r = np.hstack([best_s, s]), np.hstack([best_r, r])
        keep = np.argpartition(-s, min(k, s.shape[1]) - 1, axis=1)[:, :k]
        best_s, best_r = np.take_along_axis(s, keep, 1), np.take_along_axis(r, keep, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_r, order, 1)


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each exact row set that ``found`` contains.

    >>> recall_at_k(np.array([[1, 2, 9]]), np.array([[1, 2, 3]]))
    0.6666666666666666
    """
    hits = [
        len(set(f.tolist()) & set(e.tolist())) / max(len(e), 1)
        for f, e in zip(found, exact, strict=True)
    ]
    return float(np.mean(hits)) if hits else 1.0


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` (scores, rows) from a faiss index (rows of ``-1``: fewer were found)."""
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def tune(
    index, blocks: Blocks, queries: np.ndarray, k: int, seed: int = 0, train_rows: int = 0
) -> SearchPlan:
    """Choose ``nprobe`` for recall@k >= :data:`RECALL_TARGET`, confirmed on held-out queries.

    Sets ``index.nprobe`` and returns the :class:`SearchPlan`.
    """
    order = np.random.default_rng(seed).permutation(len(queries))
    tune_q = queries[np.sort(order[:TUNE_QUERIES])]
    held_q = queries[np.sort(order[TUNE_QUERIES : 2 * TUNE_QUERIES])]
    nlist = index.nlist
    nprobe, recall = _raise_nprobe(index, tune_q, exact_top_k(blocks(), tune_q, k)[1], k, 1)
    held = 1.0
    if len(held_q):  # confirmed on queries the tuning did not see; raised again if it falls short
        nprobe, held = _raise_nprobe(index, held_q, exact_top_k(blocks(), held_q, k)[1], k,
                                     nprobe)
    return SearchPlan(
        index="ivf-flat", rows=int(index.ntotal), k=k, nlist=int(nlist), nprobe=int(nprobe),
        train_rows=int(train_rows), recall_tune=round(recall, 4),
        recall_heldout=round(held, 4), tune_queries=len(tune_q), heldout_queries=len(held_q),
    )


def _raise_nprobe(index, queries: np.ndarray, exact: np.ndarray, k: int,
                  nprobe: int) -> tuple[int, float]:
    """Double ``nprobe`` from its start until recall@k against ``exact`` reaches
    :data:`RECALL_TARGET` (or every list is probed); returns it with the recall reached."""
    while True:
        index.nprobe = nprobe
        recall = recall_at_k(search(index, queries, k)[1], exact)
        if recall >= RECALL_TARGET or nprobe >= index.nlist:
            return nprobe, recall
        nprobe = min(2 * nprobe, index.nlist)
