"""``python -m hardneg_kit mine``: mine negatives for a split and write them.

Example:
    $ python -m hardneg_kit mine --dataset data/aws-cli --split train --strategy ensemble-pca \\
        --models minilm-l6,paraphrase-minilm-l3,static-minilm --num-negatives 4 \\
        --output negatives/ensemble-pca.jsonl --profile smoke

``--engine ray`` encodes the corpus with the strategy's bi-encoders on Ray Data first (see
:mod:`hardneg_kit.cli_engine`); mining then reads the same embeddings cache as ``--engine local``.

``--out-of-core auto|on|off`` chooses how ``ensemble-pca`` (and the near-copy guard) hold the
embeddings: ``on`` reads them as memory-mapped shards, fits the PCA on a seeded sample and
searches a faiss index (:mod:`hardneg_kit.mining.ensemble_large`), ``off`` holds them in memory
and searches exhaustively, ``auto`` (default) goes out of core above
:data:`hardneg_kit.mining.ann.FLAT_MAX_ROWS` passages. On the shipped corpora both give the
same negatives; ``on`` bounds memory for a corpus of millions of passages.

``--format jsonl`` (default) writes :meth:`MiningResult.to_jsonl`; ``triplet``, ``n-tuple``,
``labeled-pair`` and ``labeled-list`` write the sentence-transformers dataset: as JSON lines for
``.jsonl``/``.json``, Parquet for ``.parquet``, else ``Dataset.save_to_disk`` into a folder.
Beside the output, ``<output>.meta.json`` records how it was made (kit version, dataset, profile,
strategy and every setting in effect, the queries mined: :meth:`MiningResult.write_meta`).

The profile caps the queries mined (``full``: 1,000 training queries); ``--max-queries N|all``
sets the cap of the mined split instead, and the first line printed says how many are mined.
Errors (a bad option value, an output that cannot be written, unknown strategy or model, empty
split, positives missing from the corpus) end in one line on stderr and exit code 2 before any
work (see :mod:`hardneg_kit.cli` and :mod:`hardneg_kit.cli_args`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hardneg_kit.cache import atomic_path
from hardneg_kit.cli_args import (
    NON_NEGATIVE_INT,
    POSITIVE_INT,
    SEED,
    SHARE,
    UNIT_INTERVAL,
    OutputKind,
    add_profile_argument,
    check_output,
    count_or_all,
)
from hardneg_kit.cli_engine import add_engine_arguments, check_engine, mining_models, precompute

if TYPE_CHECKING:
    from hardneg_kit.profiles import Profile

#: ``--out-of-core`` -> :attr:`hardneg_kit.mining.MiningInputs.out_of_core`
OUT_OF_CORE = {"auto": None, "on": True, "off": False}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``mine`` command: ``register(parser.add_subparsers())``."""
    from hardneg_kit.mining import DEFAULT_MODELS, FORMATS, PCA_FITS

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
    p.add_argument("--num-negatives", type=POSITIVE_INT, default=None,
                   help="negatives per query, >= 1 (default: the profile's)")
    p.add_argument("--max-queries", type=count_or_all, default=None, metavar="N|all",
                   help="queries of the split to mine (default: the profile's cap; "
                   "'all' for every one)")
    p.add_argument("--seed", type=SEED, default=0, help="0 to 2**32-1")
    p.add_argument("--depth", type=POSITIVE_INT, default=None,
                   help="candidates per query, >= 1 (100)")
    p.add_argument("--skip-top", type=NON_NEGATIVE_INT, default=None, help=">= 0")
    p.add_argument("--window", type=POSITIVE_INT, default=None, help=">= 1")
    p.add_argument("--sampling", choices=("top", "random"), default=None)
    p.add_argument("--random-share", type=SHARE, default=None, help="in [0, 1]")
    p.add_argument("--fallback", choices=("closest", "random"), default=None)
    p.add_argument("--variance", type=UNIT_INTERVAL, default=None,
                   help="ensemble-pca: PCA variance kept, in (0, 1] (0.95)")
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
    p.add_argument("--near-copy", type=UNIT_INTERVAL, default=None,
                   help="cosine of a near-copy, in (0, 1] (0.98)")
    p.add_argument("--lexical-copy", type=UNIT_INTERVAL, default=None,
                   help="word overlap of a lexical twin that the query cannot tell from its "
                   "positive, in (0, 1] (0.99)")
    p.add_argument("--pca-fit", choices=PCA_FITS, default=None,
                   help="ensemble-pca: what PCA is fitted on (passages: a query's negatives do "
                   "not depend on the other queries mined; passages+queries also fits the "
                   "mined queries)")
    p.add_argument("--out-of-core", choices=tuple(OUT_OF_CORE), default="auto",
                   help="embeddings as memory-mapped shards, PCA on a sample, a faiss index "
                   "(on), all in memory (off), or on above 200,000 passages (auto, default)")
    p.add_argument("--output", required=True, help="file (or folder for save_to_disk)")
    p.add_argument("--format", choices=("jsonl", *FORMATS), default="jsonl")
    add_profile_argument(p)
    add_engine_arguments(p)
    p.set_defaults(handler=cmd_mine)


