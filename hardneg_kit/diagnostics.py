"""What mined negatives look like: coverage, similarity distributions, overlap, false-negative risk.

Every function returns plain data (dicts, lists, numpy arrays); :mod:`hardneg_kit.plots_mining`
draws them. Similarities are cosines in one *reference* space (``minilm-l6`` by default), so
strategies that rank in different spaces (BM25, fusion, PCA) are compared on one scale.

Example:
    >>> from hardneg_kit.diagnostics import similarity_distributions, overlap
    >>> sims = similarity_distributions(inputs, {"bm25": r1, "ensemble-pca": r2})  # doctest: +SKIP
    >>> sims["bm25"]["qn"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hardneg_kit.mining import EnsembleSpace, MiningInputs, MiningResult


def coverage(results: Mapping[str, MiningResult]) -> dict[str, dict[str, float | int]]:
    """Per strategy: queries with negatives, skipped, share, mean negatives per covered query.

    >>> coverage({"bm25": result})["bm25"]["share"]  # doctest: +SKIP
    0.98
    """
    out: dict[str, dict[str, float | int]] = {}
    for name, r in results.items():
        n_neg = sum(len(row.negative_ids) for row in r.rows)
        out[name] = {
            "with_negatives": len(r.rows),
            "skipped": len(r.skipped),
            "share": round(r.coverage, 4),
            "negatives_per_query": round(n_neg / len(r.rows), 3) if r.rows else 0.0,
            "seconds": round(r.seconds, 2),
        }
    return out


def coverage_table(results: Mapping[str, MiningResult]) -> pd.DataFrame:
    """:func:`coverage` as a DataFrame indexed by strategy, counts as integers.

    >>> coverage_table({"bm25": result}).loc["bm25", "with_negatives"]  # doctest: +SKIP
    600
    """
    table = pd.DataFrame.from_dict(coverage(results), orient="index")
    table.index.name = "strategy"
    return table.astype({"with_negatives": int, "skipped": int})


def similarity_distributions(
    inputs: MiningInputs, results: Mapping[str, MiningResult], model: str = "minilm-l6"
) -> dict[str, dict[str, np.ndarray]]:
    """Per strategy, cosines in ``model`` space: ``qp`` sim(Q,P), ``qn`` sim(Q,N), ``pn`` sim(P,N).

    ``qp`` has one value per (query, positive) of the covered queries; ``qn`` and ``pn`` one per
    (query, negative), ``pn`` taking the most similar positive.
    """
    q_emb, p_emb = inputs.query_embeddings(model), inputs.passage_embeddings(model)
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, r in results.items():
        qp, qn, pn = [], [], []
        for row in r.rows:
            q = q_emb[inputs.query_row[row.query_id]]
            pos = p_emb[[inputs.doc_row[p] for p in row.positive_ids]]
            neg = p_emb[[inputs.doc_row[n] for n in row.negative_ids]]
            qp.extend(pos @ q)
            qn.extend(neg @ q)
            pn.extend((neg @ pos.T).max(axis=1))
        out[name] = {k: np.asarray(v, dtype=np.float32) for k, v in
                     (("qp", qp), ("qn", qn), ("pn", pn))}
    return out


def similarity_table(sims: Mapping[str, Mapping[str, np.ndarray]]) -> list[dict]:
    """Rows of means (and the share of negatives with sim(P,N) >= 0.9) for a printed table."""
    rows = []
    for name, s in sims.items():
        rows.append({
            "strategy": name,
            "sim(Q,P)": round(float(s["qp"].mean()), 3) if len(s["qp"]) else None,
            "sim(Q,N)": round(float(s["qn"].mean()), 3) if len(s["qn"]) else None,
            "sim(P,N)": round(float(s["pn"].mean()), 3) if len(s["pn"]) else None,
            "sim(P,N)>=0.9": round(float((s["pn"] >= 0.9).mean()), 3) if len(s["pn"]) else None,
        })
    return rows


def overlap(results: Mapping[str, MiningResult]) -> tuple[list[str], np.ndarray]:
    """Mean per-query Jaccard of negative sets between strategies (queries both covered).

    >>> names, matrix = overlap(results)  # doctest: +SKIP
    """
    names = list(results)
    negs = [{q: set(n) for q, n in results[k].negatives().items()} for k in names]
    m = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            common = negs[i].keys() & negs[j].keys()
            vals = [len(negs[i][q] & negs[j][q]) / len(negs[i][q] | negs[j][q]) for q in common]
            m[i, j] = m[j, i] = float(np.mean(vals)) if vals else 0.0
    return names, m


def explained_variance(space: EnsembleSpace) -> np.ndarray:
    """Cumulative explained-variance ratio of the kept PCA components."""
    return np.cumsum(space.explained_variance_ratio)


@dataclass
class AuditRow:
    """One (query, positive, negative) with the negative's similarity to the positive."""

    strategy: str
    query_id: str
    query: str
    positive_id: str
    positive: str
    negative_id: str
    negative: str
    sim_pn: float


def false_negative_audit(
    inputs: MiningInputs,
    results: Mapping[str, MiningResult],
    top: int = 10,
    model: str = "minilm-l6",
    max_chars: int = 160,
) -> list[AuditRow]:
    """The ``top`` negatives most similar to their positive, over all strategies: read them.

    High sim(P,N) is where false negatives (a second correct answer) hide; the near-copy guard
    removed exact copies already, so what remains needs a human eye.
    """
    p_emb = inputs.passage_embeddings(model)
    cands: list[AuditRow] = []
    cut = lambda t: t if len(t) <= max_chars else t[: max_chars - 1] + "…"  # noqa: E731
    for name, r in results.items():
        for row in r.rows:
            pos_rows = [inputs.doc_row[p] for p in row.positive_ids]
            for n in row.negative_ids:
                sims = p_emb[pos_rows] @ p_emb[inputs.doc_row[n]]
                best = int(np.argmax(sims))
                cands.append(AuditRow(
                    name, row.query_id, inputs.queries[inputs.query_row[row.query_id]],
                    row.positive_ids[best], cut(inputs.passages[pos_rows[best]]),
                    n, cut(inputs.passages[inputs.doc_row[n]]), round(float(sims[best]), 4),
                ))
    cands.sort(key=lambda a: (-a.sim_pn, a.strategy, a.query_id, a.negative_id))
    return cands[:top]
