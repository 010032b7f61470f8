"""The Jukebox VQ-VAE: raw audio -> a short sequence of discrete codes -> audio, one level per hop.

One readable module in the style of nanoGPT's ``model.py``:

- :class:`VQVAEConfig` — sample rate, hop, codebook size and width, channels, depth, loss weights; saved with the
  weights; ``tiny()`` for tests.
- :class:`Encoder` / :class:`Decoder` — 1-D convolutions: a strided convolution per downsampling factor of the hop
  (``hop = prod(strides)``, e.g. 64 = 4 x 4 x 4), each followed by dilated residual blocks (dilation 1, 3, 9, ...);
  the decoder mirrors it with transposed convolutions. ``helpers.codec`` reuses both.
- :class:`VectorQuantizer` — the bottleneck: nearest code, straight-through gradient, commitment loss, a codebook
  learnt by exponential moving averages (EMA) of the latents assigned to each code, initialised from the first batch
  of encoder outputs, dead codes restarted from random current encoder outputs, L2-normalised latents (on by
  default), usage and perplexity reported. ``helpers.codec`` stacks K of them (residual VQ).
- :class:`VQVAE` — encoder, bottleneck, decoder: ``encode(audio, sr) -> codes``, ``decode(codes) -> audio``.
- The levels of Jukebox's hierarchy (hops 8, 32, 128 at 44.1 kHz there, 64 and 256 here) are independent
  :class:`VQVAE` s trained on their own (``scripts/train_vqvae.py --hop``); :mod:`helpers.jukebox` chains them.
- :func:`loss_fn` — waveform L2 (or L1) + multi-resolution STFT + commitment, with metrics for the training loop.
- :func:`codebook_ablation_run` — one run of notebook 04's EMA/restart ablation (:data:`ABLATION_VARIANTS`), with the
  codebook's movement per step.
- :class:`SharedHierarchy` — two levels under one shared decoder (VQ-VAE-2's design, which Jukebox rejected), and
  :func:`hierarchy_reliance`, how much each level carries.

When does the codebook learn? (our choice, documented here once.) The codebook gets no gradient: it is an EMA of
the latents assigned to each code. Jukebox updates it inside ``forward`` in training mode. We split the two: in
training mode with gradients enabled, ``forward`` only *records* the batch statistics (codes used, sums of the
latents assigned, accumulated if several forwards come before an update; the latents themselves as restart
candidates, at most ``max(codebook_size, one batch)`` of the latest rows, so memory stays bounded however many
forwards come first), and :func:`update_codebooks` applies the EMA and the restarts. Every model here lists it in
``model.training_hooks()`` (``hook(model, step)``), which the course's training loop calls after each optimiser
step. Why: an evaluation or a plot in training mode under ``torch.no_grad`` records nothing and cannot move the
codebook, and under ``torch.distributed`` the update sees the statistics of every process: counts and sums are
all-reduced (summed) before the EMA, and rank 0's codebook (with its restarts) is broadcast afterwards, so every
copy stays equal. The one exception is the initialisation, which happens in the first training-mode forward with
gradients (it needs encoder outputs; rank 0's is broadcast). A loop that never calls the hooks leaves the codebook
at its initialisation: :class:`VectorQuantizer` warns after 100 forwards whose statistics were never applied.

Mixed precision: the bottleneck runs in float32 whatever ``torch.autocast`` says (an autocast-disabled island, as in
audiocraft's and vector-quantize-pytorch's quantisers): in bfloat16 the distances of close codes tie or swap (2% of
the codes differed from float32 on CPU autocast) and the EMA sums lose their small increments.

Shapes: audio (B, T) in [-1, 1] (also (B, 1, T)); latents (B, D, T / hop); codes (B, T / hop) int64.

Notebook: 04_jukebox_vqvae.ipynb (and 05_musicgen.ipynb through helpers.codec)
Reference: Dhariwal et al. 2020, "Jukebox" (arXiv:2005.00341), Sec. 2 (the VQ-VAE) and Sec. 3 (3.1 random
restarts for embeddings, 3.2 separated autoencoders, 3.3 spectral loss); van den Oord et al. 2017, "Neural Discrete Representation Learning", Sec. 3
(straight-through, commitment loss) and Appendix A.1 (EMA updates); Razavi et al. 2019 (VQ-VAE-2); L2-normalised codes:
Yu et al. 2022 ("Vector-quantized image modeling with improved VQGAN", Sec. 3.2). Ideas from Jukebox's
``jukebox/vqvae/bottleneck.py``; our own code, which runs on a CPU.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

from .audio_quality import STFT_SIZES, multi_resolution_stft_loss
from .autoencoder import check_audio  # noqa: F401 (re-exported: the one input check of every audio model)
from .checkpoints import config_from_dict, load_weights, read_checkpoint, save_weights
from .modes import evaluating
PENDING_WARNING = 100  # forwards with unapplied codebook statistics before we warn


def hop_strides(hop: int) -> tuple[int, ...]:
    """Downsampling factors whose product is ``hop``: as many 4s as fit, then a 2, then the odd prime factors.

    >>> hop_strides(64), hop_strides(8), hop_strides(320), hop_strides(1)
    ((4, 4, 4), (4, 2), (4, 4, 4, 5), ())
    """
    if int(hop) != hop or hop < 1:
        raise ValueError(f"hop must be a positive whole number, got {hop!r}")
    hop, out = int(hop), []
    while hop % 4 == 0:
        out.append(4)
        hop //= 4
    if hop % 2 == 0:
        out.append(2)
        hop //= 2
    p = 3
    while hop > 1:
        while hop % p == 0:
            out.append(p)
            hop //= p
        p += 2
    return tuple(out)


# --- configuration -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VQVAEConfig:
    """Sizes and switches of one :class:`VQVAE` level.

    Attributes:
        sample_rate: the audio's sample rate (Hz); other rates are refused.
        hop: audio samples per code (the level's compression in time); strides from :func:`hop_strides`.
        codebook_size: number of codes (Jukebox: 2048).
        code_dim: width of a code vector (Jukebox: 64).
        channels: width of the convolutions.
        min_channels: the narrowest width, near the audio rate (:func:`stage_widths`); 8 kept the fast default, wider
            trains faster per step count (notebook 05's codec: measured in data/checkpoints/README.md).
        depth: dilated residual blocks after each strided convolution (dilations 1, 3, 9, ...).
        normalize: L2-normalise the latents before quantising (raw latents made the EMA codebook drift; issue 16).
        mu: EMA decay of the codebook statistics (Jukebox: 0.99).
        commit_weight: weight of the commitment loss (Jukebox: 0.02).
        restart_threshold: a code whose EMA count (its uses per batch, averaged) falls below this is dead and is
            restarted; keep it well below (latents per batch) / codebook_size.
        spectral_weight: weight of the multi-resolution STFT loss next to the waveform loss.
        recon: waveform loss, ``'l2'`` or ``'l1'``, relative to the clips' energy (see :func:`reconstruction_loss`).
    """

    sample_rate: int = 16000
    hop: int = 64
    codebook_size: int = 512
    code_dim: int = 64
    channels: int = 64
    min_channels: int = 8
    depth: int = 3
    normalize: bool = True
    mu: float = 0.99
    commit_weight: float = 0.02
    restart_threshold: float = 1.0
    spectral_weight: float = 1.0
    recon: str = "l2"

    def __post_init__(self):
        hop_strides(self.hop)
        for name in ("sample_rate", "codebook_size", "code_dim", "channels", "min_channels"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"VQVAEConfig: {name} must be a positive whole number, got {getattr(self, name)!r}")
        if self.depth < 0:
            raise ValueError(f"VQVAEConfig: depth must be >= 0, got {self.depth}")
        if not 0.0 <= self.mu < 1.0:
            raise ValueError(f"VQVAEConfig: mu must lie in [0, 1), got {self.mu}")
        if self.recon not in ("l1", "l2"):
            raise ValueError(f"VQVAEConfig: recon must be 'l1' or 'l2', got {self.recon!r}")
        if min(self.commit_weight, self.spectral_weight, self.restart_threshold) < 0:
            raise ValueError("VQVAEConfig: commit_weight, spectral_weight and restart_threshold must be >= 0")

    @property
    def strides(self) -> tuple[int, ...]:
        return hop_strides(self.hop)

    @property
    def codes_per_second(self) -> float:
        return self.sample_rate / self.hop

    def to_dict(self) -> dict:
        return dict(asdict(self), kind=type(self).__name__)

    @classmethod
    def from_dict(cls, d: dict):
        return config_from_dict(cls, d, kind=True)

    @classmethod
    def tiny(cls, hop: int = 8, **changes):
        """A configuration small enough for unit tests (a few thousand parameters)."""
        base = dict(hop=hop, codebook_size=16, code_dim=8, channels=8, depth=1)
        base.update(changes)
        return cls(**base)


# --- convolutional encoder and decoder -----------------------------------------------------------------------
class ResBlock(nn.Module):
    """``x + conv1x1(elu(conv3(elu(x), dilation)))``: a dilated residual block (length preserved)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation, padding=dilation)
        self.proj = nn.Conv1d(channels, channels, 1)

    def forward(self, x):  # (B, C, L) -> (B, C, L)
        return x + self.proj(F.elu(self.conv(F.elu(x))))


def _down_padding(stride: int) -> int:
    # A convolution of kernel 2s, stride s and padding ceil(s/2) maps length L (a multiple of s) to exactly L / s.
    return (stride + 1) // 2


def stage_widths(channels: int, n_strides: int, min_channels: int = 8) -> list[int]:
    """Channels before the first and after each strided convolution: ``channels`` at the code rate, halved for each
    factor towards the audio rate (EnCodec's doubling, seen from the other end), but never below
    ``min(channels, min_channels)``. Cheap where the signal is long, wide where it is short.

    >>> stage_widths(64, 3), stage_widths(64, 4), stage_widths(8, 2), stage_widths(64, 4, min_channels=16)
    ([8, 16, 32, 64], [8, 8, 16, 32, 64], [8, 8, 8], [16, 16, 16, 32, 64])
    """
    floor = min(channels, min_channels)
    return [max(channels >> (n_strides - i), floor) for i in range(n_strides + 1)]


class Encoder(nn.Module):
    """Audio (B, 1, T) -> latents (B, code_dim, T / hop): input conv, then per stride [strided conv, res blocks].

    Widths from :func:`stage_widths`; the dilated blocks run at the lower rate after each downsampling (as Jukebox's).
    """

    def __init__(self, channels: int, code_dim: int, strides: Sequence[int], depth: int, in_channels: int = 1,
                 min_channels: int = 8):
        super().__init__()
        w = stage_widths(channels, len(strides), min_channels)
        layers: list[nn.Module] = [nn.Conv1d(in_channels, w[0], 7, padding=3)]
        for i, s in enumerate(strides):
            layers.append(nn.Conv1d(w[i], w[i + 1], 2 * s, stride=s, padding=_down_padding(s)))
            layers.extend(ResBlock(w[i + 1], 3**j) for j in range(depth))
        layers += [nn.ELU(), nn.Conv1d(w[-1], code_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):  # (B, 1, T) -> (B, D, T / hop)
        return self.net(x)


class Decoder(nn.Module):
    """Latents (B, code_dim, L) -> audio (B, 1, L * hop): the mirror of :class:`Encoder` (transposed convolutions)."""

    def __init__(self, channels: int, code_dim: int, strides: Sequence[int], depth: int, out_channels: int = 1,
                 min_channels: int = 8):
        super().__init__()
        w = stage_widths(channels, len(strides), min_channels)
        layers: list[nn.Module] = [nn.Conv1d(code_dim, w[-1], 3, padding=1)]
        for i in reversed(range(len(strides))):
            s, p = strides[i], _down_padding(strides[i])
            layers.extend(ResBlock(w[i + 1], 3**j) for j in reversed(range(depth)))
            layers += [nn.ELU(), nn.ConvTranspose1d(w[i + 1], w[i], 2 * s, stride=s, padding=p, output_padding=2 * p - s)]
        layers += [nn.ELU(), nn.Conv1d(w[0], out_channels, 7, padding=3)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):  # (B, D, L) -> (B, 1, L * hop)
        return self.net(z)


# --- the bottleneck ------------------------------------------------------------------------------------------
class Quantized(NamedTuple):
    """What :meth:`VectorQuantizer.forward` returns."""

    z_q: torch.Tensor  # (B, D, L) quantised latents, straight-through: value of the codes, gradient of the input
    codes: torch.Tensor  # (B, L) int64
    commit: torch.Tensor  # scalar: mean squared distance between latents and their (detached) codes
    usage: torch.Tensor  # scalar: fraction of the codebook used in this batch
    perplexity: torch.Tensor  # scalar: exp(entropy) of the batch's code histogram (1 .. codebook_size)


def code_statistics(codes: torch.Tensor, codebook_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(usage, perplexity) of a batch of codes: fraction of codes used, and exp(entropy) of their histogram."""
    counts = torch.bincount(codes.reshape(-1), minlength=codebook_size).float()
    p = counts / counts.sum().clamp_min(1)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return (counts > 0).float().mean(), torch.exp(entropy)


def laplace_smoothing(counts: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Cluster sizes (K,) with add-``eps`` smoothing, rescaled to the same total:
    ``(N_k + eps) / (sum N + K eps) * sum N``. No size is 0, so every mean ``S_k / N_k`` is defined; a used code's
    size moves by a relative ``eps``-sized amount.

    Reference: vector-quantize-pytorch, ``laplace_smoothing`` in its EMA codebook (our own code).
    """
    total = counts.sum().clamp_min(eps)
    return (counts + eps) / (total + counts.numel() * eps) * total


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation with an EMA codebook, commitment loss and dead-code restarts.

    Buffers (saved in the state dict): ``codebook`` (K, D), ``ema_count`` (K,), ``ema_sum`` (K, D), ``initialised``.
    The codebook has no gradient; :meth:`apply_pending` (called through :func:`update_codebooks`) updates it::

        n_k  = number of latents assigned to code k in the batch,   s_k = their sum
        N_k <- mu N_k + (1 - mu) n_k,    S_k <- mu S_k + (1 - mu) s_k,    e_k = S_k / N~_k
        N~_k = (N_k + eps) / (sum_j N_j + K eps) * sum_j N_j      (Laplace smoothing, eps = 1e-5: never 0)
        (normalize=True: e_k = (S_k / N~_k) / |S_k / N~_k|, on the unit sphere like the latents)
        threshold > 0, dead codes (N_k < threshold):   e_k <- a random latent of the batch,  N_k <- c,  S_k <- c e_k
        threshold = 0 (no expiry): only codes with n_k > 0 move; the others keep their vector

Why the "no expiry" branch: an unused code's S_k and N_k decay together, so their ratio would stay put, but after a
few thousand idle steps both underflow (0.99^2750 < 1e-12) and the code slid to the origin, where it is no one's
nearest code. vector-quantize-pytorch smooths the sizes the same way and skips expiry at threshold 0.

    A fresh code (initialised or restarted) starts with the count ``c = threshold`` (1 if the threshold is 0), as in
    Jukebox (threshold 1, count 1): it survives the next update only if that batch uses it, so unused fresh codes
    are re-drawn at once. (With a starting count of 1 and the codec's threshold of 0.1, no code can die before
    step 230, as 0.99^229 > 0.1; measured: by step 50 the codec's latents used one code, perplexity 1.1, unrestarted.)

    Why normalise the codes too: a mean of unit vectors lies inside the sphere, and the more spread the latents it
    averages, the closer to the centre; a code near the centre is at distance about 1 from *every* unit latent, so it
    wins every latent that no code matches well, grows more central, and the codebook collapses onto a few such hubs
    (measured: usage fell to 5% of 512 codes within 100 steps). With unit codes, nearest means largest cosine.

    Args:
        codebook_size, dim: K and D.
        mu, threshold: EMA decay and dead-code threshold.
        normalize: L2-normalise the latents (each D-vector) before quantising.
        seed: seeds the generator that picks the latents for initialisation and restarts.
    """

    def __init__(self, codebook_size: int, dim: int, mu: float = 0.99, threshold: float = 1.0,
                 normalize: bool = True, seed: int = 0):
        super().__init__()
        self.codebook_size, self.dim, self.mu, self.threshold, self.normalize = codebook_size, dim, mu, threshold, normalize
        self.register_buffer("codebook", torch.randn(codebook_size, dim) / dim**0.5)
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("ema_sum", self.codebook.clone())
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))
        self.generator = torch.Generator().manual_seed(seed)
        self._pending: dict | None = None  # batch statistics waiting for apply_pending
        self._warned = False

    EPS = 1e-5  # Laplace smoothing of the cluster sizes (vector-quantize-pytorch's eps)

    @property
    def fresh_count(self) -> float:
        """EMA count given to a code when it is initialised or restarted."""
        return self.threshold if self.threshold > 0 else 1.0

    # nearest code: the fast form and its plain reference
    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of each row of ``x`` (N, D) -> (N,), by ``|x|^2 - 2 x.e + |e|^2``."""
        d = (x * x).sum(1, keepdim=True) - 2 * x @ self.codebook.t() + (self.codebook**2).sum(1)[None]  # (N, K)
        return d.argmin(dim=1)

    def nearest_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Plain form of :meth:`nearest`: every squared distance written out (N, K, D) — memory-hungry, for tests."""
        return ((x[:, None, :] - self.codebook[None, :, :]) ** 2).sum(-1).argmin(dim=1)

    def _pick(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """``n`` random rows of ``x`` (N, D): without repetition when N >= n, else with."""
        rows = x.shape[0]
        idx = torch.randperm(rows, generator=self.generator)[:n] if rows >= n else torch.randint(rows, (n,), generator=self.generator)
        return x[idx.to(x.device)]

    @torch.no_grad()
    def initialise(self, x: torch.Tensor) -> None:
        """Codebook <- K random latents of ``x`` (N, D) (repeated if N < K); EMA sums and counts to match."""
        self.codebook.copy_(self._pick(x, self.codebook_size))
        self.ema_count.fill_(self.fresh_count)
        self.ema_sum.copy_(self.codebook * self.fresh_count)
        self.initialised.fill_(True)
        if _distributed():
            for buf in (self.codebook, self.ema_sum, self.ema_count):
                dist.broadcast(buf, src=0)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, L) -> code vectors (B, D, L)."""
        if codes.dtype not in (torch.int64, torch.int32) or (codes.numel() and (codes.min() < 0 or codes.max() >= self.codebook_size)):
            raise ValueError(f"codes must be integers in 0..{self.codebook_size - 1}, got dtype {codes.dtype}"
                             + (f" and range {int(codes.min())}..{int(codes.max())}" if codes.numel() else ""))
        return F.embedding(codes.long(), self.codebook).transpose(1, 2)  # (B, D, L)

    def forward(self, z: torch.Tensor) -> Quantized:
        """Quantise latents (B, D, L), in float32 even under autocast; in training mode with gradients enabled also
        record the batch statistics for the EMA update (under ``torch.no_grad`` nothing is recorded)."""
        if z.dim() != 3 or z.shape[1] != self.dim:
            raise ValueError(f"VectorQuantizer expects latents (B, {self.dim}, L), got {tuple(z.shape)}")
        learn = self.training and torch.is_grad_enabled()
        dtype = torch.promote_types(self.codebook.dtype, torch.float32)
        with torch.autocast(device_type=z.device.type, enabled=False):  # the fp32 island: search and sums
            z = z.to(dtype)
            if self.normalize:
                z = F.normalize(z, dim=1)
            B, D, L = z.shape
            flat = z.transpose(1, 2).reshape(B * L, D)  # (N, D)
            if learn and not bool(self.initialised):
                self.initialise(flat.detach())
            codes = self.nearest(flat.detach())  # (N,)
            q = self.codebook[codes].to(dtype)  # (N, D), no gradient (the codebook is a buffer)
            commit = F.mse_loss(flat, q)
            if learn:
                self.record(flat.detach(), codes)
            usage, perplexity = code_statistics(codes, self.codebook_size)
            q = q.reshape(B, L, D).transpose(1, 2)  # (B, D, L)
            z_q = z + (q - z).detach()  # straight-through: forward value q, gradient w.r.t. z is the identity
        return Quantized(z_q, codes.reshape(B, L), commit, usage, perplexity)

    # --- the EMA update ---
    def batch_statistics(self, x: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, s): count (K,) and sum (K, D) of the rows of ``x`` (N, D) assigned to each code."""
        n = torch.bincount(codes, minlength=self.codebook_size).to(x.dtype)
        s = torch.zeros(self.codebook_size, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, codes, x)
        return n, s

    @torch.no_grad()
    def record(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        """Add one batch's statistics to those waiting for :meth:`apply_pending`: counts and sums accumulate; the
        restart candidates are the latest ``max(codebook_size, len(x))`` latents (older rows are dropped)."""
        n, s = self.batch_statistics(x, codes)
        if self._pending is None:
            self._pending = {"count": n, "sum": s, "latents": x, "forwards": 1}
        else:
            p = self._pending
            keep = max(self.codebook_size, x.shape[0])  # enough to restart every code, at least this batch
            p["count"], p["sum"] = p["count"] + n, p["sum"] + s
            p["latents"] = torch.cat([p["latents"], x])[-keep:]  # the latest rows
            p["forwards"] += 1
            if p["forwards"] >= PENDING_WARNING and not self._warned:
                self._warned = True
                warnings.warn(
                    f"VectorQuantizer: {p['forwards']} training-mode forwards recorded codebook statistics that were "
                    "never applied; call each hook of model.training_hooks() after every optimiser step "
                    "(helpers.training.train does), or the codebook never learns", RuntimeWarning, stacklevel=2)

    @torch.no_grad()
    def ema_update(self, n: torch.Tensor, s: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """One EMA step from batch counts ``n`` (K,) and sums ``s`` (K, D), then (threshold > 0) restart the dead
        codes from rows of ``candidates`` (N, D); with threshold 0, only the codes the batch used move. Returns the
        boolean mask (K,) of restarted codes."""
        self.ema_count.mul_(self.mu).add_(n, alpha=1 - self.mu)
        self.ema_sum.mul_(self.mu).add_(s, alpha=1 - self.mu)
        means = self.ema_sum / laplace_smoothing(self.ema_count, self.EPS)[:, None]  # (K, D)
        means = F.normalize(means, dim=1) if self.normalize else means
        if self.threshold <= 0:  # no expiry: a code no latent chose keeps its vector (nothing restarts it)
            used = n > 0  # (K,)
            self.codebook[used] = means[used].to(self.codebook.dtype)
            return torch.zeros_like(used)
        dead = self.ema_count < self.threshold  # (K,)
        self.codebook.copy_(means)
        n_dead = int(dead.sum())
        if n_dead:
            fresh = self._pick(candidates, n_dead).to(self.codebook.dtype)
            self.codebook[dead] = fresh
            self.ema_sum[dead] = fresh * self.fresh_count
            self.ema_count[dead] = self.fresh_count
        return dead

    @torch.no_grad()
    def apply_pending(self) -> dict | None:
        """Apply the recorded statistics (all-reduced first under torch.distributed); None if nothing was recorded.

        Returns:
            ``{'restarted': number of codes restarted, 'alive': fraction with EMA count >= threshold before restart}``.
        """
        p, self._pending = self._pending, None
        if p is None:
            return None
        n, s = p["count"], p["sum"]
        if _distributed():
            dist.all_reduce(n)
            dist.all_reduce(s)
        alive = float(((self.mu * self.ema_count + (1 - self.mu) * n) >= self.threshold).float().mean())
        dead = self.ema_update(n, s, p["latents"])
        if _distributed():
            for buf in (self.codebook, self.ema_sum, self.ema_count):
                dist.broadcast(buf, src=0)
        return {"restarted": int(dead.sum()), "alive": alive}


def update_codebooks(model: nn.Module, step: int | None = None) -> list[dict]:
    """The training hook of every VQ model: apply the pending EMA update of each :class:`VectorQuantizer` in
    ``model`` (a DDP wrapper is unwrapped). Returns one dict per quantiser that had statistics."""
    model = model.module if hasattr(model, "module") else model
    out = []
    for m in model.modules():
        if isinstance(m, VectorQuantizer):
            r = m.apply_pending()
            if r is not None:
                out.append(r)
    return out


# --- checks of the input ----------------------------------------------------------------------------------------
# One definition for every audio model of the course (sample rate required; mono; [-1, 1]; no NaN; long enough; not
# silent): :func:`helpers.autoencoder.check_audio`, re-exported here for the VQ-VAE and the codec.


# --- the model ------------------------------------------------------------------------------------------------
class VQVAEOutput(NamedTuple):
    audio: torch.Tensor  # (B, T) reconstruction
    codes: torch.Tensor  # (B, T / hop)
    commit: torch.Tensor  # scalar
    usage: torch.Tensor  # scalar
    perplexity: torch.Tensor  # scalar


class VQVAE(nn.Module):
    """One level of the Jukebox VQ-VAE: audio (B, T) -> codes (B, T / hop) -> audio (B, T).

    ``model(audio)`` (training) returns a :class:`VQVAEOutput`; ``encode`` / ``decode`` / ``reconstruct`` are the
    checked, user-facing paths. The weights are drawn from ``seed`` (same seed, same model), independently of the
    global random state.

    Notebook: 04_jukebox_vqvae.ipynb
    Reference: Dhariwal et al. 2020, Sec. 2 and 3.1-3.3.
    """

    def __init__(self, config: VQVAEConfig, seed: int = 0):
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = Encoder(config.channels, config.code_dim, config.strides, config.depth,
                                   min_channels=config.min_channels)
            self.quantizer = VectorQuantizer(config.codebook_size, config.code_dim, config.mu,
                                             config.restart_threshold, config.normalize, seed=seed + 1)
            self.decoder = Decoder(config.channels, config.code_dim, config.strides, config.depth,
                                   min_channels=config.min_channels)

    @property
    def hop(self) -> int:
        return self.config.hop

    def training_hooks(self) -> list:
        """Hooks ``hook(model, step)`` for the training loop: here, the codebook's EMA update and restarts."""
        return [update_codebooks]

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < self.hop:
            raise ValueError(f"audio of {x.shape[-1]} samples is too short for the hop of {self.hop} samples")
        extra = (-x.shape[-1]) % self.hop
        return F.pad(x, (0, extra)) if extra else x

    def forward(self, audio: torch.Tensor) -> VQVAEOutput:
        """Audio (B, T) or (B, 1, T) -> reconstruction (B, T) (zero-padded to a multiple of the hop inside)."""
        x = audio[:, 0] if audio.dim() == 3 and audio.shape[1] == 1 else audio
        if x.dim() != 2:
            raise ValueError(f"VQVAE expects audio (B, T) or (B, 1, T), got shape {tuple(audio.shape)}")
        T = x.shape[-1]
        z = self.encoder(self._pad(x)[:, None])  # (B, D, L)
        q = self.quantizer(z)
        y = self.decoder(q.z_q)[:, 0, :T]  # (B, T)
        return VQVAEOutput(y, q.codes, q.commit, q.usage, q.perplexity)

    @torch.no_grad()
    def encode(self, audio, sr: int) -> torch.Tensor:
        """Audio (T,), (B, 1, T) or (B, T) at ``sr`` Hz (the model's rate) -> codes (B, ceil(T / hop)). Checked (see
        :func:`helpers.autoencoder.check_audio`: (2, T) is refused as stereo, so pass two clips as (2, 1, T)); runs
        in eval mode (records nothing)."""
        x = check_audio(audio, self.config.sample_rate, sr, min_length=self.hop)
        with evaluating(self):
            dev = next(self.parameters()).device
            return self.quantizer(self.encoder(self._pad(x.to(dev))[:, None])).codes

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, L) -> audio (B, L * hop)."""
        if codes.dim() != 2:
            raise ValueError(f"codes must be (B, L), got shape {tuple(codes.shape)}")
        with evaluating(self):
            return self.decoder(self.quantizer.lookup(codes.to(self.quantizer.codebook.device)))[:, 0]

    @torch.no_grad()
    def reconstruct(self, audio, sr: int) -> torch.Tensor:
        """encode then decode audio at ``sr`` Hz, trimmed to the input's length: (B, T)."""
        x = check_audio(audio, self.config.sample_rate, sr, min_length=self.hop)
        return self.decode(self.encode(x[:, None], sr))[:, : x.shape[-1]]


def reconstruction_loss(x: torch.Tensor, y: torch.Tensor, recon: str = "l2", spectral_weight: float = 1.0,
                        sizes=STFT_SIZES) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, waveform term, spectral term) between audio ``x`` and its reconstruction ``y`` (both (B, T)).

    The waveform term is *relative*: ``mean (y - x)^2 / mean x^2`` (``'l2'``) or ``mean |y - x| / mean |x|``
    (``'l1'``), so 1 means "no better than silence" whatever the loudness of the clips. Jukebox divides by the
    data set's bandwidth for the same reason; without it, clips at a peak of about 0.3 gave a waveform term of 0.01
    next to a spectral term of 3 to 9, and the waveform was never learnt (SI-SNR near -40 dB after 400 steps).
    """
    if recon == "l2":
        wave = F.mse_loss(y, x) / x.pow(2).mean().clamp_min(1e-10)
    else:
        wave = F.l1_loss(y, x) / x.abs().mean().clamp_min(1e-10)
    spectral = multi_resolution_stft_loss(x, y, sizes) if spectral_weight > 0 else x.new_zeros(())
    return wave + spectral_weight * spectral, wave, spectral


def loss_fn(model, batch) -> tuple[torch.Tensor, dict]:
    """The training loss of a :class:`VQVAE` level (or a DDP wrapper of one) on a batch of audio (B, T).

    ``loss = recon + spectral_weight * spectral + commit_weight * commit``, with ``recon`` the relative waveform
    error of :func:`reconstruction_loss` (1 = no better than silence).

    Returns:
        ``(loss, metrics)`` with metrics ``{'recon', 'spectral', 'commit', 'usage', 'perplexity'}`` (floats).
    """
    cfg = (model.module if hasattr(model, "module") else model).config
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    x = x[:, 0] if x.dim() == 3 else x
    out = model(x)
    recon_total, wave, spectral = reconstruction_loss(x, out.audio, cfg.recon, cfg.spectral_weight)
    loss = recon_total + cfg.commit_weight * out.commit
    metrics = {"recon": float(wave.detach()), "spectral": float(spectral.detach()), "commit": float(out.commit.detach()),
               "usage": float(out.usage), "perplexity": float(out.perplexity)}
    return loss, metrics


# --- a shared hierarchy: what Jukebox did not do (notebook 04, section 8) ----------------------------------------
class HierarchyOutput(NamedTuple):
    audio: torch.Tensor  # (B, T) reconstruction
    codes: tuple  # (bottom (B, T / hop), top (B, T / (hop * top_factor)))
    commit: torch.Tensor  # scalar, both levels
    usage: torch.Tensor  # scalar, the top level's codebook (the one Jukebox saw collapse)
    perplexity: torch.Tensor  # scalar, the top level's


class SharedHierarchy(nn.Module):
    """Two VQ levels with one shared decoder, as in VQ-VAE-2 (Razavi et al. 2019): the design Jukebox tried and
    replaced by separate autoencoders (Dhariwal et al. 2020, Sec. 3.2), kept here to show why::

        audio (B, T) --Encoder(hop)--> z_b (B, D, T/hop) --VQ--> q_b ------------------------------.
                                        |                                                          concat --Decoder(hop)--> audio
                                        '--Encoder(top_factor)--> z_t (B, D, T/(hop*f)) --VQ--> q_t --Decoder(f)--> u_t (B, D, T/hop)

    The top codes reach the audio only through the shared decoder, beside the bottom codes, which describe the same
    audio at ``top_factor`` times the rate: nothing forces the top level to carry anything.
    :func:`hierarchy_reliance` measures how much the reconstruction changes when one level's codes are swapped for
    another clip's. ``config`` is the bottom level's (its ``hop``); the top level has the same widths and codebook.
    """

    def __init__(self, config: VQVAEConfig, top_factor: int = 4, seed: int = 0):
        super().__init__()
        self.config, self.top_factor = config, int(top_factor)
        hop_strides(config.hop * self.top_factor)  # refuse a factor the hop does not allow
        c = config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.encoder = Encoder(c.channels, c.code_dim, c.strides, c.depth, min_channels=c.min_channels)
            self.top_encoder = Encoder(c.channels, c.code_dim, (self.top_factor,), c.depth, in_channels=c.code_dim)
            self.quantizer = VectorQuantizer(c.codebook_size, c.code_dim, c.mu, c.restart_threshold, c.normalize,
                                             seed=seed + 1)
            self.top_quantizer = VectorQuantizer(c.codebook_size, c.code_dim, c.mu, c.restart_threshold, c.normalize,
                                                 seed=seed + 2)
            self.top_decoder = Decoder(c.channels, c.code_dim, (self.top_factor,), c.depth, out_channels=c.code_dim)
            self.decoder = Decoder(c.channels, 2 * c.code_dim, c.strides, c.depth, min_channels=c.min_channels)

    @property
    def hop(self) -> int:  # the whole model's input multiple: the top level's hop
        return self.config.hop * self.top_factor

    def training_hooks(self) -> list:
        return [update_codebooks]  # both quantisers

    def _audio(self, audio: torch.Tensor) -> torch.Tensor:
        x = audio[:, 0] if audio.dim() == 3 and audio.shape[1] == 1 else audio
        if x.dim() != 2 or x.shape[-1] < self.hop:
            raise ValueError(f"SharedHierarchy expects audio (B, T) with T >= {self.hop}, got {tuple(audio.shape)}")
        return F.pad(x, (0, (-x.shape[-1]) % self.hop))

    def decode_latents(self, q_b: torch.Tensor, q_t: torch.Tensor) -> torch.Tensor:
        """Quantised latents of both levels (B, D, L) and (B, D, L / top_factor) -> audio (B, L * hop)."""
        return self.decoder(torch.cat([q_b, self.top_decoder(q_t)], dim=1))[:, 0]

    def forward(self, audio: torch.Tensor) -> HierarchyOutput:
        x = self._audio(audio)
        T = audio.shape[-1]
        z_b = self.encoder(x[:, None])  # (B, D, T / hop)
        qb, qt = self.quantizer(z_b), self.top_quantizer(self.top_encoder(z_b))
        y = self.decode_latents(qb.z_q, qt.z_q)[:, :T]
        return HierarchyOutput(y, (qb.codes, qt.codes), qb.commit + qt.commit, qt.usage, qt.perplexity)

    @torch.no_grad()
    def encode(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio (B, T) -> (bottom codes (B, L), top codes (B, L / top_factor)), in eval mode."""
        with evaluating(self):
            z_b = self.encoder(self._audio(audio)[:, None])
            return self.quantizer(z_b).codes, self.top_quantizer(self.top_encoder(z_b)).codes

    @torch.no_grad()
    def decode(self, bottom: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
        """Codes of both levels -> audio (B, L * hop)."""
        with evaluating(self):
            return self.decode_latents(self.quantizer.lookup(bottom), self.top_quantizer.lookup(top))


@torch.no_grad()
def hierarchy_reliance(model: SharedHierarchy, audio: torch.Tensor) -> dict:
    """How much does each level of a :class:`SharedHierarchy` carry? Multi-resolution STFT distance to ``audio``
    (B, T), B >= 2, of its reconstruction from its own codes, with the top codes of another clip (the batch rolled by
    one), with the bottom codes of another clip, with both (the other clip's reconstruction: what a level that
    carried everything would give when swapped), and of silence; plus the top codebook's usage and perplexity on these
    clips. A top level that the decoder bypasses: swapping its codes changes almost nothing.

    Returns:
        ``{'own', 'top_swapped', 'bottom_swapped', 'both_swapped', 'silence', 'top_usage', 'top_perplexity'}``
        (floats).
    """
    x = model._audio(audio)
    if x.shape[0] < 2:
        raise ValueError("hierarchy_reliance needs at least two clips (it swaps codes between them)")
    bottom, top = model.encode(x)
    dist_ = lambda y: float(multi_resolution_stft_loss(x, y[:, : x.shape[-1]]))  # noqa: E731
    usage, perplexity = code_statistics(top, model.config.codebook_size)
    return dict(own=dist_(model.decode(bottom, top)), top_swapped=dist_(model.decode(bottom, top.roll(1, 0))),
                bottom_swapped=dist_(model.decode(bottom.roll(1, 0), top)),
                both_swapped=dist_(model.decode(bottom.roll(1, 0), top.roll(1, 0))), silence=dist_(torch.zeros_like(x)),
                top_usage=float(usage), top_perplexity=float(perplexity))


# --- the codebook ablation (notebook 04, section 4) -----------------------------------------------------------------
ABLATION_LEVEL = dict(hop=64, codebook_size=64, code_dim=16, channels=16, depth=1)
"""Section 4's small time-domain level (VQVAEConfig fields, all but the sample rate): the ablation's runs."""

ABLATION_VARIANTS = {  # label -> the VQVAEConfig changes of that run: what the codebook's update does without each part
    "EMA 0.99 + restarts": {},
    "no restarts": {"restart_threshold": 0.0},
    "no averaging (mu=0)": {"mu": 0.0},
    "neither": {"mu": 0.0, "restart_threshold": 0.0},
}


def codebook_ablation_run(config: VQVAEConfig, train_data, valid_data, steps: int, eval_every: int = 15,
                          lr: float = 2e-3, batch_size: int = 8, seed: int = 0, device: str = "cpu",
                          progress: bool = False) -> dict:
    """Train one :class:`VQVAE` level and record how its codebook moves: the runs of notebook 04's section 4 (and,
    longer, of ``scripts/ablate_codebook.py``).

    The course's training loop with AdamW at ``lr`` (5 warm-up steps, cosine decay to 1e-4 at ``steps``); after each
    step, behind the model's own hook (the EMA update and restarts), a hook records the codebook's ``movement``: the
    norm of the change of all code vectors relative to the codebook's norm.

    Args:
        config: the level (e.g. with one of :data:`ABLATION_VARIANTS`' changes).
        train_data: ``(generator, batch_size) -> {'audio': (B, T)}`` (``AudioCorpus.random_crops``).
        valid_data: a list of audio batches (B, T) (or dicts with ``'audio'``), validated every ``eval_every`` steps.

    Returns:
        the history of :func:`helpers.training.train` (``valid_step``, ``valid_metrics`` with ``usage``,
        ``perplexity``, ``recon``, ``spectral``, ...) with ``movement``: one value per step.
    """
    from .training import TrainConfig, train  # here, not at the top: loading a model never needs the training loop

    model = VQVAE(config, seed=seed)
    movement, previous = [], [model.quantizer.codebook.detach().clone()]

    def track(m, step):  # after the model's own hooks (the EMA update, the restarts)
        book = m.quantizer.codebook.detach()
        movement.append(float((book - previous[0]).norm() / previous[0].norm().clamp_min(1e-12)))
        previous[0] = book.clone()

    def loss(m, batch):
        return loss_fn(m, batch["audio"] if isinstance(batch, dict) else batch)

    h = train(model, loss, train_data, valid_data,
              TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=min(5, steps), eval_every=eval_every,
                          seed=seed, device=device, progress=progress), hooks=[track])
    h["movement"] = movement
    return h


# --- checkpoints ---------------------------------------------------------------------------------------------
def save_checkpoint(model: VQVAE, path, half: bool = False, extra: dict | None = None) -> Path:
    """Weights-only checkpoint with the config (readable with ``torch.load(weights_only=True)``)."""
    return save_weights(model, path, model.config.to_dict(), half=half, extra=extra)


def load_checkpoint(path, config: VQVAEConfig | None = None, cls=VQVAE, config_cls=VQVAEConfig):
    """Build a model from a checkpoint; with ``config`` given, refuse a checkpoint saved for another configuration.

    Raises:
        ValueError: the checkpoint's config differs from ``config`` or is not a ``config_cls``.
    """
    ckpt = read_checkpoint(path)
    saved = ckpt.get("config", {})
    if saved.get("kind") != config_cls.__name__:
        raise ValueError(f"checkpoint {path} holds a {saved.get('kind', 'model without a kind')} config, not a {config_cls.__name__}")
    cfg = config_cls.from_dict(saved)
    if config is not None and config != cfg:
        diff = sorted(k for k, v in config.to_dict().items() if saved.get(k) != v)
        raise ValueError(f"checkpoint {path} was saved for another configuration (differs in {diff}): "
                         f"checkpoint {saved}, asked for {config.to_dict()}")
    model = cls(cfg)
    # The config was checked above through from_dict, which fills fields added since the file was saved (e.g.
    # min_channels) with their defaults; comparing raw dicts here would refuse every older file.
    load_weights(model, path, None, ckpt=ckpt)
    return model
