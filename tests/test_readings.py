"""Readings: results turned into sentences and tables (tiny hand-made tables and runs)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from ranx import Qrels, Run

from hardneg_kit.experiment import FUSION, summarize
from hardneg_kit.plots import plot_score_distributions
from hardneg_kit.plots_mining import conditions_layout, plot_conditions_2d
from hardneg_kit.profiles import get_profile
from hardneg_kit.readings import (
    FILTERED,
    PUBLISHED,
    agreement,
    agreement_sentence,
    budget_readings,
    budget_sentence,
    fmt_p,
    mine_for_training,
    negatives_fingerprint,
    notebook_contenders,
    pair_sentence,
    pairwise_tests,
    pipeline_sentence,
    pipeline_table,
    protagonists_sentence,
    separation_table,
    side_by_side,
    trained_contenders,
    training_examples,
    why_they_differ,
)

QUERIES = [f"q{i}" for i in range(12)]
QRELS = Qrels({q: {f"{q}-pos": 1} for q in QUERIES})


def run_at(ranks: dict[str, int]) -> Run:
    """A run that puts each query's positive at the given rank among 5 documents."""
    out = {}
    for q in QUERIES:
        docs = [f"{q}-n{j}" for j in range(4)]
        docs.insert(ranks.get(q, 1) - 1, f"{q}-pos")
        out[q] = {d: float(10 - i) for i, d in enumerate(docs)}
    return Run(out)


@pytest.fixture(scope="module")
def runs():
    return {
        "strong": {0: run_at({})},  # every positive first
        "middle": {0: run_at({q: 2 for q in QUERIES[:6]})},
        "weak": {0: run_at({q: 4 for q in QUERIES})},
    }


def test_notebook_contenders_are_the_four_trained_plus_base_and_fusion():
    names = [c.name for c in notebook_contenders()]
    assert names == [FUSION, "no fine-tuning (base)", "random", "bm25", PUBLISHED, FILTERED]
    assert [c.name for c in trained_contenders()] == ["random", "bm25", PUBLISHED, FILTERED]
    with pytest.raises(ValueError, match="nothing is mined"):
        mine_for_training(notebook_contenders()[1], None, get_profile("smoke"))


def test_pairwise_tests_order_each_pair_by_mean_and_correct_with_holm(runs):
    table = pairwise_tests(QRELS, runs, ["weak", "strong", "middle"])
    assert list(table.index) == ["strong > weak", "middle > weak", "strong > middle"]
    assert (table["delta"] >= 0).all()
    row = table.loc["strong > weak"]
    assert row["mean a"] == pytest.approx(1.0) and row["mean b"] == pytest.approx(0.25)
    assert row["p holm"] >= row["p"]
    sentence = pair_sentence(row)
    assert sentence.startswith("In your run, strong beat weak by +0.750 MRR@10")
    assert "a significant difference" in sentence


def test_pair_sentence_says_when_an_ordering_could_be_noise():
    row = {"a": "x", "b": "y", "mean a": 0.51, "mean b": 0.5, "delta": 0.01, "low": -0.02,
           "high": 0.04, "p holm": 0.4}
    assert "could be noise" in pair_sentence(row, who="the reference run")
    assert pair_sentence(row, who="the reference run").startswith("In the reference run, x beat")


def test_agreement_reads_agrees_flipped_open_and_noise():
    def pairs(rows):
        t = pd.DataFrame(rows, columns=["a", "b", "mean a", "mean b", "delta", "low", "high",
                                        "p holm"])
        t.index = [f"{a} > {b}" for a, b in zip(t["a"], t["b"], strict=True)]
        return t

    reference = pairs([("A", "B", .8, .7, .1, .05, .15, 1e-6), ("A", "C", .8, .6, .2, .1, .3, 1e-9),
                       ("B", "C", .7, .6, .1, .05, .15, 1e-4), ("C", "D", .6, .59, .01, -.01,
                                                                   .03, 0.5)])
    yours = pairs([("A", "B", .8, .7, .1, .05, .15, 1e-3), ("A", "C", .7, .6, .1, -.01, .2, 0.2),
                   ("C", "B", .7, .6, .1, .05, .15, 0.01), ("D", "C", .6, .59, .01, -.01, .03,
                                                            0.5)])
    table = agreement(yours, reference)
    assert table["reading"].to_dict() == {
        "A > B": "agrees", "A > C": "same order, not significant in yours",
        "B > C": "flipped (significant)", "C > D": "reference: noise"}
    assert table.loc["B > C", "yours Δ [95% CI]"] == "-0.100 [-0.150, -0.050]"
    text = agreement_sentence(table)
    assert "finds 3 significant" in text and "reproduces 1" in text
    assert "flips 1 (1 of them significantly): `B > C`" in text and "`C > D`" in text


