"""Tests of the aws-cli dataset builder's pure parts (no awscli needed)."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from hardneg_kit.build import aws_cli
from hardneg_kit.build.aws_cli import (
    FRACTIONS,
    Operation,
    ambiguity_violations,
    build_queries,
    classify_example,
    clean_title,
    document_record,
    document_text,
    extract_titles,
    query_id,
    query_titles,
    split_queries,
)

FIXTURES = Path(__file__).parent / "fixtures" / "aws_cli"
RST = (FIXTURES / "widgets" / "create-widget.rst").read_text(encoding="utf-8")
OPERATION = json.loads((FIXTURES / "operation.json").read_text(encoding="utf-8"))


def test_module_imports_without_awscli() -> None:
    assert aws_cli.read_cli.__name__ == "read_cli"
    assert "awscli" not in sys.modules


def test_extract_titles_reads_bold_lines_only() -> None:
    assert extract_titles(RST) == [
        "Example 1: To create a widget",
        "Example 2: To create a widget with ``tags``.",
        "Output",
        "Example 3: To create a widget in dry-run mode",
        "Example2: To create a widget from a template:",
        "To tag a resource",
    ]


def test_example_prefix_markup_and_trailing_punctuation_are_stripped() -> None:
    assert clean_title("Example 1: To create a widget") == "To create a widget"
    assert clean_title("Example 2: To create a widget with ``tags``.") == (
        "To create a widget with tags"
    )
    assert clean_title("Example2: To create a widget from a template:") == (
        "To create a widget from a template"
    )
    assert clean_title("Example: To list widgets") == "To list widgets"
    assert clean_title("Example 1. To update a widget") == "To update a widget"
    assert clean_title("2. To list tags of a cluster") == "To list tags of a cluster"
    assert clean_title("[EC2-VPC] To delete a security group") == (
        "[EC2-VPC] To delete a security group"
    )


def test_short_titles_are_dropped_and_positions_kept() -> None:
    titles = query_titles(RST)
    assert titles == [
        (1, "To create a widget"),
        (2, "To create a widget with tags"),
        (4, "To create a widget in dry-run mode"),
        (5, "To create a widget from a template"),
        (6, "To tag a resource"),
    ]
    assert all(len(text.split()) >= 3 for _, text in titles)
    assert query_titles("**Example 1**\n**Output:**\n**Two words**\n") == []


def test_document_text_strips_html_one_line_per_parameter() -> None:
    params = [(name, m["documentation"]) for name, m in OPERATION["input"]["members"].items()]
    op = Operation(
        OPERATION["service"], OPERATION["command"], OPERATION["full_name"],
        OPERATION["documentation"], params,
    )
    row = document_record(op)
    assert row["_id"] == "widgets/create-widget"
    assert row["title"] == "aws widgets create-widget (Amazon Widgets)"
    assert row["service"] == "widgets"
    assert row["text"].split("\n") == [
        "Creates a widget in the current Region. See Widgets & more.",
        "--widget-name: The name of the widget.",
        "--tags: The tags: Key <= 128 characters. One",
        "--dry-run",
    ]
    assert "<" not in document_text("<p>A</p>", [("x", "<b>B</b>")])


def test_query_ids_are_stable_under_reordering_and_additions() -> None:
    files = [
        ("widgets", "create-widget", RST),
        ("widgets", "delete-widget", "**To delete a widget**\n"),
        ("gadgets", "list-gadgets", "**Example 1: To list gadgets**\n**Example 2: To list all"
                                    " gadgets**\n"),
    ]
    first, _ = build_queries(files, {})
    shuffled = files[:]
    random.Random(7).shuffle(shuffled)
    extra = [*shuffled, ("gadgets", "add-gadget", "**To add a gadget**\n")]
    second, _ = build_queries(extra, {})
    ids_first = {q["_id"]: q["text"] for q in first}
    ids_second = {q["_id"]: q["text"] for q in second}
    assert ids_first.items() <= ids_second.items()
    assert "widgets/create-widget#6" in ids_first
    assert query_id("gadgets", "list-gadgets", 2) in ids_first
    assert [q["_id"] for q in second] == sorted(
        (q["_id"] for q in second), key=lambda i: (i.split("/")[0], i.split("/")[1].split("#")[0],
                                                    int(i.split("#")[1]))
    )


def test_ambiguity_rule_qualifies_drops_and_merges() -> None:
    files = [
        ("widgets", "create-widget", RST),  # "To tag a resource" also in gadgets
        ("gadgets", "tag-resource", "**To tag a resource**\n**To tag a resource**\n"),
        ("gadgets", "get-gadget", "**To describe a gadget**\n"),
        ("gadgets", "describe-gadget", "**To describe a gadget**\n"),  # same service: dropped
    ]
    names = {"widgets": "Amazon Widgets", "gadgets": "AWS Gadgets"}
    queries, stats = build_queries(files, names)
    texts = {q["_id"]: q["text"] for q in queries}
    assert texts["widgets/create-widget#6"] == "To tag a resource (Amazon Widgets)"
    assert texts["gadgets/tag-resource#1"] == "To tag a resource (AWS Gadgets)"
    assert "gadgets/tag-resource#2" not in texts  # same title, same command: merged
    assert not any(i.startswith(("gadgets/get-gadget", "gadgets/describe-gadget")) for i in texts)
    assert texts["widgets/create-widget#1"] == "To create a widget"  # unambiguous: unchanged
    assert stats["qualified_ambiguous_titles"] == 2
    assert stats["duplicate_titles_merged"] == 1
    assert stats["still_ambiguous_dropped"] == 2
    assert ambiguity_violations(queries) == []


def test_splits_are_disjoint_by_command() -> None:
    files = [
        ("svc", f"command-{i}", f"**To run command number {i}**\n**To run it again {i}**\n")
        for i in range(400)
    ]
    queries, _ = build_queries(files, {})
    qrels = split_queries(queries, FRACTIONS)
    assert set(qrels) == set(FRACTIONS)
    owner: dict[str, str] = {}
    for split, rows in qrels.items():
        for _, doc, score in rows:
            assert score == 1
            assert owner.setdefault(doc, split) == split
    sizes = {split: len(rows) for split, rows in qrels.items()}
    assert sum(sizes.values()) == len(queries) == 800
    assert sizes["train"] > sizes["test"] > sizes["dev"] > 0
    assert split_queries(queries, FRACTIONS) == qrels  # deterministic


def test_classify_example_paths() -> None:
    kinds = {("widgets", "create-widget"): "ServiceOperation", ("widgets", "push"): "Push"}
    assert classify_example("widgets/create-widget.rst", kinds) == (
        "widgets", "create-widget", "ok",
    )
    assert classify_example("widgets/push.rst", kinds)[2] == "custom"
    assert classify_example("widgets/wait/widget-ready.rst", kinds)[2] == "nested"
    assert classify_example("widgets/_description.rst", kinds)[2] == "helper"
    assert classify_example("widgets/delete-widget.rst", kinds)[2] == "missing"
