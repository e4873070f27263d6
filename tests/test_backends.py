"""Backend specs (``<model>@<backend>``): parsing, fingerprints, agreement with torch, rebuilds.

Tolerances, against the torch path on the same texts: the fp32 ONNX export agrees to 1e-5 per
coordinate; OpenVINO (bf16 on CPUs that have it) to a cosine of 0.999; int8 to a cosine of 0.97
(measured 0.98 to 0.997). Exporting minilm-l6 and int8 need the optional ``onnx`` package and
OpenVINO the ``openvino`` package: their tests are skipped, saying so, when those are absent.
"""

import importlib.util
import sys

import numpy as np
import pytest

from hardneg_kit.cache import cache_dir
from hardneg_kit.models import (
    BACKEND_SPECS,
    PACKAGED,
    ModelNotAvailable,
    backends,
    load_backend_encoder,
    load_encoder,
    parse_backend_spec,
)
from hardneg_kit.models.registry import _names_a_backend

HAS_ONNX = importlib.util.find_spec("onnx") is not None
HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
needs_onnx = pytest.mark.skipif(
    not HAS_ONNX, reason="int8 needs the optional 'onnx' package: pip install 'hardneg-kit[onnx]'"
)
needs_openvino = pytest.mark.skipif(
    not HAS_OPENVINO,
    reason="OpenVINO needs the optional 'openvino' package: pip install 'hardneg-kit[openvino]'",
)
TEXTS = [
    "delete a bucket",
    "How do I list all EC2 instances in a region that carry a given tag?",
    "x",
    "aws s3 cp --recursive " * 60,  # longer than 256 tokens: truncation must match
]


def _available(spec: str) -> bool:
    model, _, backend = spec.partition("@")
    needs = {"onnx"} if model == "minilm-l6" or "int8" in backend else set()
    needs |= {"openvino"} if "openvino" in backend else set()
    return (HAS_ONNX or "onnx" not in needs) and (HAS_OPENVINO or "openvino" not in needs)


def test_backend_specs_parse():
    assert parse_backend_spec("minilm-l6@onnx-int8") == ("minilm-l6", "onnx-int8")
    assert parse_backend_spec(" paraphrase-minilm-l3@openvino ") == (
        "paraphrase-minilm-l3",
        "openvino",
    )
    assert all(parse_backend_spec(s) == tuple(s.split("@")) for s in BACKEND_SPECS)
    assert {s.split("@")[0] for s in BACKEND_SPECS} == {"minilm-l6", "paraphrase-minilm-l3"}


@pytest.mark.parametrize(
    "spec, match",
    [
        ("minilm-l6@tensorrt", "Unknown backend 'tensorrt'.*minilm-l6@onnx"),
        ("minilm-l6@", "Unknown backend ''"),
        ("static-minilm@onnx", "Backend specs: minilm-l6@onnx"),
        ("paraphrase-minilm-l3@onnx", "already runs on onnxruntime"),
        ("bert@onnx", "Unknown model spec 'bert@onnx'"),
    ],
)
def test_bad_backend_spec_fails_clearly(spec, match):
    with pytest.raises(ModelNotAvailable, match=match):
        load_encoder(spec)


def test_a_local_folder_with_an_at_sign_stays_a_folder(tmp_path):
    folder = tmp_path / "minilm-l6@onnx"
    folder.mkdir()
    assert not _names_a_backend(str(folder))
    assert _names_a_backend("minilm-l6@onnx") and _names_a_backend("other@openvino")
    assert not _names_a_backend("BAAI/bge-small-en-v1.5") and not _names_a_backend("minilm-l6")


@pytest.mark.slow  # the first run exports minilm-l6 (about 30 s); later runs reuse the export
def test_every_backend_has_its_own_fingerprint():
    specs = [*PACKAGED, *(s for s in BACKEND_SPECS if _available(s))]
    prints = {s: load_encoder(s).fingerprint for s in specs}
    assert len(set(prints.values())) == len(specs), prints
    assert all(len(p) == 16 for p in prints.values())
    # the plain specs are untouched: same encoder class, same fingerprint as before backends
    assert type(load_encoder("minilm-l6")).__name__ == "SentenceTransformerEncoder"


