"""Plots for the notebooks: each function draws on a new (or given) axis and returns the figure.

Example:
    >>> from hardneg_kit.plots import plot_document_lengths
    >>> fig = plot_document_lengths(data.corpus)  # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _axis(ax=None, figsize=(7, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_document_lengths(corpus, ax=None, bins: int = 60, clip: int = 600):
    """Histogram of words per document (title + text), clipped at ``clip`` words."""
    fig, ax = _axis(ax)
    pairs = zip(corpus["title"], corpus["text"], strict=True)
    words = np.array([len(f"{t} {x}".split()) for t, x in pairs])
    median = float(np.median(words))
    ax.hist(np.minimum(words, clip), bins=bins, color="#4C72B0")
    ax.axvline(median, color="black", ls="--", lw=1, label=f"median {median:.0f}")
    ax.set(xlabel=f"words per document (clipped at {clip})", ylabel="documents")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_top_groups(values, top: int = 20, ax=None, label: str = "queries"):
    """Horizontal bar chart of the ``top`` most frequent values (e.g. queries per service)."""
    fig, ax = _axis(ax, figsize=(7, 0.25 * top + 1))
    counts = Counter(values).most_common(top)[::-1]
    ax.barh([c[0] for c in counts], [c[1] for c in counts], color="#55A868")
    ax.set(xlabel=label)
    fig.tight_layout()
    return fig


def plot_metric_bars(table: pd.DataFrame, metrics: tuple[str, ...] = ("mrr@10", "recall@100"),
                     ax=None):
    """Grouped bars: one group per row (retriever), one bar per metric."""
    fig, ax = _axis(ax, figsize=(8, 3.5))
    x = np.arange(len(table))
    width = 0.8 / len(metrics)
    for i, m in enumerate(metrics):
        bars = ax.bar(x + i * width, table[m].to_numpy(), width, label=m)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(x + width * (len(metrics) - 1) / 2, table.index, rotation=20, ha="right")
    ax.set(ylim=(0, 1.05), ylabel="score")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_heatmap(matrix: pd.DataFrame, title: str = "", ax=None, fmt: str = "{:.2f}",
                 cmap: str = "viridis"):
    """An annotated heatmap of a square (or any) DataFrame."""
    fig, ax = _axis(ax, figsize=(1.1 * len(matrix.columns) + 2, 0.8 * len(matrix) + 1.5))
    im = ax.imshow(matrix.to_numpy(dtype=float), cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(matrix.index)), matrix.index)
    for (i, j), v in np.ndenumerate(matrix.to_numpy(dtype=float)):
        ax.text(j, i, fmt.format(v), ha="center", va="center",
                color="white" if v < 0.6 else "black", fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def counts_table(counts: Mapping[str, Mapping[str, int]]) -> pd.DataFrame:
    """``{dataset: {column: n}}`` as a DataFrame with zeros for missing cells."""
    return pd.DataFrame(counts).T.fillna(0).astype(int)


def plot_experiment(tables: Mapping[str, pd.DataFrame], metric: str = "mrr@10",
                    baseline: str = "random"):
    """One panel per dataset: the metric per contender (mean, ± std over seeds as error bars).

    First-stage rows are grey, fine-tuned ones blue, the ``baseline`` orange; a dashed line marks
    the baseline. ``tables`` is :attr:`hardneg_kit.experiment.ExperimentResult.tables`.
    """
    n = len(tables)
    first = next(iter(tables.values()))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 0.32 * len(first) + 1.5), sharey=True,
                             squeeze=False)
    for ax, (name, table) in zip(axes[0], tables.items(), strict=True):
        y = np.arange(len(table))[::-1]
        colors = ["#999999" if str(i).startswith("first-stage") else
                  "#DD8452" if i == baseline else "#4C72B0" for i in table.index]
        std = table.get(f"{metric} std", pd.Series(0.0, index=table.index)).fillna(0.0)
        ax.barh(y, table[metric], xerr=std, color=colors, capsize=2)
        if baseline in table.index:
            ax.axvline(table.loc[baseline, metric], color="#DD8452", ls="--", lw=1)
        ax.set_yticks(y, table.index)
        ax.set(title=name, xlabel=metric, xlim=(0, 1))
    fig.tight_layout()
    return fig


def plot_loss_curves(logs: Mapping[str, Mapping], ax=None):
    """Training loss against step, one line per run (``{name: TrainResult.to_json()}``)."""
    fig, ax = _axis(ax, figsize=(7, 3.5))
    for name, log in logs.items():
        steps, losses = zip(*log["loss_curve"], strict=True) if log["loss_curve"] else ((), ())
        ax.plot(steps, losses, marker=".", label=name)
    ax.set(xlabel="optimizer step", ylabel="training loss")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_score_shift(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray],
                     title_before: str = "before training", title_after: str = "after training"):
    """Histograms of cross-encoder scores per pair kind (positives, hard negatives, ...)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, scores, title in ((axes[0], before, title_before), (axes[1], after, title_after)):
        for kind, values in scores.items():
            ax.hist(values, bins=30, alpha=0.55, label=kind)
        ax.set(title=title, xlabel="cross-encoder score (logit)", ylabel="pairs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_score_distributions(scores: Mapping[str, np.ndarray], title: str = "", ax=None,
                             bins: int = 30):
    """Histograms of cross-encoder scores per kind of pair on one axis (each kind normalized to
    its number of pairs, so kinds of different sizes compare), with each median.

    For the base re-ranker before any fine-tuning: do positives already score above the
    first stage's near-misses, and above random passages?

    >>> fig = plot_score_distributions({"positives": p, "near-misses": n})  # doctest: +SKIP
    """
    fig, ax = _axis(ax, figsize=(7, 3.4))
    values = {k: np.asarray(v, float) for k, v in scores.items() if len(v)}
    if values:
        lo = min(float(v.min()) for v in values.values())
        hi = max(float(v.max()) for v in values.values())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
        for i, (kind, v) in enumerate(values.items()):
            color = f"C{i}"
            ax.hist(v, bins=edges, alpha=0.5, color=color, weights=np.full(len(v), 1 / len(v)),
                    label=f"{kind} (median {np.median(v):.2f}, n = {len(v)})")
            ax.axvline(float(np.median(v)), color=color, ls="--", lw=1)
    ax.set(title=title, xlabel="cross-encoder score (logit)", ylabel="share of its pairs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
