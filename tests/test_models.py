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
