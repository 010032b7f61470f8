"""Hear the music: a small additive synthesiser, playback, WAV files and log-mel spectrograms.

Symbolic music (a :class:`~helpers.data.Piece`) becomes sound here. The synthesiser is deliberately simple
and fully vectorised NumPy: every note is a sum of sinusoidal partials (or a Karplus–Strong string for
``"pluck"``) shaped by an envelope; notes are mixed into one mono float32 signal.

- :data:`INSTRUMENTS` names the timbres (``"piano"``, ``"organ"``, ``"strings"``, ``"pluck"``, ``"sine"``,
  and a General MIDI ``"drums"`` kit).
- :func:`render` turns a piece into audio; :func:`render_notes` does the same for plain arrays in seconds.
  General MIDI instruments (``"flute"``, ``"choir"``, program numbers, or ``synth="soundfont"``) are rendered
  through a SoundFont by :mod:`helpers.soundfont` instead (real instrument samples, pip-only).
- :func:`play` returns an ``IPython.display.Audio`` player (normalised by us, so loudness is under our control).
- :func:`write_wav` / :func:`read_wav` store audio as 16-bit PCM WAV through ``soundfile``.
- :func:`log_mel_spectrogram` is the audio representation that audio-domain generators model.

Loudness convention: a note's amplitude is ``(velocity / 127) ** 2`` times the instrument's unit-peak
waveform; the mix is multiplied by ``gain`` and passed through :func:`soft_limit`, which leaves samples
below 0.8 untouched and bends larger ones smoothly towards 1. Nothing is hard-clipped and
relative loudness between renders is kept; :func:`play` rescales to a fixed peak only for listening.

Notebook: every notebook that makes sound, first in ``00_welcome.ipynb``; spectrograms in
``01_representations.ipynb``.
Reference: additive synthesis and envelopes: Müller, *Fundamentals of Music Processing* (2nd ed. 2021),
Sec. 1.3; piano inharmonicity ``f_k = k f0 sqrt(1 + B k^2)``: Fletcher, JASA 36 (1964);
plucked string: Karplus & Strong, CMJ 7(2) (1983), with Jaffe & Smith's all-pass tuning, CMJ 7(2) (1983);
mel scale and filterbank: Slaney, *Auditory Toolbox* (1998), as in librosa's default
(``librosa.filters.mel(htk=False, norm='slaney')``; ``tests/test_audio.py`` holds them equal where librosa is
installed).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .data import Piece
from .limiter import soft_limit

DEFAULT_SR = 22050
MIN_SR = 4000  # below this nothing musical is left to hear


# --- instruments -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instrument:
    """The recipe of one synthetic timbre.

    Attributes:
        name: the name used in :data:`INSTRUMENTS`.
        ratios: frequency of each partial as a multiple of the fundamental (before inharmonicity).
        amplitudes: relative amplitude of each partial (normalised so that they sum to 1).
        inharmonicity: ``B`` in ``f_k = ratio_k f0 sqrt(1 + B ratio_k^2)`` (stiff strings; 0 = harmonic).
        attack: seconds of the raised-cosine fade-in (at least a few ms, or the onset clicks).
        decay: time constant (seconds) of the exponential decay of the fundamental at middle C; 0 = none.
        decay_slope: higher partials decay faster: ``tau_k = tau / (1 + decay_slope (ratio_k - 1))``.
        sustain: level the decay settles at (1 = no decay, 0 = dies away like a struck string).
        release: seconds of the raised-cosine fade-out after note-off.
        vibrato_rate: vibrato frequency in Hz (0 = none).
        vibrato_depth: vibrato depth as a fraction of the frequency (0.006 is about 10 cents).
        karplus_strong: synthesise with a Karplus–Strong string instead of partials (``ratios`` unused).
        t60: for Karplus–Strong, seconds for a middle-C string to decay by 60 dB.
        percussion: a General MIDI drum kit: the pitch picks a drum sound (kick, snare, hi-hat, ...),
            synthesised from decaying noise and gliding sines (see :func:`drum_tone`).
    """

    name: str
    ratios: tuple[float, ...] = (1.0,)
    amplitudes: tuple[float, ...] = (1.0,)
    inharmonicity: float = 0.0
    attack: float = 0.005
    decay: float = 0.0
    decay_slope: float = 0.0
    sustain: float = 1.0
    release: float = 0.05
    vibrato_rate: float = 0.0
    vibrato_depth: float = 0.0
    karplus_strong: bool = False
    t60: float = 2.0
    percussion: bool = False


def _sawtooth(n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    k = np.arange(1, n + 1, dtype=float)
    return tuple(k), tuple(1.0 / k)


def _piano() -> Instrument:
    k = np.arange(1, 13, dtype=float)
    # Hammer strikes near 1/7 of the string: partials near multiples of 7 are weak.
    amps = np.abs(np.sin(np.pi * k / 7.0)) / k**0.9
    return Instrument(
        name="piano", ratios=tuple(k), amplitudes=tuple(amps), inharmonicity=4e-4,
        attack=0.003, decay=0.9, decay_slope=0.35, sustain=0.0, release=0.08,
    )


INSTRUMENTS: dict[str, Instrument] = {
    "piano": _piano(),
    # Drawbars 16' 8' 5 1/3' 4' 2 2/3' 2' (sub-octave, unison, fifth, octave, twelfth, fifteenth); the 16'
    # is kept soft so that the 8' (the written pitch) stays the strongest partial.
    "organ": Instrument(
        name="organ", ratios=(0.5, 1.0, 1.5, 2.0, 3.0, 4.0), amplitudes=(0.35, 1.0, 0.45, 0.6, 0.3, 0.25),
        attack=0.012, release=0.06,
    ),
    "strings": Instrument(
        name="strings", ratios=_sawtooth(14)[0], amplitudes=_sawtooth(14)[1],
        attack=0.12, release=0.25, decay=1.5, sustain=0.8, vibrato_rate=5.5, vibrato_depth=0.006,
    ),
    "pluck": Instrument(name="pluck", karplus_strong=True, attack=0.002, release=0.04, t60=1.5),
    "sine": Instrument(name="sine", attack=0.01, release=0.05),
    # Drum hits ring on after a short note-off, so the release is long.
    "drums": Instrument(name="drums", percussion=True, attack=0.001, release=0.4),
}


def get_instrument(name: str | Instrument) -> Instrument:
    """Look up an instrument by name (an :class:`Instrument` passes through).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(name, Instrument):
        return name
    if name not in INSTRUMENTS:
        raise ValueError(f"unknown instrument {name!r}; known instruments are {sorted(INSTRUMENTS)}")
    return INSTRUMENTS[name]


