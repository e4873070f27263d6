"""The reference run beside the learner's: what it found, which findings a run reproduces, and
why their numbers differ.

The reference is the saved run of the ``full`` profile (:data:`REFERENCE_DIR`):
:func:`load_reference` reads its runs of some contenders, :func:`reference_agreement` tests
every pair in a saved run and in the reference and reads them side by side, and
:func:`why_they_differ` and :func:`side_by_side` show the two profiles and the two tables.

Example:
    >>> from hardneg_kit.readings import reference_agreement
    >>> dataset, table = reference_agreement("results/workshop-check",
    ...                                      "results/full")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hardneg_kit.experiment import (
    FUSION,
    TRAIN_DATASET,
    read_payload,
    saved_qrels,
    saved_runs,
)
from hardneg_kit.profiles import Profile
from hardneg_kit.readings.pairs import agreement, pairwise_tests
from hardneg_kit.readings.text import ALPHA

#: the reference run, relative to the repository root
REFERENCE_DIR = "results/full"


def load_reference(output_dir: str | Path, names: Sequence[str],
                   dataset: str = TRAIN_DATASET) -> tuple[dict, Any, dict[str, dict[int, Any]]]:
    """The saved reference run: ``(results.json payload, qrels of its evaluated queries,
    contender -> seed -> run)`` for ``names`` only (read from its TREC files)."""
    payload = read_payload(output_dir)
    return (payload, *_saved(output_dir, payload, names, dataset))


def _saved(output_dir: str | Path, payload: Mapping[str, Any], names: Sequence[str],
           dataset: str) -> tuple[Any, dict[str, dict[int, Any]]]:
    """(qrels, contender -> seed -> run) of ``dataset`` in a results folder already read."""
    runs = saved_runs(output_dir, payload, names, [dataset])[dataset]
    return saved_qrels(payload, dataset, runs), runs


def reference_agreement(output_dir: str | Path, reference_dir: str | Path,
                        names: Sequence[str] | None = None, dataset: str | None = None,
                        metric: str = "mrr@10") -> tuple[str, pd.DataFrame]:
    """Which orderings of the reference run does a saved run reproduce? Every pair of
    ``names`` (default: the contenders both runs share, first stages other than fusion and
    interpolated rows left out) tested in each run from its TREC files
    (:func:`pairwise_tests`) on ``dataset`` (default: the run's training dataset), then read side
    by side (:func:`agreement`). Each ``results.json`` is read once.

    Returns:
        ``(dataset, table)``: the dataset compared on and :func:`agreement`'s table.

    >>> dataset, table = reference_agreement("results/workshop-check",
    ...                                      "results/full")  # doctest: +SKIP
    """
    folders = (output_dir, reference_dir)
    payloads = [read_payload(f) for f in folders]
    dataset = dataset or payloads[0].get("train_dataset", TRAIN_DATASET)
    if names is None:
        kinds = [p["contenders"] for p in payloads]
        names = [n for n, k in kinds[0].items() if n in kinds[1] and k != "interpolated"
                 and (k != "first-stage" or n == FUSION)]
    yours, reference = (pairwise_tests(*_saved(f, p, names, dataset), names, metric)
                        for f, p in zip(folders, payloads, strict=True))
    return dataset, agreement(yours, reference)


def compare_with_reference(output_dir: str | Path, reference_dir: str | Path,
                           names: Sequence[str] | None = None, dataset: str | None = None,
                           metric: str = "mrr@10") -> pd.DataFrame:
    """:func:`reference_agreement`'s table alone.

    >>> compare_with_reference("results/workshop-check", "results/full")  # doctest: +SKIP
    """
    return reference_agreement(output_dir, reference_dir, names, dataset, metric)[1]


def why_they_differ(profile: Profile, payload: Mapping[str, Any],
                    sizes: Mapping[str, Mapping[str, int]] | None = None) -> pd.DataFrame:
    """Your profile beside the reference's, row by row: what makes their numbers differ.

    ``payload`` is the reference's ``results.json``; ``sizes`` your run's
    (``ExperimentResult.sizes``; without it the profile's caps are shown)."""
    ref = payload["profile"]
    ref_sizes = payload.get("sizes", {})
    sizes = sizes or {}

    def n(value):
        return "all" if value is None else f"{value:,}"

    def size(s, field, cap):
        return n(s.get(TRAIN_DATASET, {}).get(field, cap))

    rows = {
        "aws-cli passages": (size(sizes, "documents", profile.max_documents),
                             size(ref_sizes, "documents", ref["max_documents"])),
        "aws-cli test queries": (size(sizes, "queries", profile.eval_queries),
                                 size(ref_sizes, "queries", ref["eval_queries"])),
        "training queries (rows per contender)": (f"{n(profile.max_train_queries)} "
                                                  f"({profile.train_examples:,})",
                                                  f"{n(ref['max_train_queries'])} "
                                                  f"({ref['train_examples']:,})"),
        "base re-ranker pseudo-queries": (n(profile.base_examples), n(ref["base_examples"])),
        "negatives per row": (profile.num_negatives, ref["num_negatives"]),
        "cross-encoder layers": ("all" if profile.cross_encoder_layers is None
                                 else profile.cross_encoder_layers,
                                 "all" if ref["cross_encoder_layers"] is None
                                 else ref["cross_encoder_layers"]),
        "dev queries (choose w, best single model)": (n(profile.dev_queries),
                                                      n(ref["dev_queries"])),
        "seeds": (len(profile.seeds), len(ref["seeds"])),
    }
    table = pd.DataFrame(rows, index=[f"yours ({profile.name})",
                                      f"reference ({ref['name']})"]).T
    table["same?"] = ["yes" if str(a) == str(b) else "no"
                      for a, b in zip(table.iloc[:, 0], table.iloc[:, 1], strict=True)]
    return table


def side_by_side(yours: pd.DataFrame, reference: pd.DataFrame, rows: Sequence[str],
                 metric: str = "mrr@10") -> pd.DataFrame:
    """``metric`` and its difference from the fused first stage, yours beside the reference's,
    for ``rows`` (contender names of both summary tables)."""
    col = f"{metric} vs {FUSION}"
    out = {}
    for name in rows:
        cells = {}
        for who, table in (("yours", yours), ("reference", reference)):
            if name not in table.index:
                cells |= {f"{who} {metric}": "", f"{who} Δ vs fusion": ""}
                continue
            row = table.loc[name]
            p = row.get(f"{col} p", np.nan)
            delta = "" if pd.isna(p) else (f"{row[f'{col} delta']:+.3f}"
                                           + (" *" if p < ALPHA else ""))
            cells |= {f"{who} {metric}": f"{row[metric]:.3f}", f"{who} Δ vs fusion": delta}
        out[name] = cells
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "contender"
    return table
