"""The Ray engine: same embeddings as the local path, resume, cluster address, CLI, no-Ray error.

The Ray tests need the optional extra (``pip install hardneg-kit[ray]``) and are skipped without
it. They start one local Ray on 2 CPUs for the module, or join ``$RAY_ADDRESS`` when it is set
(then the whole path runs through a cluster address). They use a private ``$HARDNEG_CACHE``, so
nothing is a cache hit from earlier runs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types

import numpy as np
import pytest

from hardneg_kit import ray_engine
from hardneg_kit.cli_engine import mining_models, retriever_models
from hardneg_kit.ray_engine import EngineError, init_kwargs, ray_session

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(
    not HAS_RAY, reason="ray not installed (optional extra: pip install hardneg-kit[ray])"
)
#: the ONNX model: packaged, fast on a CPU, and batch-dependent like any transformer
MODEL = "paraphrase-minilm-l3"
#: max |ray - local| allowed: the same model on other batch compositions (padding) differs ~1e-7
ATOL = 1e-5


# --------------------------------------------------------------------------- without Ray


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(EngineError, match=r"pip install hardneg-kit\[ray\]"):
        ray_engine.require_ray()


def test_init_kwargs_cluster_address_and_local(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    local = init_kwargs(num_cpus=2)
    assert local["address"] == "local" and local["num_cpus"] == 2
    assert local["include_dashboard"] is False
    cluster = init_kwargs("ray://head:10001", num_cpus=2)
    assert cluster["address"] == "ray://head:10001" and "num_cpus" not in cluster
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert init_kwargs()["address"] == "10.0.0.5:6379"
    assert init_kwargs("local", num_cpus=1)["num_cpus"] == 1  # "local" overrides the variable


def test_ray_session_passes_the_address_and_shuts_down(monkeypatch):
    calls: list[tuple[str, dict]] = []
    fake = types.ModuleType("ray")
    fake.data = types.ModuleType("ray.data")
    fake.is_initialized = lambda: False
    fake.init = lambda **kw: calls.append(("init", kw))
    fake.shutdown = lambda: calls.append(("shutdown", {}))
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setitem(sys.modules, "ray.data", fake.data)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with ray_session("ray://head:10001", num_cpus=2) as ray:
        assert ray is fake
    (op, kw), (last, _) = calls
    assert (op, last) == ("init", "shutdown")
    assert kw["address"] == "ray://head:10001" and "num_cpus" not in kw
    assert kw["runtime_env"]["py_modules"][0].__name__ == "hardneg_kit"  # workers get this kit

    def refuse(**kw):
        raise ConnectionError("Failed to connect to Ray cluster at head:6379")

    fake.init = refuse
    with pytest.raises(EngineError, match=r"head:6379.*--ray-address"):
        with ray_session("head:6379"):
            pass


def test_models_each_command_embeds():
    assert mining_models("ensemble-pca", ["static-minilm", "paraphrase-minilm-l3"]) == [
        "static-minilm", "paraphrase-minilm-l3", "minilm-l6"]  # + the near-copy guard's model
    assert mining_models("bm25", ["static-minilm"]) == ["minilm-l6"]
    assert retriever_models("fusion:bm25+dense:static-minilm+dense:minilm-l6") == [
        "static-minilm", "minilm-l6"]
    assert retriever_models("bm25") == []


def test_ray_options_need_engine_ray(capsys):
    from hardneg_kit.cli import main

    code = main(["retrieve", "--dataset", "aws-cli", "--retriever", "bm25",
                 "--ray-address", "ray://head:10001"])
    assert code == 2 and "only apply with --engine ray" in capsys.readouterr().err


def test_cli_experiment_engine_ray_needs_ray_before_any_work(monkeypatch, tmp_path, capsys):
    from hardneg_kit import experiment
    from hardneg_kit.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setattr(experiment, "embedded_corpora", _no_work)
    code = main(["experiment", "--profile", "smoke", "--engine", "ray",
                 "--output", str(tmp_path / "out")])
    assert code == 2 and "pip install hardneg-kit[ray]" in capsys.readouterr().err


def test_cli_experiment_engine_ray_encodes_every_corpus_before_the_run(monkeypatch, tmp_path):
    from hardneg_kit import cli_engine, experiment
    from hardneg_kit.cli import main
    from hardneg_kit.mining import DEFAULT_MODELS
    from hardneg_kit.profiles import get_profile

    calls: list[tuple] = []
    monkeypatch.setattr(ray_engine, "require_ray", lambda: None)
    monkeypatch.setattr(cli_engine, "precompute",
                        lambda args, models, *corpora: calls.append((models, corpora)))
    monkeypatch.setattr(experiment, "run_experiment", lambda *a, **kw: calls.append(("run",))
                        or types.SimpleNamespace(markdown=lambda: ""))
    assert main(["experiment", "--profile", "smoke", "--engine", "ray",
                 "--output", str(tmp_path / "out")]) == 0
    (models, corpora), run = calls
    assert run == ("run",)  # encoded first, then the experiment
    assert models == list(dict.fromkeys([*DEFAULT_MODELS, "minilm-l6"]))  # + the guard's
    want = experiment.embedded_corpora(["aws-cli", "azure-cli", "python-faq"],
                                       get_profile("smoke"))
    assert list(corpora) == want and len(want) >= 3  # each dataset, and aws-cli's dev sample


def _no_work(*args, **kwargs):
    raise AssertionError("the experiment loaded data before checking --engine ray")


class _FakeEncoder:
    """Name and fingerprint only: encoding is an error (the shards must be read, not made)."""

    name, fingerprint = "fake", "f" * 16

    def encode_passages(self, *args, **kwargs):
        raise AssertionError("encoded although the shard folder was complete")


def test_ray_shards_are_the_out_of_core_cache_entry(tmp_path, monkeypatch):
    from hardneg_kit.embeddings import SHARD_ROWS, embed_passages_sharded
    from hardneg_kit.shards import ShardWriter

    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path))
    texts = [f"passage {i}" for i in range(5)]
    folder = ray_engine.shard_folder(_FakeEncoder(), texts)  # where the Ray workers write
    emb = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    ShardWriter(folder, 4, "float32", SHARD_ROWS).write(0, emb)
    ShardWriter(folder, 4, "float32", SHARD_ROWS).close(5)
    got = embed_passages_sharded(_FakeEncoder(), texts)  # the out-of-core path's read
    assert np.array_equal(got.take(np.arange(5)), emb)


# --------------------------------------------------------------------------- with Ray


@pytest.fixture(scope="module")
def ray_here(tmp_path_factory):
    """One Ray for the module (local, 2 CPUs; or $RAY_ADDRESS) and a private cache."""
    cache = tmp_path_factory.mktemp("hardneg-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("HARDNEG_CACHE", str(cache))
    with ray_session(num_cpus=2) as ray:
        yield ray
    patch.undo()


@pytest.fixture(scope="module")
def smoke():
    """The smoke corpus of aws-cli, its passages and their local embeddings (not cached)."""
    from hardneg_kit.corpus import load_dataset, passage_texts
    from hardneg_kit.embeddings import embed_passages
    from hardneg_kit.models import load_encoder

    passages = passage_texts(load_dataset("aws-cli", profile="smoke").corpus)
    return passages, embed_passages(load_encoder(MODEL), passages, cache=False)


@needs_ray
@pytest.mark.slow
def test_ray_embeddings_equal_local_and_fill_the_cache(ray_here, smoke, monkeypatch):
    from hardneg_kit.embeddings import embed_passages
    from hardneg_kit.models import load_encoder

    passages, local = smoke
    run = ray_engine.embed_on_ray(MODEL, passages, shard_rows=256)
    ray_emb = np.asarray(run.shards.take(np.arange(len(passages))), np.float32)
    diff = float(np.abs(ray_emb - local).max())
    print(f"max |ray - local| over {local.shape}: {diff:.3g}")
    assert ray_emb.shape == local.shape and diff <= ATOL
    assert (run.encoded, run.resumed) == (3, 0) and run.actors == 2
    manifest = json.loads((run.folder / "manifest.json").read_text())
    assert manifest["meta"]["model"] == MODEL and manifest["rows"] == len(passages)
    # the rest of the pipeline: a cache hit with exactly the shards' rows, no encoding
    encoder = load_encoder(MODEL)
    monkeypatch.setattr(encoder, "encode_passages", _no_encoding)
    assert np.array_equal(embed_passages(encoder, passages), ray_emb)


def _no_encoding(*args, **kwargs):
    raise AssertionError("the local path encoded although the Ray run filled the cache")


@needs_ray
@pytest.mark.slow
def test_resume_encodes_only_missing_shards(ray_here, smoke, tmp_path):
    from hardneg_kit.models import load_encoder
    from hardneg_kit.shards import ShardWriter

    passages, local = smoke
    rows = 200  # 3 shards of the 600 smoke passages
    folder = ray_engine.shard_folder(load_encoder(MODEL), passages, root=tmp_path,
                                     shard_rows=rows)
    writer = ShardWriter(folder, local.shape[1], "float32", rows)
    marker = -local[rows : 2 * rows]  # a finished shard 1 that a re-encode would overwrite
    writer.write(1, marker)
    (folder / "shard-000002.npy").write_bytes(b"half a shard")  # a crash mid-write: no checksum
    run = ray_engine.encode_on_ray(MODEL, passages, shard_rows=rows, shards_root=tmp_path)
    assert (run.encoded, run.resumed) == (2, 1)
    got = run.shards.take(np.arange(len(passages)))
    assert np.array_equal(got[rows : 2 * rows], marker)  # kept, not recomputed
    assert np.abs(got[:rows] - local[:rows]).max() <= ATOL
    assert np.abs(got[2 * rows :] - local[2 * rows :]).max() <= ATOL
    again = ray_engine.encode_on_ray(MODEL, passages, shard_rows=rows, shards_root=tmp_path)
    assert (again.encoded, again.resumed) == (0, 3)  # all done: Ray is not even started


@needs_ray
@pytest.mark.slow
def test_cli_retrieve_engine_ray_matches_local(ray_here, tmp_path, capsys, monkeypatch):
    from hardneg_kit.cli import main

    common = ["retrieve", "--dataset", "aws-cli", "--retriever", f"dense:{MODEL}",
              "--profile", "smoke", "--top-k", "10"]
    assert main([*common, "--engine", "ray", "--shard-rows", "256",
                 "--output", str(tmp_path / "ray.trec")]) == 0
    assert f"passages by {MODEL}" in capsys.readouterr().out
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "local-cache"))  # encode afresh, locally
    assert main([*common, "--output", str(tmp_path / "local.trec")]) == 0
    ray_run, local_run = _scores(tmp_path / "ray.trec"), _scores(tmp_path / "local.trec")
    shared = ray_run.keys() & local_run.keys()
    assert ray_run and len(shared) >= 0.99 * len(ray_run)  # near-ties may swap
    assert max(abs(ray_run[k] - local_run[k]) for k in shared) <= ATOL


def _scores(path) -> dict[tuple[str, str], float]:
    """(query, doc) -> score of a TREC run file."""
    rows = (line.split() for line in path.read_text().splitlines())
    return {(q, d): float(score) for q, _, d, _, score, _ in rows}
