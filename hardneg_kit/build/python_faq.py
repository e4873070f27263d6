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
import re
import tarfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hardneg_kit.build.common import qualify_ambiguous, run_builder

log = logging.getLogger(__name__)

SOURCES_PREFIX = "usr/share/doc/python3.11/html/_sources/"
COPYRIGHT_PATH = "usr/share/doc/python3.11-doc/copyright"
SOURCE_SUFFIX = ".rst.txt"
FAQ_PREFIX = "faq/"
BREADCRUMB = " › "

_ADORNMENT_CHARS = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:.-]+)::\s?(.*)$")
_EXPLICIT = re.compile(r"^(\s*)\.\.(\s|$)")
_OPTION = re.compile(r"^\s*:[\w -]+:(\s|$)")
_ANON_TARGET = re.compile(r"^\s*__ ")
_TABLE_RULE = re.compile(r"^\s*[=\-+|: ]{3,}$")
_ROLE = re.compile(r":[\w:.-]+:`([^`]*)`")
_ROLE_TARGET = re.compile(r"^(.*?)\s*<[^<>]*>$", re.S)
_LINK = re.compile(r"`([^`<]*?)\s*<[^<>`]*>`__?")
_REF = re.compile(r"`([^`]+)`__?")
_LITERAL = re.compile(r"``(.+?)``")
_STRONG = re.compile(r"\*\*(.+?)\*\*")
_EMPH = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_SPACE = re.compile(r"[ \t\r\f\v]+")

# Directives dropped with their content (navigation, index entries, markup-only blocks).
DROP_DIRECTIVES = frozenset(
    {
        "index", "toctree", "contents", "image", "figure", "highlight", "literalinclude",
        "sectionauthor", "moduleauthor", "raw", "tabularcolumns", "include", "testsetup",
        "testcleanup", "currentmodule", "default-role", "audit-event-table", "sectnum", "role",
        "c:namespace", "c:namespace-push", "c:namespace-pop", "limited-api-list",
    }
)
# Directives whose argument reads as text: ``.. versionadded:: 3.2`` -> "New in version 3.2.".
VERSION_DIRECTIVES = {
    "versionadded": "New in version {}.",
    "versionchanged": "Changed in version {}:",
    "deprecated": "Deprecated since version {}:",
    "deprecated-removed": "Deprecated since version {}:",
}
# Directives whose argument is not shown as text (admonitions, code blocks ...).
SILENT_ARGUMENT = frozenset(
    {
        "note", "warning", "seealso", "important", "tip", "caution", "attention", "danger",
        "hint", "code-block", "sourcecode", "code", "doctest", "testcode", "testoutput", "only",
        "impl-detail", "productionlist", "glossary", "container", "list-table", "epigraph",
        "module",
    }
)


@dataclass
class Heading:
    """A section heading found in an rst page: line index, title text and level (0 = page)."""

    line: int
    end: int  # first line after the heading (and its underline)
    title: str
    level: int


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


def _is_adornment(line: str) -> bool:
    """A line of one repeated punctuation character, at least two long (``====``)."""
    s = line.rstrip()
    return len(s) >= 2 and s[0] in _ADORNMENT_CHARS and s == s[0] * len(s) and s != "::"


def find_headings(lines: list[str]) -> list[Heading]:
    """Find the section headings of an rst page (underlined, optionally overlined).

    Levels follow the order in which adornment styles first appear, as docutils does.

    >>> hs = find_headings(["=====", "Title", "=====", "", "Sub?", "----", "", "text"])
    >>> [(h.title, h.level, h.line, h.end) for h in hs]
    [('Title', 0, 0, 3), ('Sub?', 1, 4, 6)]
    """
    styles: list[tuple[str, bool]] = []
    headings: list[Heading] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        # Overlined title: adornment, text, same adornment.
        if (
            _is_adornment(line)
            and i + 2 < n
            and lines[i + 1].strip()
            and not _is_adornment(lines[i + 1])
            and lines[i + 2].rstrip() == line.rstrip()
            and (i == 0 or not lines[i - 1].strip())
            and len(line.rstrip()) >= len(lines[i + 1].strip())
        ):
            style = (line.rstrip()[0], True)
            title, start, end = lines[i + 1].strip(), i, i + 3
        elif (
            line.strip()
            and not line[0].isspace()
            and not _is_adornment(line)
            and i + 1 < n
            and _is_adornment(lines[i + 1])
            and len(lines[i + 1].rstrip()) >= len(line.rstrip())
            and (i == 0 or not lines[i - 1].strip())
        ):
            style = (lines[i + 1].rstrip()[0], False)
            title, start, end = line.strip(), i, i + 2
        else:
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        headings.append(Heading(start, end, title, styles.index(style)))
        i = end
    return headings


