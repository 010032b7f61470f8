"""Reports on encodings: sizes, the round-trip check over a corpus, the first tokens as text, the naive first attempt.

Notebook: 01_representations.ipynb (the round-trip check, the size table, the widget).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..data import Piece, pitch_name
from .quantisation import round_trip_errors
from .piano_roll import PianoRoll


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
        encoding: an :class:`~helpers.representations.Encoding` (:class:`ChoraleGrid`, :class:`PianoRoll`,
            :class:`PerformanceEvents` or :class:`REMI`): it uses ``encode``, ``decode_like``, ``reference``, ``fields``.
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
