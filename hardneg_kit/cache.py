"""On-disk cache for expensive steps (embeddings, distilled models), written atomically.

Entries are keyed by content (model fingerprint + text hash), so a changed input is never served
stale. The root is ``$HARDNEG_CACHE`` or ``~/.cache/hardneg-kit``.

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

ENV_VAR = "HARDNEG_CACHE"


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the cache root."""
    root = Path(os.environ.get(ENV_VAR) or Path.home() / ".cache" / "hardneg-kit")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
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


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the same folder; rename it onto ``path`` only on success.

    An interrupted writer leaves no half-written file under the final name.

    >>> with atomic_path("/tmp/example.npy") as tmp:  # doctest: +SKIP
    ...     np.save(tmp, array)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
