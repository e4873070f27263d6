"""The experiment: cross-encoders fine-tuned on each kind of negative, same budget, compared.

The regime is the paper's: a re-ranker that already re-ranks well is fine-tuned on each kind of
negative. Offline, that re-ranker is the kit's **base** (:func:`base_reranker`: the whole packaged
MiniLM backbone trained once on pseudo-queries of the training corpus, no query or judgement),
or any cross-encoder named with ``cross_encoder=``.

Contenders (:func:`default_contenders`; more in :func:`more_contenders`):

- **first-stage**: BM25, each dense model and their fusion, evaluated as they are;
- **no fine-tuning (base)**: the base re-ranking the fused candidates;
- one **fine-tuned** model per kind of negative (random, BM25, the best single model chosen on
  dev, the reference method and the kit's readings of it), each started from the base;
- ``X + first stage``: each re-ranker's score interpolated with the first stage's
  (:mod:`hardneg_kit.interpolation`), the weight chosen on dev and then fixed.

Budget (:func:`budget_rule`): every fine-tuned contender trains on ``profile.train_examples``
n-tuple rows (a query, its positive, up to ``profile.num_negatives`` negatives) for the same
optimiser steps and the same pairs per step, with the same loss (binary cross-entropy by default),
learning rates and seeds; a contender with fewer mined rows repeats them and its unique rows are
reported. Each model re-ranks the top ``profile.rerank_depth`` of the fused first stage for the
test queries of ``aws-cli`` (``profile.eval_queries``) and, without further training, of
``azure-cli`` and ``python-faq`` (``profile.transfer_queries``), and for ``profile.dev_queries``
dev queries of ``aws-cli``, where the interpolation weight and the best single model are chosen.

Significance (:func:`summarise`): each query's metric averaged over seeds, then a paired t-test
over queries against the random-negative model and against the fused first stage, Holm-corrected
over the rows of one table, with 95% paired bootstrap intervals of the difference.

Trained models and their re-ranked runs are cached under ``$HARDNEG_CACHE/experiment``, keyed by
the configuration and the data, so an interrupted run resumes and a second run is fast.

Example:
    >>> from hardneg_kit.experiment import run_experiment
    >>> result = run_experiment("smoke", output_dir="results/smoke")  # doctest: +SKIP
    >>> print(result.markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hardneg_kit.cache import atomic_path, cache_dir, content_key
from hardneg_kit.corpus import (
    BeirData,
    DataError,
    load_beir,
    passage_texts,
    profile_sample,
    qrels_files,
    resolve_dataset,
)
from hardneg_kit.errors import ExperimentError
from hardneg_kit.mining import DEFAULT_MODELS
from hardneg_kit.profiles import Profile, get_profile

logger = logging.getLogger(__name__)

#: the default training dataset, and the default evaluation datasets (training dataset first)
TRAIN_DATASET = "aws-cli"
EVAL_DATASETS = ("aws-cli", "azure-cli", "python-faq")
METRICS = ("mrr@3", "mrr@10", "ndcg@10")
BASELINE = "random"
#: the row names of the fused first stage and of the base re-ranker
FUSION = "first-stage: fusion (rrf)"
BASE = "no fine-tuning (base)"
#: the suffix of a contender interpolated with the first stage
WITH_FIRST_STAGE = " + first stage"
#: mining strategies that use the ensemble's bi-encoders (``experiment --models``)
ENSEMBLE_STRATEGIES = ("fusion", "ensemble-pca", "semi-hard")


def first_stage_specs(models: Sequence[str] = DEFAULT_MODELS) -> tuple[str, ...]:
    """The first-stage retrievers: BM25 and one dense retriever per bi-encoder."""
    return ("bm25", *(f"dense:{m}" for m in models))


def candidates_spec(models: Sequence[str] = DEFAULT_MODELS) -> str:
    """The retriever whose top ``rerank_depth`` every re-ranker sees: the fusion of them all."""
    return "fusion:" + "+".join(first_stage_specs(models))


FIRST_STAGE = first_stage_specs()
CANDIDATES = candidates_spec()


def dataset_label(name_or_path: str | Path) -> str:
    """The name a dataset goes by in tables, results and file names: a shipped dataset's name,
    or a folder's own name, however its path was spelled (``./x``, ``/abs/x`` -> ``x``).

    >>> dataset_label("aws-cli")
    'aws-cli'
    """
    return resolve_dataset(name_or_path).resolve().name


def dataset_labels(datasets: Sequence[str | Path]) -> dict[str, str]:
    """label -> the name or folder given, in order; two datasets with one label are refused
    (their results would land in one folder)."""
    labels: dict[str, str] = {}
    for d in datasets:
        label = dataset_label(d)
        if label in labels:
            raise DataError(
                f"Two datasets are named {label!r} ({labels[label]} and {d}): rename one "
                "folder, since results are written per dataset name.")
        labels[label] = str(d)
    return labels


@dataclass(frozen=True)
class Contender:
    """One line of the comparison.

    ``kind`` is ``first-stage`` (``spec`` is a retriever), ``start`` (the untrained
    cross-encoder), ``in-batch`` (pairs + MNRL) or ``mined`` (``spec`` is a mining strategy and
    ``params`` its keyword arguments, see :func:`hardneg_kit.mining.mine`).
    """

    name: str
    kind: str
    spec: str = ""
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.name).strip("-").lower()


#: the spec of the "best single model" contender, resolved on dev (:func:`best_single_model`)
BEST_SINGLE = "dense:best-on-dev"


def default_contenders(models: Sequence[str] = DEFAULT_MODELS) -> list[Contender]:
    """The contenders of the README's table, in table order.

    The first stage, the base re-ranker ("no fine-tuning"), and one fine-tuned model per kind of
    negative: in-batch (no mined negative), random, BM25, the best single model (the dense
    retriever with the best first-stage MRR@10 on dev, see :func:`best_single_model`),
    semi-hard, the reference method (ensemble-pca with the
    paper's two conditions) and the kit's two readings of it: the ensemble's PCA space with
    NV-Retriever's positive-aware filter, and the conditions with the closest candidates as a
    fallback for queries the conditions leave empty. More in :func:`more_contenders`.

    ``models`` are the bi-encoders of the first stage and of the ensemble strategies (fusion,
    ensemble-pca, semi-hard); other than the default, they are recorded in those contenders'
    ``params``.
    """
    out = [Contender(f"first-stage: {s}", "first-stage", s) for s in first_stage_specs(models)]
    out.append(Contender(FUSION, "first-stage", candidates_spec(models)))
    out += [
        Contender(BASE, "start"),
        Contender("in-batch negatives", "in-batch"),
        Contender("random", "mined", "random"),
        Contender("bm25", "mined", "bm25"),
        Contender("best single model", "mined", BEST_SINGLE),
        Contender("semi-hard", "mined", "semi-hard"),
        Contender("ensemble-pca", "mined", "ensemble-pca"),
        # the PCA space with NV-Retriever's positive-aware filter instead of the two conditions
        # (they contradict each other: the conditions keep only candidates above the positive)
        Contender("ensemble-pca + filter 0.95", "mined", "ensemble-pca",
                  (("conditions", False), ("max_relative", 0.95))),
        Contender("ensemble-pca + closest fallback", "mined", "ensemble-pca",
                  (("fallback", "closest"),)),
    ]
    return with_models(out, models)


def with_models(contenders: Sequence[Contender], models: Sequence[str]) -> list[Contender]:
    """The ensemble strategies' contenders mining with ``models`` (unchanged for the default
    models, so that their cached models stay valid)."""
    if tuple(models) == tuple(DEFAULT_MODELS):
        return list(contenders)
    return [replace(c, params=(*c.params, ("models", tuple(models))))
            if c.kind == "mined" and c.spec in ENSEMBLE_STRATEGIES else c for c in contenders]


def more_contenders(models: Sequence[str] = DEFAULT_MODELS) -> list[Contender]:
    """Further contenders, chosen by name with ``experiment --contenders``: each single model,
    fusion, and the reference method with half random negatives.
    """
    return with_models([
        *(Contender(f"dense:{m}", "mined", f"dense:{m}") for m in models),
        Contender("fusion", "mined", "fusion"),
        Contender("ensemble-pca + 50% random", "mined", "ensemble-pca",
                  (("random_share", 0.5),)),
    ], models)


def select_contenders(names: Sequence[str],
                      models: Sequence[str] = DEFAULT_MODELS) -> list[Contender]:
    """The contenders named (from :func:`default_contenders` and :func:`more_contenders`), in
    table order; ``random`` (the baseline), the fused first stage and the base are always kept.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    everything = default_contenders(models) + more_contenders(models)
    known = [c.name for c in everything]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ExperimentError(f"Unknown contender {unknown[0]!r}; choose from: {', '.join(known)}.")
    keep = {*names, BASELINE, FUSION, BASE}
    return [c for c in everything if c.name in keep]


