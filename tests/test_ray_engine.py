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
from hardneg_kit.cli_engine import mining_models
from hardneg_kit.ray_engine import EngineError, init_kwargs, ray_session
from hardneg_kit.retrievers import retriever_models

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


class _FakeRayData:
    """Just enough of ``ray`` for :func:`ray_engine._run_actors`: records the map_batches call."""

    def __init__(self, resources: dict[str, float], cuda: bool = True):
        self.resources, self.calls, self.cuda = resources, [], cuda
        self.data = types.SimpleNamespace(from_items=self._from_items,
                                          ActorPoolStrategy=lambda size: ("pool", size))

    def remote(self, num_gpus: int):  # the GPU probe: a worker's torch sees CUDA, or not
        assert num_gpus == 1
        return lambda fn: types.SimpleNamespace(remote=lambda: (self.cuda, "2.13.0+cu130"))

    def get(self, ref):
        return ref

    def cluster_resources(self) -> dict[str, float]:
        return self.resources

    def _from_items(self, items, override_num_blocks):
        def map_batches(fn, **kw):
            self.calls.append(kw)
            return types.SimpleNamespace(take_all=lambda: [{"shard": i["shard"]} for i in items])

        return types.SimpleNamespace(map_batches=map_batches)


@pytest.mark.parametrize("runtime, on_gpus, pool", [("torch", True, 4), ("onnx", False, 10)])
def test_ray_gpus_give_torch_models_a_gpu_per_actor(runtime, on_gpus, pool, caplog):
    ray = _FakeRayData({"CPU": 16.0, "GPU": 4.0})
    encoder = types.SimpleNamespace(runtime=runtime, fingerprint="f")
    writer = types.SimpleNamespace(shard_rows=2, folder="/tmp/x", dim=3)
    todo = list(range(10))
    with caplog.at_level("INFO", logger="hardneg_kit.ray_engine"):
        used = ray_engine._run_actors(ray, "m", encoder, ["t"] * 20, todo, writer, "passages",
                                      None, True, 32)
    assert used == (pool, on_gpus)
    (call,) = ray.calls
    assert call["compute"] == ("pool", pool)
    assert call["fn_constructor_kwargs"]["device"] == ("cuda" if on_gpus else None)
    assert (call.get("num_gpus"), call.get("num_cpus")) == ((1, None) if on_gpus else (None, 1))
    assert on_gpus or "encodes on CPUs only" in caplog.text  # an onnx model: CPU actors, said


@pytest.mark.parametrize("resources, cuda, match", [({"CPU": 16.0}, True, "has no GPU"),
                                                     ({"GPU": 2.0}, False, "sees no CUDA")])
def test_ray_gpus_that_cannot_work_fail_before_any_actor(resources, cuda, match):
    ray = _FakeRayData(resources, cuda=cuda)
    encoder = types.SimpleNamespace(runtime="torch", fingerprint="f")
    writer = types.SimpleNamespace(shard_rows=2, folder="/tmp/x", dim=3)
    with pytest.raises(EngineError, match=match):
        ray_engine._run_actors(ray, "m", encoder, ["t"] * 4, [0, 1], writer, "passages",
                               None, True, 32)
    assert not ray.calls  # no actor pool was started


def test_an_actors_engine_error_reaches_the_user_as_one_line():
    buried = RuntimeError("The actor died ...\n  File 'x.py'\nhardneg_kit.ray_engine.EngineError:"
                          " Model 'm' on this Ray node has fingerprint a, the driver's has b.\n")
    error = ray_engine._actor_error(buried)
    assert isinstance(error, EngineError) and str(error).startswith("Model 'm' on this Ray node")
    other = RuntimeError("a Ray failure of its own")
    assert ray_engine._actor_error(other) is other


@pytest.mark.parametrize("model, match", [("minilm-l6", "sees no CUDA device"),
                                          (MODEL, "encodes on CPUs only")])
def test_a_gpu_actor_never_encodes_on_its_cpu_silently(model, match, tmp_path, monkeypatch):
    import torch

    from hardneg_kit.models import load_encoder

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU build on a GPU node
    encoder = load_encoder(model)
    with pytest.raises(EngineError, match=match):
        ray_engine.ShardEncoder(model, encoder.fingerprint, str(tmp_path / "s"), encoder.dim,
                                4, device="cuda")


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
    """One Ray for the module (local, 2 CPUs; or $RAY_ADDRESS) and a private cache.

    The local Ray declares one GPU, whether or not there is one, so that ``--ray-gpus`` places
    its actors for real (on a machine without CUDA the kit must then refuse a torch model).
    """
    cache = tmp_path_factory.mktemp("hardneg-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("HARDNEG_CACHE", str(cache))
    with ray_session(num_cpus=2, num_gpus=1) as ray:
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


@needs_ray
@pytest.mark.slow
def test_ray_gpus_place_each_model_by_its_runtime(ray_here, smoke, tmp_path):
    import torch

    if ray_here.cluster_resources().get("GPU", 0) < 1:
        pytest.skip("the Ray cluster at $RAY_ADDRESS declares no GPU")
    passages, local = smoke
    # onnxruntime encodes on CPUs only: CPU actors, the same embeddings
    run = ray_engine.encode_on_ray(MODEL, passages, shard_rows=256, gpus=True,
                                   shards_root=tmp_path)
    assert (run.gpus, run.actors) == (False, 2)
    assert np.abs(run.shards.take(np.arange(len(passages))) - local).max() <= ATOL
    # a torch model goes to the GPU; without CUDA it is refused before any actor starts
    few = passages[:40]
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="sees no CUDA device"):
            ray_engine.encode_on_ray("minilm-l6", few, shard_rows=20, gpus=True,
                                     shards_root=tmp_path)
        return
    from hardneg_kit.embeddings import embed_passages
    from hardneg_kit.models import load_encoder

    run = ray_engine.encode_on_ray("minilm-l6", few, shard_rows=20, gpus=True,
                                   shards_root=tmp_path)
    on_cpu = embed_passages(load_encoder("minilm-l6"), few, cache=False)
    assert run.gpus and np.abs(run.shards.take(np.arange(len(few))) - on_cpu).max() <= 1e-4
