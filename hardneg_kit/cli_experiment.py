"""``python -m hardneg_kit experiment``: fine-tune a cross-encoder per kind of negative, compare.

Example:
    $ python -m hardneg_kit experiment --profile workshop
    $ python -m hardneg_kit experiment --profile full --output results/full
    $ python -m hardneg_kit experiment --profile full --split dev --contenders "semi-hard,fusion"
    $ python -m hardneg_kit experiment --profile paper \
        --cross-encoder cross-encoder/ms-marco-MiniLM-L6-v2
    $ python -m hardneg_kit experiment --dataset ~/my-docs --eval aws-cli --profile workshop
    $ python -m hardneg_kit experiment --profile workshop --base-examples 1200
    $ python -m hardneg_kit experiment --profile full --engine ray --ray-address ray://head:10001
    $ python -m hardneg_kit compare results/full --baseline bm25

Writes ``results.json``, ``results.md``, every TREC run and training log and a plot under
``--output`` (default ``results/<profile>`` for the shipped aws-cli experiment,
``results/<dataset>/<profile>`` for any other ``--dataset``) and prints the markdown tables.
Trained models are cached (see :mod:`hardneg_kit.experiment`), so an interrupted run resumes
where it stopped. ``--engine ray`` first encodes every corpus the run embeds on Ray Data (see
:mod:`hardneg_kit.cli_engine`); everything after reads the same embeddings cache.
"""

from __future__ import annotations

import argparse


def cmd_experiment(args: argparse.Namespace) -> int:
    from hardneg_kit.cli_args import check_output
    from hardneg_kit.cli_engine import check_engine, mining_models, precompute
    from hardneg_kit.experiment import (
        EVAL_DATASETS,
        TRAIN_DATASET,
        TrainingConfig,
        dataset_label,
        default_contenders,
        embedded_corpora,
        run_experiment,
        select_contenders,
    )
    from hardneg_kit.mining import DEFAULT_MODELS
    from hardneg_kit.profiles import get_profile

    check_engine(args)

    overrides = {} if args.base_examples is None else {"base_examples": args.base_examples}
    profile = get_profile(args.profile, **overrides)
    models = _names(args.models) or list(DEFAULT_MODELS)
    names = _names(args.contenders)
    contenders = select_contenders(names, models) if names else default_contenders(models)
    config = TrainingConfig(loss=args.loss, learning_rate=args.learning_rate)
    shipped = args.dataset == TRAIN_DATASET
    # the shipped experiment also evaluates on the other shipped sets, unless --eval says else;
    # only the training dataset has a dev split, so a dev run evaluates it alone
    others = _names(args.eval) if args.eval is not None else (
        list(EVAL_DATASETS[1:]) if shipped else [])
    datasets = [args.dataset, *others] if args.split == "test" else [args.dataset]
    suffix = "" if args.split == "test" else f"-{args.split}"
    folder = "results" if shipped else f"results/{dataset_label(args.dataset)}"
    output = check_output(args.output or f"{folder}/{profile.name}{suffix}", "folder")
    if args.engine == "ray":  # the models of the first stage and the ensemble, and the guard's
        precompute(args, mining_models("ensemble-pca", models),
                   *embedded_corpora(datasets, profile, args.split))
    result = run_experiment(profile, output, contenders, config, datasets, split=args.split,
                            cross_encoder=args.cross_encoder, models=models)
    print(result.markdown())
    return 0


def _names(text: str | None) -> list[str]:
    return [w.strip() for w in (text or "").split(",") if w.strip()]


