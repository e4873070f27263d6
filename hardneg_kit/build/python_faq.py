"""Build ``data/python-faq``: Python FAQ questions against every section of the Python docs.

The source is Debian's ``python3.11-doc`` package (the ``.deb`` file, read with the standard
library: an ``ar`` archive holding ``data.tar.*``). It ships the reStructuredText sources of the
documentation as ``usr/share/doc/python3.11/html/_sources/**/*.rst.txt``.

* Documents: every section of every page, split at headings. ``_id`` is
  ``<page path>#<section slug>`` (``library/os.path#os-path-common-pathname-manipulations``),
  title the breadcrumb ``page title › … › section title``, text the section body as plain text.
* Queries: the question headings of ``faq/*.rst`` (headings ending in ``?``). The positive is the
  FAQ section under that heading; the question is not part of its text, nor of its title (the
  breadcrumb stops at the parent section). Identical questions on two pages get
  `` (<page title>)`` appended.
* One ``test`` split.

Run: ``PYTHONPATH=. python -m hardneg_kit.build.python_faq --source python3.11-doc_*.deb
--output data/python-faq`` (standard library only; see ``data/python-faq/rebuild.sh``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hardneg_kit.build.common import qualify_ambiguous, run_builder
from hardneg_kit.build.rst_text import body_text, find_headings, plain_title, slugify

log = logging.getLogger(__name__)

SOURCES_PREFIX = "usr/share/doc/python3.11/html/_sources/"
COPYRIGHT_PATH = "usr/share/doc/python3.11-doc/copyright"
SOURCE_SUFFIX = ".rst.txt"
FAQ_PREFIX = "faq/"
BREADCRUMB = " › "


@dataclass
class Section:
    """One section of a page: slug, title chain (page title first) and body text."""

    page: str
    slug: str
    titles: list[str]
    text: str
    raw_title: str = ""
    ancestors: list[str] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        """``<page>#<slug>``."""
        return f"{self.page}#{self.slug}"


def parse_page(page: str, source: str) -> list[Section]:
    """Split one rst page into sections (text before the first heading is dropped).

    Slugs are unique within the page: a repeated slug gets ``-2``, ``-3`` ... in page order.
    """
    lines = source.splitlines()
    headings = find_headings(lines)
    sections: list[Section] = []
    used: set[str] = set()
    stack: list[tuple[int, str]] = []  # (level, clean title) of open ancestors
    for k, h in enumerate(headings):
        stop = headings[k + 1].line if k + 1 < len(headings) else len(lines)
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        title = plain_title(h.title)
        ancestors = [t for _, t in stack]
        stack.append((h.level, title))
        base = slugify(h.title)
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        sections.append(
            Section(
                page=page,
                slug=slug,
                titles=ancestors + [title],
                text=body_text(lines[h.end : stop]),
                raw_title=title,
                ancestors=ancestors,
            )
        )
    return sections


def is_question(section: Section) -> bool:
    """A FAQ question: a heading below the page title, on a ``faq/`` page, ending in ``?``."""
    return (
        section.page.startswith(FAQ_PREFIX)
        and len(section.titles) > 1
        and section.raw_title.endswith("?")
    )


def document(section: Section) -> dict:
    """The BEIR document of a section; a question's title leaves the question out.

    >>> s = Section("faq/x", "why", ["FAQ", "Misc", "Why?"], "Because.", "Why?", ["FAQ", "Misc"])
    >>> document(s)
    {'_id': 'faq/x#why', 'title': 'FAQ › Misc', 'text': 'Because.'}
    """
    titles = section.ancestors if is_question(section) else section.titles
    return {"_id": section.doc_id, "title": BREADCRUMB.join(titles), "text": section.text}


