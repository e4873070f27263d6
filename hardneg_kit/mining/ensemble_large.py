"""``ensemble-pca`` out of core: for corpora above :data:`~.ann.FLAT_MAX_ROWS` passages.

The in-memory path (:func:`~.ensemble.ensemble_space`) holds every model's embeddings, their
concatenation and a full-SVD PCA at once (~26 KiB a passage for three models: a 24 GiB machine
stops near 0.9M passages). Above ``FLAT_MAX_ROWS`` passages (200,000), or when
``MiningInputs.out_of_core`` is ``True``, :func:`large_ensemble_space` instead

1. reads each model's passage embeddings through the shard interface
   (``MiningInputs.passage_rows``: precomputed shards, the sharded embedding cache, or memory),
   concatenated block by block (:class:`ConcatRows`), never whole;
2. fits PCA on a seeded sample (:func:`~.sample_pca.fit_sample_pca`; ``fit`` as in the
   in-memory path: the queries join the sample for ``"passages+queries"``);
3. projects and re-normalizes shard by shard into float32 shards in a scratch folder under the
   cache (:class:`~hardneg_kit.shards.ShardWriter`), removed with the space;
4. searches with an index that suits the size (:func:`rank_large`: exhaustive up to
   ``FLAT_MAX_ROWS``, else IVF with ``nprobe`` tuned for recall >= 0.99 of exhaustive search,
   :mod:`.ann`), and records the plan in the result's settings (``search``).

Selection and the two conditions are those of the in-memory path; they read only the candidate
and positive rows (``take``). Below the threshold nothing here runs unless asked: the shipped
corpora keep the exact in-memory arithmetic and their results. Cost per stage: linear in
passages (PCA fit: constant; projection, index filling, search: linear).

Example:
    >>> inputs.out_of_core = True  # doctest: +SKIP
    >>> mine(inputs, "train", "ensemble-pca").settings["search"]  # doctest: +SKIP
    {'index': 'flat', 'rows': 18886, 'k': 101, ...}
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from hardneg_kit.mining.ann import FLAT_MAX_ROWS, SearchPlan, build_index, search, tune
from hardneg_kit.mining.inputs import MiningInputs
from hardneg_kit.mining.rankings import Candidates, _depth_for
from hardneg_kit.mining.sample_pca import SAMPLE_ROWS, fit_sample_pca

logger = logging.getLogger("hardneg_kit.mining")
#: rows per projected shard (and per block read)
BLOCK_ROWS = 65_536


class ConcatRows:
    """Several row sources side by side (the models' embeddings), read block by block.

    >>> ConcatRows([MemoryRows(a), MemoryRows(b)]).take(np.array([0])).shape  # doctest: +SKIP
    (1, 768)
    """

    def __init__(self, sources: Sequence) -> None:
        lengths = {len(s) for s in sources}
        if len(lengths) != 1:
            raise ValueError(f"Embedding sources differ in rows: {sorted(lengths)}.")
        self.sources = list(sources)
        self.shape = (lengths.pop(), sum(s.shape[1] for s in sources))

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.hstack([np.asarray(s.take(rows), dtype=np.float32) for s in self.sources])

    def release(self) -> None:
        """Drop read pages of every source (:meth:`hardneg_kit.shards.ShardedArray.release`)."""
        for s in self.sources:
            s.release()

    def blocks(self, rows: int = BLOCK_ROWS) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, len(self), rows):
            stop = min(start + rows, len(self))
            parts = [np.asarray(s.read(start, stop), dtype=np.float32) for s in self.sources]
            yield start, np.hstack(parts)


def fit_pca(inputs: MiningInputs, models: Sequence[str], variance: float, seed: int, fit: str):
    """Stage 1: the models' rows side by side, the queries, PCA fitted on a seeded sample.

    Returns ``(concat, queries, pca)``.
    """
    concat = ConcatRows([inputs.passage_rows(m) for m in models])
    queries = np.hstack([inputs.query_embeddings(m) for m in models])
    extra = queries if fit == "passages+queries" else None
    pca = fit_sample_pca(concat.take, len(concat), variance, seed, SAMPLE_ROWS, extra)
    concat.release()
    return concat, queries, pca


def project(concat: ConcatRows, pca, meta: dict):
    """Stage 2: project and re-normalize shard by shard into a scratch folder.

    Returns ``(docs, scratch)``: the :class:`~hardneg_kit.shards.ShardedArray` and the
    ``TemporaryDirectory`` holding it (the folder goes when that object does).
    """
    from hardneg_kit.cache import cache_dir
    from hardneg_kit.shards import ShardWriter

    scratch = tempfile.TemporaryDirectory(prefix="ensemble-", dir=cache_dir("scratch"))
    writer = ShardWriter(scratch.name, pca.dims, "float32", BLOCK_ROWS, meta=meta)
    for i, (_, block) in enumerate(concat.blocks(BLOCK_ROWS)):
        writer.write(i, pca.transform(block))
        concat.release()  # read pages leave the resident set (ShardedArray.release)
    return writer.close(len(concat)), scratch


def large_ensemble_space(
    inputs: MiningInputs, models: Sequence[str], variance: float, seed: int, fit: str
):
    """The :class:`~.ensemble.EnsembleSpace` of the module docstring (``docs`` are shards).

    >>> space = large_ensemble_space(inputs, DEFAULT_MODELS, 0.95, 0, "passages")  # doctest: +SKIP
    """
    from hardneg_kit.mining.ensemble import EnsembleSpace
    from hardneg_kit.models import normalize

    concat, queries, pca = fit_pca(inputs, models, variance, seed, fit)
    meta = {"models": list(models), "variance": variance, "seed": seed, "fit": fit}
    docs, scratch = project(concat, pca, meta)
    space = EnsembleSpace(
        models=tuple(models), variance=variance, fit=fit, docs=docs,
        queries=normalize(pca.transform(queries)),
        explained_variance_ratio=pca.explained_variance_ratio, input_dims=concat.shape[1],
        pca_sample_rows=pca.sample_rows, scratch=scratch,
    )
    logger.info(
        "ensemble-pca (out of core): %d models, %d -> %d dims (%.1f%% variance), PCA fitted "
        "on %d sampled rows (%s)", len(models), space.input_dims, space.dims,
        100 * pca.explained_variance_ratio.sum(), pca.sample_rows, fit,
    )
    return space


def build_search(docs, queries: np.ndarray, k: int, seed: int = 0) -> tuple[Any, SearchPlan]:
    """Stage 3: exhaustive index up to ``FLAT_MAX_ROWS`` rows, else IVF tuned for recall."""
    import faiss

    n, dims = docs.shape
    if n <= FLAT_MAX_ROWS:
        index = faiss.IndexFlatIP(dims)
        for _, block in _releasing(docs)():
            index.add(np.ascontiguousarray(block, dtype=np.float32))
        return index, SearchPlan(index="flat", rows=n, k=k)
    index, train_rows = build_index(_releasing(docs), docs.take, n, dims, seed)
    plan = tune(index, _releasing(docs), queries, k, seed, train_rows)
    return index, plan


def _releasing(docs):
    """``docs.blocks`` that drops each block's pages once the caller moves on."""

    def blocks() -> Iterator[tuple[int, np.ndarray]]:
        for start, block in docs.blocks():
            yield start, block
            docs.release()

    return blocks


def candidates(inputs: MiningInputs, index, docs, queries: np.ndarray, k: int) -> Candidates:
    """Stage 4: search every query; the positives' exact scores read by row."""
    scores, rows = search(index, queries, k)
    out = Candidates("ensemble-pca", {}, {}, {})
    for i, qid in enumerate(inputs.query_ids):
        keep = rows[i] >= 0
        out.rows[qid], out.scores[qid] = rows[i][keep].astype(np.int64), scores[i][keep]
        pids = inputs.positives[qid]
        pos = np.asarray(docs.take(np.array([inputs.doc_row[p] for p in pids])), np.float32)
        out.positive_scores[qid] = {
            p: float(v) for p, v in zip(pids, pos @ queries[i], strict=True)
        }
    return out


def rank_large(inputs: MiningInputs, space, depth: int = 100, seed: int = 0) -> Candidates:
    """Top candidates in a sharded space through an index chosen by size (module docstring)."""
    k = _depth_for(inputs, depth)
    index, plan = build_search(space.docs, space.queries, k, seed)
    out = candidates(inputs, index, space.docs, space.queries, k)
    space.search = plan.to_dict()
    logger.info("ensemble-pca search: %s", space.search)
    return out
