"""Step 1's guards: which candidates are, for one query, the same answer as one of its positives.

A candidate goes when it is a positive, a *copy* of one (the same normalized text), a
*near-copy* (cosine >= ``near_copy`` to a positive in the ``guard_model`` space) or a *lexical
twin* of one for the query (below). :class:`Guard` runs the tests for
:func:`~hardneg_kit.mining.selection.select_negatives` and for every random draw
(:func:`random_rows`).

Lexical twins. Two command trees that differ in one word (``gcloud alpha ...`` and ``gcloud
beta ...``, ``aws waf`` and ``aws waf-regional``) can stay below the cosine threshold and still
be one answer to a query that names neither word. With W(X) the multiset of lower-case ``\\w+``
tokens of X (:func:`~hardneg_kit.mining.inputs.word_counts`; hyphens and dots split words) and
|W| its size::

    overlap(D, P) = |W(D) & W(P)| / max(|W(D)|, |W(P)|)   (&: the smaller count of each word)
    apart(D, P)   = the words of W(D) - W(P) and of W(P) - W(D)

candidate D is a lexical twin of positive P *for query Q* when overlap(D, P) >= ``lexical_copy``
and no word of apart(D, P) is a word of Q: the query cannot tell D from P, so D would be a false
negative. A candidate that differs from P in a word the query contains stays a hard negative
however alike the texts (``update-virtual-router`` for "update a virtual router", against
``update-virtual-service``). ``lexical_copy=None`` turns the test off; the default 0.99 catches
a word swapped or added once or twice in a text of a few hundred words (``aws waf update-rule``
against ``aws waf-regional update-rule``: overlap 0.995, told apart by ``regional`` alone) and
changes no mined aws-cli file of the workshop or full profile. The test runs on the
candidates of step 1 (counted as ``lexical_twins``, apart from ``near_copies``) and on every
random draw (steps 7-8 and the ``random`` strategy), which all have the query at hand.

Example:
    >>> guard = Guard(inputs, Selection())  # doctest: +SKIP
    >>> blocked, pos = guard.blocked("q1")  # doctest: +SKIP
    >>> is_pos, near, twin = guard.classify(rows, blocked, pos)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hardneg_kit.mining.inputs import MiningInputs, word_counts

if TYPE_CHECKING:
    from hardneg_kit.mining.selection import Selection

#: cosine to a positive (in ``guard_model`` space) at or above which a passage is a near-copy
NEAR_COPY = 0.98
#: word overlap with a positive at or above which a passage the query cannot tell apart from
#: it is a lexical twin (step 1)
LEXICAL_COPY = 0.99
GUARD_MODEL = "minilm-l6"


@dataclass
class Positives:
    """One query's side of the guard's tests: its positives' rows, their ``guard_model``
    vectors (cosine test; ``None`` when it is off) and the query's words (lexical-twin test)."""

    rows: list[int]
    vecs: np.ndarray | None
    query_words: frozenset[str]


