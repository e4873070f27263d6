"""The ``retrieve`` and ``evaluate`` commands: first-stage runs as TREC files, and their metrics.

::

    python -m hardneg_kit retrieve --dataset data/aws-cli --split test --retriever bm25 \\
        --top-k 100 --output runs/bm25-test.trec --profile smoke
    python -m hardneg_kit retrieve --dataset aws-cli --retriever fusion:bm25+dense:minilm-l6
    python -m hardneg_kit evaluate --dataset data/aws-cli --split test runs/*.trec --compare

``retrieve --engine ray`` embeds the corpus of its dense retrievers on Ray Data first (see
:mod:`hardneg_kit.cli_engine`); the index is then built from the same cache as locally.

Use the same ``--profile`` for both: the profile decides which queries are sampled, and a query
of the split that a run lacks counts as a miss. Bad input (unknown retriever, missing split, no
queries, unreadable run file, an option out of range, an ``--output`` that cannot be written)
ends with one line on stderr and exit status 2, before any index is built.
"""

from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path

from hardneg_kit.cli_args import P_VALUE, POSITIVE_INT, add_profile_argument, check_output
from hardneg_kit.cli_engine import add_engine_arguments, check_engine, precompute
from hardneg_kit.errors import DataError, UsageError

logger = logging.getLogger(__name__)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


def _load(args: argparse.Namespace):
    from hardneg_kit.corpus import load_dataset

    return load_dataset(args.dataset, profile=args.profile)


def cmd_retrieve(args: argparse.Namespace) -> int:
    """``retrieve``: index the corpus, search the split's queries, write a TREC run file."""
    from hardneg_kit.corpus import passage_texts
    from hardneg_kit.corpus.data import column
    from hardneg_kit.profiles import get_profile
    from hardneg_kit.retrievers import make_retriever, retriever_models, write_trec

    retriever = make_retriever(args.retriever)  # unknown specs fail before any loading
    check_engine(args)
    top_k = args.top_k if args.top_k is not None else get_profile(args.profile).top_k
    if top_k < 1:
        raise UsageError(f"--top-k must be at least 1, not {top_k}.")
    output = check_output(args.output or f"runs/{_slug(args.retriever)}-{args.split}.trec")
    data = _load(args)
    queries = data.queries_for(args.split)
    if len(queries) == 0:
        raise DataError(f"{data.name}: split {args.split!r} has no queries to search.")
    texts = passage_texts(data.corpus)
    precompute(args, retriever_models(args.retriever), texts)
    retriever.index(column(data.corpus, "_id"), texts)
    run = retriever.search(list(queries["_id"]), list(queries["text"]), top_k=top_k)
    write_trec(run, output, tag=_slug(retriever.name))
    empty = sum(1 for q in run.keys() if len(run[q]) == 0)
    print(
        f"{output}: {len(queries)} queries ({empty} without hits), top {top_k} of "
        f"{len(texts)} passages, retriever {retriever.name}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``evaluate``: a metrics table of TREC run files on a split (``--compare``: significance)."""
    from hardneg_kit.evaluation import (
        RETRIEVAL_METRICS,
        compare_runs,
        evaluate_runs,
        markdown_table,
        significance_table,
    )
    from hardneg_kit.retrievers import read_trec

    metrics = (
        [m.strip() for m in args.metrics.split(",") if m.strip()]
        if args.metrics
        else RETRIEVAL_METRICS
    )
    runs = {}
    for path in map(Path, args.runs):
        name = path.stem if path.stem not in runs else str(path)
        runs[name] = read_trec(path, name=name)
    data = _load(args)
    qrels = data.qrels_for(args.split)
    n_queries = len(qrels.keys())
    if n_queries == 0:
        raise DataError(f"{data.name}: split {args.split!r} has no queries to evaluate.")
    wanted = set(qrels.keys())
    for name, run in runs.items():
        covered = len(wanted & set(run.keys()))
        if covered < n_queries / 2:
            logger.warning(
                "%s holds results for %d of the %d %s queries; the others count as misses "
                "(was it made with another --profile or split?)",
                name,
                covered,
                n_queries,
                args.split,
            )
    if args.compare:
        if len(runs) < 2:
            raise UsageError("--compare needs at least two run files.")
        report = compare_runs(
            qrels,
            runs,
            baseline=args.baseline,
            metrics=metrics,
            stat_test=args.stat_test,
            max_p=args.max_p,
        )
        print(report)
        table = significance_table(report, args.baseline)
    else:
        table = evaluate_runs(qrels, runs, metrics)
    print(f"\n{data.name} / {args.split}: {n_queries} queries\n")
    print(markdown_table(table) if args.markdown else table.round(4).to_string())
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="shipped dataset name or a BEIR folder")
    parser.add_argument("--split", default="test", help="qrels split (default: test)")
    add_profile_argument(parser)  # decides the sampled queries


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``retrieve`` and ``evaluate`` commands; each sets ``handler`` (and ``func``).

    >>> parser = argparse.ArgumentParser()
    >>> register(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["retrieve", "--dataset", "aws-cli"]).retriever
    'bm25'
    """
    p = subparsers.add_parser(
        "retrieve",
        help="search a split with a retriever, write a TREC run file",
        description="Index the corpus with a retriever, search a split's queries and write "
        "the top-k per query as a TREC run file.",
    )
    _common(p)
    p.add_argument(
        "--retriever",
        default="bm25",
        help="bm25 | bm25l | bm25plus | dense:<model> (e.g. dense:minilm-l6) | "
        "fusion:<spec>+<spec> (e.g. fusion:bm25+dense:minilm-l6); default bm25",
    )
    p.add_argument("--top-k", type=POSITIVE_INT, default=None,
                   help="hits per query, >= 1 (default: profile)")
    p.add_argument(
        "--output", default=None, help="run file (default: runs/<retriever>-<split>.trec)"
    )
    add_engine_arguments(p)
    p.set_defaults(handler=cmd_retrieve)

    p = subparsers.add_parser(
        "evaluate",
        help="metrics of TREC run files on a split",
        description="Evaluate TREC run files against a split's qrels; queries missing from a "
        "run count as misses.",
    )
    _common(p)
    p.add_argument("runs", nargs="+", help="TREC run files")
    p.add_argument("--metrics", default=None, help="comma-separated ranx metrics")
    p.add_argument("--compare", action="store_true", help="paired significance tests")
    p.add_argument("--baseline", default=None, help="run (file stem) to compare against")
    p.add_argument("--stat-test", choices=["student", "fisher"], default="student")
    p.add_argument("--max-p", type=P_VALUE, default=0.05,
                   help="significance level, in (0, 1) (0.05)")
    p.add_argument("--markdown", action="store_true", help="print a markdown table")
    p.set_defaults(handler=cmd_evaluate)
