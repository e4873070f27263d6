"""Plots of the mining diagnostics (matplotlib); each function returns the Figure.

Example:
    >>> from hardneg_kit.plots_mining import plot_overlap
    >>> fig = plot_overlap(*overlap(results))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _figure(width: float = 6.0, height: float = 4.0):
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height), layout="constrained")


def plot_explained_variance(cumulative: np.ndarray, target: float = 0.95):
    """Cumulative explained variance against components, with the target line.

    >>> fig = plot_explained_variance(explained_variance(space))  # doctest: +SKIP
    """
    fig, ax = _figure()
    x = np.arange(1, len(cumulative) + 1)
    ax.plot(x, cumulative, marker=".", lw=1)
    ax.axhline(target, color="grey", ls="--", lw=1, label=f"{target:.0%} variance")
    ax.set(xlabel="PCA components kept", ylabel="cumulative explained variance", ylim=(0, 1.01))
    ax.set_title(f"Ensemble PCA: {len(cumulative)} components")
    ax.legend(loc="lower right")
    return fig


def plot_similarity_distributions(
    sims: Mapping[str, Mapping[str, np.ndarray]], bins: int = 30
):
    """Histograms of sim(Q,P), sim(Q,N) and sim(P,N), one panel each, a line per strategy.

    >>> sims = similarity_distributions(inputs, results)  # doctest: +SKIP
    >>> fig = plot_similarity_distributions(sims)  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=False, layout="constrained")
    edges = np.linspace(-0.2, 1.0, bins + 1)
    titles = {"qp": "sim(query, positive)", "qn": "sim(query, negative)",
              "pn": "sim(positive, negative)"}
    for ax, (key, title) in zip(axes, titles.items(), strict=True):
        for name, s in sims.items():
            if len(s[key]):
                ax.hist(s[key], bins=edges, histtype="step", density=True, lw=1.4, label=name)
        ax.set(title=title, xlabel="cosine (reference model)")
    axes[0].set_ylabel("density")
    axes[-1].legend(fontsize="small", loc="upper left")
    return fig


def plot_overlap(names: Sequence[str], matrix: np.ndarray):
    """Heatmap of mean per-query Jaccard overlap between strategies' negatives."""
    fig, ax = _figure(1.1 * len(names) + 2, 0.9 * len(names) + 1.5)
    im = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            color = "black" if matrix[i, j] > 0.6 else "white"
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", color=color)
    fig.colorbar(im, ax=ax, label="Jaccard of negatives")
    ax.set_title("Do strategies pick the same negatives?")
    return fig
