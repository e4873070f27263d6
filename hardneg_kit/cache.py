"""On-disk cache for expensive steps (embeddings, distilled models), written atomically.

Entries are keyed by content (model fingerprint + text hash), so a changed input is never served
stale. The root is ``$HARDNEG_CACHE`` or ``~/.cache/hardneg-kit``.

Integrity: :func:`write_checksum` stores a SHA-256 next to a cached file (``<file>.sha256``, in
``sha256sum`` format, so ``sha256sum -c`` checks it too) and :func:`verify_checksum` compares it;
a file that is well formed but damaged or modified (zeroed, reordered) is caught this way, and
its owner recomputes it (see :mod:`hardneg_kit.embeddings`, :mod:`hardneg_kit.models`).

An unusable cache root (a read-only folder, a path that is a file) is an error, not a silent
uncached run: the commands would otherwise recompute every embedding, the distilled model and
every trained re-ranker on each start without saying why. :func:`cache_dir` raises
:class:`CacheError` with one line naming the path and what to do (point ``$HARDNEG_CACHE`` at a
writable folder), before the step that needs the cache does any work.

Files written through :func:`atomic_path` get the permissions of a plain ``open()``
(``0666`` less the umask, e.g. ``0644``), not the ``0600`` of a temporary file.

Example:
    >>> from hardneg_kit.cache import content_key
    >>> content_key("minilm-l6", ["a passage"]) == content_key("minilm-l6", ["a passage"])
    True
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hardneg_kit.errors import CacheError

ENV_VAR = "HARDNEG_CACHE"



def cache_root() -> Path:
    """``$HARDNEG_CACHE`` or ``~/.cache/hardneg-kit`` (not created)."""
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "hardneg-kit")


def cache_dir(*parts: str) -> Path:
    """Return (and create) a writable folder under the cache root.

    Raises:
        CacheError: the folder cannot be created or written (read-only, or a file in the way).

    >>> cache_dir("embeddings").is_dir()  # doctest: +SKIP
    True
    """
    root = cache_root()
    path = root.joinpath(*parts)
    where = f"$HARDNEG_CACHE={root}" if os.environ.get(ENV_VAR) else f"the cache folder {root}"
    advice = "point $HARDNEG_CACHE at a writable folder, e.g. export HARDNEG_CACHE=/tmp/hardneg"
    if root.exists() and not root.is_dir():
        raise CacheError(f"Cannot use {where}: it is a file, not a folder; {advice}.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError / NotADirectoryError: a file is in the way
        reason = exc.strerror or type(exc).__name__
        msg = f"Cannot use {where}: cannot create {path} ({reason}); {advice}."
        raise CacheError(msg) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CacheError(f"Cannot use {where}: {path} is not writable; {advice}.")
    return path


def content_key(*items: str | Iterable[str]) -> str:
    """SHA-256 over strings and iterables of strings, separated unambiguously."""
    h = hashlib.sha256()
    for item in items:
        for s in [item] if isinstance(item, str) else item:
            b = s.encode("utf-8")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        h.update(b"\x00|")
    return h.hexdigest()


def _umask() -> int:
    """The process umask (read without changing it where ``/proc`` allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # the portable way: set and restore at once
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder; rename it onto ``path`` only on success.

    An interrupted writer leaves no half-written file under the final name. The file gets the
    permissions ``open()`` would give it (``mkstemp`` alone makes it ``0600``: unreadable by a
    colleague or another container).

    >>> with atomic_path("/tmp/example.npy") as tmp:  # doctest: +SKIP
    ...     np.save(tmp, array)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        if os.path.isfile(tmp):  # a writer may have replaced it with a folder
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def checksum_path(path: str | Path) -> Path:
    """Where the checksum of ``path`` is kept: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def write_checksum(path: str | Path) -> Path:
    """Store the SHA-256 of ``path`` next to it (atomically); write it after the file itself.

    >>> write_checksum(cache_dir("embeddings") / "entry.npy")  # doctest: +SKIP
    """
    path = Path(path)
    with atomic_path(checksum_path(path)) as tmp:
        tmp.write_text(f"{file_sha256(path)}  {path.name}\n", encoding="ascii")
    return checksum_path(path)


def verify_checksum(path: str | Path) -> bool | None:
    """``True`` if ``path`` matches its stored checksum, ``False`` if not, ``None`` if none is
    stored (an entry written by an older kit, or one interrupted before its checksum).

    >>> verify_checksum(cache_dir("embeddings") / "entry.npy")  # doctest: +SKIP
    True
    """
    try:
        stored = checksum_path(path).read_text(encoding="ascii").split()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        return False
    try:
        return bool(stored) and stored[0] == file_sha256(path)
    except OSError:
        return False
