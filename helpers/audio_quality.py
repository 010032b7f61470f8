"""How close is a reconstruction to the original? Four measures of audio quality, and the spectral training loss.

- :func:`multi_resolution_stft_loss` — spectral convergence plus log-magnitude distance, averaged over several STFT
  sizes; differentiable and batched, so the same function is the codecs' spectral *training loss* and a quality
  measure (:func:`multi_resolution_stft_distance`). Small FFTs see onsets, large ones see pitch.
- :func:`si_snr` — scale-invariant signal-to-noise ratio in dB (waveform fidelity, phase included).
- :func:`log_mel_distance` — mean absolute difference of log-mel spectrograms (what the ear's frequency scale sees).
- :func:`chroma` / :func:`chroma_similarity` — energy per pitch class, compared frame by frame (were the notes kept,
  even if the timbre was not?).
- :func:`onset_envelope` / :func:`onset_agreement` — spectral flux over time and the correlation of two clips' (do
  the notes start where the original's start? what a tempo rests on).

Conventions: ``reference`` first, ``estimate`` second; 1-D mono signals (NumPy or torch) for the measures, (B, T)
tensors for the loss. A silent reference has no defined SI-SNR or chroma: that is an error, not a NaN.

Notebook: 04_jukebox_vqvae.ipynb (quality table per level), 05_musicgen.ipynb (quality per number of codebooks).
Reference: multi-resolution STFT loss: Yamamoto et al. 2020, "Parallel WaveGAN", Sec. 2.3 (spectral convergence +
log STFT magnitude), used by Dhariwal et al. 2020 (Jukebox), Sec. 3.3 and Défossez et al. 2022 (EnCodec), Sec. 3.4;
SI-SNR: Le Roux et al. 2019, "SDR — half-baked or well done?", Sec. 2; chroma: Müller, *Fundamentals of Music
Processing* (2nd ed. 2021), Sec. 3.1.2; spectral flux (novelty): the same book, Sec. 6.1.2.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .pitch import chroma as pitch_chroma

STFT_SIZES = (2048, 512, 128)  # FFT sizes of the multi-resolution loss (hop = size / 4)
LOG_FLOOR = 1e-4  # floor of the STFT magnitude before the log (1e-7 let near-silent bins dominate; issue 16)
SILENCE_PEAK = 1e-6  # a signal whose peak is below this is silence


def _mono(x, what: str) -> torch.Tensor:
    t = torch.as_tensor(x.detach().cpu() if hasattr(x, "detach") else np.asarray(x)).to(torch.float64)
    if t.dim() != 1 or t.numel() == 0:
        raise ValueError(f"{what} must be a non-empty 1-D (mono) signal, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} contains NaN or infinite samples")
    return t


def _pair(reference, estimate) -> tuple[torch.Tensor, torch.Tensor]:
    ref, est = _mono(reference, "reference"), _mono(estimate, "estimate")
    if ref.shape != est.shape:
        raise ValueError(f"reference and estimate must have the same length, got {ref.numel()} and {est.numel()}")
    return ref, est


def _stft_magnitude(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    """|STFT| of (B, T) with a Hann window, hop n_fft/4, centred zero-padded frames -> (B, F, frames)."""
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft, hop_length=n_fft // 4, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    return spec.abs()


def multi_resolution_stft_loss(
    reference: torch.Tensor, estimate: torch.Tensor, sizes=STFT_SIZES, floor: float = LOG_FLOOR
) -> torch.Tensor:
    """Mean over FFT sizes of spectral convergence + mean |log S - log S_hat| (magnitudes floored at ``floor``).

    Spectral convergence is ``||S - S_hat||_F / ||S||_F`` per clip (relative: loud and quiet clips weigh alike);
    the log term treats every time-frequency bin alike, down to the floor. Zero exactly when the magnitudes agree.

    Args:
        reference, estimate: (B, T) or (T,) tensors; gradients flow to both.
        sizes: FFT sizes (each hop is a quarter of its size).
        floor: smallest magnitude before the log.

    Returns:
        scalar tensor (mean over the batch and the sizes).
    """
    if reference.shape != estimate.shape:
        raise ValueError(f"reference {tuple(reference.shape)} and estimate {tuple(estimate.shape)} differ in shape")
    if reference.dim() == 1:
        reference, estimate = reference[None], estimate[None]
    if reference.dim() != 2:
        raise ValueError(f"expected (B, T) or (T,) audio, got shape {tuple(reference.shape)}")
    total = reference.new_zeros(())
    for n_fft in sizes:
        s = _stft_magnitude(reference, n_fft)  # (B, F, frames)
        s_hat = _stft_magnitude(estimate, n_fft)
        sc = torch.linalg.vector_norm(s - s_hat, dim=(1, 2)) / torch.linalg.vector_norm(s, dim=(1, 2)).clamp_min(1e-8)
        log_mag = (torch.log(s.clamp_min(floor)) - torch.log(s_hat.clamp_min(floor))).abs().mean(dim=(1, 2))
        total = total + (sc + log_mag).mean()
    return total / len(sizes)


def multi_resolution_stft_distance(reference, estimate, sizes=STFT_SIZES) -> float:
    """:func:`multi_resolution_stft_loss` of two mono signals, as a float (0 = identical magnitudes; lower is better)."""
    ref, est = _pair(reference, estimate)
    return float(multi_resolution_stft_loss(ref, est, sizes))


def si_snr(reference, estimate) -> float:
    """Scale-invariant SNR in dB: ``10 log10(||s||^2 / ||e||^2)`` with ``s`` the projection of the estimate on the
    reference (both made zero-mean) and ``e`` the rest.

    Any gain, even negative, leaves it unchanged; an estimate equal to the reference up to gain gives ``+inf``;
    noise orthogonal to the reference with a tenth of its energy gives 10 dB.

    Raises:
        ValueError: for a silent (constant) reference, different lengths, or non-finite samples.
    """
    ref, est = _pair(reference, estimate)
    ref, est = ref - ref.mean(), est - est.mean()
    energy = float(ref @ ref)
    if energy < SILENCE_PEAK**2 * ref.numel():
        raise ValueError("si_snr: the reference is silent (or constant); SI-SNR is undefined")
    target = (est @ ref) / energy * ref  # projection on the reference
    noise = est - target
    num, den = float(target @ target), float(noise @ noise)
    if num == 0.0:  # nothing of the reference in the estimate (a silent estimate, or one orthogonal to it)
        return -math.inf
    if den <= 1e-20 * num:
        return math.inf
    return 10.0 * math.log10(num / den)


def log_mel_distance(reference, estimate, sr: int, n_mels: int = 64, n_fft: int = 1024, hop_length: int = 256) -> float:
    """Mean absolute difference (natural log units) of the log-mel spectrograms of ``helpers.audio``."""
    from .audio import log_mel_spectrogram

    ref, est = _pair(reference, estimate)
    a = log_mel_spectrogram(ref.float().numpy(), sr, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length)
    b = log_mel_spectrogram(est.float().numpy(), sr, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length)
    return float((a - b).abs().mean())


def chroma(audio, sr: int, n_fft: int = 4096, hop_length: int = 1024, f_min: float = 55.0, f_max: float = 5000.0) -> torch.Tensor:
    """Chromagram: STFT power summed per pitch class (C = 0, ..., B = 11), each frame scaled to unit length.

    :func:`helpers.pitch.chroma` with ``power=2`` and ``kernel='nearest'``: bins between ``f_min`` and ``f_max`` go
    to the pitch class of their nearest equal-tempered pitch ``round(69 + 12 log2(f / 440)) mod 12``. A silent frame
    stays all-zero.

    Returns:
        float64 tensor (12, frames).
    """
    x = _mono(audio, "audio")
    out = pitch_chroma(x, sr, n_fft, hop_length, f_min, f_max, kernel="nearest", power=2)  # (12, frames)
    return out / torch.linalg.vector_norm(out, dim=0, keepdim=True).clamp_min(1e-12)


def chroma_similarity(reference, estimate, sr: int) -> float:
    """Mean cosine similarity of the chroma vectors of the two signals over the frames where the reference sounds
    (1 = the same pitch classes in the same proportions; about 0 = disjoint ones).

    Raises:
        ValueError: if the reference is silent.
    """
    ref, est = _pair(reference, estimate)
    a, b = chroma(ref, sr), chroma(est, sr)  # (12, frames), unit columns or zero
    sounding = a.sum(dim=0) > 0
    if float(ref.abs().max()) < SILENCE_PEAK or not bool(sounding.any()):
        raise ValueError("chroma_similarity: the reference is silent; chroma is undefined")
    return float((a * b).sum(dim=0)[sounding].mean())


def onset_envelope(audio, n_fft: int = 1024, gamma: float = 100.0) -> torch.Tensor:
    """Spectral flux (Müller, FMP Sec. 6.1.2): the positive change of the log-compressed STFT magnitude
    ``log(1 + gamma |X|)`` from one frame to the next (hop ``n_fft / 4``), averaged over frequency -> (frames - 1,).
    It peaks where notes start."""
    x = _mono(audio, "audio")
    mag = _stft_magnitude(x[None], n_fft)[0]  # (F, frames)
    log = torch.log1p(gamma * mag)
    return (log[:, 1:] - log[:, :-1]).clamp_min(0).mean(dim=0)  # (frames - 1,)


def onset_agreement(reference, estimate, n_fft: int = 1024) -> float:
    """Pearson correlation of the two clips' onset envelopes (:func:`onset_envelope`): 1 = the notes start at the same
    moments with the same relative strength; about 0 = unrelated timing.

    Raises:
        ValueError: if the reference has no onsets (a constant envelope: silence or an unchanging tone).
    """
    ref, est = _pair(reference, estimate)
    a, b = onset_envelope(ref, n_fft), onset_envelope(est, n_fft)
    a, b = a - a.mean(), b - b.mean()
    if float(a.norm()) < 1e-12:
        raise ValueError("onset_agreement: the reference's onset envelope is constant (silence?); undefined")
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


def quality_table(reference, estimate, sr: int) -> dict:
    """All four measures of one clip: ``{'mr_stft', 'si_snr', 'log_mel', 'chroma'}`` (floats)."""
    return {
        "mr_stft": multi_resolution_stft_distance(reference, estimate),
        "si_snr": si_snr(reference, estimate),
        "log_mel": log_mel_distance(reference, estimate, sr),
        "chroma": chroma_similarity(reference, estimate, sr),
    }
