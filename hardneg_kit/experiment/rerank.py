"""Re-ranked and interpolated runs: what each trained model makes of the candidates.

Every model re-ranks the top ``profile.rerank_depth`` of the fused first stage of each
evaluation set (:func:`rerank_cached`); the run is cached beside the model, keyed by exactly
what the model saw (:meth:`EvalSet.key`), so a second experiment re-ranks nothing.
:func:`interpolate_all` then adds, per re-ranker, ``X + first stage``: its score interpolated
with the first stage's (:mod:`hardneg_kit.interpolation`), the weight chosen on dev and then
fixed for every dataset.

Example:
    >>> from hardneg_kit.experiment.rerank import rerank_cached
    >>> run = rerank_cached(model, test_set, 30, model_dir, "bm25-s0")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hardneg_kit.experiment.contenders import WITH_FIRST_STAGE, Contender
from hardneg_kit.experiment.datasets import EvalSet


def rerank_cached(model, evalset: EvalSet, depth: int, model_dir: Path | None, name: str,
                  show_progress_bar: bool = True):
    """Re-rank ``evalset``'s candidates; cached as a TREC file in ``model_dir`` when given."""
    from hardneg_kit.reranking import rerank
    from hardneg_kit.retrievers import read_trec, write_trec

    path = None
    if model_dir is not None:
        path = model_dir / "runs" / f"{evalset.name}-{evalset.key(depth)[:16]}.trec"
        if path.exists():
            run = read_trec(path)
            run.name = name
            return run
    run = rerank(model, evalset.queries, evalset.candidates, evalset.passages, depth=depth,
                 name=name, batch_size=64, show_progress_bar=show_progress_bar)
    if path is not None:
        write_trec(run, path, tag=name)
    return run


def interpolate_all(runs: dict[str, dict[str, dict[int, Any]]],
                    dev_runs: Mapping[str, Mapping[int, Any]], sets: Mapping[str, EvalSet],
                    dev: EvalSet) -> dict[str, float]:
    """Choose each re-ranker's interpolation weight on ``dev``, then add its ``X + first stage``
    runs to ``runs`` (dataset -> contender -> seed -> run) for every dataset.

    Args:
        runs: the re-ranked runs per dataset; the interpolated ones are added in place.
        dev_runs: contender -> seed -> its re-ranked dev run (where the weight is chosen).
        sets: the evaluation sets, whose fused first stage is interpolated with.
        dev: the dev set of the training dataset.

    Returns:
        contender -> the weight chosen on dev.
    """
    from hardneg_kit.interpolation import choose_weight, interpolate

    weights = {name: choose_weight(dev.qrels, by_seed, dev.candidates)
               for name, by_seed in dev_runs.items()}
    for d, es in sets.items():
        for name, w in weights.items():
            runs[d][name + WITH_FIRST_STAGE] = {
                s: interpolate(run, es.candidates, w, name=f"{Contender(name, '').slug}-fs-s{s}")
                for s, run in runs[d][name].items()}
    return weights
