"""Does it sound like a Bach chorale? Voice-leading statistics of four-voice chorales on the 16th-note grid.

A per-token NLL says how well a model predicts Bach; it does not say what its own chorales sound like. These
statistics do, and every one of them is computed the same way for Bach's held-out chorales, for a model's samples
and for the Markov baseline's, so the rows of one table compare:

- **held chords** (:func:`hold_stats`): the share of steps at which no voice moves, and the longest stretch with
  no voice moving (in quarter notes): the repetition attractor of the held-notes-repeat grid;
- **parallel fifths and octaves** (:func:`voice_leading_stats`): per 100 voice-pair motions, the textbook fault of
  four-part writing that Bach avoids; **voice crossings** (a lower voice above a higher one) per 100 steps, and
  each voice's **range**;
- **key** (:func:`key_profile_distance`): how far the pitch-class histogram lies from the Krumhansl-Kessler profile
  of its best-matching key (1 - Pearson correlation: 0 = the profile's shape exactly);
- **cadences** (:func:`cadence_stats`): at the long chords that end phrases, how often the bass arrives by a fifth
  (V-I) or a fourth (IV-I) on a root-position triad;
- **copying**: the longest stretch found verbatim in the training set (:func:`helpers.chorale.copy_stats`).

:func:`chorale_statistics` computes all of them for one token sequence; :func:`statistics_table` averages them over
many sequences.

Definitions are deliberately simple (an onset-free grid cannot tell a re-struck note from a held one, and has no
fermatas), so read the numbers side by side, not as music theory verdicts.

Notebook: 03_music_transformer.ipynb (section 8).
Reference: Huang et al. 2018, "Music Transformer" (the grid and the model); Krumhansl 1990, *Cognitive Foundations
of Musical Pitch*, Table 2.1 and ch. 4 (key profiles and key finding); Huron 2001, "Tone and voice", *Music
Perception* 19(1) (why parallel perfect intervals and crossings fuse voices).
"""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np

from .pitch import best_key
from .pitch import pitch_class_histogram as _shares
from .representations import ChoraleGrid

VOICES = ("S", "A", "T", "B")
PAIRS = tuple(combinations(range(4), 2))  # (0, 1) = S-A, ..., (2, 3) = T-B
_GRID = ChoraleGrid("repeat")


