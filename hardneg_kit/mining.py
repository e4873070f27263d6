"""Hard-negative mining: named strategies, one entry point, one result type.

Every strategy turns a split's (query, positives) pairs into ranked negative lists:

================  ============================================================================
``random``        uniform from the corpus (seeded)
``bm25``          top-ranked BM25 candidates
``dense:<model>`` top-ranked candidates of one bi-encoder (``dense:minilm-l6``)
``fusion``        a fused ranking (RRF default, or CombSUM) of BM25 and the ``models``
``ensemble-pca``  the reference method (METHOD.md): concatenated embeddings of ``models``,
                  PCA to 95% variance, keep D only if d(Q,D) < d(Q,P) and d(Q,D) < d(P,D)
``semi-hard``     a preset: ranks 10-50 of ``fusion`` (or any ``base``), sampled; or a score
                  band relative to the positive (``band=(0.6, 0.9)``)
================  ============================================================================

Parameters shared by the ranked strategies (everything but ``random``), applied in this order:

1. positives and *near-copies* of a positive are removed (always, every strategy, also for
   random negatives): same normalised text (lower case, punctuation and spacing removed), or
   cosine >= ``near_copy`` (0.98) to a positive in the ``guard_model`` space (``minilm-l6``;
   ``None`` keeps only the text rule). Near-copies are the same passage, not a hard negative.
2. positive-aware filters (NV-Retriever, arXiv 2407.15831), in the strategy's own score space:
   ``max_relative`` drops candidates scoring above ``pos - |pos| * (1 - max_relative)`` (0.95 is
   their best setting; the same rule as ``relative_margin=0.05`` in sentence-transformers),
   ``margin`` drops those above ``pos - margin``, ``max_score`` those above an absolute cap,
   ``min_relative`` / ``min_score`` those below (score bands). With several positives the lowest
   positive score is used, as in ``mine_hard_negatives``. A positive that the retriever did not
   return scores below every candidate, so a positive-relative filter drops them all.
3. ``ensemble-pca`` only: the two distance conditions.
4. the rank window: ``skip_top`` then ``window`` candidates, counted *after* steps 1-3 (the same
   order as ``range_min`` / ``range_max`` in ``mine_hard_negatives``).
5. ``sampling="top"`` takes the best, ``"random"`` samples in the window (seeded per query) and
   re-sorts best first.
6. optional denoising: a ``cross_encoder`` scores the chosen candidates; those above
   ``denoise_threshold`` are replaced by the next ones (RocketQA).
7. ``random_share`` of the ``num_negatives`` are uniform random negatives (mixing).
8. ``fallback`` for queries left with no hard negative: ``None`` (off: the query is reported as
   skipped), ``"closest"`` (the best remaining candidates, ignoring steps 2-4), ``"random"``.

Filters are parameters rather than strategy names, so any ranked strategy takes them:
``mine(data, "train", "dense:minilm-l6", max_relative=0.95)``, or on the command line
``--strategy dense:minilm-l6 --filter relative:0.95``.

Invariants, for every strategy: no negative is a positive (or near-copy) of its query; no
duplicates in a list; the same seed gives the same negatives; every query is in ``rows`` or in
``skipped`` with a reason.

Example:
    >>> from hardneg_kit.corpus import load_dataset
    >>> from hardneg_kit.mining import mine
    >>> data = load_dataset("aws-cli", profile="smoke")  # doctest: +SKIP
    >>> result = mine(data, "train", "ensemble-pca", num_negatives=2)  # doctest: +SKIP
    >>> result.rows[0].negative_ids, len(result.skipped)  # doctest: +SKIP
    (['s3/rm', 's3/mv'], 7)
    >>> triplets = to_dataset(result, data, "triplet")  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hardneg_kit.cache import atomic_path

logger = logging.getLogger(__name__)

DEFAULT_MODELS = ("minilm-l6", "paraphrase-minilm-l3", "static-minilm")
#: cosine to a positive (in ``guard_model`` space) at or above which a passage is a near-copy
NEAR_COPY = 0.98
GUARD_MODEL = "minilm-l6"
#: output formats of :func:`to_dataset`, named as in ``mine_hard_negatives``
FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")


class MiningError(ValueError):
    """Bad mining input (unknown strategy, empty split, missing positives): one clear line."""


# --------------------------------------------------------------------------------------------
# Result


@dataclass
class NegativeRow:
    """The negatives of one query, best first, with the scores that ranked them.

    ``scores`` is parallel to ``negative_ids`` (the strategy's score space; ``None`` for random
    negatives); ``sources`` says where each came from: ``hard``, ``random`` or ``fallback``.
    """

    query_id: str
    positive_ids: list[str]
    negative_ids: list[str]
    strategy: str
    scores: list[float | None]
    positive_scores: list[float | None]
    sources: list[str]


@dataclass
class MiningResult:
    """What :func:`mine` returns: one row per query given negatives, and the skipped ones.

    ``counts`` records why candidates were removed (``positives``, ``near_copies``, one entry
    per filter, ``conditions``, ``denoised``), for the diagnostics.

    >>> result.to_jsonl("negatives/bm25.jsonl")  # doctest: +SKIP
    >>> MiningResult.read_jsonl("negatives/bm25.jsonl").strategy  # doctest: +SKIP
    'bm25'
    """

    strategy: str
    rows: list[NegativeRow]
    skipped: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: every setting in effect, defaults included (what :meth:`write_meta` records)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def num_queries(self) -> int:
        """Queries considered: with negatives plus skipped."""
        return len(self.rows) + len(self.skipped)

    @property
    def coverage(self) -> float:
        """Share of queries that got at least one negative."""
        return len(self.rows) / self.num_queries if self.num_queries else 0.0

    def negatives(self) -> dict[str, list[str]]:
        """Query id -> negative ids, best first: ``result.negatives()["q1"]``."""
        return {r.query_id: r.negative_ids for r in self.rows}

    def summary(self) -> str:
        """One line: strategy, queries with negatives, skipped with reasons."""
        reasons = Counter(self.skipped.values())
        why = "; ".join(f"{n} {r}" for r, n in reasons.most_common())
        total = sum(len(r.negative_ids) for r in self.rows)
        return (
            f"{self.strategy}: {len(self.rows)}/{self.num_queries} queries with negatives "
            f"({total} negatives), {len(self.skipped)} skipped" + (f" ({why})" if why else "")
        )

    def to_jsonl(self, path: str | Path) -> Path:
        """Write one JSON object per query (skipped ones with ``"skipped": reason``), atomically."""
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for row in self.rows:
                f.write(json.dumps({**asdict(row), "skipped": None}) + "\n")
            for qid, reason in self.skipped.items():
                empty = NegativeRow(qid, [], [], self.strategy, [], [], [])
                f.write(json.dumps({**asdict(empty), "skipped": reason}) + "\n")
        return path

    def write_meta(self, output: str | Path, **context: Any) -> Path:
        """Record how ``output`` was made in ``<output>.meta.json`` (atomically); return its path.

        A sidecar rather than a field keeps every output format exactly what its loaders expect
        (``datasets.load_dataset("json", data_files=output)``, ``Dataset.from_json``,
        ``load_from_disk``, pandas). It holds the kit's version, the strategy, every setting in
        effect (defaults included: filters, models, conditions, depth, near-copy guard, seed),
        the queries mined and the candidate counts, plus ``context`` (dataset, profile, ...).

        >>> result.write_meta("negatives/bm25.jsonl", profile="smoke")  # doctest: +SKIP
        PosixPath('negatives/bm25.jsonl.meta.json')
        """
        from hardneg_kit import __version__

        meta = {
            "hardneg_kit": __version__,
            "output": Path(output).name,
            "strategy": self.strategy,
            **context,
            "queries": {"mined": self.num_queries, "with_negatives": len(self.rows),
                        "skipped": len(self.skipped)},
            "settings": self.settings,
            "params": self.params,
            "counts": self.counts,
        }
        path = meta_path(output)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read_jsonl(cls, path: str | Path) -> MiningResult:
        """Read what :meth:`to_jsonl` wrote; params, settings and counts come from the
        :meth:`write_meta` sidecar when there is one."""
        rows: list[NegativeRow] = []
        skipped: dict[str, str] = {}
        strategy = ""
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                obj = json.loads(line)
                strategy = strategy or obj["strategy"]
                reason = obj.pop("skipped", None)
                if reason:
                    skipped[obj["query_id"]] = reason
                else:
                    rows.append(NegativeRow(**obj))
        meta = read_meta(path) or {}
        return cls(strategy=strategy, rows=rows, skipped=skipped, params=meta.get("params", {}),
                   counts=meta.get("counts", {}), settings=meta.get("settings", {}))


def meta_path(output: str | Path) -> Path:
    """Where :meth:`MiningResult.write_meta` records how ``output`` was made."""
    output = Path(output)
    return output.with_name(output.name + ".meta.json")


def read_meta(output: str | Path) -> dict[str, Any] | None:
    """The record of how ``output`` was made, or ``None`` when it has none.

    >>> read_meta("negatives/bm25.jsonl")["settings"]["near_copy"]  # doctest: +SKIP
    0.98
    """
    try:
        return json.loads(meta_path(output).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------------------------
# Inputs: texts, ids, positives and memoised embeddings / rankings


@dataclass
class MiningInputs:
    """A split prepared once for several strategies (embeddings and rankings are memoised).

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
        """L2-normalised passage embeddings of ``model`` (disk-cached, memoised)."""
        key = ("P", model)
        if key not in self.memo:
            self.memo[key] = _embed(model, self.passages, queries=False)
        return self.memo[key]

    def query_embeddings(self, model: str) -> np.ndarray:
        """L2-normalised query embeddings of ``model`` (disk-cached, memoised)."""
        key = ("Q", model)
        if key not in self.memo:
            self.memo[key] = _embed(model, self.queries, queries=True)
        return self.memo[key]

    def normalised_texts(self) -> dict[str, list[int]]:
        """Normalised passage text -> rows, for the exact-duplicate guard."""
        if "norm" not in self.memo:
            keys = [normalise_text(t) for t in self.passages]
            groups: dict[str, list[int]] = {}
            for i, key in enumerate(keys):
                groups.setdefault(key, []).append(i)
            self.memo["norm"], self.memo["norm_keys"] = groups, keys
        return self.memo["norm"]


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


