"""Progress bars off: one switch for the libraries' own bars, within a block or for good.

The libraries the kit drives draw their own bars (transformers: weight loading and shard
writing; datasets: ``map``; the hub: downloads), each behind its own switch. There is one way to
turn them off here, in two scopes:

- :func:`library_bars_off`, a context manager: the libraries' switches off inside the block and
  restored after it, so a loop can show one bar of its own instead of dozens of inner ones
  (:func:`hardneg_kit.experiment.run_experiment`);
- :func:`all_bars_off`, for the rest of the process (a notebook's clean output,
  :func:`hardneg_kit.readings.quiet`): the same switches, and every ``tqdm`` bar created
  afterwards disabled, since libraries pass ``disable=`` explicitly and neither ``TQDM_DISABLE``
  nor their own switches reach all of them.

Example:
    >>> from hardneg_kit.progress import library_bars_off
    >>> with library_bars_off():
    ...     pass  # load models, train: no inner bars
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: library -> (the module of its switch, is-enabled, enable, disable) as attribute names
_SWITCHES = {
    "transformers": ("transformers.utils.logging", "is_progress_bar_enabled",
                     "enable_progress_bar", "disable_progress_bar"),
    "datasets": ("datasets.utils", "are_progress_bars_disabled", "enable_progress_bars",
                 "disable_progress_bars"),
    "huggingface_hub": ("huggingface_hub.utils", "are_progress_bars_disabled",
                        "enable_progress_bars", "disable_progress_bars"),
}


def _switch(library: str) -> tuple[Callable[[], bool], Callable[[], None], Callable[[], None]]:
    """(is enabled, enable, disable) of one library's progress bars."""
    module_name, probe, enable, disable = _SWITCHES[library]
    module = importlib.import_module(module_name)
    check = getattr(module, probe)
    enabled = check if probe.startswith("is_") else (lambda: not check())
    return enabled, getattr(module, enable), getattr(module, disable)


def set_library_bars(enabled: bool) -> dict[str, bool]:
    """Turn every installed library's own bars on or off; return which were on before.

    Example:
        >>> set_library_bars(False)  # doctest: +SKIP
        {'transformers': True, 'datasets': True, 'huggingface_hub': True}
    """
    before = {}
    for library in _SWITCHES:
        try:
            is_enabled, enable, disable = _switch(library)
        except ImportError:  # pragma: no cover - every library comes with the kit
            continue
        before[library] = is_enabled()
        (enable if enabled else disable)()
    return before


@contextmanager
def library_bars_off() -> Iterator[None]:
    """The libraries' own bars off inside the block; those that were on are turned on after."""
    before = set_library_bars(False)
    try:
        yield
    finally:
        for library, was_on in before.items():
            if was_on:
                _switch(library)[1]()


def all_bars_off() -> None:
    """For the rest of the process: the libraries' bars off and every later ``tqdm`` disabled."""
    set_library_bars(False)
    _no_tqdm()


def _no_tqdm() -> None:
    """Every ``tqdm`` created from now on is disabled (patched once, whatever the caller)."""
    import tqdm.std

    init = tqdm.std.tqdm.__init__
    if getattr(init, "_hardneg_quiet", False):
        return

    def quiet_init(self, *args, **kwargs):
        kwargs["disable"] = True
        init(self, *args, **kwargs)

    quiet_init._hardneg_quiet = True
    tqdm.std.tqdm.__init__ = quiet_init
