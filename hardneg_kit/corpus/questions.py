"""A user's questions file (CSV or JSON Lines) -> queries and qrels.

Each line names a question and a document: a document id, or a file path meaning every chunk of
that file. Questions get ids ``q1``, ``q2``... unless given, and go to their ``split`` column
or the default split; every fault raises :class:`~hardneg_kit.errors.DataError` with its line.

Example:
    >>> queries, qrels = queries_from_file("questions.csv", corpus)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import datasets

from hardneg_kit.corpus.data import _sorted_splits
from hardneg_kit.corpus.reading import _check_id, _decode, _read_jsonl
from hardneg_kit.errors import DataError

logger = logging.getLogger(__package__)  # one logger, "hardneg_kit.corpus", for the package


_SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


def _norm_path(value: str) -> str:
    v = value.strip().replace("\\", "/")
    while v.startswith("./"):
        v = v[2:]
    return v


def _question_rows(path: Path) -> list[tuple[int, dict]]:
    if path.suffix.lower() in (".jsonl", ".json") or path.name.endswith(".jsonl.gz"):
        return _read_jsonl(path)
    reader = csv.DictReader(io.StringIO(_decode(path, path.read_bytes()), newline=""))
    header = reader.fieldnames or []
    missing = [c for c in ("question", "document") if c not in header]
    if missing:
        raise DataError(
            f"{path}:1: header {header} lacks {', '.join(missing)}; the first line must "
            "name the columns, e.g. question,document."
        )
    return [(reader.line_num, dict(r)) for r in reader]


def queries_from_file(
    path: str | Path, corpus: datasets.Dataset, split: str = "test"
) -> tuple[datasets.Dataset, dict[str, dict[str, dict[str, int]]]]:
    """Read a user's questions: CSV (header ``question,document``) or JSONL (same keys).

    ``document`` is a document id of ``corpus`` or a file path (relative to the docs folder, as
    in the ``path`` column of :func:`corpus_from_folder`); a file path makes *all* chunks of that
    file relevant, so a retriever that finds the answer in any chunk is not penalized and no
    chunk of the right file is ever mined as a negative. In JSONL, ``document`` may be a list.
    Optional columns: ``id`` (query id; default ``q1``, ``q2``... by first appearance) and
    ``split`` (default ``split``). A question repeated on several lines gets all their documents.
    Returns ``(queries, qrels)`` with qrels as split -> query id -> doc id -> 1.

    >>> queries, qrels = queries_from_file("questions.csv", corpus)  # doctest: +SKIP
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: expected a CSV or JSONL file of questions.")
    ids = set(corpus["_id"])
    by_path = _ids_by_path(corpus)
    queries: dict[tuple[str, str], dict] = {}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    used_ids: dict[str, int] = {}
    for n, row in _question_rows(path):
        question = _question(path, n, row)
        values = _document_values(path, n, row, question)
        s = _split_of(path, n, row, split)
        qid = _query_id(path, n, row, (s, question), queries, used_ids)
        for v in values:
            for d in _relevant_ids(path, n, v, qid, ids, by_path):
                qrels.setdefault(s, {}).setdefault(qid, {})[d] = 1
    if not queries:
        raise DataError(f"{path}: no questions found.")
    logger.info("%s: %d questions, splits %s", path, len(queries), sorted(qrels))
    return datasets.Dataset.from_list(list(queries.values())), {
        s: qrels[s] for s in _sorted_splits(qrels)
    }


def _ids_by_path(corpus: datasets.Dataset) -> dict[str, list[str]]:
    """File path -> its documents' ids, from the ``path`` column (empty without one)."""
    by_path: dict[str, list[str]] = defaultdict(list)
    if "path" in corpus.column_names:
        for d, p in zip(corpus["_id"], corpus["path"], strict=True):
            by_path[p].append(d)
    return by_path


def _question(path: Path, n: int, row: dict) -> str:
    """The row's question text, stripped; empty is refused."""
    question = str(row.get("question") or "").strip()
    if not question:
        raise DataError(
            f"{path}:{n}: empty \"question\"; write the question or remove the line."
        )
    return question


def _document_values(path: Path, n: int, row: dict, question: str) -> list[str]:
    """The row's ``document`` values (one, or a JSON list), stripped; none is refused."""
    docs = row.get("document")
    values = docs if isinstance(docs, list) else [docs]
    values = [str(v).strip() for v in values if v is not None and str(v).strip()]
    if not values:
        raise DataError(
            f"{path}:{n}: question {question[:60]!r} has no \"document\"; name a document id "
            "or a file path."
        )
    return values


def _split_of(path: Path, n: int, row: dict, default: str) -> str:
    """The row's ``split`` (else ``default``); it must be usable as a file name."""
    s = str(row.get("split") or default).strip()
    if not _SPLIT_NAME.fullmatch(s):
        raise DataError(
            f"{path}:{n}: split {s!r} is not a usable name (it becomes qrels/<split>.tsv); "
            "use letters, digits, '-' or '_', e.g. train, dev, test."
        )
    return s


def _query_id(
    path: Path,
    n: int,
    row: dict,
    key: tuple[str, str],
    queries: dict[tuple[str, str], dict],
    used_ids: dict[str, int],
) -> str:
    """The id of question ``key`` (split, text): the one it got on its first line, else its
    ``id`` column or ``q<k>`` in order of appearance, added to ``queries`` and ``used_ids``."""
    if key not in queries:
        qid = str(row.get("id") or "").strip() or f"q{len(queries) + 1}"
        _check_id(path, n, "query", qid)
        if qid in used_ids:
            raise DataError(
                f"{path}:{n}: duplicate query id {qid!r} (first on line {used_ids[qid]}); "
                "give each question its own id."
            )
        used_ids[qid] = n
        queries[key] = {"_id": qid, "text": key[1]}
    return queries[key]["_id"]


def _relevant_ids(
    path: Path, n: int, value: str, qid: str, ids: set[str], by_path: Mapping[str, list[str]]
) -> list[str]:
    """A ``document`` value as doc ids: the id itself, or every chunk of the file it names."""
    if value in ids:
        return [value]
    if _norm_path(value) in by_path:
        return by_path[_norm_path(value)]
    close = sorted(p for p in by_path if Path(p).name == Path(_norm_path(value)).name)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DataError(
        f"{path}:{n}: unknown document {value!r} for question {qid!r}: neither a document "
        f"id nor a file of the corpus.{hint} Use an id or a path relative to the docs "
        "folder."
    )
