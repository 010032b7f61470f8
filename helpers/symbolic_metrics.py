"""Symbolic metrics of generated music on a :class:`~helpers.data.Piece`, and how far a generator's distribution of a
metric lies from real music's.

================================  ==========================================================================
part                              what it computes (and where it comes from)
================================  ==========================================================================
symbolic metrics on a ``Piece``   MusPy's definitions (Dong et al. 2020) + the lesson's ones: pitch-class
                                  histogram and entropy (:mod:`helpers.pitch`), scale consistency, polyphony,
                                  empty beats, groove, intervals, rhythm; :func:`symbolic_metrics`,
                                  :func:`metric_table`
:func:`distribution_distance`     overlapped area and KL of kernel density estimates (Yang & Lerch 2020)
================================  ==========================================================================

NaN, not a crash, where a metric is undefined (a piece without notes), as MusPy does.

Notebook: 06_evaluation.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .data import Piece
from .pitch import pitch_class_counts
from .pitch import pitch_class_histogram as _pitch_class_shares


# Symbolic metrics on a Piece (times in quarter notes; a "beat" is a quarter note, as in MusPy)
_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)  # C major; natural minor scales are its rotations
_NAN = float("nan")


def _entropy_bits(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return _NAN
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: no "-0.0" for a single bin


def pitch_class_histogram(piece: Piece) -> np.ndarray:
    """Share of notes on each pitch class C, C#, ..., B: (12,), summing to 1 (all NaN when there are no notes).

    Counts notes, not their durations (as the lesson and MusPy do).

    Notebook: 06_evaluation.ipynb.
    Reference: the lesson's ``pitch_class_histogram``; Yang & Lerch 2020, Sec. 3.1 ("PCH").
    """
    return _pitch_class_shares(piece.pitches)  # helpers.pitch: the one definition


def pitch_class_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the pitch-class histogram: 0 for one pitch class, log2(12) for all equally.

    Same as MusPy's ``pitch_class_entropy``. NaN without notes.

    Reference: Dong et al. 2020 (MusPy), Sec. 5; Wu & Yang 2020, Sec. 3.
    """
    return _entropy_bits(pitch_class_counts(piece.pitches))


