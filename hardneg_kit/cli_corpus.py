"""The ``corpus`` command: inspect, check, sample and build BEIR folders.

::

    python -m hardneg_kit corpus stats --dataset aws-cli
    python -m hardneg_kit corpus validate --dataset path/to/beir-folder
    python -m hardneg_kit corpus from-folder --docs my-docs/ --questions q.csv --output my-beir/
    python -m hardneg_kit corpus split my-beir/ --dev 0.1 --test 0.2
    python -m hardneg_kit corpus sample --dataset aws-cli --profile smoke --output /tmp/aws-smoke

Wire it into a parser with :func:`register`; :func:`hardneg_kit.cli.main` turns bad input into one
line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from collections import Counter

from hardneg_kit import corpus as hc
from hardneg_kit.cli_args import POSITIVE_INT, SEED, add_profile_argument
from hardneg_kit.profiles import get_profile

#: query ids a leakage warning shows before "..."
_SHOW = 3


def cmd_stats(args: argparse.Namespace) -> int:
    """``corpus stats --dataset NAME|PATH``: sizes, words per document, queries per group."""
    data = hc.load_beir(hc.resolve_dataset(args.dataset), validate=not args.no_validate)
    words = [len(t.split()) for t in hc.passage_texts(data.corpus)]
    print(f"dataset      {data.name} ({data.folder})")
    print(f"documents    {len(data.corpus)}")
    print(f"queries      {len(data.queries)} in the queries file")
    for split in data.splits():
        pos = data.positives(split)
        n_pos = sum(len(p) for p in pos.values())
        print(f"  {split:<10} {len(data.qrels[split])} queries, {n_pos} positives")
    if words:
        print(
            f"words/doc    mean {sum(words) / len(words):.1f}, "
            f"max {max(words)} (title + text)"
        )
    groups, source = hc.query_groups(data, args.group_field or None)
    if not groups:
        print(f"groups       {source}")
        return 0
    counts = Counter(groups.values())
    print(f"groups       {len(counts)}, from the {source}; queries per group, top 10:")
    for g, n in counts.most_common(10):
        print(f"  {g:<30} {n}")
    return 0


def _leakage_lines(data: hc.BeirData) -> list[str]:
    """One warning per pair of splits that share a query text (case and whitespace aside)."""
    names = data.splits()
    lines = []
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            pairs = hc.shared_query_texts(data, first, second)
            if pairs:
                shown = ", ".join(f"{a}={b}" for a, b in pairs[:_SHOW])
                more = " ..." if len(pairs) > _SHOW else ""
                lines.append(
                    f"warning: {len(pairs)} queries of {second} have the text of a {first} query "
                    f"(case and whitespace aside), e.g. {shown}{more}: leakage; move or remove "
                    "them (corpus split keeps equal texts in one split)."
                )
    return lines


def cmd_validate(args: argparse.Namespace) -> int:
    """``corpus validate --dataset PATH``: every check of :func:`~hardneg_kit.corpus.load_beir`,
    and a warning for query texts shared by two splits (leakage)."""
    data = hc.load_beir(hc.resolve_dataset(args.dataset), validate=True)
    splits = ", ".join(f"{s} {len(q)}" for s, q in data.qrels.items()) or "no qrels"
    print(f"OK {data.folder}: {len(data.corpus)} documents, {len(data.queries)} queries ({splits})")
    for line in _leakage_lines(data):
        print(line)
    return 0


def _size(value: str) -> float:
    """``--dev``/``--test``: ``0.2`` is a fraction of the queries, ``300`` a count."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither a fraction (0.2) nor a count of queries (300)"
        ) from None


def cmd_split(args: argparse.Namespace) -> int:
    """``corpus split FOLDER [--dev 0.1] [--test 0.2] [--group-by ...] [--output DIR]``."""
    summary = hc.split_judgements(
        hc.resolve_dataset(args.folder), dev=args.dev, test=args.test, group_by=args.group_by,
        group_field=args.group_field, seed=args.seed, output=args.output,
    )
    print(summary)
    return 0


