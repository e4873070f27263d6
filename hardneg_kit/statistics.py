"""Statistics in which a query counts once, however many seeds a contender was trained with.

The unit of evaluation is the query. A contender trained with several seeds has one run per seed,
so one metric value per (seed, query); treating those pairs as independent observations (stacking
the seeds) multiplies the sample size by the number of seeds and makes p-values too small. Here:

- :func:`per_query` gives one value per qrels query: the metric of each seed's run, averaged over
  the seeds. A query the run does not contain scores 0 (a miss); a run given for one seed only
  (a first-stage retriever, an untrained model) stands for itself.
- :func:`paired_test` pairs a baseline's and a contender's per-query values: the mean difference
  (contender - baseline), its percentile bootstrap interval (:func:`bootstrap_ci`, queries
  resampled with replacement) and a two-sided paired t-test (``scipy.stats.ttest_rel``), with
  ``n`` the number of queries.
- :func:`compare` runs :func:`paired_test` for every contender against one baseline and metric, and
  corrects each metric's p-values over the contenders compared with Holm-Bonferroni
  (:func:`holm`).
- :func:`seed_summary` describes the spread over seeds instead: the mean of the per-seed means and
  their sample standard deviation (``ddof=1``), which is what ``mean ± std`` reports.
- :func:`evaluate_seed` evaluates one run once; :func:`average_seeds`, :func:`compare_tables` and
  :func:`summarize_seeds` are the three above computed from such tables, so that a caller who
  needs all of them (:func:`hardneg_kit.experiment.summarize`) evaluates each run only once.

Example:
    >>> from hardneg_kit.statistics import compare, seed_summary
    >>> runs = {"random": {0: r0, 1: r1}, "ensemble": {0: e0, 1: e1}}  # doctest: +SKIP
    >>> tests = compare(qrels, runs, baseline="random", metrics=["mrr@10"])  # doctest: +SKIP
    >>> tests[0].delta, tests[0].ci_low, tests[0].ci_high, tests[0].p_holm  # doctest: +SKIP
    (0.031, 0.012, 0.049, 0.0021)
    >>> seed_summary(qrels, runs["ensemble"], ["mrr@10"])  # doctest: +SKIP
    {'mrr@10': 0.452, 'mrr@10 std': 0.006, 'seeds': 2}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hardneg_kit.errors import EvaluationError
from hardneg_kit.evaluation import complete_run

if TYPE_CHECKING:
    from ranx import Qrels, Run

#: resampled index cells drawn at once by :func:`bootstrap_ci` (8 MiB of int64)
_BOOTSTRAP_CELLS = 1 << 20


# --------------------------------------------------------------------------- per-query values


def per_query(qrels: Qrels, runs: Mapping[int, Run], metric: str) -> pd.Series:
    """The metric of each qrels query, averaged over the seeds' runs.

    Args:
        qrels: the judgements; every one of its queries gets a value.
        runs: seed -> run. Queries missing from a run score 0 there, queries outside the qrels
            are ignored (:func:`hardneg_kit.evaluation.complete_run`). One seed stands for itself.
        metric: a ranx metric name, e.g. ``"mrr@10"``.

    Returns:
        A float Series indexed by query id (sorted, index name ``query``), named ``metric``.

    Example:
        >>> from ranx import Qrels, Run
        >>> qrels = Qrels({"q1": {"d1": 1}, "q2": {"d2": 1}})
        >>> runs = {0: Run({"q1": {"d1": 1.0}}), 1: Run({"q1": {"d9": 1.0}})}
        >>> per_query(qrels, runs, "mrr@10").to_dict()
        {'q1': 0.5, 'q2': 0.0}
    """
    return _per_query_table(qrels, runs, [metric])[metric]


def _per_query_table(qrels: Qrels, runs: Mapping[int, Run], metrics: Sequence[str]) -> pd.DataFrame:
    """Queries x metrics, each value averaged over the seeds' runs."""
    if not runs:
        raise EvaluationError("No runs given: per-query values need at least one seed's run.")
    return average_seeds([_seed_table(qrels, run, metrics) for run in runs.values()])


