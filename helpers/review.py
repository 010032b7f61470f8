"""Solutions of the previous lesson's exercises (sound classification), with cross-checks.

1. Spectral features: centroid, flatness and temporal variation of five test signals whose answers are
   known in advance (a pure tone's centroid is its frequency; white noise has a known flatness).
2. Average precision (AP) for multi-label tagging, computed from the precision-recall curve and, as an
   independent check, as the mean of precision@k over the positives; ties are handled explicitly.
3. Sound-event post-processing: threshold, fill short gaps, drop short events, extract events; vectorised
   with ``np.diff`` on zero-padded rows, tested on events whose boundaries are planted.

Randomness: a ``np.random.Generator`` passed by the caller (the lesson's seed 42 is
``np.random.default_rng(42)`` here; the lesson used ``RandomState``, whose numbers differ).

Notebook: 08_review_audio_features.ipynb.
Reference: Learn AI Series #95 (Sound classification), exercises 1-3, as solved at the start of #96;
Peeters (2004), "A large set of audio features for sound description", Sec. 6 (centroid, flatness);
Mesaros, Heittola & Virtanen (2016), "Metrics for polyphonic sound event detection", Sec. 2 (post-processing).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

# ----------------------------------------------------------------------------------------------------
# Exercise 1: spectral features
# ----------------------------------------------------------------------------------------------------

EULER_GAMMA = 0.5772156649015329
# Expected flatness of white Gaussian noise: the spectrum's magnitudes are Rayleigh distributed, and
# exp(E[log R]) / E[R] = 2 exp(-gamma / 2) / sqrt(pi); on the power spectrum (exponential) it is exp(-gamma).
WHITE_NOISE_FLATNESS_MAGNITUDE = 2.0 * np.exp(-EULER_GAMMA / 2) / np.sqrt(np.pi)  # 0.8455
WHITE_NOISE_FLATNESS_POWER = np.exp(-EULER_GAMMA)  # 0.5615


def example_signals(rng: np.random.Generator, sr: int = 16000, seconds: float = 2.0) -> dict[str, np.ndarray]:
    """The five signals of the exercise: a 440 Hz tone, white noise, a 200-4000 Hz linear sweep, a
    "speech-like" sum of four tones with a 4 Hz amplitude modulation, a "music-like" A major triad with a
    5 Hz tremolo.

    Args:
        rng: random generator for the noise.
        sr: sample rate in Hz.
        seconds: length of each signal.

    Returns:
        ``{name: float64 array (sr * seconds,)}``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    n = int(sr * seconds)
    t = np.arange(n) / sr  # (n,)
    tones = lambda freqs: np.sin(2 * np.pi * np.asarray(freqs)[:, None] * t).sum(axis=0)  # noqa: E731
    sweep_hz = np.linspace(200.0, 4000.0, n)  # instantaneous frequency
    return {
        "pure_440": np.sin(2 * np.pi * 440.0 * t),
        "white_noise": rng.standard_normal(n),
        "sweep": np.sin(2 * np.pi * np.cumsum(sweep_hz) / sr),
        "speech_like": tones([150, 300, 900, 2500]) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)),
        "music_like": tones([440, 554, 659]) * (1 + 0.3 * np.sin(2 * np.pi * 5 * t)),
    }


