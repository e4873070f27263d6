"""Sampling a dataset to a profile's size so that it stays a hard-negative problem.

:func:`sample` keeps a seeded subset of each split's queries and every positive of theirs, then
fills the document budget with their judged non-relevant documents, their *group neighbours*
(:func:`_fill_groups`) and random others, in that order; every choice depends only on ids and
the seed. :func:`profile_sample` applies a profile: shipped datasets are sampled, a user's own
keeps every document; :func:`load_dataset` loads and applies it in one call.

Example:
    >>> small = sample(data, 600, {"train": 60, "test": 40})  # doctest: +SKIP
    >>> data = load_dataset("aws-cli", profile="smoke")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hardneg_kit.corpus.beir import load_beir
from hardneg_kit.corpus.data import BeirData, SplitQrels
from hardneg_kit.corpus.groups import id_group
from hardneg_kit.corpus.shipped import is_shipped, resolve_dataset

if TYPE_CHECKING:
    from hardneg_kit.profiles import Profile

logger = logging.getLogger(__package__)  # one logger, "hardneg_kit.corpus", for the package


def _rank(seed: int, kind: str, key: str) -> bytes:
    """A seeded pseudo-random sort key that depends only on (seed, kind, key)."""
    return hashlib.sha256(f"{seed}\x00{kind}\x00{key}".encode()).digest()


def _split_cap(max_queries: int | Mapping[str, int | None] | None, split: str) -> int | None:
    if isinstance(max_queries, Mapping):
        return max_queries.get(split)
    return max_queries


def _allocate(budget: int, weight: Mapping[str, int], size: Mapping[str, int]) -> dict[str, int]:
    """Share ``budget`` among groups in proportion to ``weight``, never above ``size``.

    Groups that fit within their share are taken whole and their surplus goes to the others
    (water-filling); the remainder after flooring goes to the largest fractions.
    """
    alloc = {g: 0 for g in weight}
    left = dict(weight)
    while left and budget > 0:
        total = sum(left.values())
        share = {g: budget * w / total for g, w in left.items()}
        whole = [g for g in left if size[g] <= share[g]]
        if whole:
            for g in whole:
                alloc[g] = size[g]
                budget -= size[g]
                del left[g]
            continue
        floors = {g: int(math.floor(share[g])) for g in left}
        for g, k in floors.items():
            alloc[g] = k
        extra = budget - sum(floors.values())
        for g in sorted(left, key=lambda g: (floors[g] - share[g], g))[:extra]:
            alloc[g] += 1
        break
    return alloc


def _fill_groups(
    qrels: Mapping[str, Mapping[str, Mapping[str, int]]],
    doc_ids: Sequence[str],
    groups: Sequence[str | None],
    keep: set[str],
    budget: int,
    seed: int,
) -> dict[str, list[str]]:
    """Group -> documents added: neighbours of the positives, shared by :func:`_allocate`."""
    group_of = dict(zip(doc_ids, groups, strict=True))
    weight: Counter[str] = Counter()
    for judged in qrels.values():
        for docs in judged.values():
            for g in {group_of[d] for d, r in docs.items() if r > 0} - {None}:
                weight[g] += 1
    members: dict[str, list[str]] = defaultdict(list)
    for d, g in zip(doc_ids, groups, strict=True):
        if g in weight and d not in keep:
            members[g].append(d)
    alloc = _allocate(budget, weight, {g: len(members[g]) for g in weight})
    return {
        g: sorted(members[g], key=lambda d: _rank(seed, "doc", d))[:k] for g, k in alloc.items()
    }


def sample(
    data: BeirData,
    max_documents: int | None,
    max_queries: int | Mapping[str, int | None] | None,
    seed: int = 0,
    group_field: str | None = "service",
) -> BeirData:
    """A smaller dataset that stays a hard-negative problem.

    Per split, a seeded sample of ``max_queries`` query ids (an int for every split, a dict
    ``{split: cap}`` where a missing split or ``None`` keeps all). Every positive of a sampled
    query is kept; the rest of the ``max_documents`` budget goes first to judged non-relevant
    documents of those queries, then to their *group neighbours* (documents whose
    ``group_field`` value is that of a positive, e.g. the other commands of the same service),
    shared among groups in proportion to their sampled queries, whole groups where they fit,
    and only then to random other documents. Without a ``group_field`` column, groups come from
    the ids (:func:`id_group`: ``vm/create`` -> ``vm``, ``guide.md#install`` -> ``guide.md``);
    ``group_field=None`` turns grouping off. Depends only on the ids and ``seed`` (not on file
    or dict order), and a smaller cap samples a subset of a larger one's queries.

    Args:
        data: the dataset to sample.
        max_documents: the document budget; ``None`` keeps every document.
        max_queries: a cap for every split, or ``{split: cap}``; ``None`` keeps every query.
        seed: seeds every choice.
        group_field: the column that groups documents; ``None`` turns grouping off.

    Example:
        >>> small = sample(data, 600, {"train": 60, "test": 40})  # doctest: +SKIP
    """
    qrels = _sampled_queries(data, max_queries, seed)
    keep = _kept_documents(data, qrels, max_documents, seed, group_field)
    return _restricted(data, qrels, keep)


def _sampled_queries(
    data: BeirData, max_queries: int | Mapping[str, int | None] | None, seed: int
) -> SplitQrels:
    """Per split, the judgements of a seeded sample of its queries, in file order."""
    qrels: SplitQrels = {}
    for split, judged in data.qrels.items():
        cap = _split_cap(max_queries, split)
        qids = list(judged)
        if cap is not None and cap < len(qids):
            chosen = set(sorted(qids, key=lambda q, s=split: _rank(seed, f"query/{s}", q))[:cap])
            qids = [q for q in qids if q in chosen]
        qrels[split] = {q: dict(judged[q]) for q in qids}
        logger.info("%s/%s: kept %d of %d queries", data.name, split, len(qids), len(judged))
    return qrels


def _kept_documents(
    data: BeirData, qrels: SplitQrels, max_documents: int | None, seed: int, group_field: str | None
) -> set[str]:
    """Doc ids to keep: all without a budget, the positives when they fill it, else
    :func:`_fill_budget`."""
    doc_ids: list[str] = list(data.corpus["_id"])
    positives = {d for docs in qrels.values() for q in docs.values() for d, r in q.items() if r > 0}
    if max_documents is None:
        return set(doc_ids)
    if len(positives) >= max_documents:
        logger.warning(
            "%s: the %d positives of the sampled queries exceed max_documents=%d; keeping them all",
            data.name, len(positives), max_documents,
        )
        return set(positives)
    return _fill_budget(data, qrels, doc_ids, positives, max_documents, seed, group_field)


def _fill_budget(
    data: BeirData,
    qrels: SplitQrels,
    doc_ids: list[str],
    positives: set[str],
    max_documents: int,
    seed: int,
    group_field: str | None,
) -> set[str]:
    """The positives, then judged non-relevant documents, group neighbours and random others,
    each in seeded order, up to ``max_documents``."""
    judged_neg = {d for docs in qrels.values() for q in docs.values() for d in q} - positives
    keep = set(positives)
    ranked = sorted(judged_neg, key=lambda d: _rank(seed, "doc", d))
    keep.update(ranked[: max_documents - len(keep)])
    n_judged = len(keep) - len(positives)
    added = _neighbours(data, qrels, doc_ids, keep, max_documents - len(keep), seed, group_field)
    keep.update(d for ds in added.values() for d in ds)
    others = sorted((d for d in doc_ids if d not in keep), key=lambda d: _rank(seed, "doc", d))
    n_random = max(0, max_documents - len(keep))
    keep.update(others[:n_random])
    logger.info(
        "%s: kept %d of %d documents: %d positives, %d judged non-relevant, "
        "%d neighbours from %d groups, %d random",
        data.name, len(keep), len(doc_ids), len(positives), n_judged,
        sum(len(ds) for ds in added.values()), sum(1 for ds in added.values() if ds),
        min(n_random, len(others)),
    )
    return keep


def _neighbours(
    data: BeirData,
    qrels: SplitQrels,
    doc_ids: list[str],
    keep: set[str],
    budget: int,
    seed: int,
    group_field: str | None,
) -> dict[str, list[str]]:
    """Group -> neighbours added by :func:`_fill_groups`, grouped by ``group_field`` (else by
    :func:`id_group`); none when grouping is off."""
    if not group_field:
        return {}
    if group_field in data.corpus.column_names:
        groups = list(data.corpus[group_field])
    else:
        groups = [id_group(d) for d in doc_ids]
        logger.info("%s: no %r column; grouping by id prefix", data.name, group_field)
    return _fill_groups(qrels, doc_ids, groups, keep, budget, seed)


def _restricted(data: BeirData, qrels: SplitQrels, keep: set[str]) -> BeirData:
    """``data`` with the sampled queries and only the kept documents (in file order)."""
    for docs in qrels.values():
        for q in docs:
            docs[q] = {d: r for d, r in docs[q].items() if d in keep}
    kept_queries = {q for docs in qrels.values() for q in docs}
    corpus = data.corpus.select([i for i, d in enumerate(data.corpus["_id"]) if d in keep])
    queries = data.queries.select(
        [i for i, q in enumerate(data.queries["_id"]) if q in kept_queries]
    )
    return BeirData(name=data.name, folder=data.folder, corpus=corpus, queries=queries, qrels=qrels)


def load_dataset(
    name_or_path: str | Path,
    profile: str | Profile | None = None,
    splits: Sequence[str] | None = None,
) -> BeirData:
    """Load a dataset at a profile's size (``None``: ``$HARDNEG_PROFILE``): :func:`profile_sample`.

    ``max_documents`` caps the corpus of a shipped dataset (never a user's own),
    ``max_train_queries`` every split but ``test``, ``max_test_queries`` the ``test`` split; the
    ``full`` profile only caps training queries.

    >>> data = load_dataset("aws-cli", profile="smoke")  # doctest: +SKIP
    """
    from hardneg_kit.profiles import get_profile

    prof = profile if not isinstance(profile, str | None) else get_profile(profile)
    data = load_beir(resolve_dataset(name_or_path), splits=splits)
    return profile_sample(data, prof)


def profile_sample(data: BeirData, profile: Profile,
                   caps: Mapping[str, int | None] | None = None) -> BeirData:
    """``data`` at a profile's size: the shipped datasets sampled, a user's own never shrunk.

    A shipped dataset (:func:`is_shipped`) is sampled to ``max_documents`` and the query caps
    (:func:`query_caps`), as every committed result was made. A user's own dataset keeps every
    document whatever the profile: dropping distractors would make every retriever look better
    than it is on that corpus, and the numbers would describe no real collection (write a smaller
    copy with ``corpus sample`` to run on less). Its queries are capped like the shipped ones (a
    seeded subset costs less time and estimates the same metrics), and a line says so: at
    WARNING level when a cap removes queries, so that notebooks show it too. ``caps`` (split ->
    cap) replaces the profile's :func:`query_caps`, e.g. the experiment's evaluated queries.

    >>> data = profile_sample(load_beir("my-docs"), get_profile("workshop"))  # doctest: +SKIP
    WARNING hardneg_kit.corpus: profile workshop: my-docs is your own dataset: all 5677
    documents used; queries: train 600 of 1200 (--profile paper uses every query)
    """
    caps = query_caps(profile, data.splits()) if caps is None else caps
    if is_shipped(data.folder):
        logger.info("Sampling %s to profile %r", data.name, profile.name)
        return sample(data, profile.max_documents, caps)
    small = sample(data, None, caps)
    capped = [
        f"{s} {len(small.qrels[s])} of {len(data.qrels[s])}"
        for s in data.splits()
        if len(small.qrels[s]) < len(data.qrels[s])
    ]
    line = (
        f"profile {profile.name}: {data.name} is your own dataset: all {len(data.corpus)} "
        "documents used"
    )
    if capped:
        logger.warning(
            "%s; queries: %s (--profile paper uses every query)", line, ", ".join(capped)
        )
    else:
        logger.info("%s, and every judged query", line)
    return small


def query_caps(profile: Profile, splits: Iterable[str]) -> dict[str, int | None]:
    """Per-split query caps of a profile: ``test`` -> ``max_test_queries``, others train's.

    >>> from hardneg_kit.profiles import get_profile
    >>> query_caps(get_profile("smoke"), ["train", "dev", "test"])
    {'train': 60, 'dev': 60, 'test': 40}
    """
    return {
        s: profile.max_test_queries if s == "test" else profile.max_train_queries for s in splits
    }
