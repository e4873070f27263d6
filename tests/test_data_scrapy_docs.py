"""data/scrapy-docs (a documentation folder and a CSV of questions, the input of notebook 06):
it builds into a valid BEIR folder with the user's commands, and its builder follows the FAQ's
links (checked on a small in-memory sdist, no download)."""

from __future__ import annotations

import csv
import io
import tarfile
from pathlib import Path

from hardneg_kit import corpus as hc
from hardneg_kit.build import scrapy_docs
from hardneg_kit.cli import main as cli_main

FOLDER = Path(__file__).resolve().parents[1] / "data" / "scrapy-docs"


def test_shipped_folder_builds_a_valid_beir_folder(tmp_path: Path, capsys) -> None:
    out = tmp_path / "scrapy-docs"
    assert cli_main(["corpus", "from-folder", "--docs", str(FOLDER / "docs"), "--questions",
                     str(FOLDER / "questions.csv"), "--output", str(out)]) == 0
    assert cli_main(["corpus", "split", str(out), "--dev", "0.2", "--test", "0.4"]) == 0
    assert cli_main(["corpus", "validate", "--dataset", str(out)]) == 0
    capsys.readouterr()
    data = hc.load_beir(out)  # validates: every judgement names a known query and passage
    assert set(data.qrels) == {"train", "dev", "test"}
    assert 500 < len(data.corpus) < 3000
    assert len(data.queries) == 31
    assert sum(len(q) for q in data.qrels.values()) == 31
    # grouped by positive: no passage is a positive in two splits
    positives = {s: {d for docs in q.values() for d in docs} for s, q in data.qrels.items()}
    assert not positives["train"] & positives["test"]
    assert not positives["dev"] & positives["test"]
    assert not positives["train"] & positives["dev"]


def test_shipped_folder_is_documented_and_small() -> None:
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    assert "rebuild.sh" in readme and (FOLDER / "rebuild.sh").is_file()
    assert "Redistribution and use" in (FOLDER / "LICENSE").read_text(encoding="utf-8")
    assert "scrapy-2.19.0.tar.gz" in (FOLDER / "NOTICE").read_text(encoding="utf-8")
    assert not (FOLDER / "docs" / scrapy_docs.FAQ).exists()  # the questions' own answers
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size < 2_000_000
    with open(FOLDER / "questions.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and all((FOLDER / "docs" / r["document"]).is_file() for r in rows)
    # no question is written verbatim in a page judged relevant to it (not a trivial match)
    for r in rows:
        text = (FOLDER / "docs" / r["document"]).read_text(encoding="utf-8").lower()
        assert r["question"].lower() not in text


FAQ = """\
.. _faq:

Frequently Asked Questions
==========================

.. _faq-parse:

How do I parse pages?
---------------------

See :ref:`parsing <topics-parse>` and the :setting:`PARSE_DEPTH` setting.

Can I use ``lxml``?
-------------------

As mentioned :ref:`above <faq-parse>`, yes.

How do I stop a spider?
-----------------------

Raise :exc:`~scrapy.exceptions.CloseSpider`.

How can I use less memory?
--------------------------

See previous question.

Why the name?
-------------

Because. See https://example.org.
"""

PAGES = {
    "faq.rst": FAQ,
    "news.rst": "Release notes\n=============\n\nHow do I parse pages? Changed.\n",
    "topics/parse.rst": ".. _topics-parse:\n\nParsing\n=======\n\nText.\n",
    "topics/settings.rst": "Settings\n========\n\n.. setting:: PARSE_DEPTH\n\nPARSE_DEPTH\n"
                           "-----------\n\nDepth.\n",
    "topics/exceptions.rst": "Exceptions\n==========\n\n.. module:: scrapy.exceptions\n\n"
                             ".. exception:: CloseSpider\n\n   Stop.\n",
}


def _sdist(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in {"LICENSE": "BSD licence\n",
                           **{f"docs/{k}": v for k, v in PAGES.items()}}.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"scrapy-0.0/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_builder_follows_the_answers_links(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert scrapy_docs.main(["--source", str(_sdist(tmp_path / "s.tar.gz")),
                             "--output", str(out)]) == 0
    with open(out / "questions.csv", newline="", encoding="utf-8") as f:
        rows = [tuple(r) for r in csv.reader(f)]
    assert rows == [
        ("question", "document"),
        ("How do I parse pages?", "topics/parse.rst"),
        ("How do I parse pages?", "topics/settings.rst"),
        ("Can I use lxml?", "topics/parse.rst"),  # via the FAQ answer it links to
        ("Can I use lxml?", "topics/settings.rst"),
        ("How do I stop a spider?", "topics/exceptions.rst"),
        ("How can I use less memory?", "topics/exceptions.rst"),  # "See previous question"
        # "Why the name?" links nowhere in docs/: left out
    ]
    docs = sorted(p.relative_to(out / "docs").as_posix() for p in (out / "docs").rglob("*"))
    assert docs == ["topics", "topics/exceptions.rst", "topics/parse.rst", "topics/settings.rst"]
    assert (out / "LICENSE").read_text() == "BSD licence\n"



def test_build_counts_and_left_out() -> None:
    rows, left_out, counts = scrapy_docs.build({k: v.encode() for k, v in PAGES.items()})
    assert left_out == ["Why the name?"]
    assert counts["faq_questions"] == 5 and counts["questions"] == 4
    assert counts["judgements"] == len(rows) == 6
