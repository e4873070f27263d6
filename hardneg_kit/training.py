"""Fine-tune a cross-encoder re-ranker on mined negatives, and re-rank candidate lists with it.

Training runs on the CPU with sentence-transformers'
:class:`~sentence_transformers.cross_encoder.CrossEncoderTrainer` and one of three losses:

========== ==================================================================== ===================
``bce``    binary cross-entropy on labelled (query, passage, 0/1) pairs         any format with
           (``BinaryCrossEntropyLoss``); triplets and n-tuples become           negatives
           (q, p, 1) and (q, n_i, 0)
``mnrl``   multiple-negatives ranking loss (``MultipleNegativesRankingLoss``):  pairs, triplets,
           the positive against the mined negatives plus ``in_batch_negatives`` n-tuples
           sampled from the other rows of the batch. With (anchor, positive)
           pairs only it is the "in-batch negatives" contender
``triplet`` the reference method's hinge ``relu(m - s(q,p) + s(q,n))``          triplets, n-tuples
           (:class:`hardneg_kit.losses.TripletMarginLoss`)
========== ==================================================================== ===================

Input datasets use the formats of :func:`sentence_transformers.util.mine_hard_negatives`, whose
column names follow the input dataset: the first two text columns are the anchor (query) and the
positive (in ``labeled-pair``: the passage; in ``labeled-list``: the list of passages), then
``negative`` (triplet) or ``negative_1 .. negative_k`` (n-tuple), or ``label`` / ``labels``.
A ``scores`` column (``output_scores=True``) is ignored.

Equal budgets: an *example* is one row of the mined dataset (one query, its positive and its
negatives). :func:`equalize` gives every contender the same number of rows and
:func:`budget_steps` the same number of optimizer steps; ``batch_size`` counts rows for every loss
(``bce`` expands each row into 1 + k pairs, so its pair batch is ``batch_size * (1 + k)``).

Example:
    >>> from hardneg_kit.training import equalize, train_cross_encoder
    >>> train = equalize(mined_triplets, 512, seed=0)  # doctest: +SKIP
    >>> result = train_cross_encoder(train, "triplet", "runs/s0", num_layers=2)  # doctest: +SKIP
    >>> result.steps, result.loss_curve[-1]  # doctest: +SKIP
    (32, (32, 0.41))
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
from datasets import Dataset

from hardneg_kit.cache import atomic_path
from hardneg_kit.errors import TrainingError

logger = logging.getLogger(__name__)

LossName = Literal["bce", "mnrl", "triplet"]
LOSSES: tuple[str, ...] = ("bce", "mnrl", "triplet")
#: formats each loss accepts (see :func:`dataset_format`)
ACCEPTED_FORMATS: dict[str, tuple[str, ...]] = {
    "bce": ("triplet", "n-tuple", "labeled-pair", "labeled-list"),
    "mnrl": ("pair", "triplet", "n-tuple"),
    "triplet": ("triplet", "n-tuple"),
}
#: parameter names of the head that :func:`hardneg_kit.models.cross_encoder_start` initializes
HEAD_PARAMETERS = r"(^|\.)(pooler|classifier)\.|(^|\.)\d+\.linear\."
_NEGATIVE = re.compile(r"negative(?:_(\d+))?")
_IGNORED = ("scores",)


# --------------------------------------------------------------------------- dataset formats


@dataclass(frozen=True)
class DatasetColumns:
    """Which column plays which role in a training dataset (see :func:`dataset_columns`)."""

    format: str
    anchor: str
    positive: str
    negatives: tuple[str, ...] = ()
    label: str | None = None


def dataset_columns(dataset: Dataset) -> DatasetColumns:
    """Recognise a mine_hard_negatives output format and name each column's role.

    Formats: ``pair`` (anchor, positive), ``triplet`` (anchor, positive, negative), ``n-tuple``
    (anchor, positive, negative_1..k), ``labeled-pair`` (anchor, passage, label) and
    ``labeled-list`` (anchor, [passages], labels).

    >>> dataset_columns(Dataset.from_dict({"q": ["a"], "p": ["b"], "negative": ["c"]})).format
    'triplet'

    Raises:
        TrainingError: when the columns fit none of the formats.
    """
    cols = list(dataset.column_names)
    negatives = sorted(
        (c for c in cols if _NEGATIVE.fullmatch(c)),
        key=lambda c: int(_NEGATIVE.fullmatch(c).group(1) or 0),
    )
    label = next((c for c in ("label", "labels") if c in cols), None)
    texts = [c for c in cols if c not in negatives and c != label and c not in _IGNORED]
    if "score" in texts and label is None:
        raise TrainingError(
            f"Dataset columns {cols}: a 'score' column without 'label' holds retriever "
            "similarities (mine_hard_negatives(output_scores=True)), not relevance labels; "
            "mine with output_scores=False or add a 0/1 'label' column."
        )
    if len(texts) != 2:
        raise TrainingError(
            f"Dataset columns {cols}: expected two text columns (anchor, positive) plus "
            "'negative', 'negative_1..k', 'label' or 'labels' (the mine_hard_negatives formats)."
        )
    anchor, positive = texts
    if label is not None and negatives:
        raise TrainingError(
            f"Dataset columns {cols}: both negatives and {label!r}; pick one format."
        )
    if label == "labels":
        fmt = "labeled-list"
    elif label == "label":
        fmt = "labeled-pair"
    elif negatives == ["negative"]:
        fmt = "triplet"
    elif negatives:
        if "negative" in negatives:
            raise TrainingError(f"Dataset columns {cols}: mixes 'negative' and 'negative_i'.")
        fmt = "n-tuple"
    else:
        fmt = "pair"
    return DatasetColumns(fmt, anchor, positive, tuple(negatives), label)


def dataset_format(dataset: Dataset) -> str:
    """The mine_hard_negatives format of ``dataset``: pair, triplet, n-tuple, labeled-pair/list."""
    return dataset_columns(dataset).format


def as_labeled_pairs(dataset: Dataset) -> Dataset:
    """Any format with negatives -> (query, passage, label) rows with float labels 1.0 / 0.0.

    A row (q, p, n_1, ..., n_k) becomes (q, p, 1), (q, n_1, 0), ..., (q, n_k, 0), in that order;
    ``None`` negatives are skipped.

    >>> ds = Dataset.from_dict({"q": ["a"], "p": ["b"], "negative": ["c"]})
    >>> as_labeled_pairs(ds)["label"]
    [1.0, 0.0]
    """
    spec = dataset_columns(dataset)
    if spec.format == "pair":
        raise TrainingError("A (query, positive) dataset has no negatives to label 0: mine some.")
    out: dict[str, list] = {"query": [], "passage": [], "label": []}
    if spec.format == "labeled-pair":
        out["query"] = list(dataset[spec.anchor])
        out["passage"] = list(dataset[spec.positive])
        out["label"] = [float(x) for x in dataset[spec.label]]
    elif spec.format == "labeled-list":
        for row in dataset:
            for doc, lab in zip(row[spec.positive], row[spec.label], strict=True):
                out["query"].append(row[spec.anchor])
                out["passage"].append(doc)
                out["label"].append(float(lab))
    else:
        for row in dataset:
            docs = [(row[spec.positive], 1.0)] + [(row[c], 0.0) for c in spec.negatives]
            for doc, lab in docs:
                if doc is not None:
                    out["query"].append(row[spec.anchor])
                    out["passage"].append(doc)
                    out["label"].append(lab)
    return Dataset.from_dict(out)


def as_tuples(dataset: Dataset) -> Dataset:
    """Pairs, triplets or n-tuples -> columns (anchor, positive[, negative_1..k]) in that order."""
    spec = dataset_columns(dataset)
    if spec.format not in ("pair", "triplet", "n-tuple"):
        raise TrainingError(f"Expected pairs, triplets or n-tuples, got a {spec.format} dataset.")
    columns = {"anchor": dataset[spec.anchor], "positive": dataset[spec.positive]}
    for i, col in enumerate(spec.negatives, start=1):
        columns[f"negative_{i}"] = dataset[col]
    return Dataset.from_dict({k: list(v) for k, v in columns.items()})


def _prepare(dataset: Dataset, loss: str, what: str) -> tuple[Dataset, int]:
    """Convert ``dataset`` for ``loss``; return it and the number of its rows per source row."""
    spec = dataset_columns(dataset)
    if spec.format not in ACCEPTED_FORMATS[loss]:
        hint = {
            "pair": "mine negatives first (or use loss='mnrl' for in-batch negatives only)",
            "labeled-pair": "mine with output_format='triplet' or 'n-tuple', or use loss='bce'",
            "labeled-list": "mine with output_format='n-tuple', or use loss='bce'",
        }.get(spec.format, "")
        raise TrainingError(
            f"loss={loss!r} cannot train on the {what} dataset: its columns "
            f"{dataset.column_names} form a {spec.format!r} dataset, and {loss!r} accepts "
            f"{', '.join(ACCEPTED_FORMATS[loss])}. {hint}".rstrip()
        )
    if loss == "bce":
        per_row = 1 + len(spec.negatives) if spec.format in ("triplet", "n-tuple") else 1
        return as_labeled_pairs(dataset), per_row
    return as_tuples(dataset), 1


# --------------------------------------------------------------------------- equal budgets


def equalize(dataset: Dataset, num_examples: int, seed: int = 0) -> Dataset:
    """Exactly ``num_examples`` rows of ``dataset``, chosen deterministically from ``seed``.

    Larger datasets are sampled without replacement (rows keep their original order); smaller
    ones are repeated whole as often as they fit and topped up with a sample (a warning is logged).

    >>> ds = Dataset.from_dict({"q": list("abcdef"), "p": list("ABCDEF")})
    >>> len(equalize(ds, 4, seed=0)), equalize(ds, 4, seed=0)["q"] == equalize(ds, 4, seed=0)["q"]
    (4, True)
    """
    n = len(dataset)
    if num_examples < 1:
        raise TrainingError(f"num_examples must be >= 1, got {num_examples}.")
    if n == 0:
        raise TrainingError("Cannot equalize an empty dataset.")
    rng = np.random.default_rng(seed)
    if num_examples <= n:
        idx = np.sort(rng.choice(n, size=num_examples, replace=False))
    else:
        reps, rest = divmod(num_examples, n)
        logger.warning(
            "equalize: only %d rows for %d examples; repeating the data %d time(s) plus %d rows.",
            n, num_examples, reps, rest,
        )
        idx = np.concatenate([np.tile(np.arange(n), reps), np.sort(rng.choice(n, rest, False))])
    return dataset.select(idx.tolist())


#: the old spelling, kept for notebooks and user code
equalise = equalize


def budget_steps(num_examples: int, batch_size: int, epochs: int = 1) -> int:
    """Optimiser steps for ``epochs`` passes over ``num_examples`` rows: pass it as ``max_steps``.

    >>> budget_steps(1000, 16, epochs=1)
    63
    """
    return epochs * math.ceil(num_examples / batch_size)


# --------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What :func:`train_cross_encoder` did; also written to ``output_dir/training_log.json``."""

    output_dir: Path
    loss: str
    #: (step, training loss averaged over the last ``log_every`` steps)
    loss_curve: list[tuple[int, float]]
    #: seconds spent in ``trainer.train()`` (model loading and saving excluded)
    wall_time_s: float
    steps: int
    #: rows of the input dataset fed to the model (``bce``: pairs / (1 + k))
    examples_seen: float
    #: (query, passage) pairs the model scored in training forward passes
    pairs_seen: int
    #: pairs scored per second of training (forward + backward)
    pairs_per_s: float
    train_rows: int
    dataset_format: str
    eval_loss: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    #: the trained model, in memory (not serialized)
    model: Any = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict (without the model)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        out["output_dir"] = str(self.output_dir)
        out["loss_curve"] = [list(p) for p in self.loss_curve]
        return json.loads(json.dumps(out))  # a deep copy of plain JSON types