def normalise_text(text: str) -> str:
    """Lower case, punctuation and spacing removed: ``"S3  ls!" -> "s3ls"``.

    Two passages with the same normalised text are the same passage (a copy), never a negative.
    """
    return text.lower().translate(_DROP_NON_ALNUM)


def _embed(model: str, texts: list[str], queries: bool) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------
# Rankings: per query, candidate rows best first with scores, plus the positives' scores


@dataclass
class Ranking:
    """Candidates per query in one score space (rows index ``inputs.doc_ids``).

    ``positive_scores[qid][pid]`` is ``nan`` when the positive was not among the candidates.
    """

    name: str
    rows: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]
    positive_scores: dict[str, dict[str, float]]


def _depth_for(inputs: MiningInputs, depth: int) -> int:
    max_pos = max(len(p) for p in inputs.positives.values())
    return min(len(inputs.doc_ids), depth + max_pos)


def _search_ip(
    inputs: MiningInputs, name: str, queries: np.ndarray, docs: np.ndarray, depth: int
) -> Ranking:
    """Exact inner-product search (faiss IndexFlatIP) and the positives' exact scores."""
    import faiss

    k = _depth_for(inputs, depth)
    index = faiss.IndexFlatIP(docs.shape[1])
    index.add(np.ascontiguousarray(docs, dtype=np.float32))
    scores, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    out = Ranking(name, {}, {}, {})
    for i, qid in enumerate(inputs.query_ids):
        keep = rows[i] >= 0
        out.rows[qid], out.scores[qid] = rows[i][keep], scores[i][keep]
        out.positive_scores[qid] = {
            p: float(queries[i] @ docs[inputs.doc_row[p]]) for p in inputs.positives[qid]
        }
    return out


