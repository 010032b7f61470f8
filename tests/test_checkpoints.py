"""helpers.checkpoints (weights-only files, hashes, the one integrity check, atomic writes, results JSON) and
helpers.paths (where the shipped data and the cache are, also for a non-editable install)."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers import checkpoints, paths
from helpers.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def test_every_shipped_checkpoint_is_listed_and_matches_its_sha256():
    from helpers.checkpoints import SHIPPED_CHECKPOINTS, verify_sha256

    files = sorted(SHIPPED_CHECKPOINTS.glob("*.pt"))
    assert files, "no shipped checkpoints"
    for f in files:
        verify_sha256(f, SHIPPED_CHECKPOINTS / "SHA256SUMS")


def test_a_changed_checkpoint_is_refused_with_both_hashes(tmp_path):
    import shutil

    from helpers.checkpoints import SHIPPED_CHECKPOINTS, verify_sha256

    src = sorted(SHIPPED_CHECKPOINTS.glob("*.pt"))[0]
    copy = tmp_path / src.name
    shutil.copy(src, copy)
    manifest = tmp_path / "SHA256SUMS"
    shutil.copy(SHIPPED_CHECKPOINTS / "SHA256SUMS", manifest)
    verify_sha256(copy, manifest)
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        verify_sha256(copy, manifest)
    other = tmp_path / "unlisted.pt"
    shutil.copy(src, other)
    with pytest.raises(ValueError, match="not listed"):
        verify_sha256(other, manifest)


def test_a_truncated_or_empty_checkpoint_is_named_in_the_error(tmp_path):
    from helpers.checkpoints import read_checkpoint, save_weights
    from helpers.training import read_resume

    path = save_weights(nn.Linear(3, 2), tmp_path / "run" / "best.pt")
    whole = path.read_bytes()
    for broken in (whole[: len(whole) // 2], b""):  # killed while writing; a file created but never filled
        path.write_bytes(broken)
        with pytest.raises(ValueError, match=f"checkpoint {path} cannot be read.*corrupt or truncated"):
            read_checkpoint(path)  # was a bare "PytorchStreamReader failed reading zip archive", no path
        with pytest.raises(ValueError, match=f"resume file {path} cannot be read"):
            read_resume(path, TrainConfig(), None, 1)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        read_checkpoint(tmp_path / "missing.pt")


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    """A save killed half-way leaves the previous file whole and no temporary file behind."""
    from helpers.checkpoints import atomic_write, read_checkpoint, save_weights

    model = nn.Linear(3, 2)
    path = save_weights(model, tmp_path / "best.pt", {"n": 1})
    before = path.read_bytes()

    def killed(obj, f):
        Path(f).write_bytes(b"PK half a zip")  # some bytes reach the disk, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        save_weights(nn.Linear(3, 2), path, {"n": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before and read_checkpoint(path)["config"] == {"n": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]
    atomic_write(tmp_path / "new" / "x.bin", lambda tmp: tmp.write_bytes(b"x"))  # folders made, file renamed
    assert (tmp_path / "new" / "x.bin").read_bytes() == b"x" and len(list((tmp_path / "new").iterdir())) == 1


def test_save_weights_stores_tied_weights_once(tmp_path):
    from helpers.checkpoints import load_weights, save_weights

    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = torch.nn.Embedding(50, 8)
            self.head = torch.nn.Linear(8, 50, bias=False)
            self.head.weight = self.tok.weight

    m = Tied()
    for half in (False, True):
        path = save_weights(m, tmp_path / f"t{half}.pt", half=half)
        state = torch.load(path, weights_only=True)["state_dict"]
        assert state["tok.weight"].data_ptr() == state["head.weight"].data_ptr()  # one tensor, saved once
        back = load_weights(Tied(), path)
        assert torch.allclose(back.head.weight, m.tok.weight, atol=1e-2 if half else 0)


def test_int8_quantisation_is_within_half_a_step_per_row_and_keeps_zero_rows():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, 5, 3, generator=g) * torch.tensor([1e-3, 1.0, 10.0, 0.0, 2.0, 5.0]).view(-1, 1, 1)
    q, scale = checkpoints.quantize_int8(w)
    assert q.dtype == torch.int8 and scale.shape == (6,) and int(q.abs().max()) == 127
    back = checkpoints.dequantize_int8(q, scale)
    step = scale.view(-1, 1, 1).expand_as(w)
    assert torch.all((back - w).abs() <= step / 2 + 1e-7)  # the closed-form bound of rounding to the nearest step
    assert torch.all(back[3] == 0) and scale[3] == 1  # a row of zeros stays zero
    for r in range(6):  # the row's largest value is exactly representable
        if w[r].abs().max() > 0:
            assert (back[r].abs().max() - w[r].abs().max()).abs() <= 1e-6 * w[r].abs().max()
    with pytest.raises(ValueError, match="one scale per row"):
        checkpoints.dequantize_int8(q, scale[:5])


def test_int8_checkpoints_store_big_matrices_as_int8_and_load_as_float(tmp_path):
    from helpers.checkpoints import load_weights, read_checkpoint, save_weights

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = torch.nn.Embedding(2000, 32)
            self.head = torch.nn.Linear(32, 2000, bias=True)
            self.head.weight = self.tok.weight  # tied
            self.small = torch.nn.Linear(4, 4)  # 16 values: below INT8_MIN_NUMEL, kept in float
            self.register_buffer("steps", torch.tensor([7], dtype=torch.int64))

    torch.manual_seed(0)
    m = Net()
    path = save_weights(m, tmp_path / "q.pt", half=True, int8=True)
    raw = torch.load(path, weights_only=True)
    assert raw["state_dict"]["tok.weight"].dtype == torch.int8
    assert raw["state_dict"]["tok.weight"].data_ptr() == raw["state_dict"]["head.weight"].data_ptr()  # saved once
    assert raw["state_dict"]["small.weight"].dtype == torch.float16 and raw["state_dict"]["steps"].dtype == torch.int64
    assert set(raw["int8_scales"]) == {"tok.weight", "head.weight"}
    assert read_checkpoint(path)["state_dict"]["tok.weight"].dtype == torch.float32
    back = load_weights(Net(), path)
    err = (back.tok.weight - m.tok.weight).abs().max()
    assert 0 < err <= m.tok.weight.abs().max() / 127 / 2 + 1e-6
    assert torch.equal(back.head.weight, back.tok.weight) and int(back.steps) == 7
    assert path.stat().st_size < save_weights(m, tmp_path / "h.pt", half=True).stat().st_size * 0.6
    # a scale whose tensor is missing or of another shape is named, not silently skipped
    raw["int8_scales"]["ghost.weight"] = torch.ones(3)
    torch.save(raw, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="ghost.weight"):
        read_checkpoint(tmp_path / "bad.pt")


@pytest.mark.parametrize("script", ["train_classifier", "train_codec", "train_musicgen", "train_vqvae",
                                    "train_priors", "train_music_transformer"])
def test_every_training_script_refuses_to_overwrite_shipped_checkpoints(script):
    """One guard (checkpoints.refuse_shipped_paths) in every script: data/checkpoints/ needs --overwrite-shipped."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    required = {"train_vqvae": ["--hop", "64"], "train_priors": ["--which", "top"]}.get(script, [])
    out = subprocess.run([sys.executable, f"scripts/{script}.py", "--out", "data/checkpoints/x.pt", *required],
                         cwd=root, capture_output=True, text=True)
    assert out.returncode == 2 and "--overwrite-shipped" in out.stderr and "data/checkpoints/" in out.stderr


