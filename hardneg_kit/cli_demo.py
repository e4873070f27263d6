"""``python -m hardneg_kit demo``: the pipeline end to end, printing its tables."""

from __future__ import annotations

import argparse

from hardneg_kit.cli_args import add_profile_argument


def cmd_demo(args: argparse.Namespace) -> int:
    from hardneg_kit.pipeline import run_demo

    print(run_demo(args.profile, args.dataset).markdown())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="retrieve, evaluate and mine end to end; print tables")
    p.add_argument("--dataset", default="aws-cli", help="shipped dataset name or a BEIR folder")
    add_profile_argument(p)
    p.set_defaults(handler=cmd_demo)
