"""Reading the files of a BEIR folder, and the faults that are refused with their line.

Every file is UTF-8 (a byte-order mark is dropped), gzipped or not. JSON Lines files
(:func:`_read_jsonl`) must hold one object a line; corpus and queries rows (:func:`_records`)
need a string ``_id`` without whitespace (TREC files split at it) and a string ``text``. A qrels
file (:func:`_read_qrels`) holds ``query-id<TAB>corpus-id<TAB>score`` lines (header optional)
with whole-number scores in 64 bits, naming known queries and documents once each. Each fault
raises :class:`~hardneg_kit.errors.DataError` naming the file, the line and what to do; with
``validate=False`` the costly or strict checks give way to warnings.

Example:
    >>> qrels_files(Path("data/aws-cli/qrels"))  # doctest: +SKIP
    {'dev': PosixPath('data/aws-cli/qrels/dev.tsv'), 'test': ..., 'train': ...}
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import datasets

from hardneg_kit.errors import DataError

logger = logging.getLogger(__package__)  # one logger, "hardneg_kit.corpus", for the package


#: relevance scores must fit a signed 64-bit integer (ranx and numpy store them so)
_SCORE_RANGE = (-(2**63), 2**63 - 1)


_WHITESPACE = re.compile(r"\s")


#: how many ids an error message lists before "..."
_SHOW = 5


def _find_file(folder: Path, stem: str) -> Path:
    plain, gz = folder / f"{stem}.jsonl", folder / f"{stem}.jsonl.gz"
    if plain.is_file() and gz.is_file():
        raise DataError(
            f"{folder}: both {plain.name} and {gz.name} exist; which one is current is unknown: "
            "remove (or rename) the stale one."
        )
    for path in (plain, gz):
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{plain} not found (nor {gz.name}): is {folder} a BEIR folder?"
    )


def _text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file, gzipped or not; a leading byte-order mark is dropped.

    Lines are decoded one by one so that a byte that is not UTF-8 is reported with its line.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            for n, raw in enumerate(f, start=1):
                if n == 1 and raw.startswith(codecs.BOM_UTF8):  # files saved on Windows
                    raw = raw[len(codecs.BOM_UTF8) :]
                try:
                    yield n, raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise DataError(
                        f"{path}:{n}: not UTF-8 (byte 0x{raw[e.start]:02x} at column "
                        f"{e.start + 1}); save the file as UTF-8."
                    ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: damaged or not gzip ({e}); re-create the file.") from None


def _decode(path: Path, data: bytes) -> str:
    """A whole file's bytes as UTF-8 text (BOM dropped); a bad byte is reported with its line."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        n = data.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{path}:{n}: not UTF-8 (byte 0x{data[e.start]:02x}); save the file as UTF-8."
        ) from None


