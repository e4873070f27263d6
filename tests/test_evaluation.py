"""Metrics against hand-computed values, misses, significance tables and markdown output."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from ranx import Qrels, Run

from hardneg_kit.evaluation import (
    RETRIEVAL_METRICS,
    compare_runs,
    complete_run,
    evaluate_runs,
    markdown_table,
    significance_table,
    warm_up_ranx,
)
from hardneg_kit.retrievers import read_trec, write_trec

# q1: hit at rank 2; q2: both positives, ranks 1 and 3; q3: no results; q4: hit at rank 4
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d4": 1}, "q4": {"d7": 1}}
RUN = {
    "q1": {"d5": 0.9, "d1": 0.8},
    "q2": {"d2": 0.9, "d6": 0.8, "d3": 0.7},
    "q4": {"d8": 0.9, "d9": 0.8, "d10": 0.7, "d7": 0.6},
}


def _expected() -> dict[str, float]:
    log2 = math.log2
    ndcg = {
        "q1": (1 / log2(3)) / 1,
        "q2": (1 + 1 / log2(4)) / (1 + 1 / log2(3)),
        "q3": 0.0,
        "q4": (1 / log2(5)) / 1,
    }
    return {
        "mrr@3": (1 / 2 + 1 + 0 + 0) / 4,
        "mrr@10": (1 / 2 + 1 + 0 + 1 / 4) / 4,
        "ndcg@10": sum(ndcg.values()) / 4,
        "recall@10": (1 + 1 + 0 + 1) / 4,
        "recall@100": (1 + 1 + 0 + 1) / 4,
    }


def test_metrics_match_hand_computed_values_and_count_missing_queries_as_misses():
    warm_up_ranx()
    table = evaluate_runs(Qrels(QRELS), {"toy": Run(RUN, name="toy")})
    assert list(table.columns) == RETRIEVAL_METRICS and list(table.index) == ["toy"]
    for metric, value in _expected().items():
        assert table.loc["toy", metric] == pytest.approx(value), metric


def test_trec_round_trip_evaluates_the_same(tmp_path):
    run = Run(RUN, name="toy")
    back = read_trec(write_trec(run, tmp_path / "toy.trec"))
    direct = evaluate_runs(Qrels(QRELS), {"toy": run})
    via_file = evaluate_runs(Qrels(QRELS), {"toy": back})
    pd.testing.assert_frame_equal(direct, via_file)


def test_complete_run_leaves_a_run_with_extra_queries_untouched():
    run = Run({**RUN, "q99": {"d1": 1.0}}, name="toy")
    completed = complete_run(run, Qrels(QRELS))
    assert sorted(completed.keys()) == ["q1", "q2", "q3", "q4"]
    assert len(completed["q3"]) == 0
    assert "q99" in run.keys() and "q3" not in run.keys()


def test_runs_as_a_list_use_their_names_and_single_metric():
    a, b = Run(RUN, name="a"), Run({"q1": {"d1": 1.0}}, name="b")
    table = evaluate_runs(Qrels(QRELS), [a, b], metrics=["mrr@10"])
    assert list(table.index) == ["a", "b"]
    assert table.loc["b", "mrr@10"] == pytest.approx(1 / 4)


def test_empty_qrels_is_an_error():
    with pytest.raises(ValueError, match="no queries"):
        evaluate_runs(Qrels(), {"x": Run(RUN)})


def _many_query_runs() -> tuple[Qrels, dict[str, Run]]:
    qrels = Qrels({f"q{i}": {"good": 1} for i in range(30)})
    strong = Run({f"q{i}": {"good": 1.0, "bad": 0.5} for i in range(30)}, name="strong")
    weak = Run({f"q{i}": {"bad": 1.0, "good": 0.5} for i in range(30)}, name="weak")
    mixed = Run(
        {f"q{i}": ({"good": 1.0, "bad": 0.5} if i % 2 else {"bad": 1.0, "good": 0.5})
         for i in range(30)},
        name="mixed",
    )  # fmt: skip
    return qrels, {"strong": strong, "weak": weak, "mixed": mixed}


@pytest.mark.parametrize("stat_test", ["student", "fisher"])
def test_compare_runs_with_a_baseline(stat_test):
    qrels, runs = _many_query_runs()
    report = compare_runs(qrels, runs, baseline="weak", metrics=["mrr@10"], stat_test=stat_test)
    assert list(report.model_names) == ["weak", "strong", "mixed"]
    table = significance_table(report)
    assert table.loc["strong", "mrr@10"] == pytest.approx(1.0)
    assert table.loc["strong", "mrr@10 Δ"] == pytest.approx(0.5)
    assert table.loc["strong", "mrr@10 p"] < 0.05
    assert table.loc["strong", "*"] == "mrr@10"
    assert table.loc["weak", "*"] == ""
    assert "weak" in str(report)


def test_compare_runs_input_errors():
    qrels, runs = _many_query_runs()
    with pytest.raises(ValueError, match="at least two"):
        compare_runs(qrels, {"strong": runs["strong"]})
    with pytest.raises(ValueError, match="Baseline 'nope'"):
        compare_runs(qrels, runs, baseline="nope")
    with pytest.raises(ValueError, match="stat_test"):
        compare_runs(qrels, runs, stat_test="bootstrap")


def test_markdown_table():
    table = pd.DataFrame(
        {"mrr@10": [0.51234, float("nan")], "note": ["a|b", "c"]},
        index=pd.Index(["bm25", "dense"], name="run"),
    )
    assert markdown_table(table, digits=2).splitlines() == [
        "| run | mrr@10 | note |",
        "| --- | ---: | --- |",
        "| bm25 | 0.51 | a\\|b |",
        "| dense |  | c |",
    ]


def test_topk_overlap_first_rank_and_disagreements():
    from ranx import Qrels, Run

    from hardneg_kit.evaluation import disagreements, first_relevant_rank, topk_overlap

    qrels = Qrels({"q1": {"d1": 1}, "q2": {"d4": 1}})
    a = Run({"q1": {"d1": 3.0, "d2": 2.0}, "q2": {"d4": 1.0}}, name="a")
    b = Run({"q1": {"d2": 3.0, "d3": 2.0, "d1": 1.0}, "q2": {"d5": 1.0}}, name="b")
    overlap = topk_overlap({"a": a, "b": b}, k=2)
    # q1: {d1,d2} vs {d2,d3} -> 1/3; q2: {d4} vs {d5} -> 0; mean 1/6
    assert overlap.loc["a", "b"] == pytest.approx(1 / 6) and overlap.loc["a", "a"] == 1.0
    assert first_relevant_rank(b, qrels) == {"q1": 3, "q2": None}
    assert disagreements(a, b, qrels, good=1, bad=2) == [("q1", 1, 3), ("q2", 1, None)]
    assert disagreements(b, a, qrels) == []


def test_markdown_table_keeps_integer_columns():
    import pandas as pd

    from hardneg_kit.evaluation import markdown_table

    table = pd.DataFrame({"queries": [600], "share": [0.25]}, index=pd.Index(["bm25"], name="s"))
    assert markdown_table(table).splitlines()[-1] == "| bm25 | 600 | 0.250 |"
