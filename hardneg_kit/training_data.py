"""Training data for a cross-encoder: its format, its conversion for a loss, and equal budgets.

Input datasets use the formats of :func:`sentence_transformers.util.mine_hard_negatives`, whose
column names follow the input dataset: the first two text columns are the anchor (query) and the
positive (in ``labeled-pair``: the passage; in ``labeled-list``: the list of passages), then
``negative`` (triplet) or ``negative_1 .. negative_k`` (n-tuple), or ``label`` / ``labels``.
A ``scores`` column (``output_scores=True``) is ignored. :func:`dataset_columns` recognizes the
format, and :func:`prepare_for_loss` converts a dataset to what a loss trains on
(:data:`ACCEPTED_FORMATS`): labeled pairs for ``bce``, (anchor, positive, negatives...) tuples
for ``mnrl`` and ``triplet``.

Equal budgets: an *example* is one row of the mined dataset (one query, its positive and its
negatives). :func:`equalize` gives every contender the same number of rows and
:func:`budget_steps` the same number of optimizer steps.

Example:
    >>> from hardneg_kit.training_data import budget_steps, equalize
    >>> train = equalize(mined_triplets, 512, seed=0)  # doctest: +SKIP
    >>> budget_steps(len(train), 16)  # doctest: +SKIP
    32
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import numpy as np
from datasets import Dataset

from hardneg_kit.errors import TrainingError

logger = logging.getLogger(__name__)

#: formats each loss accepts (see :func:`dataset_format`)
ACCEPTED_FORMATS: dict[str, tuple[str, ...]] = {
    "bce": ("triplet", "n-tuple", "labeled-pair", "labeled-list"),
    "mnrl": ("pair", "triplet", "n-tuple"),
    "triplet": ("triplet", "n-tuple"),
}
_NEGATIVE = re.compile(r"negative(?:_(\d+))?")
_IGNORED = ("scores",)


@dataclass(frozen=True)
class DatasetColumns:
    """Which column plays which role in a training dataset (see :func:`dataset_columns`)."""

    format: str
    anchor: str
    positive: str
    negatives: tuple[str, ...] = ()
    label: str | None = None


def dataset_columns(dataset: Dataset) -> DatasetColumns:
    """Recognize a mine_hard_negatives output format and name each column's role.

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


def prepare_for_loss(dataset: Dataset, loss: str, what: str) -> tuple[Dataset, int]:
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




def budget_steps(num_examples: int, batch_size: int, epochs: int = 1) -> int:
    """Optimizer steps for ``epochs`` passes over ``num_examples`` rows: pass it as ``max_steps``.

    >>> budget_steps(1000, 16, epochs=1)
    63
    """
    return epochs * math.ceil(num_examples / batch_size)
