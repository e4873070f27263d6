"""The experiment: cross-encoders fine-tuned on each kind of negative, same budget, compared.

Contenders (:func:`default_contenders`):

- **first-stage**: BM25, each dense model and their fusion, evaluated as they are;
- **no fine-tuning**: the cross-encoder start (:func:`hardneg_kit.models.cross_encoder_start`)
  re-ranking without any training (its head is fresh, so this is the floor);
- **in-batch negatives**: (query, positive) pairs with the multiple-negatives ranking loss;
- one **fine-tuned** model per mining strategy: random, BM25, each single model, fusion,
  ensemble-pca, ensemble-pca with a positive-aware filter, semi-hard.

Every fine-tuned contender gets the same start, the same number of training rows
(``profile.train_examples`` triplets drawn from its mined negatives by
:func:`hardneg_kit.training.equalise`), the same steps, learning rates and seeds, and the same loss
(the reference method's triplet margin loss by default). Each model re-ranks the same candidates:
the top ``profile.rerank_depth`` of the fused first-stage run, for ``profile.eval_queries`` test
queries of every evaluation dataset (``aws-cli`` test, and without further training
``azure-cli`` and ``python-faq``).

Significance: every contender against the random-negative model with ranx ``compare`` (paired
t-test) over (seed, query) pairs, p-values corrected with Holm-Bonferroni over the contenders of
one dataset and metric.

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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hardneg_kit.cache import atomic_path, cache_dir, content_key
from hardneg_kit.corpus import BeirData, load_beir, passage_texts, resolve_dataset, sample
from hardneg_kit.mining import DEFAULT_MODELS
from hardneg_kit.profiles import Profile, get_profile

logger = logging.getLogger(__name__)

TRAIN_DATASET = "aws-cli"
EVAL_DATASETS = ("aws-cli", "azure-cli", "python-faq")
METRICS = ("mrr@3", "mrr@10", "ndcg@10")
BASELINE = "random"
FIRST_STAGE = ("bm25", *(f"dense:{m}" for m in DEFAULT_MODELS))
CANDIDATES = "fusion:" + "+".join(FIRST_STAGE)


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


def default_contenders(models: Sequence[str] = DEFAULT_MODELS) -> list[Contender]:
    """The contenders of the issue, in table order."""
    out = [Contender(f"first-stage: {s}", "first-stage", s) for s in FIRST_STAGE]
    out.append(Contender("first-stage: fusion (rrf)", "first-stage", CANDIDATES))
    out += [
        Contender("no fine-tuning", "start"),
        Contender("in-batch negatives", "in-batch"),
        Contender("random", "mined", "random"),
        Contender("bm25", "mined", "bm25"),
        *(Contender(f"dense:{m}", "mined", f"dense:{m}") for m in models),
        Contender("fusion", "mined", "fusion"),
        Contender("ensemble-pca", "mined", "ensemble-pca"),
        # the PCA space with NV-Retriever's positive-aware filter instead of the two conditions
        # (they contradict each other: the conditions keep only candidates above the positive)
        Contender("ensemble-pca + filter 0.95", "mined", "ensemble-pca",
                  (("conditions", False), ("max_relative", 0.95))),
        Contender("semi-hard", "mined", "semi-hard"),
    ]
    return out


def variant_contenders() -> list[Contender]:
    """Variants of the reference method that the literature suggests, for the ``dev`` split.

    The conditions leave most training queries without a negative and keep, by construction,
    only negatives that look more like the query than the positive does; these variants give
    every query negatives (the ``closest`` fallback) or mix in easy ones (half random).
    Select them by name with ``experiment --only``.
    """
    return [
        Contender("ensemble-pca + closest fallback", "mined", "ensemble-pca",
                  (("fallback", "closest"),)),
        Contender("ensemble-pca + 50% random", "mined", "ensemble-pca",
                  (("random_share", 0.5),)),
    ]


@dataclass(frozen=True)
class TrainingConfig:
    """What every fine-tuned contender shares (the equal budget)."""

    loss: str = "triplet"
    learning_rate: float = 2e-4
    head_learning_rate: float = 1e-3
    margin: float = 1.0
    warmup_ratio: float = 0.1


@dataclass
class EvalSet:
    """One evaluation dataset: the queries of one split, qrels and the shared first-stage runs."""

    name: str
    data: BeirData
    queries: dict[str, str]
    passages: dict[str, str]
    first_stage: dict[str, Any]  # spec -> ranx Run
    split: str = "test"

    @property
    def candidates(self):
        return self.first_stage[CANDIDATES]

    def key(self, depth: int) -> str:
        """Content key of what a re-ranker sees: queries, candidate ids and their texts."""
        items = []
        for q in sorted(self.queries):
            docs = sorted(self.candidates[q].items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
            items += [q, self.queries[q], *(d + "\x1f" + self.passages[d] for d, _ in docs)]
        return content_key(self.name, str(depth), items)  # the query ids tell the splits apart


@dataclass
class ExperimentResult:
    """Per dataset, contender and seed: metrics; plus the summary table and run times."""

    profile: Profile
    config: TrainingConfig
    #: dataset -> contender -> seed -> metric -> value
    scores: dict[str, dict[str, dict[int, dict[str, float]]]]
    #: dataset -> summary table (mean, std, Holm-corrected p against random)
    tables: dict[str, pd.DataFrame]
    #: dataset -> contender -> seed -> ranx Run (re-ranked or first-stage)
    runs: dict[str, dict[str, dict[int, Any]]] = field(repr=False, default_factory=dict)
    #: contender -> seed -> training log (``TrainResult.to_json()``)
    training: dict[str, dict[int, dict]] = field(repr=False, default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    #: dataset -> the evaluation set (queries, passages, qrels, first-stage runs)
    sets: dict[str, EvalSet] = field(repr=False, default_factory=dict)
    #: the evaluated split (``test``; ``dev`` for trying variants without touching the test set)
    split: str = "test"
    #: contender name -> kind (``first-stage``, ``start``, ``in-batch``, ``mined``)
    kinds: dict[str, str] = field(default_factory=dict)

    def markdown(self) -> str:
        from hardneg_kit.evaluation import markdown_table

        p = self.profile
        parts = [
            f"## Cross-encoder re-ranking, profile `{p.name}`",
            (f"Trained on `{TRAIN_DATASET}` train: {p.train_examples} triplets per contender, "
             f"loss `{self.config.loss}`, {p.cross_encoder_layers} layers, max length "
             f"{p.max_length}, batch {p.batch_size}, seeds {list(p.seeds)}. Each model re-ranks "
             f"the top {p.rerank_depth} of the fused first stage. Mean ± std over seeds; "
             f"p: paired t-test against `{BASELINE}` over (seed, query) pairs, "
             "Holm-Bonferroni corrected; * p < 0.05."),
        ]
        for name, table in self.tables.items():
            size = self.sizes.get(name, {})
            parts.append(f"### {name} {self.split} ({size.get('queries', '?')} queries, "
                         f"{size.get('documents', '?')} documents)")
            parts.append(markdown_table(format_table(table)))
        total = sum(self.seconds.values())
        parts.append("Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
                     + f" (total {total / 60:.1f} min).")
        return "\n\n".join(parts)


# --------------------------------------------------------------------------- data


def eval_set(name: str, profile: Profile, top_k: int | None = None,
             split: str = "test") -> EvalSet:
    """Load a dataset's ``split`` (and the training split of the training dataset) at the
    profile's size and run every first-stage retriever."""
    from hardneg_kit.retrievers import run_retrievers

    splits = ["train", split] if name == TRAIN_DATASET else [split]
    raw = load_beir(resolve_dataset(name), splits=splits)
    caps = {split: profile.eval_queries, "train": profile.max_train_queries}
    data = sample(raw, profile.max_documents, caps)
    test = data.queries_for(split)
    texts = passage_texts(data.corpus)
    doc_ids = list(data.corpus["_id"])
    runs = run_retrievers([*FIRST_STAGE, CANDIDATES], doc_ids, texts, list(test["_id"]),
                          list(test["text"]), top_k=top_k or profile.top_k)
    return EvalSet(name, data, dict(zip(test["_id"], test["text"], strict=True)),
                   dict(zip(doc_ids, texts, strict=True)), runs, split)


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
    """The contender's training rows (before equalising), mined with ``seed``."""
    from hardneg_kit.mining import mine, to_dataset

    if contender.kind == "in-batch":
        return in_batch_pairs(data)
    result = mine(data, "train", contender.spec, num_negatives=profile.num_negatives, seed=seed,
                  **dict(contender.params))
    logger.info("%s: %s", contender.name, result.summary())
    return to_dataset(result, data, "triplet")


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
        raise ValueError(f"{data.name}: no document has a first sentence to use as a query.")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(rows), size=min(num_examples, len(rows)), replace=False))
    return Dataset.from_dict({"query": [rows[i][0] for i in pick],
                              "positive": [rows[i][1] for i in pick]})