def magnitude_spectrum(signal: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and magnitudes of the whole signal's real FFT (no window, as in the exercise)."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"signal must be 1-D with at least 2 samples, got shape {x.shape}")
    return np.fft.rfftfreq(len(x), 1.0 / sr), np.abs(np.fft.rfft(x))


def spectral_centroid(signal: np.ndarray, sr: int) -> float:
    """Magnitude-weighted mean frequency, in Hz: sum(f |X(f)|) / sum(|X(f)|).

    Known answers: a tone of f Hz (whole number of cycles) -> f; white noise -> about sr / 4.
    """
    f, mag = magnitude_spectrum(signal, sr)
    return float((f * mag).sum() / max(mag.sum(), 1e-12))


def spectral_flatness(signal: np.ndarray, power: bool = False, eps: float = 1e-12) -> float:
    """Geometric over arithmetic mean of the spectrum: 1 for a perfectly flat spectrum, near 0 for a tone.

    The exercise uses the magnitude spectrum (``power=False``); the usual definition (Peeters 2004) uses the
    power spectrum. Neither gives 1 for white noise: a single noise spectrum is flat only on average, and
    its random magnitudes pull the geometric mean below the arithmetic one, to
    :data:`WHITE_NOISE_FLATNESS_MAGNITUDE` (0.85) or :data:`WHITE_NOISE_FLATNESS_POWER` (0.56). A unit
    impulse has an exactly flat spectrum and scores 1.

    Args:
        signal: mono audio.
        power: use |X|^2 instead of |X|.
        eps: floor added to the spectrum so that log(0) cannot occur.

    Returns:
        The flatness in (0, 1].
    """
    _, mag = magnitude_spectrum(signal, 1)
    spec = (mag**2 if power else mag) + eps
    return float(np.exp(np.mean(np.log(spec))) / np.mean(spec))


def stft_magnitude(signal: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """Magnitude STFT with a Hann window and no padding: (n_fft // 2 + 1, n_frames)."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or len(x) < n_fft:
        raise ValueError(f"signal must be 1-D and at least n_fft={n_fft} samples long, got shape {x.shape}")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]  # (n_frames, n_fft)
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)).T  # (n_fft//2+1, n_frames)


def temporal_variation(signal: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Mean absolute change of the magnitude STFT from one frame to the next (spectral flux, L1, averaged).

    In the exercise's form it is not normalised, so it grows with loudness; a steady tone scores close
    to 0, an amplitude-modulated one clearly more, noise a lot (its spectrum is redrawn every frame).
    """
    spec = stft_magnitude(signal, n_fft, hop)  # (F, T)
    if spec.shape[1] < 2:
        raise ValueError("temporal_variation needs at least two STFT frames")
    return float(np.mean(np.abs(np.diff(spec, axis=1))))


def feature_table(signals: dict[str, np.ndarray], sr: int) -> dict[str, dict[str, float]]:
    """Centroid (Hz), flatness (magnitude and power) and temporal variation of each signal."""
    return {
        name: {
            "centroid_hz": spectral_centroid(x, sr),
            "flatness": spectral_flatness(x),
            "flatness_power": spectral_flatness(x, power=True),
            "temporal_variation": temporal_variation(x),
        }
        for name, x in signals.items()
    }


def expected_centroids(sr: int = 16000) -> dict[str, float]:
    """Centroids known without computing a spectrum: tones weigh their frequencies equally (AM sidebands
    sit symmetrically around each tone), noise is flat up to sr / 2, the sweep spends equal time at every
    frequency between 200 and 4000 Hz."""
    return {
        "pure_440": 440.0,
        "white_noise": sr / 4,
        "sweep": (200.0 + 4000.0) / 2,
        "speech_like": float(np.mean([150, 300, 900, 2500])),
        "music_like": float(np.mean([440, 554, 659])),
    }


def plot_spectrograms(signals: dict[str, np.ndarray], sr: int, n_fft: int = 1024, hop: int = 256, fmax: float = 5000.0):
    """One dB spectrogram per signal, side by side. Returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(signals), figsize=(3.0 * len(signals), 2.8), sharey=True, dpi=80)
    for ax, (name, x) in zip(np.atleast_1d(axes), signals.items()):
        spec = stft_magnitude(x, n_fft, hop)  # (F, T)
        db = 20 * np.log10(spec / spec.max() + 1e-6)
        extent = (0, spec.shape[1] * hop / sr, 0, sr / 2)
        ax.imshow(db, origin="lower", aspect="auto", extent=extent, vmin=-80, vmax=0, cmap="magma")
        ax.set(title=name, xlabel="time (s)", ylim=(0, fmax))
    np.atleast_1d(axes)[0].set_ylabel("frequency (Hz)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------
# Exercise 2: average precision
# ----------------------------------------------------------------------------------------------------


def _check_labels_scores(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or y.shape != s.shape:
        raise ValueError(f"y_true and scores must be 1-D of the same length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y.astype(bool), s


def precision_recall_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score threshold, highest threshold first.

    An item is predicted positive when its score is >= the threshold, so items with equal scores enter
    together (ties never depend on the order of the input).

    Args:
        y_true: 0/1 labels, (N,).
        scores: real scores, (N,); higher = more likely positive.

    Returns:
        ``precision, recall, thresholds``, each (K,) for the K distinct scores.

    Raises:
        ValueError: if there is no positive (recall undefined).
    """
    y, s = _check_labels_scores(y_true, scores)
    if not y.any():
        raise ValueError("precision_recall_curve: y_true has no positive, recall is undefined")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)  # (N,) true positives among the first k
    last_of_tie = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # (N,) end of each group of equal scores
    tp, n_pred = tp[last_of_tie], np.flatnonzero(last_of_tie) + 1  # (K,)
    return tp / n_pred, tp / y.sum(), s_sorted[last_of_tie]


def average_precision(y_true, scores) -> float:
    """Average precision: sum over thresholds of (recall gain) x precision, from the PR curve.

    The same definition as ``sklearn.metrics.average_precision_score`` (tied scores form one threshold; no
    interpolation): ``tests/test_review.py`` holds the two equal where scikit-learn is installed.
    NaN when there is no positive (AP is undefined: recall has no denominator).

    Args:
        y_true: 0/1 labels, (N,).
        scores: real scores, (N,).

    Returns:
        AP in [0, 1], or NaN.
    """
    y, s = _check_labels_scores(y_true, scores)
    if not y.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y, s)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def average_precision_at_positives(y_true, scores) -> float:
    """AP computed independently: the mean, over the positives, of the precision among all items scored
    at least as high as that positive (precision@k with ties counted together). O(N^2), for checking.
    """
    y, s = _check_labels_scores(y_true, scores)
    if not y.any():
        return float("nan")
    at_least = s[None, :] >= s[y][:, None]  # (P, N): item j scored >= positive i
    return float(np.mean((at_least & y[None, :]).sum(axis=1) / at_least.sum(axis=1)))