def midi_to_hz(pitch: np.ndarray | float) -> np.ndarray:
    """Equal-tempered frequency of a MIDI pitch, A4 (69) = 440 Hz."""
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


# --- one pitch -------------------------------------------------------------------------------------------
# A note is "tone of its pitch, cut at note-off + release, times a release fade". The tone does not depend
# on the note's length, so render_notes synthesises each pitch once (as long as its longest note) and
# every note of that pitch reuses a slice of it.
def release_fade(n_release: int) -> np.ndarray:
    """Raised-cosine fade-out over ``n_release`` samples, from just below 1 down to exactly 0."""
    return (0.5 + 0.5 * np.cos(np.pi * np.arange(1, n_release + 1) / max(n_release, 1))).astype(np.float32)


def apply_attack(wave: np.ndarray, sr: int, attack: float) -> np.ndarray:
    """Multiply the first ``attack`` seconds by a raised-cosine fade-in (in place): the note starts at 0."""
    n_att = min(len(wave), max(int(round(attack * sr)), 1))
    wave[:n_att] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(n_att) / n_att)
    return wave


TONE_CHUNK = 1 << 15  # samples per block when synthesising long tones (bounds memory to K x 32768)


def additive_tone(f0: float, n: int, sr: int, instrument: Instrument) -> np.ndarray:
    """A tone of ``n`` samples as a sum of sinusoidal partials with attack and decay, peak normalised to 1.

    Partial ``k`` has frequency ``ratio_k f0 sqrt(1 + B ratio_k^2)`` and envelope
    ``attack(t) (s + (1 - s) exp(-t / tau_k))``. Partials whose (vibrato-raised) frequency reaches the
    Nyquist frequency ``sr / 2`` are dropped, so nothing aliases. Long tones are computed in blocks of
    :data:`TONE_CHUNK` samples; a decaying tone stops being computed once it is 100 dB down.

    Returns:
        float32 (n,).
    """
    inst = instrument
    ratios = np.asarray(inst.ratios, dtype=np.float64)  # (K,)
    amps = np.asarray(inst.amplitudes, dtype=np.float64)
    freqs = f0 * ratios * np.sqrt(1.0 + inst.inharmonicity * ratios**2)  # (K,)
    keep = freqs * (1.0 + inst.vibrato_depth) < sr / 2
    freqs, amps, ratios = freqs[keep], amps[keep] / amps.sum(), ratios[keep]
    decays = inst.sustain < 1.0 and inst.decay > 0
    # Lower notes ring longer (tau ~ 1/sqrt(f0)), higher partials die sooner (a bright attack).
    tau = inst.decay * np.sqrt(261.63 / f0) / (1.0 + inst.decay_slope * (ratios - 1.0))  # (K,)
    n_calc = n
    if decays and inst.sustain == 0:
        n_calc = min(n, int(np.ceil(tau.max() * np.log(1e5) * sr)))  # beyond this: below -100 dB
    wave = np.zeros(n, dtype=np.float32)  # (n,)
    for start in range(0, n_calc, TONE_CHUNK):
        t = np.arange(start, min(start + TONE_CHUNK, n_calc)) / sr  # (N,)
        warped = t
        if inst.vibrato_rate > 0 and inst.vibrato_depth > 0:
            # The phase of f (1 + d sin(2 pi r t)) is 2 pi f times this warped time: the pitch glides.
            w = 2 * np.pi * inst.vibrato_rate
            warped = t + inst.vibrato_depth * (1.0 - np.cos(w * t)) / w  # (N,)
        sines = np.sin(np.outer(2 * np.pi * freqs, warped))  # (K, N)
        if decays:
            s = inst.sustain
            env = s + (1.0 - s) * np.exp(-t[None, :] / tau[:, None])  # (K, N)
            wave[start : start + len(t)] = np.einsum("k,kn,kn->n", amps, env, sines)
        else:
            wave[start : start + len(t)] = amps @ sines
    return _unit_peak(apply_attack(wave, sr, inst.attack))


