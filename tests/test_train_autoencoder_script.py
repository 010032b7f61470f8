"""scripts/train_autoencoder.py end to end on a tiny codec: a plain run, then a warm start with the discriminator
(the chain of steps adds up, only the autoencoder is saved), the presets, and the shipped-folder guard."""
import json
from pathlib import Path

import pytest
import torch

from helpers import autoencoder as ae
from helpers.paths import load_script

ROOT = Path(__file__).resolve().parent.parent
script = load_script("train_autoencoder")

TINY = ["--dim", "16", "--encoder-blocks", "1", "--decoder-blocks", "1", "--batch-size", "2", "--crop", "0.1",
        "--n-valid", "2", "--warmup", "0", "--eval-every", "2", "--no-progress"]


def test_presets_and_the_shipped_folder_guard(capsys, monkeypatch):
    args = script.parse_args([])
    cfg = script.config_from_args(args, 16000)
    assert (cfg.hop, cfg.n_codebooks, cfg.codebook_size, cfg.bitrate()) == (320, 4, 1024, 2000.0)
    level = script.config_from_args(script.parse_args(["--preset", "level", "--hop", "1280"]), 16000)
    assert (level.hop, level.synthesis_hop, level.n_codebooks, level.quantizer_dropout) == (1280, 320, 1, 0.0)
    assert script.parse_args(["--preset", "level", "--hop", "80"]).out == "runs/level_hop80.pt"
    fine = script.config_from_args(script.parse_args(["--preset", "level", "--hop", "64", "--synthesis-hop", "64",
                                                      "--n-fft", "1024"]), 16000)
    assert (fine.hop, fine.synthesis_hop, fine.n_fft) == (64, 64, 1024) and level.n_fft == 4 * level.synthesis_hop
    with pytest.raises(SystemExit):
        script.parse_args(["--preset", "level"])  # a level needs its hop
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        script.parse_args(["--out", "data/checkpoints/codec_istft.pt"])
    assert "--overwrite-shipped" in capsys.readouterr().err


def test_a_plain_run_then_an_adversarial_warm_start(tmp_path):
    first = script.main(TINY + ["--steps", "3", "--phase-weight", "1", "--out", str(tmp_path / "a.pt"),
                               "--work", str(tmp_path / "work")])
    assert first["steps"] == 3 and first["init"] is None and len(first["quality"]) == 4
    assert [r["bitrate"] for r in first["quality"]] == [500.0, 1000.0, 1500.0, 2000.0]
    saved = json.loads((tmp_path / "a.json").read_text())
    assert saved["config"]["phase_weight"] == 1.0 and "phase" in saved["history"]["metrics"]
    second = script.main(TINY + ["--steps", "2", "--adversarial", "--pitch-weight", "2", "--phase-weight", "1",
                                "--init", str(tmp_path / "a.pt"), "--out", str(tmp_path / "b.pt"),
                                "--work", str(tmp_path / "work")])
    assert second["init"]["steps"] == 3 and second["adversarial"]
    state = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    assert not any(k.startswith(("discriminator.", "autoencoder.")) for k in state)  # the autoencoder alone
    model = ae.load_checkpoint(tmp_path / "b.pt")
    assert model.config.pitch_weight == 2.0 and model.config.dim == 16
    with pytest.raises(ValueError, match="architecture"):
        script.main(TINY + ["--steps", "1", "--dim", "8", "--init", str(tmp_path / "a.pt"),
                            "--out", str(tmp_path / "c.pt"), "--work", str(tmp_path / "work")])


def test_decoder_only_keeps_every_code_and_changes_the_decoder(tmp_path, capsys):
    with pytest.raises(SystemExit):
        script.parse_args(["--decoder-only"])  # nothing to keep the codes of
    assert "--init" in capsys.readouterr().err
    script.main(TINY + ["--steps", "3", "--out", str(tmp_path / "a.pt"), "--work", str(tmp_path / "work")])
    res = script.main(TINY + ["--steps", "2", "--adversarial", "--decoder-only", "--lr", "1e-2",
                              "--init", str(tmp_path / "a.pt"), "--out", str(tmp_path / "d.pt"),
                              "--work", str(tmp_path / "work")])
    assert res["decoder_only"] and res["config"]["restart_every"] == 0  # a restart would move the codebooks
    a, d = ae.load_checkpoint(tmp_path / "a.pt"), ae.load_checkpoint(tmp_path / "d.pt")
    sa, sd = dict(a.named_parameters()), dict(d.named_parameters())  # (the codes' usage counts are buffers)
    frozen = [k for k in sa if k.startswith(("encoder.", "quantizer."))]
    assert frozen and all(torch.equal(sa[k], sd[k]) for k in frozen)
    assert any(not torch.equal(sa[k], sd[k]) for k in sa if k.startswith("decoder."))  # the decoder learnt
    audio = torch.randn(2, 1, 3200, generator=torch.Generator().manual_seed(0)) * 0.1
    assert torch.equal(a.eval().encode(audio, 16000), d.eval().encode(audio, 16000))
