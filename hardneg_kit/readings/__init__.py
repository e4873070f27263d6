"""Readings for the notebooks: results turned into sentences and small tables, never by hand.

Every sentence a notebook shows about a result is computed here from that result (a table of
:func:`hardneg_kit.experiment.summarize`, the runs, a training log), so the text cannot
disagree with the numbers above it. The notebooks' thread also lives here: the four contenders
that notebooks 03-05 mine, train and evaluate (:func:`notebook_contenders`), the exact data and
mining call that :func:`hardneg_kit.experiment.train_contender` uses (:func:`training_data`,
:func:`mine_for_training`), and the reference run of the ``full`` profile beside the learner's
(:func:`load_reference`, :func:`agreement`, :func:`why_they_differ`).

One idea per module: the notebooks' thread (:mod:`~hardneg_kit.readings.thread`), paired tests
and their agreement (:mod:`~hardneg_kit.readings.pairs`), the reference run
(:mod:`~hardneg_kit.readings.reference`), the pipeline stage by stage
(:mod:`~hardneg_kit.readings.pipeline`), how numbers read (:mod:`~hardneg_kit.readings.text`)
and clean notebook output (:mod:`~hardneg_kit.readings.quiet`). Every name is importable from
this package.

Example:
    >>> from hardneg_kit.readings import pair_sentence
    >>> row = {"a": "bm25", "b": "random", "mean a": 0.76, "mean b": 0.42, "delta": 0.34,
    ...        "low": 0.32, "high": 0.36, "p holm": 1e-9}
    >>> pair_sentence(row, who="the reference run")[:56]
    'In the reference run, bm25 beat random by +0.340 MRR@10 '
"""

from hardneg_kit.experiment import BASE, BASELINE, FUSION
from hardneg_kit.readings.pairs import agreement, agreement_sentence, pair_sentence, pairwise_tests
from hardneg_kit.readings.pipeline import (
    pipeline_sentence,
    pipeline_table,
    protagonists_sentence,
    separation_table,
)
from hardneg_kit.readings.quiet import quiet
from hardneg_kit.readings.reference import (
    REFERENCE_DIR,
    compare_with_reference,
    load_reference,
    reference_agreement,
    side_by_side,
    why_they_differ,
)
from hardneg_kit.readings.text import ALPHA, rank_sentence
from hardneg_kit.readings.thread import (
    FILTERED,
    NOTEBOOK_CONTENDERS,
    PUBLISHED,
    budget_readings,
    budget_sentence,
    mine_for_training,
    negatives_fingerprint,
    notebook_contenders,
    trained_contenders,
    training_data,
    training_examples,
)
from hardneg_kit.statistics import fmt_p

__all__ = [
    "ALPHA", "BASE", "BASELINE", "FILTERED", "FUSION", "NOTEBOOK_CONTENDERS", "PUBLISHED",
    "REFERENCE_DIR", "agreement", "agreement_sentence", "budget_readings", "budget_sentence",
    "compare_with_reference", "fmt_p", "load_reference", "mine_for_training",
    "negatives_fingerprint", "notebook_contenders", "pair_sentence", "pairwise_tests",
    "pipeline_sentence", "pipeline_table", "protagonists_sentence", "quiet", "rank_sentence",
    "reference_agreement", "separation_table", "side_by_side", "trained_contenders",
    "training_data", "training_examples", "why_they_differ",
]