def karplus_strong_coefficients(f0: float, sr: int, t60: float) -> tuple[int, float, float, float]:
    """Delay ``L``, averager weight ``S``, all-pass coefficient ``c`` and loop gain ``rho`` of a string.

    The loop is ``rho z^-L ((1 - S) + S z^-1) (c + z^-1) / (1 + c z^-1)``: a delay line, a two-point
    averager (the string's losses, stronger for high partials) and an all-pass that supplies the
    fraction of a sample the period ``sr / f0`` needs, so the note is in tune (Jaffe & Smith 1983).
    The plain averager (``S = 0.5``) kills high notes within milliseconds; ``S`` is lowered ("decay
    shortening" in reverse) until the averager alone costs at most 20 dB over ``t60`` at ``f0``, and
    ``rho`` supplies the rest of the 60 dB.

    Returns:
        ``(L, S, c, rho)`` with the total phase delay at ``f0`` equal to ``sr / f0`` samples.
    """
    period = sr / f0
    w0 = 2 * np.pi * f0 / sr  # radians per sample
    cycles = f0 * t60  # trips round the loop during t60
    g = 10.0 ** (-1.0 / cycles)  # averager gain per trip that costs 20 dB over t60
    p = (1.0 - g * g) / (2.0 * (1.0 - np.cos(w0)))  # |(1-S) + S e^-jw|^2 = 1 - 2 S (1-S) (1 - cos w)
    S = 0.5 if p >= 0.25 else 0.5 * (1.0 - np.sqrt(1.0 - 4.0 * p))
    avg_delay = -np.angle((1.0 - S) + S * np.exp(-1j * w0)) / w0  # phase delay of the averager at f0
    L = max(int(np.floor(period - avg_delay - 0.1)), 1)
    delta = period - avg_delay - L  # the all-pass's share, in [0.1, 1.1)
    c = np.sin(w0 * (1.0 - delta) / 2) / np.sin(w0 * (1.0 + delta) / 2)  # exact phase delay delta at f0
    loss = abs((1.0 - S) + S * np.exp(-1j * w0))
    rho = min(1.0, 0.001 ** (1.0 / cycles) / loss)  # fundamental: -60 dB after t60
    return L, float(S), float(c), float(rho)


def karplus_strong_filter(
    x: np.ndarray, L: int, S: float, c: float, rho: float, block: bool | None = None
) -> np.ndarray:
    """Run the string loop ``y = x + rho z^-L ((1 - S) + S z^-1) (c + z^-1)/(1 + c z^-1) y`` over ``x``.

    Multiplied out by ``(1 + c z^-1)`` this is one IIR filter with ``L + 3`` feedback taps, run by
    ``scipy.signal.lfilter`` (cost ~ ``len(x) * L``, fine for high notes). For long delays (low notes)
    the same recursion is run one period at a time: within a block of ``L`` samples the delayed terms
    come from earlier blocks, so each block is one vector operation plus a first-order filter (cost
    ~ ``len(x)``, with ``len(x) / L`` Python steps). Both give the same samples (tested).

    Args:
        x: excitation (N,).
        L, S, c, rho: from :func:`karplus_strong_coefficients`.
        block: force the block (True) or the plain lfilter (False) method; None picks by ``L``.

    Returns:
        float64 (N,).
    """
    from scipy.signal import lfilter

    if block is None:
        block = L >= 96
    # Feedback taps on y[n-L], y[n-L-1], y[n-L-2]: rho ((1-S) + S z^-1)(c + z^-1) multiplied out.
    g0, g1, g2 = rho * (1.0 - S) * c, rho * ((1.0 - S) + S * c), rho * S
    if not block:
        a = np.zeros(L + 3)
        a[0], a[1] = 1.0, c
        a[L] -= g0
        a[L + 1] -= g1
        a[L + 2] -= g2
        return lfilter(np.array([1.0, c]), a, x)
    n = len(x)
    xx = x.astype(np.float64)  # (1 + c z^-1) x
    xx[1:] += c * x[:-1]
    pad = L + 2  # y[k] lives at buf[pad + k]; zeros before the start
    buf = np.zeros(pad + n)
    prev = 0.0
    for s in range(0, n, L):
        e = min(s + L, n)
        u = (xx[s:e] + g0 * buf[pad + s - L : pad + e - L] + g1 * buf[pad + s - L - 1 : pad + e - L - 1]
             + g2 * buf[pad + s - L - 2 : pad + e - L - 2])  # (e - s,)
        out, _ = lfilter([1.0], [1.0, c], u, zi=[-c * prev])  # y[k] = u[k] - c y[k-1]
        buf[pad + s : pad + e] = out
        prev = out[-1]
    return buf[pad:]


