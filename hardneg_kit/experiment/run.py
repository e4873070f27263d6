"""The experiment end to end: :func:`run_experiment` as a sequence of named steps.

1. check the datasets and build their evaluation sets (the first stage), resolving the "best
   single model" contender on dev;
2. build the base re-ranker (:func:`hardneg_kit.experiment.base_reranker`);
3. train every contender for every seed and re-rank every set with it, under one progress bar;
4. interpolate with the first stage (weights chosen on dev), summarize and test per dataset;
5. collect an :class:`~hardneg_kit.experiment.ExperimentResult` and write it.

Each step's wall time is recorded under its name in ``result.seconds``.

Example:
    >>> from hardneg_kit.experiment import run_experiment
    >>> result = run_experiment("smoke", output_dir="results/smoke")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from hardneg_kit.corpus import BeirData
from hardneg_kit.errors import ExperimentError
from hardneg_kit.experiment.base import base_reranker, describe_base
from hardneg_kit.experiment.contenders import (
    BASE,
    BEST_SINGLE,
    EVAL_DATASETS,
    WITH_FIRST_STAGE,
    Contender,
    default_contenders,
)
from hardneg_kit.experiment.datasets import (
    EvalSet,
    best_single_model,
    check_splits,
    dataset_labels,
    eval_set,
)
from hardneg_kit.experiment.rerank import interpolate_all, rerank_cached
from hardneg_kit.experiment.result import ExperimentResult, write_results
from hardneg_kit.experiment.summary import summarize
from hardneg_kit.experiment.train import (
    DEFAULT_CONFIG,
    TrainingConfig,
    train_contender,
    warm_start_dir,
)
from hardneg_kit.mining import DEFAULT_MODELS
from hardneg_kit.profiles import Profile, get_profile
from hardneg_kit.progress import library_bars_off

logger = logging.getLogger(__name__)

#: dataset -> contender -> seed -> ranx Run
Runs = dict[str, dict[str, dict[int, Any]]]


def run_experiment(
    profile: str | Profile | None = None,
    output_dir: str | Path | None = None,
    contenders: Sequence[Contender] | None = None,
    config: TrainingConfig = DEFAULT_CONFIG,
    datasets: Sequence[str] = EVAL_DATASETS,
    work_dir: str | Path | None = None,
    split: str = "test",
    cross_encoder: str = "minilm-l6",
    models: Sequence[str] = DEFAULT_MODELS,
) -> ExperimentResult:
    """Build the base, train every contender for every seed, re-rank, interpolate, compare, write.

    Args:
        profile: ``smoke``, ``workshop``, ``full``, ``paper`` (or a :class:`Profile`).
        output_dir: where ``results.json``, ``results.md``, the TREC runs, training logs and
            plots go (``None``: write nothing).
        contenders: default :func:`default_contenders` of ``models``.
        config: the shared training settings.
        datasets: shipped dataset names or BEIR folders; the first is the training dataset
            (trained on its train split, weights and the best single model chosen on its dev
            split, evaluated on ``split``), the others are evaluated without training.
        work_dir: trained models and cached runs (default ``$HARDNEG_CACHE/experiment/<profile>``).
        split: the split every dataset is evaluated on; ``dev`` (aws-cli only) is where
            variants are tried, so that choices are never made on the test set.
        cross_encoder: the start: ``minilm-l6`` (the kit builds its base re-ranker,
            :func:`base_reranker`) or an existing cross-encoder (a folder or Hugging Face id).
        models: the bi-encoders of the first stage and of the ensemble strategies.

    >>> result = run_experiment("workshop", "results/workshop")  # doctest: +SKIP
    """
    # long only by its Args docstring: the body is the five named steps
    from hardneg_kit.evaluation import warm_up_ranx

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    contenders = _unique(list(contenders or default_contenders(models)))
    labels = dataset_labels(datasets)
    train_name = next(iter(labels))
    check_splits(labels, split)  # before any long work
    seconds: dict[str, float] = {}
    warm_up_ranx()
    with _timed(seconds, "first stage"):
        sets, dev = _eval_sets(labels, profile, split, models)
        contenders, specs = _resolve_best_single(contenders, dev, models)
    with _timed(seconds, "base re-ranker"):
        base = base_reranker(sets[train_name].data, profile, config, work_dir,
                             start=cross_encoder)
    with _timed(seconds, "training and re-ranking"):
        runs = _first_stage_runs(contenders, sets)
        dev_runs, training = _train_and_rerank(contenders, sets[train_name].data, sets, dev,
                                               runs, profile, config, work_dir, base)
    with _timed(seconds, "evaluation"):
        base_info = describe_base(base, cross_encoder, dev, dev_runs.get(BASE), train_name)
        weights = interpolate_all(runs, dev_runs, sets, dev)
        kinds = {c.name: c.kind for c in contenders} | {
            name + WITH_FIRST_STAGE: "interpolated" for name in weights}
        scores, tables, tests = _summaries(sets, runs, weights)
        _log_dev_scores(dev, train_name, base_info)
    result = ExperimentResult(profile, config, scores, tables, runs, training, seconds,
                              _sizes(sets, dev), sets, split, kinds, weights, base_info, tests,
                              specs, labels)
    if output_dir is not None:
        write_results(result, output_dir)
    return result


@contextmanager
def _timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    """Record the block's wall time as ``seconds[step]``."""
    start = time.perf_counter()
    yield
    seconds[step] = time.perf_counter() - start


