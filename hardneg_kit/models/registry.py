"""The model registry: one function turns a model spec into a ready encoder.

:func:`load_encoder` maps the packaged specs (:data:`~hardneg_kit.models.weights.PACKAGED`) to
their encoders, ``<packaged model>@<backend>`` to the same model on a faster runtime
(:mod:`~hardneg_kit.models.backends`), and anything else to a local sentence-transformers folder
or a Hugging Face id; an unknown or unloadable spec raises
:class:`~hardneg_kit.errors.ModelNotAvailable` saying what to do. Encoders are cached per
process.

Example:
    >>> load_encoder("minilm-l6").name  # doctest: +SKIP
    'minilm-l6'
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from hardneg_kit.errors import ModelNotAvailable
from hardneg_kit.models.backends import BACKENDS, load_backend_encoder, parse_backend_spec
from hardneg_kit.models.encoders import (
    Encoder,
    OnnxEncoder,
    SentenceTransformerEncoder,
    StaticEncoder,
)
from hardneg_kit.models.static import distilled_static_minilm
from hardneg_kit.models.weights import PACKAGED, minilm_path, onnx_minilm_l3_path


@lru_cache(maxsize=8)
def load_encoder(spec: str) -> Encoder:
    """Turn a model spec into a ready :class:`Encoder` (cached per process).

    Args:
        spec: ``minilm-l6``, ``paraphrase-minilm-l3``, ``static-minilm``, a packaged model on
            a faster runtime (``minilm-l6@onnx``, ``minilm-l6@onnx-int8``, ...: see
            :mod:`~hardneg_kit.models.backends`), a local sentence-transformers folder, or a
            Hugging Face model id such as ``BAAI/bge-small-en-v1.5``.

    Raises:
        ModelNotAvailable: with a message naming the spec and what to install or do.

    >>> load_encoder("minilm-l6").name  # doctest: +SKIP
    'minilm-l6'
    """
    spec = spec.strip()
    if not spec:
        raise ModelNotAvailable("Empty model spec; use one of " + ", ".join(PACKAGED) + ".")
    if spec == "minilm-l6":
        return SentenceTransformerEncoder(str(minilm_path()), name=spec)
    if spec == "paraphrase-minilm-l3":
        return OnnxEncoder(onnx_minilm_l3_path(), minilm_path() / "tokenizer.json", name=spec)
    if spec == "static-minilm":
        folder = distilled_static_minilm()
        try:
            return StaticEncoder(folder, name=spec)
        except Exception as exc:  # checked above; a file changed since: say which folder
            raise ModelNotAvailable(
                f"Cannot load the distilled static model in {folder}: {type(exc).__name__}: "
                f"{exc}. Delete that folder and run again to rebuild it."
            ) from None
    if _names_a_backend(spec):
        return load_backend_encoder(*parse_backend_spec(spec), name=spec)
    if "/" not in spec and not Path(spec).expanduser().is_dir():
        raise ModelNotAvailable(
            f"Unknown model spec {spec!r}: use one of {', '.join(PACKAGED)}, a local "
            "sentence-transformers folder, or a Hugging Face id like 'BAAI/bge-small-en-v1.5'."
        )
    return SentenceTransformerEncoder(spec, name=spec)


def describe_encoders(specs: Iterable[str]) -> dict[str, dict[str, str]]:
    """What made a result's embeddings: each spec's runtime and fingerprint.

    Results and mined files record this, so the same spec run on another runtime or precision
    (``minilm-l6@openvino`` is bf16 on some CPUs, fp32 on others) is told apart.

    >>> describe_encoders(["minilm-l6"])  # doctest: +SKIP
    {'minilm-l6': {'runtime': 'torch', 'fingerprint': 'e9b7738876acf30e'}}
    """
    return {s: {"runtime": enc.runtime, "fingerprint": enc.fingerprint}
            for s in dict.fromkeys(specs) for enc in (load_encoder(s),)}


def _names_a_backend(spec: str) -> bool:
    """``<packaged model>@...`` or ``...@<backend>`` (a local folder of that name stays one)."""
    model, sep, backend = spec.partition("@")
    if not sep or Path(spec).expanduser().is_dir():
        return False
    return model in PACKAGED or backend in BACKENDS
