"""Tests for ``corpus split`` (grouped train/dev/test), group statistics and leakage warnings.

Folders are built in ``tmp_path`` from the tiny BEIR fixture or a small synthetic set.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import pytest

from hardneg_kit import corpus as hc
from hardneg_kit.cli import main as cli_main
from hardneg_kit.corpus import DataError

TINY = Path(__file__).parent / "fixtures" / "beir_tiny"


def _unsplit_tiny(tmp_path: Path) -> Path:
    """The tiny set with one qrels.tsv; q7 shares q1's positive, so they must stay together."""
    folder = Path(shutil.copytree(TINY, tmp_path / "unsplit"))
    lines = ["query-id\tcorpus-id\tscore"]
    for split in ("train", "test"):
        lines += (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]
    lines.append("q7\ts3/ls\t1")
    shutil.rmtree(folder / "qrels")
    (folder / "qrels.tsv").write_text("\n".join(lines) + "\n")
    return folder


def _synthetic(folder: Path, n: int = 60) -> Path:
    """``n`` queries over ``n // 2`` documents (two queries per positive), services of 5 docs."""
    folder.mkdir(parents=True)
    docs = [{"_id": f"s{i // 5}/d{i}", "text": f"doc {i}", "service": f"s{i // 5}"}
            for i in range(n // 2)]
    queries = [{"_id": f"q{i:03d}", "text": f"question {i}", "service": f"s{i // 10}"}
               for i in range(n)]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    rows = [f"q{i:03d}\ts{i // 10}/d{i // 2}\t1" for i in range(n)]
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return folder


def _positive_splits(folder: Path) -> dict[str, set[str]]:
    """Document -> the splits where it is a positive."""
    data = hc.load_beir(folder)
    out: dict[str, set[str]] = {}
    for split in data.splits():
        for pos in data.positives(split).values():
            for d in pos:
                out.setdefault(d, set()).add(split)
    return out


# ------------------------------------------------------------------------------------ split


def test_split_unsplit_file_in_place(tmp_path: Path) -> None:
    folder = _unsplit_tiny(tmp_path)
    summary = hc.split_judgements(folder, dev=1, test=2)
    data = hc.load_beir(folder)
    assert data.splits() == ["train", "dev", "test"]
    assert {s: len(q) for s, q in data.qrels.items()} == {"train": 4, "dev": 1, "test": 2}
    assert all(len(s) == 1 for s in _positive_splits(folder).values())
    split_of = {q: s for s in data.splits() for q in data.qrels[s]}
    assert split_of["q1"] == split_of["q7"]  # they share s3/ls
    assert data.qrels[split_of["q4"]]["q4"] == {"iam/create-user": 1, "iam/delete-user": 0}
    assert (folder / "qrels.tsv").is_file() and summary.moved == []
    text = str(summary)
    assert "queries sharing a positive document" in text
    assert text.splitlines()[2].split() == ["train", "4", "3", "3"]  # q1 and q7: one positive


def test_split_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = _synthetic(tmp_path / "a"), _synthetic(tmp_path / "b")
    hc.split_judgements(a, dev=0.1, test=0.2, seed=3)
    hc.split_judgements(b, dev=0.1, test=0.2, seed=3)
    for s in hc.SPLIT_NAMES:
        assert (a / "qrels" / f"{s}.tsv").read_bytes() == (b / "qrels" / f"{s}.tsv").read_bytes()
    c = _synthetic(tmp_path / "c")
    hc.split_judgements(c, dev=0.1, test=0.2, seed=4)
    assert (c / "qrels" / "test.tsv").read_bytes() != (a / "qrels" / "test.tsv").read_bytes()
    # Splitting the split folder again with the same seed changes nothing.
    before = {s: (a / "qrels" / f"{s}.tsv").read_bytes() for s in hc.SPLIT_NAMES}
    hc.split_judgements(a, dev=0.1, test=0.2, seed=3)
    assert before == {s: (a / "qrels" / f"{s}.tsv").read_bytes() for s in hc.SPLIT_NAMES}


def test_split_sizes_fractions_and_counts(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path / "s")
    summary = hc.split_judgements(folder, dev=0.1, test=0.2)
    assert {s: c[0] for s, c in summary.counts.items()} == {"train": 42, "dev": 6, "test": 12}
    assert {s: c[2] for s, c in summary.counts.items()} == {"train": 21, "dev": 3, "test": 6}
    summary = hc.split_judgements(folder, dev=0, test=10)
    assert {s: c[0] for s, c in summary.counts.items()} == {"train": 50, "test": 10}
    assert not (folder / "qrels" / "dev.tsv").exists()  # moved away: not a split any more
    assert (folder / hc.SPLIT_BACKUP / "dev.tsv").is_file()
    assert hc.load_beir(folder).splits() == ["train", "test"]


@pytest.mark.parametrize(
    ("group_by", "field", "unit"), [("field", "service", "service"), ("prefix", "", "doc")]
)
def test_split_by_group(tmp_path: Path, group_by: str, field: str, unit: str) -> None:
    folder = _synthetic(tmp_path / "g")
    summary = hc.split_judgements(folder, dev=0.2, test=0.2, group_by=group_by, group_field=field)
    data = hc.load_beir(folder)
    where: dict[str, set[str]] = {}
    for split in data.splits():
        for qid, pos in data.positives(split).items():
            text = data.queries[int(qid[1:])]
            key = text["service"] if unit == "service" else hc.id_group(pos[0])
            where.setdefault(key, set()).add(split)
    assert all(len(s) == 1 for s in where.values()) and len(where) == 6
    assert sum(c[2] for c in summary.counts.values()) == 6


def test_split_keeps_equal_texts_together(tmp_path: Path) -> None:
    folder = _synthetic(tmp_path / "t")
    rows = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines()]
    for r in rows:
        r["text"] = "Same  QUESTION" if r["_id"] in ("q000", "q059") else r["text"]
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for seed in range(5):
        hc.split_judgements(folder, dev=0.1, test=0.3, seed=seed)
        data = hc.load_beir(folder)
        assert {s for s in data.splits() if {"q000", "q059"} & set(data.qrels[s])} in (
            {"train"}, {"dev"}, {"test"},
        )


def test_split_to_output_folder(tmp_path: Path) -> None:
    folder = _unsplit_tiny(tmp_path)
    out = tmp_path / "out"
    hc.split_judgements(folder, dev=0, test=2, output=out)
    assert not (folder / "qrels").exists()  # the source is untouched
    assert (out / "corpus.jsonl").read_bytes() == (folder / "corpus.jsonl").read_bytes()
    assert hc.load_beir(out).splits() == ["train", "test"]
    with pytest.raises(DataError, match="not an empty folder"):
        hc.split_judgements(folder, output=out)


def test_split_moves_unsplit_files_aside(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(TINY, tmp_path / "re"))
    (folder / "qrels" / "train.tsv").rename(folder / "qrels" / "all.tsv")
    hc.split_judgements(folder, dev=0, test=0.4)
    assert sorted(p.name for p in (folder / "qrels").iterdir()) == ["test.tsv", "train.tsv"]
    assert (folder / hc.SPLIT_BACKUP / "all.tsv").is_file()
    assert sum(len(q) for q in hc.load_beir(folder).qrels.values()) == 6


@pytest.mark.parametrize(
    ("edit", "kwargs", "fragment"),
    [
        ("q1\ts3/ls\tmany", {}, "qrels.tsv:2: score 'many'"),
        ("q1\ts3/nope\t1", {}, "qrels.tsv:2: document 's3/nope'"),
        (None, {"dev": 3, "test": 4}, "leave none of the 7 for train"),
        (None, {"test": 1.5}, "--test 1.5: a fraction must be below 1"),
        (None, {"group_by": "field", "group_field": "team"}, "field 'team'"),
        (None, {"group_by": "field", "dev": 1, "test": 1}, "split would be empty"),
    ],
)
def test_split_errors_before_writing(
    tmp_path: Path, edit: str | None, kwargs: dict, fragment: str
) -> None:
    folder = _unsplit_tiny(tmp_path)
    if edit:
        lines = (folder / "qrels.tsv").read_text().splitlines()
        lines[1] = edit
        (folder / "qrels.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        hc.split_judgements(folder, **kwargs)
    assert fragment in str(err.value)
    assert not (folder / "qrels").exists()


def test_split_conflicting_judgements(tmp_path: Path) -> None:
    folder = _unsplit_tiny(tmp_path)
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("q1\ts3/ls\t2\n")
    with pytest.raises(DataError, match=r"test\.tsv: query 'q1' and document 's3/ls' judged 2"):
        hc.split_judgements(folder)


def test_split_interrupted_keeps_old_files(tmp_path: Path, monkeypatch) -> None:
    folder = Path(shutil.copytree(TINY, tmp_path / "i"))
    before = {p.name: p.read_bytes() for p in (folder / "qrels").iterdir()}
    calls = []

    def failing(judged):  # the second split file fails half-way
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return "query-id\tcorpus-id\tscore\n"

    monkeypatch.setattr(hc.splitting, "_qrels_text", failing)
    with pytest.raises(OSError, match="disk full"):
        hc.split_judgements(folder, dev=1, test=1)
    assert {p.name: p.read_bytes() for p in (folder / "qrels").iterdir()} == before


def test_cli_split(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = _unsplit_tiny(tmp_path)
    assert cli_main(["corpus", "split", str(folder), "--dev", "0", "--test", "0.3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {folder / 'qrels'}") and "test " in out
    assert cli_main(["corpus", "split", str(folder), "--test", "9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    # a bad value stops argparse in one line naming the option
    assert cli_main(["corpus", "split", str(folder), "--test", "some"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument --test:") and err.count("\n") == 1


# ------------------------------------------------------------------------------ stats, leakage


def _flat(field_values: list[str | None], doc_ids: list[str]) -> hc.BeirData:
    """Six queries, query i judged on doc_ids[i], with a query field ``team``."""
    queries = [{"_id": f"q{i}", "text": f"t{i}", "team": v} for i, v in enumerate(field_values)]
    docs = [{"_id": d, "title": "", "text": d} for d in sorted(set(doc_ids))]
    qrels = {"test": {f"q{i}": {d: 1} for i, d in enumerate(doc_ids)}}
    return hc.BeirData("flat", Path("."), datasets.Dataset.from_list(docs),
                       datasets.Dataset.from_list(queries), qrels)


def test_query_groups_only_when_meaningful() -> None:
    groups, source = hc.query_groups(hc.load_beir(TINY))
    assert source == "field 'service' of the queries" and groups["q6"] == "ec2"
    prefixed = [f"{'ab'[i % 2]}/d{i}" for i in range(6)]
    plain = [f"d{i}" for i in range(6)]
    assert hc.query_groups(_flat(list("xxyyzz"), plain), "team")[1] == "field 'team' of the queries"
    # One group per query, or a single one, is no grouping: the id prefix is tried next.
    groups, source = hc.query_groups(_flat(list("uvwxyz"), prefixed), "team")
    assert source == "id prefix" and set(groups.values()) == {"a", "b"}
    assert hc.query_groups(_flat(list("xxxxxx"), plain), "team") == (
        {}, "none (field 'team': a single group; id prefix: 6 of 6 queries have none)"
    )
    assert hc.query_groups(_flat([None] * 4 + ["x", "y"], plain), "team")[1].startswith(
        "none (field 'team': 4 of 6 queries have none;"
    )
    assert hc.query_groups(_flat(list("xxyyzz"), plain), "nope")[1].startswith(
        "none (no field 'nope'; id prefix:"
    )


def test_cli_stats_says_which_groups(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["corpus", "stats", "--dataset", str(TINY)]) == 0
    assert "groups       3, from the field 'service' of the queries" in capsys.readouterr().out
    folder = Path(shutil.copytree(TINY, tmp_path / "flat"))
    rows = [json.loads(x) for x in (folder / "queries.jsonl").read_text().splitlines()]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({**r, "service": r["_id"]}) + "\n" for r in rows)
    )
    assert cli_main(["corpus", "stats", "--dataset", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "groups       3, from the id prefix" in out and "field 'service'" not in out


def test_cli_validate_warns_about_leakage(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["corpus", "validate", "--dataset", str(TINY)]) == 0
    assert "warning" not in capsys.readouterr().out
    folder = Path(shutil.copytree(TINY, tmp_path / "leak"))
    rows = [json.loads(x) for x in (folder / "queries.jsonl").read_text().splitlines()]
    rows[4]["text"] = "  How do I LIST the objects in my   bucket? "  # q5 (test) = q1 (train)
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert cli_main(["corpus", "validate", "--dataset", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK ")
    assert "warning: 1 queries of test have the text of a train query" in out and "q1=q5" in out
    data = hc.load_beir(folder)
    assert hc.shared_query_texts(data, "train", "test") == [("q1", "q5")]


def test_cli_from_folder_then_split(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    docs = Path(__file__).parent / "fixtures" / "own_docs"
    questions = tmp_path / "q.csv"
    questions.write_text(
        "question,document\nhow to install?,guide.md#install\nlinux?,guide.md#linux\n"
        "macos?,guide.md#macos\nreset password?,sub/faq.md\ntokens?,api.rst#tokens\n"
    )
    out = tmp_path / "own"
    argv = ["corpus", "from-folder", "--docs", str(docs), "--questions", str(questions),
            "--output", str(out)]
    assert cli_main([*argv, "--test", "2", "--dev", "1"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "queries sharing a positive document" in printed
    data = hc.load_beir(out)
    assert {s: len(q) for s, q in data.qrels.items()} == {"train": 2, "dev": 1, "test": 2}
    questions.write_text("question,document,split\nhow?,guide.md#install,train\n")
    assert cli_main([*argv, "--test", "0.2"]) == 2
    assert "carry splits train" in capsys.readouterr().err
