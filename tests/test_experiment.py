"""The re-ranking experiment: statistics by hand, the corpus-only warm start, and a smoke run."""

import gzip
import json

import numpy as np
import pytest
from ranx import Qrels, Run, evaluate

from hardneg_kit.cli import main
from hardneg_kit.corpus import BeirData, load_beir, resolve_dataset
from hardneg_kit.experiment import (
    BASELINE,
    Contender,
    compare_saved,
    default_contenders,
    format_table,
    holm,
    pseudo_queries,
    run_experiment,
    stacked,
    summarise,
    variant_contenders,
)


def test_holm_matches_the_step_down_rule_by_hand():
    # sorted: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04 -> monotone 0.06
    assert holm({"a": 0.01, "b": 0.04, "c": 0.03}) == {"a": 0.03, "b": 0.06, "c": 0.06}
    assert holm({"a": 0.5, "b": 0.9}) == {"a": 1.0, "b": 1.0}  # capped at 1
    out = holm({"a": 0.02, "b": float("nan")})
    assert out["a"] == 0.02 and np.isnan(out["b"])  # nan is not counted as a test


def test_default_contenders_cover_the_issue_and_have_unique_slugs():
    contenders = default_contenders()
    names = [c.name for c in contenders]
    for wanted in ("no fine-tuning", "in-batch negatives", BASELINE, "bm25", "fusion",
                   "ensemble-pca", "ensemble-pca + filter 0.95", "semi-hard",
                   "dense:minilm-l6", "first-stage: bm25", "first-stage: fusion (rrf)"):
        assert wanted in names
    assert len({c.slug for c in contenders}) == len(contenders)


def test_stacked_runs_pair_seeds_and_repeat_a_single_run():
    one = Run({"q1": {"d1": 1.0}})
    out = stacked({0: one}, [0, 1]).to_dict()
    assert set(out) == {"0|q1", "1|q1"}