def karplus_strong_tone(f0: float, n: int, sr: int, instrument: Instrument, rng: np.random.Generator) -> np.ndarray:
    """A plucked string of ``n`` samples (Karplus–Strong), peak normalised to 1.

    A burst one period long (a plucked string's triangle shape plus a little noise) circulates in a
    delay line of ``sr / f0`` samples whose feedback averages neighbouring samples (a gentle low-pass:
    high partials die first); see :func:`karplus_strong_coefficients`. The string is only simulated
    until it has decayed by 80 dB; after that it is silent.

    Returns:
        float32 (n,).
    """
    from scipy.signal import lfilter

    t60 = instrument.t60 * np.sqrt(261.63 / f0)  # lower strings ring longer
    L, S, c, rho = karplus_strong_coefficients(f0, sr, t60)
    # Excitation: the string's shape when plucked at 0.27 of its length (a triangle: harmonic k has
    # amplitude ~ sin(0.27 k pi) / k^2, so the fundamental is always strong) plus some noise for the
    # "pick" (same rng -> same string).
    m = int(round(sr / f0))
    pos = np.arange(m) / m
    burst = np.where(pos < 0.27, pos / 0.27, (1.0 - pos) / 0.73)
    burst = burst - burst.mean() + 0.3 * lfilter([0.5], [1.0, -0.5], rng.uniform(-1.0, 1.0, m))
    burst -= burst.mean()  # no DC: the loop would hold it for seconds
    n_sim = min(n, int(np.ceil(t60 * 4 / 3 * sr)) + len(burst))  # until -80 dB
    x = np.zeros(n_sim)
    x[: min(m, n_sim)] = burst[:n_sim]
    y = np.zeros(n, dtype=np.float32)
    y[:n_sim] = karplus_strong_filter(x, L, S, c, rho)  # (n_sim,)
    return _unit_peak(apply_attack(y, sr, instrument.attack))


# General MIDI Level 1 percussion key map (channel 10) -> (kind, level);
# kinds: "kick", "snare", "tom", "hat", "open_hat", "cymbal" (any other key: a short noise burst).
GM_DRUMS = {35: ("kick", 1.0), 36: ("kick", 1.0), 37: ("snare", 0.5), 38: ("snare", 0.8), 40: ("snare", 0.8),
            39: ("snare", 0.6), 41: ("tom", 0.8), 43: ("tom", 0.8), 45: ("tom", 0.8), 47: ("tom", 0.8),
            48: ("tom", 0.8), 50: ("tom", 0.8), 42: ("hat", 0.35), 44: ("hat", 0.35), 46: ("open_hat", 0.35),
            49: ("cymbal", 0.35), 51: ("cymbal", 0.3), 52: ("cymbal", 0.35), 55: ("cymbal", 0.35),
            57: ("cymbal", 0.35), 59: ("cymbal", 0.3)}


def drum_tone(pitch: int, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """One General MIDI drum hit, ``n`` samples long (float32, peak = the drum's level <= 1).

    Kick and toms: a sine whose pitch glides down (``f(t) = f1 + (f0 - f1) exp(-t / 0.03)``) under an
    exponential decay; snare: a 190 Hz body plus decaying noise; hi-hats and cymbals: differentiated
    (high-passed) noise with short or long decays. Other keys: a short noise burst. The noise comes
    from ``rng``.
    """
    kind, level = GM_DRUMS.get(int(pitch), ("other", 0.4))
    t = np.arange(n) / sr  # (N,)
    if kind in ("kick", "tom"):
        if kind == "kick":
            f0, f1, decay = 150.0, 50.0, 0.25
        else:  # toms 41 (low floor) .. 50 (high): higher keys, higher drums
            f0, f1, decay = 80.0 + 6.0 * (pitch - 41), 60.0 + 4.0 * (pitch - 41), 0.3
        phase = 2 * np.pi * (f1 * t + (f0 - f1) * 0.03 * (1.0 - np.exp(-t / 0.03)))
        wave = np.sin(phase) * np.exp(-t / (decay / 3))
    else:
        noise = np.diff(rng.uniform(-1.0, 1.0, n + 1))  # first difference: a gentle high-pass
        if kind == "snare":
            wave = 0.6 * noise * np.exp(-t / 0.05) + np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04)
        else:
            tau = {"hat": 0.015, "open_hat": 0.12, "cymbal": 0.35}.get(kind, 0.03)
            wave = noise * np.exp(-t / tau)
    return _unit_peak(apply_attack(wave, sr, 0.001)) * np.float32(level)


def instrument_tone(
    pitch: int, n: int, sr: int, instrument: str | Instrument = "piano", seed: int = 0
) -> np.ndarray:
    """The tone of one MIDI pitch, ``n`` samples long, before note-off (float32, peak 1; drums: their level).

    ``seed`` (with the pitch) seeds the noise of Karplus–Strong strings and drums.
    """
    inst = get_instrument(instrument)
    if inst.percussion:
        return drum_tone(pitch, n, sr, np.random.default_rng([int(seed), int(pitch)]))
    f0 = float(midi_to_hz(pitch))
    if inst.karplus_strong:
        return karplus_strong_tone(f0, n, sr, inst, np.random.default_rng([int(seed), int(pitch)]))
    return additive_tone(f0, n, sr, inst)


def _unit_peak(wave: np.ndarray) -> np.ndarray:
    """``wave`` scaled to peak 1, as float32 (silence stays silence)."""
    wave = wave.astype(np.float32, copy=False)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak > 0:
        wave *= np.float32(1.0 / peak)
    return wave


