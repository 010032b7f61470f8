"""helpers.chorale_stats: voice-leading statistics on hand-made chorales with known answers, and on Bach."""
import numpy as np
import pytest

from helpers import chorale_stats as cs
from helpers.data import load_chorales
from helpers.markov import CorpusIndex
from helpers.representations import ChoraleGrid

GRID = ChoraleGrid("repeat")


def tokens_of(frames):
    """(T, 4) MIDI pitches (-1 = rest) -> grid tokens."""
    f = np.asarray(frames)
    return np.where(f < 0, 0, f - GRID.low + 1).ravel()


def steps(chord, n):
    return [list(chord)] * n


def test_midi_frames_round_trip():
    f = np.array([[67, 64, 60, 48], [69, -1, 60, 50]])
    np.testing.assert_array_equal(cs.midi_frames(tokens_of(f)), f)


def test_hold_stats_counts_held_steps():
    f = np.array(steps((67, 64, 60, 48), 8) + steps((69, 64, 60, 48), 4))  # 8 steps one chord, then soprano moves
    h = cs.hold_stats(f)
    assert h["still"] == pytest.approx(10 / 11)
    assert h["chord_qn"] == 2.0 and h["soprano_qn"] == 2.0
    with pytest.raises(ValueError, match="shape"):
        cs.hold_stats(f[:1])


def test_parallel_fifth_counted_once_among_the_motions():
    # S and B move up a whole tone, a fifth apart before and after (G4/C3 -> A4/D3); A and T hold.
    f = np.array(steps((67, 64, 60, 48), 4) + steps((69, 64, 60, 50), 4))
    v = cs.voice_leading_stats(f)
    assert v["motions"] == 5  # every pair except A-T has a voice that moves
    assert v["parallel_fifths"] == pytest.approx(100 / 5)
    assert v["parallel_octaves"] == 0
    # the same fifths reached by contrary motion are not parallel
    g = np.array(steps((67, 64, 60, 48), 4) + steps((74, 64, 60, 43), 4))
    assert cs.voice_leading_stats(g)["parallel_fifths"] == 0


def test_parallel_octave_and_crossing():
    f = np.array(steps((72, 64, 55, 48), 2) + steps((74, 65, 55, 50), 2))  # S-B octaves C -> D, same direction
    v = cs.voice_leading_stats(f)
    assert v["parallel_octaves"] > 0 and v["crossings"] == 0
    crossed = np.array(steps((64, 67, 55, 48), 2))  # alto above soprano
    assert cs.voice_leading_stats(crossed)["crossings"] == pytest.approx(100.0)
    assert cs.voice_leading_stats(f)["range_S"] == 2 and cs.voice_leading_stats(f)["range_B"] == 2


def test_authentic_cadence_at_a_long_chord():
    dominant, tonic = (67, 62, 59, 43), (72, 64, 55, 48)  # G major -> C major, bass G2 -> C3 (a fourth up)
    f = np.array(steps(dominant, 4) + steps(tonic, 8))
    c = cs.cadence_stats(f)
    assert c["phrase_ends"] == 1 and c["cadence_share"] == 1.0
    # the bass arriving by step (F -> C in the bass, a plagal IV-I, counts; D -> C does not)
    plagal = np.array(steps((69, 65, 60, 41), 4) + steps(tonic, 8))
    step = np.array(steps((71, 65, 62, 50), 4) + steps(tonic, 8))
    assert cs.cadence_stats(plagal)["cadence_share"] == 1.0 and cs.cadence_stats(step)["cadence_share"] == 0.0


def test_best_key_finds_c_major_and_a_flat_histogram_is_far():
    scale = np.array([[60 + d, 60 + d, 48 + d, 36 + d] for d in (0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0)])
    hist = cs.pitch_class_histogram(scale)
    tonic, mode, r = cs.best_key(hist)
    assert (tonic, mode) == (0, "major") and r > 0.7
    chromatic = np.array([[60 + d] * 4 for d in range(12)])
    assert cs.key_profile_distance(chromatic) > cs.key_profile_distance(scale)
    with pytest.raises(ValueError, match="rests"):
        cs.pitch_class_histogram(np.full((4, 4), -1))


def test_bach_against_random_chorales():
    valid = [GRID.encode(p) for p in load_chorales("valid")[:12]]
    rng = np.random.default_rng(0)
    noise = [rng.integers(1, GRID.vocab_size, 512) for _ in range(12)]
    train = CorpusIndex([GRID.encode(p) for p in load_chorales("train")[:40]])
    table = cs.statistics_table({"bach": valid, "noise": noise}, GRID, index=train)
    bach, rand = table["bach"], table["noise"]
    assert bach["n"] == 12 and bach["parallel_fifths"] + bach["parallel_octaves"] < rand["parallel_fifths"] + rand["parallel_octaves"]
    assert bach["crossings"] < rand["crossings"] and bach["key_distance"] < rand["key_distance"]
    assert bach["still"] > 0.3 > rand["still"] and bach["cadence_share"] > 0.3
    assert 0 < bach["copy_qn"] and rand["copy_qn"] < 1
    text = cs.format_table(table)
    assert "bach" in text and "par. 5ths" in text
    with pytest.raises(ValueError, match="no sequences"):
        cs.statistics_table({"empty": []})


def test_copy_stats_finds_a_transposed_stretch_and_where_it_starts():
    from helpers.chorale import copy_stats

    train = [GRID.encode(p) for p in load_chorales("train")[:5]]
    index = CorpusIndex(train)
    rng = np.random.default_rng(0)
    piece = train[2][40:104].copy()  # 64 tokens of a training chorale ...
    moved = np.where(piece > 0, piece + 2, 0)  # ... two semitones up
    noise = rng.integers(8, 36, 20)  # every transposition of the query stays in range
    query = np.concatenate([noise, moved, noise[:8]])
    c = copy_stats(index, query, n=64)
    assert c["longest"] >= 64 and c["start"] <= 20 < c["start"] + c["longest"]
    assert copy_stats(index, query, n=64, shifts=[0])["longest"] < 64  # not found without transposing
