"""An EnCodec-style neural audio codec: convolutional encoder, residual vector quantisation (RVQ), decoder.

MusicGen does not model audio samples: it models the tokens of a codec, K = 4 codebooks at 50 frames per second.
This module builds that codec, small:

- :class:`CodecConfig` — a :class:`~helpers.vqvae.VQVAEConfig` plus the number of codebooks and quantizer dropout;
  defaults: 16 kHz, hop 320 (50 Hz), 4 codebooks of 1024 codes, so 50 x 4 x 10 = 2000 bits per second.
- :class:`ResidualVQ` — K :class:`~helpers.vqvae.VectorQuantizer` stages: stage 1 quantises the latent, stage k the
  residual ``z - (q_1 + ... + q_{k-1})`` that the stages before it left; the codec's output is the sum. Decoding
  with the first k codebooks only gives a coarser version of the same sound: that is what makes RVQ *scalable*.
- :class:`Codec` — :class:`~helpers.vqvae.Encoder` -> :class:`ResidualVQ` -> :class:`~helpers.vqvae.Decoder`
  (the same blocks as the Jukebox VQ-VAE: one implementation). ``encode(audio, sr) -> codes (B, K, L)``,
  ``decode(codes[:, :k])`` for any k in 1..K.
- Quantizer dropout: in training, each batch uses a random number of codebooks ``n_q`` in 1..K (drawn from the
  model's seeded generator), so one model learns to decode from 1..K codebooks.
- :func:`bitrate` — bits per second from K, codebook size and frame rate.

Gradients: the sum of the stages is passed straight through to the encoder (``z + (sum q - z).detach()``), so the
encoder's gradient does not grow with the number of stages used; each stage adds its commitment loss
(residual vs its detached code). Latents are L2-normalised once, before the first stage, whose codes are unit vectors too;
the residuals of the later stages are quantised as they are (normalising them would break the sum). Codebooks learn by EMA, applied by the hook in ``model.training_hooks()`` (see helpers.vqvae).

Notebook: 05_musicgen.ipynb
Reference: Zeghidour et al. 2021, "SoundStream" (arXiv:2107.03312), Sec. III-C (residual VQ, Algorithm 1; quantizer
dropout for bitrate scalability); Défossez et al. 2022, "High Fidelity Neural Audio Compression" (EnCodec,
arXiv:2210.13438), Sec. 3.2 (RVQ, 50 Hz frames) and 3.4 (losses); Copet et al. 2023 (MusicGen), Sec. 2.1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import vqvae
from .autoencoder import check_audio
from .modes import evaluating
from .vqvae import Decoder, Encoder, VectorQuantizer, VQVAEConfig, VQVAEOutput, update_codebooks


@dataclass(frozen=True)
class CodecConfig(VQVAEConfig):
    """Sizes and switches of a :class:`Codec` (the fields of :class:`~helpers.vqvae.VQVAEConfig`, other defaults).

    The dead-code threshold is lower than the VQ-VAE's (0.1 instead of 1.0): an EMA count is "uses per batch", and at
    50 frames per second a batch of eight 1-s clips holds 400 latents for 1024 codes, 0.4 per code on average, so a
    threshold of 1 would call most of a healthy codebook dead.

    Attributes:
        n_codebooks: K, the number of residual stages.
        quantizer_dropout: train each batch with a random number of codebooks in 1..K.
    """

    hop: int = 320
    codebook_size: int = 1024
    depth: int = 2
    restart_threshold: float = 0.1
    n_codebooks: int = 4
    quantizer_dropout: bool = True

    def __post_init__(self):
        super().__post_init__()
        if int(self.n_codebooks) != self.n_codebooks or self.n_codebooks < 1:
            raise ValueError(f"CodecConfig: n_codebooks must be a positive whole number, got {self.n_codebooks!r}")

    @property
    def frame_rate(self) -> float:
        """Code frames per second (50 for hop 320 at 16 kHz)."""
        return self.sample_rate / self.hop

    @classmethod
    def tiny(cls, hop: int = 8, **changes):
        """A configuration small enough for unit tests."""
        base = dict(n_codebooks=3)
        base.update(changes)
        return super().tiny(hop=hop, **base)


def bitrate(config: CodecConfig, n_codebooks: int | None = None) -> float:
    """Bits per second: ``frame_rate * n_codebooks * log2(codebook_size)`` (``n_codebooks=None``: all K).

    >>> bitrate(CodecConfig())   # 50 frames/s x 4 codebooks x 10 bits
    2000.0
    """
    k = config.n_codebooks if n_codebooks is None else n_codebooks
    if not 1 <= k <= config.n_codebooks:
        raise ValueError(f"n_codebooks must lie in 1..{config.n_codebooks}, got {k}")
    return config.frame_rate * k * math.log2(config.codebook_size)


class ResidualVQ(nn.Module):
    """K vector quantisers in series, each quantising what the previous ones left (SoundStream, Algorithm 1)::

        r_0 = z;   for k = 1..n_q:  q_k = Q_k(r_{k-1}),  r_k = r_{k-1} - q_k;   z_q = q_1 + ... + q_{n_q}
    """

    def __init__(self, n_codebooks: int, codebook_size: int, dim: int, mu: float = 0.99, threshold: float = 1.0,
                 normalize: bool = True, seed: int = 0):
        super().__init__()
        self.normalize = normalize
        self.stages = nn.ModuleList(
            VectorQuantizer(codebook_size, dim, mu, threshold, normalize=normalize and k == 0, seed=seed + k)
            for k in range(n_codebooks)
        )

    @property
    def n_codebooks(self) -> int:
        return len(self.stages)

    def forward(self, z: torch.Tensor, n_q: int | None = None) -> vqvae.Quantized:
        """Latents (B, D, L) -> Quantized with codes (B, n_q, L), commitment summed over stages, usage and perplexity
        averaged over stages."""
        n_q = self.n_codebooks if n_q is None else n_q
        if not 1 <= n_q <= self.n_codebooks:
            raise ValueError(f"n_q must lie in 1..{self.n_codebooks}, got {n_q}")
        if self.normalize:
            z = F.normalize(z, dim=1)  # stage 1 normalises too (a no-op now) and keeps unit codes
        total = torch.zeros_like(z)  # (B, D, L), sum of the codes so far (no gradient)
        codes, commit, usage, perplexity = [], z.new_zeros(()), [], []
        for k in range(n_q):
            stage = self.stages[k](z - total)  # the residual keeps z's gradient: every commitment pulls the encoder
            total = total + stage.z_q.detach()  # z_q's value is the codes' value
            codes.append(stage.codes)
            commit = commit + stage.commit
            usage.append(stage.usage)
            perplexity.append(stage.perplexity)
        z_q = z + (total - z).detach()  # straight-through for the sum
        return vqvae.Quantized(z_q, torch.stack(codes, dim=1), commit, torch.stack(usage).mean(), torch.stack(perplexity).mean())

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, k, L), k <= K -> the sum of the first k stages' code vectors (B, D, L)."""
        if codes.dim() != 3 or not 1 <= codes.shape[1] <= self.n_codebooks:
            raise ValueError(f"codes must be (B, k, L) with 1 <= k <= {self.n_codebooks}, got shape {tuple(codes.shape)}")
        return sum(self.stages[k].lookup(codes[:, k]) for k in range(codes.shape[1]))


