"""Command-line values checked before any work: numeric options at parse time, output paths next.

Every numeric option of every command takes one of these ``type=`` functions, so a bad value
stops argparse at once with one line that names the option and the allowed range::

    error: argument --depth: must be an integer >= 1, got '0'
    error: argument --near-copy: must be a number in (0, 1], got '-1'

:func:`check_output` runs before a command loads data or computes anything: an output that cannot
be written (a read-only folder, a file where a folder is needed, an existing folder where a file
is needed) ends in one line, instead of a traceback after the whole computation. Commands call it
on their own ``--output`` with the kind they write; :func:`hardneg_kit.cli.main` also checks any
``--output`` of every command for a writable place before the handler runs.

Example:
    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--depth", type=POSITIVE_INT)
    >>> parser.parse_args(["--depth", "5"]).depth
    5
    >>> count_or_all("all")
    'all'
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from hardneg_kit.errors import OutputError, UsageError

OutputKind = Literal["file", "folder", "any"]


class Parser(argparse.ArgumentParser):
    """argparse with the kit's one-line errors (subcommand parsers inherit the class).

    ``error: argument --depth: must be an integer >= 1, got '0' (see python -m hardneg_kit mine
    --help)`` rather than a usage block and argparse's own exit: a :class:`UsageError`.
    """

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    """``--profile``, the one declaration every command uses.

    Handlers pass ``args.profile`` on explicitly; :func:`hardneg_kit.cli.main` resolves it first
    (``None``: ``$HARDNEG_PROFILE`` or ``workshop``, see :func:`~hardneg_kit.profiles.get_profile`).
    """
    from hardneg_kit.profiles import ENV_VAR, PROFILES

    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help=f"run size (default: ${ENV_VAR} or 'workshop')",
    )



def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers in ``[low, high]`` (``high=None``: no upper bound).

    >>> int_range(1)("3")
    3
    """
    allowed = f">= {low}" if high is None else f"from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be an integer {allowed}, got {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}, got {text!r}")
        return value

    parse.__name__ = f"integer {allowed}"  # argparse names the type in some messages
    return parse


def float_range(
    low: float, high: float, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """An argparse ``type`` accepting finite numbers in an interval (open ends excluded).

    >>> float_range(0, 1, low_open=True)("0.95")
    0.95
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text!r}")
        return value

    parse.__name__ = f"number in {interval}"
    return parse


#: counts: negatives per query, candidates, hits, windows
POSITIVE_INT = int_range(1)
#: ranks to skip
NON_NEGATIVE_INT = int_range(0)
#: seeds: numpy, torch and the kit's per-query generators all take this range
SEED = int_range(0, 2**32 - 1)
#: shares such as ``--random-share``
SHARE = float_range(0.0, 1.0)
#: a cosine threshold or a share of variance: above 0, at most 1
UNIT_INTERVAL = float_range(0.0, 1.0, low_open=True)
#: a significance level
P_VALUE = float_range(0.0, 1.0, low_open=True, high_open=True)
#: a learning rate, a temperature: any finite positive number
POSITIVE_FLOAT = float_range(0.0, math.inf, low_open=True, high_open=True)


def count_or_all(text: str) -> int | Literal["all"]:
    """An argparse ``type``: an integer >= 1, or ``all`` (kept as the string: no cap).

    >>> count_or_all("2000"), count_or_all("ALL")
    (2000, 'all')
    """
    if text.strip().lower() == "all":
        return "all"
    try:
        return POSITIVE_INT(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be an integer >= 1 or 'all', got {text!r}"
        ) from None


count_or_all.__name__ = "integer >= 1 or 'all'"


def check_output(path: str | Path, kind: OutputKind = "file") -> Path:
    """Fail now, in one line, if ``path`` cannot be written as a ``kind``; return it as a Path.

    Args:
        path: the file or folder a command will write (parents are created later).
        kind: ``file`` (must not be an existing folder), ``folder`` (must not be an existing
            file) or ``any`` (only the writable-place check).

    Raises:
        OutputError: the path is the wrong kind, or its nearest existing folder is not writable
            (or is a file).

    >>> check_output("/tmp/negatives/bm25.jsonl")  # doctest: +SKIP
    PosixPath('/tmp/negatives/bm25.jsonl')
    """
    path = Path(path).expanduser()
    if kind == "file" and path.is_dir():
        raise OutputError(f"Output {path} is an existing folder; name a file (in it or elsewhere).")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise OutputError(f"Output {path} is an existing file; name a folder to write into.")
    place = path if path.is_dir() else path.parent
    while not place.exists() and place != place.parent:
        place = place.parent
    if not place.is_dir():
        raise OutputError(f"Cannot write {path}: {place} is a file, not a folder.")
    if not os.access(place, os.W_OK | os.X_OK):
        raise OutputError(
            f"Cannot write {path}: the folder {place} is not writable; choose another --output."
        )
    return path
