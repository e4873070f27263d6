"""The re-ranking experiment: statistics by hand, the base re-ranker, and a smoke run."""

import gzip
import json

import numpy as np
import pytest
from ranx import Qrels, Run, evaluate

from hardneg_kit.cli import main
from hardneg_kit.corpus import BeirData, load_beir, resolve_dataset
from hardneg_kit.experiment import (
    BASE,
    BASELINE,
    FUSION,
    WITH_FIRST_STAGE,
    Contender,
    compare_saved,
    default_contenders,
    format_table,
    more_contenders,
    pseudo_queries,
    run_experiment,
    select_contenders,
    summarize,
    verdict,
)
from hardneg_kit.interpolation import WEIGHT_GRID
from hardneg_kit.profiles import get_profile


def test_default_contenders_cover_the_issue_and_have_unique_slugs():
    contenders = default_contenders() + more_contenders()
    names = [c.name for c in contenders]
    for wanted in (BASE, "in-batch negatives", BASELINE, "bm25", "best single model",
                   "ensemble-pca", "ensemble-pca + filter 0.95", "ensemble-pca + closest fallback",
                   "semi-hard", "fusion", "dense:minilm-l6", "first-stage: bm25", FUSION):
        assert wanted in names
    assert len(set(names)) == len(names)
    assert len({c.slug for c in contenders}) == len(contenders)
    assert {Contender(n + WITH_FIRST_STAGE, "").slug for n in names}.isdisjoint(
        c.slug for c in contenders)


def test_select_contenders_keeps_the_baselines_and_rejects_unknown_names():
    chosen = [c.name for c in select_contenders(["semi-hard", "fusion"])]
    assert chosen == [FUSION, BASE, BASELINE, "semi-hard", "fusion"]
    with pytest.raises(ValueError, match="Unknown contender 'nope'"):
        select_contenders(["nope"])


def test_summarize_averages_seeds_per_query_before_testing():
    qrels = Qrels({f"q{i}": {f"d{i}": 1} for i in range(4)})
    good = Run({f"q{i}": {f"d{i}": 2.0, "x": 1.0} for i in range(4)})
    bad = Run({f"q{i}": {"x": 2.0, f"d{i}": 1.0} for i in range(4)})
    runs = {FUSION: {0: bad}, BASELINE: {0: bad, 1: good}, "other": {0: good, 1: good}}
    scores, table, tests = summarize(qrels, runs, metrics=["mrr@10"])
    assert scores[BASELINE][0]["mrr@10"] == pytest.approx(0.5)
    assert table.loc[BASELINE, "mrr@10"] == pytest.approx(0.75)
    # ± is the sample std over seeds (ddof=1): seeds at 0.5 and 1.0
    assert table.loc[BASELINE, "mrr@10 std"] == pytest.approx(np.std([0.5, 1.0], ddof=1))
    assert np.isnan(table.loc[FUSION, "mrr@10 std"])  # one seed: no spread
    # n = queries (4), not queries x seeds: every query's seed-averaged difference is 0.25
    other = next(t for t in tests if t.contender == "other" and t.baseline == BASELINE)
    assert other.n == 4 and other.delta == pytest.approx(0.25)
    assert other.ci_low == pytest.approx(0.25) and other.ci_high == pytest.approx(0.25)
    assert table.loc["other", "mrr@10 vs random delta"] == pytest.approx(0.25)
    assert table.loc["other", f"mrr@10 vs {FUSION} delta"] == pytest.approx(0.5)
    # Holm over every row of the table, the first stage and the base included
    assert not np.isnan(table.loc[FUSION, "mrr@10 vs random p"])
    shown = format_table(table, ["mrr@10"])
    assert list(shown.columns) == ["mrr@10", "Δ mrr@10 vs random [95% CI]", "p vs random",
                                   "Δ mrr@10 vs fusion [95% CI]", "p vs fusion"]
    assert shown.loc[BASELINE, "mrr@10"] == "0.750 ± 0.354"
    assert shown.loc[FUSION, "mrr@10"] == "0.500"
    assert shown.loc["other", "Δ mrr@10 vs fusion [95% CI]"].startswith("+0.500 [+0.500, +0.500]")


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
    contenders = select_contenders(["ensemble-pca"])
    result = run_experiment("smoke", out, contenders, datasets=("aws-cli", "python-faq"))
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["summary"]) == {"aws-cli", "python-faq"}
    assert (out / "mrr10.png").stat().st_size > 0 and (out / "results.md").exists()
    # what made the embeddings: each bi-encoder's runtime and fingerprint
    assert {m: e["runtime"] for m, e in payload["encoders"].items()} == {
        "minilm-l6": "torch", "paraphrase-minilm-l3": "onnx", "static-minilm": "model2vec"}
    assert sorted(p.name for p in (out / "training").iterdir()) == [
        "ensemble-pca-s0.json", "random-s0.json"]
    # the base is built from the corpus alone, evaluated on dev, and every re-ranker is also
    # interpolated with the first stage with a weight chosen on dev
    assert "pseudo-queries" in payload["base"]["built"] and "dev mrr@10" in payload["base"]
    assert set(payload["weights"]) == {BASE, BASELINE, "ensemble-pca"}
    assert all(w in WEIGHT_GRID for w in payload["weights"].values())
    assert payload["contenders"]["ensemble-pca" + WITH_FIRST_STAGE] == "interpolated"
    log = json.loads((out / "training" / "ensemble-pca-s0.json").read_text())
    assert log["config"]["unique_rows"] >= 1 and log["train_rows"] == 48
    # every number can be recomputed from the TREC runs by any evaluation tool (here: ranx)
    data = result.runs["aws-cli"]
    qrels = result.sets["aws-cli"].qrels
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
    assert list(tables["aws-cli"].index)[:3] == ["ensemble-pca", BASE, BASELINE]
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
    # the GPU profile at tiny size, started from an existing cross-encoder (here the saved
    # base): it is its own "no fine-tuning" row, and every contender starts from it
    tiny = get_profile("paper", max_documents=600, max_train_queries=60, max_test_queries=40,
                       eval_queries=10, dev_queries=10, rerank_depth=5, train_examples=16,
                       seeds=(0, 1))
    paper = run_experiment(tiny, None, select_contenders([]), datasets=("aws-cli",),
                           cross_encoder=_base_folder(tmp_path))
    assert "existing cross-encoder" in paper.base["built"]
    assert paper.training[BASELINE][1]["config"]["max_length"] == 256
    assert paper.tables["aws-cli"].loc[BASELINE, "seeds"] == 2


