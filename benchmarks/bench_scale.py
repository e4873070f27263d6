"""Out-of-core ensemble mining at 20k, 100k and 1M passages: wall time and peak RSS per stage.

Run: ``python benchmarks/bench_scale.py`` (writes ``benchmarks/results/scale.json`` and
``benchmarks/results/scale.png``, prints a table). ``--sizes 18886,100000`` for fewer. The
sizes may also run as separate commands, in parallel (``--generate N``, ``--one N``,
``--compare 18886``, each printing one JSON line), saved as ``gen-N.json``, ``one-N.json`` and
``compare-18886.json`` in a folder that ``--collect FOLDER`` assembles into the report.
``--replot`` redraws the plot from the saved JSON.

What is measured: ``ensemble-pca`` with the three default models' passage embeddings
precomputed as memory-mapped shards, on the out-of-core path
(:mod:`hardneg_kit.mining.ensemble_large`), stage by stage: PCA fit (seeded 100k-row sample),
projection (shard by shard, written to scratch shards), index build (exhaustive up to 200k
passages; IVF with ``nprobe`` tuned for recall >= 0.99 of exhaustive search, confirmed on
held-out queries, above), search, selection (guards, the two conditions, the rank window).
Each size runs in its own subprocess, so its peak RSS is its own; a sampling thread reads
``VmRSS`` (and ``RssAnon``, its anonymous part) every 20 ms for each stage's peak, and ``VmHWM``
gives the process peak.

Data. Queries: the 1,000 training queries of aws-cli at the ``full`` profile, with their real
embeddings and positives. Passages: the real corpus (18,886 passages, real embeddings from the
kit's cache) is the "20k" size and the first rows of every larger size. Rows beyond it are
simulated to match the real embeddings' statistics: row ``i`` copies a real passage ``src``
(uniform, seeded), the same ``src`` for all three models (one simulated passage seen by three
encoders), plus Gaussian noise with each dimension's standard deviation over the real corpus
times ``NOISE`` (0.5), then L2-normalized (mean cosine to its source is reported); the noise
rows of each shard are a seeded permutation of a bank of 65,536 Gaussian rows per model (drawing
a billion fresh normals would dominate the run on a loaded machine). Their texts
are short stand-ins (``"simulated passage <i> from <src id>"``), so the text guards run on them
but never match a real positive. Simulated embeddings are stored float16 (the format a large
corpus would use); the real ones float32. Generation runs in a separate process before the
measured one and is not timed.

Encoding is not run at scale: its time is estimated from the measured cold rate of the three
models (``benchmarks/results/mining-workshop.json``: seconds per text, passages and queries).

At 20k a third subprocess mines the same queries with today's exact in-memory path and compares
the negatives (the share of queries with identical lists).

Each size records ``os.getloadavg()`` when it ends, so a reader can tell a quiet measurement
from a loaded one: wall times on a busy machine are longer, CPU seconds barely change.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from proc_memory import peak_rss_mib, status_mib

RESULTS = Path(__file__).parent / "results"
SIM_ROOT = Path(os.environ.get("HARDNEG_SCALE_DIR", "/tmp/hardneg-scale"))
MODELS = ("minilm-l6", "paraphrase-minilm-l3", "static-minilm")
NOISE = 0.5
SIZES = (18_886, 100_000, 1_000_000)
STAGES = ("pca_fit", "projection", "index_build", "search", "selection")


class StageMeter:
    """Wall time, CPU time (all threads) and peak RSS (sampled every 20 ms) of each stage.

    RSS counts the pages of memory-mapped shards the stage touched (file-backed: the kernel
    drops them under memory pressure); ``peak_anon_mib`` is the anonymous part alone, the
    memory the process really holds.

    CPU seconds do not depend on how much of the machine other jobs take: on an idle 2-core
    machine a stage's wall time is at most its CPU time (less where faiss/BLAS use both cores).
    """

    def __init__(self) -> None:
        self.stages: dict[str, dict] = {}
        self._peak, self._anon, self._stop = 0.0, 0.0, False
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop:
            self._read()
            time.sleep(0.02)

    def _read(self) -> None:
        self._peak = max(self._peak, status_mib())
        self._anon = max(self._anon, status_mib("RssAnon"))

    @contextmanager
    def stage(self, name: str):
        self._peak, self._anon = status_mib(), status_mib("RssAnon")
        t, cpu = time.perf_counter(), time.process_time()
        yield
        self._read()
        self.stages[name] = {"wall_s": round(time.perf_counter() - t, 2),
                             "cpu_s": round(time.process_time() - cpu, 2),
                             "peak_rss_mib": round(self._peak, 1),
                             "peak_anon_mib": round(self._anon, 1)}


def _real_inputs():
    from hardneg_kit.corpus import load_dataset
    from hardneg_kit.mining import prepare
    from hardneg_kit.profiles import get_profile

    return prepare(load_dataset("data/aws-cli", profile=get_profile("full")), "train")


def _folder(size: int, model: str) -> Path:
    return SIM_ROOT / str(size) / model


def generate(size: int) -> dict:
    """Write the shards of ``size`` passages per model (real rows first, then simulated), unless
    they are there; return the simulated rows' mean cosine to their source, per model."""
    from hardneg_kit.shards import ShardError, ShardWriter, open_shards

    inputs = _real_inputs()
    n_real = len(inputs.doc_ids)
    rng = np.random.default_rng(size)
    src = rng.integers(0, n_real, size=max(size - n_real, 0))
    for m_i, model in enumerate(MODELS):
        try:
            open_shards(_folder(size, model), verify=False)
            continue
        except ShardError:
            pass
        real = inputs.passage_embeddings(model)
        sigma = real.std(axis=0)
        dtype = "float32" if size <= n_real else "float16"
        w = ShardWriter(_folder(size, model), real.shape[1], dtype, 65_536, {"model": model})
        noise_rng = np.random.default_rng([size, m_i])
        bank = noise_rng.standard_normal((65_536, real.shape[1]), dtype=np.float32)
        for i, start in enumerate(range(0, max(size, n_real), 65_536)):
            stop = min(start + 65_536, max(size, n_real))
            rows = np.empty((stop - start, real.shape[1]), np.float32)
            r = np.arange(start, stop)
            rows[r < n_real] = real[r[r < n_real]]
            s = src[r[r >= n_real] - n_real]
            noisy = real[s] + NOISE * sigma * bank[noise_rng.permutation(len(bank))[: len(s)]]
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            rows[r >= n_real] = noisy
            w.write(i, rows)
        w.close(max(size, n_real))
    return _similarity_to_source(size, inputs, src)


