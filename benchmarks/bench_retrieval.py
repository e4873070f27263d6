"""Benchmark first-stage retrieval on a dataset's test split at a profile's size.

Measures, per retriever: passages/s encoded (cold cache), indexing time, queries/s searched, the
time of a second run with a warm embedding cache, the peak resident memory, and the metrics. The
embedding cache is a fresh temporary folder, so "cold" really is cold.

    python benchmarks/bench_retrieval.py --profile smoke
    python benchmarks/bench_retrieval.py --profile workshop --models minilm-l6,static-minilm

Prints a table and writes ``benchmarks/results/retrieval-<profile>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from proc_memory import peak_rss_mib

logger = logging.getLogger("bench_retrieval")

RESULTS = Path(__file__).parent / "results"


def bench_one(spec: str, doc_ids: list[str], passages: list[str], qids: list[str],
              queries: list[str], qrels, top_k: int) -> dict:  # fmt: skip
    """Index and search twice (cold, then warm embedding cache); timings, memory and metrics."""
    from hardneg_kit.evaluation import evaluate_runs
    from hardneg_kit.models import load_encoder
    from hardneg_kit.retrievers import make_retriever

    row: dict = {"retriever": spec}
    if spec.startswith("dense:"):  # model loading is not encoding: time it apart
        t = time.perf_counter()
        load_encoder(spec.removeprefix("dense:"))
        row["model_load_s"] = round(time.perf_counter() - t, 2)
    for attempt in ("cold", "warm"):
        retriever = make_retriever(spec)
        t = time.perf_counter()
        retriever.index(doc_ids, passages)
        index_s = time.perf_counter() - t
        t = time.perf_counter()
        run = retriever.search(qids, queries, top_k=top_k)
        search_s = time.perf_counter() - t
        row[f"{attempt}_index_s"] = round(index_s, 3)
        row[f"{attempt}_search_s"] = round(search_s, 3)
        row[f"{attempt}_total_s"] = round(index_s + search_s, 3)
    row["passages_per_s_cold"] = round(len(passages) / max(row["cold_index_s"], 1e-9), 1)
    row["queries_per_s_cold"] = round(len(queries) / max(row["cold_search_s"], 1e-9), 1)
    row["queries_per_s_warm"] = round(len(queries) / max(row["warm_search_s"], 1e-9), 1)
    row["peak_rss_mb"] = round(peak_rss_mib(), 1)
    metrics = evaluate_runs(qrels, {spec: run}).loc[spec].to_dict()
    row.update({m: round(float(v), 4) for m, v in metrics.items()})
    logger.info("%s: %s", spec, row)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="workshop", help="smoke | workshop | full")
    parser.add_argument("--dataset", default="aws-cli")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--models",
        default="minilm-l6,paraphrase-minilm-l3,static-minilm",
        help="comma-separated model specs for dense retrieval ('' for none)",
    )
    parser.add_argument("--fusion", action="store_true", help="also time bm25+first model (rrf)")
    parser.add_argument("--output", default=None, help="JSON file (default: results/...)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from hardneg_kit.cache import cache_dir

    # a fresh cache root for embeddings, sharing the models folder (static-minilm is distilled
    # once, not per benchmark)
    models = cache_dir("models")
    root = Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    (root / "models").symlink_to(models, target_is_directory=True)
    os.environ["HARDNEG_CACHE"] = str(root)

    from hardneg_kit.corpus import load_dataset, passage_texts
    from hardneg_kit.evaluation import warm_up_ranx
    from hardneg_kit.profiles import get_profile

    profile = get_profile(args.profile)
    t = time.perf_counter()
    warm_up_ranx()
    warm_up_s = time.perf_counter() - t
    data = load_dataset(args.dataset, profile=profile)
    queries = data.queries_for(args.split)
    doc_ids, passages = list(data.corpus["_id"]), passage_texts(data.corpus)
    qids, texts = list(queries["_id"]), list(queries["text"])
    qrels = data.qrels_for(args.split)
    words = sum(len(p.split()) for p in passages) / max(len(passages), 1)

    specs = ["bm25"] + [f"dense:{m}" for m in args.models.split(",") if m.strip()]
    if args.fusion and len(specs) > 1:
        specs.append(f"fusion:bm25+{specs[1]}")
    rows = [bench_one(s, doc_ids, passages, qids, texts, qrels, profile.top_k) for s in specs]

    result = {
        "profile": profile.name,
        "dataset": data.name,
        "split": args.split,
        "documents": len(passages),
        "mean_words_per_passage": round(words, 1),
        "queries": len(qids),
        "top_k": profile.top_k,
        "ranx_warm_up_s": round(warm_up_s, 2),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        },
        "retrievers": rows,
    }
    out = Path(args.output) if args.output else RESULTS / f"retrieval-{profile.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    cols = ["retriever", "passages_per_s_cold", "queries_per_s_cold", "cold_total_s",
            "warm_total_s", "peak_rss_mb", "mrr@10", "recall@100"]  # fmt: skip
    print(f"{data.name}/{args.split} profile={profile.name}: {len(passages)} passages, "
          f"{len(qids)} queries, top {profile.top_k}")  # fmt: skip
    print(" | ".join(cols))
    for row in rows:
        print(" | ".join(str(row.get(c, "")) for c in cols))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
