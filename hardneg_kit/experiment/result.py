"""An experiment's result: what it holds, how it reads (``results.md``) and what it writes.

:class:`ExperimentResult` holds, per dataset, contender and seed, the metrics, the runs and the
training logs, with the summary tables and paired tests of :func:`summarize`. Its
:meth:`~ExperimentResult.markdown` is ``results.md``: the :func:`recipe` paragraph that says how
every row was made, one table per dataset and the :func:`budget_table`. :func:`write_results`
saves everything needed to recompute it (``results.json``, the TREC runs, the training logs) and
a plot.

Example:
    >>> from hardneg_kit.experiment.result import write_results
    >>> write_results(result, "results/smoke")  # doctest: +SKIP
    PosixPath('results/smoke')
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hardneg_kit.cache import atomic_path
from hardneg_kit.experiment.contenders import (
    BASE,
    BASELINE,
    CANDIDATES,
    EVAL_DATASETS,
    EXPERIMENT_METRICS,
    FUSION,
    TRAIN_DATASET,
    WITH_FIRST_STAGE,
    Contender,
)
from hardneg_kit.experiment.datasets import EvalSet
from hardneg_kit.experiment.summary import format_table
from hardneg_kit.experiment.train import TrainingConfig
from hardneg_kit.models import describe_encoders
from hardneg_kit.profiles import Profile

logger = logging.getLogger(__name__)


@dataclass
class ExperimentResult:
    """Per dataset, contender and seed: metrics; the summary tables, paired tests and run times."""

    profile: Profile
    config: TrainingConfig
    #: dataset -> contender -> seed -> metric -> value
    scores: dict[str, dict[str, dict[int, dict[str, float]]]]
    #: dataset -> summary table (see :func:`summarize`)
    tables: dict[str, pd.DataFrame]
    #: dataset -> contender -> seed -> ranx Run (re-ranked, interpolated or first-stage)
    runs: dict[str, dict[str, dict[int, Any]]] = field(repr=False, default_factory=dict)
    #: contender -> seed -> training log (``TrainResult.to_json()``)
    training: dict[str, dict[int, dict]] = field(repr=False, default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    #: dataset -> the evaluation set (queries, passages, qrels, first-stage runs)
    sets: dict[str, EvalSet] = field(repr=False, default_factory=dict)
    #: the evaluated split (``test``; ``dev`` for trying variants without touching the test set)
    split: str = "test"
    #: contender name -> kind (``first-stage``, ``start``, ``in-batch``, ``mined``,
    #: ``interpolated``)
    kinds: dict[str, str] = field(default_factory=dict)
    #: contender -> the interpolation weight chosen on dev
    weights: dict[str, float] = field(default_factory=dict)
    #: the base re-ranker: its folder, how it was built, its dev score
    base: dict[str, Any] = field(default_factory=dict)
    #: dataset -> the paired tests (``PairedTest`` as dicts) behind the tables
    tests: dict[str, list[dict]] = field(repr=False, default_factory=dict)
    #: contender name -> mining spec, for contenders resolved at run time (best single model)
    specs: dict[str, str] = field(default_factory=dict)
    #: dataset label -> the name or folder it was given as; the first is the training dataset
    datasets: dict[str, str] = field(default_factory=lambda: {d: d for d in EVAL_DATASETS})

    @property
    def train_dataset(self) -> str:
        return next(iter(self.datasets))

    def markdown(self) -> str:
        from hardneg_kit.evaluation import markdown_table

        parts = [f"## Cross-encoder re-ranking, profile `{self.profile.name}`",
                 recipe(self.profile, self.config, self.base, self.specs, self.train_dataset,
                        self.sizes.get("dev", {}).get("queries"))]
        for name, table in self.tables.items():
            size = self.sizes.get(name, {})
            parts.append(f"### {name} {self.split} ({size.get('queries', '?')} queries, "
                         f"{size.get('documents', '?')} documents)")
            parts.append(markdown_table(format_table(table)))
        if self.training:
            parts.append("### Training budget\n\n" + markdown_table(budget_table(self.training)))
        total = sum(self.seconds.values())
        parts.append("Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
                     + f" (total {total / 60:.1f} min).")
        return "\n\n".join(parts)


def recipe(profile: Profile, config: TrainingConfig, base: Mapping[str, Any],
           specs: Mapping[str, str], train_dataset: str = TRAIN_DATASET,
           dev_queries: int | None = None) -> str:
    """The paragraph that says how every row of the tables was made (``dev_queries``: how many
    dev queries there were, when known; else the profile's cap)."""
    p = profile
    layers = "all" if p.cross_encoder_layers is None else p.cross_encoder_layers
    built = base.get("built", "")
    chosen = "; ".join(f"`{n}` = `{s}`" for n, s in specs.items())
    return (
        f"Base re-ranker (the `{BASE}` row): {built} Every fine-tuned contender starts from it "
        f"and trains on `{train_dataset}` train with loss `{config.loss}` (in-batch negatives: "
        f"`mnrl`): {p.train_examples} rows of one query, its positive and up to "
        f"{p.num_negatives} mined negatives, {budget_rule(p)} Layers: {layers}, max length "
        f"{p.max_length}, lr {config.learning_rate:g} (head {config.head_learning_rate:g}), "
        f"seeds {list(p.seeds)}. {chosen + '. ' if chosen else ''}Each model re-ranks the top "
        f"{p.rerank_depth} of the fused first stage; `X{WITH_FIRST_STAGE}` interpolates its "
        "z-normalized score with the first stage's, with the weight chosen on "
        f"{dev_queries or p.dev_queries or 'all'} `{train_dataset}` dev queries (column w). "
        "Metrics: mean over seeds (± the sample std over seeds, ddof=1, when there are "
        "several). Tests: each "
        "query's metric averaged over seeds, then a paired t-test over queries against "
        f"`{BASELINE}` and against `{FUSION}`, Holm-corrected over the rows of a table; Δ is the "
        "mean difference with a 95% paired bootstrap interval; * Holm p < 0.05."
    )


def budget_rule(profile: Profile) -> str:
    """The equal-budget rule, in words."""
    from hardneg_kit.training_data import budget_steps

    steps = budget_steps(profile.train_examples, profile.batch_size, profile.epochs)
    return (f"{steps} optimizer steps of {profile.batch_size} rows for every contender (the "
            "same pairs scored per step); a contender with fewer unique rows repeats them, and "
            "the training-budget table gives its unique rows.")


def budget_table(training: Mapping[str, Mapping[int, dict]]) -> pd.DataFrame:
    """Per fine-tuned contender (first seed): unique rows, steps, pairs scored, time."""
    rows = {}
    for name, by_seed in training.items():
        log = by_seed[min(by_seed)]
        rows[name] = {
            "unique rows": log["config"].get("unique_rows", log["train_rows"]),
            "rows trained": log["train_rows"], "steps": log["steps"],
            "pairs scored": log["pairs_seen"], "training s": round(log["wall_time_s"]),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "contender"
    return table


def _bi_encoders(candidates: str) -> list[str]:
    """Every bi-encoder behind an experiment's embeddings: the dense members of the fused first
    stage (``fusion:bm25+dense:a+dense:b``), which the ensemble also reads, and the guard's."""
    from hardneg_kit.mining.guards import GUARD_MODEL
    from hardneg_kit.retrievers import retriever_models

    return [*retriever_models(candidates), GUARD_MODEL]


def write_results(result: ExperimentResult, output_dir: str | Path) -> Path:
    """``results.json``, ``results.md``, ``runs/<dataset>/<contender>-s<seed>.trec.gz``,
    ``training/<contender>-s<seed>.json`` and ``mrr10.png`` under ``output_dir``.

    Stale run files of an earlier configuration are removed, so every file there belongs to
    this result.
    """
    from hardneg_kit.plots import plot_experiment
    from hardneg_kit.retrievers import write_trec

    out = Path(output_dir)
    for sub in ("runs", "training"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    for d, by_contender in result.runs.items():
        for name, by_seed in by_contender.items():
            slug = Contender(name, "").slug
            for s, run in by_seed.items():
                write_trec(run, out / "runs" / d / f"{slug}-s{s}.trec.gz", tag=f"{slug}-s{s}")
    for name, by_seed in result.training.items():
        for s, log in by_seed.items():
            slim = {k: v for k, v in log.items() if k != "output_dir"}
            with atomic_path(out / "training" / f"{Contender(name, '').slug}-s{s}.json") as tmp:
                tmp.write_text(json.dumps(slim, indent=2))
    candidates = next(iter(result.sets.values())).candidates_spec if result.sets else CANDIDATES
    payload = {
        "profile": asdict(result.profile),
        "training_config": asdict(result.config),
        "train_dataset": result.train_dataset,
        "datasets": result.datasets,
        "split": result.split,
        "contenders": result.kinds,
        "specs": result.specs,
        "candidates": candidates,
        "baselines": [BASELINE, FUSION],
        "metrics": list(EXPERIMENT_METRICS),
        "weights": result.weights,
        "base": result.base,
        "sizes": result.sizes,
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "encoders": describe_encoders(_bi_encoders(candidates)),
        "scores": {d: {n: {str(s): v for s, v in by.items()} for n, by in sc.items()}
                   for d, sc in result.scores.items()},
        "summary": {d: json.loads(t.to_json(orient="index")) for d, t in result.tables.items()},
        "tests": result.tests,
    }
    with atomic_path(out / "results.json") as tmp:
        tmp.write_text(json.dumps(payload, indent=2))
    with atomic_path(out / "results.md") as tmp:
        tmp.write_text(result.markdown() + "\n")
    fig = plot_experiment(result.tables)
    with atomic_path(out / "mrr10.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    logger.info("Wrote the experiment's results to %s", out)
    return out
