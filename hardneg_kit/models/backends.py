"""Faster CPU runtimes for the packaged models: ``<model>@<backend>`` specs, built once offline.

A backend spec names a packaged model and a runtime (:data:`BACKEND_SPECS`):

==================================  ==========================================================
``minilm-l6@onnx``                  all-MiniLM-L6-v2 exported to ONNX (``torch.onnx``, mean
                                    pooling inside the graph) on onnxruntime: torch's
                                    embeddings to about 1e-6
``minilm-l6@onnx-int8``             that export with its MatMul weights quantized to int8
                                    (``onnxruntime.quantization``: dynamic, per channel)
``minilm-l6@openvino``              the fp32 export compiled by OpenVINO, in the precision it
                                    picks (bf16 on CPUs with bf16 units, else fp32)
``minilm-l6@openvino-f32``          the same, held to fp32 on every CPU
``minilm-l6@openvino-int8``         the int8 export compiled by OpenVINO
``paraphrase-minilm-l3@onnx-int8``  the packaged ONNX file quantized the same way
``paraphrase-minilm-l3@openvino``   the packaged ONNX file on OpenVINO (``-f32`` as above)
``paraphrase-minilm-l3@openvino-int8``  its int8 file on OpenVINO
==================================  ==========================================================

The plain specs (``minilm-l6``, ...) are untouched: they keep producing today's embeddings.
Exports live in the cache (``models/<model>-<variant>-<key>``, the key hashing the source
weights, the variant and :data:`EXPORT_VERSION`), each folder holding ``model.onnx`` and the
``tokenizer.json`` it is run with. They are built on first use into a temporary folder and
renamed, kept intact by a manifest, and rebuilt with one warning when damaged
(:func:`~hardneg_kit.models.folders.built_folder`). Every backend has its own fingerprint (the
files differ, or the runtime is part of it), so embedding caches never mix runtimes.

Optional packages: exporting minilm-l6 and int8 quantization need ``onnx`` (``pip install
'hardneg-kit[onnx]'``), OpenVINO needs ``openvino`` (``pip install 'hardneg-kit[openvino]'``);
without them loading raises :class:`~hardneg_kit.errors.ModelNotAvailable` naming the command
(``paraphrase-minilm-l3@openvino`` needs only ``openvino``).

Which to use: ``@openvino`` is the fast one, but only where the CPU has bf16 matrix units:
there it computes in bf16 (about 3x torch on the kit's AMX build machine, retrieval quality
unchanged within its interval), elsewhere in fp32 (about 1.05x). The plain specs stay the
default so that the same command gives the same numbers on every CPU; encoding a large corpus
on a plain packaged spec on an AMX CPU logs one line pointing here
(:func:`faster_backend_hint`). README "Faster CPU backends" has the measurements.

Example:
    >>> parse_backend_spec("minilm-l6@onnx-int8")
    ('minilm-l6', 'onnx-int8')
    >>> load_backend_encoder("minilm-l6", "onnx").fingerprint  # doctest: +SKIP
    '3f0c...'
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from hardneg_kit.cache import cache_dir
from hardneg_kit.errors import ModelNotAvailable
from hardneg_kit.models.encoders import OnnxEncoder, OpenVinoEncoder, OpenVinoF32Encoder
from hardneg_kit.models.folders import built_folder
from hardneg_kit.models.weights import fingerprint_paths, minilm_path, onnx_minilm_l3_path

logger = logging.getLogger(__name__)

#: bump when the export or quantization recipe changes: old folders are then left unused
EXPORT_VERSION = 1
#: backend -> (ONNX variant it runs, runtime)
BACKENDS: dict[str, tuple[str, type[OnnxEncoder]]] = {
    "onnx": ("onnx", OnnxEncoder),
    "onnx-int8": ("onnx-int8", OnnxEncoder),
    "openvino": ("onnx", OpenVinoEncoder),
    "openvino-f32": ("onnx", OpenVinoF32Encoder),
    "openvino-int8": ("onnx-int8", OpenVinoEncoder),
}
#: packaged model -> tokens kept per text (as its sentence-transformers config / original model)
MAX_LENGTH = {"minilm-l6": 256, "paraphrase-minilm-l3": 128}
#: every valid ``<model>@<backend>`` (paraphrase-minilm-l3 already runs on onnxruntime)
BACKEND_SPECS = tuple(
    f"{m}@{b}" for m in MAX_LENGTH for b in BACKENDS if (m, b) != ("paraphrase-minilm-l3", "onnx")
)
_ONNX_EXTRA = "pip install 'hardneg-kit[onnx]' (the 'onnx' package)"
#: passages to encode from which a plain packaged spec on an AMX CPU suggests ``@openvino``
HINT_PASSAGES = 20_000


def faster_backend_hint(spec: str, passages: int) -> str | None:
    """One line suggesting ``<spec>@openvino``, or ``None`` where it would not pay.

    Given only for a plain packaged spec with backends (:data:`MAX_LENGTH`), at least
    :data:`HINT_PASSAGES` passages to encode, on a CPU with AMX (:func:`has_amx`): the CPUs
    where ``@openvino``'s bf16 was measured at about 3x.

    >>> faster_backend_hint("minilm-l6@openvino", 10**6) is None
    True
    """
    if spec not in MAX_LENGTH or passages < HINT_PASSAGES or not has_amx():
        return None
    return (f"{passages} passages to encode with '{spec}' on a CPU with AMX (bf16 matrix "
            f"units), where '{spec}@openvino' encoded about 3x faster in the kit's measurement "
            "(bf16 arithmetic; aws-cli MRR@10 unchanged within its interval; needs "
            "pip install 'hardneg-kit[onnx,openvino]'; "
            f"README \"Faster CPU backends\"). '{spec}' stays fp32 so that its numbers are the "
            "same on every CPU.")


@lru_cache(maxsize=4)
def has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU has AMX bf16 units (the ``amx_bf16`` flag); ``False`` where the flags
    cannot be read (macOS, Windows)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return "amx_bf16" in flags.partition(":")[2].split()


def parse_backend_spec(spec: str) -> tuple[str, str]:
    """Split ``<model>@<backend>`` and check it is one of :data:`BACKEND_SPECS`.

    Args:
        spec: e.g. ``"minilm-l6@onnx-int8"``.

    Raises:
        ModelNotAvailable: no ``@``, an unknown backend, or a model without that backend.

    >>> parse_backend_spec("paraphrase-minilm-l3@openvino")
    ('paraphrase-minilm-l3', 'openvino')
    """
    model, sep, backend = spec.strip().partition("@")
    if sep and f"{model}@{backend}" in BACKEND_SPECS:
        return model, backend
    if model == "paraphrase-minilm-l3" and backend == "onnx":
        hint = "paraphrase-minilm-l3 already runs on onnxruntime: use 'paraphrase-minilm-l3'. "
    elif sep and backend not in BACKENDS:
        hint = f"Unknown backend {backend!r}; backends: {', '.join(BACKENDS)}. "
    else:
        hint = ""
    raise ModelNotAvailable(
        f"Unknown model spec {spec!r}. {hint}Backend specs: {', '.join(BACKEND_SPECS)}."
    )


def load_backend_encoder(model: str, backend: str, name: str | None = None) -> OnnxEncoder:
    """The encoder of ``<model>@<backend>``, exporting (once) what it runs.

    Args:
        model: a packaged model with backends (``minilm-l6``, ``paraphrase-minilm-l3``).
        backend: one of :data:`BACKENDS`.
        name: the encoder's name (default ``<model>@<backend>``; it names its embedding cache).

    Raises:
        ModelNotAvailable: an invalid pair, or an optional package missing (naming it).

    >>> load_backend_encoder("minilm-l6", "onnx-int8").name  # doctest: +SKIP
    'minilm-l6@onnx-int8'
    """
    model, backend = parse_backend_spec(f"{model}@{backend}")
    variant, runtime = BACKENDS[backend]
    onnx_file, tokenizer = onnx_model(model, variant)
    return runtime(onnx_file, tokenizer, name=name or f"{model}@{backend}",
                   max_length=MAX_LENGTH[model])  # fmt: skip


def onnx_model(model: str, variant: str) -> tuple[Path, Path]:
    """``(model.onnx, tokenizer.json)`` of a packaged model's ``onnx`` or ``onnx-int8`` variant.

    The packaged paraphrase-MiniLM-L3-v2 is already ONNX (its fp32 variant is that file); the
    rest is built once into the cache (see the module docstring).

    >>> onnx_model("minilm-l6", "onnx")[0].name  # doctest: +SKIP
    'model.onnx'
    """
    if model == "paraphrase-minilm-l3" and variant == "onnx":
        return onnx_minilm_l3_path(), minilm_path() / "tokenizer.json"
    source = minilm_path() if model == "minilm-l6" else onnx_minilm_l3_path()
    key = fingerprint_paths(source, extra=f"export:{variant}:{EXPORT_VERSION}")
    target = cache_dir("models") / f"{model}-{variant}-{key}"
    if variant == "onnx":
        build = _export_minilm_l6
    else:
        fp32 = onnx_model(model, "onnx")[0]

        def build(tmp: Path) -> None:
            _quantize(fp32, tmp)

    folder = built_folder(target, build, _export_works, f"{model} {variant} export")
    return folder / "model.onnx", folder / "tokenizer.json"


def _export_minilm_l6(folder: Path) -> None:
    """Trace the packaged all-MiniLM-L6-v2 (transformer + mean pooling) to ``model.onnx``."""
    import torch
    from sentence_transformers import SentenceTransformer

    if importlib.util.find_spec("onnx") is None:  # torch.onnx writes the file through it
        raise ModelNotAvailable(
            f"Exporting minilm-l6 to ONNX needs the 'onnx' package: {_ONNX_EXTRA}."
        )

    class MeanPooled(torch.nn.Module):
        """Token states averaged over the attention mask (sentence-transformers' mean pooling)."""

        def __init__(self, bert: torch.nn.Module):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    source = minilm_path()
    logger.info("Exporting minilm-l6 to ONNX from %s (about 30 s, once)", source)
    bert = SentenceTransformer(str(source), device="cpu")[0].auto_model.eval()
    ids = torch.tensor([[101, 2000, 2001, 2002, 2003, 2004, 2005, 102]] * 2)
    # one padded row, so that the traced graph is the one that masks padding
    mask = torch.tensor([[1] * 8, [1] * 5 + [0] * 3])
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "sentence_embedding": {0: "batch"}}  # fmt: skip
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow
        torch.onnx.export(MeanPooled(bert), (ids, mask), str(folder / "model.onnx"),
                          input_names=["input_ids", "attention_mask"],
                          output_names=["sentence_embedding"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)  # fmt: skip
    shutil.copyfile(source / "tokenizer.json", folder / "tokenizer.json")


def _quantize(fp32: Path, folder: Path) -> None:
    """Dynamic int8 quantization of the MatMul weights, per output channel."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ModelNotAvailable(
            f"int8 quantization needs the 'onnx' package: {_ONNX_EXTRA}."
        ) from None
    logger.info("Quantizing %s to int8 (once)", fp32)
    quantize_dynamic(str(fp32), str(folder / "model.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True, op_types_to_quantize=["MatMul"])  # fmt: skip
    shutil.copyfile(minilm_path() / "tokenizer.json", folder / "tokenizer.json")


def _export_works(folder: Path) -> bool:
    """Loads on onnxruntime, and embeds two different texts as different finite, non-zero rows."""
    try:
        enc = OnnxEncoder(folder / "model.onnx", folder / "tokenizer.json", name="check")
        emb = enc.encode_passages(["delete a storage bucket", "launch a virtual machine"])
    except Exception:  # any damage: a truncated graph, unreadable JSON, a missing file
        return False
    return bool(np.isfinite(emb).all() and not np.allclose(emb[0], emb[1]) and emb.any(1).all())