# --- many notes -------------------------------------------------------------------------------------------
def _check_sr(sr: int, max_pitch: float | None = None) -> int:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"sr must be a positive whole number of samples per second, got {sr!r}")
    if sr < MIN_SR:
        raise ValueError(f"sr={sr} is too low; use at least {MIN_SR} Hz (22050 is the course default)")
    if max_pitch is not None and midi_to_hz(max_pitch) >= sr / 2:
        raise ValueError(
            f"sr={sr} is too low for pitch {int(max_pitch)} ({float(midi_to_hz(max_pitch)):.0f} Hz): "
            f"the Nyquist frequency sr/2 must lie above every fundamental"
        )
    return int(sr)


def render_notes(
    pitch: Sequence[int] | np.ndarray,
    onset: Sequence[float] | np.ndarray,
    duration: Sequence[float] | np.ndarray,
    velocity: Sequence[int] | np.ndarray | int = 80,
    instrument: str | Instrument = "piano",
    sr: int = DEFAULT_SR,
    gain: float = 0.3,
    seed: int = 0,
    limit: bool = True,
) -> np.ndarray:
    """Synthesise notes given in seconds and mix them into one mono signal.

    Args:
        pitch: MIDI pitches, shape (N,).
        onset: start times in seconds, shape (N,).
        duration: durations in seconds (note-on to note-off), shape (N,); the release comes after.
        velocity: MIDI velocities 1..127 (one for all or one per note); amplitude ``(velocity/127)**2``.
        instrument: a name in :data:`INSTRUMENTS` or an :class:`Instrument`.
        sr: sample rate in Hz.
        gain: factor applied to the mix before :func:`soft_limit`.
        seed: seeds the noise bursts of ``"pluck"`` (same seed -> same audio; other instruments use no noise).
        limit: apply :func:`soft_limit` (peak < 1). With False the raw mix is returned.

    Returns:
        float32 array (T,) with ``T = max(round(onset*sr) + round(duration*sr)) + round(release*sr)``.

    Raises:
        ValueError: for no notes, mismatched lengths, bad times/velocities/pitches, a bad or too low ``sr``,
            or an unknown instrument.
    """
    inst = get_instrument(instrument)
    pitch = np.asarray(pitch)
    onset = np.asarray(onset, dtype=np.float64)
    duration = np.asarray(duration, dtype=np.float64)
    velocity = np.broadcast_to(np.asarray(velocity), pitch.shape) if np.ndim(velocity) == 0 else np.asarray(velocity)
    if pitch.ndim != 1 or pitch.size == 0:
        raise ValueError(f"render_notes: 'pitch' must be a non-empty 1-D sequence, got shape {pitch.shape}")
    for name, arr in (("onset", onset), ("duration", duration), ("velocity", velocity)):
        if arr.shape != pitch.shape:
            raise ValueError(f"render_notes: '{name}' has shape {arr.shape} but 'pitch' has {pitch.shape}")
    if (pitch < 0).any() or (pitch > 127).any():
        raise ValueError("render_notes: 'pitch' values must lie in 0..127")
    if not np.isfinite(onset).all() or (onset < 0).any():
        raise ValueError("render_notes: 'onset' must be finite and >= 0 seconds")
    if not np.isfinite(duration).all() or (duration <= 0).any():
        raise ValueError("render_notes: 'duration' must be finite and > 0 seconds")
    if (velocity < 1).any() or (velocity > 127).any():
        raise ValueError("render_notes: 'velocity' values must lie in 1..127")
    sr = _check_sr(sr, None if inst.percussion else pitch.max())
    if not np.isfinite(gain) or gain < 0:
        raise ValueError(f"render_notes: gain must be finite and >= 0, got {gain}")

    starts = np.round(onset * sr).astype(np.int64)  # (N,)
    n_ons = np.maximum(np.round(duration * sr).astype(np.int64), 1)  # (N,)
    n_release = int(round(inst.release * sr))
    out = np.zeros(int((starts + n_ons).max()) + n_release, dtype=np.float32)  # (T,)
    amps = (velocity.astype(np.float64) / 127.0) ** 2  # (N,)
    fade = release_fade(n_release)  # (R,)
    tones = {}  # pitch -> its tone, as long as its longest note plus the release
    for p in np.unique(pitch).tolist():
        longest = int(n_ons[pitch == p].max()) + n_release
        tones[p] = instrument_tone(p, longest, sr, inst, seed)
    for p, start, n_on, amp in zip(pitch.tolist(), starts.tolist(), n_ons.tolist(), amps.tolist()):
        tone = tones[p]
        a = np.float32(amp)
        out[start : start + n_on] += a * tone[:n_on]
        out[start + n_on : start + n_on + n_release] += a * tone[n_on : n_on + n_release] * fade
    out *= np.float32(gain)
    return soft_limit(out).astype(np.float32) if limit else out