def rank_dense(inputs: MiningInputs, model: str, depth: int = 100) -> Ranking:
    """Top ``depth`` (+ room for positives) passages by cosine in ``model``'s space.

    >>> rank_dense(inputs, "minilm-l6", depth=50).rows["q1"][:3]  # doctest: +SKIP
    """
    key = ("dense", model, depth)
    if key not in inputs.memo:
        q, p = inputs.query_embeddings(model), inputs.passage_embeddings(model)
        inputs.memo[key] = _search_ip(inputs, f"dense:{model}", q, p, depth)
    return inputs.memo[key]


def _from_run(inputs: MiningInputs, name: str, run: dict[str, dict[str, float]], depth: int):
    """A ``{qid: {doc: score}}`` run -> :class:`Ranking` (ties broken by corpus order)."""
    out = Ranking(name, {}, {}, {})
    k = _depth_for(inputs, depth)
    for qid in inputs.query_ids:
        docs = run.get(qid, {})
        ranked = sorted(docs.items(), key=lambda kv: (-kv[1], inputs.doc_row[kv[0]]))[:k]
        out.rows[qid] = np.array([inputs.doc_row[d] for d, _ in ranked], dtype=np.int64)
        out.scores[qid] = np.array([s for _, s in ranked], dtype=np.float64)
        out.positive_scores[qid] = {p: float(docs.get(p, math.nan)) for p in inputs.positives[qid]}
    return out


def rank_bm25(inputs: MiningInputs, depth: int = 100) -> Ranking:
    """Top ``depth`` (+ room for positives) passages by BM25 (:mod:`hardneg_kit.retrievers`).

    Only passages sharing a term with the query are candidates; the positives' scores are exact
    (``retriever.scores``), also when they rank below ``depth``.
    """
    key = ("bm25", depth)
    if key not in inputs.memo:
        from hardneg_kit.retrievers import make_retriever

        retriever = make_retriever("bm25")
        retriever.index(inputs.doc_ids, inputs.passages)
        ranked = retriever.rank(inputs.queries, _depth_for(inputs, depth))
        out = Ranking("bm25", {}, {}, {})
        for i, qid in enumerate(inputs.query_ids):
            keep = ranked.indices[i] >= 0
            out.rows[qid] = ranked.indices[i][keep].astype(np.int64)
            out.scores[qid] = ranked.scores[i][keep].astype(np.float64)
            pids = inputs.positives[qid]
            pos = retriever.scores([inputs.queries[i]], pids)[0]
            out.positive_scores[qid] = {p: float(s) for p, s in zip(pids, pos, strict=True)}
        inputs.memo[key] = out
    return inputs.memo[key]


def _run_dict(run: Any) -> dict[str, dict[str, float]]:
    """A ``ranx.Run`` (or plain dict) as nested plain dicts."""
    d = run.to_dict() if hasattr(run, "to_dict") else run
    return {str(q): {str(k): float(v) for k, v in docs.items()} for q, docs in d.items()}


def _as_run(ranking: Ranking, inputs: MiningInputs):
    import ranx

    run = {
        q: {inputs.doc_ids[r]: float(s) for r, s in zip(rows, ranking.scores[q], strict=True)}
        for q, rows in ranking.rows.items()
        if len(rows)
    }
    return ranx.Run(run, name=ranking.name)


def rank_fusion(
    inputs: MiningInputs,
    models: Sequence[str] = DEFAULT_MODELS,
    method: str = "rrf",
    depth: int = 100,
    bm25: bool = True,
) -> Ranking:
    """Fuse BM25 and dense rankings with ranx: ``method="rrf"`` (k=60) or ``"combsum"``.

    CombSUM sums min-max normalised scores (ranx ``wsum`` with equal weights). Each input
    ranking is ``depth`` deep; the fused list is cut to ``depth`` as well.
    """
    key = ("fusion", tuple(models), method, depth, bm25)
    if key in inputs.memo:
        return inputs.memo[key]
    import ranx

    parts = ([rank_bm25(inputs, depth)] if bm25 else []) + [
        rank_dense(inputs, m, depth) for m in models
    ]
    if not parts:
        raise MiningError("fusion needs at least one retriever: give --models or keep bm25.")
    runs = [_as_run(r, inputs) for r in parts]
    if method == "rrf":
        fused = ranx.fuse(runs, method="rrf") if len(runs) > 1 else runs[0]
    elif method == "combsum":
        # ranx has no "combsum" name: wsum with equal weights over min-max scores is CombSUM.
        weights = [1.0] * len(runs)
        fused = ranx.fuse(runs, norm="min-max", method="wsum", params={"weights": weights})
    else:
        raise MiningError(f"Unknown fusion method {method!r}: use 'rrf' or 'combsum'.")
    inputs.memo[key] = _from_run(inputs, f"fusion-{method}", _run_dict(fused), depth)
    return inputs.memo[key]


