"""Retrievers, the embedding cache, TREC files and the ``retrieve`` command on tiny corpora."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from hardneg_kit import embeddings
from hardneg_kit.retrievers import (
    BM25Retriever,
    DenseRetriever,
    FusionRetriever,
    Ranking,
    Retriever,
    break_ties,
    make_retriever,
    make_run,
    read_trec,
    tokenize,
    write_trec,
)

FIXTURES = Path(__file__).parent / "fixtures"

DOC_IDS = ["s3/ls", "s3/rb", "ec2/run", "iam/user"]
DOCS = [
    "aws s3 ls: list objects and prefixes in a bucket",
    "aws s3 rb: delete an empty bucket",
    "aws ec2 run-instances: launch virtual machines",
    "aws iam create-user: add a user to the account",
]


class FakeEncoder:
    """Deterministic bag-of-hashed-words embeddings: shared words -> higher cosine."""

    def __init__(self, dim: int = 64, name: str = "fake", fingerprint: str = "fake-v1"):
        self.dim, self.name, self.fingerprint = dim, name, fingerprint
        self.encoded: list[str] = []  # every text ever encoded, to count cache misses

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in tokenize(text):
            h = int.from_bytes(hashlib.md5(tok.encode()).digest()[:4], "little")
            v[h % self.dim] += 1.0 if (h >> 16) % 2 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def _encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def encode_queries(self, texts, batch_size=32, show_progress_bar=None):
        return self._encode(list(texts))

    def encode_passages(self, texts, batch_size=32, show_progress_bar=None):
        return self._encode(list(texts))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------- BM25


def test_tokenizer_lowercases_and_splits_on_non_alphanumerics():
    assert tokenize("AWS s3api put-object --Bucket my_bucket") == [
        "aws", "s3api", "put", "object", "bucket", "my", "bucket",
    ]  # fmt: skip


def test_bm25_ranks_the_exact_term_passage_first():
    bm25 = BM25Retriever().index(DOC_IDS, DOCS)
    run = bm25.search(["q1", "q2"], ["delete bucket", "launch a virtual machine"], top_k=2)
    assert list(run["q1"])[0] == "s3/rb"
    assert list(run["q2"])[0] == "ec2/run"
    assert len(run["q1"]) == 2


def test_bm25_query_without_shared_terms_is_present_and_empty():
    bm25 = BM25Retriever().index(DOC_IDS, DOCS)
    run = bm25.search(["q1", "q2"], ["zzz qqq", "bucket"], top_k=10)
    assert set(run.keys()) == {"q1", "q2"}
    assert len(run["q1"]) == 0
    assert set(run["q2"]) == {"s3/ls", "s3/rb"}  # only passages sharing a term


def test_bm25_all_queries_without_hits_still_give_a_run():
    bm25 = BM25Retriever().index(DOC_IDS, DOCS)
    run = bm25.search(["q1", "q2"], ["zzz", "qqq"])
    assert sorted(run.keys()) == ["q1", "q2"]


def test_okapi_idf_trap_on_a_three_document_corpus():
    # every query term is in 2 or 3 of the 3 documents: raw Okapi idf <= 0
    ids, docs = ["a", "b", "c"], ["aws s3 bucket list", "aws s3 bucket delete", "aws s3 object"]
    stock = BM25Okapi([tokenize(d) for d in docs])
    stock_scores = stock.get_scores(tokenize("s3 bucket"))
    # the trap: rank-bm25's floor (epsilon * mean idf) is negative here, so the passages that
    # contain "bucket" score below the one that does not
    assert stock.average_idf < 0
    assert stock_scores[0] < stock_scores[2]

    bm25 = BM25Retriever().index(ids, docs)
    assert bm25.idf_floor > 0
    assert (bm25.idf > 0).all()
    scores = bm25.scores(["s3 bucket"])[0]
    assert scores[0] > scores[2] > 0 and scores[1] > scores[2]
    assert bm25.idf[bm25.vocab["list"]] > bm25.idf[bm25.vocab["bucket"]]  # rarer term weighs more
    hits = bm25.rank(["s3 bucket"], top_k=3).hits(0)
    assert [d for d, _ in hits] == ["a", "b", "c"]  # a and b tie: doc id order


def test_okapi_idf_equals_rank_bm25_when_no_term_reaches_half_the_documents():
    docs = [f"word{i} word{i + 1} unique{i}" for i in range(10)]  # each term in <= 2 of 10 docs
    stock = BM25Okapi([tokenize(d) for d in docs])
    bm25 = BM25Retriever().index([str(i) for i in range(10)], docs)
    for term, idf in stock.idf.items():
        assert bm25.idf[bm25.vocab[term]] == pytest.approx(idf)


def _random_corpus(seed: int = 0, n_docs: int = 60) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    vocab = [f"t{i}" for i in range(40)]
    probs = 1 / np.arange(1, 41)
    probs /= probs.sum()  # Zipf-like: t0 / t1 occur in most documents
    docs = [" ".join(rng.choice(vocab, size=rng.integers(1, 25), p=probs)) for _ in range(n_docs)]
    queries = [" ".join(rng.choice(vocab, size=rng.integers(1, 6), p=probs)) for _ in range(15)]
    queries += ["t0 t0 t3 unknownword", "unknownword"]  # repeated and unknown terms
    return docs, queries


@pytest.mark.parametrize(
    ("variant", "cls"), [("okapi", BM25Okapi), ("bm25l", BM25L), ("bm25plus", BM25Plus)]
)
def test_vectorised_scores_equal_rank_bm25(variant, cls):
    docs, queries = _random_corpus()
    ids = [f"d{i}" for i in range(len(docs))]
    bm25 = BM25Retriever(variant=variant, k1=1.2, b=0.7, batch_size=4).index(ids, docs)
    ours = bm25.scores(queries)
    reference = np.stack([bm25.model.get_scores(tokenize(q)) for q in queries])
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)
    if variant != "okapi":  # Okapi's idf is floored on purpose; the others are stock rank-bm25
        stock = cls([tokenize(d) for d in docs], k1=1.2, b=0.7)
        expected = np.stack([stock.get_scores(tokenize(q)) for q in queries])
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)
    # columns for a subset of documents, in the requested order
    np.testing.assert_allclose(bm25.scores(queries[:2], ["d5", "d1"]), ours[:2][:, [5, 1]])


def test_bm25_rank_matches_sorted_full_scores():
    docs, queries = _random_corpus(seed=1)
    ids = [f"d{i:02d}" for i in range(len(docs))]
    bm25 = BM25Retriever(batch_size=5).index(ids, docs)
    full = bm25.scores(queries)
    ranking = bm25.rank(queries, top_k=7)
    for i in range(len(queries)):
        matched = [j for j in range(len(ids)) if any(t in tokenize(docs[j]) for t in tokenize(
            queries[i]))]
        expected = sorted(matched, key=lambda j: (-full[i, j], ids[j]))[:7]
        assert [j for j in ranking.indices[i] if j >= 0] == expected


def test_ties_are_broken_by_doc_id():
    bm25 = BM25Retriever().index(["z", "b", "m", "x"], ["same text", "same text", "same text", "o"])
    assert [d for d, _ in bm25.rank(["same"], top_k=2).hits(0)] == ["b", "m"]


def test_tokenizer_is_replaceable():
    docs = ["S3 Bucket", "s3 bucket"]
    default = BM25Retriever().index(["upper", "lower"], docs)
    case_sensitive = BM25Retriever(tokenizer=str.split).index(["upper", "lower"], docs)
    assert len(default.rank(["Bucket"]).hits(0)) == 2
    assert [d for d, _ in case_sensitive.rank(["Bucket"]).hits(0)] == ["upper"]


def test_bm25_input_errors():
    with pytest.raises(ValueError, match="Duplicate doc id 'a'"):
        BM25Retriever().index(["a", "a"], ["x", "y"])
    with pytest.raises(ValueError, match="empty corpus"):
        BM25Retriever().index([], [])
    with pytest.raises(ValueError, match="variant"):
        BM25Retriever(variant="bm99")
    with pytest.raises(RuntimeError, match="index"):
        BM25Retriever().rank(["x"])


# --------------------------------------------------------------------------- dense


def test_dense_flat_ranks_by_cosine_and_exposes_embeddings():
    enc = FakeEncoder()
    dense = DenseRetriever(enc).index(DOC_IDS, DOCS)
    assert isinstance(dense, Retriever)
    assert dense.name == "dense:fake"
    assert dense.passage_embeddings.shape == (4, 64)
    run = dense.search(["q1"], ["delete an empty bucket"], top_k=4)
    assert list(run["q1"])[0] == "s3/rb"
    q = dense.encode(["delete an empty bucket"])
    expected = q @ dense.passage_embeddings.T
    np.testing.assert_allclose(dense.scores(["delete an empty bucket"]), expected)
    scores = list(run["q1"].values())
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("index", ["hnsw", "ivf"])
def test_dense_approximate_indexes_agree_on_a_small_corpus(index):
    enc = FakeEncoder()
    exact = DenseRetriever(enc).index(DOC_IDS, DOCS).rank(["delete an empty bucket"], top_k=2)
    approx = DenseRetriever(enc, index=index, nprobe=64).index(DOC_IDS, DOCS)
    got = approx.rank(["delete an empty bucket"], top_k=2)
    assert got.hits(0)[0][0] == exact.hits(0)[0][0] == "s3/rb"
    assert approx.name == f"dense:fake@{index}"


def test_dense_top_k_larger_than_corpus_and_ties():
    enc = FakeEncoder()
    dense = DenseRetriever(enc).index(["b", "a", "c"], ["same", "same", "other words"])
    hits = dense.rank(["same"], top_k=10).hits(0)
    assert [d for d, _ in hits][:2] == ["a", "b"] and len(hits) == 3


# --------------------------------------------------------------------------- fusion


class StubRetriever:
    """A retriever with a fixed ranking per query (for exact fusion values)."""

    def __init__(self, name: str, order: list[str]):
        self.name, self.order = name, order

    def index(self, doc_ids, passages):
        self.doc_ids = list(doc_ids)
        return self

    def rank(self, queries, top_k=100):
        idx = np.array([[self.doc_ids.index(d) for d in self.order[:top_k]]] * len(queries))
        sc = np.array([[float(len(self.order) - r) for r in range(idx.shape[1])]] * len(queries))
        return Ranking(self.doc_ids, idx, sc)

    def search(self, query_ids, queries, top_k=100):
        return self.rank(queries, top_k).to_run(query_ids, self.name)


def test_rrf_fusion_values_by_hand():
    a = StubRetriever("a", ["d1", "d2", "d3"])
    b = StubRetriever("b", ["d2", "d3", "d1"])
    fused = FusionRetriever([a, b]).index(["d1", "d2", "d3"], ["", "", ""])
    hits = fused.rank(["anything"], top_k=3).hits(0)
    expected = {
        "d1": 1 / 61 + 1 / 63,
        "d2": 1 / 62 + 1 / 61,
        "d3": 1 / 63 + 1 / 62,
    }
    assert [d for d, _ in hits] == ["d2", "d1", "d3"]
    for d, s in hits:
        assert s == pytest.approx(expected[d])
    assert fused.name == "rrf(a+b)"


@pytest.mark.parametrize("method", ["rrf", "combsum", "combmnz"])
def test_fusion_of_bm25_and_dense_covers_every_query(method):
    fused = FusionRetriever([BM25Retriever(), DenseRetriever(FakeEncoder())], method=method)
    fused.index(DOC_IDS, DOCS)
    run = fused.search(["q1", "q2"], ["delete an empty bucket", "zzz"], top_k=3)
    assert set(run.keys()) == {"q1", "q2"}
    assert list(run["q1"])[0] == "s3/rb"
    assert len(run["q1"]) <= 3


def test_make_retriever_specs():
    assert isinstance(make_retriever("bm25"), BM25Retriever)
    assert make_retriever("bm25plus").variant == "bm25plus"
    assert make_retriever("bm25", k1=0.9).k1 == 0.9
    fused = make_retriever("fusion:bm25+bm25l", method="combsum")
    assert isinstance(fused, FusionRetriever) and fused.method == "combsum"
    assert [r.name for r in fused.retrievers] == ["bm25", "bm25l"]


@pytest.mark.parametrize("spec", ["tfidf", "dense:", "fusion:bm25", "fusion:bm25+", ""])
def test_unknown_retriever_spec_is_one_clear_line(spec):
    with pytest.raises(ValueError) as err:
        make_retriever(spec)
    msg = str(err.value)
    assert "\n" not in msg and repr(spec) in msg and "dense:<model spec>" in msg


# --------------------------------------------------------------------------- TREC files


def test_trec_round_trip_is_atomic_and_keeps_order(tmp_path):
    run = make_run({"q1": {"d1": 2.0, "d2": 1.5}, "q2": {}, "q3": {"d3": 0.25}}, name="bm25")
    path = write_trec(run, tmp_path / "runs" / "bm25-test.trec", tag="my run")
    assert [p.name for p in path.parent.iterdir()] == ["bm25-test.trec"]  # no temp file left
    lines = path.read_text().splitlines()
    assert lines[0].split() == ["q1", "Q0", "d1", "1", "2.0", "my_run"]
    back = read_trec(path)
    assert back.name == "my_run"
    assert dict(back["q1"]) == {"d1": 2.0, "d2": 1.5}
    assert "q2" not in back.keys()  # TREC cannot hold a query without hits: evaluation adds it
    assert run.name == "bm25"


def test_gzipped_trec_round_trip_is_byte_stable_and_readable(tmp_path):
    import gzip

    run = make_run({"q1": {"d1": 2.0, "d2": 1.5}, "q3": {"d3": 0.25}}, name="bm25")
    plain = write_trec(run, tmp_path / "a.trec", tag="t")
    zipped = write_trec(run, tmp_path / "a.trec.gz", tag="t")
    assert gzip.decompress(zipped.read_bytes()) == plain.read_bytes()
    again = write_trec(run, tmp_path / "b.trec.gz", tag="t")
    assert again.read_bytes() == zipped.read_bytes()  # no timestamp inside
    back = read_trec(zipped)
    assert back.name == "t" and dict(back["q1"]) == {"d1": 2.0, "d2": 1.5}
    (tmp_path / "broken.trec.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="broken.trec.gz"):
        read_trec(tmp_path / "broken.trec.gz")


def test_trec_rejects_whitespace_ids_and_reads_empty_files(tmp_path):
    with pytest.raises(ValueError, match="whitespace"):
        write_trec(make_run({"q 1": {"d1": 1.0}}), tmp_path / "x.trec")
    (tmp_path / "empty.trec").write_text("")
    assert len(read_trec(tmp_path / "empty.trec").keys()) == 0
    with pytest.raises(FileNotFoundError):
        read_trec(tmp_path / "missing.trec")


def _ranked(hits) -> list[str]:
    return sorted(hits, key=lambda d: (-hits[d], d))


def test_break_ties_orders_a_three_way_tie_by_doc_id_with_distinct_scores():
    run = make_run({"q1": {"c": 0.5, "a": 0.5, "b": 0.5, "top": 0.9, "low": 0.1}}, name="r")
    untied = break_ties(run)
    hits = dict(untied["q1"])
    assert untied.name == "r" and break_ties(run, name="other").name == "other"
    assert _ranked(hits) == ["top", "a", "b", "c", "low"]
    assert hits["top"] == 0.9 and hits["a"] == 0.5 and hits["low"] == 0.1  # only ties move
    single = np.float32([hits[d] for d in ["a", "b", "c"]])
    assert single[0] > single[1] > single[2]  # distinct even as trec_eval's C float
    assert hits["b"] == np.nextafter(np.float32(0.5), np.float32(-np.inf))
    assert hits["c"] == np.nextafter(np.float32(hits["b"]), np.float32(-np.inf))
    assert dict(run["q1"])["c"] == 0.5  # the input is left alone


def test_break_ties_leaves_untied_runs_unchanged():
    run = make_run({"q1": {"d1": 2.0, "d2": 1.5, "d3": -0.25}, "q2": {}, "q3": {"x": 0.0}})
    untied = break_ties(run)
    assert untied.to_dict() == run.to_dict() and set(untied.keys()) == {"q1", "q2", "q3"}


def test_break_ties_separates_scores_equal_in_single_precision_keeping_order():
    near = 1.0 - 1e-12  # below 1.0 in float64, equal to it as a C float
    hits = dict(break_ties(make_run({"q1": {"b": 1.0, "a": near}}))["q1"])
    assert hits["b"] == 1.0 and np.float32(hits["a"]) < np.float32(1.0) and hits["a"] < near


def test_trec_round_trip_keeps_the_tie_order_and_distinct_scores(tmp_path):
    run = make_run({"q1": {"d3": 1.0, "d1": 1.0, "d2": 1.0, "d0": 0.5},
                    "q2": {"x": 0.0, "w": 0.0}}, name="tied")  # fmt: skip
    back = read_trec(write_trec(run, tmp_path / "tied.trec.gz"))
    for qid, expected in (("q1", ["d1", "d2", "d3", "d0"]), ("q2", ["w", "x"])):
        hits = dict(back[qid])
        assert _ranked(hits) == expected
        scores = [hits[d] for d in expected]
        assert all(a > b for a, b in zip(scores, scores[1:], strict=False))
        assert all(a > b for a, b in zip(np.float32(scores), np.float32(scores[1:]), strict=False))
    assert back.to_dict() == break_ties(run).to_dict()  # every digit survives the text


def test_metrics_of_a_written_tied_run_match_the_doc_id_order(tmp_path):
    from ranx import Qrels, Run, evaluate

    docs = [f"d{i}" for i in range(6)]
    scores = {"q1": 1.0, "q2": 1.0, "q3": 1.0}
    run = make_run({q: {d: s for d in reversed(docs)} for q, s in scores.items()})
    qrels = Qrels({"q1": {"d1": 1}, "q2": {"d4": 1}, "q3": {"d2": 1, "d5": 1}})
    reference = Run({q: {d: float(len(docs) - r) for r, d in enumerate(docs)} for q in scores})
    back = read_trec(write_trec(run, tmp_path / "tied.trec.gz"))
    metrics = ["mrr@10", "ndcg@3", "precision@2"]
    assert evaluate(qrels, back, metrics) == pytest.approx(evaluate(qrels, reference, metrics))
    assert evaluate(qrels, back, "mrr@10") == pytest.approx((1 / 2 + 1 / 5 + 1 / 3) / 3)


# --------------------------------------------------------------------------- embedding cache


def test_embedding_cache_hit_changed_passage_and_duplicates():
    enc = FakeEncoder()
    texts = ["alpha beta", "gamma delta", "alpha beta", "epsilon"]
    first = embeddings.embed_passages(enc, texts)
    assert first.dtype == np.float32 and first.shape == (4, 64)
    assert len(enc.encoded) == 3  # the duplicate is encoded once
    again = embeddings.embed_passages(enc, texts)
    np.testing.assert_array_equal(first, again)
    assert len(enc.encoded) == 3  # cache hit: nothing encoded

    changed = ["alpha beta", "gamma CHANGED", "alpha beta", "epsilon"]
    third = embeddings.embed_passages(enc, changed)
    assert enc.encoded[3:] == ["gamma CHANGED"]  # only the changed passage re-encoded
    np.testing.assert_array_equal(third[[0, 2, 3]], first[[0, 2, 3]])
    np.testing.assert_allclose(third[1], enc._vec("gamma CHANGED"))

    # queries and another fingerprint are separate entries
    embeddings.embed_queries(enc, texts)
    assert len(enc.encoded) == 4 + 3
    other = FakeEncoder(fingerprint="fake-v2")
    embeddings.embed_passages(other, texts)
    assert len(other.encoded) == 3


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong-shape"])
def test_embedding_cache_recovers_from_a_damaged_file(damage, caplog):
    enc = FakeEncoder()
    texts = ["alpha beta", "gamma delta"]
    good = embeddings.embed_passages(enc, texts)
    [path] = [p for p in embeddings.embeddings_dir(enc, "passages").glob("*.npy")
              if not p.name.endswith(".ids.npy")]  # fmt: skip
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a numpy file")
    else:
        np.save(path, np.zeros((5, 64), dtype=np.float32))
    for ids in embeddings.embeddings_dir(enc, "passages").glob("*.ids.npy"):
        ids.unlink()  # force a real re-encode rather than row reuse
    with caplog.at_level(logging.WARNING, logger="hardneg_kit.embeddings"):
        again = embeddings.embed_passages(enc, texts)
    assert "recomputing" in caplog.text
    np.testing.assert_allclose(again, good)
    assert len(enc.encoded) == 4
    caplog.clear()
    embeddings.embed_passages(enc, texts)  # repaired: a clean hit
    assert len(enc.encoded) == 4 and "recomputing" not in caplog.text



def _entry(enc) -> Path:
    [path] = [p for p in embeddings.embeddings_dir(enc, "passages").glob("*.npy")
              if not p.name.endswith(".ids.npy")]  # fmt: skip
    return path


def _rewrite_data(path: Path, data: np.ndarray) -> None:
    """Replace the rows of a .npy file in place, keeping its (valid) header."""
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - data.nbytes] + data.astype(np.float32).tobytes())


@pytest.mark.parametrize("damage", ["zeroed", "reordered"])
def test_embedding_cache_checksum_catches_well_formed_damage(damage, caplog):
    enc = FakeEncoder()
    texts = ["alpha beta", "gamma delta", "epsilon zeta"]
    good = embeddings.embed_passages(enc, texts)
    path = _entry(enc)
    assert (path.parent / (path.name + ".sha256")).exists()
    _rewrite_data(path, np.zeros_like(good) if damage == "zeroed" else good[::-1])
    assert np.load(path).shape == good.shape  # still a valid file: only the checksum knows
    with caplog.at_level(logging.WARNING, logger="hardneg_kit.embeddings"):
        again = embeddings.embed_passages(enc, texts)
    np.testing.assert_array_equal(again, good)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert "checksum" in warnings[0].getMessage()
    caplog.clear()
    embeddings.embed_passages(enc, texts)  # repaired: a clean hit
    assert "WARNING" not in caplog.text and len(enc.encoded) == 6


def test_embedding_cache_damaged_entry_lends_no_rows(caplog):
    enc = FakeEncoder()
    good = embeddings.embed_passages(enc, ["alpha beta", "gamma delta"])
    _rewrite_data(_entry(enc), np.zeros_like(good))
    with caplog.at_level(logging.WARNING, logger="hardneg_kit.embeddings"):
        mixed = embeddings.embed_passages(enc, ["alpha beta", "new text"])
    np.testing.assert_allclose(mixed[0], good[0])  # re-encoded, not the zeroed row
    assert "not reused" in caplog.text


def test_embedding_cache_entry_without_checksum_is_vetted_then_adopted(caplog):
    enc = FakeEncoder()
    texts = [f"passage number {i} about {w}" for i, w in enumerate("abcdefghijklmnopqrst")]
    good = embeddings.embed_passages(enc, texts)
    folder = embeddings.embeddings_dir(enc, "passages")
    for s in folder.glob("*.sha256"):
        s.unlink()  # as an older kit wrote it
    with caplog.at_level(logging.WARNING, logger="hardneg_kit.embeddings"):
        np.testing.assert_array_equal(embeddings.embed_passages(enc, texts), good)
    assert "WARNING" not in caplog.text
    assert len(enc.encoded) == 20 + embeddings.SPOT_CHECK_ROWS  # a sample, not all 20
    assert len(list(folder.glob("*.sha256"))) == 2  # adopted: both files get a checksum
    embeddings.embed_passages(enc, texts)
    assert len(enc.encoded) == 20 + embeddings.SPOT_CHECK_ROWS


def test_embedding_cache_entry_without_checksum_and_zeroed_is_recomputed(caplog):
    enc = FakeEncoder()
    texts = ["alpha beta", "gamma delta"]
    good = embeddings.embed_passages(enc, texts)
    path = _entry(enc)
    for s in path.parent.glob("*.sha256"):
        s.unlink()
    _rewrite_data(path, np.zeros_like(good))
    with caplog.at_level(logging.WARNING, logger="hardneg_kit.embeddings"):
        np.testing.assert_array_equal(embeddings.embed_passages(enc, texts), good)
    assert str(path) in caplog.text and "recomputing" in caplog.text


def test_embedding_cache_can_be_disabled():
    enc = FakeEncoder()
    embeddings.embed_passages(enc, ["a b"], cache=False)
    embeddings.embed_passages(enc, ["a b"], cache=False)
    assert len(enc.encoded) == 2
    assert not list(embeddings.embeddings_dir(enc, "passages").iterdir())


# --------------------------------------------------------------------------- real model


@pytest.mark.slow
def test_minilm_ranks_a_paraphrase_above_an_unrelated_passage():
    models = pytest.importorskip("hardneg_kit.models")
    try:
        enc = models.load_encoder("minilm-l6")
    except ValueError as exc:  # ModelNotAvailable: package not installed here
        pytest.skip(str(exc))
    dense = DenseRetriever(enc).index(
        ["bucket", "weather"],
        ["Removes an empty storage bucket from your account.", "Tomorrow will be sunny and warm."],
    )
    hits = dense.rank(["how can I delete a bucket"], top_k=2).hits(0)
    assert hits[0][0] == "bucket" and hits[0][1] > hits[1][1] + 0.2


# --------------------------------------------------------------------------- CLI


def _cli(argv: list[str]) -> int:
    from hardneg_kit.cli import main

    return main(argv)


def test_cli_retrieve_then_evaluate(tmp_path, capsys):
    pytest.importorskip("hardneg_kit.corpus")
    out = tmp_path / "bm25-test.trec"
    dataset = str(FIXTURES / "beir_tiny")
    rc = _cli(["retrieve", "--dataset", dataset, "--split", "test", "--output", str(out),
               "--top-k", "5", "--profile", "smoke"])  # fmt: skip
    assert rc == 0 and out.is_file()
    qids = {line.split()[0] for line in out.read_text().splitlines()}
    assert qids <= {"q5", "q6"}
    capsys.readouterr()
    rc = _cli(["evaluate", "--dataset", dataset, "--split", "test", str(out), "--profile", "smoke"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "bm25-test" in table and "mrr@10" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["retrieve", "--retriever", "tfidf"], r"Unknown retriever spec 'tfidf'"),
        (["retrieve", "--split", "nosuch"], r"no split 'nosuch'"),
        (["retrieve", "--split", "train", "--top-k", "0"], r"--top-k"),
        (["evaluate", "--split", "nosuch", "RUN"], r"no split 'nosuch'|nosuch"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(argv, message, tmp_path, capsys):
    pytest.importorskip("hardneg_kit.corpus")
    run = tmp_path / "r.trec"
    run.write_text("q5 Q0 s3/rb 1 1.0 x\n")
    argv = [str(run) if a == "RUN" else a for a in argv]
    argv += ["--dataset", str(FIXTURES / "beir_tiny"), "--profile", "smoke"]
    assert _cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and re.search(message, err)


def test_cli_empty_query_set_is_an_error(tmp_path, capsys):
    pytest.importorskip("hardneg_kit.corpus")
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "a bucket"}\n')
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "bucket"}\n')
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    rc = _cli(["retrieve", "--dataset", str(folder), "--split", "test", "--profile", "smoke",
               "--output", str(tmp_path / "x.trec")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and "\n" not in err


def test_run_retrievers_indexes_once_and_fuses_member_runs():
    from hardneg_kit.retrievers import run_retrievers

    docs = ["d1", "d2", "d3", "d4"]
    passages = ["delete an s3 bucket", "create a bucket", "list ec2 instances", "stop an instance"]
    runs = run_retrievers(
        ["bm25", "fusion:bm25+bm25plus"], docs, passages, ["q1", "q2"],
        ["delete bucket", "nothing matches zzz"], top_k=2,
    )
    assert list(runs) == ["bm25", "fusion:bm25+bm25plus"]
    assert next(iter(runs["bm25"]["q1"])) == "d1"
    fused = runs["fusion:bm25+bm25plus"]
    assert set(fused.keys()) == {"q1", "q2"} and len(fused["q2"]) == 0
    assert max(fused["q1"], key=fused["q1"].get) == "d1" and len(fused["q1"]) <= 2