@dataclass(frozen=True)
class TrainingConfig:
    """What every fine-tuned contender shares (the equal budget), and how the base is built.

    Fine-tuning starts from the base re-ranker, whose backbone already knows the domain, hence
    the small ``learning_rate``; the head (pooler / classifier / linear) gets
    ``head_learning_rate``. The base itself starts from a fresh head: ``base_*`` rates.
    """

    loss: str = "bce"
    learning_rate: float = 5e-5
    head_learning_rate: float = 1e-3
    margin: float = 1.0
    warmup_ratio: float = 0.1
    base_learning_rate: float = 2e-4
    base_head_learning_rate: float = 1e-3


@dataclass
class EvalSet:
    """One evaluation dataset: the queries of one split, qrels and the shared first-stage runs."""

    name: str
    data: BeirData
    queries: dict[str, str]
    passages: dict[str, str]
    first_stage: dict[str, Any]  # spec -> ranx Run
    split: str = "test"
    #: the first-stage run whose top documents are re-ranked
    candidates_spec: str = CANDIDATES

    @property
    def candidates(self):
        return self.first_stage[self.candidates_spec]

    @property
    def qrels(self):
        return self.data.qrels_for(self.split)

    def key(self, depth: int) -> str:
        """Content key of what a re-ranker sees: queries, candidate ids and their texts."""
        items = []
        for q in sorted(self.queries):
            docs = sorted(self.candidates[q].items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
            items += [q, self.queries[q], *(d + "\x1f" + self.passages[d] for d, _ in docs)]
        return content_key(self.name, str(depth), items)  # the query ids tell the splits apart


@dataclass
class ExperimentResult:
    """Per dataset, contender and seed: metrics; the summary tables, paired tests and run times."""

    profile: Profile
    config: TrainingConfig
    #: dataset -> contender -> seed -> metric -> value
    scores: dict[str, dict[str, dict[int, dict[str, float]]]]
    #: dataset -> summary table (see :func:`summarise`)
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
        "z-normalised score with the first stage's, with the weight chosen on "
        f"{dev_queries or p.dev_queries or 'all'} `{train_dataset}` dev queries (column w). "
        "Metrics: mean over seeds (± the sample std over seeds, ddof=1, when there are "
        "several). Tests: each "
        "query's metric averaged over seeds, then a paired t-test over queries against "
        f"`{BASELINE}` and against `{FUSION}`, Holm-corrected over the rows of a table; Δ is the "
        "mean difference with a 95% paired bootstrap interval; * Holm p < 0.05."
    )


