"""Tests of helpers.text_encoder: prompt checks, the weights' hash check, and the real MiniLM encoder when installed."""
import importlib.util
import shutil

import pytest
import torch

from helpers import text_encoder as te

HAVE_MINILM = importlib.util.find_spec(te.MODULE) is not None and importlib.util.find_spec("sentence_transformers") is not None
needs_minilm = pytest.mark.skipif(not HAVE_MINILM, reason=f"{te.PACKAGE} / sentence-transformers not installed")


def test_check_prompts_accepts_and_strips():
    assert te.check_prompts("  a slow piano piece ") == ["a slow piano piece"]
    assert te.check_prompts(["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize("bad, err, word", [
    ("", ValueError, "empty"), ("   ", ValueError, "empty"), ([], ValueError, "no prompts"),
    (3, TypeError, "str"), ([b"bytes"], TypeError, "text"), (["ok", None], TypeError, "prompt 1"),
    ("x" * 501, ValueError, "characters"),
])
def test_check_prompts_refuses(bad, err, word):
    with pytest.raises(err, match=word):
        te.check_prompts(bad)


def test_verify_weights_refuses_other_hash(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"not the official weights")
    with pytest.raises(ValueError, match="SHA-256"):
        te.verify_weights(tmp_path)
    with pytest.raises(FileNotFoundError):
        te.verify_weights(tmp_path / "missing")
    # and the encoder refuses the folder before importing or loading anything
    with pytest.raises(ValueError, match="refusing"):
        te.MiniLMEncoder(model_dir=tmp_path)


def test_verify_weights_accepts_matching_hash(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"abc")
    assert te.verify_weights(tmp_path, expected=te.file_sha256(tmp_path / "model.safetensors")) == tmp_path


@needs_minilm
def test_installed_weights_have_official_hash_and_tampered_copy_is_refused(tmp_path):
    folder = te.minilm_model_dir()
    assert te.verify_weights(folder) == folder
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1  # one flipped bit in the last weight
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="refusing"):
        te.MiniLMEncoder(model_dir=copy)


@pytest.fixture(scope="module")
def minilm():
    if not HAVE_MINILM:
        pytest.skip(f"{te.PACKAGE} / sentence-transformers not installed")
    return te.MiniLMEncoder(max_tokens=16)


@needs_minilm
def test_minilm_shapes_mask_and_pooled(minilm):
    assert isinstance(minilm, te.TextEncoder)
    out = minilm.encode(["a piano piece", "slow strings in a minor key, low register"])
    B, L, D = out.tokens.shape
    assert (B, D) == (2, 384) and out.mask.shape == (2, L) and out.pooled.shape == (2, 384)
    assert out.mask[0].sum() < out.mask[1].sum()  # the shorter prompt is padded
    assert torch.allclose(out.pooled.norm(dim=-1), torch.ones(2), atol=1e-5)  # normalised sentence embeddings
    # the pooled embedding is the masked mean of the token embeddings (then normalised): Sentence-BERT's pooling
    m = out.mask[..., None].float()
    mean = (out.tokens * m).sum(1) / m.sum(1)
    assert torch.allclose(torch.nn.functional.normalize(mean, dim=-1), out.pooled, atol=1e-5)
    # a prompt alone gives the same embedding as in a batch (padding does not leak)
    alone = minilm.encode("a piano piece")
    assert torch.allclose(alone.pooled[0], out.pooled[0], atol=1e-5)


@needs_minilm
def test_minilm_similar_prompts_are_closer(minilm):
    p = minilm.encode(["a slow piano piece", "a piano piece played slowly", "fast brass in a major key"]).pooled
    assert p[0] @ p[1] > p[0] @ p[2]


@needs_minilm
def test_minilm_refuses_overlong_and_non_text(minilm):
    with pytest.raises(ValueError, match="max_tokens"):
        minilm.encode("piano " * 40)
    with pytest.raises(TypeError):
        minilm.encode(42)
    with pytest.raises(ValueError, match="empty"):
        minilm.encode("")


@needs_minilm
def test_loading_prints_no_progress_bar_and_keeps_the_callers_setting(capfd):
    from transformers.utils import logging as hf_logging

    for enabled in (True, False):
        (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
        te.MiniLMEncoder()
        assert "Loading weights" not in capfd.readouterr().err
        assert hf_logging.is_progress_bar_enabled() == enabled
    hf_logging.enable_progress_bar()