def build_dataset(pages: Mapping[str, str]) -> tuple[list[dict], list[dict], list, dict]:
    """Corpus, queries, test qrels and counts from ``{page path: rst source}``."""
    counts: Counter = Counter()
    counts["pages"] = len(pages)
    corpus: list[dict] = []
    candidates: list[dict] = []
    page_titles: dict[str, str] = {}
    for page in sorted(pages):
        sections = parse_page(page, pages[page])
        counts["sections_found"] += len(sections)
        if sections:
            page_titles[page] = sections[0].titles[0]
        for s in sections:
            if not s.text:
                counts["sections_empty_skipped"] += 1
                if is_question(s):
                    counts["questions_without_answer"] += 1
                continue
            corpus.append(document(s))
            if is_question(s):
                candidates.append(
                    {
                        "_id": f"q:{s.doc_id}",
                        "text": s.raw_title,
                        "positive": s.doc_id,
                        "service": page,
                        "page": page,
                    }
                )
    counts["questions"] = len(candidates)
    queries, n_ambiguous = qualify_ambiguous(candidates, page_titles)
    counts["query_texts_qualified"] = n_ambiguous
    counts["queries_dropped"] = len(candidates) - len(queries)
    queries.sort(key=lambda q: q["_id"])
    rows = [{"_id": q["_id"], "text": q["text"], "page": q["page"]} for q in queries]
    qrels = [(q["_id"], q["positive"], 1) for q in queries]
    counts["documents"] = len(corpus)
    counts["queries"] = len(rows)
    counts["qrels_test"] = len(qrels)
    return corpus, rows, qrels, dict(sorted(counts.items()))


def _ar_members(data: bytes) -> dict[str, bytes]:
    """The members of a Debian ``ar`` archive (``!<arch>`` format)."""
    if not data.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive (.deb)")
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        members[name] = data[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size % 2)
    return members


def _tar_of(members: Mapping[str, bytes], stem: str) -> tarfile.TarFile:
    name = next(n for n in sorted(members) if n.startswith(stem + ".tar"))
    return tarfile.open(fileobj=io.BytesIO(members[name]), mode="r:*")


def read_deb(path: Path) -> tuple[dict[str, str], str, dict[str, str]]:
    """The rst pages ``{page path: source}``, the copyright file and provenance of a ``.deb``."""
    data = path.read_bytes()
    members = _ar_members(data)
    with _tar_of(members, "control") as tf:
        control_member = next(m for m in tf.getmembers() if m.name.lstrip("./") == "control")
        control = tf.extractfile(control_member).read().decode("utf-8")
    fields = dict(
        line.split(": ", 1) for line in control.splitlines() if ": " in line and line[0] != " "
    )
    pages: dict[str, str] = {}
    copyright_text = ""
    with _tar_of(members, "data") as tf:
        for m in tf.getmembers():
            name = m.name.removeprefix("./")
            if not m.isfile():
                continue
            if name.startswith(SOURCES_PREFIX) and name.endswith(SOURCE_SUFFIX):
                page = name[len(SOURCES_PREFIX) : -len(SOURCE_SUFFIX)]
                pages[page] = tf.extractfile(m).read().decode("utf-8")
            elif name == COPYRIGHT_PATH:
                copyright_text = tf.extractfile(m).read().decode("utf-8")
    provenance = {
        "package": fields.get("Package", ""),
        "version": fields.get("Version", ""),
        "file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return pages, copyright_text, provenance


def notice_text(provenance: Mapping[str, str]) -> str:
    """The NOTICE file: what the data was derived from."""
    return (
        "hardneg-kit: data/python-faq\n\n"
        "Derived from the reStructuredText sources of the Python 3.11 documentation\n"
        f"(/{SOURCES_PREFIX}**/*{SOURCE_SUFFIX}) in the Debian package\n"
        f"{provenance['package']} {provenance['version']} ({provenance['file']}),\n"
        f"sha256 {provenance['sha256']}.\n"
        "Python documentation: Copyright (c) 2001-2023 Python Software Foundation. All rights\n"
        "reserved. Licensed under the PSF License Version 2 (LICENSE is the package's Debian\n"
        "copyright file, which holds it); code in the documentation is also under the\n"
        "Zero-Clause BSD license (see the documentation page 'license', part of this corpus).\n"
        "Changes: pages were split into sections at headings and markup reduced to plain text;\n"
        "FAQ question headings became queries.\n"
    )


def _read(source: Path) -> tuple[list, str, dict]:
    pages, copyright_text, provenance = read_deb(source)
    log.info("read %d rst pages from %s", len(pages), source)
    return pages, copyright_text, provenance


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (:func:`hardneg_kit.build.common.run_builder`)."""
    return run_builder(
        argv,
        description=__doc__.split("\n", 1)[0],
        source_help="the python3.11-doc .deb",
        output_help="e.g. data/python-faq",
        read=_read,
        build=build_dataset,
        notice=notice_text,
        ensure_ascii=False,
    )


if __name__ == "__main__":
    raise SystemExit(main())
