"""TREC run files (``qid Q0 docid rank score tag``), plain or gzip-compressed.

:func:`write_trec` writes atomically, with ties broken by doc id (:func:`break_ties`) and scores
in full, so :func:`read_trec` gives back the same float64 values and trec_eval and ranx see the
same ranking. A path ending in ``.gz`` is compressed with a fixed header: the same run gives the
same bytes.

Example:
    >>> write_trec(run, "runs/bm25-test.trec", tag="bm25")  # doctest: +SKIP
    >>> read_trec("runs/bm25-test.trec").name  # doctest: +SKIP
    'bm25'
"""

from __future__ import annotations

import gzip
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from hardneg_kit.cache import atomic_path
from hardneg_kit.errors import RetrievalError
from hardneg_kit.retrievers.runs import break_ties

if TYPE_CHECKING:
    from ranx import Run


def write_trec(run: Run, path: str | Path, tag: str | None = None) -> Path:
    """Write a run as a TREC run file (``qid Q0 docid rank score tag``), atomically.

    Ties are broken by doc id first (:func:`break_ties`: equal scores, ascending doc id, are
    nudged apart by one float32 step each), so trec_eval, which reads scores in single precision
    and would order ties by doc id descending, and ranx, which orders them arbitrarily, see the
    same ranking. Scores are written in full (Python's shortest round-trip ``repr``), so
    :func:`read_trec` gives back the same float64 values.

    A path ending in ``.gz`` is gzip-compressed (``zcat run.trec.gz | trec_eval ...``);
    :func:`read_trec` reads both. The gzip header holds no name and mtime 0: the same run gives
    the same bytes.

    Queries without hits have no line in TREC files; :func:`hardneg_kit.evaluation.evaluate_runs`
    counts them as misses.

    >>> write_trec(run, "runs/bm25-test.trec", tag="bm25")  # doctest: +SKIP
    """
    path = Path(path)
    tag = re.sub(r"\s+", "_", tag or run.name or path.stem)
    space = re.compile(r"\s")
    for qid in run.keys():
        bad = next((x for x in (qid, *run[qid]) if space.search(x)), None)
        if bad is not None:
            raise RetrievalError(f"Id {bad!r} contains whitespace; TREC files cannot hold it.")
    untied = break_ties(run, name=tag)  # ranx writes "{score}": repr, no digits lost
    with atomic_path(path) as tmp:
        untied.save(str(tmp), kind="trec")
        if path.suffix == ".gz":  # no name, mtime 0: the same run gives the same bytes
            data = tmp.read_bytes()
            with open(tmp, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as z:
                z.write(data)
    return path


def read_trec(path: str | Path, name: str | None = None) -> Run:
    """Read a TREC run file (plain or ``.gz``); the run is named ``name``, else the file's tag.

    >>> run = read_trec("runs/bm25-test.trec")  # doctest: +SKIP
    """
    from ranx import Run

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Run file {str(path)!r} does not exist.")
    if path.stat().st_size == 0:
        return Run(name=name or path.stem)
    if path.suffix == ".gz":  # ranx reads plain files only
        with tempfile.TemporaryDirectory() as tmp:
            plain = Path(tmp) / path.stem
            try:
                plain.write_bytes(gzip.decompress(path.read_bytes()))
            except (OSError, EOFError) as exc:
                raise RetrievalError(f"{path} is not a readable gzip file: {exc}") from None
            return read_trec(plain, name=name)
    try:
        return Run.from_file(str(path), kind="trec", name=name)
    except ValueError as exc:
        msg = f"{path} is not a TREC run file (qid Q0 docid rank score tag): {exc}"
        raise RetrievalError(msg) from None