def budget_rule(profile: Profile) -> str:
    """The equal-budget rule, in words."""
    from hardneg_kit.training import budget_steps

    steps = budget_steps(profile.train_examples, profile.batch_size, profile.epochs)
    return (f"{steps} optimiser steps of {profile.batch_size} rows for every contender (the "
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


# --------------------------------------------------------------------------- data


def query_cap(split: str, profile: Profile, training: bool = True) -> int | None:
    """How many queries of a dataset's ``split`` the experiment evaluates: ``dev_queries``,
    ``eval_queries`` (the training dataset's test split) or ``transfer_queries``."""
    if split == "dev":
        return profile.dev_queries
    return profile.eval_queries if training else profile.transfer_queries


def sampled_dataset(name: str | Path, profile: Profile, split: str = "test",
                    training: bool = True) -> BeirData:
    """A dataset's ``split`` (and its ``train`` split when it is the ``training`` dataset) at the
    profile's size: :func:`query_cap` queries, and for the shipped datasets the profile's
    corpus sample (which keeps the positives of exactly these queries, so mining on any other
    sample gives other negatives); a user's own dataset keeps every document.
    """
    splits = ["train", split] if training and split != "train" else [split]
    raw = load_beir(resolve_dataset(name), splits=splits)
    caps = {split: query_cap(split, profile, training), "train": profile.max_train_queries}
    return profile_sample(raw, profile, caps)


def eval_set(name: str | Path, profile: Profile, top_k: int | None = None,
             split: str = "test", training: bool = True,
             models: Sequence[str] = DEFAULT_MODELS) -> EvalSet:
    """:func:`sampled_dataset` with every first-stage retriever run on its ``split``
    (:func:`first_stage_specs` of ``models`` and their fusion).

    ``name`` is a shipped dataset or a BEIR folder; the set is named by :func:`dataset_label`,
    so cached runs and results never depend on how the path was spelled. First-stage runs have
    their score ties broken by doc id, so every tool ranks them alike.
    """
    from hardneg_kit.retrievers import break_ties, run_retrievers

    data = sampled_dataset(name, profile, split, training)
    test = data.queries_for(split)
    texts = passage_texts(data.corpus)
    doc_ids = list(data.corpus["_id"])
    fused = candidates_spec(models)
    runs = run_retrievers([*first_stage_specs(models), fused], doc_ids, texts, list(test["_id"]),
                          list(test["text"]), top_k=top_k or profile.top_k)
    runs = {spec: break_ties(run, name=spec) for spec, run in runs.items()}
    return EvalSet(dataset_label(name), data, dict(zip(test["_id"], test["text"], strict=True)),
                   dict(zip(doc_ids, texts, strict=True)), runs, split, fused)


def best_single_model(dev: EvalSet, models: Sequence[str] = DEFAULT_MODELS,
                      metric: str = "mrr@10") -> str:
    """The dense retriever (``dense:<model>``) with the best first-stage ``metric`` on ``dev``:
    the "best single model" contender mines with it. Chosen on dev, never on test."""
    from hardneg_kit.evaluation import evaluate_runs

    specs = [f"dense:{m}" for m in models]
    table = evaluate_runs(dev.qrels, {s: dev.first_stage[s] for s in specs}, [metric])
    return str(table[metric].idxmax())


def in_batch_pairs(data: BeirData, split: str = "train"):
    """(query, positive) pairs as a ``datasets.Dataset``: the in-batch-negatives contender."""
    from datasets import Dataset

    from hardneg_kit.mining import prepare

    inputs = prepare(data, split)
    q_text = dict(zip(inputs.query_ids, inputs.queries, strict=True))
    rows = [(q_text[q], inputs.passages[inputs.doc_row[p]])
            for q in inputs.query_ids for p in inputs.positives[q]]
    return Dataset.from_dict({"query": [r[0] for r in rows], "positive": [r[1] for r in rows]})


def training_dataset(contender: Contender, data: BeirData, profile: Profile, seed: int):
    """The contender's training rows (before equalising), mined with ``seed``: one n-tuple row
    per (query, positive) with at least one negative; a row with fewer than
    ``profile.num_negatives`` negatives is padded with ``None`` (the losses skip those)."""
    from hardneg_kit.mining import mine, to_dataset

    if contender.kind == "in-batch":
        return in_batch_pairs(data)
    result = mine(data, "train", contender.spec, num_negatives=profile.num_negatives, seed=seed,
                  **dict(contender.params))
    logger.info("%s: %s", contender.name, result.summary())
    return to_dataset(result, data, "n-tuple", pad=True)


# --------------------------------------------------------------------------- the shared start

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")


def pseudo_queries(data: BeirData, num_examples: int, seed: int = 0, min_words: int = 3):
    """(pseudo-query, passage) pairs from the corpus alone: no query or judgement is used.

    The first sentence of a document becomes the query and the document without that sentence
    the passage (the inverse cloze task, Lee et al. 2019): "Deletes a storage profile." ->
    "aws deadline delete-storage-profile (...) --farm-id: ...". Documents whose first sentence
    has fewer than ``min_words`` words, or nothing after it, are skipped; ``num_examples`` are
    drawn with ``seed``.

    >>> pairs = pseudo_queries(data, 1600)  # doctest: +SKIP
    >>> pairs.column_names
    ['query', 'positive']
    """
    from datasets import Dataset

    from hardneg_kit.corpus import passage_text

    titles = data.corpus["title"] if "title" in data.corpus.column_names else None
    rows = []
    for i, text in enumerate(data.corpus["text"]):
        head, *rest = _SENTENCE_END.split(text.strip(), maxsplit=1)
        rest_text = rest[0].strip() if rest else ""
        if len(head.split()) < min_words or not rest_text:
            continue
        rows.append((head, passage_text(titles[i] if titles else "", rest_text)))
    if not rows:
        raise ExperimentError(f"{data.name}: no document has a first sentence to use as a query.")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(rows), size=min(num_examples, len(rows)), replace=False))
    return Dataset.from_dict({"query": [rows[i][0] for i in pick],
                              "positive": [rows[i][1] for i in pick]})


