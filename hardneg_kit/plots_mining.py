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


def conditions_layout(d_qd: Sequence[float], d_qp: float, d_pd: Sequence[float]) -> np.ndarray:
    """2-D points for candidates, exact in their three distances to Q and P.

    Cosine distances d = 1 - cos between unit vectors become chord lengths e = sqrt(2 d), which
    obey the triangle inequality, so each candidate D can be placed in the plane with
    |QD| = e(Q,D) and |PD| = e(P,D), Q at the origin and P at (e(Q,P), 0). Which side of the
    Q-P axis a point lies on is not determined: candidates alternate above and below. Both
    conditions of the reference method keep their meaning: d(Q,D) < d(Q,P) is "inside the circle
    around Q through P", d(Q,D) < d(P,D) is "left of the perpendicular bisector of QP".

    Returns:
        An ``(n, 2)`` array.

    >>> xy = conditions_layout([0.5], 0.5, [0.5])
    >>> [round(v, 3) for v in xy[0]]
    [0.5, 0.866]
    """
    a = np.sqrt(2 * np.clip(np.asarray(d_qd, float), 0, None))
    b = np.sqrt(2 * np.clip(np.asarray(d_pd, float), 0, None))
    c = float(np.sqrt(2 * max(float(d_qp), 1e-12)))
    x = (a**2 - b**2 + c**2) / (2 * c)
    y = np.sqrt(np.clip(a**2 - x**2, 0, None))
    sign = np.where(np.arange(len(a)) % 2 == 0, 1.0, -1.0)
    return np.column_stack([x, sign * y])


def plot_conditions_2d(
    d_qd: Sequence[float], d_qp: float, d_pd: Sequence[float],
    kept_conditions: Sequence[bool] | None = None, kept_filter: Sequence[bool] | None = None,
    max_relative: float = 0.95, labels: Sequence[str] | None = None, annotate: int = 6,
):
    """The two rules drawn for one query: Q, its positive P and the candidates D (from their
    real distances, :func:`conditions_layout`), with the region each rule keeps shaded.

    Left, the published rule: inside the circle around Q through P (harder than the positive)
    *and* on Q's side of the bisector of QP (closer to Q than to P). Right, the positive-aware
    filter in the same space: outside the circle where sim(Q,D) = ``max_relative`` x sim(Q,P)
    (not too close to the positive's score); the closest survivors are taken. Points the
    mining actually kept (``kept_conditions``, ``kept_filter``) are filled and, with ``labels``,
    named (at most ``annotate`` per panel).

    >>> fig = plot_conditions_2d(t["d(Q,D)"], d_qp, t["d(P,D)"], t["kept"])  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    xy = conditions_layout(d_qd, d_qp, d_pd)
    c = float(np.sqrt(2 * d_qp))
    s_p = 1.0 - float(d_qp)
    threshold = s_p - abs(s_p) * (1 - max_relative)  # cosine below which the filter keeps D
    r_filter = float(np.sqrt(2 * max(1.0 - threshold, 0.0)))
    reach = max(float(np.abs(xy).max(initial=0.0)), c, r_filter) * 1.15
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4), layout="constrained")
    panels = (
        (axes[0], kept_conditions, "The published rule (2411.02404)\n"
                                   "d(Q,D) < d(Q,P)  and  d(Q,D) < d(P,D)"),
        (axes[1], kept_filter, f"Positive-aware filter {max_relative:g} (NV-Retriever)\n"
                               f"sim(Q,D) ≤ {max_relative:g} · sim(Q,P), closest first"),
    )
    _shade_published_rule(axes[0], c, reach)
    _shade_filter(axes[1], c, r_filter, reach)
    for ax, kept, title in panels:
        _draw_points(ax, xy, c, kept, labels, annotate)
        ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", title=title)
        ax.set_xlabel("distance from Q (chord √(2d); up/down is arbitrary)")
        ax.legend(loc="lower left", fontsize=8)
    return fig


def _shade_published_rule(ax, c: float, reach: float) -> None:
    """The circle around Q through P, cut at the bisector x = c/2: what the published rule keeps."""
    from matplotlib.patches import Circle, Polygon

    t = np.linspace(np.pi / 3, 5 * np.pi / 3, 200)
    arc = np.column_stack([c * np.cos(t), c * np.sin(t)])
    ax.add_patch(Polygon(arc, closed=True, color="#55A868", alpha=0.22, lw=0,
                         label="kept region"))
    ax.add_patch(Circle((0, 0), c, fill=False, ls="--", color="grey", lw=1))
    ax.axvline(c / 2, color="grey", ls=":", lw=1)
    ax.text(c / 2, reach * 0.92, " bisector of QP", color="grey", fontsize=8)


def _shade_filter(ax, c: float, r_filter: float, reach: float) -> None:
    """Everything outside the filter's circle (radius ``r_filter`` around Q) is kept."""
    from matplotlib.patches import Circle

    ax.add_patch(Circle((0, 0), reach * 3, color="#55A868", alpha=0.22, lw=0,
                        label="kept region"))
    ax.add_patch(Circle((0, 0), r_filter, color="white", lw=0))
    ax.add_patch(Circle((0, 0), r_filter, fill=False, ls="--", color="grey", lw=1))
    ax.add_patch(Circle((0, 0), c, fill=False, ls=":", color="grey", lw=1))


def _draw_points(
    ax, xy: np.ndarray, c: float, kept: Sequence[bool] | None,
    labels: Sequence[str] | None, annotate: int,
) -> None:
    """Candidates (filled when mined), Q at the origin and P at ``(c, 0)``; kept ones named."""
    mask = (np.zeros(len(xy), bool) if kept is None else np.asarray(kept, bool))
    ax.scatter(xy[~mask, 0], xy[~mask, 1], s=36, facecolors="none", edgecolors="#4C72B0",
               label="candidate D")
    if mask.any():
        ax.scatter(xy[mask, 0], xy[mask, 1], s=46, color="#C44E52",
                   label="mined as negative")
    ax.scatter([0], [0], marker="*", s=220, color="black", zorder=5)
    ax.scatter([c], [0], marker="P", s=140, color="#DD8452", zorder=5)
    ax.annotate("Q", (0, 0), xytext=(6, 6), textcoords="offset points", fontsize=12)
    ax.annotate("P", (c, 0), xytext=(6, 6), textcoords="offset points", fontsize=12)
    names = [] if labels is None else list(labels)
    for j in np.flatnonzero(mask)[:annotate] if names else []:
        ax.annotate(names[j], xy[j], xytext=(5, -3), textcoords="offset points", fontsize=7)
