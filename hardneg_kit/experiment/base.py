"""The base re-ranker: the start every contender is fine-tuned from, and the "no fine-tuning" row.

The reference method fine-tunes a cross-encoder that already re-ranks well. Offline the kit builds
its analogue once (:func:`base_reranker`): the packaged MiniLM backbone trained with in-batch
negatives on :func:`pseudo_queries` of the training corpus (the first sentence of a document as
its query), so no query and no judgement of any split is seen. Any existing cross-encoder can be
the base instead. :func:`describe_base` says which base a result used, how it was built and how
it scores on dev before any contender-specific training.

Example:
    >>> from hardneg_kit.experiment.base import base_reranker
    >>> base = base_reranker(aws.data, get_profile("smoke"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hardneg_kit.cache import cache_dir, content_key
from hardneg_kit.corpus import BeirData
from hardneg_kit.errors import ExperimentError
from hardneg_kit.experiment.contenders import TRAIN_DATASET
from hardneg_kit.experiment.datasets import EvalSet
from hardneg_kit.experiment.train import TrainingConfig
from hardneg_kit.profiles import Profile

logger = logging.getLogger(__name__)


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
    from hardneg_kit.training import train_cross_encoder
    from hardneg_kit.training_data import budget_steps

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


def describe_base(base: str, start: str, dev: EvalSet, dev_runs: Mapping[int, Any] | None,
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