def cmd_from_folder(args: argparse.Namespace) -> int:
    """``corpus from-folder --docs DIR [--questions FILE] --output DIR``: build a BEIR folder.

    Questions go to their ``split`` column, else to ``--split``; with ``--test``/``--dev`` they
    are split as ``corpus split`` does it (grouped by positive document).
    """
    resplit = args.test is not None or args.dev is not None
    corpus = hc.corpus_from_folder(args.docs, max_words=args.max_words)
    if args.questions:
        queries, qrels = hc.queries_from_file(args.questions, corpus, split=args.split)
    else:
        import datasets

        queries, qrels = datasets.Dataset.from_dict({"_id": [], "text": []}), {}
    if resplit and list(qrels) != [args.split]:
        found = f"these carry splits {', '.join(qrels)}" if qrels else "there are none"
        raise hc.DataError(
            f"{args.questions or '--questions'}: --test/--dev split questions that have no split "
            f"column, but {found}; drop --test/--dev or the split column."
        )
    out = hc.write_beir_folder(args.output, corpus, queries, qrels)
    hc.load_beir(out, splits=list(qrels))  # what we wrote must load back
    print(f"wrote {out}: {len(corpus)} passages, {len(queries)} questions")
    if resplit:
        dev = 0.1 if args.dev is None else args.dev
        test = 0.2 if args.test is None else args.test
        print(hc.split_judgements(out, dev=dev, test=test, seed=args.seed))
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """``corpus sample --dataset NAME --profile smoke --output DIR``: write a sampled copy."""
    profile = get_profile(args.profile)
    data = hc.load_beir(hc.resolve_dataset(args.dataset))
    caps = hc.query_caps(profile, data.splits())
    small = hc.sample(
        data, profile.max_documents, caps, seed=args.seed, group_field=args.group_field or None
    )
    out = hc.write_beir_folder(args.output, small.corpus, small.queries, small.qrels)
    splits = ", ".join(f"{s} {len(q)}" for s, q in small.qrels.items())
    print(f"wrote {out}: {len(small.corpus)} documents, {len(small.queries)} queries ({splits})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``corpus`` command to a parser's subcommands; each action sets ``handler``.

    >>> parser = argparse.ArgumentParser()
    >>> _ = register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["corpus", "validate", "--dataset", "aws-cli"])
    >>> args.handler.__name__
    'cmd_validate'
    """
    p = subparsers.add_parser(
        "corpus", help="inspect, validate, sample or build BEIR datasets",
        description="Inspect, validate, sample or build BEIR datasets.",
    )
    actions = p.add_subparsers(dest="corpus_action", metavar="ACTION", required=True)
    for add in (_add_stats, _add_validate, _add_from_folder, _add_split, _add_sample):
        add(actions)
    return p


def _dataset_arg(a: argparse.ArgumentParser) -> None:
    a.add_argument(
        "--dataset", required=True, help="shipped dataset name (aws-cli) or a BEIR folder"
    )


def _add_stats(actions: argparse._SubParsersAction) -> None:
    """``corpus stats``: :func:`cmd_stats`."""
    a = actions.add_parser("stats", help="sizes, words per document, queries per group")
    _dataset_arg(a)
    a.add_argument(
        "--group-field", default="service",
        help="field that groups queries (else the id prefix; shown only where meaningful)",
    )
    a.add_argument("--no-validate", action="store_true", help="skip the checks (faster)")
    a.set_defaults(handler=cmd_stats)


def _add_validate(actions: argparse._SubParsersAction) -> None:
    """``corpus validate``: :func:`cmd_validate`."""
    a = actions.add_parser("validate", help="check a BEIR folder; exit 2 with the first problem")
    _dataset_arg(a)
    a.set_defaults(handler=cmd_validate)


def _add_from_folder(actions: argparse._SubParsersAction) -> None:
    """``corpus from-folder``: :func:`cmd_from_folder`."""
    a = actions.add_parser("from-folder", help="Markdown / rST / text files -> a BEIR folder")
    a.add_argument("--docs", required=True, help="folder of .md, .rst and .txt files")
    a.add_argument(
        "--questions", help="CSV or JSONL with question,document (a doc id or a file path)"
    )
    a.add_argument("--split", default="test", help="split for questions without a split column")
    a.add_argument(
        "--test", type=_size, default=None,
        help="split the questions as 'corpus split' does: test size (fraction or count)",
    )
    a.add_argument("--dev", type=_size, default=None, help="dev size with --test (default 0.1)")
    a.add_argument("--seed", type=SEED, default=0, help="seed of the split")
    a.add_argument("--max-words", type=POSITIVE_INT, default=200, help="words per passage at most")
    a.add_argument("--output", required=True, help="folder to write")
    a.set_defaults(handler=cmd_from_folder)


def _add_split(actions: argparse._SubParsersAction) -> None:
    """``corpus split``: :func:`cmd_split`."""
    a = actions.add_parser(
        "split", help="split judgements into train/dev/test, grouped (no shared positives)",
        description="Split a BEIR folder's judgements (qrels.tsv, or qrels/*.tsv to re-split) "
        "into qrels/train.tsv, dev.tsv and test.tsv; whole groups of queries go to one split.",
    )
    a.add_argument("folder", help="BEIR folder (or a shipped dataset's name with --output)")
    a.add_argument("--dev", type=_size, default=0.1, help="fraction (0.1) or count (100)")
    a.add_argument("--test", type=_size, default=0.2, help="fraction (0.2) or count (300)")
    a.add_argument(
        "--group-by", choices=hc.GROUP_BY, default="positive",
        help="positive: queries sharing a positive document stay together (always); field: "
        "also queries with the same --group-field; prefix: also positives' id prefix",
    )
    a.add_argument("--group-field", default="service", help="field for --group-by field")
    a.add_argument("--seed", type=SEED, default=0, help="same seed, same files")
    a.add_argument("--output", help="new folder to write (default: in place)")
    a.set_defaults(handler=cmd_split)


def _add_sample(actions: argparse._SubParsersAction) -> None:
    """``corpus sample``: :func:`cmd_sample`."""
    a = actions.add_parser("sample", help="write a copy sampled to a profile's size")
    _dataset_arg(a)
    add_profile_argument(a)
    a.add_argument("--seed", type=SEED, default=0)
    a.add_argument("--group-field", default="service", help="neighbour groups ('' for none)")
    a.add_argument("--output", required=True, help="folder to write")
    a.set_defaults(handler=cmd_sample)
