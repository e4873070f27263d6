"""reStructuredText as plain text, for :mod:`hardneg_kit.build.python_faq`.

* :func:`find_headings`: the section headings of a page (underlined, optionally overlined),
  levels in the order adornment styles first appear, as docutils does;
* :func:`body_text`: a section's body as plain text, one paragraph per line (index entries,
  targets, comments, toctrees and directive options dropped; version notes as sentences);
* :func:`inline_text`: inline markup stripped (roles, links, literals, emphasis), and
  :func:`plain_title` a heading as one line of it;
* :func:`slugify`: a docutils-like id for a heading.

Standard library only: the builder runs without the kit's dependencies.

Example:
    >>> inline_text(":func:`os.path.join` and ``x + 1``")
    'os.path.join and x + 1'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

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
    while i < len(lines):
        found = _heading_at(lines, i)
        if found is None:
            i += 1
            continue
        style, title, end = found
        if style not in styles:
            styles.append(style)
        headings.append(Heading(i, end, title, styles.index(style)))
        i = end
    return headings


def _heading_at(lines: list[str], i: int) -> tuple[tuple[str, bool], str, int] | None:
    """``(style, title, first line after it)`` of a heading starting at line ``i``, else None.

    A style is the adornment character and whether it is overlined too.
    """
    line, n = lines[i], len(lines)
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
        return (line.rstrip()[0], True), lines[i + 1].strip(), i + 3
    if (
        line.strip()
        and not line[0].isspace()
        and not _is_adornment(line)
        and i + 1 < n
        and _is_adornment(lines[i + 1])
        and len(lines[i + 1].rstrip()) >= len(line.rstrip())
        and (i == 0 or not lines[i - 1].strip())
    ):
        return (lines[i + 1].rstrip()[0], False), line.strip(), i + 2
    return None


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


def plain_title(title: str) -> str:
    """A heading as one line of plain text.

    >>> plain_title("The :mod:`os`   module")
    'The os module'
    """
    return _SPACE.sub(" ", inline_text(title)).strip()


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
    reader = _BodyReader()
    for raw in lines:
        reader.read(raw.rstrip())
    reader.flush()
    return "\n".join(inline_text(p) for p in reader.out).strip()


@dataclass
class _BodyReader:
    """What :func:`body_text` has read: paragraphs, the open one, and what it is skipping."""

    out: list[str] = field(default_factory=list)
    para: list[str] = field(default_factory=list)
    skip_indent: int | None = None  # drop lines indented deeper than this
    option_indent: int | None = None  # drop directive options right after a directive

    def flush(self) -> None:
        """Close the open paragraph (whitespace collapsed; an empty one is dropped)."""
        if self.para:
            joined = _SPACE.sub(" ", " ".join(self.para)).strip()
            if joined:
                self.out.append(joined)
            self.para.clear()

    def read(self, line: str) -> None:
        """Take one line (trailing whitespace already stripped)."""
        if self._skipped(line):
            return
        directive = _DIRECTIVE.match(line)
        if not line.strip():
            self.flush()
        elif directive:
            self._directive(directive)
        elif _EXPLICIT.match(line) or _ANON_TARGET.match(line):
            # Comments, hyperlink targets, footnotes, substitutions: drop with their block.
            self.flush()
            self.skip_indent = _indent(line)
        elif _TABLE_RULE.match(line) and not line.strip().isalnum():
            self.flush()
        else:
            self._text(line.strip())

    def _skipped(self, line: str) -> bool:
        """Whether ``line`` is inside a dropped block or an option of the last directive; the
        first line that is neither ends the skipping."""
        if self.skip_indent is not None:
            if not line.strip() or _indent(line) > self.skip_indent:
                return True
            self.skip_indent = None
        if self.option_indent is not None:
            if line.strip() and _indent(line) > self.option_indent and _OPTION.match(line):
                return True
            self.option_indent = None
        return False

    def _directive(self, match: re.Match) -> None:
        """A directive: dropped with its block, else its argument where it reads as text."""
        self.flush()
        indent, name, arg = len(match.group(1)), match.group(2), match.group(3)
        if name in DROP_DIRECTIVES:
            self.skip_indent = indent
            return
        self.option_indent = indent
        if name in VERSION_DIRECTIVES:
            version, _, rest = arg.partition(" ")
            self.para.append(VERSION_DIRECTIVES[name].format(version.strip()))
            if rest.strip():
                self.para.append(rest)
            self.flush()
        elif name not in SILENT_ARGUMENT and arg.strip():
            self.para.append(arg)
            self.flush()

    def _text(self, stripped: str) -> None:
        """A text line: ``::`` alone ends the paragraph, ``Example::`` reads ``Example:``, and a
        doctest line is a paragraph of its own."""
        if stripped == "::":
            self.flush()
            return
        if stripped.endswith("::"):
            stripped = stripped[:-1]
        if stripped.startswith(">>> ") or stripped.startswith("... "):
            self.flush()
            self.para.append(stripped)
            self.flush()
            return
        self.para.append(stripped)


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
