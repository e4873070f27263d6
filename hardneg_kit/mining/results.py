"""What mining returns and how it is stored: :class:`NegativeRow`, :class:`MiningResult`, the JSONL
file and its ``.meta.json`` record.

One JSON object per query: the rows with negatives first, then the skipped queries with
``"skipped": reason``. Beside any output, ``<output>.meta.json`` records how it was made (kit
version, strategy, every setting in effect, the queries mined, the candidate counts). Both are
written atomically (:func:`hardneg_kit.cache.atomic_path`).

Example:
    >>> result.to_jsonl("negatives/bm25.jsonl")  # doctest: +SKIP
    >>> MiningResult.read_jsonl("negatives/bm25.jsonl").strategy  # doctest: +SKIP
    'bm25'
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hardneg_kit.cache import atomic_path


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

    ``counts`` records why candidates were removed (``positives``, ``near_copies``,
    ``lexical_twins``, one entry per filter, ``conditions``, ``denoised``), for the diagnostics.

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
        effect (defaults included: filters, models, conditions, depth, near-copy and
        lexical-twin guards, PCA fit, seed),
        the queries mined and the candidate counts, plus ``context`` (dataset, profile, ...),
        and the runtime and fingerprint of every bi-encoder it read (``encoders``).

        >>> result.write_meta("negatives/bm25.jsonl", profile="smoke")  # doctest: +SKIP
        PosixPath('negatives/bm25.jsonl.meta.json')
        """
        from hardneg_kit import __version__
        from hardneg_kit.models import describe_encoders

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
            "encoders": describe_encoders(self._encoder_specs()),
        }
        path = meta_path(output)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        return path

    def _encoder_specs(self) -> list[str]:
        """The bi-encoders behind the negatives: the strategy's and the near-copy guard's."""
        specs = list(self.params.get("models", []))
        guard = self.settings.get("guard_model")
        if guard and self.settings.get("near_copy") is not None:
            specs.append(guard)
        return specs

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

