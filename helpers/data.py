"""Typed music data: notes, pieces, and the corpora shipped in ``data/``.

A :class:`Piece` holds its notes in one NumPy structured array (``piece.notes``), so that whole-corpus
operations stay vectorised; ``piece.notes.pitch`` is an array, ``piece.notes[0].pitch`` a number, and
``piece.note_list()`` gives plain :class:`Note` objects for reading.

Times are in quarter notes (beats) from the start of the piece; ``piece.qpm`` (quarter notes per minute)
turns them into seconds for playback.

Notebook: every notebook, first in ``00_welcome.ipynb``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .paths import DATA_DIR, shipped_file  # noqa: F401 (DATA_DIR: where the corpora are, for callers)


NOTE_DTYPE = np.dtype(
    [
        ("pitch", np.int16),  # MIDI pitch 0..127
        ("onset", np.float64),  # quarter notes from the start
        ("duration", np.float64),  # quarter notes, > 0
        ("velocity", np.int16),  # 1..127
        ("voice", np.int16),  # index into Piece.voice_names
        ("fermata", np.bool_),  # a fermata is written on this note
    ]
)

SPLITS = ("train", "valid", "test")
CHORALE_VOICES = ("S", "A", "T", "B")
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI pitch: 60 -> 'C4', 69 -> 'A4'."""
    pitch = int(pitch)
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class Note:
    """One note. Times in quarter notes."""

    pitch: int
    onset: float
    duration: float
    velocity: int = 80
    voice: int = 0
    fermata: bool = False

    @property
    def offset(self) -> float:
        return self.onset + self.duration

    def __str__(self) -> str:
        return f"{pitch_name(self.pitch)}@{self.onset:g}+{self.duration:g}"


def make_notes(
    pitch: Sequence[int],
    onset: Sequence[float],
    duration: Sequence[float],
    velocity: Sequence[int] | int = 80,
    voice: Sequence[int] | int = 0,
    fermata: Sequence[bool] | bool = False,
) -> np.recarray:
    """Build a sorted note array (``NOTE_DTYPE``) from parallel sequences, checking every field.

    Raises:
        ValueError: naming the field and the first bad index, for pitches outside 0..127, negative
            onsets, non-positive durations, velocities outside 1..127, or sequences of different lengths.
    """
    pitch = np.asarray(pitch)
    n = len(pitch)
    arr = np.zeros(n, dtype=NOTE_DTYPE)
    for name, values in (
        ("pitch", pitch),
        ("onset", onset),
        ("duration", duration),
        ("velocity", velocity),
        ("voice", voice),
        ("fermata", fermata),
    ):
        values = np.asarray(values)
        if values.ndim == 0:
            values = np.full(n, values)
        if len(values) != n:
            raise ValueError(f"make_notes: '{name}' has {len(values)} values but 'pitch' has {n}")
        if name in ("pitch", "velocity", "voice") and values.size and not np.all(values == np.round(values)):
            raise ValueError(f"make_notes: '{name}' must hold whole numbers")
        arr[name] = values
    _check_notes(arr)
    return sort_notes(arr)


def _check_notes(arr: np.ndarray) -> None:
    checks = (
        ("pitch", (arr["pitch"] < 0) | (arr["pitch"] > 127), "outside 0..127"),
        ("onset", ~np.isfinite(arr["onset"]) | (arr["onset"] < 0), "negative or not finite"),
        ("duration", ~np.isfinite(arr["duration"]) | (arr["duration"] <= 0), "not positive"),
        ("velocity", (arr["velocity"] < 1) | (arr["velocity"] > 127), "outside 1..127"),
        ("voice", arr["voice"] < 0, "negative"),
    )
    for name, bad, what in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"note {i}: {name}={arr[name][i].item()!r} is {what}")


def sort_notes(arr: np.ndarray) -> np.recarray:
    """Sort notes by onset, then voice, then pitch (a stable, canonical order)."""
    order = np.lexsort((arr["pitch"], arr["voice"], arr["onset"]))
    return np.ascontiguousarray(arr[order]).view(np.recarray)


