"""BEIR data: load and validate a folder, sample it to a profile's size, or build one from docs.

A BEIR folder holds ``corpus.jsonl[.gz]`` (``_id``, ``title``, ``text``, extra fields such as
``service``), ``queries.jsonl[.gz]`` (``_id``, ``text``, extras) and ``qrels/<split>.tsv[.gz]``
(header ``query-id<TAB>corpus-id<TAB>score``), all UTF-8 (a byte-order mark is fine). Bad input
raises :class:`DataError` whose message names the file, the line and the id, and says what to
do; a missing file raises :class:`FileNotFoundError` naming the expected path.

Example:
    >>> from hardneg_kit.corpus import load_dataset
    >>> data = load_dataset("aws-cli", profile="smoke")  # doctest: +SKIP
    >>> data.splits(), len(data.corpus)  # doctest: +SKIP
    (['train', 'dev', 'test'], 600)
    >>> data.positives("test")["q12"]  # doctest: +SKIP
    ['s3/rb']

Sampling (:func:`sample`) keeps every positive of the sampled queries and fills the document
budget with their *group neighbours* first (documents sharing ``service``: the other commands of
the same AWS service), so that a small run is still a hard-negative problem.

Profiles sample only the shipped datasets (:data:`SAMPLED_DATASETS`); a user's own dataset keeps
every document (:func:`profile_sample`).

Your own documentation becomes a BEIR folder with :func:`corpus_from_folder`,
:func:`queries_from_file` and :func:`write_beir_folder`; :func:`split_judgements` splits its
judgements into train/dev/test by groups, so that no document is a positive in two splits.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import logging
import math
import re
import shutil
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import datasets

import hardneg_kit
from hardneg_kit.errors import DataError

if TYPE_CHECKING:
    import ranx

    from hardneg_kit.profiles import Profile

logger = logging.getLogger(__name__)

#: split names in the order :meth:`BeirData.splits` lists them; others follow alphabetically
SPLIT_ORDER = ("train", "dev", "validation", "test")
#: the folder that holds the shipped datasets
DATA_DIR = Path(hardneg_kit.__file__).resolve().parents[1] / "data"
#: shipped datasets that profiles sample to their size (the committed results depend on it);
#: any other dataset is a user's own and keeps every document (see :func:`profile_sample`)
SAMPLED_DATASETS = ("aws-cli", "azure-cli", "python-faq")
#: file types :func:`corpus_from_folder` reads
DOC_SUFFIXES = (".md", ".markdown", ".rst", ".txt")
#: relevance scores must fit a signed 64-bit integer (ranx and numpy store them so)
_SCORE_RANGE = (-(2**63), 2**63 - 1)
_WHITESPACE = re.compile(r"\s")
_SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
#: longest document id :func:`corpus_from_folder` writes (see :func:`safe_id`)
MAX_ID_LENGTH = 200
#: how many ids an error message lists before "..."
_SHOW = 5



# --------------------------------------------------------------------------------------------
# The data object


@dataclass
class BeirData:
    """One BEIR dataset in memory.

    ``corpus`` and ``queries`` keep file order; ``qrels`` maps split -> query id -> doc id ->
    relevance. ``queries`` holds every query of the queries file (or, after :func:`sample`, the
    sampled ones); use :meth:`queries_for` for one split.

    >>> data = load_beir("tests/fixtures/beir_tiny")  # doctest: +SKIP
    >>> data.queries_for("test")["_id"]  # doctest: +SKIP
    ['q5', 'q6']
    """

    name: str
    folder: Path
    corpus: datasets.Dataset
    queries: datasets.Dataset
    qrels: dict[str, dict[str, dict[str, int]]]
    _doc_index: tuple[datasets.Dataset, dict[str, int]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __repr__(self) -> str:
        per_split = ", ".join(f"{s}={len(q)}" for s, q in self.qrels.items())
        return (
            f"BeirData(name={self.name!r}, documents={len(self.corpus)}, "
            f"queries={len(self.queries)}, splits=({per_split}))"
        )

    def splits(self) -> list[str]:
        """Split names with qrels, in ``train, dev, validation, test`` order: ``data.splits()``."""
        return list(self.qrels)

    def _check_split(self, split: str) -> dict[str, dict[str, int]]:
        if split not in self.qrels:
            available = ", ".join(self.qrels) or "none"
            raise DataError(
                f"{self.name}: no split {split!r} (no {self.folder / 'qrels' / (split + '.tsv')}); "
                f"available splits: {available}."
            )
        return self.qrels[split]

    def queries_for(self, split: str) -> datasets.Dataset:
        """Queries that appear in ``split``'s qrels, in file order: ``data.queries_for("test")``."""
        wanted = self._check_split(split)
        rows = [i for i, qid in enumerate(self.queries["_id"]) if qid in wanted]
        return self.queries.select(rows)

    def qrels_for(self, split: str) -> ranx.Qrels:
        """The split's judgements as a ``ranx.Qrels``: ``evaluate(data.qrels_for("test"), run)``."""
        import ranx  # heavy (numba): loaded only when evaluation needs it

        qrels = {q: dict(docs) for q, docs in self._check_split(split).items()}
        return ranx.Qrels(qrels, name=f"{self.name}/{split}")

    def positives(self, split: str) -> dict[str, list[str]]:
        """Query id -> doc ids with relevance > 0 (queries without any are left out).

        >>> data.positives("train")["q1"]  # doctest: +SKIP
        ['s3/ls']
        """
        out: dict[str, list[str]] = {}
        for qid, docs in self._check_split(split).items():
            pos = [d for d, r in docs.items() if r > 0]
            if pos:
                out[qid] = pos
        return out

    def doc_index(self) -> dict[str, int]:
        """Doc id -> row in ``corpus`` (cached per corpus): ``data.corpus[data.doc_index()[d]]``."""
        if self._doc_index is None or self._doc_index[0] is not self.corpus:
            self._doc_index = (self.corpus, {d: i for i, d in enumerate(self.corpus["_id"])})
        return self._doc_index[1]


