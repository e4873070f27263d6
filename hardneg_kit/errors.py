"""The kit's errors: one base class, one subclass per place a user's input can go wrong.

Every error the kit raises *on purpose* (bad data, an unknown strategy or model, an output that
cannot be written, an unusable cache) derives from :class:`HardnegError`, whose message is one
complete line saying what is wrong and what to do. The command line prints exactly these (and
missing or unreadable files) as ``error: <message>`` with exit code 2; anything else is a bug and
keeps its traceback.

``HardnegError`` derives from :class:`ValueError`, so code that caught ``ValueError`` before keeps
working.

Example:
    >>> from hardneg_kit.errors import HardnegError, MiningError
    >>> issubclass(MiningError, HardnegError) and issubclass(MiningError, ValueError)
    True
"""

from __future__ import annotations


class HardnegError(ValueError):
    """A user-facing error of the kit: one line naming the input and what to do."""


class MiningError(HardnegError):
    """Bad mining input (unknown strategy, empty split, missing positives): one clear line."""
