"""ranx runs the way the kit needs them: empty queries kept, and ties broken the same for all.

:func:`make_run` builds a ``ranx.Run`` in which a query without hits is still present (ranx's
constructor refuses a run where no query has a hit). :func:`break_ties` gives every query's
scores a strict order, (score descending, doc id ascending), that trec_eval and ranx both read
the same way; :func:`hardneg_kit.retrievers.trec.write_trec` applies it before writing.

Example:
    >>> run = make_run({"q1": {"a": 1.0, "b": 1.0}, "q2": {}})
    >>> untied = break_ties(run)
    >>> untied["q1"]["a"] > untied["q1"]["b"]
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ranx import Run


def make_run(run_dict: dict[str, dict[str, float]], name: str | None = None) -> Run:
    """``ranx.Run(run_dict)`` that also accepts queries without hits (``{}``), even all of them.

    >>> sorted(make_run({"q1": {}, "q2": {}}, name="empty").keys())
    ['q1', 'q2']
    """
    from ranx import Qrels, Run

    if any(run_dict.values()):
        return Run(run_dict, name=name)
    run = Run(name=name)
    if not run_dict:
        return run
    # ranx's constructor cannot size the doc-id arrays when no query has a hit: build the typed
    # dict with the same compiled helper it uses (fast), else add the empty queries its own way
    try:
        from numba.typed import List as TypedList
        from ranx.data_structures.common import create_and_sort

        empty = [np.array([], dtype="<U1") for _ in run_dict]
        run.run = create_and_sort(
            TypedList(list(run_dict)),
            TypedList(empty),
            TypedList([np.array([], dtype=float) for _ in run_dict]),
        )
        run.sorted = True
    except (ImportError, TypeError, ValueError):  # pragma: no cover - other ranx versions
        run = Run(name=name).make_comparable(Qrels({q: {"_": 1} for q in run_dict}))
    return run


def break_ties(run: Run, name: str | None = None) -> Run:
    """A copy of ``run`` whose scores strictly decrease in (score desc, doc id asc) order.

    trec_eval orders a query's documents by score, then by doc id *descending*; ranx (an unstable
    argsort) and a plain sort order exact ties their own ways, so tied runs score differently.
    Here each query's documents are walked in (score descending, doc id ascending) order and a
    score that is not strictly below the previous written one becomes the next value below it;
    every other score keeps its value. Order and all untied scores survive; only ties move, by
    the smallest amount that all readers see.

    The comparison and the nudge are at single precision: trec_eval parses scores into a C
    ``float``, so a float64 step (``np.nextafter`` in float64) would read back as the same score
    and tie again. A tied score becomes ``np.nextafter(float32(previous), -inf)`` in float32,
    stored as the (exactly representable) float64 value; two float64 scores equal in float32 count
    as tied. A nudge can push the next score down too (when it was only one float32 step lower).

    Args:
        run: the run; not modified.
        name: the new run's name (default: ``run.name``).

    Returns:
        A new run with the same queries and documents, every query's scores distinct in float32.

    Example:
        >>> tied = make_run({"q1": {"c": 1.0, "a": 1.0, "b": 1.0, "z": 2.0}})
        >>> untied = break_ties(tied)
        >>> sorted(untied["q1"], key=untied["q1"].get, reverse=True)
        ['z', 'a', 'b', 'c']
        >>> untied["q1"]["a"] == 1.0 > untied["q1"]["b"] > untied["q1"]["c"]
        True
    """
    untied = {qid: _untie(dict(run[qid])) for qid in run.keys()}
    return make_run(untied, name=run.name if name is None else name)


def _untie(hits: dict[str, float]) -> dict[str, float]:
    """Doc -> score in (score desc, doc id asc) order, strictly decreasing in float32."""
    ordered = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))
    single = np.array([s for _, s in ordered], dtype=np.float32)
    if np.all(single[1:] < single[:-1]):  # nothing tied: keep every value
        return {d: float(s) for d, s in ordered}
    out: dict[str, float] = {}
    previous = None
    for doc, score in ordered:
        if previous is not None and not np.float32(score) < np.float32(previous):
            score = np.nextafter(np.float32(previous), np.float32(-np.inf))
        out[doc] = previous = float(score)
    return out
