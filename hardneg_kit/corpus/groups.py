"""Which queries belong together, and which repeat across splits (``corpus stats``/``validate``).

A query's group is a field (``service``) of the query or of its first positive document, else
the id prefix of that document (:func:`id_group`); :func:`query_groups` keeps the first grouping
that means something. :func:`shared_query_texts` finds queries of two splits with the same text
(case and whitespace aside): leakage when one split trains and the other tests.

Example:
    >>> id_group("ec2/run-instances"), id_group("faq/design#why")
    ('ec2', 'faq/design')
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from hardneg_kit.corpus.data import BeirData


def id_group(doc_id: str) -> str | None:
    """The group an id names when there is no group column: before ``#``, else the first ``/``.

    Matches the shipped id schemes and :func:`corpus_from_folder`'s:

    >>> id_group("ec2/run-instances"), id_group("vm/disk/attach"), id_group("faq/design#why")
    ('ec2', 'vm', 'faq/design')
    >>> id_group("sub/guide.md#install"), id_group("doc-17")
    ('sub/guide.md', None)
    """
    if "#" in doc_id:
        return doc_id.split("#", 1)[0]
    if "/" in doc_id:
        return doc_id.split("/", 1)[0]
    return None


def _meaningful(groups: Mapping[str, str | None]) -> str | None:
    """Why ``groups`` (query -> group) tell nothing, or None when they do.

    Groups mean something when most queries have one, there are at least two, and a group holds
    two queries on average (one group per query, or a single group, is no grouping).
    """
    have = [g for g in groups.values() if g is not None]
    distinct = len(set(have))
    if len(have) * 2 < len(groups):
        return f"{len(groups) - len(have)} of {len(groups)} queries have none"
    if distinct < 2:
        return "a single group"
    if distinct * 2 > len(have):
        return f"{distinct} groups for {len(have)} queries (about one per query)"
    return None


def _field_groups(data: BeirData, field: str) -> tuple[dict[str, str | None], str] | None:
    """Judged query -> its ``field``, from the queries file or else its first positive's
    document; None when neither file has the column."""
    positives = {q: p for s in data.splits() for q, p in data.positives(s).items()}
    if field in data.queries.column_names:
        own = dict(zip(data.queries["_id"], data.queries[field], strict=True))
        return {q: _str_or_none(own.get(q)) for q in positives}, f"field {field!r} of the queries"
    if field in data.corpus.column_names:
        doc = dict(zip(data.corpus["_id"], data.corpus[field], strict=True))
        groups = {q: _str_or_none(doc.get(p[0])) for q, p in positives.items()}
        return groups, f"field {field!r} of the positive documents"
    return None


def _str_or_none(value: object) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value)


def query_groups(data: BeirData, field: str | None = "service") -> tuple[dict[str, str], str]:
    """Judged query -> group where a grouping means something, and a sentence saying which.

    Tried in turn: ``field`` (of the queries, else of each query's first positive document),
    then the id prefix of the first positive (:func:`id_group`). The first that is meaningful
    wins: most queries have a group, there are at least two, two queries per group on average.
    Otherwise the groups are ``{}`` and the sentence says why each failed.

    >>> groups, source = query_groups(load_beir("tests/fixtures/beir_tiny"))  # doctest: +SKIP
    >>> source, groups["q1"]  # doctest: +SKIP
    ("field 'service' of the queries", 's3')
    """
    positives = {q: p for s in data.splits() for q, p in data.positives(s).items()}
    tried: list[str] = []
    candidates = [_field_groups(data, field)] if field else []
    candidates.append(({q: id_group(p[0]) for q, p in positives.items()}, "id prefix"))
    for found in candidates:
        if found is None:
            tried.append(f"no field {field!r}")
            continue
        groups, source = found
        why = _meaningful(groups)
        if why is None:
            return {q: g for q, g in groups.items() if g is not None}, source
        tried.append(f"{source.split(' of ')[0]}: {why}")
    return {}, "none (" + "; ".join(tried) + ")"


def _norm_text(text: str) -> str:
    return " ".join(text.casefold().split())


def shared_query_texts(data: BeirData, first: str, second: str) -> list[tuple[str, str]]:
    """(query id in ``first``, query id in ``second``) pairs whose texts are equal once case and
    whitespace are normalized: leakage when ``first`` trains and ``second`` tests.

    >>> shared_query_texts(data, "train", "test")  # doctest: +SKIP
    [('q12', 'q907')]
    """
    text = dict(zip(data.queries["_id"], data.queries["text"], strict=True))
    by_text: dict[str, list[str]] = defaultdict(list)
    for q in data.qrels[first]:
        by_text[_norm_text(text[q])].append(q)
    return [
        (a, b) for b in data.qrels[second] for a in by_text.get(_norm_text(text[b]), []) if a != b
    ]
