"""The model registry: packaged models load offline, embed sensibly, fingerprint stably."""

import os
import shutil

import numpy as np
import pytest

from hardneg_kit import models
from hardneg_kit.models import (
    ModelNotAvailable,
    cross_encoder_start,
    fingerprint_paths,
    load_encoder,
)

PARAPHRASE = ("How do I delete a storage bucket?", "Remove an empty S3 bucket")
UNRELATED = "Reset all parameters of a database cluster to their default values"


@pytest.mark.parametrize("spec", models.PACKAGED)
def test_packaged_model_embeds_offline(spec):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    enc = load_encoder(spec)
    emb = enc.encode_queries([PARAPHRASE[0]])
    docs = enc.encode_passages([PARAPHRASE[1], UNRELATED])
    assert emb.dtype == np.float32 and docs.dtype == np.float32
    assert emb.shape == (1, enc.dim) and docs.shape == (2, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    sims = emb @ docs.T
    assert sims[0, 0] > sims[0, 1] + 0.1, f"{spec}: paraphrase should beat unrelated, got {sims}"
    assert enc.name == spec and len(enc.fingerprint) == 16


def test_fingerprint_is_stable_and_changes_with_the_model(tmp_path):
    src = models.minilm_path()
    copy = tmp_path / "model"
    shutil.copytree(src, copy)
    assert fingerprint_paths(copy) == fingerprint_paths(src)
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"hidden_act"', '"hidden_act" ', 1))
    assert fingerprint_paths(copy) != fingerprint_paths(src)
    assert load_encoder("minilm-l6").fingerprint != load_encoder("paraphrase-minilm-l3").fingerprint


def test_local_folder_loads_through_sentence_transformers():
    enc = load_encoder(str(models.minilm_path()))
    same = load_encoder("minilm-l6")
    np.testing.assert_allclose(
        enc.encode_passages([UNRELATED]), same.encode_passages([UNRELATED]), atol=1e-5
    )


def test_empty_input_gives_empty_array():
    assert load_encoder("paraphrase-minilm-l3").encode_passages([]).shape == (0, 384)


@pytest.mark.parametrize("spec", ["bm25", "", "not-a-model"])
def test_bad_spec_fails_clearly(spec):
    with pytest.raises(ModelNotAvailable, match="minilm-l6"):
        load_encoder(spec)


def test_unreachable_hub_id_fails_at_once_with_clear_message():
    with pytest.raises(ModelNotAvailable, match="no-such-org/no-such-model"):
        load_encoder("no-such-org/no-such-model")


def test_cross_encoder_start_is_seeded_and_truncated():
    a = cross_encoder_start(num_layers=2, max_length=64, seed=3)
    b = cross_encoder_start(num_layers=2, max_length=64, seed=3)
    assert a.model.config.num_hidden_layers == 2 and len(a.model.encoder.layer) == 2
    pairs = [(PARAPHRASE[0], PARAPHRASE[1])]
    np.testing.assert_allclose(a.predict(pairs), b.predict(pairs), atol=1e-6)
    with pytest.raises(ValueError, match="between 1 and 6"):
        cross_encoder_start(num_layers=9)


def test_cross_encoder_start_heads_and_reload(tmp_path):
    from sentence_transformers import CrossEncoder

    mean = cross_encoder_start(num_layers=1, max_length=32, seed=0)  # auto: mean for minilm-l6
    assert [type(m).__name__ for m in mean] == ["Transformer", "Pooling", "Dense"]
    cls = cross_encoder_start(num_layers=1, max_length=32, seed=0, pooling="cls")
    assert len(cls.model.bert.encoder.layer) == 1
    pairs = [(PARAPHRASE[0], PARAPHRASE[1]), (PARAPHRASE[0], UNRELATED)]
    mean.save_pretrained(str(tmp_path))
    again = CrossEncoder(str(tmp_path), device="cpu")  # the head is saved and re-loaded
    np.testing.assert_allclose(mean.predict(pairs), again.predict(pairs), atol=1e-6)
    with pytest.raises(ValueError, match="pooling"):
        cross_encoder_start(pooling="max")


# --------------------------------------------------------------------------- the distilled model


@pytest.fixture
def fake_distill(tmp_path, monkeypatch):
    """A private cache and a 1-second stand-in for model2vec's distillation; counts its calls."""
    import model2vec.distill
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    monkeypatch.setenv("HARDNEG_CACHE", str(tmp_path / "cache"))
    calls = []

    def distill(model_name, pca_dims, device):
        calls.append(model_name)
        tok = Tokenizer.from_file(str(models.minilm_path() / "tokenizer.json"))
        rng = np.random.default_rng(0)
        return StaticModel(rng.standard_normal((tok.get_vocab_size(), 8)).astype(np.float32), tok)

    monkeypatch.setattr(model2vec.distill, "distill", distill)
    return calls


def _zero_weights(folder):
    weights = folder / "model.safetensors"
    raw = weights.read_bytes()
    weights.write_bytes(raw[:-4096] + bytes(4096))  # header intact, vectors zeroed


@pytest.mark.parametrize("damage", ["zeroed", "tokenizer"])
def test_damaged_distilled_model_is_rebuilt_with_a_warning_naming_it(fake_distill, damage, caplog):
    folder = models.distilled_static_minilm()
    assert len(fake_distill) == 1 and (folder.parent / (folder.name + ".sha256")).exists()
    if damage == "zeroed":
        _zero_weights(folder)
    else:
        (folder / "tokenizer.json").write_text("{not json")
    with caplog.at_level("WARNING", logger="hardneg_kit.models"):
        again = models.distilled_static_minilm()
    assert again == folder and len(fake_distill) == 2
    assert str(folder) in caplog.text and "rebuilding" in caplog.text
    assert models.StaticEncoder(again, "static-minilm").encode_queries(["a bucket"]).shape == (1, 8)
    caplog.clear()
    models.distilled_static_minilm()  # intact now: no warning, no distillation
    assert len(fake_distill) == 2 and "WARNING" not in caplog.text


def test_distilled_model_of_an_older_kit_is_adopted_or_rebuilt(fake_distill, caplog):
    folder = models.distilled_static_minilm()
    manifest = folder.parent / (folder.name + ".sha256")
    manifest.unlink()  # as an older kit left it: working, without a manifest
    assert models.distilled_static_minilm() == folder and len(fake_distill) == 1
    assert manifest.exists()  # adopted
    manifest.unlink()
    (folder / "tokenizer.json").write_text("")  # damaged and without a manifest: rebuilt
    with caplog.at_level("WARNING", logger="hardneg_kit.models"):
        models.distilled_static_minilm()
    assert len(fake_distill) == 2 and str(folder) in caplog.text
