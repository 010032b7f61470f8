"""Pitch classes: chroma from audio, pitch-class histograms from notes, and key finding, each defined once.

- :func:`chroma_filterbank` / :func:`chroma` — the energy of a spectrogram folded onto the 12 pitch classes (C = 0).
  Each STFT bin has a fractional MIDI pitch ``p(f) = 69 + 12 log2(f / 440)``; its weight for class ``k`` depends on
  ``d``, the distance in semitones from ``p(f)`` to the nearest pitch of class ``k``: ``kernel='nearest'`` gives the
  bin wholly to the class of its nearest equal-tempered pitch (Müller's pooling of a log-frequency spectrogram),
  ``kernel='triangle'`` shares it as ``max(0, 1 - d)``. ``power`` is 1 (magnitude) or 2 (power). The two users:
  :func:`helpers.audio_quality.chroma` (power, nearest pitch, 55 Hz - 5 kHz, each frame unit length: were the notes
  kept?) and :class:`helpers.classifier.Chroma`, the classifier's batched torch twin (magnitude, triangle, 60 Hz -
  4 kHz: what the shipped mode branch was trained on; a test holds it equal to :func:`chroma`).
- :func:`pitch_class_counts` / :func:`pitch_class_histogram` — how much of the music lies on each pitch class:
  counts of notes (or any weights: durations, sounding steps), and their shares. Used by
  :mod:`helpers.symbolic_metrics` (notes), :mod:`helpers.chorale_stats` (sounding voice-steps of the chorale grid) and
  :func:`estimate_key` (durations).
- :func:`best_key` / :func:`estimate_key` — Krumhansl-Schmuckler key finding: the rotation of the Krumhansl-Kessler
  major or minor profile most correlated with a histogram (:data:`KK_MAJOR`, :data:`KK_MINOR`). Used by
  :mod:`helpers.audio_corpus` (does a clip's notes state its mode?) and :mod:`helpers.chorale_stats`.

Notebook: 04_jukebox_vqvae.ipynb and 05_musicgen.ipynb (chroma similarity), 05 and 06 (the classifier's mode branch),
06_evaluation.ipynb (pitch-class histograms and entropy), 03_music_transformer.ipynb (key profile of a chorale).
Reference: Müller, *Fundamentals of Music Processing* (2nd ed. 2021), Sec. 3.1.2 (log-frequency spectrogram, chroma
features); Krumhansl 1990, *Cognitive Foundations of Musical Pitch*, Table 2.1 (probe-tone profiles) and ch. 4
(key finding); Yang & Lerch 2020, Sec. 3.1 (pitch-class histogram).
"""
from __future__ import annotations

import numpy as np

KERNELS = ("nearest", "triangle")

# Krumhansl & Kessler's probe-tone profiles (Krumhansl 1990, Table 2.1), C major / C minor.
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


