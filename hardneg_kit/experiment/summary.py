"""The statistics of one comparison: per-seed scores, the summary table, its paired tests.

:func:`summarize` evaluates every run once and derives everything from that: each seed's mean
metrics, the table's ``mean ± std`` over seeds, and paired t-tests over queries (each query's
metric averaged over seeds) against each baseline present, Holm-corrected over the rows of the
table, with 95% paired bootstrap intervals of the difference. :func:`format_table` turns the
table into the markdown columns of ``results.md``; :func:`verdict` reads one of its tests as a
sentence.

Example:
    >>> from hardneg_kit.experiment.summary import format_table, summarize
    >>> scores, table, tests = summarize(qrels, runs)  # doctest: +SKIP
    >>> print(format_table(table).loc["bm25", "mrr@10"])  # doctest: +SKIP
    0.652 ± 0.004
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from hardneg_kit.errors import ExperimentError
from hardneg_kit.experiment.contenders import BASELINE, EXPERIMENT_METRICS, FUSION
from hardneg_kit.statistics import eq_p, fmt_p


def summarize(qrels, runs: Mapping[str, Mapping[int, Any]],
              metrics: Sequence[str] = EXPERIMENT_METRICS,
              baselines: Sequence[str] = (BASELINE, FUSION)):
    """Per-seed scores, the summary table and the paired tests behind it.

    The table has, per contender: each metric's mean over seeds and ``<metric> std`` (sample std
    over seeds, ddof=1; NaN for one seed), ``seeds``, and per baseline ``b`` present in ``runs``
    and metric ``m``: ``<m> vs <b> delta``, ``... low``, ``... high`` (95% paired bootstrap
    interval), ``... p`` (Holm over the table's rows) and ``... p raw``. Tests are made on each
    query's metric averaged over seeds (:func:`hardneg_kit.statistics.compare`), n = queries.
    Every run is evaluated once (:func:`hardneg_kit.statistics.evaluate_seed`).

    Args:
        qrels: the judgements of the evaluated queries.
        runs: contender -> seed -> ranx Run.
        metrics: ranx metric names.
        baselines: the contenders every other one is tested against (those present in ``runs``).

    Returns:
        ``(scores, table, tests)``: contender -> seed -> metric -> value; the table; the
        :class:`~hardneg_kit.statistics.PairedTest` list.
    """
    from hardneg_kit.statistics import average_seeds, evaluate_seed, summarize_seeds

    evaluated = {name: {s: evaluate_seed(qrels, run, metrics) for s, run in by_seed.items()}
                 for name, by_seed in runs.items()}
    scores = {name: {s: {m: e.means[m] for m in metrics} for s, e in by_seed.items()}
              for name, by_seed in evaluated.items()}
    tables = {name: [e.per_query for e in by_seed.values()] for name, by_seed in evaluated.items()}
    table = pd.DataFrame.from_dict(
        {n: summarize_seeds(t, metrics) for n, t in tables.items()}, orient="index")
    per_query = {n: average_seeds(t) for n, t in tables.items()}
    tests = _add_tests(table, per_query, metrics, baselines)
    table.index.name = "contender"
    return scores, table, tests


def _add_tests(table: pd.DataFrame, per_query: Mapping[str, pd.DataFrame],
               metrics: Sequence[str], baselines: Sequence[str]) -> list:
    """Test every contender against each baseline present; write the results into ``table``."""
    from hardneg_kit.statistics import compare_tables

    tests = []
    for b in (b for b in baselines if b in per_query and len(per_query) > 1):
        for t in compare_tables(per_query, b, metrics):
            tests.append(t)
            col = f"{t.metric} vs {b}"
            for suffix, value in (("delta", t.delta), ("low", t.ci_low), ("high", t.ci_high),
                                  ("p", t.p_holm), ("p raw", t.p)):
                table.loc[t.contender, f"{col} {suffix}"] = value
    return tests


def _baseline_label(name: str) -> str:
    return "fusion" if name == FUSION else name


def format_table(table: pd.DataFrame, metrics: Sequence[str] = EXPERIMENT_METRICS,
                 metric: str = "mrr@10") -> pd.DataFrame:
    """``mean ± std`` per metric (± only with several seeds), then for ``metric`` and each
    baseline of the table: ``Δ [95% CI]`` (``*`` where Holm p < 0.05) and the Holm p-value."""
    out = pd.DataFrame(index=table.index)
    for m in metrics:
        out[m] = [f"{row[m]:.3f}" + (f" ± {row[f'{m} std']:.3f}" if row["seeds"] > 1 else "")
                  for _, row in table.iterrows()]
    prefix = f"{metric} vs "
    baselines = dict.fromkeys(c[len(prefix):-len(" delta")] for c in table.columns
                              if c.startswith(prefix) and c.endswith(" delta"))
    for b in baselines:
        col, label = f"{metric} vs {b}", _baseline_label(b)
        cells, ps = [], []
        for _, row in table.iterrows():
            p = row.get(f"{col} p", np.nan)
            if pd.isna(p):
                cells.append("")
                ps.append("")
                continue
            star = " *" if p < 0.05 else ""
            cells.append(f"{row[f'{col} delta']:+.3f} [{row[f'{col} low']:+.3f}, "
                         f"{row[f'{col} high']:+.3f}]{star}")
            ps.append(fmt_p(p))
        out[f"Δ {metric} vs {label} [95% CI]"] = cells
        out[f"p vs {label}"] = ps
    return out


def verdict(table: pd.DataFrame, contender: str, baseline: str, metric: str = "mrr@10") -> str:
    """One sentence computed from a summary table: how ``contender`` compares with ``baseline``.

    Needs the table's paired test of the two (:func:`summarize` tests against ``random`` and the
    fused first stage; :func:`compare_saved` against any contender).

    >>> verdict(result.tables["aws-cli"], "bm25", "random")  # doctest: +SKIP
    'bm25: MRR@10 0.652 vs 0.631 for random (Δ +0.021, 95% CI [+0.008, +0.034], Holm p = 0.012):
    significantly better.'
    """
    col = f"{metric} vs {baseline}"
    if f"{col} delta" not in table or pd.isna(table.loc[contender].get(f"{col} p", np.nan)):
        raise ExperimentError(f"The table holds no test of {contender!r} against {baseline!r}; use "
                         f"compare_saved(..., baseline={baseline!r}).")
    row = table.loc[contender]
    p = row[f"{col} p"]
    reading = ("not a significant difference" if p >= 0.05 else
               "significantly " + ("better" if row[f"{col} delta"] > 0 else "worse"))
    return (f"{contender}: {metric.upper()} {row[metric]:.3f} vs {table.loc[baseline, metric]:.3f}"
            f" for {_baseline_label(baseline)} (Δ {row[f'{col} delta']:+.3f}, 95% CI "
            f"[{row[f'{col} low']:+.3f}, {row[f'{col} high']:+.3f}], Holm p {eq_p(p)}): "
            f"{reading}.")