class Codec(nn.Module):
    """The EnCodec-style codec: audio (B, T) -> codes (B, K, T / hop) -> audio (B, T).

    ``model(audio, n_q=None)`` (training) returns a :class:`~helpers.vqvae.VQVAEOutput` (codes (B, n_q, L)); in
    training mode with quantizer dropout and ``n_q=None``, n_q is drawn from 1..K with the model's generator.

    Notebook: 05_musicgen.ipynb
    Reference: Défossez et al. 2022 (EnCodec), Sec. 3; Zeghidour et al. 2021 (SoundStream), Sec. III-C.
    """

    def __init__(self, config: CodecConfig, seed: int = 0):
        super().__init__()
        if not isinstance(config, CodecConfig):
            raise TypeError(f"Codec needs a CodecConfig, got {type(config).__name__}")
        self.config = config
        self.generator = torch.Generator().manual_seed(seed + 7919)  # quantizer dropout
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = Encoder(config.channels, config.code_dim, config.strides, config.depth,
                                   min_channels=config.min_channels)
            self.quantizer = ResidualVQ(config.n_codebooks, config.codebook_size, config.code_dim, config.mu,
                                        config.restart_threshold, config.normalize, seed=seed + 1)
            self.decoder = Decoder(config.channels, config.code_dim, config.strides, config.depth,
                                   min_channels=config.min_channels)
        self.last_n_q = config.n_codebooks

    @property
    def hop(self) -> int:
        return self.config.hop

    def training_hooks(self) -> list:
        """Hooks ``hook(model, step)`` for the training loop: the EMA update and restarts of every stage used."""
        return [update_codebooks]

    def bitrate(self, n_codebooks: int | None = None) -> float:
        return bitrate(self.config, n_codebooks)

    def draw_n_q(self) -> int:
        """Quantizer dropout: a number of codebooks uniform in 1..K from the model's generator."""
        return int(torch.randint(1, self.config.n_codebooks + 1, (1,), generator=self.generator))

    def forward(self, audio: torch.Tensor, n_q: int | None = None) -> VQVAEOutput:
        x = audio[:, 0] if audio.dim() == 3 and audio.shape[1] == 1 else audio
        if x.dim() != 2:
            raise ValueError(f"Codec expects audio (B, T) or (B, 1, T), got shape {tuple(audio.shape)}")
        if n_q is None:
            n_q = self.draw_n_q() if self.training and self.config.quantizer_dropout else self.config.n_codebooks
        self.last_n_q = n_q
        T = x.shape[-1]
        q = self.quantize(x, n_q)  # codes (B, n_q, L)
        y = self.decoder(q.z_q)[:, 0, :T]
        return VQVAEOutput(y, q.codes, q.commit, q.usage, q.perplexity)

    def quantize(self, x: torch.Tensor, n_q: int) -> vqvae.Quantized:
        """Audio (B, T) -> the residual VQ's output for the first ``n_q`` codebooks (zero-padded to a multiple of the
        hop): the encoder and the quantiser, not the decoder."""
        T = x.shape[-1]
        if T < self.hop:
            raise ValueError(f"audio of {T} samples is too short for the hop of {self.hop} samples")
        x = F.pad(x, (0, (-T) % self.hop))
        return self.quantizer(self.encoder(x[:, None]), n_q)  # codes (B, n_q, L)

    @torch.no_grad()
    def encode(self, audio, sr: int, n_q: int | None = None) -> torch.Tensor:
        """Audio (T,), (B, 1, T) or (B, T) at ``sr`` Hz (the model's rate) -> codes (B, n_q, ceil(T / hop)) (all K by
        default). Checked input (:func:`helpers.autoencoder.check_audio`: (2, T) is refused as stereo, so pass two
        clips as (2, 1, T)), eval mode; the decoder does not run (a cache of codes pays for the encoder and the
        quantiser only)."""
        x = check_audio(audio, self.config.sample_rate, sr, min_length=self.hop)
        n_q = self.config.n_codebooks if n_q is None else n_q
        with evaluating(self):
            return self.quantize(x.to(next(self.parameters()).device), n_q).codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, k, L) with 1 <= k <= K (the first k codebooks) -> audio (B, L * hop)."""
        with evaluating(self):
            return self.decoder(self.quantizer.lookup(codes.to(self.quantizer.stages[0].codebook.device)))[:, 0]

    @torch.no_grad()
    def reconstruct(self, audio, sr: int, n_q: int | None = None) -> torch.Tensor:
        """Encode audio at ``sr`` Hz with the first ``n_q`` codebooks and decode, trimmed to the input length: (B, T)."""
        x = check_audio(audio, self.config.sample_rate, sr, min_length=self.hop)
        return self.decode(self.encode(x[:, None], sr, n_q=n_q))[:, : x.shape[-1]]


def loss_fn(model, batch) -> tuple[torch.Tensor, dict]:
    """The codec's training loss: :func:`helpers.vqvae.loss_fn` (waveform + multi-resolution STFT + commitment summed
    over the stages used), with the number of codebooks used, ``n_q``, added to the metrics."""
    loss, metrics = vqvae.loss_fn(model, batch)
    metrics["n_q"] = (model.module if hasattr(model, "module") else model).last_n_q
    return loss, metrics


def save_checkpoint(model: Codec, path, half: bool = False, extra: dict | None = None):
    """Weights-only checkpoint with the config (see :func:`helpers.vqvae.save_checkpoint`)."""
    return vqvae.save_checkpoint(model, path, half=half, extra=extra)


def load_checkpoint(path, config: CodecConfig | None = None) -> Codec:
    """Build a :class:`Codec` from a checkpoint; refuses one saved for another configuration (or a VQ-VAE's)."""
    return vqvae.load_checkpoint(path, config, cls=Codec, config_cls=CodecConfig)