def average_precision_by_rank(y_true, scores) -> float:
    """The exercise's version: sort by score and walk down the list one item at a time. Equal scores are
    then ranked in input order, so the result can change when tied items are shuffled."""
    y, s = _check_labels_scores(y_true, scores)
    if not y.any():
        return float("nan")
    y_sorted = y[np.argsort(-s, kind="stable")]
    precision_at_k = np.cumsum(y_sorted) / np.arange(1, len(y) + 1)
    return float(precision_at_k[y_sorted].mean())


def worst_average_precision(y_true) -> float:
    """The lowest AP any scoring can give these labels: every positive ranked below every negative.

    With P positives and N negatives the k-th positive sits at rank N + k, so AP = mean_k k / (N + k).
    """
    y = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0:
        return float("nan")
    k = np.arange(1, n_pos + 1)
    return float(np.mean(k / (n_neg + k)))


def mean_average_precision(Y_true, Y_scores) -> tuple[np.ndarray, float]:
    """AP of every class and their mean (mAP, AudioSet's headline metric).

    Args:
        Y_true: 0/1 labels, (C, N): one row per class.
        Y_scores: scores, (C, N).

    Returns:
        ``(aps (C,), mAP)``; classes without a positive get AP NaN and are left out of the mean.
    """
    Y, S = np.asarray(Y_true), np.asarray(Y_scores)
    if Y.ndim != 2 or Y.shape != S.shape:
        raise ValueError(f"Y_true and Y_scores must be (classes, items) of the same shape, got {Y.shape}, {S.shape}")
    aps = np.array([average_precision(y, s) for y, s in zip(Y, S)])
    return aps, float(np.nanmean(aps)) if np.isfinite(aps).any() else float("nan")


MULTILABEL_CLASSES = ("perfect", "near-perfect", "moderate", "weak", "inverted")


