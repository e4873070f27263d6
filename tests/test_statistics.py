"""Per-query statistics: seeds averaged before testing, paired tests, bootstrap, Holm."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from ranx import Qrels, Run
from scipy.stats import ttest_rel

from hardneg_kit.statistics import (
    PairedTest,
    bootstrap_ci,
    compare,
    holm,
    paired_test,
    per_query,
    seed_summary,
)

QIDS = [f"q{i}" for i in range(6)]
QRELS = Qrels({q: {f"{q}-rel": 1} for q in QIDS})


def _run(hit: set[str]) -> Run:
    """Every query present; the relevant doc first for queries in ``hit``, else a miss."""
    return Run({q: {f"{q}-rel" if q in hit else f"{q}-other": 1.0} for q in QIDS})


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # constant differences
def test_seed_values_are_averaged_per_query_and_n_counts_queries():
    all_hit, none_hit = _run(set(QIDS)), _run(set())
    values = per_query(QRELS, {0: all_hit, 1: none_hit}, "mrr@10")
    assert list(values.index) == QIDS and values.index.name == "query"
    assert values.tolist() == [0.5] * len(QIDS)

    runs = {"base": {0: none_hit, 1: none_hit}, "new": {0: all_hit, 1: none_hit}}
    [test] = compare(QRELS, runs, "base", ["mrr@10"], n_resamples=200)
    assert test.n == len(QIDS)  # queries, not queries x seeds
    assert (test.mean_baseline, test.mean_contender, test.delta) == (0.0, 0.5, 0.5)


def test_a_single_seed_run_stands_for_itself():
    run = _run({"q0", "q1"})
    assert per_query(QRELS, {7: run}, "mrr@10").sum() == 2.0


def test_missing_queries_count_as_zero_and_extra_queries_are_ignored():
    run = Run({"q0": {"q0-rel": 1.0}, "q1": {"q1-rel": 1.0}, "extra": {"x": 1.0}})
    values = per_query(QRELS, {0: run}, "recall@10")
    assert values.to_dict() == {q: (1.0 if q in ("q0", "q1") else 0.0) for q in QIDS}


def test_t_test_p_equals_scipy_and_is_aligned_on_query_ids():
    rng = np.random.default_rng(3)
    a = pd.Series(rng.random(40), index=[f"q{i:02d}" for i in range(40)])
    b = a + rng.normal(0.05, 0.1, size=40)
    shuffled = b.sample(frac=1.0, random_state=1)  # the order of the index must not matter
    test = paired_test(a, shuffled, "ndcg@10", "base", "new", n_resamples=500)
    assert test.p == pytest.approx(ttest_rel(b.to_numpy(), a.to_numpy()).pvalue, rel=1e-12)
    assert test.delta == pytest.approx(float((b - a).mean()))
    assert (test.metric, test.baseline, test.contender, test.n) == ("ndcg@10", "base", "new", 40)
    assert test.ci_low < test.delta < test.ci_high
    assert math.isnan(test.p_holm)


def test_identical_values_give_p_one():
    a = pd.Series([0.2, 0.4, 1.0], index=["q1", "q2", "q3"])
    test = paired_test(a, a.copy(), n_resamples=100)
    assert test.p == 1.0 and test.delta == 0.0 and (test.ci_low, test.ci_high) == (0.0, 0.0)


def test_mismatched_query_ids_are_named():
    a = pd.Series([0.1, 0.2], index=["q1", "q2"])
    b = pd.Series([0.1, 0.3], index=["q1", "q9"])
    with pytest.raises(ValueError, match=r"contender: q2; missing from the baseline: q9"):
        paired_test(a, b)
    with pytest.raises(ValueError, match="Duplicated"):
        paired_test(a, pd.Series([0.1, 0.2], index=["q1", "q1"]))


def test_holm_matches_the_reference_and_keeps_nan():
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == {"a": 0.03, "b": 0.06, "c": 0.06}
    adjusted = holm({"a": 0.5, "b": float("nan"), "c": 0.6})
    assert adjusted["a"] == 1.0 and adjusted["c"] == 1.0 and math.isnan(adjusted["b"])


def test_compare_applies_holm_over_the_contenders_of_each_metric():
    runs = {
        "base": {0: _run(set())},
        "good": {0: _run(set(QIDS[:5])), 1: _run(set(QIDS[1:]))},
        "same": {0: _run(set())},
    }
    tests = compare(QRELS, runs, "base", ["mrr@10", "recall@10"], n_resamples=200)
    assert [(t.metric, t.contender) for t in tests] == [
        ("mrr@10", "good"), ("mrr@10", "same"), ("recall@10", "good"), ("recall@10", "same"),
    ]  # fmt: skip
    assert all(isinstance(t, PairedTest) for t in tests)
    for metric in ("mrr@10", "recall@10"):
        good, same = (t for t in tests if t.metric == metric)
        assert good.p_holm == pytest.approx(min(1.0, 2 * good.p))
        assert same.p == same.p_holm == 1.0
    only = compare(QRELS, runs, "base", ["mrr@10"], contenders=["good"], n_resamples=200)
    assert [t.contender for t in only] == ["good"] and only[0].p_holm == pytest.approx(only[0].p)
    with pytest.raises(ValueError, match="Baseline 'nope'"):
        compare(QRELS, runs, "nope", ["mrr@10"])
    with pytest.raises(ValueError, match="'ghost'"):
        compare(QRELS, runs, "base", ["mrr@10"], contenders=["ghost"])


def test_bootstrap_is_deterministic_and_contains_the_mean():
    diff = np.random.default_rng(0).normal(0.03, 0.3, size=1500)
    first = bootstrap_ci(diff, seed=5)
    assert bootstrap_ci(diff, seed=5) == first
    assert bootstrap_ci(diff, seed=6) != first
    low, high = first
    assert low < diff.mean() < high
    wide = bootstrap_ci(diff, confidence=0.99, seed=5)
    assert wide[0] < low and high < wide[1]
    with pytest.raises(ValueError):
        bootstrap_ci(np.array([]))


def test_seed_summary_uses_the_sample_std_over_seeds():
    runs = {0: _run(set(QIDS)), 1: _run(set(QIDS[:3])), 2: _run(set())}
    summary = seed_summary(QRELS, runs, ["mrr@10", "recall@10"])
    assert summary["seeds"] == 3
    assert summary["mrr@10"] == pytest.approx(0.5)
    assert summary["mrr@10 std"] == pytest.approx(np.std([1.0, 0.5, 0.0], ddof=1))
    single = seed_summary(QRELS, {0: runs[1]}, ["mrr@10"])
    assert single["mrr@10"] == 0.5 and math.isnan(single["mrr@10 std"]) and single["seeds"] == 1