class _PairCounter:
    """Forward pre-hook on a loss: counts training rows and scored pairs per batch."""

    def __init__(self, loss: str, in_batch_negatives: int | None):
        self.loss, self.in_batch, self.rows, self.pairs = loss, in_batch_negatives, 0, 0

    def __call__(self, module, args, kwargs) -> None:
        if not module.model.training:
            return
        inputs = args[0] if args else kwargs["inputs"]
        batch = len(inputs[0])
        self.rows += batch
        if self.loss == "bce":
            self.pairs += batch
        elif self.loss == "triplet":
            self.pairs += batch + sum(x is not None for col in inputs[2:] for x in col)
        else:  # mnrl: positive + hard negatives + sampled in-batch negatives, per anchor
            candidates = len(inputs) - 1
            valid = candidates * (batch - 1)
            sampled = valid if self.in_batch is None else min(self.in_batch, valid)
            self.pairs += batch * (candidates + sampled)


def _make_loss(name: str, model, margin: float, in_batch_negatives: int | None):
    from sentence_transformers.cross_encoder import losses

    from hardneg_kit.losses import TripletMarginLoss

    if name == "bce":
        return losses.BinaryCrossEntropyLoss(model)
    if name == "mnrl":
        return losses.MultipleNegativesRankingLoss(model, num_negatives=in_batch_negatives)
    return TripletMarginLoss(model, margin=margin)


