"""Tests of helpers.plots on the Agg backend: the right artists, labels and limits."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from helpers import audio  # noqa: E402
from helpers.data import piece_from_notes, pitch_name  # noqa: E402
from helpers.plots import plot_piano_roll, plot_spectrogram, plot_waveform, quarters_per_bar  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def two_voices(time_signature="3/4", **fields):
    rows = [(72, 0, 1, 80, 0), (74, 1, 1, 80, 0), (76, 2, 4, 80, 0),  # S: 3 notes
            (48, 0, 3, 80, 1), (43, 3, 3, 80, 1)]  # B: 2 notes
    return piece_from_notes(rows, id="duo", voice_names=("S", "B"), time_signature=time_signature, **fields)


def bar_line_positions(ax):
    vertical = [line for line in ax.lines if line.get_xdata()[0] == line.get_xdata()[1]]
    return sorted(round(float(line.get_xdata()[0]), 6) for line in vertical)


def note_bars(ax):
    """(left, width, centre pitch, colour) of every drawn note."""
    out = []
    for coll in ax.collections:
        colour = tuple(coll.get_facecolor()[0])
        for path in coll.get_paths():
            (x0, y0), (x1, y1) = path.vertices.min(axis=0), path.vertices.max(axis=0)
            out.append((round(x0, 6), round(x1 - x0, 6), round((y0 + y1) / 2, 6), colour))
    return sorted(out)


def test_piano_roll_one_bar_per_note_one_colour_per_voice():
    ax = plot_piano_roll(two_voices(), title="duo")
    bars = note_bars(ax)
    assert len(ax.collections) == 2 and len(bars) == 5
    assert len({b[3] for b in bars}) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["S", "B"]
    assert ax.get_title() == "duo" and ax.get_xlabel() == "time (quarter notes)"
    assert ax.get_xlim() == (0.0, 6.0)
    # Each bar sits at its note: left = onset, width = duration, centred on the pitch.
    assert [b[:3] for b in bars] == [(0.0, 1.0, 72.0), (0.0, 3.0, 48.0), (1.0, 1.0, 74.0), (2.0, 4.0, 76.0),
                                     (3.0, 3.0, 43.0)]
    red, blue = to_rgba("tab:red"), to_rgba("tab:blue")
    assert {b[2]: b[3] for b in bars}[72.0] == red and {b[2]: b[3] for b in bars}[43.0] == blue


def test_piano_roll_y_ticks_are_note_names():
    ax = plot_piano_roll(two_voices())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "C4" in labels and "C5" in labels  # range 43..76 labels the Cs
    narrow = piece_from_notes([(60, 0, 1), (62, 1, 1), (67, 2, 1)])
    labels = [t.get_text() for t in plot_piano_roll(narrow).get_yticklabels()]
    assert labels == ["C4", "C#4", "D4", "Eb4", "E4", "F4", "F#4", "G4"]


def test_piano_roll_window_and_bar_lines():
    piece = two_voices("3/4")
    ax = plot_piano_roll(piece, start=2.0, end=5.0)
    assert ax.get_xlim() == (2.0, 5.0)
    # Notes overlapping [2, 5): S 76@2, B 48@0 (held to 3), B 43@3.
    assert len(note_bars(ax)) == 3
    assert bar_line_positions(ax) == [3.0]
    assert bar_line_positions(plot_piano_roll(two_voices("2/2"))) == [0.0, 4.0]
    # A pickup of one quarter moves the bar lines to 1, 4, ...
    pickup = two_voices("3/4", meta={"pickup_quarters": 1.0})
    assert bar_line_positions(plot_piano_roll(pickup)) == [1.0, 4.0]
    assert bar_line_positions(plot_piano_roll(piece, bar_lines=False)) == []


def test_piano_roll_colours_and_errors():
    ax = plot_piano_roll(two_voices(), colors={"S": "black", "B": "gold"})
    assert {b[3] for b in note_bars(ax)} == {to_rgba("black"), to_rgba("gold")}
    with pytest.raises(ValueError, match="1 colours given"):
        plot_piano_roll(two_voices(), colors=["red"])
    with pytest.raises(ValueError, match="must be after start"):
        plot_piano_roll(two_voices(), start=4, end=2)
    with pytest.raises(TypeError, match="Piece"):
        plot_piano_roll(np.zeros(3))
    with pytest.raises(ValueError, match="3/4"):
        quarters_per_bar("three-four")
    assert quarters_per_bar("6/8") == 3.0


def test_piano_roll_draws_into_given_axes():
    fig, axes = plt.subplots(1, 2)
    out = plot_piano_roll(two_voices(), ax=axes[1])
    assert out is axes[1] and len(axes[0].collections) == 0 and len(note_bars(axes[1])) == 5


def test_piano_roll_of_thousands_of_notes_draws_every_note():
    """(Its drawing time is measured in tests/benchmarks/bench_plots.py, not asserted here.)"""
    rows = [(40 + (i * 7) % 40, i * 0.25, 0.5, 80, i % 4) for i in range(8000)]
    piece = piece_from_notes(rows, voice_names=("S", "A", "T", "B"))
    ax = plot_piano_roll(piece)
    ax.figure.canvas.draw()
    assert len(note_bars(ax)) == 8000


def test_waveform_window_and_labels():
    sr = 8000
    y = np.sin(2 * np.pi * 5 * np.arange(2 * sr) / sr).astype(np.float32)
    ax = plot_waveform(y, sr, start=0.5, duration=1.0, title="wave")
    (line,) = ax.lines
    assert len(line.get_xdata()) == sr
    assert line.get_xdata()[0] == pytest.approx(0.5)
    assert ax.get_xlabel() == "time (s)" and ax.get_title() == "wave"
    with pytest.raises(ValueError, match="outside the signal"):
        plot_waveform(y, sr, start=5.0)


def test_spectrogram_image_matches_log_mel():
    sr = 22050
    y = audio.render(two_voices(), "organ", sr=sr)
    ax = plot_spectrogram(y, sr, title="spec", n_mels=64)
    (image,) = ax.images
    expected = audio.log_mel_spectrogram(y, sr, n_mels=64).numpy()
    assert image.get_array().shape == expected.shape == (64, 1 + len(y) // 256)
    assert np.allclose(image.get_array(), expected)
    assert ax.get_xlim()[1] == pytest.approx(expected.shape[1] * 256 / sr)
    assert all(t.get_text().isdigit() for t in ax.get_yticklabels())  # Hz labels
    assert ax.get_title() == "spec"


def test_piano_roll_of_a_free_metre_tune_has_no_bar_lines():
    import matplotlib.pyplot as plt

    from helpers.data import piece_from_notes

    piece = piece_from_notes([(60, 0, 1), (62, 1, 3)], id="free", time_signature="")
    ax = plot_piano_roll(piece)
    assert not [l for l in ax.lines if l.get_xdata()[0] == l.get_xdata()[-1] and l.get_xdata()[0] > 0]
    plt.close("all")


def test_pitch_ticks_name_the_key_not_every_second_semitone():
    from helpers.plots import pitch_ticks

    # A C-major progression spanning C3..C5 (24 semitones): C E G in every octave, never F#/Ab/Bb.
    names = [pitch_name(p) for p in pitch_ticks(48, 72)]
    assert names == ["C3", "E3", "G3", "C4", "E4", "G4", "C5"]
    # The key's tonic triad when the key is known: G major G B D; D minor D F A.
    assert [pitch_name(p) for p in pitch_ticks(55, 74, tonic=7, mode="major")] == ["G3", "B3", "D4", "G4", "B4", "D5"]
    assert [pitch_name(p) for p in pitch_ticks(50, 70, tonic=2, mode="minor")] == ["D3", "F3", "A3", "D4", "F4", "A4"]
    # Narrow: every semitone; wide: every C (or the lowest pitch when there is none).
    assert pitch_ticks(60, 64) == [60, 61, 62, 63, 64]
    assert pitch_ticks(43, 80) == [48, 60, 72] and pitch_ticks(61, 86) == [72, 84]
    with pytest.raises(ValueError, match="p_hi"):
        pitch_ticks(70, 60)
    with pytest.raises(ValueError, match="tonic"):
        pitch_ticks(60, 80, tonic=12)


def test_piano_roll_of_a_c_major_progression_reads_c_major():
    from helpers.exercises import progression_piece

    piece = progression_piece(["I", "IV", "V", "vi", "ii", "V", "I", "I"])  # E4..E5 would be 16 semitones: C60..E76
    ax = plot_piano_roll(piece)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels and not any("#" in n or "b" in n for n in labels), labels
    assert {"C4", "E4", "G4"} <= set(labels)


def test_attention_by_distance_reads_a_planted_head():
    from helpers.plots import attention_by_distance, plot_attention_by_distance

    T = 12
    w = np.zeros((2, T, T))
    for i in range(T):
        w[0, i, max(i - 3, 0)] = 1.0  # head 1: always 3 back (or the first token)
        w[1, i, : i + 1] = 1.0 / (i + 1)  # head 2: uniform over the past
    prof = attention_by_distance(w, max_distance=5)
    assert prof.shape == (2, 6)
    np.testing.assert_allclose(prof[0], [0, 0, 0, 1, 0, 0])
    np.testing.assert_allclose(prof[1], np.mean(1.0 / (np.arange(5, T) + 1)) * np.ones(6))
    np.testing.assert_allclose(attention_by_distance(w[None], 5), prof)  # a batch dimension gives the same
    ax = plot_attention_by_distance(prof, marks=(3,))
    assert ax.get_ylim() == (0.0, 1.0)
    faint = plot_attention_by_distance(prof * 0.05, ymax=None)  # a layer whose weights are all small stays readable
    assert faint.get_ylim()[1] == pytest.approx(1.1 * 0.05 * prof.max())
    assert [l.get_label() for l in ax.get_lines() if l.get_label().startswith("head")] == ["head 1", "head 2"]
    assert "distance" in ax.get_xlabel()
    with pytest.raises(ValueError, match="max_distance"):
        attention_by_distance(w, 12)
    with pytest.raises(ValueError, match="shape"):
        attention_by_distance(np.zeros((3, 4)), 1)


def test_plot_control_accuracy_draws_a_line_and_a_chance_level_per_attribute():
    import matplotlib.pyplot as plt

    from helpers.plots import plot_control_accuracy

    rows = [{"guidance_scale": 0.0, "n": 10, "family": 0.1, "mode": 0.5},
            {"guidance_scale": 3.0, "n": 10, "family": 0.9, "mode": 0.6}]
    ax = plot_control_accuracy(rows, {"family": 0.125, "mode": 0.5, "tempo_band": 1 / 3})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["family", "mode"]  # tempo_band not measured
    assert sorted(round(l.get_ydata()[0], 3) for l in ax.lines if l.get_linestyle() == "--") == [0.125, 0.5]
    plt.close("all")