class Guard:
    """Step 1's guard: rows that are the same passage as one of a query's positives (a copy, a
    near-copy by cosine) or that the query cannot tell apart from one (a lexical twin)."""

    def __init__(self, inputs: MiningInputs, sel: Selection):
        self.inputs = inputs
        self.groups = inputs.normalized_texts()
        self.norm = inputs.memo["norm_keys"]
        self.emb = (
            inputs.guard_rows(sel.guard_model)
            if sel.guard_model and sel.near_copy is not None
            else None
        )
        self.threshold = sel.near_copy
        self.lexical = sel.lexical_copy
        # membership tests against reusable row masks: O(candidates) per query, no sorting
        self._positive_mark = np.zeros(len(inputs.doc_ids), bool)
        self._blocked_mark = np.zeros(len(inputs.doc_ids), bool)

    def blocked(self, qid: str) -> tuple[set[int], Positives]:
        """Rows of positives and their text duplicates; what the other tests compare with."""
        pos_rows = [self.inputs.doc_row[p] for p in self.inputs.positives[qid]]
        rows = set(pos_rows)
        for r in pos_rows:
            rows.update(self.groups[self.norm[r]])
        vecs = self.emb[pos_rows] if self.emb is not None else None
        words = (
            frozenset(word_counts(self.inputs.queries[self.inputs.query_row[qid]]))
            if self.lexical is not None
            else frozenset()
        )
        return rows, Positives(pos_rows, vecs, words)

    def classify(
        self, rows: np.ndarray, blocked: set[int], pos: Positives
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Masks of ``rows``: positives of the query, near-copies of one (same text or cosine),
        lexical twins of one that are no near-copy (each row in one mask at most)."""
        blocked_rows = list(blocked)
        self._positive_mark[pos.rows] = True
        self._blocked_mark[blocked_rows] = True
        is_pos = self._positive_mark[rows]
        near = ~is_pos & (self._blocked_mark[rows] | self.cosine_near(rows, pos))
        self._positive_mark[pos.rows] = False
        self._blocked_mark[blocked_rows] = False
        twin = ~is_pos & ~near & self.twins(rows, pos)
        return is_pos, near, twin

    def near(self, rows: np.ndarray, pos: Positives) -> np.ndarray:
        """Mask of ``rows`` that are a near-copy (cosine) or a lexical twin of a positive."""
        return self.cosine_near(rows, pos) | self.twins(rows, pos)

    def cosine_near(self, rows: np.ndarray, pos: Positives) -> np.ndarray:
        """Mask of ``rows`` whose cosine to any positive is >= ``near_copy``."""
        if pos.vecs is None or not len(rows):
            return np.zeros(len(rows), bool)
        return (self.emb[rows] @ pos.vecs.T).max(axis=1) >= self.threshold

    def twins(self, rows: np.ndarray, pos: Positives) -> np.ndarray:
        """Mask of ``rows`` that are a lexical twin of any positive for the query."""
        out = np.zeros(len(rows), bool)
        if self.lexical is None or not len(rows):
            return out
        lengths = self.inputs.word_totals(rows)
        for p in pos.rows:
            p_len = self.inputs.word_totals(np.array([p]))[0]
            longer, shorter = np.maximum(lengths, p_len), np.minimum(lengths, p_len)
            # _twin's first test, vectorized (same float64 division): most rows stop here
            ratio = np.divide(shorter, longer, out=np.zeros(len(rows)), where=longer > 0)
            maybe = np.flatnonzero(~out & (longer > 0) & (ratio >= self.lexical))
            for i in maybe:
                out[i] = self._twin(int(rows[i]), p, pos.query_words)
        return out

    def _twin(self, row: int, pos_row: int, query_words: frozenset[str]) -> bool:
        """overlap(D, P) >= ``lexical_copy`` and no word telling D and P apart is in Q."""
        d, d_len = self.inputs.passage_words(row)
        p, p_len = self.inputs.passage_words(pos_row)
        longer = max(d_len, p_len)
        # overlap <= shorter / longer: most candidates stop here, before any multiset work
        if not longer or min(d_len, p_len) / longer < self.lexical:
            return False
        if sum((d & p).values()) / longer < self.lexical:
            return False
        return query_words.isdisjoint((d - p).keys() | (p - d).keys())


def random_rows(
    n_docs: int, k: int, rng: np.random.Generator, exclude: set[int], guard: Guard,
    pos: Positives,
) -> list[int]:
    """Up to ``k`` uniform rows outside ``exclude`` that are no near-copy or twin of a positive."""
    out: list[int] = []
    order = rng.permutation(n_docs)
    for start in range(0, n_docs, 4 * k + 16):
        chunk = np.array([r for r in order[start : start + 4 * k + 16] if r not in exclude])
        if not len(chunk):
            continue
        chunk = chunk[~guard.near(chunk, pos)]
        for r in chunk:
            out.append(int(r))
            exclude.add(int(r))
            if len(out) == k:
                return out
    return out
