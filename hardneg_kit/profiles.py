"""Run sizes in one place: ``smoke`` (tests and CI), ``workshop`` (notebooks), ``full`` (the
README's CPU results) and ``paper`` (the paper's setting, for a GPU).

The profile is chosen by the ``--profile`` flag of the CLI or the ``HARDNEG_PROFILE`` environment
variable; notebooks default to ``workshop``.

Example:
    >>> from hardneg_kit.profiles import get_profile
    >>> get_profile("smoke").name
    'smoke'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from hardneg_kit.errors import ProfileError

ENV_VAR = "HARDNEG_PROFILE"


@dataclass(frozen=True)
class Profile:
    """How big each step of the pipeline runs.

    ``max_*`` limits are applied by deterministic sampling (see :mod:`hardneg_kit.corpus`);
    ``None`` means "use everything".
    """

    name: str
    #: documents in the (sampled) corpus; the positives of the sampled queries are always kept
    max_documents: int | None
    #: training queries used for mining and fine-tuning
    max_train_queries: int | None
    #: test queries evaluated (per dataset)
    max_test_queries: int | None
    #: first-stage depth written to run files
    top_k: int
    #: candidates the cross-encoder re-ranks per query
    rerank_depth: int
    #: test queries of the training dataset re-ranked in the experiment (``None``: all)
    eval_queries: int | None
    #: test queries of each transfer dataset (azure-cli, python-faq; ``None``: all)
    transfer_queries: int | None
    #: dev queries of the training dataset on which the interpolation weight is chosen
    dev_queries: int | None
    #: training rows per fine-tuned contender (one row: a query, its positive and up to
    #: ``num_negatives`` negatives); every contender gets the optimizer steps of this many rows
    train_examples: int
    #: (pseudo-query, passage) pairs of the corpus that build the base re-ranker (0: no base,
    #: contenders start from a fresh head)
    base_examples: int
    #: negatives mined per training query (the n-tuple row)
    num_negatives: int
    #: training seeds (per-query metrics are averaged over them)
    seeds: tuple[int, ...]
    #: transformer layers kept in the cross-encoder (``None``: all)
    cross_encoder_layers: int | None
    #: tokens per (query, passage) pair for the cross-encoder
    max_length: int
    #: training epochs for the cross-encoder
    epochs: int
    #: batch size for encoding and training
    batch_size: int


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        max_documents=600,
        max_train_queries=60,
        max_test_queries=40,
        top_k=100,
        rerank_depth=10,
        eval_queries=20,
        transfer_queries=20,
        dev_queries=20,
        train_examples=48,
        base_examples=32,
        num_negatives=2,
        seeds=(0,),
        cross_encoder_layers=1,
        max_length=64,
        epochs=1,
        batch_size=16,
    ),
    # The notebooks' size: the full profile's corpus and recipe (the whole corpus, the whole
    # 6-layer cross-encoder, the same base re-ranker, 3 negatives per row, length 96) with fewer
    # queries: 600 training and 300 aws-cli test queries. Both the corpus and the base matter:
    # a 4,000-passage sample made the first stage's candidates easier, and a base trained on
    # 1,200 pseudo-queries turned random negatives from harmful into helpful (README, "The
    # workshop profile beside the full run").
    "workshop": Profile(
        name="workshop",
        max_documents=None,
        max_train_queries=600,
        max_test_queries=300,
        top_k=100,
        rerank_depth=20,
        eval_queries=300,
        transfer_queries=60,
        dev_queries=60,
        train_examples=600,
        base_examples=4000,
        num_negatives=3,
        seeds=(0,),
        cross_encoder_layers=None,
        max_length=96,
        epochs=1,
        batch_size=16,
    ),
    # The README's CPU results (about 1.5 hours on 2 cores): the whole packaged backbone, a base
    # re-ranker from 4,000 pseudo-queries of the corpus, 1,000 training queries x 3 negatives,
    # every aws-cli test query (so that differences of ~0.03 MRR@10 are measurable).
    "full": Profile(
        name="full",
        max_documents=None,
        max_train_queries=1000,
        max_test_queries=None,
        top_k=100,
        rerank_depth=20,
        eval_queries=None,
        transfer_queries=200,
        dev_queries=200,
        train_examples=1000,
        base_examples=4000,
        num_negatives=3,
        seeds=(0,),
        cross_encoder_layers=None,
        max_length=96,
        epochs=1,
        batch_size=16,
    ),
    # The paper's setting, for a GPU: every training query, several negatives, length 256, three
    # seeds, every test query. Name a stronger start with ``experiment --cross-encoder``.
    "paper": Profile(
        name="paper",
        max_documents=None,
        max_train_queries=None,
        max_test_queries=None,
        top_k=100,
        rerank_depth=20,
        eval_queries=None,
        transfer_queries=None,
        dev_queries=None,
        train_examples=4400,
        base_examples=16000,
        num_negatives=7,
        seeds=(0, 1, 2),
        cross_encoder_layers=None,
        max_length=256,
        epochs=1,
        batch_size=32,
    ),
}

DEFAULT_PROFILE = "workshop"


def get_profile(name: str | None = None, **overrides) -> Profile:
    """Return a profile by name, or the one named by ``$HARDNEG_PROFILE`` (default ``workshop``).

    Keyword arguments override single fields, e.g. ``get_profile("smoke", top_k=50)``.
    """
    name = name or os.environ.get(ENV_VAR) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ProfileError(
            f"Unknown profile {name!r} (from {'argument' if name else ENV_VAR}); "
            f"choose one of: {', '.join(PROFILES)}."
        )
    profile = PROFILES[name]
    return replace(profile, **overrides) if overrides else profile
