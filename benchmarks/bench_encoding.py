"""Encoding speed, peak memory and quality of a packaged model's CPU backends against torch.

    python benchmarks/bench_encoding.py               # minilm-l6: torch, onnx, int8, OpenVINO
    python benchmarks/bench_encoding.py --specs paraphrase-minilm-l3,paraphrase-minilm-l3@openvino
    python benchmarks/bench_encoding.py --quality-profile full \
        --quality-specs minilm-l6,minilm-l6@onnx-int8

The first spec is the reference (today's torch path); every ratio is to it.

1. speed, interleaved: a fixed, seeded sample of real passages of the dataset (no embedding
   cache). Each round every spec encodes the whole sample once, in an order rotated per round,
   so all specs see the same background load; reported: the median passages/s over rounds
   (wall clock) and passages per CPU-second (this process's CPU time, all threads: robust to
   other jobs taking the CPUs), each with its ratio to the reference.
2. agreement: cosine of each spec's sample embeddings with the reference's (min and mean).
3. peak memory: each spec in a fresh subprocess (import, load, encode the sample once): its peak
   resident memory (RSS) and load time.
4. quality at ``--quality-profile``'s size: dense retrieval on ``--split`` (MRR@10, recall@100,
   the top-10 overlap with the reference's run, and the MRR@10 difference to the reference
   with its 95% paired bootstrap interval and paired t-test p over queries), and
   ``dense:<spec>`` mining on the profile's training queries (share of the reference's
   negatives also mined, per query).
   Embeddings go through the kit's embedding cache (each backend has its own fingerprint).
5. ceiling (``--parts ceiling``, the first spec, torch): the floating-point work of its
   encoding, the GFLOP/s it reaches, and this CPU's ``torch.matmul`` GFLOP/s at the model's
   feed-forward shape in fp32 and bf16: the most any fp32 runtime could gain (:func:`ceiling`).

``--parts`` runs a subset; each part replaces only its own entry of
``benchmarks/results/encoding.json`` (with the load average before and after it: absolute speeds
depend on what else runs). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from proc_memory import peak_rss_mib

logger = logging.getLogger("bench_encoding")
RESULTS = Path(__file__).parent / "results"
DEFAULT_SPECS = ",".join(
    ["minilm-l6"] + [f"minilm-l6@{b}" for b in ("onnx", "onnx-int8", "openvino", "openvino-int8")]
)


def passage_sample(dataset: str, n: int, seed: int) -> list[str]:
    """``n`` passages of the whole corpus, drawn without replacement with ``seed``."""
    from hardneg_kit.corpus import load_dataset, passage_texts

    passages = passage_texts(load_dataset(dataset).corpus)
    rows = np.random.default_rng(seed).choice(len(passages), size=min(n, len(passages)),
                                              replace=False)  # fmt: skip
    return [passages[i] for i in sorted(rows)]


def interleaved_speed(specs: list[str], sample: list[str], rounds: int, batch_size: int) -> dict:
    """Per spec: passages/s and passages per CPU-second of every round, rotating the order."""
    from hardneg_kit.models import load_encoder

    encoders = {s: load_encoder(s) for s in specs}
    for enc in encoders.values():  # first call allocates and compiles: not timed
        enc.encode_passages(sample[:batch_size], batch_size=batch_size, show_progress_bar=False)
    wall: dict[str, list[float]] = {s: [] for s in specs}
    cpu: dict[str, list[float]] = {s: [] for s in specs}
    for r in range(rounds):
        for s in specs[r % len(specs) :] + specs[: r % len(specs)]:
            w, c = time.perf_counter(), time.process_time()
            encoders[s].encode_passages(sample, batch_size=batch_size, show_progress_bar=False)
            wall[s].append(len(sample) / (time.perf_counter() - w))
            cpu[s].append(len(sample) / max(time.process_time() - c, 1e-9))
        logger.info("round %d: %s", r, {s: round(v[-1], 1) for s, v in wall.items()})
    return {"wall": wall, "cpu": cpu, "encoders": encoders}


def agreement(encoders: dict, sample: list[str], batch_size: int) -> dict[str, dict]:
    """Cosine of each encoder's sample embeddings with the first (reference) encoder's."""
    embs = {s: e.encode_passages(sample, batch_size=batch_size, show_progress_bar=False)
            for s, e in encoders.items()}  # fmt: skip
    ref = next(iter(embs.values()))
    out = {}
    for s, emb in embs.items():
        cos = (emb * ref).sum(1)
        out[s] = {
            "cosine_min": round(float(cos.min()), 5),
            "cosine_mean": round(float(cos.mean()), 5),
            "max_abs_diff": float(np.abs(emb - ref).max()),
        }
    return out


def peak_memory(spec: str, dataset: str, n: int, seed: int, batch_size: int) -> dict:
    """Run :func:`_peak_child` for one spec in a fresh interpreter; its JSON line."""
    cmd = [sys.executable, __file__, "--peak-child", spec, "--dataset", dataset,
           "--sample", str(n), "--seed", str(seed), "--batch-size", str(batch_size)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _peak_child(spec: str, dataset: str, n: int, seed: int, batch_size: int) -> None:
    from hardneg_kit.models import load_encoder

    sample = passage_sample(dataset, n, seed)
    before = peak_rss_mib()
    t = time.perf_counter()
    enc = load_encoder(spec)
    load_s = time.perf_counter() - t
    enc.encode_passages(sample, batch_size=batch_size, show_progress_bar=False)
    row = {"peak_rss_mb": round(peak_rss_mib(), 1), "rss_before_load_mb": round(before, 1),
           "model_load_s": round(load_s, 2)}  # fmt: skip
    print(json.dumps(row))


def quality(specs: list[str], dataset: str, profile_name: str, split: str) -> dict[str, dict]:
    """Dense retrieval metrics and mined-negatives overlap, each against the first spec."""
    from hardneg_kit.corpus import load_dataset, passage_texts
    from hardneg_kit.evaluation import evaluate_runs, topk_overlap
    from hardneg_kit.mining import mine, prepare
    from hardneg_kit.profiles import get_profile
    from hardneg_kit.retrievers import make_retriever
    from hardneg_kit.statistics import paired_test, per_query

    profile = get_profile(profile_name)
    data = load_dataset(dataset, profile=profile)
    queries = data.queries_for(split)
    doc_ids, passages = list(data.corpus["_id"]), passage_texts(data.corpus)
    qids, texts = list(queries["_id"]), list(queries["text"])
    runs, negatives, out = {}, {}, {}
    for s in specs:
        t = time.perf_counter()
        retriever = make_retriever(f"dense:{s}").index(doc_ids, passages)
        runs[s] = retriever.search(qids, texts, top_k=profile.top_k)
        mined = mine(prepare(data, "train"), "train", f"dense:{s}",
                     num_negatives=profile.num_negatives)  # fmt: skip
        negatives[s] = mined.negatives()
        metrics = evaluate_runs(data.qrels_for(split), {s: runs[s]}).loc[s].to_dict()
        out[s] = {m: round(float(metrics[m]), 4) for m in ("mrr@10", "recall@100")}
        out[s]["seconds"] = round(time.perf_counter() - t, 1)
        logger.info("quality %s: %s", s, out[s])
    ref = specs[0]
    overlap = topk_overlap(runs, k=10)
    qrels = data.qrels_for(split)
    ref_mrr = per_query(qrels, {0: runs[ref]}, "mrr@10")
    for s in specs:
        out[s]["top10_overlap_with_reference"] = round(float(overlap.loc[ref, s]), 4)
        shared = _negatives_overlap(negatives[ref], negatives[s])
        out[s]["negatives_overlap_with_reference"] = round(shared, 4)
        test = paired_test(ref_mrr, per_query(qrels, {0: runs[s]}, "mrr@10"))
        out[s]["mrr@10_delta"] = round(test.delta, 4)
        out[s]["mrr@10_delta_ci95"] = [round(test.ci_low, 4), round(test.ci_high, 4)]
        out[s]["mrr@10_delta_p"] = float(f"{test.p:.3g}") if test.p == test.p else None
    info = {"profile": profile.name, "split": split, "documents": len(passages),
            "queries": len(qids), "mined_train_queries": len(negatives[ref])}  # fmt: skip
    return {"setting": info, "specs": out}


def _negatives_overlap(ref: dict[str, list[str]], other: dict[str, list[str]]) -> float:
    """Mean over the reference's queries of the share of its negatives the other also mined."""
    shares = [len(set(n) & set(other.get(q, []))) / len(n) for q, n in ref.items() if n]
    return float(np.mean(shares)) if shares else float("nan")


