"""Faults caught before any work: option values, output paths, the cache root, file modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hardneg_kit import cache, cli, corpus
from hardneg_kit.cli_args import OutputError, check_output

FIXTURE = Path(__file__).parent / "fixtures" / "mining"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def no_work(monkeypatch):
    """Loading a dataset fails the test: a check that should come first did not."""

    def load(*args, **kwargs):
        raise AssertionError("the command started loading before checking its options")

    monkeypatch.setattr(corpus, "load_dataset", load)
    monkeypatch.setattr(corpus, "load_beir", load)


def _mine(tmp_path, *extra: str) -> list[str]:
    return ["mine", "--dataset", str(FIXTURE), "--output", str(tmp_path / "n.jsonl"), *extra]


# --------------------------------------------------------------------------- option values


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--num-negatives", "0", ">= 1"),
        ("--depth", "0", ">= 1"),
        ("--depth", "-5", ">= 1"),
        ("--seed", "-1", "from 0 to 4294967295"),
        ("--seed", "x", "from 0 to 4294967295"),
        ("--near-copy", "-1", "(0, 1]"),
        ("--near-copy", "nan", "(0, 1]"),
        ("--variance", "1.5", "(0, 1]"),
        ("--random-share", "2", "[0, 1]"),
        ("--skip-top", "-1", ">= 0"),
        ("--window", "0", ">= 1"),
        ("--max-queries", "0", "'all'"),
    ],
)
def test_mine_options_are_refused_at_parse_time_naming_the_option(
    tmp_path, capsys, no_work, option, value, allowed
):
    assert cli.main(_mine(tmp_path, option, value)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: argument {option}: must be ") and err.count("\n") == 1
    assert allowed in err and repr(value) in err and "mine --help" in err


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["retrieve", "--dataset", "x", "--top-k", "0"], "--top-k"),
        (["evaluate", "--dataset", "x", "run.trec", "--max-p", "1"], "--max-p"),
    ],
)
def test_retrieval_options_are_refused_at_parse_time(capsys, argv, option):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith(f"error: argument {option}: must be")


def test_base_examples_overrides_the_profile_and_is_checked(capsys, monkeypatch, tmp_path):
    import hardneg_kit.experiment as experiment

    assert cli.main(["experiment", "--base-examples", "-1"]) == 2
    assert capsys.readouterr().err.startswith("error: argument --base-examples: must be")
    seen = {}

    class Stop(Exception):
        pass

    def fake_run(profile, *args, **kwargs):
        seen["profile"] = profile
        raise Stop

    monkeypatch.setattr(experiment, "run_experiment", fake_run)
    with pytest.raises(Stop):
        cli.main(["experiment", "--profile", "smoke", "--base-examples", "7",
                  "--output", str(tmp_path / "out")])
    assert seen["profile"].base_examples == 7 and seen["profile"].name == "smoke"


def test_max_queries_lifts_the_profile_cap():
    from hardneg_kit.cli_mining import mining_profile

    assert mining_profile("full", "train")[1] == 1000
    assert mining_profile("full", "train", "all")[1] is None
    profile, cap = mining_profile("smoke", "test", 7)
    assert cap == 7 and profile.max_test_queries == 7 and profile.max_train_queries == 60
    assert cli.build_parser().parse_args(_mine(Path("."), "--max-queries", "ALL")).max_queries \
        == "all"


# --------------------------------------------------------------------------- output paths


def test_output_that_is_a_folder_fails_before_any_work(tmp_path, capsys, no_work):
    assert cli.main(["mine", "--dataset", str(FIXTURE), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is an existing folder" in err and str(tmp_path) in err
    argv = ["retrieve", "--dataset", str(FIXTURE), "--output", str(tmp_path)]
    assert cli.main(argv) == 2 and "is an existing folder" in capsys.readouterr().err


def test_read_only_output_folder_fails_before_any_work(tmp_path, capsys, monkeypatch, no_work):
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    # root may write anywhere, so a chmod alone proves nothing here: report the folder read-only
    monkeypatch.setattr(os, "access", lambda p, m: False if Path(p) == ro else real_access(p, m))
    for argv in (_mine(tmp_path)[:-2] + ["--output", str(ro / "sub" / "n.jsonl")],
                 ["retrieve", "--dataset", str(FIXTURE), "--output", str(ro / "bm25.trec")],
                 ["experiment", "--output", str(ro / "results")]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"the folder {ro} is not writable" in err


def test_check_output_kinds(tmp_path):
    a_file = tmp_path / "f.txt"
    a_file.write_text("x")
    assert check_output(tmp_path / "new" / "deeper" / "x.jsonl") == tmp_path / "new/deeper/x.jsonl"
    assert check_output(a_file) == a_file  # replaced atomically: the file itself may exist
    assert check_output(tmp_path, "folder") == tmp_path
    with pytest.raises(OutputError, match="existing file"):
        check_output(a_file, "folder")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output(a_file / "below.jsonl")
    assert check_output(tmp_path, "any") == tmp_path


def test_mine_dataset_format_to_a_folder_name_refuses_an_existing_file(tmp_path, capsys, no_work):
    target = tmp_path / "triplets"
    target.write_text("not a folder")
    argv = ["mine", "--dataset", str(FIXTURE), "--output", str(target), "--format", "triplet"]
    assert cli.main(argv) == 2 and "existing file" in capsys.readouterr().err


# --------------------------------------------------------------------------- the cache root


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_unusable_cache_root_is_one_line_naming_it(tmp_path, monkeypatch, capsys, kind):
    root = tmp_path / "cache-root"
    if kind == "file":
        root.write_text("not a folder")
    else:
        root.mkdir()
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, m: False if str(p).startswith(str(root)) else real_access(p, m)
        )
    monkeypatch.setenv("HARDNEG_CACHE", str(root))
    with pytest.raises(cache.CacheError, match="HARDNEG_CACHE") as exc:
        cache.cache_dir("embeddings")
    assert str(root) in str(exc.value) and "\n" not in str(exc.value)
    argv = ["retrieve", "--dataset", str(FIXTURE), "--split", "train",
            "--retriever", "dense:minilm-l6", "--output", str(tmp_path / "run.trec")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the model's loading bar
    assert err.startswith("error: Cannot use $HARDNEG_CACHE=") and str(root) in err
    assert ("is a file" if kind == "file" else "is not writable") in err
    assert not (tmp_path / "run.trec").exists()


# --------------------------------------------------------------------------- file modes


def test_atomic_files_get_the_umask_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        with cache.atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("x")
        os.umask(0o027)
        with cache.atomic_path(tmp_path / "b.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.txt").stat().st_mode) == 0o640


def test_mined_file_and_its_record_are_readable_by_others(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        out = tmp_path / "n.jsonl"
        assert cli.main(_mine(tmp_path, "--strategy", "random", "--num-negatives", "1")) == 0
    finally:
        os.umask(old)
    for path in (out, Path(f"{out}.meta.json")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("error", "one_line"),
    [
        (corpus.DataError("bad qrels line 3"), True),
        (FileNotFoundError("no such file: x.jsonl"), True),
        (ValueError("a bug inside numpy"), False),
        (TypeError("a bug of ours"), False),
    ],
)
def test_main_prints_only_the_kits_errors_and_file_errors(monkeypatch, capsys, error, one_line):
    from hardneg_kit import cli_demo
    from hardneg_kit.errors import HardnegError

    def handler(args):
        raise error

    monkeypatch.setattr(cli_demo, "register", _register_with(handler))
    if one_line:
        assert cli.main(["demo", "--profile", "smoke"]) == 2
        assert capsys.readouterr().err == f"error: {error}\n"
    else:
        with pytest.raises(type(error)):
            cli.main(["demo", "--profile", "smoke"])
    assert issubclass(corpus.DataError, HardnegError) and issubclass(HardnegError, ValueError)


def _register_with(handler):
    def register(subparsers):
        p = subparsers.add_parser("demo")
        p.add_argument("--profile")
        p.set_defaults(handler=handler)

    return register


def test_profile_is_resolved_without_touching_the_environment(monkeypatch):
    from hardneg_kit import cli_demo

    seen = {}

    def handler(args):
        seen["profile"] = args.profile
        return 0

    monkeypatch.delenv("HARDNEG_PROFILE", raising=False)
    monkeypatch.setattr(cli_demo, "register", _register_with(handler))
    assert cli.main(["demo", "--profile", "smoke"]) == 0
    assert seen["profile"] == "smoke" and "HARDNEG_PROFILE" not in os.environ
