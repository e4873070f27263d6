"""Encoders: one interface (:class:`Encoder`) over four runtimes, every output L2-normalized.

``encode_queries`` / ``encode_passages`` add the model's prefixes, embed in batches and return
float32 rows of norm 1 (:func:`normalize`; a zero row stays zero). Each encoder has a ``name``
and a ``fingerprint`` that changes whenever its weights or tokenizer change:

- :class:`SentenceTransformerEncoder`: any sentence-transformers folder or Hugging Face id;
- :class:`OnnxEncoder`: a BERT-style ONNX model on onnxruntime with a ``tokenizers`` tokenizer;
- :class:`OpenVinoEncoder`: the same ONNX model and tokenizer on OpenVINO;
- :class:`StaticEncoder`: a model2vec static model (a token-embedding lookup).

Example:
    >>> enc = SentenceTransformerEncoder(str(minilm_path()), name="minilm-l6")  # doctest: +SKIP
    >>> enc.encode_queries(["delete a bucket"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from hardneg_kit.errors import ModelNotAvailable
from hardneg_kit.models.weights import PACKAGED, fingerprint_paths, hub_reachable


class Encoder:
    """Common interface: ``encode_queries`` / ``encode_passages`` -> normalized float32 arrays."""

    name: str
    fingerprint: str
    #: what computes the embeddings (``torch``, ``onnx``, ``openvino-bf16``, ``model2vec``):
    #: results record it, so a number can be traced to the arithmetic that made it
    runtime: str = "torch"
    query_prefix: str = ""
    passage_prefix: str = ""

    def _encode(self, texts: list[str], batch_size: int, show_progress_bar: bool) -> np.ndarray:
        raise NotImplementedError

    def encode_queries(
        self, texts: list[str], batch_size: int = 32, show_progress_bar: bool | None = None
    ) -> np.ndarray:
        """Embed queries (with the model's query prefix, if any)."""
        return self._run([self.query_prefix + t for t in texts], batch_size, show_progress_bar)

    def encode_passages(
        self, texts: list[str], batch_size: int = 32, show_progress_bar: bool | None = None
    ) -> np.ndarray:
        """Embed passages (with the model's passage prefix, if any)."""
        return self._run([self.passage_prefix + t for t in texts], batch_size, show_progress_bar)

    def _run(self, texts: list[str], batch_size: int, show_progress_bar: bool | None) -> np.ndarray:
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 256
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        emb = np.asarray(self._encode(list(texts), batch_size, show_progress_bar), dtype=np.float32)
        return normalize(emb)

    @property
    def dim(self) -> int:
        return int(self._encode(["dimension probe"], 1, False).shape[1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, fingerprint={self.fingerprint!r})"


def normalize(emb: np.ndarray) -> np.ndarray:
    """L2-normalize rows (zero rows stay zero)."""
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return (emb / np.maximum(norms, 1e-12)).astype(np.float32)


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model: a local folder or a Hugging Face model id."""

    def __init__(
        self,
        name_or_path: str,
        name: str | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        device: str | None = None,
    ):
        from sentence_transformers import SentenceTransformer

        local = Path(name_or_path).expanduser()
        is_local = local.is_dir()
        kwargs: dict = {"device": device or "cpu"}
        if not is_local and not hub_reachable():
            # Never wait on an unreachable hub: use the local HF cache or fail at once.
            kwargs["local_files_only"] = True
        try:
            self.model = SentenceTransformer(str(local) if is_local else name_or_path, **kwargs)
        except Exception as exc:  # library errors become one clear line
            raise ModelNotAvailable(
                f"Cannot load model {name_or_path!r}: {type(exc).__name__}: {exc}. "
                "Packaged models work offline: " + ", ".join(PACKAGED) + ". A Hugging Face id "
                "needs a network the first time (then it is cached), or pass a local folder."
            ) from None
        self.name = name or name_or_path
        self.query_prefix, self.passage_prefix = query_prefix, passage_prefix
        src = local if is_local else _st_snapshot_dir(self.model)
        extra = f"st:{name_or_path}:{query_prefix}:{passage_prefix}"
        self.fingerprint = fingerprint_paths(src, extra=extra) if src else _hash_state(self.model)

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    def _encode(self, texts, batch_size, show_progress_bar):
        return self.model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=show_progress_bar,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )


def _st_snapshot_dir(model) -> Path | None:
    """The folder a sentence-transformers model was loaded from, when it can be found."""
    try:
        path = Path(model[0].auto_model.config._name_or_path)
        return path if path.is_dir() else None
    except (AttributeError, IndexError, TypeError):
        return None


def _hash_state(model) -> str:
    """Fingerprint from the weights themselves (fallback when no folder is known)."""
    h = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


class OnnxEncoder(Encoder):
    """A BERT-style ONNX sentence encoder run with onnxruntime and a ``tokenizers`` tokenizer.

    The graph takes ``input_ids`` and ``attention_mask`` (int64, padded batches) and returns the
    pooled sentence embedding as output ``output_index`` (the packaged paraphrase-MiniLM-L3-v2
    exposes it last); ``max_length`` truncates inputs like the original model (128 tokens for it,
    256 for all-MiniLM-L6-v2). The fingerprint covers both files, ``max_length``,
    ``output_index`` and the runtime (:attr:`runtime`).
    """

    #: part of the fingerprint: a runtime that computes differently must not share cache entries
    runtime = "onnx"

    def __init__(
        self,
        onnx_path: Path,
        tokenizer_path: Path,
        name: str,
        max_length: int = 128,
        output_index: int = -1,
        threads: int | None = None,
    ):
        from tokenizers import Tokenizer

        self._load(Path(onnx_path), output_index, threads)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.name = name
        self.max_length = max_length
        self.fingerprint = fingerprint_paths(
            Path(onnx_path),
            Path(tokenizer_path),
            extra=f"{self.runtime}:{max_length}:{output_index}",
        )

    def _load(self, onnx_path: Path, output_index: int, threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.output_name = self.session.get_outputs()[output_index].name
        self._dim = int(self.session.get_outputs()[output_index].shape[-1])

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run([self.output_name], feeds)[0]

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts, batch_size, show_progress_bar):
        from tqdm.auto import tqdm

        # Sort by length so batches pad little; restore the order at the end.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), batch_size)
        for start in tqdm(starts, desc=f"encode {self.name}", disable=not show_progress_bar):
            idx = order[start : start + batch_size]
            enc = self.tokenizer.encode_batch([texts[i] for i in idx])
            feeds = {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            }
            out[idx] = self._infer(feeds)
        return out


class OpenVinoEncoder(OnnxEncoder):
    """The same ONNX graph and tokenizer as :class:`OnnxEncoder`, compiled and run by OpenVINO.

    OpenVINO reads the ONNX file itself (no conversion step); ``threads`` caps its inference
    threads. On a CPU with bf16 support OpenVINO computes in bf16 by default (embeddings then
    differ from onnxruntime's by about 1e-3), so the precision it chose is part of the
    fingerprint. Needs the ``openvino`` package (``pip install 'hardneg-kit[openvino]'``).
    """

    runtime = "openvino"
    #: ``INFERENCE_PRECISION_HINT``; ``None`` lets OpenVINO choose (bf16 where the CPU has it)
    precision: str | None = None

    def _load(self, onnx_path: Path, output_index: int, threads: int | None) -> None:
        try:
            import openvino as ov
        except ImportError:
            raise ModelNotAvailable(
                "The OpenVINO backend needs the 'openvino' package: "
                "pip install 'hardneg-kit[openvino]'."
            ) from None
        core = ov.Core()
        config: dict = {"INFERENCE_NUM_THREADS": threads} if threads else {}
        if self.precision:
            config["INFERENCE_PRECISION_HINT"] = self.precision
        self.compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", config)
        self.output = self.compiled.outputs[output_index]
        self._dim = int(self.output.get_partial_shape()[-1].get_length())
        precision = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # an ov.Type
        self.runtime = f"openvino-{precision.get_type_name()}"  # in the fingerprint

    def _infer(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return self.compiled(feeds)[self.output]


class OpenVinoF32Encoder(OpenVinoEncoder):
    """:class:`OpenVinoEncoder` held to fp32 on every CPU: the same embeddings (to ~1e-6) on a
    laptop and on a server with bf16 units, at the speed OpenVINO reaches without bf16."""

    precision = "f32"


class StaticEncoder(Encoder):
    """A model2vec static embedding model (a token-embedding lookup: very fast on a CPU)."""

    runtime = "model2vec"

    def __init__(self, folder: Path, name: str):
        from model2vec import StaticModel

        self.model = StaticModel.from_pretrained(str(folder))
        self.name = name
        self.fingerprint = fingerprint_paths(folder, extra="model2vec")

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def _encode(self, texts, batch_size, show_progress_bar):
        return self.model.encode(
            texts, batch_size=max(batch_size, 1024), show_progress_bar=show_progress_bar
        )