def _check_encodable(path: Path, n: int, line: str, obj: dict) -> None:
    """Refuse a lone surrogate (``"\\ud800"`` without its pair): valid JSON, but not text."""
    if "\\u" not in line:  # surrogates only come from escapes
        return
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(
            f"{path}:{n}: a \\u escape encodes half of a character (a lone surrogate, "
            "\\ud800-\\udfff); fix the text or the tool that wrote it."
        ) from None


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; malformed lines raise DataError."""
    rows: list[tuple[int, dict]] = []
    for n, line in _text_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno}); "
                "each line must be one JSON object."
            ) from None
        if not isinstance(obj, dict):
            raise DataError(
                f"{path}:{n}: expected a JSON object, got {type(obj).__name__}; "
                "each line must be one JSON object."
            )
        _check_encodable(path, n, line, obj)
        rows.append((n, obj))
    return rows


def _records(path: Path, kind: str, validate: bool) -> tuple[list[dict], dict[str, int]]:
    """Read a corpus or queries file into rows with string ``_id``/``text``; id -> line."""
    rows: list[dict] = []
    lines: dict[str, int] = {}
    for n, obj in _read_jsonl(path):
        raw_id = obj.get("_id")
        if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
            raise DataError(f"{path}:{n}: missing \"_id\"; give every {kind} a unique \"_id\".")
        _id = str(raw_id)
        _check_id(path, n, kind, _id)
        text = obj.get("text")
        if not isinstance(text, str):
            what = "missing" if text is None else f"not a string ({type(text).__name__})"
            raise DataError(f"{path}:{n}: {kind} {_id!r}: \"text\" is {what}; add its text.")
        if _id in lines:
            if validate:
                raise DataError(
                    f"{path}:{n}: duplicate {kind} id {_id!r} (first on line {lines[_id]}); "
                    "ids must be unique: rename or remove one."
                )
            logger.warning("%s:%d: duplicate %s id %r skipped", path, n, kind, _id)
            continue
        if validate and not text.strip():
            raise DataError(f"{path}:{n}: {kind} {_id!r} has an empty \"text\"; fill or remove it.")
        row = {**obj, "_id": _id, "text": text}
        if kind == "document":
            title = obj.get("title")
            row["title"] = "" if title is None else str(title)
        lines[_id] = n
        rows.append(row)
    return rows, lines


def _check_id(path: Path, n: int, kind: str, _id: str) -> None:
    """Refuse ids that TREC run and qrels files cannot hold (they split lines at whitespace)."""
    if _WHITESPACE.search(_id):
        raise DataError(
            f"{path}:{n}: {kind} id {_id!r} contains whitespace, which TREC run and qrels files "
            "cannot hold; replace it (e.g. with '_' or '%20') here and in the qrels."
        )


def _to_dataset(rows: list[dict], path: Path, lines: Mapping[str, int], first: Sequence[str]):
    """Rows -> Dataset with ``first`` columns leading and extras filled with None."""
    columns = list(first)
    for r in rows:
        for k in r:
            if k not in columns:
                columns.append(k)
    data = {c: [r.get(c) for r in rows] for c in columns}
    try:
        return datasets.Dataset.from_dict(data)
    except Exception as e:  # pyarrow type errors: find the first row whose type differs
        for c in columns[len(first) :]:
            kinds: dict[type, str] = {}
            for r in rows:
                v = r.get(c)
                if v is not None:
                    kinds.setdefault(type(v), r["_id"])
            if len(kinds) > 1:
                _id = list(kinds.values())[1]
                raise DataError(
                    f"{path}:{lines[_id]}: field {c!r} of {_id!r} has a different type than in "
                    f"earlier rows ({', '.join(t.__name__ for t in kinds)}); use one type."
                ) from None
        raise DataError(f"{path}: cannot build a table ({e}).") from None


def _read_qrels(
    path: Path, query_lines: Mapping[str, int], doc_ids: Mapping[str, int], validate: bool
) -> dict[str, dict[str, int]]:
    """Read ``qrels/<split>.tsv`` (header optional) into query id -> doc id -> relevance.

    Lines naming unknown ids, or a pair judged before, are refused with ``validate`` and
    skipped without it (unknown ids with one warning for the file).
    """
    qrels: dict[str, dict[str, int]] = {}
    seen: dict[tuple[str, str], int] = {}
    dropped = 0
    for n, line in _text_lines(path):
        if not line.strip():
            continue
        qid, did, score = _qrels_fields(path, n, line)
        if n == 1 and not _is_int(score):  # the header
            continue
        relevance = _relevance(path, n, qid, did, score)
        fault = _judgement_fault(path, n, qid, did, query_lines, doc_ids, seen)
        if fault and validate:
            raise DataError(fault[1])
        if fault:
            dropped += fault[0] == "unknown"
            continue
        seen[qid, did] = n
        qrels.setdefault(qid, {})[did] = relevance
    if dropped:
        logger.warning("%s: dropped %d lines naming unknown queries or documents", path, dropped)
    if validate:
        _check_positives(path, qrels, seen)
    return qrels


def _qrels_fields(path: Path, n: int, line: str) -> tuple[str, str, str]:
    """A qrels line's (query id, doc id, score): tab-separated, else split at whitespace."""
    parts = line.rstrip("\r\n").split("\t")
    if len(parts) != 3:
        parts = line.split()
    if len(parts) != 3:
        raise DataError(
            f"{path}:{n}: expected 3 tab-separated fields (query-id, corpus-id, score), "
            f"got {len(parts)}: {line[:80]!r}."
        )
    qid, did, score = (p.strip() for p in parts)
    return qid, did, score


