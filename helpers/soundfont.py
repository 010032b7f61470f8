"""Real instrument sound: render a :class:`~helpers.data.Piece` through a General MIDI SoundFont.

A SoundFont (``.sf2``/``.sf3``) holds recorded samples of instruments with loop points and envelopes; a
SoundFont synthesiser plays them back at the pitch of each note. The course renders with TinySoundFont's
Python bindings (``tinysoundfont``, a wheel from PyPI with no system library) and, by default, the General
MIDI SoundFont that ``pretty_midi`` already installs (``TimGM6mb.sf2``, 6 MB). Your own ``.sf2``/``.sf3``
works too (``soundfont=`` argument).

- :data:`GM_INSTRUMENTS`: friendly names for General MIDI programs (``"flute"`` -> 73, ``"choir"`` -> 52, ...);
  any program 0..127 is accepted as an ``int``.
- :func:`gm_program` / :func:`instrument_family`: name or program -> program; program -> family (piano, organ,
  guitar, strings, voice, brass, reed, pipe, ...), the family the attribute classifier predicts.
- :func:`render_soundfont`: a piece -> mono float32 audio, one MIDI channel per voice, deterministic.

``helpers.audio.render`` / ``play`` dispatch here for GM instruments (``synth="soundfont"``, a program number, a
GM-only name such as ``"flute"``, or a ``soundfont=`` path), so notebooks rarely call this module directly.

How rendering works (plain and exact): every note becomes a note-on and a note-off event at a sample index
(``round(seconds * sr)``); the events are sorted (note-offs before note-ons at the same sample, so a repeated
note is re-struck), and the synthesiser renders the samples between consecutive events, applying the events in
between. Each piece gets a fresh synthesiser, so the same input gives the same samples.

Notebook: ``00_welcome.ipynb`` (the same chorale through both renderers); the audio corpus of notebooks 04-06
(``helpers.audio_corpus``) is rendered here.
Reference: SoundFont 2.04 specification (E-mu/Creative, 1996/2006); General MIDI Level 1 sound set (MIDI
Manufacturers Association, 1991), program numbers 0-based here; TinySoundFont (Bernhard Schelling),
Python bindings ``tinysoundfont`` 0.3.7 (Nathan Whitehead).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Mapping

import numpy as np

from .data import Piece
from .limiter import soft_limit

# Sample rates the course's audio models and this renderer are used at (the corpus and the classifier: 16 kHz).
SOUNDFONT_SAMPLE_RATES = (16000, 22050, 24000, 32000, 44100, 48000)
TAIL_SECONDS = 0.5  # rendered after the last note-off, so that releases ring out
DEFAULT_GAIN = 0.8  # linear factor on the synthesiser's output (a four-voice chorale at velocity 80 stays below 0.8)

# Friendly names -> General MIDI program (0-based: MIDI user interfaces show these plus one).
GM_INSTRUMENTS: dict[str, int] = {
    "piano": 0, "bright_piano": 1, "electric_piano": 4, "harpsichord": 6, "clavinet": 7,
    "celesta": 8, "glockenspiel": 9, "music_box": 10, "vibraphone": 11, "marimba": 12, "xylophone": 13,
    "drawbar_organ": 16, "organ": 19, "reed_organ": 20, "accordion": 21, "harmonica": 22,
    "guitar": 24, "steel_guitar": 25, "jazz_guitar": 26, "electric_guitar": 27,
    "bass": 32, "electric_bass": 33,
    "violin": 40, "viola": 41, "cello": 42, "contrabass": 43, "pizzicato": 45, "harp": 46, "timpani": 47,
    "strings": 48, "slow_strings": 49, "choir": 52, "voice": 53,
    "trumpet": 56, "trombone": 57, "tuba": 58, "french_horn": 60, "brass": 61,
    "soprano_sax": 64, "alto_sax": 65, "tenor_sax": 66, "oboe": 68, "english_horn": 69, "bassoon": 70, "clarinet": 71,
    "piccolo": 72, "flute": 73, "recorder": 74, "pan_flute": 75, "ocarina": 79,
    "sitar": 104, "banjo": 105, "bagpipe": 109, "fiddle": 110,
}

# The 16 families of the General MIDI sound set (8 programs each), except that 48-55 ("ensemble") is split into
# strings (48-51), voice (52-54) and ensemble (55, orchestra hit): a string section sounds like strings.
_GM_FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass",
                "reed", "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")


def default_soundfont() -> Path:
    """Path of ``TimGM6mb.sf2``, the General MIDI SoundFont installed with ``pretty_midi``."""
    import pretty_midi

    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


def gm_program(instrument: str | int) -> int:
    """General MIDI program (0..127) of a friendly name in :data:`GM_INSTRUMENTS` or of a program number.

    Raises:
        ValueError: for an unknown name (listing the known ones) or a program outside 0..127.
    """
    if isinstance(instrument, (bool, np.bool_)):
        raise ValueError(f"instrument must be a name or a General MIDI program 0..127, got {instrument!r}")
    if isinstance(instrument, (int, np.integer)):
        if not 0 <= int(instrument) <= 127:
            raise ValueError(f"General MIDI program must lie in 0..127, got {int(instrument)}")
        return int(instrument)
    if instrument not in GM_INSTRUMENTS:
        raise ValueError(
            f"unknown General MIDI instrument {instrument!r}; known names are {sorted(GM_INSTRUMENTS)} "
            f"(or pass a program number 0..127)"
        )
    return GM_INSTRUMENTS[instrument]


def instrument_family(instrument: str | int) -> str:
    """The family of a GM program or name: ``'piano'``, ``'organ'``, ``'strings'``, ``'voice'``, ``'reed'``, ...

    Example:
        >>> instrument_family("cello"), instrument_family("choir"), instrument_family(73)
        ('strings', 'voice', 'pipe')
    """
    program = gm_program(instrument)
    if 48 <= program <= 51:
        return "strings"
    if 52 <= program <= 54:
        return "voice"
    return _GM_FAMILIES[program // 8]


def gm_name(program: int) -> str:
    """The friendly name of a program (the first in :data:`GM_INSTRUMENTS`), else ``'program N'``."""
    for name, p in GM_INSTRUMENTS.items():
        if p == program:
            return name
    return f"program {program}"


# --- the SoundFont file -----------------------------------------------------------------------------------
def soundfont_path(soundfont: str | Path | None) -> Path:
    """The SoundFont file to use (``None``: :func:`default_soundfont`), checked to exist.

    Raises:
        FileNotFoundError: naming the file when it does not exist.
        ValueError: when its name does not end in ``.sf2``, ``.sf3`` or ``.sfo``.
    """
    path = default_soundfont() if soundfont is None else Path(soundfont).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"SoundFont file {path} does not exist")
    if path.suffix.lower() not in (".sf2", ".sf3", ".sfo"):
        raise ValueError(f"SoundFont file {path} should end in .sf2, .sf3 or .sfo")
    return path


def soundfont_sha256(soundfont: str | Path | None = None) -> str:
    """SHA-256 of the SoundFont file (part of the audio corpus's recipe: another font, another cache)."""
    from .checkpoints import file_sha256  # imported here: rendering needs no torch

    return file_sha256(soundfont_path(soundfont))


@lru_cache(maxsize=4)
def _read_bytes(path: str, mtime_ns: int) -> bytes:
    return Path(path).read_bytes()


def load_soundfont(soundfont: str | Path | None, sr: int):
    """A fresh TinySoundFont synthesiser for ``soundfont`` at ``sr`` (the file's bytes are cached).

    Fresh on every call because ``SoundFont.reset()`` does not restore every internal state (measured: a note
    rendered after a reset differs from the same note rendered by a new synthesiser in its first samples);
    parsing the cached bytes of the default font takes about 12 ms.

    Raises:
        FileNotFoundError / ValueError: for a missing or unreadable file (the message names it).
    """
    import tinysoundfont._tinysoundfont as tsf  # the compiled core: pyaudio (live playback) is not needed

    path = soundfont_path(soundfont)
    sr = check_sample_rate(sr)
    try:
        sf = tsf.SoundFont(_read_bytes(str(path), path.stat().st_mtime_ns))
    except RuntimeError as err:
        raise ValueError(f"SoundFont file {path} could not be read (corrupt or not a SoundFont): {err}") from None
    sf.set_output(tsf.OutputMode.Mono, sr, 0.0)
    sf.set_max_voices(256)
    return sf


def check_sample_rate(sr: int) -> int:
    """``sr`` if it is one of :data:`SOUNDFONT_SAMPLE_RATES`, else a ValueError naming the supported rates."""
    if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, np.integer)) or int(sr) not in SOUNDFONT_SAMPLE_RATES:
        raise ValueError(
            f"sample rate {sr!r} is not supported for SoundFont rendering and the audio models; "
            f"use one of {SOUNDFONT_SAMPLE_RATES} Hz (the audio corpus and models use 16000)"
        )
    return int(sr)