def _voice_instruments(piece: Piece, instrument) -> list[Instrument]:
    """One :class:`Instrument` per voice index, from a name or a {voice index or name: instrument} dict."""
    n_voices = len(piece.voice_names)
    if not isinstance(instrument, Mapping):
        # Voices that a MIDI file put on the drum channel play the drum kit, whatever the instrument.
        flags = piece.meta.get("is_drum") if piece.meta else None
        drums = list(flags) if flags is not None and len(flags) == n_voices else [False] * n_voices
        chosen_one = get_instrument(instrument)
        return [INSTRUMENTS["drums"] if d else chosen_one for d in drums]
    chosen = piece.per_voice_choice(instrument, get_instrument, "instrument dict")
    return [c if c is not None else INSTRUMENTS["piano"] for c in chosen]


SYNTHS = ("additive", "soundfont")


def choose_synth(instrument, synth: str | None = None, soundfont=None) -> str:
    """Which synthesiser renders ``instrument``: ``'additive'`` (this module) or ``'soundfont'`` (General MIDI).

    ``synth`` decides when given; a ``soundfont`` path means ``'soundfont'``. Otherwise (``synth=None``) a GM
    program number or a name that only General MIDI knows (``"flute"``, ``"choir"``) picks the SoundFont, and
    names of the additive timbres (``"piano"``, ``"organ"``, ``"strings"``, ``"pluck"``, ...) stay additive.

    Raises:
        ValueError: for an unknown ``synth`` or a name neither synthesiser knows (both lists are shown).
    """
    from .soundfont import GM_INSTRUMENTS

    if synth is not None and synth not in SYNTHS:
        raise ValueError(f"synth must be one of {SYNTHS} or None (choose by instrument), got {synth!r}")
    if soundfont is not None:
        if synth == "additive":
            raise ValueError("a soundfont= file was given with synth='additive'; use synth='soundfont' or drop it")
        return "soundfont"
    if synth is not None:
        return synth
    values = list(instrument.values()) if isinstance(instrument, Mapping) else [instrument]
    for value in values:
        if isinstance(value, Instrument):
            continue
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return "soundfont"
        if value not in INSTRUMENTS:
            if value in GM_INSTRUMENTS:
                return "soundfont"
            raise ValueError(
                f"unknown instrument {value!r}; additive timbres are {sorted(INSTRUMENTS)}, "
                f"General MIDI names are {sorted(GM_INSTRUMENTS)} (or a program number 0..127)"
            )
    return "additive"


def render(
    piece: Piece,
    instrument: str | int | Instrument | Mapping[int | str, str | int] = "piano",
    sr: int = DEFAULT_SR,
    qpm: float | None = None,
    gain: float | None = None,
    seed: int = 0,
    synth: str | None = None,
    soundfont: str | Path | None = None,
) -> np.ndarray:
    """Synthesise a whole piece into mono audio, with the additive synthesiser or a General MIDI SoundFont.

    Args:
        piece: the piece; onsets/durations in quarter notes.
        instrument: one instrument for every voice, or a dict ``{voice (index or name): instrument}`` that
            covers every voice with notes, e.g. ``{"S": "strings", "A": "organ", "T": "organ", "B": "pluck"}``.
            Additive timbres are the names in :data:`INSTRUMENTS`; SoundFont instruments are the names in
            :data:`helpers.soundfont.GM_INSTRUMENTS` or GM program numbers 0..127 (see :func:`choose_synth`).
            With one additive name, voices flagged as drums in ``piece.meta['is_drum']`` play ``"drums"``.
        sr: sample rate in Hz (SoundFont: one of ``helpers.soundfont.SOUNDFONT_SAMPLE_RATES``).
        qpm: tempo in quarter notes per minute; None uses ``piece.qpm``.
        gain: factor applied to the mix before :func:`soft_limit`; None: 0.3 for the additive synthesiser
            (leaves a four-voice chorale unlimited), ``helpers.soundfont.DEFAULT_GAIN`` for the SoundFont.
        seed: seeds the ``"pluck"`` noise bursts (same seed -> same audio); the SoundFont uses no noise.
        synth: ``'additive'``, ``'soundfont'`` or None (chosen from the instrument: :func:`choose_synth`).
        soundfont: a ``.sf2``/``.sf3`` file for the SoundFont synthesiser (None: pretty_midi's ``TimGM6mb.sf2``).

    Returns:
        float32 array (T,), peak below 1; additive: ``T`` = end of the last note plus the release of its
        instrument; SoundFont: end of the last note plus ``helpers.soundfont.TAIL_SECONDS``.

    Raises:
        ValueError: for an empty piece, an unknown instrument, a non-positive ``qpm`` or a bad ``sr``;
            FileNotFoundError / ValueError for a missing or corrupt SoundFont (the message names the file).

    Example:
        >>> audio = render(piece, "organ")                    # additive organ       # doctest: +SKIP
        >>> audio = render(piece, "organ", synth="soundfont")  # GM church organ      # doctest: +SKIP
        >>> audio = render(piece, {"S": "oboe", "A": "clarinet", "T": "clarinet", "B": "bassoon"})  # doctest: +SKIP
    """
    if not isinstance(piece, Piece):
        raise TypeError(f"render expects a helpers.data.Piece, got {type(piece).__name__}")
    if len(piece) == 0:
        raise ValueError(f"render: piece {piece.id!r} has no notes")
    if choose_synth(instrument, synth, soundfont) == "soundfont":
        from .soundfont import DEFAULT_GAIN, render_soundfont

        return render_soundfont(piece, instrument, sr=sr, qpm=qpm, soundfont=soundfont,
                                gain=DEFAULT_GAIN if gain is None else gain)
    gain = 0.3 if gain is None else gain
    qpm = piece.qpm if qpm is None else float(qpm)
    if not np.isfinite(qpm) or qpm <= 0:
        raise ValueError(f"render: qpm must be positive, got {qpm}")
    per_voice = _voice_instruments(piece, instrument)
    sec = 60.0 / qpm  # seconds per quarter note
    n = piece.notes
    groups: dict[str, list[int]] = {}  # instrument name -> voices
    for v in np.unique(n["voice"]).tolist():
        groups.setdefault(per_voice[v].name, []).append(v)
    parts = []
    for voices in groups.values():
        sel = n[np.isin(n["voice"], voices)]
        parts.append(
            render_notes(sel["pitch"], sel["onset"] * sec, sel["duration"] * sec, sel["velocity"],
                         per_voice[voices[0]], sr=sr, gain=gain, seed=seed, limit=False)
        )
    mix = np.zeros(max(len(p) for p in parts), dtype=np.float32)
    for p in parts:
        mix[: len(p)] += p
    return soft_limit(mix).astype(np.float32)