def _relevance(path: Path, n: int, qid: str, did: str, score: str) -> int:
    """A score as a whole number within 64 bits, or DataError."""
    if not _is_int(score):
        raise DataError(
            f"{path}:{n}: score {score!r} of query {qid!r} and document {did!r} is not an "
            "integer; use whole-number relevance (0 = not relevant, 1+ = relevant)."
        )
    if not _SCORE_RANGE[0] <= int(score) <= _SCORE_RANGE[1]:
        raise DataError(
            f"{path}:{n}: score {score[:30]}... of query {qid!r} and document {did!r} is "
            "beyond the 64-bit integer range; use small whole numbers (0, 1, 2, ...)."
        )
    return int(score)


def _judgement_fault(
    path: Path,
    n: int,
    qid: str,
    did: str,
    query_lines: Mapping[str, int],
    doc_ids: Mapping[str, int],
    seen: Mapping[tuple[str, str], int],
) -> tuple[str, str] | None:
    """``("unknown" | "duplicate", message)`` when a judgement cannot be kept, else None."""
    if qid not in query_lines or did not in doc_ids:
        unknown = (
            f"query {qid!r} is not in the queries file"
            if qid not in query_lines
            else f"document {did!r} is not in the corpus"
        )
        return "unknown", (
            f"{path}:{n}: {unknown}; fix the id or remove the line "
            "(or load with validate=False to drop such lines)."
        )
    if (qid, did) in seen:
        return "duplicate", (
            f"{path}:{n}: query {qid!r} and document {did!r} already judged on line "
            f"{seen[qid, did]}; keep one line per pair."
        )
    return None


def _check_positives(
    path: Path, qrels: Mapping[str, Mapping[str, int]], seen: Mapping[tuple[str, str], int]
) -> None:
    """Refuse queries of a split without any positive (they cannot be evaluated)."""
    empty = [q for q, docs in qrels.items() if not any(r > 0 for r in docs.values())]
    if empty:
        shown = ", ".join(repr(q) for q in empty[:_SHOW])
        shown += " ..." if len(empty) > _SHOW else ""
        raise DataError(
            f"{path}: {len(empty)} queries have no positive (relevance > 0), e.g. {shown} "
            f"(query {empty[0]!r} on line {seen[empty[0], next(iter(qrels[empty[0]]))]}); "
            "give each a relevant document or remove its lines."
        )


def _is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


def qrels_files(qrels_dir: Path) -> dict[str, Path]:
    """Split name -> its judgements file, ``<split>.tsv`` or ``<split>.tsv.gz``, sorted by name.

    A split with both files is refused: which one is current cannot be told.

    >>> qrels_files(Path("data/aws-cli/qrels"))  # doctest: +SKIP
    {'dev': PosixPath('data/aws-cli/qrels/dev.tsv'), 'test': ..., 'train': ...}
    """
    if not qrels_dir.is_dir():
        return {}
    files: dict[str, Path] = {}
    for path in sorted(qrels_dir.iterdir()):
        for suffix in (".tsv", ".tsv.gz"):
            if path.name.endswith(suffix) and path.is_file():
                split = path.name[: -len(suffix)]
                if split in files:
                    raise DataError(
                        f"{qrels_dir}: both {files[split].name} and {path.name} exist; which one "
                        "is current is unknown: remove (or rename) the stale one."
                    )
                files[split] = path
    return files
