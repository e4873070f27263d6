"""Embeddings of queries and passages, cached on disk per encoder and per text.

An entry is keyed by the encoder's ``fingerprint`` and the content of all texts, so a changed
model or corpus is never served stale. Each entry also stores a 16-byte hash per text; on a miss,
rows of earlier entries whose text is unchanged are reused, so editing one passage re-encodes
only that passage. Files are written atomically; an unreadable or malformed entry is logged as a
warning and recomputed.

Integrity: each file has a SHA-256 beside it (:func:`hardneg_kit.cache.write_checksum`), written
after the file. An entry that no longer matches it (zeroed or reordered data under a valid header)
is recomputed with one warning naming the file, and never lends rows to other entries. An entry
without a checksum (written before checksums existed, or interrupted just before its checksum)
is checked against a re-encoded sample of ``SPOT_CHECK_ROWS`` of its texts: if they agree it is
kept and given a checksum (users' caches keep working), if not it is recomputed with a warning.
Such entries lend no rows until they have a checksum.

Layout: ``cache_dir("embeddings", <name>, <fingerprint>, "passages"|"queries")`` holds
``<key>.npy`` (float32, ``(n, dim)``), ``<key>.ids.npy`` (``S16`` text hashes) and a
``.sha256`` file beside each. Embeddings computed elsewhere (on a Ray cluster:
:mod:`hardneg_kit.ray_engine`) enter through :func:`store_embeddings` and, for large corpora, as
the closed shard folder :func:`sharded_entry`; every reader after them finds a cache hit.

Large corpora (:func:`embed_passages_sharded`, used out of core): the entry is a folder of
shards (:mod:`hardneg_kit.shards`), ``<...>/passages-shards/<key>/``, written shard by shard as
they are encoded: a crash loses one shard, and the next call encodes only the shards not yet
complete and verified. Rows of a complete, verified single-file entry for the same texts are
copied instead of encoded. A closed folder is opened memory-mapped (checksums verified), never
loaded whole.

Example:
    >>> from hardneg_kit.embeddings import embed_passages
    >>> encoder = load_encoder("minilm-l6")  # doctest: +SKIP
    >>> emb = embed_passages(encoder, ["aws s3 rb deletes a bucket"])  # doctest: +SKIP
    >>> emb.shape, emb.dtype  # doctest: +SKIP
    ((1, 384), dtype('float32'))
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from hardneg_kit.cache import (
    atomic_path,
    cache_dir,
    content_key,
    verify_checksum,
    write_checksum,
)

logger = logging.getLogger(__name__)

#: earlier entries scanned for reusable rows on a cache miss (newest first)
MAX_REUSE_ENTRIES = 8
#: texts re-encoded to vet a cache entry that has no checksum yet
SPOT_CHECK_ROWS = 8
#: cosine a re-encoded text must reach with its cached row (encoders differ by ~1e-6 across batches)
SPOT_CHECK_COSINE = 0.99


class TextEncoder(Protocol):
    """What the cache needs from an encoder (see :class:`hardneg_kit.models.Encoder`)."""

    name: str
    fingerprint: str

    def encode_queries(
        self, texts: list[str], batch_size: int = 32, show_progress_bar: bool | None = None
    ) -> np.ndarray: ...

    def encode_passages(
        self, texts: list[str], batch_size: int = 32, show_progress_bar: bool | None = None
    ) -> np.ndarray: ...


def embed_passages(
    encoder: TextEncoder,
    texts: list[str],
    batch_size: int = 32,
    cache: bool = True,
    show_progress_bar: bool | None = None,
) -> np.ndarray:
    """Embed passages with ``encoder.encode_passages``, through the on-disk cache.

    >>> embed_passages(encoder, ["first passage", "second passage"]).shape  # doctest: +SKIP
    (2, 384)
    """
    return _embed(encoder, texts, "passages", batch_size, cache, show_progress_bar)


def embed_queries(
    encoder: TextEncoder,
    texts: list[str],
    batch_size: int = 32,
    cache: bool = True,
    show_progress_bar: bool | None = None,
) -> np.ndarray:
    """Embed queries with ``encoder.encode_queries``, through the on-disk cache.

    >>> embed_queries(encoder, ["how do I delete a bucket"]).shape  # doctest: +SKIP
    (1, 384)
    """
    return _embed(encoder, texts, "queries", batch_size, cache, show_progress_bar)


#: rows per shard of :func:`embed_passages_sharded`
SHARD_ROWS = 65_536


def embed_passages_sharded(
    encoder: TextEncoder,
    texts: list[str],
    batch_size: int = 32,
    shard_rows: int = SHARD_ROWS,
    dtype: str = "float32",
    show_progress_bar: bool | None = None,
):
    """Passage embeddings as memory-mapped shards in the cache, written as encoded; resumable.

    Returns a :class:`~hardneg_kit.shards.ShardedArray` (module docstring: Large corpora).

    >>> embed_passages_sharded(encoder, passages).shape  # doctest: +SKIP
    (1000000, 384)
    """
    from hardneg_kit.shards import ShardError, ShardWriter, open_shards, read_layout

    folder = sharded_entry(encoder, texts, shard_rows, dtype)
    try:
        return open_shards(folder)
    except ShardError:
        pass  # not written yet, unfinished or damaged: (re)write what is missing
    starts = range(0, len(texts), shard_rows)
    whole = _whole_entry(encoder, texts)  # a complete single-file entry: copied, not encoded
    meta = {"encoder": encoder.name, "fingerprint": encoder.fingerprint, "kind": "passages"}
    writer, done = None, set()
    layout = read_layout(folder)
    if layout is not None:
        writer = ShardWriter(folder, layout["dim"], dtype, shard_rows, meta)
        done = writer.done()
    if whole is None:
        _hint_faster_backend(encoder, sum(min(shard_rows, len(texts) - start)
                                          for i, start in enumerate(starts) if i not in done))
    for i, start in enumerate(starts):
        if i in done:
            continue
        emb = (
            np.asarray(whole[start : start + shard_rows])
            if whole is not None
            else _encode(encoder, texts[start : start + shard_rows], "passages", batch_size,
                         show_progress_bar)
        )
        writer = writer or ShardWriter(folder, emb.shape[1], dtype, shard_rows, meta)
        writer.write(i, emb)
        logger.info("Embeddings of %s: shard %d of %d written", encoder.name, i + 1, len(starts))
    if writer is None:
        raise ShardError(f"No passages to embed into {folder}.")
    return writer.close(len(texts))


def sharded_entry(
    encoder: TextEncoder, texts: list[str], shard_rows: int = SHARD_ROWS, dtype: str = "float32"
) -> Path:
    """The shard folder :func:`embed_passages_sharded` reads and writes for these passages.

    A writer elsewhere (Ray workers: :mod:`hardneg_kit.ray_engine`) that fills and closes this
    folder with the same layout makes the next call open it without encoding.

    >>> sharded_entry(encoder, passages).parent.name  # doctest: +SKIP
    'passages-shards'
    """
    key = content_key(encoder.fingerprint, "passages", dtype, str(shard_rows), texts)[:40]
    return embeddings_dir(encoder, "passages").parent / "passages-shards" / key


def _whole_entry(encoder: TextEncoder, texts: list[str]) -> np.ndarray | None:
    """The memory-mapped entry of :func:`embed_passages` for these texts, if complete and
    verified (its checksum matches); ``None`` otherwise."""
    path = cache_entry(encoder, texts, "passages")
    if not path.exists() or not verify_checksum(path):
        return None
    return _load_valid(path, len(texts), mmap=True)


def embeddings_dir(encoder: TextEncoder, kind: str) -> Path:
    """The cache folder of one encoder and kind (``"passages"`` or ``"queries"``)."""
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder.name).strip("_") or "encoder"
    return cache_dir("embeddings", safe_name, encoder.fingerprint, kind)


def cache_entry(encoder: TextEncoder, texts: list[str], kind: str) -> Path:
    """The ``.npy`` of the cache entry that ``embed_passages``/``embed_queries`` read for texts.

    It may not exist yet; :func:`store_embeddings` writes it.

    >>> cache_entry(encoder, ["a passage"], "passages").name  # doctest: +SKIP
    '3f1c...e9.npy'
    """
    key = content_key(encoder.fingerprint, kind, texts)[:40]
    return embeddings_dir(encoder, kind) / f"{key}.npy"


def store_embeddings(
    encoder: TextEncoder, texts: list[str], kind: str, emb: np.ndarray
) -> Path:
    """Write ``emb`` as the cache entry of ``texts`` (computed elsewhere, e.g. on a Ray cluster).

    The next :func:`embed_passages` / :func:`embed_queries` call with the same encoder and texts
    is a cache hit. Data first, checksums last, each file atomically (module docstring).

    Raises:
        ValueError: ``emb`` is not ``(len(texts), dim)``.

    >>> store_embeddings(encoder, texts, "passages", emb)  # doctest: +SKIP
    """
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise ValueError(f"Embeddings of shape {emb.shape} do not fit {len(texts)} texts.")
    texts = list(texts)
    return _write_entry(cache_entry(encoder, texts, kind), emb, text_hashes(texts))


def _write_entry(path: Path, emb: np.ndarray, hashes: np.ndarray) -> Path:
    """``<key>.npy`` and ``<key>.ids.npy``, each atomically, then their checksums."""
    ids_path = path.with_name(path.name[: -len(".npy")] + ".ids.npy")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, emb)
    with atomic_path(ids_path) as tmp, open(tmp, "wb") as f:
        np.save(f, hashes)
    write_checksum(path)  # after the data: a checksum always describes a complete file
    write_checksum(ids_path)
    return path


def text_hashes(texts: list[str]) -> np.ndarray:
    """One 16-byte BLAKE2b hash per text, as an ``S16`` array."""
    return np.array(
        [hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts], dtype="S16"
    )


# --------------------------------------------------------------------------- internals

_hinted: set[str] = set()


def _hint_faster_backend(encoder: TextEncoder, passages: int) -> None:
    """Log once per encoder where ``@openvino`` would encode these passages much faster."""
    from hardneg_kit.models.backends import faster_backend_hint

    hint = faster_backend_hint(encoder.name, passages)
    if hint and encoder.name not in _hinted:
        _hinted.add(encoder.name)
        logger.info(hint)


def _encode(
    encoder: TextEncoder, texts: list[str], kind: str, batch_size: int, progress: bool | None
) -> np.ndarray:
    fn = encoder.encode_passages if kind == "passages" else encoder.encode_queries
    emb = np.asarray(fn(texts, batch_size=batch_size, show_progress_bar=progress), np.float32)
    if emb.ndim != 2 or emb.shape[0] != len(texts):
        raise ValueError(
            f"Encoder {encoder.name!r} returned shape {emb.shape} for {len(texts)} texts."
        )
    return emb


def _load_valid(path: Path, n: int, mmap: bool = False) -> np.ndarray | None:
    """Load a cached array; ``None`` (with a warning) if it is unreadable or malformed."""
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        logger.warning("Embedding cache file %s is unreadable (%s); recomputing.", path, exc)
        return None
    bad = arr.ndim != 2 or arr.shape[0] != n or arr.dtype != np.float32
    if not bad and not mmap:
        bad = not bool(np.isfinite(arr).all())
    if bad:
        logger.warning(
            "Embedding cache file %s is malformed (shape %s, dtype %s, expected %d rows of "
            "finite float32); recomputing.",
            path,
            arr.shape,
            arr.dtype,
            n,
        )
        return None
    return arr


def _intact(emb_path: Path, ids_path: Path) -> bool:
    """Both files of an entry match their checksums (a damaged one is named in a warning)."""
    for p in (emb_path, ids_path):
        ok = verify_checksum(p)
        if ok is False:
            logger.warning(
                "Embedding cache file %s does not match its checksum (damaged or modified); "
                "its rows are not reused.",
                p,
            )
        if not ok:
            return False
    return True


def _trusted(
    emb: np.ndarray, path: Path, encoder: TextEncoder, texts: list[str], kind: str, batch_size: int
) -> bool:
    """Whether a well-formed cache hit may be used (see the module docstring: Integrity)."""
    ok = verify_checksum(path)
    if ok:
        return True
    if ok is False:
        logger.warning(
            "Embedding cache file %s does not match its checksum (damaged or modified); "
            "recomputing.",
            path,
        )
        return False
    picks = np.unique(np.linspace(0, len(texts) - 1, min(SPOT_CHECK_ROWS, len(texts))).astype(int))
    fresh = _encode(encoder, [texts[i] for i in picks], kind, batch_size, False)
    cached = np.asarray(emb[picks], dtype=np.float32)
    norms = np.linalg.norm(fresh, axis=1) * np.linalg.norm(cached, axis=1)
    cosine = (fresh * cached).sum(axis=1) / np.maximum(norms, 1e-12)
    if not bool((cosine >= SPOT_CHECK_COSINE).all()):
        logger.warning(
            "Embedding cache file %s (no checksum) disagrees with %d re-encoded texts "
            "(lowest cosine %.3f); recomputing.",
            path,
            len(picks),
            float(cosine.min()),
        )
        return False
    write_checksum(path)  # adopted: from now on a plain checksum comparison
    ids_path = path.with_name(path.name[: -len(".npy")] + ".ids.npy")
    if verify_checksum(ids_path) is None and _ids_match(ids_path, texts):
        write_checksum(ids_path)  # the text hashes are checked whole: they are cheap
    return True


def _ids_match(ids_path: Path, texts: list[str]) -> bool:
    try:
        ids = np.load(ids_path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    return ids.dtype == np.dtype("S16") and np.array_equal(ids, text_hashes(texts))


def _reusable_rows(folder: Path, exclude: Path) -> dict[bytes, tuple[np.ndarray, int]]:
    """Map text hash -> (embeddings of an earlier entry, row) over the newest valid entries."""
    found: dict[bytes, tuple[np.ndarray, int]] = {}
    id_files = sorted(folder.glob("*.ids.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
    for ids_path in id_files[:MAX_REUSE_ENTRIES]:
        emb_path = ids_path.with_name(ids_path.name[: -len(".ids.npy")] + ".npy")
        if emb_path == exclude or not emb_path.exists():
            continue
        try:
            ids = np.load(ids_path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            continue
        if ids.ndim != 1 or ids.dtype != np.dtype("S16"):
            continue
        if not _intact(emb_path, ids_path):
            continue
        emb = _load_valid(emb_path, len(ids), mmap=True)
        if emb is None:
            continue
        for row, h in enumerate(ids.tolist()):
            found.setdefault(h, (emb, row))
    return found


def _embed(
    encoder: TextEncoder,
    texts: list[str],
    kind: str,
    batch_size: int,
    cache: bool,
    progress: bool | None,
) -> np.ndarray:
    texts = list(texts)
    if not texts:
        return _encode(encoder, texts, kind, batch_size, progress)
    if not cache:
        return _encode(encoder, texts, kind, batch_size, progress)

    path = cache_entry(encoder, texts, kind)
    folder = path.parent
    if path.exists():
        emb = _load_valid(path, len(texts))
        if emb is not None and _trusted(emb, path, encoder, texts, kind, batch_size):
            logger.info("Embeddings of %d %s by %s: cache hit", len(texts), kind, encoder.name)
            return emb

    hashes = text_hashes(texts)
    reuse = _reusable_rows(folder, exclude=path)
    missing: dict[bytes, int] = {}  # hash -> index of its first text among the missing
    rows: list[tuple[int, np.ndarray]] = []
    for i, h in enumerate(hashes.tolist()):
        if h in reuse:
            src, row = reuse[h]
            rows.append((i, np.asarray(src[row])))
        else:
            missing.setdefault(h, i)
    logger.info(
        "Embeddings of %d %s by %s: %d reused, %d unique texts to encode",
        len(texts),
        kind,
        encoder.name,
        len(rows),
        len(missing),
    )
    if kind == "passages":
        _hint_faster_backend(encoder, len(missing))
    new = _encode(encoder, [texts[i] for i in missing.values()], kind, batch_size, progress)
    dim = new.shape[1] if len(missing) else rows[0][1].shape[0]
    emb = np.empty((len(texts), dim), dtype=np.float32)
    for i, vec in rows:
        emb[i] = vec
    new_row = {h: j for j, h in enumerate(missing)}
    for i, h in enumerate(hashes.tolist()):
        if h in new_row:
            emb[i] = new[new_row[h]]

    _write_entry(path, emb, hashes)  # the key and hashes computed above, not again
    return emb
