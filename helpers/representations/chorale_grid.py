"""The chorale grid: four voices on a 16th-note grid, S A T B at every step (the Music Transformer's JSB format).

Notebook: 01_representations.ipynb, 03_music_transformer.ipynb.
"""
from __future__ import annotations

import numpy as np

from ..data import CHORALE_VOICES, NOTE_DTYPE, Piece, pitch_name, sort_notes
from .encoding import Encoding, _runs_to_cells
from .quantisation import _EPS, _check_steps_per_quarter, grid_notes, quantize
from .vocab import Vocab, _as_ids


class ChoraleGrid(Encoding):
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
    def _voice_index(self, piece: Piece, voice: np.ndarray) -> np.ndarray:
        """Grid column (0 = S .. 3 = B) of each note's ``voice`` (indices into ``piece.voice_names``)."""
        names = piece.voice_names
        if len(names) > self.n_voices:
            raise ValueError(
                f"ChoraleGrid: piece {piece.id!r} has {len(names)} voices {names}; the grid holds at most 4 (S A T B)"
            )
        voice = np.asarray(voice).astype(np.int64)
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
        n, on, off = grid_notes(piece, self.steps_per_quarter, monophonic=True)
        voice = self._voice_index(piece, n["voice"])  # raises for more than 4 voices
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

    # --- the round-trip contract (Encoding; decode_like and round_trip come from there) -------------
    fields = ("pitch", "onset", "duration", "voice")  # what a round trip keeps (velocity and fermatas are not encoded)

    def reference(self, piece: Piece) -> Piece:
        """What ``round_trip(piece)`` must equal in ``hold`` mode: ``quantize(piece, monophonic=True)``."""
        return quantize(piece, self.steps_per_quarter, monophonic=True)

    def merged_notes(self, piece: Piece) -> int:
        """How many notes of the quantised piece the ``repeat`` format loses (re-struck notes merged with the
        note before); 0 in ``hold`` mode."""
        q = quantize(piece, self.steps_per_quarter, monophonic=True)
        return len(q) - len(self.decode(self.encode(piece)))