def ceiling(spec: str, sample: list[str], rounds: int, batch_size: int) -> dict:
    """How near a torch spec's encoding comes to this CPU's matrix-multiply throughput.

    The work of one BERT forward pass on a batch of ``B`` passages padded to ``L`` tokens, with
    ``n`` layers, width ``d`` and feed-forward width ``f``, in floating-point operations::

        FLOPs = 2 n B L (4 d^2 + 2 d f)   (projections and feed-forward)
              + 4 n B L^2 d               (attention scores and their weighted sum)

    Batches are formed as sentence-transformers forms them (longest texts first). The ceiling
    is the median GFLOP/s of ``torch.matmul`` at the feed-forward layer's shape (``B L x d`` by
    ``d x f``), in fp32 and in bf16. Encoding at ``a`` GFLOP/s against an fp32 ceiling ``c``:
    no runtime that computes in fp32 can encode more than ``c / a`` times faster.
    """
    import torch

    from hardneg_kit.models import load_encoder

    enc = load_encoder(spec)
    if enc.runtime != "torch":
        raise SystemExit(f"--parts ceiling needs a torch spec first in --specs, not {spec!r}")
    config, st = enc.model[0].auto_model.config, enc.model
    n, d, f = config.num_hidden_layers, config.hidden_size, config.intermediate_size
    texts = [enc.passage_prefix + t for t in sample]
    tokens = [min(len(ids), st.max_seq_length) for ids in st.tokenizer(texts)["input_ids"]]
    order = np.argsort([-len(t) for t in texts], kind="stable")
    padded = [max(tokens[i] for i in order[b : b + batch_size])
              for b in range(0, len(order), batch_size)]  # fmt: skip
    sizes = [len(order[b : b + batch_size]) for b in range(0, len(order), batch_size)]
    flops = sum(2 * n * bs * L * (4 * d * d + 2 * d * f) + 4 * n * bs * L * L * d
                for bs, L in zip(sizes, padded, strict=True))  # fmt: skip
    enc.encode_passages(texts[:batch_size], batch_size=batch_size, show_progress_bar=False)
    seconds = []
    for _ in range(rounds):
        t = time.perf_counter()
        enc.encode_passages(sample, batch_size=batch_size, show_progress_bar=False)
        seconds.append(time.perf_counter() - t)
    achieved = flops / float(np.median(seconds)) / 1e9
    rows = batch_size * int(np.median(padded))
    peak = {str(dt).removeprefix("torch."): _matmul_gflops(rows, d, f, dt)
            for dt in (torch.float32, torch.bfloat16)}  # fmt: skip
    return {
        "spec": spec, "layers": n, "width": d, "ffn_width": f, "threads": torch.get_num_threads(),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "mean_padded_tokens": round(float(np.average(padded, weights=sizes)), 1),
        "gflop_per_passage": round(flops / len(sample) / 1e9, 3),
        "passages_per_s": round(len(sample) / float(np.median(seconds)), 1),
        "achieved_gflops": round(achieved, 1),
        "matmul_shape": [rows, d, f],
        "matmul_gflops": {k: round(v, 1) for k, v in peak.items()},
        "share_of_fp32_matmul": round(achieved / peak["float32"], 3),
        "fp32_headroom": round(peak["float32"] / achieved, 2),
    }  # fmt: skip