def test_init_record_adds_up_a_chain_of_warm_starts(tmp_path):
    from helpers.checkpoints import init_record, save_weights

    model = torch.nn.Linear(2, 2)
    first = save_weights(model, tmp_path / "first.pt", {"kind": "x"}, extra={"steps": 100})
    second = save_weights(model, tmp_path / "second.pt", {"kind": "x"},
                          extra={"steps": 40, "init": init_record(first), "codec_sha256_16": "c" * 16})
    rec = init_record(second, keys=("codec_sha256_16",))
    assert rec["steps"] == 140 and rec["codec_sha256_16"] == "c" * 16 and len(rec["sha256"]) == 64
    assert init_record(save_weights(model, tmp_path / "bare.pt", {"kind": "x"}))["steps"] is None


def test_file_sha256_reads_in_chunks_and_equals_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "w.bin"
    path.write_bytes(os.urandom(10_000))
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert checkpoints.file_sha256(path) == expected
    assert checkpoints.file_sha256(path, chunk=7) == expected  # the last chunk is partial


def test_dumps_results_is_json_with_each_list_of_values_on_one_line():
    results = {"steps": 3, "loss": 0.5, "ok": True, "none": None, "name": "run \"4\"", 7: "int key",
               "history": {"step": list(range(1000)), "valid_loss": [3.5, 3.25, float("inf")]},
               "confusion": [[1, 2], [3, 4]], "per_family": [{"family": "organ", "hits": 5}], "empty": {}, "nil": []}
    text = checkpoints.dumps_results(results, float32_lists=False)
    assert json.loads(text) == json.loads(json.dumps(results))  # the same JSON document
    assert len(text.splitlines()) < 30  # where json.dumps(indent=1) writes a line per number (> 1000)
    assert len(json.dumps(results, indent=1).splitlines()) > 1000
    assert '"step": [0, 1, 2,' in text and '  [1, 2],' in text


