"""Readings for the notebooks: results turned into sentences and small tables, never by hand.

Every sentence a notebook shows about a result is computed here from that result (a table of
:func:`hardneg_kit.experiment.summarise`, the runs, a training log), so the text cannot
disagree with the numbers above it. The notebooks' thread also lives here: the four contenders
that notebooks 03-05 mine, train and evaluate (:func:`notebook_contenders`), the exact data and
mining call that :func:`hardneg_kit.experiment.train_contender` uses (:func:`training_data`,
:func:`mine_for_training`), and the reference run of the ``full`` profile beside the learner's
(:func:`load_reference`, :func:`agreement`, :func:`why_they_differ`).

Example:
    >>> from hardneg_kit.readings import pair_sentence
    >>> row = {"a": "bm25", "b": "random", "mean a": 0.76, "mean b": 0.42, "delta": 0.34,
    ...        "low": 0.32, "high": 0.36, "p holm": 1e-9}
    >>> pair_sentence(row, who="the reference run")[:56]
'In the reference run, bm25 beat random by +0.340 MRR@10 '
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hardneg_kit.experiment import (
    BASE,
    BASELINE,
    FUSION,
    TRAIN_DATASET,
    WITH_FIRST_STAGE,
    Contender,
    load_saved_runs,
    saved_qrels,
    select_contenders,
)
from hardneg_kit.profiles import Profile

#: the published rule: the two conditions in the PCA space of the concatenated embeddings
PUBLISHED = "ensemble-pca"
#: the kit's best reading of it: the same space with NV-Retriever's positive-aware filter
FILTERED = "ensemble-pca + filter 0.95"
#: what notebooks 04 and 05 train besides ``random`` (always kept, with the base and fusion)
NOTEBOOK_CONTENDERS = ("bm25", PUBLISHED, FILTERED)
#: the reference run, relative to the repository root
REFERENCE_DIR = "results/full"
#: significance level of every reading
ALPHA = 0.05


def fmt_p(p: float) -> str:
    """A p-value for reading: two significant digits, ``< 1e-12`` below that (a t-test's
    p-value underflows to 0 long before it means anything more)."""
    return "n/a" if pd.isna(p) else ("< 1e-12" if p < 1e-12 else f"{p:.2g}")


def quiet() -> None:
    """Clean notebook output: no progress bars, no Numba type-safety warnings from ranx, library
    loggers at ERROR (the notebooks print the readings instead: e.g. :func:`budget_sentence`
    says which rows were repeated).

    Progress bars: every ``tqdm`` bar created afterwards in this process is disabled (libraries
    pass ``disable=`` explicitly, so neither ``TQDM_DISABLE`` nor their own switches reach all
    of them); transformers', datasets' and the hub's own switches are turned off too.
    """
    _no_tqdm()
    try:  # in a notebook, transformers' Trainer shows an HTML progress table instead of tqdm
        import transformers.trainer
        from transformers.trainer_callback import ProgressCallback

        transformers.trainer.DEFAULT_PROGRESS_CALLBACK = ProgressCallback
    except ImportError:  # pragma: no cover
        pass
    import logging
    import warnings

    try:
        from numba.core.errors import NumbaTypeSafetyWarning

        warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)
    except ImportError:  # pragma: no cover - numba comes with ranx
        pass
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("transformers", "datasets", "huggingface_hub"):
        try:
            module = __import__(f"{name}.utils", fromlist=["logging"])
            getattr(module, "disable_progress_bars", getattr(module, "disable_progress_bar",
                                                             lambda: None))()
        except ImportError:  # pragma: no cover
            pass
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
    logging.basicConfig(level=logging.ERROR)
    for name in ("hardneg_kit", "sentence_transformers", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _no_tqdm() -> None:
    import tqdm.std

    init = tqdm.std.tqdm.__init__
    if getattr(init, "_hardneg_quiet", False):
        return

    def quiet_init(self, *args, **kwargs):
        kwargs["disable"] = True
        init(self, *args, **kwargs)

    quiet_init._hardneg_quiet = True
    tqdm.std.tqdm.__init__ = quiet_init


# --------------------------------------------------------------------------- the thread


def notebook_contenders() -> list[Contender]:
    """The notebooks' contenders in table order: the fused first stage, the base, and four
    fine-tuned models (random, bm25, the published rule, the filtered ensemble)."""
    return select_contenders(list(NOTEBOOK_CONTENDERS))


def trained_contenders() -> list[Contender]:
    """The four contenders that are fine-tuned (mined negatives), in table order."""
    return [c for c in notebook_contenders() if c.kind == "mined"]


def training_data(profile: Profile):
    """The training dataset exactly as the experiment samples it.

    :func:`hardneg_kit.experiment.sampled_dataset`: ``aws-cli`` with its ``train`` and ``test``
    splits (test capped at the evaluated queries); the positives of those queries decide which
    passages the corpus sample keeps, so mining on any other sample (e.g. ``load_dataset``, which
    also samples ``dev``) gives other negatives. For notebook 03.
    """
    from hardneg_kit.experiment import sampled_dataset

    return sampled_dataset(TRAIN_DATASET, profile)


def mine_for_training(contender: Contender, data: Any, profile: Profile, seed: int = 0):
    """The contender's negatives, mined with the very call of
    :func:`hardneg_kit.experiment.training_dataset` (same strategy, parameters, number of
    negatives and seed); ``data`` may be prepared :class:`~hardneg_kit.mining.MiningInputs`."""
    from hardneg_kit.mining import mine

    if contender.kind != "mined":
        raise ValueError(f"{contender.name} is a {contender.kind} contender: nothing is mined.")
    return mine(data, "train", contender.spec, num_negatives=profile.num_negatives, seed=seed,
                **dict(contender.params))


def negatives_fingerprint(result) -> str:
    """12 hex characters that change whenever any query's negatives change (ids and order)."""
    rows = sorted((r.query_id, tuple(r.negative_ids)) for r in result.rows)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:12]


