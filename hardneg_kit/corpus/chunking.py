"""Cutting text into passages of at most ``max_words`` words.

Paragraphs are packed whole while they fit (:func:`_pack`, the one packing loop); a paragraph
that is too long alone is cut at sentence ends, or at word counts as a last resort.

Example:
    >>> chunk_text(["one two", "three four five"], max_words=3)
    ['one two', 'three four five']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SENTENCE = re.compile(r"(?<=[.!?:;])\s+")


def _pack(pieces: Sequence[str], max_words: int, sep: str) -> list[str]:
    """Join consecutive pieces with ``sep`` while a chunk stays within ``max_words`` words.

    A piece is never cut here: one longer than ``max_words`` is a chunk of its own.

    >>> _pack(["a b", "c", "d e f"], 3, " ")
    ['a b c', 'd e f']
    """
    chunks: list[str] = []
    cur: list[str] = []
    n = 0
    for piece in pieces:
        k = len(piece.split())
        if cur and n + k > max_words:
            chunks.append(sep.join(cur))
            cur, n = [], 0
        cur.append(piece)
        n += k
    if cur:
        chunks.append(sep.join(cur))
    return chunks


def _split_long(paragraph: str, max_words: int) -> list[str]:
    """A paragraph over ``max_words`` cut at sentence ends, or at word counts as a last resort."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(paragraph):
        words = sentence.split()
        for i in range(0, len(words), max_words):
            pieces.append(" ".join(words[i : i + max_words]))
    return _pack(pieces, max_words, " ")


def chunk_text(paragraphs: Sequence[str], max_words: int = 200) -> list[str]:
    """Pack paragraphs into chunks of at most ``max_words`` words, cutting between paragraphs.

    >>> chunk_text(["one two", "three four five"], max_words=3)
    ['one two', 'three four five']
    """
    blocks: list[str] = []
    for p in paragraphs:
        blocks.extend([p] if len(p.split()) <= max_words else _split_long(p, max_words))
    return _pack(blocks, max_words, "\n\n")