def passage_text(title: str | None, text: str) -> str:
    """What encoders and BM25 see: ``"title\\ntext"``, or just ``text`` when the title is empty.

    >>> passage_text("s3 ls", "List S3 objects.")
    's3 ls\\nList S3 objects.'
    >>> passage_text("", "List S3 objects.")
    'List S3 objects.'
    """
    return f"{title}\n{text}" if title and title.strip() else text


def passage_texts(corpus: datasets.Dataset) -> list[str]:
    """:func:`passage_text` for every row of a corpus, in row order."""
    texts = list(corpus["text"])
    if "title" not in corpus.column_names:
        return texts
    return [passage_text(t, x) for t, x in zip(corpus["title"], texts, strict=True)]


# --------------------------------------------------------------------------------------------
# Reading and validating a BEIR folder


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


def _sorted_splits(names: Iterable[str]) -> list[str]:
    known = [s for s in SPLIT_ORDER if s in names]
    return known + sorted(set(names) - set(known))


def _read_qrels(
    path: Path, query_lines: Mapping[str, int], doc_ids: Mapping[str, int], validate: bool
) -> dict[str, dict[str, int]]:
    """Read ``qrels/<split>.tsv`` (header optional) into query id -> doc id -> relevance."""
    qrels: dict[str, dict[str, int]] = {}
    seen: dict[tuple[str, str], int] = {}
    dropped = 0
    for n, line in _text_lines(path):
        if not line.strip():
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != 3:
            parts = line.split()
        if len(parts) != 3:
            raise DataError(
                f"{path}:{n}: expected 3 tab-separated fields (query-id, corpus-id, score), "
                f"got {len(parts)}: {line[:80]!r}."
            )
        qid, did, score = (p.strip() for p in parts)
        if n == 1 and not _is_int(score):  # the header
            continue
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
        unknown = (
            f"query {qid!r} is not in the queries file"
            if qid not in query_lines
            else f"document {did!r} is not in the corpus"
            if did not in doc_ids
            else None
        )
        if unknown:
            if validate:
                raise DataError(
                    f"{path}:{n}: {unknown}; fix the id or remove the line "
                    "(or load with validate=False to drop such lines)."
                )
            dropped += 1
            continue
        if (qid, did) in seen:
            if validate:
                raise DataError(
                    f"{path}:{n}: query {qid!r} and document {did!r} already judged on line "
                    f"{seen[qid, did]}; keep one line per pair."
                )
            continue
        seen[qid, did] = n
        qrels.setdefault(qid, {})[did] = int(score)
    if dropped:
        logger.warning("%s: dropped %d lines naming unknown queries or documents", path, dropped)
    if validate:
        empty = [q for q, docs in qrels.items() if not any(r > 0 for r in docs.values())]
        if empty:
            shown = ", ".join(repr(q) for q in empty[:_SHOW])
            shown += " ..." if len(empty) > _SHOW else ""
            raise DataError(
                f"{path}: {len(empty)} queries have no positive (relevance > 0), e.g. {shown} "
                f"(query {empty[0]!r} on line {seen[empty[0], next(iter(qrels[empty[0]]))]}); "
                "give each a relevant document or remove its lines."
            )
    return qrels


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


def load_beir(
    folder: str | Path, splits: Sequence[str] | None = None, validate: bool = True
) -> BeirData:
    """Load a BEIR folder; ``splits=None`` loads every ``qrels/*.tsv[.gz]``.

    With ``validate`` (the default) any problem raises :class:`DataError`: malformed lines,
    missing ``_id``/``text``, duplicate ids, empty texts, non-integer scores, qrels naming unknown
    queries or documents, and split queries without a positive. Always refused: text that is not
    UTF-8 or holds a lone surrogate, ids with whitespace (TREC files cannot hold them), scores
    beyond 64 bits, and a file present both plain and gzipped (``corpus.jsonl`` beside
    ``corpus.jsonl.gz``). A UTF-8 byte-order mark is accepted. ``validate=False`` skips the
    checks that cost time or would stop a load of slightly messy data (duplicates after the
    first are skipped, qrels lines naming unknown ids are dropped, both with a warning).

    >>> data = load_beir("data/aws-cli", splits=["test"])  # doctest: +SKIP
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: expected a BEIR folder there.")
    corpus_path = _find_file(folder, "corpus")
    doc_rows, doc_lines = _records(corpus_path, "document", validate)
    qrels_dir = folder / "qrels"
    files = qrels_files(qrels_dir)
    if splits is None:
        names = list(files)
        if not names:
            logger.warning("%s: no qrels/*.tsv files; loading the corpus without splits", folder)
    else:
        names = list(dict.fromkeys(splits))
        for s in names:
            if s not in files:
                raise FileNotFoundError(
                    f"{qrels_dir / (s + '.tsv')} not found (nor {s}.tsv.gz): no split {s!r} "
                    f"(available: {', '.join(sorted(files)) or 'none'})."
                )
    names = _sorted_splits(names)
    try:
        queries_path = _find_file(folder, "queries")
    except FileNotFoundError:
        if names:
            raise
        queries_path, query_rows, query_lines = folder / "queries.jsonl", [], {}
    else:
        query_rows, query_lines = _records(queries_path, "query", validate)
    qrels = {
        s: _read_qrels(files[s], query_lines, doc_lines, validate) for s in names
    }
    data = BeirData(
        name=folder.resolve().name,
        folder=folder,
        corpus=_to_dataset(doc_rows, corpus_path, doc_lines, ("_id", "title", "text")),
        queries=_to_dataset(query_rows, queries_path, query_lines, ("_id", "text")),
        qrels=qrels,
    )
    logger.info("Loaded %r", data)
    return data


# --------------------------------------------------------------------------------------------
# Finding and sampling datasets


def shipped_datasets() -> list[str]:
    """Names of the datasets under ``<repo>/data`` (folders with a corpus file)."""
    if not DATA_DIR.is_dir():
        return []
    return sorted(
        p.name
        for p in DATA_DIR.iterdir()
        if p.is_dir() and any((p / f"corpus.jsonl{z}").is_file() for z in ("", ".gz"))
    )


def resolve_dataset(name_or_path: str | Path) -> Path:
    """A shipped dataset name (``"aws-cli"``) or an existing folder -> the folder's path.

    >>> resolve_dataset("aws-cli")  # doctest: +SKIP
    PosixPath('/.../hardneg-kit/data/aws-cli')
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    shipped = DATA_DIR / str(name_or_path)
    if shipped.is_dir():
        return shipped
    names = shipped_datasets()
    raise FileNotFoundError(
        f"No dataset {str(name_or_path)!r}: not a folder, and not one of the shipped datasets "
        f"({', '.join(names) or f'none found in {DATA_DIR}'})."
    )


