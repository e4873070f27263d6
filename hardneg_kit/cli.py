"""Command line: ``python -m hardneg_kit <command> ...`` runs each step without a notebook.

Commands are registered by the modules that own them (``cli_*.register(subparsers)``), each
handler is a ``cmd_*`` function returning an exit code, and the arguments they share (``--profile``,
the numeric option types, :func:`~hardneg_kit.cli_args.check_output`) live in
:mod:`hardneg_kit.cli_args`; no command module imports this one.

Bad input ends in one clear line on stderr and exit code 2: an option out of range is refused by
argparse, naming it; any ``--output`` is checked for a writable place before the handler runs
(handlers check the exact kind, file or folder, themselves); every other error the kit raises on
purpose is a :class:`hardneg_kit.errors.HardnegError` (bad data, unknown strategy or model, an
unusable ``$HARDNEG_CACHE``, ...), and a missing or unreadable file is a file error. Anything else
is a bug and keeps its traceback. ``--profile`` is resolved once here and passed on in ``args``.

Example:
    $ python -m hardneg_kit --help
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from hardneg_kit import cli_corpus, cli_demo, cli_experiment, cli_mining, cli_retrieval
from hardneg_kit.cli_args import Parser, check_output
from hardneg_kit.errors import HardnegError

COMMAND_MODULES = [cli_corpus, cli_retrieval, cli_mining, cli_demo, cli_experiment]

#: errors printed as one line (exit code 2): the kit's own and files that cannot be read
USER_ERRORS = (
    HardnegError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
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
    """Parse, resolve the profile, check the output, run the handler; 2 on a user error."""
    from hardneg_kit.profiles import get_profile

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except HardnegError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # The kit says what it does; libraries speak up only for warnings (-v shows everything).
    logging.getLogger("hardneg_kit").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        if hasattr(args, "profile"):  # the flag, else $HARDNEG_PROFILE, else workshop
            args.profile = get_profile(args.profile).name
        if getattr(args, "output", None):  # before any work: nothing is computed to be lost
            check_output(args.output, getattr(args, "output_kind", "any"))
        return int(args.handler(args) or 0)
    except USER_ERRORS as exc:
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