def cmd_compare(args: argparse.Namespace) -> int:
    from hardneg_kit.evaluation import markdown_table
    from hardneg_kit.experiment import compare_saved, format_table

    names = _names(args.contenders) or None
    if args.reference:
        from hardneg_kit.readings import agreement_sentence, reference_agreement

        dataset, table = reference_agreement(args.results, args.reference, names)
        print(f"### {args.results} against the reference {args.reference}: {dataset} MRR@10, "
              "every pair tested in each run (paired t-test over queries, Holm over the pairs)"
              "\n")
        print(markdown_table(table))
        print("\n" + agreement_sentence(table).replace("Your run", "This run"))
        return 0
    for d, table in compare_saved(args.results, args.baseline, names).items():
        print(f"\n### {d}: against {args.baseline}\n")
        print(markdown_table(format_table(table)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    _add_experiment(subparsers)
    _add_compare(subparsers)


def _add_experiment(subparsers: argparse._SubParsersAction) -> None:
    from hardneg_kit.cli_args import NON_NEGATIVE_INT, POSITIVE_FLOAT, add_profile_argument
    from hardneg_kit.cli_engine import add_engine_arguments
    from hardneg_kit.experiment import TrainingConfig
    from hardneg_kit.training import LOSSES

    defaults = TrainingConfig()
    p = subparsers.add_parser(
        "experiment",
        help="fine-tune a cross-encoder on each kind of negative and compare them",
        description="Build the base re-ranker, fine-tune it on each kind of negative with the "
        "same budget, re-rank the test set of --dataset (and of the --eval datasets) alone and "
        "interpolated with the first stage, and compare against random negatives and the "
        "fused first stage.",
    )
    add_profile_argument(p)
    p.add_argument("--dataset", default="aws-cli", metavar="NAME|FOLDER",
                   help="the dataset to train on (its train split), choose on (dev) and "
                   "evaluate on (test): a shipped name or a BEIR folder (default aws-cli)")
    p.add_argument("--eval", default=None, metavar="NAMES",
                   help="comma-separated further datasets (names or folders) evaluated on their "
                   "test split without training; default: azure-cli,python-faq for aws-cli, "
                   "none otherwise")
    p.add_argument("--models", default=None, metavar="MODELS",
                   help="comma-separated bi-encoders of the first stage and the ensemble "
                   "(default: the three packaged models)")
    p.add_argument("--output", default=None,
                   help="results folder (default results/<profile>, or "
                   "results/<dataset>/<profile> for another --dataset)")
    p.add_argument("--loss", choices=LOSSES, default=defaults.loss)
    p.add_argument("--learning-rate", type=POSITIVE_FLOAT, default=defaults.learning_rate)
    p.add_argument("--contenders", default=None, metavar="NAMES",
                   help="comma-separated contender names of default_contenders() and "
                   "more_contenders() (random, the fused first stage and the base are always "
                   "kept)")
    p.add_argument("--cross-encoder", default="minilm-l6", metavar="MODEL",
                   help="the start every contender is fine-tuned from: minilm-l6 (the kit builds "
                   "its base re-ranker from the packaged backbone) or an existing cross-encoder "
                   "(a local folder or a Hugging Face id)")
    p.add_argument("--base-examples", type=NON_NEGATIVE_INT, default=None, metavar="N",
                   help="pseudo-queries the base re-ranker is built from (default: the "
                   "profile's; 0: no base, contenders start from a fresh head)")
    p.add_argument("--split", choices=("test", "dev"), default="test",
                   help="evaluate on aws-cli dev (to try variants; output results/<profile>-dev) "
                   "or on the test sets (default)")
    add_engine_arguments(p)
    p.set_defaults(handler=cmd_experiment)


def _add_compare(subparsers: argparse._SubParsersAction) -> None:
    c = subparsers.add_parser(
        "compare",
        help="re-test saved experiment results against another baseline",
        description="Read results/<profile>/ (results.json and the TREC runs) and test every "
        "cross-encoder contender (not the first-stage runs), or those named, against "
        "BASELINE: per-query metrics averaged over seeds, paired t-test over queries, "
        "Holm-Bonferroni corrected, 95% bootstrap intervals.",
    )
    c.add_argument("results", help="a folder written by 'experiment', e.g. results/full")
    c.add_argument("--baseline", default="bm25", help="contender to test against (default bm25)")
    c.add_argument("--contenders", default=None, metavar="NAMES",
                   help="comma-separated contender names (default: every cross-encoder)")
    c.add_argument("--reference", default=None, metavar="FOLDER",
                   help="instead: test every pair of the contenders both runs share, in this "
                   "run and in a reference run (e.g. results/full), and say which of the "
                   "reference's orderings this run reproduces, flips or leaves open")
    c.set_defaults(handler=cmd_compare)