@dataclass
class EnsembleSpace:
    """Queries and passages in the PCA space of concatenated embeddings, re-normalised.

    ``docs[i]`` is ``inputs.doc_ids[i]``; ``queries[j]`` is ``inputs.query_ids[j]``.
    """

    models: tuple[str, ...]
    variance: float
    docs: np.ndarray
    queries: np.ndarray
    explained_variance_ratio: np.ndarray
    input_dims: int

    @property
    def dims(self) -> int:
        return int(self.docs.shape[1])


def ensemble_space(
    inputs: MiningInputs,
    models: Sequence[str] = DEFAULT_MODELS,
    variance: float = 0.95,
    seed: int = 0,
) -> EnsembleSpace:
    """Concatenate the models' normalised embeddings, fit PCA, project, re-normalise.

    PCA is fitted on passages *and* queries together: the conditions compare query-passage
    and passage-passage distances, so the kept directions should describe both kinds of text
    (fitting on passages alone can drop directions along which queries differ from passages).
    Every model's block has norm 1, so each model weighs the same before PCA.

    >>> space = ensemble_space(inputs, variance=0.95)  # doctest: +SKIP
    >>> space.dims, space.explained_variance_ratio.sum()  # doctest: +SKIP
    """
    key = ("ensemble", tuple(models), variance, seed)
    if key in inputs.memo:
        return inputs.memo[key]
    from sklearn.decomposition import PCA

    from hardneg_kit.models import normalize

    if not models:
        raise MiningError("ensemble-pca needs at least one model (--models).")
    docs = np.hstack([inputs.passage_embeddings(m) for m in models])
    queries = np.hstack([inputs.query_embeddings(m) for m in models])
    components: float | int = variance if variance < 1 else min(docs.shape[1], len(docs))
    pca = PCA(n_components=components, svd_solver="full", random_state=seed)
    pca.fit(np.vstack([docs, queries]))
    space = EnsembleSpace(
        models=tuple(models),
        variance=variance,
        docs=normalize(pca.transform(docs)),
        queries=normalize(pca.transform(queries)),
        explained_variance_ratio=pca.explained_variance_ratio_,
        input_dims=int(docs.shape[1]),
    )
    logger.info(
        "ensemble-pca: %d models, %d -> %d dims (%.1f%% variance)",
        len(models), space.input_dims, space.dims, 100 * pca.explained_variance_ratio_.sum(),
    )
    inputs.memo[key] = space
    return space


def rank_ensemble(inputs: MiningInputs, space: EnsembleSpace, depth: int = 100) -> Ranking:
    """Top ``depth`` passages by cosine in the ensemble PCA space (faiss IndexFlatIP)."""
    key = ("ensemble-rank", space.models, space.variance, id(space), depth)
    if key not in inputs.memo:
        inputs.memo[key] = _search_ip(inputs, "ensemble-pca", space.queries, space.docs, depth)
    return inputs.memo[key]


# --------------------------------------------------------------------------------------------
# Selection: the shared steps 1-8 of the module docstring


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
        return any(v is not None for v in asdict(self).values())

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


@dataclass
class Selection:
    """How a ranked strategy turns candidates into negatives (steps 4-8)."""

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

    @property
    def num_random(self) -> int:
        # half rounds up (not Python's half-to-even): 25% of 2 negatives is one random negative
        return int(math.floor(self.random_share * self.num_negatives + 0.5))


def query_rng(seed: int, qid: str) -> np.random.Generator:
    """A generator for one query that depends only on (seed, query id), not on query order."""
    return np.random.default_rng([seed, zlib.crc32(qid.encode("utf-8"))])


class _Guard:
    """Near-copy guard: rows that are the same passage as one of a query's positives."""

    def __init__(self, inputs: MiningInputs, sel: Selection):
        self.inputs = inputs
        self.groups = inputs.normalised_texts()
        self.norm = inputs.memo["norm_keys"]
        self.emb = (
            inputs.passage_embeddings(sel.guard_model)
            if sel.guard_model and sel.near_copy is not None
            else None
        )
        self.threshold = sel.near_copy

    def blocked(self, qid: str) -> tuple[set[int], np.ndarray | None]:
        """Rows of positives and their text duplicates; positive vectors for the cosine test."""
        pos_rows = [self.inputs.doc_row[p] for p in self.inputs.positives[qid]]
        rows = set(pos_rows)
        for r in pos_rows:
            rows.update(self.groups[self.norm[r]])
        vecs = self.emb[pos_rows] if self.emb is not None else None
        return rows, vecs

    def near(self, rows: np.ndarray, pos_vecs: np.ndarray | None) -> np.ndarray:
        """Mask of ``rows`` whose cosine to any positive is >= the threshold."""
        if pos_vecs is None or not len(rows):
            return np.zeros(len(rows), bool)
        return (self.emb[rows] @ pos_vecs.T).max(axis=1) >= self.threshold


