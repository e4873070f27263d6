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


class DataError(HardnegError):
    """Invalid dataset input; the message names the file, the line and the id, and the fix."""


class MiningError(HardnegError):
    """Bad mining input (unknown strategy, empty split, missing positives): one clear line."""


class RetrievalError(HardnegError):
    """A retriever that cannot be built or run as asked (unknown spec, empty corpus, bad file)."""


class EvaluationError(HardnegError):
    """Runs and judgements that cannot be compared (no queries, unknown baseline or test)."""


class TrainingError(HardnegError):
    """A training setting or dataset that does not fit the loss (unknown loss, wrong columns)."""


class ModelError(HardnegError):
    """A model setting that does not fit the model (pooling, number of layers)."""


class ModelNotAvailable(ModelError):
    """A model spec that cannot be loaded here; the message says what to install or do."""


class OutputError(HardnegError):
    """An output path that cannot be written; the message names it and what to do."""


class CacheError(HardnegError):
    """The cache root cannot be used; the message names the path and what to do."""


class ExperimentError(HardnegError):
    """An experiment asked for what it cannot do (unknown or duplicate contender, missing test)."""


class UsageError(HardnegError):
    """A command line that argparse refuses (the kit's one-line form of its message)."""


class ProfileError(HardnegError):
    """An unknown run-size profile name."""
