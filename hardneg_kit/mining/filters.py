"""Positive-aware filters (NV-Retriever, arXiv 2407.15831): step 2 of selection.

In a strategy's own score space, with ``pos`` the lowest score of the query's positives:

================  ==========================================================================
``max_relative``  drop candidates above ``pos - |pos| * (1 - max_relative)`` (``relative:0.95``)
``min_relative``  drop candidates below ``pos - |pos| * (1 - min_relative)``
``margin``        drop candidates above ``pos - margin``
``max_score``     drop candidates above an absolute cap (``max:0.7``)
``min_score``     drop candidates below an absolute floor (``min:0.2``)
================  ==========================================================================

A positive that the retriever did not return has no score (``nan``): a positive-relative filter
then drops every candidate. ``None`` turns a filter off.

Example:
    >>> Filters.parse(["relative:0.95", "max:0.7"]).max_score
    0.7
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hardneg_kit.errors import MiningError

#: the fields of :class:`Filters`, as :func:`hardneg_kit.mining.mine` takes them
FILTER_FIELDS = ("max_relative", "min_relative", "margin", "max_score", "min_score")


@dataclass(frozen=True)
class Filters:
    """Positive-aware filters in a strategy's score space (NV-Retriever); ``None`` = off.

    >>> Filters.parse(["relative:0.95", "max:0.7"])
    Filters(max_relative=0.95, min_relative=None, margin=None, max_score=0.7, min_score=None)
    """

    max_relative: float | None = None
    min_relative: float | None = None
    margin: float | None = None
    max_score: float | None = None
    min_score: float | None = None

    _NAMES = {
        "relative": "max_relative",
        "max_relative": "max_relative",
        "min_relative": "min_relative",
        "margin": "margin",
        "max": "max_score",
        "max_score": "max_score",
        "min": "min_score",
        "min_score": "min_score",
    }

    @classmethod
    def parse(cls, specs: Sequence[str]) -> Filters:
        """``["relative:0.95", "margin:0.05", "max:0.7", "min_relative:0.6"]`` -> Filters."""
        values: dict[str, float] = {}
        for spec in specs:
            name, _, value = spec.partition(":")
            if name not in cls._NAMES or not value:
                raise MiningError(
                    f"Bad filter {spec!r}: use relative:<x>, min_relative:<x>, margin:<x>, "
                    "max:<x> or min:<x>, e.g. relative:0.95."
                )
            try:
                values[cls._NAMES[name]] = float(value)
            except ValueError:
                raise MiningError(f"Bad filter {spec!r}: {value!r} is not a number.") from None
        return cls(**values)

    @property
    def active(self) -> bool:
        return any(getattr(self, f) is not None for f in self.__dataclass_fields__)

    def keep(self, scores: np.ndarray, positive: float) -> dict[str, np.ndarray]:
        """Boolean masks of candidates each filter keeps (positive = lowest positive score)."""
        masks: dict[str, np.ndarray] = {}
        known = not math.isnan(positive)
        if self.max_relative is not None:
            thr = positive - abs(positive) * (1 - self.max_relative)
            masks["max_relative"] = scores <= thr if known else np.zeros_like(scores, bool)
        if self.min_relative is not None:
            thr = positive - abs(positive) * (1 - self.min_relative)
            masks["min_relative"] = scores >= thr if known else np.zeros_like(scores, bool)
        if self.margin is not None:
            thr = positive - self.margin
            masks["margin"] = scores <= thr if known else np.zeros_like(scores, bool)
        if self.max_score is not None:
            masks["max_score"] = scores <= self.max_score
        if self.min_score is not None:
            masks["min_score"] = scores >= self.min_score
        return masks


#: every filter off (the default of :func:`~hardneg_kit.mining.selection.select_negatives`)
NO_FILTERS = Filters()
