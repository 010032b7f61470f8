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

Every encoding is an :class:`Encoding` (``encoding.py``: ``decode_like`` and ``round_trip`` written once, and the four
encodings drawn on one small piece). One module per concept; every public name is importable from here:

- ``quantisation``  :func:`quantize`, :func:`quantize_seconds`, :func:`quantize_velocity`, :func:`note_table`,
  :func:`round_trip_errors`, :func:`bar_steps` (what "exactly, after quantisation" means)
- ``vocab``         :class:`Vocab` (token <-> id)
- ``encoding``      :class:`Encoding` (the contract)
- ``chorale_grid``, ``piano_roll``, ``performance``, ``remi``: the four encodings
- ``report``        :func:`round_trip_report`, :func:`size_summary`, :func:`first_tokens`, :func:`active_cell_tokens`

Notebook: 01_representations.ipynb (all of it); 03_music_transformer.ipynb uses :class:`ChoraleGrid`.
"""
from .chorale_grid import ChoraleGrid
from .encoding import Encoding
from .performance import PerformanceEvents
from .piano_roll import PianoRoll, roll_sparsity
from .quantisation import (
    bar_steps,
    bin_velocity,
    grid_notes,
    note_table,
    quantization_changes,
    quantize,
    quantize_seconds,
    quantize_velocity,
    round_trip_errors,
    velocity_bin,
)
from .remi import REMI
from .report import active_cell_tokens, bytes_per_token, first_tokens, round_trip_report, size_summary
from .vocab import Vocab

__all__ = [
    "quantize",
    "quantization_changes",
    "note_table",
    "round_trip_errors",
    "Vocab",
    "Encoding",
    "grid_notes",
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
