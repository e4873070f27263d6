"""Build ``data/aws-cli``: AWS CLI operations as documents, example titles as queries.

Source: the PyPI wheel ``awscli==1.46.3`` (Apache-2.0). It vendors botocore's service models
(one document per CLI operation) and ``awscli/examples/<service>/<command>.rst`` files whose bold
titles ("**To create a transit gateway route**") were written by AWS documentation writers. Each
title with at least three words becomes a query whose positive is the command of its file.

Run it in the build environment (``data/aws-cli/rebuild.sh``)::

    PYTHONPATH=. python -m hardneg_kit.build.aws_cli --output data/aws-cli

Only the standard library, :mod:`hardneg_kit.build.common` and (inside :func:`read_cli`) awscli
are imported, so the pure parts below are testable without awscli.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hardneg_kit.build.common import (
    _write_text,
    grouped_split,
    qualify_ambiguous,
    strip_html,
    write_beir,
)

log = logging.getLogger(__name__)

AWSCLI_VERSION = "1.46.3"
FRACTIONS: dict[str, float] = {"train": 0.7, "dev": 0.1, "test": 0.2}
MIN_WORDS = 3
# Arguments the CLI adds to every operation (input files, skeletons, pagination): not the API's.
GENERIC_ARGS = frozenset(
    {
        "cli-input-json",
        "cli-input-yaml",
        "generate-cli-skeleton",
        "starting-token",
        "page-size",
        "max-items",
    }
)

# A whole line in bold ("**To tag a resource**"), or a bold prefix followed by the title
# ("**Example 2:** To share an application").
_BOLD_LINE = re.compile(r"^\s*\*\*(?P<title>[^*]+?)\*\*\s*:*\s*$")
_BOLD_PREFIX = re.compile(r"^\s*\*\*(?P<prefix>Example\s*\d*\s*[:.]?)\*\*\s*(?P<title>\S.*?)\s*$")
# "Example 1: ", "Example: ", "Example1: ", "Example 2:", "Example 1. ", "3. " before a title.
_EXAMPLE_PREFIX = re.compile(r"^(?:Example\s*\d*\s*[:.\-)]\s*|Example\s*\d+\s+|\d+\s*[.):]\s+)")
_RST_INLINE = re.compile(r"``|`_*|(?<!\w)\*+|\*+(?!\w)")
_SPACE = re.compile(r"\s+")


@dataclass
class Operation:
    """One CLI operation as the builder needs it (from awscli's command table)."""

    service: str
    command: str
    full_name: str
    description: str
    parameters: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class CliSource:
    """What :func:`read_cli` reads from the installed awscli."""

    version: str
    operations: list[Operation]
    # (service, command) -> kind of command in the table, e.g. "ServiceOperation", "WaitCommand".
    command_kinds: dict[tuple[str, str], str]
    examples_dir: Path
    license_text: str


# ---------------------------------------------------------------------------- pure parts


def extract_titles(rst: str) -> list[str]:
    """Bold titles of an example file, in order, as written (prefixes kept).

    >>> extract_titles("**To list keys**\\n\\nThe following...\\n**Note:** it is slow.\\n")
    ['To list keys']
    >>> extract_titles("**Example 2:** To share an application privately\\n")
    ['Example 2: To share an application privately']
    """
    titles: list[str] = []
    for line in rst.splitlines():
        match = _BOLD_LINE.match(line)
        if match:
            titles.append(match["title"].strip())
            continue
        match = _BOLD_PREFIX.match(line)
        if match:
            titles.append(f"{match['prefix'].strip()} {match['title']}")
    return titles


def clean_title(title: str) -> str:
    """Strip an "Example N:" prefix, RST inline markup and a trailing colon or period.

    >>> clean_title("Example 1: To delete an alias.")
    'To delete an alias'
    >>> clean_title("Example2: To list ``my-bucket`` objects:")
    'To list my-bucket objects'
    >>> clean_title("3. To add Hive steps to a cluster")
    'To add Hive steps to a cluster'
    """
    text = _SPACE.sub(" ", title).strip()
    text = _EXAMPLE_PREFIX.sub("", text, count=1)
    text = _SPACE.sub(" ", _RST_INLINE.sub("", text)).strip()
    return text.rstrip(" :.").strip()


def query_titles(rst: str, min_words: int = MIN_WORDS) -> list[tuple[int, str]]:
    """``(position, query text)`` for each title with at least ``min_words`` words.

    Positions count every bold title of the file from 1, so they do not move when the word
    filter changes.

    >>> query_titles("**Example 1: To list keys**\\n**Output**\\n**Example 2: To list all keys**")
    [(1, 'To list keys'), (3, 'To list all keys')]
    """
    out: list[tuple[int, str]] = []
    for position, raw in enumerate(extract_titles(rst), start=1):
        text = clean_title(raw)
        if len(text.split()) >= min_words:
            out.append((position, text))
    return out


def query_id(service: str, command: str, position: int) -> str:
    """Stable query id: the positive command and the title's position in its example file.

    >>> query_id("ec2", "create-tags", 2)
    'ec2/create-tags#2'
    """
    return f"{service}/{command}#{position}"


def document_text(description: str, parameters: Sequence[tuple[str, str]]) -> str:
    """The operation's description, then one ``--name: description`` line per parameter.

    HTML is stripped; parameters without documentation keep their name.

    >>> document_text("<p>Creates a tag.</p>", [("tags", "<p>The tags &amp; values.</p>"),
    ...                                          ("dry-run", "")])
    'Creates a tag.\\n--tags: The tags & values.\\n--dry-run'
    """
    lines = [strip_html(description)]
    for name, doc in parameters:
        doc_text = strip_html(doc)
        lines.append(f"--{name}: {doc_text}" if doc_text else f"--{name}")
    return "\n".join(line for line in lines if line)


def document_record(operation: Operation) -> dict:
    """The BEIR corpus row of one operation.

    >>> op = Operation("kms", "delete-alias", "AWS Key Management Service",
    ...                "<p>Deletes an alias.</p>", [("alias-name", "The alias.")])
    >>> document_record(op)["title"]
    'aws kms delete-alias (AWS Key Management Service)'
    """
    return {
        "_id": f"{operation.service}/{operation.command}",
        "title": f"aws {operation.service} {operation.command} ({operation.full_name})",
        "text": document_text(operation.description, operation.parameters),
        "service": operation.service,
    }


def classify_example(
    relative: str, command_kinds: Mapping[tuple[str, str], str]
) -> tuple[str, str, str]:
    """``(service, command, status)`` of an example path relative to ``awscli/examples``.

    ``status`` is ``"ok"`` (a service operation), ``"helper"`` (a file that documents no single
    command, e.g. ``_description.rst``), ``"nested"`` (a sub-command such as ``ec2/wait/...``),
    ``"custom"`` (a command of the table that is not an API operation, e.g. ``s3/cp``) or
    ``"missing"`` (not in the command table).

    >>> kinds = {("kms", "delete-alias"): "ServiceOperation", ("ecr", "get-login"): "ECRLogin"}
    >>> [classify_example(p, kinds)[2] for p in
    ...  ["kms/delete-alias.rst", "ecr/get-login.rst", "ec2/wait/vpc-exists.rst",
    ...   "ecr/get-login_description.rst", "kms/no-such-command.rst"]]
    ['ok', 'custom', 'nested', 'helper', 'missing']
    """
    parts = relative.removesuffix(".rst").split("/")
    service, command = parts[0], "/".join(parts[1:])
    if any(part.startswith("_") or "_" in part for part in parts[1:]):
        return service, command, "helper"
    if len(parts) != 2:
        return service, command, "nested"
    kind = command_kinds.get((service, command))
    if kind is None:
        return service, command, "missing"
    return service, command, "ok" if kind == "ServiceOperation" else "custom"


def build_queries(
    examples: Iterable[tuple[str, str, str]], full_names: Mapping[str, str]
) -> tuple[list[dict], dict[str, int]]:
    """Queries from ``(service, command, rst text)`` example files, ambiguity resolved.

    Identical titles of different commands get the service's full name appended
    (:func:`qualify_ambiguous`); titles still ambiguous after that (two commands of one service)
    are dropped; a title repeated within one file is kept once. Rows are sorted by
    ``(service, command, position)`` and carry ``_id``, ``text``, ``service``, ``positive``.

    >>> qs, stats = build_queries(
    ...     [("a", "tag", "**To tag a resource**"), ("b", "tag", "**To tag a resource**")],
    ...     {"a": "Service A", "b": "Service B"})
    >>> [q["text"] for q in qs], stats["qualified_ambiguous_titles"]
    (['To tag a resource (Service A)', 'To tag a resource (Service B)'], 1)
    """
    stats: Counter[str] = Counter()
    raw: list[dict] = []
    for service, command, rst in examples:
        titles = extract_titles(rst)
        kept = query_titles(rst)
        stats["titles"] += len(titles)
        stats["titles_too_short"] += len(titles) - len(kept)
        stats["example_files_without_queries"] += not kept
        for position, text in kept:
            raw.append(
                {
                    "_id": query_id(service, command, position),
                    "text": text,
                    "service": service,
                    "positive": f"{service}/{command}",
                    "order": (service, command, position),
                    "raw": text,
                }
            )
    qualified, n_ambiguous = qualify_ambiguous(raw, full_names)
    kept_pairs = {(q["raw"], q["positive"]) for q in qualified}
    kept_ids = {q["_id"] for q in qualified}
    lost = [q for q in raw if q["_id"] not in kept_ids]
    stats["duplicate_titles_merged"] = sum((q["raw"], q["positive"]) in kept_pairs for q in lost)
    stats["still_ambiguous_dropped"] = len(lost) - stats["duplicate_titles_merged"]
    stats["qualified_ambiguous_titles"] = n_ambiguous
    stats["qualified_queries"] = sum(q["text"] != q["raw"] for q in qualified)
    qualified.sort(key=lambda q: q["order"])
    rows = [{k: q[k] for k in ("_id", "text", "service", "positive")} for q in qualified]
    return rows, dict(stats)


def split_queries(
    queries: Sequence[Mapping], fractions: Mapping[str, float] = FRACTIONS
) -> dict[str, list[tuple[str, str, int]]]:
    """Qrels per split; every query of one positive command lands in the same split.

    >>> qs = [{"_id": "a/x#1", "positive": "a/x"}, {"_id": "a/x#2", "positive": "a/x"}]
    >>> {k: len(v) for k, v in split_queries(qs).items() if v}
    {'train': 2}
    """
    qrels: dict[str, list[tuple[str, str, int]]] = {name: [] for name in fractions}
    for q in queries:
        qrels[grouped_split(q["positive"], fractions)].append((q["_id"], q["positive"], 1))
    return qrels


def ambiguity_violations(queries: Iterable[Mapping]) -> list[str]:
    """Query texts that carry more than one positive (must be empty).

    >>> ambiguity_violations([{"text": "t", "positive": "a"}, {"text": "t", "positive": "b"}])
    ['t']
    """
    positives: dict[str, set[str]] = defaultdict(set)
    for q in queries:
        positives[q["text"]].add(q["positive"])
    return sorted(t for t, p in positives.items() if len(p) > 1)


def notice_text(version: str, wheel_sha256: str | None, license_text: str) -> str:
    """The NOTICE file: source, checksum, what was derived, and awscli's own licence notice."""
    sha = wheel_sha256 or "(not given to the builder)"
    return (
        "hardneg-kit dataset data/aws-cli\n"
        "=================================\n\n"
        f"Derived from the Python package awscli {version} as published on PyPI\n"
        f"(https://pypi.org/project/awscli/{version}/), file awscli-{version}-py3-none-any.whl,\n"
        f"sha256 {sha}.\n"
        "Licensed under the Apache License, Version 2.0 (see LICENSE).\n\n"
        "What was derived:\n"
        "- corpus.jsonl.gz: one document per CLI operation of awscli's command table; the text\n"
        "  is the operation description and the input-parameter descriptions of the botocore\n"
        "  service models vendored in the wheel (awscli/botocore/data), HTML stripped.\n"
        "- queries.jsonl: the bold example titles of awscli/examples/<service>/<command>.rst,\n"
        "  with 'Example N:' prefixes and inline markup removed; identical titles of different\n"
        "  commands qualified with the service's full name; titles shared by two commands of\n"
        "  one service dropped.\n"
        "- qrels/*.tsv: each title's positive is the command of its example file.\n"
        "Modifications: text extracted and reformatted as described; nothing else added.\n\n"
        "The licence notice shipped in the wheel (awscli-"
        f"{version}.dist-info/LICENSE.txt) follows.\n"
        "------------------------------------------------------------------------------\n"
        f"{license_text.rstrip()}\n"
    )


# ---------------------------------------------------------------------------- awscli parts


def _parameters(arg_table: Mapping) -> list[tuple[str, str]]:
    """``(cli name, documentation)`` for the documented input arguments of one operation.

    Generic CLI arguments, hidden ones and the ``--no-...`` twin of a boolean are left out.
    """
    out: list[tuple[str, str]] = []
    groups: set[str] = set()
    for name, arg in arg_table.items():
        if name in GENERIC_ARGS or getattr(arg, "_UNDOCUMENTED", False):
            continue
        group = getattr(arg, "group_name", None)
        if group:
            if group in groups:
                continue
            groups.add(group)
        out.append((name, arg.documentation or ""))
    return out


def read_cli() -> CliSource:
    """Read operations, command kinds, the examples folder and the licence from awscli."""
    import importlib.metadata

    import awscli
    from awscli.clidriver import ServiceCommand, ServiceOperation, create_clidriver

    driver = create_clidriver()
    operations: list[Operation] = []
    kinds: dict[tuple[str, str], str] = {}
    for service, service_command in sorted(driver._get_command_table().items()):
        if not isinstance(service_command, ServiceCommand):
            kinds[(service, "")] = type(service_command).__name__
            continue
        metadata = service_command._get_service_model().metadata
        full_name = metadata.get("serviceFullName") or metadata.get("serviceId") or service
        for command, op in sorted(service_command._get_command_table().items()):
            is_operation = isinstance(op, ServiceOperation)  # incl. ecs execute-command
            kinds[(service, command)] = "ServiceOperation" if is_operation else type(op).__name__
            if not is_operation:
                continue
            model = op._operation_model
            operations.append(
                Operation(service, command, full_name, model.documentation or "",
                          _parameters(op.arg_table))
            )
    dist = importlib.metadata.distribution("awscli")
    license_text = dist.read_text("LICENSE.txt") or ""
    return CliSource(dist.version, operations, kinds, Path(awscli.__file__).parent / "examples",
                     license_text)


def read_examples(
    examples_dir: Path, command_kinds: Mapping[tuple[str, str], str]
) -> tuple[list[tuple[str, str, str]], Counter[str]]:
    """Example files of service operations as ``(service, command, text)``, plus skip counts."""
    files = sorted(p.relative_to(examples_dir).as_posix() for p in examples_dir.rglob("*.rst"))
    used: list[tuple[str, str, str]] = []
    status_counts: Counter[str] = Counter()
    for relative in files:
        service, command, status = classify_example(relative, command_kinds)
        status_counts[status] += 1
        if status == "ok":
            text = (examples_dir / relative).read_text(encoding="utf-8")
            used.append((service, command, text))
        else:
            log.debug("skip %s (%s)", relative, status)
    return used, status_counts


def build(output: str | Path, wheel_sha256: str | None = None) -> dict:
    """Build the dataset into ``output``; returns the statistics written to build-stats.json."""
    output = Path(output)
    source = read_cli()
    if source.version != AWSCLI_VERSION:
        raise RuntimeError(f"awscli {AWSCLI_VERSION} expected, found {source.version}")
    operations = sorted(source.operations, key=lambda op: (op.service, op.command))
    corpus = [document_record(op) for op in operations]
    full_names = {op.service: op.full_name for op in operations}

    examples, status_counts = read_examples(source.examples_dir, source.command_kinds)
    queries, query_stats = build_queries(examples, full_names)
    violations = ambiguity_violations(queries)
    if violations:
        raise RuntimeError(f"{len(violations)} query texts carry several positives")
    qrels = split_queries(queries)
    query_rows = [{k: q[k] for k in ("_id", "text", "service")} for q in queries]
    write_beir(output, corpus, query_rows, qrels, gzip_corpus=True)

    stats = {
        "source": f"awscli=={source.version}",
        "wheel_sha256": wheel_sha256,
        "documents": len(corpus),
        "services": len(full_names),
        "example_files": sum(status_counts.values()),
        "example_files_used": status_counts["ok"],
        "skipped_examples": sum(n for s, n in status_counts.items() if s != "ok"),
        "skipped_examples_by_reason": {s: n for s, n in sorted(status_counts.items()) if s != "ok"},
        **{k: query_stats.get(k, 0) for k in (
            "example_files_without_queries", "titles", "titles_too_short",
            "duplicate_titles_merged", "qualified_ambiguous_titles", "qualified_queries",
            "still_ambiguous_dropped")},
        "queries": len(queries),
        "queries_per_split": {name: len(rows) for name, rows in qrels.items()},
        "commands_per_split": {
            name: len({doc for _, doc, _ in rows}) for name, rows in qrels.items()
        },
        "split_fractions": FRACTIONS,
        "min_title_words": MIN_WORDS,
    }
    _write_text(output / "build-stats.json", json.dumps(stats, indent=2) + "\n")
    _write_text(output / "NOTICE", notice_text(source.version, wheel_sha256, source.license_text))
    log.info("wrote %s: %d documents, %d queries %s", output, len(corpus), len(queries),
             stats["queries_per_split"])
    return stats


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m hardneg_kit.build.aws_cli --output data/aws-cli``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="data/aws-cli", help="dataset folder to write")
    parser.add_argument("--wheel-sha256", default=None, help="sha256 of the awscli wheel used")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    build(args.output, args.wheel_sha256)


if __name__ == "__main__":
    main()
