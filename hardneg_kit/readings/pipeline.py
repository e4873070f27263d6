"""The pipeline read stage by stage: what the first stage gives, and what each re-ranker adds,
alone and interpolated; where the protagonists rank; how often positives beat near-misses.

Example:
    >>> from hardneg_kit.readings import pipeline_sentence, pipeline_table
    >>> print(pipeline_sentence(pipeline_table(table, weights, 30)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hardneg_kit.experiment import BASE, FUSION, WITH_FIRST_STAGE
from hardneg_kit.readings.text import ALPHA
from hardneg_kit.readings.thread import FILTERED, PUBLISHED
from hardneg_kit.statistics import fmt_p


def pipeline_table(table: pd.DataFrame, weights: Mapping[str, float] | None = None,
                   rerank_depth: int | None = None, metric: str = "mrr@10") -> pd.DataFrame:
    """Retriever vs re-ranker, stage by stage, from one summary table.

    One row per stage: the fused first stage (what every re-ranker receives), each re-ranker
    alone (it re-orders the same top ``rerank_depth``), and each re-ranker interpolated with the
    first stage (weight ``w`` chosen on dev). Columns: ``metric``, its difference from the first
    stage with the 95% interval and Holm p, and a verdict: ``helps``, ``hurts`` or
    ``no significant change``.
    """
    weights = weights or {}
    col = f"{metric} vs {FUSION}"
    depth = f"top {rerank_depth}" if rerank_depth else "its candidates"
    rows = [(FUSION, "1. first stage", "BM25 + 3 bi-encoders, fused (RRF)")]
    names = [n for n in table.index if not str(n).startswith("first-stage")
             and not str(n).endswith(WITH_FIRST_STAGE)]
    rows += [(n, "2. re-ranker alone", f"re-orders the first stage's {depth}") for n in names]
    rows += [(n + WITH_FIRST_STAGE, "3. re-ranker + first stage",
              f"w = {weights[n]:g} (chosen on dev)" if n in weights else "interpolated")
             for n in names if n + WITH_FIRST_STAGE in table.index]
    out = []
    for name, stage, how in rows:
        if name not in table.index:
            continue
        row = table.loc[name]
        p = row.get(f"{col} p", np.nan)
        if pd.isna(p):
            delta, verdict = "", "the reference point"
        else:
            delta = (f"{row[f'{col} delta']:+.3f} [{row[f'{col} low']:+.3f}, "
                     f"{row[f'{col} high']:+.3f}]")
            verdict = ("no significant change" if p >= ALPHA else
                       "helps" if row[f"{col} delta"] > 0 else "hurts")
        out.append({"stage": stage, "model": name, "how": how, metric: round(row[metric], 3),
                    "Δ vs first stage [95% CI]": delta,
                    "Holm p": "" if pd.isna(p) else fmt_p(p), "verdict": verdict})
    return pd.DataFrame(out).set_index(["stage", "model"])


def pipeline_sentence(pipeline: pd.DataFrame, metric: str = "mrr@10") -> str:
    """How many re-rankers help or hurt the first stage they re-rank, alone and interpolated,
    with the best of each (computed from :func:`pipeline_table`)."""
    first = pipeline.xs("1. first stage", level="stage")[metric].iloc[0]
    parts = [f"The first stage reaches {metric.upper()} {first:.3f}."]
    for stage, label in (("2. re-ranker alone", "alone"),
                         ("3. re-ranker + first stage", "interpolated with the first stage")):
        if stage not in pipeline.index.get_level_values("stage"):
            continue
        part = pipeline.xs(stage, level="stage")
        counts = part["verdict"].value_counts()
        best = part[metric].idxmax()
        parts.append(
            f"Re-rankers {label}: {int(counts.get('helps', 0))} of {len(part)} significantly "
            f"above it, {int(counts.get('hurts', 0))} significantly below, "
            f"{int(counts.get('no significant change', 0))} not distinguishable; the best is "
            f"`{best}` ({part.loc[best, metric]:.3f}).")
    return " ".join(parts)


def protagonists_sentence(table: pd.DataFrame, metric: str = "mrr@10") -> str:
    """Where the published rule and the filtered ensemble rank among the fine-tuned models of
    one summary table (alone, not interpolated)."""
    fine = [n for n in table.index if not str(n).startswith("first-stage")
            and not str(n).endswith(WITH_FIRST_STAGE) and n != BASE]
    order = table.loc[fine, metric].sort_values(ascending=False)
    ranks = {n: i + 1 for i, n in enumerate(order.index)}
    parts = [f"`{n}` ranks {ranks[n]} of {len(order)} ({order[n]:.3f})"
             for n in (PUBLISHED, FILTERED) if n in ranks]
    return ("Among the fine-tuned models (alone): " + "; ".join(parts) + ". Best: "
            f"`{order.index[0]}` ({order.iloc[0]:.3f}); worst: `{order.index[-1]}` "
            f"({order.iloc[-1]:.3f}).") if parts else ""


def separation_table(scores: Mapping[str, Mapping[str, np.ndarray]], per_query: int
                     ) -> pd.DataFrame:
    """P(positive > near-miss) per model: how often each query's positive outscores each of its
    ``per_query`` near-misses (``scores[model]`` holds ``positives`` and ``hard negatives``)."""
    out = {}
    for name, s in scores.items():
        pos = np.asarray(s["positives"], float)
        neg = np.asarray(s["hard negatives"], float).reshape(len(pos), per_query)
        out[name] = float((pos[:, None] > neg).mean()) if len(pos) else np.nan
    return pd.Series(out, name="P(positive > near-miss)").round(3).to_frame()
