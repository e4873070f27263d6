"""``--engine local|ray``: where ``mine``, ``retrieve`` and ``experiment`` compute the passages'
embeddings.

``local`` (the default) is unchanged: each model encodes the corpus in this process on first use,
through the embeddings cache. ``ray`` first encodes the corpus with every bi-encoder the command
will use on Ray Data (:func:`hardneg_kit.ray_engine.embed_on_ray`: shards, then the same cache
entry), and then runs the command unchanged: everything after encoding reads cache hits, so both
engines share one code path from there on. Queries stay local (they are few).

::

    python -m hardneg_kit mine --dataset aws-cli --strategy dense:minilm-l6 --engine ray \\
        --output negatives/dense.jsonl --profile smoke
    python -m hardneg_kit retrieve --dataset aws-cli --retriever dense:minilm-l6 \\
        --engine ray --ray-address ray://head:10001 --shards-dir /shared/hardneg-shards
    python -m hardneg_kit experiment --profile full --engine ray

``experiment`` encodes every corpus it will embed (:func:`hardneg_kit.experiment.
embedded_corpora`) with its models and the near-copy guard's before the first step; training and
re-ranking stay local.

``--ray-address`` (else ``$RAY_ADDRESS``) names a running cluster; without one Ray starts on
this machine. ``--shards-dir`` must be a path every node can reach (a shared filesystem) on a
cluster; by default the shards go beside the cache entry in ``$HARDNEG_CACHE``.

Example:
    >>> mining_models("dense:static-minilm", ["minilm-l6"])
    ['static-minilm', 'minilm-l6']

``retrieve`` encodes the models of its retriever spec
(:func:`hardneg_kit.retrievers.retriever_models`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from hardneg_kit.cli_args import POSITIVE_INT
from hardneg_kit.errors import UsageError

ENGINES = ("local", "ray")
#: the options that only mean something with ``--engine ray`` (dest -> flag)
RAY_OPTIONS = {"ray_address": "--ray-address", "ray_actors": "--ray-actors",
               "ray_gpus": "--ray-gpus", "shards_dir": "--shards-dir"}


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and the Ray options, for a command that embeds a corpus.

    >>> p = argparse.ArgumentParser(); add_engine_arguments(p)
    >>> p.parse_args([]).engine
    'local'
    """
    from hardneg_kit.ray_engine import SHARD_ROWS

    group = parser.add_argument_group("encoding engine")
    group.add_argument("--engine", choices=ENGINES, default="local",
                       help="where passages are embedded: here (local, default) or on Ray "
                       "Data (ray; pip install hardneg-kit[ray])")
    group.add_argument("--ray-address", default=None, metavar="ADDRESS",
                       help="a running Ray cluster, e.g. ray://head:10001 (default: "
                       "$RAY_ADDRESS, else a local Ray on this machine's CPUs)")
    group.add_argument("--ray-actors", type=POSITIVE_INT, default=None, metavar="N",
                       help="encoder actors (default: one per CPU, or per GPU with --ray-gpus)")
    group.add_argument("--ray-gpus", action="store_true", help="one GPU per encoder actor")
    group.add_argument("--shard-rows", type=POSITIVE_INT, default=SHARD_ROWS, metavar="N",
                       help=f"passages per shard, the unit of work of an actor ({SHARD_ROWS})")
    group.add_argument("--shards-dir", default=None, metavar="DIR",
                       help="where shards are written; on a cluster a shared filesystem path "
                       "(default: beside the cache entry in $HARDNEG_CACHE)")


def check_engine(args: argparse.Namespace) -> None:
    """Before any work: Ray options need ``--engine ray``, and ``--engine ray`` needs Ray.

    Raises:
        UsageError: a Ray option without ``--engine ray``.
        hardneg_kit.ray_engine.EngineError: Ray is not installed (names the extra).
    """
    if args.engine != "ray":
        given = [flag for dest, flag in RAY_OPTIONS.items() if getattr(args, dest, None)]
        if given:
            raise UsageError(f"{', '.join(given)} only apply with --engine ray.")
        return
    from hardneg_kit.ray_engine import require_ray

    require_ray()


def mining_models(strategy: str, models: Sequence[str]) -> list[str]:
    """The bi-encoders whose passage embeddings ``mine`` reads: the strategy's and the guard's.

    Every strategy's near-copy guard reads ``minilm-l6`` (:data:`~hardneg_kit.mining.guards.
    GUARD_MODEL`); an unknown strategy gives only that (``mine`` then names the error).
    """
    from hardneg_kit.mining.guards import GUARD_MODEL

    name, _, arg = strategy.partition(":")
    used = [arg] if name == "dense" and arg else []
    if name in ("fusion", "ensemble-pca", "semi-hard"):
        used = [m.strip() for m in models if m.strip()]
    return list(dict.fromkeys([*used, GUARD_MODEL]))


def precompute(args: argparse.Namespace, models: Sequence[str], *corpora: list[str]) -> None:
    """With ``--engine ray``: encode each corpus (a list of passages) with each model on Ray,
    into the cache.

    One Ray session serves all corpora and models; each pair prints one line (shards encoded,
    resumed, folder). With ``--engine local`` nothing happens: the command encodes as it always
    did.
    """
    corpora = tuple(c for c in corpora if c)
    if args.engine != "ray" or not models or not corpora:
        return
    from hardneg_kit.ray_engine import embed_on_ray, ray_session

    with ray_session(args.ray_address):
        for passages in corpora:
            for model in models:
                run = embed_on_ray(
                    model, passages, shard_rows=args.shard_rows, shards_root=args.shards_dir,
                    address=args.ray_address, actors=args.ray_actors, gpus=args.ray_gpus,
                )
                where = f"{run.actors} {'GPU' if run.gpus else 'CPU'} actors"
                print(f"ray: {len(passages)} passages by {model}: {run.encoded} shards encoded "
                      f"on {where}, {run.resumed} resumed; shards in {run.folder}", flush=True)
