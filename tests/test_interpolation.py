"""Re-ranker and first stage together: the interpolation formula and the weight chosen on dev."""

import numpy as np
import pytest
from ranx import Qrels, Run

from hardneg_kit.interpolation import WEIGHT_GRID, choose_weight, interpolate

FIRST = Run({"q1": {"a": 3.0, "b": 2.0, "c": 1.0, "deep": 0.5},
             "q2": {"x": 2.0, "y": 1.0}})
RERANKED = Run({"q1": {"a": 0.1, "b": 0.9, "c": 0.5}, "q2": {"x": 0.0, "y": 1.0}})


def _order(run: Run, q: str) -> list[str]:
    return [d for d, _ in sorted(run[q].items(), key=lambda kv: -kv[1])]


def test_weight_one_is_the_reranker_and_zero_the_first_stage_over_the_same_candidates():
    assert _order(interpolate(RERANKED, FIRST, 1.0), "q1") == ["b", "c", "a"]
    alone = interpolate(RERANKED, FIRST, 0.0)
    # only the re-ranked candidates take part: "deep" was below the re-ranking depth
    assert _order(alone, "q1") == ["a", "b", "c"] and "deep" not in alone["q1"]


def test_scores_are_the_weighted_sum_of_per_query_z_scores():
    out = interpolate(RERANKED, FIRST, 0.3)
    ce = np.array([0.1, 0.9, 0.5])
    fs = np.array([3.0, 2.0, 1.0])
    z = (lambda v: (v - v.mean()) / v.std())  # noqa: E731
    expected = 0.3 * z(ce) + 0.7 * z(fs)
    assert [out["q1"][d] for d in "abc"] == pytest.approx(expected.tolist())


def test_a_query_with_equal_scores_gets_zero_not_nan():
    flat = Run({"q": {"a": 1.0, "b": 1.0}})
    out = interpolate(flat, Run({"q": {"a": 2.0, "b": 1.0}}), 0.5)
    assert all(np.isfinite(v) for v in out["q"].values())
    assert _order(out, "q") == ["a", "b"]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="weight must be in"):
        interpolate(RERANKED, FIRST, 1.5)
    with pytest.raises(ValueError, match="'z' of query 'q1'"):
        interpolate(Run({"q1": {"z": 1.0}}), FIRST, 0.5)


def test_choose_weight_prefers_the_weight_that_ranks_dev_best():
    # the re-ranker puts the relevant document first in q1 but last in q2; the first stage the
    # other way round in q1 only: a mixture wins both queries
    qrels = Qrels({"q1": {"b": 1}, "q2": {"x": 1}})
    w = choose_weight(qrels, {0: RERANKED}, FIRST)
    assert w in WEIGHT_GRID
    mixed = interpolate(RERANKED, FIRST, w)
    assert _order(mixed, "q1")[0] == "b" and _order(mixed, "q2")[0] == "x"
    # a perfect re-ranker: ties in the metric go to the larger weight
    perfect = Run({"q1": {"a": 0.0, "b": 1.0, "c": 0.5}, "q2": {"x": 1.0, "y": 0.0}})
    assert choose_weight(qrels, {0: perfect}, FIRST) == 1.0
