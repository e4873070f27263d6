"""Cross-encoders: the device they run on and a fresh starting point to train.

:func:`cross_encoder_device` is ``cuda`` when a GPU is visible, else ``cpu`` (encoders stay on
the CPU: their embeddings are cached and shared). :func:`cross_encoder_start` builds a BERT
backbone with a new one-logit head, mean-pooled or on [CLS], optionally cut to its first layers,
seeded so the same seed gives the same start.

Example:
    >>> model = cross_encoder_start(num_layers=2, max_length=128)  # doctest: +SKIP
    >>> model.predict([("delete a bucket", "aws s3 rb: Deletes a bucket.")]).shape  # doctest: +SKIP
    (1,)
"""

from __future__ import annotations

from pathlib import Path

from hardneg_kit.errors import ModelError, ModelNotAvailable
from hardneg_kit.models.weights import hub_reachable, minilm_path


def cross_encoder_device() -> str:
    """Where cross-encoders train and score: ``cuda`` when a GPU is visible, else ``cpu``.

    Encoders stay on the CPU unless asked (their embeddings are cached and shared across runs).
    """
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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
            model = _cls_cross_encoder(path, max_length, local_only)
    except Exception as exc:
        raise ModelNotAvailable(
            f"Cannot load cross-encoder {spec!r}: {type(exc).__name__}: {exc}. "
            "'minilm-l6' works offline."
        ) from None
    if num_layers is not None:
        _truncate_layers(model.model, num_layers, spec)
    return model


def _cls_cross_encoder(path: str, max_length: int, local_only: bool):
    """``CrossEncoder(path, num_labels=1)``: the sequence-classification head on [CLS]."""
    from sentence_transformers import CrossEncoder

    kwargs: dict = {"num_labels": 1, "max_length": max_length, "device": cross_encoder_device()}
    if local_only:
        kwargs["local_files_only"] = True
    return CrossEncoder(path, **kwargs)


def _mean_pooled_cross_encoder(path: str, max_length: int, local_only: bool):
    """Transformer -> mean pooling -> Linear(dim, 1) writing the ``scores`` feature."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    shared = {"local_files_only": True} if local_only else {}
    backbone = Transformer(
        path,
        transformer_task="feature-extraction",
        model_kwargs=dict(shared),
        processor_kwargs={**shared, "model_max_length": max_length},
        config_kwargs=dict(shared),
    )
    dim = backbone.get_embedding_dimension()
    head = Dense(dim, 1, activation_function=None, module_output_name="scores")
    return CrossEncoder(
        modules=[backbone, Pooling(dim, "mean"), head], device=cross_encoder_device()
    )


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
