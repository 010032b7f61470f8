"""MIDI files in and out: read in ticks with ``mido``, written through ``pretty_midi``.

A MIDI file stores events in *ticks*; ``resolution`` ticks make one quarter note, and tempo events say how
many microseconds a quarter lasts from then on. A :class:`~helpers.data.Piece` keeps times in quarter
notes, so the natural conversion is ticks / resolution ("score time"). That is what :func:`read_midi`
does; ``piece.qpm`` is the file's first tempo, so a constant-tempo file plays back at exactly the right
speed, and later tempo changes are kept in ``piece.meta['tempo_changes']`` (a performance's rubato is not
applied by :func:`helpers.audio.render`, which plays at one tempo).

- :func:`read_midi` -- a file becomes a :class:`Piece`, one voice per non-empty instrument (track/program);
  any resolution and length (the notes are paired in ticks, never turned into a table of seconds per tick).
- :func:`quarters_to_seconds` / :func:`seconds_to_quarters` -- through a tempo map.
- :func:`load_midi_folder` -- every MIDI file of a folder (yours) as a list of pieces.
- :func:`write_midi` -- a :class:`Piece` becomes a file, one instrument per voice, tempo ``piece.qpm``.
- :func:`to_pretty_midi` -- the in-memory ``pretty_midi.PrettyMIDI`` object, for anything else.

Notebook: ``00_welcome.ipynb`` (load your own MIDI), ``03_music_transformer.ipynb`` (exercise: your own music).
Reference: MIDI 1.0 Detailed Specification (MIDI Manufacturers Association, 1996), Standard MIDI Files;
Raffel & Ellis, "Intuitive analysis, creation and manipulation of MIDI data with pretty_midi",
ISMIR late-breaking demo (2014).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .data import CHORALE_VOICES, NOTE_DTYPE, PITCH_NAMES, Piece, sort_notes

DEFAULT_PROGRAM = 0  # General MIDI 1: Acoustic Grand Piano
CHORALE_PROGRAM = 19  # General MIDI 20: Church Organ (programs are 0-based here)
WRITE_RESOLUTION = 960  # ticks per quarter note in files we write


# --- reading ----------------------------------------------------------------------------------------------
MAX_QUARTERS = 200_000  # a file longer than this (over a day at 120 qpm) is taken for corrupt


def _parse_midi(path: Path):
    """The file as a ``mido.MidiFile``; any parser error becomes a ValueError naming the file."""
    import mido

    try:
        return mido.MidiFile(str(path))
    except Exception as err:  # mido raises OSError, EOFError, KeyError, IndexError, ValueError...
        raise ValueError(f"{path}: not a readable MIDI file ({type(err).__name__}: {err})") from err


@dataclass
class _Track:
    """The notes of one (program, channel, track) of a file, in ticks; what pretty_midi calls an Instrument."""

    program: int
    is_drum: bool
    name: str
    notes: list = field(default_factory=list)  # (start tick, end tick, pitch, velocity)


def _read_ticks(midi_file) -> tuple[list[_Track], dict, int, int]:
    """Notes and meta events of a parsed file, in ticks (no conversion to seconds, so no limit on the length).

    Notes are paired as pretty_midi pairs them, per track and (channel, pitch): a note-off (or a note-on of
    velocity 0) closes every open note of that key that started on an earlier tick; notes that started on the
    note-off's own tick stay open if an older one was closed, and are dropped (zero length) otherwise. Notes
    are grouped by (program, channel, track), the program being the channel's latest program change; channel 10
    (9 here) is the drum channel. Tempo, key and time-signature events are read from every track (a type-1 file
    keeps them in the first; files that do not still play at the right speed).

    Returns:
        ``(tracks, meta, zero_length, unterminated)``: the non-empty groups in the order their first note ends;
        ``meta`` with ``'tempo'``, ``'key'``, ``'time_signature'`` lists of ``(tick, value)``, sorted by tick;
        and the counts of dropped notes.
    """
    groups: dict[tuple[int, int, int], _Track] = {}
    meta: dict[str, list] = {"tempo": [], "key": [], "time_signature": []}
    zero_length = unterminated = 0
    for track_index, track in enumerate(midi_file.tracks):
        tick, name = 0, ""
        program = [0] * 16
        open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (channel, pitch) -> [(start, velocity)]
        for msg in track:
            tick += msg.time
            kind = msg.type
            if kind == "track_name":
                name = msg.name
            elif kind == "set_tempo":
                meta["tempo"].append((tick, msg.tempo))
            elif kind == "key_signature":
                meta["key"].append((tick, msg.key))
            elif kind == "time_signature":
                meta["time_signature"].append((tick, f"{msg.numerator}/{msg.denominator}"))
            elif kind == "program_change":
                program[msg.channel] = msg.program
            elif kind == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif kind in ("note_on", "note_off") and (msg.channel, msg.note) in open_notes:
                key = (msg.channel, msg.note)
                to_close = [(start, vel) for start, vel in open_notes[key] if start != tick]
                same_tick = [(start, vel) for start, vel in open_notes[key] if start == tick]
                if to_close:
                    group_key = (program[msg.channel], msg.channel, track_index)
                    if group_key not in groups:
                        groups[group_key] = _Track(program[msg.channel], msg.channel == 9, name)
                    groups[group_key].notes += [(start, tick, msg.note, vel) for start, vel in to_close]
                if to_close and same_tick:
                    open_notes[key] = same_tick  # a note-on on the note-off's tick: it goes on sounding
                else:
                    zero_length += len(same_tick)
                    del open_notes[key]
        unterminated += sum(len(v) for v in open_notes.values())
    for events in meta.values():
        events.sort(key=lambda e: e[0])  # stable: at one tick, file order
    return list(groups.values()), meta, zero_length, unterminated


def _tempo_map(events: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """``set_tempo`` events (tick, microseconds per quarter) -> change ticks (C,) and qpm (C,), from tick 0.

    MIDI's default of 120 qpm holds until the first event; of several events on one tick the last counts; an
    event that repeats the tempo in force is skipped.
    """
    ticks, tempi = [0], [120.0]
    for tick, micros in events:
        qpm = 6e7 / micros
        if tick == ticks[-1]:
            tempi[-1] = qpm
        elif qpm != tempi[-1]:
            ticks.append(tick)
            tempi.append(qpm)
    return np.array(ticks, dtype=np.int64), np.array(tempi, dtype=np.float64)


def quarters_to_seconds(quarters, tempo_changes: Sequence[Sequence[float]]) -> np.ndarray:
    """Score time -> seconds through a tempo map, the inverse of :func:`seconds_to_quarters`.

    Args:
        quarters: quarter notes from the start, any shape.
        tempo_changes: ``[[quarter, qpm], ...]`` increasing, the first at quarter 0 (``piece.meta['tempo_changes']``
            of a piece from :func:`read_midi`).

    Returns:
        seconds, same shape as ``quarters``: ``S_i + (q - Q_i) * 60 / qpm_i`` in the segment ``i`` holding q.
    """
    changes = np.asarray(tempo_changes, dtype=np.float64).reshape(-1, 2)  # (C, 2)
    if not len(changes) or changes[0, 0] != 0:
        raise ValueError(f"quarters_to_seconds: tempo_changes must start at quarter 0, got {tempo_changes!r}")
    at, qpm = changes[:, 0], changes[:, 1]
    seconds_at_change = np.concatenate([[0.0], np.cumsum(np.diff(at) * 60.0 / qpm[:-1])])  # (C,)
    q = np.asarray(quarters, dtype=np.float64)
    seg = np.clip(np.searchsorted(at, q, side="right") - 1, 0, len(at) - 1)
    return seconds_at_change[seg] + (q - at[seg]) * 60.0 / qpm[seg]


def seconds_to_quarters(times: np.ndarray, change_times: np.ndarray, tempi: np.ndarray) -> np.ndarray:
    """Convert seconds to quarter notes through a piecewise-constant tempo map.

    Args:
        times: seconds, any shape.
        change_times: seconds at which each tempo starts, shape (C,), increasing, ``change_times[0] == 0``.
        tempi: quarter notes per minute from each change on, shape (C,).

    Returns:
        quarter notes, same shape as ``times``: ``Q_i + (t - T_i) * qpm_i / 60`` in the segment ``i`` holding t.
    """
    change_times = np.asarray(change_times, dtype=np.float64)
    tempi = np.asarray(tempi, dtype=np.float64)
    quarters_at_change = np.concatenate([[0.0], np.cumsum(np.diff(change_times) * tempi[:-1] / 60.0)])  # (C,)
    times = np.asarray(times, dtype=np.float64)
    seg = np.clip(np.searchsorted(change_times, times, side="right") - 1, 0, len(change_times) - 1)
    return quarters_at_change[seg] + (times - change_times[seg]) * tempi[seg] / 60.0


def _unique_names(names: list[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return tuple(out)


def _key_from_number(key_number: int) -> tuple[str, int, str]:
    """pretty_midi key number (0..11 major, 12..23 minor) -> (``'Eb major'``, tonic, mode)."""
    tonic, mode = key_number % 12, ("major" if key_number < 12 else "minor")
    return f"{PITCH_NAMES[tonic]} {mode}", tonic, mode


def read_midi(path: str | Path, merge_tracks: bool = False) -> Piece:
    """Read a Standard MIDI File as a :class:`Piece`.

    Every non-empty instrument (notes grouped by track, channel and program, as pretty_midi groups them) is a voice,
    named after its track name, else its General MIDI program; drum tracks are named ``'drums'``.
    Times are *score time*: ticks / resolution = quarter notes, rounded to the tick grid. ``piece.qpm`` is
    the first tempo (120 if the file has none; rounded to 0.001), so seconds = quarters * 60 / qpm is
    right for a constant-tempo file; every tempo change is listed in ``meta['tempo_changes']`` as
    ``[quarter, qpm]`` (qpm exact, ``6e7 / microseconds per quarter``, so that :func:`quarters_to_seconds` gives
    the file's own times to the microsecond).

    The file is read in ticks with ``mido`` (:func:`_read_ticks`, which pairs notes as pretty_midi does), so a
    high resolution or a long piece is no problem: a 12-minute quartet at 10080 ticks per quarter (12 million
    ticks, which pretty_midi refuses as "likely corrupt") loads exactly (``tests/test_midi.py``). A file whose
    notes run past :data:`MAX_QUARTERS` quarter notes is refused as corrupt.

    Args:
        path: the ``.mid``/``.midi`` file.
        merge_tracks: put all pitched notes into one voice ``'merged'`` (drums, if any, stay a separate
            voice ``'drums'``), e.g. for a melody model trained on piano files.

    Returns:
        A :class:`Piece` with ``collection='midi'``, ``id`` = the file name without suffix, ``key`` and
        ``time_signature`` from the file's first key/time signature events if present, and ``meta`` holding
        ``source``, ``programs`` and ``is_drum`` (one per voice), ``track_names`` (one per instrument of
        the file, before any merging), ``resolution``, ``tempo_changes``, ``time_signature_changes``, and
        the counts of skipped notes ``dropped_zero_length`` (note-off on the note-on's tick) and
        ``dropped_unterminated`` (no note-off).

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: naming the file, if it is empty, corrupt, not MIDI, or holds no notes.
    """
    import pretty_midi

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_midi: no such file {path}")
    midi_file = _parse_midi(path)
    resolution = int(midi_file.ticks_per_beat)
    if resolution <= 0:
        raise ValueError(f"{path}: not a readable MIDI file (time division {resolution} is not ticks per quarter)")
    tracks, events, dropped, unterminated = _read_ticks(midi_file)
    last_tick = max((n[1] for t in tracks for n in t.notes), default=0)
    if last_tick / resolution > MAX_QUARTERS:
        raise ValueError(
            f"{path}: not a readable MIDI file (its last note ends {last_tick / resolution:.0f} quarter notes in, "
            f"tick {last_tick} at {resolution} per quarter; more than {MAX_QUARTERS}: it is likely corrupt)"
        )
    change_ticks, tempi = _tempo_map(events["tempo"])

    columns, names, programs, drums, track_names = [], [], [], [], []
    for t in tracks:
        raw = np.array(t.notes, dtype=np.float64)  # (N, 4): start tick, end tick, pitch, velocity
        columns.append((raw[:, 0] / resolution, (raw[:, 1] - raw[:, 0]) / resolution, raw[:, 2], raw[:, 3]))
        track_names.append(t.name.strip())
        programs.append(t.program)
        drums.append(t.is_drum)
        names.append("drums" if t.is_drum else t.name.strip() or pretty_midi.program_to_instrument_name(t.program))
    if not columns:
        raise ValueError(
            f"{path}: the MIDI file holds no notes"
            + (f" ({dropped} zero-length note(s) were skipped)" if dropped else "")
            + (f" ({unterminated} note(s) without a note-off were skipped)" if unterminated else "")
        )
    voice_of = list(range(len(columns)))
    if merge_tracks:
        pitched = [i for i, d in enumerate(drums) if not d]
        has_drums = any(drums)
        voice_of = [(1 if pitched else 0) if d else 0 for d in drums]
        names = (["merged"] if pitched else []) + (["drums"] if has_drums else [])
        programs = ([programs[pitched[0]]] if pitched else []) + ([0] if has_drums else [])
        drums = ([False] if pitched else []) + ([True] if has_drums else [])
    total = sum(len(c[0]) for c in columns)
    arr = np.zeros(total, dtype=NOTE_DTYPE)
    i = 0
    for v, (onset, dur, pitch, vel) in zip(voice_of, columns):
        j = i + len(onset)
        arr["onset"][i:j], arr["duration"][i:j], arr["pitch"][i:j] = onset, dur, pitch
        arr["velocity"][i:j], arr["voice"][i:j] = np.clip(vel, 1, 127), v
        i = j

    key, tonic, mode = "", -1, ""
    if events["key"]:
        key_number = pretty_midi.key_name_to_key_number(events["key"][0][1])
        key, tonic, mode = _key_from_number(int(key_number))
    ts = events["time_signature"]
    meta = {
        "source": str(path),
        "programs": programs,
        "is_drum": drums,
        "track_names": track_names,
        "resolution": resolution,
        "tempo_changes": [[float(t / resolution), float(q)] for t, q in zip(change_ticks, tempi)],  # qpm unrounded
        "time_signature_changes": [[float(t / resolution), sig] for t, sig in ts],
        "time_signature_from_file": bool(ts),
        "dropped_zero_length": dropped,
        "dropped_unterminated": unterminated,
    }
    return Piece(
        id=path.stem,
        title=path.stem,
        notes=sort_notes(arr),
        voice_names=_unique_names(names),
        key=key,
        tonic=tonic,
        mode=mode,
        time_signature=ts[0][1] if ts else "4/4",
        qpm=round(float(tempi[0]), 3),  # MIDI stores whole microseconds per quarter: 90 qpm reads 90.00009
        collection="midi",
        meta=meta,
    )


def load_midi_folder(folder: str | Path, recursive: bool = True, skip_bad: bool = False) -> list[Piece]:
    """Load every ``.mid``/``.midi`` file of a folder (yours!) as :class:`Piece` objects, with :func:`read_midi`.

    Args:
        folder: the folder to read (``~`` is expanded).
        recursive: also look in sub-folders.
        skip_bad: if True, files that fail to parse are skipped and listed in a warning; if False (default)
            the first bad file raises an error that names it.

    Raises:
        FileNotFoundError: if the folder does not exist or holds no MIDI file.

    Notebook: 00_welcome.ipynb (load your own MIDI).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"load_midi_folder: {folder} is not a folder")
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in folder.glob(pattern) if p.suffix.lower() in (".mid", ".midi") and p.is_file())
    if not files:
        raise FileNotFoundError(f"load_midi_folder: no .mid or .midi file in {folder}")
    pieces, bad = [], []
    for path in files:
        try:
            pieces.append(read_midi(path))
        except ValueError as err:
            if not skip_bad:
                raise
            bad.append(f"{path.name}: {err}")
    if bad:
        warnings.warn(f"load_midi_folder skipped {len(bad)} unreadable file(s):\n" + "\n".join(bad))
    return pieces