def test_dumps_results_writes_list_floats_as_their_float32_and_keeps_the_rest():
    losses = torch.rand(500, generator=torch.Generator().manual_seed(0)).mul(5).tolist()  # float32 values as floats
    odd = [0.0, -0.0, 1e-7, -3.5e-5, 1e20, 1e-40, 1e300, 2.0, 1, True, None, "x", float("nan"), float("-inf")]
    results = {"best": 3.9233232736587524, "history": {"loss": losses, "odd": odd}}
    text = checkpoints.dumps_results(results)
    back = json.loads(text)
    assert back["best"] == results["best"]  # summary floats keep every float64 digit
    assert np.array_equal(np.float32(back["history"]["loss"]), np.float32(losses))  # float32: nothing lost
    assert len(text) < 0.6 * len(json.dumps(results))
    for a, b in zip(odd, back["history"]["odd"]):
        assert type(a) is type(b), (a, b)
        if isinstance(a, float) and math.isfinite(a) and abs(a) < 3e38:
            assert np.float32(a) == np.float32(b), (a, b)
        else:
            assert a == b or (math.isnan(a) and math.isnan(b)), (a, b)
    assert math.copysign(1, back["history"]["odd"][1]) == -1 and back["history"]["odd"][6] == 1e300



def test_one_integrity_check_for_checkpoints_the_classifier_and_the_text_encoder(tmp_path, monkeypatch):
    """verify_sha256 (the SHA256SUMS list), the classifier's JSON hash and the text encoder's manifest all refuse a
    changed file through checkpoints.check_sha256, with both hashes in the message."""
    from helpers import classifier, text_encoder

    calls = []
    real = checkpoints.check_sha256

    def spy(path, expected, fix):
        calls.append(Path(path).name)
        return real(path, expected, fix)

    for module in (checkpoints, classifier, text_encoder):
        monkeypatch.setattr(module, "check_sha256", spy)
    src = checkpoints.SHIPPED_CHECKPOINTS / "classifier.pt"
    copy, meta = tmp_path / "classifier.pt", tmp_path / "classifier.json"
    shutil.copy(src, copy)
    shutil.copy(src.with_suffix(".json"), meta)
    classifier.load_classifier(copy)
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"refusing {copy}: its SHA-256 is [0-9a-f]{{64}}, not [0-9a-f]{{64}}"):
        classifier.load_classifier(copy)
    with pytest.raises(ValueError, match="refusing .*: its SHA-256 is"):
        checkpoints.verify_sha256(copy, checkpoints.SHIPPED_CHECKPOINTS / "SHA256SUMS")
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="refusing .*config.json: its SHA-256 is"):
        text_encoder.verify_model_dir(folder, {"config.json": "0" * 64})
    assert calls == ["classifier.pt", "classifier.pt", "classifier.pt", "config.json"]


