"""Paired readings: every pair of contenders tested, and two runs' orderings read side by side.

:func:`pairwise_tests` tests every pair of contenders of one run (paired t-test over queries,
each query's metric averaged over seeds, 95% bootstrap interval, Holm over all the pairs);
:func:`pair_sentence` reads one pair. :func:`agreement` sets two runs' pairs side by side (does
your run reproduce, flip or leave open each ordering of the reference?) and
:func:`agreement_sentence` sums it up.

Example:
    >>> from hardneg_kit.readings.pairs import agreement, agreement_sentence, pairwise_tests
    >>> names = ["random", "bm25", "ensemble-pca"]
    >>> yours = pairwise_tests(qrels, runs, names)  # doctest: +SKIP
    >>> print(agreement_sentence(agreement(yours, reference)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import pandas as pd

from hardneg_kit.readings.text import ALPHA
from hardneg_kit.statistics import eq_p, fmt_p


def pairwise_tests(qrels, runs: Mapping[str, Mapping[int, Any]], names: Sequence[str],
                   metric: str = "mrr@10", seed: int = 0) -> pd.DataFrame:
    """Every pair of ``names``: paired t-test over queries (each query's metric averaged over
    seeds), 95% bootstrap interval, Holm over all the pairs.

    Rows are ordered pairs ``(a, b)`` with ``a`` the one with the higher mean; columns ``a``,
    ``b``, ``mean a``, ``mean b``, ``delta`` (a - b, >= 0), ``low``, ``high``, ``p``, ``p holm``,
    ``n``.
    """
    from hardneg_kit.statistics import holm, paired_test, per_query

    values = {n: per_query(qrels, runs[n], metric) for n in names}
    rows = []
    for x, y in combinations(names, 2):
        a, b = (x, y) if values[x].mean() >= values[y].mean() else (y, x)
        t = paired_test(values[b], values[a], metric, b, a, seed=seed)
        rows.append({"a": a, "b": b, "mean a": t.mean_contender, "mean b": t.mean_baseline,
                     "delta": t.delta, "low": t.ci_low, "high": t.ci_high, "p": t.p, "n": t.n})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    adjusted = holm({f"{r.a} > {r.b}": r.p for r in table.itertuples()})
    table["p holm"] = [adjusted[f"{r.a} > {r.b}"] for r in table.itertuples()]
    table.index = [f"{r.a} > {r.b}" for r in table.itertuples()]
    table.index.name = "ordering"
    return table


def pair_sentence(row: Mapping[str, Any], who: str = "your run", metric: str = "mrr@10") -> str:
    """One row of :func:`pairwise_tests` in words: who beat whom, by how much, how sure."""
    p = row["p holm"]
    if row["delta"] == 0:
        return (f"In {who}, {row['a']} and {row['b']} tie at {metric.upper()} "
                f"{row['mean a']:.3f}.")
    reading = ("a significant difference" if p < ALPHA else
               "not a significant difference: this ordering could be noise")
    return (f"In {who}, {row['a']} beat {row['b']} by {row['delta']:+.3f} {metric.upper()} "
            f"({row['mean a']:.3f} vs {row['mean b']:.3f}, 95% CI [{row['low']:+.3f}, "
            f"{row['high']:+.3f}], Holm p {eq_p(p)}): {reading}.")


def _ordered(table: pd.DataFrame) -> dict[frozenset, Mapping[str, Any]]:
    return {frozenset((r["a"], r["b"])): r for _, r in table.iterrows()}


def agreement(yours: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """For each pair tested in both runs (:func:`pairwise_tests`): the reference's ordering and
    whether it is significant, your run's difference in the same direction, and a reading.

    ``reading``: ``agrees`` (same order, significant in both), ``same order, not significant in
    yours``, ``flipped`` (your run orders them the other way) or ``reference: noise`` (the
    reference itself cannot tell them apart, so no ordering is expected).
    """
    mine = _ordered(yours)
    rows = []
    for key, ref in _ordered(reference).items():
        if key not in mine:
            continue
        you = mine[key]
        same = you["a"] == ref["a"] or you["delta"] == 0
        delta = you["delta"] if you["a"] == ref["a"] else -you["delta"]
        low, high = ((you["low"], you["high"]) if you["a"] == ref["a"]
                     else (-you["high"], -you["low"]))
        delta, low, high = delta + 0.0, low + 0.0, high + 0.0  # no "-0.000"
        if ref["p holm"] >= ALPHA:
            reading = "reference: noise"
        elif you["delta"] == 0:
            reading = "tie in yours"
        elif not same:
            reading = "flipped" + (" (significant)" if you["p holm"] < ALPHA else
                                   " (not significant)")
        elif you["p holm"] < ALPHA:
            reading = "agrees"
        else:
            reading = "same order, not significant in yours"
        rows.append({"ordering (reference)": f"{ref['a']} > {ref['b']}",
                     "reference Δ [95% CI]": f"{ref['delta']:+.3f} [{ref['low']:+.3f}, "
                                             f"{ref['high']:+.3f}]",
                     "reference Holm p": fmt_p(ref["p holm"]),
                     "yours Δ [95% CI]": f"{delta:+.3f} [{low:+.3f}, {high:+.3f}]",
                     "yours Holm p": fmt_p(you["p holm"]),
                     "reading": reading})
    return pd.DataFrame(rows).set_index("ordering (reference)") if rows else pd.DataFrame()


def agreement_sentence(table: pd.DataFrame) -> str:
    """A summary of :func:`agreement`: how many of the reference's significant orderings your
    run reproduces, flips, or leaves open, and which orderings are noise in both."""
    if table.empty:
        return "No pair was tested in both runs."
    counts = table["reading"].value_counts()
    significant = int((table["reading"] != "reference: noise").sum())
    agrees = int(counts.get("agrees", 0))
    open_ = int(counts.get("same order, not significant in yours", 0))
    flipped = [o for o, r in table["reading"].items() if r.startswith("flipped")]
    flipped_sig = int(counts.get("flipped (significant)", 0))
    ties = int(counts.get("tie in yours", 0))
    noise = [o for o, r in table["reading"].items() if r == "reference: noise"]
    text = (f"Of the {len(table)} orderings tested, the reference run finds {significant} "
            f"significant. Your run reproduces {agrees} of them significantly and {open_} in the "
            "same direction without significance")
    if ties:
        text += f", ties {ties}"
    text += (f"; it flips {len(flipped)} ({flipped_sig} of them significantly): "
             + ", ".join(f"`{o}`" for o in flipped) if flipped else "; it flips none")
    text += "."
    if noise:
        text += (" Noise even in the reference (Holm p ≥ 0.05, so neither order is a finding): "
                 + ", ".join(f"`{o}`" for o in noise) + ".")
    return text