def _random_rows(
    n_docs: int, k: int, rng: np.random.Generator, exclude: set[int], guard: _Guard, pos_vecs
) -> list[int]:
    """Up to ``k`` uniform rows outside ``exclude`` that are no near-copy of a positive."""
    out: list[int] = []
    order = rng.permutation(n_docs)
    for start in range(0, n_docs, 4 * k + 16):
        chunk = np.array([r for r in order[start : start + 4 * k + 16] if r not in exclude])
        if not len(chunk):
            continue
        chunk = chunk[~guard.near(chunk, pos_vecs)]
        for r in chunk:
            out.append(int(r))
            exclude.add(int(r))
            if len(out) == k:
                return out
    return out


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


def select_negatives(
    inputs: MiningInputs,
    ranking: Ranking,
    strategy: str,
    sel: Selection,
    filters: Filters = Filters(),
    condition: Callable[[str, np.ndarray], np.ndarray] | None = None,
) -> MiningResult:
    """Apply steps 1-8 (module docstring) to every query of a ranking.

    ``condition(qid, rows) -> mask`` is a strategy's own test (``ensemble-pca``'s distances).
    """
    guard = _Guard(inputs, sel)
    counts: Counter = Counter()
    rows_out: list[NegativeRow] = []
    skipped: dict[str, str] = {}
    k_random = sel.num_random
    k_hard = sel.num_negatives - k_random
    filtering = filters.active
    # A generator per query only where something is drawn at random (seeded by query id, so
    # skipping it elsewhere changes nothing).
    drawing = sel.sampling == "random" or sel.fallback == "random" or k_random > 0
    # Membership tests against a reusable row mask: O(candidates) per query, no sorting.
    positive_mark = np.zeros(len(inputs.doc_ids), bool)
    blocked_mark = np.zeros(len(inputs.doc_ids), bool)
    for qi, qid in enumerate(inputs.query_ids):
        rng = query_rng(sel.seed, qid) if drawing else None
        blocked, pos_vecs = guard.blocked(qid)
        cand, scores = ranking.rows.get(qid, np.zeros(0, int)), ranking.scores.get(qid, np.zeros(0))
        pos_scores = ranking.positive_scores.get(qid, {})
        pos_rows = [inputs.doc_row[p] for p in inputs.positives[qid]]
        blocked_rows = list(blocked)
        positive_mark[pos_rows] = True
        blocked_mark[blocked_rows] = True
        is_pos = positive_mark[cand]
        near = ~is_pos & (blocked_mark[cand] | guard.near(cand, pos_vecs))
        positive_mark[pos_rows] = False
        blocked_mark[blocked_rows] = False
        counts["positives"] += int(is_pos.sum())
        counts["near_copies"] += int(near.sum())
        ok = ~is_pos & ~near
        base_rows, base_scores = cand[ok], scores[ok]  # the fallback's pool
        reason = "no candidates besides positives and near-copies" if not ok.any() else None
        keep = np.ones(len(base_rows), bool)
        if filtering and len(base_rows):
            positive = min(pos_scores.values(), default=math.nan)
            for name, mask in filters.keep(base_scores, positive).items():
                counts[name] += int((keep & ~mask).sum())
                keep &= mask
            if not keep.any() and reason is None:
                reason = "filters removed every candidate"
        if condition is not None and keep.any():
            mask = condition(qid, base_rows)
            counts["conditions"] += int((keep & ~mask).sum())
            keep &= mask
            if not keep.any():
                reason = "no candidate met the ensemble conditions"
        surv_rows, surv_scores = base_rows[keep], base_scores[keep]
        end = None if sel.window is None else sel.skip_top + sel.window
        idx = np.arange(len(surv_rows))[sel.skip_top : end]
        if not len(idx) and reason is None:
            reason = f"fewer than {sel.skip_top + 1} candidates survive (skip_top={sel.skip_top})"
        if sel.sampling == "random":
            idx = rng.permutation(idx)
        ordered = [int(i) for i in idx]
        if sel.cross_encoder is not None and k_hard:
            q_text = inputs.queries[qi]
            by_row = {int(surv_rows[i]): i for i in ordered}
            kept_rows = _denoise(sel, q_text, inputs, [int(surv_rows[i]) for i in ordered],
                                 k_hard, counts)
            chosen = [by_row[r] for r in kept_rows]
            if not chosen and ordered and reason is None:
                reason = "the cross-encoder judged every candidate relevant"
        else:
            chosen = ordered[:k_hard]
        chosen.sort()  # best first, also after random sampling
        neg = [int(surv_rows[i]) for i in chosen]
        neg_scores: list[float | None] = [float(surv_scores[i]) for i in chosen]
        sources = ["hard"] * len(neg)
        if not neg and k_hard and sel.fallback:
            if sel.fallback == "closest":
                neg = [int(r) for r in base_rows[:k_hard]]
                neg_scores = [float(s) for s in base_scores[:k_hard]]
            else:
                neg = _random_rows(len(inputs.doc_ids), k_hard, rng, set(blocked), guard, pos_vecs)
                neg_scores = [None] * len(neg)
            sources = ["fallback"] * len(neg)
            counts["fallback_queries"] += bool(neg)
        if k_random:
            extra = _random_rows(
                len(inputs.doc_ids), k_random, rng, set(blocked) | set(neg), guard, pos_vecs
            )
            neg += extra
            neg_scores += [None] * len(extra)
            sources += ["random"] * len(extra)
        if not neg:
            skipped[qid] = reason or "no negative found"
            continue
        rows_out.append(
            NegativeRow(
                query_id=qid,
                positive_ids=list(inputs.positives[qid]),
                negative_ids=[inputs.doc_ids[r] for r in neg],
                strategy=strategy,
                scores=neg_scores,
                positive_scores=[_none_if_nan(pos_scores.get(p)) for p in inputs.positives[qid]],
                sources=sources,
            )
        )
    return MiningResult(strategy, rows_out, skipped, counts=dict(counts))