def test_summary_tables_become_pipeline_side_by_side_and_protagonist_readings(runs):
    named = {FUSION: runs["middle"], "no fine-tuning (base)": runs["weak"],
             "random": runs["weak"], PUBLISHED: runs["middle"], FILTERED: runs["strong"],
             FILTERED + " + first stage": runs["strong"]}
    _, table, _ = summarize(QRELS, named, metrics=["mrr@10"])
    pipe = pipeline_table(table, {FILTERED: 0.7}, rerank_depth=5)
    stages = pipe.index.get_level_values("stage")
    assert list(stages).count("2. re-ranker alone") == 4
    assert pipe.loc[("3. re-ranker + first stage", FILTERED + " + first stage"), "how"] \
        == "w = 0.7 (chosen on dev)"
    assert pipe.loc[("2. re-ranker alone", PUBLISHED), "verdict"] == "no significant change"
    text = pipeline_sentence(pipe)
    assert text.startswith("The first stage reaches MRR@10 0.750.")
    assert f"the best is `{FILTERED}` (1.000)" in text
    sbs = side_by_side(table, table.drop(index=[PUBLISHED]), [FILTERED, PUBLISHED])
    assert sbs.loc[PUBLISHED, "reference mrr@10"] == ""
    assert sbs.loc[FILTERED, "yours mrr@10"] == "1.000"
    text = protagonists_sentence(table)
    assert f"`{FILTERED}` ranks 1 of 3" in text and f"`{PUBLISHED}` ranks 2 of 3" in text


def test_budget_readings_say_who_repeats_rows():
    log = {"config": {"unique_rows": 150}, "train_rows": 600, "steps": 38, "pairs_seen": 2400,
           "wall_time_s": 61.2}
    full = {**log, "config": {"unique_rows": 600}}
    table = budget_readings({"ensemble-pca": log, "bm25": full})
    assert table.loc["ensemble-pca", "times each row is seen"] == 4.0
    text = budget_sentence(table)
    assert "every contender took 38 optimizer steps" in text
    assert "`ensemble-pca` had 150 unique rows, each seen 4.0x" in text and "`bm25`" not in text


def test_training_examples_show_the_same_query_for_every_kind():
    rows = {
        "random": [{"query": "q1", "positive": "p1", "negative_1": "r1", "negative_2": None},
                   {"query": "q2", "positive": "p2", "negative_1": "r2", "negative_2": "r3"}],
        "bm25": [{"query": "q2", "positive": "p2", "negative_1": "b" * 100, "negative_2": "b2"}],
    }
    table = training_examples(rows, width=10)
    assert list(table.index) == ["query", "positive", "negative_1", "negative_2"]
    assert table.loc["query"].tolist() == ["q2", "q2"]
    assert table.loc["negative_1", "bm25"] == "b" * 9 + "…"
    with pytest.raises(ValueError, match="every contender"):
        training_examples({"a": rows["random"][:1], "b": rows["bm25"]})


def test_negatives_fingerprint_changes_with_any_negative():
    from hardneg_kit.mining import MiningResult, NegativeRow

    def result(neg):
        return MiningResult("x", [NegativeRow("q1", ["p"], neg, "x", [None] * len(neg), [None],
                                              ["hard"] * len(neg))])

    assert negatives_fingerprint(result(["a", "b"])) == negatives_fingerprint(result(["a", "b"]))
    assert negatives_fingerprint(result(["a", "b"])) != negatives_fingerprint(result(["b", "a"]))


def test_why_they_differ_names_each_size():
    workshop, full = get_profile("workshop"), get_profile("full")
    from dataclasses import asdict

    payload = {"profile": asdict(full), "sizes": {"aws-cli": {"queries": 1319,
                                                              "documents": 18886}}}
    table = why_they_differ(workshop, payload, {"aws-cli": {"queries": 300, "documents": 4000}})
    assert table.loc["aws-cli passages"].tolist() == ["4,000", "18,886", "no"]
    assert table.loc["negatives per row", "same?"] == "yes"


def test_separation_and_p_values_read_plainly():
    table = separation_table({"m": {"positives": np.array([2.0, 0.0]),
                                    "hard negatives": np.array([1.0, 3.0, -1.0, 1.0])}}, 2)
    assert table.loc["m"].iloc[0] == 0.5
    assert fmt_p(0.0) == "< 1e-12" and fmt_p(0.0123) == "0.012"


def test_conditions_layout_keeps_the_three_distances_and_the_plots_draw():
    d_qd, d_pd, d_qp = np.array([0.2, 0.6, 0.3]), np.array([0.5, 0.1, 0.35]), 0.4
    xy = conditions_layout(d_qd, d_qp, d_pd)
    p = np.array([np.sqrt(2 * d_qp), 0.0])
    assert np.allclose(np.linalg.norm(xy, axis=1), np.sqrt(2 * d_qd))
    assert np.allclose(np.linalg.norm(xy - p, axis=1), np.sqrt(2 * d_pd))
    # condition 2 (closer to Q than to P) is "left of the bisector"
    assert ((xy[:, 0] < p[0] / 2) == (d_qd < d_pd)).all()
    fig = plot_conditions_2d(d_qd, d_qp, d_pd, [True, False, False], [False, True, True],
                             labels=["a", "b", "c"])
    assert len(fig.axes) == 2
    fig = plot_score_distributions({"positives": np.array([1.0, 2.0]),
                                    "near-misses": np.array([0.0, 1.5])}, "base")
    assert len(fig.axes) == 1


def test_rank_sentence_never_orders_a_tie():
    from hardneg_kit.readings import rank_sentence

    text = rank_sentence(pd.Series({"a": 0.5331, "b": 0.6, "c": 0.5329}), "Share")
    assert text == "Share, highest (better) first: `b` (0.600) > `a` (0.533) = `c` (0.533)."
