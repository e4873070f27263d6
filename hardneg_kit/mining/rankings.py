"""Candidates per query in one score space: BM25, one bi-encoder, or a fusion of them.

A :class:`Candidates` holds, for every query, the candidate rows (indices into
``inputs.doc_ids``) best first with their scores, and the exact scores of the query's positives
(the positive-aware filters compare against them). Each ranking goes ``depth`` deep plus room for
the positives, which selection removes. Rankings are memoized on the :class:`MiningInputs`.

Fusion is :func:`hardneg_kit.retrievers.fuse_runs`, the retrievers' own: ``"rrf"`` (default)
or ``"combsum"`` (sum of min-max normalized scores) mean the same here as in ``retrieve``.

Example:
    >>> rank_dense(inputs, "minilm-l6", depth=50).rows["q1"][:3]  # doctest: +SKIP
    >>> rank_fusion(inputs, method="rrf").positive_scores["q1"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardneg_kit.errors import MiningError
from hardneg_kit.mining.inputs import MiningInputs

DEFAULT_MODELS = ("minilm-l6", "paraphrase-minilm-l3", "static-minilm")


@dataclass
class Candidates:
    """Candidates per query in one score space (rows index ``inputs.doc_ids``), best first.

    Not :class:`hardneg_kit.retrievers.Ranking` (a retriever's top-k arrays, one row per query):
    this one is keyed by query id and carries the positives' scores.

    ``positive_scores[qid][pid]`` is ``nan`` when the positive was not among the candidates.
    """

    name: str
    rows: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    positive_scores: dict[str, dict[str, float]]


def _depth_for(inputs: MiningInputs, depth: int) -> int:
    max_pos = max(len(p) for p in inputs.positives.values())
    return min(len(inputs.doc_ids), depth + max_pos)


def _search_ip(
    inputs: MiningInputs, name: str, queries: np.ndarray, docs: np.ndarray, depth: int
) -> Candidates:
    """Exact inner-product search (faiss IndexFlatIP) and the positives' exact scores."""
    import faiss

    k = _depth_for(inputs, depth)
    index = faiss.IndexFlatIP(docs.shape[1])
    index.add(np.ascontiguousarray(docs, dtype=np.float32))
    scores, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    out = Candidates(name, {}, {}, {})
    for i, qid in enumerate(inputs.query_ids):
        keep = rows[i] >= 0
        out.rows[qid], out.scores[qid] = rows[i][keep], scores[i][keep]
        out.positive_scores[qid] = {
            p: float(queries[i] @ docs[inputs.doc_row[p]]) for p in inputs.positives[qid]
        }
    return out


def rank_dense(inputs: MiningInputs, model: str, depth: int = 100) -> Candidates:
    """Top ``depth`` (+ room for positives) passages by cosine in ``model``'s space.

    >>> rank_dense(inputs, "minilm-l6", depth=50).rows["q1"][:3]  # doctest: +SKIP
    """
    key = ("dense", model, depth)
    if key not in inputs.memo:
        q, p = inputs.query_embeddings(model), inputs.passage_embeddings(model)
        inputs.memo[key] = _search_ip(inputs, f"dense:{model}", q, p, depth)
    return inputs.memo[key]


def _from_run(inputs: MiningInputs, name: str, run: dict[str, dict[str, float]], depth: int):
    """A ``{qid: {doc: score}}`` run -> :class:`Candidates` (ties broken by corpus order)."""
    out = Candidates(name, {}, {}, {})
    k = _depth_for(inputs, depth)
    for qid in inputs.query_ids:
        docs = run.get(qid, {})
        ranked = sorted(docs.items(), key=lambda kv: (-kv[1], inputs.doc_row[kv[0]]))[:k]
        out.rows[qid] = np.array([inputs.doc_row[d] for d, _ in ranked], dtype=np.int64)
        out.scores[qid] = np.array([s for _, s in ranked], dtype=np.float64)
        out.positive_scores[qid] = {p: float(docs.get(p, math.nan)) for p in inputs.positives[qid]}
    return out


def rank_bm25(inputs: MiningInputs, depth: int = 100) -> Candidates:
    """Top ``depth`` (+ room for positives) passages by BM25 (:mod:`hardneg_kit.retrievers`).

    Only passages sharing a term with the query are candidates; the positives' scores are exact
    (``retriever.scores``), also when they rank below ``depth``.
    """
    key = ("bm25", depth)
    if key not in inputs.memo:
        from hardneg_kit.retrievers import make_retriever

        retriever = make_retriever("bm25")
        retriever.index(inputs.doc_ids, inputs.passages)
        ranked = retriever.rank(inputs.queries, _depth_for(inputs, depth))
        out = Candidates("bm25", {}, {}, {})
        for i, qid in enumerate(inputs.query_ids):
            keep = ranked.indices[i] >= 0
            out.rows[qid] = ranked.indices[i][keep].astype(np.int64)
            out.scores[qid] = ranked.scores[i][keep].astype(np.float64)
            pids = inputs.positives[qid]
            pos = retriever.scores([inputs.queries[i]], pids)[0]
            out.positive_scores[qid] = {p: float(s) for p, s in zip(pids, pos, strict=True)}
        inputs.memo[key] = out
    return inputs.memo[key]


def _run_dict(run: Any) -> dict[str, dict[str, float]]:
    """A ``ranx.Run`` (or plain dict) as nested plain dicts."""
    d = run.to_dict() if hasattr(run, "to_dict") else run
    return {str(q): {str(k): float(v) for k, v in docs.items()} for q, docs in d.items()}


def _as_run(ranking: Candidates, inputs: MiningInputs):
    import ranx

    run = {
        q: {inputs.doc_ids[r]: float(s) for r, s in zip(rows, ranking.scores[q], strict=True)}
        for q, rows in ranking.rows.items()
        if len(rows)
    }
    return ranx.Run(run, name=ranking.name)


def rank_fusion(
    inputs: MiningInputs,
    models: Sequence[str] = DEFAULT_MODELS,
    method: str = "rrf",
    depth: int = 100,
    bm25: bool = True,
) -> Candidates:
    """Fuse BM25 and dense rankings: ``method="rrf"`` (k=60) or ``"combsum"``.

    Both are :func:`hardneg_kit.retrievers.fuse_runs` (CombSUM sums min-max normalized scores).
    Each input ranking is ``depth`` deep; the fused list is cut to ``depth`` as well. A single
    ranking under RRF is kept as it is (fusing one list changes no order).
    """
    key = ("fusion", tuple(models), method, depth, bm25)
    if key in inputs.memo:
        return inputs.memo[key]
    from hardneg_kit.retrievers import fuse_runs

    if method not in ("rrf", "combsum"):  # of retrievers.FUSION_METHODS
        raise MiningError(f"Unknown fusion method {method!r}: use 'rrf' or 'combsum'.")
    parts = ([rank_bm25(inputs, depth)] if bm25 else []) + [
        rank_dense(inputs, m, depth) for m in models
    ]
    if not parts:
        raise MiningError("fusion needs at least one retriever: give --models or keep bm25.")
    runs = [_as_run(r, inputs) for r in parts]
    fused = runs[0] if method == "rrf" and len(runs) == 1 else fuse_runs(runs, method)
    inputs.memo[key] = _from_run(inputs, f"fusion-{method}", _run_dict(fused), depth)
    return inputs.memo[key]
