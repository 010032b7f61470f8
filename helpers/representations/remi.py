"""REMI: Bar, Position, Voice, Pitch, Velocity, Duration tokens (Huang & Yang 2020), vectorised and as plain loops.

Notebook: 01_representations.ipynb.
"""
from __future__ import annotations

import numpy as np

from ..data import Piece
from .encoding import Encoding, _piece_from_rows, _runs_to_cells
from .quantisation import (
    _check_steps_per_quarter,
    bar_steps,
    bin_velocity,
    grid_notes,
    quantize,
    quantize_velocity,
    velocity_bin,
)
from .vocab import Vocab, _as_ids


class REMI(Encoding):
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

    :meth:`encode` and :meth:`decode` are vectorised (every token placed by one sort; every note's context found
    with running maxima); :meth:`encode_plain` and :meth:`decode_plain` say the same in plain loops, read them
    first. ``tests/test_representations.py`` holds the two equal on the whole chorale corpus, folk tunes and
    random token sequences.

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

    @property
    def fields(self) -> tuple[str, ...]:
        """What a round trip keeps: pitch, onset, duration, velocity (binned), and the voice with ``with_voice``."""
        return ("pitch", "onset", "duration", "velocity") + (("voice",) if self.with_voice else ())

    def reference(self, piece: Piece) -> Piece:
        """What ``round_trip(piece)`` must equal: the quantised piece with binned velocities."""
        return quantize_velocity(quantize(piece, self.steps_per_quarter), self.n_velocity_bins)

    def decode_context(self, piece: Piece) -> dict:
        """Metre, tempo and id of ``piece``, and its voice names with ``with_voice``."""
        names = piece.voice_names if self.with_voice else None
        return {**super().decode_context(piece), "time_signature": piece.time_signature, "voice_names": names}

    def long_notes(self, piece: Piece) -> int:
        """How many notes of the quantised piece are longer than ``max_duration`` steps (written with several
        ``Duration`` tokens)."""
        _, on, off = grid_notes(piece, self.steps_per_quarter)
        return int(((off - on) > self.max_duration).sum())

    def _checked_steps(self, piece: Piece):
        """Steps per bar, and the quantised notes with their onset/offset steps and voices (checked against the
        vocabulary)."""
        per_bar = bar_steps(piece.time_signature or self.default_time_signature, self.steps_per_quarter)
        if per_bar > self.max_positions:
            raise ValueError(
                f"REMI: piece {piece.id!r} in {piece.time_signature} has {per_bar} positions per bar; "
                f"max_positions is {self.max_positions}"
            )
        n, on, off = grid_notes(piece, self.steps_per_quarter)
        voice = np.asarray(n["voice"], dtype=np.int64)
        if self.with_voice and len(n) and voice.max() >= self.max_voices:
            raise ValueError(f"REMI: piece {piece.id!r} has voice {voice.max()}; max_voices is {self.max_voices}")
        return per_bar, n, on, off, voice

    def encode_plain(self, piece: Piece) -> np.ndarray:
        """:meth:`encode` as a plain loop over the notes in reading order (onset, voice, pitch): the reference."""
        per_bar, n, on, off, voice = self._checked_steps(piece)
        vel_bin = velocity_bin(n["velocity"], self.n_velocity_bins)
        notes = sorted(zip(on.tolist(), voice.tolist(), n["pitch"].tolist(), off.tolist(), vel_bin.tolist()))
        tokens, bar, last_onset = [], -1, None
        for onset, v, pitch, offset, vbin in notes:
            while bar < onset // per_bar:  # a Bar for every bar up to this note's, empty ones too
                bar += 1
                tokens.append(self.bar_id)
            if onset != last_onset:  # one Position per onset
                tokens.append(self.pos0 + onset % per_bar)
                last_onset = onset
            if self.with_voice:
                tokens.append(self.voice0 + v)
            tokens += [self.pitch0 + pitch, self.vel0 + vbin]
            steps = offset - onset
            while steps > self.max_duration:  # a long note: full Durations first, then the rest
                tokens.append(self.dur0 + self.max_duration)
                steps -= self.max_duration
            tokens.append(self.dur0 + steps)
        return np.array(tokens, dtype=np.int64)

    def encode(self, piece: Piece) -> np.ndarray:
        """A piece -> int64 token ids (vectorised; :meth:`encode_plain` is the same as a loop).

        Raises:
            ValueError: if a bar has more steps than ``max_positions`` or a voice index exceeds ``max_voices``.
        """
        per_bar, n, on, off, voice = self._checked_steps(piece)
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
        Pitch before it (possible in sampled sequences) is skipped. Vectorised; :meth:`decode_plain` is the same
        as a loop."""
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
        return self._piece(rows.tolist(), time_signature, qpm, voice_names, id)

    def decode_plain(
        self, tokens, time_signature: str = "4/4", qpm: float = 100.0, voice_names=None, id: str = "remi"
    ) -> Piece:
        """:meth:`decode` as a plain loop over the tokens: the reference."""
        ids = _as_ids(tokens, len(self.vocab), "REMI.decode_plain")
        time_signature = time_signature or self.default_time_signature
        per_bar = bar_steps(time_signature, self.steps_per_quarter)
        bar, pos, voice, vel_bin, pitch = -1, 0, 0, self.n_velocity_bins // 2, None
        pitch_since_duration = False  # a Pitch came after the latest Duration
        after_duration = False  # the previous token was a Duration
        note = None  # the row a run of Durations is lengthening (None: the run makes no note)
        rows = []
        for i in ids.tolist():
            is_duration = i > self.dur0
            if i == self.bar_id:
                bar, pos = bar + 1, 0
            elif i < self.voice0:
                pos = i - self.pos0
            elif i < self.pitch0:
                voice = i - self.voice0
            elif i < self.vel0:
                pitch, pitch_since_duration = i - self.pitch0, True
            elif not is_duration:
                vel_bin = i - self.vel0
            elif after_duration:  # a further Duration of a run
                if note is not None:
                    note[2] += i - self.dur0
            else:  # the first Duration of a run: a note, if a Pitch came since the previous Duration
                note = None
                if pitch_since_duration:
                    vel = int(bin_velocity(vel_bin, self.n_velocity_bins))
                    note = [pitch, max(bar, 0) * per_bar + pos, i - self.dur0, vel, voice]
                    rows.append(note)
            if is_duration:
                pitch_since_duration = False
            after_duration = is_duration
        return self._piece(rows, time_signature, qpm, voice_names, id)

    def _piece(self, rows, time_signature: str, qpm: float, voice_names, id: str) -> Piece:
        """(pitch, onset step, steps, velocity, voice) rows -> Piece in ``time_signature``."""
        if voice_names is None:
            n_voices = max([r[4] for r in rows], default=0) + 1
            voice_names = tuple(str(v) for v in range(n_voices)) if n_voices > 1 else ("",)
        piece = _piece_from_rows(rows, self.steps_per_quarter, voice_names, qpm, id)
        piece.time_signature = time_signature
        return piece
