"""What is evaluated: the datasets, their query samples and the first-stage candidates.

Every dataset goes by a label (:func:`dataset_label`), so results never depend on how a path was
spelled; :func:`check_splits` refuses, before any long work, a dataset without a split the
experiment needs. An :class:`EvalSet` is one dataset's split at the profile's size
(:func:`sampled_dataset`, :func:`query_cap`) with every first-stage run on it
(:func:`eval_set`): the candidates every re-ranker re-orders are the fused run's top
``profile.rerank_depth``. The "best single model" contender mines with the dense retriever that
is best on dev (:func:`best_single_model`), never chosen on test.

Example:
    >>> from hardneg_kit.experiment.datasets import eval_set
    >>> dev = eval_set("aws-cli", get_profile("smoke"), split="dev")  # doctest: +SKIP
    >>> dev.candidates_spec  # doctest: +SKIP
    'fusion:bm25+dense:minilm-l6+dense:paraphrase-minilm-l3+dense:static-minilm'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardneg_kit.cache import content_key
from hardneg_kit.corpus import (
    BeirData,
    DataError,
    load_beir,
    passage_texts,
    profile_sample,
    qrels_files,
    resolve_dataset,
)
from hardneg_kit.experiment.contenders import CANDIDATES, candidates_spec, first_stage_specs
from hardneg_kit.mining import DEFAULT_MODELS
from hardneg_kit.profiles import Profile


def dataset_label(name_or_path: str | Path) -> str:
    """The name a dataset goes by in tables, results and file names: a shipped dataset's name,
    or a folder's own name, however its path was spelled (``./x``, ``/abs/x`` -> ``x``).

    >>> dataset_label("aws-cli")
    'aws-cli'
    """
    return resolve_dataset(name_or_path).resolve().name


def dataset_labels(datasets: Sequence[str | Path]) -> dict[str, str]:
    """label -> the name or folder given, in order; two datasets with one label are refused
    (their results would land in one folder)."""
    labels: dict[str, str] = {}
    for d in datasets:
        label = dataset_label(d)
        if label in labels:
            raise DataError(
                f"Two datasets are named {label!r} ({labels[label]} and {d}): rename one "
                "folder, since results are written per dataset name.")
        labels[label] = str(d)
    return labels


def check_splits(labels: Mapping[str, str], split: str = "test") -> None:
    """Refuse, before any work, datasets that lack a split the experiment needs: the training
    dataset's ``train``, ``dev`` and ``split``, the others' ``split``.

    Raises:
        DataError: naming the dataset, its folder, the missing split and what to do.
    """
    for i, (label, given) in enumerate(labels.items()):
        qrels = resolve_dataset(given) / "qrels"
        have = qrels_files(qrels)  # also refuses a split written both plain and gzipped
        needed = ["train", "dev", split] if i == 0 else [split]
        for name in dict.fromkeys(needed):
            if name not in have:
                role = "the training dataset" if i == 0 else "an evaluation dataset"
                raise DataError(
                    f"{label}: {qrels / (name + '.tsv')} not found, and {role} needs it; make "
                    "train/dev/test splits of its judgements with 'python -m hardneg_kit "
                    f"corpus split {qrels.parent}'.")


@dataclass
class EvalSet:
    """One evaluation dataset: the queries of one split, qrels and the shared first-stage runs."""

    name: str
    data: BeirData
    queries: dict[str, str]
    passages: dict[str, str]
    first_stage: dict[str, Any]  # spec -> ranx Run
    split: str = "test"
    #: the first-stage run whose top documents are re-ranked
    candidates_spec: str = CANDIDATES

    @property
    def candidates(self):
        return self.first_stage[self.candidates_spec]

    @property
    def qrels(self):
        return self.data.qrels_for(self.split)

    def key(self, depth: int) -> str:
        """Content key of what a re-ranker sees: queries, candidate ids and their texts."""
        items = []
        for q in sorted(self.queries):
            docs = sorted(self.candidates[q].items(), key=lambda kv: (-kv[1], kv[0]))[:depth]
            items += [q, self.queries[q], *(d + "\x1f" + self.passages[d] for d, _ in docs)]
        return content_key(self.name, str(depth), items)  # the query ids tell the splits apart


def query_cap(split: str, profile: Profile, training: bool = True) -> int | None:
    """How many queries of a dataset's ``split`` the experiment evaluates: ``dev_queries``,
    ``eval_queries`` (the training dataset's test split) or ``transfer_queries``."""
    if split == "dev":
        return profile.dev_queries
    return profile.eval_queries if training else profile.transfer_queries


def sampled_dataset(name: str | Path, profile: Profile, split: str = "test",
                    training: bool = True) -> BeirData:
    """A dataset's ``split`` (and its ``train`` split when it is the ``training`` dataset) at the
    profile's size: :func:`query_cap` queries, and for the shipped datasets the profile's
    corpus sample (which keeps the positives of exactly these queries, so mining on any other
    sample gives other negatives); a user's own dataset keeps every document.
    """
    splits = ["train", split] if training and split != "train" else [split]
    raw = load_beir(resolve_dataset(name), splits=splits)
    caps = {split: query_cap(split, profile, training), "train": profile.max_train_queries}
    return profile_sample(raw, profile, caps)


def embedded_corpora(datasets: Sequence[str | Path], profile: Profile,
                     split: str = "test") -> list[list[str]]:
    """The distinct passage lists an experiment embeds with its bi-encoders: each dataset's
    :func:`sampled_dataset` for ``split`` (the first is the training dataset) and, for a test
    run, the training dataset's dev sample (where the best single model is chosen).

    ``experiment --engine ray`` encodes exactly these first; profiles that keep the whole
    corpus give one list per dataset.

    >>> [len(c) for c in embedded_corpora(["aws-cli"], get_profile("full"))]  # doctest: +SKIP
    [18886]
    """
    samples = [sampled_dataset(d, profile, split, training=i == 0) for i, d in enumerate(datasets)]
    if split != "dev":
        samples.append(sampled_dataset(datasets[0], profile, "dev"))
    corpora: list[list[str]] = []
    for data in samples:
        texts = passage_texts(data.corpus)
        if texts not in corpora:
            corpora.append(texts)
    return corpora


def eval_set(name: str | Path, profile: Profile, top_k: int | None = None,
             split: str = "test", training: bool = True,
             models: Sequence[str] = DEFAULT_MODELS) -> EvalSet:
    """:func:`sampled_dataset` with every first-stage retriever run on its ``split``
    (:func:`first_stage_specs` of ``models`` and their fusion).

    ``name`` is a shipped dataset or a BEIR folder; the set is named by :func:`dataset_label`,
    so cached runs and results never depend on how the path was spelled. First-stage runs have
    their score ties broken by doc id, so every tool ranks them alike.
    """
    from hardneg_kit.retrievers import break_ties, run_retrievers

    data = sampled_dataset(name, profile, split, training)
    test = data.queries_for(split)
    texts = passage_texts(data.corpus)
    doc_ids = list(data.corpus["_id"])
    fused = candidates_spec(models)
    runs = run_retrievers([*first_stage_specs(models), fused], doc_ids, texts, list(test["_id"]),
                          list(test["text"]), top_k=top_k or profile.top_k)
    runs = {spec: break_ties(run, name=spec) for spec, run in runs.items()}
    return EvalSet(dataset_label(name), data, dict(zip(test["_id"], test["text"], strict=True)),
                   dict(zip(doc_ids, texts, strict=True)), runs, split, fused)


def best_single_model(dev: EvalSet, models: Sequence[str] = DEFAULT_MODELS,
                      metric: str = "mrr@10") -> str:
    """The dense retriever (``dense:<model>``) with the best first-stage ``metric`` on ``dev``:
    the "best single model" contender mines with it. Chosen on dev, never on test."""
    from hardneg_kit.evaluation import evaluate_runs

    specs = [f"dense:{m}" for m in models]
    table = evaluate_runs(dev.qrels, {s: dev.first_stage[s] for s in specs}, [metric])
    return str(table[metric].idxmax())
