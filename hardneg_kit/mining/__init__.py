"""Hard-negative mining: named strategies, one entry point, one result type.

Every strategy turns a split's (query, positives) pairs into ranked negative lists:

================  ============================================================================
``random``        uniform from the corpus (seeded)
``bm25``          top-ranked BM25 candidates
``dense:<model>`` top-ranked candidates of one bi-encoder (``dense:minilm-l6``)
``fusion``        a fused ranking (RRF default, or CombSUM) of BM25 and the ``models``
``ensemble-pca``  the reference method (METHOD.md): concatenated embeddings of ``models``,
                  PCA to 95% variance, keep D only if d(Q,D) < d(Q,P) and d(Q,D) < d(P,D)
``semi-hard``     a preset: ranks 10-50 of ``fusion`` (or any ``base``), sampled; or a score
                  band relative to the positive (``band=(0.6, 0.9)``)
================  ============================================================================

Parameters shared by the ranked strategies (everything but ``random``), applied in this order:

1. positives and *near-copies* of a positive are removed (always, every strategy, also for
   random negatives): same normalized text (lower case, punctuation and spacing removed), or
   cosine >= ``near_copy`` (0.98) to a positive in the ``guard_model`` space (``minilm-l6``;
   ``None`` keeps only the text rule). Near-copies are the same passage, not a hard negative.
   So are *lexical twins* for the query: word overlap >= ``lexical_copy`` (0.99) with a positive
   and no word telling them apart in the query (alias command trees such as ``gcloud alpha``
   and ``gcloud beta``; ``None`` turns the test off; :mod:`.guards` has the formula).
2. positive-aware filters (NV-Retriever, arXiv 2407.15831), in the strategy's own score space:
   ``max_relative`` drops candidates scoring above ``pos - |pos| * (1 - max_relative)`` (0.95 is
   their best setting; the same rule as ``relative_margin=0.05`` in sentence-transformers),
   ``margin`` drops those above ``pos - margin``, ``max_score`` those above an absolute cap,
   ``min_relative`` / ``min_score`` those below (score bands). With several positives the lowest
   positive score is used, as in ``mine_hard_negatives``. A positive that the retriever did not
   return scores below every candidate, so a positive-relative filter drops them all.
3. ``ensemble-pca`` only: the two distance conditions.
4. the rank window: ``skip_top`` then ``window`` candidates, counted *after* steps 1-3 (the same
   order as ``range_min`` / ``range_max`` in ``mine_hard_negatives``).
5. ``sampling="top"`` takes the best, ``"random"`` samples in the window (seeded per query) and
   re-sorts best first.
6. optional denoising: a ``cross_encoder`` scores the chosen candidates; those above
   ``denoise_threshold`` are replaced by the next ones (RocketQA).
7. ``random_share`` of the ``num_negatives`` are uniform random negatives (mixing).
8. ``fallback`` for queries left with no hard negative: ``None`` (off: the query is reported as
   skipped), ``"closest"`` (the best remaining candidates, ignoring steps 2-4), ``"random"``.

Filters are parameters rather than strategy names, so any ranked strategy takes them:
``mine(data, "train", "dense:minilm-l6", max_relative=0.95)``, or on the command line
``--strategy dense:minilm-l6 --filter relative:0.95``.

Invariants, for every strategy: no negative is a positive (or near-copy) of its query; no
duplicates in a list; the same seed gives the same negatives; every query is in ``rows`` or in
``skipped`` with a reason.

Example:
    >>> from hardneg_kit.corpus import load_dataset
    >>> from hardneg_kit.mining import mine
    >>> data = load_dataset("aws-cli", profile="smoke")  # doctest: +SKIP
    >>> result = mine(data, "train", "ensemble-pca", num_negatives=2)  # doctest: +SKIP
    >>> result.rows[0].negative_ids, len(result.skipped)  # doctest: +SKIP
    (['s3/rm', 's3/mv'], 7)

Where each part lives (one question per module):

=====================  =======================================================================
:mod:`.results`        what mining returns; the JSONL file and its ``.meta.json`` record
:mod:`.formats`        sentence-transformers datasets (:func:`to_dataset`, one builder a format)
:mod:`.inputs`         a split made ready (:func:`prepare`), the guard's text rules
:mod:`.rankings`       candidates per query: BM25, dense, fusion (:class:`Candidates`)
:mod:`.ensemble`       the ``ensemble-pca`` space and its two conditions
:mod:`.ensemble_large` ``ensemble-pca`` out of core (above 200k passages, or
                       ``MiningInputs.out_of_core``): sharded embeddings, sample PCA, an index
                       chosen by size
:mod:`.sample_pca`     PCA fitted on a seeded sample, applied block by block
:mod:`.ann`            exhaustive search up to 200k passages, IVF tuned for recall >= 0.99 above
:mod:`.guards`         step 1's tests: copies, near-copies and lexical twins of a positive
:mod:`.filters`        the positive-aware filters (step 2)
:mod:`.selection`      steps 1-8, one function each, and why a query is skipped
:mod:`.strategies`     the named strategies and :func:`mine`
=====================  =======================================================================
"""

from __future__ import annotations

from hardneg_kit.errors import MiningError
from hardneg_kit.mining.ensemble import (
    PCA_FITS,
    EnsembleSpace,
    ensemble_space,
    pca_conditions,
    rank_ensemble,
)
from hardneg_kit.mining.filters import FILTER_FIELDS, Filters
from hardneg_kit.mining.formats import FORMATS, to_dataset
from hardneg_kit.mining.guards import GUARD_MODEL, LEXICAL_COPY, NEAR_COPY
from hardneg_kit.mining.inputs import MiningInputs, normalize_text, prepare
from hardneg_kit.mining.rankings import (
    DEFAULT_MODELS,
    Candidates,
    rank_bm25,
    rank_dense,
    rank_fusion,
)
from hardneg_kit.mining.results import MiningResult, NegativeRow, meta_path, read_meta
from hardneg_kit.mining.selection import (
    Selection,
    SkipReason,
    query_rng,
    select_negatives,
)
from hardneg_kit.mining.strategies import (
    STRATEGIES,
    mine,
    mine_bm25,
    mine_dense,
    mine_ensemble_pca,
    mine_fusion,
    mine_random,
    mine_semi_hard,
    strategy_names,
)

__all__ = [
    "DEFAULT_MODELS",
    "FILTER_FIELDS",
    "FORMATS",
    "GUARD_MODEL",
    "LEXICAL_COPY",
    "NEAR_COPY",
    "PCA_FITS",
    "STRATEGIES",
    "Candidates",
    "EnsembleSpace",
    "Filters",
    "MiningError",
    "MiningInputs",
    "MiningResult",
    "NegativeRow",
    "Selection",
    "SkipReason",
    "ensemble_space",
    "meta_path",
    "mine",
    "mine_bm25",
    "mine_dense",
    "mine_ensemble_pca",
    "mine_fusion",
    "mine_random",
    "mine_semi_hard",
    "normalize_text",
    "pca_conditions",
    "prepare",
    "query_rng",
    "rank_bm25",
    "rank_dense",
    "rank_ensemble",
    "rank_fusion",
    "read_meta",
    "select_negatives",
    "strategy_names",
    "to_dataset",
]
