"""Run sizes in one place: ``smoke`` (tests and CI), ``workshop`` (notebooks) and ``full``.

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
    #: test queries per evaluation dataset in the re-ranking experiment (``None``: all)
    eval_queries: int | None
    #: training triplets per fine-tuned contender (the equal budget)
    train_examples: int
    #: (pseudo-query, passage) pairs of the shared domain warm-up (0: no warm-up)
    warm_examples: int
    #: negatives mined per training query
    num_negatives: int
    #: training seeds (mean ± std over these)
    seeds: tuple[int, ...]
    #: transformer layers kept in the cross-encoder start (speed on a CPU)
    cross_encoder_layers: int
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
        train_examples=48,
        warm_examples=32,
        num_negatives=2,
        seeds=(0,),
        cross_encoder_layers=1,
        max_length=64,
        epochs=1,
        batch_size=16,
    ),
    "workshop": Profile(
        name="workshop",
        max_documents=4000,
        max_train_queries=600,
        max_test_queries=300,
        top_k=100,
        rerank_depth=20,
        eval_queries=60,
        train_examples=640,
        warm_examples=1600,
        num_negatives=2,
        seeds=(0,),
        cross_encoder_layers=2,
        max_length=96,
        epochs=1,
        batch_size=16,
    ),
    "full": Profile(
        name="full",
        max_documents=None,
        max_train_queries=1000,
        max_test_queries=None,
        top_k=100,
        rerank_depth=20,
        eval_queries=200,
        train_examples=960,
        warm_examples=3200,
        num_negatives=4,
        seeds=(0, 1, 2),
        cross_encoder_layers=2,
        max_length=96,
        epochs=1,
        batch_size=16,
    ),
}

DEFAULT_PROFILE = "workshop"


def get_profile(name: str | None = None, **overrides) -> Profile:
    """Return a profile by name, or the one named by ``$HARDNEG_PROFILE`` (default ``workshop``).

    Keyword arguments override single fields, e.g. ``get_profile("smoke", top_k=50)``.
    """
    name = name or os.environ.get(ENV_VAR) or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(
            f"Unknown profile {name!r} (from {'argument' if name else ENV_VAR}); "
            f"choose one of: {', '.join(PROFILES)}."
        )
    profile = PROFILES[name]
    return replace(profile, **overrides) if overrides else profile
