"""Re-ranker and first stage together: score interpolation, with its weight chosen on dev.

What a practitioner deploys is rarely the re-ranker alone: its score is interpolated with the
first stage's (the "BM25 + BERT" interpolation of Birch and the monoBERT follow-ups). For each
query ``q`` and each candidate ``d`` of the re-ranked head (the top ``depth`` of the first stage):

.. math::

    s(q, d) = w \\cdot z_q(s_{ce}(q, d)) + (1 - w) \\cdot z_q(s_{fs}(q, d)),
    \\qquad z_q(x) = \\frac{x - \\mu_q}{\\sigma_q}

where ``mu_q`` and ``sigma_q`` are the mean and the population standard deviation of that run's
scores over the query's candidates (ranx's ``zmuv`` normalization; a query whose scores are all
equal gets ``z = 0``). ``w = 1`` is the re-ranker alone, ``w = 0`` the first stage's order.
Only the re-ranked candidates take part: first-stage documents below ``depth`` would otherwise
enter the sum with a missing re-ranker score.

The weight is chosen on a dev split (:func:`choose_weight`) and then fixed for every test set.

Example:
    >>> w = choose_weight(dev_qrels, {0: ce_dev}, fusion_dev)  # doctest: +SKIP
    >>> run = interpolate(ce_test, fusion_test, w)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hardneg_kit.errors import EvaluationError

if TYPE_CHECKING:
    from ranx import Qrels, Run

#: the weights tried on dev: 0, 0.1, ..., 1
WEIGHT_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


def _zscores(scores: np.ndarray) -> np.ndarray:
    std = scores.std()
    return np.zeros_like(scores) if std == 0 else (scores - scores.mean()) / std


def interpolate(reranked: Run, first_stage: Run, weight: float, name: str | None = None) -> Run:
    """``weight * z(re-ranker) + (1 - weight) * z(first stage)`` over the re-ranked candidates.

    Args:
        reranked: the re-ranker's run (its documents per query are the candidates).
        first_stage: the run it re-ranked; every re-ranked document must have a score in it.
        weight: in [0, 1]; 1 is the re-ranker alone.
        name: the returned run's name.

    Returns:
        A ``ranx.Run`` with ties broken by doc id (:func:`hardneg_kit.retrievers.break_ties`).

    Raises:
        ValueError: a weight outside [0, 1], or a re-ranked document the first stage never
            retrieved.

    >>> from ranx import Run
    >>> ce = Run({"q": {"a": 0.0, "b": 2.0}})
    >>> fs = Run({"q": {"a": 10.0, "b": 5.0, "c": 1.0}})
    >>> sorted(interpolate(ce, fs, 0.75)["q"].items())
    [('a', -0.5), ('b', 0.5)]
    """
    from ranx import Run

    from hardneg_kit.retrievers import break_ties

    if not 0 <= weight <= 1:
        raise EvaluationError(f"weight must be in [0, 1], got {weight}.")
    out: dict[str, dict[str, float]] = {}
    for q in reranked.keys():
        docs = sorted(reranked[q])
        first = first_stage[q] if q in first_stage.keys() else {}
        missing = [d for d in docs if d not in first]
        if missing:
            raise EvaluationError(f"interpolate: document {missing[0]!r} of query {q!r} has no "
                             "first-stage score; interpolate a re-ranker with the run it "
                             "re-ranked.")
        ce = _zscores(np.array([reranked[q][d] for d in docs], dtype=np.float64))
        fs = _zscores(np.array([first[d] for d in docs], dtype=np.float64))
        mixed = weight * ce + (1 - weight) * fs
        out[q] = {d: float(s) for d, s in zip(docs, mixed, strict=True)}
    return break_ties(Run(out), name=name or reranked.name)


def choose_weight(
    qrels: Qrels,
    reranked: Mapping[int, Run],
    first_stage: Run,
    metric: str = "mrr@10",
    grid: Sequence[float] = WEIGHT_GRID,
) -> float:
    """The weight of ``grid`` with the best ``metric`` on dev, averaged over the seeds' runs.

    Ties go to the larger weight (more of the re-ranker). Use the dev split only: the chosen
    weight is then fixed for every test set.

    >>> choose_weight(dev_qrels, {0: ce_dev_s0, 1: ce_dev_s1}, fusion_dev)  # doctest: +SKIP
    0.6
    """
    from hardneg_kit.evaluation import evaluate_runs

    best, best_score = None, -np.inf
    for w in grid:
        score = float(np.mean([
            evaluate_runs(qrels, {"x": interpolate(run, first_stage, w)}, [metric]).iloc[0, 0]
            for run in reranked.values()
        ]))
        if score >= best_score - 1e-12:
            best, best_score = float(w), max(score, best_score)
    return best