def _similarity_to_source(size: int, inputs, src: np.ndarray) -> dict:
    """Mean cosine of the first 1,000 simulated rows (as stored) to the real rows they copy."""
    from hardneg_kit.shards import open_shards

    n_real = len(inputs.doc_ids)
    rows = np.arange(n_real, min(size, n_real + 1000))
    if not len(rows):
        return {}
    stats = {}
    for model in MODELS:
        sim = np.asarray(open_shards(_folder(size, model), verify=False).take(rows), np.float32)
        real = inputs.passage_embeddings(model)[src[rows - n_real]]
        stats[model] = {"mean_cosine_to_source": round(float((sim * real).sum(axis=1).mean()), 4)}
    return stats


def measure(size: int) -> dict:
    """The stages of out-of-core ensemble mining at ``size`` passages (module docstring)."""
    from hardneg_kit.mining import MiningInputs
    from hardneg_kit.mining.ensemble import pca_conditions
    from hardneg_kit.mining.ensemble_large import build_search, candidates, fit_pca, project
    from hardneg_kit.mining.filters import NO_FILTERS
    from hardneg_kit.mining.rankings import _depth_for
    from hardneg_kit.mining.selection import Selection, select_negatives
    from hardneg_kit.models import normalize
    from hardneg_kit.shards import open_shards

    meter = StageMeter()
    real = _real_inputs()
    shards = {m: open_shards(_folder(size, m), verify=False) for m in MODELS}
    n = len(shards[MODELS[0]])
    names = real.doc_ids + [f"sim-{i}" for i in range(len(real.doc_ids), n)]
    texts = real.passages + [
        f"simulated passage {i} from {real.doc_ids[i % len(real.doc_ids)]}"
        for i in range(len(real.doc_ids), n)
    ]
    inputs = MiningInputs(real.name, "train", names, texts, real.query_ids, real.queries,
                          real.positives, passage_shards=shards, out_of_core=True)
    k = _depth_for(inputs, 100)
    for m in MODELS:  # cache hits, but they load the encoders: not a stage of mining at scale
        inputs.query_embeddings(m)
    rss_inputs = status_mib()
    with meter.stage("pca_fit"):
        concat, queries, pca = fit_pca(inputs, MODELS, 0.95, 0, "passages")
    with meter.stage("projection"):
        docs, scratch = project(concat, pca, {})
        q = normalize(pca.transform(queries))
    with meter.stage("index_build"):
        index, plan = build_search(docs, q, k, seed=0)
    with meter.stage("search"):
        cands = candidates(inputs, index, docs, q, k)
    del index
    space = type("Space", (), {"docs": docs, "queries": q})()
    with meter.stage("selection"):
        sel = Selection(num_negatives=4, seed=0)
        result = select_negatives(inputs, cands, "ensemble-pca", sel, NO_FILTERS,
                                  condition=pca_conditions(space, inputs))
    scratch.cleanup()
    meter._stop = True
    return {
        "passages": n, "queries": len(inputs.query_ids), "input_dims": concat.shape[1],
        "pca_dims": pca.dims, "pca_sample_rows": pca.sample_rows,
        "explained_variance": round(float(pca.explained_variance_ratio.sum()), 4),
        "search": plan.to_dict(), "stages": meter.stages,
        "total_wall_s": round(sum(s["wall_s"] for s in meter.stages.values()), 2),
        "total_cpu_s": round(sum(s["cpu_s"] for s in meter.stages.values()), 2),
        "rss_after_inputs_mib": round(rss_inputs, 1), "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_anon_mib": max(st["peak_anon_mib"] for st in meter.stages.values()),
        "with_negatives": len(result.rows), "skipped": len(result.skipped),
        "negatives": {r.query_id: r.negative_ids for r in result.rows},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def compare_exact() -> dict:
    """At the real size: exact in-memory ensemble-pca against the out-of-core path."""
    from hardneg_kit.mining import mine

    exact = mine(_real_inputs(), "train", "ensemble-pca", num_negatives=4, near_copy=0.98)
    ooc = _real_inputs()
    ooc.out_of_core = True
    ours = mine(ooc, "train", "ensemble-pca", num_negatives=4, near_copy=0.98)
    a, b = exact.negatives(), ours.negatives()
    same = sum(a.get(q) == b.get(q) for q in set(a) | set(b))
    return {"queries": len(ooc.query_ids), "identical_lists": f"{same}/{len(set(a) | set(b))}",
            "with_negatives_exact": len(a), "with_negatives_out_of_core": len(b),
            "dims_exact": exact.params["dims"], "dims_out_of_core": ours.params["dims"],
            "search": ours.settings.get("search")}


def _encoding_rate() -> float:
    """Seconds per text, three models together, from the measured cold encoding."""
    report = json.loads((RESULTS / "mining-workshop.json").read_text())
    texts = report["documents"] + report["train_queries"]
    return sum(report["cold_encoding_s"].values()) / texts


def _child(flag: str, size: int) -> dict:
    cmd = [sys.executable, __file__, flag, str(size)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _table(rows: list[dict]) -> str:
    head = f"{'stage':<14}" + "".join(f"{r['passages']:>28,}" for r in rows)
    cols = f"{'wall s':>10}{'CPU s':>9}{'RSS MiB':>9}"
    lines = [head, f"{'':<14}" + "".join(cols for _ in rows)]
    for st in STAGES:
        cells = "".join(
            f"{r['stages'][st]['wall_s']:>10.1f}{r['stages'][st]['cpu_s']:>9.1f}"
            f"{r['stages'][st]['peak_rss_mib']:>9.0f}"
            for r in rows
        )
        lines.append(f"{st:<14}{cells}")
    lines.append(f"{'total (peak)':<14}" + "".join(
        f"{r['total_wall_s']:>10.1f}{r['total_cpu_s']:>9.1f}{r['peak_rss_mib']:>9.0f}"
        for r in rows))
    lines.append(f"{'anonymous':<14}" + "".join(
        f"{'':>19}{r['peak_anon_mib']:>9.0f}" for r in rows))
    lines.append(f"{'encoding est.':<14}" + "".join(
        f"{r['encoding_estimate_s']:>10.0f}{'':>18}" for r in rows))
    return "\n".join(lines)


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["passages"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for st in STAGES:
        a.plot(x, [max(r["stages"][st]["cpu_s"], 0.01) for r in rows], "o-", label=st)
        b.plot(x, [r["stages"][st]["peak_rss_mib"] / 1024 for r in rows], "o-", label=st)
    from hardneg_kit.mining.ann import FLAT_MAX_ROWS

    for ax in (a, b):  # the search changes there: exhaustive below, IVF above
        ax.axvline(FLAT_MAX_ROWS, color="grey", lw=0.8)
        ax.text(FLAT_MAX_ROWS * 1.05, 0.9, "IVF search", transform=ax.get_xaxis_transform(),
                fontsize=7, color="grey", va="top")
    a.plot(x, [r["total_cpu_s"] for r in rows], "k--", label="total CPU s")
    a.plot(x, [r["total_wall_s"] for r in rows], "k:", label="total wall s")
    b.plot(x, [r["peak_anon_mib"] / 1024 for r in rows], "k--", label="peak anonymous")
    b.axhline(6, color="r", ls=":", label="6 GiB target")
    a.set(xscale="log", yscale="log", xlabel="passages", ylabel="CPU seconds per stage",
          title="ensemble-pca out of core: time")
    b.set(xscale="log", xlabel="passages", ylabel="peak RSS GiB", title="memory")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def _row(size: int, one: dict, sim: dict, compare: dict | None, rate: float) -> dict:
    one.pop("negatives", None)
    one.update(simulation=sim, encoding_estimate_s=round(rate * (one["passages"] + 1000)))
    if compare is not None:
        one["exact_path_check"] = compare
    return one


def _report(rows: list[dict], rate: float) -> None:
    report = {
        "note": f"{os.cpu_count()} CPUs; each size records the load average when it ended "
        "(about the CPU count: nothing else ran); cpu_s counts every thread of the process",
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "encoding_rate_s_per_text": round(rate, 5), "noise": NOISE, "sizes": rows,
        "targets": {"1M peak RSS <= 6 GiB": None, "1M wall <= 15 min": None},
    }
    big = [r for r in rows if r["passages"] >= 1_000_000]
    if big:
        report["targets"] = {"1M peak RSS <= 6 GiB": big[0]["peak_rss_mib"] <= 6 * 1024,
                             "1M wall <= 15 min": big[0]["total_wall_s"] <= 900,
                             "1M CPU <= 15 min": big[0]["total_cpu_s"] <= 900}
    (RESULTS / "scale.json").write_text(json.dumps(report, indent=2) + "\n")
    _plot(rows, RESULTS / "scale.png")
    print(_table(rows))
    print(f"wrote {RESULTS / 'scale.json'} and {RESULTS / 'scale.png'}")


def _collect(folder: Path, rate: float) -> list[dict]:
    """Rows from child outputs saved as ``one-<n>.json``, ``gen-<n>.json``, ``compare-<n>.json``."""
    rows = []
    for path in sorted(folder.glob("one-*.json"), key=lambda p: int(p.stem[4:])):
        size = int(path.stem[4:])
        try:
            one = _last_json(path.read_text())
        except (ValueError, IndexError):
            continue  # unfinished
        gen, cmp_ = folder / f"gen-{size}.json", folder / f"compare-{size}.json"
        sim = _last_json(gen.read_text()) if gen.exists() and gen.read_text().strip() else {}
        compare = _last_json(cmp_.read_text()) if cmp_.exists() and cmp_.read_text() else None
        rows.append(_row(size, one, sim, compare, rate))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--collect", type=Path, default=None,
                        help="assemble the report from child outputs saved in this folder")
    parser.add_argument("--replot", action="store_true",
                        help="redraw scale.png from the saved scale.json, measuring nothing")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--compare", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for flag, fn in (("generate", generate), ("one", measure)):
        if getattr(args, flag) is not None:
            print(json.dumps(fn(getattr(args, flag))))
            return
    if args.compare is not None:
        print(json.dumps(compare_exact()))
        return
    if args.replot:
        _plot(json.loads((RESULTS / "scale.json").read_text())["sizes"], RESULTS / "scale.png")
        return
    rate = _encoding_rate()
    if args.collect is not None:
        _report(_collect(args.collect, rate), rate)
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        sim = _child("--generate", size)
        compare = _child("--compare", size) if size <= 20_000 else None
        rows.append(_row(size, _child("--one", size), sim, compare, rate))
        print(_table(rows), flush=True)
    _report(rows, rate)


if __name__ == "__main__":
    main()