@dataclass
class Piece:
    """A piece of music: notes plus what is needed to read and play them.

    Attributes:
        id: a stable identifier, e.g. ``'bwv360'`` or ``'essen/han1/3'``.
        title: human-readable title.
        notes: structured array of dtype ``NOTE_DTYPE``, sorted by (onset, voice, pitch).
        voice_names: name of each voice index (``('S', 'A', 'T', 'B')`` for chorales).
        key: e.g. ``'G major'`` (empty if unknown); ``tonic`` its pitch class 0..11 (-1 if unknown).
        time_signature: e.g. ``'4/4'``.
        qpm: playback tempo in quarter notes per minute.
        split: ``'train'``, ``'valid'``, ``'test'``, ``'extra'`` or ``''``.
        collection: where it comes from, e.g. ``'bach-chorales'``, ``'essen'``, ``'midi'``.
        meta: anything else (source file, JSB index, programs of MIDI tracks, ...).
    """

    id: str
    notes: np.recarray
    title: str = ""
    voice_names: tuple[str, ...] = ("",)
    key: str = ""
    tonic: int = -1
    mode: str = ""
    time_signature: str = "4/4"
    qpm: float = 100.0
    split: str = ""
    collection: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        notes = np.asarray(self.notes)
        if notes.dtype != NOTE_DTYPE:
            raise TypeError(f"Piece {self.id!r}: notes must have dtype NOTE_DTYPE, got {notes.dtype}")
        self.notes = notes.view(np.recarray)
        self.voice_names = tuple(self.voice_names)
        if len(notes) and int(notes["voice"].max()) >= len(self.voice_names):
            raise ValueError(
                f"Piece {self.id!r}: a note has voice {int(notes['voice'].max())} "
                f"but only {len(self.voice_names)} voice names are given"
            )
        if self.qpm <= 0:
            raise ValueError(f"Piece {self.id!r}: qpm must be positive, got {self.qpm}")

    # --- reading -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.notes)

    def __repr__(self) -> str:
        return (
            f"Piece({self.id!r}, {self.title!r}, {len(self)} notes, {len(self.voice_names)} voices, "
            f"{self.duration_quarters:g} quarters, key={self.key!r}, split={self.split!r})"
        )

    def note_list(self) -> list[Note]:
        """The notes as plain :class:`Note` objects."""
        return [
            Note(int(p), float(o), float(d), int(v), int(vo), bool(f))
            for p, o, d, v, vo, f in self.notes.tolist()
        ]

    @property
    def duration_quarters(self) -> float:
        """End of the last note, in quarter notes."""
        if not len(self.notes):
            return 0.0
        return float((self.notes["onset"] + self.notes["duration"]).max())

    @property
    def duration_seconds(self) -> float:
        return self.duration_quarters * 60.0 / self.qpm

    def voice_index(self, voice: int | str, what: str = "voice") -> int:
        """A voice given by name or index -> its index; a ValueError naming ``what`` if the piece has no such voice."""
        n = len(self.voice_names)
        if isinstance(voice, str):
            if voice not in self.voice_names:
                raise ValueError(f"{what}: piece {self.id!r} has no voice {voice!r}; voices are {self.voice_names}")
            voice = self.voice_names.index(voice)
        if not 0 <= int(voice) < n:
            raise ValueError(f"{what}: voice index {voice} outside 0..{n - 1}")
        return int(voice)

    def per_voice_choice(self, choice, convert, what: str) -> list:
        """``{voice name or index: value}`` -> one ``convert(value)`` per voice (None where not given).

        A voice that has notes but no value is an error naming ``what`` (used for per-voice instruments).
        """
        chosen = [None] * len(self.voice_names)
        for key, value in choice.items():
            chosen[self.voice_index(key, what)] = convert(value)
        used = sorted(set(np.unique(self.notes["voice"]).tolist()))
        missing = [self.voice_names[v] for v in used if chosen[v] is None]
        if missing:
            raise ValueError(f"{what} gives no instrument for voice(s) {missing}; voices are {self.voice_names}")
        return chosen

    def voice(self, v: int | str) -> np.recarray:
        """The notes of one voice, by index or name (``piece.voice('S')``)."""
        if isinstance(v, str):
            if v not in self.voice_names:
                raise KeyError(f"Piece {self.id!r} has no voice {v!r}; voices are {self.voice_names}")
            v = self.voice_names.index(v)
        return self.notes[self.notes["voice"] == v]

    @property
    def pitches(self) -> np.ndarray:
        return np.asarray(self.notes["pitch"], dtype=np.int64)

    # --- changing (always a new Piece) -------------------------------------------------------------------
    def with_notes(self, notes: np.ndarray, **changes) -> "Piece":
        """A copy of this piece with other notes (and any other field changed)."""
        return replace(self, notes=sort_notes(np.asarray(notes)), meta=dict(self.meta), **changes)

    def with_notes_view(self, notes: np.recarray) -> "Piece":
        """This piece holding ``notes`` as they are (already sorted and checked; used by the corpus reader)."""
        self.notes = notes
        self.__post_init__()
        return self

    def transpose(self, semitones: int) -> "Piece":
        """Shift every pitch by ``semitones``; the key moves with it.

        Raises:
            ValueError: if a pitch would leave the MIDI range 0..127.
        """
        semitones = int(semitones)
        notes = self.notes.copy()
        shifted = notes["pitch"].astype(np.int64) + semitones
        if len(shifted) and (shifted.min() < 0 or shifted.max() > 127):
            raise ValueError(
                f"Piece {self.id!r}: transposing by {semitones} puts pitches outside 0..127 "
                f"(range would be {shifted.min()}..{shifted.max()})"
            )
        notes["pitch"] = shifted
        tonic = (self.tonic + semitones) % 12 if self.tonic >= 0 else -1
        key = f"{PITCH_NAMES[tonic]} {self.mode}".strip() if tonic >= 0 and self.mode else self.key
        return self.with_notes(notes, tonic=tonic, key=key)

    def transpositions(self, semitones: Iterable[int]) -> list["Piece"]:
        """All transpositions that stay inside the MIDI range (the others are skipped)."""
        out = []
        for s in semitones:
            lo, hi = (int(self.pitches.min()), int(self.pitches.max())) if len(self) else (0, 0)
            if 0 <= lo + s and hi + s <= 127:
                out.append(self.transpose(s))
        return out

    def slice_quarters(self, start: float, end: float) -> "Piece":
        """Notes starting in [start, end), shifted so that ``start`` becomes 0 and cut at ``end``."""
        n = self.notes
        keep = (n["onset"] >= start) & (n["onset"] < end)
        notes = n[keep].copy()
        notes["onset"] -= start
        notes["duration"] = np.minimum(notes["duration"], end - start - notes["onset"])
        return self.with_notes(notes)

    # --- serialisation (a dict per piece; the corpus files hold the same fields) ---------------------------------------------------
    def to_dict(self) -> dict:
        n = self.notes
        return {
            "id": self.id,
            "title": self.title,
            "collection": self.collection,
            "split": self.split,
            "key": self.key,
            "tonic": self.tonic,
            "mode": self.mode,
            "time_signature": self.time_signature,
            "qpm": self.qpm,
            "voice_names": list(self.voice_names),
            "notes": [
                [int(p), round(float(o), 6), round(float(d), 6), int(v), int(vo), int(f)]
                for p, o, d, v, vo, f in n.tolist()
            ],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Piece":
        rows = d["notes"]
        arr = np.zeros(len(rows), dtype=NOTE_DTYPE)
        if rows:
            cols = np.asarray(rows, dtype=np.float64)
            if cols.ndim != 2 or cols.shape[1] != 6:
                raise ValueError(f"piece {d.get('id')!r}: each note must be [pitch, onset, dur, vel, voice, fermata]")
            arr["pitch"], arr["onset"], arr["duration"] = cols[:, 0], cols[:, 1], cols[:, 2]
            arr["velocity"], arr["voice"], arr["fermata"] = cols[:, 3], cols[:, 4], cols[:, 5]
        return cls(
            id=d["id"],
            notes=arr.view(np.recarray),
            title=d.get("title", ""),
            voice_names=tuple(d.get("voice_names", ("",))),
            key=d.get("key", ""),
            tonic=int(d.get("tonic", -1)),
            mode=d.get("mode", ""),
            time_signature=d.get("time_signature", "4/4"),
            qpm=float(d.get("qpm", 100.0)),
            split=d.get("split", ""),
            collection=d.get("collection", ""),
            meta=d.get("meta", {}),
        )


def piece_from_notes(
    notes: Iterable[Note] | Iterable[tuple],
    id: str = "piece",
    voice_names: tuple[str, ...] | None = None,
    **fields,
) -> Piece:
    """Build a :class:`Piece` from :class:`Note` objects or tuples ``(pitch, onset, duration[, velocity[, voice]])``.

    Example:
        >>> piece_from_notes([(60, 0, 1), (64, 1, 1), (67, 2, 2)], id="arpeggio").pitches
        array([60, 64, 67])
    """
    rows = [
        (n.pitch, n.onset, n.duration, n.velocity, n.voice, n.fermata) if isinstance(n, Note) else tuple(n)
        for n in notes
    ]
    if not rows:
        raise ValueError(f"piece_from_notes({id!r}): no notes given; a piece needs at least one note")
    cols = list(zip(*rows))
    if len(cols) < 3:
        raise ValueError(f"piece_from_notes({id!r}): each note needs at least (pitch, onset, duration)")
    arr = make_notes(*cols[:6]) if len(cols) >= 4 else make_notes(*cols[:3])
    if voice_names is None:
        voice_names = tuple(str(i) for i in range(int(arr["voice"].max()) + 1))
    return Piece(id=id, notes=arr, voice_names=voice_names, **fields)


# --- the shipped corpora ------------------------------------------------------------------------------
CORPUS_FILES = {
    "chorales": "chorales.npz",
    "essen": "folk_essen.npz",
    "oneills": "folk_oneills.npz",
}


CORPUS_COLUMNS = ("pitch", "onset", "duration", "velocity", "voice", "fermata")


def write_corpus(pieces: Sequence[Piece], path: str | Path) -> str:
    """Write pieces to one compact ``.npz`` file; returns its sha256 (the bytes are deterministic).

    Layout: one array per note field with the notes of all pieces concatenated, ``offsets`` (piece i owns notes
    ``offsets[i]:offsets[i+1]``), and ``meta``: UTF-8 JSON of every piece's fields except its notes.
    """
    import io
    import zipfile

    from .checkpoints import atomic_write, file_sha256  # imported here: reading the corpora needs no torch

    if not pieces:
        raise ValueError(f"write_corpus({path}): no pieces to write")
    notes = np.concatenate([np.asarray(p.notes) for p in pieces])
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in pieces])]).astype(np.int64)
    meta = [{k: v for k, v in p.to_dict().items() if k != "notes"} for p in pieces]
    arrays = {c: np.ascontiguousarray(notes[c]) for c in CORPUS_COLUMNS}
    arrays["offsets"] = offsets
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode(), np.uint8)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for name in sorted(arrays):
                buf = io.BytesIO()
                np.save(buf, arrays[name], allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())

    path = atomic_write(path, write)  # write then rename: a reader never sees half a file
    return file_sha256(path)


