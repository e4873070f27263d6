"""Mined negatives as sentence-transformers training data: :func:`to_dataset`.

The formats and columns are those of ``sentence_transformers.util.mine_hard_negatives`` for an
input with columns (``anchor_column``, ``positive_column``), one builder function each:

================  ============================================================================
``triplet``       query, positive, negative (one row per positive x negative)
``n-tuple``       query, positive, negative_1 ... negative_n (rows with all n negatives only, as
                  there; n = the largest count). ``pad=True`` keeps every row with at least one
                  negative and fills the missing ones with ``None`` (the kit's losses skip them)
``labeled-pair``  query, positive (any document), label (1 / 0)
``labeled-list``  query, positive (list: positives then negatives), labels
================  ============================================================================

``output_scores`` adds ``scores`` (``score`` for labeled-pair, replacing ``label``; random
negatives have no score: ``nan``). Texts: the query text and the passage text as the retrievers
index it (:func:`hardneg_kit.corpus.passage_text`).

Example:
    >>> to_dataset(result, data, "n-tuple").column_names  # doctest: +SKIP
    ['query', 'positive', 'negative_1', 'negative_2']
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hardneg_kit.errors import MiningError
from hardneg_kit.mining.inputs import prepare
from hardneg_kit.mining.results import MiningResult

logger = logging.getLogger("hardneg_kit.mining")

#: output formats of :func:`to_dataset`, named as in ``mine_hard_negatives``
FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")


@dataclass
class _Texts:
    """Query and passage texts by id, and the two column names."""

    query: dict[str, str]
    passage: Callable[[str], str]
    anchor: str
    positive: str


def _score(x: float | None) -> float:
    return math.nan if x is None else float(x)


def triplet_columns(result: MiningResult, t: _Texts, output_scores: bool) -> dict[str, list]:
    """``triplet``: one row per (positive, negative) of each query."""
    a, p = t.anchor, t.positive
    cols: dict[str, list] = {a: [], p: [], "negative": []}
    for r in result.rows:
        for pid, ps in zip(r.positive_ids, r.positive_scores, strict=True):
            for nid, ns in zip(r.negative_ids, r.scores, strict=True):
                cols[a].append(t.query[r.query_id])
                cols[p].append(t.passage(pid))
                cols["negative"].append(t.passage(nid))
                if output_scores:
                    cols.setdefault("scores", []).append([_score(ps), _score(ns)])
    return cols


def n_tuple_columns(
    result: MiningResult, t: _Texts, output_scores: bool, pad: bool = False
) -> dict[str, list]:
    """``n-tuple``: one row per positive with all n negatives (``pad``: missing ones ``None``)."""
    a, p = t.anchor, t.positive
    cols: dict[str, list] = {a: [], p: []}
    n = max((len(r.negative_ids) for r in result.rows), default=0)
    for i in range(1, n + 1):
        cols[f"negative_{i}"] = []
    dropped = 0
    for r in result.rows:
        if len(r.negative_ids) < n and not (pad and r.negative_ids):
            dropped += 1
            continue
        missing = n - len(r.negative_ids)
        for pid, ps in zip(r.positive_ids, r.positive_scores, strict=True):
            cols[a].append(t.query[r.query_id])
            cols[p].append(t.passage(pid))
            for i, nid in enumerate([*r.negative_ids, *[None] * missing], start=1):
                cols[f"negative_{i}"].append(None if nid is None else t.passage(nid))
            if output_scores:
                scores = [_score(ps)] + [_score(s) for s in r.scores] + [math.nan] * missing
                cols.setdefault("scores", []).append(scores)
    if dropped:
        logger.info("n-tuple: %d queries with %s negatives left out", dropped,
                    "no" if pad else f"fewer than {n}")
    return cols


def labeled_pair_columns(
    result: MiningResult, t: _Texts, output_scores: bool
) -> dict[str, list]:
    """``labeled-pair``: one row per (query, document), label 1 or 0 (or its score)."""
    a, p = t.anchor, t.positive
    key = "score" if output_scores else "label"
    cols: dict[str, list] = {a: [], p: [], key: []}
    for r in result.rows:
        pairs = [(d, s, 1) for d, s in zip(r.positive_ids, r.positive_scores, strict=True)]
        pairs += [(d, s, 0) for d, s in zip(r.negative_ids, r.scores, strict=True)]
        for doc, s, label in pairs:
            cols[a].append(t.query[r.query_id])
            cols[p].append(t.passage(doc))
            cols[key].append(_score(s) if output_scores else label)
    return cols


def labeled_list_columns(
    result: MiningResult, t: _Texts, output_scores: bool
) -> dict[str, list]:
    """``labeled-list``: one list per (query, positive), as ``mine_hard_negatives`` builds it."""
    a, p = t.anchor, t.positive
    key = "scores" if output_scores else "labels"
    cols: dict[str, list] = {a: [], p: [], key: []}
    for r in result.rows:
        for pid, ps in zip(r.positive_ids, r.positive_scores, strict=True):
            cols[a].append(t.query[r.query_id])
            cols[p].append([t.passage(pid)] + [t.passage(n) for n in r.negative_ids])
            cols[key].append(
                [_score(ps)] + [_score(s) for s in r.scores]
                if output_scores
                else [1] + [0] * len(r.negative_ids)
            )
    return cols


def to_dataset(
    result: MiningResult,
    data: Any,
    format: str = "triplet",
    *,
    output_scores: bool = False,
    anchor_column: str = "query",
    positive_column: str = "positive",
    pad: bool = False,
):
    """The negatives as a ``datasets.Dataset`` in a ``mine_hard_negatives`` output format.

    Args:
        result: what :func:`~hardneg_kit.mining.mine` returned (or ``read_jsonl`` read).
        data: the dataset it was mined from (or its prepared inputs), for the texts.
        format: ``triplet``, ``n-tuple``, ``labeled-pair`` or ``labeled-list`` (module
            docstring).
        output_scores: add the scores (``score`` replaces ``label`` for labeled-pair).
        anchor_column: the query column's name.
        positive_column: the positive column's name.
        pad: ``n-tuple`` only: keep rows with fewer negatives, filled with ``None``.

    Example:
        >>> to_dataset(result, data, "n-tuple").column_names  # doctest: +SKIP
        ['query', 'positive', 'negative_1', 'negative_2']
    """
    import datasets

    if format not in FORMATS:
        raise MiningError(f"Unknown format {format!r}; choose one of {', '.join(FORMATS)}.")
    inputs = prepare(data, result.params.get("split", "train"))
    texts = _Texts(
        query=dict(zip(inputs.query_ids, inputs.queries, strict=True)),
        passage=lambda doc: inputs.passages[inputs.doc_row[doc]],
        anchor=anchor_column,
        positive=positive_column,
    )
    if format == "n-tuple":
        cols = n_tuple_columns(result, texts, output_scores, pad=pad)
    else:
        cols = _BUILDERS[format](result, texts, output_scores)
    return datasets.Dataset.from_dict(cols)


_BUILDERS = {
    "triplet": triplet_columns,
    "labeled-pair": labeled_pair_columns,
    "labeled-list": labeled_list_columns,
}