def test_cache_dir_honours_music_course_cache_then_xdg_cache_home(tmp_path, monkeypatch):
    from helpers.audio_corpus import cache_root

    monkeypatch.delenv("MUSIC_COURSE_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert paths.cache_dir() == Path.home() / ".cache" / "music-generation-course"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert paths.cache_dir() == tmp_path / "xdg" / "music-generation-course"
    assert cache_root() == tmp_path / "xdg" / "music-generation-course" / "audio_corpus"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as the XDG rules say
    assert paths.cache_dir() == Path.home() / ".cache" / "music-generation-course"
    monkeypatch.setenv("MUSIC_COURSE_CACHE", str(tmp_path / "mine"))  # the course's own variable comes first
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "mine" / "audio_corpus"
    assert cache_root(tmp_path / "given") == tmp_path / "given"


def _installed_copy(tmp_path) -> Path:
    """What a non-editable install puts on sys.path: the packages of pyproject.toml's [tool.setuptools] (helpers and
    helpers.representations), without data/ beside them."""
    site = tmp_path / "site-packages"
    shutil.copytree(ROOT / "helpers", site / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    return site


def _run(site: Path, code: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MUSIC_COURSE_DATA")}
    environ.update(PYTHONPATH=str(site), **env)
    return subprocess.run([sys.executable, "-c", code], cwd=site.parent, env=environ, capture_output=True, text=True)


def test_a_non_editable_install_says_where_the_data_is_missing_and_finds_it_through_the_variable(tmp_path):
    site = _installed_copy(tmp_path)
    code = ("import helpers.data as d, helpers.paths as p; print(p.DATA_DIR); "
            "print(len(d.load_chorales('valid')))")
    out = _run(site, code)
    assert out.returncode == 1
    assert "FileNotFoundError" in out.stderr and "non-editable install" in out.stderr
    assert "MUSIC_COURSE_DATA" in out.stderr and "pip install -e ." in out.stderr
    out = _run(site, "from helpers import classifier; classifier.load_classifier()")
    assert out.returncode == 1 and "non-editable install" in out.stderr
    out = _run(site, "from helpers import paths, transformer; "
                     "transformer.load_checkpoint(paths.SHIPPED_CHECKPOINTS / 'mt_relative.pt')")
    assert out.returncode == 1 and "non-editable install" in out.stderr
    out = _run(site, code + "; from helpers import classifier; print(classifier.load_classifier().config.sr)",
               MUSIC_COURSE_DATA=str(ROOT / "data"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(ROOT / "data"), "75", "16000"]  # the canonical JSB valid split


def test_write_results_is_dumps_results_written_atomically(tmp_path, monkeypatch):
    path = checkpoints.write_results(tmp_path / "run" / "r.json", {"loss": [0.5, 0.25], "steps": 2})
    assert json.loads(path.read_text()) == {"loss": [0.5, 0.25], "steps": 2}
    assert path.read_text() == checkpoints.dumps_results({"loss": [0.5, 0.25], "steps": 2})

    def killed(obj, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "dumps_results", killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.write_results(path, {"loss": []})
    assert json.loads(path.read_text())["steps"] == 2 and [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_config_from_dict_fills_new_fields_and_refuses_unknown_ones_and_other_kinds():
    from helpers.transformer import MusicTransformerConfig
    from helpers.vqvae import VQVAEConfig

    cfg = MusicTransformerConfig.tiny()
    old = {k: v for k, v in cfg.to_dict().items() if k != "attn_dropout"}  # saved before the field existed
    assert checkpoints.config_from_dict(MusicTransformerConfig, old) == cfg
    with pytest.raises(ValueError, match=r"unknown MusicTransformerConfig fields \['rotary'\]"):
        checkpoints.config_from_dict(MusicTransformerConfig, dict(old, rotary=True))
    vq = VQVAEConfig.tiny()
    assert VQVAEConfig.from_dict(vq.to_dict()) == vq
    with pytest.raises(ValueError, match="this is a CodecConfig configuration, not a VQVAEConfig"):
        checkpoints.config_from_dict(VQVAEConfig, dict(vq.to_dict(), kind="CodecConfig"), kind=True)


def test_shown_path_is_relative_inside_the_root_and_as_given_outside(tmp_path):
    from helpers.paths import shown_path

    root = tmp_path / "repo"
    (root / "data" / "checkpoints").mkdir(parents=True)
    assert shown_path(root / "data" / "checkpoints" / "a.pt", root) == "data/checkpoints/a.pt"
    assert shown_path(str(root / "data" / ".." / "data" / "b.pt"), root) == "data/b.pt"  # resolved first
    outside = tmp_path / "elsewhere" / "c.pt"
    assert shown_path(outside, root) == str(outside)
