"""Retrievers named by spec strings, and many specs run over one corpus at once.

A spec is ``bm25`` (also ``bm25l``, ``bm25plus``), ``dense:<model spec>`` or
``fusion:<spec>+<spec>[+...]`` (:data:`RETRIEVER_FORMS`); :func:`make_retriever` turns one into a
retriever and refuses anything else with a :class:`~hardneg_kit.errors.RetrievalError`.
:func:`run_retrievers` searches with several specs, indexing each base retriever once and fusing
the members' runs for every fusion spec, each run cut to ``top_k``.

Example:
    >>> make_retriever("bm25").name
    'bm25'
    >>> runs = run_retrievers(["bm25", "fusion:bm25+bm25l"], ["d1", "d2"],
    ...                       ["delete a bucket", "list instances"], ["q1"], ["delete bucket"])
    >>> list(runs)
    ['bm25', 'fusion:bm25+bm25l']
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hardneg_kit.errors import RetrievalError
from hardneg_kit.retrievers.base import Retriever
from hardneg_kit.retrievers.bm25 import BM25Retriever
from hardneg_kit.retrievers.dense import DenseRetriever
from hardneg_kit.retrievers.fusion import FusionRetriever, cut_run

if TYPE_CHECKING:
    from ranx import Run

logger = logging.getLogger(__name__)

RETRIEVER_FORMS = (
    "'bm25', 'bm25l', 'bm25plus', 'dense:<model spec>' (e.g. 'dense:minilm-l6'), "
    "'fusion:<spec>+<spec>[+...]' (e.g. 'fusion:bm25+dense:minilm-l6')"
)


def make_retriever(spec: str, **kwargs: Any) -> Retriever:
    """Build a retriever from a spec string.

    Forms: ``bm25`` (also ``bm25l``, ``bm25plus``), ``dense:<model spec>`` (e.g.
    ``dense:minilm-l6``, ``dense:static-minilm``, ``dense:BAAI/bge-small-en-v1.5``), and
    ``fusion:<spec>+<spec>[+...]`` (reciprocal rank fusion by default). Keyword arguments go to
    the retriever's constructor (for fusion: ``method``, ``norm``, ``params``, ``depth``).

    >>> make_retriever("bm25", k1=1.2).name
    'bm25'
    >>> make_retriever("fusion:bm25+dense:minilm-l6", method="combsum")  # doctest: +SKIP
    """
    spec = spec.strip()
    if spec.startswith("fusion:"):
        parts = [p.strip() for p in spec.removeprefix("fusion:").split("+")]
        if len(parts) < 2 or not all(parts) or any(p.startswith("fusion:") for p in parts):
            raise RetrievalError(
                f"Unknown retriever spec {spec!r}; valid forms: {RETRIEVER_FORMS}."
            )
        return FusionRetriever([make_retriever(p) for p in parts], **kwargs)
    if spec.startswith("dense:") and spec.removeprefix("dense:").strip():
        return DenseRetriever(spec.removeprefix("dense:").strip(), **kwargs)
    if spec in ("bm25", "bm25okapi", "bm25l", "bm25plus"):
        return BM25Retriever(variant=spec, **kwargs)
    raise RetrievalError(f"Unknown retriever spec {spec!r}; valid forms: {RETRIEVER_FORMS}.")


def retriever_models(spec: str) -> list[str]:
    """The bi-encoders of a retriever spec (``dense:<m>``, or the dense members of a fusion).

    >>> retriever_models("fusion:bm25+dense:minilm-l6")
    ['minilm-l6']
    """
    parts = spec.removeprefix("fusion:").split("+")
    found = [p.strip().removeprefix("dense:").strip() for p in parts
             if p.strip().startswith("dense:")]
    return list(dict.fromkeys(m for m in found if m))


def run_retrievers(
    specs: Sequence[str],
    doc_ids: list[str],
    passages: list[str],
    query_ids: list[str],
    queries: list[str],
    top_k: int = 100,
    **fusion_kwargs: Any,
) -> dict[str, Run]:
    """Search with every spec, indexing each base retriever once; fusion reuses member runs.

    ``specs`` may mix ``bm25``, ``dense:<model>`` and ``fusion:<a>+<b>``; a fusion's members are
    run (once) even when not listed themselves. Returns ``{spec: Run}`` in the order given.

    >>> runs = run_retrievers(["bm25", "dense:minilm-l6", "fusion:bm25+dense:minilm-l6"],
    ...                       doc_ids, passages, qids, queries)  # doctest: +SKIP
    """
    base: dict[str, Run] = {}

    def base_run(spec: str) -> Run:
        if spec not in base:
            start = time.perf_counter()
            retriever = make_retriever(spec).index(doc_ids, passages)
            base[spec] = retriever.search(query_ids, queries, top_k)
            base[spec].name = spec
            logger.info("%s: %.1f s", spec, time.perf_counter() - start)
        return base[spec]

    out: dict[str, Run] = {}
    for spec in specs:
        if spec.startswith("fusion:"):
            fusion = make_retriever(spec, **fusion_kwargs)
            members = [base_run(p.strip()) for p in spec.removeprefix("fusion:").split("+")]
            out[spec] = cut_run(fusion.fuse_runs(members), query_ids, top_k, name=spec)
        else:
            out[spec] = base_run(spec)
    return out
