"""The ``static-minilm`` model: distilled once from the packaged all-MiniLM-L6-v2, kept intact.

:func:`distilled_static_minilm` distils a model2vec static model on first use (about 30 s) into
the cache, keyed by the source model's fingerprint and ``pca_dims``, writing to a temporary
folder first and renaming it. A manifest of the folder's SHA-256 sums sits beside it
(``<folder>.sha256``); a folder that no longer matches it is rebuilt with one warning naming the
folder, and an older kit's folder without a manifest is adopted if it loads and embeds.

Example:
    >>> distilled_static_minilm().name  # doctest: +SKIP
    'static-minilm-97a0aa5084f67380'
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np

from hardneg_kit.cache import atomic_path, cache_dir, file_sha256
from hardneg_kit.models.weights import fingerprint_paths, minilm_path

logger = logging.getLogger(__name__)


def distilled_static_minilm(pca_dims: int = 256) -> Path:
    """Distil (once) a model2vec static model from the packaged all-MiniLM-L6-v2; return its folder.

    The folder lives in the cache, keyed by the source model's fingerprint and ``pca_dims``; it is
    written to a temporary folder first and renamed, so an interrupted distillation leaves nothing.
    A manifest of its files' SHA-256 sits beside it (``<folder>.sha256``, outside the folder so
    the model's fingerprint does not change). A folder that no longer matches its manifest, or
    one without a manifest (an older kit's) that does not load and embed, is rebuilt with one
    warning naming it; one that does is given a manifest.

    >>> distilled_static_minilm().name  # doctest: +SKIP
    'static-minilm-97a0aa5084f67380'
    """
    source = minilm_path()
    key = fingerprint_paths(source, extra=f"distill:{pca_dims}")
    target = cache_dir("models") / f"static-minilm-{key}"
    if target.exists():
        intact = _manifest_matches(target)
        if intact is None and _static_model_works(target):
            _write_manifest(target)  # an older kit's folder that still works: adopt it
            return target
        if intact:
            return target
        logger.warning(
            "The distilled static model in %s is damaged (%s); rebuilding it.",
            target,
            "files differ from its manifest" if intact is False else "it does not load",
        )
        _discard(target)
    from model2vec.distill import distill

    logger.info("Distilling static-minilm from %s (about 30 s, once)", source)
    model = distill(model_name=str(source), pca_dims=pca_dims, device="cpu")
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    if target.exists():  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)
        _write_manifest(target)
    return target


def _manifest_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".sha256")


def _folder_sums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _write_manifest(folder: Path) -> None:
    """``sha256sum`` format, paths relative to the cache's ``models`` folder."""
    lines = [f"{h}  {folder.name}/{rel}\n" for rel, h in _folder_sums(folder).items()]
    with atomic_path(_manifest_path(folder)) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")


def _manifest_matches(folder: Path) -> bool | None:
    """``None`` without a manifest; else whether the folder holds exactly the listed files."""
    try:
        text = _manifest_path(folder).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return False
    prefix = folder.name + "/"
    listed = {}
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if not name.startswith(prefix):
            return False
        listed[name[len(prefix) :]] = digest
    try:
        return bool(listed) and listed == _folder_sums(folder)
    except OSError:
        return False


def _static_model_works(folder: Path) -> bool:
    """Loads, and embeds two different texts as two different finite, non-zero vectors."""
    try:
        from model2vec import StaticModel

        emb = np.asarray(
            StaticModel.from_pretrained(str(folder)).encode(
                ["delete a storage bucket", "launch a virtual machine"]
            ),
            dtype=np.float32,
        )
    except Exception:  # any damage: unreadable JSON, truncated weights, a broken tokenizer
        return False
    norms = np.linalg.norm(emb, axis=1) if emb.ndim == 2 and len(emb) == 2 else np.zeros(1)
    return bool(np.isfinite(emb).all() and (norms > 0).all() and not np.allclose(emb[0], emb[1]))


def _discard(folder: Path) -> None:
    """Move a damaged folder aside (readers never see it half-deleted), then delete it."""
    aside = folder.with_name(folder.name + f".damaged{os.getpid()}")
    shutil.rmtree(aside, ignore_errors=True)
    try:
        folder.rename(aside)
    except FileNotFoundError:  # another process discarded it first
        return
    shutil.rmtree(aside, ignore_errors=True)
    _manifest_path(folder).unlink(missing_ok=True)
