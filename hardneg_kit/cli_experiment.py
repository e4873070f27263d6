"""``python -m hardneg_kit experiment``: fine-tune a cross-encoder per kind of negative, compare.

Example:
    $ python -m hardneg_kit experiment --profile workshop
    $ python -m hardneg_kit experiment --profile full --output results/full

Writes ``results.json``, ``results.md``, every TREC run and training log and a plot under
``--output`` (default ``results/<profile>``) and prints the markdown tables. Trained models are
cached (see :mod:`hardneg_kit.experiment`), so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse


def cmd_experiment(args: argparse.Namespace) -> int:
    from hardneg_kit.experiment import TrainingConfig, default_contenders, run_experiment
    from hardneg_kit.profiles import get_profile

    profile = get_profile(args.profile)
    contenders = default_contenders()
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        known = {c.name for c in contenders}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise ValueError(f"Unknown contender {unknown[0]!r}; choose from: "
                             f"{', '.join(sorted(known))}.")
        contenders = [c for c in contenders if c.name in wanted or c.name == "random"]
    config = TrainingConfig(loss=args.loss, learning_rate=args.learning_rate)
    output = args.output or f"results/{profile.name}"
    result = run_experiment(profile, output, contenders, config)
    print(result.markdown())
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
                   help="comma-separated contender names (random is always kept: the baseline)")
    p.set_defaults(handler=cmd_experiment)