def _rank(seed: int, kind: str, key: str) -> bytes:
    """A seeded pseudo-random sort key that depends only on (seed, kind, key)."""
    return hashlib.sha256(f"{seed}\x00{kind}\x00{key}".encode()).digest()


def id_group(doc_id: str) -> str | None:
    """The group an id names when there is no group column: before ``#``, else the first ``/``.

    Matches the shipped id schemes and :func:`corpus_from_folder`'s:

    >>> id_group("ec2/run-instances"), id_group("vm/disk/attach"), id_group("faq/design#why")
    ('ec2', 'vm', 'faq/design')
    >>> id_group("sub/guide.md#install"), id_group("doc-17")
    ('sub/guide.md', None)
    """
    if "#" in doc_id:
        return doc_id.split("#", 1)[0]
    if "/" in doc_id:
        return doc_id.split("/", 1)[0]
    return None


def _split_cap(max_queries: int | Mapping[str, int | None] | None, split: str) -> int | None:
    if isinstance(max_queries, Mapping):
        return max_queries.get(split)
    return max_queries


def _allocate(budget: int, weight: Mapping[str, int], size: Mapping[str, int]) -> dict[str, int]:
    """Share ``budget`` among groups in proportion to ``weight``, never above ``size``.

    Groups that fit within their share are taken whole and their surplus goes to the others
    (water-filling); the remainder after flooring goes to the largest fractions.
    """
    alloc = {g: 0 for g in weight}
    left = dict(weight)
    while left and budget > 0:
        total = sum(left.values())
        share = {g: budget * w / total for g, w in left.items()}
        whole = [g for g in left if size[g] <= share[g]]
        if whole:
            for g in whole:
                alloc[g] = size[g]
                budget -= size[g]
                del left[g]
            continue
        floors = {g: int(math.floor(share[g])) for g in left}
        for g, k in floors.items():
            alloc[g] = k
        extra = budget - sum(floors.values())
        for g in sorted(left, key=lambda g: (floors[g] - share[g], g))[:extra]:
            alloc[g] += 1
        break
    return alloc


def _fill_groups(
    qrels: Mapping[str, Mapping[str, Mapping[str, int]]],
    doc_ids: Sequence[str],
    groups: Sequence[str | None],
    keep: set[str],
    budget: int,
    seed: int,
) -> dict[str, list[str]]:
    """Group -> documents added: neighbours of the positives, shared by :func:`_allocate`."""
    group_of = dict(zip(doc_ids, groups, strict=True))
    weight: Counter[str] = Counter()
    for judged in qrels.values():
        for docs in judged.values():
            for g in {group_of[d] for d, r in docs.items() if r > 0} - {None}:
                weight[g] += 1
    members: dict[str, list[str]] = defaultdict(list)
    for d, g in zip(doc_ids, groups, strict=True):
        if g in weight and d not in keep:
            members[g].append(d)
    alloc = _allocate(budget, weight, {g: len(members[g]) for g in weight})
    return {
        g: sorted(members[g], key=lambda d: _rank(seed, "doc", d))[:k] for g, k in alloc.items()
    }


def sample(
    data: BeirData,
    max_documents: int | None,
    max_queries: int | Mapping[str, int | None] | None,
    seed: int = 0,
    group_field: str | None = "service",
) -> BeirData:
    """A smaller dataset that stays a hard-negative problem.

    Per split, a seeded sample of ``max_queries`` query ids (an int for every split, a dict
    ``{split: cap}`` where a missing split or ``None`` keeps all). Every positive of a sampled
    query is kept; the rest of the ``max_documents`` budget goes first to judged non-relevant
    documents of those queries, then to their *group neighbours* (documents whose
    ``group_field`` value is that of a positive, e.g. the other commands of the same service),
    shared among groups in proportion to their sampled queries, whole groups where they fit,
    and only then to random other documents. Without a ``group_field`` column, groups come from
    the ids (:func:`id_group`: ``vm/create`` -> ``vm``, ``guide.md#install`` -> ``guide.md``);
    ``group_field=None`` turns grouping off. Depends only on the ids and ``seed`` (not on file
    or dict order), and a smaller cap samples a subset of a larger one's queries.

    >>> small = sample(data, 600, {"train": 60, "test": 40})  # doctest: +SKIP
    """
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    kept_queries: set[str] = set()
    for split, judged in data.qrels.items():
        cap = _split_cap(max_queries, split)
        qids = list(judged)
        if cap is not None and cap < len(qids):
            chosen = set(sorted(qids, key=lambda q, s=split: _rank(seed, f"query/{s}", q))[:cap])
            qids = [q for q in qids if q in chosen]
        qrels[split] = {q: dict(judged[q]) for q in qids}
        kept_queries.update(qids)
        logger.info("%s/%s: kept %d of %d queries", data.name, split, len(qids), len(judged))

    doc_ids: list[str] = list(data.corpus["_id"])
    positives = {d for docs in qrels.values() for q in docs.values() for d, r in q.items() if r > 0}
    judged_neg = {d for docs in qrels.values() for q in docs.values() for d in q} - positives
    if max_documents is None:
        keep = set(doc_ids)
    elif len(positives) >= max_documents:
        logger.warning(
            "%s: the %d positives of the sampled queries exceed max_documents=%d; keeping them all",
            data.name, len(positives), max_documents,
        )
        keep = set(positives)
    else:
        keep = set(positives)
        ranked = sorted(judged_neg, key=lambda d: _rank(seed, "doc", d))
        keep.update(ranked[: max_documents - len(keep)])
        n_judged = len(keep) - len(positives)
        n_group = 0
        n_groups = 0
        if group_field:
            if group_field in data.corpus.column_names:
                groups = list(data.corpus[group_field])
            else:
                groups = [id_group(d) for d in doc_ids]
                logger.info("%s: no %r column; grouping by id prefix", data.name, group_field)
            added = _fill_groups(qrels, doc_ids, groups, keep, max_documents - len(keep), seed)
            keep.update(d for ds in added.values() for d in ds)
            n_group = sum(len(ds) for ds in added.values())
            n_groups = sum(1 for ds in added.values() if ds)
        others = sorted((d for d in doc_ids if d not in keep), key=lambda d: _rank(seed, "doc", d))
        n_random = max(0, max_documents - len(keep))
        keep.update(others[:n_random])
        logger.info(
            "%s: kept %d of %d documents: %d positives, %d judged non-relevant, "
            "%d neighbours from %d groups, %d random",
            data.name, len(keep), len(doc_ids), len(positives), n_judged, n_group, n_groups,
            min(n_random, len(others)),
        )
    for docs in qrels.values():
        for q in docs:
            docs[q] = {d: r for d, r in docs[q].items() if d in keep}
    corpus = data.corpus.select([i for i, d in enumerate(doc_ids) if d in keep])
    queries = data.queries.select(
        [i for i, q in enumerate(data.queries["_id"]) if q in kept_queries]
    )
    return BeirData(name=data.name, folder=data.folder, corpus=corpus, queries=queries, qrels=qrels)