def training_examples(datasets: Mapping[str, Any], query: str | None = None,
                      width: int = 70) -> pd.DataFrame:
    """One training row of each kind, for the same query: columns are the contenders, rows the
    query, the positive and each negative (texts cut to ``width`` characters).

    ``datasets`` maps a contender to its n-tuple rows (a ``datasets.Dataset`` or a list of
    dicts with ``query``, ``positive``, ``negative_1`` ...). ``query`` defaults to the first
    query that every contender has a row for.
    """
    rows = {name: (ds.to_list() if hasattr(ds, "to_list") else list(ds))
            for name, ds in datasets.items()}
    by_query = {name: {r["query"]: r for r in rs} for name, rs in rows.items()}
    if query is None:
        first = next(iter(rows.values()), [])
        query = next((r["query"] for r in first
                      if all(r["query"] in bq for bq in by_query.values())), None)
        if query is None:
            raise ValueError("No query has a training row in every contender.")

    def cut(t):
        return "" if t is None else (t if len(t) <= width else t[: width - 1] + "…")

    keys = ["query", "positive"] + sorted(
        {k for bq in by_query.values() for k in bq.get(query, {}) if k.startswith("negative")},
        key=lambda k: int(k.rpartition("_")[2] or 0))
    table = pd.DataFrame({name: [cut(bq.get(query, {}).get(k)) for k in keys]
                          for name, bq in by_query.items()}, index=keys)
    return table


def budget_readings(logs: Mapping[str, Mapping]) -> pd.DataFrame:
    """Per contender (a training log, ``TrainResult.to_json()``): unique rows, rows trained, how
    often each unique row was seen on average, steps and pairs scored."""
    out = {}
    for name, log in logs.items():
        unique = log["config"].get("unique_rows", log["train_rows"])
        out[name] = {"unique rows": unique, "rows trained": log["train_rows"],
                     "times each row is seen": round(log["train_rows"] / unique, 2),
                     "steps": log["steps"], "pairs scored": log["pairs_seen"],
                     "training s": round(log["wall_time_s"])}
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "contender"
    return table


def budget_sentence(budget: pd.DataFrame) -> str:
    """What :func:`budget_readings` says, in words: the shared steps and who repeats rows."""
    steps = sorted(set(budget["steps"]))
    same = f"every contender took {steps[0]} optimiser steps" if len(steps) == 1 else (
        f"the contenders took {', '.join(map(str, steps))} optimiser steps")
    repeated = budget[budget["times each row is seen"] > 1.0]
    if repeated.empty:
        return f"In your run {same}, each on distinct rows."
    parts = [f"`{n}` had {int(r['unique rows'])} unique rows, each seen "
             f"{r['times each row is seen']:.1f}x on average" for n, r in repeated.iterrows()]
    return (f"In your run {same} on {int(budget['rows trained'].max())} rows; "
            + "; ".join(parts) + ". The budget is equal in steps and pairs, not in distinct "
            "examples.")