def _quiet_progress(trainer) -> None:
    """Keep the tqdm bar but stop the trainer printing every log dict (we log them instead)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class _QuietProgressCallback(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            pass

    for cb in list(trainer.callback_handler.callbacks):
        if type(cb) is ProgressCallback:
            trainer.remove_callback(cb)
            trainer.add_callback(_QuietProgressCallback())
        elif type(cb) is PrinterCallback:
            trainer.remove_callback(cb)


def _log_callback():
    from transformers import TrainerCallback

    class _LossLogger(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                step, total = state.global_step, state.max_steps
                logger.info("step %d/%d  loss %.4f", step, total, logs["loss"])

    return _LossLogger()


def train_cross_encoder(
    train_dataset: Dataset,
    loss: LossName = "bce",
    output_dir: str | Path = "cross-encoder",
    *,
    base: str = "minilm-l6",
    num_layers: int | None = None,
    max_length: int = 128,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 2e-5,
    head_learning_rate: float | None = None,
    warmup_ratio: float = 0.1,
    seed: int = 0,
    max_steps: int | None = None,
    margin: float = 1.0,
    in_batch_negatives: int | None = 4,
    eval_dataset: Dataset | None = None,
    log_every: int = 10,
    show_progress_bar: bool = True,
    num_threads: int | None = None,
    log_extra: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Fine-tune a cross-encoder on a mined dataset with one loss; save it to ``output_dir``.

    Args:
        train_dataset: a mine_hard_negatives-format dataset (see :func:`dataset_columns`).
        loss: ``bce``, ``mnrl`` or ``triplet`` (see the module docstring for accepted formats).
        output_dir: the model is saved here with ``model.save_pretrained``; ``training_log.json``
            is written last (atomically), so its presence marks a finished run.
        base, num_layers, max_length: the starting point, see
            :func:`hardneg_kit.models.cross_encoder_start` (``seed`` seeds its fresh head).
        epochs: passes over the data; ignored when ``max_steps`` is given.
        batch_size: dataset rows per step (``bce`` scores ``batch_size * (1 + k)`` pairs).
        learning_rate, warmup_ratio: AdamW with linear warm-up over that fraction of the steps,
            then linear decay.
        head_learning_rate: a separate rate for the freshly initialized head (the BERT pooler and
            the classifier), e.g. ``1e-3``. The packaged backbone was trained with mean pooling,
            so its [CLS] vector is nearly the same for every pair and a fresh head learns very
            slowly at 2e-5: on a CPU budget of tens of steps, raise this (and ``learning_rate``).
        seed: seeds the head, dropout, the data order and MNRL's in-batch sampling.
        max_steps: exact number of optimizer steps (cycles through the data as needed); use
            :func:`budget_steps` to give every contender the same budget.
        margin: the triplet loss margin (on raw logits).
        in_batch_negatives: ``mnrl`` only: other rows' passages sampled as extra negatives per
            anchor (upstream ``num_negatives``, default 4; ``None`` uses all of the batch).
        eval_dataset: optional; converted like the training data, its loss is computed at the end.
        log_every: training-loss logging interval in steps (the loss curve's resolution).
        show_progress_bar: the trainer's tqdm bar.
        num_threads: torch CPU threads while training (restored afterwards); on a busy shared
            machine 1 thread can be 2-3x faster than oversubscribed cores.
        log_extra: facts about the data to keep in the log's ``config`` (e.g. the number of
            unique rows before :func:`equalize` repeated them).

    Returns:
        :class:`TrainResult`, with the trained model in ``result.model``.

    Raises:
        TrainingError: unknown loss, or a dataset whose columns do not fit the loss.

    >>> result = train_cross_encoder(triplets, "triplet", "runs/x", num_layers=2)  # doctest: +SKIP
    >>> result.loss_curve[:2]  # doctest: +SKIP
    [(1, 1.02), (10, 0.87)]
    """
    _check_options(loss, warmup_ratio, max_steps)
    fmt, train, per_row, evaluation = _training_data(train_dataset, eval_dataset, loss)
    import torch

    from hardneg_kit.models import cross_encoder_start

    output_dir = Path(output_dir)
    config = _training_config(
        dict(loss=loss, base=base, num_layers=num_layers, max_length=max_length, epochs=epochs,
             batch_size=batch_size, learning_rate=learning_rate,
             head_learning_rate=head_learning_rate, warmup_ratio=warmup_ratio, seed=seed,
             max_steps=max_steps, margin=margin, in_batch_negatives=in_batch_negatives,
             log_every=log_every, train_rows_input=len(train_dataset)),
        log_extra, num_threads or torch.get_num_threads(),
    )
    model = cross_encoder_start(base, num_layers=num_layers, max_length=max_length, seed=seed)
    loss_fn = _make_loss(loss, model, margin, in_batch_negatives)
    counter = _PairCounter(loss, in_batch_negatives)
    hook = loss_fn.register_forward_pre_hook(counter, with_kwargs=True)
    trainer = _build_trainer(
        model, loss_fn, train, evaluation, output_dir, device_batch=batch_size * per_row,
        epochs=epochs, max_steps=max_steps, learning_rate=learning_rate,
        head_learning_rate=head_learning_rate, warmup_ratio=warmup_ratio, seed=seed,
        log_every=log_every, show_progress_bar=show_progress_bar,
    )
    logger.info(
        "Training %s on %d rows (%s, %d pairs/row) for %s, batch %d",
        loss, len(train_dataset), fmt, per_row,
        f"{max_steps} steps" if max_steps else f"{epochs} epoch(s)", batch_size,
    )
    wall, eval_loss = _run(trainer, hook, evaluation is not None, num_threads)
    curve = [
        (int(e["step"]), float(e["loss"])) for e in trainer.state.log_history if "loss" in e
    ]
    model.save_pretrained(str(output_dir))
    result = TrainResult(
        output_dir=output_dir,
        loss=loss,
        loss_curve=curve,
        wall_time_s=round(wall, 3),
        steps=int(trainer.state.global_step),
        examples_seen=counter.rows / per_row,
        pairs_seen=counter.pairs,
        pairs_per_s=round(counter.pairs / wall, 3) if wall > 0 else float("nan"),
        train_rows=len(train_dataset),
        dataset_format=fmt,
        eval_loss=eval_loss,
        config=config,
        model=model,
    )
    _write_log(result, wall)
    return result


