"""A split made ready for mining: :class:`MiningInputs` from :func:`prepare`.

Texts, ids and positives of one split, checked once (every query has text and at least one
positive, every positive is in the corpus), with memoized embeddings and rankings so that several
strategies mined from the same inputs share the work. :func:`normalize_text` is the text rule of
the near-copy guard, :func:`word_counts` the tokenization of its lexical-twin test.

Example:
    >>> inputs = prepare(load_dataset("data/aws-cli"), "train")  # doctest: +SKIP
    >>> mine(inputs, "bm25"), mine(inputs, "fusion")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardneg_kit.errors import MiningError


@dataclass
class MiningInputs:
    """A split prepared once for several strategies (embeddings and rankings are memoized).

    >>> inputs = prepare(data, "train")  # doctest: +SKIP
    >>> mine(inputs, "bm25"), mine(inputs, "fusion")  # doctest: +SKIP
    """

    name: str
    split: str
    doc_ids: list[str]
    passages: list[str]
    query_ids: list[str]
    queries: list[str]
    positives: dict[str, list[str]]
    data: Any = field(default=None, repr=False)
    memo: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.doc_row = {d: i for i, d in enumerate(self.doc_ids)}
        self.query_row = {q: i for i, q in enumerate(self.query_ids)}

    def passage_embeddings(self, model: str) -> np.ndarray:
        """L2-normalized passage embeddings of ``model`` (disk-cached, memoized)."""
        key = ("P", model)
        if key not in self.memo:
            self.memo[key] = _model_embeddings(model, self.passages, queries=False)
        return self.memo[key]

    def query_embeddings(self, model: str) -> np.ndarray:
        """L2-normalized query embeddings of ``model`` (disk-cached, memoized)."""
        key = ("Q", model)
        if key not in self.memo:
            self.memo[key] = _model_embeddings(model, self.queries, queries=True)
        return self.memo[key]

    def normalized_texts(self) -> dict[str, list[int]]:
        """Normalized passage text -> rows, for the exact-duplicate guard."""
        if "norm" not in self.memo:
            keys = [normalize_text(t) for t in self.passages]
            groups: dict[str, list[int]] = {}
            for i, key in enumerate(keys):
                groups.setdefault(key, []).append(i)
            self.memo["norm"], self.memo["norm_keys"] = groups, keys
        return self.memo["norm"]

    def passage_words(self, row: int) -> tuple[Counter, int]:
        """:func:`word_counts` of passage ``row`` and its total, memoized (filled on demand).

        The lexical-twin test reads them for ~100 candidates of every query, and strategies mined
        from the same inputs share the candidates: each passage is tokenized once.

        >>> inputs.passage_words(0)  # doctest: +SKIP
        (Counter({'aws': 1, 's3': 1, 'ls': 1, ...}), 14)
        """
        bags = self.memo.setdefault("words", {})
        if row not in bags:
            counts = word_counts(self.passages[row])
            bags[row] = (counts, sum(counts.values()))
        return bags[row]


class _DropNonAlnum(dict):
    """``str.translate`` table that deletes every character that is not a letter or a digit.

    Filled lazily, one entry per distinct character seen; one C-level pass per text (about three
    times faster than a regex substitution plus ``split``/``join``).
    """

    def __missing__(self, code: int) -> str | None:
        value = chr(code) if chr(code).isalnum() else None
        self[code] = value
        return value


_DROP_NON_ALNUM = _DropNonAlnum()


def normalize_text(text: str) -> str:
    """Lower case, punctuation and spacing removed: ``"S3  ls!" -> "s3ls"``.

    Two passages with the same normalized text are the same passage (a copy), never a negative.
    """
    return text.lower().translate(_DROP_NON_ALNUM)


_WORD = re.compile(r"\w+")


def word_counts(text: str) -> Counter:
    """Lower-case ``\\w+`` tokens (Unicode letters, digits, underscore) with their counts.

    Hyphens and dots split words, so a command name counts as its parts:
    ``"aws waf-regional update-rule"`` -> ``aws, waf, regional, update, rule``.

    >>> sorted(word_counts("aws waf-regional update-rule").items())
    [('aws', 1), ('regional', 1), ('rule', 1), ('update', 1), ('waf', 1)]
    """
    return Counter(_WORD.findall(text.lower()))


def _model_embeddings(model: str, texts: list[str], queries: bool) -> np.ndarray:
    """Embeddings through the shared disk cache of :mod:`hardneg_kit.embeddings`."""
    from hardneg_kit import embeddings
    from hardneg_kit.models import load_encoder

    encoder = load_encoder(model)
    fn = embeddings.embed_queries if queries else embeddings.embed_passages
    return np.asarray(fn(encoder, texts), dtype=np.float32)


def _column(table: Any, name: str) -> list:
    return list(table[name])


def prepare(data: Any, split: str = "train") -> MiningInputs:
    """Collect a split's queries, positives and the corpus passages; validate them.

    Raises:
        MiningError: the split has no query with a positive, a query has no text, or a
            positive is missing from the corpus (the message names the ids).

    >>> inputs = prepare(load_dataset("data/aws-cli"), "train")  # doctest: +SKIP
    """
    if isinstance(data, MiningInputs):
        return data
    from hardneg_kit.corpus import passage_texts

    name = getattr(data, "name", "dataset")
    positives = data.positives(split)
    if not positives:
        raise MiningError(f"{name}: split {split!r} has no queries with a positive to mine for.")
    table = data.queries_for(split)
    texts = dict(zip(_column(table, "_id"), _column(table, "text"), strict=True))
    doc_ids = _column(data.corpus, "_id")
    known = set(doc_ids)
    missing = {q: [d for d in ps if d not in known] for q, ps in positives.items()}
    missing = {q: ds for q, ds in missing.items() if ds}
    if missing:
        q, ds = next(iter(missing.items()))
        raise MiningError(
            f"{name}/{split}: {len(missing)} queries have positives missing from the corpus, "
            f"e.g. {q!r} -> {ds[0]!r}; load the full corpus or fix the qrels."
        )
    no_text = [q for q in positives if q not in texts]
    if no_text:
        raise MiningError(
            f"{name}/{split}: {len(no_text)} queries have no text, e.g. {no_text[0]!r}."
        )
    qids = [q for q in texts if q in positives]  # file order
    return MiningInputs(
        name=name,
        split=split,
        doc_ids=doc_ids,
        passages=passage_texts(data.corpus),
        query_ids=qids,
        queries=[texts[q] for q in qids],
        positives={q: list(positives[q]) for q in qids},
        data=data,
    )
