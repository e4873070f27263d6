"""Build ``data/scrapy-docs``: a documentation folder and a CSV of questions, as a user has them.

The source is the PyPI sdist of Scrapy (``scrapy-<version>.tar.gz``, BSD-3-Clause), read with the
standard library. It ships the reStructuredText sources of the Scrapy documentation (``docs/``).

* ``docs/``: every ``docs/**/*.rst`` file, byte for byte, except ``faq.rst`` (its questions are
  the queries; its answers would hold the questions verbatim) and ``news.rst`` (the release
  notes: a 400 KB history, not documentation, that would double the corpus).
* ``questions.csv`` (``question,document``): the question headings of ``faq.rst``, each judged
  relevant to the documentation files its answer sends the reader to, as the Scrapy maintainers
  wrote them: the files that define the targets of the answer's cross-references (``:ref:``,
  ``:doc:``, ``:setting:``, ``:signal:``, ``:reqmeta:``, ``:command:``, ``:class:`` and other
  Python roles). An answer that links to another FAQ answer, or says "See previous question",
  takes that answer's files. A question whose answer sends the reader nowhere in ``docs/`` (only
  external links, a self-contained answer, or a target documented only in Python docstrings)
  is left out; the build log and ``data/scrapy-docs/README.md`` list them. Inline literal
  markup is dropped from the questions (``pdb.set_trace()`` -> pdb.set_trace()).
* ``LICENSE``: the sdist's ``LICENSE``, unchanged.

Run: ``PYTHONPATH=. python -m hardneg_kit.build.scrapy_docs --source scrapy-2.19.0.tar.gz
--output data/scrapy-docs`` (standard library only; see ``data/scrapy-docs/rebuild.sh``).
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import re
import shutil
import tarfile
from pathlib import Path

log = logging.getLogger(__name__)

FAQ = "faq.rst"
LEFT_OUT = (FAQ, "news.rst")
_HEADING_CHARS = set("=-~^\"'`#*+<>:._")
_ROLE = re.compile(r":(?:py:)?([a-z]+):`([^`]+)`")
_TARGET = re.compile(r"<([^<>]+)>\s*$")
_LABEL = re.compile(r"^\s*\.\. _([^:`]+):\s*$")
_DIRECTIVE = re.compile(
    r"^\s*\.\. (?:py:)?(setting|signal|reqmeta|command|module|currentmodule|class|autoclass|"
    r"function|autofunction|method|automethod|attribute|autoattribute|exception|autoexception|"
    r"data|autodata|automodule|decorator)::\s*(\S+)"
)
_PY_ROLES = {"class", "func", "meth", "attr", "exc", "mod", "obj", "data"}
_LITERAL = re.compile(r"``(.+?)``")
_SEE_PREVIOUS = re.compile(r"^\s*See previous question\.?\s*$", re.M)


def read_sdist(path: Path) -> tuple[str, dict[str, bytes], bytes]:
    """``(top folder, {docs-relative path: bytes} of every docs/**/*.rst, LICENSE bytes)``."""
    files: dict[str, bytes] = {}
    license_bytes = b""
    with tarfile.open(path, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        top = members[0].name.split("/", 1)[0]
        for m in members:
            parts = m.name.split("/")
            if parts[0] != top:
                continue
            rel = "/".join(parts[1:])
            if rel == "LICENSE":
                license_bytes = tar.extractfile(m).read()
            elif rel.startswith("docs/") and rel.endswith(".rst"):
                files[rel.removeprefix("docs/")] = tar.extractfile(m).read()
    if FAQ not in files or not license_bytes:
        raise SystemExit(f"{path}: no docs/{FAQ} or LICENSE; is this a Scrapy sdist?")
    return top, files, license_bytes


def _is_adornment(line: str) -> bool:
    s = line.rstrip()
    return len(s) >= 3 and len(set(s)) == 1 and s[0] in _HEADING_CHARS


def faq_questions(text: str) -> list[tuple[str, str, list[str]]]:
    """``[(question, answer text, labels just above the heading)]`` for the FAQ's sub-headings."""
    lines = text.splitlines()
    heads = [
        i for i in range(1, len(lines))
        if _is_adornment(lines[i]) and lines[i - 1].strip() and not _is_adornment(lines[i - 1])
        and lines[i].rstrip()[0] == "-"
    ]
    out = []
    for k, i in enumerate(heads):
        end = heads[k + 1] - 1 if k + 1 < len(heads) else len(lines)
        body = "\n".join(lines[i + 1 : end])
        labels = []
        j = i - 2
        while j >= 0 and (not lines[j].strip() or _LABEL.match(lines[j])):
            if m := _LABEL.match(lines[j]):
                labels.append(m.group(1).strip().lower())
            j -= 1
        question = _LITERAL.sub(r"\1", lines[i - 1].strip())  # ``x`` -> x: as a user types it
        out.append((question, body, labels))
    return out