def _check_options(loss: str, warmup_ratio: float, max_steps: int | None) -> None:
    """Refuse an unknown loss, a warm-up outside [0, 1) or ``max_steps < 1`` before any work."""
    if loss not in LOSSES:
        raise TrainingError(f"Unknown loss {loss!r}; choose one of {', '.join(LOSSES)}.")
    if not 0 <= warmup_ratio < 1:
        raise TrainingError(f"warmup_ratio must be in [0, 1), got {warmup_ratio}.")
    if max_steps is not None and max_steps < 1:
        raise TrainingError(f"max_steps must be >= 1 or None, got {max_steps}.")


def _training_data(
    train_dataset: Dataset, eval_dataset: Dataset | None, loss: str
) -> tuple[str, Dataset, int, Dataset | None]:
    """Prepare data: (input format, training rows for ``loss``, pairs per row, eval rows)."""
    fmt = dataset_format(train_dataset)
    train, per_row = _prepare(train_dataset, loss, "training")
    evaluation = _prepare(eval_dataset, loss, "evaluation")[0] if eval_dataset is not None else None
    if len(train) == 0:
        raise TrainingError("The training dataset is empty.")
    return fmt, train, per_row, evaluation


def _training_config(
    settings: dict[str, Any], log_extra: Mapping[str, Any] | None, threads: int
) -> dict[str, Any]:
    """What ``training_log.json`` records as ``config``: the settings, facts, threads, versions."""
    import sentence_transformers
    import torch
    import transformers

    return {
        **settings,
        **dict(log_extra or {}),
        "torch_threads": threads,
        "versions": {
            "sentence-transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__, "torch": torch.__version__,
        },
    }