# --------------------------------------------------------------------------- paired readings


def pairwise_tests(qrels, runs: Mapping[str, Mapping[int, Any]], names: Sequence[str],
                   metric: str = "mrr@10", seed: int = 0) -> pd.DataFrame:
    """Every pair of ``names``: paired t-test over queries (each query's metric averaged over
    seeds), 95% bootstrap interval, Holm over all the pairs.

    Rows are ordered pairs ``(a, b)`` with ``a`` the one with the higher mean; columns ``a``,
    ``b``, ``mean a``, ``mean b``, ``delta`` (a - b, >= 0), ``low``, ``high``, ``p``, ``p holm``,
    ``n``.
    """
    from hardneg_kit.statistics import holm, paired_test, per_query

    values = {n: per_query(qrels, runs[n], metric) for n in names}
    rows = []
    for x, y in combinations(names, 2):
        a, b = (x, y) if values[x].mean() >= values[y].mean() else (y, x)
        t = paired_test(values[b], values[a], metric, b, a, seed=seed)
        rows.append({"a": a, "b": b, "mean a": t.mean_contender, "mean b": t.mean_baseline,
                     "delta": t.delta, "low": t.ci_low, "high": t.ci_high, "p": t.p, "n": t.n})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    adjusted = holm({f"{r.a} > {r.b}": r.p for r in table.itertuples()})
    table["p holm"] = [adjusted[f"{r.a} > {r.b}"] for r in table.itertuples()]
    table.index = [f"{r.a} > {r.b}" for r in table.itertuples()]
    table.index.name = "ordering"
    return table


def pair_sentence(row: Mapping[str, Any], who: str = "your run", metric: str = "mrr@10") -> str:
    """One row of :func:`pairwise_tests` in words: who beat whom, by how much, how sure."""
    p = row["p holm"]
    if row["delta"] == 0:
        return (f"In {who}, {row['a']} and {row['b']} tie at {metric.upper()} "
                f"{row['mean a']:.3f}.")
    reading = ("a significant difference" if p < ALPHA else
               "not a significant difference: this ordering could be noise")
    return (f"In {who}, {row['a']} beat {row['b']} by {row['delta']:+.3f} {metric.upper()} "
            f"({row['mean a']:.3f} vs {row['mean b']:.3f}, 95% CI [{row['low']:+.3f}, "
            f"{row['high']:+.3f}], Holm p {_eq(p)}): {reading}.")


def _eq(p: float) -> str:
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def _ordered(table: pd.DataFrame) -> dict[frozenset, Mapping[str, Any]]:
    return {frozenset((r["a"], r["b"])): r for _, r in table.iterrows()}