def base_reranker(data: BeirData, profile: Profile, config: TrainingConfig | None = None,
                  work_dir: str | Path | None = None, start: str = "minilm-l6") -> str:
    """The re-ranker every contender starts from, and the "no fine-tuning" row: built once.

    The reference method fine-tunes an in-house cross-encoder that already re-ranks well. Offline,
    the kit builds its analogue from what ships: the packaged all-MiniLM-L6-v2 backbone with a
    mean-pooled head (:func:`hardneg_kit.models.cross_encoder_start`), trained with the
    multiple-negatives ranking loss on ``profile.base_examples`` :func:`pseudo_queries` of the
    training corpus (one in-batch negative per pair, ``config.base_learning_rate``). No query and
    no judgement of any split is used. Cached under ``$HARDNEG_CACHE/experiment/<profile>``,
    keyed by its settings and the corpus.

    Args:
        data: the training dataset (only its corpus is read).
        profile: ``base_examples``, ``cross_encoder_layers``, ``max_length``, ``batch_size``.
        config: the base's learning rates.
        work_dir: where the model is saved (default the cache).
        start: ``minilm-l6`` builds the base as above; any other value (a local folder or a
            Hugging Face cross-encoder id) is an existing re-ranker and is its own base.

    Returns:
        The base's folder, or ``start`` itself (``minilm-l6`` when ``base_examples`` is 0:
        contenders then start from a fresh head).

    >>> base = base_reranker(aws.data, get_profile("smoke"))  # doctest: +SKIP
    """
    from hardneg_kit.training import budget_steps, train_cross_encoder

    config = config or TrainingConfig()
    if start != "minilm-l6" or profile.base_examples <= 0:
        return start
    root = Path(work_dir) if work_dir else cache_dir("experiment", profile.name)
    key = content_key(json.dumps({
        "base": profile.base_examples, "layers": profile.cross_encoder_layers,
        "max_length": profile.max_length, "batch": profile.batch_size,
        "lr": config.base_learning_rate, "head_lr": config.base_head_learning_rate,
        "data": content_key(data.name, list(data.corpus["_id"]), list(data.corpus["text"])),
    }, sort_keys=True))
    out = root / f"base-{key[:12]}"
    if (out / "training_log.json").exists():
        return str(out)
    pairs = pseudo_queries(data, profile.base_examples, seed=0)
    logger.info("Base re-ranker: %d pseudo-query pairs from the %s corpus", len(pairs), data.name)
    train_cross_encoder(
        pairs, "mnrl", out, num_layers=profile.cross_encoder_layers,
        max_length=profile.max_length, batch_size=profile.batch_size,
        learning_rate=config.base_learning_rate,
        head_learning_rate=config.base_head_learning_rate,
        warmup_ratio=config.warmup_ratio, seed=0, in_batch_negatives=1,
        max_steps=budget_steps(len(pairs), profile.batch_size),
    )
    return str(out)


# --------------------------------------------------------------------------- train + re-rank


def _model_dir(root: Path, contender: Contender, seed: int, key: str) -> Path:
    return root / f"{contender.slug}-s{seed}-{key[:12]}"


