"""Compare the Ray engine with the local path: same embeddings (max |difference|), and the times.

Encodes a dataset's corpus at a profile's size twice with each model: locally
(``embed_passages``, no cache) and on Ray (``embed_on_ray``, into a fresh temporary cache), then
reports the largest absolute difference, the seconds of each, and what the Ray run did (shards,
actors). ``--ray-address`` (or ``$RAY_ADDRESS``) runs it on a cluster; without one Ray starts on
this machine with ``--num-cpus`` CPUs.

    python benchmarks/bench_ray_engine.py --profile smoke --models minilm-l6 --num-cpus 2

Prints one line per model and writes ``benchmarks/results/ray-engine-<profile>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def compare(model: str, passages: list[str], shard_rows: int) -> dict:
    """One model: local embeddings, Ray embeddings, their max |difference| and the timings."""
    from hardneg_kit.embeddings import embed_passages
    from hardneg_kit.models import load_encoder
    from hardneg_kit.ray_engine import embed_on_ray

    encoder = load_encoder(model)
    t = time.perf_counter()
    local = embed_passages(encoder, passages, cache=False)
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    run = embed_on_ray(model, passages, shard_rows=shard_rows)
    ray_s = time.perf_counter() - t
    on_ray = embed_passages(encoder, passages)  # the cache entry the Ray run filled
    return {
        "model": model, "passages": len(passages), "dim": int(local.shape[1]),
        "max_abs_diff": float(np.abs(on_ray - local).max()),
        "local_s": round(local_s, 1), "ray_s": round(ray_s, 1),
        "shards": run.encoded + run.resumed, "actors": run.actors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="aws-cli")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--models", default="minilm-l6")
    parser.add_argument("--shard-rows", type=int, default=256)
    parser.add_argument("--num-cpus", type=int, default=None)
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON file (default: benchmarks/results/ray-engine-<profile>.json)")
    args = parser.parse_args()
    os.environ["HARDNEG_CACHE"] = tempfile.mkdtemp(prefix="hardneg-ray-bench-")  # cold
    from hardneg_kit.corpus import load_dataset, passage_texts
    from hardneg_kit.ray_engine import ray_session

    passages = passage_texts(load_dataset(args.dataset, profile=args.profile).corpus)
    t = time.perf_counter()
    with ray_session(args.ray_address, args.num_cpus) as ray:
        start_s = time.perf_counter() - t
        cpus = ray.cluster_resources().get("CPU")
        rows = [compare(m.strip(), passages, args.shard_rows) for m in args.models.split(",")]
    for row in rows:
        print(f"{row['model']}: {row['passages']} passages, max |ray - local| = "
              f"{row['max_abs_diff']:.2g}; local {row['local_s']} s, ray {row['ray_s']} s "
              f"({row['shards']} shards, {row['actors']} actors on {cpus:g} CPUs; "
              f"Ray start {start_s:.1f} s)")
    RESULTS.mkdir(exist_ok=True)
    out = args.output or RESULTS / f"ray-engine-{args.profile}.json"
    out.write_text(json.dumps({
        "dataset": args.dataset, "profile": args.profile, "machine": platform.machine(),
        "cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in os.getloadavg()],
        "ray_address": args.ray_address or os.environ.get("RAY_ADDRESS") or "local (started here)",
        "ray_cpus": cpus, "ray_start_s": round(start_s, 1),
        "shard_rows": args.shard_rows, "rows": rows,
    }, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
