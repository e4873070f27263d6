"""Embeddings computed on Ray Data, locally or on a cluster, written as shards (``--engine ray``).

Specification:

- **Input.** The driver holds the texts (the profile has already sampled the corpus) and loads
  the encoder once, for its ``fingerprint`` and ``dim``. Row ``i`` of the result is the
  embedding of ``texts[i]``.
- **Work unit.** Shard ``s`` is rows ``[s * shard_rows, (s + 1) * shard_rows)``. Ray Data gets
  one row per shard still to do, ``{"shard": s, "texts": [...]}`` (``ray.data.from_items``, one
  block per shard), and ``map_batches`` sends each to :class:`ShardEncoder`, a callable class: an
  actor that loads the encoder once (:func:`hardneg_kit.models.load_encoder`), refuses a model
  whose fingerprint differs from the driver's, and writes every shard it encodes with
  :meth:`hardneg_kit.shards.ShardWriter.write` (atomic, checksummed). The actor pool
  (``compute=ActorPoolStrategy(size=...)``) has one actor per CPU (``num_cpus=1`` each), or
  one per GPU with ``gpus=True`` (``num_gpus=1`` each), never more than the shards to do.
- **GPUs.** With ``gpus=True`` a torch model (``minilm-l6``, any sentence-transformers folder
  or Hugging Face id) is moved to the actor's GPU (``cuda``); an actor whose torch sees no GPU
  stops with an error instead of encoding on its CPU. Models on the kit's other runtimes
  (onnxruntime, OpenVINO, model2vec) run on CPUs only, so they get CPU actors, with a log line
  saying so. Locally the kit always encodes on the CPU (same numbers on every machine).
- **Shard folder.** Keyed by content: by default the sharded cache entry of the passages
  (:func:`hardneg_kit.embeddings.sharded_entry`, the same shards the out-of-core path writes and
  reads) under ``$HARDNEG_CACHE`` (:func:`shard_folder`). Every worker writes into it, so on a
  cluster it must be on a filesystem that every node mounts at the same path (``shards_root``,
  or ``$HARDNEG_CACHE`` itself on that filesystem).
- **Resume.** Shards in :meth:`~hardneg_kit.shards.ShardWriter.done` (complete and verified) are
  not sent again: rerunning the same command after a crash encodes only what is missing.
  ``close`` checks that every shard is there and writes the manifest last.
- **Hand-over.** :func:`embed_on_ray` also stores the closed shards as the ordinary embeddings
  cache entry (:func:`hardneg_kit.embeddings.store_embeddings`) when the corpus fits in memory
  (up to :data:`hardneg_kit.mining.ann.FLAT_MAX_ROWS` passages); a larger one is read out of
  core from the shard folder itself (``embed_passages_sharded`` finds it closed). Either way
  everything after encoding (faiss indexes, mining, PCA, retrieval) reads a cache hit through
  the one local code path.
- **Cluster.** ``address`` (``--ray-address``), else ``$RAY_ADDRESS``, connects to a running
  cluster (``ray.init(address=...)``); without one Ray starts locally with this machine's CPUs
  (or ``num_cpus``). Usage stats and the dashboard stay off, so it also works offline. The
  kit's package travels to the workers with the job (``runtime_env={"py_modules": ...}``), so
  they run the driver's version of it; its dependencies (``pip install hardneg-kit[ray]``) and
  the model packages must be installed on every node.
- Ray is an optional extra: without it every entry point raises :class:`EngineError` naming
  ``pip install hardneg-kit[ray]``.

Example:
    >>> emb = embed_on_ray("minilm-l6", passages, shard_rows=256)  # doctest: +SKIP
    >>> emb.shape  # the same cache entry embed_passages reads  # doctest: +SKIP
    (600, 384)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from hardneg_kit import embeddings as _embeddings
from hardneg_kit.errors import HardnegError

logger = logging.getLogger(__name__)

#: rows per shard, the unit of work of one actor call: the sharded cache's, so that the
#: out-of-core path opens the Ray-written folder as its own (96 MB of float32 at 384 dimensions)
SHARD_ROWS = _embeddings.SHARD_ROWS
#: what to install when Ray is missing
INSTALL_HINT = "pip install hardneg-kit[ray]"
KINDS = ("passages", "queries")


class EngineError(HardnegError):
    """Ray missing, or a Ray run that cannot go on (model differs on a worker, shards missing)."""


@dataclass
class RayRun:
    """What one :func:`encode_on_ray` call did.

    ``shards`` is the closed, memory-mapped result; ``encoded`` the shards computed in this run,
    ``resumed`` those found done in the folder; ``actors`` encoded them, on a GPU each if
    ``gpus``.
    """

    shards: Any  # hardneg_kit.shards.ShardedArray
    folder: Path
    encoded: int
    resumed: int
    actors: int
    gpus: bool = False


def require_ray() -> ModuleType:
    """Import Ray, or raise :class:`EngineError` naming the extra to install.

    >>> require_ray().__name__  # doctest: +SKIP
    'ray'
    """
    try:
        import ray
        import ray.data  # noqa: F401  (the [data] extra: pandas/pyarrow glue)
    except ImportError as exc:
        raise EngineError(
            f"--engine ray needs Ray Data ({exc.name or 'ray'} is not installed): {INSTALL_HINT}"
        ) from None
    return ray


def init_kwargs(
    address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None
) -> dict[str, Any]:
    """``ray.init`` arguments: a cluster's address, else a local Ray on ``num_cpus`` CPUs.

    Args:
        address: ``host:port`` or ``ray://host:10001``; ``None`` reads ``$RAY_ADDRESS``;
            ``"local"`` (or nothing set) starts Ray on this machine.
        num_cpus: CPUs of a local Ray (default: all of this machine's); ignored with a cluster,
            whose nodes declare their own.
        num_gpus: GPUs a local Ray declares (default: those Ray detects); ignored with a
            cluster.

    >>> init_kwargs("10.0.0.5:6379")["address"]
    '10.0.0.5:6379'
    >>> init_kwargs("local", num_cpus=2)["num_cpus"]
    2
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    common = {"logging_level": logging.WARNING, "log_to_driver": True}
    if address and address != "local":
        return {"address": address, **common}
    return {
        "address": "local",  # a new Ray here, even if `ray start` left one running
        "num_cpus": num_cpus or os.cpu_count() or 1,
        **({} if num_gpus is None else {"num_gpus": num_gpus}),
        "include_dashboard": False,  # nothing to serve; and it needs extra packages
        **common,
    }


@contextmanager
def ray_session(
    address: str | None = None, num_cpus: int | None = None, num_gpus: int | None = None
) -> Iterator[ModuleType]:
    """Connect to (or start) Ray for the block; shut it down after, unless it was already up.

    A session opened by the caller (``ray.init`` in a notebook or a test) is reused as is.

    >>> with ray_session("local", num_cpus=2) as ray:  # doctest: +SKIP
    ...     ray.cluster_resources()["CPU"]
    2.0
    """
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
    import hardneg_kit

    kwargs = init_kwargs(address, num_cpus, num_gpus)
    where = f"local, {kwargs['num_cpus']} CPUs" if "num_cpus" in kwargs else kwargs["address"]
    logger.info("Ray: %s", where)
    try:
        # Workers import the driver's copy of the kit, not whatever version a node has installed.
        ray.init(runtime_env={"py_modules": [hardneg_kit]}, **kwargs)
    except Exception as exc:  # Ray raises bare Exception/ConnectionError: say what to try
        ray.shutdown()  # a half-started local Ray leaves its processes behind otherwise
        raise EngineError(
            f"Ray did not start ({where}): {str(exc)[:300].rstrip('. ')}. On a busy "
            "machine start it first (`ray start --head --num-cpus N`) and pass --ray-address; "
            "for a cluster check the address and its auth token (RAY_AUTH_TOKEN)."
        ) from exc
    try:
        yield ray
    finally:
        ray.shutdown()


def shard_folder(
    encoder: Any, texts: list[str], kind: str = "passages", root: str | Path | None = None,
    shard_rows: int = SHARD_ROWS,
) -> Path:
    """Where the shards of these texts go: the sharded cache entry, or the same path under ``root``.

    Passages go to :func:`hardneg_kit.embeddings.sharded_entry`, the folder the out-of-core path
    opens (with the default ``shard_rows``); queries beside their cache entry. The names carry a
    content key, so a rerun with the same model and texts resumes the same folder and another
    corpus never mixes in.

    >>> shard_folder(encoder, passages).parent.name  # doctest: +SKIP
    'passages-shards'
    """
    from hardneg_kit.cache import cache_root

    if kind == "passages":
        folder = _embeddings.sharded_entry(encoder, texts, shard_rows)
    else:
        folder = _embeddings.cache_entry(encoder, texts, kind).with_suffix(".shards")
    if root is None:
        return folder
    return Path(root).expanduser().resolve() / folder.relative_to(cache_root())


class ShardEncoder:
    """The encoder actor of ``map_batches``: loads the model once, writes each shard it gets.

    Args:
        model: the model spec, loaded with :func:`hardneg_kit.models.load_encoder`.
        fingerprint: the driver's encoder fingerprint; another one on this node is an error.
        folder, dim, shard_rows: the :class:`~hardneg_kit.shards.ShardWriter` layout.
        kind: ``passages`` or ``queries`` (which encode method).
        batch_size: texts per forward pass within a shard.
        device: ``cuda`` to encode on this actor's GPU (torch models only); ``None``: the CPU.

    Example:
        >>> actor = ShardEncoder("minilm-l6", fp, "/tmp/s", 384, 256)  # doctest: +SKIP
        >>> texts = np.array([["a", "b"]], object)  # doctest: +SKIP
        >>> actor({"shard": np.array([0]), "texts": texts})  # doctest: +SKIP
        {'shard': array([0]), 'rows': array([2])}
    """

    def __init__(
        self, model: str, fingerprint: str, folder: str, dim: int, shard_rows: int,
        kind: str = "passages", batch_size: int = 32, device: str | None = None,
    ) -> None:
        from hardneg_kit.models import load_encoder
        from hardneg_kit.shards import ShardWriter

        self.encoder = load_encoder(model)
        if self.encoder.fingerprint != fingerprint:
            raise EngineError(
                f"Model {model!r} on this Ray node has fingerprint {self.encoder.fingerprint}, "
                f"the driver's has {fingerprint}: install the same model package on every node."
            )
        if device:
            _to_device(self.encoder, model, device)
        self.writer = ShardWriter(folder, dim, "float32", shard_rows)
        self.kind, self.batch_size = kind, batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        encode = (self.encoder.encode_passages if self.kind == "passages"
                  else self.encoder.encode_queries)
        rows = []
        for shard, texts in zip(batch["shard"], batch["texts"], strict=True):
            emb = encode(list(texts), batch_size=self.batch_size, show_progress_bar=False)
            self.writer.write(int(shard), np.asarray(emb, dtype=np.float32))
            rows.append(len(texts))
        return {"shard": np.asarray(batch["shard"], dtype=np.int64), "rows": np.asarray(rows)}


def _to_device(encoder: Any, model: str, device: str) -> None:
    """Move a torch encoder (this actor's own copy) to ``device``, or say why it cannot go."""
    if getattr(encoder, "runtime", "") != "torch":
        raise EngineError(f"Model {model!r} runs on {encoder.runtime}, which encodes on CPUs "
                          "only; give it CPU actors.")
    if device.startswith("cuda"):
        seen, version = _cuda_seen()
        if not seen:
            raise EngineError(_no_cuda(model, version))
    encoder.model.to(device)


def _cuda_seen() -> tuple[bool, str]:
    """Whether torch here sees a CUDA device, and torch's version."""
    import torch

    return torch.cuda.is_available(), torch.__version__


def _check_cuda(ray: ModuleType, model: str) -> None:
    """Ask one GPU worker whether its torch sees the GPU, before any actor starts (an actor
    failing in its constructor buries the reason in Ray's retries and tracebacks)."""
    seen, version = ray.get(ray.remote(num_gpus=1)(_cuda_seen).remote())
    if not seen:
        raise EngineError(_no_cuda(model, version))


def _no_cuda(model: str, version: str) -> str:
    return (f"--ray-gpus: a Ray worker holding a GPU for {model!r} has torch {version}, which "
            "sees no CUDA device: install a CUDA build of torch on the GPU nodes (README "
            "\"Installing torch\"), or run without --ray-gpus.")


def encode_on_ray(
    model: str,
    texts: list[str],
    kind: str = "passages",
    *,
    shard_rows: int = SHARD_ROWS,
    shards_root: str | Path | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    actors: int | None = None,
    gpus: bool = False,
    batch_size: int = 32,
) -> RayRun:
    """Encode ``texts`` on Ray into a closed shard folder, skipping shards already done.

    Args:
        model: a model spec of :func:`~hardneg_kit.models.load_encoder`.
        texts: the texts, in row order.
        kind: ``passages`` or ``queries``.
        shard_rows: rows per shard (a resumed folder keeps the value it was started with).
        shards_root: a folder every worker can reach (default: beside the cache entry).
        address, num_cpus: the cluster, or a local Ray (:func:`init_kwargs`).
        actors: encoder actors (default: the cluster's CPUs, or GPUs with ``gpus``).
        gpus: one GPU per actor for a torch model (module docstring: GPUs).
        batch_size: texts per forward pass.

    Raises:
        EngineError: Ray missing, or a worker's model differs from the driver's.
        hardneg_kit.shards.ShardError: the folder holds another layout, or shards are missing.

    >>> run = encode_on_ray("minilm-l6", passages, shard_rows=256)  # doctest: +SKIP
    >>> run.shards.shape, run.encoded, run.resumed  # doctest: +SKIP
    ((600, 384), 3, 0)
    """
    from hardneg_kit.models import load_encoder
    from hardneg_kit.shards import ShardWriter

    if kind not in KINDS:
        raise EngineError(f"kind must be one of {KINDS}, got {kind!r}.")
    if not texts:
        raise EngineError("Nothing to encode: no texts.")
    require_ray()  # fail before loading a model
    encoder = load_encoder(model)
    folder = shard_folder(encoder, texts, kind, shards_root, shard_rows)
    meta = {"model": model, "fingerprint": encoder.fingerprint, "kind": kind,
            "cache_entry": folder.with_suffix(".npy").name}
    writer = ShardWriter(folder, encoder.dim, "float32", shard_rows, meta=meta)
    n_shards = math.ceil(len(texts) / shard_rows)
    todo = sorted(set(range(n_shards)) - writer.done())
    used, on_gpus = 0, False
    if todo:
        with ray_session(address, num_cpus) as ray:
            used, on_gpus = _run_actors(ray, model, encoder, texts, todo, writer, kind, actors,
                                        gpus, batch_size)
    return RayRun(writer.close(len(texts)), folder, len(todo), n_shards - len(todo), used,
                  on_gpus)


def _run_actors(
    ray: ModuleType, model: str, encoder: Any, texts: list[str], todo: list[int],
    writer: Any, kind: str, actors: int | None, gpus: bool, batch_size: int,
) -> tuple[int, bool]:
    """One Ray Data pass over the shards to do; returns the actors used and whether on GPUs."""
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its INFO is a line per step
    rows = writer.shard_rows
    items = [{"shard": s, "texts": texts[s * rows : (s + 1) * rows]} for s in todo]
    if gpus and encoder.runtime != "torch":
        logger.info("Ray: %s runs on %s, which encodes on CPUs only: CPU actors, no GPUs",
                    model, encoder.runtime)
        gpus = False
    resources = ray.cluster_resources()
    if gpus and resources.get("GPU", 0) < 1:  # else the actors would wait for a GPU forever
        raise EngineError("--ray-gpus: this Ray cluster has no GPU (its resources: "
                          f"{ {k: v for k, v in resources.items() if k in ('CPU', 'GPU')} }); "
                          "connect to one with GPU nodes, or run without --ray-gpus.")
    if gpus:
        _check_cuda(ray, model)
    pool = actors or int(resources.get("GPU" if gpus else "CPU", 1)) or 1
    pool = max(1, min(pool, len(todo)))
    logger.info("Ray: %d shards of %d %s by %s on %d %s actors", len(todo), len(texts), kind,
                model, pool, "GPU" if gpus else "CPU")
    per_actor = {"num_gpus": 1} if gpus else {"num_cpus": 1}
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        ShardEncoder,
        fn_constructor_kwargs={
            "model": model, "fingerprint": encoder.fingerprint, "folder": str(writer.folder),
            "dim": writer.dim, "shard_rows": rows, "kind": kind, "batch_size": batch_size,
            "device": "cuda" if gpus else None,
        },
        batch_size=1,  # one shard per call: a shard is written whole or not at all
        compute=ray.data.ActorPoolStrategy(size=pool),  # `concurrency=` before Ray 2.51
        **per_actor,
    )
    try:
        done = dataset.take_all()
    except Exception as exc:  # an actor's EngineError arrives inside Ray's traceback text
        raise _actor_error(exc) from None
    written = sorted(int(r["shard"]) for r in done)
    if written != todo:
        raise EngineError(f"Ray returned shards {written[:10]}, expected {todo[:10]}.")
    return pool, gpus