def _clean_role(match: re.Match) -> str:
    """``:func:`text <target>``` -> ``text``; ``:meth:`~a.b.c``` -> ``c``; ``!x`` -> ``x``."""
    inner = match.group(1)
    target = _ROLE_TARGET.match(inner)
    if target and target.group(1):
        return target.group(1)
    if inner.startswith("~"):
        return inner[1:].rsplit(".", 1)[-1]
    return inner.lstrip("!")


def inline_text(text: str) -> str:
    """Strip inline rst markup.

    >>> inline_text(":func:`os.path.join` and ``x + 1`` in `the docs <https://x.org>`_, *very*")
    'os.path.join and x + 1 in the docs, very'
    >>> inline_text(":meth:`~str.join` --- **bold**\\\\ ly")
    'join — boldly'
    """
    text = _ROLE.sub(_clean_role, text)
    text = _LINK.sub(lambda m: m.group(1), text)
    text = _LITERAL.sub(lambda m: m.group(1), text)
    text = _REF.sub(lambda m: m.group(1), text)
    text = _STRONG.sub(lambda m: m.group(1), text)
    text = _EMPH.sub(lambda m: m.group(1), text)
    text = text.replace("\\ ", "").replace(" --- ", " — ")
    return text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def body_text(lines: Iterable[str]) -> str:
    """Turn the body lines of a section into plain text, one paragraph per line.

    Index entries, targets, comments, toctrees and directive options are dropped; directive
    content is kept; version notes read as sentences; ``Example::`` becomes ``Example:``.

    >>> body_text([".. _label:", "", "Some *text*::", "", "   code()", "",
    ...            ".. index:: single: x", "   pair: y", "", ".. versionadded:: 3.2", "",
    ...            "   More."])
    'Some text:\\ncode()\\nNew in version 3.2.\\nMore.'
    """
    out: list[str] = []
    skip_indent: int | None = None  # drop lines indented deeper than this
    option_indent: int | None = None  # drop directive options right after a directive
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = _SPACE.sub(" ", " ".join(para)).strip()
            if joined:
                out.append(joined)
            para.clear()

    for raw in lines:
        line = raw.rstrip()
        if skip_indent is not None:
            if not line.strip() or _indent(line) > skip_indent:
                continue
            skip_indent = None
        if option_indent is not None:
            if line.strip() and _indent(line) > option_indent and _OPTION.match(line):
                continue
            option_indent = None
        if not line.strip():
            flush()
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            flush()
            indent, name, arg = len(directive.group(1)), directive.group(2), directive.group(3)
            if name in DROP_DIRECTIVES:
                skip_indent = indent
                continue
            option_indent = indent
            if name in VERSION_DIRECTIVES:
                version, _, rest = arg.partition(" ")
                para.append(VERSION_DIRECTIVES[name].format(version.strip()))
                if rest.strip():
                    para.append(rest)
                flush()
            elif name not in SILENT_ARGUMENT and arg.strip():
                para.append(arg)
                flush()
            continue
        if _EXPLICIT.match(line) or _ANON_TARGET.match(line):
            # Comments, hyperlink targets, footnotes, substitutions: drop with their block.
            flush()
            skip_indent = _indent(line)
            continue
        if _TABLE_RULE.match(line) and not line.strip().isalnum():
            flush()
            continue
        stripped = line.strip()
        if stripped == "::":
            flush()
            continue
        if stripped.endswith("::"):
            stripped = stripped[:-1]
        if stripped.startswith(">>> ") or stripped.startswith("... "):
            flush()
            para.append(stripped)
            flush()
            continue
        para.append(stripped)
    flush()
    return "\n".join(inline_text(p) for p in out).strip()


def slugify(title: str) -> str:
    """A docutils-like id for a heading.

    >>> slugify(":mod:`os.path` --- Common pathname manipulations")
    'os-path-common-pathname-manipulations'
    >>> slugify("Why is Python's ``len()`` a function?")
    'why-is-python-s-len-a-function'
    """
    text = unicodedata.normalize("NFKD", inline_text(title))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "section"


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
        title = _SPACE.sub(" ", inline_text(h.title)).strip()
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