def _build_trainer(
    model, loss_fn, train: Dataset, evaluation: Dataset | None, output_dir: Path, *,
    device_batch: int, epochs: int, max_steps: int | None, learning_rate: float,
    head_learning_rate: float | None, warmup_ratio: float, seed: int, log_every: int,
    show_progress_bar: bool,
):
    """Build trainer: a ``CrossEncoderTrainer`` logging each ``log_every`` steps, saving nothing."""
    from sentence_transformers.cross_encoder import (
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )

    from hardneg_kit.models import cross_encoder_device

    args = CrossEncoderTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        max_steps=max_steps if max_steps is not None else -1,
        per_device_train_batch_size=device_batch,
        per_device_eval_batch_size=device_batch,
        learning_rate=learning_rate,
        learning_rate_mapping={HEAD_PARAMETERS: head_learning_rate} if head_learning_rate else {},
        warmup_steps=warmup_ratio,  # a float < 1 is a ratio of the total steps
        seed=seed,
        data_seed=seed,
        use_cpu=cross_encoder_device() == "cpu",
        report_to="none",
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="steps",
        logging_steps=log_every,
        logging_first_step=True,
        disable_tqdm=not show_progress_bar,
        dataloader_num_workers=0,
        dataloader_drop_last=False,
    )
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=train, eval_dataset=evaluation, loss=loss_fn,
        callbacks=[_log_callback()],
    )
    _quiet_progress(trainer)
    return trainer


def _run(trainer, hook, evaluate: bool, num_threads: int | None) -> tuple[float, float | None]:
    """Run: train with ``num_threads`` torch threads (restored after); (seconds, eval loss)."""
    import torch

    threads = torch.get_num_threads()
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
        hook.remove()
        eval_loss = float(trainer.evaluate()["eval_loss"]) if evaluate else None
    finally:
        torch.set_num_threads(threads)
    return wall, eval_loss


def _write_log(result: TrainResult, wall: float) -> None:
    """Log: ``training_log.json`` written last (atomically: its presence marks a finished run)."""
    with atomic_path(result.output_dir / "training_log.json") as tmp:
        tmp.write_text(json.dumps(result.to_json(), indent=2))
    logger.info(
        "Trained %s: %d steps, %.0f examples, %.1f s (%.1f pairs/s) -> %s",
        result.loss, result.steps, result.examples_seen, wall, result.pairs_per_s,
        result.output_dir,
    )


# --------------------------------------------------------------------------- scoring


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
