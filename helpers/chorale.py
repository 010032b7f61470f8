"""The chorale grid's data, NLL tables and baselines: everything of notebook 03 that is about Bach, not about models.

The JSB chorales encoded by :class:`helpers.representations.ChoraleGrid` (S A T B per 16th step, held notes
repeated, ``REST`` = 0, pitch ids 1 .. 46 in semitone order):

- data for :func:`helpers.training.train`: :class:`ChoraleCrops` (random crops starting on a soprano token, with
  transposition augmentation, :func:`transpose_tokens`) and :func:`fixed_crops` (deterministic validation batches);
- evaluation: :func:`chorale_nll_table` (a model's per-token NLL on whole chorales, overall and on the tokens where
  a voice changes pitch) next to the baselines that know no harmony (:func:`grid_trivial_baselines`) and the
  counting model of notebook 02 (:func:`grid_baseline_nll`, a Kneser-Ney n-gram);
- :func:`copy_stats`: how much of a generated chorale is recited from the training set.

The model itself (any corpus) lives in :mod:`helpers.transformer`.

Notebook: 03_music_transformer.ipynb (and 02_markov_chains.ipynb for :func:`grid_baseline_nll`).
Reference: Huang et al. 2018, "Music Transformer", Sec. 4.1 (the JSB grid format); Chen & Goodman 1998 (smoothing).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .data import Piece
from .markov import NGramModel
from .representations import ChoraleGrid
from .transformer import MusicTransformer, sequence_nll

_DEFAULT_GRID = ChoraleGrid("repeat")
N_PITCH_IDS = _DEFAULT_GRID.high - _DEFAULT_GRID.low + 1  # 46: MIDI 36 (C2) .. 81 (A5)


# --- data: crops of the chorale grid for training and validation -------------------------------------------------
def transpose_tokens(tokens: torch.Tensor, semitones, n_pitch_ids: int, rest_id: int = 0) -> torch.Tensor:
    """Transpose grid tokens: pitch ids move by ``semitones`` (one value per row), ``REST`` stays.

    Args:
        tokens: (B, T) ids where ``rest_id`` is a rest and 1 .. n_pitch_ids are consecutive semitones.
        semitones: int or (B,) tensor.

    Raises:
        ValueError: if a pitch would leave the vocabulary.
    """
    shift = torch.as_tensor(semitones, dtype=torch.long).reshape(-1, 1)  # (B or 1, 1)
    is_pitch = tokens != rest_id  # (B, T)
    out = torch.where(is_pitch, tokens + shift, tokens)  # (B, T)
    if bool(((out < 1) | (out > n_pitch_ids))[is_pitch].any()):
        raise ValueError(f"transpose_tokens: transposing by {semitones} leaves the pitch range 1..{n_pitch_ids}")
    return out


class ChoraleCrops:
    """Random training crops of encoded chorales with transposition augmentation: the ``train_data`` of
    :func:`helpers.training.train`.

    ``crops(generator, batch_size)`` returns (B, length + 1) int64 ids: a piece chosen with probability
    proportional to its length, a start on a soprano token (a multiple of 4), and a transposition drawn
    uniformly from ``transpose`` among those that keep every pitch of the crop in the vocabulary.

    Args:
        sequences: encoded pieces (1-D int arrays, length a multiple of 4).
        length: tokens per example seen by the model (a multiple of 4); crops hold ``length + 1`` tokens
            (input plus the shifted target). Shorter pieces are skipped; if none is long enough, ValueError.
        n_pitch_ids: number of pitch ids (``grid.high - grid.low + 1``).
        transpose: semitone range, inclusive (``(0, 0)`` turns augmentation off).

    Notebook: 03_music_transformer.ipynb
    """

    def __init__(self, sequences, length: int, n_pitch_ids: int, transpose: tuple[int, int] = (-5, 6)):
        if length % 4:
            raise ValueError(f"ChoraleCrops: length must be a multiple of 4 (S A T B per step), got {length}")
        self.length, self.n_pitch_ids, self.transpose = length, n_pitch_ids, transpose
        self.seqs = [torch.as_tensor(s, dtype=torch.long) for s in sequences if len(s) >= length + 1]
        if not self.seqs:
            raise ValueError(f"ChoraleCrops: no sequence has the {length + 1} tokens a crop needs")
        lengths = torch.tensor([len(s) - length for s in self.seqs], dtype=torch.float64)
        self.weights = lengths / lengths.sum()

    def __call__(self, generator: torch.Generator, batch_size: int) -> torch.Tensor:
        pieces = torch.multinomial(self.weights, batch_size, replacement=True, generator=generator)
        rows = []
        for i in pieces.tolist():
            s = self.seqs[i]
            n_starts = (len(s) - self.length - 1) // 4 + 1
            start = 4 * int(torch.randint(n_starts, (1,), generator=generator))
            crop = s[start : start + self.length + 1]  # (length + 1,)
            pitch = crop[crop != 0]
            lo, hi = self.transpose
            if len(pitch):
                lo, hi = max(lo, 1 - int(pitch.min())), min(hi, self.n_pitch_ids - int(pitch.max()))
            shift = lo + int(torch.randint(hi - lo + 1, (1,), generator=generator))
            rows.append(transpose_tokens(crop[None], shift, self.n_pitch_ids)[0])
        return torch.stack(rows)  # (B, length + 1)


def fixed_crops(sequences, length: int, stride: int | None = None) -> list[torch.Tensor]:
    """Deterministic validation batches for :func:`helpers.training.train`: every piece cut into crops of
    ``length + 1`` tokens starting every ``stride`` tokens (default ``length``), one crop per batch row.

    Returns:
        a list of (n, length + 1) tensors, one per piece that is long enough.
    """
    stride = stride or length
    out = []
    for s in sequences:
        s = torch.as_tensor(s, dtype=torch.long)
        starts = range(0, len(s) - length, stride)
        if len(starts):
            out.append(torch.stack([s[a : a + length + 1] for a in starts]))
    if not out:
        raise ValueError(f"fixed_crops: no sequence has {length + 1} tokens")
    return out


# --- evaluation: NLL on whole chorales, and the baselines that know no harmony --------------------------------
def chorale_nll_table(model: MusicTransformer, grid, pieces, exclude: tuple[str, ...] = ()) -> dict:
    """Per-token validation NLL of a model on whole chorales (sliding window), overall and on pitch changes.

    Every token after the first of each piece is scored (the grid has no start token).

    Args:
        grid: the ``ChoraleGrid`` that encodes the pieces.
        pieces: the chorales to score (e.g. ``load_chorales('valid')``).
        exclude: ids of pieces to leave out (e.g. ``('bwv253',)``, a duplicate of a training piece).

    Returns:
        dict: ``nll`` (nats/token), ``nll_change`` (tokens where a voice changes pitch), ``nll_repeat``,
        ``share_repeat``, ``n_tokens``, ``n_pieces``.
    """
    nll, change = [], []
    kept = [p for p in pieces if p.id not in exclude]
    if not kept:
        raise ValueError("chorale_nll_table: no piece left to score")
    for p in kept:
        tokens = grid.encode(p)
        nll.append(sequence_nll(model, tokens))
        change.append(torch.as_tensor(grid.changes(tokens)[1:]))
    nll, change = torch.cat(nll), torch.cat(change)
    return {
        "nll": float(nll.mean()),
        "nll_change": float(nll[change].mean()),
        "nll_repeat": float(nll[~change].mean()),
        "share_repeat": float((~change).float().mean()),
        "n_tokens": int(len(nll)),
        "n_pieces": len(kept),
    }


def grid_trivial_baselines(grid, train_pieces, pieces, exclude: tuple[str, ...] = ()) -> dict:
    """Per-token NLL of two models that know nothing of harmony, scored on the same tokens as
    :func:`chorale_nll_table` (every token after the first of each piece).

    - ``unigram``: token frequencies of the training chorales (add-one smoothed).
    - ``repeat``: "the voice keeps its pitch" with the probability r seen in training, otherwise a token drawn
      from the unigram distribution without the repeated one; the first step (no previous step) gets the unigram.

    Returns:
        ``{'unigram': {...}, 'repeat': {...}}``, each with ``nll``, ``nll_change``, ``nll_repeat``.
    """
    V = grid.vocab_size
    train_tokens = [torch.as_tensor(grid.encode(p)) for p in train_pieces]
    counts = torch.bincount(torch.cat(train_tokens), minlength=V).double() + 1.0
    uni = counts / counts.sum()  # (V,)
    rep = [t[4:] == t[:-4] for t in train_tokens]
    r = float(torch.cat(rep).double().mean())
    out = {"unigram": [], "repeat": [], "change": []}
    for p in pieces:
        if p.id in exclude:
            continue
        t = torch.as_tensor(grid.encode(p))  # (N,)
        target = t[1:]
        out["unigram"].append(-uni[target].log())
        prev = torch.cat([torch.full((4,), -1), t[:-4]])[1:]  # same voice, one step back (-1: none)
        same = target == prev
        p_other = (1 - r) * uni[target] / (1 - uni[prev.clamp(min=0)])
        p_rep = torch.where(same, torch.full_like(p_other, r), p_other)
        out["repeat"].append(-torch.where(prev < 0, uni[target], p_rep).log())
        out["change"].append(torch.as_tensor(grid.changes(t.numpy())[1:]))
    change = torch.cat(out["change"])
    result = {}
    for name in ("unigram", "repeat"):
        nll = torch.cat(out[name])
        result[name] = {"nll": float(nll.mean()), "nll_change": float(nll[change].mean()),
                        "nll_repeat": float(nll[~change].mean())}
    return result


def grid_ngram(train: Sequence[Piece], order: int = 8, grid=None, transpositions: Sequence[int] = (0,)) -> NGramModel:
    """A Kneser-Ney n-gram fitted on the chorale grid tokens of ``train`` in each of ``transpositions`` (shifts that
    leave the grid's pitch range are skipped): the counting model of :func:`grid_baseline_nll`, to score or sample.

    Notebook: 03_music_transformer.ipynb.
    """
    grid = _DEFAULT_GRID if grid is None else grid
    shifted = [t for p in train for t in p.transpositions(transpositions)]
    train_tokens = [grid.encode(p) for p in shifted if grid.low <= p.pitches.min() and p.pitches.max() <= grid.high]
    if not train_tokens:
        raise ValueError("grid_baseline_nll: no training chorale fits the grid's pitch range")
    return NGramModel(order).fit(train_tokens)


def grid_baseline_nll(train: Sequence[Piece], evaluate: Sequence[Piece], order: int = 8, grid=None,
                      transpositions: Sequence[int] = (0,)) -> dict:
    """Per-token NLL of a Kneser-Ney n-gram model on the chorale grid, the counting row of the transformer table.

    The model reads the serialised grid (S A T B at every 16th step) like text: with ``order=4`` it sees the
    same voice one step back plus the three voices in between; with ``order=8``, two steps back. The end
    marker ``</s>`` is not counted (the grid format has none), so the numbers compare with a transformer's.

    Args:
        train: chorales to count (e.g. ``load_chorales('train')``).
        evaluate: chorales to score (e.g. ``load_chorales('valid')``).
        order: context length in tokens.
        grid: a :class:`helpers.representations.ChoraleGrid`; default ``ChoraleGrid('repeat')``.
        transpositions: semitone shifts to augment the training chorales with (e.g. ``range(-5, 7)``; shifts
            that leave the grid's pitch range are skipped). ``(0,)``: the chorales as written.

    Returns:
        dict: ``nll`` (nats per token), ``nll_change`` (on tokens where a voice changes pitch, see
        ``ChoraleGrid.changes``), ``nll_repeat`` (the other tokens), ``share_repeat``, ``n_tokens``.

    Notebook: 02_markov_chains.ipynb, 03_music_transformer.ipynb.
    Reference: Chen & Goodman (1998) for the smoothing; Huang et al. 2018, Sec. 4.1 for the grid format.
    """
    grid = _DEFAULT_GRID if grid is None else grid
    if not len(evaluate):
        raise ValueError("grid_baseline_nll: no pieces to evaluate")
    model = grid_ngram(train, order, grid, transpositions)
    eval_tokens = [grid.encode(p) for p in evaluate]
    logp = np.concatenate([lp[:-1] for lp in model.token_log_probs(eval_tokens)])  # drop </s>
    change = np.concatenate([grid.changes(t) for t in eval_tokens])
    return {
        "nll": float(-logp.mean()),
        "nll_change": float(-logp[change].mean()),
        "nll_repeat": float(-logp[~change].mean()) if (~change).any() else float("nan"),
        "share_repeat": float(np.mean(~change)),
        "n_tokens": int(len(logp)),
    }


# --- copying: how much of a generated chorale is in the training set --------------------------------------------
def copy_stats(index, tokens, n: int = 64, shifts=range(-6, 6), n_pitch_ids: int = N_PITCH_IDS) -> dict:
    """How much of a token sequence appears verbatim in a training corpus, in any transposition.

    Args:
        index: a :class:`helpers.markov.CorpusIndex` over the training sequences.
        tokens: the sequence to check (e.g. a generated chorale).
        n: a position counts as copied if the ``n`` tokens starting there occur in the corpus
            (64 tokens = 16 steps = one 4/4 bar on the chorale grid).
        shifts: transpositions to try (the model was trained with transposition augmentation).

    Returns:
        dict: ``share`` (fraction of the windows of ``n`` tokens found in the corpus), ``longest`` (tokens of the
        longest copied stretch; divide by 16 for quarter notes), ``start`` (the token where that stretch begins).

    Notebook: 03_music_transformer.ipynb
    """
    t = torch.as_tensor(tokens, dtype=torch.long).flatten()
    pitched = t[t != 0]
    fits = [s for s in shifts
            if not len(pitched) or (int(pitched.min()) + s >= 1 and int(pitched.max()) + s <= n_pitch_ids)]
    queries = [transpose_tokens(t[None], s, n_pitch_ids)[0].numpy() for s in fits]
    best = None
    for ml in index.match_lengths_many(queries):  # one vectorised search for all transpositions
        ml = torch.as_tensor(ml)
        best = ml if best is None else torch.maximum(best, ml)
    if best is None or len(t) < n:
        raise ValueError(f"copy_stats: need at least n={n} tokens that fit some transposition")
    return {"share": float((best[: len(t) - n + 1] >= n).double().mean()), "longest": int(best.max()),
            "start": int(best.argmax())}
