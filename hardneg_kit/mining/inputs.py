"""A split made ready for mining: :class:`MiningInputs` from :func:`prepare`.

Texts, ids and positives of one split, checked once (every query has text and at least one
positive, every positive is in the corpus), with memoized embeddings and rankings so that several
strategies mined from the same inputs share the work. :func:`normalize_text` is the text rule of
the near-copy guard, :func:`word_counts` the tokenization of its lexical-twin test.

Warm calls: a user mining the same dataset object again waits for :func:`prepare` too, so what
depends only on the corpus is computed once per corpus table and shared by every
:class:`MiningInputs` prepared from it (:func:`corpus_view`): the ids and passage texts (decoded
in one Arrow call, :func:`hardneg_kit.corpus.data.column`), the normalized texts and the word
counts of the lexical-twin test. The view is kept on the dataset object and checked by identity
(``view.corpus is data.corpus``): replacing ``data.corpus`` makes a new one. Nothing in it
depends on the split, the queries or the settings, so results are those of a fresh start.

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
    #: what depends on the corpus alone, shared by inputs of the same corpus (:class:`CorpusView`)
    shared: dict = field(default_factory=dict, repr=False)
    #: precomputed passage embeddings per model (:class:`hardneg_kit.shards.ShardedArray`)
    passage_shards: dict = field(default_factory=dict, repr=False)
    #: out-of-core ensemble path: ``None`` decides by size (:mod:`.ensemble_large`)
    out_of_core: bool | None = None

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

    def passage_rows(self, model: str) -> Any:
        """``model``'s passage embeddings behind the shard reading interface (``blocks``,
        ``take``): given shards, else the sharded cache when out of core, else in memory.

        >>> inputs.passage_rows("minilm-l6").take(np.array([0, 3])).shape  # doctest: +SKIP
        (2, 384)
        """
        from hardneg_kit.shards import MemoryRows

        if model in self.passage_shards:
            return self.passage_shards[model]
        if self.is_out_of_core():
            key = ("P-shards", model)
            if key not in self.memo:
                self.memo[key] = _model_shards(model, self.passages)
            return self.memo[key]
        return MemoryRows(self.passage_embeddings(model))

    def guard_rows(self, model: str) -> Any:
        """Passage embeddings the near-copy guard indexes by rows: the array in memory, or a
        float32 view over shards when out of core (the corpus never loaded whole)."""
        from hardneg_kit.shards import Float32Rows

        if self.is_out_of_core() or model in self.passage_shards:
            return Float32Rows(self.passage_rows(model))
        return self.passage_embeddings(model)

    def is_out_of_core(self) -> bool:
        """``out_of_core`` if set, else whether the corpus exceeds the in-memory size limit."""
        from hardneg_kit.mining.ann import FLAT_MAX_ROWS

        if self.out_of_core is not None:
            return self.out_of_core
        return len(self.doc_ids) > FLAT_MAX_ROWS

    def normalized_texts(self) -> dict[str, list[int]]:
        """Normalized passage text -> rows, for the exact-duplicate guard."""
        if "norm" not in self.shared:
            keys = [normalize_text(t) for t in self.passages]
            groups: dict[str, list[int]] = {}
            for i, key in enumerate(keys):
                groups.setdefault(key, []).append(i)
            self.shared["norm"], self.shared["norm_keys"] = groups, keys
        self.memo["norm"], self.memo["norm_keys"] = self.shared["norm"], self.shared["norm_keys"]
        return self.memo["norm"]

    def passage_words(self, row: int) -> tuple[Counter, int]:
        """:func:`word_counts` of passage ``row`` and its total, memoized (filled on demand).

        The lexical-twin test reads them for ~100 candidates of every query, and strategies mined
        from the same inputs share the candidates: each passage is tokenized once.

        >>> inputs.passage_words(0)  # doctest: +SKIP
        (Counter({'aws': 1, 's3': 1, 'ls': 1, ...}), 14)
        """
        bags = self.shared.setdefault("words", {})
        if row not in bags:
            counts = word_counts(self.passages[row])
            bags[row] = (counts, sum(counts.values()))
        return bags[row]

    def word_totals(self, rows: np.ndarray) -> np.ndarray:
        """Word totals of :meth:`passage_words` for ``rows`` (an int array; filled on demand).

        >>> inputs.word_totals(np.array([0, 5]))  # doctest: +SKIP
        array([14, 9])
        """
        totals = self.shared.get("word_totals")
        if totals is None:
            totals = self.shared["word_totals"] = np.full(len(self.passages), -1, np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        for r in np.unique(rows[totals[rows] < 0]).tolist():
            totals[r] = self.passage_words(r)[1]
        return totals[rows]


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


def _model_shards(model: str, texts: list[str]) -> Any:
    """Passage embeddings as shards in the disk cache (:func:`~hardneg_kit.embeddings.
    embed_passages_sharded`)."""
    from hardneg_kit import embeddings
    from hardneg_kit.models import load_encoder

    return embeddings.embed_passages_sharded(load_encoder(model), texts)


@dataclass
class CorpusView:
    """What :func:`prepare` derives from a corpus alone, shared across calls (module docstring).

    ``memo`` holds the normalized texts (``"norm"``, ``"norm_keys"``) and word counts
    (``"words"``) once computed; it is the ``shared`` dict of every :class:`MiningInputs` of
    this corpus.
    """

    corpus: Any
    doc_ids: list[str]
    passages: list[str]
    memo: dict = field(default_factory=dict)


def corpus_view(data: Any) -> CorpusView:
    """The :class:`CorpusView` of ``data.corpus``, built on first use and kept on ``data``.

    >>> corpus_view(data).passages[:1]  # doctest: +SKIP
    ['s3 ls\\nList S3 objects.']
    """
    from hardneg_kit.corpus.data import column, passage_texts

    view = getattr(data, "_mining_view", None)
    if view is None or view.corpus is not data.corpus:
        view = CorpusView(data.corpus, column(data.corpus, "_id"), passage_texts(data.corpus))
        try:
            data._mining_view = view
        except AttributeError:  # a frozen or slotted stand-in: no sharing, still correct
            pass
    return view


def prepare(data: Any, split: str = "train") -> MiningInputs:
    """Collect a split's queries, positives and the corpus passages; validate them.

    Raises:
        MiningError: the split has no query with a positive, a query has no text, or a
            positive is missing from the corpus (the message names the ids).

    >>> inputs = prepare(load_dataset("data/aws-cli"), "train")  # doctest: +SKIP
    """
    if isinstance(data, MiningInputs):
        return data
    from hardneg_kit.corpus.data import column

    name = getattr(data, "name", "dataset")
    positives = data.positives(split)
    if not positives:
        raise MiningError(f"{name}: split {split!r} has no queries with a positive to mine for.")
    table = data.queries_for(split)
    texts = dict(zip(column(table, "_id"), column(table, "text"), strict=True))
    view = corpus_view(data)
    doc_ids = view.doc_ids
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
        doc_ids=list(doc_ids),  # copies: a caller editing them must not change the view
        passages=list(view.passages),
        query_ids=qids,
        queries=[texts[q] for q in qids],
        positives={q: list(positives[q]) for q in qids},
        data=data,
        shared=view.memo,  # corpus-only work (texts' keys, word counts) is shared
    )
