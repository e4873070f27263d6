"""Selection: how a ranked strategy turns each query's candidates into negatives.

The steps, one function each, for every query of a :class:`~hardneg_kit.mining.rankings.Candidates`
(:func:`select_negatives`):

1. :func:`drop_positives_and_copies`: positives and *near-copies* of a positive go (same
   normalized text, or cosine >= ``near_copy`` in the ``guard_model`` space), and so do the
   *lexical twins* of a positive for the query (``lexical_copy``): the tests of
   :mod:`~hardneg_kit.mining.guards`. What is left is the pool that the ``closest`` fallback
   draws from.
2. :func:`apply_filters`: the positive-aware :class:`~hardneg_kit.mining.filters.Filters`.
3. :func:`apply_condition`: a strategy's own test (``ensemble-pca``'s distance conditions).
4. :func:`rank_window`: ``skip_top`` then ``window`` survivors, counted after steps 1-3.
5. :func:`sample`: ``"top"`` keeps the window's order, ``"random"`` shuffles it (seeded per query).
6. :func:`choose_hard`: the first ``num_negatives - random`` of them, or, with a
   ``cross_encoder``, the first that it does not judge relevant (RocketQA denoising); re-sorted
   best first.
7. :func:`fall_back`: a query left with no hard negative takes the ``closest`` remaining
   candidates (ignoring steps 2-4) or ``random`` ones, if ``fallback`` says so.
8. :func:`mix_random`: ``random_share`` of the negatives are uniform random passages.

Fallback (7) runs before the random share (8) so that the random negatives exclude the fallback
ones. Every query ends in a :class:`~hardneg_kit.mining.results.NegativeRow` or in
``MiningResult.skipped`` with the *first* cause met, one of :class:`SkipReason`.

Example:
    >>> sel = Selection(num_negatives=4, skip_top=2, sampling="random")  # doctest: +SKIP
    >>> select_negatives(inputs, rank_bm25(inputs), "bm25", sel).summary()  # doctest: +SKIP
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardneg_kit.errors import MiningError
from hardneg_kit.mining.filters import NO_FILTERS, Filters
from hardneg_kit.mining.guards import (
    GUARD_MODEL,
    LEXICAL_COPY,
    NEAR_COPY,
    Guard,
    Positives,
    random_rows,
)
from hardneg_kit.mining.inputs import MiningInputs
from hardneg_kit.mining.rankings import Candidates
from hardneg_kit.mining.results import MiningResult, NegativeRow

#: ``condition(qid, rows) -> mask``: a strategy's own test of candidate rows (step 3)
Condition = Callable[[str, np.ndarray], np.ndarray]


class SkipReason:
    """Why a query got no negative (the values of ``MiningResult.skipped``); the first cause wins.

    >>> SkipReason.window(10)
    'fewer than 11 candidates survive (skip_top=10)'
    """

    NO_CANDIDATES = "no candidates besides positives and near-copies"
    FILTERED = "filters removed every candidate"
    CONDITIONS = "no candidate met the ensemble conditions"
    DENOISED = "the cross-encoder judged every candidate relevant"
    NOT_FOUND = "no negative found"
    #: ``random``: the corpus holds nothing but the positives and their copies
    NO_PASSAGE = "no passage besides positives and near-copies"

    @staticmethod
    def window(skip_top: int) -> str:
        """Fewer survivors than ``skip_top + 1``: the rank window is empty."""
        return f"fewer than {skip_top + 1} candidates survive (skip_top={skip_top})"


@dataclass
class Selection:
    """How a ranked strategy turns candidates into negatives (the guard of step 1, steps 4-8).

    ``near_copy`` / ``guard_model``: the cosine near-copy test; ``lexical_copy``: the
    lexical-twin test (module docstring); ``None`` turns either off.
    """

    num_negatives: int = 4
    skip_top: int = 0
    window: int | None = None
    sampling: str = "top"
    random_share: float = 0.0
    fallback: str | None = None
    cross_encoder: Any = None
    denoise_threshold: float = 0.5
    near_copy: float | None = NEAR_COPY
    guard_model: str | None = GUARD_MODEL
    lexical_copy: float | None = LEXICAL_COPY
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_negatives < 1:
            raise MiningError(f"num_negatives must be at least 1, got {self.num_negatives}.")
        if self.sampling not in ("top", "random"):
            raise MiningError(f"sampling must be 'top' or 'random', got {self.sampling!r}.")
        if self.fallback not in (None, "closest", "random"):
            raise MiningError(
                f"fallback must be None, 'closest' or 'random', got {self.fallback!r}."
            )
        if not 0.0 <= self.random_share <= 1.0:
            raise MiningError(f"random_share must be in [0, 1], got {self.random_share}.")
        if self.skip_top < 0 or (self.window is not None and self.window < 1):
            raise MiningError("skip_top must be >= 0 and window >= 1.")
        if self.lexical_copy is not None and not 0.0 < self.lexical_copy <= 1.0:
            raise MiningError(
                f"lexical_copy must be in (0, 1] or None, got {self.lexical_copy}."
            )

    @property
    def num_random(self) -> int:
        # half rounds up (not Python's half-to-even): 25% of 2 negatives is one random negative
        return int(math.floor(self.random_share * self.num_negatives + 0.5))


def query_rng(seed: int, qid: str) -> np.random.Generator:
    """A generator for one query that depends only on (seed, query id), not on query order."""
    return np.random.default_rng([seed, zlib.crc32(qid.encode("utf-8"))])


def _denoise(
    sel: Selection, query: str, inputs: MiningInputs, ordered: list[int], k: int, counts: Counter
) -> list[int]:
    """First ``k`` of ``ordered`` that the cross-encoder does not judge relevant."""
    kept: list[int] = []
    for start in range(0, len(ordered), k):
        chunk = ordered[start : start + k]
        scores = sel.cross_encoder.predict(
            [(query, inputs.passages[r]) for r in chunk], show_progress_bar=False
        )
        for r, s in zip(chunk, np.asarray(scores, dtype=float).ravel(), strict=True):
            if s > sel.denoise_threshold:
                counts["denoised"] += 1
            else:
                kept.append(r)
        if len(kept) >= k:
            return kept[:k]
    return kept


# --------------------------------------------------------------------------------------------
# The steps, for one query


@dataclass
class Pool:
    """One query's candidates on their way through the steps.

    ``rows``/``scores``: the candidates left after step 1 (the ``closest`` fallback's pool);
    ``keep``: which of them survive steps 2-3; ``reason``: the first cause of an empty result.
    """

    rows: np.ndarray
    scores: np.ndarray
    keep: np.ndarray
    reason: str | None = None

    def empty_because(self, reason: str) -> None:
        """Record ``reason`` unless an earlier step already gave one."""
        if self.reason is None:
            self.reason = reason


def drop_positives_and_copies(
    guard: Guard, qid: str, ranking: Candidates, blocked: set[int], pos: Positives,
    counts: Counter,
) -> Pool:
    """Step 1: the query's candidates without its positives, their near-copies and twins."""
    cand = ranking.rows.get(qid, np.zeros(0, int))
    scores = ranking.scores.get(qid, np.zeros(0))
    is_pos, near, twin = guard.classify(cand, blocked, pos)
    counts["positives"] += int(is_pos.sum())
    counts["near_copies"] += int(near.sum())
    counts["lexical_twins"] += int(twin.sum())
    ok = ~is_pos & ~near & ~twin
    pool = Pool(cand[ok], scores[ok], np.ones(int(ok.sum()), bool))
    if not ok.any():
        pool.empty_because(SkipReason.NO_CANDIDATES)
    return pool


def apply_filters(
    pool: Pool, filters: Filters, positive_scores: dict[str, float], counts: Counter
) -> None:
    """Step 2: the positive-aware filters, against the query's lowest positive score."""
    if not filters.active or not len(pool.rows):
        return
    positive = min(positive_scores.values(), default=math.nan)
    for name, mask in filters.keep(pool.scores, positive).items():
        counts[name] += int((pool.keep & ~mask).sum())
        pool.keep &= mask
    if not pool.keep.any():
        pool.empty_because(SkipReason.FILTERED)


def apply_condition(
    pool: Pool, condition: Condition | None, qid: str, counts: Counter
) -> None:
    """Step 3: a strategy's own test (``ensemble-pca``'s two distance conditions)."""
    if condition is None or not pool.keep.any():
        return
    mask = condition(qid, pool.rows)
    counts["conditions"] += int((pool.keep & ~mask).sum())
    pool.keep &= mask
    if not pool.keep.any():
        pool.empty_because(SkipReason.CONDITIONS)


def rank_window(pool: Pool, sel: Selection) -> np.ndarray:
    """Step 4: positions (into the survivors, best first) of ``skip_top`` then ``window``."""
    end = None if sel.window is None else sel.skip_top + sel.window
    idx = np.arange(int(pool.keep.sum()))[sel.skip_top : end]
    if not len(idx):
        pool.empty_because(SkipReason.window(sel.skip_top))
    return idx


def sample(idx: np.ndarray, sel: Selection, rng: np.random.Generator | None) -> list[int]:
    """Step 5: the window in order (``"top"``) or shuffled with the query's generator."""
    if sel.sampling == "random":
        idx = rng.permutation(idx)
    return [int(i) for i in idx]


def choose_hard(
    pool: Pool, ordered: list[int], k_hard: int, sel: Selection, inputs: MiningInputs,
    query: str, counts: Counter,
) -> list[int]:
    """Step 6: the first ``k_hard`` positions, past the cross-encoder if any; best first."""
    if sel.cross_encoder is not None and k_hard:
        surv_rows = pool.rows[pool.keep]
        by_row = {int(surv_rows[i]): i for i in ordered}
        kept = _denoise(sel, query, inputs, [int(surv_rows[i]) for i in ordered], k_hard, counts)
        chosen = [by_row[r] for r in kept]
        if not chosen and ordered:
            pool.empty_because(SkipReason.DENOISED)
    else:
        chosen = ordered[:k_hard]
    return sorted(chosen)  # best first, also after random sampling


def fall_back(
    pool: Pool, k_hard: int, sel: Selection, n_docs: int, rng: np.random.Generator | None,
    blocked: set[int], guard: Guard, pos: Positives, counts: Counter,
) -> tuple[list[int], list[float | None]]:
    """Step 7: for a query with no hard negative, the ``closest`` or ``random`` ones."""
    if sel.fallback == "closest":
        neg = [int(r) for r in pool.rows[:k_hard]]
        scores: list[float | None] = [float(s) for s in pool.scores[:k_hard]]
    else:
        neg = random_rows(n_docs, k_hard, rng, set(blocked), guard, pos)
        scores = [None] * len(neg)
    counts["fallback_queries"] += bool(neg)
    return neg, scores


def mix_random(
    k_random: int, n_docs: int, rng: np.random.Generator | None, exclude: set[int],
    guard: Guard, pos: Positives,
) -> list[int]:
    """Step 8: ``k_random`` uniform passages, none already chosen, positive, near-copy or twin."""
    return random_rows(n_docs, k_random, rng, exclude, guard, pos)


# --------------------------------------------------------------------------------------------
# Every query


# ~60 lines, kept whole: its loop is the module docstring's steps in order, one line each.
def select_negatives(
    inputs: MiningInputs,
    ranking: Candidates,
    strategy: str,
    sel: Selection,
    filters: Filters = NO_FILTERS,
    condition: Condition | None = None,
) -> MiningResult:
    """Apply the steps (module docstring) to every query of a ranking.

    Args:
        inputs: the prepared split.
        ranking: its candidates in the strategy's score space.
        strategy: the name written in each row.
        sel: how many negatives and how they are chosen.
        filters: the positive-aware filters (step 2).
        condition: a strategy's own test (step 3): ``condition(qid, rows) -> mask``.

    Returns:
        A :class:`MiningResult`: a row per query with negatives, the others skipped with
        their :class:`SkipReason`; ``counts`` says how many candidates each step removed.

    Example:
        >>> select_negatives(inputs, rank_bm25(inputs), "bm25", Selection())  # doctest: +SKIP
    """
    guard = Guard(inputs, sel)
    counts: Counter = Counter()
    rows_out: list[NegativeRow] = []
    skipped: dict[str, str] = {}
    k_random = sel.num_random
    k_hard = sel.num_negatives - k_random
    n_docs = len(inputs.doc_ids)
    # A generator per query only where something is drawn at random (seeded by query id, so
    # skipping it elsewhere changes nothing).
    drawing = sel.sampling == "random" or sel.fallback == "random" or k_random > 0
    for qi, qid in enumerate(inputs.query_ids):
        rng = query_rng(sel.seed, qid) if drawing else None
        blocked, pos = guard.blocked(qid)
        pos_scores = ranking.positive_scores.get(qid, {})
        pool = drop_positives_and_copies(guard, qid, ranking, blocked, pos, counts)
        apply_filters(pool, filters, pos_scores, counts)
        apply_condition(pool, condition, qid, counts)
        ordered = sample(rank_window(pool, sel), sel, rng)
        chosen = choose_hard(pool, ordered, k_hard, sel, inputs, inputs.queries[qi], counts)
        surv_rows, surv_scores = pool.rows[pool.keep], pool.scores[pool.keep]
        neg = [int(surv_rows[i]) for i in chosen]
        neg_scores: list[float | None] = [float(surv_scores[i]) for i in chosen]
        sources = ["hard"] * len(neg)
        if not neg and k_hard and sel.fallback:
            neg, neg_scores = fall_back(pool, k_hard, sel, n_docs, rng, blocked, guard,
                                        pos, counts)
            sources = ["fallback"] * len(neg)
        if k_random:
            extra = mix_random(k_random, n_docs, rng, set(blocked) | set(neg), guard, pos)
            neg += extra
            neg_scores += [None] * len(extra)
            sources += ["random"] * len(extra)
        if not neg:
            skipped[qid] = pool.reason or SkipReason.NOT_FOUND
            continue
        rows_out.append(_row(inputs, qid, strategy, neg, neg_scores, pos_scores, sources))
    return MiningResult(strategy, rows_out, skipped, counts=dict(counts))


def _row(
    inputs: MiningInputs, qid: str, strategy: str, neg: list[int],
    neg_scores: list[float | None], pos_scores: dict[str, float], sources: list[str],
) -> NegativeRow:
    positives = inputs.positives[qid]
    return NegativeRow(
        query_id=qid,
        positive_ids=list(positives),
        negative_ids=[inputs.doc_ids[r] for r in neg],
        strategy=strategy,
        scores=neg_scores,
        positive_scores=[_none_if_nan(pos_scores.get(p)) for p in positives],
        sources=sources,
    )


def _none_if_nan(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)
