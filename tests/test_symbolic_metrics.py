"""helpers.symbolic_metrics: MusPy-style metrics on known pieces, and distribution distances."""
import math

import numpy as np
import pytest

from helpers import symbolic_metrics
from helpers.data import Piece, make_notes, piece_from_notes


# --- symbolic metrics -----------------------------------------------------------------------------------
def _melody(pitches, onsets=None, dur=1.0, **kw):
    onsets = range(len(pitches)) if onsets is None else onsets
    return piece_from_notes([(p, o, dur) for p, o in zip(pitches, onsets)], **kw)


C_MAJOR = [60, 62, 64, 65, 67, 69, 71]


def test_c_major_scale():
    p = _melody(C_MAJOR)
    assert symbolic_metrics.scale_consistency(p) == 1.0
    assert symbolic_metrics.pitch_in_scale_rate(p, 0, "major") == 1.0 and symbolic_metrics.pitch_in_scale_rate(p, 9, "minor") == 1.0
    assert symbolic_metrics.pitch_in_scale_rate(p, 1, "major") == pytest.approx(2 / 7)  # C# major holds only F and C
    assert symbolic_metrics.pitch_class_entropy(p) == pytest.approx(np.log2(7))
    assert symbolic_metrics.pitch_range(p) == 11 and symbolic_metrics.n_pitch_classes_used(p) == 7
    assert symbolic_metrics.polyphony(p) == 1.0 and symbolic_metrics.polyphony_rate(p) == 0.0 and symbolic_metrics.empty_beat_rate(p) == 0.0
    hist = symbolic_metrics.pitch_class_histogram(p)
    assert hist.sum() == pytest.approx(1) and hist[1] == 0 and hist[0] == pytest.approx(1 / 7)


def test_single_note_and_empty_piece():
    one = _melody([67])
    assert symbolic_metrics.pitch_class_entropy(one) == 0.0 and symbolic_metrics.pitch_entropy(one) == 0.0 and symbolic_metrics.pitch_range(one) == 0
    assert symbolic_metrics.scale_consistency(one) == 1.0 and symbolic_metrics.polyphony(one) == 1.0
    for undefined in (symbolic_metrics.harmonic_consistency, symbolic_metrics.rhythmic_regularity, symbolic_metrics.groove_consistency):
        assert math.isnan(undefined(one))
    empty = Piece("empty", make_notes([], [], []))
    values = symbolic_metrics.symbolic_metrics(empty)
    assert all(math.isnan(v) for k, v in values.items() if k != "n_pitch_classes_used")
    assert np.isnan(symbolic_metrics.pitch_class_histogram(empty)).all() and np.isnan(symbolic_metrics.interval_histogram(empty)).all()
    table = symbolic_metrics.metric_table([one, empty])
    assert table["pitch_range"][0] == 0 and math.isnan(table["pitch_range"][1])


def test_polyphony_counts_distinct_pitches_over_sounding_time():
    # beat 0: C-E-G; beat 1: C; beat 2: rest; beat 3: E, played by two voices (counts once)
    p = piece_from_notes([(60, 0, 1, 80, 0), (64, 0, 1, 80, 1), (67, 0, 1, 80, 2), (60, 1, 1, 80, 0),
                          (64, 3, 1, 80, 0), (64, 3, 1, 80, 1)])
    assert symbolic_metrics.polyphony(p) == pytest.approx((3 + 1 + 1) / 3)
    assert symbolic_metrics.polyphony_rate(p, 2) == pytest.approx(1 / 4) and symbolic_metrics.polyphony_rate(p, 1) == pytest.approx(3 / 4)
    assert symbolic_metrics.empty_beat_rate(p) == pytest.approx(1 / 4)


def _roll_polyphony(piece, spq):
    """MusPy's definition on a piano roll (the plain reference for grid-aligned notes)."""
    T = int(round(piece.duration_quarters * spq))
    roll = np.zeros((T, 128), bool)
    for n in piece.note_list():
        roll[int(round(n.onset * spq)) : int(round(n.offset * spq)), n.pitch] = True
    counts = roll.sum(1)
    return counts.sum() / np.count_nonzero(counts), np.count_nonzero(counts >= 2) / T


def test_polyphony_equals_the_piano_roll_definition_on_grid_aligned_notes():
    rng = np.random.default_rng(10)
    for _ in range(20):
        k = int(rng.integers(1, 30))
        notes = [(int(rng.integers(55, 65)), rng.integers(0, 32) / 4, rng.integers(1, 9) / 4, 80,
                  int(rng.integers(0, 3))) for _ in range(k)]
        p = piece_from_notes(notes)
        poly, rate = _roll_polyphony(p, 4)
        assert symbolic_metrics.polyphony(p) == pytest.approx(poly) and symbolic_metrics.polyphony_rate(p) == pytest.approx(rate)


def test_empty_beats_use_the_beats_a_note_overlaps():
    p = _melody([60, 62], onsets=[0, 2])  # notes on [0, 1) and [2, 3): beat 1 empty (MusPy would say none)
    assert symbolic_metrics.empty_beat_rate(p) == pytest.approx(1 / 3)
    held = _melody([60, 62], onsets=[0, 2.5], dur=0.75)  # [0, .75), [2.5, 3.25): beats 1 empty of 0..3
    assert symbolic_metrics.empty_beat_rate(held) == pytest.approx(1 / 4)