def agreement(yours: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """For each pair tested in both runs (:func:`pairwise_tests`): the reference's ordering and
    whether it is significant, your run's difference in the same direction, and a reading.

    ``reading``: ``agrees`` (same order, significant in both), ``same order, not significant in
    yours``, ``flipped`` (your run orders them the other way) or ``reference: noise`` (the
    reference itself cannot tell them apart, so no ordering is expected).
    """
    mine = _ordered(yours)
    rows = []
    for key, ref in _ordered(reference).items():
        if key not in mine:
            continue
        you = mine[key]
        same = you["a"] == ref["a"] or you["delta"] == 0
        delta = you["delta"] if you["a"] == ref["a"] else -you["delta"]
        low, high = ((you["low"], you["high"]) if you["a"] == ref["a"]
                     else (-you["high"], -you["low"]))
        delta, low, high = delta + 0.0, low + 0.0, high + 0.0  # no "-0.000"
        if ref["p holm"] >= ALPHA:
            reading = "reference: noise"
        elif you["delta"] == 0:
            reading = "tie in yours"
        elif not same:
            reading = "flipped" + (" (significant)" if you["p holm"] < ALPHA else
                                   " (not significant)")
        elif you["p holm"] < ALPHA:
            reading = "agrees"
        else:
            reading = "same order, not significant in yours"
        rows.append({"ordering (reference)": f"{ref['a']} > {ref['b']}",
                     "reference Δ [95% CI]": f"{ref['delta']:+.3f} [{ref['low']:+.3f}, "
                                             f"{ref['high']:+.3f}]",
                     "reference Holm p": fmt_p(ref["p holm"]),
                     "yours Δ [95% CI]": f"{delta:+.3f} [{low:+.3f}, {high:+.3f}]",
                     "yours Holm p": fmt_p(you["p holm"]),
                     "reading": reading})
    return pd.DataFrame(rows).set_index("ordering (reference)") if rows else pd.DataFrame()


def agreement_sentence(table: pd.DataFrame) -> str:
    """A summary of :func:`agreement`: how many of the reference's significant orderings your
    run reproduces, flips, or leaves open, and which orderings are noise in both."""
    if table.empty:
        return "No pair was tested in both runs."
    counts = table["reading"].value_counts()
    significant = int((table["reading"] != "reference: noise").sum())
    agrees = int(counts.get("agrees", 0))
    open_ = int(counts.get("same order, not significant in yours", 0))
    flipped = [o for o, r in table["reading"].items() if r.startswith("flipped")]
    flipped_sig = int(counts.get("flipped (significant)", 0))
    ties = int(counts.get("tie in yours", 0))
    noise = [o for o, r in table["reading"].items() if r == "reference: noise"]
    text = (f"Of the {len(table)} orderings tested, the reference run finds {significant} "
            f"significant. Your run reproduces {agrees} of them significantly and {open_} in the "
            "same direction without significance")
    if ties:
        text += f", ties {ties}"
    text += (f"; it flips {len(flipped)} ({flipped_sig} of them significantly): "
             + ", ".join(f"`{o}`" for o in flipped) if flipped else "; it flips none")
    text += "."
    if noise:
        text += (" Noise even in the reference (Holm p ≥ 0.05, so neither order is a finding): "
                 + ", ".join(f"`{o}`" for o in noise) + ".")
    return text


# --------------------------------------------------------------------------- the reference run


def load_reference(output_dir: str | Path, names: Sequence[str],
                   dataset: str = TRAIN_DATASET) -> tuple[dict, Any, dict[str, dict[int, Any]]]:
    """The saved reference run: ``(results.json payload, qrels of its evaluated queries,
    contender -> seed -> run)`` for ``names`` only (read from its TREC files)."""
    payload, runs = load_saved_runs(output_dir, names, [dataset])
    return payload, saved_qrels(payload, dataset, runs[dataset]), runs[dataset]


def compare_with_reference(output_dir: str | Path, reference_dir: str | Path,
                           names: Sequence[str] | None = None, dataset: str | None = None,
                           metric: str = "mrr@10") -> pd.DataFrame:
    """Which orderings of the reference run does a saved run reproduce? Every pair of
    ``names`` (default: the contenders both runs share, first stages other than fusion and
    interpolated rows left out) tested in each run from its TREC files
    (:func:`pairwise_tests`) on ``dataset`` (default: the run's training dataset), then read side
    by side (:func:`agreement`).

    >>> compare_with_reference("results/workshop-check", "results/full")  # doctest: +SKIP
    """
    payloads = [json.loads((Path(f) / "results.json").read_text())
                for f in (output_dir, reference_dir)]
    dataset = dataset or payloads[0].get("train_dataset", TRAIN_DATASET)
    if names is None:
        kinds = [p["contenders"] for p in payloads]
        names = [n for n, k in kinds[0].items() if n in kinds[1] and k != "interpolated"
                 and (k != "first-stage" or n == FUSION)]
    tables = {}
    for folder in (output_dir, reference_dir):
        _, qrels, runs = load_reference(folder, names, dataset)
        tables[folder] = pairwise_tests(qrels, runs, names, metric)
    return agreement(tables[output_dir], tables[reference_dir])


def why_they_differ(profile: Profile, payload: Mapping[str, Any],
                    sizes: Mapping[str, Mapping[str, int]] | None = None) -> pd.DataFrame:
    """Your profile beside the reference's, row by row: what makes their numbers differ.

    ``payload`` is the reference's ``results.json``; ``sizes`` your run's
    (``ExperimentResult.sizes``; without it the profile's caps are shown)."""
    ref = payload["profile"]
    ref_sizes = payload.get("sizes", {})
    sizes = sizes or {}

    def n(value):
        return "all" if value is None else f"{value:,}"

    def size(s, field, cap):
        return n(s.get(TRAIN_DATASET, {}).get(field, cap))

    rows = {
        "aws-cli passages": (size(sizes, "documents", profile.max_documents),
                             size(ref_sizes, "documents", ref["max_documents"])),
        "aws-cli test queries": (size(sizes, "queries", profile.eval_queries),
                                 size(ref_sizes, "queries", ref["eval_queries"])),
        "training queries (rows per contender)": (f"{n(profile.max_train_queries)} "
                                                  f"({profile.train_examples:,})",
                                                  f"{n(ref['max_train_queries'])} "
                                                  f"({ref['train_examples']:,})"),
        "base re-ranker pseudo-queries": (n(profile.base_examples), n(ref["base_examples"])),
        "negatives per row": (profile.num_negatives, ref["num_negatives"]),
        "cross-encoder layers": ("all" if profile.cross_encoder_layers is None
                                 else profile.cross_encoder_layers,
                                 "all" if ref["cross_encoder_layers"] is None
                                 else ref["cross_encoder_layers"]),
        "dev queries (choose w, best single model)": (n(profile.dev_queries),
                                                      n(ref["dev_queries"])),
        "seeds": (len(profile.seeds), len(ref["seeds"])),
    }
    table = pd.DataFrame(rows, index=[f"yours ({profile.name})",
                                      f"reference ({ref['name']})"]).T
    table["same?"] = ["yes" if str(a) == str(b) else "no"
                      for a, b in zip(table.iloc[:, 0], table.iloc[:, 1], strict=True)]
    return table


def side_by_side(yours: pd.DataFrame, reference: pd.DataFrame, rows: Sequence[str],
                 metric: str = "mrr@10") -> pd.DataFrame:
    """``metric`` and its difference from the fused first stage, yours beside the reference's,
    for ``rows`` (contender names of both summary tables)."""
    col = f"{metric} vs {FUSION}"
    out = {}
    for name in rows:
        cells = {}
        for who, table in (("yours", yours), ("reference", reference)):
            if name not in table.index:
                cells |= {f"{who} {metric}": "", f"{who} Δ vs fusion": ""}
                continue
            row = table.loc[name]
            p = row.get(f"{col} p", np.nan)
            delta = "" if pd.isna(p) else (f"{row[f'{col} delta']:+.3f}"
                                           + (" *" if p < ALPHA else ""))
            cells |= {f"{who} {metric}": f"{row[metric]:.3f}", f"{who} Δ vs fusion": delta}
        out[name] = cells
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index.name = "contender"
    return table


# --------------------------------------------------------------------------- the pipeline


def pipeline_table(table: pd.DataFrame, weights: Mapping[str, float] | None = None,
                   rerank_depth: int | None = None, metric: str = "mrr@10") -> pd.DataFrame:
    """Retriever vs re-ranker, stage by stage, from one summary table.

    One row per stage: the fused first stage (what every re-ranker receives), each re-ranker
    alone (it re-orders the same top ``rerank_depth``), and each re-ranker interpolated with the
    first stage (weight ``w`` chosen on dev). Columns: ``metric``, its difference from the first
    stage with the 95% interval and Holm p, and a verdict: ``helps``, ``hurts`` or
    ``no significant change``.
    """
    weights = weights or {}
    col = f"{metric} vs {FUSION}"
    depth = f"top {rerank_depth}" if rerank_depth else "its candidates"
    rows = [(FUSION, "1. first stage", "BM25 + 3 bi-encoders, fused (RRF)")]
    names = [n for n in table.index if not str(n).startswith("first-stage")
             and not str(n).endswith(WITH_FIRST_STAGE)]
    rows += [(n, "2. re-ranker alone", f"re-orders the first stage's {depth}") for n in names]
    rows += [(n + WITH_FIRST_STAGE, "3. re-ranker + first stage",
              f"w = {weights[n]:g} (chosen on dev)" if n in weights else "interpolated")
             for n in names if n + WITH_FIRST_STAGE in table.index]
    out = []
    for name, stage, how in rows:
        if name not in table.index:
            continue
        row = table.loc[name]
        p = row.get(f"{col} p", np.nan)
        if pd.isna(p):
            delta, verdict = "", "the reference point"
        else:
            delta = (f"{row[f'{col} delta']:+.3f} [{row[f'{col} low']:+.3f}, "
                     f"{row[f'{col} high']:+.3f}]")
            verdict = ("no significant change" if p >= ALPHA else
                       "helps" if row[f"{col} delta"] > 0 else "hurts")
        out.append({"stage": stage, "model": name, "how": how, metric: round(row[metric], 3),
                    "Δ vs first stage [95% CI]": delta,
                    "Holm p": "" if pd.isna(p) else fmt_p(p), "verdict": verdict})
    return pd.DataFrame(out).set_index(["stage", "model"])


def pipeline_sentence(pipeline: pd.DataFrame, metric: str = "mrr@10") -> str:
    """How many re-rankers help or hurt the first stage they re-rank, alone and interpolated,
    with the best of each (computed from :func:`pipeline_table`)."""
    first = pipeline.xs("1. first stage", level="stage")[metric].iloc[0]
    parts = [f"The first stage reaches {metric.upper()} {first:.3f}."]
    for stage, label in (("2. re-ranker alone", "alone"),
                         ("3. re-ranker + first stage", "interpolated with the first stage")):
        if stage not in pipeline.index.get_level_values("stage"):
            continue
        part = pipeline.xs(stage, level="stage")
        counts = part["verdict"].value_counts()
        best = part[metric].idxmax()
        parts.append(
            f"Re-rankers {label}: {int(counts.get('helps', 0))} of {len(part)} significantly "
            f"above it, {int(counts.get('hurts', 0))} significantly below, "
            f"{int(counts.get('no significant change', 0))} not distinguishable; the best is "
            f"`{best}` ({part.loc[best, metric]:.3f}).")
    return " ".join(parts)


def protagonists_sentence(table: pd.DataFrame, metric: str = "mrr@10") -> str:
    """Where the published rule and the filtered ensemble rank among the fine-tuned models of
    one summary table (alone, not interpolated)."""
    fine = [n for n in table.index if not str(n).startswith("first-stage")
            and not str(n).endswith(WITH_FIRST_STAGE) and n != BASE]
    order = table.loc[fine, metric].sort_values(ascending=False)
    ranks = {n: i + 1 for i, n in enumerate(order.index)}
    parts = [f"`{n}` ranks {ranks[n]} of {len(order)} ({order[n]:.3f})"
             for n in (PUBLISHED, FILTERED) if n in ranks]
    return ("Among the fine-tuned models (alone): " + "; ".join(parts) + ". Best: "
            f"`{order.index[0]}` ({order.iloc[0]:.3f}); worst: `{order.index[-1]}` "
            f"({order.iloc[-1]:.3f}).") if parts else ""


def separation_table(scores: Mapping[str, Mapping[str, np.ndarray]], per_query: int
                     ) -> pd.DataFrame:
    """P(positive > near-miss) per model: how often each query's positive outscores each of its
    ``per_query`` near-misses (``scores[model]`` holds ``positives`` and ``hard negatives``)."""
    out = {}
    for name, s in scores.items():
        pos = np.asarray(s["positives"], float)
        neg = np.asarray(s["hard negatives"], float).reshape(len(pos), per_query)
        out[name] = float((pos[:, None] > neg).mean()) if len(pos) else np.nan
    return pd.Series(out, name="P(positive > near-miss)").round(3).to_frame()


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


__all__ = [
    "ALPHA", "BASE", "BASELINE", "FILTERED", "FUSION", "NOTEBOOK_CONTENDERS", "PUBLISHED",
    "REFERENCE_DIR", "agreement", "agreement_sentence", "budget_readings", "budget_sentence",
    "fmt_p", "quiet",
    "load_reference", "mine_for_training", "negatives_fingerprint", "notebook_contenders",
    "pair_sentence", "pairwise_tests", "pipeline_sentence", "pipeline_table",
    "protagonists_sentence", "rank_sentence", "separation_table", "side_by_side",
    "trained_contenders", "training_data", "training_examples", "why_they_differ",
]