def _matmul_gflops(m: int, k: int, n: int, dtype, repeats: int = 20) -> float:
    """Median GFLOP/s of ``torch.matmul`` of an ``m x k`` by a ``k x n`` matrix."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=gen).to(dtype)
    b = torch.randn(k, n, generator=gen).to(dtype)
    for _ in range(3):  # oneDNN picks and compiles its kernel on the first calls
        torch.matmul(a, b)
    seconds = []
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        seconds.append(time.perf_counter() - t)
    return 2 * m * k * n / float(np.median(seconds)) / 1e9


def summarize(specs: list[str], speed: dict, agree: dict) -> list[dict]:
    """One row per spec: medians, ratios to the reference, agreement."""
    ref = specs[0]
    med_w = {s: float(np.median(speed["wall"][s])) for s in specs}
    med_c = {s: float(np.median(speed["cpu"][s])) for s in specs}
    rows = []
    for s in specs:
        ratios = np.array(speed["wall"][s]) / np.array(speed["wall"][ref])
        rows.append({
            "spec": s, "fingerprint": speed["encoders"][s].fingerprint,
            "passages_per_s_median": round(med_w[s], 2),
            "passages_per_s_rounds": [round(v, 2) for v in speed["wall"][s]],
            "ratio_to_reference": round(med_w[s] / med_w[ref], 2),
            "ratio_per_round_median": round(float(np.median(ratios)), 2),
            "passages_per_cpu_s_median": round(med_c[s], 2),
            "cpu_ratio_to_reference": round(med_c[s] / med_c[ref], 2),
            **agree[s],
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", default=DEFAULT_SPECS, help="comma-separated; first = reference")
    parser.add_argument("--dataset", default="aws-cli")
    parser.add_argument("--sample", type=int, default=256, help="passages timed per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--parts",
        default="speed,memory,quality",
        help="a subset of speed,memory,quality,ceiling; each part replaces only its own entry "
        "in the JSON file, so parts can run as separate processes",
    )
    parser.add_argument("--quality-profile", default="smoke", help="smoke | workshop | full")
    parser.add_argument("--quality-specs", default=None, help="default: --specs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--note", default="", help="recorded in the JSON (e.g. what else ran)")
    parser.add_argument("--output", default=None, help="JSON file (default: results/encoding.json)")
    parser.add_argument("--peak-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if args.sample < 1 or args.rounds < 1 or args.batch_size < 1:
        parser.error("--sample, --rounds and --batch-size must be >= 1")
    if not parts or parts - {"speed", "memory", "quality", "ceiling"}:
        parser.error("--parts takes a comma-separated subset of speed,memory,quality,ceiling")
    if args.peak_child:
        _peak_child(args.peak_child, args.dataset, args.sample, args.seed, args.batch_size)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    specs = [s.strip() for s in args.specs.split(",") if s.strip()]
    qspecs = [s.strip() for s in (args.quality_specs or args.specs).split(",") if s.strip()]
    found: dict = {}
    if "speed" in parts:
        found["speed"] = _part(lambda: _speed_part(specs, args), args.note)
    if "memory" in parts:
        found["memory"] = _part(lambda: {s: peak_memory(s, args.dataset, args.sample, args.seed,
                                                        args.batch_size) for s in specs},
                                args.note)  # fmt: skip
    if "quality" in parts:
        found["quality"] = _part(
            lambda: quality(qspecs, args.dataset, args.quality_profile, args.split), args.note
        )
    if "ceiling" in parts:
        found["ceiling"] = _part(
            lambda: ceiling(specs[0], passage_sample(args.dataset, args.sample, args.seed),
                            args.rounds, args.batch_size), args.note)  # fmt: skip
    out = Path(args.output) if args.output else RESULTS / "encoding.json"
    result = _merge(out, found, {"dataset": args.dataset, "reference": specs[0],
                                 "versions": _versions()})  # fmt: skip
    _print_table(result)
    print(f"wrote {out}")
    return 0


def _speed_part(specs: list[str], args: argparse.Namespace) -> dict:
    sample = passage_sample(args.dataset, args.sample, args.seed)
    speed = interleaved_speed(specs, sample, args.rounds, args.batch_size)
    agree = agreement(speed["encoders"], sample, args.batch_size)
    return {
        "sample_passages": len(sample), "rounds": args.rounds, "batch_size": args.batch_size,
        "seed": args.seed,
        "mean_words_per_passage": round(float(np.mean([len(p.split()) for p in sample])), 1),
        "rows": summarize(specs, speed, agree),
    }  # fmt: skip


def _part(run, note: str) -> dict:
    """Run one part; record the machine, the load average around it, its minutes and a note."""
    before, started = os.getloadavg(), time.time()
    found = run()
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "load_avg_before": [round(x, 2) for x in before],
               "load_avg_after": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip
    return {"result": found, "machine": machine, "note": note,
            "minutes": round((time.time() - started) / 60, 1)}  # fmt: skip


def _merge(out: Path, parts: dict, header: dict) -> dict:
    """Replace the given parts' entries of the JSON file under a lock (parts run concurrently)."""
    import fcntl

    from hardneg_kit.cache import atomic_path

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            result = json.loads(out.read_text()) if out.exists() else {}
        except json.JSONDecodeError:
            result = {}
        result.update(header)
        result.update(parts)
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".lock").unlink(missing_ok=True)
    return result


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for pkg in ("torch", "sentence-transformers", "onnxruntime", "onnx", "openvino"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            found[pkg] = "absent"
    return found


def _print_table(result: dict) -> None:
    speed, memory = result.get("speed"), result.get("memory")
    if speed:
        r, m = speed["result"], speed["machine"]
        print(f"{result['dataset']}: {r['sample_passages']} passages x {r['rounds']} interleaved "
              f"rounds; load {m['load_avg_before']} -> {m['load_avg_after']}")  # fmt: skip
        cols = ["spec", "passages_per_s_median", "ratio_to_reference",
                "passages_per_cpu_s_median", "cpu_ratio_to_reference", "cosine_min"]  # fmt: skip
        print(" | ".join([*cols, "peak_rss_mb"]))
        for row in r["rows"]:
            peak = (memory or {}).get("result", {}).get(row["spec"], {}).get("peak_rss_mb", "")
            print(" | ".join([*(str(row.get(c, "")) for c in cols), str(peak)]))
    if result.get("quality"):
        q = result["quality"]["result"]
        print(f"quality: {q['setting']}")
        cols = ["mrr@10", "mrr@10_delta", "recall@100", "top10_overlap_with_reference",
                "negatives_overlap_with_reference"]  # fmt: skip
        print(" | ".join(["spec", *cols]))
        for s, row in q["specs"].items():
            print(" | ".join([s, *(str(row[c]) for c in cols)]))
    if result.get("ceiling"):
        c = result["ceiling"]["result"]
        print(f"ceiling: {c['spec']} encodes at {c['achieved_gflops']} GFLOP/s "
              f"({c['gflop_per_passage']} GFLOP per passage); torch.matmul at "
              f"{c['matmul_shape']}: {c['matmul_gflops']} GFLOP/s; fp32 headroom "
              f"{c['fp32_headroom']}x")


if __name__ == "__main__":
    sys.exit(main())
