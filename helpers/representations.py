"""How music becomes numbers: a grid, a piano roll, performance events, REMI tokens, the chorale grid.

Every encoding here has an ``encode(piece)`` and a ``decode(...) -> Piece``; the token schemes also have a
``vocab`` (a :class:`Vocab`, token <-> id). All of them work on a time grid or a time unit, so "lossless"
always means: ``decode(encode(p))`` gives back the notes of :func:`quantize` ``(p)`` exactly (compared with
:func:`note_table`). Each encoding states its contract: ``enc.reference(p)`` is what ``enc.round_trip(p)`` must
equal on the fields ``enc.fields``; :func:`round_trip_report` checks it (and measures sizes) over a corpus.

=====================  ==================================================  =================================
encoding               tokens / array                                      lossless for
=====================  ==================================================  =================================
:class:`ChoraleGrid`   one token per voice per 16th, S A T B interleaved    ``hold``: yes; ``repeat``: merges
                       (Huang et al. 2018 Sec. 4.1; Huang et al. 2017)      re-struck notes (measured)
:class:`PianoRoll`     (channels, 128, steps): onset + sustain velocity     with ``onsets=True`` and
                                                                            ``by_voice=True``: yes
:class:`PerformanceEvents`  NOTE_ON / NOTE_OFF / TIME_SHIFT / VELOCITY      yes, after 10 ms / 32 velocity
                       (Oore et al. 2018; Huang et al. 2018 Sec. 4.2)       bins (:func:`quantize_seconds`)
:class:`REMI`          Bar, Position, Voice, Pitch, Velocity, Duration      yes, after 32 velocity bins
                       (Huang & Yang 2020)                                  (:func:`quantize_velocity`)
=====================  ==================================================  =================================

Notebook: 01_representations.ipynb (all of it); 03_music_transformer.ipynb uses :class:`ChoraleGrid`.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from .data import CHORALE_VOICES, NOTE_DTYPE, Piece, pitch_name, sort_notes

__all__ = [
    "quantize",
    "quantization_changes",
    "note_table",
    "round_trip_errors",
    "Vocab",
    "ChoraleGrid",
    "PianoRoll",
    "PerformanceEvents",
    "quantize_seconds",
    "REMI",
    "roll_sparsity",
    "velocity_bin",
    "bin_velocity",
    "quantize_velocity",
    "active_cell_tokens",
    "size_summary",
    "bytes_per_token",
    "round_trip_report",
    "first_tokens",
    "bar_steps",
]

_EPS = 1e-6  # times closer than this (in grid steps or quarters) count as equal


# =====================================================================================================
# Quantisation: what "exactly, after quantisation" means
# =====================================================================================================
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


# =====================================================================================================
# Vocabulary
# =====================================================================================================
class _Lookup(dict):
    """A dict that can also be called (``vocab.token_to_id['REST']`` or ``vocab.token_to_id('REST')``) and
    says which key is unknown."""

    def __init__(self, items, what: str):
        super().__init__(items)
        self._what = what

    def __missing__(self, key):
        raise KeyError(f"unknown {self._what} {key!r} (vocabulary of {len(self)} entries)")

    def __call__(self, key):
        return self[key]


class Vocab:
    """A fixed list of token strings; a token's id is its position.

    Attributes:
        tokens: tuple of token strings, in id order.
        token_to_id: mapping (and callable) token string -> id.
        id_to_token: mapping (and callable) id -> token string.

    Example:
        >>> v = Vocab(["REST", "C4"]); len(v), v.token_to_id["C4"], v.id_to_token[0]
        (2, 1, 'REST')
    """

    def __init__(self, tokens: Iterable[str]):
        self.tokens = tuple(tokens)
        if len(set(self.tokens)) != len(self.tokens):
            dup = [t for t, c in Counter(self.tokens).items() if c > 1]
            raise ValueError(f"Vocab: tokens must be unique, repeated: {dup[:5]}")
        self.token_to_id = _Lookup({t: i for i, t in enumerate(self.tokens)}, "token")
        self.id_to_token = _Lookup(dict(enumerate(self.tokens)), "token id")

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_id

    def __iter__(self):
        return iter(self.tokens)

    def __repr__(self) -> str:
        head = ", ".join(self.tokens[:6])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 6 else ''})"

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token strings -> int64 ids."""
        return np.array([self.token_to_id[t] for t in tokens], dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Ids -> token strings."""
        return [self.id_to_token[int(i)] for i in ids]


def _as_ids(tokens, vocab_size: int, what: str) -> np.ndarray:
    """Check a 1-D sequence of token ids (list, NumPy array or torch tensor) and return it as int64."""
    if hasattr(tokens, "detach"):  # a torch tensor
        tokens = tokens.detach().cpu().numpy()
    ids = np.asarray(tokens)
    if ids.ndim != 1:
        raise ValueError(f"{what}: tokens must be a 1-D sequence of ids, got shape {ids.shape}")
    if ids.size and ids.dtype.kind not in "iu":
        if not np.all(ids == np.round(ids)):
            raise ValueError(f"{what}: token ids must be whole numbers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    bad = (ids < 0) | (ids >= vocab_size)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}: token id {ids[i]} at position {i} is outside the vocabulary 0..{vocab_size - 1}")
    return ids


def _runs_to_cells(on: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs [on_i, off_i): the run index and the step of every cell they cover (vectorised)."""
    lengths = off - on  # (N,)
    run = np.repeat(np.arange(len(on)), lengths)  # (sum lengths,)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    step = np.repeat(on, lengths) + np.arange(len(run)) - first
    return run, step


# =====================================================================================================
# The chorale grid (Music Transformer on JSB chorales, Coconet's data)
# =====================================================================================================
class ChoraleGrid:
    """Four voices on a 16th-note grid, serialised as S A T B at every step.

    ``tokens[4 * t + v]`` is what voice ``v`` (0 = S, 1 = A, 2 = T, 3 = B) does at step ``t``; ``frames(tokens)``
    gives the ``(steps, 4)`` view. Two modes:

    - ``'repeat'`` -- the format of the Music Transformer paper's JSB experiments (Huang et al. 2018, Sec. 4.1,
      from Coconet's data, Huang et al. 2017): each token is the sounding pitch or ``REST``; a held note repeats
      its pitch. Per-token NLL in this format is comparable with the paper's table. It cannot tell a re-struck
      note from a held one: decoding merges equal consecutive pitches of a voice into one note.
    - ``'hold'`` -- the first step of a note is its pitch, the following steps are ``HOLD``: lossless.

    Token ids (the same in both modes, so pitch ids never move):
        0 = ``REST``; 1 .. 46 = pitches ``low`` .. ``high`` (MIDI 36 = C2 .. 81 = A5 by default, the range of
        the JSB data; a pitch outside raises ``ValueError``); ``hold`` mode only: 47 = ``HOLD``.
        There are no PAD/BOS tokens (the paper's format has none); a model that wants one can use
        ``len(grid.vocab)`` as an extra id.

    Args:
        mode: ``'repeat'`` or ``'hold'``.
        steps_per_quarter: grid resolution (4 = 16th notes, as in the paper).
        low, high: the pitch range of the vocabulary (inclusive).

    Notebook: 01_representations.ipynb, 03_music_transformer.ipynb.
    Reference: Huang et al., "Music Transformer", ICLR 2019 (arXiv 1809.04281), Sec. 4.1;
        Huang et al., "Counterpoint by Convolution", ISMIR 2017 (its JSB data on the 16th-note grid).
    """

    n_voices = 4
    voice_names = CHORALE_VOICES
    rest_id = 0

    def __init__(self, mode: str = "repeat", steps_per_quarter: int = 4, low: int = 36, high: int = 81):
        if mode not in ("repeat", "hold"):
            raise ValueError(f"ChoraleGrid: mode must be 'repeat' or 'hold', got {mode!r}")
        _check_steps_per_quarter(steps_per_quarter)
        if not (0 <= low <= high <= 127):
            raise ValueError(f"ChoraleGrid: need 0 <= low <= high <= 127, got low={low}, high={high}")
        self.mode = mode
        self.steps_per_quarter = int(steps_per_quarter)
        self.low, self.high = int(low), int(high)
        tokens = ["REST"] + [pitch_name(p) for p in range(self.low, self.high + 1)]
        self.hold_id = None
        if mode == "hold":
            self.hold_id = len(tokens)
            tokens.append("HOLD")
        self.vocab = Vocab(tokens)

    def __repr__(self) -> str:
        return (
            f"ChoraleGrid(mode={self.mode!r}, steps_per_quarter={self.steps_per_quarter}, "
            f"pitches {self.low}..{self.high}, {len(self.vocab)} tokens)"
        )

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # --- ids <-> pitches ------------------------------------------------------------------------------
    def pitch_to_id(self, pitch) -> np.ndarray:
        """MIDI pitch(es) -> token id(s). Raises ValueError for a pitch outside ``low..high``."""
        pitch = np.asarray(pitch, dtype=np.int64)
        bad = (pitch < self.low) | (pitch > self.high)
        if bad.any():
            p = int(pitch[bad].flat[0])
            raise ValueError(
                f"ChoraleGrid: pitch {p} ({pitch_name(p)}) is outside the vocabulary range "
                f"{self.low}..{self.high} ({pitch_name(self.low)}..{pitch_name(self.high)})"
            )
        return pitch - self.low + 1

    def id_to_pitch(self, ids) -> np.ndarray:
        """Token id(s) -> MIDI pitch(es); -1 for ``REST`` and ``HOLD``."""
        ids = np.asarray(ids, dtype=np.int64)
        is_pitch = (ids >= 1) & (ids <= self.high - self.low + 1)
        return np.where(is_pitch, ids + self.low - 1, -1)

    # --- encode / decode ------------------------------------------------------------------------------
    def _voice_index(self, piece: Piece) -> np.ndarray:
        names = piece.voice_names
        if len(names) > self.n_voices:
            raise ValueError(
                f"ChoraleGrid: piece {piece.id!r} has {len(names)} voices {names}; the grid holds at most 4 (S A T B)"
            )
        voice = np.asarray(piece.notes)["voice"].astype(np.int64)
        if set(names) <= set(self.voice_names) and len(set(names)) == len(names):
            mapping = np.array([self.voice_names.index(n) for n in names], dtype=np.int64)
            return mapping[voice]
        return voice  # unnamed voices: in their order

    def check_monophonic(self, piece: Piece) -> None:
        """Raise ValueError (naming piece, voice and time) if a voice plays two notes at once before quantising."""
        n = np.asarray(piece.notes)
        order = np.lexsort((n["onset"], n["voice"]))
        v, on = n["voice"][order], n["onset"][order]
        end = on + n["duration"][order]
        overlap = (v[1:] == v[:-1]) & (on[1:] < end[:-1] - _EPS)
        if overlap.any():
            i = int(np.flatnonzero(overlap)[0])
            name = piece.voice_names[int(v[i])]
            raise ValueError(
                f"ChoraleGrid: piece {piece.id!r}, voice {name!r} plays two notes at once at quarter "
                f"{on[i + 1]:g} (pitches {n['pitch'][order][i]} and {n['pitch'][order][i + 1]}); "
                "each voice must be monophonic"
            )

    def encode(self, piece: Piece) -> np.ndarray:
        """A piece -> int64 token ids, length ``4 * steps`` (S A T B at every step).

        The piece is first quantised with :func:`quantize` (``monophonic=True``); ``steps`` runs to the end of
        its last note.

        Raises:
            ValueError: for more than 4 voices, two notes at once in one voice, or a pitch outside the range.
        """
        self.check_monophonic(piece)
        self._voice_index(piece)  # raises for more than 4 voices
        q = quantize(piece, self.steps_per_quarter, monophonic=True)
        n = np.asarray(q.notes)
        spq = self.steps_per_quarter
        on = _round_half_up(n["onset"] * spq)
        off = _round_half_up((n["onset"] + n["duration"]) * spq)
        voice = self._voice_index(q)
        ids = self.pitch_to_id(n["pitch"])
        steps = int(off.max()) if len(n) else 0
        grid = np.full((steps, self.n_voices), self.rest_id, dtype=np.int64)  # (T, 4)
        run, step = _runs_to_cells(on, off)
        if self.mode == "repeat":
            grid[step, voice[run]] = ids[run]
        else:
            grid[step, voice[run]] = self.hold_id
            grid[on, voice] = ids
        return grid.reshape(-1)  # (4T,) = S0 A0 T0 B0 S1 A1 ...

    def frames(self, tokens) -> np.ndarray:
        """Token ids (4T,) -> the (T, 4) grid: row = step, column = voice S A T B."""
        ids = _as_ids(tokens, len(self.vocab), "ChoraleGrid.frames")
        if ids.size % self.n_voices:
            raise ValueError(
                f"ChoraleGrid.frames: {ids.size} tokens is not a multiple of 4 (one token per voice per step)"
            )
        return ids.reshape(-1, self.n_voices)

    def decode(self, tokens, velocity: int = 80, qpm: float = 100.0, id: str = "chorale-grid") -> Piece:
        """Token ids -> a Piece with voices S A T B.

        ``repeat``: each run of one pitch in a voice becomes one note (re-struck notes merge).
        ``hold``: a pitch token starts a note, each following ``HOLD`` adds a step; a ``HOLD`` with nothing to hold
        (at the start or after a rest, which a sampled sequence can contain) counts as a rest.
        A trailing incomplete step (length not a multiple of 4) raises ValueError.
        """
        grid = self.frames(tokens)  # (T, 4)
        steps = grid.shape[0]
        pitches, onsets, offsets, voices = [], [], [], []
        for v in range(self.n_voices):
            col = grid[:, v]  # (T,)
            if self.mode == "repeat":
                prev = np.concatenate([[self.rest_id], col[:-1]])
                bounds = np.flatnonzero(col != prev)  # a note or a rest starts here
            else:
                bounds = np.flatnonzero(col != self.hold_id)  # pitch or rest: the previous note ends
            ends = np.append(bounds[1:], steps)
            hold_id = self.hold_id if self.hold_id is not None else -1
            is_note = (col[bounds] != self.rest_id) & (col[bounds] != hold_id)
            pitches.append(self.id_to_pitch(col[bounds[is_note]]))
            onsets.append(bounds[is_note])
            offsets.append(ends[is_note])
            voices.append(np.full(int(is_note.sum()), v))
        on, off = np.concatenate(onsets), np.concatenate(offsets)
        notes = np.zeros(len(on), dtype=NOTE_DTYPE)
        notes["pitch"] = np.concatenate(pitches)
        notes["onset"] = on / self.steps_per_quarter
        notes["duration"] = (off - on) / self.steps_per_quarter
        notes["velocity"] = velocity
        notes["voice"] = np.concatenate(voices)
        return Piece(id=id, notes=sort_notes(notes), voice_names=self.voice_names, qpm=qpm, collection="decoded")

    # --- what a model needs -------------------------------------------------------------------------------
    def changes(self, tokens) -> np.ndarray:
        """Boolean mask, same length as ``tokens``: True where a voice's token differs from its token one step
        earlier (always True on the first step). In ``repeat`` mode about 4 tokens in 5 are False (the voice
        repeats): report a model's NLL on the True positions too, so copying cannot look good."""
        grid = self.frames(tokens)  # (T, 4)
        changed = np.ones_like(grid, dtype=bool)
        changed[1:] = grid[1:] != grid[:-1]
        return changed.reshape(-1)

    # --- the round-trip contract (see round_trip_report) ---------------------------------------------
    fields = ("pitch", "onset", "duration", "voice")  # what a round trip keeps (velocity and fermatas are not encoded)

    def reference(self, piece: Piece) -> Piece:
        """What ``round_trip(piece)`` must equal in ``hold`` mode: ``quantize(piece, monophonic=True)``."""
        return quantize(piece, self.steps_per_quarter, monophonic=True)

    def decode_like(self, tokens, piece: Piece) -> Piece:
        """Decode with the tempo and id of ``piece`` (what :meth:`round_trip` does)."""
        return self.decode(tokens, qpm=piece.qpm, id=piece.id)

    def round_trip(self, piece: Piece) -> Piece:
        """``decode(encode(piece))``, played at the piece's tempo."""
        return self.decode_like(self.encode(piece), piece)

    def merged_notes(self, piece: Piece) -> int:
        """How many notes of the quantised piece the ``repeat`` format loses (re-struck notes merged with the
        note before); 0 in ``hold`` mode."""
        q = quantize(piece, self.steps_per_quarter, monophonic=True)
        return len(q) - len(self.decode(self.encode(piece)))


# =====================================================================================================
# Piano roll
# =====================================================================================================
class PianoRoll:
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
        q = quantize(piece, self.steps_per_quarter)
        n = np.asarray(q.notes)
        spq = self.steps_per_quarter
        on = _round_half_up(n["onset"] * spq)
        off = _round_half_up((n["onset"] + n["duration"]) * spq)
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

    def decode_like(self, roll: np.ndarray, piece: Piece) -> Piece:
        """Decode with the voices (for a roll per voice), tempo and id of ``piece``."""
        names = piece.voice_names if self.by_voice else None
        return self.decode(roll, voice_names=names, qpm=piece.qpm, id=piece.id)

    def round_trip(self, piece: Piece) -> Piece:
        """``decode(encode(piece))`` with the piece's voices (for a roll per voice) and tempo."""
        return self.decode_like(self.encode(piece), piece)


def roll_sparsity(roll: np.ndarray) -> float:
    """Share of cells of a (…, 128, T) roll that are zero (silent)."""
    roll = np.asarray(roll)
    return float((roll == 0).mean()) if roll.size else float("nan")


# =====================================================================================================
# Performance events (MIDI-like)
# =====================================================================================================
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


class PerformanceEvents:
    """MIDI-like event tokens: NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY (Oore et al. 2018; the Music
    Transformer's piano setting, Huang et al. 2018 Sec. 4.2).

    Vocabulary (388 tokens by default): ids 0..127 ``NOTE_ON_p``, 128..255 ``NOTE_OFF_p``, 256..355
    ``TIME_SHIFT_k`` (k = 1..100 units of 10 ms: up to 1 s; longer gaps use several), 356..387 ``VELOCITY_b``
    (32 bins; a VELOCITY token precedes a NOTE_ON only when the velocity changes). At one instant NOTE_OFFs come
    first, then NOTE_ONs, lowest velocity bin first. Time is real time (seconds via ``piece.qpm``), so
    expressive timing could be kept; voices are not (it is a one-stream piano format).

    Lossless after :func:`quantize_seconds`. Decoding pairs each NOTE_OFF with the oldest open note of its pitch;
    a NOTE_ON left open at the end is closed there; a NOTE_OFF with no open note is ignored.

    Notebook: 01_representations.ipynb.
    Reference: Oore et al., "This Time with Feeling", Neural Computing and Applications 2018 (the event
        vocabulary); Huang et al., "Music Transformer", ICLR 2019, Sec. 4.2.
    """

    def __init__(self, time_unit: float = 0.01, max_shift: int = 100, n_velocity_bins: int = 32):
        if time_unit <= 0 or max_shift < 1 or n_velocity_bins < 1:
            raise ValueError("PerformanceEvents: time_unit, max_shift and n_velocity_bins must be positive")
        self.time_unit, self.max_shift, self.n_velocity_bins = float(time_unit), int(max_shift), int(n_velocity_bins)
        self.on0, self.off0, self.shift0 = 0, 128, 256  # first id of each kind
        self.vel0 = self.shift0 + self.max_shift
        tokens = (
            [f"NOTE_ON_{p}" for p in range(128)]
            + [f"NOTE_OFF_{p}" for p in range(128)]
            + [f"TIME_SHIFT_{k}" for k in range(1, self.max_shift + 1)]
            + [f"VELOCITY_{b}" for b in range(self.n_velocity_bins)]
        )
        self.vocab = Vocab(tokens)

    def __repr__(self) -> str:
        return f"PerformanceEvents({len(self.vocab)} tokens, {self.time_unit * 1000:g} ms steps up to {self.max_shift})"

    def encode(self, piece: Piece) -> np.ndarray:
        """A piece -> int64 token ids (see the class docstring for the order)."""
        q = quantize_seconds(piece, self.time_unit, self.n_velocity_bins)
        n = np.asarray(q.notes)
        units_per_quarter = 60.0 / q.qpm / self.time_unit
        on = _round_half_up(n["onset"] * units_per_quarter)
        off = _round_half_up((n["onset"] + n["duration"]) * units_per_quarter)
        vbin = velocity_bin(n["velocity"], self.n_velocity_bins)
        pitch = np.asarray(n["pitch"], dtype=np.int64)
        # NOTE_ONs in playing order, and where the velocity changes
        order = np.lexsort((pitch, vbin, on))
        on_s, vbin_s, pitch_s = on[order], vbin[order], pitch[order]
        vel_change = np.ones(len(order), dtype=bool)
        vel_change[1:] = vbin_s[1:] != vbin_s[:-1]
        rank = np.arange(len(order))
        # every event as (time, group, rank, sub, token): group 0 = NOTE_OFF, 1 = VELOCITY/NOTE_ON
        time = np.concatenate([off, on_s[vel_change], on_s])
        group = np.concatenate([np.zeros(len(off)), np.ones(int(vel_change.sum()) + len(on_s))])
        rk = np.concatenate([pitch, rank[vel_change], rank])
        sub = np.concatenate([np.zeros(len(off)), np.zeros(int(vel_change.sum())), np.ones(len(on_s))])
        tok = np.concatenate([self.off0 + pitch, self.vel0 + vbin_s[vel_change], self.on0 + pitch_s])
        ev = np.lexsort((sub, rk, group, time))
        time, tok = time[ev], tok[ev]
        # TIME_SHIFTs before each event whose time is later than the previous one's
        gap = np.diff(np.concatenate([[0], time]))  # (E,)
        n_shift = -(-gap // self.max_shift)  # ceil
        out_len = len(tok) + int(n_shift.sum())
        out = np.empty(out_len, dtype=np.int64)
        event_pos = np.cumsum(n_shift + 1) - 1  # where each event token goes
        out[event_pos] = tok
        ev_idx, k = _runs_to_cells(np.zeros(len(gap), dtype=np.int64), n_shift)  # k-th shift before event ev_idx
        shift = np.where(k < n_shift[ev_idx] - 1, self.max_shift, gap[ev_idx] - self.max_shift * (n_shift[ev_idx] - 1))
        out[event_pos[ev_idx] - n_shift[ev_idx] + k] = self.shift0 + shift - 1
        return out

    def decode(self, tokens, qpm: float = 100.0, id: str = "performance") -> Piece:
        """Token ids -> Piece (one voice; times converted to quarter notes with ``qpm``)."""
        ids = _as_ids(tokens, len(self.vocab), "PerformanceEvents.decode")
        now, velocity = 0, int(bin_velocity(self.n_velocity_bins // 2, self.n_velocity_bins))
        open_notes: dict[int, list[tuple[int, int]]] = {}
        rows = []
        for i in ids.tolist():
            if i < self.off0:
                open_notes.setdefault(i, []).append((now, velocity))
            elif i < self.shift0:
                waiting = open_notes.get(i - self.off0)
                if waiting:
                    start, vel = waiting.pop(0)
                    if now > start:
                        rows.append((i - self.off0, start, now - start, vel))
            elif i < self.vel0:
                now += i - self.shift0 + 1
            else:
                velocity = int(bin_velocity(i - self.vel0, self.n_velocity_bins))
        for p, waiting in open_notes.items():  # close what is still sounding
            rows.extend((p, s, now - s, v) for s, v in waiting if now > s)
        return _piece_from_rows(rows, 60.0 / qpm / self.time_unit, ("",), qpm, id)


    fields = ("pitch", "onset", "duration", "velocity")  # what a round trip keeps (no voices)

    def reference(self, piece: Piece) -> Piece:
        """What ``round_trip(piece)`` must equal: :func:`quantize_seconds` ``(piece)``."""
        return quantize_seconds(piece, self.time_unit, self.n_velocity_bins)

    def decode_like(self, tokens, piece: Piece) -> Piece:
        """Decode with the tempo and id of ``piece``."""
        return self.decode(tokens, qpm=piece.qpm, id=piece.id)

    def round_trip(self, piece: Piece) -> Piece:
        """``decode(encode(piece))`` at the piece's tempo."""
        return self.decode_like(self.encode(piece), piece)


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


# =====================================================================================================
# REMI
# =====================================================================================================
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


class REMI:
    """REMI tokens (Huang & Yang 2020): ``Bar``, ``Position_i`` (grid step inside the bar), then for each note
    ``Voice_v`` (optional), ``Pitch_p``, ``Velocity_b``, ``Duration_d`` (d grid steps).

    One stream for all voices; the ``Voice`` token (like MidiTok's Program token) keeps which voice plays a
    note, so chorales and multi-track MIDI come back with their voices. The number of positions in a bar comes
    from ``piece.time_signature`` (16 for 4/4, 12 for 3/4 at 16th notes; ``default_time_signature`` when the piece
    has none, as some folk tunes in free metre); every bar gets a ``Bar`` token, empty ones too. Bars are counted
    from the first beat of the piece (a pickup is not treated specially: bar lines may then fall off the written
    ones, the notes still come back exactly). A note longer than ``max_duration`` steps is written with several
    ``Duration`` tokens in a row that add up (``Duration_64 Duration_30`` = 94 steps; :meth:`long_notes` counts
    them: 2 notes in the shipped corpora), so nothing is clipped.

    Vocabulary: ``Bar``, ``Position_0 .. Position_{max_positions-1}``, [``Voice_0 .. Voice_{max_voices-1}``],
    ``Pitch_0 .. Pitch_127``, ``Velocity_0 .. Velocity_{n_velocity_bins-1}``, ``Duration_1 .. Duration_{max_duration}``.

    Lossless after :func:`quantize` and velocity binning (:func:`quantize_velocity`).

    Notebook: 01_representations.ipynb.
    Reference: Huang & Yang, "Pop Music Transformer", ACM MM 2020, Sec. 3 (REMI).
    """

    def __init__(
        self,
        steps_per_quarter: int = 4,
        max_positions: int = 64,
        max_duration: int = 64,
        n_velocity_bins: int = 32,
        with_voice: bool = True,
        max_voices: int = 16,
        default_time_signature: str = "4/4",
    ):
        _check_steps_per_quarter(steps_per_quarter)
        bar_steps(default_time_signature, steps_per_quarter)  # raises if unreadable
        self.default_time_signature = default_time_signature
        self.steps_per_quarter = int(steps_per_quarter)
        self.max_positions, self.max_duration = int(max_positions), int(max_duration)
        self.n_velocity_bins, self.with_voice = int(n_velocity_bins), bool(with_voice)
        self.max_voices = int(max_voices) if with_voice else 0
        tokens = ["Bar"] + [f"Position_{i}" for i in range(self.max_positions)]
        self.voice0 = len(tokens)
        tokens += [f"Voice_{v}" for v in range(self.max_voices)]
        self.pitch0 = len(tokens)
        tokens += [f"Pitch_{p}" for p in range(128)]
        self.vel0 = len(tokens)
        tokens += [f"Velocity_{b}" for b in range(self.n_velocity_bins)]
        self.dur0 = len(tokens) - 1  # Duration_d has id dur0 + d
        tokens += [f"Duration_{d}" for d in range(1, self.max_duration + 1)]
        self.bar_id, self.pos0 = 0, 1
        self.vocab = Vocab(tokens)

    def __repr__(self) -> str:
        return (
            f"REMI({len(self.vocab)} tokens, steps_per_quarter={self.steps_per_quarter}, with_voice={self.with_voice})"
        )

    def _steps(self, piece: Piece):
        q = quantize(piece, self.steps_per_quarter)
        n = np.asarray(q.notes)
        on = _round_half_up(n["onset"] * self.steps_per_quarter)
        off = _round_half_up((n["onset"] + n["duration"]) * self.steps_per_quarter)
        return n, on, off

    @property
    def fields(self) -> tuple[str, ...]:
        """What a round trip keeps: pitch, onset, duration, velocity (binned), and the voice with ``with_voice``."""
        return ("pitch", "onset", "duration", "velocity") + (("voice",) if self.with_voice else ())

    def reference(self, piece: Piece) -> Piece:
        """What ``round_trip(piece)`` must equal: the quantised piece with binned velocities."""
        return quantize_velocity(quantize(piece, self.steps_per_quarter), self.n_velocity_bins)

    def decode_like(self, tokens, piece: Piece) -> Piece:
        """Decode with the metre, tempo, voice names and id of ``piece``."""
        names = piece.voice_names if self.with_voice else None
        return self.decode(tokens, piece.time_signature, qpm=piece.qpm, voice_names=names, id=piece.id)

    def round_trip(self, piece: Piece) -> Piece:
        """``decode(encode(piece))`` with the piece's metre, tempo and voice names."""
        return self.decode_like(self.encode(piece), piece)

    def long_notes(self, piece: Piece) -> int:
        """How many notes of the quantised piece are longer than ``max_duration`` steps (written with several
        ``Duration`` tokens)."""
        _, on, off = self._steps(piece)
        return int(((off - on) > self.max_duration).sum())

    def encode(self, piece: Piece) -> np.ndarray:
        """A piece -> int64 token ids.

        Raises:
            ValueError: if a bar has more steps than ``max_positions`` or a voice index exceeds ``max_voices``.
        """
        per_bar = bar_steps(piece.time_signature or self.default_time_signature, self.steps_per_quarter)
        if per_bar > self.max_positions:
            raise ValueError(
                f"REMI: piece {piece.id!r} in {piece.time_signature} has {per_bar} positions per bar; "
                f"max_positions is {self.max_positions}"
            )
        n, on, off = self._steps(piece)
        voice = np.asarray(n["voice"], dtype=np.int64)
        if self.with_voice and len(n) and voice.max() >= self.max_voices:
            raise ValueError(f"REMI: piece {piece.id!r} has voice {voice.max()}; max_voices is {self.max_voices}")
        order = np.lexsort((n["pitch"], voice, on))  # notes in reading order
        on, off, voice = on[order], off[order], voice[order]
        pitch, vel = n["pitch"][order].astype(np.int64), n["velocity"][order]
        bar, pos = on // per_bar, on % per_bar
        n_bars = int(bar.max()) + 1 if len(n) else 0
        head = [self.pitch0 + pitch, self.vel0 + velocity_bin(vel, self.n_velocity_bins)]
        if self.with_voice:
            head.insert(0, self.voice0 + voice)
        head = np.stack(head, axis=1)  # (N, 2 or 3): [Voice] Pitch Velocity
        k = head.shape[1]
        dur = off - on
        n_dur = -(-dur // self.max_duration)  # (N,) Duration tokens per note (1 unless longer than max_duration)
        note_of_dur, j = _runs_to_cells(np.zeros(len(dur), dtype=np.int64), n_dur)
        last_part = dur[note_of_dur] - self.max_duration * (n_dur[note_of_dur] - 1)
        dur_steps = np.where(j < n_dur[note_of_dur] - 1, self.max_duration, last_part)
        slots = k + int(n_dur.max()) if len(n) else k  # rank of a note's tokens: note index * slots + place
        first_at_onset = np.ones(len(on), dtype=bool)
        first_at_onset[1:] = on[1:] != on[:-1]
        # every token as (step, group, rank, token): group 0 = Bar, 1 = Position, 2 = note tokens
        step = np.concatenate([np.arange(n_bars) * per_bar, on[first_at_onset], np.repeat(on, k), on[note_of_dur]])
        group = np.concatenate([np.zeros(n_bars), np.ones(int(first_at_onset.sum())), np.full(len(on) * k + len(j), 2)])
        rank = np.concatenate([
            np.zeros(n_bars + int(first_at_onset.sum()), dtype=np.int64),
            (np.arange(len(on))[:, None] * slots + np.arange(k)).reshape(-1),
            note_of_dur * slots + k + j,
        ])
        tok = np.concatenate([
            np.full(n_bars, self.bar_id), self.pos0 + pos[first_at_onset], head.reshape(-1), self.dur0 + dur_steps
        ])
        return tok[np.lexsort((rank, group, step))].astype(np.int64)

    def decode(
        self, tokens, time_signature: str = "4/4", qpm: float = 100.0, voice_names=None, id: str = "remi"
    ) -> Piece:
        """Token ids -> Piece. A note is made at each ``Duration`` token, from the latest Bar, Position, Voice,
        Pitch and Velocity; further ``Duration`` tokens right after it lengthen it; any other Duration without a
        Pitch before it (possible in sampled sequences) is skipped."""
        ids = _as_ids(tokens, len(self.vocab), "REMI.decode")
        time_signature = time_signature or self.default_time_signature
        per_bar = bar_steps(time_signature, self.steps_per_quarter)
        idx = np.arange(len(ids))

        def last(mask: np.ndarray) -> np.ndarray:
            """For every position, the index of the latest token (at or before it) where ``mask`` holds; -1 if none."""
            return np.maximum.accumulate(np.where(mask, idx, -1)) if len(ids) else idx

        is_bar, is_dur = ids == self.bar_id, ids > self.dur0
        is_pos = (ids >= self.pos0) & (ids < self.voice0)
        is_voice, is_pitch = (ids >= self.voice0) & (ids < self.pitch0), (ids >= self.pitch0) & (ids < self.vel0)
        is_vel = (ids >= self.vel0) & ~is_dur
        prev_dur = np.concatenate([[False], is_dur[:-1]])
        run_start = is_dur & ~prev_dur  # the first Duration of a run of Durations
        last_dur_before = np.concatenate([[-1], last(is_dur)[:-1]])
        makes = run_start & (last(is_pitch) > last_dur_before)  # a Pitch came since the previous Duration
        run_of = last(run_start)  # (L,) the run each Duration belongs to
        counts = is_dur & makes[np.maximum(run_of, 0)] & (run_of >= 0)  # Durations that make or lengthen a note
        notes_at = np.flatnonzero(makes)
        length = np.zeros(len(ids), dtype=np.int64)
        np.add.at(length, run_of[counts], ids[counts] - self.dur0)
        i_pos, i_voice, i_vel, i_pitch = (last(m)[notes_at] for m in (is_pos | is_bar, is_voice, is_vel, is_pitch))
        bar = np.maximum(np.cumsum(is_bar)[notes_at] - 1, 0)
        pos = np.where((i_pos >= 0) & ~is_bar[np.maximum(i_pos, 0)], ids[np.maximum(i_pos, 0)] - self.pos0, 0)
        voice = np.where(i_voice >= 0, ids[np.maximum(i_voice, 0)] - self.voice0, 0)
        default_vel = self.n_velocity_bins // 2
        vel_bin = np.where(i_vel >= 0, ids[np.maximum(i_vel, 0)] - self.vel0, default_vel)
        vel = bin_velocity(vel_bin, self.n_velocity_bins)
        rows = np.stack([ids[i_pitch] - self.pitch0, bar * per_bar + pos, length[notes_at], vel, voice], axis=1)
        rows = rows.tolist()
        if voice_names is None:
            n_voices = max([r[4] for r in rows], default=0) + 1
            voice_names = tuple(str(v) for v in range(n_voices)) if n_voices > 1 else ("",)
        piece = _piece_from_rows(rows, self.steps_per_quarter, voice_names, qpm, id)
        piece.time_signature = time_signature
        return piece


# =====================================================================================================
# The lesson's first attempt, and sizes for the comparison table
# =====================================================================================================
def active_cell_tokens(roll: np.ndarray, decimals: int = 1) -> list[str]:
    """The naive "one token per active cell" scheme of the lesson's first example: for every step ``t`` a
    ``TIME_t`` token, then ``NOTE_p_v`` for each sounding pitch ``p`` (``v`` = velocity/127 with ``decimals``
    digits), or ``REST``. Kept here to show its flaws: a held note and a re-struck one give the same tokens
    (nothing says when a note ends), ``TIME_t`` makes the vocabulary grow with the length of the piece, and
    one decimal of velocity keeps 11 loudness levels.

    Args:
        roll: plain piano roll (128, T) of velocities (``PianoRoll(onsets=False).encode(piece)``).

    Notebook: 01_representations.ipynb.
    """
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[0] != 128:
        raise ValueError(f"active_cell_tokens: roll must have shape (128, T), got {roll.shape}")
    tokens = []
    for t in range(roll.shape[1]):
        tokens.append(f"TIME_{t}")
        active = np.flatnonzero(roll[:, t])
        tokens += [f"NOTE_{p}_{roll[p, t] / 127:.{decimals}f}" for p in active] or ["REST"]
    return tokens


def bytes_per_token(vocab_size: int) -> int:
    """Smallest whole number of bytes that holds a token id (1 up to 256 tokens, 2 up to 65536)."""
    return 1 if vocab_size <= 256 else 2 if vocab_size <= 65536 else 4


def size_summary(lengths, seconds, bytes_per_item: float, vocab_size: int | None = None) -> dict:
    """Mean and 95th percentile of per-piece sizes, per piece and per second of music.

    Args:
        lengths: (N,) tokens (or cells, or samples) per piece.
        seconds: (N,) duration of each piece in seconds.
        bytes_per_item: storage per token/cell/sample.
        vocab_size: number of distinct tokens (None for arrays of values).

    Returns:
        dict with ``vocab``, ``mean``, ``p95``, ``per_s_mean``, ``per_s_p95``, ``kb_mean`` (kilobytes per piece).
    """
    lengths, seconds = np.asarray(lengths, dtype=np.float64), np.asarray(seconds, dtype=np.float64)
    if lengths.shape != seconds.shape or lengths.ndim != 1 or not len(lengths):
        raise ValueError(
            f"size_summary: lengths {lengths.shape} and seconds {seconds.shape} must be equal, 1-D, non-empty"
        )
    per_s = lengths / seconds
    return {
        "vocab": vocab_size,
        "mean": float(lengths.mean()),
        "p95": float(np.percentile(lengths, 95)),
        "per_s_mean": float(per_s.mean()),
        "per_s_p95": float(np.percentile(per_s, 95)),
        "kb_mean": float(lengths.mean() * bytes_per_item / 1000),
    }


def round_trip_report(encoding, pieces: Sequence[Piece]) -> dict:
    """Encode and decode every piece once; measure sizes and what the round trip loses.

    Args:
        encoding: a :class:`ChoraleGrid`, :class:`PianoRoll`, :class:`PerformanceEvents` or :class:`REMI`
            (anything with ``encode``, ``decode_like``, ``reference`` and ``fields``).
        pieces: the pieces.

    Returns:
        dict of per-piece arrays: ``length`` (tokens, or roll steps), ``cells`` (array elements), ``silent``
        (zero cells, rolls only), ``seconds``, ``notes`` (in the reference), ``decoded`` (notes after the round trip:
        fewer where notes merge), ``errors`` (notes missing plus notes
        in excess, :func:`round_trip_errors`); and ``exact`` (pieces with no error).

    Notebook: 01_representations.ipynb (the round-trip check and the size table).
    """
    keys = ("length", "cells", "silent", "seconds", "notes", "decoded", "errors")
    out = {k: np.zeros(len(pieces), dtype=np.float64) for k in keys}
    for i, p in enumerate(pieces):
        x = encoding.encode(p)
        out["length"][i] = x.shape[-1]
        out["cells"][i] = x.size
        out["silent"][i] = np.count_nonzero(x == 0) if isinstance(encoding, PianoRoll) else 0
        out["seconds"][i] = p.duration_seconds
        ref = encoding.reference(p)
        out["notes"][i] = len(ref)
        decoded = encoding.decode_like(x, p)
        out["decoded"][i] = len(decoded)
        out["errors"][i] = round_trip_errors(ref, decoded, encoding.fields)
    out["exact"] = int((out["errors"] == 0).sum())
    return out


def first_tokens(encoding, piece: Piece, n: int = 24) -> str:
    """The beginning of a piece's encoding as text: token names for token schemes, sounding pitches per step
    for a piano roll. Used by the widget of 01_representations.ipynb."""
    x = encoding.encode(piece)
    if isinstance(encoding, PianoRoll):
        sustain = x[..., 1, :, :] if encoding.onsets else x  # ([V,] 128, T)
        sounding = (sustain.reshape(-1, 128, x.shape[-1]) > 0).any(axis=0)  # (128, T)
        steps = [
            " ".join(pitch_name(p) for p in np.flatnonzero(sounding[:, t])) or "-" for t in range(min(n, x.shape[-1]))
        ]
        return f"{encoding!r}: array {x.shape}; pitches sounding at the first {len(steps)} steps:\n" + " | ".join(steps)
    return f"{encoding!r}: {len(x)} tokens; the first {min(n, len(x))}:\n" + " ".join(encoding.vocab.decode(x[:n]))
