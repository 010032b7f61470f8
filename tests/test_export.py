"""Tests of helpers.export.save: one call writes MIDI + WAV that read back as the piece, with download links."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.audio import read_wav, render
from helpers.data import NOTE_DTYPE, Piece, piece_from_notes
from helpers.export import Saved, check_name, save
from helpers.midi import read_midi

SR = 16000


def two_voices(qpm: float = 120.0) -> Piece:
    rows = [(72, 0.0, 1.0, 90, 0), (74, 1.0, 0.5, 70, 0), (76, 1.5, 1.5, 100, 0),
            (48, 0.0, 2.0, 60, 1), (43, 2.0, 1.0, 80, 1)]
    return piece_from_notes(rows, voice_names=("melody", "bass"), qpm=qpm)


def test_piece_gives_midi_that_round_trips_and_wav_of_the_rendered_length(tmp_path):
    piece = two_voices()
    saved = save(piece, "tune", folder=tmp_path / "out", sr=SR, instrument="organ")
    assert saved.midi == tmp_path / "out" / "tune.mid" and saved.midi.is_file()
    assert saved.wav == tmp_path / "out" / "tune.wav" and saved.wav.is_file()

    back = read_midi(saved.midi)
    assert back.voice_names == piece.voice_names
    for field in ("pitch", "voice", "velocity"):
        np.testing.assert_array_equal(back.notes[field], piece.notes[field])
    for field in ("onset", "duration"):
        np.testing.assert_allclose(back.notes[field], piece.notes[field], atol=1e-3)
    assert back.qpm == pytest.approx(piece.qpm)

    audio, sr = read_wav(saved.wav)
    expected = render(piece, instrument="organ", sr=SR)
    assert sr == SR
    assert len(audio) == len(expected)  # 3 quarters at 120 qpm = 1.5 s, plus the organ's release
    assert len(audio) > 1.5 * SR
    assert saved.seconds == pytest.approx(len(expected) / SR)
    assert np.max(np.abs(audio)) == pytest.approx(0.9, abs=1e-3)  # normalised like play()
    # the WAV is the render, scaled (16-bit quantisation aside)
    scaled = expected * (0.9 / np.max(np.abs(expected)))
    assert np.max(np.abs(audio - scaled)) < 1e-3


def test_qpm_changes_the_wav_not_the_midi(tmp_path):
    piece = two_voices(qpm=120.0)
    fast = save(piece, "fast", folder=tmp_path, sr=SR, qpm=240.0)
    slow = save(piece, "slow", folder=tmp_path, sr=SR)
    assert fast.seconds < slow.seconds
    assert read_midi(fast.midi).qpm == pytest.approx(120.0)


def test_signal_gives_wav_only(tmp_path):
    t = np.arange(SR // 2) / SR
    signal = 0.5 * np.sin(2 * np.pi * 440 * t)
    saved = save(torch.tensor(signal, dtype=torch.float32), "beep", folder=tmp_path, sr=SR, normalize=False)
    assert saved.midi is None and saved.paths == (tmp_path / "beep.wav",)
    assert not (tmp_path / "beep.mid").exists()
    audio, sr = read_wav(saved.wav)
    assert sr == SR and len(audio) == len(signal)
    np.testing.assert_allclose(audio, signal, atol=1e-4)


def test_links_point_at_the_files_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved = save(two_voices(), "my-tune.v2", sr=SR)  # default folder "outputs", relative
    assert (tmp_path / "outputs" / "my-tune.v2.mid").is_file()
    page = saved._repr_html_()
    assert 'href="outputs/my-tune.v2.mid" download="my-tune.v2.mid"' in page
    assert 'href="outputs/my-tune.v2.wav" download="my-tune.v2.wav"' in page
    assert "outputs/my-tune.v2.wav" in repr(saved)
    assert isinstance(saved, Saved)


def test_saving_again_replaces_the_files(tmp_path):
    first = save(two_voices(), "x", folder=tmp_path, sr=SR)
    n_first = len(read_wav(first.wav)[0])
    again = save(piece_from_notes([(60, 0.0, 0.5, 80, 0)], qpm=120.0), "x", folder=tmp_path, sr=SR)
    assert again.wav == first.wav
    assert len(read_wav(again.wav)[0]) < n_first and len(read_midi(again.midi)) == 1


def test_empty_piece_is_refused_and_nothing_is_written(tmp_path):
    empty = Piece(id="nothing", notes=np.zeros(0, dtype=NOTE_DTYPE))
    with pytest.raises(ValueError, match="'nothing' has no notes"):
        save(empty, "empty", folder=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="non-empty"):
        save(np.zeros(0, dtype=np.float32), "silence", folder=tmp_path)
    with pytest.raises(TypeError, match="Piece or a mono signal"):
        save("tune.mid", "x", folder=tmp_path)


@pytest.mark.parametrize("bad", ["", "../escape", "a/b", "tune.mid", "tune.WAV", " space", "-dash", "x" * 101, "é"])
def test_bad_names_are_refused_with_the_name(bad, tmp_path):
    with pytest.raises(ValueError, match="name"):
        save(two_voices(), bad, folder=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_check_name():
    assert check_name("bach_01-take.2") == "bach_01-take.2"
    with pytest.raises(TypeError, match="string"):
        check_name(3)


def test_a_file_where_the_folder_should_be(tmp_path):
    (tmp_path / "outputs").write_text("not a folder")
    with pytest.raises(ValueError, match="not a folder"):
        save(two_voices(), "x", folder=tmp_path / "outputs")
