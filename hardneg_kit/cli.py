"""Command line: ``python -m hardneg_kit <command> ...`` runs each step without a notebook.

Commands are registered by the modules that own them (``cli_*.register(subparsers)``); each
handler returns an exit code. Bad input ends in one clear line on stderr and exit code 2:
an option out of range is refused by argparse, naming it (the ``type=`` functions of
:mod:`hardneg_kit.cli_args`); any ``--output`` is checked for a writable place before the
handler runs (:func:`hardneg_kit.cli_args.check_output`; handlers check the exact kind, file or
folder, themselves); an unusable ``$HARDNEG_CACHE`` is a :class:`hardneg_kit.cache.CacheError`.

Example:
    $ python -m hardneg_kit --help
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from hardneg_kit import cli_corpus, cli_demo, cli_experiment, cli_mining, cli_retrieval
from hardneg_kit.cli_args import check_output
from hardneg_kit.profiles import ENV_VAR, PROFILES

COMMAND_MODULES = [cli_corpus, cli_retrieval, cli_mining, cli_demo, cli_experiment]


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with the kit's one-line errors (subcommand parsers inherit the class).

    ``error: argument --depth: must be an integer >= 1, got '0' (see python -m hardneg_kit mine
    --help)`` rather than a usage block and argparse's own exit.
    """

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{message} (see {self.prog} --help)")


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    """``--profile`` shared by every command; it also sets ``$HARDNEG_PROFILE`` for the run."""
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help=f"run size (default: ${ENV_VAR} or 'workshop')",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m hardneg_kit",
        description="Ensemble hard-negative mining for cross-encoder re-rankers.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # The kit says what it does; libraries speak up only for warnings (-v shows everything).
    logging.getLogger("hardneg_kit").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if getattr(args, "profile", None):
        os.environ[ENV_VAR] = args.profile
    try:
        if getattr(args, "output", None):  # before any work: nothing is computed to be lost
            check_output(args.output, getattr(args, "output_kind", "any"))
        return int(args.handler(args) or 0)
    except (UserError, ValueError, FileNotFoundError) as exc:
        # Our own errors (DataError, ModelNotAvailable, ...) are ValueErrors with a full message.
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