def test_groove_consistency():
    quarters = [i for i in range(8)]  # two 4/4 bars of quarter notes
    assert symbolic_metrics.groove_consistency(_melody([60] * 8, quarters)) == 1.0
    mixed = [0, 1, 2, 3] + [4 + 0.5 * i for i in range(8)]  # bar 2 in eighths: 4 more onsets of 16 steps
    assert symbolic_metrics.groove_consistency(_melody([60] * 12, mixed, dur=0.5)) == pytest.approx(1 - 4 / 16)
    waltz = _melody([60] * 6, range(6), time_signature="3/4")
    assert symbolic_metrics.groove_consistency(waltz) == 1.0
    assert math.isnan(symbolic_metrics.groove_consistency(_melody([60] * 4)))  # one bar


def test_interval_histogram_stays_within_each_voice():
    p = piece_from_notes([(60, 0, 1, 80, 0), (62, 1, 1, 80, 0), (60, 2, 1, 80, 0), (80, 3, 1, 80, 0),
                          (48, 0, 4, 80, 1)])
    h = symbolic_metrics.interval_histogram(p, max_interval=12)
    assert h.shape == (25,)
    assert h[12 + 2] == pytest.approx(1 / 3) and h[12 - 2] == pytest.approx(1 / 3)
    assert h[24] == pytest.approx(1 / 3)  # +20 counted in the top bin; no interval from voice 1


def _lesson_harmonic_consistency(pitches, window=8, include_last=True):
    major = {0, 2, 4, 5, 7, 9, 11}
    scores = []
    for i in range(len(pitches) - window + (1 if include_last else 0)):
        chunk = pitches[i : i + window]
        best = max(sum(1 for p in chunk if p % 12 in {(r + n) % 12 for n in major}) for r in range(12))
        scores.append(best / window)
    return float(np.mean(scores))


def test_harmonic_consistency():
    assert symbolic_metrics.harmonic_consistency(_melody(C_MAJOR + [72])) == 1.0
    assert symbolic_metrics.harmonic_consistency(_melody(list(range(60, 68)))) == pytest.approx(5 / 8)  # 8 chromatic notes
    rng = np.random.default_rng(11)
    pitches = rng.integers(48, 84, 30).tolist()
    ours = symbolic_metrics.harmonic_consistency(_melody(pitches))
    assert ours == pytest.approx(_lesson_harmonic_consistency(pitches))
    assert ours != pytest.approx(_lesson_harmonic_consistency(pitches, include_last=False))  # the lesson's off-by-one


def test_rhythmic_regularity_and_grid():
    assert symbolic_metrics.rhythmic_regularity(_melody([60] * 5)) == 1.0
    uneven = _melody([60, 62, 64, 65, 67], onsets=[0, 1, 1.5, 2, 3], dur=0.5)
    assert symbolic_metrics.rhythmic_regularity(uneven) == pytest.approx(1 - 0.25 / 0.75)  # IOI 1, .5, .5, 1
    chord = piece_from_notes([(60, 0, 1), (64, 0, 1), (60, 1, 1), (60, 2, 1)])
    assert symbolic_metrics.rhythmic_regularity(chord) == 1.0  # a chord is one onset
    triplets = _melody([60, 62, 64], onsets=[0, 0.25, 1 / 3], dur=0.25)
    assert symbolic_metrics.on_grid_rate(triplets) == pytest.approx(2 / 3)
    assert symbolic_metrics.on_grid_rate(triplets, steps_per_quarter=12) == 1.0


# --- distribution distances ---------------------------------------------------------------------------
def test_distribution_distance():
    rng = np.random.default_rng(12)
    x = rng.standard_normal(300)
    same = symbolic_metrics.distribution_distance(x, x)
    assert same.overlap == pytest.approx(1.0, abs=1e-4) and same.kl == pytest.approx(0.0, abs=1e-9)
    far = symbolic_metrics.distribution_distance(x, x + 100)
    assert far.overlap < 1e-3 and far.kl > 10
    # N(0, 1) vs N(1, 1): OA = 2 Phi(-1/2) = 0.617, KL = 1/2
    shifted = symbolic_metrics.distribution_distance(rng.standard_normal(3000), rng.standard_normal(3000) + 1)
    assert shifted.overlap == pytest.approx(0.617, abs=0.04) and shifted.kl == pytest.approx(0.5, abs=0.12)
    const = symbolic_metrics.distribution_distance([1.0, 1.0, np.nan, 1.0], [1.0, 1.0])
    assert (const.overlap, const.kl, const.n_real) == (1.0, 0.0, 3)
    assert symbolic_metrics.distribution_distance([1.0, 1.0], [0.0, 0.0]).overlap < 0.01
    with pytest.raises(ValueError, match="'generated' has 1 finite"):
        symbolic_metrics.distribution_distance(x, [1.0, np.nan])
