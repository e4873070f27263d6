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
from pathlib import Path

import numpy as np

from hardneg_kit.cache import cache_dir
from hardneg_kit.models.folders import built_folder
from hardneg_kit.models.weights import fingerprint_paths, minilm_path

logger = logging.getLogger(__name__)


def distilled_static_minilm(pca_dims: int = 256) -> Path:
    """Distil (once) a model2vec static model from the packaged all-MiniLM-L6-v2; return its folder.

    The folder lives in the cache, keyed by the source model's fingerprint and ``pca_dims``; it is
    written to a temporary folder first and renamed, so an interrupted distillation leaves nothing.
    A manifest of its files' SHA-256 sits beside it (``<folder>.sha256``, outside the folder so
    the model's fingerprint does not change). A folder that no longer matches its manifest, or
    one without a manifest (an older kit's) that does not load and embed, is rebuilt with one
    warning naming it; one that does is given a manifest (:func:`~.folders.built_folder`).

    >>> distilled_static_minilm().name  # doctest: +SKIP
    'static-minilm-97a0aa5084f67380'
    """
    source = minilm_path()
    key = fingerprint_paths(source, extra=f"distill:{pca_dims}")
    target = cache_dir("models") / f"static-minilm-{key}"

    def build(tmp: Path) -> None:
        from model2vec.distill import distill

        logger.info("Distilling static-minilm from %s (about 30 s, once)", source)
        distill(model_name=str(source), pca_dims=pca_dims, device="cpu").save_pretrained(str(tmp))

    return built_folder(target, build, _static_model_works, "distilled static model")


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