def load_dataset(
    name_or_path: str | Path,
    profile: str | Profile | None = None,
    splits: Sequence[str] | None = None,
) -> BeirData:
    """Load a dataset at a profile's size (``None``: ``$HARDNEG_PROFILE``): :func:`profile_sample`.

    ``max_documents`` caps the corpus of a shipped dataset (never a user's own),
    ``max_train_queries`` every split but ``test``, ``max_test_queries`` the ``test`` split; the
    ``full`` profile only caps training queries.

    >>> data = load_dataset("aws-cli", profile="smoke")  # doctest: +SKIP
    """
    from hardneg_kit.profiles import get_profile

    prof = profile if not isinstance(profile, str | None) else get_profile(profile)
    data = load_beir(resolve_dataset(name_or_path), splits=splits)
    return profile_sample(data, prof)


def is_shipped(folder: str | Path) -> bool:
    """Whether ``folder`` is one of :data:`SAMPLED_DATASETS` under :data:`DATA_DIR`.

    >>> is_shipped(DATA_DIR / "aws-cli"), is_shipped("my-docs")
    (True, False)
    """
    path = Path(folder).expanduser().resolve()
    return path.name in SAMPLED_DATASETS and path == (DATA_DIR / path.name).resolve()


def profile_sample(data: BeirData, profile: Profile,
                   caps: Mapping[str, int | None] | None = None) -> BeirData:
    """``data`` at a profile's size: the shipped datasets sampled, a user's own never shrunk.

    A shipped dataset (:func:`is_shipped`) is sampled to ``max_documents`` and the query caps
    (:func:`query_caps`), as every committed result was made. A user's own dataset keeps every
    document whatever the profile: dropping distractors would make every retriever look better
    than it is on that corpus, and the numbers would describe no real collection (write a smaller
    copy with ``corpus sample`` to run on less). Its queries are capped like the shipped ones (a
    seeded subset costs less time and estimates the same metrics), and a line says so: at
    WARNING level when a cap removes queries, so that notebooks show it too. ``caps`` (split ->
    cap) replaces the profile's :func:`query_caps`, e.g. the experiment's evaluated queries.

    >>> data = profile_sample(load_beir("my-docs"), get_profile("workshop"))  # doctest: +SKIP
    WARNING hardneg_kit.corpus: profile workshop: my-docs is your own dataset: all 5677
    documents used; queries: train 600 of 1200 (--profile paper uses every query)
    """
    caps = query_caps(profile, data.splits()) if caps is None else caps
    if is_shipped(data.folder):
        logger.info("Sampling %s to profile %r", data.name, profile.name)
        return sample(data, profile.max_documents, caps)
    small = sample(data, None, caps)
    capped = [
        f"{s} {len(small.qrels[s])} of {len(data.qrels[s])}"
        for s in data.splits()
        if len(small.qrels[s]) < len(data.qrels[s])
    ]
    line = (
        f"profile {profile.name}: {data.name} is your own dataset: all {len(data.corpus)} "
        "documents used"
    )
    if capped:
        logger.warning(
            "%s; queries: %s (--profile paper uses every query)", line, ", ".join(capped)
        )
    else:
        logger.info("%s, and every judged query", line)
    return small


def query_caps(profile: Profile, splits: Iterable[str]) -> dict[str, int | None]:
    """Per-split query caps of a profile: ``test`` -> ``max_test_queries``, others train's.

    >>> from hardneg_kit.profiles import get_profile
    >>> query_caps(get_profile("smoke"), ["train", "dev", "test"])
    {'train': 60, 'dev': 60, 'test': 40}
    """
    return {
        s: profile.max_test_queries if s == "test" else profile.max_train_queries for s in splits
    }


# --------------------------------------------------------------------------------------------
# Groups, leakage and grouped splits


