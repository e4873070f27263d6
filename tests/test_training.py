"""Cross-encoder training and re-ranking: every loss trains, the triplet loss is what it claims,
training is reproducible, budgets are equal and re-ranking is deterministic."""

import json
import math
import re

import numpy as np
import pytest
import torch
from datasets import Dataset
from ranx import Run

from hardneg_kit.losses import TripletMarginLoss
from hardneg_kit.models import cross_encoder_start
from hardneg_kit.training import HEAD_PARAMETERS as HEAD
from hardneg_kit.training import (
    as_labeled_pairs,
    budget_steps,
    dataset_columns,
    equalize,
    rerank,
    score_pairs,
    train_cross_encoder,
)

N = 16
QUERIES = [f"how do I delete storage bucket number {i}" for i in range(N)]
POSITIVES = [f"the rb command deletes the empty bucket {i}" for i in range(N)]
NEGATIVES = [f"the mb command creates a new bucket {i}" for i in range(N)]
NEGATIVES_2 = [f"list the objects stored in bucket {i}" for i in range(N)]
TINY = {"num_layers": 1, "max_length": 32, "batch_size": 4, "log_every": 1}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One thread: on a shared 2-core machine, tiny models train 2-3x faster than with two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def triplets() -> Dataset:
    """The triplet format of mine_hard_negatives: column names follow the input dataset."""
    return Dataset.from_dict({"query": QUERIES, "answer": POSITIVES, "negative": NEGATIVES})


def ntuples() -> Dataset:
    return Dataset.from_dict(
        {
            "query": QUERIES,
            "answer": POSITIVES,
            "negative_1": NEGATIVES,
            "negative_2": NEGATIVES_2,
            "scores": [[0.9, 0.5, 0.4]] * N,  # output_scores=True: ignored
        }
    )


def pairs() -> Dataset:
    return Dataset.from_dict({"query": QUERIES, "answer": POSITIVES})


# --------------------------------------------------------------------------- formats


def test_formats_are_recognised_and_converted():
    assert dataset_columns(triplets()).format == "triplet"
    spec = dataset_columns(ntuples())
    assert (spec.format, spec.anchor, spec.positive) == ("n-tuple", "query", "answer")
    assert spec.negatives == ("negative_1", "negative_2")
    assert dataset_columns(pairs()).format == "pair"
    labeled = as_labeled_pairs(ntuples())
    assert labeled.column_names == ["query", "passage", "label"] and len(labeled) == 3 * N
    assert labeled["label"][:3] == [1.0, 0.0, 0.0]
    listed = Dataset.from_dict(
        {"query": ["q"], "answer": [["p", "n1", "n2"]], "labels": [[1, 0, 0]]}
    )
    assert dataset_columns(listed).format == "labeled-list"
    assert as_labeled_pairs(listed)["passage"] == ["p", "n1", "n2"]
    pair_labels = Dataset.from_dict({"query": ["q", "q"], "answer": ["p", "n"], "label": [1, 0]})
    assert dataset_columns(pair_labels).format == "labeled-pair"


@pytest.mark.parametrize(
    ("data", "loss", "message"),
    [
        (pairs(), "triplet", "'pair'"),
        (pairs(), "bce", "mine negatives first"),
        (Dataset.from_dict({"q": ["a"], "d": ["b"], "label": [1]}), "mnrl", "labeled-pair"),
        (Dataset.from_dict({"q": ["a"], "p": ["b"], "x": ["c"]}), "triplet", "expected two"),
        (Dataset.from_dict({"q": ["a"], "p": ["b"], "score": [0.3]}), "bce", "similarities"),
        (triplets(), "hinge", "Unknown loss"),
    ],
)
def test_wrong_columns_give_a_clear_error(tmp_path, data, loss, message):
    with pytest.raises(ValueError, match=message):
        train_cross_encoder(data, loss, tmp_path, **TINY, max_steps=1)


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize(
    ("loss", "data"),
    [("bce", ntuples), ("mnrl", ntuples), ("mnrl", pairs), ("triplet", triplets)],
    ids=["bce-ntuple", "mnrl-ntuple", "mnrl-in-batch-only", "triplet"],
)
def test_each_loss_trains_saves_and_loads(tmp_path, loss, data):
    from sentence_transformers import CrossEncoder

    result = train_cross_encoder(
        data(), loss, tmp_path / loss, **TINY, max_steps=3, in_batch_negatives=2,
        eval_dataset=data().select(range(4)),
    )
    assert result.steps == 3 and [s for s, _ in result.loss_curve] == [1, 2, 3]
    assert all(math.isfinite(v) for _, v in result.loss_curve)
    assert result.examples_seen == pytest.approx(12)  # 3 steps x 4 rows, for every loss
    assert result.pairs_seen > 0 and result.wall_time_s > 0 and math.isfinite(result.eval_loss)
    log = json.loads((tmp_path / loss / "training_log.json").read_text())
    assert log["steps"] == 3 and log["loss"] == loss and "model" not in log
    reloaded = CrossEncoder(str(tmp_path / loss), device="cpu")
    probe = [(QUERIES[0], POSITIVES[0]), (QUERIES[0], NEGATIVES[0])]
    np.testing.assert_allclose(
        score_pairs(reloaded, probe), score_pairs(result.model, probe), atol=1e-5
    )


