"""A folder of Markdown, reStructuredText and text files -> passages (``corpus from-folder``).

Files are read as UTF-8 (others skipped with a warning), split at headings into sections, and
each section into chunks (:mod:`hardneg_kit.corpus.chunking`). Passages get stable ids
``<file>#<heading slug>`` (:mod:`hardneg_kit.corpus.ids`) and breadcrumb titles.

Example:
    >>> corpus = corpus_from_folder("docs/")  # doctest: +SKIP
    >>> corpus[0]["_id"], corpus[0]["title"]  # doctest: +SKIP
    ('guide.md#install', 'User guide › Install')
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import datasets

from hardneg_kit.corpus.chunking import chunk_text
from hardneg_kit.corpus.ids import _unique_ids
from hardneg_kit.errors import DataError

logger = logging.getLogger(__package__)  # one logger, "hardneg_kit.corpus", for the package


#: file types :func:`corpus_from_folder` reads
DOC_SUFFIXES = (".md", ".markdown", ".rst", ".txt")


_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


_FENCE = re.compile(r"^ {0,3}(```|~~~)")


_RST_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.!$%&(),/;?@\[\]\\{|}])\1{2,}\s*$")


def slugify(text: str) -> str:
    """GitHub-style anchor: ``"Install on Linux!" -> "install-on-linux"``."""
    s = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return re.sub(r"[\s]+", "-", s).strip("-") or "section"


def _humanize(stem: str) -> str:
    return re.sub(r"[_\-]+", " ", stem).strip().capitalize() or stem


def _sections_markdown(lines: list[str]) -> list[tuple[int, str, list[str]]]:
    """(level, heading, body lines); level 0 is the text before the first heading."""
    out: list[tuple[int, str, list[str]]] = [(0, "", [])]
    fence = None
    for line in lines:
        m = _FENCE.match(line)
        if m:
            fence = None if fence == m.group(1) else (fence or m.group(1))
        h = None if fence or m else _ATX.match(line)
        if h:
            out.append((len(h.group(1)), h.group(2).strip(), []))
        else:
            out[-1][2].append(line)
    return out


def _sections_rst(lines: list[str]) -> list[tuple[int, str, list[str]]]:
    """Underlined (optionally overlined) headings; levels follow the order styles appear."""
    out: list[tuple[int, str, list[str]]] = [(0, "", [])]
    styles: list[tuple[str, bool]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        over = bool(_RST_ADORN.match(line))
        # overline + title + underline
        if (
            over
            and i + 2 < len(lines)
            and lines[i + 1].strip()
            and lines[i + 2].strip() == line.strip()
        ):
            title, style, step = lines[i + 1].strip(), (line.strip()[0], True), 3
        # title + underline at least as long as the title
        elif (
            line.strip()
            and not over
            and i + 1 < len(lines)
            and _RST_ADORN.match(lines[i + 1])
            and len(lines[i + 1].rstrip()) >= len(line.rstrip())
            and (i == 0 or not lines[i - 1].strip())
        ):
            title, style, step = line.strip(), (lines[i + 1].strip()[0], False), 2
        else:
            if not over:  # a lone adornment line is a transition: drop it
                out[-1][2].append(line)
            i += 1
            continue
        if style not in styles:
            styles.append(style)
        out.append((styles.index(style) + 1, title, []))
        i += step
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated blocks; fenced code stays in one block."""
    paras: list[str] = []
    cur: list[str] = []
    fence = None
    for line in lines:
        m = _FENCE.match(line)
        if m:
            fence = None if fence == m.group(1) else (fence or m.group(1))
        if not line.strip() and not fence:
            if cur:
                paras.append("\n".join(cur).strip("\n"))
                cur = []
        else:
            cur.append(line.rstrip())
    if cur:
        paras.append("\n".join(cur).strip("\n"))
    return [p for p in paras if p.strip()]


def _file_passages(text: str, path: Path, rel: str, max_words: int) -> list[dict]:
    """A file's passages: each section cut into chunks, with ids ``<rel>#<slug>[-k]`` and
    breadcrumb titles (the file title first)."""
    sections = _file_sections(text, path.suffix.lower())
    top, file_title = _file_title(sections, path.stem)
    rows: list[dict] = []
    used: set[str] = set()
    stack: list[tuple[int, str]] = []
    for level, heading, body in sections:
        if level:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
        crumbs = [h for lv, h in stack if lv != top]
        chunks = chunk_text(_paragraphs(body), max_words)
        if not chunks:
            continue
        slug, suffixes = _free_slug(slugify(crumbs[-1] if crumbs else file_title), chunks, used)
        title = " › ".join([file_title, *crumbs])
        for s, chunk in zip(suffixes, chunks, strict=True):
            used.add(slug + s)
            rows.append({"_id": f"{rel}#{slug}{s}", "title": title, "text": chunk, "path": rel})
    return rows