def _meaningful(groups: Mapping[str, str | None]) -> str | None:
    """Why ``groups`` (query -> group) tell nothing, or None when they do.

    Groups mean something when most queries have one, there are at least two, and a group holds
    two queries on average (one group per query, or a single group, is no grouping).
    """
    have = [g for g in groups.values() if g is not None]
    distinct = len(set(have))
    if len(have) * 2 < len(groups):
        return f"{len(groups) - len(have)} of {len(groups)} queries have none"
    if distinct < 2:
        return "a single group"
    if distinct * 2 > len(have):
        return f"{distinct} groups for {len(have)} queries (about one per query)"
    return None


def _field_groups(data: BeirData, field: str) -> tuple[dict[str, str | None], str] | None:
    """Judged query -> its ``field``, from the queries file or else its first positive's
    document; None when neither file has the column."""
    positives = {q: p for s in data.splits() for q, p in data.positives(s).items()}
    if field in data.queries.column_names:
        own = dict(zip(data.queries["_id"], data.queries[field], strict=True))
        return {q: _str_or_none(own.get(q)) for q in positives}, f"field {field!r} of the queries"
    if field in data.corpus.column_names:
        doc = dict(zip(data.corpus["_id"], data.corpus[field], strict=True))
        groups = {q: _str_or_none(doc.get(p[0])) for q, p in positives.items()}
        return groups, f"field {field!r} of the positive documents"
    return None


def _str_or_none(value: object) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value)


def query_groups(data: BeirData, field: str | None = "service") -> tuple[dict[str, str], str]:
    """Judged query -> group where a grouping means something, and a sentence saying which.

    Tried in turn: ``field`` (of the queries, else of each query's first positive document),
    then the id prefix of the first positive (:func:`id_group`). The first that is meaningful
    wins: most queries have a group, there are at least two, two queries per group on average.
    Otherwise the groups are ``{}`` and the sentence says why each failed.

    >>> groups, source = query_groups(load_beir("tests/fixtures/beir_tiny"))  # doctest: +SKIP
    >>> source, groups["q1"]  # doctest: +SKIP
    ("field 'service' of the queries", 's3')
    """
    positives = {q: p for s in data.splits() for q, p in data.positives(s).items()}
    tried: list[str] = []
    candidates = [_field_groups(data, field)] if field else []
    candidates.append(({q: id_group(p[0]) for q, p in positives.items()}, "id prefix"))
    for found in candidates:
        if found is None:
            tried.append(f"no field {field!r}")
            continue
        groups, source = found
        why = _meaningful(groups)
        if why is None:
            return {q: g for q, g in groups.items() if g is not None}, source
        tried.append(f"{source.split(' of ')[0]}: {why}")
    return {}, "none (" + "; ".join(tried) + ")"


def _norm_text(text: str) -> str:
    return " ".join(text.casefold().split())


def shared_query_texts(data: BeirData, first: str, second: str) -> list[tuple[str, str]]:
    """(query id in ``first``, query id in ``second``) pairs whose texts are equal once case and
    whitespace are normalized: leakage when ``first`` trains and ``second`` tests.

    >>> shared_query_texts(data, "train", "test")  # doctest: +SKIP
    [('q12', 'q907')]
    """
    text = dict(zip(data.queries["_id"], data.queries["text"], strict=True))
    by_text: dict[str, list[str]] = defaultdict(list)
    for q in data.qrels[first]:
        by_text[_norm_text(text[q])].append(q)
    return [
        (a, b) for b in data.qrels[second] for a in by_text.get(_norm_text(text[b]), []) if a != b
    ]


#: how ``split_judgements`` groups queries
GROUP_BY = ("positive", "field", "prefix")
#: the splits ``split_judgements`` writes
SPLIT_NAMES = ("train", "dev", "test")
#: where an in-place split moves judgement files it would otherwise mix with its own
SPLIT_BACKUP = "qrels-before-split"


@dataclass
class SplitSummary:
    """What :func:`split_judgements` wrote: per split ``(queries, distinct positive documents,
    groups)``; ``str()`` is the summary ``corpus split`` prints."""

    folder: Path
    group_source: str
    counts: dict[str, tuple[int, int, int]]
    moved: list[Path]

    def __str__(self) -> str:
        lines = [f"wrote {self.folder / 'qrels'} (groups: {self.group_source})"]
        lines.append(f"  {'split':<6} {'queries':>8} {'positive docs':>14} {'groups':>7}")
        for split, (q, p, g) in self.counts.items():
            lines.append(f"  {split:<6} {q:>8} {p:>14} {g:>7}")
        lines += [f"moved {p} to {p.parent} (not a split any more)" for p in self.moved]
        return "\n".join(lines)


def _judgement_files(folder: Path) -> list[Path]:
    """``qrels.tsv[.gz]`` beside the corpus, then ``qrels/*.tsv[.gz]`` by name."""
    root = [folder / n for n in ("qrels.tsv", "qrels.tsv.gz") if (folder / n).is_file()]
    if len(root) == 2:
        raise DataError(
            f"{folder}: both qrels.tsv and qrels.tsv.gz exist; which one is current is unknown: "
            "remove (or rename) the stale one."
        )
    return root + list(qrels_files(folder / "qrels").values())