def average_seeds(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Seed tables (queries x metrics, sorted by query id) -> each value averaged over seeds."""
    return sum(tables[1:], tables[0]) / len(tables)


@dataclass(frozen=True)
class SeedScores:
    """One seed's run evaluated once: what every table and test of it is computed from."""

    #: queries x metrics (missing queries score 0), rows sorted by query id
    per_query: pd.DataFrame
    #: metric -> mean over the queries, bit for bit ranx's ``evaluate`` (same order of summation)
    means: dict[str, float]


def evaluate_seed(qrels: Qrels, run: Run, metrics: Sequence[str]) -> SeedScores:
    """Evaluate one run once: its per-query values and its mean metrics.

    Example:
        >>> from ranx import Qrels, Run
        >>> scores = evaluate_seed(Qrels({"q1": {"d1": 1}}), Run({"q1": {"d1": 1.0}}), ["mrr@10"])
        >>> scores.means
        {'mrr@10': 1.0}
    """
    table = _ranx_table(qrels, run, metrics)
    means = {m: float(np.mean(table[m].to_numpy())) for m in table.columns}
    return SeedScores(table.sort_index(), means)


def _seed_table(qrels: Qrels, run: Run, metrics: Sequence[str]) -> pd.DataFrame:
    """Queries x metrics of one run (missing queries score 0), rows sorted by query id."""
    return _ranx_table(qrels, run, metrics).sort_index()


def _ranx_table(qrels: Qrels, run: Run, metrics: Sequence[str]) -> pd.DataFrame:
    """Queries x metrics of one run (missing queries score 0), in the order ranx evaluated."""
    from ranx import evaluate

    if len(qrels.keys()) == 0:
        raise EvaluationError("The qrels hold no queries; nothing to evaluate.")
    metrics = list(dict.fromkeys(metrics))
    run = complete_run(run, qrels)
    # ranx 0.3.21 raises KeyError for one "<metric>@k" with return_mean=False: ask for two
    asked = metrics if len(metrics) > 1 else metrics * 2
    scores = evaluate(qrels, run, asked, return_mean=False, save_results_in_run=False)
    index = pd.Index(run.get_query_ids(), name="query")  # the order ranx evaluated in
    return pd.DataFrame({m: np.asarray(scores[m], dtype=float) for m in metrics}, index=index)


# --------------------------------------------------------------------------- tests


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN.

    Args:
        p_values: name -> raw p-value of each hypothesis of one family.

    Returns:
        name -> adjusted p-value, in the order given (rounded to 12 decimals).

    Example:
        >>> holm({"a": 0.01, "b": 0.04, "c": 0.03})
        {'a': 0.03, 'b': 0.06, 'c': 0.06}
    """
    items = sorted((p, k) for k, p in p_values.items() if not np.isnan(p))
    m, running, out = len(items), 0.0, {}
    for i, (p, k) in enumerate(items):
        running = max(running, min(1.0, (m - i) * p))
        out[k] = round(running, 12)
    return {k: out.get(k, float("nan")) for k in p_values}


def bootstrap_ci(
    diff: np.ndarray, n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired per-query differences.

    Queries are resampled with replacement (``numpy.random.default_rng(seed)``), in chunks of
    about a million indices, so 10,000 resamples of 1,500 queries take well under a second and
    little memory. The same inputs and seed give the same interval.

    Args:
        diff: one difference per query (contender - baseline), 1-D.
        n_resamples: bootstrap resamples.
        confidence: coverage of the interval, in (0, 1).
        seed: seeds the resampling.

    Returns:
        ``(low, high)``: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of
        the resampled means.

    Example:
        >>> low, high = bootstrap_ci(np.array([0.0, 0.5, 1.0, 0.5]), seed=0)
        >>> bool(low <= 0.5 <= high)
        True
    """
    diff = np.asarray(diff, dtype=float)
    if diff.ndim != 1 or diff.size == 0:
        raise EvaluationError(f"bootstrap_ci needs a non-empty 1-D array, got shape {diff.shape}.")
    if not 0 < confidence < 1:
        raise EvaluationError(f"confidence must lie in (0, 1), got {confidence}.")
    if n_resamples < 1:
        raise EvaluationError(f"n_resamples must be at least 1, got {n_resamples}.")
    rng = np.random.default_rng(seed)
    n = diff.size
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        means[start:stop] = diff[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedTest:
    """A contender against a baseline on one metric, over the same queries.

    ``delta`` is ``mean_contender - mean_baseline``; ``ci_low`` and ``ci_high`` bound it
    (percentile bootstrap over queries); ``p`` is the two-sided paired t-test's p-value (1.0 when
    every difference is 0, 0.0 when every difference is the same non-zero value, NaN with fewer
    than two queries); ``p_holm`` is ``p`` corrected with Holm over the contenders of one
    :func:`compare` call (NaN until then).
    """

    metric: str
    baseline: str
    contender: str
    n: int
    mean_baseline: float
    mean_contender: float
    delta: float
    ci_low: float
    ci_high: float
    p: float
    p_holm: float = float("nan")


def paired_test(
    baseline: pd.Series,
    contender: pd.Series,
    metric: str = "",
    baseline_name: str = "baseline",
    contender_name: str = "contender",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedTest:
    """Paired comparison of two per-query Series (from :func:`per_query`), aligned on query id.

    Args:
        baseline, contender: one value per query, indexed by query id; the indexes must hold
            the same ids (in any order).
        metric, baseline_name, contender_name: labels copied into the result.
        n_resamples, confidence, seed: the bootstrap interval (:func:`bootstrap_ci`).

    Returns:
        A :class:`PairedTest` with ``n`` the number of queries. ``p`` comes from
        ``scipy.stats.ttest_rel`` (two-sided); without spread in the differences (where scipy
        gives NaN or warns) it is 1.0 when they are all 0 and 0.0 when they all equal one
        non-zero value.

    Raises:
        ValueError: empty Series, duplicated ids, or ids in one index but not the other (named).

    Example:
        >>> a = pd.Series([0.0, 0.5, 1.0], index=["q1", "q2", "q3"])
        >>> b = pd.Series([1.0, 0.5, 1.0], index=["q3", "q2", "q1"])
        >>> t = paired_test(a, b, "mrr@10")
        >>> t.n, round(t.delta, 3)
        (3, 0.333)
    """
    _check_same_queries(baseline, contender)
    base = baseline.astype(float)
    other = contender.astype(float).reindex(base.index)
    diff = (other - base).to_numpy()
    low, high = bootstrap_ci(diff, n_resamples, confidence, seed)
    return PairedTest(
        metric=metric,
        baseline=baseline_name,
        contender=contender_name,
        n=len(diff),
        mean_baseline=float(base.mean()),
        mean_contender=float(other.mean()),
        delta=float(diff.mean()),
        ci_low=low,
        ci_high=high,
        p=_paired_t_p(base.to_numpy(), other.to_numpy()),
    )


def _check_same_queries(baseline: pd.Series, contender: pd.Series) -> None:
    if len(baseline) == 0 or len(contender) == 0:
        raise EvaluationError("paired_test needs at least one query in each Series.")
    for label, series in (("baseline", baseline), ("contender", contender)):
        if series.index.has_duplicates:
            dup = sorted(map(str, series.index[series.index.duplicated()].unique()))
            raise EvaluationError(f"Duplicated query ids in the {label}: {_few(dup)}.")
    only_base = sorted(map(str, baseline.index.difference(contender.index)))
    only_other = sorted(map(str, contender.index.difference(baseline.index)))
    if only_base or only_other:
        raise EvaluationError(
            f"The query ids differ: missing from the contender: {_few(only_base)}; "
            f"missing from the baseline: {_few(only_other)}."
        )


def _few(ids: Sequence[str], shown: int = 10) -> str:
    if not ids:
        return "none"
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def _paired_t_p(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ttest_rel

    diff = b - a
    if len(diff) < 2:
        return float("nan")
    if np.ptp(diff) == 0:  # no spread: t is 0 (every difference 0) or infinite
        return 1.0 if diff[0] == 0 else 0.0
    return float(ttest_rel(b, a).pvalue)


def compare(
    qrels: Qrels,
    runs: Mapping[str, Mapping[int, Run]],
    baseline: str,
    metrics: Sequence[str],
    contenders: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[PairedTest]:
    """Every contender against ``baseline``: per-query values averaged over seeds, paired tests.

    Args:
        qrels: the judgements; its queries are the sample (``n`` of every test).
        runs: contender name -> seed -> run (:func:`per_query` semantics).
        baseline: the name in ``runs`` that every contender is compared with.
        metrics: ranx metric names.
        contenders: names to compare (default: every name in ``runs`` but the baseline, in
            order); the baseline itself is skipped if listed.
        n_resamples, confidence, seed: the bootstrap intervals (:func:`bootstrap_ci`).

    Returns:
        One :class:`PairedTest` per metric and contender (metric by metric, contenders in
        order), ``p_holm`` corrected over the contenders of that metric.

    Example:
        >>> tests = compare(qrels, runs, "random", ["mrr@10", "ndcg@10"])  # doctest: +SKIP
        >>> [(t.metric, t.contender, t.p_holm) for t in tests]  # doctest: +SKIP
    """
    names = _contenders(runs, baseline, contenders)
    tables = {n: _per_query_table(qrels, runs[n], metrics) for n in [baseline, *names]}
    return compare_tables(tables, baseline, metrics, names, n_resamples, confidence, seed)


def compare_tables(tables: Mapping[str, pd.DataFrame], baseline: str, metrics: Sequence[str],
                   contenders: Sequence[str] | None = None, n_resamples: int = 10_000,
                   confidence: float = 0.95, seed: int = 0) -> list[PairedTest]:
    """:func:`compare` on per-query values computed already (name -> :func:`average_seeds`
    table), so that a caller who evaluated every run once tests them without evaluating again.
    """
    names = _contenders(tables, baseline, contenders)
    out: list[PairedTest] = []
    for metric in metrics:
        base = tables[baseline][metric]
        tests = [
            paired_test(base, tables[n][metric], metric, baseline, n, n_resamples, confidence, seed)
            for n in names
        ]
        adjusted = holm({t.contender: t.p for t in tests})
        out += [dataclasses.replace(t, p_holm=adjusted[t.contender]) for t in tests]
    return out


def _contenders(
    runs: Mapping[str, object], baseline: str, contenders: Sequence[str] | None
) -> list[str]:
    if baseline not in runs:
        raise EvaluationError(f"Baseline {baseline!r} is not among the runs: {', '.join(runs)}.")
    names = [n for n in (runs if contenders is None else contenders) if n != baseline]
    unknown = [n for n in names if n not in runs]
    if unknown:
        raise EvaluationError(
            f"Unknown contenders {', '.join(map(repr, unknown))}: not in the runs."
        )
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------- spread over seeds


def seed_summary(
    qrels: Qrels, runs_by_seed: Mapping[int, Run], metrics: Sequence[str]
) -> dict[str, float | int]:
    """Mean over seeds of each seed's mean metric, and the spread of those means.

    ``mean ± std`` built from this reads: ± is the sample standard deviation (``ddof=1``) of the
    per-seed means, i.e. how much a result moves with the training seed (not a confidence
    interval of the mean). Every qrels query counts in every seed's mean (misses score 0), so the
    mean equals the mean of :func:`per_query`.

    Args:
        qrels: the judgements.
        runs_by_seed: seed -> run.
        metrics: ranx metric names.

    Returns:
        ``{metric: mean, f"{metric} std": std, ..., "seeds": number of seeds}``; the std is NaN
        for a single seed.

    Example:
        >>> from ranx import Qrels, Run
        >>> qrels = Qrels({"q1": {"d1": 1}})
        >>> runs = {0: Run({"q1": {"d1": 1.0}}), 1: Run({"q1": {"d9": 1.0}})}
        >>> summary = seed_summary(qrels, runs, ["mrr@10"])
        >>> summary["mrr@10"], round(summary["mrr@10 std"], 4), summary["seeds"]
        (0.5, 0.7071, 2)
    """
    if not runs_by_seed:
        raise EvaluationError("No runs given: a seed summary needs at least one seed's run.")
    return summarize_seeds([_seed_table(qrels, r, metrics) for r in runs_by_seed.values()],
                           metrics)


def summarize_seeds(tables: Sequence[pd.DataFrame], metrics: Sequence[str]
                    ) -> dict[str, float | int]:
    """:func:`seed_summary` of seed tables computed already (queries x metrics, one per seed)."""
    metrics = list(dict.fromkeys(metrics))
    means = pd.DataFrame([table.mean() for table in tables])
    out: dict[str, float | int] = {}
    for m in metrics:
        out[m] = float(means[m].mean())
        out[f"{m} std"] = float(means[m].std(ddof=1)) if len(means) > 1 else float("nan")
    out["seeds"] = len(means)
    return out


def fmt_p(p: float) -> str:
    """A p-value for reading: two significant digits, ``< 1e-12`` below that (a t-test's
    p-value underflows to 0 long before it means anything more).

    >>> fmt_p(3e-15), fmt_p(0.0123), fmt_p(float("nan"))
    ('< 1e-12', '0.012', 'n/a')
    """
    return "n/a" if pd.isna(p) else ("< 1e-12" if p < 1e-12 else f"{p:.2g}")


def eq_p(p: float) -> str:
    """A p-value after "p": ``= 0.012``, or ``< 1e-12`` (no "=" before a bound)."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"