def train_contender(
    contender: Contender,
    data: BeirData,
    profile: Profile,
    seed: int,
    config: TrainingConfig = TrainingConfig(),
    work_dir: str | Path | None = None,
    base: str = "minilm-l6",
    show_progress_bar: bool = True,
):
    """Train one contender from ``base`` (or load it when this exact run finished before).

    ``base`` is :func:`base_reranker`'s folder (or any cross-encoder), or ``minilm-l6`` (a fresh
    head on the backbone truncated to ``profile.cross_encoder_layers``). The budget: the
    contender's mined rows are drawn or repeated to ``profile.train_examples`` rows
    (:func:`hardneg_kit.training.equalise`) and trained for the same number of optimiser steps;
    the log's ``config.unique_rows`` says how many distinct rows there were. Returns
    ``(model, training_log)``; ``training_log`` is ``None`` for the ``start`` contender, which
    is ``base`` itself.

    >>> model, log = train_contender(c, data, get_profile("smoke"), seed=0)  # doctest: +SKIP
    """
    from sentence_transformers import CrossEncoder

    from hardneg_kit.models import cross_encoder_device, cross_encoder_start
    from hardneg_kit.training import budget_steps, equalise, train_cross_encoder

    layers = profile.cross_encoder_layers if base == "minilm-l6" else None
    if contender.kind == "start":
        model = cross_encoder_start(base, num_layers=layers, max_length=profile.max_length,
                                    seed=seed)
        return model, None
    if contender.kind not in ("mined", "in-batch"):
        raise ExperimentError(
            f"{contender.name} is a {contender.kind} contender: nothing to train."
        )
    root = Path(work_dir) if work_dir else cache_dir("experiment", profile.name)
    key = content_key(json.dumps(_train_key(contender, data, profile, config), sort_keys=True),
                      _base_key(base))
    out = _model_dir(root, contender, seed, key)
    log_path = out / "training_log.json"
    if log_path.exists():
        logger.info("%s seed %d: trained before, loading %s", contender.name, seed, out)
        model = CrossEncoder(str(out), device=cross_encoder_device())
        return model, json.loads(log_path.read_text())
    mined = training_dataset(contender, data, profile, seed)
    rows = equalise(mined, profile.train_examples, seed=seed)
    loss = "mnrl" if contender.kind == "in-batch" else config.loss
    result = train_cross_encoder(
        rows, loss, out, base=base, num_layers=layers, max_length=profile.max_length,
        batch_size=profile.batch_size, learning_rate=config.learning_rate,
        head_learning_rate=config.head_learning_rate, warmup_ratio=config.warmup_ratio,
        margin=config.margin, seed=seed, in_batch_negatives=profile.num_negatives,
        max_steps=budget_steps(profile.train_examples, profile.batch_size, profile.epochs),
        show_progress_bar=show_progress_bar, log_extra={"unique_rows": len(mined)},
    )
    return result.model, result.to_json()


def _train_key(contender: Contender, data: BeirData, profile: Profile,
               config: TrainingConfig) -> dict:
    import sentence_transformers

    train_q = sorted(data.qrels["train"])
    queries = dict(zip(data.queries["_id"], data.queries["text"], strict=True))
    return {
        "contender": [contender.kind, contender.spec, [list(p) for p in contender.params]],
        "profile": asdict(profile) | {"seeds": None, "eval_queries": None, "rerank_depth": None},
        "config": asdict(config),
        # texts too: a corpus edited under the same ids must not be served a stale model
        "data": content_key(data.name, train_q, [queries[q] for q in train_q],
                            json.dumps(data.qrels["train"], sort_keys=True),
                            list(data.corpus["_id"]), passage_texts(data.corpus)),
        "sentence-transformers": sentence_transformers.__version__,
    }


def _base_key(base: str) -> str:
    """A saved warm start is identified by its training log (which holds its configuration)."""
    log = Path(base) / "training_log.json"
    return base if not log.exists() else content_key(base, log.read_text())


def _start_dir(base: str) -> Path | None:
    """A saved warm start caches its own runs; the bare backbone (fresh head) is not saved."""
    return Path(base) if (Path(base) / "training_log.json").exists() else None


def rerank_cached(model, evalset: EvalSet, depth: int, model_dir: Path | None, name: str,
                  show_progress_bar: bool = True):
    """Re-rank ``evalset``'s candidates; cached as a TREC file in ``model_dir`` when given."""
    from hardneg_kit.retrievers import read_trec, write_trec
    from hardneg_kit.training import rerank

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


# --------------------------------------------------------------------------- statistics


def summarise(qrels, runs: Mapping[str, Mapping[int, Any]], metrics: Sequence[str] = METRICS,
              baselines: Sequence[str] = (BASELINE, FUSION)):
    """Per-seed scores, the summary table and the paired tests behind it.

    The table has, per contender: each metric's mean over seeds and ``<metric> std`` (sample std
    over seeds, ddof=1; NaN for one seed), ``seeds``, and per baseline ``b`` present in ``runs``
    and metric ``m``: ``<m> vs <b> delta``, ``... low``, ``... high`` (95% paired bootstrap
    interval), ``... p`` (Holm over the table's rows) and ``... p raw``. Tests are made on each
    query's metric averaged over seeds (:func:`hardneg_kit.statistics.compare`), n = queries.

    Returns:
        ``(scores, table, tests)``: contender -> seed -> metric -> value; the table; the
        :class:`~hardneg_kit.statistics.PairedTest` list.
    """
    from hardneg_kit.evaluation import evaluate_runs
    from hardneg_kit.statistics import compare, seed_summary

    scores = {
        name: {s: evaluate_runs(qrels, {name: run}, metrics).iloc[0].to_dict()
               for s, run in by_seed.items()}
        for name, by_seed in runs.items()
    }
    table = pd.DataFrame.from_dict(
        {n: seed_summary(qrels, by_seed, metrics) for n, by_seed in runs.items()}, orient="index")
    tests = []
    for b in (b for b in baselines if b in runs and len(runs) > 1):
        for t in compare(qrels, runs, b, metrics):
            tests.append(t)
            col = f"{t.metric} vs {b}"
            for suffix, value in (("delta", t.delta), ("low", t.ci_low), ("high", t.ci_high),
                                  ("p", t.p_holm), ("p raw", t.p)):
                table.loc[t.contender, f"{col} {suffix}"] = value
    table.index.name = "contender"
    return scores, table, tests


