"""The contract every encoding keeps, written once: :class:`Encoding`.

Notebook: 01_representations.ipynb (the round-trip check).
Reference: the shape of audiocraft's ``CodebooksPatternProvider`` (one small base class, one subclass per pattern,
    Copet et al., "Simple and Controllable Music Generation", NeurIPS 2023, Sec. 2.2).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..data import NOTE_DTYPE, Piece, sort_notes


class Encoding(ABC):
    """A way of writing a piece as numbers, and the promise of what comes back.

    A subclass says four things; the base class does the rest once::

        encode(piece)           -> tokens or array             (subclass)
        decode(x, **context)    -> Piece                       (subclass)
        reference(piece)        -> Piece: what must come back  (subclass)
        fields                  -> note fields it must keep    (subclass)
        decode_context(piece)   -> {qpm, id, ...}: what decode needs from the piece that ``x`` does not hold
        decode_like(x, piece)   =  decode(x, **decode_context(piece))
        round_trip(piece)       =  decode_like(encode(piece), piece)

    and the contract, checked over a corpus by :func:`~helpers.representations.round_trip_report`::

        note_table(round_trip(p), fields) == note_table(reference(p), fields)

    The four encodings of the course, drawn on one piece (S: C5 for a quarter, then D5 for an eighth; B: C3 for
    three eighths; 4 steps per quarter, 100 qpm, velocity 80 = bin 20 of 32). ``tests/test_representations.py``
    runs these lines as a doctest, so the drawing cannot drift from the code:

    >>> from helpers.data import piece_from_notes
    >>> from helpers.representations import REMI, ChoraleGrid, PerformanceEvents, PianoRoll
    >>> p = piece_from_notes([(72, 0, 1, 80, 0), (74, 1, 0.5, 80, 0), (48, 0, 1.5, 80, 1)], voice_names=("S", "B"))
    >>> grid = ChoraleGrid("hold"); frames = grid.frames(grid.encode(p))  # (6 steps, 4 voices), read row by row
    >>> for name, column in zip("SATB", frames.T): print(name, *(f"{t:4}" for t in grid.vocab.decode(column)))
    S C5   HOLD HOLD HOLD D5   HOLD
    A REST REST REST REST REST REST
    T REST REST REST REST REST REST
    B C3   HOLD HOLD HOLD HOLD HOLD
    >>> roll = PianoRoll().encode(p)  # (2, 128, 6): channel 0 = onsets, 1 = sustain; rows D5, C5, C3 shown
    >>> for pitch in (74, 72, 48): print(pitch, roll[0, pitch], roll[1, pitch])
    74 [ 0  0  0  0 80  0] [ 0  0  0  0 80 80]
    72 [80  0  0  0  0  0] [80 80 80 80  0  0]
    48 [80  0  0  0  0  0] [80 80 80 80 80 80]
    >>> events = PerformanceEvents(); print(*events.vocab.decode(events.encode(p)))  # doctest: +NORMALIZE_WHITESPACE
    VELOCITY_20 NOTE_ON_48 NOTE_ON_72 TIME_SHIFT_60 NOTE_OFF_72
    NOTE_ON_74 TIME_SHIFT_30 NOTE_OFF_48 NOTE_OFF_74
    >>> remi = REMI(); print(*remi.vocab.decode(remi.encode(p)))  # doctest: +NORMALIZE_WHITESPACE
    Bar Position_0 Voice_0 Pitch_72 Velocity_20 Duration_4 Voice_1 Pitch_48 Velocity_20 Duration_6
    Position_4 Voice_0 Pitch_74 Velocity_20 Duration_2
    """

    fields: tuple[str, ...] = ("pitch", "onset", "duration")

    @abstractmethod
    def encode(self, piece: Piece) -> np.ndarray:
        """A piece -> token ids (int64) or an array."""

    @abstractmethod
    def decode(self, x, **context) -> Piece:
        """Token ids or an array -> a piece; ``context`` as given by :meth:`decode_context`."""

    @abstractmethod
    def reference(self, piece: Piece) -> Piece:
        """What :meth:`round_trip` must give back on :attr:`fields` (the piece as this encoding can say it)."""

    def decode_context(self, piece: Piece) -> dict:
        """The keyword arguments of :meth:`decode` taken from ``piece``: here its tempo and id."""
        return {"qpm": piece.qpm, "id": piece.id}

    def decode_like(self, x, piece: Piece) -> Piece:
        """Decode with what ``piece`` knows and ``x`` does not (tempo and id; metre and voices where used)."""
        return self.decode(x, **self.decode_context(piece))

    def round_trip(self, piece: Piece) -> Piece:
        """``decode(encode(piece))`` with the piece's context (see :meth:`decode_like`)."""
        return self.decode_like(self.encode(piece), piece)


def _runs_to_cells(on: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs [on_i, off_i): the run index and the step of every cell they cover (vectorised)."""
    lengths = off - on  # (N,)
    run = np.repeat(np.arange(len(on)), lengths)  # (sum lengths,)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    step = np.repeat(on, lengths) + np.arange(len(run)) - first
    return run, step


def _piece_from_rows(rows, units_per_quarter: float, voice_names, qpm: float, id: str) -> Piece:
    """(pitch, onset, duration, velocity[, voice]) rows in time units -> Piece."""
    arr = np.zeros(len(rows), dtype=NOTE_DTYPE)
    if rows:
        cols = np.asarray(rows, dtype=np.float64)
        arr["pitch"], arr["velocity"] = cols[:, 0], cols[:, 3]
        arr["onset"], arr["duration"] = cols[:, 1] / units_per_quarter, cols[:, 2] / units_per_quarter
        if cols.shape[1] > 4:
            arr["voice"] = cols[:, 4]
    return Piece(id=id, notes=sort_notes(arr), voice_names=tuple(voice_names), qpm=qpm, collection="decoded")