# --- rendering --------------------------------------------------------------------------------------------
def voice_programs(piece: Piece, instrument: str | int | Mapping) -> list[int]:
    """One GM program per voice: one name/program for all voices, or ``{voice index or name: name/program}``.

    Raises:
        ValueError: for unknown names or voices, or a dict that leaves a sounding voice without an instrument.
    """
    n_voices = len(piece.voice_names)
    if not isinstance(instrument, Mapping):
        return [gm_program(instrument)] * n_voices
    chosen = piece.per_voice_choice(instrument, gm_program, "instrument dict")
    return [c if c is not None else 0 for c in chosen]


def note_events(piece: Piece, sr: int, qpm: float) -> np.ndarray:
    """The note-on/off events of a piece, sorted, as an int64 array (E, 5): ``sample, is_on, voice, pitch, velocity``.

    At the same sample, note-offs (``is_on = 0``) come first, so a repeated note is released and struck again.
    """
    n = piece.notes
    sec = 60.0 / qpm
    on = np.round(n["onset"] * sec * sr).astype(np.int64)  # (N,)
    off = np.maximum(np.round((n["onset"] + n["duration"]) * sec * sr).astype(np.int64), on + 1)
    voice = n["voice"].astype(np.int64)
    pitch = n["pitch"].astype(np.int64)
    velocity = n["velocity"].astype(np.int64)
    events = np.concatenate([
        np.stack([on, np.ones_like(on), voice, pitch, velocity], axis=1),
        np.stack([off, np.zeros_like(off), voice, pitch, velocity], axis=1),
    ])  # (2N, 5)
    order = np.lexsort((events[:, 3], events[:, 2], events[:, 1], events[:, 0]))  # by sample, then off before on
    return events[order]