def midi_frames(tokens, grid: ChoraleGrid = _GRID) -> np.ndarray:
    """Token ids (4T,) -> (T, 4) MIDI pitches of S A T B per step, -1 where a voice rests."""
    ids = grid.frames(tokens).astype(np.int64)  # (T, 4)
    return np.where(ids == grid.rest_id, -1, ids - 1 + grid.low)


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True in a 1-D bool array."""
    best = run = 0
    for x in mask:
        run = run + 1 if x else 0
        best = max(best, run)
    return best


def hold_stats(frames: np.ndarray, steps_per_quarter: int = 4) -> dict:
    """Held chords: ``still`` (share of steps, after the first, at which no voice moves), ``chord_qn`` (the longest
    stretch of one chord, in quarter notes) and ``soprano_qn`` (the soprano's longest note, quarter notes)."""
    f = np.asarray(frames)
    if f.ndim != 2 or f.shape[1] != 4 or len(f) < 2:
        raise ValueError(f"hold_stats: need (steps >= 2, 4) frames, got shape {f.shape}")
    still = np.all(f[1:] == f[:-1], axis=1)
    return {
        "still": float(still.mean()),
        "chord_qn": (_longest_run(still) + 1) / steps_per_quarter,
        "soprano_qn": (_longest_run(f[1:, 0] == f[:-1, 0]) + 1) / steps_per_quarter,
    }


def sonorities(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse repeated steps: ``(chords (N, 4), lengths (N,) in steps)``, one row per change of any voice."""
    f = np.asarray(frames)
    new = np.ones(len(f), dtype=bool)
    new[1:] = np.any(f[1:] != f[:-1], axis=1)
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, len(f)))
    return f[starts], lengths


def voice_leading_stats(frames: np.ndarray) -> dict:
    """Parallel perfect intervals, crossings and ranges.

    Motions are read between consecutive sonorities (:func:`sonorities`), so two voices that move on the same
    16th step move together. For each of the 6 voice pairs and each change where both voices sound before and after
    and at least one moves (a **voice-pair motion**): a **parallel fifth** (octave) is both voices moving in the
    same direction from a fifth (octave or unison, compound intervals included) to a fifth (octave) again.

    Returns:
        dict: ``motions`` (count), ``parallel_fifths`` and ``parallel_octaves`` per 100 motions, ``crossings`` (per
        100 steps with all voices sounding, how many adjacent pairs are crossed: a lower voice above a higher one),
        ``range_S`` .. ``range_B`` (semitones between the voice's lowest and highest pitch).
    """
    f = np.asarray(frames)
    chords, _ = sonorities(f)
    a, b = chords[:-1], chords[1:]  # (N-1, 4) before and after each change
    motions = fifths = octaves = 0
    for i, j in PAIRS:
        ok = (a[:, i] >= 0) & (a[:, j] >= 0) & (b[:, i] >= 0) & (b[:, j] >= 0)
        moves = ok & ((a[:, i] != b[:, i]) | (a[:, j] != b[:, j]))
        motions += int(moves.sum())
        before, after = (a[:, i] - a[:, j]) % 12, (b[:, i] - b[:, j]) % 12
        same_dir = np.sign(b[:, i] - a[:, i]) * np.sign(b[:, j] - a[:, j]) > 0  # both move, same direction
        fifths += int((moves & same_dir & (before == 7) & (after == 7)).sum())
        octaves += int((moves & same_dir & (before == 0) & (after == 0)).sum())
    full = np.all(f >= 0, axis=1)
    crossed = (f[full, :-1] < f[full, 1:]).sum()  # S below A, A below T, T below B
    out = {
        "motions": motions,
        "parallel_fifths": 100.0 * fifths / motions if motions else float("nan"),
        "parallel_octaves": 100.0 * octaves / motions if motions else float("nan"),
        "crossings": 100.0 * crossed / full.sum() if full.any() else float("nan"),
    }
    for v, name in enumerate(VOICES):
        sung = f[f[:, v] >= 0, v]
        out[f"range_{name}"] = float(sung.max() - sung.min()) if len(sung) else float("nan")
    return out


def pitch_class_histogram(frames: np.ndarray) -> np.ndarray:
    """(12,) share of sounding voice-steps per pitch class (duration-weighted: a held note counts every step):
    :func:`helpers.pitch.pitch_class_histogram` of the grid's sounding pitches."""
    p = np.asarray(frames)
    p = p[p >= 0]
    if not len(p):
        raise ValueError("pitch_class_histogram: every voice rests throughout")
    return _shares(p)


def key_profile_distance(frames: np.ndarray) -> float:
    """1 - r between the pitch-class histogram and the profile of its best-matching key (0 = same shape;
    :func:`helpers.pitch.best_key`)."""
    return 1.0 - best_key(pitch_class_histogram(frames))[2]


def _is_root_triad(chord: np.ndarray) -> bool:
    """All four voices sound, and their pitch classes are a major or minor triad on the bass (doublings allowed)."""
    if np.any(chord < 0):
        return False
    rel = set(((chord - chord[3]) % 12).tolist())
    return 7 in rel and (rel <= {0, 4, 7} or rel <= {0, 3, 7}) and (4 in rel or 3 in rel)


def cadence_stats(frames: np.ndarray, min_quarters: float = 2.0, steps_per_quarter: int = 4) -> dict:
    """Phrase ends and the cadences that close them.

    The grid has no fermatas, so a **phrase end** is a chord held for at least ``min_quarters`` (a half note by
    default: Bach's phrase-end chords under a fermata are written that long or longer), or the last chord of the
    piece. A phrase end is a **cadence** when it is a root-position major or minor triad whose bass arrived from the
    previous chord by a fourth up / fifth down (V-I, authentic) or a fifth up / fourth down (IV-I, plagal).

    Returns:
        dict: ``phrase_ends`` (count), ``phrase_ends_per_8qn`` (per 8 quarter notes = two 4/4 bars),
        ``cadence_share`` (of phrase ends that are cadences; nan without phrase ends).
    """
    chords, lengths = sonorities(frames)
    ends = np.flatnonzero(lengths >= min_quarters * steps_per_quarter).tolist()
    if len(chords) - 1 not in ends:
        ends.append(len(chords) - 1)
    hits = 0
    for k in ends:
        if k == 0 or not _is_root_triad(chords[k]) or chords[k - 1][3] < 0:
            continue
        hits += int((chords[k][3] - chords[k - 1][3]) % 12 in (5, 7))
    quarters = lengths.sum() / steps_per_quarter
    return {
        "phrase_ends": len(ends),
        "phrase_ends_per_8qn": 8.0 * len(ends) / quarters,
        "cadence_share": hits / len(ends) if ends else float("nan"),
    }


def chorale_statistics(tokens, grid: ChoraleGrid = _GRID, index=None) -> dict:
    """Every statistic of this module for one chorale given as grid tokens (``repeat`` mode).

    Args:
        tokens: (4T,) token ids, T >= 2 steps.
        grid: the :class:`ChoraleGrid` that made them.
        index: a :class:`helpers.markov.CorpusIndex` of the training chorales' tokens, for ``copy_qn`` (the longest
            stretch found verbatim in the training set, in any transposition: :func:`helpers.chorale.copy_stats`,
            in quarter notes); None skips it.

    Returns:
        dict of floats: keys of :func:`hold_stats`, :func:`voice_leading_stats`, ``key_distance``, the keys of
        :func:`cadence_stats`, and ``copy_qn`` when ``index`` is given.
    """
    f = midi_frames(tokens, grid)
    out = {**hold_stats(f, grid.steps_per_quarter), **voice_leading_stats(f)}
    out["key_distance"] = key_profile_distance(f)
    out.update(cadence_stats(f, steps_per_quarter=grid.steps_per_quarter))
    if index is not None:
        from .chorale import copy_stats

        tokens = np.asarray(tokens)
        longest = copy_stats(index, tokens, n=min(64, len(tokens)), n_pitch_ids=grid.high - grid.low + 1)["longest"]
        out["copy_qn"] = longest / (4 * grid.steps_per_quarter)
    return out


TABLE_COLUMNS = (
    ("still", "no voice moves", "{:.0%}"),
    ("chord_qn", "longest held chord (qn)", "{:.1f}"),
    ("parallel_fifths", "par. 5ths /100", "{:.2f}"),
    ("parallel_octaves", "par. 8ves /100", "{:.2f}"),
    ("crossings", "crossings /100 steps", "{:.1f}"),
    ("range_S", "S range", "{:.0f}"),
    ("range_A", "A range", "{:.0f}"),
    ("range_T", "T range", "{:.0f}"),
    ("range_B", "B range", "{:.0f}"),
    ("key_distance", "1 - r key profile", "{:.3f}"),
    ("cadence_share", "cadences at phrase ends", "{:.0%}"),
    ("copy_qn", "longest copy (qn)", "{:.1f}"),
)


def statistics_table(rows: dict[str, Sequence], grid: ChoraleGrid = _GRID, index=None) -> dict[str, dict]:
    """Mean of every statistic over each named group of token sequences.

    Args:
        rows: ``{name: [tokens, ...]}``, e.g. Bach's held-out chorales, a model's samples, the Markov baseline's.

    Returns:
        ``{name: {statistic: mean, ..., 'n': count, 'chord_qn_max': the longest held chord of the group}}``.
    """
    table = {}
    for name, seqs in rows.items():
        if not len(seqs):
            raise ValueError(f"statistics_table: row {name!r} has no sequences")
        stats = [chorale_statistics(s, grid, index) for s in seqs]
        table[name] = {k: float(np.nanmean([s[k] for s in stats])) for k in stats[0]}
        table[name]["n"] = len(stats)
        table[name]["chord_qn_max"] = float(max(s["chord_qn"] for s in stats))
        table[name]["bar_hold_share"] = float(np.mean([s["chord_qn"] >= 4 for s in stats]))
    return table


def format_table(table: dict[str, dict], columns=TABLE_COLUMNS) -> str:
    """The table of :func:`statistics_table` as aligned text, one row per group."""
    cols = [c for c in columns if all(c[0] in r for r in table.values())]
    w = max(len(n) for n in table) + 2
    head = f"{'':<{w}}{'n':>4} " + " ".join(f"{label:>{max(len(label), 6)}}" for _, label, _ in cols)
    lines = [head]
    for name, r in table.items():
        cells = " ".join(f"{fmt.format(r[key]):>{max(len(label), 6)}}" for key, label, fmt in cols)
        lines.append(f"{name:<{w}}{r['n']:>4} {cells}")
    return "\n".join(lines)
