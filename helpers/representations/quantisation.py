"""Quantisation: what "exactly, after quantisation" means for every encoding.

:func:`quantize` snaps notes to a grid of steps per quarter note (the grid encodings), :func:`quantize_seconds`
to units of seconds (performance events), :func:`quantize_velocity` velocities to bins. :func:`note_table` and
:func:`round_trip_errors` compare two pieces note by note; :func:`bar_steps` says how many steps a bar holds.

Notebook: 01_representations.ipynb (sections on quantisation and the round-trip check).
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from ..data import NOTE_DTYPE, Piece

_EPS = 1e-6  # times closer than this (in grid steps or quarters) count as equal


def _round_half_up(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, halves upwards (2.5 -> 3), absorbing float noise (0.4999999 -> 1? no: 0)."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5 + 1e-9).astype(np.int64)


def _quantize_steps(
    notes: np.ndarray, steps_per_quarter: int, monophonic: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Onset and offset steps of each note, and which notes survive. See :func:`quantize` for the rules.

    Returns:
        on, off: int64 arrays (N,) in grid steps (off > on for every kept note);
        keep: bool array (N,); info: counts of what changed.
    """
    notes = np.asarray(notes)  # a plain structured array: field access on a recarray is slow
    n = len(notes)
    onset = notes["onset"] * steps_per_quarter  # (N,) in steps, float
    offset = (notes["onset"] + notes["duration"]) * steps_per_quarter
    on, off = _round_half_up(onset), _round_half_up(offset)
    moved = (np.abs(on - onset) > _EPS) | (np.abs(off - offset) > _EPS)
    too_short = off <= on
    off = np.where(too_short, on + 1, off)
    keep = np.ones(n, dtype=bool)
    shortened = np.zeros(n, dtype=bool)

    def resolve(group_key: np.ndarray) -> None:
        """Inside each group: one note per onset step (the longest one, in the original durations), and each
        note ends no later than the next onset of its group."""
        # sort by group, then onset, then longest original duration first, then highest pitch first
        order = np.lexsort((-notes["pitch"], -notes["duration"], on, group_key))
        order = order[keep[order]]
        g, o = group_key[order], on[order]
        same_cell = np.zeros(len(order), dtype=bool)
        same_cell[1:] = (g[1:] == g[:-1]) & (o[1:] == o[:-1])
        keep[order[same_cell]] = False
        order = order[~same_cell]
        g, o = group_key[order], on[order]
        nxt_same_group = np.zeros(len(order), dtype=bool)
        nxt_same_group[:-1] = g[:-1] == g[1:]
        next_on = np.where(nxt_same_group, np.roll(o, -1), np.iinfo(np.int64).max)
        cut = off[order] > next_on
        shortened[order[cut]] = True
        off[order[cut]] = next_on[cut]

    voice = notes["voice"].astype(np.int64)
    resolve(voice * 128 + notes["pitch"].astype(np.int64))  # same voice and pitch never overlap
    if monophonic:
        resolve(voice)  # one note at a time per voice
    info = {
        "notes": n,
        "moved": int(moved.sum()),
        "lengthened_to_one_step": int(too_short.sum()),
        "dropped": int((~keep).sum()),
        "shortened": int((shortened & keep).sum()),
    }
    return on, off, keep, info


