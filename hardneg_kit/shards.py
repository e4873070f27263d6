"""Embeddings too large for memory: memory-mapped shards written as they are computed.

A sharded array is a folder of ``.npy`` files of ``shard_rows`` rows each (the last may be
shorter), ``float16`` or ``float32``, plus ``manifest.json``. Shard ``i`` holds rows
``[i * shard_rows, (i + 1) * shard_rows)``.

Writing (:class:`ShardWriter`): shards may be written in any order and by any process; each is
written atomically (:func:`hardneg_kit.cache.atomic_path`) and then given a SHA-256 beside it
(:func:`hardneg_kit.cache.write_checksum`), so a crash loses at most the shard being written.
:meth:`ShardWriter.done` lists the shards that are complete and verified, which is what a
restarted run skips. :meth:`ShardWriter.close` checks that every shard is present, then writes
``manifest.json`` last (atomically): a folder without a manifest is an unfinished run.
``layout.json``, written when the first writer opens the folder, pins ``dim``, ``dtype`` and
``shard_rows``: a writer with another layout is refused instead of mixing shards.

Reading (:func:`open_shards` -> :class:`ShardedArray`): read-only memory maps; ``blocks()``
streams rows in order, ``take()`` gathers rows. Rows come back in the stored dtype; cast
(``np.asarray(block, np.float32)``) where float32 arithmetic is needed. Opening checks every
shard against the manifest (presence, shape, dtype and, unless ``verify=False``, its SHA-256)
and raises :class:`ShardError` naming the folder and the shard.

Files get the permissions of a plain ``open()`` (the kit applies the umask).

Example:
    >>> writer = ShardWriter("/tmp/emb", 384, "float16", shard_rows=1000)  # doctest: +SKIP
    >>> for i in sorted(set(range(3)) - writer.done()):  # doctest: +SKIP
    ...     writer.write(i, encode(texts[i * 1000:(i + 1) * 1000]))
    >>> emb = writer.close(total_rows=2500)  # doctest: +SKIP
    >>> for start, block in emb.blocks(): ...  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import mmap
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hardneg_kit.cache import atomic_path, file_sha256, verify_checksum, write_checksum
from hardneg_kit.errors import HardnegError

FORMAT = "hardneg-kit-shards"
VERSION = 1
DTYPES = ("float16", "float32")
MANIFEST = "manifest.json"
LAYOUT = "layout.json"
_SHARD = re.compile(r"^shard-(\d{6})\.npy$")


class ShardError(HardnegError):
    """A shard folder that is incomplete, damaged or written with another layout."""


def shard_name(index: int) -> str:
    """File name of shard ``index``: ``shard-000042.npy``."""
    return f"shard-{index:06d}.npy"


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an ``.npy`` header, without reading the data."""
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    return arr.shape, arr.dtype


def read_layout(folder: str | Path) -> dict | None:
    """The ``layout.json`` of a shard folder (``dim``, ``dtype``, ``shard_rows``), or ``None``
    when no writer has opened the folder yet."""
    path = Path(folder) / LAYOUT
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


