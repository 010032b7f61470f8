"""scripts/measure_judges.py and train_classifier.py --other-music: arguments, intervals, decoded clips."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers.intervals import wilson_interval
from helpers.paths import load_script

ROOT = Path(__file__).resolve().parent.parent


script = load_script  # scripts/<name>.py as a module


@pytest.mark.parametrize("args, named", [(["--kinds", "jazz"], "--kinds"), (["--n", "0"], "--n"),
                                         (["--split", "dev"], "--split"), (["--judges", "nope.pt"], "--judges"),
                                         (["--decoders", "nope.pt"], "--decoders"),
                                         (["--out", "data/checkpoints/x.json"], "--overwrite-shipped")])
def test_measure_judges_names_the_bad_argument(args, named, capsys):
    mod = script("measure_judges")
    with pytest.raises(SystemExit):
        mod.parse_args(args)
    assert named in capsys.readouterr().err
    ok = mod.parse_args([])
    assert ok.kinds == ["corpus", "random_melody", "random_chords", "oneills"] and ok.split == "test"


def test_accuracy_table_counts_and_wilson_intervals():
    mod = script("measure_judges")
    heads = (("family", ("a", "b")), ("mode", ("major", "minor")))
    labels = {"family": np.array([0, 0, 1, 1, 1]), "mode": np.array([0, 1, 0, 1, 1])}
    pred = {"family": ["a", "b", "b", "b", "a"], "mode": ["major", "minor", "major", "minor", "minor"]}
    t = mod.accuracy_table(pred, labels, heads)
    assert t["family"]["correct"] == 3 and t["family"]["n"] == 5 and t["family"]["accuracy"] == pytest.approx(0.6)
    ci = wilson_interval(3, 5)
    assert (t["family"]["low"], t["family"]["high"]) == (ci.low, ci.high) and ci.low < 0.6 < ci.high
    assert t["mode"]["accuracy"] == 1.0 and t["mode"]["high"] == 1.0 and t["mode"]["low"] < 1.0
    assert t["family"]["confusion"] == [[1, 1], [1, 2]]


def test_train_classifier_other_music_argument(capsys):
    mod = script("train_classifier")
    args = mod.parse_args(["--other-music", "random_melody:1200", "random_chords:30"])
    assert args.other_music == [("random_melody", 1200), ("random_chords", 30)]
    for bad in (["random_melody"], ["jazz:10"], ["random_melody:0"], ["oneills:5", "oneills:6"]):
        with pytest.raises(SystemExit):
            mod.parse_args(["--other-music", *bad])
        assert "--other-music" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mod.parse_args(["--max-minutes", "0"])
    assert "--max-minutes" in capsys.readouterr().err


def test_reconstructions_of_the_istft_codec_are_cached(tmp_path):
    from helpers.classifier import decoder_codebooks, reconstructions

    ckpt = ROOT / "data" / "checkpoints" / "codec_istft.pt"
    assert decoder_codebooks(ckpt) == 4 and decoder_codebooks(ROOT / "data" / "checkpoints" / "vqvae_hop64.pt") is None
    t = np.arange(8000) / 16000
    clips = np.stack([0.5 * np.sin(2 * np.pi * f * t) for f in (220.0, 440.0)]).astype(np.float32)  # (2, T)
    y = reconstructions(ckpt, clips, 16000, tmp_path, verbose=False)
    assert y.shape == clips.shape and y.dtype == np.float32 and np.isfinite(y).all()
    assert len(list(tmp_path.glob("recon_codec_istft_*_q4_2x8000_*.npy"))) == 1
    np.testing.assert_array_equal(reconstructions(ckpt, clips, 16000, tmp_path, verbose=False), y)  # from the cache
    # Each reconstruction is of its own clip, in order: the decoded 220 Hz tone stays the lower one.
    peaks = [np.argmax(np.abs(np.fft.rfft(v))) * 16000 / len(v) for v in y]
    assert peaks[0] < 330 < peaks[1], peaks