def definitions(files: dict[str, bytes]) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """Where each cross-reference target is defined: ``{(kind, name): file}`` for labels,
    settings, signals, request meta keys and commands, and ``{python name: file}`` for documented
    Python objects (the first file wins, in sorted order)."""
    where: dict[tuple[str, str], str] = {}
    python: dict[str, str] = {}
    for rel in sorted(files):
        module = ""
        cls = ""
        for line in files[rel].decode("utf-8").splitlines():
            if m := _LABEL.match(line):
                where.setdefault(("ref", m.group(1).strip().lower()), rel)
                continue
            m = _DIRECTIVE.match(line)
            if not m:
                continue
            kind, name = m.group(1), m.group(2).split("(", 1)[0]
            if kind in ("setting", "signal", "reqmeta", "command"):
                where.setdefault((kind, name), rel)
            elif kind in ("module", "currentmodule", "automodule"):
                module, cls = name, ""
                python.setdefault(name, rel)
            else:
                full = name if "." in name or not module else f"{module}.{name}"
                if kind in ("class", "autoclass", "exception", "autoexception"):
                    cls = full
                elif line.startswith((" ", "\t")) and cls and "." not in name:
                    full = f"{cls}.{name}"
                python.setdefault(full, rel)
                python.setdefault(full.rsplit(".", 1)[-1] if kind.endswith("class") else full, rel)
    return where, python


def _python_file(name: str, python: dict[str, str]) -> str | None:
    name = name.lstrip("~!.")
    parts = name.split(".")
    for k in range(len(parts), 0, -1):  # the object, else its class or module
        candidate = ".".join(parts[:k])
        if candidate in python:
            return python[candidate]
        short = [n for n in python if n.endswith("." + candidate) or n == parts[k - 1]]
        if k == len(parts) and len({python[n] for n in short}) == 1:
            return python[short[0]]
    return None


def answer_files(
    body: str, where: dict[tuple[str, str], str], python: dict[str, str], docs: set[str]
) -> tuple[list[str], list[str], list[str]]:
    """``(files, FAQ labels linked, unresolved targets)`` of one answer, files in order of use."""
    files: list[str] = []
    faq_links: list[str] = []
    unresolved: list[str] = []
    for role, content in _ROLE.findall(body):
        m = _TARGET.search(content)
        target = (m.group(1) if m else content).strip()
        found: str | None = None
        if role == "ref":
            found = where.get(("ref", target.lower()))
            if found == FAQ:
                faq_links.append(target.lower())
                continue
        elif role == "doc":
            found = target.lstrip("/") + ".rst"
        elif role in ("setting", "signal", "reqmeta", "command"):
            found = where.get((role, target))
        elif role in _PY_ROLES:
            found = _python_file(target, python)
        else:
            continue
        if found is None or found not in docs:
            unresolved.append(f":{role}:`{target}`")
        elif found not in files:
            files.append(found)
    return files, faq_links, unresolved


def build(files: dict[str, bytes]) -> tuple[list[tuple[str, str]], list[str], dict]:
    """``(question, docs file) rows in FAQ order, questions left out, counts)``."""
    docs = {rel for rel in files if rel not in LEFT_OUT}
    where, python = definitions(files)
    questions = faq_questions(files[FAQ].decode("utf-8"))
    resolved: list[tuple[str, list[str]]] = []
    by_label: dict[str, list[str]] = {}
    unresolved_all: list[str] = []
    for question, body, labels in questions:
        found, faq_links, unresolved = answer_files(body, where, python, docs)
        unresolved_all += unresolved
        for label in faq_links:
            found += [f for f in by_label.get(label, []) if f not in found]
        if _SEE_PREVIOUS.search(body) and resolved:
            found += [f for f in resolved[-1][1] if f not in found]
        for label in labels:
            by_label[label] = found
        resolved.append((question, found))
    rows = [(q, f) for q, fs in resolved for f in fs]
    left_out = [q for q, fs in resolved if not fs]
    counts = {
        "docs_files": len(docs),
        "faq_questions": len(questions),
        "questions": len(resolved) - len(left_out),
        "questions_left_out": len(left_out),
        "judgements": len(rows),
        "unresolved_targets": sorted(set(unresolved_all)),
    }
    return rows, left_out, counts


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--source", type=Path, required=True, help="the scrapy sdist .tar.gz")
    parser.add_argument("--output", type=Path, required=True, help="e.g. data/scrapy-docs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    top, files, license_bytes = read_sdist(args.source)
    rows, left_out, counts = build(files)
    out = args.output
    out.mkdir(parents=True, exist_ok=True)
    if (out / "docs").exists():
        shutil.rmtree(out / "docs")
    for rel, data in sorted(files.items()):
        if rel in LEFT_OUT:
            continue
        target = out / "docs" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["question", "document"])
    writer.writerows(rows)
    (out / "questions.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")
    (out / "LICENSE").write_bytes(license_bytes)
    log.info("%s: %s", top, counts)
    for q in left_out:
        log.info("left out (answer links to no docs page): %s", q)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