def multilabel_demo(rng: np.random.Generator, n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """The exercise's five synthetic classes: labels drawn with p = 0.5, scores from labels plus noise.

    perfect: y + N(0, 0.01); near-perfect: y + N(0, 0.2); "moderate": 0.5 y + U(0, 0.5); weak: U(0, 1)
    (unrelated to y); inverted: 1 - y + N(0, 0.05).

    Returns:
        ``Y_true, Y_scores``, both (5, n).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    Y = rng.integers(0, 2, size=(5, n))
    S = np.stack([
        Y[0] + rng.normal(0, 0.01, n),
        Y[1] + rng.normal(0, 0.2, n),
        0.5 * Y[2] + rng.uniform(0, 0.5, n),
        rng.uniform(0, 1, n),
        1.0 - Y[4] + rng.normal(0, 0.05, n),
    ])
    return Y, S


def plot_pr_curves(Y_true, Y_scores, names: Sequence[str], ax=None):
    """Step-wise precision-recall curve of each class, AP in the legend. Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5), dpi=80)
    n = len(names)
    for i, (y, s, name) in enumerate(zip(Y_true, Y_scores, names)):
        precision, recall, _ = precision_recall_curve(y, s)
        ax.step(np.r_[0.0, recall], np.r_[precision[0], precision], where="pre", lw=1.5 + 1.5 * (n - 1 - i),
                alpha=0.8,
                label=f"{name} (AP {average_precision(y, s):.2f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.05), title="Precision-recall per class")
    ax.legend(fontsize=8, loc="lower left")
    return ax


# ----------------------------------------------------------------------------------------------------
# Exercise 3: sound-event post-processing
# ----------------------------------------------------------------------------------------------------

SED_CLASSES = ("Speech", "Music", "Dog")


def _as_binary(binary: np.ndarray) -> np.ndarray:
    b = np.asarray(binary)
    if b.ndim == 1:
        b = b[None, :]
    if b.ndim != 2 or not np.isin(b, (0, 1)).all():
        raise ValueError(f"binary must be a (classes, frames) array of 0/1, got shape {np.shape(binary)}")
    return b.astype(bool)


def binarize(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Frame-wise decisions: prob > threshold. (classes, frames) bool."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be (classes, frames), got shape {p.shape}")
    return p > threshold


def find_runs(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of ones in every row, found with ``np.diff`` on the row padded with a zero on each side.

    Args:
        binary: (C, T) or (T,) array of 0/1.

    Returns:
        ``rows, starts, ends`` (each (R,)): run r covers frames ``starts[r]:ends[r]`` of row ``rows[r]``
        (end exclusive), sorted by row then start.
    """
    b = _as_binary(binary).astype(np.int8)  # (C, T)
    edges = np.diff(np.pad(b, ((0, 0), (1, 1))), axis=1)  # (C, T+1): +1 at a start, -1 after an end
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # same row order; starts and ends alternate within a row
    return rows, starts, ends


def runs_to_mask(shape: tuple[int, int], rows: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The inverse of :func:`find_runs`: a (C, T) bool mask that is True inside the given runs.

    +1 at each start and -1 at each end of a (C, T+1) array, then a cumulative sum along time; no loop.
    """
    delta = np.zeros((shape[0], shape[1] + 1), dtype=np.int64)  # (C, T+1)
    np.add.at(delta, (rows, starts), 1)
    np.add.at(delta, (rows, ends), -1)
    return np.cumsum(delta, axis=1)[:, :-1] > 0  # (C, T)


def fill_gaps(binary: np.ndarray, max_gap: int) -> np.ndarray:
    """Set to 1 every gap of at most ``max_gap`` frames that lies *between* two events of the same row.

    The exercise's loop also fills a short stretch of zeros at the very start of the clip (it treats the
    frames before the first event as a gap); here only interior gaps are filled.

    Returns:
        (C, T) bool.
    """
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    b = _as_binary(binary)
    rows, starts, ends = find_runs(~b)  # runs of zeros
    interior = (starts > 0) & (ends < b.shape[1]) & (ends - starts <= max_gap)
    return b | runs_to_mask(b.shape, rows[interior], starts[interior], ends[interior])


def remove_short(binary: np.ndarray, min_frames: int) -> np.ndarray:
    """Set to 0 every event shorter than ``min_frames`` frames. Returns (C, T) bool."""
    if min_frames < 1:
        raise ValueError(f"min_frames must be >= 1, got {min_frames}")
    b = _as_binary(binary)
    rows, starts, ends = find_runs(b)
    short = ends - starts < min_frames
    return b & ~runs_to_mask(b.shape, rows[short], starts[short], ends[short])


def extract_events(binary: np.ndarray, classes: Sequence[str] = SED_CLASSES) -> list[tuple[str, int, int]]:
    """Events as ``(class, start_frame, end_frame)`` (end exclusive), sorted by start, then class order."""
    b = _as_binary(binary)
    if len(classes) != b.shape[0]:
        raise ValueError(f"{len(classes)} class names for {b.shape[0]} rows of binary")
    rows, starts, ends = find_runs(b)
    order = np.lexsort((rows, starts))
    return [(classes[rows[i]], int(starts[i]), int(ends[i])) for i in order]


def postprocess(
    probs: np.ndarray, threshold: float = 0.5, max_gap: int = 5, min_frames: int = 8
) -> dict[str, np.ndarray]:
    """The whole pipeline; returns every stage: ``{'threshold', 'gap_fill', 'min_duration'}`` -> (C, T) bool."""
    stages = {"threshold": binarize(probs, threshold)}
    stages["gap_fill"] = fill_gaps(stages["threshold"], max_gap)
    stages["min_duration"] = remove_short(stages["gap_fill"], min_frames)
    return stages


def events_to_binary(
    events: Sequence[tuple[str, int, int]], n_frames: int, classes: Sequence[str] = SED_CLASSES
) -> np.ndarray:
    """(C, T) bool activity of a list of ``(class, start, end)`` events (the inverse of extract_events)."""
    out = np.zeros((len(classes), n_frames), dtype=bool)
    for name, s, e in events:
        if name not in classes:
            raise ValueError(f"unknown class {name!r}; classes are {tuple(classes)}")
        if not 0 <= s < e <= n_frames:
            raise ValueError(f"event {name} [{s}, {e}) does not fit in {n_frames} frames")
        out[list(classes).index(name), s:e] = True
    return out


LESSON_EVENTS = (("Speech", 20, 120), ("Music", 50, 250), ("Dog", 40, 55), ("Dog", 100, 110), ("Dog", 200, 215))


def sed_predictions(
    rng: np.random.Generator,
    events: Sequence[tuple[str, int, int]] = LESSON_EVENTS,
    n_frames: int = 312,
    dropouts: Sequence[tuple[str, int, int]] = (),
    blips: Sequence[tuple[str, int, int]] = (),
    noise: float = 0.15,
    boost: float = 0.75,
) -> np.ndarray:
    """Synthetic frame probabilities: U(0, noise) background, ``+ boost`` inside each event, minus ``boost``
    inside each dropout (a false gap), ``+ boost`` inside each blip (a false detection); clipped to [0, 1].

    The exercise's default: 10 s at 16 kHz with hop 512 -> 312 frames, five events, no dropouts or blips.

    Returns:
        (len(SED_CLASSES), n_frames) float64.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    p = rng.uniform(0.0, noise, size=(len(SED_CLASSES), n_frames))
    p += boost * events_to_binary(events, n_frames)
    p += boost * events_to_binary(blips, n_frames)
    p -= boost * events_to_binary(dropouts, n_frames)
    return np.clip(p, 0.0, 1.0)


def plot_event_stages(stages: dict[str, np.ndarray], classes: Sequence[str] = SED_CLASSES, frame_s: float = 512 / 16000,
                      truth: np.ndarray | None = None):
    """One timeline per stage (one lane per class), optionally with the true events drawn behind."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(stages), 1, figsize=(8, 0.9 + 0.55 * len(classes) * len(stages)), sharex=True, dpi=80)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (label, b) in zip(np.atleast_1d(axes), stages.items()):
        if truth is not None:
            rows, s, e = find_runs(truth)
            ax.barh(rows, (e - s) * frame_s, left=s * frame_s, height=0.8, color="0.85", label="truth")
        rows, s, e = find_runs(b)
        ax.barh(rows, (e - s) * frame_s, left=s * frame_s, height=0.45, color=[colours[r % 10] for r in rows])
        ax.set_yticks(range(len(classes)), classes)
        ax.set_ylim(-0.6, len(classes) - 0.4)
        ax.set_xlim(0, b.shape[1] * frame_s)
        ax.invert_yaxis()
        ax.set_title(f"{label}: {len(s)} events", fontsize=9, loc="left")
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.tight_layout()
    return fig