class ShardWriter:
    """Write a sharded array shard by shard; resumable (module docstring).

    Args:
        folder: where the shards go (created).
        dim: columns of every row.
        dtype: ``"float16"`` (half the disk and page cache) or ``"float32"``.
        shard_rows: rows per shard (the last shard may have fewer).
        meta: JSON-serializable facts stored in the manifest (model, corpus key, ...).

    Example:
        >>> w = ShardWriter(tmp_path, dim=4, shard_rows=2)  # doctest: +SKIP
        >>> w.write(1, np.ones((1, 4))); w.write(0, np.zeros((2, 4)))  # doctest: +SKIP
        >>> w.close(total_rows=3).shape  # doctest: +SKIP
        (3, 4)
    """

    def __init__(
        self,
        folder: str | Path,
        dim: int,
        dtype: str = "float32",
        shard_rows: int = 65536,
        meta: dict | None = None,
    ) -> None:
        if str(dtype) not in DTYPES:
            raise ShardError(f"Shard dtype must be one of {', '.join(DTYPES)}, got {dtype!r}.")
        if dim < 1 or shard_rows < 1:
            raise ShardError(f"Shards need dim >= 1 and shard_rows >= 1 (got {dim}, {shard_rows}).")
        self.folder = Path(folder)
        self.dim, self.dtype, self.shard_rows = int(dim), np.dtype(dtype), int(shard_rows)
        self.meta = dict(meta or {})
        json.dumps(self.meta)  # refuse a non-serializable meta now, not at close()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._check_layout()

    def _layout(self) -> dict:
        return {"dim": self.dim, "dtype": self.dtype.name, "shard_rows": self.shard_rows}

    def _check_layout(self) -> None:
        found = read_layout(self.folder)
        if found is None:
            _write_json(self.folder / LAYOUT, self._layout())
            return
        if found != self._layout():
            raise ShardError(
                f"Shard folder {self.folder} was started with layout {found}, not "
                f"{self._layout()}; use the same settings or another folder."
            )

    def _shard_ok(self, path: Path) -> bool:
        """A shard is done when its checksum matches and its header fits the layout."""
        if not verify_checksum(path):
            return False
        try:
            shape, dtype = _header(path)
        except (OSError, ValueError, EOFError):
            return False
        return dtype == self.dtype and len(shape) == 2 and shape[1] == self.dim and (
            1 <= shape[0] <= self.shard_rows
        )

    def done(self) -> set[int]:
        """Indices of shards already complete and verified (skip them when resuming).

        >>> sorted(ShardWriter(folder, dim=384).done())  # doctest: +SKIP
        [0, 1, 3]
        """
        found = set()
        for path in self.folder.glob("shard-*.npy"):
            m = _SHARD.match(path.name)
            if m and self._shard_ok(path):
                found.add(int(m.group(1)))
        return found

    def write(self, index: int, array: np.ndarray) -> None:
        """Write shard ``index`` atomically, then its checksum (safe in any order/process).

        Raises:
            ShardError: the array is not ``(1..shard_rows, dim)`` or not finite.
        """
        arr = np.asarray(array)
        if index < 0 or arr.ndim != 2 or arr.shape[1] != self.dim or not (
            1 <= arr.shape[0] <= self.shard_rows
        ):
            raise ShardError(
                f"Shard {index} for {self.folder}: expected (1..{self.shard_rows}, {self.dim}) "
                f"rows at index >= 0, got shape {arr.shape}."
            )
        arr = np.ascontiguousarray(arr, dtype=self.dtype)
        if not bool(np.isfinite(arr).all()):  # float16 overflow shows up here too
            raise ShardError(f"Shard {index} for {self.folder} has non-finite values.")
        path = self.folder / shard_name(index)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, arr)
        write_checksum(path)  # after the data: a checksum always describes a complete shard

    def close(self, total_rows: int) -> ShardedArray:
        """Check every shard of ``total_rows`` rows is present, write the manifest, open it.

        Raises:
            ShardError: a shard is missing, unverified, of the wrong length, or extra.
        """
        n = math.ceil(total_rows / self.shard_rows)
        done = self.done()
        missing = [i for i in range(n) if i not in done]
        extra = sorted(i for i in done if i >= n)
        if missing or extra:
            raise ShardError(
                f"Shard folder {self.folder} cannot close at {total_rows} rows: "
                f"missing or unverified shards {missing[:10]}, extra shards {extra[:10]}."
            )
        shards = []
        for i in range(n):
            path = self.folder / shard_name(i)
            rows = _header(path)[0][0]
            want = min(self.shard_rows, total_rows - i * self.shard_rows)
            if rows != want:
                raise ShardError(
                    f"Shard {path} has {rows} rows, expected {want} for {total_rows} rows."
                )
            sha = (path.parent / (path.name + ".sha256")).read_text(encoding="ascii").split()[0]
            shards.append({"file": path.name, "rows": int(rows), "sha256": sha})
        manifest = {"format": FORMAT, "version": VERSION, "rows": int(total_rows),
                    **self._layout(), "shards": shards, "meta": self.meta}
        _write_json(self.folder / MANIFEST, manifest)
        return open_shards(self.folder, verify=False)  # just verified by done()


