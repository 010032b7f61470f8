"""Memorisation: how much of a generated sequence is copied, verbatim, from the training set.

- :func:`copied_ngrams` — per generated sequence, the longest run found in one training sequence and the share of its
  n-grams that occur in training, with the suffix array of :class:`helpers.markov.CorpusIndex`;
  :func:`copied_ngrams_plain` is the brute-force reference a test holds it to.

Notebook: 06_evaluation.ipynb (02_markov_chains.ipynb uses ``markov.memorisation``).
Reference: the memorisation analysis of Huang et al. 2018 (Music Transformer), Sec. 5; Agostinelli et al. 2023
(MusicLM), Sec. 5.4.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

_NAN = float("nan")


# Memorisation: how much of a generated sequence is copied from the training set
@dataclass(frozen=True)
class MemorisationResult:
    """Per generated sequence: the longest run found verbatim in training, and the share of copied n-grams."""

    n: int
    longest: np.ndarray  # (S,) int
    share: np.ndarray  # (S,) float, NaN for sequences shorter than n
    lengths: np.ndarray  # (S,) int

    def __repr__(self) -> str:
        return (
            f"MemorisationResult({len(self.longest)} sequences: longest copied run mean {self.longest.mean():.1f}, "
            f"max {self.longest.max()}; copied {self.n}-grams {np.nanmean(self.share):.1%})"
        )


def _token_seqs(seqs, what: str) -> list[np.ndarray]:
    out = []
    for i, s in enumerate(seqs):
        s = np.asarray(s)
        if s.ndim != 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
            raise ValueError(f"{what}[{i}] must be a 1-D sequence of whole-number tokens, got shape {s.shape} {s.dtype}")
        if s.size and s.min() < 0:
            raise ValueError(f"{what}[{i}] holds a negative token ({s.min()}); tokens must be >= 0")
        out.append(s.astype(np.int64))
    return out


def copied_ngrams(generated: Sequence, train, n: int = 8) -> MemorisationResult:
    """For each generated sequence: longest stretch found verbatim in one training sequence, share of its n-grams
    that occur in training.

    Uses the suffix array of :class:`helpers.markov.CorpusIndex` (matches never cross from one training sequence
    into the next); :func:`copied_ngrams_plain` is the brute-force reference a test holds it to. Tokens are any
    non-negative ints (pitches, grid tokens, event codes), the same vocabulary in both.

    Args:
        generated: sequences of tokens.
        train: training sequences, or a ``CorpusIndex`` built on them (reuse it across generators).
        n: n-gram length for the share.

    Notebook: 06_evaluation.ipynb (02_markov_chains.ipynb uses ``markov.memorisation``).
    Reference: the memorisation analysis of Huang et al. 2018 (Music Transformer), Sec. 5; Agostinelli et al.
    2023 (MusicLM), Sec. 5.4.
    """
    from .markov import CorpusIndex

    if n < 1:
        raise ValueError(f"copied_ngrams: n must be at least 1, got {n}")
    gen = _token_seqs(generated, "copied_ngrams: generated")
    index = train if isinstance(train, CorpusIndex) else CorpusIndex(_token_seqs(train, "copied_ngrams: train"))
    longest, share, lengths = [], [], []
    for s in gen:
        ml = index.match_lengths(s) if len(s) else np.zeros(0, np.int64)  # (L,) longest match starting at i
        longest.append(int(ml.max()) if len(ml) else 0)
        share.append(float(np.mean(ml[: len(ml) - n + 1] >= n)) if len(ml) >= n else _NAN)
        lengths.append(len(s))
    return MemorisationResult(n, np.array(longest, np.int64), np.array(share), np.array(lengths, np.int64))


def copied_ngrams_plain(generated: Sequence, train: Sequence, n: int = 8) -> MemorisationResult:
    """Brute-force :func:`copied_ngrams`: a set of training n-gram tuples, and the longest common substring with
    each training sequence by dynamic programming (O(L * total training length)); for tests and small inputs."""
    gen = _token_seqs(generated, "copied_ngrams_plain: generated")
    tr = _token_seqs(train, "copied_ngrams_plain: train")
    grams = {tuple(t[i : i + n].tolist()) for t in tr for i in range(len(t) - n + 1)}
    longest, share = [], []
    for s in gen:
        best = 0
        for t in tr:
            prev = [0] * (len(t) + 1)
            for a in s.tolist():
                cur = [0] * (len(t) + 1)
                for j, b in enumerate(t.tolist()):
                    if a == b:
                        cur[j + 1] = prev[j] + 1
                        best = max(best, cur[j + 1])
                prev = cur
        longest.append(best)
        g = [tuple(s[i : i + n].tolist()) for i in range(len(s) - n + 1)]
        share.append(sum(x in grams for x in g) / len(g) if g else _NAN)
    return MemorisationResult(n, np.array(longest, np.int64), np.array(share), np.array([len(s) for s in gen]))
