"""Fine-tune a cross-encoder re-ranker on mined negatives.

Training runs on the CPU with sentence-transformers'
:class:`~sentence_transformers.cross_encoder.CrossEncoderTrainer` and one of three losses:

========== ==================================================================== ===================
``bce``    binary cross-entropy on labeled (query, passage, 0/1) pairs          any format with
           (``BinaryCrossEntropyLoss``); triplets and n-tuples become           negatives
           (q, p, 1) and (q, n_i, 0)
``mnrl``   multiple-negatives ranking loss (``MultipleNegativesRankingLoss``):  pairs, triplets,
           the positive against the mined negatives plus ``in_batch_negatives`` n-tuples
           sampled from the other rows of the batch. With (anchor, positive)
           pairs only it is the "in-batch negatives" contender
``triplet`` the reference method's hinge ``relu(m - s(q,p) + s(q,n))``          triplets, n-tuples
           (:class:`hardneg_kit.losses.TripletMarginLoss`)
========== ==================================================================== ===================

The input formats (those of :func:`sentence_transformers.util.mine_hard_negatives`) and equal
budgets are :mod:`hardneg_kit.training_data`: :func:`equalize` gives every contender the same
number of rows and :func:`budget_steps` the same number of optimizer steps; ``batch_size``
counts rows for every loss (``bce`` expands each row into 1 + k pairs, so its pair batch is
``batch_size * (1 + k)``). :func:`train_cross_encoder` runs four steps: prepare the data for
the loss, build the trainer, run it, write the log (``training_log.json``, whose presence marks
a finished run). Re-ranking with the trained model is :mod:`hardneg_kit.reranking`; its names
are importable from here too.

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
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from datasets import Dataset

from hardneg_kit.cache import atomic_path
from hardneg_kit.errors import TrainingError
from hardneg_kit.reranking import rerank, score_pairs
from hardneg_kit.training_data import (
    ACCEPTED_FORMATS,
    DatasetColumns,
    as_labeled_pairs,
    as_tuples,
    budget_steps,
    dataset_columns,
    dataset_format,
    equalize,
    prepare_for_loss,
)

logger = logging.getLogger(__name__)

LossName = Literal["bce", "mnrl", "triplet"]
LOSSES: tuple[str, ...] = ("bce", "mnrl", "triplet")
#: parameter names of the head that :func:`hardneg_kit.models.cross_encoder_start` initializes
HEAD_PARAMETERS = r"(^|\.)(pooler|classifier)\.|(^|\.)\d+\.linear\."


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
    # long only by its docstring (every setting is a keyword); the body is the four steps
    _check_options(loss, warmup_ratio, max_steps)
    fmt, train, per_row, evaluation = _training_data(train_dataset, eval_dataset, loss)
    output_dir = Path(output_dir)
    config = _training_config(
        dict(loss=loss, base=base, num_layers=num_layers, max_length=max_length, epochs=epochs,
             batch_size=batch_size, learning_rate=learning_rate,
             head_learning_rate=head_learning_rate, warmup_ratio=warmup_ratio, seed=seed,
             max_steps=max_steps, margin=margin, in_batch_negatives=in_batch_negatives,
             log_every=log_every, train_rows_input=len(train_dataset)),
        log_extra, num_threads,
    )
    model, loss_fn, counter, hook = _model_and_loss(
        loss, base, num_layers, max_length, seed, margin, in_batch_negatives)
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
    model.save_pretrained(str(output_dir))
    result = TrainResult(
        output_dir=output_dir, loss=loss, loss_curve=_loss_curve(trainer),
        wall_time_s=round(wall, 3), steps=int(trainer.state.global_step),
        examples_seen=counter.rows / per_row, pairs_seen=counter.pairs,
        pairs_per_s=round(counter.pairs / wall, 3) if wall > 0 else float("nan"),
        train_rows=len(train_dataset), dataset_format=fmt, eval_loss=eval_loss, config=config,
        model=model,
    )
    _write_log(result, wall)
    return result


def _model_and_loss(loss: str, base: str, num_layers: int | None, max_length: int, seed: int,
                    margin: float, in_batch_negatives: int | None):
    """The start model, its loss, and the counter of rows and pairs hooked onto the loss."""
    from hardneg_kit.models import cross_encoder_start

    model = cross_encoder_start(base, num_layers=num_layers, max_length=max_length, seed=seed)
    loss_fn = _make_loss(loss, model, margin, in_batch_negatives)
    counter = _PairCounter(loss, in_batch_negatives)
    hook = loss_fn.register_forward_pre_hook(counter, with_kwargs=True)
    return model, loss_fn, counter, hook


def _loss_curve(trainer) -> list[tuple[int, float]]:
    """(step, training loss) of every logged step."""
    return [(int(e["step"]), float(e["loss"])) for e in trainer.state.log_history if "loss" in e]


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
    train, per_row = prepare_for_loss(train_dataset, loss, "training")
    evaluation = (None if eval_dataset is None
                  else prepare_for_loss(eval_dataset, loss, "evaluation")[0])
    if len(train) == 0:
        raise TrainingError("The training dataset is empty.")
    return fmt, train, per_row, evaluation


def _training_config(
    settings: dict[str, Any], log_extra: Mapping[str, Any] | None, num_threads: int | None
) -> dict[str, Any]:
    """What ``training_log.json`` records as ``config``: the settings, facts, threads, versions."""
    import sentence_transformers
    import torch
    import transformers

    return {
        **settings,
        **dict(log_extra or {}),
        "torch_threads": num_threads or torch.get_num_threads(),
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


__all__ = [
    "ACCEPTED_FORMATS", "HEAD_PARAMETERS", "LOSSES", "DatasetColumns", "LossName", "TrainResult",
    "as_labeled_pairs", "as_tuples", "budget_steps", "dataset_columns", "dataset_format",
    "equalize", "prepare_for_loss", "rerank", "score_pairs", "train_cross_encoder",
]
