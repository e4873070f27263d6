"""The named strategies and :func:`mine`, the one entry point.

================  ============================================================================
``random``        uniform from the corpus (seeded): :func:`mine_random`
``bm25``          top-ranked BM25 candidates: :func:`mine_bm25`
``dense:<model>`` top-ranked candidates of one bi-encoder: :func:`mine_dense`
``fusion``        a fused ranking (RRF or CombSUM) of BM25 and ``models``: :func:`mine_fusion`
``ensemble-pca``  the reference method (METHOD.md): :func:`mine_ensemble_pca`
``semi-hard``     ranks 10-50 of ``fusion`` sampled, or a score band: :func:`mine_semi_hard`
================  ============================================================================

Each ranked strategy builds its :class:`~hardneg_kit.mining.rankings.Candidates` and hands them
to :func:`~hardneg_kit.mining.selection.select_negatives`; :func:`mine` checks the strategy and
its models before any work, splits the keyword arguments into :class:`Selection`,
:class:`Filters` and the strategy's own, and records every setting in effect.

Example:
    >>> mine(data, "train", "dense:minilm-l6", num_negatives=4, max_relative=0.95)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from hardneg_kit.errors import MiningError
from hardneg_kit.mining.ensemble import (
    DEFAULT_PCA_FIT,
    check_pca_fit,
    ensemble_space,
    pca_conditions,
    rank_ensemble,
)
from hardneg_kit.mining.filters import FILTER_FIELDS, Filters
from hardneg_kit.mining.guards import Guard, random_rows
from hardneg_kit.mining.inputs import MiningInputs, prepare
from hardneg_kit.mining.rankings import DEFAULT_MODELS, rank_bm25, rank_dense, rank_fusion
from hardneg_kit.mining.results import MiningResult, NegativeRow
from hardneg_kit.mining.selection import (
    Selection,
    SkipReason,
    query_rng,
    select_negatives,
)

logger = logging.getLogger("hardneg_kit.mining")


def mine_random(inputs: MiningInputs, sel: Selection) -> MiningResult:
    """Uniform negatives from the corpus, excluding positives, near-copies and twins (seeded)."""
    guard = Guard(inputs, sel)
    rows: list[NegativeRow] = []
    skipped: dict[str, str] = {}
    for qid in inputs.query_ids:
        blocked, pos = guard.blocked(qid)
        neg = random_rows(
            len(inputs.doc_ids), sel.num_negatives, query_rng(sel.seed, qid), set(blocked),
            guard, pos,
        )
        if not neg:
            skipped[qid] = SkipReason.NO_PASSAGE
            continue
        rows.append(
            NegativeRow(qid, list(inputs.positives[qid]), [inputs.doc_ids[r] for r in neg],
                        "random", [None] * len(neg), [None] * len(inputs.positives[qid]),
                        ["random"] * len(neg))
        )
    return MiningResult("random", rows, skipped)


def mine_bm25(inputs: MiningInputs, sel: Selection, filters: Filters, depth: int = 100):
    """Top BM25 candidates that are not positives (``skip_top`` / ``window`` / ``sampling``)."""
    return select_negatives(inputs, rank_bm25(inputs, depth), "bm25", sel, filters)


def mine_dense(
    inputs: MiningInputs, sel: Selection, filters: Filters, model: str = "minilm-l6",
    depth: int = 100,
) -> MiningResult:
    """Top candidates of one bi-encoder (cosine), as ``mine_hard_negatives`` would pick them."""
    ranking = rank_dense(inputs, model, depth)
    return select_negatives(inputs, ranking, f"dense:{model}", sel, filters)


def mine_fusion(
    inputs: MiningInputs, sel: Selection, filters: Filters,
    models: Sequence[str] = DEFAULT_MODELS, method: str = "rrf", depth: int = 100,
) -> MiningResult:
    """Top candidates of a fused ranking of BM25 and ``models`` (RRF or CombSUM)."""
    ranking = rank_fusion(inputs, models, method, depth)
    return select_negatives(inputs, ranking, "fusion", sel, filters)



def mine_ensemble_pca(
    inputs: MiningInputs, sel: Selection, filters: Filters,
    models: Sequence[str] = DEFAULT_MODELS, variance: float = 0.95, depth: int = 100,
    conditions: bool = True, pca_fit: str = DEFAULT_PCA_FIT,
) -> MiningResult:
    """The reference method (METHOD.md): the k closest candidates meeting both conditions.

    Candidates are the ``depth`` nearest passages in the PCA space. Positive-relative filters
    (``max_relative``, ``margin``) contradict the first condition (the survivors all score
    *above* the positive) and are refused; ``max_score`` and ``min_score`` are allowed.
    ``conditions=False`` drops the two distance conditions and keeps only the ensemble's PCA
    space: then a positive-aware filter takes their place (``max_relative=0.95`` keeps the
    closest candidates scoring below 95% of the positive, NV-Retriever's rule in the ensemble
    space). ``pca_fit`` says what PCA is fitted on (:mod:`~hardneg_kit.mining.ensemble`):
    ``"passages"`` makes a query's negatives independent of the other queries mined.
    """
    check_pca_fit(pca_fit)
    if conditions and (filters.max_relative is not None or filters.margin is not None):
        raise MiningError(
            "ensemble-pca keeps only candidates closer to the query than the positive; "
            "relative/margin filters remove exactly those. Use them with bm25, dense or fusion, "
            "or with ensemble-pca and conditions=False (the PCA space without the conditions)."
        )
    space = ensemble_space(inputs, models, variance, sel.seed, pca_fit)
    ranking = rank_ensemble(inputs, space, depth)
    condition = pca_conditions(space, inputs) if conditions else None
    result = select_negatives(inputs, ranking, "ensemble-pca", sel, filters, condition=condition)
    result.params["dims"] = space.dims
    if space.search is not None:  # out of core only: the shipped corpora's records stay as-is
        result.params["search"] = {**space.search, "pca_sample_rows": space.pca_sample_rows}
    return result


def mine_semi_hard(
    inputs: MiningInputs, sel: Selection, filters: Filters, base: str = "fusion",
    band: tuple[float, float] | None = None, models: Sequence[str] = DEFAULT_MODELS,
    depth: int = 100,
) -> MiningResult:
    """Negatives below the hardest ones: a rank window (default ranks 10-50) or a score band.

    ``band=(lo, hi)`` keeps candidates scoring between ``lo`` and ``hi`` times the positive's
    score (e.g. ``(0.6, 0.9)``); without a band the window ``skip_top=10, window=40`` applies
    unless given. ``base`` is ``fusion``, ``bm25`` or ``dense:<model>``.
    """
    if band is not None:
        lo, hi = band
        filters = Filters(min_relative=lo, max_relative=hi, max_score=filters.max_score)
    if base == "fusion":
        ranking = rank_fusion(inputs, models, "rrf", depth)
    elif base == "bm25":
        ranking = rank_bm25(inputs, depth)
    elif base.startswith("dense:"):
        ranking = rank_dense(inputs, _model_of(base), depth)
    else:
        raise MiningError(f"semi-hard base must be fusion, bm25 or dense:<model>, got {base!r}.")
    return select_negatives(inputs, ranking, "semi-hard", sel, filters)


def _model_of(spec: str) -> str:
    model = spec.partition(":")[2].strip()
    if not model:
        raise MiningError(f"{spec!r} names no model: write e.g. dense:minilm-l6.")
    return model


#: strategy name -> function; ``dense:<model>`` dispatches to ``dense`` with ``model=...``
STRATEGIES: dict[str, Callable[..., MiningResult]] = {
    "random": mine_random,
    "bm25": mine_bm25,
    "dense": mine_dense,
    "fusion": mine_fusion,
    "ensemble-pca": mine_ensemble_pca,
    "semi-hard": mine_semi_hard,
}

_SELECTION_KEYS = {f for f in Selection.__dataclass_fields__}


def strategy_names() -> list[str]:
    """Names accepted by :func:`mine` (``dense`` is written ``dense:<model>``)."""
    return [("dense:<model>" if s == "dense" else s) for s in STRATEGIES]


def mine(
    data: Any,
    split: str = "train",
    strategy: str = "ensemble-pca",
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    num_negatives: int = 4,
    seed: int = 0,
    **params: Any,
) -> MiningResult:
    """Mine negatives for every query of ``split`` with a named strategy.

    Args:
        data: a :class:`~hardneg_kit.corpus.BeirData` or prepared :class:`MiningInputs`.
        split: usually ``train``.
        strategy: ``random``, ``bm25``, ``dense:<model>``, ``fusion``, ``ensemble-pca`` or
            ``semi-hard``.
        models: the bi-encoders of ``fusion`` / ``ensemble-pca`` / ``semi-hard``.
        num_negatives: negatives per query (fewer when not enough candidates survive).
        seed: seeds random sampling, random negatives and PCA.
        params: :class:`Selection` fields (``skip_top``, ``window``, ``sampling``,
            ``random_share``, ``fallback``, ``cross_encoder``, ``denoise_threshold``,
            ``near_copy``, ``guard_model``, ``lexical_copy``), :class:`Filters` fields
            (``max_relative``, ``min_relative``, ``margin``, ``max_score``, ``min_score``) or
            the strategy's own (``depth``, ``variance``, ``conditions``, ``pca_fit``,
            ``method``, ``band``, ``base``).

    >>> mine(data, "train", "dense:minilm-l6", num_negatives=4, max_relative=0.95)  # doctest: +SKIP
    """
    name, arg = _parse_strategy(strategy)
    from hardneg_kit.models import load_encoder

    models = tuple(m.strip() for m in models if m.strip())
    needed = _models_needed(name, arg, models, params)
    for m in needed:
        load_encoder(m)  # unknown models fail here, before any work, with a clear message
    inputs = prepare(data, split)
    if name == "semi-hard":
        _semi_hard_defaults(params)
    sel_kw = {k: params.pop(k) for k in list(params) if k in _SELECTION_KEYS}
    filt_kw = {k: params.pop(k) for k in list(params) if k in FILTER_FIELDS}
    sel = Selection(num_negatives=num_negatives, seed=seed, **sel_kw)
    filters = Filters(**filt_kw)
    fn_kwargs = _strategy_kwargs(name, arg, models, filters, params)
    accepted = _accepted_parameters(strategy, name, fn_kwargs)
    start = time.perf_counter()
    result = STRATEGIES[name](inputs, sel, **fn_kwargs)
    result.strategy = strategy if name != "dense" else f"dense:{arg}"
    for row in result.rows:
        row.strategy = result.strategy
    result.seconds = time.perf_counter() - start
    shown = {k: v for k, v in {**sel_kw, **filt_kw, **params}.items() if k != "cross_encoder"}
    result.params = {
        **result.params, "split": split, "num_negatives": num_negatives, "seed": seed,
        "models": list(models) if needed == models else list(needed), **shown,
    }
    result.settings = _settings(result.strategy, split, sel, filters, accepted, fn_kwargs)
    if "search" in result.params:  # the index and PCA sample chosen out of core (.ann)
        result.settings["search"] = result.params["search"]
    logger.info("%s (%.1f s)", result.summary(), result.seconds)
    return result


def _semi_hard_defaults(params: dict[str, Any]) -> None:
    """Without a ``band``, semi-hard draws at random from the 11th to 50th surviving candidates."""
    if params.get("band") is None:
        params.setdefault("skip_top", 10)
        params.setdefault("window", 40)
        params.setdefault("sampling", "random")


def _accepted_parameters(
    strategy: str, name: str, fn_kwargs: dict[str, Any]
) -> Mapping[str, inspect.Parameter]:
    """The strategy function's parameters; a MiningError names any of ``fn_kwargs`` it lacks."""
    accepted = inspect.signature(STRATEGIES[name]).parameters
    unknown = sorted(k for k in fn_kwargs if k not in accepted)
    if unknown:
        raise MiningError(f"{strategy} takes no parameter {', '.join(unknown)}.")
    return accepted


