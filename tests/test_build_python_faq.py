"""Tests of the python-faq builder on small rst fixtures (no .deb needed)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from hardneg_kit.build import python_faq, rst_text

FIXTURES = Path(__file__).parent / "fixtures" / "python_faq"


def _pages() -> dict[str, str]:
    return {
        p.relative_to(FIXTURES).with_suffix("").as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(FIXTURES.rglob("*.rst"))
    }


@pytest.fixture(scope="module")
def built() -> tuple[list[dict], list[dict], list, dict]:
    return python_faq.build_dataset(_pages())


def test_find_headings_levels_and_overlines() -> None:
    lines = _pages()["faq/mini"].splitlines()
    hs = rst_text.find_headings(lines)
    assert [(h.title, h.level) for h in hs] == [
        ("Mini FAQ", 0),
        ("General Questions", 1),
        ("What is a widget?", 2),
        ("Not a question", 2),
        ("How do I spin a widget?", 2),
        ("Other Questions", 1),
        ("What is a widget?", 2),
    ]


def test_sections_ids_titles_and_text(built) -> None:
    corpus, _, _, counts = built
    docs = {d["_id"]: d for d in corpus}
    top = docs["library/gadgets#gadgets-widgets-and-other-gadgets"]
    assert top["title"] == "gadgets — Widgets and other gadgets"
    assert top["text"] == (
        "This module provides widgets.\nspin(widget, times=1)\nSpin the widget.\n"
        "Spinning is fast."
    )
    # Repeated titles get numbered slugs in page order; empty sections are skipped.
    assert docs["library/gadgets#examples"]["text"] == "A first example."
    assert docs["library/gadgets#examples-2"]["text"] == "A second section with the same title."
    assert "library/gadgets#empty-parent" not in docs
    child = docs["library/gadgets#child"]
    assert child["title"] == "gadgets — Widgets and other gadgets › Empty parent › Child"
    # "Empty parent", "Mini FAQ" (only a contents directive), "General/Other Questions".
    assert counts["sections_empty_skipped"] == 4
    assert "faq/mini#mini-faq" not in docs


def test_questions_and_heading_removed_from_positive(built) -> None:
    corpus, queries, qrels, counts = built
    docs = {d["_id"]: d for d in corpus}
    assert counts["questions"] == 3
    pos = docs["faq/mini#what-is-a-widget"]
    assert "What is a widget?" not in pos["text"] and "What is a widget?" not in pos["title"]
    assert pos["title"] == "Mini FAQ › General Questions"
    assert pos["text"] == (
        "A widget is a small Widget object. See the widget docs for details:\n"
        "w = Widget() w.spin()\nNew in version 3.2."
    )
    spin = docs["faq/mini#how-do-i-spin-a-widget"]
    assert spin["text"] == "Call w.spin()."
    # A non-question FAQ heading stays in its own title and is no query.
    assert docs["faq/mini#not-a-question"]["title"].endswith("› Not a question")
    # "What is a widget?" is asked twice on one page: qualifying by page cannot separate the two
    # answers, so the ambiguity rule drops both.
    assert [q["_id"] for q in queries] == ["q:faq/mini#how-do-i-spin-a-widget"]
    assert counts["queries_dropped"] == 2
    assert qrels == [("q:faq/mini#how-do-i-spin-a-widget", "faq/mini#how-do-i-spin-a-widget", 1)]
    assert all(q["page"] == "faq/mini" for q in queries)


def test_ambiguity_rule_between_pages() -> None:
    pages = _pages()
    pages["faq/other"] = (
        "Other FAQ\n=========\n\nHow do I spin a widget?\n"
        "-----------------------\n\nTwirl it.\n"
    )
    _, queries, _, counts = python_faq.build_dataset(pages)
    texts = {q["_id"]: q["text"] for q in queries}
    assert texts["q:faq/other#how-do-i-spin-a-widget"] == "How do I spin a widget? (Other FAQ)"
    assert texts["q:faq/mini#how-do-i-spin-a-widget"] == "How do I spin a widget? (Mini FAQ)"
    assert counts["query_texts_qualified"] >= 1


def test_ids_stable_and_deterministic(built) -> None:
    pages = _pages()
    again = python_faq.build_dataset(dict(reversed(list(pages.items()))))
    assert again == built


def _ar(members: dict[str, bytes]) -> bytes:
    out = [b"!<arch>\n"]
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
        out.append(header.encode("ascii") + data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_main_reads_a_deb(tmp_path: Path) -> None:
    files = {
        f"./{python_faq.SOURCES_PREFIX}{page}{python_faq.SOURCE_SUFFIX}": text.encode()
        for page, text in _pages().items()
    }
    files[f"./{python_faq.COPYRIGHT_PATH}"] = b"PSF LICENSE AGREEMENT\n"
    control = b"Package: python3.11-doc\nVersion: 3.11.2-0test\n"
    deb = tmp_path / "python3.11-doc_3.11.2-0test_all.deb"
    deb.write_bytes(
        _ar(
            {
                "debian-binary": b"2.0\n",
                "control.tar.xz": _tar({"./control": control}),
                "data.tar.xz": _tar(files),
            }
        )
    )
    out = tmp_path / "out"
    assert python_faq.main(["--source", str(deb), "--output", str(out)]) == 0
    stats = json.loads((out / "build-stats.json").read_text())
    assert stats["source"]["version"] == "3.11.2-0test"
    assert stats["counts"]["questions"] == 3 and stats["counts"]["queries"] == 1
    assert (out / "LICENSE").read_text() == "PSF LICENSE AGREEMENT\n"
    assert "3.11.2-0test" in (out / "NOTICE").read_text()
    assert (out / "corpus.jsonl").exists()