def _file_sections(text: str, suffix: str) -> list[tuple[int, str, list[str]]]:
    """(level, heading, body lines) of a file by its type; Markdown's YAML front matter goes."""
    lines = text.replace("\r\n", "\n").split("\n")
    if suffix in (".md", ".markdown") and lines[0].strip() == "---" and "---" in lines[1:]:
        lines = lines[lines.index("---", 1) + 1 :]  # YAML front matter
    if suffix in (".md", ".markdown"):
        return _sections_markdown(lines)
    if suffix == ".rst":
        return _sections_rst(lines)
    return [(0, "", lines)]


def _file_title(sections: Sequence[tuple[int, str, list[str]]], stem: str) -> tuple[int, str]:
    """(level of the title heading, or -1 when there is none; the file title).

    A single top-level heading that comes first is the document's title; otherwise the file
    name is (``getting_started`` -> ``Getting started``).
    """
    headed = [s for s in sections if s[0] > 0]
    top = min((s[0] for s in headed), default=0)
    if bool(headed) and headed[0][0] == top and sum(s[0] == top for s in headed) == 1:
        return top, headed[0][1]
    return -1, _humanize(stem)


def _free_slug(base: str, chunks: Sequence[str], used: set[str]) -> tuple[str, list[str]]:
    """A slug whose ids for all ``chunks`` (suffixes ``""``, ``-2``, ``-3``...) are unused:
    ``base``, else ``base-1``, ``base-2``... like GitHub anchors; and those suffixes."""
    slug, n = base, 0
    suffixes = [""] + [f"-{k}" for k in range(2, len(chunks) + 1)]
    while any(f"{slug}{s}" in used for s in suffixes):
        n += 1
        slug = f"{base}-{n}"
    return slug, suffixes


def corpus_from_folder(folder: str | Path, max_words: int = 200) -> datasets.Dataset:
    """Markdown, reStructuredText and text files under ``folder`` -> passages.

    Files are split at headings (Markdown ``#``; reStructuredText underlined titles), then into
    chunks of at most ``max_words`` words, cutting between paragraphs where possible. Each row
    has ``_id`` = ``<relative path>#<heading slug>`` plus ``-2``, ``-3``... for further chunks of
    a section (a repeated heading gets ``-1``, ``-2``... before that, like GitHub anchors), so ids
    stay put when other files change; ``title`` = ``File title › Section › Subsection`` (the file
    title is a lone first top-level heading, else the file name); ``text``; ``path``. Ids are
    made safe for TREC files and capped at :data:`MAX_ID_LENGTH` characters (:func:`safe_id`).

    Files that are not UTF-8 text (NUL bytes, another encoding) are skipped with one warning
    listing them, never decoded into mojibake; symbolic links leading outside ``folder`` are not
    followed (one warning lists them); hidden files and folders are left out.

    >>> corpus = corpus_from_folder("docs/")  # doctest: +SKIP
    >>> corpus[0]["_id"], corpus[0]["title"]  # doctest: +SKIP
    ('guide.md#install', 'User guide › Install')
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: expected a folder of documentation.")
    if max_words < 1:
        raise DataError(f"max_words must be at least 1, got {max_words}.")
    files, outside = _doc_files(folder)
    if outside:
        logger.warning(
            "%s: not following %d symbolic links that lead outside it: %s",
            folder, len(outside), ", ".join(outside),
        )
    rows: list[dict] = []
    skipped: list[str] = []
    for p in files:
        rel = p.relative_to(folder).as_posix()
        text = _doc_text(p)
        if text is None:
            skipped.append(rel)
            continue
        rows.extend(_file_passages(text, p, rel, max_words))
    if skipped:
        logger.warning(
            "%s: skipped %d files that are not UTF-8 text (binary, NUL bytes or another "
            "encoding; convert them to UTF-8 to include them): %s",
            folder, len(skipped), ", ".join(skipped),
        )
    if not rows:
        raise DataError(
            f"{folder}: no passages found; put Markdown (.md), reStructuredText (.rst) or "
            ".txt files there."
        )
    for row, _id in zip(rows, _unique_ids([r["_id"] for r in rows]), strict=True):
        row["_id"] = _id
    logger.info("%s: %d passages from %d files", folder, len(rows), len(files) - len(skipped))
    return datasets.Dataset.from_list(rows)


def _doc_files(folder: Path) -> tuple[list[Path], list[str]]:
    """Documentation files under ``folder`` (sorted; hidden parts skipped), and the relative
    paths of symbolic links that lead outside it (not followed: ``--docs`` bounds what is read).

    Linked folders are never entered (``rglob`` does not follow them).
    """
    root = folder.resolve()
    files: list[Path] = []
    outside: list[str] = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.suffix.lower() not in DOC_SUFFIXES or any(s.startswith(".") for s in rel.parts):
            continue
        if p.is_symlink() and not p.resolve().is_relative_to(root):
            outside.append(rel.as_posix())
        elif p.is_file():
            files.append(p)
    return files, outside


def _doc_text(path: Path) -> str | None:
    """A file's text, or None when it is not UTF-8 text (NUL bytes, undecodable bytes)."""
    data = path.read_bytes()
    if b"\x00" in data:
        return None
    try:
        return data.removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError:
        return None