def pitch_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the 128-bin pitch histogram (MusPy's ``pitch_entropy``). NaN without notes."""
    return _entropy_bits(np.bincount(piece.pitches, minlength=128).astype(np.float64))


def pitch_range(piece: Piece) -> float:
    """Highest minus lowest pitch, in semitones. NaN without notes (MusPy returns 0 there)."""
    p = piece.pitches
    return float(p.max() - p.min()) if len(p) else _NAN


def n_pitches_used(piece: Piece) -> int:
    """Number of distinct MIDI pitches (MusPy's ``n_pitches_used``)."""
    return int(len(np.unique(piece.pitches)))


def n_pitch_classes_used(piece: Piece) -> int:
    """Number of distinct pitch classes (MusPy's ``n_pitch_classes_used``)."""
    return int(len(np.unique(piece.pitches % 12)))


def pitch_in_scale_rate(piece: Piece, root: int, mode: str = "major") -> float:
    """Share of notes whose pitch class is in the major or natural-minor scale on ``root`` (0 = C). NaN without notes.

    Same as MusPy's ``pitch_in_scale_rate``.

    Reference: Dong et al. 2018 (MuseGAN), Sec. 5; Dong et al. 2020 (MusPy), Sec. 5.
    """
    if mode not in ("major", "minor"):
        raise ValueError(f"pitch_in_scale_rate: mode must be 'major' or 'minor', got {mode!r}")
    scale = np.roll(_MAJOR, int(root) + (3 if mode == "minor" else 0))  # A minor = C major rolled: root + 3
    p = piece.pitches
    return float(scale[p % 12].mean()) if len(p) else _NAN


def scale_consistency(piece: Piece) -> float:
    """Largest :func:`pitch_in_scale_rate` over the 24 major and minor scales; 1 for music in one key.

    Same as MusPy's ``scale_consistency`` (its natural minor scales hold the same pitch classes as the major
    ones, so the maximum over 12 major scales is the same number). NaN without notes.

    Reference: Mogren 2016 (C-RNN-GAN), Sec. 4; Dong et al. 2020 (MusPy), Sec. 5.
    """
    p = piece.pitches
    if not len(p):
        return _NAN
    counts = pitch_class_counts(p)  # (12,)
    in_scale = np.array([counts[np.roll(_MAJOR, r)].sum() for r in range(12)])  # (12,) notes in each major scale
    return float(in_scale.max() / len(p))


def _union_intervals(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge overlapping or touching intervals [start, end) into disjoint ones."""
    order = np.argsort(start, kind="stable")
    s, e = start[order], end[order]
    reach = np.maximum.accumulate(e)  # furthest end so far
    new = np.r_[True, s[1:] > reach[:-1]]  # a gap before this interval starts a new group
    return s[new], np.maximum.reduceat(e, np.flatnonzero(new))


def _sounding_counts(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """Segments between consecutive note boundaries, and how many distinct pitches sound in each.

    Returns ``(lengths (S,), counts (S,))``. A pitch held by two voices at once counts once (as in a piano roll).
    Exact in time: no grid, so off-grid timing (triplets, performances) is measured as played.
    """
    n = piece.notes
    pitch, onset = np.asarray(n["pitch"]), np.asarray(n["onset"])
    offset = onset + np.asarray(n["duration"])
    starts, ends = [], []
    for p in np.unique(pitch):
        s, e = _union_intervals(onset[pitch == p], offset[pitch == p])
        starts.append(s)
        ends.append(e)
    s, e = np.concatenate(starts), np.concatenate(ends)
    times, inverse = np.unique(np.r_[s, e], return_inverse=True)  # (K,)
    delta = np.zeros(len(times))
    np.add.at(delta, inverse, np.r_[np.ones(len(s)), -np.ones(len(e))])
    counts = np.cumsum(delta)[:-1]  # (K-1,) pitches sounding on [times[k], times[k+1])
    return np.diff(times), np.rint(counts).astype(np.int64)


def polyphony(piece: Piece) -> float:
    """Mean number of distinct pitches sounding, over the time when at least one sounds.

    ``sum_t count(t) dt / sum_{count(t) > 0} dt``: 1 for a melody, 4 for a four-part chorale with no rests.
    MusPy's definition, measured exactly in continuous time (MusPy counts piano-roll steps; the two agree when
    every note starts and ends on the grid). NaN without notes.

    Reference: Dong et al. 2020 (MusPy), Sec. 5 (``polyphony``).
    """
    if not len(piece):
        return _NAN
    lengths, counts = _sounding_counts(piece)
    return float((lengths * counts).sum() / lengths[counts > 0].sum())


def polyphony_rate(piece: Piece, threshold: int = 2) -> float:
    """Share of the piece's time span [0, end) during which at least ``threshold`` distinct pitches sound.

    MusPy's ``polyphony_rate`` counts steps with *more than* ``threshold`` pitches despite its docstring ("multiple
    pitches"); ours counts ``>= threshold``, so the default 2 means "two or more". NaN without notes.

    Reference: Dong et al. 2018 (MuseGAN), Sec. 5; Dong et al. 2020 (MusPy), Sec. 5.
    """
    if not len(piece):
        return _NAN
    lengths, counts = _sounding_counts(piece)
    return float(lengths[counts >= threshold].sum() / piece.duration_quarters)


def empty_beat_rate(piece: Piece) -> float:
    """Share of beats (quarter notes ``[b, b+1)`` from 0 to the end of the last note) in which no note sounds.

    MusPy counts ``end // resolution + 1`` beats and marks every beat from a note's start to its end *inclusive*,
    so a note ending exactly on a beat marks the next beat too; ours marks the beats a note actually overlaps.
    NaN without notes.

    Reference: Dong et al. 2018 (Pypianoroll); Dong et al. 2020 (MusPy), Sec. 5.
    """
    if not len(piece):
        return _NAN
    n_beats = int(math.ceil(piece.duration_quarters - 1e-9))
    onset = np.asarray(piece.notes["onset"])
    offset = onset + np.asarray(piece.notes["duration"])
    first = np.floor(onset + 1e-9).astype(int)  # first beat a note overlaps
    last = np.ceil(offset - 1e-9).astype(int) - 1  # last beat it overlaps
    cover = np.zeros(n_beats + 1, np.int64)
    np.add.at(cover, first, 1)
    np.add.at(cover, last + 1, -1)
    occupied = np.cumsum(cover)[:n_beats] > 0
    return float(1.0 - occupied.mean())


def groove_consistency(piece: Piece, steps_per_quarter: int = 4) -> float:
    """One minus the mean Hamming distance between the onset patterns of neighbouring bars, per grid step.

    .. math:: GC = 1 - \\frac{1}{T-1} \\sum_{i=1}^{T-1} \\frac{d(G_i, G_{i+1})}{R}

    ``G_i``: binary onset pattern of bar i on a grid of ``steps_per_quarter`` (onsets rounded to it), ``R``
    steps per bar (from ``piece.time_signature``), ``T = ceil(end / R)`` bars counted from time 0 (a pickup shifts
    every bar line; MusPy does the same). MusPy counts ``end // R + 1`` bars, one empty bar too many when the
    piece ends on a bar line. NaN with fewer than two bars or no notes. 1: every bar has the same rhythm.

    Reference: Wu & Yang 2020 (Jazz Transformer), Sec. 3; Dong et al. 2020 (MusPy), Sec. 5.
    """
    from .representations import bar_steps

    if not len(piece):
        return _NAN
    R = bar_steps(piece.time_signature, steps_per_quarter)
    steps = np.rint(np.asarray(piece.notes["onset"]) * steps_per_quarter).astype(np.int64)
    T = int(math.ceil(piece.duration_quarters * steps_per_quarter / R - 1e-9))
    T = max(T, int(steps.max()) // R + 1)
    if T < 2:
        return _NAN
    G = np.zeros((T, R), bool)  # (T, R)
    G[steps // R, steps % R] = True
    return float(1.0 - np.count_nonzero(G[:-1] != G[1:]) / (R * (T - 1)))


def interval_histogram(piece: Piece, max_interval: int = 12) -> np.ndarray:
    """Share of melodic intervals (semitones, next note minus this one, within each voice) per size.

    Returns (2 * max_interval + 1,): entry ``k`` is the share of intervals equal to ``k - max_interval``;
    larger leaps are counted in the two end bins. Notes of a voice are taken in onset order (two notes of one
    voice starting together, a chord, give an interval between them). All NaN when no voice has two notes.

    Notebook: 06_evaluation.ipynb.
    Reference: Yang & Lerch 2020, Sec. 3.1 ("pitch interval", PI).
    """
    diffs = []
    for v in np.unique(piece.notes["voice"]):
        p = np.asarray(piece.notes["pitch"][piece.notes["voice"] == v], dtype=np.int64)  # in onset order
        diffs.append(np.diff(p))
    d = np.concatenate(diffs) if diffs else np.zeros(0, np.int64)
    if not len(d):
        return np.full(2 * max_interval + 1, np.nan)
    counts = np.bincount(np.clip(d, -max_interval, max_interval) + max_interval, minlength=2 * max_interval + 1)
    return counts / counts.sum()


def harmonic_consistency(piece: Piece, window: int = 8) -> float:
    """The lesson's harmonic consistency: mean over windows of ``window`` consecutive notes of the largest share
    of them in one major scale.

    Notes are taken in onset order (all voices). Differs from the lesson in two ways: every window is used
    (the lesson's ``range(len - window)`` skips the last one), and a piece with fewer than ``window`` notes
    gives NaN (the lesson returns 0.0, which reads as "atonal").

    Notebook: 06_evaluation.ipynb.
    Reference: the lesson's ``MusicEvaluator.harmonic_consistency``.
    """
    p = piece.pitches % 12
    if len(p) < window or window < 1:
        return _NAN
    onehot = np.eye(12, dtype=np.int64)[p]  # (N, 12)
    csum = np.vstack([np.zeros(12, np.int64), np.cumsum(onehot, axis=0)])  # (N+1, 12)
    win = csum[window:] - csum[:-window]  # (N - window + 1, 12) pitch-class counts per window
    scales = np.stack([np.roll(_MAJOR, r) for r in range(12)]).astype(np.int64)  # (12 roots, 12 pcs)
    best = (win @ scales.T).max(axis=1)  # (W,) notes in the best major scale
    return float((best / window).mean())


def rhythmic_regularity(piece: Piece) -> float:
    """The lesson's rhythmic regularity: ``1 - min(CV, 1)`` of the inter-onset intervals.

    ``CV = std(IOI) / mean(IOI)`` over the gaps between distinct onset times (a chord is one onset). 1 for an
    even pulse, towards 0 for irregular rhythm. NaN with fewer than three distinct onsets (the lesson: 0.0).
    See :func:`on_grid_rate` for a grid-based alternative.

    Notebook: 06_evaluation.ipynb.
    Reference: the lesson's ``MusicEvaluator.rhythmic_regularity``.
    """
    onsets = np.unique(np.round(np.asarray(piece.notes["onset"]), 9))
    if len(onsets) < 3:
        return _NAN
    ioi = np.diff(onsets)
    return float(1.0 - min(ioi.std() / ioi.mean(), 1.0))


def on_grid_rate(piece: Piece, steps_per_quarter: int = 4, tol: float = 1e-6) -> float:
    """Share of notes whose onset lies on the grid of ``steps_per_quarter`` (default: 16th notes).

    1 for quantised music; triplets and performed timing lower it. NaN without notes.

    Notebook: 06_evaluation.ipynb.
    """
    if not len(piece):
        return _NAN
    x = np.asarray(piece.notes["onset"]) * steps_per_quarter
    return float(np.mean(np.abs(x - np.rint(x)) <= tol * steps_per_quarter))


SCALAR_METRICS: dict[str, Callable[[Piece], float]] = {
    "pitch_class_entropy": pitch_class_entropy,
    "pitch_entropy": pitch_entropy,
    "pitch_range": pitch_range,
    "n_pitch_classes_used": n_pitch_classes_used,
    "scale_consistency": scale_consistency,
    "harmonic_consistency": harmonic_consistency,
    "polyphony": polyphony,
    "polyphony_rate": polyphony_rate,
    "empty_beat_rate": empty_beat_rate,
    "groove_consistency": groove_consistency,
    "rhythmic_regularity": rhythmic_regularity,
    "on_grid_rate": on_grid_rate,
}


def symbolic_metrics(piece: Piece) -> dict[str, float]:
    """Every scalar symbolic metric of one piece (``SCALAR_METRICS``), by name."""
    return {name: float(fn(piece)) for name, fn in SCALAR_METRICS.items()}


def metric_table(pieces: Sequence[Piece]) -> dict[str, np.ndarray]:
    """``{metric name: (len(pieces),) values}`` for a set of pieces (NaN where a metric is undefined)."""
    rows = [symbolic_metrics(p) for p in pieces]
    return {name: np.array([r[name] for r in rows]) for name in SCALAR_METRICS}


# How far a generator's metric distribution is from real music's
@dataclass(frozen=True)
class DistributionDistance:
    """Overlapped area (1: same distribution, 0: disjoint) and KL(real || generated) in nats of two KDEs."""

    overlap: float
    kl: float
    n_real: int
    n_generated: int

    def __repr__(self) -> str:
        return f"DistributionDistance(OA={self.overlap:.3f}, KL={self.kl:.3f} nats, n_real={self.n_real}, n_gen={self.n_generated})"


def _kde(x: np.ndarray, data: np.ndarray, h: float) -> np.ndarray:
    z = (x[:, None] - data[None, :]) / h  # (G, n)
    return np.exp(-0.5 * z**2).sum(axis=1) / (len(data) * h * np.sqrt(2 * np.pi))


def distribution_distance(real, generated, n_grid: int = 1024, eps: float = 1e-12) -> DistributionDistance:
    """Compare a generator's per-piece values of one metric with real music's, by kernel density estimates.

    Each sample gets a Gaussian KDE with Scott's bandwidth ``h = std * n^(-1/5)``, floored at 1% of the pooled
    range (a metric that is constant in one set, such as scale consistency 1.0, still gets a density). On a grid
    covering both sets +- 4 bandwidths: ``OA = integral min(p, q)``, ``KL = integral p log(p / (q + eps))``.
    NaN values (a metric undefined for a piece) are dropped. Two identical constant samples give OA 1, KL 0.

    Yang & Lerch apply the same two measures to the distributions of pairwise distances (intra-set of the
    real data against inter-set); here they are applied to the metric values directly, which is what the
    leaderboard needs and reads more easily.

    Raises:
        ValueError: if either sample has fewer than 2 finite values.

    Notebook: 06_evaluation.ipynb.
    Reference: Yang & Lerch 2020, "On the evaluation of generative models in music", Sec. 4 (KDE, OA, KL).
    """
    samples = []
    for what, x in (("real", real), ("generated", generated)):
        x = np.asarray(x, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if len(x) < 2:
            raise ValueError(f"distribution_distance: '{what}' has {len(x)} finite values; need at least 2")
        samples.append(x)
    r, g = samples
    pooled = np.r_[r, g]
    span = float(pooled.max() - pooled.min())
    if span == 0.0:  # both sets are the same constant
        return DistributionDistance(1.0, 0.0, len(r), len(g))
    floor = 0.01 * span
    hr = max(float(r.std(ddof=1)) * len(r) ** -0.2, floor)
    hg = max(float(g.std(ddof=1)) * len(g) ** -0.2, floor)
    grid = np.linspace(pooled.min() - 4 * max(hr, hg), pooled.max() + 4 * max(hr, hg), n_grid)  # (G,)
    p, q = _kde(grid, r, hr), _kde(grid, g, hg)
    overlap = float(np.trapezoid(np.minimum(p, q), grid))
    kl = float(np.trapezoid(p * np.log((p + eps) / (q + eps)), grid))
    return DistributionDistance(min(overlap, 1.0), max(kl, 0.0), len(r), len(g))
