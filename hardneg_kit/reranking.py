"""Re-rank candidate lists with a cross-encoder: raw scores, and runs with ties broken alike.

:func:`score_pairs` gives a cross-encoder's raw logits for (query, passage) pairs;
:func:`rerank` re-scores the top ``depth`` first-stage candidates of each query and returns a
``ranx.Run``. Exactly tied scores (duplicate passages) are separated by less than one float32
ulp, by doc id, so that every tool that reads the run (ranx, trec_eval) ranks it alike.

Example:
    >>> from hardneg_kit.reranking import rerank
    >>> run = rerank(model, test_queries, bm25_run, corpus, depth=20)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from hardneg_kit.errors import TrainingError

logger = logging.getLogger(__name__)


def score_pairs(
    model,
    pairs: Sequence[tuple[str, str]],
    batch_size: int = 64,
    show_progress_bar: bool | None = None,
) -> np.ndarray:
    """Raw cross-encoder logits (float32) for (query, passage) pairs, e.g. before vs after training.

    >>> score_pairs(model, [("delete a bucket", "aws s3 rb deletes a bucket")])  # doctest: +SKIP
    array([2.31], dtype=float32)
    """
    import torch

    if len(pairs) == 0:
        return np.zeros(0, dtype=np.float32)
    if show_progress_bar is None:
        show_progress_bar = len(pairs) > 1000
    scores = model.predict(
        [tuple(p) for p in pairs],
        batch_size=batch_size,
        show_progress_bar=show_progress_bar,
        activation_fn=torch.nn.Identity(),
        convert_to_numpy=True,
    )
    return np.asarray(scores, dtype=np.float32).reshape(-1)


def _top_candidates(docs: Mapping[str, float], depth: int) -> list[str]:
    """The ``depth`` best doc ids by first-stage score, ties by doc id."""
    return [d for d, _ in sorted(docs.items(), key=lambda kv: (-kv[1], kv[0]))[:depth]]


def _ordered_with_ties_broken(doc_ids: list[str], scores: np.ndarray) -> dict[str, float]:
    """Doc -> score in rank order; exactly tied scores are nudged apart by doc id.

    The nudge is a fraction of half a float32 ulp, so it never reorders distinct float32 scores,
    yet every consumer (ranx sorts with an unstable argsort) sees the same order.
    """
    order = sorted(range(len(doc_ids)), key=lambda i: (-float(scores[i]), doc_ids[i]))
    out: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        s = np.float32(scores[order[i]])
        while j + 1 < len(order) and np.float32(scores[order[j + 1]]) == s:
            j += 1
        step = float(abs(np.spacing(s))) / 2 / (j - i + 2)
        for rank, k in enumerate(order[i : j + 1]):
            out[doc_ids[k]] = float(s) - rank * step
        i = j + 1
    return out


def rerank(
    model,
    queries: Mapping[str, str],
    candidates,
    passages: Mapping[str, str],
    depth: int = 30,
    batch_size: int = 64,
    show_progress_bar: bool = True,
    name: str | None = None,
):
    """Re-score the top ``depth`` first-stage candidates of each query with a cross-encoder.

    Args:
        model: a :class:`~sentence_transformers.cross_encoder.CrossEncoder`.
        queries: query id -> query text; only queries that also have candidates are re-ranked.
        candidates: a ``ranx.Run`` or ``{qid: {doc_id: first-stage score}}``.
        passages: doc id -> passage text (every kept candidate must be present).
        depth: candidates kept per query, the best by first-stage score (ties by doc id).
            **Candidates beyond ``depth`` are dropped** from the returned run, so metrics at
            cut-offs above ``depth`` only see the re-ranked head.
        batch_size: pairs per ``model.predict`` batch.
        show_progress_bar: tqdm over the scoring batches.
        name: the run's name (ranx report tables use it).

    Returns:
        A ``ranx.Run`` of raw cross-encoder logits. Exact ties (e.g. duplicate passages) are
        separated by less than one float32 ulp, so the order is deterministic, by doc id.

    >>> run = rerank(model, test_queries, bm25_run, corpus, depth=20)  # doctest: +SKIP
    """
    from ranx import Run

    if depth < 1:
        raise TrainingError(f"depth must be >= 1, got {depth}.")
    cand = candidates.to_dict() if isinstance(candidates, Run) else candidates
    qids = [q for q in queries if cand.get(q)]
    if len(qids) < len(queries):
        logger.warning("rerank: %d of %d queries have no candidates; they are left out.",
                       len(queries) - len(qids), len(queries))
    if extra := len(set(cand) - set(queries)):
        logger.warning("rerank: %d candidate lists have no query text; they are left out.", extra)
    keys: list[tuple[str, str]] = []
    pairs: list[tuple[str, str]] = []
    for q in qids:
        for d in _top_candidates(cand[q], depth):
            if d not in passages:
                raise KeyError(f"rerank: candidate {d!r} of query {q!r} is not in passages.")
            keys.append((q, d))
            pairs.append((queries[q], passages[d]))
    scores = score_pairs(model, pairs, batch_size=batch_size, show_progress_bar=show_progress_bar)
    out: dict[str, dict[str, float]] = {}
    start = 0
    for q in qids:
        n = min(depth, len(cand[q]))
        docs = [d for _, d in keys[start : start + n]]
        out[q] = _ordered_with_ties_broken(docs, scores[start : start + n])
        start += n
    return Run(out, name=name) if name else Run(out)