def _unique(contenders: list[Contender]) -> list[Contender]:
    names = [c.name for c in contenders]
    if len(set(names)) != len(names):
        raise ExperimentError("Contender names must be unique.")
    return contenders


def _eval_sets(labels: Mapping[str, str], profile: Profile, split: str,
               models: Sequence[str]) -> tuple[dict[str, EvalSet], EvalSet]:
    """Every dataset's evaluation set, and the training dataset's dev set."""
    train_name = next(iter(labels))
    sets = {label: eval_set(given, profile, split=split, training=label == train_name,
                            models=models)
            for label, given in labels.items()}
    dev = sets[train_name] if split == "dev" else eval_set(
        labels[train_name], profile, split="dev", models=models)
    return sets, dev


def _resolve_best_single(contenders: list[Contender], dev: EvalSet, models: Sequence[str]
                         ) -> tuple[list[Contender], dict[str, str]]:
    """The "best single model" contender mining with the retriever chosen on dev, and the
    spec it resolved to (``{}`` when that contender is not run)."""
    if not any(c.spec == BEST_SINGLE for c in contenders):
        return contenders, {}
    spec = best_single_model(dev, models)
    return ([replace(c, spec=spec) if c.spec == BEST_SINGLE else c for c in contenders],
            {"best single model": spec})


def _first_stage_runs(contenders: Sequence[Contender], sets: Mapping[str, EvalSet]) -> Runs:
    """Runs holding the first-stage contenders (one "seed" each: they are not trained)."""
    runs: Runs = {d: {} for d in sets}
    for c in contenders:
        if c.kind == "first-stage":
            for d, es in sets.items():
                runs[d][c.name] = {0: es.first_stage[c.spec]}
    return runs


def _train_and_rerank(contenders: Sequence[Contender], train_data: BeirData,
                      sets: Mapping[str, EvalSet], dev: EvalSet, runs: Runs, profile: Profile,
                      config: TrainingConfig, work_dir: str | Path | None, base: str
                      ) -> tuple[dict[str, dict[int, Any]], dict[str, dict[int, dict]]]:
    """Train (or load) every re-ranking contender per seed on ``train_data`` and re-rank dev and
    every set with it; the sets' runs are added to ``runs``. Returns (dev runs, training logs).
    """
    dev_runs: dict[str, dict[int, Any]] = {}
    training: dict[str, dict[int, dict]] = {}
    jobs = [(c, seed) for c in contenders if c.kind != "first-stage" for seed in profile.seeds]
    # one bar for the whole loop: dozens of inner bars (training steps, scoring batches, weight
    # loading) would flood a notebook's output
    with library_bars_off():
        for c, seed in tqdm(jobs, desc="train and re-rank", unit="model"):
            logger.info("== %s, seed %d", c.name, seed)
            model, log = train_contender(c, train_data, profile, seed, config, work_dir, base,
                                         show_progress_bar=False)
            # the start is the same model for every seed: its runs are cached with it
            model_dir = Path(log["output_dir"]) if log else warm_start_dir(base)
            if log:
                training.setdefault(c.name, {})[seed] = log
            tag = f"{c.slug}-s{seed}"
            dev_runs.setdefault(c.name, {})[seed] = rerank_cached(
                model, dev, profile.rerank_depth, model_dir, tag, show_progress_bar=False)
            for d, es in sets.items():
                runs[d].setdefault(c.name, {})[seed] = rerank_cached(
                    model, es, profile.rerank_depth, model_dir, tag, show_progress_bar=False)
            del model
    return dev_runs, training


def _summaries(sets: Mapping[str, EvalSet], runs: Runs, weights: Mapping[str, float]):
    """Per dataset: scores, the summary table (with each interpolated row's weight ``w``) and
    the paired tests as dicts."""
    scores, tables, tests = {}, {}, {}
    for d, es in sets.items():
        scores[d], tables[d], found = summarize(es.qrels, runs[d])
        tests[d] = [asdict(t) for t in found]
        tables[d]["w"] = [weights.get(n.removesuffix(WITH_FIRST_STAGE), np.nan)
                          if n.endswith(WITH_FIRST_STAGE) else np.nan for n in tables[d].index]
    return scores, tables, tests


def _log_dev_scores(dev: EvalSet, train_name: str, base_info: Mapping[str, Any]) -> None:
    """Log the fused first stage's and the base's dev MRR@10: what fine-tuning has to beat."""
    from hardneg_kit.evaluation import evaluate_runs

    fusion_dev = evaluate_runs(dev.qrels, {"fusion": dev.candidates}, ["mrr@10"]).iloc[0, 0]
    logger.info("First stage (fusion) on %s dev: MRR@10 %.3f; base re-ranker %s", train_name,
                fusion_dev, base_info.get("dev mrr@10", "not evaluated"))


def _sizes(sets: Mapping[str, EvalSet], dev: EvalSet) -> dict[str, dict[str, int]]:
    """Queries and documents per evaluated dataset, and of the dev set."""
    sizes = {d: {"queries": len(es.queries), "documents": len(es.passages)}
             for d, es in sets.items()}
    sizes["dev"] = {"queries": len(dev.queries), "documents": len(dev.passages)}
    return sizes