class ShardedArray:
    """A read-only ``(rows, dim)`` array over memory-mapped shards (module docstring).

    Example:
        >>> emb = open_shards(folder)  # doctest: +SKIP
        >>> emb.shape, emb.dtype, len(emb)  # doctest: +SKIP
        ((1000000, 384), dtype('float16'), 1000000)
        >>> emb.take(np.array([5, 999_999])).shape  # doctest: +SKIP
        (2, 384)
    """

    def __init__(self, folder: Path, manifest: dict, parts: list[np.ndarray]) -> None:
        self.folder = folder
        self.shape = (int(manifest["rows"]), int(manifest["dim"]))
        self.dtype = np.dtype(manifest["dtype"])
        self.meta = manifest.get("meta", {})
        self.shard_rows = int(manifest["shard_rows"])
        self._parts = parts

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"ShardedArray({str(self.folder)!r}, shape={self.shape}, dtype={self.dtype})"

    def blocks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(start_row, block)`` in row order, ``rows`` rows each (default: one shard).

        Blocks within one shard are memory-map views (no copy); a block spanning shards is a
        copy.
        """
        step = int(rows or self.shard_rows)
        if step < 1:
            raise ShardError(f"blocks(rows=) must be >= 1, got {rows}.")
        for start in range(0, len(self), step):
            yield start, self.read(start, min(start + step, len(self)))

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)``: a view when they lie in one shard, else a copy."""
        first, last = start // self.shard_rows, (stop - 1) // self.shard_rows
        if first == last:
            base = first * self.shard_rows
            return self._parts[first][start - base : stop - base]
        pieces = []
        for s in range(first, last + 1):
            base = s * self.shard_rows
            pieces.append(self._parts[s][max(start - base, 0) : min(stop - base, self.shard_rows)])
        return np.concatenate(pieces)

    def release(self) -> None:
        """Drop the pages of every shard from this process's memory (``MADV_DONTNEED``).

        Pages of a memory map that were read count in the resident set until the kernel
        reclaims them; a pass over the whole array would show its full size as RSS. Data stay
        correct: a later read faults the pages back in from the page cache or the file.
        """
        for part in self._parts:
            mm = getattr(part, "_mmap", None)
            if mm is not None and hasattr(mm, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
                mm.madvise(mmap.MADV_DONTNEED)

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The given rows (any order, repeats allowed) as a new array of the stored dtype.

        Raises:
            IndexError: a row is outside ``[0, len)``.
        """
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"take(): rows must lie in [0, {len(self)}) for {self.folder}.")
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        shard, offset = np.divmod(rows, self.shard_rows)
        for s in np.unique(shard):
            mask = shard == s
            out[mask] = self._parts[int(s)][offset[mask]]
        return out


class MemoryRows:
    """The reading interface of :class:`ShardedArray` over an in-memory array.

    Lets code written for shards (``blocks``, ``take``, ``shape``) run on a small corpus too.

    >>> MemoryRows(np.zeros((5, 2))).take(np.array([4])).shape
    (1, 2)
    """

    def __init__(self, array: np.ndarray, shard_rows: int = 65536) -> None:
        self.array, self.shard_rows = array, shard_rows
        self.shape, self.dtype, self.meta = array.shape, array.dtype, {}

    def __len__(self) -> int:
        return self.shape[0]

    def blocks(self, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(start_row, block)`` views in row order."""
        step = int(rows or self.shard_rows)
        for start in range(0, len(self), step):
            yield start, self.array[start : start + step]

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.array[start:stop]

    def release(self) -> None:
        """Nothing to release: the array is in memory."""

    def take(self, rows: np.ndarray) -> np.ndarray:
        return self.array[np.asarray(rows, dtype=np.int64)]


class Float32Rows:
    """``rows_like[rows]`` -> float32 rows of a sharded array (code written for arrays).

    >>> Float32Rows(open_shards(folder))[[0, 7]].dtype  # doctest: +SKIP
    dtype('float32')
    """

    def __init__(self, source: ShardedArray | MemoryRows) -> None:
        self.source, self.shape = source, source.shape

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        return np.asarray(self.source.take(np.asarray(rows, dtype=np.int64)), dtype=np.float32)


def open_shards(folder: str | Path, verify: bool = True) -> ShardedArray:
    """Open a closed shard folder read-only (memory-mapped).

    Args:
        folder: a folder closed by :meth:`ShardWriter.close`.
        verify: also compare every shard's SHA-256 with the manifest (reads every byte once).

    Raises:
        ShardError: no manifest (the writer never closed), or a shard missing, of the wrong
            shape or dtype, or damaged; the message names the folder and the shard.

    >>> open_shards("/tmp/emb").shape  # doctest: +SKIP
    (2500, 384)
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ShardError(
            f"Shard folder {folder} is incomplete: no {MANIFEST} (the writer did not close; "
            "resume it and call close())."
        ) from None
    except (OSError, ValueError) as exc:
        raise ShardError(f"Shard folder {folder}: unreadable {MANIFEST} ({exc}).") from None
    if manifest.get("format") != FORMAT:
        raise ShardError(f"Shard folder {folder}: {MANIFEST} is not a {FORMAT} manifest.")
    parts = [_open_part(folder, manifest, entry, verify) for entry in manifest["shards"]]
    return ShardedArray(folder, manifest, parts)


def _open_part(folder: Path, manifest: dict, entry: dict, verify: bool) -> np.ndarray:
    path = folder / entry["file"]
    if not path.exists():
        raise ShardError(f"Shard folder {folder} is damaged: {entry['file']} is missing.")
    if verify and file_sha256(path) != entry["sha256"]:
        raise ShardError(
            f"Shard folder {folder} is damaged: {entry['file']} does not match its checksum; "
            "delete it and rewrite that shard."
        )
    try:
        part = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ShardError(f"Shard folder {folder}: {entry['file']} is unreadable ({exc}).") from None
    if part.shape != (entry["rows"], manifest["dim"]) or part.dtype != np.dtype(manifest["dtype"]):
        raise ShardError(
            f"Shard folder {folder} is damaged: {entry['file']} has shape {part.shape} "
            f"{part.dtype}, expected ({entry['rows']}, {manifest['dim']}) {manifest['dtype']}."
        )
    return part