def test_same_seed_gives_identical_weights(tmp_path):
    # Dropout, data order and the fresh head all depend on the seed.
    runs = [
        train_cross_encoder(triplets(), "triplet", tmp_path / f"r{i}", **TINY, max_steps=2, seed=7)
        for i in range(2)
    ]
    first, second = (r.model.model.state_dict() for r in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)
    start = cross_encoder_start(num_layers=1, max_length=32, seed=7).model.state_dict()
    assert not all(torch.equal(first[k], start[k]) for k in first)  # training moved the weights


def test_triplet_loss_matches_the_hinge_by_hand():
    torch.manual_seed(0)
    model = cross_encoder_start(num_layers=1, max_length=32, seed=0)
    model.eval()  # no dropout: the loss and predict see the same network
    anchors, positives = QUERIES[:3], POSITIVES[:3]
    neg_1, neg_2 = NEGATIVES[:3], [NEGATIVES_2[0], None, NEGATIVES_2[2]]  # one missing
    margin = 0.5
    with torch.no_grad():
        loss = TripletMarginLoss(model, margin=margin)([anchors, positives, neg_1, neg_2], None)
    s_p = score_pairs(model, list(zip(anchors, positives, strict=True)))
    s_1 = score_pairs(model, list(zip(anchors, neg_1, strict=True)))
    s_2 = score_pairs(model, [(a, n) for a, n in zip(anchors, neg_2, strict=True) if n is not None])
    relu = lambda x: max(0.0, float(x))  # noqa: E731
    rows = [
        (relu(margin - s_p[0] + s_1[0]) + relu(margin - s_p[0] + s_2[0])) / 2,
        relu(margin - s_p[1] + s_1[1]),
        (relu(margin - s_p[2] + s_1[2]) + relu(margin - s_p[2] + s_2[1])) / 2,
    ]
    assert float(loss) == pytest.approx(np.mean(rows), abs=1e-4)
    with torch.no_grad():
        assert float(TripletMarginLoss(model, margin=-1e3)([anchors, positives, neg_1], None)) == 0
    assert TripletMarginLoss(model).get_config_dict()["margin"] == 1.0
    head = {n for n, _ in TripletMarginLoss(model).named_parameters() if re.search(HEAD, n)}
    # the mean-pooled start: its linear head (weight, bias) and BERT's unused pooler
    assert sorted(n.split(".")[-2] for n in head) == ["dense", "dense", "linear", "linear"]


# --------------------------------------------------------------------------- budgets


def test_equalize_gives_exactly_n_rows_deterministically():
    data = triplets()
    a, b = equalize(data, 10, seed=1), equalize(data, 10, seed=1)
    assert len(a) == 10 and a["query"] == b["query"]
    assert equalize(data, 10, seed=2)["query"] != a["query"]
    assert len(set(a["query"])) == 10  # no repeats when there is enough data
    up = equalize(data, 40, seed=0)
    assert len(up) == 40 and up["query"] == equalize(data, 40, seed=0)["query"]
    assert budget_steps(40, 16) == 3 and budget_steps(32, 16, epochs=2) == 4
    with pytest.raises(ValueError):
        equalize(data, 0)


# --------------------------------------------------------------------------- re-ranking


class FakeCrossEncoder:
    """Scores a pair by the number in the passage text: deterministic, with ties."""

    def predict(self, pairs, batch_size=32, show_progress_bar=None, **kwargs):
        return np.array([float(p.split()[-1]) for _, p in pairs], dtype=np.float32)


def test_rerank_is_deterministic_and_respects_depth():
    passages = {"d1": "x 3", "d2": "x 5", "d3": "x 5", "d4": "x 9", "d5": "x 1"}
    queries = {"q1": "first", "q2": "second", "q3": "no candidates"}
    candidates = {
        "q1": {"d1": 0.9, "d2": 0.8, "d3": 0.8, "d4": 0.1, "d5": 0.7},
        "q2": {"d3": 1.0, "d2": 1.0},
    }
    run = rerank(FakeCrossEncoder(), queries, candidates, passages, depth=3)
    assert isinstance(run, Run)
    ranked = {q: sorted(d, key=lambda k: -d[k]) for q, d in run.to_dict().items()}
    # q1: top 3 by first-stage score (d1, then the d2/d3 tie) -> d4 and d5 dropped;
    # re-scored d2 == d3 == 5 -> tie broken by doc id.
    assert ranked == {"q1": ["d2", "d3", "d1"], "q2": ["d2", "d3"]}
    again = rerank(FakeCrossEncoder(), queries, Run(candidates), passages, depth=3)
    assert again.to_dict() == run.to_dict()
    with pytest.raises(KeyError, match="d9"):
        rerank(FakeCrossEncoder(), queries, {"q1": {"d9": 1.0}}, passages)


def test_rerank_with_a_real_model_scores_every_query():
    model = cross_encoder_start(num_layers=1, max_length=32)
    passages = {f"d{i}": text for i, text in enumerate(POSITIVES[:4] + NEGATIVES[:4])}
    queries = {f"q{i}": QUERIES[i] for i in range(4)}
    candidates = {q: {d: 1.0 for d in passages} for q in queries}
    run = rerank(model, queries, candidates, passages, depth=5, show_progress_bar=False)
    assert sorted(run.keys()) == sorted(queries)
    assert all(len(docs) == 5 for docs in run.to_dict().values())