def _merged_judgements(
    files: Sequence[Path], query_lines: Mapping[str, int], doc_lines: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """Every file's judgements in file and line order; a pair judged twice must agree."""
    merged: dict[str, dict[str, int]] = {}
    origin: dict[tuple[str, str], Path] = {}
    for path in files:
        for q, docs in _read_qrels(path, query_lines, doc_lines, validate=True).items():
            for d, r in docs.items():
                old = merged.setdefault(q, {}).setdefault(d, r)
                if old != r:
                    raise DataError(
                        f"{path}: query {q!r} and document {d!r} judged {r} here but {old} in "
                        f"{origin[q, d]}; make the files agree."
                    )
                origin.setdefault((q, d), path)
    return merged


def _split_keys(
    data: BeirData, judged: Mapping[str, Mapping[str, int]], group_by: str, group_field: str
) -> tuple[dict[str, set[str]], str]:
    """Query -> the keys that tie it to others (its positives, plus its group), and a sentence."""
    text = dict(zip(data.queries["_id"], data.queries["text"], strict=True))
    keys = {  # equal texts stay together too: two splits asking the same question is leakage
        q: {f"doc\x00{d}" for d, r in docs.items() if r > 0} | {f"text\x00{_norm_text(text[q])}"}
        for q, docs in judged.items()
    }
    if group_by == "positive":
        return keys, "queries sharing a positive document"
    if group_by == "prefix":
        for q, docs in judged.items():
            keys[q] |= {f"group\x00{g}" for d, r in docs.items() if r > 0 and (g := id_group(d))}
        return keys, "id prefix of the positives (and shared positives)"
    if group_field in data.queries.column_names:
        own = dict(zip(data.queries["_id"], data.queries[group_field], strict=True))
        for q in judged:
            if (g := _str_or_none(own.get(q))) is not None:
                keys[q].add(f"group\x00{g}")
        return keys, f"field {group_field!r} of the queries (and shared positives)"
    if group_field in data.corpus.column_names:
        doc = dict(zip(data.corpus["_id"], data.corpus[group_field], strict=True))
        for q, docs in judged.items():
            keys[q] |= {
                f"group\x00{g}" for d, r in docs.items()
                if r > 0 and (g := _str_or_none(doc.get(d))) is not None
            }
        return keys, f"field {group_field!r} of the positive documents (and shared positives)"
    raise DataError(
        f"{data.folder}: neither the queries nor the corpus have a field {group_field!r} to "
        "group by; name another with --group-field, or use --group-by positive|prefix."
    )


def _components(keys: Mapping[str, set[str]]) -> dict[str, str]:
    """Query -> its group's name (the smallest query id in it): queries linked by any shared key
    form one group (connected components, union-find)."""
    parent = {q: q for q in keys}

    def find(q: str) -> str:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    owner: dict[str, str] = {}
    for q in sorted(keys):
        for k in sorted(keys[q]):
            other = owner.setdefault(k, q)
            a, b = find(q), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {q: find(q) for q in keys}


def _target(size: float, total: int, name: str) -> int:
    """A split size as a count of queries: a fraction in [0, 1) of ``total``, or a count."""
    if isinstance(size, bool) or size < 0:
        raise DataError(f"--{name} {size}: give a fraction (0.2) or a count of queries (300).")
    if isinstance(size, float):
        if size >= 1:
            raise DataError(f"--{name} {size}: a fraction must be below 1 (or give a count).")
        return round(size * total)
    return int(size)


def _assign(groups: Mapping[str, str], targets: Mapping[str, int], seed: int) -> dict[str, str]:
    """Group -> split: groups in a seeded order each go to the first of ``targets`` whose count
    it brings closer to its target, else to ``train``."""
    size = Counter(groups.values())
    have = dict.fromkeys(targets, 0)
    out: dict[str, str] = {}
    for g in sorted(size, key=lambda g: _rank(seed, "split", g)):
        split = next(
            (s for s, t in targets.items() if abs(have[s] + size[g] - t) < abs(have[s] - t)),
            "train",
        )
        if split in have:
            have[split] += size[g]
        out[g] = split
    return out


def split_judgements(
    folder: str | Path,
    dev: float = 0.1,
    test: float = 0.2,
    group_by: str = "positive",
    group_field: str = "service",
    seed: int = 0,
    output: str | Path | None = None,
) -> SplitSummary:
    """Split a BEIR folder's judgements into ``qrels/train.tsv``, ``dev.tsv`` and ``test.tsv``.

    Every judgement file of ``folder`` is read and merged (``qrels.tsv[.gz]`` beside the corpus
    and ``qrels/*.tsv[.gz]``: one unsplit file, or splits to re-split), then whole *groups* of
    queries go to one split each. ``group_by="positive"``: queries sharing a positive document
    form a group (connected components), so no document is a positive in two splits (queries
    with the same text, case and whitespace aside, are kept together too);
    ``"field"``: also queries with the same ``group_field`` value (the query's, else its
    positives' documents'); ``"prefix"``: also queries whose positives share an id prefix
    (:func:`id_group`). Groups are taken in an order seeded by ``seed`` (depending only on ids),
    each going to ``test``, then ``dev``, when it brings that split closer to its size, else to
    ``train``. Sizes are fractions of the queries (``0.2``) or counts (``300``); 0 writes no
    such split. The same input and seed give byte-identical files.

    Everything is read and checked before anything is written (bad input raises
    :class:`DataError` naming the file and line), and each file is written atomically. In place
    (``output=None``), judgement files under ``qrels/`` other than the splits written are moved
    to ``qrels-before-split/`` so that no reader mixes them in; ``qrels.tsv`` stays. With
    ``output``, a new or empty folder receives a copy of the corpus and queries files and the
    splits.

    Args:
        folder: a BEIR folder with its judgements.
        dev: size of the dev split (fraction or count).
        test: size of the test split (fraction or count).
        group_by: ``"positive"``, ``"field"`` or ``"prefix"``.
        group_field: the field ``group_by="field"`` reads.
        seed: seeds the order in which groups are assigned.
        output: folder to write; ``None`` writes into ``folder``.

    Example:
        >>> summary = split_judgements("my-beir", dev=0.1, test=300)  # doctest: +SKIP
        >>> print(summary)  # doctest: +SKIP
        wrote my-beir/qrels (groups: queries sharing a positive document)
          split   queries  positives  groups
          train       ...
    """
    folder = Path(folder).expanduser()
    if group_by not in GROUP_BY:
        raise DataError(f"--group-by {group_by!r}: choose one of {', '.join(GROUP_BY)}.")
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: expected a BEIR folder there.")
    corpus_path, queries_path = _find_file(folder, "corpus"), _find_file(folder, "queries")
    files = _judgement_files(folder)
    if not files:
        raise FileNotFoundError(
            f"{folder}: no judgements to split (no qrels.tsv, no qrels/*.tsv); write them "
            "first, e.g. with corpus from-folder --questions."
        )
    doc_rows, doc_lines = _records(corpus_path, "document", True)
    query_rows, query_lines = _records(queries_path, "query", True)
    judged = _merged_judgements(files, query_lines, doc_lines)
    data = BeirData(
        name=folder.resolve().name, folder=folder,
        corpus=_to_dataset(doc_rows, corpus_path, doc_lines, ("_id", "title", "text")),
        queries=_to_dataset(query_rows, queries_path, query_lines, ("_id", "text")),
        qrels={},
    )
    keys, source = _split_keys(data, judged, group_by, group_field)
    group_of = _components(keys)
    targets = {"test": _target(test, len(judged), "test"), "dev": _target(dev, len(judged), "dev")}
    if sum(targets.values()) >= len(judged):
        raise DataError(
            f"{folder}: dev {targets['dev']} + test {targets['test']} queries leave none of the "
            f"{len(judged)} for train; ask for less."
        )
    split_of = _assign(group_of, targets, seed)
    splits = {
        s: {q: d for q, d in judged.items() if split_of[group_of[q]] == s} for s in SPLIT_NAMES
    }
    for s in ("train", *(s for s, t in targets.items() if t > 0)):
        if not splits[s]:
            largest = max(Counter(group_of.values()).values())
            raise DataError(
                f"{folder}: the {s} split would be empty: the {len(judged)} queries form "
                f"{len(set(group_of.values()))} groups, the largest of {largest} queries; change "
                "the sizes or group differently (--group-by positive)."
            )
    out = folder if output is None else Path(output).expanduser()
    moved = _write_splits(folder, out, corpus_path, queries_path, splits)
    counts = {
        s: (
            len(qs),
            len({d for docs in qs.values() for d, r in docs.items() if r > 0}),
            len({group_of[q] for q in qs}),
        )
        for s, qs in splits.items() if qs
    }
    return SplitSummary(out, source, counts, moved)


def _qrels_text(judged: Mapping[str, Mapping[str, int]]) -> str:
    rows = [f"{q}\t{d}\t{r}" for q, docs in judged.items() for d, r in docs.items()]
    return "\n".join(["query-id\tcorpus-id\tscore", *rows]) + "\n"


def _write_splits(
    folder: Path,
    out: Path,
    corpus_path: Path,
    queries_path: Path,
    splits: Mapping[str, Mapping[str, Mapping[str, int]]],
) -> list[Path]:
    """Write the non-empty splits under ``out/qrels`` atomically; return the files moved away."""
    from hardneg_kit.cache import atomic_path

    copies: list[tuple[Path, Path]] = []
    if out.resolve() != folder.resolve():
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise DataError(f"--output {out}: exists and is not an empty folder; name a new one.")
        copies = [(p, out / p.name) for p in (corpus_path, queries_path)]
    written = {out / "qrels" / f"{s}.tsv" for s, qs in splits.items() if qs}
    stale = [p for p in qrels_files(out / "qrels").values() if p not in written]
    backup = out / SPLIT_BACKUP
    clash = [p for p in stale if (backup / p.name).exists()]
    if clash:
        raise DataError(
            f"{backup / clash[0].name} already exists; move it away so that {clash[0]} can be "
            "kept there."
        )
    with ExitStack() as stack:  # every file complete before any is renamed into place
        for src, dst in copies:
            shutil.copyfile(src, stack.enter_context(atomic_path(dst)))
        for s, qs in splits.items():
            if qs:
                tmp = stack.enter_context(atomic_path(out / "qrels" / f"{s}.tsv"))
                tmp.write_text(_qrels_text(qs), encoding="utf-8")
    moved: list[Path] = []
    for p in stale:
        backup.mkdir(exist_ok=True)
        moved.append(Path(shutil.move(p, backup / p.name)))
    return moved


# --------------------------------------------------------------------------------------------
# Bring your own documentation

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_RST_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.!$%&(),/;?@\[\]\\{|}])\1{2,}\s*$")
_SENTENCE = re.compile(r"(?<=[.!?:;])\s+")


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