def quantize(piece: Piece, steps_per_quarter: int = 4, monophonic: bool = False) -> Piece:
    """Snap every note of a piece to a grid of ``steps_per_quarter`` steps per quarter note.

    The rules (they define what the encoders here must reproduce exactly):

    1. onsets and offsets are rounded to the nearest step, halves upwards (a triplet eighth starting at
       1/3 quarter goes to step 1 of 4, the next one at 2/3 to step 3);
    2. a note that collapses to zero length gets one step;
    3. two notes of the same voice and pitch never overlap: of two starting on the same step, the longer
       one (in the original) stays and the other is dropped; a note is cut where the next one starts;
    4. with ``monophonic=True`` the same holds for any two notes of one voice, whatever their pitch (used by
       :class:`ChoraleGrid`, where a voice sounds one pitch at a time): a grace note that lands on the
       step of its main note disappears, a note that overlaps the next one after rounding is cut.

    Velocity, voice and fermata are kept. :func:`quantization_changes` counts what each rule changed.

    Args:
        piece: the piece.
        steps_per_quarter: grid resolution (4 = 16th notes).
        monophonic: apply rule 4.

    Returns:
        A new :class:`Piece` whose onsets and durations are multiples of ``1 / steps_per_quarter``.

    Notebook: 01_representations.ipynb.
    """
    _check_steps_per_quarter(steps_per_quarter)
    on, off, keep, _ = _quantize_steps(piece.notes, steps_per_quarter, monophonic)
    notes = np.asarray(piece.notes)[keep]  # (fancy indexing copies)
    notes["onset"] = on[keep] / steps_per_quarter
    notes["duration"] = (off[keep] - on[keep]) / steps_per_quarter
    return piece.with_notes(notes)


def quantization_changes(piece: Piece, steps_per_quarter: int = 4, monophonic: bool = False) -> dict:
    """What :func:`quantize` changes in a piece, as counts of notes.

    Returns:
        dict with ``notes`` (before), ``moved`` (onset or offset not on the grid), ``lengthened_to_one_step``
        (collapsed to zero length), ``dropped`` (collided with another note of the same voice on the same step)
        and ``shortened`` (cut where the next note of the voice starts).
    """
    _check_steps_per_quarter(steps_per_quarter)
    return _quantize_steps(piece.notes, steps_per_quarter, monophonic)[3]


def _check_steps_per_quarter(steps_per_quarter: int) -> None:
    if int(steps_per_quarter) != steps_per_quarter or steps_per_quarter < 1:
        raise ValueError(f"steps_per_quarter must be a positive whole number, got {steps_per_quarter!r}")


def note_table(
    piece: Piece, fields: Sequence[str] = ("pitch", "onset", "duration", "voice"), decimals: int = 6
) -> list[tuple]:
    """The notes of a piece as a sorted list of tuples of ``fields`` (times rounded to ``decimals``).

    Two pieces have "the same notes" when their tables are equal; this is what the round-trip tests compare.
    """
    cols = []
    for f in fields:
        if f not in NOTE_DTYPE.names:
            raise ValueError(f"note_table: unknown field {f!r}; fields are {NOTE_DTYPE.names}")
        col = np.asarray(piece.notes)[f]
        cols.append(np.round(col, decimals).tolist() if col.dtype.kind == "f" else col.tolist())
    return sorted(zip(*cols))


def _sorted_note_matrix(piece: Piece, fields: Sequence[str], decimals: int = 6) -> np.ndarray:
    notes = np.asarray(piece.notes)
    m = np.column_stack([np.round(notes[f].astype(np.float64), decimals) for f in fields])  # (N, F)
    return m[np.lexsort(m.T[::-1])] if len(m) else m


def round_trip_errors(
    reference: Piece, decoded: Piece, fields: Sequence[str] = ("pitch", "onset", "duration", "voice")
) -> int:
    """How many notes of ``reference`` are not found in ``decoded`` (as a multiset of ``fields``), plus how
    many notes ``decoded`` has in excess. 0 means a perfect round trip."""
    if len(reference) == len(decoded):  # fast path: equal sorted tables
        ra, rb = _sorted_note_matrix(reference, fields), _sorted_note_matrix(decoded, fields)
        if np.array_equal(ra, rb):
            return 0
    a, b = Counter(note_table(reference, fields)), Counter(note_table(decoded, fields))
    return sum((a - b).values()) + sum((b - a).values())


