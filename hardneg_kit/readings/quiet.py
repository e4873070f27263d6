"""Clean notebook output: the readings are printed, the libraries' chatter is not.

Example:
    >>> from hardneg_kit.readings import quiet
    >>> quiet()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings

from hardneg_kit.progress import all_bars_off


def quiet() -> None:
    """Clean notebook output: no progress bars, no Numba type-safety warnings from ranx, library
    loggers at ERROR (the notebooks print the readings instead: e.g.
    :func:`hardneg_kit.readings.budget_sentence` says which rows were repeated).

    Progress bars: :func:`hardneg_kit.progress.all_bars_off` (every ``tqdm`` bar created
    afterwards in this process disabled, and transformers', datasets' and the hub's own switches
    off), and transformers' Trainer draws tqdm instead of its HTML table in a notebook.
    """
    all_bars_off()
    try:  # in a notebook, transformers' Trainer shows an HTML progress table instead of tqdm
        import transformers.trainer
        from transformers.trainer_callback import ProgressCallback

        transformers.trainer.DEFAULT_PROGRESS_CALLBACK = ProgressCallback
    except ImportError:  # pragma: no cover
        pass
    try:
        from numba.core.errors import NumbaTypeSafetyWarning

        warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)
    except ImportError:  # pragma: no cover - numba comes with ranx
        pass
    warnings.filterwarnings("ignore", category=FutureWarning)
    _loggers_at_error()


def _loggers_at_error() -> None:
    """The root logger and the libraries' loggers (transformers' own verbosity too) at ERROR."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    logging.basicConfig(level=logging.ERROR)
    for name in ("hardneg_kit", "sentence_transformers", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)
