"""One audio autoencoder design for the whole course: STFT encoder, residual VQ, iSTFT decoder, losses, discriminator.

The codec of notebook 05 (4 residual codebooks at 50 Hz) and the Jukebox levels of notebook 04 (one codebook per
level) are two *configurations* of this module, not two models::

    audio (B, T) --STFT--> log|X| (B, F, N) --conv + ConvNeXt blocks [--strided conv]--> z (B, D, L)     encoder
         z --residual VQ: K stages, each  project D -> 8, cosine-nearest code, project 8 -> D--> z_q, codes (B, K, L)
    z_q --[transposed conv] + ConvNeXt blocks--> per frame: log-magnitude and phase (B, 2F, N) --iSTFT--> audio   decoder

    L = T / hop code frames; N = T / synthesis_hop STFT frames (N = L when the hop is the synthesis hop).

Why this design and not the time-domain convolutions of Jukebox and EnCodec (measured on this corpus, see
``data/checkpoints/README.md``): on a CPU budget of minutes, a decoder that predicts a spectrum per frame and lets an
inverse FFT make the waveform (Vocos; Siuzdak 2023) is an order of magnitude cheaper per second of audio than one
that upsamples 320x with transposed convolutions, and its frequency resolution comes for free. What it must still
learn is *phase*: a spectrum's magnitude at one frame says nothing about how its partials continue into the next.
The losses below see phase only through magnitudes at longer windows than the decoder's frames (a 4096-sample STFT
spans 13 frames: partials whose phases jump from frame to frame smear into neighbouring bins) and through the
discriminator, which sees the complex STFT.

Parts (each with a plain reference where a trick replaces one; tests hold them equal):

- :class:`AutoencoderConfig` — sizes, hop, quantizer, loss weights; saved with the weights; ``tiny()`` for tests.
- :func:`stft_same` / :func:`istft_same` — an STFT with exactly ``T / hop`` frames and its inverse with exactly
  ``N * hop`` samples ("same" padding, as Vocos's ISTFT; :func:`istft_same_reference` is the plain loop).
- :class:`ConvNeXtBlock` — depthwise conv, LayerNorm, MLP, layer scale (Liu et al. 2022; Vocos).
- :class:`FactorizedVQ` — one codebook stage of DAC (Kumar et al. 2023, Sec. 3.2): project to a low dimension,
  L2-normalise latents and codes (nearest = largest cosine; Yu et al. 2021, ViT-VQGAN, Sec. 3.2), codebook and
  commitment losses, straight-through, dead codes restarted from current latents. ``nearest_reference`` is the
  plain per-code loop.
- :class:`ResidualQuantizer` — K stages in series (SoundStream, Algorithm 1), quantizer dropout per example (DAC:
  half of each batch gets a random number of stages).
- :class:`Autoencoder` — the model: ``encode(audio, sr) -> codes (B, K, L)``, ``decode(codes[:, :k]) -> audio``.
- :func:`multi_scale_mel_loss`, :func:`multi_resolution_stft_loss` (from :mod:`helpers.audio_quality`) and
  :func:`reconstruction_losses` — what the decoder is trained on.
- :class:`STFTDiscriminator` / :class:`MultiResolutionDiscriminator` — the adversary of EnCodec (Sec. 3.4) and DAC
  (Sec. 3.3): 2-D convolutions over the complex STFT at several resolutions; :func:`hinge_losses` and
  :func:`feature_matching_loss`.
- :class:`AdversarialAutoencoder` — the autoencoder with its discriminator, trained by the course's one loop
  (:func:`helpers.training.train`) with :func:`adversarial_loss_fn`; only the autoencoder is shipped.
- :func:`same_codes` — do two checkpoints give every clip the same codes (a decoder retrained alone)?

Shapes: audio (B, T) float in [-1, 1]; codes (B, K, L) int64; latents (B, D, L).

Notebooks: 04_jukebox_vqvae.ipynb, 05_musicgen.ipynb.
References: Siuzdak 2023, "Vocos" (arXiv:2306.00814), Sec. 3 (ISTFT head, ConvNeXt backbone); Kumar et al. 2023,
"High-Fidelity Audio Compression with Improved RVQGAN" (DAC, arXiv:2306.06546), Sec. 3.2 (factorised, L2-normalised
codes; quantizer dropout) and 3.3-3.4 (multi-scale mel loss, discriminators); Défossez et al. 2022 (EnCodec,
arXiv:2210.13438), Sec. 3.3-3.4 (MS-STFT discriminator, feature matching); Zeghidour et al. 2021 (SoundStream,
arXiv:2107.03312), Sec. III-C (residual VQ); Liu et al. 2022, "A ConvNet for the 2020s" (ConvNeXt block).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from .audio_quality import multi_resolution_stft_loss
from .modes import evaluating

LOG_FLOOR = 1e-5  # floor of magnitudes before the log (encoder input, mel loss)
MAX_LOG_MAG = math.log(100.0)  # the decoder's log-magnitude is clamped here (Vocos clamps exp() at 1e2)


# --- configuration -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AutoencoderConfig:
    """Sizes and switches of one :class:`Autoencoder`.

    Attributes:
        sample_rate: the audio's rate (Hz); other rates are refused.
        hop: audio samples per code frame (320 at 16 kHz: 50 Hz, MusicGen's codec).
        synthesis_hop: samples per STFT frame of the encoder's input and the decoder's output; ``hop`` must be a
            multiple of it (hop > synthesis_hop: a strided convolution between the STFT frames and the codes).
        n_fft: STFT size of the encoder's input and the decoder's output (4 x synthesis_hop: 75% overlap).
        dim: width of the ConvNeXt blocks.
        encoder_blocks, decoder_blocks: ConvNeXt blocks before and after the bottleneck.
        latent_dim: D, the width of the latents the quantizer sees.
        n_codebooks: K residual stages (1 for a Jukebox level).
        codebook_size: codes per stage.
        codebook_dim: the low dimension each stage quantises in (DAC: 8).
        quantizer_dropout: fraction of each training batch that uses a random number of stages in 1..K.
        restart_every: training steps between dead-code restarts (0: never).
        commit_weight, codebook_weight: weights of the commitment and codebook losses (DAC: 0.25 and 1).
        mel_weight, stft_weight: weights of the multi-scale mel loss and the multi-resolution STFT loss.
        adversarial_weight, feature_weight: weights of the generator's hinge loss and of feature matching (used by
            :func:`adversarial_loss_fn` only).
        phase_ramp: the decoder predicts phase relative to each bin's own advance (:func:`bin_phase_ramp`);
            False: the raw frame phase (Vocos), kept for the comparison in ``data/checkpoints/README.md``.
        phase_weight: weight of :func:`phase_loss` (instantaneous frequency and group delay of the decoder's
            spectrum against the clip's; 0: off).
        encoder_fft: if > 0, the encoder also reads a log-magnitude STFT of this size at the same hop (finer
            frequency bins: the pitch of low notes); 0: only the n_fft one.
        pitch_weight: weight of :func:`semitone_loss` (a log-frequency spectrogram, 3 bins per semitone from 55 Hz
            to 4 kHz: the only reconstruction term that resolves the pitch of low notes); 0: off.
        pitch_sc_weight: weight of :func:`semitone_convergence_loss` (the spectral convergence of the same semitone
            spectrogram: a linear-magnitude error, dominated by the loud partials that decide which notes are
            heard, where the log terms weigh every band alike); 0: off.
    """

    sample_rate: int = 16000
    hop: int = 320
    synthesis_hop: int = 320
    n_fft: int = 1280
    dim: int = 128
    encoder_blocks: int = 3
    decoder_blocks: int = 6
    latent_dim: int = 64
    n_codebooks: int = 4
    codebook_size: int = 1024
    codebook_dim: int = 8
    quantizer_dropout: float = 0.5
    restart_every: int = 25
    commit_weight: float = 0.25
    codebook_weight: float = 1.0
    mel_weight: float = 15.0
    stft_weight: float = 5.0
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0
    phase_ramp: bool = True
    phase_weight: float = 0.0
    encoder_fft: int = 0
    pitch_weight: float = 0.0
    pitch_sc_weight: float = 0.0

    def __post_init__(self):
        for name in ("sample_rate", "hop", "synthesis_hop", "n_fft", "dim", "latent_dim", "n_codebooks",
                     "codebook_size", "codebook_dim"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise ValueError(f"AutoencoderConfig: {name} must be a positive whole number, got {v!r}")
        if self.hop % self.synthesis_hop:
            raise ValueError(f"AutoencoderConfig: hop={self.hop} must be a multiple of synthesis_hop={self.synthesis_hop}")
        if self.n_fft < self.synthesis_hop or (self.n_fft - self.synthesis_hop) % 2:
            raise ValueError(f"AutoencoderConfig: n_fft={self.n_fft} must be >= synthesis_hop={self.synthesis_hop} "
                             "and differ from it by an even number (same padding)")
        if self.encoder_fft and (self.encoder_fft < self.synthesis_hop or (self.encoder_fft - self.synthesis_hop) % 2):
            raise ValueError(f"AutoencoderConfig: encoder_fft={self.encoder_fft} must be 0, or >= synthesis_hop "
                             "and differ from it by an even number")
        if self.encoder_blocks < 0 or self.decoder_blocks < 0 or self.restart_every < 0:
            raise ValueError("AutoencoderConfig: encoder_blocks, decoder_blocks and restart_every must be >= 0")
        if not 0.0 <= self.quantizer_dropout <= 1.0:
            raise ValueError(f"AutoencoderConfig: quantizer_dropout must lie in [0, 1], got {self.quantizer_dropout}")
        for name in ("commit_weight", "codebook_weight", "mel_weight", "stft_weight", "adversarial_weight",
                     "feature_weight", "phase_weight", "pitch_weight", "pitch_sc_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"AutoencoderConfig: {name} must be >= 0, got {getattr(self, name)}")

    @property
    def frame_rate(self) -> float:
        """Code frames per second (50 for hop 320 at 16 kHz)."""
        return self.sample_rate / self.hop

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def bitrate(self, n_codebooks: int | None = None) -> float:
        """Bits per second with the first ``n_codebooks`` stages (all K by default): frame rate x k x log2(size).

        >>> AutoencoderConfig().bitrate(), AutoencoderConfig().bitrate(1)
        (2000.0, 500.0)
        """
        k = self.n_codebooks if n_codebooks is None else n_codebooks
        if int(k) != k or not 1 <= k <= self.n_codebooks:
            raise ValueError(f"n_codebooks must lie in 1..{self.n_codebooks}, got {k!r}")
        return self.frame_rate * k * math.log2(self.codebook_size)

    def to_dict(self) -> dict:
        return dict(asdict(self), kind=type(self).__name__)

    @classmethod
    def from_dict(cls, d: dict) -> "AutoencoderConfig":
        from .checkpoints import config_from_dict

        d = dict(d)
        d.setdefault("phase_ramp", False)  # files from before the ramp existed decoded the raw frame phase
        return config_from_dict(cls, d, kind=True)  # other fields added since take their defaults

    @classmethod
    def tiny(cls, **changes) -> "AutoencoderConfig":
        """Small enough for unit tests: hop 32 (synthesis hop 16), 16-wide blocks, 3 codebooks of 16 codes."""
        base = dict(hop=32, synthesis_hop=16, n_fft=64, dim=16, encoder_blocks=1, decoder_blocks=1, latent_dim=8,
                    n_codebooks=3, codebook_size=16, codebook_dim=4, restart_every=5)
        base.update(changes)
        return cls(**base)


ARCHITECTURE_FIELDS = ("sample_rate", "hop", "synthesis_hop", "n_fft", "dim", "encoder_blocks", "decoder_blocks",
                       "latent_dim", "n_codebooks", "codebook_size", "codebook_dim", "phase_ramp", "encoder_fft")
"""The fields that decide the weights' shapes and meaning: a warm start (``--init``) may change any other field
(loss weights, dropout, restarts), never these."""


# --- STFT with "same" padding ----------------------------------------------------------------------------------
def _same_pad(n_fft: int, hop: int) -> int:
    return (n_fft - hop) // 2


@lru_cache(maxsize=32)
def _hann(n_fft: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=dtype, device=device)


def hann(n_fft: int, like: torch.Tensor) -> torch.Tensor:
    return _hann(n_fft, str(like.device), like.dtype if like.is_floating_point() else torch.float32)


def stft_same(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Complex STFT of (B, T), T a multiple of ``hop``, with exactly T / hop frames: (B, n_fft/2 + 1, T / hop).

    Frame n covers samples ``n*hop - (n_fft - hop)/2 ... n*hop + (n_fft + hop)/2`` (reflect-padded at the ends), so
    it is centred on the hop-long stretch ``n*hop ... (n+1)*hop`` that code frame n stands for.
    """
    if x.shape[-1] % hop:
        raise ValueError(f"stft_same: length {x.shape[-1]} is not a multiple of the hop {hop}")
    p = _same_pad(n_fft, hop)
    mode = "reflect" if x.shape[-1] > p else "constant"
    x = F.pad(x[:, None], (p, p), mode=mode)[:, 0]
    return torch.stft(x, n_fft, hop, window=hann(n_fft, x), center=False, return_complex=True)


def istft_same(spec: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Inverse of :func:`stft_same`: complex (B, F, N) -> audio (B, N * hop) by windowed overlap-add, divided by the
    summed squared window (Vocos's ``ISTFT(padding="same")``). Equal to :func:`istft_same_reference` (tested)."""
    B, _, N = spec.shape
    p = _same_pad(n_fft, hop)
    win = hann(n_fft, spec.real)
    frames = torch.fft.irfft(spec, n=n_fft, dim=1) * win[None, :, None]  # (B, n_fft, N)
    length = (N - 1) * hop + n_fft
    y = F.fold(frames, (1, length), kernel_size=(1, n_fft), stride=(1, hop))[:, 0, 0]  # (B, length)
    env = F.fold(win.square()[None, :, None].expand(1, n_fft, N), (1, length), kernel_size=(1, n_fft),
                 stride=(1, hop))[0, 0, 0]  # (length,)
    return (y / env.clamp_min(1e-11))[:, p : p + N * hop]


def istft_same_reference(spec: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """The plain loop :func:`istft_same` replaces: inverse-FFT each frame, window it, add it in place."""
    B, _, N = spec.shape
    p = _same_pad(n_fft, hop)
    win = torch.hann_window(n_fft, periodic=True, dtype=spec.real.dtype)
    y = torch.zeros(B, (N - 1) * hop + n_fft, dtype=win.dtype)
    env = torch.zeros((N - 1) * hop + n_fft, dtype=win.dtype)
    for n in range(N):
        y[:, n * hop : n * hop + n_fft] += torch.fft.irfft(spec[:, :, n], n=n_fft) * win
        env[n * hop : n * hop + n_fft] += win**2
    return (y / env.clamp_min(1e-11))[:, p : p + N * hop]


def bin_phase_ramp(n_bins: int, n_frames: int, n_fft: int, hop: int, like: torch.Tensor) -> torch.Tensor:
    """``2 pi k n hop / n_fft`` (mod 2 pi) for bin k and frame n, shape (n_bins, n_frames): the phase a sinusoid at
    bin k's centre frequency gains from frame 0 to frame n, in the frame-start convention of :func:`stft_same`.

    Why the decoder adds it: its network is translation-equivariant, so a held note (the same features frame after
    frame) gets the same output every frame. Read as the phase *relative to this ramp* (the STFT's absolute-time
    convention), a constant output is a steady, coherent tone; read as the raw frame phase, it would restart the
    partial at every frame and smear it over +-1 frame rate (50 Hz), which wipes out the pitch class of low notes."""
    k = torch.arange(n_bins, device=like.device, dtype=torch.float64)[:, None]
    n = torch.arange(n_frames, device=like.device, dtype=torch.float64)[None, :]
    return torch.remainder(2 * math.pi * k * n * hop / n_fft, 2 * math.pi).to(like.dtype)


# --- blocks -----------------------------------------------------------------------------------------------------
class ConvNeXtBlock(nn.Module):
    """``x + gamma * W2 gelu(W1 LN(dwconv7(x)))`` on (B, C, L): a ConvNeXt block in 1-D (Vocos's backbone)."""

    def __init__(self, dim: int, mult: int = 3, layer_scale: float = 1e-2):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mult * dim)
        self.fc2 = nn.Linear(mult * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x):  # (B, C, L) -> (B, C, L)
        h = self.dwconv(x).transpose(1, 2)  # (B, L, C)
        h = self.fc2(F.gelu(self.fc1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of (B, C, L)."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class Encoder(nn.Module):
    """Audio (B, T) -> latents (B, latent_dim, T / hop): log-magnitude STFT, a 1x1 projection, ConvNeXt blocks, then
    (when hop > synthesis_hop) a strided convolution down to the code rate and a final projection."""

    def __init__(self, c: AutoencoderConfig):
        super().__init__()
        self.n_fft, self.hop, self.fine_fft = c.n_fft, c.synthesis_hop, c.encoder_fft
        self.inp = nn.Conv1d(c.n_bins, c.dim, 1)
        self.fine = nn.Conv1d(c.encoder_fft // 2 + 1, c.dim, 1) if c.encoder_fft else None
        self.norm = ChannelNorm(c.dim)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(c.dim) for _ in range(c.encoder_blocks)])
        r = c.hop // c.synthesis_hop
        self.down = nn.Conv1d(c.dim, c.dim, 2 * r, stride=r, padding=r // 2) if r > 1 else nn.Identity()
        self.out = nn.Conv1d(c.dim, c.latent_dim, 1)

    def forward(self, x):  # (B, T) -> (B, D, T / hop)
        spec = stft_same(x, self.n_fft, self.hop).abs()  # (B, F, N)
        h = self.inp(torch.log(spec.clamp_min(LOG_FLOOR)))
        if self.fine is not None:  # the same frames seen through a longer window: (B, F_fine, N)
            h = h + self.fine(torch.log(stft_same(x, self.fine_fft, self.hop).abs().clamp_min(LOG_FLOOR)))
        h = self.blocks(self.norm(h))
        h = self.down(h)
        return self.out(h)


class Decoder(nn.Module):
    """Latents (B, latent_dim, L) -> audio (B, L * hop): a projection, (a transposed convolution up to the STFT frame
    rate), ConvNeXt blocks, then per frame a log-magnitude and a phase for each bin and an inverse STFT."""

    def __init__(self, c: AutoencoderConfig):
        super().__init__()
        self.n_fft, self.hop, self.n_bins = c.n_fft, c.synthesis_hop, c.n_bins
        self.inp = nn.Conv1d(c.latent_dim, c.dim, 7, padding=3)
        r = c.hop // c.synthesis_hop
        self.up = nn.ConvTranspose1d(c.dim, c.dim, 2 * r, stride=r, padding=r // 2) if r > 1 else nn.Identity()
        self.norm = ChannelNorm(c.dim)
        self.blocks = nn.Sequential(*[ConvNeXtBlock(c.dim) for _ in range(c.decoder_blocks)])
        self.final_norm = ChannelNorm(c.dim)
        self.head = nn.Conv1d(c.dim, 2 * c.n_bins, 1)
        self.phase_ramp = c.phase_ramp

    def spectrum(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (B, D, L) -> the complex spectrum (B, F, N) the inverse STFT turns into audio."""
        h = self.up(self.inp(z))
        h = self.final_norm(self.blocks(self.norm(h)))
        log_mag, phase = self.head(h).chunk(2, dim=1)  # (B, F, N) each
        mag = torch.exp(log_mag.clamp(max=MAX_LOG_MAG))
        if self.phase_ramp:
            phase = phase + bin_phase_ramp(self.n_bins, phase.shape[-1], self.n_fft, self.hop, phase)
        return torch.polar(mag, phase)

    def forward(self, z):  # (B, D, L) -> (B, L * hop)
        return istft_same(self.spectrum(z), self.n_fft, self.hop)


# --- the quantizer ------------------------------------------------------------------------------------------------
class StageOutput(NamedTuple):
    z_q: torch.Tensor  # (B, D, L) the stage's contribution in the latent space (straight-through)
    codes: torch.Tensor  # (B, L)
    commit: torch.Tensor  # (B,) commitment loss per example
    codebook: torch.Tensor  # (B,) codebook loss per example


class FactorizedVQ(nn.Module):
    """One DAC codebook stage: ``x (B, D, L) -> project to d -> nearest code by cosine -> project back to D``.

    The code vectors are learnt by gradient (the codebook loss pulls each used code towards its latents; the
    commitment loss pulls the latents towards their codes) and compared by cosine: latents and codes are
    L2-normalised for the search only, so "nearest" is "largest dot product of unit vectors". Every
    ``restart_every`` training steps (hook :func:`restart_dead_codes`), the codes no latent chose since the last
    restart are replaced by latents of the last batch, so no code stays dead (Jukebox's restarts, Dhariwal et al.
    2020, Sec. 3.1; DAC does the same with k-means-free random restarts).

    Statistics are recorded only in training mode with gradients enabled: an evaluation under ``torch.no_grad``
    changes nothing.
    """

    def __init__(self, dim: int, codebook_size: int, codebook_dim: int, seed: int = 0):
        super().__init__()
        self.codebook_size = codebook_size
        self.in_proj = nn.Conv1d(dim, codebook_dim, 1)
        self.out_proj = nn.Conv1d(codebook_dim, dim, 1)
        self.codebook = nn.Embedding(codebook_size, codebook_dim)
        self.register_buffer("used", torch.zeros(codebook_size))  # uses since the last restart
        self.generator = torch.Generator().manual_seed(seed + 104729)
        self._candidates: torch.Tensor | None = None  # latents of the last training batch (restart candidates)

    def nearest(self, e: torch.Tensor) -> torch.Tensor:
        """Rows of ``e`` (N, d) -> index of the code with the largest cosine similarity (N,).

        Computed in float32 outside any autocast (the argmax of bf16 scores picks other codes)."""
        with torch.autocast(device_type=e.device.type, enabled=False):
            cos = F.normalize(e.float(), dim=1) @ F.normalize(self.codebook.weight.float(), dim=1).T  # (N, K)
        return cos.argmax(dim=1)

    def nearest_reference(self, e: torch.Tensor) -> torch.Tensor:
        """Plain reference of :meth:`nearest`: for each row, the cosine with every code, one code at a time."""
        best = torch.full((e.shape[0],), -2.0, dtype=torch.float64)
        idx = torch.zeros(e.shape[0], dtype=torch.long)
        for k, c in enumerate(self.codebook.weight.double()):
            cos = (e.double() @ c) / (e.double().norm(dim=1).clamp_min(1e-12) * c.norm().clamp_min(1e-12))
            better = cos > best
            best[better], idx[better] = cos[better], k
        return idx

    def forward(self, x: torch.Tensor) -> StageOutput:
        z_e = self.in_proj(x)  # (B, d, L)
        B, d, L = z_e.shape
        flat = z_e.transpose(1, 2).reshape(-1, d)  # (B*L, d)
        codes = self.nearest(flat.detach())
        z_q = self.codebook(codes).view(B, L, d).transpose(1, 2)  # (B, d, L), raw code vectors
        commit = (z_e - z_q.detach()).pow(2).mean(dim=(1, 2))
        codebook = (z_q - z_e.detach()).pow(2).mean(dim=(1, 2))
        z_q = z_e + (z_q - z_e).detach()  # straight-through
        if self.training and torch.is_grad_enabled():
            self.used += torch.bincount(codes, minlength=self.codebook_size).to(self.used)
            self._candidates = flat.detach()[-4096:]
        return StageOutput(self.out_proj(z_q), codes.view(B, L), commit, codebook)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, L) -> the stage's contribution (B, D, L)."""
        return self.out_proj(self.codebook(codes).transpose(1, 2))

    @torch.no_grad()
    def restart(self) -> int:
        """Replace the codes unused since the last call by random latents of the last batch; reset the counts.
        Returns the number of codes restarted (0 when no batch was recorded)."""
        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        if distributed:  # a code is dead only if no rank used it; rank 0's restarts are copied to every rank
            dist.all_reduce(self.used)
        dead = (self.used == 0).nonzero().flatten()
        n = 0
        if self._candidates is not None and len(dead):
            pick = torch.randint(len(self._candidates), (len(dead),), generator=self.generator)
            self.codebook.weight[dead] = self._candidates[pick].to(self.codebook.weight)
            n = len(dead)
        if distributed:
            dist.broadcast(self.codebook.weight.data, src=0)
        self.used.zero_()
        self._candidates = None
        return n


class Quantized(NamedTuple):
    z_q: torch.Tensor  # (B, D, L) the sum of the stages used
    codes: torch.Tensor  # (B, K_used, L)
    n_q: torch.Tensor  # (B,) stages used per example
    commit: torch.Tensor  # scalar
    codebook: torch.Tensor  # scalar


class ResidualQuantizer(nn.Module):
    """K :class:`FactorizedVQ` stages in series::

        r_0 = z;   for k = 1..K:  q_k = Q_k(r_{k-1}),  r_k = r_{k-1} - q_k;   z_q = q_1 + ... + q_{n_q}

    Quantizer dropout (DAC, Sec. 3.2): in training, a fraction ``dropout`` of each batch keeps only a random number
    n_q in 1..K of stages (drawn per example from the module's generator); the other examples use all K.
    """

    def __init__(self, dim: int, n_codebooks: int, codebook_size: int, codebook_dim: int, dropout: float = 0.5,
                 seed: int = 0):
        super().__init__()
        self.stages = nn.ModuleList(FactorizedVQ(dim, codebook_size, codebook_dim, seed=seed + k) for k in range(n_codebooks))
        self.dropout = dropout
        self.generator = torch.Generator().manual_seed(seed + 7919)

    @property
    def n_codebooks(self) -> int:
        return len(self.stages)

    def draw_n_q(self, batch: int) -> torch.Tensor:
        """Stages per example (B,): K, except for the first ``round(dropout * B)`` examples, uniform in 1..K."""
        n_q = torch.full((batch,), self.n_codebooks, dtype=torch.long)
        n_drop = int(round(self.dropout * batch))
        if n_drop:
            n_q[:n_drop] = torch.randint(1, self.n_codebooks + 1, (n_drop,), generator=self.generator)
        return n_q

    def forward(self, z: torch.Tensor, n_q: int | torch.Tensor | None = None) -> Quantized:
        """Latents (B, D, L) -> :class:`Quantized`. ``n_q``: stages used (an int for all, a (B,) tensor per example,
        None for K in eval mode or the quantizer-dropout draw in training mode)."""
        B = z.shape[0]
        if n_q is None:
            n_q = self.draw_n_q(B) if self.training else torch.full((B,), self.n_codebooks, dtype=torch.long)
        elif isinstance(n_q, int):
            if not 1 <= n_q <= self.n_codebooks:
                raise ValueError(f"n_q must lie in 1..{self.n_codebooks}, got {n_q}")
            n_q = torch.full((B,), n_q, dtype=torch.long)
        n_q = n_q.to(z.device)
        k_max = int(n_q.max())
        residual, z_q = z, torch.zeros_like(z)
        codes, commit, codebook = [], z.new_zeros(()), z.new_zeros(())
        for k in range(k_max):
            out = self.stages[k](residual)
            keep = (n_q > k).to(z.dtype)  # (B,)
            z_q = z_q + out.z_q * keep[:, None, None]
            residual = residual - out.z_q.detach()
            codes.append(out.codes)
            commit = commit + (out.commit * keep).mean()
            codebook = codebook + (out.codebook * keep).mean()
        return Quantized(z_q, torch.stack(codes, dim=1), n_q, commit, codebook)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, k, L), 1 <= k <= K -> the sum of the first k stages' contributions (B, D, L)."""
        if codes.dim() != 3 or not 1 <= codes.shape[1] <= self.n_codebooks:
            raise ValueError(f"codes must be (B, k, L) with 1 <= k <= {self.n_codebooks}, got shape {tuple(codes.shape)}")
        if codes.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise ValueError(f"codes must be integers, got {codes.dtype}")
        size = self.stages[0].codebook_size
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= size):
            raise ValueError(f"codes must lie in 0..{size - 1}, got {int(codes.min())}..{int(codes.max())}")
        return sum(self.stages[k].lookup(codes[:, k].long()) for k in range(codes.shape[1]))


def restart_dead_codes(model: nn.Module, step: int) -> list[int]:
    """Training hook: every ``config.restart_every`` steps, restart the unused codes of every stage. Returns the
    number restarted per stage (an empty list on other steps)."""
    model = model.module if hasattr(model, "module") else model
    every = model.config.restart_every
    if not every or step % every:
        return []
    return [m.restart() for m in model.modules() if isinstance(m, FactorizedVQ)]


# --- input checks -------------------------------------------------------------------------------------------------
SILENCE_PEAK = 1e-6
MAX_PEAK = 4.0  # a float clip louder than this is taken for int16-scale samples


def check_audio(audio, sample_rate: int, sr: int, min_length: int, allow_silence: bool = False) -> torch.Tensor:
    """Audio (T,), (B, T) or (B, 1, T) at ``sr`` Hz as a float32 (B, T) tensor; a clear error for anything else.

    ``sr`` is required: a clip at another rate would be read as a slower or faster one without any error.

    Raises:
        ValueError: another sample rate; stereo in either layout ((B, 2, T), (T, 2) as soundfile reads it, or
            (2, T) as torchaudio and librosa do); integer samples or floats at int16 scale (peak above 4); NaN or
            infinity; a clip shorter than ``min_length``; a silent clip (unless ``allow_silence``).
    """
    if sr is None:
        raise ValueError(f"pass the audio's sample rate, sr=... (this model takes {sample_rate} Hz)")
    if int(sr) != int(sample_rate):
        raise ValueError(f"audio at sr={sr} Hz, but this model was trained at {sample_rate} Hz: resample it first")
    x = torch.as_tensor(audio.detach().cpu() if hasattr(audio, "detach") else np.asarray(audio))
    given_2d = x.dim() == 2
    if x.dim() == 3:
        if x.shape[1] != 1:
            raise ValueError(f"audio has {x.shape[1]} channels (shape {tuple(x.shape)}); the model takes mono: "
                             "average the channels first")
        x = x[:, 0]
    if given_2d and x.shape[1] == 2 and x.shape[0] > 2:
        raise ValueError(f"audio of shape {tuple(x.shape)} looks like stereo (T, 2); the model takes mono: "
                         "average the channels first, audio.mean(axis=1)")
    if given_2d and x.shape[0] == 2 and x.shape[1] > 2 * min_length:
        raise ValueError(f"audio of shape {tuple(x.shape)} looks like stereo (2, T) (torchaudio's and librosa's "
                         "layout); the model takes mono: average the channels first, audio.mean(axis=0). To encode "
                         "two mono clips, stack them as (2, 1, T)")
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2:
        raise ValueError(f"audio must be (T,), (B, T) or (B, 1, T), got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise ValueError(f"audio must hold floating-point samples in [-1, 1], got dtype {x.dtype} "
                         "(divide int16 samples by 32768)")
    if not torch.isfinite(x).all():
        raise ValueError("audio contains NaN or infinite samples")
    peak = float(x.abs().max()) if x.numel() else 0.0
    if peak > MAX_PEAK:
        raise ValueError(f"audio peaks at {peak:g}: samples must lie in [-1, 1] (int16-scale floats? divide by 32768)")
    if x.shape[1] < min_length:
        raise ValueError(f"audio of {x.shape[1]} samples is shorter than one code frame ({min_length} samples)")
    if not allow_silence:
        silent = (x.abs().amax(dim=1) < SILENCE_PEAK).nonzero().flatten().tolist()
        if silent:
            raise ValueError(f"clip(s) {silent} of the batch are silent (peak below {SILENCE_PEAK:g}); "
                             "there is nothing to encode")
    return x.float()


# --- the model ------------------------------------------------------------------------------------------------------
class AutoencoderOutput(NamedTuple):
    audio: torch.Tensor  # (B, T)
    codes: torch.Tensor  # (B, K_used, L)
    n_q: torch.Tensor  # (B,)
    commit: torch.Tensor  # scalar
    codebook: torch.Tensor  # scalar
    spectrum: torch.Tensor  # (B, F, N) complex: what the decoder predicted before the inverse STFT


class Autoencoder(nn.Module):
    """The course's audio autoencoder: audio (B, T) -> codes (B, K, T / hop) -> audio (B, T).

    ``model(audio)`` (training) returns an :class:`AutoencoderOutput`; ``encode`` / ``decode`` / ``reconstruct`` are
    the checked paths a notebook uses (eval mode, no statistics recorded). Weights come from ``seed`` alone.

    Notebooks: 04_jukebox_vqvae.ipynb (a level: K = 1), 05_musicgen.ipynb (the codec: K = 4).
    """

    def __init__(self, config: AutoencoderConfig, seed: int = 0):
        super().__init__()
        if not isinstance(config, AutoencoderConfig):
            raise TypeError(f"Autoencoder needs an AutoencoderConfig, got {type(config).__name__}")
        self.config = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = Encoder(config)
            self.quantizer = ResidualQuantizer(config.latent_dim, config.n_codebooks, config.codebook_size,
                                               config.codebook_dim, config.quantizer_dropout, seed=seed + 1)
            self.decoder = Decoder(config)

    @property
    def hop(self) -> int:
        return self.config.hop

    @property
    def n_codebooks(self) -> int:
        return self.config.n_codebooks

    def bitrate(self, n_codebooks: int | None = None) -> float:
        return self.config.bitrate(n_codebooks)

    def training_hooks(self) -> list:
        """Hooks for :func:`helpers.training.train`: dead-code restarts every ``restart_every`` steps."""
        return [restart_dead_codes]

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        extra = (-x.shape[-1]) % self.hop
        return F.pad(x, (0, extra)) if extra else x

    def forward(self, audio: torch.Tensor, n_q: int | torch.Tensor | None = None) -> AutoencoderOutput:
        """Audio (B, T) -> reconstruction (B, T) (zero-padded to a multiple of the hop inside)."""
        x = audio[:, 0] if audio.dim() == 3 and audio.shape[1] == 1 else audio
        if x.dim() != 2:
            raise ValueError(f"Autoencoder expects audio (B, T) or (B, 1, T), got shape {tuple(audio.shape)}")
        T = x.shape[-1]
        if T < self.hop:
            raise ValueError(f"audio of {T} samples is shorter than one code frame ({self.hop} samples)")
        q = self.quantizer(self.encoder(self._pad(x)), n_q)
        spec = self.decoder.spectrum(q.z_q)
        audio = istft_same(spec, self.config.n_fft, self.config.synthesis_hop)[:, :T]
        return AutoencoderOutput(audio, q.codes, q.n_q, q.commit, q.codebook, spec)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.no_grad()
    def encode(self, audio, sr: int, n_q: int | None = None) -> torch.Tensor:
        """Audio at the model's rate -> codes (B, n_q, ceil(T / hop)) (all K by default). Runs the encoder and the
        quantizer only (no decoder), in eval mode."""
        x = check_audio(audio, self.config.sample_rate, sr, min_length=self.hop)
        with evaluating(self):
            return self.quantizer(self.encoder(self._pad(x.to(self._device()))),
                                  self.n_codebooks if n_q is None else n_q).codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, k, L) with 1 <= k <= K (the first k codebooks), or (B, L) for one codebook -> audio (B, L * hop)."""
        codes = torch.as_tensor(codes)
        if codes.dim() == 2:
            codes = codes[:, None]
        with evaluating(self):
            return self.decoder(self.quantizer.lookup(codes.to(self._device())))

    @torch.no_grad()
    def reconstruct(self, audio, sr: int, n_q: int | None = None) -> torch.Tensor:
        """Encode with the first ``n_q`` codebooks and decode, trimmed to the input length: (B, T)."""
        x = check_audio(audio, self.config.sample_rate, sr, min_length=self.hop)  # (B, T), checked
        return self.decode(self.encode(x[:, None], sr, n_q)).cpu()[:, : x.shape[-1]]  # (B, 1, T): B clips, never stereo


# --- losses -------------------------------------------------------------------------------------------------------
MEL_WINDOWS = (64, 128, 256, 512, 1024, 2048, 4096)  # n_fft of the multi-scale mel loss (hop = n_fft / 4)
MEL_BANDS = (5, 10, 20, 40, 80, 160, 256)  # mel bands per window (DAC's 5..320, capped where bins run out)
STFT_SIZES = (4096, 2048, 1024, 512)  # multi-resolution STFT loss: long windows hear phase coherence


def _pad_mode(x: torch.Tensor, n_fft: int) -> str:
    """Reflect-pad the ends of a centred STFT, or zero-pad a clip too short to reflect (unit tests' tiny clips)."""
    return "reflect" if x.shape[-1] > n_fft // 2 else "constant"


@lru_cache(maxsize=32)
def _mel_matrix(sr: int, n_fft: int, n_mels: int) -> torch.Tensor:
    from .audio import mel_filterbank

    return torch.from_numpy(mel_filterbank(sr, n_fft, n_mels)).float()  # (M, F)


def mel_bands_for(n_fft: int, n_mels: int, sr: int) -> int:
    """The largest band count <= n_mels whose filterbank has no empty band at this n_fft."""
    from .audio import mel_filterbank

    while n_mels > 1:
        try:
            mel_filterbank(sr, n_fft, n_mels)
            return n_mels
        except ValueError:
            n_mels = int(n_mels * 0.8)
    return 1


def multi_scale_mel_loss(x: torch.Tensor, y: torch.Tensor, sr: int, windows: Sequence[int] = MEL_WINDOWS,
                         bands: Sequence[int] = MEL_BANDS) -> torch.Tensor:
    """Mean over windows of ``|log10 mel(x) - log10 mel(y)|`` plus ``|mel(x) - mel(y)|`` (magnitude mel, floored
    at 1e-5; DAC's mel loss). x, y: (B, T). Scalar tensor; 0 exactly when the magnitudes agree."""
    total = x.new_zeros(())
    for n_fft, n_mels in zip(windows, bands):
        fb = _mel_matrix(sr, n_fft, mel_bands_for(n_fft, n_mels, sr)).to(x.device)
        win = hann(n_fft, x)
        mx, my = (fb @ torch.stft(a, n_fft, n_fft // 4, window=win, center=True,
                                      pad_mode=_pad_mode(a, n_fft), return_complex=True).abs()
                  for a in (x, y))
        total = total + (torch.log10(mx.clamp_min(LOG_FLOOR)) - torch.log10(my.clamp_min(LOG_FLOOR))).abs().mean()
        total = total + (mx - my).abs().mean()
    return total / len(windows)


SEMITONE_FFT, SEMITONE_HOP = 4096, 512  # the STFT under the semitone spectrogram (3.9 Hz bins at 16 kHz)


@lru_cache(maxsize=8)
def semitone_filterbank(sr: int, n_fft: int = SEMITONE_FFT, f_min: float = 55.0, f_max: float = 4000.0,
                        bins_per_semitone: int = 3) -> torch.Tensor:
    """Triangular filters (n_bands, n_fft/2 + 1) centred on a log-frequency grid of ``bins_per_semitone`` bands per
    equal-tempered semitone from ``f_min`` (A1) to ``f_max``, each spanning its two neighbours' centres, so that a
    partial's energy goes to the band of its pitch: a constant-Q view built from one long STFT. A band narrower than
    the STFT's bin spacing takes its nearest bin (the lowest octave at 16 kHz)."""
    n = int(math.floor(12 * bins_per_semitone * math.log2(f_max / f_min))) + 1
    centres = f_min * 2.0 ** (np.arange(-1, n + 1) / (12 * bins_per_semitone))  # with one edge on each side
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    fb = np.zeros((n, len(freqs)))
    for i in range(n):
        lo, c, hi = centres[i], centres[i + 1], centres[i + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[i] = np.clip(np.minimum(up, down), 0, None)
        if fb[i].sum() == 0:
            fb[i, int(np.argmin(np.abs(freqs - c)))] = 1.0
    return torch.from_numpy(fb).float()


def semitone_spectrogram(x: torch.Tensor, sr: int) -> torch.Tensor:
    """Magnitude of (B, T) audio in semitone bands (B, n_bands, frames): |STFT 4096| through
    :func:`semitone_filterbank`."""
    win = hann(SEMITONE_FFT, x)
    mag = torch.stft(x, SEMITONE_FFT, SEMITONE_HOP, window=win, center=True, pad_mode=_pad_mode(x, SEMITONE_FFT),
                     return_complex=True).abs()
    return semitone_filterbank(sr).to(x.device) @ mag


def semitone_loss(x: torch.Tensor, y: torch.Tensor, sr: int) -> torch.Tensor:
    """Mean ``|log S(x) - log S(y)|`` of the semitone spectrograms, floored at 1e-5: 0 when the two agree; a note a
    semitone off moves its energy to other bands."""
    a, b = semitone_spectrogram(x, sr), semitone_spectrogram(y, sr)
    return (torch.log(a.clamp_min(LOG_FLOOR)) - torch.log(b.clamp_min(LOG_FLOOR))).abs().mean()


def semitone_convergence_loss(x: torch.Tensor, y: torch.Tensor, sr: int) -> torch.Tensor:
    """Spectral convergence of the semitone spectrograms, ``||S(x) - S(y)||_F / ||S(x)||_F`` per clip, averaged:
    0 when they agree, 1 for silence. Linear in magnitude, so the loud partials that decide which notes are heard
    dominate it (a log distance weighs a quiet band as much as the melody's)."""
    a, b = semitone_spectrogram(x, sr), semitone_spectrogram(y, sr)  # (B, n_bands, frames)
    num = torch.linalg.vector_norm(a - b, dim=(1, 2))
    return (num / torch.linalg.vector_norm(a, dim=(1, 2)).clamp_min(1e-8)).mean()


def anti_wrap(x: torch.Tensor) -> torch.Tensor:
    """``|x - 2 pi round(x / 2 pi)|``: the distance of a phase difference from the nearest multiple of 2 pi."""
    return (x - 2 * math.pi * torch.round(x / (2 * math.pi))).abs()


def phase_loss(target: torch.Tensor, estimate: torch.Tensor) -> dict[str, torch.Tensor]:
    """Phase losses of APNet (Ai & Ling 2023, Sec. 3.3) between two complex spectra (B, F, N) of the same frames,
    each bin weighted by the target's magnitude (relative to its clip's mean), so silent bins, whose phase means
    nothing, count for nothing:

    - ``'if'`` (instantaneous frequency): ``AW(d_t phase_hat - d_t phase)``, the phase advance from frame to frame;
      what keeps a held partial at its pitch across frames;
    - ``'gd'`` (group delay): ``AW(d_f phase_hat - d_f phase)``, the phase step from bin to bin; what places an
      onset in time inside a frame.

    Both are 0 when the estimate's phase equals the target's up to one constant (an inaudible global shift)."""
    w = target.abs()
    w = w / w.mean(dim=(1, 2), keepdim=True).clamp_min(1e-8)
    p, q = torch.angle(target), torch.angle(estimate)
    wt = torch.minimum(w[:, :, 1:], w[:, :, :-1])
    wf = torch.minimum(w[:, 1:], w[:, :-1])
    inst = (wt * anti_wrap(q.diff(dim=2) - p.diff(dim=2))).mean()
    gd = (wf * anti_wrap(q.diff(dim=1) - p.diff(dim=1))).mean()
    return {"if": inst, "gd": gd}


def reconstruction_losses(x: torch.Tensor, y: torch.Tensor, config: AutoencoderConfig,
                          spectrum: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The decoder's reconstruction terms between audio ``x`` and ``y`` (B, T): ``mel`` and ``stft``, and with the
    decoder's ``spectrum`` (B, F, N) and ``config.phase_weight > 0``, ``phase`` (:func:`phase_loss`, IF + GD)."""
    out = {"mel": multi_scale_mel_loss(x, y, config.sample_rate), "stft": multi_resolution_stft_loss(x, y, STFT_SIZES)}
    if spectrum is not None and config.phase_weight > 0:
        hop = config.synthesis_hop
        xp = F.pad(x, (0, spectrum.shape[-1] * hop - x.shape[-1]))
        ph = phase_loss(stft_same(xp, config.n_fft, hop), spectrum)
        out["phase"] = ph["if"] + ph["gd"]
    if config.pitch_weight > 0:
        out["pitch"] = semitone_loss(x, y, config.sample_rate)
    if config.pitch_sc_weight > 0:
        out["pitch_sc"] = semitone_convergence_loss(x, y, config.sample_rate)
    return out


def _weighted(rec: dict[str, torch.Tensor], cfg: AutoencoderConfig) -> torch.Tensor:
    return (cfg.mel_weight * rec["mel"] + cfg.stft_weight * rec["stft"]
            + (cfg.phase_weight * rec["phase"] if "phase" in rec else 0.0)
            + (cfg.pitch_weight * rec["pitch"] if "pitch" in rec else 0.0)
            + (cfg.pitch_sc_weight * rec["pitch_sc"] if "pitch_sc" in rec else 0.0))


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def _audio_of(batch):
    x = batch["audio"] if isinstance(batch, dict) else (batch[0] if isinstance(batch, (tuple, list)) else batch)
    return x[:, 0] if x.dim() == 3 else x


def loss_fn(model, batch) -> tuple[torch.Tensor, dict]:
    """Training loss of an :class:`Autoencoder` (or DDP wrapper) on audio (B, T) or a corpus batch::

        mel_weight * mel + stft_weight * stft [+ phase_weight * phase] + commit_weight * commit
        + codebook_weight * codebook

    Metrics: the four terms, and ``n_q`` (mean stages used)."""
    cfg = _unwrap(model).config
    x = _audio_of(batch)
    out = model(x)
    rec = reconstruction_losses(x, out.audio, cfg, out.spectrum)
    loss = _weighted(rec, cfg) + cfg.commit_weight * out.commit + cfg.codebook_weight * out.codebook
    metrics = {k: float(v.detach()) for k, v in rec.items()}
    metrics.update(commit=float(out.commit.detach()), codebook=float(out.codebook.detach()), n_q=float(out.n_q.float().mean()))
    return loss, metrics


# --- the discriminator --------------------------------------------------------------------------------------------
class STFTDiscriminator(nn.Module):
    """One resolution of the multi-resolution STFT discriminator (EnCodec's MS-STFTD, DAC's MRD):
    complex STFT (real and imaginary parts as 2 channels, B x 2 x F x N) -> 2-D convolutions strided along frequency
    -> a map of real/fake logits. Returns the logits and every intermediate feature map (for feature matching)."""

    def __init__(self, n_fft: int, channels: int = 16, n_strided: int = 3):
        super().__init__()
        self.n_fft = n_fft
        layers = [nn.Conv2d(2, channels, (3, 9), stride=(1, 2), padding=(1, 4))]
        layers += [nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4)) for _ in range(n_strided)]
        layers += [nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))]
        self.layers = nn.ModuleList(layers)
        self.out = nn.Conv2d(channels, 1, (3, 3), padding=(1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(x, self.n_fft, self.n_fft // 4, window=hann(self.n_fft, x), center=True,
                          pad_mode=_pad_mode(x, self.n_fft), return_complex=True)
        h = torch.view_as_real(spec).permute(0, 3, 2, 1)  # (B, 2, N, F): time first, frequency last
        feats = []
        for layer in self.layers:
            h = F.leaky_relu(layer(h), 0.2)
            feats.append(h)
        return self.out(h), feats


class MultiResolutionDiscriminator(nn.Module):
    """Several :class:`STFTDiscriminator` s (default n_fft 2048, 1024, 512)."""

    def __init__(self, sizes: Sequence[int] = (2048, 1024, 512), channels: int = 16):
        super().__init__()
        self.discriminators = nn.ModuleList(STFTDiscriminator(n, channels) for n in sizes)

    def forward(self, x: torch.Tensor) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [d(x) for d in self.discriminators]


def hinge_losses(real_logits: Sequence[torch.Tensor], fake_logits: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, generator loss) of the hinge GAN, averaged over resolutions::

        L_D = mean relu(1 - D(x)) + mean relu(1 + D(G(z)))        L_G = mean relu(1 - D(G(z)))

    (EnCodec, Sec. 3.4; ``fake_logits`` for L_D must come from detached audio.)"""
    d = sum(F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real_logits, fake_logits)) / len(real_logits)
    g = sum(F.relu(1 - f).mean() for f in fake_logits) / len(fake_logits)
    return d, g


def feature_matching_loss(real_feats: Sequence[Sequence[torch.Tensor]], fake_feats: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """Mean over resolutions and layers of ``|f(x) - f(G(z))|_1 / mean |f(x)|`` (EnCodec's relative feature
    matching; real features detached)."""
    total, n = None, 0
    for rs, fs in zip(real_feats, fake_feats):
        for r, f in zip(rs, fs):
            r = r.detach()
            term = (r - f).abs().mean() / r.abs().mean().clamp_min(1e-8)
            total = term if total is None else total + term
            n += 1
    return total / n


class AdversarialAutoencoder(nn.Module):
    """An :class:`Autoencoder` (``.autoencoder``) and its :class:`MultiResolutionDiscriminator` (``.discriminator``),
    one module so that the course's one training loop trains both with one optimiser step (see
    :func:`adversarial_loss_fn`); only ``.autoencoder`` is shipped."""

    def __init__(self, autoencoder: Autoencoder, discriminator: MultiResolutionDiscriminator | None = None, seed: int = 0):
        super().__init__()
        self.autoencoder = autoencoder
        self.config = autoencoder.config
        if discriminator is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 31)
                discriminator = MultiResolutionDiscriminator()
        self.discriminator = discriminator

    def training_hooks(self) -> list:
        return [lambda model, step: restart_dead_codes(model.autoencoder, step)]

    def forward(self, audio, n_q=None):
        return self.autoencoder(audio, n_q)


def adversarial_loss_fn(model, batch) -> tuple[torch.Tensor, dict]:
    """Generator and discriminator losses of an :class:`AdversarialAutoencoder` in one backward pass::

        loss = [reconstruction terms of loss_fn] + adversarial_weight * L_G + feature_weight * L_feat   (autoencoder)
             + L_D                                                                                      (discriminator)

    The generator's terms pass through the discriminator with its parameters frozen (no gradient reaches it), and
    the discriminator's loss sees the reconstruction detached (no gradient reaches the autoencoder), so one
    optimiser step moves each network along its own loss only. In eval mode (validation) it returns
    :func:`loss_fn` of the autoencoder alone, so the best step is chosen by reconstruction, as in a plain run."""
    inner = _unwrap(model)
    if not inner.training:  # validation (eval mode): the autoencoder's own loss, comparable from run to run
        return loss_fn(inner.autoencoder, batch)
    cfg, disc = inner.config, inner.discriminator
    x = _audio_of(batch)
    out = model(x)
    rec = reconstruction_losses(x, out.audio, cfg, out.spectrum)
    real_d = disc(x)  # with the discriminator's gradient (its loss); detached below for feature matching
    for p in disc.parameters():
        p.requires_grad_(False)
    fake = disc(out.audio)
    for p in disc.parameters():
        p.requires_grad_(True)
    _, g_adv = hinge_losses([r[0] for r in real_d], [f[0] for f in fake])
    feat = feature_matching_loss([r[1] for r in real_d], [f[1] for f in fake])
    fake_d = disc(out.audio.detach())
    d_loss, _ = hinge_losses([r[0] for r in real_d], [f[0] for f in fake_d])
    loss = (_weighted(rec, cfg) + cfg.commit_weight * out.commit + cfg.codebook_weight * out.codebook
            + cfg.adversarial_weight * g_adv + cfg.feature_weight * feat + d_loss)
    metrics = {k: float(v.detach()) for k, v in rec.items()}
    metrics.update(commit=float(out.commit.detach()), codebook=float(out.codebook.detach()),
                   n_q=float(out.n_q.float().mean()), g_adv=float(g_adv.detach()), feat=float(feat.detach()),
                   d_loss=float(d_loss.detach()))
    return loss, metrics


# --- checkpoints ----------------------------------------------------------------------------------------------------
def save_checkpoint(model: Autoencoder, path, half: bool = False, extra: dict | None = None):
    """Weights-only checkpoint with the config (``torch.load(weights_only=True)`` reads it)."""
    from .checkpoints import save_weights

    model = model.autoencoder if isinstance(model, AdversarialAutoencoder) else model
    return save_weights(model, path, model.config.to_dict(), half=half, extra=extra)


def load_checkpoint(path, config: AutoencoderConfig | None = None) -> Autoencoder:
    """Build an :class:`Autoencoder` from a checkpoint; with ``config`` given, refuse one saved for another.

    Raises:
        ValueError: the file holds another kind of model or another configuration (the differing fields named).
    """
    from .checkpoints import load_weights, read_checkpoint

    ckpt = read_checkpoint(path)
    saved = ckpt.get("config", {})
    if saved.get("kind") != AutoencoderConfig.__name__:
        raise ValueError(f"checkpoint {path} holds a {saved.get('kind', 'model without a kind')} config, "
                         f"not an {AutoencoderConfig.__name__}")
    cfg = AutoencoderConfig.from_dict(saved)
    if config is not None and config != cfg:
        diff = sorted(k for k, v in config.to_dict().items() if saved.get(k) != v)
        raise ValueError(f"checkpoint {path} was saved for another configuration (differs in {diff})")
    model = Autoencoder(cfg)
    load_weights(model, path, None, ckpt=ckpt)
    return model


def same_codes(a: Autoencoder, b: Autoencoder) -> bool:
    """Whether two autoencoders give every clip the same codes: the same architecture
    (:data:`ARCHITECTURE_FIELDS`) and equal encoder and quantizer parameters, tensor by tensor. Their decoders may
    differ, as after ``scripts/train_autoencoder.py --decoder-only``; a language model trained on the codes of one
    is then valid for the other (``scripts/compress_lm.py --codec`` records that)."""
    if any(getattr(a.config, f) != getattr(b.config, f) for f in ARCHITECTURE_FIELDS):
        return False
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    keys = [k for k in pa if k.startswith(("encoder.", "quantizer."))]
    return bool(keys) and all(k in pb and torch.equal(pa[k], pb[k]) for k in keys)
