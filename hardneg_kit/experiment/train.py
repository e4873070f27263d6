"""Training one contender: its rows, its equal budget, and the cache that makes a rerun free.

Every fine-tuned contender shares a :class:`TrainingConfig` (loss, learning rates, warm-up) and
the profile's budget: its training rows (:func:`training_dataset`: mined n-tuples, or
(query, positive) pairs for in-batch negatives, :func:`in_batch_pairs`) are drawn or repeated
to ``profile.train_examples`` rows and trained for the same optimizer steps from the same start
(:func:`train_contender`). A trained model is saved under a folder keyed by content: the rows
it trains on (after equalizing, so every mining setting and default is in them), the profile,
the configuration and the start's training log, never a path; an interrupted experiment
resumes and a finished one is loaded, not retrained (its rows are mined again to find it:
seconds with the embeddings cached).

Example:
    >>> from hardneg_kit.experiment.train import train_contender
    >>> model, log = train_contender(c, data, get_profile("smoke"), seed=0)  # doctest: +SKIP
    >>> log["steps"]  # doctest: +SKIP
    4
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from hardneg_kit.cache import cache_dir, content_key
from hardneg_kit.corpus import BeirData
from hardneg_kit.errors import ExperimentError
from hardneg_kit.experiment.contenders import Contender
from hardneg_kit.profiles import Profile

logger = logging.getLogger(__name__)


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


#: the default settings (one frozen instance, shared as a default argument)
DEFAULT_CONFIG = TrainingConfig()


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
    """The contender's training rows (before equalizing), mined with ``seed``: one n-tuple row
    per (query, positive) with at least one negative; a row with fewer than
    ``profile.num_negatives`` negatives is padded with ``None`` (the losses skip those)."""
    from hardneg_kit.mining import mine, to_dataset

    if contender.kind == "in-batch":
        return in_batch_pairs(data)
    result = mine(data, "train", contender.spec, num_negatives=profile.num_negatives, seed=seed,
                  **dict(contender.params))
    logger.info("%s: %s", contender.name, result.summary())
    return to_dataset(result, data, "n-tuple", pad=True)


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
    (:func:`hardneg_kit.training.equalize`) and trained for the same number of optimizer steps;
    the log's ``config.unique_rows`` says how many distinct rows there were. Returns
    ``(model, training_log)``; ``training_log`` is ``None`` for the ``start`` contender, which
    is ``base`` itself.

    >>> model, log = train_contender(c, data, get_profile("smoke"), seed=0)  # doctest: +SKIP
    """
    from sentence_transformers import CrossEncoder

    from hardneg_kit.models import cross_encoder_device, cross_encoder_start
    from hardneg_kit.training import train_cross_encoder
    from hardneg_kit.training_data import budget_steps, equalize

    layers = profile.cross_encoder_layers if base == "minilm-l6" else None
    if contender.kind == "start":
        model = cross_encoder_start(base, num_layers=layers, max_length=profile.max_length,
                                    seed=seed)
        return model, None
    if contender.kind not in ("mined", "in-batch"):
        raise ExperimentError(
            f"{contender.name} is a {contender.kind} contender: nothing to train."
        )
    mined = training_dataset(contender, data, profile, seed)
    rows = equalize(mined, profile.train_examples, seed=seed)
    root = Path(work_dir) if work_dir else cache_dir("experiment", profile.name)
    key = content_key(json.dumps(_train_key(contender, rows, profile, config), sort_keys=True),
                      _base_key(base))
    out = _model_dir(root, contender, seed, key)
    log_path = out / "training_log.json"
    if log_path.exists():
        logger.info("%s seed %d: trained before, loading %s", contender.name, seed, out)
        model = CrossEncoder(str(out), device=cross_encoder_device())
        return model, json.loads(log_path.read_text())
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


def _train_key(contender: Contender, rows, profile: Profile, config: TrainingConfig) -> dict:
    import sentence_transformers

    return {
        "contender": [contender.kind, contender.spec, [list(p) for p in contender.params]],
        "profile": asdict(profile) | {"seeds": None, "eval_queries": None, "rerank_depth": None},
        "config": asdict(config),
        # the rows themselves: a changed corpus, query or mining default changes the model
        "rows": content_key(json.dumps(rows.to_list(), sort_keys=True)),
        "sentence-transformers": sentence_transformers.__version__,
    }


def _base_key(base: str) -> str:
    """A saved warm start is identified by its training log (which holds its configuration and
    data), not by where it lies; any other start by its spec."""
    log = Path(base) / "training_log.json"
    if not log.exists():
        return base
    # the log names the folder it was saved in: left out, so a copied or moved start is the same
    return content_key(json.dumps({k: v for k, v in json.loads(log.read_text()).items()
                                   if k != "output_dir"}, sort_keys=True))


def warm_start_dir(base: str) -> Path | None:
    """A saved warm start caches its own runs; the bare backbone (fresh head) is not saved."""
    return Path(base) if (Path(base) / "training_log.json").exists() else None
