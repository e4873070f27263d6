"""Model folders the kit builds once into its cache and keeps intact (distilled, exported models).

:func:`built_folder` returns a cache folder after making sure it holds an intact build:

- absent: it is built into ``<folder>.tmp<pid>`` and renamed, so an interrupted build leaves
  nothing under the final name (a concurrent builder that finished first wins the race);
- present with a manifest (``<folder>.sha256``, the SHA-256 of each file, kept outside the folder
  so a fingerprint of the folder does not change): kept when the files match it;
- present without a manifest (an older kit's): adopted, and given a manifest, if ``works`` says
  it loads and embeds;
- anything else is damaged: one warning naming the folder, then it is rebuilt.

Example:
    >>> built_folder(cache_dir("models") / "m", build=save_model, works=loads, what="model")
    ... # doctest: +SKIP
    PosixPath('/root/.cache/hardneg-kit/models/m')
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from hardneg_kit.cache import atomic_path, file_sha256

logger = logging.getLogger(__name__)


def built_folder(
    target: Path, build: Callable[[Path], None], works: Callable[[Path], bool], what: str
) -> Path:
    """Return ``target`` holding an intact build, building or rebuilding it when needed.

    Args:
        target: the folder in the cache (its name should carry the key of what it is built from).
        build: writes the whole build into the (empty, existing) folder it is given.
        works: whether a folder without a manifest loads and embeds sensibly.
        what: words for the warning, e.g. ``"distilled static model"``.

    Example:
        >>> built_folder(folder, build=export, works=loads, what="ONNX export")  # doctest: +SKIP
    """
    if target.exists():
        intact = manifest_matches(target)
        if intact is None and works(target):
            write_manifest(target)  # an older kit's folder that still works: adopt it
            return target
        if intact:
            return target
        logger.warning(
            "The %s in %s is damaged (%s); rebuilding it.",
            what,
            target,
            "files differ from its manifest" if intact is False else "it does not load",
        )
        discard(target)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        if not target.exists():  # else another process won the race: keep its build
            tmp.rename(target)
            write_manifest(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def manifest_path(folder: Path) -> Path:
    """``<folder>.sha256`` beside the folder."""
    return folder.with_name(folder.name + ".sha256")


def _folder_sums(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_manifest(folder: Path) -> None:
    """Write the manifest in ``sha256sum`` format, paths relative to the folder's parent."""
    lines = [f"{h}  {folder.name}/{rel}\n" for rel, h in _folder_sums(folder).items()]
    with atomic_path(manifest_path(folder)) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")


def manifest_matches(folder: Path) -> bool | None:
    """``None`` without a manifest; else whether the folder holds exactly the listed files."""
    try:
        text = manifest_path(folder).read_text(encoding="utf-8")
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


def discard(folder: Path) -> None:
    """Move a damaged folder aside (readers never see it half-deleted), then delete it."""
    aside = folder.with_name(folder.name + f".damaged{os.getpid()}")
    shutil.rmtree(aside, ignore_errors=True)
    try:
        folder.rename(aside)
    except FileNotFoundError:  # another process discarded it first
        return
    shutil.rmtree(aside, ignore_errors=True)
    manifest_path(folder).unlink(missing_ok=True)
