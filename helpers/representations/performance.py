"""Performance events: NOTE_ON / NOTE_OFF / TIME_SHIFT / VELOCITY tokens in real time (Oore et al. 2018).

Notebook: 01_representations.ipynb.
"""
from __future__ import annotations

import numpy as np

from ..data import Piece
from .encoding import Encoding, _piece_from_rows, _runs_to_cells
from .quantisation import _round_half_up, bin_velocity, quantize_seconds, velocity_bin
from .vocab import Vocab, _as_ids


class PerformanceEvents(Encoding):
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
