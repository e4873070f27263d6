"""Mining speed: our single-model top-k against ``mine_hard_negatives``, every strategy warm.

Run: ``python benchmarks/bench_mining.py --profile workshop`` (writes
``benchmarks/results/mining-<profile>.json`` and prints the same numbers);
``--peer-only`` runs step 2 alone (``mining-peer-<peer profile>.json``).

1. cold encoding: every model encodes the split's passages and queries without the cache;
   its share of a cold ensemble-pca run is reported.
2. peer, at ``--peer-profile`` (default ``full``: all 18,886 aws-cli passages, 1,000 queries):
   ``dense:minilm-l6`` top-k against ``sentence_transformers.util.mine_hard_negatives`` (its own
   ``cache_folder``, filled from the kit's cache: :func:`_seed_peer_cache`) on the same model,
   k and data, without and with
   the relative filter (0.95, their ``relative_margin=0.05``); 5 interleaved repeats, medians;
   plus the share of queries with identical lists. Our clock includes :func:`prepare`: a user
   calling ``mine(data, ...)`` waits for it.
3. each strategy with warm caches, through ``mine(data, ...)`` (a fresh
   :class:`~hardneg_kit.mining.MiningInputs` each, so no ranking is reused between strategies).

Every JSON records ``os.getloadavg()``: absolute times depend on what else ran; comparisons
are interleaved, so both sides see the same load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from hardneg_kit.cache import atomic_path

logger = logging.getLogger("bench_mining")
REPEATS = 5
STRATEGIES = ("random", "bm25", "dense:minilm-l6", "fusion", "ensemble-pca", "semi-hard")


def _peer_dataset(inputs):
    """(query, positive) pairs of the split, the input ``mine_hard_negatives`` takes."""
    from datasets import Dataset

    pairs = [
        (inputs.queries[i], inputs.passages[inputs.doc_row[p]])
        for i, q in enumerate(inputs.query_ids)
        for p in inputs.positives[q]
    ]
    return Dataset.from_dict({"query": [a for a, _ in pairs], "positive": [b for _, b in pairs]})


def _seed_peer_cache(folder: str, model, ds, inputs) -> None:
    """Put our cached embeddings (same model) where ``mine_hard_negatives`` looks for its own.

    Its ``cache_folder`` files are keyed by a SHA-256 of ``(base model, prompts, texts)`` over
    its de-duplicated corpus and queries; writing them from the kit's warm cache spares an
    encoding pass that takes hours on a loaded 2-core machine at full size. Both sides then
    search the same vectors, so "identical lists" compares the mining, not encoder noise.
    """
    import hashlib

    name = model.model_card_data.base_model or ""
    queries = list(dict.fromkeys(ds["query"]))
    corpus = list(dict.fromkeys(inputs.passages + list(ds["positive"])))
    q_row = {t: i for i, t in reversed(list(enumerate(inputs.queries)))}
    p_row = {t: i for i, t in reversed(list(enumerate(inputs.passages)))}
    q_emb = inputs.query_embeddings("minilm-l6")[[q_row[t] for t in queries]]
    p_emb = inputs.passage_embeddings("minilm-l6")[[p_row[t] for t in corpus]]
    for kind, texts, emb in (("query", queries, q_emb), ("corpus", corpus, p_emb)):
        key = hashlib.sha256(repr((name, None, None, texts)).encode()).hexdigest()
        np.save(Path(folder) / f"{kind}_embeddings_{key}.npy", emb)


def _same_lists(inputs, ours, theirs, k: int) -> str:
    """Queries whose negatives (as texts, in order) are the same in both, of those in both."""
    their_negs = {r["query"]: [r[f"negative_{i}"] for i in range(1, k + 1)] for r in theirs}
    same = total = 0
    for qid, negs in ours.negatives().items():
        text = inputs.queries[inputs.query_row[qid]]
        if text in their_negs:
            total += 1
            same += [inputs.passages[inputs.doc_row[d]] for d in negs] == their_negs[text]
    return f"{same}/{total}"


def _peer(data, split: str, k: int, relative: float | None = None) -> dict:
    """Time ours and mine_hard_negatives (both warm, interleaved) and compare their lists.

    Our clock covers what a user waits for: :func:`prepare` on the dataset object (as a fresh
    ``mine(data, ...)`` call does) and mining. Theirs covers the call (its ``cache_folder``
    holds the embeddings, warmed by a first call). ``relative``: our ``max_relative`` against
    their ``relative_margin = 1 - relative``.
    """
    from sentence_transformers.util import mine_hard_negatives

    from hardneg_kit.mining import mine, prepare
    from hardneg_kit.models import load_encoder

    inputs = prepare(data, split)
    ds, model = _peer_dataset(inputs), load_encoder("minilm-l6").model
    ours_kw = {} if relative is None else {"max_relative": relative}
    with tempfile.TemporaryDirectory() as folder:
        kwargs = dict(
            corpus=inputs.passages, range_min=0, range_max=k, num_negatives=k,
            sampling_strategy="top", output_format="n-tuple", verbose=False,
            cache_folder=folder, use_faiss=True,
        )
        if relative is not None:
            kwargs["relative_margin"] = round(1 - relative, 10)
            kwargs["range_max"] = 100  # the filter needs room below the positive
        _seed_peer_cache(folder, model, ds, inputs)
        mine_hard_negatives(ds, model, **kwargs)  # a first call, as before the timed ones
        mine(data, split, "dense:minilm-l6", num_negatives=k, near_copy=None, **ours_kw)
        times_theirs, times_ours = [], []
        for _ in range(REPEATS):  # interleaved, median: robust to a busy machine
            t = time.perf_counter()
            theirs = mine_hard_negatives(ds, model, **kwargs)
            times_theirs.append(time.perf_counter() - t)
            t = time.perf_counter()  # prepare() included: embeddings from the disk cache
            ours = mine(data, split, "dense:minilm-l6", num_negatives=k, near_copy=None, **ours_kw)
            times_ours.append(time.perf_counter() - t)
    t_theirs, t_ours = float(np.median(times_theirs)), float(np.median(times_ours))
    return {
        "k": k,
        "filter": None if relative is None else f"relative:{relative}",
        "documents": len(inputs.doc_ids),
        "queries": len(inputs.query_ids),
        "ours_s": round(t_ours, 3),
        "mine_hard_negatives_s": round(t_theirs, 3),
        "ours_all_s": [round(x, 3) for x in times_ours],
        "theirs_all_s": [round(x, 3) for x in times_theirs],
        "repeats": REPEATS,
        "ours_no_slower": t_ours <= t_theirs,
        "identical_lists": _same_lists(inputs, ours, theirs, k),
        "clock": "ours: prepare() + mine(); theirs: mine_hard_negatives()",
    }


def _load_note() -> dict:
    """Load averages, and how to read them."""
    return {
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "note": f"{os.cpu_count()} CPUs: a load average about that count means nothing else "
        "ran, a higher one that other jobs took CPU time; the two sides are interleaved",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="workshop")
    parser.add_argument("--dataset", default="data/aws-cli")
    parser.add_argument("--skip-cold", action="store_true", help="skip uncached encoding")
    parser.add_argument("--peer-profile", default="full",
                        help="profile of the peer comparison (default full: 18,886 passages)")
    parser.add_argument("--peer-only", action="store_true",
                        help="only the peer comparison (writes mining-peer-<profile>.json)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from hardneg_kit.corpus import load_dataset
    from hardneg_kit.embeddings import embed_passages, embed_queries
    from hardneg_kit.mining import DEFAULT_MODELS, mine, prepare
    from hardneg_kit.models import load_encoder
    from hardneg_kit.profiles import get_profile

    profile = get_profile(args.profile)
    data = load_dataset(args.dataset, profile=profile)
    inputs = prepare(data, "train")
    k = profile.num_negatives
    report: dict = {
        **_load_note(),
        "profile": profile.name, "dataset": args.dataset, "documents": len(inputs.doc_ids),
        "train_queries": len(inputs.query_ids), "num_negatives": k,
    }
    warm_enc = {}
    for m in DEFAULT_MODELS:  # make sure the cache is warm (and time the warm load)
        enc = load_encoder(m)
        t = time.perf_counter()
        embed_passages(enc, inputs.passages)
        embed_queries(enc, inputs.queries)
        warm_enc[m] = round(time.perf_counter() - t, 3)
    report["warm_embedding_load_s"] = warm_enc
    out = Path(__file__).parent / "results" / f"mining-{profile.name}.json"
    if args.skip_cold and out.exists():  # keep the cold figures of the last full run
        previous = json.loads(out.read_text())
        report["cold_encoding_s"] = previous.get("cold_encoding_s")
        report["cold_figures_from_earlier_run"] = True
    if not args.skip_cold:
        cold = {}
        for m in DEFAULT_MODELS:
            enc = load_encoder(m)
            t = time.perf_counter()
            embed_passages(enc, inputs.passages, cache=False)
            embed_queries(enc, inputs.queries, cache=False)
            cold[m] = round(time.perf_counter() - t, 2)
        report["cold_encoding_s"] = cold
    peer_data = load_dataset(args.dataset, profile=get_profile(args.peer_profile))
    peer_k = get_profile(args.peer_profile).num_negatives
    report["peer_profile"] = args.peer_profile
    report["peer"] = _peer(peer_data, "train", peer_k)
    logger.info("peer check: %s", report["peer"])
    report["peer_relative"] = _peer(peer_data, "train", peer_k, relative=0.95)
    logger.info("peer check, relative filter: %s", report["peer_relative"])
    if args.peer_only:
        _write(report, Path(__file__).parent / "results" / f"mining-peer-{args.peer_profile}.json")
        return
    strategies = {}
    for s in STRATEGIES:
        t = time.perf_counter()  # prepare() included: a fresh mine(data, ...) call
        r = mine(data, "train", s, num_negatives=k)
        strategies[s] = {
            "seconds": round(time.perf_counter() - t, 3),
            "with_negatives": len(r.rows),
            "skipped": len(r.skipped),
        }
    report["warm_strategy_s"] = strategies
    if report.get("cold_encoding_s"):
        enc_total = sum(report["cold_encoding_s"].values())
        pca_total = enc_total + strategies["ensemble-pca"]["seconds"]
        report["cold_encoding_share_of_ensemble_pca"] = round(enc_total / pca_total, 3)
    _write(report, out)


def _write(report: dict, out: Path) -> None:
    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
