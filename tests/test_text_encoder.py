"""Tests of helpers.text_encoder: prompt checks, the weights' hash check, and the real MiniLM encoder when installed."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import text_encoder as te
from helpers.checkpoints import file_sha256

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


def small_model_dir(folder):
    """A folder of two files and its manifest: the check without the real model."""
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"num_hidden_layers": 6}')
    (folder / "sub" / "weights.bin").write_bytes(b"abc")
    return folder, {"config.json": file_sha256(folder / "config.json"),
                    "sub/weights.bin": file_sha256(folder / "sub" / "weights.bin")}


def test_verify_model_dir_checks_every_file(tmp_path):
    folder, manifest = small_model_dir(tmp_path / "m")
    assert te.verify_model_dir(folder, manifest) == folder
    (folder / "config.json").write_text('{"num_hidden_layers": 3}')  # a changed config, same weights
    with pytest.raises(ValueError, match="refusing .*config.json: its SHA-256"):
        te.verify_model_dir(folder, manifest)
    folder, manifest = small_model_dir(tmp_path / "n")
    (folder / "added_tokens.json").write_text("{}")  # the tokenizer would read it
    with pytest.raises(ValueError, match=r"files the pinned model does not \(\['added_tokens.json'\]\)"):
        te.verify_model_dir(folder, manifest)
    (folder / "added_tokens.json").unlink()
    (folder / "sub" / "weights.bin").unlink()
    with pytest.raises(FileNotFoundError, match="lacks"):
        te.verify_model_dir(folder, manifest)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        te.verify_model_dir(tmp_path / "missing", manifest)
    # and the encoder refuses a folder before importing or loading anything
    with pytest.raises(FileNotFoundError, match="lacks"):
        te.MiniLMEncoder(model_dir=folder)


def test_manifest_fingerprint_names_every_file():
    m = dict(te.MINILM_MANIFEST)
    assert te.MiniLMEncoder.fingerprint == te.manifest_fingerprint(m) and len(te.MiniLMEncoder.fingerprint) == 64
    assert te.manifest_fingerprint({**m, "config.json": "0" * 64}) != te.manifest_fingerprint(m)
    assert te.manifest_fingerprint(dict(reversed(list(m.items())))) == te.manifest_fingerprint(m)  # order-free


@needs_minilm
def test_installed_folder_matches_the_manifest_and_changed_files_are_refused(tmp_path):
    folder = te.minilm_model_dir()
    assert te.verify_model_dir(folder) == folder
    assert te.MINILM_MANIFEST["model.safetensors"] == te.MINILM_SHA256  # the official weights
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1  # one flipped bit in the last weight
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="refusing .*model.safetensors"):
        te.MiniLMEncoder(model_dir=copy)
    shutil.copy(folder / "model.safetensors", copy / "model.safetensors")
    config = (copy / "config.json").read_text()
    (copy / "config.json").write_text(config.replace('"num_hidden_layers": 6', '"num_hidden_layers": 3'))
    with pytest.raises(ValueError, match="refusing .*config.json"):  # loaded 3 layers silently before
        te.MiniLMEncoder(model_dir=copy)


@needs_minilm
def test_loading_leaves_the_environment_alone_and_needs_no_network():
    """local_files_only, not HF_HUB_OFFLINE: in a fresh process with every socket connection refused and no offline
    variable set, the encoder loads and encodes without trying the network, and sets no offline variable."""
    code = (
        "import os, socket\n"
        "tries = []\n"
        "def refuse(*a, **k): tries.append(a); raise OSError('network used')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        "from helpers.text_encoder import MiniLMEncoder\n"
        "e = MiniLMEncoder()\n"
        "assert e.encode('a slow piano piece').tokens.shape[-1] == 384\n"
        "assert not tries, tries\n"
        "offline = {k: os.environ[k] for k in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE') if k in os.environ}\n"
        "assert not offline, offline\n"
        "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PYTHONPATH"] = str(Path(te.__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


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


def test_linear_probe_finds_a_linear_label_and_not_a_random_one():
    from helpers.text_encoder import linear_probe

    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(4, 16, generator=g)
    y = torch.arange(400) % 4
    x = centres[y] + torch.randn(400, 16, generator=g)
    found = linear_probe(x[:300], y[:300], x[300:], y[300:])
    assert found["test_accuracy"] > 0.95 and found["n_classes"] == 4 and found["n_test"] == 100
    shuffled = y[torch.randperm(400, generator=g)]  # labels unrelated to the inputs: chance on new inputs
    chance = linear_probe(x[:300], shuffled[:300], x[300:], shuffled[300:], n_classes=4)
    assert chance["test_accuracy"] < 0.45
    with pytest.raises(ValueError, match="one width"):
        linear_probe(x[:10], y[:10], x[:10, :5], y[:10])
    with pytest.raises(ValueError, match="none may be empty"):
        linear_probe(x[:10], y[:9], x[:10], y[:10])