def test_summarise_means_stds_and_p_values():
    qrels = Qrels({"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}})
    good = Run({"q1": {"d1": 2.0, "x": 1.0}, "q2": {"d2": 2.0, "x": 1.0},
                "q3": {"d3": 2.0, "x": 1.0}})
    bad = Run({"q1": {"x": 2.0, "d1": 1.0}, "q2": {"x": 2.0, "d2": 1.0},
               "q3": {"x": 2.0, "d3": 1.0}})
    runs = {BASELINE: {0: bad, 1: good}, "other": {0: good, 1: good}}
    scores, table = summarise(qrels, runs, [0, 1], metrics=["mrr@10"])
    assert scores[BASELINE][0]["mrr@10"] == pytest.approx(0.5)
    assert table.loc[BASELINE, "mrr@10"] == pytest.approx(0.75)
    assert table.loc[BASELINE, "mrr@10 std"] == pytest.approx(0.25)
    assert table.loc["other", "mrr@10"] == pytest.approx(1.0)
    assert 0 <= table.loc["other", "mrr@10 p"] <= 1 and np.isnan(table.loc[BASELINE, "mrr@10 p"])
    shown = format_table(table, ["mrr@10"])
    assert shown.loc["other", "mrr@10"].startswith("1.000 ± 0.000")


def test_pseudo_queries_use_the_first_sentence_and_drop_it_from_the_passage():
    import datasets

    corpus = datasets.Dataset.from_dict({
        "_id": ["a", "b", "c"],
        "title": ["aws s3 rb", "aws s3 ls", "aws x y"],
        "text": ["Deletes an empty bucket. --bucket: the bucket.",
                 "Lists objects.\n--path: where.",  # 2 words: too short to be a query
                 "Creates a new thing in the account."],  # nothing after the sentence
    })
    data = BeirData(name="toy", folder=None, corpus=corpus, queries=corpus, qrels={})
    pairs = pseudo_queries(data, 10, seed=0)
    assert pairs["query"] == ["Deletes an empty bucket."]
    assert pairs["positive"] == ["aws s3 rb\n--bucket: the bucket."]


def _gunzip(path, folder):
    plain = folder / path.name.removesuffix(".gz")
    plain.write_bytes(gzip.decompress(path.read_bytes()))
    return plain


@pytest.mark.slow
def test_smoke_experiment_writes_runs_that_reproduce_its_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "results"
    contenders = [c for c in default_contenders()
                  if c.name in ("first-stage: bm25", "no fine-tuning", BASELINE, "ensemble-pca")]
    result = run_experiment("smoke", out, contenders, datasets=("aws-cli", "python-faq"))
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["summary"]) == {"aws-cli", "python-faq"}
    assert (out / "mrr10.png").stat().st_size > 0 and (out / "results.md").exists()
    assert sorted(p.name for p in (out / "training").iterdir()) == [
        "ensemble-pca-s0.json", "random-s0.json"]
    # every number can be recomputed from the TREC runs by any evaluation tool (here: ranx)
    data = result.runs["aws-cli"]
    qrels = result.sets["aws-cli"].data.qrels_for("test")
    for name in data:
        slug = Contender(name, "").slug
        path = out / "runs" / "aws-cli" / f"{slug}-s0.trec.gz"
        run = Run.from_file(str(_gunzip(path, tmp_path)), kind="trec")
        expected = payload["scores"]["aws-cli"][name]["0"]["mrr@10"]
        missing = {q: {} for q in qrels.keys() if q not in run.keys()}
        run = Run({**run.to_dict(), **missing}) if missing else run
        assert evaluate(qrels, run, "mrr@10") == pytest.approx(expected, abs=1e-6)
    # the saved results can be re-tested against another baseline from the runs alone
    tables = compare_saved(out, "ensemble-pca")
    assert list(tables["aws-cli"].index) == ["ensemble-pca", "no fine-tuning", BASELINE]
    assert tables["aws-cli"].loc[BASELINE, "mrr@10"] == pytest.approx(
        result.tables["aws-cli"].loc[BASELINE, "mrr@10"])
    assert main(["compare", str(out), "--baseline", "ensemble-pca"]) == 0
    assert "### python-faq: against ensemble-pca" in capsys.readouterr().out
    assert main(["compare", str(out), "--baseline", "no-such-contender"]) == 2
    assert "no-such-contender" in capsys.readouterr().err
    # a second run is served from the cache: same numbers, no training
    again = run_experiment("smoke", None, contenders, datasets=("aws-cli", "python-faq"))
    assert again.tables["aws-cli"]["mrr@10"].to_dict() == pytest.approx(
        result.tables["aws-cli"]["mrr@10"].to_dict())
    assert again.training[BASELINE][0]["wall_time_s"] == result.training[BASELINE][0][
        "wall_time_s"]


@pytest.mark.slow
def test_dev_split_experiment_never_touches_test_queries(tmp_path, monkeypatch):
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))
    variant = variant_contenders()[1]  # ensemble-pca + 50% random
    contenders = [c for c in default_contenders() if c.name == BASELINE] + [variant]
    result = run_experiment("smoke", tmp_path / "dev", contenders, datasets=("aws-cli",),
                            split="dev")
    es = result.sets["aws-cli"]
    assert es.split == "dev" and set(es.queries) <= set(es.data.qrels["dev"])
    test_qrels = load_beir(resolve_dataset("aws-cli"), splits=["test"]).qrels["test"]
    assert not set(es.queries) & set(test_qrels)
    assert "### aws-cli dev" in result.markdown()
    payload = json.loads((tmp_path / "dev" / "results.json").read_text())
    assert payload["split"] == "dev" and set(payload["summary"]["aws-cli"]) == {
        BASELINE, variant.name}
    # saved dev results are re-tested against the dev qrels
    table = compare_saved(tmp_path / "dev", variant.name)["aws-cli"]
    assert table.loc[BASELINE, "mrr@10"] == pytest.approx(
        result.tables["aws-cli"].loc[BASELINE, "mrr@10"])


def test_variant_contenders_are_distinct_from_the_defaults():
    names = {c.name for c in default_contenders()}
    variants = variant_contenders()
    assert variants and not names & {c.name for c in variants}
    assert len({c.slug for c in variants}) == len(variants)


def test_cli_experiment_rejects_an_unknown_contender(capsys):
    assert main(["experiment", "--profile", "smoke", "--only", "no-such-contender"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-contender" in err[0]
