"""Loading a BEIR folder into :class:`~hardneg_kit.corpus.data.BeirData`, and writing one.

:func:`load_beir` reads ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and the chosen
``qrels/<split>.tsv[.gz]`` with every check of :mod:`hardneg_kit.corpus.reading`;
:func:`write_beir_folder` writes tables and judgements back in the layout it reads.

Example:
    >>> data = load_beir("data/aws-cli", splits=["test"])  # doctest: +SKIP
    >>> write_beir_folder("/tmp/copy", data.corpus, data.queries, data.qrels)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import datasets

from hardneg_kit.corpus.data import BeirData, _sorted_splits
from hardneg_kit.corpus.reading import _find_file, _read_qrels, _records, _to_dataset, qrels_files

logger = logging.getLogger(__package__)  # one logger, "hardneg_kit.corpus", for the package


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
    files = qrels_files(folder / "qrels")
    names = _wanted_splits(folder, files, splits)
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


def _wanted_splits(
    folder: Path, files: Mapping[str, Path], splits: Sequence[str] | None
) -> list[str]:
    """The splits to load, in :data:`~hardneg_kit.corpus.data.SPLIT_ORDER`: every file's
    without ``splits`` (a warning when there are none), else ``splits``, each of which must
    have its file."""
    if splits is None:
        names = list(files)
        if not names:
            logger.warning("%s: no qrels/*.tsv files; loading the corpus without splits", folder)
        return _sorted_splits(names)
    names = list(dict.fromkeys(splits))
    for s in names:
        if s not in files:
            raise FileNotFoundError(
                f"{folder / 'qrels' / (s + '.tsv')} not found (nor {s}.tsv.gz): no split {s!r} "
                f"(available: {', '.join(sorted(files)) or 'none'})."
            )
    return _sorted_splits(names)


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
