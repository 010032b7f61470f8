"""Melody conditioning (MusicGen-melody): the dominant pitch class of every codec frame of a reference clip.

MusicGen's melody model conditions on the chromagram of a reference, reduced to its **dominant** bin per frame (the
argmax, one-hot), "to keep timbre out": a full chromagram would let the model copy the reference's instrument and
voicing, the argmax keeps only which pitch class leads (Copet et al. 2023, Sec. 2.3, "Melody conditioning").
The course computes it at the codec's frame rate and adds it to the decoder's input at the matching step::

    reference clip --chroma per codec frame--> (12, T) --argmax, silence -> -1--> idx (T,)  e.g.  7 7 7 -1 9 9 ...
                                                              one-hot (T, 12)  -->  Linear(12, d_model)  -->  x_add

    delay pattern:  input position p   0    1    2    3  ...    (the token read at step p)
                    predicts step      1    2    3    4  ...    (codebook 0 of frame p, deeper ones of frames < p)
                    melody added       f0   f1   f2   f3 ...    frame p's pitch class: the one about to be coded

MusicGen prepends the melody to the sequence (a prefix the decoder attends to); the course adds it, frame-aligned,
to the token embeddings, the way Jukebox's upsamplers take the codes of the level above: cheaper (no longer
sequence) and aligned by construction; only the delay and parallel patterns, where codebook 0 of frame p comes at
step p + 1, are supported. Training drops the melody of half the examples (``scripts/train_musicgen.py
--melody-dropout``), so one model follows text alone or text and melody; guidance drops text and melody together in
its unconditional half.

Notebook: 05_musicgen.ipynb (melody conditioning). Reference: Copet et al. 2023, Sec. 2.3.
"""
from __future__ import annotations

import numpy as np
import torch

from .pitch import chroma as pitch_chroma

N_PITCH_CLASSES = 12
SILENCE = -1  # a frame with nothing to follow (quieter than ``silence_db`` below the clip's loudest frame)
MELODY_PATTERNS = ("delay", "parallel")  # where codebook 0 of frame p is emitted at step p + 1


def dominant_chroma(audio, sr: int, hop: int, n_frames: int | None = None, n_fft: int = 2048,
                    silence_db: float = -35.0) -> torch.Tensor:
    """The dominant pitch class of every frame: (B, n_frames) int64 in 0..11 (C = 0), :data:`SILENCE` where quiet.

    Args:
        audio: (B, T) or (T,) mono clips at ``sr`` (NumPy or torch).
        hop: samples per frame (the codec's hop: one value per code frame).
        n_frames: frames to return (default ``T // hop``, the codec's count); shorter clips are padded with silence.
        n_fft: the STFT's window (2048 at 16 kHz resolves semitones down to about 100 Hz).
        silence_db: a frame whose chroma energy is this far below the clip's loudest frame is silent.
    """
    x = torch.as_tensor(np.asarray(audio) if not isinstance(audio, torch.Tensor) else audio.detach().cpu())
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2 or x.shape[-1] == 0:
        raise ValueError(f"audio must be mono clips (B, T) or one clip (T,), got shape {tuple(x.shape)}")
    if hop < 1 or sr < 1:
        raise ValueError(f"hop and sr must be >= 1, got hop={hop}, sr={sr}")
    n_frames = x.shape[-1] // hop if n_frames is None else int(n_frames)
    out = torch.full((x.shape[0], n_frames), SILENCE, dtype=torch.long)
    for b in range(x.shape[0]):
        c = pitch_chroma(x[b], sr, n_fft=n_fft, hop_length=hop, kernel="triangle", power=2)[:, :n_frames]  # (12, F)
        energy = c.sum(0)  # (F,)
        if float(energy.max()) <= 0:
            continue
        loud = energy > energy.max() * 10 ** (silence_db / 10)
        idx = c.argmax(0)
        out[b, : c.shape[1]] = torch.where(loud, idx, torch.full_like(idx, SILENCE))
    return out


def one_hot(idx: torch.Tensor) -> torch.Tensor:
    """(B, T) pitch classes (:data:`SILENCE` allowed) -> (B, T, 12) float one-hot, all zeros where silent."""
    if idx.dim() != 2:
        raise ValueError(f"melody indices must be (B, T), got shape {tuple(idx.shape)}")
    if int(idx.min()) < SILENCE or int(idx.max()) >= N_PITCH_CLASSES:
        raise ValueError(f"melody indices must lie in -1..11, got {int(idx.min())}..{int(idx.max())}")
    out = torch.zeros(*idx.shape, N_PITCH_CLASSES, device=idx.device)
    sounding = idx >= 0
    out[sounding] = torch.nn.functional.one_hot(idx[sounding], N_PITCH_CLASSES).float()
    return out


def melody_positions(idx: torch.Tensor, n_positions: int, pattern: str = "delay") -> torch.Tensor:
    """The features of the decoder's first ``n_positions`` input positions: position p carries frame p's one-hot
    (frames past the melody's end are silent), (B, n_positions, 12)."""
    if pattern not in MELODY_PATTERNS:
        raise ValueError(f"melody conditioning works with the {MELODY_PATTERNS} patterns, not {pattern!r}")
    B, T = idx.shape
    padded = torch.full((B, max(n_positions, T)), SILENCE, dtype=torch.long, device=idx.device)
    padded[:, :T] = idx
    return one_hot(padded[:, :n_positions])


def drop_melody(idx: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Melody dropout: each example's whole melody becomes silent with probability ``p`` (the text-only case)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"melody dropout must lie in [0, 1], got {p}")
    drop = torch.rand(idx.shape[0], generator=generator, device=idx.device) < p  # (B,)
    return idx.masked_fill(drop[:, None], SILENCE)


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """Share of frames where two melodies name the same pitch class, over the frames where both sound (NaN if
    none): how closely a generated clip follows its reference, frame by frame."""
    if a.shape != b.shape:
        raise ValueError(f"melodies of different shapes: {tuple(a.shape)} and {tuple(b.shape)}")
    both = (a >= 0) & (b >= 0)
    return float((a[both] == b[both]).float().mean()) if bool(both.any()) else float("nan")
