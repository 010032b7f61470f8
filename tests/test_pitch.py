"""helpers.pitch: chroma, pitch-class histograms and key finding, defined once and used by the quality measure, the
classifier, the symbolic metrics, the chorale statistics and the audio corpus."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import audio_corpus, audio_quality, chorale_stats, classifier, pitch
from helpers.data import piece_from_notes

SR = 16000


def tone_mix(pitches, seconds=1.0, sr=SR, seed=0):
    t = np.arange(int(seconds * sr)) / sr
    g = np.random.default_rng(seed)
    return sum(np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * t + g.uniform(0, 6)) for p in pitches) / len(pitches)


def plain_nearest_chroma(x, sr, n_fft=4096, hop=1024, f_min=55.0, f_max=5000.0):
    """The textbook form, bin by bin: power of each STFT bin added to the class of its nearest pitch."""
    spec = torch.stft(torch.as_tensor(x, dtype=torch.float64), n_fft, hop_length=hop,
                      window=torch.hann_window(n_fft, dtype=torch.float64), center=True, pad_mode="constant",
                      return_complex=True).abs().numpy() ** 2  # (F, frames)
    out = np.zeros((12, spec.shape[1]))
    for b in range(spec.shape[0]):
        f = b * sr / n_fft
        if f_min <= f <= min(f_max, sr / 2):
            out[int(round(69 + 12 * np.log2(f / 440.0))) % 12] += spec[b]
    return out


def test_the_quality_measure_is_the_one_chroma_with_power_and_nearest_pitch():
    x = tone_mix([60, 64, 67, 71])
    ref = plain_nearest_chroma(x, SR)
    ref = ref / np.maximum(np.linalg.norm(ref, axis=0, keepdims=True), 1e-12)
    np.testing.assert_allclose(audio_quality.chroma(x, SR).numpy(), ref, rtol=1e-9, atol=1e-12)
    top = set(np.argsort(audio_quality.chroma(x, SR).numpy().sum(1))[-4:].tolist())
    assert top == {0, 4, 7, 11}  # C E G B


def test_the_classifier_chroma_is_the_batched_twin_of_the_one_chroma():
    cfg = classifier.ClassifierConfig()
    batched = classifier.Chroma(cfg.sr, cfg.chroma_fft, cfg.hop_length)
    clips = np.stack([tone_mix([57, 61, 64], seed=1), tone_mix([50, 65], seed=2), tone_mix([70], seed=3)])
    out = batched(torch.as_tensor(clips, dtype=torch.float32))  # (3, 12, frames)
    for i, x in enumerate(clips):
        plain = pitch.chroma(x, cfg.sr, cfg.chroma_fft, cfg.hop_length, kernel="triangle", power=1).float()
        torch.testing.assert_close(out[i], plain, rtol=1e-4, atol=1e-3 * float(plain.abs().max()))
    # the kernels differ: a quarter-tone is shared by two classes under the triangle, given to one by 'nearest'
    fb_t, fb_n = pitch.chroma_filterbank(SR, 4096, kernel="triangle"), pitch.chroma_filterbank(SR, 4096, kernel="nearest")
    assert ((fb_t > 0).sum(0) == 2).any() and ((fb_n > 0).sum(0) <= 1).all()
    with pytest.raises(ValueError, match="kernel"):
        pitch.chroma_filterbank(SR, 4096, kernel="box")


def test_pitch_class_counts_and_histograms_are_one_definition_for_notes_grids_and_keys():
    notes = [(60, 0, 1.0), (64, 1, 1.0), (67, 2, 4.0), (72, 6, 1.0)]
    piece = piece_from_notes(notes)
    counts = pitch.pitch_class_counts(piece.pitches)
    assert counts.tolist() == [2, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    weighted = pitch.pitch_class_counts(piece.pitches, piece.notes["duration"])
    assert weighted[[0, 4, 7]].tolist() == [2.0, 1.0, 4.0]
    assert np.isnan(pitch.pitch_class_histogram([])).all()
    from helpers import symbolic_metrics

    np.testing.assert_array_equal(symbolic_metrics.pitch_class_histogram(piece), counts / 4)
    grid = np.array([[60, 55, 52, 48], [60, -1, 52, 48], [62, 55, -1, 43]])  # (steps, voices), -1 = rest
    sounding = grid[grid >= 0]
    np.testing.assert_array_equal(chorale_stats.pitch_class_histogram(grid), pitch.pitch_class_histogram(sounding))


def test_key_finding_weighs_by_duration_and_lives_in_one_place():
    assert chorale_stats.best_key is pitch.best_key and audio_corpus.estimate_key is pitch.estimate_key
    # many short notes of the A minor triad's C and E, one long A: counted by notes it is C major, by time A minor
    notes = [(60, 0.25 * i, 0.25) if i % 2 else (64, 0.25 * i, 0.25) for i in range(8)] + [(57, 2.0, 12.0)]
    piece = piece_from_notes(notes)
    assert pitch.best_key(pitch.pitch_class_counts(piece.pitches))[:2] != (9, "minor")
    assert pitch.estimate_key(piece) == (9, "minor")
    tonic, mode, r = pitch.best_key(np.roll(pitch.KK_MINOR, 2))
    assert (tonic, mode) == (2, "minor") and r == pytest.approx(1.0)
    assert pitch.best_key(np.ones(12))[2] == -1.0