# --- chroma from audio ------------------------------------------------------------------------------------------
def chroma_filterbank(sr: int, n_fft: int, f_min: float = 60.0, f_max: float = 4000.0,
                      kernel: str = "triangle") -> np.ndarray:
    """(12, n_fft // 2 + 1) float64 weights: row k sums the STFT bins of pitch class k (C = 0).

    Bins below ``f_min`` or above ``min(f_max, sr / 2)`` get no weight; ``kernel`` (see the module docstring) says how
    a bin between two pitches is shared.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft  # (F,) Hz
    keep = (freqs >= f_min) & (freqs <= min(f_max, sr / 2))  # (F,)
    pitch = 69.0 + 12.0 * np.log2(np.maximum(freqs, 1e-6) / 440.0)  # (F,) fractional MIDI pitch
    if kernel == "nearest":
        weights = (np.round(pitch).astype(np.int64) % 12)[None, :] == np.arange(12)[:, None]  # (12, F)
    else:
        dist = np.abs((pitch[None, :] - np.arange(12)[:, None] + 6.0) % 12.0 - 6.0)  # (12, F) semitones
        weights = np.maximum(0.0, 1.0 - dist)
    return (weights * keep[None, :]).astype(np.float64)


def chroma(audio, sr: int, n_fft: int = 4096, hop_length: int = 1024, f_min: float = 60.0, f_max: float = 4000.0,
           kernel: str = "triangle", power: float = 1.0):
    """Chromagram of one mono clip: ``|STFT|^power`` (Hann window, centred frames, zero padding) folded onto the 12
    pitch classes by :func:`chroma_filterbank`, in float64.

    Args:
        audio: (T,) mono samples (NumPy or torch).
        power: 1 (magnitude, the classifier's) or 2 (power, the quality measure's).

    Returns:
        float64 torch tensor (12, 1 + T // hop_length), not normalised.
    """
    import torch  # here: the symbolic half of this module needs NumPy only

    x = torch.as_tensor(audio.detach().cpu() if hasattr(audio, "detach") else np.asarray(audio)).to(torch.float64)
    if x.dim() != 1:
        raise ValueError(f"chroma: audio must be one mono clip (T,), got shape {tuple(x.shape)}")
    window = torch.hann_window(n_fft, dtype=torch.float64)
    spec = torch.stft(x, n_fft, hop_length=hop_length, window=window, center=True, pad_mode="constant",
                      return_complex=True).abs() ** power  # (F, frames)
    fb = torch.from_numpy(chroma_filterbank(sr, n_fft, f_min, f_max, kernel))  # (12, F)
    return fb @ spec  # (12, frames)


# --- pitch-class histograms from notes ------------------------------------------------------------------------------
def pitch_class_counts(pitches, weights=None) -> np.ndarray:
    """(12,) float64: the number of notes (or the sum of their ``weights``, e.g. durations) on each pitch class
    C, C#, ..., B. ``pitches``: MIDI numbers >= 0."""
    p = np.asarray(pitches, dtype=np.int64).ravel()
    return np.bincount(p % 12, weights=None if weights is None else np.asarray(weights, dtype=np.float64).ravel(),
                       minlength=12).astype(np.float64)


def pitch_class_histogram(pitches, weights=None) -> np.ndarray:
    """(12,) shares of :func:`pitch_class_counts`, summing to 1; all NaN when there is nothing to count.

    Notebook: 06_evaluation.ipynb. Reference: Yang & Lerch 2020, Sec. 3.1 ("PCH").
    """
    counts = pitch_class_counts(pitches, weights)
    total = counts.sum()
    return counts / total if total > 0 else np.full(12, np.nan)


# --- key finding ----------------------------------------------------------------------------------------------------
def best_key(hist) -> tuple[int, str, float]:
    """Krumhansl-Schmuckler: ``(tonic, mode, r)``, the rotation of the major or minor profile with the highest
    Pearson correlation ``r`` with a (12,) pitch-class histogram (counts or shares alike: r ignores the scale).
    A flat histogram correlates with nothing (r = -1, C major).

    Reference: Krumhansl 1990, ch. 4.
    """
    h = np.asarray(hist, dtype=float)
    if h.shape != (12,):
        raise ValueError(f"best_key: need a (12,) histogram, got shape {h.shape}")
    best = (0, "major", -2.0)
    for mode, profile in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(h, np.roll(profile, tonic))[0, 1]) if h.std() > 0 else -1.0
            if r > best[2]:
                best = (tonic, mode, r)
    return best


def estimate_key(piece) -> tuple[int, str]:
    """Krumhansl-Schmuckler key estimate ``(tonic, mode)`` of a :class:`helpers.data.Piece` from its
    duration-weighted pitch-class counts (:func:`best_key`).

    Notebook: 05_musicgen.ipynb (is a clip's mode audible in its notes?).
    """
    return best_key(pitch_class_counts(piece.pitches, piece.notes["duration"]))[:2]
