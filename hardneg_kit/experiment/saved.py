"""Saved results read back: the runs of a finished experiment, re-tested or re-read.

A results folder (:func:`hardneg_kit.experiment.write_results`) holds everything a comparison
needs: :func:`load_saved_runs` reads its ``results.json`` and TREC runs, :func:`saved_qrels` the
judgements of the queries it evaluated (from the dataset it names), :func:`load_tables` its
summary tables. :func:`compare_saved` re-tests the saved runs against another baseline with the
experiment's statistics, without training or re-ranking anything.

Example:
    >>> from hardneg_kit.experiment.saved import compare_saved
    >>> tables = compare_saved("results/full", "bm25", ["ensemble-pca"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hardneg_kit.corpus import load_beir, resolve_dataset
from hardneg_kit.errors import ExperimentError
from hardneg_kit.experiment.contenders import Contender
from hardneg_kit.experiment.summary import summarize


def read_payload(output_dir: str | Path) -> dict:
    """The ``results.json`` of a results folder, as a dict.

    Raises:
        FileNotFoundError: the folder holds no ``results.json`` (the message says how to make one).
    """
    path = Path(output_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run 'python -m hardneg_kit experiment' first.")
    return json.loads(path.read_text())


def load_tables(output_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The summary tables a run saved in ``results.json`` (dataset -> table, as :func:`summarize`).

    >>> verdict(load_tables("results/full")["aws-cli"], "bm25", "random")  # doctest: +SKIP
    """
    summary = read_payload(output_dir)["summary"]
    tables = {d: pd.DataFrame.from_dict(rows, orient="index") for d, rows in summary.items()}
    for table in tables.values():
        table.index.name = "contender"
    return tables


def load_saved_runs(output_dir: str | Path, names: Sequence[str] | None = None,
                    datasets: Sequence[str] | None = None,
                    ) -> tuple[dict, dict[str, dict[str, dict[int, Any]]]]:
    """Read what :func:`write_results` wrote: ``(results.json payload, dataset -> contender ->
    seed -> ranx Run)``, for the contender ``names`` and ``datasets`` given (default: all).

    >>> payload, runs = load_saved_runs("results/full")  # doctest: +SKIP
    """
    payload = read_payload(output_dir)
    return payload, saved_runs(output_dir, payload, names, datasets)


def saved_runs(output_dir: str | Path, payload: Mapping[str, Any],
               names: Sequence[str] | None = None, datasets: Sequence[str] | None = None,
               ) -> dict[str, dict[str, dict[int, Any]]]:
    """The TREC runs of a results folder whose ``results.json`` was read already
    (:func:`read_payload`): dataset -> contender -> seed -> ranx Run, for ``names`` and
    ``datasets`` (default: all)."""
    from hardneg_kit.retrievers import read_trec

    folder = Path(output_dir)
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
    return runs


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

    Same statistics as the experiment (:func:`summarize`: per-query metrics averaged over seeds,
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
        _, tables[d], _ = summarize(qrels, {n: by_contender[n] for n in wanted},
                                    metrics=payload["metrics"], baselines=(baseline,))
    return tables