def _base_folder(tmp_path):
    return str(next((tmp_path / "cache" / "experiment" / "smoke").glob("base-*")))


@pytest.mark.slow
def test_dev_split_experiment_never_touches_test_queries(tmp_path, monkeypatch):
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))
    contenders = select_contenders(["ensemble-pca + 50% random"])
    result = run_experiment("smoke", tmp_path / "dev", contenders, datasets=("aws-cli",),
                            split="dev")
    es = result.sets["aws-cli"]
    assert es.split == "dev" and set(es.queries) <= set(es.data.qrels["dev"])
    test_qrels = load_beir(resolve_dataset("aws-cli"), splits=["test"]).qrels["test"]
    assert not set(es.queries) & set(test_qrels)
    assert "### aws-cli dev" in result.markdown()
    payload = json.loads((tmp_path / "dev" / "results.json").read_text())
    assert payload["split"] == "dev" and "ensemble-pca + 50% random" in payload["summary"][
        "aws-cli"]
    # saved dev results are re-tested against the dev qrels
    table = compare_saved(tmp_path / "dev", "ensemble-pca + 50% random")["aws-cli"]
    assert table.loc[BASELINE, "mrr@10"] == pytest.approx(
        result.tables["aws-cli"].loc[BASELINE, "mrr@10"])


