"""SoundFont rendering (helpers.soundfont and its dispatch from helpers.audio.render/play)."""
import numpy as np
import pytest

from helpers import audio, soundfont
from helpers.data import piece_from_notes

SR = 16000


def chorale_like(qpm=120.0):
    """Four voices, two bars of quarter notes, a repeated soprano note (re-struck)."""
    rows = []
    for v, base in enumerate((72, 67, 60, 48)):
        for k in range(8):
            rows.append((base + (k % 3), float(k), 1.0, 80, v))
    rows.append((72, 8.0, 1.0, 80, 0))
    rows.append((72, 9.0, 1.0, 80, 0))  # the same pitch again, right after: released and struck again
    return piece_from_notes(rows, voice_names=("S", "A", "T", "B"), qpm=qpm)


@pytest.mark.parametrize("instrument", ["organ", "flute", "choir", 40, {"S": "oboe", "A": "clarinet", "T": "clarinet", "B": "bassoon"}])
def test_render_is_non_silent_unclipped_and_of_expected_length(instrument):
    piece = chorale_like()
    y = soundfont.render_soundfont(piece, instrument, sr=SR)
    end_seconds = piece.duration_quarters * 60.0 / piece.qpm
    assert y.dtype == np.float32
    assert len(y) == round(end_seconds * SR) + round(soundfont.TAIL_SECONDS * SR)
    assert np.abs(y).max() < 1.0
    assert np.sqrt(np.mean(y**2)) > 0.01  # clearly audible
    # Sound where the notes are: every half second of the piece holds energy.
    for t in np.arange(0, end_seconds - 0.5, 0.5):
        seg = y[int(t * SR) : int((t + 0.5) * SR)]
        assert np.abs(seg).max() > 0.01, f"silence at {t} s"


def test_render_is_deterministic():
    piece = chorale_like()
    a = soundfont.render_soundfont(piece, "organ", sr=SR)
    soundfont.render_soundfont(piece, "piano", sr=SR)  # something else in between
    b = soundfont.render_soundfont(piece, "organ", sr=SR)
    assert np.array_equal(a, b)


def test_sample_rate_and_tempo_set_the_length():
    piece = chorale_like(qpm=120.0)
    y16 = soundfont.render_soundfont(piece, "piano", sr=16000, tail=0.0)
    y32 = soundfont.render_soundfont(piece, "piano", sr=32000, tail=0.0)
    slow = soundfont.render_soundfont(piece, "piano", sr=16000, qpm=60.0, tail=0.0)
    assert len(y16) == 5 * 16000 and len(y32) == 5 * 32000 and len(slow) == 10 * 16000


def test_pitch_is_right():
    """A sustained A4 (69) on the flute: the spectrum peaks near 440 Hz."""
    piece = piece_from_notes([(69, 0.0, 4.0)], qpm=60.0)
    y = soundfont.render_soundfont(piece, "flute", sr=SR, tail=0.0)
    seg = y[SR : 3 * SR] * np.hanning(2 * SR)
    spec = np.abs(np.fft.rfft(seg))
    f = np.fft.rfftfreq(len(seg), 1 / SR)[np.argmax(spec)]
    assert abs(f - 440.0) < 5.0


def test_instruments_differ():
    piece = chorale_like()
    a = soundfont.render_soundfont(piece, "organ", sr=SR)
    b = soundfont.render_soundfont(piece, "guitar", sr=SR)
    assert not np.allclose(a, b, atol=1e-3)


def test_note_events_release_before_restrike():
    ev = soundfont.note_events(chorale_like(), SR, 120.0)
    assert (np.diff(ev[:, 0]) >= 0).all()
    at = ev[ev[:, 0] == int(9 * 0.5 * SR)]  # the repeated soprano note at quarter 9
    rows = [tuple(r) for r in at[:, 1:4].tolist() if r[1] == 0 and r[2] == 72]
    assert rows == [(0, 0, 72), (1, 0, 72)]  # off, then on


def test_family_and_program_lookup():
    assert soundfont.gm_program("flute") == 73 and soundfont.gm_program(19) == 19
    assert soundfont.instrument_family("cello") == "strings"
    assert soundfont.instrument_family("strings") == "strings"
    assert soundfont.instrument_family("choir") == "voice"
    assert soundfont.instrument_family("oboe") == "reed"
    assert soundfont.instrument_family("organ") == "organ"


def test_bad_input_errors_name_the_thing(tmp_path):
    piece = chorale_like()
    with pytest.raises(ValueError, match="unknown General MIDI instrument 'kazoo'.*flute"):
        soundfont.render_soundfont(piece, "kazoo", sr=SR)
    with pytest.raises(ValueError, match="0..127"):
        soundfont.render_soundfont(piece, 128, sr=SR)
    with pytest.raises(FileNotFoundError, match="nowhere.sf2"):
        soundfont.render_soundfont(piece, "organ", sr=SR, soundfont=tmp_path / "nowhere.sf2")
    bad = tmp_path / "broken.sf2"
    bad.write_bytes(b"RIFF" + b"\0" * 100)
    with pytest.raises(ValueError, match="broken.sf2"):
        soundfont.render_soundfont(piece, "organ", sr=SR, soundfont=bad)
    with pytest.raises(ValueError, match="sample rate 12345.*16000"):
        soundfont.render_soundfont(piece, "organ", sr=12345)
    empty = piece.with_notes(piece.notes[:0])
    with pytest.raises(ValueError, match="no notes"):
        soundfont.render_soundfont(empty, "organ", sr=SR)
    with pytest.raises(ValueError, match="no instrument for voice"):
        soundfont.render_soundfont(piece, {"S": "flute"}, sr=SR)


def test_users_own_soundfont_file(tmp_path):
    """A copy of the default font under another name renders the same samples."""
    mine = tmp_path / "my font.sf2"
    mine.write_bytes(soundfont.default_soundfont().read_bytes())
    piece = chorale_like()
    assert np.array_equal(soundfont.render_soundfont(piece, "choir", sr=SR, soundfont=mine),
                          soundfont.render_soundfont(piece, "choir", sr=SR))


def test_audio_render_dispatch():
    piece = chorale_like()
    gm = soundfont.render_soundfont(piece, "organ", sr=SR)
    assert np.array_equal(audio.render(piece, "organ", sr=SR, synth="soundfont"), gm)
    assert np.array_equal(audio.render(piece, 19, sr=SR), gm)  # a program number picks the SoundFont
    assert np.array_equal(audio.render(piece, "flute", sr=SR), soundfont.render_soundfont(piece, "flute", sr=SR))
    additive = audio.render(piece, "organ", sr=SR)  # the additive organ stays the default for its name
    assert len(additive) != len(gm) or not np.array_equal(additive, gm)
    assert audio.choose_synth("organ") == "additive" and audio.choose_synth("choir") == "soundfont"
    with pytest.raises(ValueError, match="additive timbres.*General MIDI names"):
        audio.render(piece, "kazoo", sr=SR)
    player = audio.play(piece, instrument="choir", sr=SR, max_seconds=1.0)
    assert player.data[:4] == b"RIFF"  # a WAV the browser plays