def cmd_mine(args: argparse.Namespace) -> int:
    """Handler of ``mine``: check the output, load, say what is mined, mine, write, summarize."""
    from hardneg_kit.corpus import load_dataset
    from hardneg_kit.mining import Filters, mine, prepare, to_dataset

    out = check_output(args.output, output_kind(args.format, args.output))
    check_engine(args)
    filters = Filters.parse(args.filter)
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
            "lexical_copy": args.lexical_copy,
            "pca_fit": args.pca_fit,
        }.items()
        if v is not None
    }
    params.update({k: v for k, v in vars(filters).items() if v is not None})
    profile, cap = mining_profile(args.profile, args.split, args.max_queries)
    data = load_dataset(args.dataset, profile=profile)
    n = len(data.positives(args.split))
    print(f"mining {n} {args.split} queries of {data.name} with {args.strategy} "
          f"({_cap_note(profile.name, cap, n)})", flush=True)
    num_negatives = args.num_negatives if args.num_negatives is not None else profile.num_negatives
    inputs = prepare(data, args.split)
    inputs.out_of_core = OUT_OF_CORE[args.out_of_core]
    precompute(args, mining_models(args.strategy, args.models.split(",")), inputs.passages)
    result = mine(
        inputs,
        args.split,
        args.strategy,
        models=[m for m in args.models.split(",") if m.strip()],
        num_negatives=num_negatives,
        seed=args.seed,
        **params,
    )
    if args.format == "jsonl":
        result.to_jsonl(out)
    else:
        write_dataset(to_dataset(result, data, args.format), out)
    meta = result.write_meta(
        out, format=args.format, dataset=data.name, dataset_folder=str(data.folder),
        profile=profile.name, max_queries=cap, options=_options(args),
    )
    print(result.summary())
    print(f"wrote {out} ({args.format}) in {result.seconds:.1f} s of mining; how: {meta}")
    return 0


def output_kind(fmt: str, output: str | Path) -> OutputKind:
    """``mine`` writes a file, except a dataset format to a name that is not a file type."""
    is_file = fmt == "jsonl" or Path(output).suffix in (".jsonl", ".json", ".parquet")
    return "file" if is_file else "folder"


def mining_profile(
    name: str | None, split: str, max_queries: int | Literal["all"] | None = None
) -> tuple[Profile, int | None]:
    """The profile with the mined split's query cap set by ``--max-queries``, and that cap.

    ``None`` keeps the profile's cap (``test`` uses ``max_test_queries``, every other split
    ``max_train_queries``, as :func:`~hardneg_kit.corpus.query_caps` does); ``"all"`` lifts it.

    >>> mining_profile("full", "train")[1], mining_profile("full", "train", "all")[1]
    (1000, None)
    """
    from hardneg_kit.profiles import get_profile

    field = "max_test_queries" if split == "test" else "max_train_queries"
    if max_queries is None:
        profile = get_profile(name)
    else:
        profile = get_profile(name, **{field: None if max_queries == "all" else max_queries})
    return profile, getattr(profile, field)


def _cap_note(profile: str, cap: int | None, n: int) -> str:
    if cap is None:
        return "every query of the split"
    if n < cap:
        return f"every query of the split; the cap is {cap}"
    return f"capped at {cap} (profile {profile} or --max-queries); --max-queries N|all changes it"


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The command's options as given (JSON values only)."""
    return {k: v for k, v in vars(args).items()
            if isinstance(v, str | int | float | bool | list | type(None))}


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
