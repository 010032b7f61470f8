"""Tests of helpers.audio_quality on hand-made signals whose answers are known."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers import audio_quality as Q

SR = 16000


def tone(freq, seconds=0.5, amp=0.5, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def test_si_snr_known_values():
    x = tone(440) + 0.3 * tone(660)
    assert Q.si_snr(x, x) == math.inf
    assert Q.si_snr(x, 0.1 * x) == math.inf and Q.si_snr(x, -3 * x) == math.inf  # any gain
    rng = np.random.default_rng(0)
    n = rng.standard_normal(len(x))
    xc = x - x.mean()
    n -= n.mean()
    n -= (n @ xc) / (xc @ xc) * xc  # orthogonal to the reference, zero mean
    n *= math.sqrt((xc @ xc) / 10 / (n @ n))  # a tenth of its energy
    assert Q.si_snr(x, x + n) == pytest.approx(10.0, abs=1e-9)
    assert Q.si_snr(x, 2.5 * (x + n)) == pytest.approx(10.0, abs=1e-9)
    n *= math.sqrt(10)  # same energy -> 0 dB
    assert Q.si_snr(x, x + n) == pytest.approx(0.0, abs=1e-9)
    assert Q.si_snr(x, np.zeros_like(x)) == -math.inf  # silence is the floor, not a perfect score
    assert Q.si_snr(x, n) < -100  # an estimate orthogonal to the reference: nothing of it kept (to rounding)
    assert Q.si_snr(x, rng.standard_normal(len(x))) < -20  # unrelated noise: far below 0 dB


def test_stft_distance_is_zero_for_equal_magnitudes_and_grows_with_error():
    x = tone(440)
    assert Q.multi_resolution_stft_distance(x, x) == 0.0
    near, far = Q.multi_resolution_stft_distance(x, 0.9 * x), Q.multi_resolution_stft_distance(x, tone(1000))
    assert 0 < near < far
    # the loss is differentiable and batched
    a = torch.tensor(np.stack([x, 0.5 * x]), dtype=torch.float32)
    b = (a * 0.8).requires_grad_()
    loss = Q.multi_resolution_stft_loss(a, b)
    loss.backward()
    assert loss.item() > 0 and torch.isfinite(b.grad).all() and b.grad.abs().sum() > 0


def test_log_floor_keeps_silent_bins_from_dominating():
    # a quiet tone against silence: the log term is bounded by log(peak / floor), not by log(peak / 1e-12)
    x = torch.tensor(tone(440, amp=1e-3), dtype=torch.float32)
    d = Q.multi_resolution_stft_loss(x, torch.zeros_like(x))
    assert torch.isfinite(d) and float(d) < 1 + math.log(1e-3 * 2048 / Q.LOG_FLOOR)


def test_chroma_finds_the_pitch_class_and_similarity_is_one_for_gain():
    c = Q.chroma(tone(440), SR)  # A4 -> pitch class 9
    assert c.shape[0] == 12
    assert int(c.sum(dim=1).argmax()) == 9
    assert int(Q.chroma(tone(261.63), SR).sum(dim=1).argmax()) == 0  # C4
    x = tone(440)
    assert Q.chroma_similarity(x, 0.3 * x, SR) == pytest.approx(1.0, abs=1e-9)
    assert Q.chroma_similarity(x, tone(880), SR) > 0.95  # octave: same pitch class
    assert Q.chroma_similarity(x, tone(311.13), SR) < 0.1  # A vs D#: a tritone away


def test_log_mel_distance_and_table():
    x = tone(440)
    assert Q.log_mel_distance(x, x, SR) == 0.0
    assert Q.log_mel_distance(x, tone(880), SR) > 1.0
    row = Q.quality_table(x, x + 1e-3 * tone(3000), SR)
    assert set(row) == {"mr_stft", "si_snr", "log_mel", "chroma"} and row["si_snr"] > 40


def test_bad_input():
    x = tone(440)
    with pytest.raises(ValueError, match="silent"):
        Q.si_snr(np.zeros(100), np.ones(100))
    with pytest.raises(ValueError, match="silent"):
        Q.chroma_similarity(np.zeros(8000), x[:8000], SR)
    with pytest.raises(ValueError, match="same length"):
        Q.si_snr(x, x[:-1])
    with pytest.raises(ValueError, match="1-D"):
        Q.si_snr(np.stack([x, x]), np.stack([x, x]))
    with pytest.raises(ValueError, match="NaN"):
        Q.si_snr(x, np.full_like(x, np.nan))


def test_onset_agreement_follows_where_notes_start():
    """Notes at the same moments agree (near 1 for a gain, high for another timbre), notes elsewhere do not; the envelope
    peaks at each onset."""
    sr = 16000
    rng = np.random.default_rng(0)

    def notes(onsets, harmonics=1):
        t = np.arange(sr * 2) / sr
        x = np.zeros_like(t)
        for o in onsets:
            on = t >= o
            env = np.where(on, np.exp(-(t - o) * 8.0), 0.0)
            x += env * sum(np.sin(2 * np.pi * 440 * h * (t - o)) / h for h in range(1, harmonics + 1))
        return (x + 1e-4 * rng.standard_normal(len(t))).astype(np.float32)

    a = notes([0.2, 0.7, 1.2, 1.7])
    env = Q.onset_envelope(a)
    peaks = sorted(np.argsort(env.numpy())[-4:])
    assert [round(float(p) * 256 / sr, 1) for p in peaks] == [0.2, 0.7, 1.2, 1.7]  # frame hop 256 samples
    assert Q.onset_agreement(a, 0.5 * a) > 0.99  # (the log compression is not quite gain-blind)
    assert Q.onset_agreement(a, notes([0.2, 0.7, 1.2, 1.7], harmonics=4)) > 0.8  # another timbre, the same timing
    assert Q.onset_agreement(a, notes([0.45, 0.95, 1.45, 1.95])) < 0.2  # half a beat off
    with pytest.raises(ValueError, match="constant"):
        Q.onset_agreement(np.zeros(sr, dtype=np.float32), a[:sr])