def test_cli_experiment_rejects_an_unknown_contender(capsys):
    assert main(["experiment", "--profile", "smoke", "--contenders", "no-such-contender"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-contender" in err[0]


def test_verdict_reads_the_table_it_is_given():
    qrels = Qrels({f"q{i}": {f"d{i}": 1} for i in range(6)})
    good = Run({f"q{i}": {f"d{i}": 2.0, "x": 1.0} for i in range(6)})
    mixed = Run({f"q{i}": ({f"d{i}": 2.0, "x": 1.0} if i % 2 else {"x": 2.0, f"d{i}": 1.0})
                 for i in range(6)})
    _, table, _ = summarize(qrels, {BASELINE: {0: mixed}, FUSION: {0: mixed}, "other": {0: good}},
                            metrics=["mrr@10"])
    text = verdict(table, "other", BASELINE)
    assert text.startswith("other: MRR@10 1.000 vs 0.750 for random (Δ +0.250")
    assert text.endswith("not a significant difference.") or "significantly better" in text
    assert "for fusion" in verdict(table, "other", FUSION)
    with pytest.raises(ValueError, match="compare_saved"):
        verdict(table, "other", "bm25")


def _own_dataset(folder):
    """A small BEIR folder of one's own (a sample of aws-cli with train/dev/test judgements)."""
    from hardneg_kit.corpus import sample, write_beir_folder

    raw = load_beir(resolve_dataset("aws-cli"))
    data = sample(raw, 300, {"train": 40, "dev": 10, "test": 10})
    return write_beir_folder(folder, data.corpus, data.queries, data.qrels)


@pytest.mark.slow
def test_experiment_on_a_folder_names_it_the_same_however_its_path_is_spelled(
        tmp_path, monkeypatch):
    # the bug: given by an absolute path, every contender's cached run resolved to one file
    # (all models reported the same numbers) and results landed in the dataset's folder
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))
    folder = _own_dataset(tmp_path / "data" / "my-docs")
    before = sorted(p for p in folder.rglob("*"))
    args = ["experiment", "--profile", "smoke", "--contenders", "ensemble-pca",
            "--models", "paraphrase-minilm-l3"]
    assert main([*args, "--dataset", str(folder.resolve()), "--output", str(tmp_path / "a")]) == 0
    assert sorted(p for p in folder.rglob("*")) == before  # nothing written into the data
    payload = json.loads((tmp_path / "a" / "results.json").read_text())
    assert list(payload["summary"]) == ["my-docs"] and payload["train_dataset"] == "my-docs"
    assert payload["candidates"] == "fusion:bm25+dense:paraphrase-minilm-l3"
    scores = {n: s["0"]["mrr@10"] for n, s in payload["scores"]["my-docs"].items()}
    trained = [BASE, BASELINE, "ensemble-pca"]
    runs = [(tmp_path / "a" / "runs" / "my-docs" / f"{Contender(n, '').slug}-s0.trec.gz")
            .read_bytes() for n in trained]
    assert len(set(runs)) == len(trained)  # one run per model, not one file shared by all
    models = list((tmp_path / "cache" / "experiment" / "smoke").glob("*/runs/*.trec"))
    assert len({p.parent.parent for p in models}) == len(trained)
    # a relative path names the same dataset: same numbers, served from the cache, and the
    # default output is results/<dataset>/<profile>
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--dataset", "data/my-docs"]) == 0
    again = json.loads((tmp_path / "results" / "my-docs" / "smoke" / "results.json").read_text())
    assert {n: s["0"]["mrr@10"] for n, s in again["scores"]["my-docs"].items()} == scores
    assert compare_saved(tmp_path / "a", "ensemble-pca")["my-docs"].loc[
        BASELINE, "mrr@10"] == pytest.approx(scores[BASELINE])


def test_experiment_refuses_a_dataset_without_splits_before_any_work(tmp_path, capsys):
    folder = tmp_path / "no-dev"
    (folder / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv", "qrels/test.tsv"):
        (folder / name).write_text("")
    assert main(["experiment", "--profile", "smoke", "--dataset", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "qrels/dev.tsv not found" in err and "corpus split" in err


def test_a_trained_model_is_keyed_by_its_rows_and_its_start_not_by_paths(tmp_path):
    # a changed mining default (e.g. what PCA is fitted on) changes the rows, so the key; a
    # base copied to another cache folder is the same start
    from datasets import Dataset

    from hardneg_kit.experiment.train import DEFAULT_CONFIG, _base_key, _train_key

    profile, c = get_profile("smoke"), Contender("ensemble-pca", "ensemble-pca")
    rows = Dataset.from_dict({"query": ["q"], "positive": ["p"], "negative_1": ["n1"]})
    other = Dataset.from_dict({"query": ["q"], "positive": ["p"], "negative_1": ["n2"]})
    key = _train_key(c, rows, profile, DEFAULT_CONFIG)
    assert key == _train_key(c, Dataset.from_dict(rows.to_dict()), profile, DEFAULT_CONFIG)
    assert key != _train_key(c, other, profile, DEFAULT_CONFIG)
    for where in ("a", "b/c"):
        (tmp_path / where).mkdir(parents=True)
        (tmp_path / where / "training_log.json").write_text(
            json.dumps({"steps": 4, "output_dir": str(tmp_path / where)}))
    assert _base_key(str(tmp_path / "a")) == _base_key(str(tmp_path / "b/c"))
    assert _base_key("minilm-l6") == "minilm-l6"
