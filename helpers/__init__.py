"""Helpers for the AI music generation course: one module per concept.

- ``helpers.data``            notes, pieces, the shipped corpora
- ``helpers.midi``            MIDI files in and out (through pretty_midi), your own MIDI folder
- ``helpers.audio``           a small additive synthesiser, playback, WAV, log-mel spectrograms
- ``helpers.plots``           piano rolls, spectrograms, waveforms
- ``helpers.representations`` piano roll, performance events, REMI, the chorale grid
- ``helpers.markov``          smoothed n-gram melody models
- ``helpers.attention``       relative self-attention (plain and skewed)
- ``helpers.transformer``     the Music Transformer (decoder-only, KV cache, sampling)
- ``helpers.training``        one training loop for every model (progress bar, validation, checkpoints)
- ``helpers.exercises``       reference solutions of the lesson's exercises
- ``helpers.review``          solutions of the previous lesson's exercises

Modules are imported on demand (``from helpers import audio``) so that ``import helpers`` stays fast.
"""
__version__ = "0.1.0"
