"""How a number reads: the significance level, and values ranked in one sentence (p-values are
written by :func:`hardneg_kit.statistics.fmt_p`).

Example:
    >>> import pandas as pd
    >>> from hardneg_kit.readings.text import rank_sentence
    >>> rank_sentence(pd.Series({"bm25": 0.76, "random": 0.42}), "MRR@10")
    'MRR@10, highest (better) first: `bm25` (0.760) > `random` (0.420).'
"""

from __future__ import annotations

import pandas as pd

#: significance level of every reading
ALPHA = 0.05


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