def _baseline_label(name: str) -> str:
    return "fusion" if name == FUSION else name


def format_table(table: pd.DataFrame, metrics: Sequence[str] = METRICS,
                 metric: str = "mrr@10") -> pd.DataFrame:
    """``mean ± std`` per metric (± only with several seeds), then for ``metric`` and each
    baseline of the table: ``Δ [95% CI]`` (``*`` where Holm p < 0.05) and the Holm p-value."""
    out = pd.DataFrame(index=table.index)
    for m in metrics:
        out[m] = [f"{row[m]:.3f}" + (f" ± {row[f'{m} std']:.3f}" if row["seeds"] > 1 else "")
                  for _, row in table.iterrows()]
    prefix = f"{metric} vs "
    baselines = dict.fromkeys(c[len(prefix):-len(" delta")] for c in table.columns
                              if c.startswith(prefix) and c.endswith(" delta"))
    for b in baselines:
        col, label = f"{metric} vs {b}", _baseline_label(b)
        cells, ps = [], []
        for _, row in table.iterrows():
            p = row.get(f"{col} p", np.nan)
            if pd.isna(p):
                cells.append("")
                ps.append("")
                continue
            star = " *" if p < 0.05 else ""
            cells.append(f"{row[f'{col} delta']:+.3f} [{row[f'{col} low']:+.3f}, "
                         f"{row[f'{col} high']:+.3f}]{star}")
            ps.append(f"{p:.2g}")
        out[f"Δ {metric} vs {label} [95% CI]"] = cells
        out[f"p vs {label}"] = ps
    return out


def verdict(table: pd.DataFrame, contender: str, baseline: str, metric: str = "mrr@10") -> str:
    """One sentence computed from a summary table: how ``contender`` compares with ``baseline``.

    Needs the table's paired test of the two (:func:`summarise` tests against ``random`` and the
    fused first stage; :func:`compare_saved` against any contender).

    >>> verdict(result.tables["aws-cli"], "bm25", "random")  # doctest: +SKIP
    'bm25: MRR@10 0.652 vs 0.631 for random (Δ +0.021, 95% CI [+0.008, +0.034], Holm p = 0.012):
    significantly better.'
    """
    col = f"{metric} vs {baseline}"
    if f"{col} delta" not in table or pd.isna(table.loc[contender].get(f"{col} p", np.nan)):
        raise ExperimentError(f"The table holds no test of {contender!r} against {baseline!r}; use "
                         f"compare_saved(..., baseline={baseline!r}).")
    row = table.loc[contender]
    p = row[f"{col} p"]
    reading = ("not a significant difference" if p >= 0.05 else
               "significantly " + ("better" if row[f"{col} delta"] > 0 else "worse"))
    return (f"{contender}: {metric.upper()} {row[metric]:.3f} vs {table.loc[baseline, metric]:.3f}"
            f" for {_baseline_label(baseline)} (Δ {row[f'{col} delta']:+.3f}, 95% CI "
            f"[{row[f'{col} low']:+.3f}, {row[f'{col} high']:+.3f}], Holm p = {p:.2g}): "
            f"{reading}.")


