"""The ensemble space of ``ensemble-pca`` (METHOD.md) and its two distance conditions.

The models' L2-normalized embeddings are concatenated (each model's block has norm 1, so each
weighs the same), PCA keeps ``variance`` of the variance (fitted as ``fit`` says, below), and the
projections are re-normalized: :class:`EnsembleSpace`. Candidates are the nearest passages there
(:func:`rank_ensemble`); a candidate D of query Q is kept only when d(Q,D) < d(Q,P) and
d(Q,D) < d(P,D) for every positive P (:func:`pca_conditions`).

What PCA is fitted on (``fit``, ``mine(..., pca_fit=)``, ``mine --pca-fit``):

* ``"passages+queries"``: the corpus and the mined queries together, so that the kept
  directions also describe the queries. But then the space, and with it whether a query gets a
  negative, depends on which *other* queries are mined with it.
* ``"passages"``: the corpus alone. A query's negatives depend only on that query, the corpus
  and the settings: mining a subset of the queries gives each of them the negatives it gets in
  the whole set. Queries are projected onto the passages' components.

Decision: ``"passages"`` (:data:`DEFAULT_PCA_FIT`): a training example should not change with
the batch of queries mined beside it, and coverage hardly moves (+1.1 and +1.9 points with the
conditions, 0 and -0.4 with the filter). ``"passages+queries"`` stays an option: the kit's
results before December 2026 were mined with it.

Measured on aws-cli train at the full profile (18,886 passages; three default models, variance
0.95; coverage = queries with >= 1 negative)::

    fit               queries mined  ensemble-pca          --no-conditions, relative:0.95
    passages+queries  1,000          38.9%                 94.1%
    passages+queries  all 4,409      37.0% (the 1,000:     94.4% (the 1,000: 94.4%;
                                     38.1%; 102 changed)   309 changed)
    passages          1,000          40.0%                 94.1%
    passages          all 4,409      38.9% (the 1,000:     94.0% (the 1,000: 94.1%;
                                     40.0%; 0 changed)     0 changed)

"changed": of the 1,000 queries mined at the profile's cap, those whose negatives (or skip) differ
when all training queries are mined with them. Fitting on the corpus alone also gives a little
more coverage with the conditions (40.0% against 38.9%).

Example:
    >>> space = ensemble_space(inputs, variance=0.95)  # doctest: +SKIP
    >>> rows = rank_ensemble(inputs, space).rows["q1"]  # doctest: +SKIP
    >>> keep = pca_conditions(space, inputs)("q1", rows)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardneg_kit.errors import MiningError
from hardneg_kit.mining.inputs import MiningInputs
from hardneg_kit.mining.rankings import DEFAULT_MODELS, Candidates, _search_ip

logger = logging.getLogger("hardneg_kit.mining")

#: what PCA may be fitted on (``pca_fit``, ``--pca-fit``); module docstring
PCA_FITS = ("passages+queries", "passages")
#: the corpus alone, so that a query's negatives depend only on it (module docstring: why)
DEFAULT_PCA_FIT = "passages"


@dataclass
class EnsembleSpace:
    """Queries and passages in the PCA space of concatenated embeddings, re-normalized.

    ``docs[i]`` is ``inputs.doc_ids[i]``; ``queries[j]`` is ``inputs.query_ids[j]``.
    """

    models: tuple[str, ...]
    variance: float
    fit: str
    docs: np.ndarray
    queries: np.ndarray
    explained_variance_ratio: np.ndarray
    input_dims: int
    #: out of core only (:mod:`.ensemble_large`): the search plan, rows PCA was fitted on, and
    #: the scratch folder holding ``docs`` (removed with the space)
    search: dict | None = None
    pca_sample_rows: int | None = None
    scratch: Any = field(default=None, repr=False)

    @property
    def dims(self) -> int:
        return int(self.docs.shape[1])


def check_pca_fit(fit: str) -> None:
    """Refuse a ``pca_fit`` that is not one of :data:`PCA_FITS`, naming the option.

    >>> check_pca_fit("passages")
    """
    if fit not in PCA_FITS:
        raise MiningError(
            f"pca_fit (--pca-fit) must be one of {', '.join(PCA_FITS)}, got {fit!r}."
        )


def ensemble_space(
    inputs: MiningInputs,
    models: Sequence[str] = DEFAULT_MODELS,
    variance: float = 0.95,
    seed: int = 0,
    fit: str = DEFAULT_PCA_FIT,
) -> EnsembleSpace:
    """Concatenate the models' normalized embeddings, fit PCA, project, re-normalize.

    Args:
        inputs: the prepared split.
        models: the bi-encoders whose embeddings are concatenated (each block has norm 1, so
            each model weighs the same before PCA).
        variance: the share of variance the kept components explain.
        seed: PCA's random state.
        fit: what PCA is fitted on, one of :data:`PCA_FITS` (module docstring): the corpus
            alone (``"passages"``: a query's space is independent of the other queries mined)
            or the corpus and the mined queries (``"passages+queries"``).

    >>> space = ensemble_space(inputs, variance=0.95, fit="passages")  # doctest: +SKIP
    >>> space.dims, space.explained_variance_ratio.sum()  # doctest: +SKIP
    """
    check_pca_fit(fit)
    key = ("ensemble", tuple(models), variance, seed, fit)
    if key in inputs.memo:
        return inputs.memo[key]
    from sklearn.decomposition import PCA

    from hardneg_kit.models import normalize

    if not models:
        raise MiningError("ensemble-pca needs at least one model (--models).")
    if inputs.is_out_of_core():
        from hardneg_kit.mining.ensemble_large import large_ensemble_space

        inputs.memo[key] = large_ensemble_space(inputs, models, variance, seed, fit)
        return inputs.memo[key]
    docs = np.hstack([inputs.passage_embeddings(m) for m in models])
    queries = np.hstack([inputs.query_embeddings(m) for m in models])
    components: float | int = variance if variance < 1 else min(docs.shape[1], len(docs))
    pca = PCA(n_components=components, svd_solver="full", random_state=seed)
    pca.fit(docs if fit == "passages" else np.vstack([docs, queries]))
    space = EnsembleSpace(
        models=tuple(models),
        variance=variance,
        fit=fit,
        docs=normalize(pca.transform(docs)),
        queries=normalize(pca.transform(queries)),
        explained_variance_ratio=pca.explained_variance_ratio_,
        input_dims=int(docs.shape[1]),
    )
    logger.info(
        "ensemble-pca: %d models, %d -> %d dims (%.1f%% variance), fitted on %s",
        len(models), space.input_dims, space.dims, 100 * pca.explained_variance_ratio_.sum(),
        fit,
    )
    inputs.memo[key] = space
    return space


def rank_ensemble(inputs: MiningInputs, space: EnsembleSpace, depth: int = 100) -> Candidates:
    """Top ``depth`` passages by cosine in the ensemble PCA space (faiss IndexFlatIP)."""
    key = ("ensemble-rank", space.models, space.variance, space.fit, id(space), depth)
    if key not in inputs.memo:
        if isinstance(space.docs, np.ndarray):
            ranked = _search_ip(inputs, "ensemble-pca", space.queries, space.docs, depth)
        else:  # out of core: sharded docs, an index chosen by size
            from hardneg_kit.mining.ensemble_large import rank_large

            ranked = rank_large(inputs, space, depth)
        inputs.memo[key] = ranked
    return inputs.memo[key]


def _rows(docs: Any, rows: Any) -> np.ndarray:
    """Rows of the in-memory array (plain indexing: today's arithmetic) or of shards."""
    if isinstance(docs, np.ndarray):
        return docs[rows]
    return np.asarray(docs.take(np.asarray(rows, dtype=np.int64)), dtype=np.float32)


def pca_conditions(
    space: EnsembleSpace, inputs: MiningInputs
) -> Callable[[str, np.ndarray], np.ndarray]:
    """``condition(qid, rows)``: d(Q,D) < d(Q,P) and d(Q,D) < d(P,D) for *every* positive P.

    Requiring every positive is the strict reading: a candidate nearer to the query than one
    positive but not another is ambiguous, and keeping it risks a false negative.
    Cosine distance d = 1 - cosine in the re-normalized PCA space.
    """

    def condition(qid: str, rows: np.ndarray) -> np.ndarray:
        q = space.queries[inputs.query_row[qid]]
        pos = _rows(space.docs, [inputs.doc_row[p] for p in inputs.positives[qid]])
        cand = _rows(space.docs, rows)
        d_qd = 1.0 - cand @ q  # (n,)
        d_qp = 1.0 - pos @ q  # (p,)
        d_pd = 1.0 - cand @ pos.T  # (n, p)
        return np.all((d_qd[:, None] < d_qp[None, :]) & (d_qd[:, None] < d_pd), axis=1)

    return condition

