"""``python -m hardneg_kit mine``: mine negatives for a split and write them.

Example:
    $ python -m hardneg_kit mine --dataset data/aws-cli --split train --strategy ensemble-pca \\
        --models minilm-l6,paraphrase-minilm-l3,static-minilm --num-negatives 4 \\
        --output negatives/ensemble-pca.jsonl --profile smoke

``--format jsonl`` (default) writes :meth:`MiningResult.to_jsonl`; ``triplet``, ``n-tuple``,
``labeled-pair`` and ``labeled-list`` write the sentence-transformers dataset: as JSON lines for
``.jsonl``/``.json``, Parquet for ``.parquet``, else ``Dataset.save_to_disk`` into a folder.
Errors (unknown strategy or model, empty split, positives missing from the corpus) end in one
line on stderr and exit code 2 (see :mod:`hardneg_kit.cli`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hardneg_kit.cache import atomic_path

logger = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``mine`` command: ``register(parser.add_subparsers())``."""
    from hardneg_kit.mining import DEFAULT_MODELS, FORMATS

    p = subparsers.add_parser(
        "mine",
        help="mine hard negatives for a split",
        description="Mine negatives with a named strategy; prints a one-line summary.",
    )
    p.add_argument("--dataset", required=True, help="shipped name (aws-cli) or BEIR folder")
    p.add_argument("--split", default="train")
    p.add_argument(
        "--strategy",
        default="ensemble-pca",
        help="random, bm25, dense:<model>, fusion, ensemble-pca or semi-hard",
    )
    p.add_argument(
        "--models", default=",".join(DEFAULT_MODELS), help="comma-separated model specs"
    )
    p.add_argument("--num-negatives", type=int, default=None, help="default: the profile's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--depth", type=int, default=None, help="candidates per query (100)")
    p.add_argument("--skip-top", type=int, default=None)
    p.add_argument("--window", type=int, default=None)
    p.add_argument("--sampling", choices=("top", "random"), default=None)
    p.add_argument("--random-share", type=float, default=None)
    p.add_argument("--fallback", choices=("closest", "random"), default=None)
    p.add_argument("--variance", type=float, default=None, help="ensemble-pca: PCA variance kept")
    p.add_argument("--no-conditions", dest="conditions", action="store_const", const=False,
                   default=None, help="ensemble-pca: the PCA space without the two conditions "
                   "(pair it with --filter relative:0.95)")
    p.add_argument("--fusion", choices=("rrf", "combsum"), default=None, help="fusion method")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="relative:0.95, margin:0.05, max:0.7, min_relative:0.6 or min:0.2 (repeatable)",
    )
    p.add_argument("--near-copy", type=float, default=None, help="cosine of a near-copy (0.98)")
    p.add_argument("--output", required=True, help="file (or folder for save_to_disk)")
    p.add_argument("--format", choices=("jsonl", *FORMATS), default="jsonl")
    from hardneg_kit.cli import add_profile_argument

    add_profile_argument(p)
    p.set_defaults(handler=run_mine)


def run_mine(args: argparse.Namespace) -> int:
    """Handler of ``mine``: load, mine, write, print the summary."""
    from hardneg_kit.corpus import load_dataset
    from hardneg_kit.mining import Filters, mine, to_dataset
    from hardneg_kit.profiles import get_profile

    profile = get_profile(args.profile)
    params = {
        k: v
        for k, v in {
            "depth": args.depth,
            "skip_top": args.skip_top,
            "window": args.window,
            "sampling": args.sampling,
            "random_share": args.random_share,
            "fallback": args.fallback,
            "variance": args.variance,
            "conditions": args.conditions,
            "method": args.fusion,
            "near_copy": args.near_copy,
        }.items()
        if v is not None
    }
    filters = Filters.parse(args.filter)
    params.update({k: v for k, v in vars(filters).items() if v is not None})
    data = load_dataset(args.dataset, profile=profile)
    result = mine(
        data,
        args.split,
        args.strategy,
        models=[m for m in args.models.split(",") if m.strip()],
        num_negatives=args.num_negatives or profile.num_negatives,
        seed=args.seed,
        **params,
    )
    out = Path(args.output)
    if args.format == "jsonl":
        result.to_jsonl(out)
    else:
        write_dataset(to_dataset(result, data, args.format), out)
    print(result.summary())
    print(f"wrote {out} ({args.format}) in {result.seconds:.1f} s of mining")
    return 0


def write_dataset(dataset, path: Path) -> Path:
    """JSON lines / Parquet files atomically; any other name becomes a ``save_to_disk`` folder."""
    if path.suffix in (".jsonl", ".json"):
        with atomic_path(path) as tmp:
            dataset.to_json(str(tmp), lines=True)
    elif path.suffix == ".parquet":
        with atomic_path(path) as tmp:
            dataset.to_parquet(str(tmp))
    else:
        dataset.save_to_disk(str(path))
    return path
