"""The notebooks' thread: the contenders they follow, the data and the mining call they share
with the experiment, and what a training run's budget was.

Notebooks 03-05 mine, train and evaluate four contenders (:func:`notebook_contenders`) with the
exact data and mining call of :func:`hardneg_kit.experiment.train_contender`
(:func:`training_data`, :func:`mine_for_training`), so what a learner sees is what the
experiment trains on; :func:`budget_readings` and :func:`budget_sentence` say how equal the
budgets were.

Example:
    >>> from hardneg_kit.readings import notebook_contenders
    >>> [c.name for c in notebook_contenders()][-3:]
    ['bm25', 'ensemble-pca', 'ensemble-pca + filter 0.95']
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from hardneg_kit.experiment import TRAIN_DATASET, Contender, select_contenders
from hardneg_kit.profiles import Profile

#: the published rule: the two conditions in the PCA space of the concatenated embeddings
PUBLISHED = "ensemble-pca"
#: the kit's best reading of it: the same space with NV-Retriever's positive-aware filter
FILTERED = "ensemble-pca + filter 0.95"
#: what notebooks 04 and 05 train besides ``random`` (always kept, with the base and fusion)
NOTEBOOK_CONTENDERS = ("bm25", PUBLISHED, FILTERED)


def notebook_contenders() -> list[Contender]:
    """The notebooks' contenders in table order: the fused first stage, the base, and four
    fine-tuned models (random, bm25, the published rule, the filtered ensemble)."""
    return select_contenders(list(NOTEBOOK_CONTENDERS))


def trained_contenders() -> list[Contender]:
    """The four contenders that are fine-tuned (mined negatives), in table order."""
    return [c for c in notebook_contenders() if c.kind == "mined"]


def training_data(profile: Profile):
    """The training dataset exactly as the experiment samples it.

    :func:`hardneg_kit.experiment.sampled_dataset`: ``aws-cli`` with its ``train`` and ``test``
    splits (test capped at the evaluated queries); the positives of those queries decide which
    passages the corpus sample keeps, so mining on any other sample (e.g. ``load_dataset``, which
    also samples ``dev``) gives other negatives. For notebook 03.
    """
    from hardneg_kit.experiment import sampled_dataset

    return sampled_dataset(TRAIN_DATASET, profile)


def mine_for_training(contender: Contender, data: Any, profile: Profile, seed: int = 0):
    """The contender's negatives, mined with the very call of
    :func:`hardneg_kit.experiment.training_dataset` (same strategy, parameters, number of
    negatives and seed); ``data`` may be prepared :class:`~hardneg_kit.mining.MiningInputs`."""
    from hardneg_kit.mining import mine

    if contender.kind != "mined":
        raise ValueError(f"{contender.name} is a {contender.kind} contender: nothing is mined.")
    return mine(data, "train", contender.spec, num_negatives=profile.num_negatives, seed=seed,
                **dict(contender.params))


def negatives_fingerprint(result) -> str:
    """12 hex characters that change whenever any query's negatives change (ids and order)."""
    rows = sorted((r.query_id, tuple(r.negative_ids)) for r in result.rows)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:12]


def training_examples(datasets: Mapping[str, Any], query: str | None = None,
                      width: int = 70) -> pd.DataFrame:
    """One training row of each kind, for the same query: columns are the contenders, rows the
    query, the positive and each negative (texts cut to ``width`` characters).

    ``datasets`` maps a contender to its n-tuple rows (a ``datasets.Dataset`` or a list of
    dicts with ``query``, ``positive``, ``negative_1`` ...). ``query`` defaults to the first
    query that every contender has a row for.
    """
    rows = {name: (ds.to_list() if hasattr(ds, "to_list") else list(ds))
            for name, ds in datasets.items()}
    by_query = {name: {r["query"]: r for r in rs} for name, rs in rows.items()}
    if query is None:
        first = next(iter(rows.values()), [])
        query = next((r["query"] for r in first
                      if all(r["query"] in bq for bq in by_query.values())), None)
        if query is None:
            raise ValueError("No query has a training row in every contender.")

    def cut(t):
        return "" if t is None else (t if len(t) <= width else t[: width - 1] + "…")

    keys = ["query", "positive"] + sorted(
        {k for bq in by_query.values() for k in bq.get(query, {}) if k.startswith("negative")},
        key=lambda k: int(k.rpartition("_")[2] or 0))
    table = pd.DataFrame({name: [cut(bq.get(query, {}).get(k)) for k in keys]
                          for name, bq in by_query.items()}, index=keys)
    return table


def budget_readings(logs: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per contender (a training log, ``TrainResult.to_json()``): unique rows, rows trained, how
    often each unique row was seen on average, steps and pairs scored."""
    out = {}
    for name, log in logs.items():
        unique = log["config"].get("unique_rows", log["train_rows"])
        out[name] = {"unique rows": unique, "rows trained": log["train_rows"],
                     "times each row is seen": round(log["train_rows"] / unique, 2),
                     "steps": log["steps"], "pairs scored": log["pairs_seen"],
                     "training s": round(log["wall_time_s"])}
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "contender"
    return table


def budget_sentence(budget: pd.DataFrame) -> str:
    """What :func:`budget_readings` says, in words: the shared steps and who repeats rows."""
    steps = sorted(set(budget["steps"]))
    same = f"every contender took {steps[0]} optimizer steps" if len(steps) == 1 else (
        f"the contenders took {', '.join(map(str, steps))} optimizer steps")
    repeated = budget[budget["times each row is seen"] > 1.0]
    if repeated.empty:
        return f"In your run {same}, each on distinct rows."
    parts = [f"`{n}` had {int(r['unique rows'])} unique rows, each seen "
             f"{r['times each row is seen']:.1f}x on average" for n, r in repeated.iterrows()]
    return (f"In your run {same} on {int(budget['rows trained'].max())} rows; "
            + "; ".join(parts) + ". The budget is equal in steps and pairs, not in distinct "
            "examples.")