def _parse_strategy(strategy: str) -> tuple[str, str]:
    """``"dense:minilm-l6"`` -> ``("dense", "minilm-l6")``; an unknown name is a MiningError."""
    name, _, arg = strategy.partition(":")
    if name not in STRATEGIES or (name == "dense") != bool(arg):
        raise MiningError(
            f"Unknown strategy {strategy!r}; choose one of {', '.join(strategy_names())}."
        )
    return name, arg


def _models_needed(
    name: str, arg: str, models: tuple[str, ...], params: dict[str, Any]
) -> tuple[str, ...]:
    """The bi-encoders a strategy will load (checked before any work)."""
    if name == "semi-hard" and params.get("base", "fusion") == "fusion":
        return models
    return {"fusion": models, "ensemble-pca": models, "dense": (arg,)}.get(name, ())


def _strategy_kwargs(
    name: str, arg: str, models: tuple[str, ...], filters: Filters, params: dict[str, Any]
) -> dict[str, Any]:
    """The keyword arguments of the strategy's function: its own params, filters, models."""
    if name == "random":
        if filters.active:
            raise MiningError("random takes no filters: it does not rank candidates.")
        params.pop("depth", None)  # harmless for random: there is no candidate list
        return dict(params)
    fn_kwargs = dict(params)
    fn_kwargs["filters"] = filters
    if name in ("fusion", "ensemble-pca", "semi-hard"):
        fn_kwargs["models"] = models
    if name == "dense":
        fn_kwargs["model"] = arg
    return fn_kwargs


def _settings(
    strategy: str, split: str, sel: Selection, filters: Filters,
    accepted: Any, fn_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Every setting in effect: selection, filters and the strategy's own (defaults included)."""
    own = {
        k: p.default for k, p in accepted.items()
        if k not in ("inputs", "sel", "filters") and p.default is not inspect.Parameter.empty
    }
    own.update({k: v for k, v in fn_kwargs.items() if k != "filters"})
    selection = {k: getattr(sel, k) for k in Selection.__dataclass_fields__}
    ce = selection["cross_encoder"]  # a model object: record what it is, not its weights
    selection["cross_encoder"] = None if ce is None else str(
        getattr(ce, "name_or_path", None) or getattr(ce, "model_name", None) or type(ce).__name__
    )
    return {"strategy": strategy, "split": split, **selection, **asdict(filters), **own}