def _none_if_nan(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


# --------------------------------------------------------------------------------------------
# Strategies


def mine_random(inputs: MiningInputs, sel: Selection) -> MiningResult:
    """Uniform negatives from the corpus, excluding positives and near-copies (seeded)."""
    guard = _Guard(inputs, sel)
    rows: list[NegativeRow] = []
    skipped: dict[str, str] = {}
    for qid in inputs.query_ids:
        blocked, pos_vecs = guard.blocked(qid)
        neg = _random_rows(
            len(inputs.doc_ids), sel.num_negatives, query_rng(sel.seed, qid), set(blocked),
            guard, pos_vecs,
        )
        if not neg:
            skipped[qid] = "no passage besides positives and near-copies"
            continue
        rows.append(
            NegativeRow(qid, list(inputs.positives[qid]), [inputs.doc_ids[r] for r in neg],
                        "random", [None] * len(neg), [None] * len(inputs.positives[qid]),
                        ["random"] * len(neg))
        )
    return MiningResult("random", rows, skipped)


def mine_bm25(inputs: MiningInputs, sel: Selection, filters: Filters, depth: int = 100):
    """Top BM25 candidates that are not positives (``skip_top`` / ``window`` / ``sampling``)."""
    return select_negatives(inputs, rank_bm25(inputs, depth), "bm25", sel, filters)


def mine_dense(
    inputs: MiningInputs, sel: Selection, filters: Filters, model: str = "minilm-l6",
    depth: int = 100,
) -> MiningResult:
    """Top candidates of one bi-encoder (cosine), as ``mine_hard_negatives`` would pick them."""
    ranking = rank_dense(inputs, model, depth)
    return select_negatives(inputs, ranking, f"dense:{model}", sel, filters)


def mine_fusion(
    inputs: MiningInputs, sel: Selection, filters: Filters,
    models: Sequence[str] = DEFAULT_MODELS, method: str = "rrf", depth: int = 100,
) -> MiningResult:
    """Top candidates of a fused ranking of BM25 and ``models`` (RRF or CombSUM)."""
    ranking = rank_fusion(inputs, models, method, depth)
    return select_negatives(inputs, ranking, "fusion", sel, filters)


def pca_conditions(
    space: EnsembleSpace, inputs: MiningInputs
) -> Callable[[str, np.ndarray], np.ndarray]:
    """``condition(qid, rows)``: d(Q,D) < d(Q,P) and d(Q,D) < d(P,D) for *every* positive P.

    Requiring every positive is the strict reading: a candidate nearer to the query than one
    positive but not another is ambiguous, and keeping it risks a false negative.
    Cosine distance d = 1 - cosine in the re-normalised PCA space.
    """

    def condition(qid: str, rows: np.ndarray) -> np.ndarray:
        q = space.queries[inputs.query_row[qid]]
        pos = space.docs[[inputs.doc_row[p] for p in inputs.positives[qid]]]
        d_qd = 1.0 - space.docs[rows] @ q  # (n,)
        d_qp = 1.0 - pos @ q  # (p,)
        d_pd = 1.0 - space.docs[rows] @ pos.T  # (n, p)
        return np.all((d_qd[:, None] < d_qp[None, :]) & (d_qd[:, None] < d_pd), axis=1)

    return condition


def mine_ensemble_pca(
    inputs: MiningInputs, sel: Selection, filters: Filters,
    models: Sequence[str] = DEFAULT_MODELS, variance: float = 0.95, depth: int = 100,
    conditions: bool = True,
) -> MiningResult:
    """The reference method (METHOD.md): the k closest candidates meeting both conditions.

    Candidates are the ``depth`` nearest passages in the PCA space. Positive-relative filters
    (``max_relative``, ``margin``) contradict the first condition (the survivors all score
    *above* the positive) and are refused; ``max_score`` and ``min_score`` are allowed.
    ``conditions=False`` drops the two distance conditions and keeps only the ensemble's PCA
    space: then a positive-aware filter takes their place (``max_relative=0.95`` keeps the
    closest candidates scoring below 95% of the positive, NV-Retriever's rule in the ensemble
    space).
    """
    if conditions and (filters.max_relative is not None or filters.margin is not None):
        raise MiningError(
            "ensemble-pca keeps only candidates closer to the query than the positive; "
            "relative/margin filters remove exactly those. Use them with bm25, dense or fusion, "
            "or with ensemble-pca and conditions=False (the PCA space without the conditions)."
        )
    space = ensemble_space(inputs, models, variance, sel.seed)
    ranking = rank_ensemble(inputs, space, depth)
    condition = pca_conditions(space, inputs) if conditions else None
    result = select_negatives(inputs, ranking, "ensemble-pca", sel, filters, condition=condition)
    result.params["dims"] = space.dims
    return result


def mine_semi_hard(
    inputs: MiningInputs, sel: Selection, filters: Filters, base: str = "fusion",
    band: tuple[float, float] | None = None, models: Sequence[str] = DEFAULT_MODELS,
    depth: int = 100,
) -> MiningResult:
    """Negatives below the hardest ones: a rank window (default ranks 10-50) or a score band.

    ``band=(lo, hi)`` keeps candidates scoring between ``lo`` and ``hi`` times the positive's
    score (e.g. ``(0.6, 0.9)``); without a band the window ``skip_top=10, window=40`` applies
    unless given. ``base`` is ``fusion``, ``bm25`` or ``dense:<model>``.
    """
    if band is not None:
        lo, hi = band
        filters = Filters(min_relative=lo, max_relative=hi, max_score=filters.max_score)
    if base == "fusion":
        ranking = rank_fusion(inputs, models, "rrf", depth)
    elif base == "bm25":
        ranking = rank_bm25(inputs, depth)
    elif base.startswith("dense:"):
        ranking = rank_dense(inputs, _model_of(base), depth)
    else:
        raise MiningError(f"semi-hard base must be fusion, bm25 or dense:<model>, got {base!r}.")
    return select_negatives(inputs, ranking, "semi-hard", sel, filters)


def _model_of(spec: str) -> str:
    model = spec.partition(":")[2].strip()
    if not model:
        raise MiningError(f"{spec!r} names no model: write e.g. dense:minilm-l6.")
    return model


#: strategy name -> function; ``dense:<model>`` dispatches to ``dense`` with ``model=...``
STRATEGIES: dict[str, Callable[..., MiningResult]] = {
    "random": mine_random,
    "bm25": mine_bm25,
    "dense": mine_dense,
    "fusion": mine_fusion,
    "ensemble-pca": mine_ensemble_pca,
    "semi-hard": mine_semi_hard,
}

_SELECTION_KEYS = {f for f in Selection.__dataclass_fields__}
_FILTER_KEYS = {"max_relative", "min_relative", "margin", "max_score", "min_score"}


def strategy_names() -> list[str]:
    """Names accepted by :func:`mine` (``dense`` is written ``dense:<model>``)."""
    return [("dense:<model>" if s == "dense" else s) for s in STRATEGIES]


def mine(
    data: Any,
    split: str = "train",
    strategy: str = "ensemble-pca",
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    num_negatives: int = 4,
    seed: int = 0,
    **params: Any,
) -> MiningResult:
    """Mine negatives for every query of ``split`` with a named strategy.

    Args:
        data: a :class:`~hardneg_kit.corpus.BeirData` or prepared :class:`MiningInputs`.
        split: usually ``train``.
        strategy: ``random``, ``bm25``, ``dense:<model>``, ``fusion``, ``ensemble-pca`` or
            ``semi-hard``.
        models: the bi-encoders of ``fusion`` / ``ensemble-pca`` / ``semi-hard``.
        num_negatives: negatives per query (fewer when not enough candidates survive).
        seed: seeds random sampling, random negatives and PCA.
        params: :class:`Selection` fields (``skip_top``, ``window``, ``sampling``,
            ``random_share``, ``fallback``, ``cross_encoder``, ``denoise_threshold``,
            ``near_copy``, ``guard_model``), :class:`Filters` fields (``max_relative``,
            ``min_relative``, ``margin``, ``max_score``, ``min_score``) or the strategy's own
            (``depth``, ``variance``, ``method``, ``band``, ``base``).

    >>> mine(data, "train", "dense:minilm-l6", num_negatives=4, max_relative=0.95)  # doctest: +SKIP
    """
    name, _, arg = strategy.partition(":")
    if name not in STRATEGIES or (name == "dense") != bool(arg):
        raise MiningError(
            f"Unknown strategy {strategy!r}; choose one of {', '.join(strategy_names())}."
        )
    from hardneg_kit.models import load_encoder

    models = tuple(m.strip() for m in models if m.strip())
    needed = {"fusion": models, "ensemble-pca": models, "dense": (arg,)}.get(name, ())
    if name == "semi-hard" and params.get("base", "fusion") == "fusion":
        needed = models
    for m in needed:
        load_encoder(m)  # unknown models fail here, before any work, with a clear message
    inputs = prepare(data, split)
    if name == "semi-hard" and params.get("band") is None:
        params.setdefault("skip_top", 10)
        params.setdefault("window", 40)
        params.setdefault("sampling", "random")
    sel_kw = {k: params.pop(k) for k in list(params) if k in _SELECTION_KEYS}
    filt_kw = {k: params.pop(k) for k in list(params) if k in _FILTER_KEYS}
    sel = Selection(num_negatives=num_negatives, seed=seed, **sel_kw)
    filters = Filters(**filt_kw)
    if name == "random":
        if filters.active:
            raise MiningError("random takes no filters: it does not rank candidates.")
        params.pop("depth", None)  # harmless for random: there is no candidate list
        fn_kwargs: dict[str, Any] = dict(params)
    else:
        fn_kwargs = dict(params)
        fn_kwargs["filters"] = filters
        if name in ("fusion", "ensemble-pca", "semi-hard"):
            fn_kwargs["models"] = models
        if name == "dense":
            fn_kwargs["model"] = arg
    accepted = inspect.signature(STRATEGIES[name]).parameters
    unknown = sorted(k for k in fn_kwargs if k not in accepted)
    if unknown:
        raise MiningError(f"{strategy} takes no parameter {', '.join(unknown)}.")
    start = time.perf_counter()
    result = STRATEGIES[name](inputs, sel, **fn_kwargs)
    result.strategy = strategy if name != "dense" else f"dense:{arg}"
    for row in result.rows:
        row.strategy = result.strategy
    result.seconds = time.perf_counter() - start
    shown = {k: v for k, v in {**sel_kw, **filt_kw, **params}.items() if k != "cross_encoder"}
    result.params = {
        **result.params, "split": split, "num_negatives": num_negatives, "seed": seed,
        "models": list(models) if needed == models else list(needed), **shown,
    }
    result.settings = _settings(result.strategy, split, sel, filters, accepted, fn_kwargs)
    logger.info("%s (%.1f s)", result.summary(), result.seconds)
    return result


def _settings(
    strategy: str, split: str, sel: Selection, filters: Filters,
    accepted: Any, fn_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Every setting in effect: selection, filters and the strategy's own (defaults included)."""
    own = {
        k: p.default for k, p in accepted.items()
        if k not in ("inputs", "sel", "filters") and p.default is not inspect.Parameter.empty
    }
    own.update({k: v for k, v in fn_kwargs.items() if k != "filters"})
    selection = {k: getattr(sel, k) for k in Selection.__dataclass_fields__}
    ce = selection["cross_encoder"]  # a model object: record what it is, not its weights
    selection["cross_encoder"] = None if ce is None else str(
        getattr(ce, "name_or_path", None) or getattr(ce, "model_name", None) or type(ce).__name__
    )
    return {"strategy": strategy, "split": split, **selection, **asdict(filters), **own}


# --------------------------------------------------------------------------------------------
# sentence-transformers formats


def to_dataset(
    result: MiningResult,
    data: Any,
    format: str = "triplet",
    *,
    output_scores: bool = False,
    anchor_column: str = "query",
    positive_column: str = "positive",
    pad: bool = False,
):
    """The negatives as a ``datasets.Dataset`` in a ``mine_hard_negatives`` output format.

    Columns, as ``mine_hard_negatives`` names them for an input with columns
    (``anchor_column``, ``positive_column``):

    - ``triplet``: query, positive, negative (one row per positive x negative)
    - ``n-tuple``: query, positive, negative_1 ... negative_n (rows with all n negatives only,
      as there; n = the largest count in the result). ``pad=True`` keeps every row with at
      least one negative and fills the missing ones with ``None`` (the kit's losses skip them)
    - ``labeled-pair``: query, positive (any document), label (1 / 0)
    - ``labeled-list``: query, positive (list: positives then negatives), labels

    ``output_scores`` adds ``scores`` (``score`` for labeled-pair, replacing ``label``; random
    negatives have no score: ``nan``). Texts: the query text and :func:`passage_text` of each
    passage, as the retrievers index it.

    >>> to_dataset(result, data, "n-tuple").column_names  # doctest: +SKIP
    ['query', 'positive', 'negative_1', 'negative_2']
    """
    import datasets

    if format not in FORMATS:
        raise MiningError(f"Unknown format {format!r}; choose one of {', '.join(FORMATS)}.")
    split = result.params.get("split", "train")
    inputs = prepare(data, split)
    q_text = dict(zip(inputs.query_ids, inputs.queries, strict=True))
    ptext = inputs.passages

    def text(doc: str) -> str:
        return ptext[inputs.doc_row[doc]]

    def sc(x: float | None) -> float:
        return math.nan if x is None else float(x)

    a, p = anchor_column, positive_column
    cols: dict[str, list] = {a: [], p: []}
    if format == "triplet":
        cols["negative"] = []
        for r in result.rows:
            for pid, ps in zip(r.positive_ids, r.positive_scores, strict=True):
                for nid, ns in zip(r.negative_ids, r.scores, strict=True):
                    cols[a].append(q_text[r.query_id])
                    cols[p].append(text(pid))
                    cols["negative"].append(text(nid))
                    if output_scores:
                        cols.setdefault("scores", []).append([sc(ps), sc(ns)])
    elif format == "n-tuple":
        n = max((len(r.negative_ids) for r in result.rows), default=0)
        for i in range(1, n + 1):
            cols[f"negative_{i}"] = []
        dropped = 0
        for r in result.rows:
            if len(r.negative_ids) < n and not (pad and r.negative_ids):
                dropped += 1
                continue
            missing = n - len(r.negative_ids)
            for pid, ps in zip(r.positive_ids, r.positive_scores, strict=True):
                cols[a].append(q_text[r.query_id])
                cols[p].append(text(pid))
                for i, nid in enumerate([*r.negative_ids, *[None] * missing], start=1):
                    cols[f"negative_{i}"].append(None if nid is None else text(nid))
                if output_scores:
                    scores = [sc(ps)] + [sc(s) for s in r.scores] + [math.nan] * missing
                    cols.setdefault("scores", []).append(scores)
        if dropped:
            logger.info("n-tuple: %d queries with %s negatives left out", dropped,
                        "no" if pad else f"fewer than {n}")
    elif format == "labeled-pair":
        key = "score" if output_scores else "label"
        cols[key] = []
        for r in result.rows:
            pairs = [(d, s, 1) for d, s in zip(r.positive_ids, r.positive_scores, strict=True)]
            pairs += [(d, s, 0) for d, s in zip(r.negative_ids, r.scores, strict=True)]
            for doc, s, label in pairs:
                cols[a].append(q_text[r.query_id])
                cols[p].append(text(doc))
                cols[key].append(sc(s) if output_scores else label)
    else:  # labeled-list: one list per (query, positive), as mine_hard_negatives builds it
        key = "scores" if output_scores else "labels"
        cols[key] = []
        for r in result.rows:
            for pid, ps in zip(r.positive_ids, r.positive_scores, strict=True):
                cols[a].append(q_text[r.query_id])
                cols[p].append([text(pid)] + [text(n) for n in r.negative_ids])
                cols[key].append(
                    [sc(ps)] + [sc(s) for s in r.scores]
                    if output_scores
                    else [1] + [0] * len(r.negative_ids)
                )
    return datasets.Dataset.from_dict(cols)
