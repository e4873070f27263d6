"""How a number reads: p-values, the significance level, and values ranked in one sentence.

Example:
    >>> from hardneg_kit.readings.text import fmt_p
    >>> fmt_p(3e-15), fmt_p(0.0123)
    ('< 1e-12', '0.012')
"""

from __future__ import annotations

import pandas as pd

#: significance level of every reading
ALPHA = 0.05


def fmt_p(p: float) -> str:
    """A p-value for reading: two significant digits, ``< 1e-12`` below that (a t-test's
    p-value underflows to 0 long before it means anything more)."""
    return "n/a" if pd.isna(p) else ("< 1e-12" if p < 1e-12 else f"{p:.2g}")


def eq_p(p: float) -> str:
    """A p-value after "p": ``= 0.012``, or ``< 1e-12`` (no "=" before a bound)."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def rank_sentence(values: pd.Series, what: str, higher: str = "better") -> str:
    """``values`` (name -> number) in order, as a sentence: "a (0.9) > b (0.8) = c (0.8)"; values
    equal at three decimals are joined by ``=``, never ordered."""
    order = values.sort_values(ascending=False, kind="stable")
    chain = ""
    for i, (n, v) in enumerate(order.items()):
        if i:
            chain += " = " if f"{v:.3f}" == f"{order.iloc[i - 1]:.3f}" else " > "
        chain += f"`{n}` ({v:.3f})"
    return f"{what}, highest ({higher}) first: {chain}."
