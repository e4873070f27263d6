"""A BEIR dataset in memory (:class:`BeirData`), and the text encoders and BM25 see.

``corpus`` and ``queries`` are ``datasets.Dataset`` tables in file order; ``qrels`` maps split ->
query id -> doc id -> relevance, its splits in :data:`SPLIT_ORDER`. :func:`passage_text` joins a
document's title and text as every retriever indexes it.

Example:
    >>> passage_text("s3 ls", "List S3 objects.")
    's3 ls\\nList S3 objects.'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import datasets

from hardneg_kit.errors import DataError

if TYPE_CHECKING:
    import ranx


#: split names in the order :meth:`BeirData.splits` lists them; others follow alphabetically
SPLIT_ORDER = ("train", "dev", "validation", "test")
#: judgements as :attr:`BeirData.qrels` holds them: split -> query id -> doc id -> relevance
SplitQrels = dict[str, dict[str, dict[str, int]]]


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
    qrels: SplitQrels
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
        rows = [i for i, qid in enumerate(column(self.queries, "_id")) if qid in wanted]
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
            ids = column(self.corpus, "_id")
            self._doc_index = (self.corpus, {d: i for i, d in enumerate(ids)})
        return self._doc_index[1]


def passage_text(title: str | None, text: str) -> str:
    """What encoders and BM25 see: ``"title\\ntext"``, or just ``text`` when the title is empty.

    >>> passage_text("s3 ls", "List S3 objects.")
    's3 ls\\nList S3 objects.'
    >>> passage_text("", "List S3 objects.")
    'List S3 objects.'
    """
    return f"{title}\n{text}" if title and title.strip() else text


def column(table: datasets.Dataset | dict, name: str) -> list:
    """One column as a Python list, decoded in one Arrow call.

    ``list(dataset[name])`` decodes row by row through the formatter (~0.1 ms a row: 1.8 s for
    19k passages); Arrow's ``to_pylist`` gives the same values in milliseconds. Plain dicts of
    lists (and other tables) are read as they are.

    >>> column(datasets.Dataset.from_dict({"_id": ["d1", "d2"]}), "_id")
    ['d1', 'd2']
    """
    if isinstance(table, datasets.Dataset):
        return table.with_format("arrow")[name].to_pylist()
    return list(table[name])


def passage_texts(corpus: datasets.Dataset) -> list[str]:
    """:func:`passage_text` for every row of a corpus, in row order."""
    texts = column(corpus, "text")
    if "title" not in corpus.column_names:
        return texts
    return [passage_text(t, x) for t, x in zip(column(corpus, "title"), texts, strict=True)]


def _sorted_splits(names: Iterable[str]) -> list[str]:
    known = [s for s in SPLIT_ORDER if s in names]
    return known + sorted(set(names) - set(known))