def render_soundfont(
    piece: Piece,
    instrument: str | int | Mapping = "piano",
    sr: int = 22050,
    qpm: float | None = None,
    soundfont: str | Path | None = None,
    gain: float = DEFAULT_GAIN,
    tail: float = TAIL_SECONDS,
) -> np.ndarray:
    """Render a piece through a General MIDI SoundFont into mono audio.

    Each voice plays on its own MIDI channel (channel 9, the GM drum channel, is skipped) with its program;
    velocity ``v`` plays at ``v / 127``. The mix is multiplied by ``gain`` and passed through
    :func:`helpers.limiter.soft_limit`, so nothing clips.

    Args:
        piece: the piece (times in quarter notes).
        instrument: a name in :data:`GM_INSTRUMENTS` or a program 0..127 for every voice, or a dict
            ``{voice (index or name): name or program}``, e.g. ``{"S": "oboe", "A": "clarinet", "T": "clarinet",
            "B": "bassoon"}``.
        sr: sample rate, one of :data:`SOUNDFONT_SAMPLE_RATES`.
        qpm: tempo in quarter notes per minute (None: ``piece.qpm``).
        soundfont: path of a ``.sf2``/``.sf3`` file (None: :func:`default_soundfont`).
        gain: linear factor on the synthesiser's output before the soft limiter.
        tail: seconds rendered after the last note-off (releases ring out).

    Returns:
        float32 (T,), peak below 1, ``T = round(end of last note in seconds * sr) + round(tail * sr)``.

    Raises:
        ValueError: for an empty piece, an unknown instrument, a program the SoundFont lacks, an unsupported
            ``sr``, a non-positive ``qpm``, or an unreadable SoundFont; FileNotFoundError for a missing one.
    """
    if not isinstance(piece, Piece):
        raise TypeError(f"render_soundfont expects a helpers.data.Piece, got {type(piece).__name__}")
    if len(piece) == 0:
        raise ValueError(f"render_soundfont: piece {piece.id!r} has no notes")
    qpm = float(piece.qpm if qpm is None else qpm)
    if not np.isfinite(qpm) or qpm <= 0:
        raise ValueError(f"render_soundfont: qpm must be positive, got {qpm}")
    if not np.isfinite(gain) or gain < 0 or not np.isfinite(tail) or tail < 0:
        raise ValueError(f"render_soundfont: gain and tail must be finite and >= 0, got gain={gain}, tail={tail}")
    sr = check_sample_rate(sr)
    programs = voice_programs(piece, instrument)
    if len(programs) > 15:
        raise ValueError(f"render_soundfont: piece {piece.id!r} has {len(programs)} voices; at most 15 MIDI channels")
    sf = load_soundfont(soundfont, sr)  # a fresh synthesiser: same input, same samples
    channels = [v if v < 9 else v + 1 for v in range(len(programs))]  # skip the drum channel
    for ch, program in zip(channels, programs):
        if sf.get_preset_index(0, program) < 0:
            raise ValueError(
                f"SoundFont {soundfont_path(soundfont)} has no preset for program {program} ({gm_name(program)})"
            )
        sf.channel_set_preset_number(ch, program, False)
    events = note_events(piece, sr, qpm)  # (E, 5)
    total = int(events[-1, 0]) + int(round(tail * sr))
    out = np.zeros(total, dtype=np.float32)  # (T,)
    buf = out.view(np.uint8)  # TinySoundFont renders float32 samples into a byte buffer
    pos = 0
    for sample, is_on, voice, pitch, velocity in events.tolist():
        if sample > pos:
            sf.render(buf[4 * pos : 4 * sample])
            pos = sample
        if is_on:
            sf.channel_note_on(channels[voice], pitch, velocity / 127.0)
        else:
            sf.channel_note_off(channels[voice], pitch)
    if total > pos:
        sf.render(buf[4 * pos :])
    out *= np.float32(gain)
    return soft_limit(out).astype(np.float32)
