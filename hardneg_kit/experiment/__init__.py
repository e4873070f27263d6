"""The experiment: cross-encoders fine-tuned on each kind of negative, same budget, compared.

The regime is the paper's: a re-ranker that already re-ranks well is fine-tuned on each kind of
negative. Offline, that re-ranker is the kit's **base** (:func:`base_reranker`: the whole packaged
MiniLM backbone trained once on pseudo-queries of the training corpus, no query or judgement),
or any cross-encoder named with ``cross_encoder=``.

Contenders (:func:`default_contenders`; more in :func:`more_contenders`):

- **first-stage**: BM25, each dense model and their fusion, evaluated as they are;
- **no fine-tuning (base)**: the base re-ranking the fused candidates;
- one **fine-tuned** model per kind of negative (random, BM25, the best single model chosen on
  dev, the reference method and the kit's readings of it), each started from the base;
- ``X + first stage``: each re-ranker's score interpolated with the first stage's
  (:mod:`hardneg_kit.interpolation`), the weight chosen on dev and then fixed.

Budget (:func:`budget_rule`): every fine-tuned contender trains on ``profile.train_examples``
n-tuple rows (a query, its positive, up to ``profile.num_negatives`` negatives) for the same
optimizer steps and the same pairs per step, with the same loss (binary cross-entropy by default),
learning rates and seeds; a contender with fewer mined rows repeats them and its unique rows are
reported. Each model re-ranks the top ``profile.rerank_depth`` of the fused first stage for the
test queries of ``aws-cli`` (``profile.eval_queries``) and, without further training, of
``azure-cli`` and ``python-faq`` (``profile.transfer_queries``), and for ``profile.dev_queries``
dev queries of ``aws-cli``, where the interpolation weight and the best single model are chosen.

Significance (:func:`summarize`): each query's metric averaged over seeds, then a paired t-test
over queries against the random-negative model and against the fused first stage, Holm-corrected
over the rows of one table, with 95% paired bootstrap intervals of the difference.

Trained models and their re-ranked runs are cached under ``$HARDNEG_CACHE/experiment``, keyed by
the configuration and the data, so an interrupted run resumes and a second run is fast.

The code, one question per module: who competes (:mod:`~hardneg_kit.experiment.contenders`), on
what data (:mod:`~hardneg_kit.experiment.datasets`), from which start
(:mod:`~hardneg_kit.experiment.base`), trained how (:mod:`~hardneg_kit.experiment.train`),
re-ranking what (:mod:`~hardneg_kit.experiment.rerank`), compared how
(:mod:`~hardneg_kit.experiment.summary`), in what order (:mod:`~hardneg_kit.experiment.run`),
written and read back how (:mod:`~hardneg_kit.experiment.result`,
:mod:`~hardneg_kit.experiment.saved`). Every name is importable from this package.

Example:
    >>> from hardneg_kit.experiment import run_experiment
    >>> result = run_experiment("smoke", output_dir="results/smoke")  # doctest: +SKIP
    >>> print(result.markdown())  # doctest: +SKIP
"""

from hardneg_kit.experiment.base import base_reranker, describe_base, pseudo_queries
from hardneg_kit.experiment.contenders import (
    BASE,
    BASELINE,
    BEST_SINGLE,
    CANDIDATES,
    ENSEMBLE_STRATEGIES,
    EVAL_DATASETS,
    EXPERIMENT_METRICS,
    FIRST_STAGE,
    FUSION,
    TRAIN_DATASET,
    WITH_FIRST_STAGE,
    Contender,
    candidates_spec,
    default_contenders,
    first_stage_specs,
    more_contenders,
    select_contenders,
    with_models,
)
from hardneg_kit.experiment.datasets import (
    EvalSet,
    best_single_model,
    check_splits,
    dataset_label,
    dataset_labels,
    embedded_corpora,
    eval_set,
    query_cap,
    sampled_dataset,
)
from hardneg_kit.experiment.rerank import interpolate_all, rerank_cached
from hardneg_kit.experiment.result import (
    ExperimentResult,
    budget_rule,
    budget_table,
    recipe,
    write_results,
)
from hardneg_kit.experiment.run import run_experiment
from hardneg_kit.experiment.saved import (
    compare_saved,
    load_saved_runs,
    load_tables,
    read_payload,
    saved_qrels,
    saved_runs,
)
from hardneg_kit.experiment.summary import format_table, summarize, verdict
from hardneg_kit.experiment.train import (
    DEFAULT_CONFIG,
    TrainingConfig,
    in_batch_pairs,
    train_contender,
    training_dataset,
    warm_start_dir,
)

__all__ = [
    "BASE", "BASELINE", "BEST_SINGLE", "CANDIDATES", "DEFAULT_CONFIG", "ENSEMBLE_STRATEGIES",
    "EVAL_DATASETS", "EXPERIMENT_METRICS", "FIRST_STAGE", "FUSION", "TRAIN_DATASET",
    "WITH_FIRST_STAGE",
    "Contender", "EvalSet", "ExperimentResult", "TrainingConfig", "base_reranker",
    "best_single_model", "budget_rule", "budget_table", "candidates_spec", "check_splits",
    "compare_saved", "dataset_label", "dataset_labels", "default_contenders", "describe_base",
    "embedded_corpora", "eval_set", "first_stage_specs", "format_table", "in_batch_pairs",
    "interpolate_all",
    "load_saved_runs", "load_tables", "more_contenders", "pseudo_queries", "query_cap",
    "read_payload", "recipe", "rerank_cached", "run_experiment", "sampled_dataset", "saved_qrels",
    "saved_runs", "select_contenders", "summarize", "train_contender",
    "training_dataset", "verdict", "warm_start_dir", "with_models", "write_results",
]