def _actor_error(exc: Exception) -> Exception:
    """The kit's own message when an actor stopped with :class:`EngineError`, else ``exc``."""
    text = str(exc)
    mark = f"{EngineError.__module__}.{EngineError.__name__}: "
    if mark not in text:
        return exc
    return EngineError(text.rsplit(mark, 1)[1].strip().splitlines()[0])


def embed_on_ray(model: str, texts: list[str], kind: str = "passages", **options: Any) -> RayRun:
    """:func:`encode_on_ray`, then the shards become the embeddings cache entry of ``texts``.

    After it, ``embed_passages(load_encoder(model), texts)`` (and so ``mine``, ``retrieve``,
    :class:`~hardneg_kit.retrievers.DenseRetriever`) is a cache hit with these embeddings.

    Args:
        model, texts, kind: as :func:`encode_on_ray`.
        options: the keyword arguments of :func:`encode_on_ray`.

    >>> run = embed_on_ray("minilm-l6", passages)  # doctest: +SKIP
    """
    from hardneg_kit.embeddings import store_embeddings
    from hardneg_kit.mining.ann import FLAT_MAX_ROWS
    from hardneg_kit.models import load_encoder

    run = encode_on_ray(model, texts, kind, **options)
    if kind == "passages" and len(texts) > FLAT_MAX_ROWS:
        return run  # out of core: mining opens the shard folder itself, never the whole array
    store_embeddings(load_encoder(model), texts, kind, run.shards.read(0, len(texts)))
    return run
