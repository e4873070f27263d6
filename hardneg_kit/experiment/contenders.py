"""Who competes: the contenders of the experiment, their names and how they are chosen.

A contender is one row of the comparison (:class:`Contender`): a first-stage retriever as it is,
the base re-ranker untouched, or a cross-encoder fine-tuned on one kind of negative. The README's
table is :func:`default_contenders`; :func:`more_contenders` adds further kinds of negative, and
:func:`select_contenders` picks some by name, always keeping the rows every test needs (the
``random`` baseline, the fused first stage and the base). The row names the tables share
(:data:`BASELINE`, :data:`FUSION`, :data:`BASE`, :data:`WITH_FIRST_STAGE`) are defined here.

Example:
    >>> from hardneg_kit.experiment.contenders import select_contenders
    >>> [c.name for c in select_contenders(["bm25"])][-2:]
    ['random', 'bm25']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hardneg_kit.errors import ExperimentError
from hardneg_kit.mining import DEFAULT_MODELS

#: the default training dataset, and the default evaluation datasets (training dataset first)
TRAIN_DATASET = "aws-cli"
EVAL_DATASETS = ("aws-cli", "azure-cli", "python-faq")
EXPERIMENT_METRICS = ("mrr@3", "mrr@10", "ndcg@10")
BASELINE = "random"
#: the row names of the fused first stage and of the base re-ranker
FUSION = "first-stage: fusion (rrf)"
BASE = "no fine-tuning (base)"
#: the suffix of a contender interpolated with the first stage
WITH_FIRST_STAGE = " + first stage"
#: mining strategies that use the ensemble's bi-encoders (``experiment --models``)
ENSEMBLE_STRATEGIES = ("fusion", "ensemble-pca", "semi-hard")


def first_stage_specs(models: Sequence[str] = DEFAULT_MODELS) -> tuple[str, ...]:
    """The first-stage retrievers: BM25 and one dense retriever per bi-encoder."""
    return ("bm25", *(f"dense:{m}" for m in models))


def candidates_spec(models: Sequence[str] = DEFAULT_MODELS) -> str:
    """The retriever whose top ``rerank_depth`` every re-ranker sees: the fusion of them all."""
    return "fusion:" + "+".join(first_stage_specs(models))


FIRST_STAGE = first_stage_specs()
CANDIDATES = candidates_spec()


@dataclass(frozen=True)
class Contender:
    """One line of the comparison.

    ``kind`` is ``first-stage`` (``spec`` is a retriever), ``start`` (the untrained
    cross-encoder), ``in-batch`` (pairs + MNRL) or ``mined`` (``spec`` is a mining strategy and
    ``params`` its keyword arguments, see :func:`hardneg_kit.mining.mine`).
    """

    name: str
    kind: str
    spec: str = ""
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9.]+", "-", self.name).strip("-").lower()


#: the spec of the "best single model" contender, resolved on dev (:func:`best_single_model`)
BEST_SINGLE = "dense:best-on-dev"


def default_contenders(models: Sequence[str] = DEFAULT_MODELS) -> list[Contender]:
    """The contenders of the README's table, in table order.

    The first stage, the base re-ranker ("no fine-tuning"), and one fine-tuned model per kind of
    negative: in-batch (no mined negative), random, BM25, the best single model (the dense
    retriever with the best first-stage MRR@10 on dev, see :func:`best_single_model`),
    semi-hard, the reference method (ensemble-pca with the
    paper's two conditions) and the kit's two readings of it: the ensemble's PCA space with
    NV-Retriever's positive-aware filter, and the conditions with the closest candidates as a
    fallback for queries the conditions leave empty. More in :func:`more_contenders`.

    ``models`` are the bi-encoders of the first stage and of the ensemble strategies (fusion,
    ensemble-pca, semi-hard); other than the default, they are recorded in those contenders'
    ``params``.
    """
    out = [Contender(f"first-stage: {s}", "first-stage", s) for s in first_stage_specs(models)]
    out.append(Contender(FUSION, "first-stage", candidates_spec(models)))
    out += [
        Contender(BASE, "start"),
        Contender("in-batch negatives", "in-batch"),
        Contender("random", "mined", "random"),
        Contender("bm25", "mined", "bm25"),
        Contender("best single model", "mined", BEST_SINGLE),
        Contender("semi-hard", "mined", "semi-hard"),
        Contender("ensemble-pca", "mined", "ensemble-pca"),
        # the PCA space with NV-Retriever's positive-aware filter instead of the two conditions
        # (they contradict each other: the conditions keep only candidates above the positive)
        Contender("ensemble-pca + filter 0.95", "mined", "ensemble-pca",
                  (("conditions", False), ("max_relative", 0.95))),
        Contender("ensemble-pca + closest fallback", "mined", "ensemble-pca",
                  (("fallback", "closest"),)),
    ]
    return with_models(out, models)


def with_models(contenders: Sequence[Contender], models: Sequence[str]) -> list[Contender]:
    """The ensemble strategies' contenders mining with ``models`` (unchanged for the default
    models, so that their cached models stay valid)."""
    if tuple(models) == tuple(DEFAULT_MODELS):
        return list(contenders)
    return [replace(c, params=(*c.params, ("models", tuple(models))))
            if c.kind == "mined" and c.spec in ENSEMBLE_STRATEGIES else c for c in contenders]


def more_contenders(models: Sequence[str] = DEFAULT_MODELS) -> list[Contender]:
    """Further contenders, chosen by name with ``experiment --contenders``: each single model,
    fusion, and the reference method with half random negatives.
    """
    return with_models([
        *(Contender(f"dense:{m}", "mined", f"dense:{m}") for m in models),
        Contender("fusion", "mined", "fusion"),
        Contender("ensemble-pca + 50% random", "mined", "ensemble-pca",
                  (("random_share", 0.5),)),
    ], models)


def select_contenders(names: Sequence[str],
                      models: Sequence[str] = DEFAULT_MODELS) -> list[Contender]:
    """The contenders named (from :func:`default_contenders` and :func:`more_contenders`), in
    table order; ``random`` (the baseline), the fused first stage and the base are always kept.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    everything = default_contenders(models) + more_contenders(models)
    known = [c.name for c in everything]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ExperimentError(f"Unknown contender {unknown[0]!r}; choose from: {', '.join(known)}.")
    keep = {*names, BASELINE, FUSION, BASE}
    return [c for c in everything if c.name in keep]
