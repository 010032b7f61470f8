"""A model's training and evaluation modes: :class:`evaluating`, the one way the course switches a model to eval mode
for a while and back.

Dropout, batch norm and the VQ codebooks' statistics behave differently in training and in evaluation
(``model.train()`` / ``model.eval()``). Encoding, decoding, validation and sampling run in eval mode and must leave the
model in the mode they found it in, even when they fail half-way: ``with evaluating(model): ...`` does that, where
the hand-written ``was = model.training; model.eval(); ...; model.train(was)`` leaves a model in eval mode after an
error (and training then goes on without dropout and without codebook updates).

Notebook: every notebook that trains a model (03-05); used by :mod:`helpers.training`, :mod:`helpers.transformer`,
:mod:`helpers.vqvae`, :mod:`helpers.codec`, :mod:`helpers.autoencoder` and :mod:`helpers.classifier`.
Reference: PyTorch, ``torch.nn.Module.train`` / ``eval``; the ``contextlib`` pattern of the Python documentation.
"""
from __future__ import annotations

import functools

import torch.nn as nn


class evaluating:
    """``with evaluating(model):`` eval mode inside, the previous mode restored afterwards, even after an error."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self):
        self.was = self.model.training
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        self.model.train(self.was)
        return False


def in_eval_mode(fn):
    """Decorator: ``fn(model, ...)`` runs with its first argument (a module, or ``self``) in eval mode, and the mode
    it had is restored afterwards, even after an error (what sampling and scoring functions need)."""

    @functools.wraps(fn)
    def wrapper(model, *args, **kwargs):
        with evaluating(model):
            return fn(model, *args, **kwargs)

    return wrapper
