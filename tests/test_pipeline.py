"""The main job (``make demo``) end to end on the smoke profile, and the CLI's error contract."""

import pytest

from hardneg_kit.cli import main


@pytest.mark.slow
def test_demo_prints_retrieval_and_mining_tables(capsys):
    assert main(["demo", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "profile `smoke`" in out
    for row in ("| bm25 |", "| dense:minilm-l6 |", "| fusion (rrf) |", "| ensemble-pca |"):
        assert row in out
    # every retriever scored something on the shipped data
    retrieval = out.split("### Negatives")[0]
    for line in retrieval.splitlines():
        if line.startswith("| dense:") or line.startswith("| bm25 |"):
            assert float(line.split("|")[3]) > 0.3  # mrr@10


def test_cli_reports_bad_input_in_one_line(capsys):
    assert main(["demo", "--dataset", "no-such-dataset", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-dataset" in err[0] and "aws-cli" in err[0]