# --- writing ----------------------------------------------------------------------------------------------
def default_programs(piece: Piece) -> list[int]:
    """General MIDI program (0-based) per voice: the file's own if the piece came from MIDI, Church Organ
    for a chorale (voices S A T B), Acoustic Grand Piano otherwise."""
    n = len(piece.voice_names)
    from_file = piece.meta.get("programs") if piece.meta else None
    if from_file is not None and len(from_file) == n:
        return [int(p) for p in from_file]
    if tuple(piece.voice_names) == CHORALE_VOICES or piece.collection == "bach-chorales":
        return [CHORALE_PROGRAM] * n
    return [DEFAULT_PROGRAM] * n


def _per_voice(piece: Piece, value, what: str) -> list:
    """Expand a scalar, a sequence (one per voice) or a {voice name or index: value} dict to a per-voice list."""
    n = len(piece.voice_names)
    if isinstance(value, Mapping):
        out = [None] * n
        for k, v in value.items():
            out[piece.voice_index(k, what)] = v
        return out
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f"{what}: {len(value)} values given for {n} voices {piece.voice_names}")
    return value


def to_pretty_midi(
    piece: Piece,
    programs: int | Sequence[int] | Mapping | None = None,
    drums: Iterable[int | str] | None = None,
):
    """The piece as a ``pretty_midi.PrettyMIDI`` object (one instrument per voice, tempo ``piece.qpm``).

    See :func:`write_midi` for the arguments.
    """
    import pretty_midi

    if len(piece) == 0:
        raise ValueError(f"to_pretty_midi: piece {piece.id!r} has no notes")
    n_voices = len(piece.voice_names)
    progs = default_programs(piece)
    if programs is not None:
        given = _per_voice(piece, programs, "programs")
        progs = [p if g is None else g for p, g in zip(progs, given)]
    for v, p in enumerate(progs):
        if int(p) != p or not 0 <= int(p) <= 127:
            raise ValueError(f"programs: voice {piece.voice_names[v]!r} has program {p!r}; GM programs are 0..127")
    if drums is None:
        from_file = piece.meta.get("is_drum") if piece.meta else None
        usable = from_file is not None and len(from_file) == n_voices
        is_drum = [bool(d) for d in from_file] if usable else [False] * n_voices
    else:
        is_drum = [False] * n_voices
        for d in drums:
            is_drum[piece.voice_index(d, "drums")] = True

    pm = pretty_midi.PrettyMIDI(resolution=WRITE_RESOLUTION, initial_tempo=float(piece.qpm))
    sec = 60.0 / piece.qpm  # seconds per quarter
    notes = piece.notes
    for v in range(n_voices):
        inst = pretty_midi.Instrument(program=int(progs[v]), is_drum=is_drum[v], name=piece.voice_names[v])
        sel = notes[notes["voice"] == v]
        for p, o, d, vel in zip(sel["pitch"].tolist(), sel["onset"].tolist(), sel["duration"].tolist(),
                                sel["velocity"].tolist()):
            inst.notes.append(pretty_midi.Note(velocity=int(vel), pitch=int(p), start=o * sec, end=(o + d) * sec))
        pm.instruments.append(inst)
    if piece.tonic >= 0 and piece.mode in ("major", "minor"):
        key_number = piece.tonic + (12 if piece.mode == "minor" else 0)  # pretty_midi: 0..11 major, 12..23 minor
        pm.key_signature_changes.append(pretty_midi.KeySignature(key_number, 0.0))
    num, den = (int(x) for x in piece.time_signature.split("/"))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
    return pm


def write_midi(
    piece: Piece,
    path: str | Path,
    programs: int | Sequence[int] | Mapping | None = None,
    drums: Iterable[int | str] | None = None,
) -> Path:
    """Write a piece as a Standard MIDI File (type 1, 960 ticks per quarter, one track per voice).

    Args:
        piece: the piece. Every voice becomes a track named after it (an empty voice gives an empty track,
            which :func:`read_midi` skips); fermatas are not stored.
        path: the file to write (its folder must exist).
        programs: General MIDI programs, 0-based: one for all voices, one per voice, or a dict
            ``{voice name or index: program}``; None uses :func:`default_programs`.
        drums: voices (names or indices) to put on the drum channel; None uses ``meta['is_drum']`` when
            the piece came from :func:`read_midi`, else none.

    Returns:
        The path written. ``read_midi(write_midi(p, f))`` gives the same pitches, onsets and durations (to
        within a tick), velocities and voices.

    Raises:
        ValueError: for an empty piece, a program outside 0..127 or an unknown voice.
    """
    path = Path(path)
    pm = to_pretty_midi(piece, programs=programs, drums=drums)
    pm.write(str(path))
    return path
