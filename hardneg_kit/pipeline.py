"""The kit's pipeline end to end on one dataset: retrieve, evaluate, mine (``make demo``).

Example:
    >>> from hardneg_kit.pipeline import run_demo
    >>> report = run_demo("smoke")  # doctest: +SKIP
    >>> print(report.markdown())  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from hardneg_kit.corpus import load_dataset, passage_texts
from hardneg_kit.evaluation import evaluate_runs, markdown_table
from hardneg_kit.mining import DEFAULT_MODELS
from hardneg_kit.profiles import Profile, get_profile
from hardneg_kit.retrievers import run_retrievers

BASE_RETRIEVERS = ["bm25"] + [f"dense:{m}" for m in DEFAULT_MODELS]
FUSION = "fusion:" + "+".join(BASE_RETRIEVERS)
RETRIEVERS = BASE_RETRIEVERS + [FUSION]
#: the demo's mining runs: label -> :func:`hardneg_kit.mining.mine` arguments
DEMO_STRATEGIES: dict[str, dict] = {
    "random": {"strategy": "random"},
    "bm25": {"strategy": "bm25"},
    **{f"dense:{m}": {"strategy": f"dense:{m}"} for m in DEFAULT_MODELS},
    "fusion": {"strategy": "fusion"},
    "semi-hard": {"strategy": "semi-hard"},
    "ensemble-pca": {"strategy": "ensemble-pca"},
    "ensemble-pca + closest fallback": {"strategy": "ensemble-pca", "fallback": "closest"},
}


@dataclass
class DemoReport:
    """What :func:`run_demo` measured: tables plus the wall time of each stage."""

    dataset: str
    profile: Profile
    summary: str
    retrieval: pd.DataFrame
    mining: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)

    def markdown(self) -> str:
        times = ", ".join(f"{k} {v:.0f} s" for k, v in self.seconds.items())
        return "\n\n".join([
            f"## hardneg-kit demo: {self.dataset}, profile `{self.profile.name}`",
            self.summary,
            "### First-stage retrieval (test split)",
            markdown_table(self.retrieval),
            f"### Negatives mined for the train split ({self.profile.num_negatives} per query)",
            markdown_table(self.mining),
            f"Wall time: {times}.",
        ])


def run_demo(profile: str | Profile | None = None, dataset: str = "aws-cli") -> DemoReport:
    """Retrieve and evaluate with every retriever, then mine with every strategy."""
    from hardneg_kit.diagnostics import coverage_table
    from hardneg_kit.evaluation import warm_up_ranx
    from hardneg_kit.mining import mine, prepare

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    data = load_dataset(dataset, profile)
    warm_up_ranx()
    test = data.queries_for("test")
    runs = run_retrievers(RETRIEVERS, data.corpus["_id"], passage_texts(data.corpus),
                          test["_id"], test["text"], top_k=profile.top_k)
    retrieval = evaluate_runs(data.qrels_for("test"), runs).rename(index={FUSION: "fusion (rrf)"})
    seconds["retrieval"] = time.perf_counter() - start

    start = time.perf_counter()
    inputs = prepare(data, "train")
    results = {
        name: mine(inputs, "train", kw["strategy"], num_negatives=profile.num_negatives, seed=0,
                   **{k: v for k, v in kw.items() if k != "strategy"})
        for name, kw in DEMO_STRATEGIES.items()
    }
    mining = coverage_table(results).drop(columns=["seconds"])
    seconds["mining"] = time.perf_counter() - start
    summary = (f"{len(data.corpus)} documents, {len(test)} test queries, "
               f"{len(inputs.query_ids)} training queries.")
    return DemoReport(dataset, profile, summary, retrieval, mining, seconds)