def read_corpus(path: str | Path) -> tuple[Piece, ...]:
    """Read a file written by :func:`write_corpus` (no pickle: plain arrays and JSON)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; rebuild it with `make data` (see data/README.md)")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in (*CORPUS_COLUMNS, "offsets", "meta") if k not in z.files]
        if missing:
            raise ValueError(f"{path} is not a corpus file: arrays {missing} are missing")
        notes = np.zeros(len(z["pitch"]), dtype=NOTE_DTYPE)
        for c in CORPUS_COLUMNS:
            notes[c] = z[c]
        offsets = z["offsets"]
        meta = json.loads(z["meta"].tobytes().decode("utf-8"))
    if len(offsets) != len(meta) + 1 or offsets[-1] != len(notes):
        raise ValueError(f"{path}: offsets do not match the notes and pieces it holds")
    notes = notes.view(np.recarray)
    return tuple(
        Piece.from_dict({**m, "notes": []}).with_notes_view(notes[offsets[i] : offsets[i + 1]])
        for i, m in enumerate(meta)
    )


@lru_cache(maxsize=None)
def _load_corpus(name: str) -> tuple[Piece, ...]:
    if name not in CORPUS_FILES:
        raise KeyError(f"unknown corpus {name!r}; choose one of {sorted(CORPUS_FILES)}")
    return read_corpus(shipped_file(CORPUS_FILES[name]))


def _select(pieces: Sequence[Piece], split: str | Sequence[str] | None, what: str) -> list[Piece]:
    if split is None:
        return list(pieces)
    wanted = (split,) if isinstance(split, str) else tuple(split)
    known = {p.split for p in pieces}
    for s in wanted:
        if s not in known:
            raise ValueError(f"{what}: unknown split {s!r}; this corpus has {sorted(known)}")
    return [p for p in pieces if p.split in wanted]


def load_chorales(split: str | Sequence[str] | None = None, include_extra: bool = False) -> list[Piece]:
    """Bach's four-part chorales (voices S, A, T, B) on the canonical JSB split.

    Args:
        split: ``'train'``, ``'valid'``, ``'test'``, ``'extra'`` (chorales outside JSB: never in valid or
            test), a list of these, or None for the JSB pieces of all three splits.
        include_extra: with ``split=None``, also return the extra set.

    Returns:
        A list of :class:`Piece` (fresh list; the pieces themselves are shared, treat them as read-only).

    Reference: Boulanger-Lewandowski, Bengio & Vincent (ICML 2012) for the split; data/README.md.
    """
    pieces = _load_corpus("chorales")
    if split is None and not include_extra:
        return [p for p in pieces if p.split in SPLITS]
    return _select(pieces, split, "load_chorales")


def load_folk(collection: str = "essen", split: str | Sequence[str] | None = None) -> list[Piece]:
    """Monophonic folk melodies (one voice) with key and metre.

    Args:
        collection: ``'essen'`` (Essen Folksong Collection as in the music21 corpus) or ``'oneills'``
            (O'Neill's Music of Ireland, 1903: "1850 melodies"), where shipped.
        split: ``'train'``, ``'valid'``, ``'test'``, a list, or None for all.
    """
    if collection not in ("essen", "oneills"):
        raise KeyError(f"unknown folk collection {collection!r}; choose 'essen' or 'oneills'")
    return _select(_load_corpus(collection), split, f"load_folk({collection!r})")
