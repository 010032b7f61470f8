"""Vocabularies: token strings <-> ids, and the check every decoder runs on the ids it is given.

Notebook: 01_representations.ipynb.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np

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