def _pack(pieces: Sequence[str], max_words: int, sep: str) -> list[str]:
    """Join consecutive pieces with ``sep`` while a chunk stays within ``max_words`` words.

    A piece is never cut here: one longer than ``max_words`` is a chunk of its own.

    >>> _pack(["a b", "c", "d e f"], 3, " ")
    ['a b c', 'd e f']
    """
    chunks: list[str] = []
    cur: list[str] = []
    n = 0
    for piece in pieces:
        k = len(piece.split())
        if cur and n + k > max_words:
            chunks.append(sep.join(cur))
            cur, n = [], 0
        cur.append(piece)
        n += k
    if cur:
        chunks.append(sep.join(cur))
    return chunks


def _split_long(paragraph: str, max_words: int) -> list[str]:
    """A paragraph over ``max_words`` cut at sentence ends, or at word counts as a last resort."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(paragraph):
        words = sentence.split()
        for i in range(0, len(words), max_words):
            pieces.append(" ".join(words[i : i + max_words]))
    return _pack(pieces, max_words, " ")


def chunk_text(paragraphs: Sequence[str], max_words: int = 200) -> list[str]:
    """Pack paragraphs into chunks of at most ``max_words`` words, cutting between paragraphs.

    >>> chunk_text(["one two", "three four five"], max_words=3)
    ['one two', 'three four five']
    """
    blocks: list[str] = []
    for p in paragraphs:
        blocks.extend([p] if len(p.split()) <= max_words else _split_long(p, max_words))
    return _pack(blocks, max_words, "\n\n")


def _file_passages(text: str, path: Path, rel: str, max_words: int) -> list[dict]:
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown") and lines[0].strip() == "---" and "---" in lines[1:]:
        lines = lines[lines.index("---", 1) + 1 :]  # YAML front matter
    if suffix in (".md", ".markdown"):
        sections = _sections_markdown(lines)
    elif suffix == ".rst":
        sections = _sections_rst(lines)
    else:
        sections = [(0, "", lines)]
    headed = [s for s in sections if s[0] > 0]
    top = min((s[0] for s in headed), default=0)
    # A single top-level heading that comes first is the document's title.
    titled = bool(headed) and headed[0][0] == top and sum(s[0] == top for s in headed) == 1
    file_title = headed[0][1] if titled else _humanize(path.stem)
    rows: list[dict] = []
    used: set[str] = set()
    stack: list[tuple[int, str]] = []
    for level, heading, body in sections:
        if level:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
        crumbs = [h for lv, h in stack if not (titled and lv == top)]
        chunks = chunk_text(_paragraphs(body), max_words)
        if not chunks:
            continue
        base = slugify(crumbs[-1] if crumbs else file_title)
        slug, n = base, 0
        suffixes = [""] + [f"-{k}" for k in range(2, len(chunks) + 1)]
        while any(f"{slug}{s}" in used for s in suffixes):
            n += 1
            slug = f"{base}-{n}"
        title = " › ".join([file_title, *crumbs])
        for s, chunk in zip(suffixes, chunks, strict=True):
            used.add(slug + s)
            rows.append({"_id": f"{rel}#{slug}{s}", "title": title, "text": chunk, "path": rel})
    return rows


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


def safe_id(raw: str, max_length: int = MAX_ID_LENGTH) -> str:
    """An id TREC files can hold: whitespace percent-encoded, at most ``max_length`` characters
    (a longer id keeps its start and ends in ``~`` + 16 hex digits of its SHA-256, so it stays
    stable and distinct).

    >>> safe_id("my docs/guide.md#install")
    'my%20docs/guide.md#install'
    >>> len(safe_id("a" * 500))
    200
    """
    s = _WHITESPACE.sub(lambda m: f"%{ord(m.group()):02X}", raw)
    if len(s) > max_length:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        s = f"{s[: max_length - 17]}~{digest}"
    return s


def _unique_ids(raw_ids: Sequence[str]) -> list[str]:
    """:func:`safe_id` of each id; a clash (rare: two ids equal once made safe) gets ``~2``,
    ``~3``... in order, so the result depends only on the input order."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in raw_ids:
        _id, k = safe_id(raw), 1
        while _id in seen:
            k += 1
            _id = f"{safe_id(raw, MAX_ID_LENGTH - len(str(k)) - 1)}~{k}"
        seen.add(_id)
        out.append(_id)
    return out


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
    file relevant, so a retriever that finds the answer in any chunk is not penalised and no
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
    by_path: dict[str, list[str]] = defaultdict(list)
    if "path" in corpus.column_names:
        for d, p in zip(corpus["_id"], corpus["path"], strict=True):
            by_path[p].append(d)
    queries: dict[tuple[str, str], dict] = {}
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    used_ids: dict[str, int] = {}
    for n, row in _question_rows(path):
        question = str(row.get("question") or "").strip()
        if not question:
            raise DataError(
                f"{path}:{n}: empty \"question\"; write the question or remove the line."
            )
        docs = row.get("document")
        values = docs if isinstance(docs, list) else [docs]
        values = [str(v).strip() for v in values if v is not None and str(v).strip()]
        if not values:
            raise DataError(
                f"{path}:{n}: question {question[:60]!r} has no \"document\"; name a document id "
                "or a file path."
            )
        s = str(row.get("split") or split).strip()
        if not _SPLIT_NAME.fullmatch(s):
            raise DataError(
                f"{path}:{n}: split {s!r} is not a usable name (it becomes qrels/<split>.tsv); "
                "use letters, digits, '-' or '_', e.g. train, dev, test."
            )
        key = (s, question)
        if key not in queries:
            qid = str(row.get("id") or "").strip() or f"q{len(queries) + 1}"
            _check_id(path, n, "query", qid)
            if qid in used_ids:
                raise DataError(
                    f"{path}:{n}: duplicate query id {qid!r} (first on line {used_ids[qid]}); "
                    "give each question its own id."
                )
            used_ids[qid] = n
            queries[key] = {"_id": qid, "text": question}
        qid = queries[key]["_id"]
        for v in values:
            if v in ids:
                hits = [v]
            elif _norm_path(v) in by_path:
                hits = by_path[_norm_path(v)]
            else:
                close = sorted(p for p in by_path if Path(p).name == Path(_norm_path(v)).name)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise DataError(
                    f"{path}:{n}: unknown document {v!r} for question {qid!r}: neither a document "
                    f"id nor a file of the corpus.{hint} Use an id or a path relative to the docs "
                    "folder."
                )
            for d in hits:
                qrels.setdefault(s, {}).setdefault(qid, {})[d] = 1
    if not queries:
        raise DataError(f"{path}: no questions found.")
    logger.info("%s: %d questions, splits %s", path, len(queries), sorted(qrels))
    return datasets.Dataset.from_list(list(queries.values())), {
        s: qrels[s] for s in _sorted_splits(qrels)
    }


def _clean_rows(table: datasets.Dataset) -> list[dict]:
    """Rows with ``None`` extras left out (they are fields the row did not have)."""
    return [{k: v for k, v in r.items() if v is not None} for r in table]


def write_beir_folder(
    folder: str | Path,
    corpus: datasets.Dataset,
    queries: datasets.Dataset,
    qrels: Mapping[str, Mapping[str, Mapping[str, int]]],
    gzip_corpus: bool = False,
) -> Path:
    """Write a BEIR folder that :func:`load_beir` reads back; qrels as split -> qid -> doc -> rel.

    >>> write_beir_folder("my-docs", corpus, queries, qrels)  # doctest: +SKIP
    """
    from hardneg_kit.build.common import write_beir

    folder = Path(folder)
    rows = {
        s: [(q, d, r) for q, docs in qs.items() for d, r in docs.items()]
        for s, qs in qrels.items()
    }
    write_beir(folder, _clean_rows(corpus), _clean_rows(queries), rows, gzip_corpus=gzip_corpus)
    logger.info(
        "Wrote %s: %d documents, %d queries, splits %s", folder, len(corpus), len(queries),
        list(qrels),
    )
    return folder