@pytest.mark.slow
@pytest.mark.parametrize(
    "spec",
    [
        pytest.param("minilm-l6@onnx", marks=needs_onnx),
        pytest.param("minilm-l6@onnx-int8", marks=needs_onnx),
        pytest.param("minilm-l6@openvino", marks=[needs_onnx, needs_openvino]),
        pytest.param("minilm-l6@openvino-f32", marks=[needs_onnx, needs_openvino]),
        pytest.param("paraphrase-minilm-l3@onnx-int8", marks=needs_onnx),
        pytest.param("paraphrase-minilm-l3@openvino", marks=needs_openvino),
    ],
)
def test_backend_embeddings_agree_with_the_torch_path(spec):
    model, backend = spec.split("@")
    ref = load_encoder(model).encode_passages(TEXTS)
    emb = load_encoder(spec).encode_passages(TEXTS, batch_size=3)  # mixed padded batches
    assert emb.shape == ref.shape and emb.dtype == np.float32
    cosine = (emb * ref).sum(1)
    if backend in ("onnx", "openvino-f32"):  # fp32 everywhere: torch's embeddings
        np.testing.assert_allclose(emb, ref, atol=1e-5)
    elif "int8" in backend:
        assert cosine.min() > 0.97, cosine
    else:
        assert cosine.min() > 0.999, cosine
    queries = load_encoder(spec).encode_queries(["remove an empty storage bucket"])
    assert (queries @ emb.T)[0, 0] > (queries @ emb.T)[0, 1]  # still ranks sensibly


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A private cache folder, and a count of the int8 builds."""
    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))
    calls = []
    quantize = backends._quantize

    def counted(fp32, folder):
        calls.append(folder)
        quantize(fp32, folder)

    monkeypatch.setattr(backends, "_quantize", counted)
    return calls


@needs_onnx
@pytest.mark.parametrize("damage", ["truncated", "tokenizer", "no manifest and broken"])
def test_damaged_export_is_rebuilt_with_a_warning_naming_it(private_cache, damage, caplog):
    onnx_file, tokenizer = backends.onnx_model("paraphrase-minilm-l3", "onnx-int8")
    folder = onnx_file.parent
    assert len(private_cache) == 1 and (folder.parent / (folder.name + ".sha256")).exists()
    assert backends.onnx_model("paraphrase-minilm-l3", "onnx-int8")[0] == onnx_file
    assert len(private_cache) == 1  # intact: reused, not rebuilt
    if damage == "truncated":
        onnx_file.write_bytes(onnx_file.read_bytes()[:1000])
    elif damage == "tokenizer":
        tokenizer.write_text("{not json")
    else:
        (folder.parent / (folder.name + ".sha256")).unlink()
        onnx_file.write_bytes(b"")
    with caplog.at_level("WARNING", logger="hardneg_kit.models"):
        again, _ = backends.onnx_model("paraphrase-minilm-l3", "onnx-int8")
    assert again == onnx_file and len(private_cache) == 2
    assert str(folder) in caplog.text and "rebuilding" in caplog.text
    enc = load_backend_encoder("paraphrase-minilm-l3", "onnx-int8")
    assert enc.encode_passages(["a bucket"]).shape == (1, 384)


@needs_onnx
def test_export_of_an_older_kit_without_manifest_is_adopted(private_cache, caplog):
    onnx_file, _ = backends.onnx_model("paraphrase-minilm-l3", "onnx-int8")
    manifest = onnx_file.parent.parent / (onnx_file.parent.name + ".sha256")
    manifest.unlink()
    with caplog.at_level("WARNING", logger="hardneg_kit.models"):
        backends.onnx_model("paraphrase-minilm-l3", "onnx-int8")
    ours = [r for r in caplog.records if r.name.startswith("hardneg_kit")]
    assert len(private_cache) == 1 and manifest.exists() and not ours


def test_missing_optional_packages_are_named(private_cache, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino -> ImportError
    with pytest.raises(ModelNotAvailable, match=r"pip install 'hardneg-kit\[openvino\]'"):
        load_backend_encoder("paraphrase-minilm-l3", "openvino")
    monkeypatch.setitem(sys.modules, "onnxruntime.quantization", None)
    with pytest.raises(ModelNotAvailable, match=r"pip install 'hardneg-kit\[onnx\]'"):
        load_backend_encoder("paraphrase-minilm-l3", "onnx-int8")
    assert not list(cache_dir("models").glob("*.tmp*"))  # a failed build leaves nothing


CPUINFO = "processor\t: 0\nflags\t\t: fpu avx2 avx512f {extra}\nbogomips\t: 4000\n"


@pytest.mark.parametrize("extra, amx", [("avx512_bf16 amx_bf16 amx_tile", True),
                                        ("avx512_bf16", False), ("", False)])
def test_amx_is_read_from_the_cpu_flags(tmp_path, extra, amx):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra))
    assert backends.has_amx(str(path)) is amx
    assert backends.has_amx(str(tmp_path / "absent")) is False


def test_a_large_corpus_on_a_plain_spec_points_to_openvino_on_amx_only(monkeypatch, caplog):
    from hardneg_kit import embeddings

    many = backends.HINT_PASSAGES
    monkeypatch.setattr(backends, "has_amx", lambda: True)
    hint = backends.faster_backend_hint("minilm-l6", many)
    assert "'minilm-l6@openvino'" in hint and f"{many} passages" in hint
    assert backends.faster_backend_hint("paraphrase-minilm-l3", many)
    # a backend spec already, a model without backends, or a small corpus: nothing to say
    for spec, n in [("minilm-l6@openvino", many), ("minilm-l6@openvino-f32", many),
                    ("static-minilm", many), ("BAAI/bge-small-en-v1.5", many),
                    ("minilm-l6", many - 1)]:
        assert backends.faster_backend_hint(spec, n) is None
    monkeypatch.setattr(embeddings, "_hinted", set())
    encoder = type("E", (), {"name": "minilm-l6", "fingerprint": "f"})()
    with caplog.at_level("INFO", logger="hardneg_kit.embeddings"):
        embeddings._hint_faster_backend(encoder, many)
        embeddings._hint_faster_backend(encoder, many)  # once per encoder and process
    assert [r.message for r in caplog.records].count(hint) == 1
    monkeypatch.setattr(backends, "has_amx", lambda: False)
    assert backends.faster_backend_hint("minilm-l6", 10 * many) is None