def load_tables(output_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The summary tables a run saved in ``results.json`` (dataset -> table, as :func:`summarise`).

    >>> verdict(load_tables("results/full")["aws-cli"], "bm25", "random")  # doctest: +SKIP
    """
    path = Path(output_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run 'python -m hardneg_kit experiment' first.")
    summary = json.loads(path.read_text())["summary"]
    tables = {d: pd.DataFrame.from_dict(rows, orient="index") for d, rows in summary.items()}
    for table in tables.values():
        table.index.name = "contender"
    return tables


# --------------------------------------------------------------------------- the experiment


def check_splits(labels: Mapping[str, str], split: str = "test") -> None:
    """Refuse, before any work, datasets that lack a split the experiment needs: the training
    dataset's ``train``, ``dev`` and ``split``, the others' ``split``.

    Raises:
        DataError: naming the dataset, its folder, the missing split and what to do.
    """
    for i, (label, given) in enumerate(labels.items()):
        qrels = resolve_dataset(given) / "qrels"
        have = qrels_files(qrels)  # also refuses a split written both plain and gzipped
        needed = ["train", "dev", split] if i == 0 else [split]
        for name in dict.fromkeys(needed):
            if name not in have:
                role = "the training dataset" if i == 0 else "an evaluation dataset"
                raise DataError(
                    f"{label}: {qrels / (name + '.tsv')} not found, and {role} needs it; make "
                    "train/dev/test splits of its judgements with 'python -m hardneg_kit "
                    f"corpus split {qrels.parent}'.")


@contextmanager
def _library_progress_bars_off():
    """Silence transformers' own bars (weight loading, shard writing) inside the block."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def run_experiment(
    profile: str | Profile | None = None,
    output_dir: str | Path | None = None,
    contenders: Sequence[Contender] | None = None,
    config: TrainingConfig = TrainingConfig(),
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
    from hardneg_kit.evaluation import evaluate_runs, warm_up_ranx
    from hardneg_kit.interpolation import choose_weight, interpolate

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    contenders = list(contenders or default_contenders(models))
    names = [c.name for c in contenders]
    if len(set(names)) != len(names):
        raise ExperimentError("Contender names must be unique.")
    labels = dataset_labels(datasets)
    train_name = next(iter(labels))
    check_splits(labels, split)  # before any long work
    seconds: dict[str, float] = {}
    warm_up_ranx()

    start = time.perf_counter()
    sets = {label: eval_set(given, profile, split=split, training=label == train_name,
                            models=models)
            for label, given in labels.items()}
    dev = sets[train_name] if split == "dev" else eval_set(
        labels[train_name], profile, split="dev", models=models)
    train_data = sets[train_name].data
    specs = {}
    if any(c.spec == BEST_SINGLE for c in contenders):
        specs["best single model"] = best_single_model(dev, models)
        contenders = [replace(c, spec=specs["best single model"]) if c.spec == BEST_SINGLE else c
                      for c in contenders]
    seconds["first stage"] = time.perf_counter() - start

    start = time.perf_counter()
    base = base_reranker(train_data, profile, config, work_dir, start=cross_encoder)
    seconds["base re-ranker"] = time.perf_counter() - start

    runs: dict[str, dict[str, dict[int, Any]]] = {d: {} for d in sets}
    dev_runs: dict[str, dict[int, Any]] = {}
    training: dict[str, dict[int, dict]] = {}
    start = time.perf_counter()
    for c in contenders:
        if c.kind == "first-stage":
            for d, es in sets.items():
                runs[d][c.name] = {0: es.first_stage[c.spec]}
    jobs = [(c, seed) for c in contenders if c.kind != "first-stage" for seed in profile.seeds]
    # one bar for the whole loop: dozens of inner bars (training steps, scoring batches, weight
    # loading) would flood a notebook's output
    with _library_progress_bars_off():
        for c, seed in tqdm(jobs, desc="train and re-rank", unit="model"):
            logger.info("== %s, seed %d", c.name, seed)
            model, log = train_contender(c, train_data, profile, seed, config, work_dir, base,
                                         show_progress_bar=False)
            # the start is the same model for every seed: its runs are cached with it
            model_dir = Path(log["output_dir"]) if log else _start_dir(base)
            if log:
                training.setdefault(c.name, {})[seed] = log
            tag = f"{c.slug}-s{seed}"
            dev_runs.setdefault(c.name, {})[seed] = rerank_cached(
                model, dev, profile.rerank_depth, model_dir, tag, show_progress_bar=False)
            for d, es in sets.items():
                runs[d].setdefault(c.name, {})[seed] = rerank_cached(
                    model, es, profile.rerank_depth, model_dir, tag, show_progress_bar=False)
            del model
    seconds["training and re-ranking"] = time.perf_counter() - start

    start = time.perf_counter()
    base_info = _describe_base(base, cross_encoder, dev, dev_runs.get(BASE), train_name)
    weights = {name: choose_weight(dev.qrels, by_seed, dev.candidates)
               for name, by_seed in dev_runs.items()}
    kinds = {c.name: c.kind for c in contenders}
    for name, w in weights.items():
        kinds[name + WITH_FIRST_STAGE] = "interpolated"
        for d, es in sets.items():
            runs[d][name + WITH_FIRST_STAGE] = {
                s: interpolate(run, es.candidates, w, name=f"{Contender(name, '').slug}-fs-s{s}")
                for s, run in runs[d][name].items()}
    scores, tables, tests = {}, {}, {}
    for d, es in sets.items():
        scores[d], tables[d], found = summarise(es.qrels, runs[d])
        tests[d] = [asdict(t) for t in found]
        tables[d]["w"] = [weights.get(n.removesuffix(WITH_FIRST_STAGE), np.nan)
                          if n.endswith(WITH_FIRST_STAGE) else np.nan for n in tables[d].index]
    fusion_dev = evaluate_runs(dev.qrels, {"fusion": dev.candidates}, ["mrr@10"]).iloc[0, 0]
    logger.info("First stage (fusion) on %s dev: MRR@10 %.3f; base re-ranker %s", train_name,
                fusion_dev, base_info.get("dev mrr@10", "not evaluated"))
    seconds["evaluation"] = time.perf_counter() - start
    sizes = {d: {"queries": len(es.queries), "documents": len(es.passages)}
             for d, es in sets.items()}
    sizes["dev"] = {"queries": len(dev.queries), "documents": len(dev.passages)}
    result = ExperimentResult(profile, config, scores, tables, runs, training, seconds, sizes,
                              sets, split, kinds, weights, base_info, tests, specs, labels)
    if output_dir is not None:
        write_results(result, output_dir)
    return result


def _describe_base(base: str, start: str, dev: EvalSet, dev_runs: Mapping[int, Any] | None,
                   train_dataset: str = TRAIN_DATASET) -> dict[str, Any]:
    """What the base re-ranker is, how it was built (from its log) and its dev MRR@10: the
    evaluation of the start before any contender-specific training."""
    from hardneg_kit.evaluation import evaluate_runs

    info: dict[str, Any] = {"start": start}
    log_path = Path(base) / "training_log.json"
    if start != "minilm-l6":
        info["built"] = f"the existing cross-encoder `{start}`, as it is."
    elif log_path.exists():
        log = json.loads(log_path.read_text())
        cfg = log["config"]
        layers = "all" if cfg["num_layers"] is None else cfg["num_layers"]
        info["training"] = {k: log[k] for k in ("steps", "pairs_seen", "wall_time_s",
                                                "pairs_per_s", "train_rows")}
        info["built"] = (
            f"the packaged all-MiniLM-L6-v2 backbone ({layers} layers, mean-pooled head), "
            f"trained once with `mnrl` on {log['train_rows']} pseudo-queries of the "
            f"`{train_dataset}` corpus (first sentence -> rest of the document; no query or "
            f"judgement of any split), {log['steps']} steps, {log['wall_time_s'] / 60:.1f} min "
            "on this machine.")
    else:
        info["built"] = "none: the backbone with a fresh head (profile.base_examples = 0)."
    if dev_runs:
        info["dev mrr@10"] = round(float(np.mean([
            evaluate_runs(dev.qrels, {"base": r}, ["mrr@10"]).iloc[0, 0]
            for r in dev_runs.values()])), 4)
    return info


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
    payload = {
        "profile": asdict(result.profile),
        "training_config": asdict(result.config),
        "train_dataset": result.train_dataset,
        "datasets": result.datasets,
        "split": result.split,
        "contenders": result.kinds,
        "specs": result.specs,
        "candidates": next(iter(result.sets.values())).candidates_spec if result.sets
        else CANDIDATES,
        "baselines": [BASELINE, FUSION],
        "metrics": list(METRICS),
        "weights": result.weights,
        "base": result.base,
        "sizes": result.sizes,
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
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


# --------------------------------------------------------------------------- saved results


def load_saved_runs(output_dir: str | Path, names: Sequence[str] | None = None,
                    datasets: Sequence[str] | None = None,
                    ) -> tuple[dict, dict[str, dict[str, dict[int, Any]]]]:
    """Read what :func:`write_results` wrote: ``(results.json payload, dataset -> contender ->
    seed -> ranx Run)``, for the contender ``names`` and ``datasets`` given (default: all).

    >>> payload, runs = load_saved_runs("results/full")  # doctest: +SKIP
    """
    from hardneg_kit.retrievers import read_trec

    folder = Path(output_dir)
    path = folder / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run 'python -m hardneg_kit experiment' first.")
    payload = json.loads(path.read_text())
    runs: dict[str, dict[str, dict[int, Any]]] = {}
    for d in datasets or payload["scores"]:
        by_contender = payload["scores"][d]
        unknown = [n for n in names or () if n not in by_contender]
        if unknown:
            raise ExperimentError(f"{folder}: no contender {unknown[0]!r} in {d}.")
        runs[d] = {}
        for name in names or by_contender:
            slug = Contender(name, "").slug
            runs[d][name] = {int(s): read_trec(folder / "runs" / d / f"{slug}-s{s}.trec.gz")
                             for s in by_contender[name]}
    return payload, runs


def saved_qrels(payload: Mapping[str, Any], dataset: str,
                runs: Mapping[str, Mapping[int, Any]]):
    """The judgements of the queries a saved experiment evaluated on ``dataset`` (every run
    holds them: dense retrievers always return hits), read from the dataset it names."""
    from ranx import Qrels

    split = payload.get("split", "test")
    qids = set().union(*(r.keys() for by_seed in runs.values() for r in by_seed.values()))
    source = payload.get("datasets", {}).get(dataset, dataset)
    full = load_beir(resolve_dataset(source), splits=[split]).qrels_for(split).to_dict()
    return Qrels({q: full[q] for q in sorted(qids)})


def compare_saved(output_dir: str | Path, baseline: str,
                  contenders: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Re-test saved results against another ``baseline`` (e.g. ``bm25``), from the runs alone.

    Same statistics as the experiment (:func:`summarise`: per-query metrics averaged over seeds,
    paired t-tests over queries, Holm over the contenders compared, bootstrap intervals);
    ``contenders`` limits the comparison (default: every cross-encoder contender, alone and
    interpolated, not the first-stage runs). Returns dataset -> summary table.

    >>> tables = compare_saved("results/full", "bm25", ["ensemble-pca"])  # doctest: +SKIP
    """

    payload, runs = load_saved_runs(output_dir)
    kinds = payload["contenders"]
    tables = {}
    for d, by_contender in runs.items():
        if baseline not in by_contender:
            raise ExperimentError(f"{output_dir}: no contender {baseline!r} in {d}; choose from: "
                             f"{', '.join(by_contender)}.")
        trained = [n for n in by_contender if kinds.get(n) != "first-stage"]
        wanted = [baseline, *(n for n in (contenders or trained) if n != baseline)]
        unknown = [n for n in wanted if n not in by_contender]
        if unknown:
            raise ExperimentError(f"{output_dir}: no contender {unknown[0]!r} in {d}.")
        qrels = saved_qrels(payload, d, by_contender)
        _, tables[d], _ = summarise(qrels, {n: by_contender[n] for n in wanted},
                                    metrics=payload["metrics"], baselines=(baseline,))
    return tables
