"""First-stage retrievers behind one small interface: BM25, dense (faiss) and rank fusion (ranx).

Every retriever has a ``name``, ``index(doc_ids, passages) -> self``, ``rank(queries, top_k)``
(a :class:`Ranking`: arrays of the best ``top_k`` passage indices and scores per query, ties broken
by doc id) and ``search(query_ids, queries, top_k) -> ranx.Run`` (every query id present, an empty
result when nothing matched). BM25 and dense retrievers also give full score matrices
(``scores``) and the dense one its embeddings (``passage_embeddings``, ``encode``), which mining
needs.

One module per idea; every name is importable from here:

================  ==================================================================
``base``          the :class:`Retriever` interface and the bookkeeping retrievers share
``ranking``       :class:`Ranking` and the top-k selection with ties by doc id
``bm25``          :class:`BM25Retriever` and :func:`tokenize`
``dense``         :class:`DenseRetriever` (faiss)
``fusion``        :func:`fuse_runs`, the kit's one fusion, and :class:`FusionRetriever`
``specs``         :func:`make_retriever`, :func:`run_retrievers`, :func:`retriever_models`
``runs``          :func:`make_run` and :func:`break_ties` (ranx runs)
``trec``          :func:`write_trec` and :func:`read_trec`
================  ==================================================================

Example:
    >>> from hardneg_kit.retrievers import make_retriever
    >>> bm25 = make_retriever("bm25").index(["d1", "d2"], ["delete a bucket", "list my instances"])
    >>> run = bm25.search(["q1"], ["how to delete a bucket"], top_k=1)
    >>> list(run["q1"])
    ['d1']
    >>> fused = make_retriever("fusion:bm25+dense:minilm-l6")  # doctest: +SKIP
"""

from hardneg_kit.retrievers.base import IndexedRetriever, Retriever, check_index_input
from hardneg_kit.retrievers.bm25 import BM25_VARIANTS, BM25Retriever, tokenize
from hardneg_kit.retrievers.dense import DENSE_INDEXES, DenseRetriever
from hardneg_kit.retrievers.fusion import (
    FUSION_METHODS,
    FusionRetriever,
    best_hits,
    cut_run,
    fuse_runs,
)
from hardneg_kit.retrievers.ranking import Ranking, doc_rank, top_k_rows, top_k_sparse
from hardneg_kit.retrievers.runs import break_ties, make_run
from hardneg_kit.retrievers.specs import (
    RETRIEVER_FORMS,
    make_retriever,
    retriever_models,
    run_retrievers,
)
from hardneg_kit.retrievers.trec import read_trec, write_trec

__all__ = [
    "BM25_VARIANTS",
    "DENSE_INDEXES",
    "FUSION_METHODS",
    "RETRIEVER_FORMS",
    "BM25Retriever",
    "DenseRetriever",
    "FusionRetriever",
    "IndexedRetriever",
    "Ranking",
    "Retriever",
    "best_hits",
    "break_ties",
    "check_index_input",
    "cut_run",
    "doc_rank",
    "fuse_runs",
    "make_retriever",
    "make_run",
    "read_trec",
    "retriever_models",
    "run_retrievers",
    "tokenize",
    "top_k_rows",
    "top_k_sparse",
    "write_trec",
]
