"""Mining on a 48-passage fixture: invariants, PCA conditions, determinism, peer check."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hardneg_kit import cli_mining
from hardneg_kit.corpus import load_beir
from hardneg_kit.mining import (
    MiningError,
    MiningResult,
    ensemble_space,
    mine,
    normalize_text,
    prepare,
    to_dataset,
)

FIXTURE = Path(__file__).parent / "fixtures" / "mining"
#: alias command trees: beta/.../add-labels (q1's positive) and its alpha twin differ in one
#: word; beta/.../remove-labels differs from both in add/remove, which q1 and q2 name
TWINS = Path(__file__).parent / "fixtures" / "twins"
MODELS = ("minilm-l6", "paraphrase-minilm-l3", "static-minilm")
STRATEGIES = [
    ("random", {}),
    ("bm25", {}),
    ("dense:minilm-l6", {}),
    ("dense:minilm-l6", {"max_relative": 0.95, "sampling": "random", "window": 10}),
    ("fusion", {}),
    ("fusion", {"method": "combsum", "random_share": 0.34}),
    ("ensemble-pca", {}),
    ("ensemble-pca", {"fallback": "closest"}),
    ("ensemble-pca", {"fallback": "random"}),
    ("ensemble-pca", {"pca_fit": "passages+queries", "lexical_copy": 0.5}),
    ("semi-hard", {}),
    ("semi-hard", {"band": (0.6, 0.9), "base": "dense:minilm-l6"}),
]


@pytest.fixture(scope="module")
def data():
    return load_beir(FIXTURE)


@pytest.fixture(scope="module")
def inputs(data):
    return prepare(data, "train")


def _check_invariants(result: MiningResult, inputs, k: int) -> None:
    assert set(r.query_id for r in result.rows).isdisjoint(result.skipped)
    assert {r.query_id for r in result.rows} | set(result.skipped) == set(inputs.query_ids)
    assert all(result.skipped.values())
    for row in result.rows:
        positives = set(inputs.positives[row.query_id])
        pos_texts = {normalize_text(inputs.passages[inputs.doc_row[p]]) for p in positives}
        assert row.positive_ids == inputs.positives[row.query_id]
        assert 0 < len(row.negative_ids) <= k
        assert len(set(row.negative_ids)) == len(row.negative_ids), "duplicates"
        assert not positives & set(row.negative_ids), "a positive returned as negative"
        for n in row.negative_ids:
            assert normalize_text(inputs.passages[inputs.doc_row[n]]) not in pos_texts
        assert len(row.scores) == len(row.negative_ids) == len(row.sources)


@pytest.mark.parametrize(("strategy", "params"), STRATEGIES)
def test_invariants_and_determinism(inputs, strategy, params):
    a = mine(inputs, "train", strategy, models=MODELS, num_negatives=3, seed=1, **params)
    _check_invariants(a, inputs, 3)
    b = mine(inputs, "train", strategy, models=MODELS, num_negatives=3, seed=1, **params)
    assert a.negatives() == b.negatives() and a.skipped == b.skipped


def test_random_seed_changes_negatives(inputs):
    a = mine(inputs, "train", "random", num_negatives=3, seed=0).negatives()
    b = mine(inputs, "train", "random", num_negatives=3, seed=1).negatives()
    assert a != b


def test_near_copies_are_never_negatives(inputs):
    # s3/rb-copy has the text of s3/rb up to case and punctuation: q1's positive.
    for strategy in ("bm25", "dense:minilm-l6", "fusion"):
        result = mine(inputs, "train", strategy, num_negatives=5)
        assert "s3/rb-copy" not in result.negatives().get("q1", [])
        assert result.counts["near_copies"] >= 1


TWIN = "alpha/compute/instances/add-labels"
HARD = "beta/compute/instances/remove-labels"
BETA = "beta/compute/instances/add-labels"


@pytest.mark.parametrize("strategy", ["bm25", "dense:minilm-l6", "fusion", "random"])
def test_lexical_twins_go_and_hard_negatives_stay(strategy):
    # near_copy=None: the lexical test alone (the twin's cosine to q1's positive is 0.987, so
    # the cosine guard would drop it too, and with it q2's legitimate negative BETA)
    twins = prepare(load_beir(TWINS), "train")
    off = mine(twins, "train", strategy, num_negatives=10, near_copy=None, lexical_copy=None)
    assert TWIN in off.negatives()["q1"], "the fixture should put the twin among q1's negatives"
    on = mine(twins, "train", strategy, num_negatives=10, near_copy=None)
    _check_invariants(on, twins, 10)
    negatives = on.negatives()
    assert TWIN not in negatives["q1"] and HARD in negatives["q1"]
    # q2 names "alpha": for it the beta tree is told apart, a hard negative, not a twin
    assert BETA in negatives["q2"] and HARD in negatives["q2"]
    if strategy != "random":  # random draws keep no counts
        assert on.counts["lexical_twins"] == 1
    assert TWIN not in mine(twins, "train", strategy, num_negatives=10).negatives()["q1"]


def test_lexical_copy_is_checked(inputs, tmp_path, capsys):
    with pytest.raises(MiningError, match="lexical_copy"):
        mine(inputs, "train", "bm25", lexical_copy=1.5)
    with pytest.raises(SystemExit):
        _cli(["mine", "--dataset", str(FIXTURE), "--lexical-copy", "0",
              "--output", str(tmp_path / "x.jsonl")])
    assert "argument --lexical-copy: must be a number in (0, 1], got '0'" in (
        capsys.readouterr().err
    )


def test_pca_fit_on_passages_makes_negatives_independent_of_the_other_queries(inputs):
    half = inputs.query_ids[::2]
    subset = dataclasses.replace(
        inputs, query_ids=half, queries=[inputs.queries[inputs.query_row[q]] for q in half],
        positives={q: inputs.positives[q] for q in half}, memo={},
    )
    whole_space = ensemble_space(inputs, MODELS, 0.95, seed=0, fit="passages")
    assert np.array_equal(ensemble_space(subset, MODELS, 0.95, seed=0, fit="passages").docs,
                          whole_space.docs)
    # the memo keys the fit
    assert whole_space is not ensemble_space(inputs, MODELS, 0.95, seed=0, fit="passages+queries")
    for params in ({}, {"conditions": False, "max_relative": 0.95}):
        kw = dict(models=MODELS, num_negatives=2, fallback="closest", pca_fit="passages", **params)
        whole = mine(inputs, "train", "ensemble-pca", **kw)
        part = mine(subset, "train", "ensemble-pca", **kw)
        assert part.negatives() == {q: n for q, n in whole.negatives().items() if q in half}
        assert part.settings["pca_fit"] == "passages"
    with pytest.raises(MiningError, match="pca_fit"):
        mine(inputs, "train", "ensemble-pca", pca_fit="queries")


def test_ensemble_conditions_hold_on_output(inputs):
    result = mine(inputs, "train", "ensemble-pca", models=MODELS, num_negatives=3)
    space = ensemble_space(inputs, MODELS, 0.95, seed=0)
    assert space.explained_variance_ratio.sum() >= 0.95
    assert result.rows, "the fixture should give some query a negative"
    for row in result.rows:
        q = space.queries[inputs.query_row[row.query_id]]
        for n in row.negative_ids:
            d = space.docs[inputs.doc_row[n]]
            for p in row.positive_ids:
                pv = space.docs[inputs.doc_row[p]]
                assert 1 - q @ d < 1 - q @ pv  # d(Q,D) < d(Q,P)
                assert 1 - q @ d < 1 - pv @ d  # d(Q,D) < d(P,D)
        assert row.scores == sorted(row.scores, reverse=True)
    # every query is reported: the fixture leaves most without a survivor
    assert len(result.rows) + len(result.skipped) == len(inputs.query_ids)
    assert set(result.skipped.values()) <= {"no candidate met the ensemble conditions"}


def test_filters_hold_on_output(inputs):
    result = mine(inputs, "train", "dense:minilm-l6", num_negatives=4, max_relative=0.95)
    for row in result.rows:
        lowest = min(row.positive_scores)
        assert all(s <= lowest - abs(lowest) * 0.05 + 1e-6 for s in row.scores)
    capped = mine(inputs, "train", "dense:minilm-l6", num_negatives=4, max_score=0.4)
    assert all(s <= 0.4 for row in capped.rows for s in row.scores)
    assert capped.counts["max_score"] > 0
    with pytest.raises(MiningError, match="relative/margin"):
        mine(inputs, "train", "ensemble-pca", max_relative=0.95)


def test_single_model_top_k_agrees_with_sentence_transformers(data, inputs):
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    from hardneg_kit.models import load_encoder

    k = 4
    ours = mine(inputs, "train", "dense:minilm-l6", num_negatives=k, near_copy=None)
    pairs = [
        (inputs.queries[i], inputs.passages[inputs.doc_row[p]])
        for i, q in enumerate(inputs.query_ids)
        for p in inputs.positives[q]
    ]
    peer = mine_hard_negatives(
        Dataset.from_dict({"query": [a for a, _ in pairs], "positive": [b for _, b in pairs]}),
        load_encoder("minilm-l6").model,
        corpus=inputs.passages,
        range_min=0,
        range_max=k,
        num_negatives=k,
        sampling_strategy="top",
        output_format="n-tuple",
        verbose=False,
    )
    theirs = {r["query"]: [r[f"negative_{i}"] for i in range(1, k + 1)] for r in peer}
    q_text = dict(zip(inputs.query_ids, inputs.queries, strict=True))
    mine_texts = {
        q_text[q]: [inputs.passages[inputs.doc_row[d]] for d in negs]
        for q, negs in ours.negatives().items()
    }
    # the text duplicate of s3/rb is a separate passage for us, the positive itself for them
    compared = {q: n for q, n in mine_texts.items() if "bucket and everything" not in q}
    assert len(compared) >= 14
    for q, negs in compared.items():
        assert negs == theirs[q], q


def test_formats_have_sentence_transformers_columns(data, inputs):
    result = mine(inputs, "train", "dense:minilm-l6", num_negatives=2)
    n_pairs = sum(len(r.positive_ids) * len(r.negative_ids) for r in result.rows)
    triplet = to_dataset(result, data, "triplet")
    assert triplet.column_names == ["query", "positive", "negative"] and len(triplet) == n_pairs
    assert to_dataset(result, data, "n-tuple").column_names == [
        "query", "positive", "negative_1", "negative_2"
    ]
    pair = to_dataset(result, data, "labeled-pair")
    assert pair.column_names == ["query", "positive", "label"] and set(pair["label"]) == {0, 1}
    lst = to_dataset(result, data, "labeled-list")
    assert lst.column_names == ["query", "positive", "labels"] and lst[0]["labels"] == [1, 0, 0]
    scored = to_dataset(result, data, "triplet", output_scores=True)
    assert scored.column_names[-1] == "scores"
    q1 = inputs.queries[inputs.query_row["q1"]]
    assert triplet[0]["query"] == q1
    assert triplet[0]["positive"] == "aws s3 rb\n" + data.corpus[data.doc_index()["s3/rb"]]["text"]


def test_padded_n_tuples_keep_queries_with_fewer_negatives(data, inputs):
    result = mine(inputs, "train", "dense:minilm-l6", num_negatives=2)
    short = dataclasses.replace(result.rows[0], negative_ids=result.rows[0].negative_ids[:1],
                                scores=result.rows[0].scores[:1])
    result = dataclasses.replace(result, rows=[short, *result.rows[1:]])
    full_rows = sum(len(r.positive_ids) for r in result.rows[1:])
    assert len(to_dataset(result, data, "n-tuple")) == full_rows  # as mine_hard_negatives
    padded = to_dataset(result, data, "n-tuple", pad=True, output_scores=True)
    assert len(padded) == full_rows + len(short.positive_ids)
    assert padded[0]["negative_2"] is None and padded[0]["negative_1"] is not None
    assert np.isnan(padded[0]["scores"][-1])


def test_jsonl_round_trip(tmp_path, inputs):
    result = mine(inputs, "train", "ensemble-pca", models=MODELS, num_negatives=2)
    path = result.to_jsonl(tmp_path / "neg.jsonl")
    back = MiningResult.read_jsonl(path)
    assert back.negatives() == result.negatives() and back.skipped == result.skipped
    assert back.strategy == "ensemble-pca"
    assert len(path.read_text().splitlines()) == len(inputs.query_ids)


def test_clear_errors(data, tmp_path):
    with pytest.raises(MiningError, match="Unknown strategy 'bm52'"):
        mine(data, "train", "bm52")
    with pytest.raises(MiningError, match="Unknown strategy 'dense'"):
        mine(data, "train", "dense")
    with pytest.raises(ValueError, match="no-such-model"):
        mine(data, "train", "dense:no-such-model")
    empty = Path(shutil.copytree(FIXTURE, tmp_path / "empty"))
    (empty / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n")
    with pytest.raises(MiningError, match="no queries with a positive"):
        mine(load_beir(empty), "train", "bm25")
    missing = load_beir(FIXTURE)
    missing.corpus = missing.corpus.filter(lambda r: r["_id"] != "s3/rb")
    with pytest.raises(MiningError, match="missing from the corpus.*s3/rb"):
        mine(missing, "train", "random")


def _cli(argv):
    """Run ``mine`` as hardneg_kit.cli does: handler exit code, or (2, message) on a ValueError."""
    parser = argparse.ArgumentParser()
    cli_mining.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as exc:
        return 2, str(exc)


def test_cli_writes_jsonl_and_formats(tmp_path, capsys):
    out = tmp_path / "neg.jsonl"
    argv = ["mine", "--dataset", str(FIXTURE), "--strategy", "dense:minilm-l6",
            "--num-negatives", "2", "--output", str(out), "--filter", "relative:0.95"]
    assert _cli(argv) == 0
    assert "queries with negatives" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 16 and all(len(r["negative_ids"]) <= 2 for r in rows)
    tri = tmp_path / "tri.jsonl"
    assert _cli(argv[:-4] + ["--output", str(tri), "--format", "triplet"]) == 0
    assert set(json.loads(tri.read_text().splitlines()[0])) == {"query", "positive", "negative"}


def test_cli_errors_are_one_line(tmp_path):
    base = ["mine", "--dataset", str(FIXTURE), "--output", str(tmp_path / "x.jsonl")]
    code, msg = _cli(base + ["--strategy", "nope"])
    assert code == 2 and "Unknown strategy" in msg and "\n" not in msg
    code, msg = _cli(base + ["--strategy", "fusion", "--models", "minilm-l6,nope"])
    assert code == 2 and "nope" in msg
    code, msg = _cli(base + ["--filter", "relative"])
    assert code == 2 and "Bad filter" in msg
    code, msg = _cli(base + ["--strategy", "bm25", "--variance", "0.9"])
    assert code == 2 and "variance" in msg


def test_ensemble_space_without_conditions_takes_a_positive_aware_filter(inputs):
    with pytest.raises(MiningError, match="conditions=False"):
        mine(inputs, "train", "ensemble-pca", num_negatives=2, max_relative=0.95)
    result = mine(inputs, "train", "ensemble-pca", num_negatives=2, conditions=False,
                  max_relative=0.95)
    for row in result.rows:
        pos = min(row.positive_scores)
        assert all(s <= pos - abs(pos) * 0.05 + 1e-6 for s in row.scores)


def test_cli_records_how_each_file_was_made(tmp_path, capsys):
    from datasets import load_dataset

    from hardneg_kit.mining import read_meta

    base = ["mine", "--dataset", str(FIXTURE), "--strategy", "ensemble-pca", "--num-negatives",
            "2", "--models", ",".join(MODELS)]
    plain, loose = tmp_path / "plain.jsonl", tmp_path / "loose.jsonl"
    assert _cli(base + ["--output", str(plain)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("mining 16 train queries of mining with ensemble-pca (every query")
    assert _cli(base + ["--output", str(loose), "--no-conditions", "--filter",
                        "relative:0.95"]) == 0
    a, b = read_meta(plain), read_meta(loose)
    assert a["strategy"] == b["strategy"] == "ensemble-pca"  # the rows cannot tell them apart
    assert a["settings"]["conditions"] is True and b["settings"]["conditions"] is False
    assert a["settings"]["max_relative"] is None and b["settings"]["max_relative"] == 0.95
    for key, value in {"models": list(MODELS), "seed": 0, "near_copy": 0.98, "depth": 100,
                       "variance": 0.95, "num_negatives": 2, "split": "train",
                       "lexical_copy": 0.99, "pca_fit": "passages"}.items():
        assert a["settings"][key] == value, key
    assert a["profile"] == "smoke" and a["dataset"] == "mining" and a["hardneg_kit"]
    assert a["queries"]["mined"] == 16 and a["options"]["output"] == str(plain)
    assert MiningResult.read_jsonl(plain).settings == a["settings"]
    # the sidecar leaves the mined file exactly as JSON Lines loaders read it
    rows = load_dataset("json", data_files=str(plain), split="train")
    assert len(rows) == 16 and "settings" not in rows.column_names


def test_cli_max_queries_sets_the_cap_and_says_so(tmp_path, capsys):
    from hardneg_kit.mining import read_meta

    out = tmp_path / "few.jsonl"
    argv = ["mine", "--dataset", str(FIXTURE), "--strategy", "random", "--num-negatives", "1",
            "--max-queries", "5", "--output", str(out)]
    assert _cli(argv) == 0
    assert capsys.readouterr().out.startswith("mining 5 train queries of mining with random "
                                              "(capped at 5")
    assert len(out.read_text().splitlines()) == 5 and read_meta(out)["max_queries"] == 5
    assert _cli(argv[:-4] + ["--max-queries", "all", "--output", str(out)]) == 0
    assert "(every query of the split)" in capsys.readouterr().out.splitlines()[0]
    assert len(out.read_text().splitlines()) == 16 and read_meta(out)["max_queries"] is None


def test_cli_num_negatives_zero_is_refused_not_replaced(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _cli(["mine", "--dataset", str(FIXTURE), "--num-negatives", "0",
              "--output", str(tmp_path / "x.jsonl")])
    assert "argument --num-negatives: must be an integer >= 1, got '0'" in capsys.readouterr().err
