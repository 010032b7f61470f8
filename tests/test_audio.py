"""Tests of helpers.audio: the synthesiser, playback, WAV files and log-mel spectrograms."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import audio
from helpers.data import piece_from_notes

SR = 22050
NAMED = ("piano", "organ", "strings", "pluck")


def chorale_like(qpm: float = 90.0):
    """Four voices, eight quarters, some repeated pitches and a held final chord."""
    rows = []
    for v, line in enumerate(([72, 74, 76, 74, 72, 71, 72], [67, 67, 67, 65, 64, 62, 64],
                              [64, 62, 60, 59, 60, 55, 55], [48, 47, 45, 43, 45, 43, 36])):
        for i, p in enumerate(line):
            rows.append((p, float(i), 2.0 if i == len(line) - 1 else 1.0, 80, v))
    return piece_from_notes(rows, voice_names=("S", "A", "T", "B"), qpm=qpm)


def single(pitch=69, seconds=1.0, velocity=100, qpm=60.0):
    return piece_from_notes([(pitch, 0.0, seconds * qpm / 60.0, velocity, 0)], qpm=qpm)


def peak_frequency(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=8 * len(y)))
    return float(np.fft.rfftfreq(8 * len(y), 1.0 / sr)[np.argmax(spec)])


def spectral_centroid(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    return float((freqs * spec).sum() / spec.sum())


def rms(y: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


# --- render -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMED)
def test_render_is_finite_bounded_audible_float32(name):
    y = audio.render(chorale_like(), name)
    assert y.dtype == np.float32 and y.ndim == 1
    assert np.isfinite(y).all()
    assert np.max(np.abs(y)) <= 1.0
    assert rms(y) > 0.01


@pytest.mark.parametrize("name", NAMED)
def test_render_length_is_last_note_end_plus_release(name):
    piece = chorale_like(qpm=90.0)
    y = audio.render(piece, name, sr=SR)
    end_seconds = piece.duration_quarters * 60.0 / 90.0  # 8 quarters -> 5.333 s
    expected = round(end_seconds * SR) + round(audio.INSTRUMENTS[name].release * SR)
    assert abs(len(y) - expected) <= 1
    # qpm overrides the piece's tempo: twice as fast, half as long (plus the same release).
    y2 = audio.render(piece, name, sr=SR, qpm=180.0)
    assert abs(len(y2) - (round(end_seconds / 2 * SR) + round(audio.INSTRUMENTS[name].release * SR))) <= 1


@pytest.mark.parametrize("name", NAMED)
def test_note_starts_and_ends_without_click(name):
    y = audio.render(single(60, 0.5), name).astype(np.float64)
    peak = np.max(np.abs(y))
    assert abs(y[0]) < 1e-3 * peak and abs(y[-1]) < 1e-2 * peak
    jumps = np.abs(np.diff(y))
    # A click is a step: the first and last samples must move much less than the tone itself does.
    assert jumps[:10].max() < 0.05 * peak and jumps[-10:].max() < 0.05 * peak
    # Nowhere does the envelope make a jump larger than the sustained tone's own steepest slope.
    steady = jumps[int(0.15 * SR) : int(0.2 * SR)].max()
    if name in ("organ", "strings"):  # sustained: no jump beyond the steady tone's own
        assert jumps.max() <= 1.5 * steady
    else:  # decaying: the release adds no jump larger than those around the (ramped) attack
        assert jumps.max() <= 1.05 * jumps[: int(0.2 * SR)].max()


@pytest.mark.parametrize("name", ["piano", "organ", "strings", "pluck", "sine"])
def test_a4_sounds_at_440_hz(name):
    y = audio.render(single(69, 1.0), name, sr=SR)
    seg = y[int(0.05 * SR) : int(0.95 * SR)]
    # The organ's 16' drawbar sounds an octave below: its strongest partial is still the 8' at 440 Hz.
    assert peak_frequency(seg, SR) == pytest.approx(440.0, abs=3.0)


def test_instruments_differ_in_brightness_and_envelope():
    ys = {n: audio.render(single(57, 1.5), n, sr=SR) for n in NAMED}
    centroids = {n: spectral_centroid(y[: int(1.5 * SR)], SR) for n, y in ys.items()}
    assert len({round(c, -1) for c in centroids.values()}) == len(NAMED), centroids
    # Envelope: piano and pluck decay, organ holds, strings swell in.
    def level(y, t0, t1):
        return rms(y[int(t0 * SR) : int(t1 * SR)])
    assert level(ys["piano"], 1.2, 1.4) < 0.5 * level(ys["piano"], 0.02, 0.2)
    assert level(ys["pluck"], 1.2, 1.4) < 0.5 * level(ys["pluck"], 0.02, 0.2)
    assert level(ys["organ"], 1.2, 1.4) == pytest.approx(level(ys["organ"], 0.2, 0.4), rel=0.05)
    assert level(ys["strings"], 0.0, 0.05) < 0.5 * level(ys["strings"], 0.3, 0.5)
    for a in NAMED:
        for b in NAMED:
            if a < b:
                n = min(len(ys[a]), len(ys[b]))
                assert not np.allclose(ys[a][:n], ys[b][:n], atol=1e-2), (a, b)


def test_strings_vibrato_moves_the_pitch_about_5_5_hz():
    y = audio.render(single(69, 2.0), "strings", sr=SR).astype(np.float64)
    # Instantaneous frequency from zero crossings of the (fundamental-dominated, low-passed) signal.
    from scipy.signal import butter, sosfiltfilt

    low = sosfiltfilt(butter(4, 600, fs=SR, output="sos"), y)[int(0.3 * SR) : int(1.9 * SR)]
    up = np.flatnonzero((low[:-1] < 0) & (low[1:] >= 0))
    exact = up + low[up] / (low[up] - low[up + 1])  # sub-sample crossing times
    freq = SR / np.diff(exact)  # (cycles,)
    assert freq.mean() == pytest.approx(440.0, rel=0.003)
    assert 0.002 < (freq.max() - freq.min()) / 2 / 440.0 < 0.01  # depth about 0.6 %
    wobble = np.fft.rfft(freq - freq.mean(), n=4096)
    rate = np.fft.rfftfreq(4096, d=np.mean(np.diff(exact)) / SR)[np.argmax(np.abs(wobble))]
    assert rate == pytest.approx(5.5, abs=0.5)


def test_piano_partials_are_stretched_and_nothing_aliases():
    # A high note: partials above sr/2 must be dropped, not folded back below the fundamental.
    sr = 8000
    y = audio.render(single(96, 0.5), "strings", sr=sr)  # C7, 2093 Hz: only its first partial fits
    spec = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1.0 / sr)
    assert spec[freqs < 1800].max() < 1e-2 * spec.max()
    # Piano partials are inharmonic: the 8th partial of A2 lies above 8 x 110 Hz.
    a2 = audio.render(single(45, 1.0), "piano", sr=SR)[: SR]
    spec = np.abs(np.fft.rfft(a2 * np.hanning(len(a2))))
    freqs = np.fft.rfftfreq(len(a2), 1.0 / SR)
    band = (freqs > 8 * 110 - 20) & (freqs < 8 * 110 + 20)
    f8 = freqs[band][np.argmax(spec[band])]
    assert f8 > 8 * 110 + 1.0


def test_velocity_orders_loudness():
    rows = [(60, 2.0 * i, 1.0, v, 0) for i, v in enumerate((30, 64, 100, 127))]
    piece = piece_from_notes(rows, qpm=60.0)
    y = audio.render(piece, "organ", sr=SR)
    levels = [rms(y[int((2 * i + 0.1) * SR) : int((2 * i + 0.9) * SR)]) for i in range(4)]
    assert levels == sorted(levels) and levels[0] < 0.2 * levels[-1]


def test_loud_dense_mix_is_soft_limited_not_clipped():
    rows = [(p, 0.0, 2.0, 127, 0) for p in range(48, 84, 3)]  # 12 loud notes at once
    y = audio.render(piece_from_notes(rows, qpm=60.0), "organ", gain=1.0)
    assert 0.8 < np.max(np.abs(y)) < 1.0
    assert np.sum(np.abs(y) > 0.999) == 0
    x = np.linspace(-3, 3, 1001)
    lim = audio.soft_limit(x)
    assert np.all(np.diff(lim) > 0)  # monotonic: no flat (clipped) stretch
    assert np.array_equal(lim[np.abs(x) <= 0.8], x[np.abs(x) <= 0.8])


def test_voice_dict_mixes_instruments_and_same_seed_same_audio():
    piece = chorale_like()
    mix = audio.render(piece, {"S": "strings", "A": "organ", "T": "organ", 3: "pluck"})
    again = audio.render(piece, {"S": "strings", "A": "organ", "T": "organ", 3: "pluck"})
    assert np.array_equal(mix, again)
    assert not np.allclose(mix[: len(audio.render(piece, "organ"))][:1000], 0)
    assert not np.array_equal(audio.render(piece, "pluck", seed=1), audio.render(piece, "pluck", seed=2))
    with pytest.raises(ValueError, match="no instrument for voice"):
        audio.render(piece, {"S": "organ"})
    with pytest.raises(ValueError, match="no voice 'X'"):
        audio.render(piece, {"X": "organ"})


def test_drum_kit_sounds_and_midi_drum_voices_use_it():
    kick = audio.render(piece_from_notes([(36, 0.0, 0.1, 120, 0)], qpm=60.0), "drums")
    hat = audio.render(piece_from_notes([(42, 0.0, 0.1, 120, 0)], qpm=60.0), "drums")
    assert spectral_centroid(kick, SR) < 300 < 3000 < spectral_centroid(hat, SR)
    assert rms(kick[int(0.12 * SR) :]) > 0  # rings on after a short note-off
    assert abs(kick[0]) < 1e-3 and abs(kick[-1]) < 1e-3
    rows = [(36, float(i), 0.05, 100, 1) for i in range(4)] + [(60, 0.0, 4.0, 80, 0)]
    band = piece_from_notes(rows, voice_names=("Piano", "drums"), meta={"is_drum": [False, True]})
    y = audio.render(band, "organ")
    as_organ = audio.render(band, {"Piano": "organ", "drums": "organ"})
    as_kit = audio.render(band, {"Piano": "organ", "drums": "drums"})
    assert np.array_equal(y, as_kit) and not np.array_equal(y[: len(as_organ)], as_organ[: len(y)])
    with pytest.raises(ValueError, match="unknown instrument"):
        audio.render(band, "kazoo")


def test_render_notes_in_seconds_matches_render():
    piece = chorale_like(qpm=60.0)  # one quarter = one second
    n = piece.notes
    a = audio.render_notes(n["pitch"], n["onset"], n["duration"], n["velocity"], "piano")
    assert np.allclose(a, audio.render(piece, "piano"), atol=1e-6)


@pytest.mark.parametrize("name", ["organ", "strings", "piano"])
def test_long_tones_are_computed_in_blocks_without_seams(name, monkeypatch):
    n = 3 * audio.TONE_CHUNK + 123
    blocked = audio.instrument_tone(57, n, SR, name)
    monkeypatch.setattr(audio, "TONE_CHUNK", 10 * n)
    whole = audio.instrument_tone(57, n, SR, name)
    assert blocked.shape == whole.shape == (n,)
    assert np.allclose(blocked, whole, atol=1e-5)


def test_two_minute_held_note_renders():
    y = audio.render(single(48, 120.0), "organ")
    assert len(y) == round(120.0 * SR) + round(audio.INSTRUMENTS["organ"].release * SR)
    assert rms(y[-int(1.5 * SR) : -int(0.5 * SR)]) == pytest.approx(rms(y[SR : 2 * SR]), rel=0.02)
    piano = audio.render(single(48, 120.0), "piano")
    assert np.all(piano[-SR:] == 0)  # a struck string has long died away: not computed at all


def test_karplus_strong_block_and_plain_filters_agree():
    for f0 in (65.4, 440.0):
        L, S, c, rho = audio.karplus_strong_coefficients(f0, SR, 1.5)
        x = np.zeros(SR)
        x[:L] = np.random.default_rng(0).uniform(-1, 1, L)
        a = audio.karplus_strong_filter(x, L, S, c, rho, block=True)
        b = audio.karplus_strong_filter(x, L, S, c, rho, block=False)
        assert np.allclose(a, b, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"instrument": "kazoo"}, r"unknown instrument 'kazoo'.*organ.*piano"),
        ({"sr": 0}, "sr must be a positive"),
        ({"sr": -22050}, "sr must be a positive"),
        ({"sr": 22050.5}, "sr must be a positive"),
        ({"sr": 1000}, "too low"),
        ({"qpm": 0}, "qpm must be positive"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        audio.render(chorale_like(), **kwargs)


def test_sr_too_low_for_the_pitch_and_empty_piece():
    with pytest.raises(ValueError, match="too low for pitch 127"):
        audio.render(single(127, 0.5), "sine", sr=8000)  # G9 is 12.5 kHz
    empty = chorale_like().with_notes(chorale_like().notes[:0])
    with pytest.raises(ValueError, match="has no notes"):
        audio.render(empty)
    with pytest.raises(ValueError, match="'duration' has shape"):
        audio.render_notes([60, 62], [0.0, 1.0], [1.0])


# --- play and WAV -----------------------------------------------------------------------------------------
def _wav_samples(player) -> np.ndarray:
    import io

    import soundfile as sf

    data, _ = sf.read(io.BytesIO(player.data), dtype="float32")
    return data


def test_play_normalises_or_keeps_level():
    from IPython.display import Audio

    quiet = 0.1 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR).astype(np.float32)
    loud_player = audio.play(quiet, sr=SR)
    kept_player = audio.play(quiet, sr=SR, normalize=False)
    assert isinstance(loud_player, Audio)
    assert np.max(np.abs(_wav_samples(loud_player))) == pytest.approx(0.9, abs=0.01)
    assert np.max(np.abs(_wav_samples(kept_player))) == pytest.approx(0.1, abs=0.01)
    clip = _wav_samples(audio.play(chorale_like(), max_seconds=1.0))
    assert len(clip) == SR and abs(clip[-1]) < 1e-3  # cut, and faded so the cut does not click
    with pytest.raises(ValueError, match="exceeds 1"):
        audio.play(30 * quiet, sr=SR, normalize=False)
    with pytest.raises(ValueError, match="NaN"):
        audio.play(np.array([0.0, np.nan]), sr=SR)
    assert isinstance(audio.play(torch.from_numpy(quiet), sr=SR), Audio)


def test_wav_round_trip(tmp_path):
    y = audio.render(chorale_like(), "strings")
    path = audio.write_wav(tmp_path / "chorale.wav", y, SR)
    back, sr = audio.read_wav(path)
    assert sr == SR and back.shape == y.shape
    assert np.max(np.abs(back - y)) < 1.5 / 32768  # 16-bit quantisation
    with pytest.raises(ValueError, match="exceeds 1"):
        audio.write_wav(tmp_path / "loud.wav", 10 * y, SR)
    with pytest.raises(FileNotFoundError, match="nothing.wav"):
        audio.read_wav(tmp_path / "nothing.wav")


# --- spectrograms -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("freq", [220.0, 1000.0, 3000.0])
def test_pure_tone_peaks_in_its_mel_band(freq):
    t = np.arange(SR) / SR
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    mel = audio.log_mel_spectrogram(y, SR, n_mels=80)
    assert isinstance(mel, torch.Tensor) and mel.shape == (80, 1 + SR // 256)
    band = int(mel[:, 10:-10].mean(dim=1).argmax())
    fb = audio.mel_filterbank(SR, 1024, 80)
    bin_ = int(round(freq * 1024 / SR))
    assert band in np.argsort(fb[:, bin_])[-2:]  # the (one of two overlapping) filters covering the tone
    edges = audio.mel_frequencies(80, 0.0, SR / 2)
    assert edges[band] < freq < edges[band + 2]


@pytest.mark.parametrize("n, hop", [(22050, 256), (1000, 100), (300, 512)])
def test_frame_count_formula(n, hop):
    mel = audio.log_mel_spectrogram(np.zeros(n), SR, n_mels=40, hop_length=hop)
    assert mel.shape == (40, 1 + n // hop)
    assert torch.all(mel == np.log(1e-5))  # silence sits on the floor


def test_mel_filterbank_shape_area_and_scale():
    fb = audio.mel_filterbank(SR, 1024, 80)
    assert fb.shape == (80, 513) and (fb >= 0).all()
    df = SR / 1024
    assert np.allclose(fb.sum(axis=1) * df, 1.0, rtol=0.15)  # Slaney: unit area per filter
    # The Slaney scale is linear below 1 kHz and logarithmic above; 1000 Hz -> 15 mel.
    assert float(audio.hz_to_mel(1000.0)) == pytest.approx(15.0)
    f = np.array([50.0, 440.0, 1000.0, 4000.0, 11025.0])
    assert np.allclose(audio.mel_to_hz(audio.hz_to_mel(f)), f)
    with pytest.raises(ValueError, match="too many"):
        audio.mel_filterbank(SR, 128, 128)
    with pytest.raises(ValueError, match="f_min"):
        audio.mel_filterbank(SR, 1024, 80, f_min=5000, f_max=4000)


def test_log_mel_rejects_bad_audio():
    with pytest.raises(ValueError, match="1-D"):
        audio.log_mel_spectrogram(np.zeros((2, 100)), SR)
    with pytest.raises(ValueError, match="hop_length"):
        audio.log_mel_spectrogram(np.zeros(1000), SR, hop_length=0)


# --- optional FluidSynth ----------------------------------------------------------------------------------
@pytest.mark.skipif(audio.fluidsynth_available(), reason="FluidSynth is installed here")
def test_fluidsynth_missing_raises_runtime_error():
    with pytest.raises(RuntimeError, match="pyfluidsynth"):
        audio.render_fluidsynth(chorale_like())


@pytest.mark.skipif(not audio.fluidsynth_available(), reason="needs pyfluidsynth + libfluidsynth")
def test_fluidsynth_renders_when_available():
    y = audio.render_fluidsynth(chorale_like(), sr=SR)
    assert np.isfinite(y).all() and rms(y) > 0.01


@pytest.mark.parametrize(
    "sr, n_fft, n_mels, f_min, f_max",
    [(22050, 2048, 128, 0.0, None), (16000, 1024, 80, 0.0, None), (44100, 4096, 64, 30.0, 16000.0),
     (16000, 512, 40, 20.0, 7600.0)],
)
def test_mel_filterbank_is_librosas_slaney_filterbank(sr, n_fft, n_mels, f_min, f_max):
    """The module docstring's claim: Slaney's mel scale and unit-area filters, as librosa's default
    ``librosa.filters.mel(htk=False, norm='slaney')``."""
    librosa = pytest.importorskip("librosa")
    ours = audio.mel_filterbank(sr, n_fft, n_mels, f_min, f_max)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=f_min, fmax=f_max, htk=False, norm="slaney",
                                 dtype=np.float64)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-12 * np.abs(theirs).max()
    f = np.linspace(0, sr / 2, 1001)
    assert np.allclose(audio.hz_to_mel(f), librosa.hz_to_mel(f, htk=False), rtol=1e-12, atol=1e-12)
    m = np.linspace(0, float(audio.hz_to_mel(sr / 2)), 1001)
    assert np.allclose(audio.mel_to_hz(m), librosa.mel_to_hz(m, htk=False), rtol=1e-12, atol=1e-9)

