"""The Piece/Note API of helpers.data that every module builds on."""
import numpy as np
import pytest

from helpers.data import NOTE_DTYPE, Note, Piece, make_notes, piece_from_notes, pitch_name


def _piece():
    return piece_from_notes(
        [(60, 0, 1, 90, 0), (64, 1, 1, 90, 0), (48, 0, 2, 70, 1)],
        id="t", voice_names=("upper", "lower"), key="C major", tonic=0, mode="major",
    )


def test_notes_are_sorted_by_onset_voice_pitch():
    p = _piece()
    assert p.notes.onset.tolist() == [0, 0, 1]
    assert p.notes.voice.tolist() == [0, 1, 0]
    assert p.duration_quarters == 2.0
    assert p.duration_seconds == pytest.approx(2.0 * 60 / p.qpm)


def test_note_list_and_voice_access():
    p = _piece()
    notes = p.note_list()
    assert all(isinstance(n, Note) for n in notes)
    assert notes[0] == Note(60, 0.0, 1.0, 90, 0, False)
    assert p.voice("lower").pitch.tolist() == [48]
    with pytest.raises(KeyError, match="no voice 'bass'"):
        p.voice("bass")


def test_transpose_moves_pitches_and_key_and_checks_range():
    p = _piece().transpose(7)
    assert sorted(p.pitches.tolist()) == [55, 67, 71]
    assert p.key == "G major" and p.tonic == 7
    with pytest.raises(ValueError, match="outside 0..127"):
        _piece().transpose(70)
    assert len(_piece().transpositions(range(-6, 100))) == 6 + 1 + 63  # -6..63 keep 48..64 inside 0..127


def test_round_trip_through_dict():
    p = _piece()
    q = Piece.from_dict(p.to_dict())
    assert np.array_equal(p.notes, q.notes)
    assert (q.key, q.voice_names, q.tonic) == (p.key, p.voice_names, p.tonic)


def test_slice_quarters_cuts_and_shifts():
    p = piece_from_notes([(60, 0, 4), (62, 2, 4), (64, 5, 1)])
    s = p.slice_quarters(2, 5)
    assert s.notes.onset.tolist() == [0.0]
    assert s.notes.duration.tolist() == [3.0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(pitch=[128], onset=[0], duration=[1]), "pitch=128"),
        (dict(pitch=[60], onset=[-1], duration=[1]), "onset"),
        (dict(pitch=[60], onset=[0], duration=[0]), "duration"),
        (dict(pitch=[60], onset=[0], duration=[1], velocity=[0]), "velocity"),
        (dict(pitch=[60, 62], onset=[0], duration=[1, 1]), "'onset' has 1 values"),
    ],
)
def test_bad_notes_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_notes(**kwargs)


def test_empty_input_and_bad_pieces():
    with pytest.raises(ValueError, match="no notes"):
        piece_from_notes([], id="empty")
    with pytest.raises(TypeError, match="NOTE_DTYPE"):
        Piece(id="x", notes=np.zeros(3))
    with pytest.raises(ValueError, match="voice 1"):
        Piece(id="x", notes=make_notes([60], [0], [1], voice=[1]), voice_names=("only",))
    with pytest.raises(ValueError, match="qpm"):
        Piece(id="x", notes=np.zeros(0, NOTE_DTYPE), qpm=0)


def test_pitch_names():
    assert [pitch_name(p) for p in (60, 69, 61, 21)] == ["C4", "A4", "C#4", "A0"]