def velocity_bin(velocity, n_bins: int = 32) -> np.ndarray:
    """MIDI velocity 1..127 -> bin 0..n_bins-1 (equal-width bins over 0..127)."""
    return np.clip(np.asarray(velocity, dtype=np.int64) * n_bins // 128, 0, n_bins - 1)


def bin_velocity(bins, n_bins: int = 32) -> np.ndarray:
    """Bin -> the lowest MIDI velocity of the bin (1 for bin 0), so that a velocity on a bin edge (80, the
    corpora's velocity, is one with 32 bins) comes back unchanged."""
    width = 128 / n_bins
    return np.clip(np.ceil(np.asarray(bins) * width).astype(np.int64), 1, 127)


def quantize_velocity(piece: Piece, n_bins: int = 32) -> Piece:
    """A copy of a piece with every velocity replaced by its bin's (see :func:`velocity_bin`)."""
    notes = np.array(piece.notes)  # a copy
    notes["velocity"] = bin_velocity(velocity_bin(notes["velocity"], n_bins), n_bins)
    return piece.with_notes(notes)


def quantize_seconds(piece: Piece, time_unit: float = 0.01, n_velocity_bins: int = 32) -> Piece:
    """Snap a piece to what :class:`PerformanceEvents` can say: times (in seconds, via ``piece.qpm``) rounded to
    ``time_unit`` (halves up), zero-length notes lengthened to one unit, velocities to their bin
    (:func:`quantize_velocity`), and
    -- voices being gone -- two notes of one pitch never overlapping (the later onset cuts the earlier note; of
    two on the same unit the longer stays). Voice and fermata are kept on the notes but not encoded.

    Returns:
        A new Piece (times in quarter notes, multiples of ``time_unit * qpm / 60``).
    """
    if time_unit <= 0:
        raise ValueError(f"quantize_seconds: time_unit must be positive, got {time_unit}")
    spq = 60.0 / piece.qpm / time_unit  # units per quarter: need not be whole, so do it by hand
    notes = np.array(piece.notes, dtype=NOTE_DTYPE)
    notes["voice"] = 0
    as_units = notes.copy()
    as_units["onset"] = notes["onset"] * spq
    as_units["duration"] = notes["duration"] * spq
    on, off, keep, _ = _quantize_steps(as_units, 1, monophonic=False)
    out = np.asarray(piece.notes)[keep]
    out["onset"] = on[keep] / spq
    out["duration"] = (off[keep] - on[keep]) / spq
    return quantize_velocity(piece.with_notes(out), n_velocity_bins)


def bar_steps(time_signature: str, steps_per_quarter: int = 4) -> int:
    """Grid steps in one bar of a time signature: '4/4' -> 16, '3/4' -> 12, '6/8' -> 12 (at 4 per quarter).

    Raises:
        ValueError: if the signature cannot be read or a bar is not a whole number of steps.
    """
    try:
        num, den = (int(x) for x in str(time_signature).split("/"))
    except ValueError:
        raise ValueError(f"bar_steps: cannot read time signature {time_signature!r} (expected like '3/4')") from None
    if num < 1 or den < 1:
        raise ValueError(f"bar_steps: time signature {time_signature!r} must be positive")
    steps = num * 4 * steps_per_quarter / den
    if steps != int(steps):
        raise ValueError(
            f"bar_steps: a bar of {time_signature} is not a whole number of steps at {steps_per_quarter} per quarter"
        )
    return int(steps)


def grid_notes(
    piece: Piece, steps_per_quarter: int, monophonic: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notes of :func:`quantize` ``(piece)`` with their onset and offset as whole grid steps.

    Returns:
        ``(notes, on, off)``: the quantised notes (a plain structured array, N), and int64 arrays (N,) of onset and
        offset steps (``off > on``). What :class:`ChoraleGrid`, :class:`PianoRoll` and :class:`REMI` encode.
    """
    q = quantize(piece, steps_per_quarter, monophonic)
    notes = np.asarray(q.notes)
    on = _round_half_up(notes["onset"] * steps_per_quarter)
    off = _round_half_up((notes["onset"] + notes["duration"]) * steps_per_quarter)
    return notes, on, off
