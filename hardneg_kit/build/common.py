"""Shared steps of the dataset builders: ambiguity rule, grouped splits, BEIR writing.

Standard library only: the builders run in their own virtual environment.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def strip_html(text: str | None) -> str:
    """Remove tags, unescape entities and collapse whitespace: ``"<p>A&amp;B</p>" -> "A&B"``."""
    if not text:
        return ""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", text))).strip()


def qualify_ambiguous(
    queries: list[dict], qualifier: Mapping[str, str] | None = None
) -> tuple[list[dict], int]:
    """Make identical query texts with different positives distinct.

    Each query is a dict with ``text``, ``positive`` (a document id) and ``service``. Where one
    text has more than one distinct positive, every such query gets `` (<qualifier>)`` appended,
    where the qualifier is ``qualifier[service]`` (e.g. the service's full name), falling back to
    the service itself. Duplicate (text, positive) pairs are merged. Returns the new list and the
    number of distinct texts that were qualified.

    >>> qs = [{"text": "To tag a resource", "positive": "a/tag", "service": "a"},
    ...       {"text": "To tag a resource", "positive": "b/tag", "service": "b"}]
    >>> out, n = qualify_ambiguous(qs, {"a": "Service A", "b": "Service B"})
    >>> [q["text"] for q in out], n
    (['To tag a resource (Service A)', 'To tag a resource (Service B)'], 1)
    """
    qualifier = qualifier or {}
    positives: dict[str, set[str]] = defaultdict(set)
    for q in queries:
        positives[q["text"]].add(q["positive"])
    ambiguous = {t for t, p in positives.items() if len(p) > 1}
    out: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for q in queries:
        text = q["text"]
        if text in ambiguous:
            text = f"{text} ({qualifier.get(q['service'], q['service'])})"
        key = (text, q["positive"])
        if key in seen:
            continue
        seen.add(key)
        out.append({**q, "text": text})
    # Qualifying by service can still collide (two commands of one service): report it loudly.
    by_text: dict[str, set[str]] = defaultdict(set)
    for q in out:
        by_text[q["text"]].add(q["positive"])
    still = {t for t, p in by_text.items() if len(p) > 1}
    if still:
        dropped = [q for q in out if q["text"] in still]
        out = [q for q in out if q["text"] not in still]
        log.warning(
            "%d texts stay ambiguous after qualifying (%d queries dropped), e.g. %r",
            len(still), len(dropped), min(still),
        )
    return out, len(ambiguous)


def stable_fraction(key: str, salt: str = "hardneg-kit") -> float:
    """A number in [0, 1) that depends only on ``key`` (SHA-256), for deterministic splits."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def grouped_split(
    group: str, fractions: Mapping[str, float], salt: str = "hardneg-kit"
) -> str:
    """Assign a whole group (e.g. a positive command) to one split by a stable hash.

    ``fractions`` maps split names to shares summing to 1, in the order they are cut.

    >>> grouped_split("ec2/run-instances", {"train": 0.7, "dev": 0.1, "test": 0.2})
    'train'
    """
    x = stable_fraction(group, salt)
    cumulative = 0.0
    for name, share in fractions.items():
        cumulative += share
        if x < cumulative:
            return name
    return next(reversed(fractions))


def _write_text(path: Path, text: str) -> None:
    """Write atomically; ``.gz`` files get a fixed mtime so rebuilds are byte for byte equal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        with open(tmp, "wb") as raw, gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9
        ) as gz:
            gz.write(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)


def _jsonl(rows: Iterable[Mapping]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in rows)


#: corpora larger than this (bytes of JSON Lines) are written gzipped when ``gzip_corpus=None``
GZIP_THRESHOLD = 5 * 1024 * 1024


def write_beir(
    folder: str | Path,
    corpus: Iterable[Mapping],
    queries: Iterable[Mapping],
    qrels: Mapping[str, Iterable[tuple[str, str, int]]],
    gzip_corpus: bool | None = False,
) -> None:
    """Write a BEIR folder: ``corpus.jsonl[.gz]``, ``queries.jsonl``, ``qrels/<split>.tsv``.

    Rows are written in the order given (builders sort them), so output is deterministic.
    ``gzip_corpus=None`` gzips a corpus over :data:`GZIP_THRESHOLD` bytes. Files a reader would
    otherwise mix with the new ones are removed: the other corpus variant, ``queries.jsonl.gz``
    and qrels of splits not written now.
    """
    folder = Path(folder)
    corpus_text = _jsonl(corpus)
    if gzip_corpus is None:
        gzip_corpus = len(corpus_text.encode("utf-8")) > GZIP_THRESHOLD
    stale = [folder / ("corpus.jsonl" if gzip_corpus else "corpus.jsonl.gz")]
    stale.append(folder / "queries.jsonl.gz")
    if (folder / "qrels").is_dir():
        stale += [p for p in (folder / "qrels").glob("*.tsv") if p.stem not in qrels]
    for path in stale:
        if path.is_file():
            log.info("Removing stale %s", path)
            path.unlink()
    _write_text(folder / ("corpus.jsonl.gz" if gzip_corpus else "corpus.jsonl"), corpus_text)
    _write_text(folder / "queries.jsonl", _jsonl(queries))
    for split, rows in qrels.items():
        lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in rows]
        _write_text(folder / "qrels" / f"{split}.tsv", "\n".join(lines) + "\n")


def run_builder(
    argv: Sequence[str] | None,
    *,
    description: str,
    source_help: str,
    output_help: str,
    read: Callable[[Path], tuple[Any, str, Mapping]],
    build: Callable[[Any], tuple[list, list, dict, Mapping]],
    notice: Callable[[Mapping], str],
    ensure_ascii: bool = True,
) -> int:
    """The one entry point of the builders that read a downloaded source: ``--source --output``.

    ``read(source) -> (sources, licence text, provenance)``; ``build(sources) -> (corpus,
    queries, test qrels, counts)``; ``notice(provenance)`` is the NOTICE text. Writes the BEIR
    folder, ``LICENSE``, ``NOTICE`` and ``build-stats.json`` (``ensure_ascii`` as the builder has
    always written it, so rebuilds stay byte-identical).

    Example:
        >>> run_builder(["--source", "x.whl", "--output", "data/x"], description="x",
        ...             source_help="wheel", output_help="folder", read=read, build=build,
        ...             notice=notice_text)  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--source", type=Path, required=True, help=source_help)
    parser.add_argument("--output", type=Path, required=True, help=output_help)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sources, licence, provenance = read(args.source)
    corpus, queries, qrels, counts = build(sources)
    out = args.output
    write_beir(out, corpus, queries, {"test": qrels}, gzip_corpus=None)
    (out / "LICENSE").write_text(licence, encoding="utf-8")
    (out / "NOTICE").write_text(notice(provenance), encoding="utf-8")
    stats = {"source": provenance, "counts": counts}
    (out / "build-stats.json").write_text(
        json.dumps(stats, indent=2, sort_keys=True, ensure_ascii=ensure_ascii) + "\n",
        encoding="utf-8",
    )
    log.info("%d documents, %d queries -> %s", len(corpus), len(queries), out)
    return 0
