"""Tests for hardneg_kit.corpus and hardneg_kit.cli_corpus on tiny fixtures (fast, no models)."""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import shutil
import sys
import types
from pathlib import Path

import datasets
import pytest

from hardneg_kit import corpus as hc
from hardneg_kit.cli import main as cli_main
from hardneg_kit.corpus import BeirData, DataError
from hardneg_kit.profiles import get_profile

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "beir_tiny"
OWN_DOCS = FIXTURES / "own_docs"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A writable copy of the tiny BEIR folder."""
    return Path(shutil.copytree(TINY, tmp_path / "tiny"))


def _edit(path: Path, line: int, new: str | None) -> None:
    """Replace (or with None, delete) 1-based ``line`` of a text file."""
    lines = path.read_text().splitlines()
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    path.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------ loading


def test_load_tiny() -> None:
    data = hc.load_beir(TINY)
    assert data.name == "beir_tiny"
    assert len(data.corpus) == 12 and len(data.queries) == 7
    assert data.corpus.column_names[:3] == ["_id", "title", "text"]
    assert "service" in data.corpus.column_names and "service" in data.queries.column_names
    assert data.corpus[0]["_id"] == "s3/ls" and data.corpus[-1]["_id"] == "lambda/invoke"
    assert data.splits() == ["train", "test"]
    assert data.queries_for("test")["_id"] == ["q5", "q6"]
    assert data.queries_for("train")["_id"] == ["q1", "q2", "q3", "q4"]
    assert data.qrels["train"]["q4"] == {"iam/create-user": 1, "iam/delete-user": 0}
    assert data.positives("train")["q4"] == ["iam/create-user"]
    assert data.positives("test")["q6"] == ["ec2/terminate-instances", "ec2/stop-instances"]
    index = data.doc_index()
    assert index["iam/list-users"] == 10 and data.doc_index() is index
    assert "documents=12" in repr(data)


def test_qrels_for_builds_ranx_qrels(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in for ranx: building a real ranx.Qrels JIT-compiles numba code (15 s or more).
    class Qrels:
        def __init__(self, qrels: dict, name: str | None = None) -> None:
            self.qrels, self.name = qrels, name

    monkeypatch.setitem(sys.modules, "ranx", types.SimpleNamespace(Qrels=Qrels))
    qrels = hc.load_beir(TINY).qrels_for("test")
    assert qrels.name == "beir_tiny/test"
    assert qrels.qrels == {"q5": {"s3/rb": 1}, "q6": {"ec2/terminate-instances": 1,
                                                      "ec2/stop-instances": 1}}


def test_passage_text() -> None:
    assert hc.passage_text("aws s3 ls", "List.") == "aws s3 ls\nList."
    assert hc.passage_text("", "List.") == "List."
    assert hc.passage_text("  ", "List.") == "List."
    texts = hc.passage_texts(hc.load_beir(TINY).corpus)
    assert texts[0].startswith("aws s3 ls\nList S3")
    assert texts[10] == "Lists the IAM users that have the specified path prefix."


def test_load_gzipped_equals_plain(tmp_path: Path) -> None:
    folder = tmp_path / "gz"
    shutil.copytree(TINY / "qrels", folder / "qrels")
    for name in ("corpus.jsonl", "queries.jsonl"):
        with gzip.open(folder / f"{name}.gz", "wt", encoding="utf-8") as f:
            f.write((TINY / name).read_text())
    plain, gz = hc.load_beir(TINY), hc.load_beir(folder)
    assert gz.corpus.to_list() == plain.corpus.to_list()
    assert gz.queries.to_list() == plain.queries.to_list()
    assert gz.qrels == plain.qrels


def test_gzipped_qrels_load_like_plain(tiny: Path) -> None:
    plain = hc.load_beir(tiny)
    test = tiny / "qrels" / "test.tsv"
    with gzip.open(tiny / "qrels" / "test.tsv.gz", "wt", encoding="utf-8") as f:
        f.write(test.read_text())
    with pytest.raises(DataError, match=r"both test\.tsv and test\.tsv\.gz"):
        hc.load_beir(tiny)
    test.unlink()
    assert hc.load_beir(tiny).qrels == plain.qrels
    assert hc.load_beir(tiny, splits=["test"]).qrels["test"] == plain.qrels["test"]


@pytest.mark.parametrize("stem", ["corpus", "queries"])
def test_plain_and_gzipped_twins_refused(tiny: Path, stem: str) -> None:
    with gzip.open(tiny / f"{stem}.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write((tiny / f"{stem}.jsonl").read_text())
    with pytest.raises(DataError, match=rf"both {stem}\.jsonl and {stem}\.jsonl\.gz"):
        hc.load_beir(tiny)


def test_byte_order_marks_accepted(tiny: Path) -> None:
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv"):
        path = tiny / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    data, plain = hc.load_beir(tiny), hc.load_beir(TINY)
    assert data.corpus.to_list() == plain.corpus.to_list() and data.qrels == plain.qrels
    assert data.queries["_id"] == plain.queries["_id"]


@pytest.mark.parametrize("name", ["corpus.jsonl", "qrels/train.tsv"])
def test_not_utf8_names_file_and_line(tiny: Path, name: str) -> None:
    path = tiny / name
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"s", "\u00e9".encode("latin-1"), 1)  # a Latin-1 e-acute
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=rf"{name.split('/')[-1]}:3: not UTF-8 \(byte 0xe9"):
        hc.load_beir(tiny)


def test_load_selected_splits() -> None:
    data = hc.load_beir(TINY, splits=["test"])
    assert data.splits() == ["test"]


def test_unknown_split_errors() -> None:
    data = hc.load_beir(TINY)
    with pytest.raises(DataError, match=r"'dev'.*available splits: train, test"):
        data.queries_for("dev")
    with pytest.raises(FileNotFoundError, match=r"qrels/dev\.tsv.*available: test, train"):
        hc.load_beir(TINY, splits=["dev"])


def test_missing_files(tiny: Path) -> None:
    (tiny / "queries.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"queries\.jsonl not found"):
        hc.load_beir(tiny)
    (tiny / "corpus.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"corpus\.jsonl not found"):
        hc.load_beir(tiny)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        hc.load_beir(tiny / "nope")


# One case per validation rule: (file, line, replacement or None to delete, expected fragments).
BAD_INPUTS = {
    "malformed json": ("corpus.jsonl", 3, '{"_id": "s3/rb", "text": ', ["corpus.jsonl:3:", "JSON"]),
    "not an object": ("queries.jsonl", 2, '["q2"]', ["queries.jsonl:2:", "JSON object"]),
    "missing _id": ("corpus.jsonl", 2, '{"text": "no id"}', ["corpus.jsonl:2:", '"_id"']),
    "missing text": ("corpus.jsonl", 4, '{"_id": "s3/mb"}', ["corpus.jsonl:4:", "'s3/mb'", "text"]),
    "duplicate doc": (
        "corpus.jsonl", 5, '{"_id": "s3/ls", "text": "again"}',
        ["corpus.jsonl:5:", "'s3/ls'", "line 1", "duplicate"],
    ),
    "duplicate query": (
        "queries.jsonl", 3, '{"_id": "q1", "text": "again"}', ["queries.jsonl:3:", "'q1'"]
    ),
    "empty text": ("queries.jsonl", 6, '{"_id": "q6", "text": "  "}', ["queries.jsonl:6:", "'q6'"]),
    "extra field type": (
        "corpus.jsonl", 7, '{"_id": "ec2/x", "text": "t", "service": 3}',
        ["corpus.jsonl:7:", "'ec2/x'", "'service'"],
    ),
    "qrels fields": ("qrels/train.tsv", 3, "q2\ts3/cp", ["train.tsv:3:", "3 tab-separated"]),
    "qrels score": ("qrels/train.tsv", 2, "q1\ts3/ls\thigh", ["train.tsv:2:", "'high'", "'q1'"]),
    "qrels unknown query": ("qrels/test.tsv", 2, "q99\ts3/rb\t1", ["test.tsv:2:", "'q99'"]),
    "qrels unknown doc": ("qrels/test.tsv", 3, "q6\tec2/nope\t1", ["test.tsv:3:", "'ec2/nope'"]),
    "qrels duplicate pair": ("qrels/train.tsv", 3, "q1\ts3/ls\t1", ["train.tsv:3:", "'q1'"]),
    "no positive": ("qrels/train.tsv", 5, "q4\tiam/create-user\t0", ["train.tsv", "'q4'", "line"]),
    "doc id with a space": (
        "corpus.jsonl", 2, '{"_id": "s3 cp", "text": "t"}', ["corpus.jsonl:2:", "'s3 cp'", "TREC"]
    ),
    "query id with a tab": (
        "queries.jsonl", 7, '{"_id": "q\\t7", "text": "t"}', ["queries.jsonl:7:", "whitespace"]
    ),
    "lone surrogate": (
        "corpus.jsonl", 3, '{"_id": "s3/rb", "text": "bad \\ud800 half"}',
        ["corpus.jsonl:3:", "surrogate"],
    ),
    "score beyond 64 bits": (
        "qrels/test.tsv", 2, f"q5\ts3/rb\t{2**64}", ["test.tsv:2:", "64-bit", "'q5'"]
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_messages(tiny: Path, case: str) -> None:
    name, line, new, fragments = BAD_INPUTS[case]
    _edit(tiny / name, line, new)
    with pytest.raises(DataError) as err:
        hc.load_beir(tiny)
    message = str(err.value)
    assert str(tiny) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_validate_false_drops_unknown_ids(tiny: Path, caplog: pytest.LogCaptureFixture) -> None:
    _edit(tiny / "qrels" / "test.tsv", 3, "q6\tec2/nope\t1")
    with caplog.at_level(logging.WARNING):
        data = hc.load_beir(tiny, validate=False)
    assert data.qrels["test"]["q6"] == {"ec2/stop-instances": 1}
    assert "dropped 1 lines" in caplog.text


def test_resolve_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hc.resolve_dataset(str(TINY)) == TINY
    monkeypatch.setattr(hc.shipped, "DATA_DIR", tmp_path)  # the module that reads it
    shutil.copytree(TINY, tmp_path / "tiny-set")
    assert hc.resolve_dataset("tiny-set") == tmp_path / "tiny-set"
    with pytest.raises(FileNotFoundError, match=r"'nope'.*\(tiny-set\)"):
        hc.resolve_dataset("nope")


def test_load_dataset_profiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    small = get_profile("smoke", max_documents=8, max_train_queries=2, max_test_queries=1)
    # A shipped dataset is sampled to the profile, exactly as sample() does it.
    monkeypatch.setattr(hc.shipped, "DATA_DIR", tmp_path)  # the module that reads it
    shipped = Path(shutil.copytree(TINY, tmp_path / "aws-cli"))
    assert hc.is_shipped(shipped) and not hc.is_shipped(TINY)
    data = hc.load_dataset("aws-cli", profile=small)
    expected = hc.sample(hc.load_beir(shipped), 8, {"train": 2, "test": 1})
    assert data.corpus["_id"] == expected.corpus["_id"] and len(data.corpus) == 8
    assert data.qrels == expected.qrels
    assert [len(data.qrels[s]) for s in data.splits()] == [2, 1]
    assert len(data.queries) == 3
    # A user's own dataset keeps every document, and the first line says its queries are capped.
    with caplog.at_level(logging.INFO, logger="hardneg_kit"):
        own = hc.load_dataset(str(TINY), profile=small)
    assert len(own.corpus) == 12 and own.qrels == data.qrels
    first = next(r for r in caplog.records if r.levelno >= logging.WARNING).getMessage()
    assert first.startswith("profile smoke: beir_tiny is your own dataset: all 12 documents")
    assert "train 2 of 4, test 1 of 2" in first
    caplog.clear()
    monkeypatch.setenv("HARDNEG_PROFILE", "smoke")
    with caplog.at_level(logging.INFO, logger="hardneg_kit"):
        assert len(hc.load_dataset(str(TINY)).corpus) == 12  # smoke caps exceed the tiny set
    assert "every judged query" in caplog.text and "WARNING" not in caplog.text
    assert hc.query_caps(get_profile("full"), ["train", "dev", "test"]) == {
        "train": 1000, "dev": 1000, "test": None,
    }


# ----------------------------------------------------------------------------------- sampling


def _synthetic(order_seed: int | None = None) -> BeirData:
    """6 services of 5-40 documents; one query per document of the first 3 docs of a service."""
    sizes = {"s0": 40, "s1": 30, "s2": 20, "s3": 10, "s4": 5, "s5": 40}
    docs = [
        {"_id": f"{s}/d{i}", "title": "", "text": f"doc {i} of {s}", "service": s}
        for s, n in sizes.items()
        for i in range(n)
    ]
    queries = [{"_id": f"q-{d['_id']}", "text": "q", "service": d["service"]} for d in docs
               if int(d["_id"].split("/d")[1]) < 3]
    if order_seed is not None:
        random.Random(order_seed).shuffle(docs)
        random.Random(order_seed).shuffle(queries)
    split_of = {q["_id"]: ("test" if q["_id"].endswith("d0") else "train") for q in queries}
    qrels: dict[str, dict[str, dict[str, int]]] = {"train": {}, "test": {}}
    for q in queries:
        qrels[split_of[q["_id"]]][q["_id"]] = {q["_id"][2:]: 1}
    return BeirData(
        name="synthetic", folder=Path("."), corpus=datasets.Dataset.from_list(docs),
        queries=datasets.Dataset.from_list(queries), qrels=qrels,
    )


def _kept(data: BeirData) -> tuple[set[str], set[str], dict]:
    return set(data.corpus["_id"]), set(data.queries["_id"]), data.qrels


def test_sample_deterministic_and_order_independent() -> None:
    a = hc.sample(_synthetic(), 40, {"train": 4, "test": 2}, seed=1)
    b = hc.sample(_synthetic(), 40, {"train": 4, "test": 2}, seed=1)
    c = hc.sample(_synthetic(order_seed=7), 40, {"train": 4, "test": 2}, seed=1)
    assert _kept(a) == _kept(b)
    assert _kept(a)[:2] == _kept(c)[:2]
    assert {s: set(q) for s, q in a.qrels.items()} == {s: set(q) for s, q in c.qrels.items()}
    d = hc.sample(_synthetic(), 40, {"train": 4, "test": 2}, seed=2)
    assert set(d.queries["_id"]) != set(a.queries["_id"])


def test_sample_keeps_positives_and_restricts() -> None:
    data = _synthetic()
    small = hc.sample(data, 30, {"train": 5, "test": 3}, seed=0)
    assert len(small.corpus) == 30
    assert [len(small.qrels[s]) for s in ("train", "test")] == [5, 3]
    assert set(small.queries["_id"]) == set(small.qrels["train"]) | set(small.qrels["test"])
    kept = set(small.corpus["_id"])
    for split in small.splits():
        for qid, pos in small.positives(split).items():
            assert pos == data.positives(split)[qid]
            assert set(pos) <= kept
    assert list(small.corpus["_id"]) == [d for d in data.corpus["_id"] if d in kept]  # file order
    smaller = hc.sample(data, 30, {"train": 2, "test": 1}, seed=0)
    assert set(smaller.queries["_id"]) <= set(small.queries["_id"])  # nested samples


def test_sample_prefers_group_neighbours() -> None:
    data = _synthetic()
    small = hc.sample(data, 45, {"train": 3, "test": 2}, seed=0)
    groups = {small.corpus[small.doc_index()[p[0]]]["service"]
              for s in small.splits() for p in small.positives(s).values()}
    services = list(small.corpus["service"])
    in_groups = sum(s in groups for s in services)
    group_total = sum(1 for s in data.corpus["service"] if s in groups)
    # Every kept document comes from a sampled query's service while those have room.
    assert in_groups == min(45, group_total)
    # Two chosen queries: the 5-document service fits whole, the big one gets the rest.
    two = BeirData(
        name="two", folder=Path("."), corpus=data.corpus, queries=data.queries,
        qrels={"test": {"q-s4/d0": {"s4/d0": 1}, "q-s0/d0": {"s0/d0": 1}}},
    )
    picked = list(hc.sample(two, 20, None).corpus["service"])
    assert picked.count("s4") == 5 and picked.count("s0") == 15
    # Without groups, distractors are random: some come from other services.
    flat = hc.sample(data, 45, {"train": 3, "test": 2}, seed=0, group_field=None)
    assert sum(s not in groups for s in flat.corpus["service"]) > 0


def test_sample_groups_from_ids_without_a_group_column() -> None:
    data = _synthetic()
    data.corpus = data.corpus.remove_columns("service")
    assert hc.id_group("s4/d0") == "s4" and hc.id_group("guide.md#x-2") == "guide.md"
    two = BeirData(
        name="two", folder=Path("."), corpus=data.corpus, queries=data.queries,
        qrels={"test": {"q-s4/d0": {"s4/d0": 1}, "q-s0/d0": {"s0/d0": 1}}},
    )
    picked = [hc.id_group(d) for d in hc.sample(two, 20, None).corpus["_id"]]
    assert picked.count("s4") == 5 and picked.count("s0") == 15


def test_allocate_water_fills() -> None:
    alloc = hc._allocate(20, {"big": 1, "small": 1, "tiny": 2}, {"big": 50, "small": 4, "tiny": 1})
    assert alloc == {"big": 15, "small": 4, "tiny": 1}
    assert hc._allocate(5, {"a": 1, "b": 1}, {"a": 10, "b": 10}) in (
        {"a": 3, "b": 2}, {"a": 2, "b": 3},
    )


def test_sample_positives_over_budget(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        small = hc.sample(_synthetic(), 3, {"train": 6, "test": 0}, seed=0)
    assert len(small.corpus) == 6 and "exceed max_documents=3" in caplog.text
    assert small.qrels["test"] == {}
    assert len(hc.sample(_synthetic(), None, 2).corpus) == len(_synthetic().corpus)


# ------------------------------------------------------------------------ your own documentation


EXPECTED_IDS = [
    "api.rst#example-api", "api.rst#authentication", "api.rst#tokens", "api.rst#endpoints",
    "guide.md#user-guide", "guide.md#install", "guide.md#linux", "guide.md#macos",
    "guide.md#configure", "guide.md#configure-2", "guide.md#configure-3",
    "guide.md#examples", "guide.md#examples-1",
    "guide.md#long-paragraph", "guide.md#long-paragraph-2",
    "notes.txt#notes", "notes.txt#notes-2", "notes.txt#notes-3",
    "sub/faq.md#faq", "sub/faq.md#how-do-i-reset-my-password", "sub/faq.md#why-is-my-backup-slow",
]


def test_corpus_from_folder_ids_and_titles() -> None:
    corpus = hc.corpus_from_folder(OWN_DOCS)
    assert corpus["_id"] == EXPECTED_IDS
    rows = {r["_id"]: r for r in corpus}
    assert rows["guide.md#linux"]["title"] == "User guide › Install › Linux"
    assert rows["guide.md#examples-1"]["title"] == "User guide › Reference › Examples"
    assert rows["api.rst#tokens"]["title"] == "Example API › Authentication › Tokens"
    assert rows["sub/faq.md#why-is-my-backup-slow"]["title"] == "Faq › Why is my backup slow?"
    assert rows["notes.txt#notes"]["title"] == "Notes"
    assert rows["sub/faq.md#faq"]["path"] == "sub/faq.md"
    assert "# this is a comment" in rows["guide.md#install"]["text"]  # code is not a heading
    assert "layout" not in rows["sub/faq.md#faq"]["text"]  # front matter dropped
    assert "----" not in rows["api.rst#tokens"]["text"]  # rST transition dropped


@pytest.mark.parametrize("max_words", [200, 50, 7])
def test_chunk_word_limits(max_words: int) -> None:
    corpus = hc.corpus_from_folder(OWN_DOCS, max_words=max_words)
    counts = [len(t.split()) for t in corpus["text"]]
    assert max(counts) <= max_words and min(counts) > 0
    assert len(set(corpus["_id"])) == len(corpus)
    if max_words == 200:  # paragraphs stay whole when they fit
        assert corpus[corpus["_id"].index("guide.md#configure-2")]["text"].count("\n\n") == 0


def test_chunk_text_prefers_paragraphs() -> None:
    assert hc.chunk_text(["a b", "c d", "e f g"], max_words=4) == ["a b\n\nc d", "e f g"]
    assert hc.chunk_text(["a b c. d e f. g"], max_words=4) == ["a b c.", "d e f. g"]
    assert hc.chunk_text(["a b c d e f g"], max_words=3) == ["a b c", "d e f", "g"]


def test_ids_stable_when_other_files_change(tmp_path: Path) -> None:
    docs = Path(shutil.copytree(OWN_DOCS, tmp_path / "docs"))
    (docs / "aaa.md").write_text("# New\n\nA new file.\n")
    (docs / "notes.txt").write_text("Only a short note now.\n")
    (docs / ".hidden").mkdir()
    (docs / ".hidden" / "x.md").write_text("# Hidden\n\nskip me\n")
    ids = hc.corpus_from_folder(docs)["_id"]
    assert [i for i in ids if i.startswith(("guide.md", "api.rst", "sub/"))] == [
        i for i in EXPECTED_IDS if i.startswith(("guide.md", "api.rst", "sub/"))
    ]
    assert "aaa.md#new" in ids and "notes.txt#notes-2" not in ids
    assert not any(i.startswith(".hidden") for i in ids)


def test_corpus_from_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hc.corpus_from_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="no passages"):
        hc.corpus_from_folder(tmp_path)


def test_queries_from_csv(tmp_path: Path) -> None:
    corpus = hc.corpus_from_folder(OWN_DOCS)
    csv_path = tmp_path / "q.csv"
    csv_path.write_text(
        "question,document,split\n"
        "How do I install it?,guide.md#install,train\n"
        "What does the backup agent do?,./notes.txt,\n"
        "How do I install it?,guide.md#linux,train\n"
        '"Tokens, how long?",api.rst#tokens,\n'
    )
    queries, qrels = hc.queries_from_file(csv_path, corpus)
    assert queries["_id"] == ["q1", "q2", "q3"]
    assert queries["text"][2] == "Tokens, how long?"
    assert list(qrels) == ["train", "test"]
    assert qrels["train"]["q1"] == {"guide.md#install": 1, "guide.md#linux": 1}
    assert set(qrels["test"]["q2"]) == {"notes.txt#notes", "notes.txt#notes-2", "notes.txt#notes-3"}


def test_queries_from_jsonl(tmp_path: Path) -> None:
    corpus = hc.corpus_from_folder(OWN_DOCS)
    path = tmp_path / "q.jsonl"
    rows = [{"id": "reset", "question": "reset password?", "document": ["sub/faq.md"]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    queries, qrels = hc.queries_from_file(path, corpus, split="dev")
    assert queries["_id"] == ["reset"]
    assert len(qrels["dev"]["reset"]) == 3


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("question,doc\nq,guide.md\n", [":1:", "document"]),
        ("question,document\nfine,guide.md\nwhat?,guide.md#nope\n", [":3:", "'guide.md#nope'"]),
        ("question,document\nwhat?,faq.md\n", [":2:", "'faq.md'", "'sub/faq.md'"]),
        ("question,document\n,guide.md\n", [":2:", "empty"]),
        ("question,document\nwhat?,\n", [":2:", "no \"document\""]),
    ],
)
def test_queries_from_file_errors(tmp_path: Path, content: str, fragments: list[str]) -> None:
    path = tmp_path / "questions.csv"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        hc.queries_from_file(path, hc.corpus_from_folder(OWN_DOCS))
    assert "questions.csv" in str(err.value)
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_write_beir_folder_round_trip(tmp_path: Path) -> None:
    corpus = hc.corpus_from_folder(OWN_DOCS)
    csv_path = tmp_path / "q.csv"
    csv_path.write_text("question,document\nreset?,sub/faq.md#how-do-i-reset-my-password\n")
    queries, qrels = hc.queries_from_file(csv_path, corpus)
    out = tmp_path / "beir"
    (out / "qrels").mkdir(parents=True)
    (out / "qrels" / "old.tsv").write_text("stale\n")
    hc.write_beir_folder(out, corpus, queries, qrels)
    data = hc.load_beir(out)
    assert data.splits() == ["test"]
    assert data.corpus["_id"] == corpus["_id"] and data.corpus["path"] == corpus["path"]
    assert data.positives("test") == {"q1": ["sub/faq.md#how-do-i-reset-my-password"]}
    tiny = hc.load_beir(TINY)
    hc.write_beir_folder(tmp_path / "tiny", tiny.corpus, tiny.queries, tiny.qrels, True)
    again = hc.load_beir(tmp_path / "tiny")
    assert again.corpus.to_list() == tiny.corpus.to_list() and again.qrels == tiny.qrels


# ----------------------------------------------------------------------------------------- CLI


def test_cli_stats_and_validate(capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["corpus", "stats", "--dataset", str(TINY)]) == 0
    out = capsys.readouterr().out
    assert "documents    12" in out and "train      4 queries" in out and "s3" in out
    assert cli_main(["corpus", "validate", "--dataset", str(TINY)]) == 0
    assert capsys.readouterr().out.startswith("OK ")


def test_cli_errors_are_one_line(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    _edit(tiny / "corpus.jsonl", 5, '{"_id": "s3/ls", "text": "again"}')
    assert cli_main(["corpus", "validate", "--dataset", str(tiny)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "corpus.jsonl:5:" in err
    assert cli_main(["corpus", "stats", "--dataset", "no-such-set"]) == 2
    assert "no-such-set" in capsys.readouterr().err


def test_cli_from_folder_and_sample(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    questions = tmp_path / "q.csv"
    questions.write_text("question,document\nhow to restore?,guide.md\n")
    out = tmp_path / "own"
    argv = ["corpus", "from-folder", "--docs", str(OWN_DOCS), "--questions", str(questions)]
    assert cli_main([*argv, "--output", str(out)]) == 0
    assert len(hc.load_beir(out).positives("test")["q1"]) == 11
    sampled = tmp_path / "sampled"
    argv = ["corpus", "sample", "--dataset", str(TINY), "--profile", "smoke"]
    assert cli_main([*argv, "--output", str(sampled)]) == 0
    assert len(hc.load_beir(sampled).corpus) == 12
    assert "wrote" in capsys.readouterr().out


# ------------------------------------------------------------ bad files among one's own documents


def test_from_folder_skips_files_that_are_not_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = Path(shutil.copytree(OWN_DOCS, tmp_path / "docs"))
    (docs / "binary.md").write_bytes(b"# Title\n\nsome\x00bytes\x00\n")
    (docs / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me, in Latin-1.\n".encode("latin-1"))
    (docs / "bom.md").write_bytes(b"\xef\xbb\xbf# With a BOM\n\nSaved on Windows.\n")
    with caplog.at_level(logging.WARNING):
        corpus = hc.corpus_from_folder(docs)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 2 files" in warnings[0]
    assert "binary.md" in warnings[0] and "latin1.txt" in warnings[0]
    assert not any(i.startswith(("binary.md", "latin1.txt")) for i in corpus["_id"])
    assert not any("\ufffd" in t for t in corpus["text"])  # no mojibake anywhere
    assert corpus[corpus["_id"].index("bom.md#with-a-bom")]["text"] == "Saved on Windows."
    assert [i for i in corpus["_id"] if not i.startswith("bom.md")] == EXPECTED_IDS


def test_from_folder_links_stay_inside_docs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = Path(shutil.copytree(OWN_DOCS, tmp_path / "docs"))
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.md").write_text("# Secret\n\nNot part of the docs.\n")
    (docs / "leak.md").symlink_to(secret / "secret.md")
    (docs / "leakdir").symlink_to(secret, target_is_directory=True)
    (docs / "alias.md").symlink_to(docs / "sub" / "faq.md")  # inside: read
    with caplog.at_level(logging.WARNING):
        corpus = hc.corpus_from_folder(docs)
    assert not any("Not part of the docs" in t for t in corpus["text"])
    assert "alias.md#how-do-i-reset-my-password" in corpus["_id"]
    assert "1 symbolic links" in caplog.text and "leak.md" in caplog.text


def test_from_folder_ids_capped_and_safe(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "my notes").mkdir(parents=True)
    long = "A heading " + "that goes on " * 40
    (docs / "my notes" / "a.md").write_text(f"# {long}\n\nfirst\n\n# {long}x\n\nsecond\n")
    ids = hc.corpus_from_folder(docs)["_id"]
    assert all(len(i) <= hc.MAX_ID_LENGTH and " " not in i for i in ids)
    assert len(set(ids)) == 2 and all(i.startswith("my%20notes/a.md#a-heading") for i in ids)
    assert hc.corpus_from_folder(docs)["_id"] == ids  # deterministic
    assert hc._unique_ids(["a b", "a%20b", "a b"]) == ["a%20b", "a%20b~2", "a%20b~3"]
    assert len(hc._unique_ids(["x" * 300] * 2)[1]) == hc.MAX_ID_LENGTH


def test_questions_split_column_and_bad_values(tmp_path: Path) -> None:
    corpus = hc.corpus_from_folder(OWN_DOCS)
    path = tmp_path / "q.csv"
    path.write_bytes(
        b"\xef\xbb\xbfquestion,document,split\n"
        b"How do I install it?,guide.md#install,train\n"
        b"Reset my password?,sub/faq.md,dev\n"
        b"Tokens?,api.rst#tokens,\n"
    )
    _, qrels = hc.queries_from_file(path, corpus)
    assert {s: list(q) for s, q in qrels.items()} == {
        "train": ["q1"], "dev": ["q2"], "test": ["q3"],
    }
    for content, fragment in [
        ("question,document,split\nok?,guide.md,train/x\n", ":2: split 'train/x'"),
        ("id,question,document\nq 1,ok?,guide.md\n", ":2: query id 'q 1'"),
    ]:
        path.write_text(content)
        with pytest.raises(DataError, match=re.escape(fragment)):
            hc.queries_from_file(path, corpus)


def test_questions_not_utf8_names_line(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_bytes("question,document\nok?,guide.md\ncaf\u00e9?,guide.md\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"q\.csv:3: not UTF-8"):
        hc.queries_from_file(path, hc.corpus_from_folder(OWN_DOCS))
