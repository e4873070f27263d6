"""Out of core: sample PCA against exact PCA, IVF recall tuning, the out-of-core ensemble path
against the exact one, BM25's sparse top-k against the dense one, sharded embedding cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hardneg_kit.corpus import load_beir
from hardneg_kit.mining import mine, prepare
from hardneg_kit.mining.ann import (
    RECALL_TARGET,
    build_index,
    exact_top_k,
    nlist_for,
    recall_at_k,
    search,
    tune,
)
from hardneg_kit.mining.sample_pca import fit_sample_pca
from hardneg_kit.retrievers.bm25 import BM25Retriever
from hardneg_kit.retrievers.ranking import top_k_rows, top_k_sparse
from hardneg_kit.shards import MemoryRows

FIXTURE = Path(__file__).parent / "fixtures" / "mining"


def _clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, d)) * 3
    x = centres[rng.integers(0, 40, n)] + rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _cosines(a: np.ndarray) -> np.ndarray:
    return a[:50] @ a[:50].T


@pytest.mark.parametrize("size", [3000, 800])
def test_sample_pca_matches_exact_pca(size):
    from sklearn.decomposition import PCA

    x = _clustered(3000, 48)
    exact = PCA(n_components=0.95, svd_solver="full").fit(x)
    ours = fit_sample_pca(lambda r: x[r], len(x), variance=0.95, seed=0, size=size)
    proj_exact = exact.transform(x)
    proj_exact /= np.linalg.norm(proj_exact, axis=1, keepdims=True)
    tol = 1e-4 if size >= len(x) else 0.05  # all rows: the same PCA; a sample: close to it
    assert abs(ours.explained_variance_ratio.sum() - exact.explained_variance_ratio_.sum()) < 0.01
    assert abs(ours.dims - exact.n_components_) <= (0 if size >= len(x) else 2)
    if ours.dims == exact.n_components_:
        np.testing.assert_allclose(_cosines(ours.transform(x)), _cosines(proj_exact), atol=tol)


def test_exact_top_k_is_exhaustive_search():
    import faiss

    x, q = _clustered(2000, 16), _clustered(30, 16, seed=1)
    flat = faiss.IndexFlatIP(16)
    flat.add(x)
    want_s, want_r = flat.search(q, 10)
    got_s, got_r = exact_top_k(MemoryRows(x, shard_rows=300).blocks(), q, 10)
    np.testing.assert_allclose(got_s, want_s, rtol=1e-5)
    assert recall_at_k(got_r, want_r) == 1.0
    assert recall_at_k(np.array([[1, 2, 9]]), np.array([[1, 2, 3]])) == pytest.approx(2 / 3)


def test_ivf_tuning_reaches_recall_on_held_out_queries():
    x, q = _clustered(6000, 16), _clustered(500, 16, seed=2)
    rows = MemoryRows(x, shard_rows=1000)
    index, train_rows = build_index(rows.blocks, rows.take, len(x), 16, seed=0)
    assert index.nlist == nlist_for(6000) == 64 and train_rows == 64 * 64
    plan = tune(index, rows.blocks, q, k=20, seed=0, train_rows=train_rows)
    assert plan.recall_tune >= RECALL_TARGET and plan.recall_heldout >= RECALL_TARGET
    assert plan.tune_queries == plan.heldout_queries == 200
    assert 1 <= plan.nprobe <= plan.nlist and index.nprobe == plan.nprobe
    held = q[200:]  # recall measured independently of tune()
    exact = exact_top_k(rows.blocks(), held, 20)[1]
    assert recall_at_k(search(index, held, 20)[1], exact) >= 0.98
    index.nprobe = 1  # the check is not trivially met: one list misses neighbours
    assert recall_at_k(search(index, held, 20)[1], exact) < RECALL_TARGET


@pytest.mark.parametrize("extra", [{}, {"pca_fit": "passages+queries"}, {"fallback": "closest"}])
def test_out_of_core_ensemble_matches_exact_path(extra):
    data = load_beir(FIXTURE)
    exact = mine(prepare(data, "train"), "train", "ensemble-pca", num_negatives=3, **extra)
    inputs = prepare(data, "train")
    inputs.out_of_core = True
    ooc = mine(inputs, "train", "ensemble-pca", num_negatives=3, **extra)
    assert ooc.negatives() == exact.negatives() and ooc.skipped == exact.skipped
    assert ooc.settings["search"]["index"] == "flat"
    assert ooc.settings["search"]["pca_sample_rows"] == len(inputs.doc_ids)
    assert "search" not in exact.settings  # the in-memory path's records are unchanged


def test_mine_out_of_core_option_gives_the_same_negatives_and_records_the_search(tmp_path):
    import json

    from hardneg_kit import cli

    lists = {}
    for mode in ("off", "on"):
        out = tmp_path / f"{mode}.jsonl"
        argv = ["mine", "--dataset", str(FIXTURE), "--strategy", "ensemble-pca",
                "--num-negatives", "3", "--out-of-core", mode, "--output", str(out)]
        assert cli.main(argv) == 0
        lists[mode] = [json.loads(line)["negative_ids"] for line in out.open()]
        meta = json.loads(Path(f"{out}.meta.json").read_text())
        assert meta["options"]["out_of_core"] == mode
        assert ("search" in json.dumps(meta["settings"])) == (mode == "on")
        assert set(meta["encoders"]) == {"minilm-l6", "paraphrase-minilm-l3", "static-minilm"}
        assert meta["encoders"]["minilm-l6"]["runtime"] == "torch"
    assert lists["on"] == lists["off"] and any(lists["on"])


@pytest.mark.parametrize("variant", ["okapi", "bm25l", "bm25plus"])
def test_bm25_sparse_top_k_equals_dense(variant):
    data = load_beir(FIXTURE)
    inputs = prepare(data, "train")
    passages = inputs.passages + inputs.passages[:5]  # exact ties: ordered by doc id
    ids = inputs.doc_ids + [f"zz{i}" for i in range(5)]
    bm25 = BM25Retriever(variant=variant).index(ids, passages)
    got = bm25.rank(inputs.queries, top_k=7)
    dense, matched = bm25._score_batch(inputs.queries)
    want_i, want_s = top_k_rows(dense, 7, bm25._doc_rank, valid=matched)
    np.testing.assert_array_equal(got.indices, want_i)
    np.testing.assert_array_equal(got.scores, want_s)
    assert (got.indices >= 0).sum() > 0


def test_top_k_sparse_pads_and_offsets():
    from scipy import sparse

    m = sparse.csr_matrix(np.array([[0.0, 2.0, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]]))
    idx, sc = top_k_sparse(m, 3, np.array([3, 1, 2, 0]), offsets=np.array([0.5, 0.5]))
    assert idx.tolist() == [[3, 1, 2], [-1, -1, -1]]  # tie 2.0: doc rank 0 before 1
    assert sc[0].tolist() == [2.5, 2.5, 1.5] and np.isneginf(sc[1]).all()


class _CountingEncoder:
    name, fingerprint = "fake", "f1"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode_passages(self, texts, batch_size=32, show_progress_bar=None):
        self.calls.append(len(texts))
        return np.array([[len(t), 1.0, float(t[-1].isdigit())] for t in texts], np.float32)

    encode_queries = encode_passages


def test_sharded_embedding_cache_resumes(tmp_path, monkeypatch):
    from hardneg_kit.embeddings import embed_passages_sharded

    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path))
    enc, texts = _CountingEncoder(), [f"passage {i}" for i in range(10)]
    first = embed_passages_sharded(enc, texts, shard_rows=4)
    assert enc.calls == [4, 4, 2] and first.shape == (10, 3)
    folder = first.folder
    (folder / "manifest.json").unlink()  # a crash before close, with shard 1 lost
    (folder / "shard-000001.npy").unlink()
    again = embed_passages_sharded(enc, texts, shard_rows=4)
    assert enc.calls == [4, 4, 2, 4]  # only the lost shard is encoded again
    np.testing.assert_array_equal(again.take(np.arange(10)), first.take(np.arange(10)))
    embed_passages_sharded(enc, texts, shard_rows=4)
    assert len(enc.calls) == 4  # closed: a cache hit


def test_prepare_shares_corpus_work_and_keeps_results():
    data = load_beir(FIXTURE)
    a = prepare(data, "train")
    b = prepare(data, "train")
    assert a.shared is b.shared and a.memo is not b.memo
    assert a.passages == b.passages and a.passages is not b.passages
    first = mine(data, "train", "dense:minilm-l6", num_negatives=3)
    again = mine(data, "train", "dense:minilm-l6", num_negatives=3)
    fresh = mine(load_beir(FIXTURE), "train", "dense:minilm-l6", num_negatives=3)
    assert first.negatives() == again.negatives() == fresh.negatives()
    assert "words" in a.shared and "norm" in a.shared