# --- listening and files ----------------------------------------------------------------------------------
def _as_audio(audio, what: str = "audio") -> np.ndarray:
    arr = audio.detach().cpu().numpy() if hasattr(audio, "detach") else np.asarray(audio)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D (mono) signal, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{what} must hold numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or infinite samples")
    return arr.astype(np.float32, copy=False)


def normalize_peak(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale so that the largest absolute sample equals ``peak`` (silence stays silence)."""
    audio = _as_audio(audio)
    top = float(np.max(np.abs(audio)))
    return audio if top == 0 else (audio * np.float32(peak / top)).astype(np.float32)


def play(
    piece_or_audio,
    sr: int = DEFAULT_SR,
    instrument: str | Mapping = "piano",
    normalize: bool = True,
    qpm: float | None = None,
    max_seconds: float | None = None,
    synth: str | None = None,
    soundfont: str | Path | None = None,
):
    """An audio player for a notebook.

    Args:
        piece_or_audio: a :class:`Piece` (rendered with :func:`render`) or a mono signal (array/tensor).
        sr: sample rate of the audio (or to render at).
        instrument: instrument name, GM program or per-voice dict, for pieces (as in :func:`render`).
        normalize: scale the peak to 0.9 (True), or keep the level as it is (False) so that clips keep
            their relative loudness; in both cases the browser's own rescaling is switched off.
        qpm: tempo for pieces (None: the piece's).
        max_seconds: keep only the first seconds, faded out over the last 30 ms (short clips keep
            notebooks small).
        synth, soundfont: which synthesiser renders a piece (as in :func:`render`).

    Returns:
        ``IPython.display.Audio``.

    Raises:
        ValueError: for non-finite audio, or with ``normalize=False`` a peak above 1.
    """
    from IPython.display import Audio

    if isinstance(piece_or_audio, Piece):
        piece = piece_or_audio
        if max_seconds is not None:  # render only what will be heard
            piece = piece.slice_quarters(0.0, max_seconds * (qpm or piece.qpm) / 60.0)
        audio = render(piece, instrument=instrument, sr=sr, qpm=qpm, synth=synth, soundfont=soundfont)
    else:
        audio = _as_audio(piece_or_audio)
        _check_sr(sr)
    if max_seconds is not None and len(audio) > max_seconds * sr:
        audio = audio[: max(int(max_seconds * sr), 1)].copy()
        n_fade = min(len(audio), int(0.03 * sr))  # a cut mid-sound would click: fade the last 30 ms
        audio[len(audio) - n_fade :] *= release_fade(n_fade)
    if normalize:
        audio = normalize_peak(audio)
    elif np.max(np.abs(audio)) > 1.0:
        raise ValueError(f"play(normalize=False): audio peak {np.max(np.abs(audio)):.3g} exceeds 1; normalise it first")
    return Audio(data=audio, rate=sr, normalize=False)


def write_wav(path: str | Path, audio, sr: int) -> Path:
    """Write mono audio in [-1, 1] as a 16-bit PCM WAV file.

    Raises:
        ValueError: for non-finite samples or a peak above 1 (we do not clip silently).
    """
    import soundfile as sf

    audio = _as_audio(audio)
    sr = _check_sr(sr)
    if np.max(np.abs(audio)) > 1.0:
        raise ValueError(f"write_wav({path}): audio peak {np.max(np.abs(audio)):.3g} exceeds 1; normalise it first")
    path = Path(path)
    sf.write(str(path), audio, sr, subtype="PCM_16")
    return path


def read_wav(path: str | Path, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read a WAV (or any format soundfile knows) as float32 in [-1, 1].

    Returns:
        ``(audio, sr)``; audio is (T,) when ``mono`` (channels averaged) else (T, C).

    Raises:
        FileNotFoundError: if the file does not exist.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_wav: no such file {path}")
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (T, C)
    return (audio.mean(axis=1) if mono else audio), int(sr)


# --- spectrograms -----------------------------------------------------------------------------------------
def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear (3 per 200 Hz) below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3))


def mel_frequencies(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """The ``n_mels + 2`` band edges in Hz, equally spaced in mel; band ``i`` peaks at edge ``i + 1``."""
    return mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))


def mel_filterbank(sr: int, n_fft: int, n_mels: int = 80, f_min: float = 0.0, f_max: float | None = None) -> np.ndarray:
    """Triangular mel filters (Slaney style: each filter has unit area in Hz), as ``librosa.filters.mel`` with
    ``htk=False, norm='slaney'`` (equal to within 1e-12 of its largest weight, tested where librosa is installed).

    Returns:
        float64 array (n_mels, n_fft // 2 + 1) mapping a power spectrum to mel bands.

    Raises:
        ValueError: for an empty frequency range or so many bands that some would hold no FFT bin.
    """
    f_max = sr / 2 if f_max is None else float(f_max)
    if not 0 <= f_min < f_max <= sr / 2:
        raise ValueError(f"mel_filterbank: need 0 <= f_min < f_max <= sr/2, got f_min={f_min}, f_max={f_max}, sr={sr}")
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)  # (F,)
    edges = mel_frequencies(n_mels, f_min, f_max)  # (M + 2,)
    widths = np.diff(edges)  # (M + 1,)
    ramps = edges[:, None] - fft_freqs[None, :]  # (M + 2, F)
    lower = -ramps[:-2] / widths[:-1, None]  # rising slope, (M, F)
    upper = ramps[2:] / widths[1:, None]  # falling slope, (M, F)
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # unit area
    empty = np.flatnonzero(weights.max(axis=1) == 0)
    if empty.size:
        raise ValueError(
            f"mel_filterbank: n_mels={n_mels} is too many for n_fft={n_fft} at sr={sr}: "
            f"{empty.size} band(s) hold no FFT bin (use fewer mels or a larger n_fft)"
        )
    return weights


def log_mel_spectrogram(
    audio,
    sr: int,
    n_mels: int = 80,
    n_fft: int = 1024,
    hop_length: int = 256,
    f_min: float = 0.0,
    f_max: float | None = None,
    floor: float = 1e-5,
):
    """Natural-log mel power spectrogram.

    Short-time Fourier transform (Hann window of ``n_fft``, centred frames with zero padding) -> power
    ``|X|^2`` -> Slaney mel filterbank -> ``log(max(mel, floor))``.

    Args:
        audio: mono signal (T,), NumPy or torch.
        sr: its sample rate.
        n_mels, n_fft, hop_length: number of mel bands, FFT size, hop between frames (samples).
        f_min, f_max: frequency range of the filterbank (``f_max=None``: ``sr / 2``).
        floor: smallest power before the log (silence maps to ``log(floor)``).

    Returns:
        torch.Tensor float32 (n_mels, frames) with ``frames = 1 + T // hop_length``.
    """
    import torch

    audio = _as_audio(audio)
    sr = _check_sr(sr)
    for name, value in (("n_mels", n_mels), ("n_fft", n_fft), ("hop_length", hop_length)):
        if int(value) != value or value <= 0:
            raise ValueError(f"log_mel_spectrogram: {name} must be a positive whole number, got {value!r}")
    if floor <= 0:
        raise ValueError(f"log_mel_spectrogram: floor must be positive, got {floor}")
    x = torch.from_numpy(np.ascontiguousarray(audio))  # (T,)
    spec = torch.stft(
        x, n_fft=n_fft, hop_length=hop_length, window=torch.hann_window(n_fft), center=True,
        pad_mode="constant", return_complex=True,
    )  # (F, frames)
    power = spec.real**2 + spec.imag**2
    fb = torch.from_numpy(mel_filterbank(sr, n_fft, n_mels, f_min, f_max)).to(power.dtype)  # (M, F)
    return torch.log(torch.clamp(fb @ power, min=floor))  # (M, frames)


# --- optional: a real soundfont ---------------------------------------------------------------------------
def fluidsynth_available() -> bool:
    """True when pyfluidsynth (and its libfluidsynth) can be imported."""
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def render_fluidsynth(piece: Piece, sf2_path: str | Path | None = None, sr: int = 44100, programs=None) -> np.ndarray:
    """Render through FluidSynth and a SoundFont (pretty_midi's bundled General MIDI font by default).

    Needs the optional packages ``pyfluidsynth`` and ``libfluidsynth``; the course works without them and renders
    SoundFonts with :mod:`helpers.soundfont` (pip-only) instead.

    Raises:
        RuntimeError: when FluidSynth is not installed.
    """
    if not fluidsynth_available():
        raise RuntimeError(
            "render_fluidsynth needs pyfluidsynth and libfluidsynth, which are not installed; "
            "use helpers.audio.render(piece, instrument, synth='soundfont') instead (TinySoundFont, pip-only)"
        )
    from .midi import to_pretty_midi

    pm = to_pretty_midi(piece, programs=programs)
    audio = pm.fluidsynth(fs=sr, sf2_path=None if sf2_path is None else str(sf2_path))
    return normalize_peak(audio.astype(np.float32)) if np.any(audio) else audio.astype(np.float32)
