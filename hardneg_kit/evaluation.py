"""Evaluate and compare runs with ranx: one table per split, misses counted, significance tests.

A query of the qrels that a run does not contain (a TREC file has no line for a query without
hits) counts as a miss: it scores 0 on every metric. ranx itself refuses runs whose query ids
differ from the qrels; :func:`complete_run` fixes that on a copy.

Example:
    >>> from hardneg_kit.evaluation import evaluate_runs, markdown_table
    >>> table = evaluate_runs(data.qrels_for("test"), {"bm25": bm25_run})  # doctest: +SKIP
    >>> print(markdown_table(table))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from hardneg_kit.errors import EvaluationError

if TYPE_CHECKING:
    import pandas as pd
    from ranx import Qrels, Report, Run

logger = logging.getLogger(__name__)

#: the retrieval metrics of ``evaluate`` and :func:`evaluate_runs` (the experiment reports its own)
RETRIEVAL_METRICS = ["mrr@3", "mrr@10", "ndcg@10", "recall@10", "recall@100"]

_warmed = False


def complete_run(run: Run, qrels: Qrels, name: str | None = None) -> Run:
    """``run`` made to hold exactly the qrels' queries: missing ones empty (misses), extras dropped.

    Adding empty results changes no metric, so that is done in place (ranx's
    ``make_comparable``); when the run holds queries outside the qrels, a trimmed copy is
    returned and ``run`` is left untouched.

    >>> from ranx import Qrels, Run
    >>> run = complete_run(Run({"q1": {"d1": 1.0}}), Qrels({"q1": {"d1": 1}, "q2": {"d2": 1}}))
    >>> sorted(run.keys()), len(run["q2"])
    (['q1', 'q2'], 0)
    """
    from ranx import Run

    wanted = set(qrels.keys())
    have = set(run.keys())
    label = name or run.name
    if have == wanted:
        return run
    missing, extra = len(wanted - have), len(have - wanted)
    if missing:
        logger.info(
            "Run %s: %d of %d queries have no results; counted as misses",
            label,
            missing,
            len(wanted),
        )
    if extra:
        logger.info("Run %s: %d queries not in the qrels are ignored", label, extra)
        kept = {q: dict(run[q]) for q in have & wanted if len(run[q])}
        run = Run(kept, name=run.name) if kept else Run(name=run.name)
    return run.make_comparable(qrels)


def _as_named(runs: Mapping[str, Run] | Sequence[Run]) -> dict[str, Run]:
    if isinstance(runs, Mapping):
        return dict(runs)
    named: dict[str, Run] = {}
    for i, run in enumerate(runs):
        name = run.name or f"run_{i + 1}"
        if name in named:
            name = f"{name}_{i + 1}"
        named[name] = run
    return named


def evaluate_runs(
    qrels: Qrels,
    runs: Mapping[str, Run] | Sequence[Run],
    metrics: Sequence[str] = RETRIEVAL_METRICS,
) -> pd.DataFrame:
    """Mean metrics per run: a DataFrame indexed by run name, one column per metric.

    Every qrels query counts (missing ones are misses), so runs are always comparable.

    >>> evaluate_runs(qrels, {"bm25": run}, ["mrr@10"])  # doctest: +SKIP
              mrr@10
    run
    bm25        0.42
    """
    import pandas as pd
    from ranx import evaluate

    if len(qrels.keys()) == 0:
        raise EvaluationError("The qrels hold no queries; nothing to evaluate.")
    rows = {}
    for name, run in _as_named(runs).items():
        scores = evaluate(qrels, complete_run(run, qrels, name), list(metrics))
        if isinstance(scores, float | int) or not isinstance(scores, dict):
            scores = {metrics[0]: scores}
        rows[name] = {m: float(scores[m]) for m in metrics}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(metrics))
    table.index.name = "run"
    return table


def compare_runs(
    qrels: Qrels,
    runs: Mapping[str, Run] | Sequence[Run],
    baseline: str | None = None,
    metrics: Sequence[str] = RETRIEVAL_METRICS,
    stat_test: str = "student",
    max_p: float = 0.05,
    n_permutations: int = 1000,
    random_seed: int = 42,
) -> Report:
    """Evaluate runs and test every pair for significance (ranx ``compare``).

    ``stat_test`` is ``"student"`` (paired t-test) or ``"fisher"`` (randomization test).
    Runs are named by their keys in ``runs`` (their ``name`` is set accordingly).
    ``baseline`` names the run listed first (``a`` in the report's superscripts). Print the
    report for ranx's table, or pass it to :func:`significance_table` for deltas and p-values
    against the baseline.

    >>> report = compare_runs(qrels, {"bm25": r1, "dense": r2}, baseline="bm25")  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    """
    from ranx import compare

    named = _as_named(runs)
    if len(named) < 2:
        raise EvaluationError("compare_runs needs at least two runs.")
    if baseline is not None:
        if baseline not in named:
            raise EvaluationError(
                f"Baseline {baseline!r} is not among the runs: {', '.join(named)}."
            )
        named = {baseline: named[baseline], **{k: v for k, v in named.items() if k != baseline}}
    if stat_test not in ("student", "fisher", "tukey"):
        raise EvaluationError(f"Unknown stat_test {stat_test!r}; use 'student' or 'fisher'.")
    completed = [complete_run(run, qrels, name) for name, run in named.items()]
    for name, run in zip(named, completed, strict=True):
        run.name = name  # the report and its tables name runs by the keys given here
    return compare(
        qrels,
        completed,
        list(metrics),
        stat_test=stat_test,
        max_p=max_p,
        n_permutations=n_permutations,
        random_seed=random_seed,
        rounding_digits=4,
    )


def significance_table(report: Report, baseline: str | None = None) -> pd.DataFrame:
    """Per run and metric: score, delta and p-value against ``baseline`` (default: first run).

    Columns are ``<metric>``, ``<metric> Δ``, ``<metric> p``; a ``*`` column lists the metrics
    significantly different from the baseline at the report's ``max_p``.
    """
    import pandas as pd

    names = list(report.model_names)
    base = baseline or names[0]
    if base not in names:
        raise EvaluationError(f"Baseline {base!r} is not in the report: {', '.join(names)}.")
    rows = {}
    for name in names:
        row: dict[str, object] = {}
        sig = []
        for m in report.metrics:
            score = report.results[name][m]
            row[m] = score
            if name == base:
                row[f"{m} Δ"], row[f"{m} p"] = 0.0, float("nan")
                continue
            comp = report.comparisons[(base, name)][m]
            row[f"{m} Δ"] = score - report.results[base][m]
            row[f"{m} p"] = float(comp["p_value"])
            if bool(comp["significant"]):
                sig.append(m)
        row["*"] = ", ".join(sig)
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "run"
    return table


def markdown_table(table: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table for notebooks and reports (no ``tabulate`` needed).

    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"mrr@10": [0.5]}, index=pd.Index(["bm25"], name="run"))))
    | run | mrr@10 |
    | --- | ---: |
    | bm25 | 0.500 |
    """
    import numpy as np

    head = [str(table.index.name or "")] + [str(c) for c in table.columns]
    from pandas.api.types import is_numeric_dtype

    numeric = [is_numeric_dtype(table[c].dtype) for c in table.columns]
    align = ["---"] + ["---:" if n else "---" for n in numeric]

    def cell(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for idx, *values in table.itertuples(name=None):  # keeps each column's dtype (ints stay ints)
        lines.append("| " + " | ".join([cell(idx)] + [cell(v) for v in values]) + " |")
    return "\n".join(lines)


def warm_up_ranx() -> None:
    """Compile ranx's numba kernels once on a toy run (seconds the first time, then cached).

    Call it at the start of a notebook so the first real evaluation is not mysteriously slow.
    """
    global _warmed
    if _warmed:
        return
    import time

    from ranx import Qrels, Run, fuse

    start = time.perf_counter()
    qrels = Qrels({"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}})
    a = Run({"q1": {"d1": 0.9, "d2": 0.5}, "q2": {"d1": 0.8, "d2": 0.7}, "q3": {}}, name="a")
    b = Run({"q1": {"d2": 0.9, "d1": 0.1}, "q2": {"d2": 0.3}, "q3": {"d3": 0.2}}, name="b")
    evaluate_runs(qrels, {"a": a, "b": b})
    for method in ("rrf", "sum", "mnz"):
        fuse([a, b], norm="min-max", method=method)
    compare_runs(qrels, {"a": a, "b": b}, metrics=["mrr@10"], stat_test="student")
    _warmed = True
    logger.info("ranx warmed up in %.1f s", time.perf_counter() - start)


def topk_overlap(runs: Mapping[str, Run], k: int = 10) -> pd.DataFrame:
    """Mean Jaccard similarity of the top-``k`` sets of every pair of runs (over shared queries).

    1 means two retrievers return the same documents; low values mean diverse candidates, which
    is what an ensemble needs.

    >>> topk_overlap({"bm25": bm25_run, "dense": dense_run}, k=10)  # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    names = list(runs)
    tops = {n: {q: _top(runs[n][q], k) for q in runs[n].keys()} for n in names}
    matrix = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            shared = tops[a].keys() & tops[b].keys()
            vals = [
                len(tops[a][q] & tops[b][q]) / len(tops[a][q] | tops[b][q])
                for q in shared
                if tops[a][q] | tops[b][q]
            ]
            matrix[i, j] = matrix[j, i] = float(np.mean(vals)) if vals else float("nan")
    return pd.DataFrame(matrix, index=names, columns=names)


def _top(hits: Mapping[str, float], k: int) -> set[str]:
    return {d for d, _ in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:k]}


def first_relevant_rank(run: Run, qrels: Qrels) -> dict[str, int | None]:
    """Rank (1-based) of the first relevant document per qrels query; ``None`` if not retrieved.

    >>> first_relevant_rank(run, qrels)["q1"]  # doctest: +SKIP
    3
    """
    out: dict[str, int | None] = {}
    for q in qrels.keys():
        relevant = {d for d, r in qrels[q].items() if r > 0}
        hits = run[q] if q in run.keys() else {}
        ranked = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))
        out[q] = next((i + 1 for i, (d, _) in enumerate(ranked) if d in relevant), None)
    return out


def disagreements(
    run_a: Run, run_b: Run, qrels: Qrels, good: int = 1, bad: int = 10
) -> list[tuple[str, int | None, int | None]]:
    """Queries that ``run_a`` answers at rank <= ``good`` while ``run_b`` ranks below ``bad``.

    Returns ``(query id, rank in a, rank in b)``; swap the runs for the other direction.

    >>> disagreements(bm25_run, dense_run, qrels)[:3]  # doctest: +SKIP
    [('ec2/create-tags#1', 1, 27), ...]
    """
    ra, rb = first_relevant_rank(run_a, qrels), first_relevant_rank(run_b, qrels)
    return [
        (q, ra[q], rb[q])
        for q in qrels.keys()
        if ra[q] is not None and ra[q] <= good and (rb[q] is None or rb[q] > bad)
    ]
