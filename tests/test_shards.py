"""Sharded embeddings: round trip, out-of-order writes, resume, damage and layout checks."""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from hardneg_kit.shards import ShardError, ShardWriter, open_shards, shard_name


def _data(n: int = 10, dim: int = 4) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)


def _write(folder, index: int, rows: np.ndarray) -> None:  # for the process pool
    ShardWriter(folder, dim=rows.shape[1], shard_rows=4).write(index, rows)


def test_out_of_order_writes_round_trip(tmp_path):
    data = _data()
    writer = ShardWriter(tmp_path, dim=4, shard_rows=4, meta={"model": "m"})
    for i in (2, 0, 1):  # any order
        writer.write(i, data[i * 4 : (i + 1) * 4])
    arr = writer.close(total_rows=10)
    assert arr.shape == (10, 4) and len(arr) == 10 and arr.meta == {"model": "m"}
    starts = [s for s, _ in arr.blocks()]
    assert starts == [0, 4, 8]
    np.testing.assert_array_equal(np.vstack([b for _, b in arr.blocks()]), data)
    np.testing.assert_array_equal(np.vstack([b for _, b in arr.blocks(3)]), data)  # spans shards
    rows = np.array([9, 0, 5, 5, 3])
    np.testing.assert_array_equal(arr.take(rows), data[rows])
    with pytest.raises(IndexError):
        arr.take(np.array([10]))
    reopened = open_shards(tmp_path)
    np.testing.assert_array_equal(reopened.take(np.arange(10)), data)
    assert oct(os.stat(tmp_path / shard_name(0)).st_mode & 0o777) != "0o600"


def test_writes_from_other_processes(tmp_path):
    data = _data(8)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_write, [tmp_path] * 2, [1, 0], [data[4:], data[:4]]))
    arr = ShardWriter(tmp_path, dim=4, shard_rows=4).close(total_rows=8)
    np.testing.assert_array_equal(arr.take(np.arange(8)), data)


def test_float16_halves_storage(tmp_path):
    data = _data()
    writer = ShardWriter(tmp_path, dim=4, dtype="float16", shard_rows=4)
    for i in range(3):
        writer.write(i, data[i * 4 : (i + 1) * 4])
    arr = writer.close(10)
    assert arr.dtype == np.float16
    np.testing.assert_allclose(arr.take(np.arange(10)).astype(np.float32), data, atol=2e-3)


def test_resume_after_crash_skips_done_shards(tmp_path):
    data = _data()
    writer = ShardWriter(tmp_path, dim=4, shard_rows=4)
    writer.write(0, data[:4])
    writer.write(2, data[8:])
    # a crash between a shard and its checksum leaves the shard unverified: not done
    (tmp_path / (shard_name(2) + ".sha256")).unlink()
    with pytest.raises(ShardError, match="missing or unverified shards \\[1, 2\\]"):
        writer.close(10)
    assert not (tmp_path / "manifest.json").exists()
    with pytest.raises(ShardError, match="incomplete"):
        open_shards(tmp_path)
    again = ShardWriter(tmp_path, dim=4, shard_rows=4)
    assert again.done() == {0}
    for i in sorted({0, 1, 2} - again.done()):
        again.write(i, data[i * 4 : (i + 1) * 4])
    np.testing.assert_array_equal(again.close(10).take(np.arange(10)), data)


def test_damaged_shard_is_detected(tmp_path):
    data = _data()
    writer = ShardWriter(tmp_path, dim=4, shard_rows=4)
    for i in range(3):
        writer.write(i, data[i * 4 : (i + 1) * 4])
    writer.close(10)
    path = tmp_path / shard_name(1)
    raw = bytearray(path.read_bytes())
    raw[-8:] = bytes(8)  # zero the last values under a valid header
    path.write_bytes(bytes(raw))
    with pytest.raises(ShardError, match=f"{tmp_path}.*{shard_name(1)}.*checksum"):
        open_shards(tmp_path)
    assert ShardWriter(tmp_path, dim=4, shard_rows=4).done() == {0, 2}
    path.unlink()
    with pytest.raises(ShardError, match="missing"):
        open_shards(tmp_path, verify=False)


def test_wrong_lengths_and_layouts_are_refused(tmp_path):
    data = _data()
    writer = ShardWriter(tmp_path, dim=4, shard_rows=4)
    with pytest.raises(ShardError, match="expected"):
        writer.write(0, data[:5])  # more than shard_rows
    with pytest.raises(ShardError, match="non-finite"):
        writer.write(0, np.full((4, 4), np.nan))
    writer.write(0, data[:4])
    writer.write(1, data[4:6])  # short shard in the middle
    writer.write(2, data[8:])
    with pytest.raises(ShardError, match="has 2 rows, expected 4"):
        writer.close(10)
    with pytest.raises(ShardError, match="layout"):
        ShardWriter(tmp_path, dim=8, shard_rows=4)
    with pytest.raises(ShardError, match="dtype"):
        ShardWriter(tmp_path / "x", dim=4, dtype="int8")
    manifest = json.loads((tmp_path / "layout.json").read_text())
    assert manifest == {"dim": 4, "dtype": "float32", "shard_rows": 4}
