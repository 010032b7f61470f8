"""Piano rolls: a (128 pitches x steps) image of a piece, with onset channels and one roll per voice as options.

Notebook: 01_representations.ipynb.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data import NOTE_DTYPE, Piece, sort_notes
from .encoding import Encoding, _runs_to_cells
from .quantisation import _check_steps_per_quarter, grid_notes, quantize


class PianoRoll(Encoding):
    """A piano roll: a (128 pitches x steps) image on a time grid, cell value = velocity (0 = silent).

    Shapes of ``encode(piece)`` (uint8 velocities):

    ============  ==============  =========================================================================
    onsets        by_voice        shape
    ============  ==============  =========================================================================
    False         False           (128, T): the plain roll; a note is a run of non-zero cells
    True          False           (2, 128, T): channel 0 = onset (velocity where a note starts), 1 = sustain
    False/True    True            (V, 128, T) / (V, 2, 128, T): one roll per voice (a multitrack roll)
    ============  ==============  =========================================================================

    Decoding merges held cells of a pitch into one note. The plain roll therefore merges two notes of the
    same pitch that follow each other without a gap (like the ``repeat`` chorale grid), and a roll without
    voices merges notes of two voices on the same pitch (a unison): both losses are measured by
    :func:`round_trip_errors`. With ``onsets=True`` and ``by_voice=True`` the roll is lossless.

    Notebook: 01_representations.ipynb.
    Reference: the onset + frame representation of Hawthorne et al., "Onsets and Frames", ISMIR 2018;
        multitrack rolls as in Dong et al., "MuseGAN", AAAI 2018.
    """

    def __init__(self, steps_per_quarter: int = 4, onsets: bool = True, by_voice: bool = False):
        _check_steps_per_quarter(steps_per_quarter)
        self.steps_per_quarter = int(steps_per_quarter)
        self.onsets = bool(onsets)
        self.by_voice = bool(by_voice)

    def __repr__(self) -> str:
        return f"PianoRoll(steps_per_quarter={self.steps_per_quarter}, onsets={self.onsets}, by_voice={self.by_voice})"

    def encode(self, piece: Piece) -> np.ndarray:
        """A piece -> roll of uint8 velocities (shape in the class docstring), quantised with :func:`quantize`."""
        n, on, off = grid_notes(piece, self.steps_per_quarter)
        steps = int(off.max()) if len(n) else 0
        n_tracks = len(piece.voice_names) if self.by_voice else 1
        track = np.asarray(n["voice"], dtype=np.int64) if self.by_voice else np.zeros(len(n), dtype=np.int64)
        roll = np.zeros((n_tracks, 2, 128, steps), dtype=np.uint8)  # (V, 2, 128, T)
        run, step = _runs_to_cells(on, off)
        roll[track[run], 1, n["pitch"][run], step] = n["velocity"][run]
        roll[track, 0, n["pitch"], on] = n["velocity"]
        if not self.onsets:
            roll = roll[:, 1]  # (V, 128, T)
        return roll if self.by_voice else roll[0]

    def decode(
        self, roll: np.ndarray, voice_names: Sequence[str] | None = None, qpm: float = 100.0, id: str = "piano-roll"
    ) -> Piece:
        """Roll -> Piece. A note starts at an onset cell (with onsets) or where a pitch becomes active (without),
        and lasts while the sustain channel stays on and no new onset comes; its velocity is the starting cell's."""
        roll = np.asarray(roll)
        expected = 2 + int(self.onsets) + int(self.by_voice)
        if roll.ndim != expected or roll.shape[-2] != 128 or (self.onsets and roll.shape[-3] != 2):
            what = ("(V, " if self.by_voice else "(") + ("2, " if self.onsets else "") + "128, T)"
            raise ValueError(f"PianoRoll.decode: roll must have shape {what} for {self!r}, got {roll.shape}")
        if not self.by_voice:
            roll = roll[None]
        if not self.onsets:
            sustain = roll  # (V, 128, T)
            prev = np.concatenate([np.zeros_like(sustain[..., :1]), sustain[..., :-1]], axis=-1)
            start = (sustain > 0) & (prev == 0)
            velocity_at = sustain
        else:
            sustain = roll[:, 1]
            start = (roll[:, 0] > 0) & (sustain > 0)
            velocity_at = roll[:, 0]
        n_tracks, _, steps = sustain.shape
        boundary = np.concatenate(  # (V, 128, T + 1): where a running note must stop; the extra column ends every row
            [start | (sustain == 0), np.ones((n_tracks, 128, 1), dtype=bool)], axis=-1
        )
        b_flat = np.flatnonzero(boundary)
        v, p, t = np.nonzero(start)
        s_flat = np.ravel_multi_index((v, p, t), boundary.shape)
        end = b_flat[np.searchsorted(b_flat, s_flat, side="right")] - s_flat + t  # (N,) first boundary after the start
        notes = np.zeros(len(t), dtype=NOTE_DTYPE)
        notes["pitch"], notes["voice"] = p, v
        notes["onset"] = t / self.steps_per_quarter
        notes["duration"] = (end - t) / self.steps_per_quarter
        notes["velocity"] = velocity_at[v, p, t]
        if voice_names is None:
            voice_names = tuple(str(i) for i in range(n_tracks)) if self.by_voice else ("",)
        return Piece(id=id, notes=sort_notes(notes), voice_names=tuple(voice_names), qpm=qpm, collection="decoded")

    @property
    def fields(self) -> tuple[str, ...]:
        """What a round trip keeps: pitch, onset, duration, velocity, and the voice for a roll per voice."""
        return ("pitch", "onset", "duration", "velocity") + (("voice",) if self.by_voice else ())

    def reference(self, piece: Piece) -> Piece:
        """What ``round_trip(piece)`` must equal (exactly, with onsets and voices): ``quantize(piece)``."""
        return quantize(piece, self.steps_per_quarter)

    def decode_context(self, piece: Piece) -> dict:
        """Tempo and id of ``piece``, and its voice names for a roll per voice."""
        return {**super().decode_context(piece), "voice_names": piece.voice_names if self.by_voice else None}


def roll_sparsity(roll: np.ndarray) -> float:
    """Share of cells of a (…, 128, T) roll that are zero (silent)."""
    roll = np.asarray(roll)
    return float((roll == 0).mean()) if roll.size else float("nan")
