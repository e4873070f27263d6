"""Splitting judgements into train/dev/test by groups: the ``corpus split`` command.

:func:`split_judgements` merges every judgement file of a folder, links queries that share a
positive document or a text (and optionally a field or id prefix) into groups, assigns whole
groups to splits in a seeded order, and writes ``qrels/{train,dev,test}.tsv`` atomically, so
that no document is a positive in two splits and the same seed gives the same files.

Example:
    >>> print(split_judgements("my-beir", dev=0.1, test=0.2))  # doctest: +SKIP
    wrote my-beir/qrels (groups: queries sharing a positive document)
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from hardneg_kit.corpus.data import BeirData
from hardneg_kit.corpus.groups import _norm_text, _str_or_none, id_group
from hardneg_kit.corpus.reading import _find_file, _read_qrels, _records, _to_dataset, qrels_files
from hardneg_kit.corpus.sampling import _rank
from hardneg_kit.errors import DataError

#: how ``split_judgements`` groups queries
GROUP_BY = ("positive", "field", "prefix")


#: the splits ``split_judgements`` writes
SPLIT_NAMES = ("train", "dev", "test")


#: where an in-place split moves judgement files it would otherwise mix with its own
SPLIT_BACKUP = "qrels-before-split"


@dataclass
class SplitSummary:
    """What :func:`split_judgements` wrote: per split ``(queries, distinct positive documents,
    groups)``; ``str()`` is the summary ``corpus split`` prints."""

    folder: Path
    group_source: str
    counts: dict[str, tuple[int, int, int]]
    moved: list[Path]

    def __str__(self) -> str:
        lines = [f"wrote {self.folder / 'qrels'} (groups: {self.group_source})"]
        lines.append(f"  {'split':<6} {'queries':>8} {'positive docs':>14} {'groups':>7}")
        for split, (q, p, g) in self.counts.items():
            lines.append(f"  {split:<6} {q:>8} {p:>14} {g:>7}")
        lines += [f"moved {p} to {p.parent} (not a split any more)" for p in self.moved]
        return "\n".join(lines)


def _judgement_files(folder: Path) -> list[Path]:
    """``qrels.tsv[.gz]`` beside the corpus, then ``qrels/*.tsv[.gz]`` by name."""
    root = [folder / n for n in ("qrels.tsv", "qrels.tsv.gz") if (folder / n).is_file()]
    if len(root) == 2:
        raise DataError(
            f"{folder}: both qrels.tsv and qrels.tsv.gz exist; which one is current is unknown: "
            "remove (or rename) the stale one."
        )
    return root + list(qrels_files(folder / "qrels").values())


def _merged_judgements(
    files: Sequence[Path], query_lines: Mapping[str, int], doc_lines: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """Every file's judgements in file and line order; a pair judged twice must agree."""
    merged: dict[str, dict[str, int]] = {}
    origin: dict[tuple[str, str], Path] = {}
    for path in files:
        for q, docs in _read_qrels(path, query_lines, doc_lines, validate=True).items():
            for d, r in docs.items():
                old = merged.setdefault(q, {}).setdefault(d, r)
                if old != r:
                    raise DataError(
                        f"{path}: query {q!r} and document {d!r} judged {r} here but {old} in "
                        f"{origin[q, d]}; make the files agree."
                    )
                origin.setdefault((q, d), path)
    return merged


def _split_keys(
    data: BeirData, judged: Mapping[str, Mapping[str, int]], group_by: str, group_field: str
) -> tuple[dict[str, set[str]], str]:
    """Query -> the keys that tie it to others (its positives, plus its group), and a sentence."""
    text = dict(zip(data.queries["_id"], data.queries["text"], strict=True))
    keys = {  # equal texts stay together too: two splits asking the same question is leakage
        q: {f"doc\x00{d}" for d, r in docs.items() if r > 0} | {f"text\x00{_norm_text(text[q])}"}
        for q, docs in judged.items()
    }
    if group_by == "positive":
        return keys, "queries sharing a positive document"
    if group_by == "prefix":
        for q, docs in judged.items():
            keys[q] |= {f"group\x00{g}" for d, r in docs.items() if r > 0 and (g := id_group(d))}
        return keys, "id prefix of the positives (and shared positives)"
    if group_field in data.queries.column_names:
        own = dict(zip(data.queries["_id"], data.queries[group_field], strict=True))
        for q in judged:
            if (g := _str_or_none(own.get(q))) is not None:
                keys[q].add(f"group\x00{g}")
        return keys, f"field {group_field!r} of the queries (and shared positives)"
    if group_field in data.corpus.column_names:
        doc = dict(zip(data.corpus["_id"], data.corpus[group_field], strict=True))
        for q, docs in judged.items():
            keys[q] |= {
                f"group\x00{g}" for d, r in docs.items()
                if r > 0 and (g := _str_or_none(doc.get(d))) is not None
            }
        return keys, f"field {group_field!r} of the positive documents (and shared positives)"
    raise DataError(
        f"{data.folder}: neither the queries nor the corpus have a field {group_field!r} to "
        "group by; name another with --group-field, or use --group-by positive|prefix."
    )


def _components(keys: Mapping[str, set[str]]) -> dict[str, str]:
    """Query -> its group's name (the smallest query id in it): queries linked by any shared key
    form one group (connected components, union-find)."""
    parent = {q: q for q in keys}

    def find(q: str) -> str:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    owner: dict[str, str] = {}
    for q in sorted(keys):
        for k in sorted(keys[q]):
            other = owner.setdefault(k, q)
            a, b = find(q), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {q: find(q) for q in keys}


def _target(size: float, total: int, name: str) -> int:
    """A split size as a count of queries: a fraction in [0, 1) of ``total``, or a count."""
    if isinstance(size, bool) or size < 0:
        raise DataError(f"--{name} {size}: give a fraction (0.2) or a count of queries (300).")
    if isinstance(size, float):
        if size >= 1:
            raise DataError(f"--{name} {size}: a fraction must be below 1 (or give a count).")
        return round(size * total)
    return int(size)


def _assign(groups: Mapping[str, str], targets: Mapping[str, int], seed: int) -> dict[str, str]:
    """Group -> split: groups in a seeded order each go to the first of ``targets`` whose count
    it brings closer to its target, else to ``train``."""
    size = Counter(groups.values())
    have = dict.fromkeys(targets, 0)
    out: dict[str, str] = {}
    for g in sorted(size, key=lambda g: _rank(seed, "split", g)):
        split = next(
            (s for s, t in targets.items() if abs(have[s] + size[g] - t) < abs(have[s] - t)),
            "train",
        )
        if split in have:
            have[split] += size[g]
        out[g] = split
    return out


def split_judgements(
    folder: str | Path,
    dev: float = 0.1,
    test: float = 0.2,
    group_by: str = "positive",
    group_field: str = "service",
    seed: int = 0,
    output: str | Path | None = None,
) -> SplitSummary:
    """Split a BEIR folder's judgements into ``qrels/train.tsv``, ``dev.tsv`` and ``test.tsv``.

    Every judgement file of ``folder`` is read and merged (``qrels.tsv[.gz]`` beside the corpus
    and ``qrels/*.tsv[.gz]``: one unsplit file, or splits to re-split), then whole *groups* of
    queries go to one split each. ``group_by="positive"``: queries sharing a positive document
    form a group (connected components), so no document is a positive in two splits (queries
    with the same text, case and whitespace aside, are kept together too);
    ``"field"``: also queries with the same ``group_field`` value (the query's, else its
    positives' documents'); ``"prefix"``: also queries whose positives share an id prefix
    (:func:`id_group`). Groups are taken in an order seeded by ``seed`` (depending only on ids),
    each going to ``test``, then ``dev``, when it brings that split closer to its size, else to
    ``train``. Sizes are fractions of the queries (``0.2``) or counts (``300``); 0 writes no
    such split. The same input and seed give byte-identical files.

    Everything is read and checked before anything is written (bad input raises
    :class:`DataError` naming the file and line), and each file is written atomically. In place
    (``output=None``), judgement files under ``qrels/`` other than the splits written are moved
    to ``qrels-before-split/`` so that no reader mixes them in; ``qrels.tsv`` stays. With
    ``output``, a new or empty folder receives a copy of the corpus and queries files and the
    splits.

    Args:
        folder: a BEIR folder with its judgements.
        dev: size of the dev split (fraction or count).
        test: size of the test split (fraction or count).
        group_by: ``"positive"``, ``"field"`` or ``"prefix"``.
        group_field: the field ``group_by="field"`` reads.
        seed: seeds the order in which groups are assigned.
        output: folder to write; ``None`` writes into ``folder``.

    Example:
        >>> summary = split_judgements("my-beir", dev=0.1, test=300)  # doctest: +SKIP
        >>> print(summary)  # doctest: +SKIP
        wrote my-beir/qrels (groups: queries sharing a positive document)
          split   queries  positives  groups
          train       ...
    """
    folder = Path(folder).expanduser()
    if group_by not in GROUP_BY:
        raise DataError(f"--group-by {group_by!r}: choose one of {', '.join(GROUP_BY)}.")
    data, judged, sources = _read_judged(folder)
    keys, source = _split_keys(data, judged, group_by, group_field)
    group_of = _components(keys)
    targets = _targets(folder, dev, test, len(judged))
    splits = _grouped_splits(folder, judged, group_of, targets, seed)
    out = folder if output is None else Path(output).expanduser()
    moved = _write_splits(folder, out, *sources, splits)
    return SplitSummary(out, source, _split_counts(splits, group_of), moved)


def _read_judged(folder: Path) -> tuple[BeirData, dict[str, dict[str, int]], tuple[Path, Path]]:
    """Read and check a folder before anything is written: its data (without splits), every
    judgement merged (:func:`_merged_judgements`), and its corpus and queries files."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder: expected a BEIR folder there.")
    corpus_path, queries_path = _find_file(folder, "corpus"), _find_file(folder, "queries")
    files = _judgement_files(folder)
    if not files:
        raise FileNotFoundError(
            f"{folder}: no judgements to split (no qrels.tsv, no qrels/*.tsv); write them "
            "first, e.g. with corpus from-folder --questions."
        )
    doc_rows, doc_lines = _records(corpus_path, "document", True)
    query_rows, query_lines = _records(queries_path, "query", True)
    judged = _merged_judgements(files, query_lines, doc_lines)
    data = BeirData(
        name=folder.resolve().name, folder=folder,
        corpus=_to_dataset(doc_rows, corpus_path, doc_lines, ("_id", "title", "text")),
        queries=_to_dataset(query_rows, queries_path, query_lines, ("_id", "text")),
        qrels={},
    )
    return data, judged, (corpus_path, queries_path)


def _targets(folder: Path, dev: float, test: float, total: int) -> dict[str, int]:
    """Split -> its size in queries (test first: :func:`_assign` fills it first); train must
    keep some."""
    targets = {"test": _target(test, total, "test"), "dev": _target(dev, total, "dev")}
    if sum(targets.values()) >= total:
        raise DataError(
            f"{folder}: dev {targets['dev']} + test {targets['test']} queries leave none of the "
            f"{total} for train; ask for less."
        )
    return targets


def _grouped_splits(
    folder: Path,
    judged: Mapping[str, dict[str, int]],
    group_of: Mapping[str, str],
    targets: Mapping[str, int],
    seed: int,
) -> dict[str, dict[str, dict[str, int]]]:
    """Split -> its queries' judgements, whole groups to one split (:func:`_assign`); a split
    asked for that would be empty is refused."""
    split_of = _assign(group_of, targets, seed)
    splits = {
        s: {q: d for q, d in judged.items() if split_of[group_of[q]] == s} for s in SPLIT_NAMES
    }
    for s in ("train", *(s for s, t in targets.items() if t > 0)):
        if not splits[s]:
            largest = max(Counter(group_of.values()).values())
            raise DataError(
                f"{folder}: the {s} split would be empty: the {len(judged)} queries form "
                f"{len(set(group_of.values()))} groups, the largest of {largest} queries; change "
                "the sizes or group differently (--group-by positive)."
            )
    return splits


def _split_counts(
    splits: Mapping[str, Mapping[str, Mapping[str, int]]], group_of: Mapping[str, str]
) -> dict[str, tuple[int, int, int]]:
    """Per non-empty split: (queries, distinct positive documents, groups)."""
    return {
        s: (
            len(qs),
            len({d for docs in qs.values() for d, r in docs.items() if r > 0}),
            len({group_of[q] for q in qs}),
        )
        for s, qs in splits.items() if qs
    }


def _qrels_text(judged: Mapping[str, Mapping[str, int]]) -> str:
    rows = [f"{q}\t{d}\t{r}" for q, docs in judged.items() for d, r in docs.items()]
    return "\n".join(["query-id\tcorpus-id\tscore", *rows]) + "\n"


def _write_splits(
    folder: Path,
    out: Path,
    corpus_path: Path,
    queries_path: Path,
    splits: Mapping[str, Mapping[str, Mapping[str, int]]],
) -> list[Path]:
    """Write the non-empty splits under ``out/qrels`` atomically; return the files moved away."""
    from hardneg_kit.cache import atomic_path

    copies: list[tuple[Path, Path]] = []
    if out.resolve() != folder.resolve():
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise DataError(f"--output {out}: exists and is not an empty folder; name a new one.")
        copies = [(p, out / p.name) for p in (corpus_path, queries_path)]
    written = {out / "qrels" / f"{s}.tsv" for s, qs in splits.items() if qs}
    stale = [p for p in qrels_files(out / "qrels").values() if p not in written]
    backup = out / SPLIT_BACKUP
    clash = [p for p in stale if (backup / p.name).exists()]
    if clash:
        raise DataError(
            f"{backup / clash[0].name} already exists; move it away so that {clash[0]} can be "
            "kept there."
        )
    with ExitStack() as stack:  # every file complete before any is renamed into place
        for src, dst in copies:
            shutil.copyfile(src, stack.enter_context(atomic_path(dst)))
        for s, qs in splits.items():
            if qs:
                tmp = stack.enter_context(atomic_path(out / "qrels" / f"{s}.tsv"))
                tmp.write_text(_qrels_text(qs), encoding="utf-8")
    moved: list[Path] = []
    for p in stale:
        backup.mkdir(exist_ok=True)
        moved.append(Path(shutil.move(p, backup / p.name)))
    return moved