def warm_start(data: BeirData, profile: Profile, config: TrainingConfig = None,
               work_dir: str | Path | None = None) -> str:
    """The shared starting point of every contender: the backbone warmed up on the corpus alone.

    A fresh head on a bi-encoder backbone knows nothing about relevance, and a CPU budget is too
    small to learn relevance and the domain's near-misses at once; a published cross-encoder
    (what the reference method fine-tunes) has learnt relevance on other data. Without network
    access, the kit learns it from :func:`pseudo_queries` of the training corpus with in-batch
    negatives (``profile.warm_examples`` pairs) — no training query, no judgement. Returns the
    saved model's folder ("minilm-l6" when ``warm_examples`` is 0); cached like the contenders.
    """
    from hardneg_kit.training import budget_steps, train_cross_encoder

    config = config or TrainingConfig()
    if profile.warm_examples <= 0:
        return "minilm-l6"
    root = Path(work_dir) if work_dir else cache_dir("experiment", profile.name)
    key = content_key(json.dumps({
        "warm": profile.warm_examples, "layers": profile.cross_encoder_layers,
        "max_length": profile.max_length, "batch": profile.batch_size,
        "lr": config.learning_rate, "head_lr": config.head_learning_rate,
        "data": content_key(data.name, list(data.corpus["_id"]), list(data.corpus["text"])),
    }, sort_keys=True))
    out = root / f"warm-start-{key[:12]}"
    if (out / "training_log.json").exists():
        return str(out)
    pairs = pseudo_queries(data, profile.warm_examples, seed=0)
    logger.info("Warm start: %d pseudo-query pairs from the %s corpus", len(pairs), data.name)
    train_cross_encoder(
        pairs, "mnrl", out, num_layers=profile.cross_encoder_layers,
        max_length=profile.max_length, batch_size=profile.batch_size,
        learning_rate=config.learning_rate, head_learning_rate=config.head_learning_rate,
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

    ``base`` is ``minilm-l6`` (a fresh head on the truncated backbone) or the folder of
    :func:`warm_start`. Returns ``(model, training_log)``; ``training_log`` is ``None`` for the
    ``start`` contender, which is ``base`` itself.

    >>> model, log = train_contender(c, data, get_profile("smoke"), seed=0)  # doctest: +SKIP
    """
    from sentence_transformers import CrossEncoder

    from hardneg_kit.models import cross_encoder_start
    from hardneg_kit.training import budget_steps, equalise, train_cross_encoder

    layers = profile.cross_encoder_layers if base == "minilm-l6" else None
    if contender.kind == "start":
        model = cross_encoder_start(base, num_layers=layers, max_length=profile.max_length,
                                    seed=seed)
        return model, None
    if contender.kind not in ("mined", "in-batch"):
        raise ValueError(f"{contender.name} is a {contender.kind} contender: nothing to train.")
    root = Path(work_dir) if work_dir else cache_dir("experiment", profile.name)
    key = content_key(json.dumps(_train_key(contender, data, profile, config), sort_keys=True),
                      _base_key(base))
    out = _model_dir(root, contender, seed, key)
    log_path = out / "training_log.json"
    if log_path.exists():
        logger.info("%s seed %d: trained before, loading %s", contender.name, seed, out)
        model = CrossEncoder(str(out), device="cpu")
        return model, json.loads(log_path.read_text())
    rows = equalise(training_dataset(contender, data, profile, seed), profile.train_examples,
                    seed=seed)
    loss = "mnrl" if contender.kind == "in-batch" else config.loss
    result = train_cross_encoder(
        rows, loss, out, base=base, num_layers=layers, max_length=profile.max_length,
        batch_size=profile.batch_size, learning_rate=config.learning_rate,
        head_learning_rate=config.head_learning_rate, warmup_ratio=config.warmup_ratio,
        margin=config.margin, seed=seed, in_batch_negatives=profile.num_negatives,
        max_steps=budget_steps(profile.train_examples, profile.batch_size, profile.epochs),
        show_progress_bar=show_progress_bar,
    )
    return result.model, result.to_json()


def _train_key(contender: Contender, data: BeirData, profile: Profile,
               config: TrainingConfig) -> dict:
    import sentence_transformers

    train_q = sorted(data.qrels["train"])
    return {
        "contender": [contender.kind, contender.spec, [list(p) for p in contender.params]],
        "profile": asdict(profile) | {"seeds": None, "eval_queries": None, "rerank_depth": None},
        "config": asdict(config),
        "data": content_key(data.name, train_q, list(data.corpus["_id"])),
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


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    >>> holm({"a": 0.01, "b": 0.04, "c": 0.03})
    {'a': 0.03, 'b': 0.06, 'c': 0.06}
    """
    items = sorted((p, k) for k, p in p_values.items() if not np.isnan(p))
    m, running, out = len(items), 0.0, {}
    for i, (p, k) in enumerate(items):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = round(running, 12)
    return {k: out.get(k, float("nan")) for k in p_values}


def stacked(runs: Mapping[int, Any], seeds: Sequence[int]):
    """One ranx Run over (seed, query) ids: ``"0|q1"``; a single run is repeated for each seed."""
    from ranx import Run

    out = {}
    for s in seeds:
        run = runs.get(s, runs.get(min(runs)))
        for q in run.keys():
            out[f"{s}|{q}"] = dict(run[q])
    return Run(out)


def summarise(qrels, runs: Mapping[str, Mapping[int, Any]], seeds: Sequence[int],
              metrics: Sequence[str] = METRICS, baseline: str = BASELINE):
    """Per-seed scores and the summary table (mean, std, raw and Holm p against ``baseline``)."""
    from ranx import Qrels

    from hardneg_kit.evaluation import compare_runs, evaluate_runs

    scores = {
        name: {s: evaluate_runs(qrels, {name: run}, metrics).iloc[0].to_dict()
               for s, run in by_seed.items()}
        for name, by_seed in runs.items()
    }
    rows = {}
    for name, by_seed in scores.items():
        values = pd.DataFrame(by_seed).T  # seeds x metrics
        rows[name] = {**{f"{m}": values[m].mean() for m in metrics},
                      **{f"{m} std": values[m].std(ddof=0) for m in metrics},
                      "seeds": len(values)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    if baseline in runs and len(runs) > 1:
        qd = qrels.to_dict()
        sq = Qrels({f"{s}|{q}": docs for s in seeds for q, docs in qd.items()})
        report = compare_runs(sq, {n: stacked(r, seeds) for n, r in runs.items()},
                              baseline=baseline, metrics=metrics)
        for m in metrics:
            raw = {n: float(report.comparisons[(baseline, n)][m]["p_value"])
                   for n in runs if n != baseline}
            adjusted = holm(raw)
            table[f"{m} p"] = [adjusted.get(n, np.nan) for n in table.index]
            table[f"{m} p raw"] = [raw.get(n, np.nan) for n in table.index]
    table.index.name = "contender"
    return scores, table


def format_table(table: pd.DataFrame, metrics: Sequence[str] = METRICS,
                 baseline: str = BASELINE) -> pd.DataFrame:
    """``mean ± std`` strings, ``*`` where Holm p < 0.05 against ``baseline``, and the MRR@10
    p-value."""
    out = pd.DataFrame(index=table.index)
    for m in metrics:
        cells = []
        for _, row in table.iterrows():
            cell = f"{row[m]:.3f}"
            if row.get("seeds", 1) > 1:
                cell += f" ± {row[f'{m} std']:.3f}"
            p = row.get(f"{m} p", np.nan)
            if not np.isnan(p) and p < 0.05:
                cell += " *" if row[m] > table.loc[baseline, m] else " (worse) *"
            cells.append(cell)
        out[m] = cells
    if "mrr@10 p" in table:
        out["p (mrr@10)"] = [("" if np.isnan(p) else f"{p:.2g}") for p in table["mrr@10 p"]]
    return out


# --------------------------------------------------------------------------- the experiment


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
) -> ExperimentResult:
    """Train every contender for every seed, re-rank every evaluation set, compare, write.

    Args:
        profile: ``smoke``, ``workshop``, ``full`` (or a :class:`Profile`).
        output_dir: where ``results.json``, ``results.md``, the TREC runs, training logs and
            plots go (``None``: write nothing).
        contenders: default :func:`default_contenders`.
        config: the shared training settings.
        datasets: evaluation datasets; the first must be the training dataset.
        work_dir: trained models and cached runs (default ``$HARDNEG_CACHE/experiment/<profile>``).
        split: the split every dataset is evaluated on; ``dev`` (aws-cli only) is where
            variants are tried, so that choices are never made on the test set.

    >>> result = run_experiment("workshop", "results/workshop")  # doctest: +SKIP
    """
    from hardneg_kit.evaluation import warm_up_ranx

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    contenders = list(contenders or default_contenders())
    names = [c.name for c in contenders]
    if len(set(names)) != len(names):
        raise ValueError("Contender names must be unique.")
    seconds: dict[str, float] = {}
    warm_up_ranx()

    start = time.perf_counter()
    sets = {name: eval_set(name, profile, split=split) for name in datasets}
    train_data = sets[TRAIN_DATASET].data if TRAIN_DATASET in sets else eval_set(
        TRAIN_DATASET, profile).data
    seconds["first stage"] = time.perf_counter() - start

    start = time.perf_counter()
    base = warm_start(train_data, profile, config, work_dir)
    seconds["warm start"] = time.perf_counter() - start

    runs: dict[str, dict[str, dict[int, Any]]] = {d: {} for d in sets}
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
            for d, es in sets.items():
                runs[d].setdefault(c.name, {})[seed] = rerank_cached(
                    model, es, profile.rerank_depth, model_dir, f"{c.slug}-s{seed}",
                    show_progress_bar=False)
            del model
    seconds["training and re-ranking"] = time.perf_counter() - start

    start = time.perf_counter()
    scores, tables = {}, {}
    for d, es in sets.items():
        scores[d], tables[d] = summarise(es.data.qrels_for(split), runs[d], profile.seeds)
    seconds["evaluation"] = time.perf_counter() - start
    sizes = {d: {"queries": len(es.queries), "documents": len(es.passages)}
             for d, es in sets.items()}
    result = ExperimentResult(profile, config, scores, tables, runs, training, seconds, sizes,
                              sets, split, {c.name: c.kind for c in contenders})
    if output_dir is not None:
        write_results(result, output_dir)
    return result


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
        "train_dataset": TRAIN_DATASET,
        "split": result.split,
        "contenders": result.kinds,
        "candidates": CANDIDATES,
        "baseline": BASELINE,
        "metrics": list(METRICS),
        "sizes": result.sizes,
        "seconds": {k: round(v, 1) for k, v in result.seconds.items()},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "scores": {d: {n: {str(s): v for s, v in by.items()} for n, by in sc.items()}
                   for d, sc in result.scores.items()},
        "summary": {d: json.loads(t.to_json(orient="index")) for d, t in result.tables.items()},
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


def load_saved_runs(output_dir: str | Path) -> tuple[dict, dict[str, dict[str, dict[int, Any]]]]:
    """Read what :func:`write_results` wrote: ``(results.json payload, dataset -> contender ->
    seed -> ranx Run)``.

    >>> payload, runs = load_saved_runs("results/full")  # doctest: +SKIP
    """
    from hardneg_kit.retrievers import read_trec

    folder = Path(output_dir)
    path = folder / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run 'python -m hardneg_kit experiment' first.")
    payload = json.loads(path.read_text())
    runs: dict[str, dict[str, dict[int, Any]]] = {}
    for d, by_contender in payload["scores"].items():
        runs[d] = {}
        for name, by_seed in by_contender.items():
            slug = Contender(name, "").slug
            runs[d][name] = {int(s): read_trec(folder / "runs" / d / f"{slug}-s{s}.trec.gz")
                             for s in by_seed}
    return payload, runs


def compare_saved(output_dir: str | Path, baseline: str,
                  contenders: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Re-test saved results against another ``baseline`` (e.g. ``bm25``), from the runs alone.

    Same statistics as the experiment (paired t-test over (seed, query) pairs, Holm-corrected
    over the contenders compared); ``contenders`` limits the comparison (default: every
    cross-encoder contender, not the first-stage runs). Returns dataset -> summary table, as
    :func:`summarise`.

    >>> tables = compare_saved("results/full", "bm25", ["semi-hard"])  # doctest: +SKIP
    """
    from ranx import Qrels

    payload, runs = load_saved_runs(output_dir)
    seeds = payload["profile"]["seeds"]
    split = payload.get("split", "test")
    kinds = payload.get("contenders")  # absent in results written before it was added
    tables = {}
    for d, by_contender in runs.items():
        if baseline not in by_contender:
            raise ValueError(f"{output_dir}: no contender {baseline!r} in {d}; choose from: "
                             f"{', '.join(by_contender)}.")
        trained = [n for n, by_seed in by_contender.items()
                   if (kinds[n] != "first-stage" if kinds else len(by_seed) == len(seeds))]
        wanted = [baseline, *(n for n in (contenders or trained) if n != baseline)]
        unknown = [n for n in wanted if n not in by_contender]
        if unknown:
            raise ValueError(f"{output_dir}: no contender {unknown[0]!r} in {d}.")
        # the evaluated queries: every run holds them (dense retrievers always return hits)
        qids = set().union(*(r.keys() for by_seed in by_contender.values()
                             for r in by_seed.values()))
        full = load_beir(resolve_dataset(d), splits=[split]).qrels_for(split).to_dict()
        qrels = Qrels({q: full[q] for q in sorted(qids)})
        _, tables[d] = summarise(qrels, {n: by_contender[n] for n in wanted}, seeds,
                                 metrics=payload["metrics"], baseline=baseline)
    return tables
