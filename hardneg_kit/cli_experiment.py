"""``python -m hardneg_kit experiment``: fine-tune a cross-encoder per kind of negative, compare.

Example:
    $ python -m hardneg_kit experiment --profile workshop
    $ python -m hardneg_kit experiment --profile full --output results/full
    $ python -m hardneg_kit experiment --profile full --split dev --only "ensemble-pca + 50% random"
    $ python -m hardneg_kit compare results/full --baseline bm25

Writes ``results.json``, ``results.md``, every TREC run and training log and a plot under
``--output`` (default ``results/<profile>``) and prints the markdown tables. Trained models are
cached (see :mod:`hardneg_kit.experiment`), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse


def cmd_experiment(args: argparse.Namespace) -> int:
    from hardneg_kit.experiment import (
        EVAL_DATASETS,
        TRAIN_DATASET,
        TrainingConfig,
        default_contenders,
        run_experiment,
        variant_contenders,
    )
    from hardneg_kit.profiles import get_profile

    profile = get_profile(args.profile)
    contenders = default_contenders()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        everything = contenders + variant_contenders()
        known = {c.name for c in everything}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise ValueError(f"Unknown contender {unknown[0]!r}; choose from: "
                             f"{', '.join(sorted(known))}.")
        contenders = [c for c in everything if c.name in wanted or c.name == "random"]
    config = TrainingConfig(loss=args.loss, learning_rate=args.learning_rate)
    # only the training dataset has a dev split; the transfer sets are test-only
    datasets = EVAL_DATASETS if args.split == "test" else (TRAIN_DATASET,)
    suffix = "" if args.split == "test" else f"-{args.split}"
    output = args.output or f"results/{profile.name}{suffix}"
    result = run_experiment(profile, output, contenders, config, datasets, split=args.split)
    print(result.markdown())
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from hardneg_kit.evaluation import markdown_table
    from hardneg_kit.experiment import compare_saved, format_table

    names = [n.strip() for n in (args.contenders or "").split(",") if n.strip()] or None
    for d, table in compare_saved(args.results, args.baseline, names).items():
        print(f"\n### {d}: against {args.baseline}\n")
        print(markdown_table(format_table(table, baseline=args.baseline)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from hardneg_kit.cli import add_profile_argument
    from hardneg_kit.experiment import TrainingConfig
    from hardneg_kit.training import LOSSES

    defaults = TrainingConfig()
    p = subparsers.add_parser(
        "experiment",
        help="fine-tune a cross-encoder on each kind of negative and compare them",
        description="Train every contender with the same budget, re-rank the test sets of "
        "aws-cli, azure-cli and python-faq, and compare against random negatives.",
    )
    add_profile_argument(p)
    p.add_argument("--output", default=None, help="results folder (default results/<profile>)")
    p.add_argument("--loss", choices=LOSSES, default=defaults.loss)
    p.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    p.add_argument("--only", default=None, metavar="NAMES",
                   help="comma-separated contender names, including the variants of "
                   "variant_contenders() (random is always kept: the baseline)")
    p.add_argument("--split", choices=("test", "dev"), default="test",
                   help="evaluate on aws-cli dev (to try variants; output results/<profile>-dev) "
                   "or on the test sets (default)")
    p.set_defaults(handler=cmd_experiment)

    c = subparsers.add_parser(
        "compare",
        help="re-test saved experiment results against another baseline",
        description="Read results/<profile>/ (results.json and the TREC runs) and test every "
        "cross-encoder contender (not the first-stage runs), or those named, against "
        "BASELINE: paired t-test over (seed, query) pairs, Holm-Bonferroni corrected.",
    )
    c.add_argument("results", help="a folder written by 'experiment', e.g. results/full")
    c.add_argument("--baseline", default="bm25", help="contender to test against (default bm25)")
    c.add_argument("--contenders", default=None, metavar="NAMES",
                   help="comma-separated contender names (default: every cross-encoder)")
    c.set_defaults(handler=cmd_compare)
