"""Document ids that TREC files can hold: no whitespace, bounded length, unique.

Example:
    >>> safe_id("my docs/guide.md#install")
    'my%20docs/guide.md#install'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from hardneg_kit.corpus.reading import _WHITESPACE

#: longest document id :func:`corpus_from_folder` writes (see :func:`safe_id`)
MAX_ID_LENGTH = 200


def safe_id(raw: str, max_length: int = MAX_ID_LENGTH) -> str:
    """An id TREC files can hold: whitespace percent-encoded, at most ``max_length`` characters
    (a longer id keeps its start and ends in ``~`` + 16 hex digits of its SHA-256, so it stays
    stable and distinct).

    >>> safe_id("my docs/guide.md#install")
    'my%20docs/guide.md#install'
    >>> len(safe_id("a" * 500))
    200
    """
    s = _WHITESPACE.sub(lambda m: f"%{ord(m.group()):02X}", raw)
    if len(s) > max_length:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        s = f"{s[: max_length - 17]}~{digest}"
    return s


def _unique_ids(raw_ids: Sequence[str]) -> list[str]:
    """:func:`safe_id` of each id; a clash (rare: two ids equal once made safe) gets ``~2``,
    ``~3``... in order, so the result depends only on the input order."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in raw_ids:
        _id, k = safe_id(raw), 1
        while _id in seen:
            k += 1
            _id = f"{safe_id(raw, MAX_ID_LENGTH - len(str(k)) - 1)}~{k}"
        seen.add(_id)
        out.append(_id)
    return out
