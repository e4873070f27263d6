"""Mining speed: our single-model top-k against ``mine_hard_negatives``, every strategy warm.

Run: ``python benchmarks/bench_mining.py --profile workshop`` (writes
``benchmarks/results/mining-<profile>.json`` and prints the same numbers).

1. cold encoding: every model encodes the split's passages and queries without the cache;
   its share of a cold ensemble-pca run is reported.
2. peer: ``dense:minilm-l6`` top-k (ours, warm embedding cache) against
   ``sentence_transformers.util.mine_hard_negatives`` (its own ``cache_folder``, warmed by a
   first call) on the same model, k and data; plus the share of queries with identical lists.
3. each strategy with warm caches, on a fresh :class:`~hardneg_kit.mining.MiningInputs` (so no
   ranking is reused between strategies).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from hardneg_kit.cache import atomic_path

logger = logging.getLogger("bench_mining")
REPEATS = 5
STRATEGIES = ("random", "bm25", "dense:minilm-l6", "fusion", "ensemble-pca", "semi-hard")


def _peer(inputs, k: int) -> dict:
    """Time ours and mine_hard_negatives (both warm) and compare their negatives."""
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    from hardneg_kit.mining import mine, prepare
    from hardneg_kit.models import load_encoder

    pairs = [
        (inputs.queries[i], inputs.passages[inputs.doc_row[p]])
        for i, q in enumerate(inputs.query_ids)
        for p in inputs.positives[q]
    ]
    ds = Dataset.from_dict({"query": [a for a, _ in pairs], "positive": [b for _, b in pairs]})
    model = load_encoder("minilm-l6").model
    with tempfile.TemporaryDirectory() as folder:
        kwargs = dict(
            corpus=inputs.passages, range_min=0, range_max=k, num_negatives=k,
            sampling_strategy="top", output_format="n-tuple", verbose=False,
            cache_folder=folder, use_faiss=True,
        )
        mine_hard_negatives(ds, model, **kwargs)  # warms its cache
        times_theirs, times_ours = [], []
        for _ in range(REPEATS):  # interleaved, median: robust to a busy machine
            t = time.perf_counter()
            theirs = mine_hard_negatives(ds, model, **kwargs)
            times_theirs.append(time.perf_counter() - t)
            fresh = prepare(inputs.data, inputs.split)  # no memo: embeddings from the disk cache
            t = time.perf_counter()
            ours = mine(fresh, inputs.split, "dense:minilm-l6", num_negatives=k, near_copy=None)
            times_ours.append(time.perf_counter() - t)
    t_theirs, t_ours = float(np.median(times_theirs)), float(np.median(times_ours))
    their_negs = {r["query"]: [r[f"negative_{i}"] for i in range(1, k + 1)] for r in theirs}
    same = total = 0
    for qid, negs in ours.negatives().items():
        text = inputs.queries[inputs.query_row[qid]]
        if text in their_negs:
            total += 1
            same += [inputs.passages[inputs.doc_row[d]] for d in negs] == their_negs[text]
    return {
        "k": k,
        "ours_s": round(t_ours, 3),
        "mine_hard_negatives_s": round(t_theirs, 3),
        "repeats": REPEATS,
        "ours_no_slower": t_ours <= t_theirs,
        "identical_lists": f"{same}/{total}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="workshop")
    parser.add_argument("--dataset", default="data/aws-cli")
    parser.add_argument("--skip-cold", action="store_true", help="skip uncached encoding")
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
    report["peer"] = _peer(inputs, k)
    logger.info("peer check: %s", report["peer"])
    strategies = {}
    for s in STRATEGIES:
        fresh = prepare(data, "train")
        t = time.perf_counter()
        r = mine(fresh, "train", s, num_negatives=k)
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
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
