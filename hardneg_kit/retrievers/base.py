"""The interface every retriever implements, and the bookkeeping they share.

A retriever has a ``name``, ``index(doc_ids, passages) -> self`` and ``rank(queries, top_k)``
(a :class:`~hardneg_kit.retrievers.ranking.Ranking`); :class:`IndexedRetriever` adds ``search``
on top of ``rank`` (a ``ranx.Run`` named after the retriever, every query id present) and
:func:`check_index_input` refuses a corpus that cannot be indexed, with a
:class:`~hardneg_kit.errors.RetrievalError`.

Example:
    >>> from hardneg_kit.retrievers import BM25Retriever
    >>> isinstance(BM25Retriever(), Retriever)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hardneg_kit.errors import RetrievalError

if TYPE_CHECKING:
    from ranx import Run

    from hardneg_kit.retrievers.ranking import Ranking


def check_index_input(doc_ids: Sequence[str], passages: Sequence[str]) -> None:
    """Refuse mismatched lengths, an empty corpus and duplicate doc ids."""
    if len(doc_ids) != len(passages):
        raise RetrievalError(f"{len(doc_ids)} doc ids but {len(passages)} passages.")
    if not doc_ids:
        raise RetrievalError("Cannot index an empty corpus.")
    if len(set(doc_ids)) != len(doc_ids):
        seen: set[str] = set()
        dup = next(d for d in doc_ids if d in seen or seen.add(d))
        raise RetrievalError(f"Duplicate doc id {dup!r} in the corpus.")


@runtime_checkable
class Retriever(Protocol):
    """The interface every retriever here implements."""

    name: str

    def index(self, doc_ids: list[str], passages: list[str]) -> Retriever: ...

    def rank(self, queries: list[str], top_k: int = 100) -> Ranking: ...

    def search(self, query_ids: list[str], queries: list[str], top_k: int = 100) -> Run: ...


class IndexedRetriever:
    """Shared bookkeeping: the indexed doc ids and ``search`` on top of ``rank``."""

    name: str
    doc_ids: list[str]

    def _require_index(self) -> None:
        if not getattr(self, "doc_ids", None):
            raise RuntimeError(f"{self.name}: call .index(doc_ids, passages) before searching.")

    def rank(self, queries: list[str], top_k: int = 100) -> Ranking:
        raise NotImplementedError

    def search(self, query_ids: list[str], queries: list[str], top_k: int = 100) -> Run:
        """Search every query; a ranx ``Run`` named after the retriever, all query ids present.

        >>> run = bm25.search(["q1", "q2"], ["delete bucket", "list users"], 10)  # doctest: +SKIP
        """
        if len(query_ids) != len(queries):
            raise RetrievalError(f"{len(query_ids)} query ids but {len(queries)} queries.")
        if len(set(query_ids)) != len(query_ids):
            raise RetrievalError("Duplicate query ids.")
        return self.rank(list(queries), top_k).to_run(list(query_ids), name=self.name)

    def __repr__(self) -> str:
        n = len(getattr(self, "doc_ids", []) or [])
        return f"{type(self).__name__}(name={self.name!r}, indexed={n})"
