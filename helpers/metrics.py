"""Evaluating generated music: the Fréchet (Audio) Distance done right, symbolic metrics, memorisation, uncertainty.

================================  ==========================================================================
part                              what it computes (and where it comes from)
================================  ==========================================================================
:func:`frechet_distance`          ``|mu1-mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1^1/2 S2 S1^1/2)``, two ways,
                                  checked (Dowson & Landau 1982; Heusel et al. 2017; Kilgour et al. 2019)
:func:`lesson_frechet_distance`   the lesson's "simplified" trace term, kept to show how wrong it is
:func:`frechet_audio_distance`    FAD from two embedding sets, as a :class:`FADResult` that states its
                                  embedding, reference set, clip count and clip length
:func:`fad_inf`                   FAD at several sample sizes, fitted against 1/n (Gui et al. 2024, Sec. 3)
:class:`Embedder`                 the hook for VGGish, CLAP, the course's classifier, ...
symbolic metrics on a ``Piece``   MusPy's definitions (Dong et al. 2020) + the lesson's ones
:func:`distribution_distance`     overlapped area and KL of kernel density estimates (Yang & Lerch 2020)
:func:`copied_ngrams`             memorisation: longest copied run, share of copied n-grams
:func:`bootstrap_ci`              percentile or basic (pivot) bootstrap 95% intervals, with the bootstrap's
                                  bias estimate (Efron & Tibshirani 1993, Ch. 10 and 13)
:func:`fad_bootstrap`             FAD's bootstrap interval over generated clips, reference square root reused
:func:`rank_correlation`          Spearman's rho between metrics over the leaderboard's generators
================================  ==========================================================================

Notebook: 06_evaluation.ipynb.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from .data import Piece
from .pitch import pitch_class_counts
from .pitch import pitch_class_histogram as _pitch_class_shares

__all__ = [
    "GaussianStats",
    "gaussian_stats",
    "FrechetTerms",
    "frechet_terms",
    "frechet_distance",
    "lesson_frechet_distance",
    "Embedder",
    "LogMelStatsEmbedder",
    "FADResult",
    "frechet_audio_distance",
    "fad_from_audio",
    "FADInfResult",
    "fad_inf",
    "pitch_class_histogram",
    "pitch_class_entropy",
    "pitch_entropy",
    "pitch_range",
    "n_pitches_used",
    "n_pitch_classes_used",
    "pitch_in_scale_rate",
    "scale_consistency",
    "polyphony",
    "polyphony_rate",
    "empty_beat_rate",
    "groove_consistency",
    "interval_histogram",
    "harmonic_consistency",
    "rhythmic_regularity",
    "on_grid_rate",
    "symbolic_metrics",
    "metric_table",
    "DistributionDistance",
    "distribution_distance",
    "MemorisationResult",
    "copied_ngrams",
    "copied_ngrams_plain",
    "Interval",
    "bootstrap_ci",
    "fad_bootstrap",
    "rank_correlation",
]


# =====================================================================================================
# The Fréchet distance between two Gaussians
@dataclass(frozen=True)
class GaussianStats:
    """Mean (D,) and covariance (D, D) of a set of embeddings, and how many there were."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    def __repr__(self) -> str:
        return f"GaussianStats(D={len(self.mu)}, n={self.n}, tr(sigma)={np.trace(self.sigma):.4g})"


def _check_embeddings(emb, what: str) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"{what} must be an (N, D) array of embeddings, got shape {emb.shape}")
    if emb.shape[0] <= 1:
        raise ValueError(
            f"{what} has {emb.shape[0]} embedding(s); a covariance needs at least 2 (and many more than D="
            f"{emb.shape[1]} to be well estimated)"
        )
    if not np.isfinite(emb).all():
        raise ValueError(f"{what} contains NaN or infinite values")
    return emb


def gaussian_stats(emb, what: str = "embeddings") -> GaussianStats:
    """Mean and unbiased covariance (``np.cov``, divisor N-1) of an (N, D) embedding set.

    Raises:
        ValueError: naming ``what``, for a shape other than (N, D), N <= 1, or non-finite values.
    """
    emb = _check_embeddings(emb, what)
    return GaussianStats(emb.mean(axis=0), np.atleast_2d(np.cov(emb, rowvar=False)), emb.shape[0])


@dataclass(frozen=True)
class FrechetTerms:
    """The pieces of one Fréchet distance, with both computations of the matrix square-root trace.

    Attributes:
        distance: ``mean_term + trace_term`` (from the eigendecomposition).
        mean_term: ``|mu1 - mu2|^2``.
        trace_term: ``tr S1 + tr S2 - 2 tr_sqrt_eig``.
        tr_sqrt_eig: ``tr sqrt(S1^1/2 S2 S1^1/2)`` from symmetric eigendecompositions.
        tr_sqrt_sqrtm: ``Re tr sqrtm(S1 S2)`` from ``scipy.linalg.sqrtm`` (NaN when not computed).
        imag_residue: largest ``|Im|`` of the ``sqrtm`` result relative to its largest ``|Re|`` (0 for a clean
            real root; fadtk and pytorch-fid discard it silently, we report it).
        disagreement: ``|tr_sqrt_eig - tr_sqrt_sqrtm| / max(1, tr S1 + tr S2)``.
    """

    distance: float
    mean_term: float
    trace_term: float
    tr_sqrt_eig: float
    tr_sqrt_sqrtm: float
    imag_residue: float
    disagreement: float


def _psd_eigenvalues_clean(w: np.ndarray) -> np.ndarray:
    """Eigenvalues of a PSD matrix with rounding noise removed: those below ``D * eps * max`` (the default
    tolerance of ``np.linalg.matrix_rank``) are set to 0. Their square roots would otherwise add up: 54 zero
    eigenvalues of 1e-15 add 54 * 3e-8 to a trace of square roots."""
    tol = len(w) * np.finfo(np.float64).eps * max(float(np.abs(w).max()), 0.0) if len(w) else 0.0
    return np.where(w > tol, w, 0.0)


def _sqrt_psd(S: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (eigenvalues at rounding level set to 0)."""
    w, V = np.linalg.eigh((S + S.T) / 2)  # w (D,), V (D, D)
    return (V * np.sqrt(_psd_eigenvalues_clean(w))) @ V.T


def _check_stats(mu, S, what: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    S = np.atleast_2d(np.asarray(S, dtype=np.float64))
    if mu.ndim != 1 or S.shape != (len(mu), len(mu)):
        raise ValueError(f"{what}: mean must be (D,) and covariance (D, D); got {mu.shape} and {S.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(S).all()):
        raise ValueError(f"{what}: mean or covariance holds NaN or infinite values")
    if not np.allclose(S, S.T, rtol=1e-8, atol=1e-10 * max(1.0, float(np.abs(S).max()))):
        raise ValueError(f"{what}: covariance is not symmetric")
    return mu, S


def frechet_terms(mu1, S1, mu2, S2, check: bool = True, rtol: float = 1e-5) -> FrechetTerms:
    """The Fréchet distance between N(mu1, S1) and N(mu2, S2), term by term, computed two ways.

    .. math:: d^2 = \\lVert\\mu_1-\\mu_2\\rVert^2 + \\operatorname{tr} S_1 + \\operatorname{tr} S_2
              - 2\\operatorname{tr}\\bigl(S_1^{1/2} S_2 S_1^{1/2}\\bigr)^{1/2}

    ``S1 S2`` and ``S1^1/2 S2 S1^1/2`` have the same eigenvalues, so ``tr sqrt(S1 S2)`` (what FID/FAD code
    writes) equals the trace here; the symmetric form is PSD, so its square root is real and stable.

    Computation 1 (``tr_sqrt_eig``): ``eigh`` of S1 -> ``S1^1/2``; ``eigvalsh`` of ``S1^1/2 S2 S1^1/2``,
    eigenvalues at rounding level (below ``D * eps * largest``, negative ones included) set to 0, sum of square
    roots. Computation 2 (``tr_sqrt_sqrtm``, only when
    ``check``): ``scipy.linalg.sqrtm(S1 @ S2)``; when it is not finite (a singular product), ``1e-6 I`` is
    added to both covariances first, as pytorch-fid does. Its imaginary part is measured (``imag_residue``) and
    a :class:`UserWarning` is raised when the two traces disagree by more than ``rtol`` relative to
    ``max(1, tr S1 + tr S2)`` (fadtk also computes both and warns).

    Args:
        mu1, mu2: means (D,). S1, S2: covariances (D, D), symmetric PSD.
        check: also run ``sqrtm`` (slower; ``False`` in inner loops such as :func:`fad_inf`).
        rtol: disagreement that triggers the warning.

    Raises:
        ValueError: for mismatched shapes, non-finite or non-symmetric input.

    Notebook: 06_evaluation.ipynb.
    Reference: Dowson & Landau 1982 (the closed form); Heusel et al. 2017, Sec. 3 (FID); Kilgour et al. 2019,
    Sec. 2 (FAD).
    """
    mu1, S1 = _check_stats(mu1, S1, "frechet_distance (first set)")
    mu2, S2 = _check_stats(mu2, S2, "frechet_distance (second set)")
    if len(mu1) != len(mu2):
        raise ValueError(f"frechet_distance: the two sets have different dimensions D={len(mu1)} and D={len(mu2)}")
    diff = mu1 - mu2  # (D,)
    mean_term = float(diff @ diff)
    r1 = _sqrt_psd(S1)  # (D, D)
    M = r1 @ S2 @ r1  # (D, D) symmetric PSD up to rounding
    ev = np.linalg.eigvalsh((M + M.T) / 2)  # (D,)
    tr_eig = float(np.sqrt(_psd_eigenvalues_clean(ev)).sum())
    trace_sum = float(np.trace(S1) + np.trace(S2))
    tr_sqrtm, imag, disagreement = float("nan"), float("nan"), float("nan")
    if check:
        import scipy.linalg

        # scipy warns "Matrix is singular" whenever there are fewer samples than dimensions; that is expected here,
        # and what matters (does sqrtm agree with the eigh route?) is measured below and warned about if not.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            root = scipy.linalg.sqrtm(S1 @ S2)  # may come back complex, or non-finite for a singular product
            if not np.isfinite(root).all():
                eps = 1e-6 * np.eye(len(mu1))
                root = scipy.linalg.sqrtm((S1 + eps) @ (S2 + eps))
        root = np.asarray(root)
        scale = max(float(np.abs(root.real).max()), 1e-300)
        imag = float(np.abs(root.imag).max() / scale) if np.iscomplexobj(root) else 0.0
        tr_sqrtm = float(np.trace(root).real)
        disagreement = abs(tr_eig - tr_sqrtm) / max(1.0, trace_sum)
        if not disagreement <= rtol:
            warnings.warn(
                f"frechet_distance: the two matrix square roots disagree: tr sqrt = {tr_eig:.8g} (eigh) vs "
                f"{tr_sqrtm:.8g} (sqrtm), relative difference {disagreement:.3g} > {rtol:g}; imaginary residue "
                f"{imag:.3g}. The eigh value is used; too few samples for D={len(mu1)}?",
                UserWarning,
                stacklevel=2,
            )
    trace_term = trace_sum - 2.0 * tr_eig
    return FrechetTerms(mean_term + trace_term, mean_term, trace_term, tr_eig, tr_sqrtm, imag, disagreement)


def frechet_distance(mu1, S1, mu2, S2, check: bool = True, rtol: float = 1e-5) -> float:
    """The (squared) Fréchet distance between N(mu1, S1) and N(mu2, S2); see :func:`frechet_terms`.

    With fewer samples than dimensions the covariances are singular; ``tr sqrtm(S1 S2)`` then overshoots by
    rounding and two identical sets get a small *negative* FAD, one source of the "negative FAD" reports. The
    eigenvalue route zeroes eigenvalues at rounding level and gives 0 to rounding (tests/test_metrics.py). The
    value is returned as computed, never clipped.

    Notebook: 06_evaluation.ipynb.
    Reference: Dowson & Landau 1982; Kilgour et al. 2019, Sec. 2.
    """
    return frechet_terms(mu1, S1, mu2, S2, check=check, rtol=rtol).distance


def lesson_frechet_distance(mu1, S1, mu2, S2) -> float:
    """The lesson's "simplified" Fréchet distance: ``|mu1-mu2|^2 + tr S1 + tr S2 - 2 sqrt(|tr(S1 S2)|)``.

    Kept only to show what it gets wrong. It replaces ``tr sqrt(M)`` (``M = S1^1/2 S2 S1^1/2``, eigenvalues
    ``m_i >= 0``) by ``sqrt(tr M)``. Since ``sum sqrt(m_i) >= sqrt(sum m_i)``, the lesson's value is never below
    the true one, and equal only when ``M`` has rank at most 1. For two identical sets with covariance ``I_D``
    it gives ``2D - 2 sqrt(D)`` instead of 0 (112 for D=64). Nor can it go negative for PSD covariances:
    ``tr(S1 S2) <= tr S1 tr S2`` and ``sqrt(ab) <= (a+b)/2``. Negative FADs in practice come from the other
    side: a matrix square root of a singular product taken without care (see :func:`frechet_terms`).

    Notebook: 06_evaluation.ipynb.
    Reference: the lesson's ``MusicEvaluator.frechet_audio_distance`` (syllabus, "Evaluating generated music").
    """
    mu1, S1 = _check_stats(mu1, S1, "lesson_frechet_distance (first set)")
    mu2, S2 = _check_stats(mu2, S2, "lesson_frechet_distance (second set)")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(S1) + np.trace(S2) - 2.0 * np.sqrt(np.abs(np.trace(S1 @ S2))))


# =====================================================================================================
# Fréchet Audio Distance: embeddings in, a result that says what it measured
@runtime_checkable
class Embedder(Protocol):
    """What FAD needs from an audio model: a name, and ``(audio (N, T), sr) -> embeddings (N, D)``.

    Any callable object with a ``name`` attribute fits. To use VGGish, CLAP or another model you have
    (the course ships none of them and downloads nothing)::

        class ClapEmbedder:
            name = "CLAP (laion/clap-htsat-unfused)"
            def __init__(self, model):
                self.model = model
            def __call__(self, audio, sr):              # audio: (N, T) float, mono
                audio = resample(audio, sr, 48000)      # the model's own sample rate
                return self.model.get_audio_embedding_from_data(audio)   # (N, 512)

        fad_from_audio(ClapEmbedder(model), real_clips, generated_clips, sr, reference="JSB test, SoundFont")

    An embedder should be deterministic (the same audio, the same embeddings) and return one row per clip.
    The course's offline choices are :class:`LogMelStatsEmbedder` and the attribute classifier's embedding.

    Notebook: 06_evaluation.ipynb.
    Reference: Kilgour et al. 2019, Sec. 2 (VGGish embeddings); Gui et al. 2024, Sec. 4 (the choice of embedding
    changes the ranking).
    """

    name: str

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:  # (N, T) -> (N, D)
        ...


class LogMelStatsEmbedder:
    """A model-free embedder: per mel band, the mean and standard deviation of the log-mel spectrogram.

    ``(N, T) -> (N, 2 * n_mels)``. It hears timbre and register, not melody; a floor for what an embedding can
    tell, and a way to run FAD with no trained model at all.

    Notebook: 06_evaluation.ipynb.
    """

    def __init__(self, n_mels: int = 32, n_fft: int = 1024, hop_length: int = 512):
        self.n_mels, self.n_fft, self.hop_length = int(n_mels), int(n_fft), int(hop_length)
        self.name = f"log-mel mean+std ({self.n_mels} bands, n_fft {self.n_fft}, hop {self.hop_length})"

    def __call__(self, audio, sr: int) -> np.ndarray:
        from .audio import log_mel_spectrogram

        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[0] == 0:
            raise ValueError(f"LogMelStatsEmbedder: audio must be (N clips, T samples), got shape {audio.shape}")
        out = np.empty((audio.shape[0], 2 * self.n_mels))  # (N, 2M)
        for i, clip in enumerate(audio):
            mel = log_mel_spectrogram(clip, sr, n_mels=self.n_mels, n_fft=self.n_fft, hop_length=self.hop_length)
            mel = mel.numpy().astype(np.float64)  # (M, frames)
            out[i, : self.n_mels], out[i, self.n_mels :] = mel.mean(axis=1), mel.std(axis=1)
        return out


@dataclass(frozen=True)
class FADResult:
    """One Fréchet Audio Distance and everything needed to read it.

    ``float(result)`` is the value. Two FADs compare only when embedding, reference set and clip length agree
    (Gui et al. 2024, Sec. 3: the value also depends on the number of clips; see :func:`fad_inf`).
    """

    value: float
    embedding: str
    reference: str
    n_reference: int
    n_generated: int
    clip_seconds: float | None
    terms: FrechetTerms = field(repr=False, compare=False, default=None)

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        clip = f"{self.clip_seconds:g} s clips" if self.clip_seconds is not None else "clip length not stated"
        extra = ""
        if self.terms is not None and np.isfinite(self.terms.imag_residue):
            extra = f", sqrtm imag residue {self.terms.imag_residue:.1e}, methods differ by {self.terms.disagreement:.1e}"
        return (
            f"FAD {self.value:.4g} (embedding: {self.embedding}; reference: {self.reference}, {self.n_reference} "
            f"clips; generated: {self.n_generated} clips; {clip}{extra})"
        )


def frechet_audio_distance(
    emb_reference,
    emb_generated,
    embedding: str = "not stated",
    reference: str = "not stated",
    clip_seconds: float | None = None,
    check: bool = True,
) -> FADResult:
    """FAD between a reference embedding set (N1, D) and a generated one (N2, D).

    ``FAD = frechet_distance(mean_r, cov_r, mean_g, cov_g)`` with unbiased covariances. The value is biased
    upwards by roughly ``c / N`` (Gui et al. 2024, Sec. 3), so FADs from different numbers of clips do not
    compare; :func:`fad_inf` removes the bias.

    Args:
        emb_reference, emb_generated: embeddings, one row per clip.
        embedding, reference: names printed with the result (the embedder's ``name``, e.g. "JSB test, SoundFont").
        clip_seconds: length of each clip.
        check: compute the matrix square root a second way and warn on disagreement (:func:`frechet_terms`).

    Raises:
        ValueError: for fewer than 2 clips in a set, different D in the two sets, or non-finite values.

    Notebook: 06_evaluation.ipynb.
    Reference: Kilgour et al. 2019, "Fréchet Audio Distance: A Reference-Free Metric for Evaluating Music
    Enhancement Algorithms", Sec. 2.
    """
    a = gaussian_stats(emb_reference, "frechet_audio_distance: emb_reference")
    b = gaussian_stats(emb_generated, "frechet_audio_distance: emb_generated")
    if len(a.mu) != len(b.mu):
        raise ValueError(
            f"frechet_audio_distance: emb_reference has D={len(a.mu)} but emb_generated has D={len(b.mu)}; "
            "both sets must come from the same embedder"
        )
    terms = frechet_terms(a.mu, a.sigma, b.mu, b.sigma, check=check)
    return FADResult(terms.distance, embedding, reference, a.n, b.n, clip_seconds, terms)


def fad_from_audio(embedder: Embedder, audio_reference, audio_generated, sr: int, reference: str,
                   check: bool = True) -> FADResult:
    """Embed two sets of equal-length mono clips (N, T) with ``embedder`` and return their FAD.

    Notebook: 06_evaluation.ipynb.
    Reference: Kilgour et al. 2019, Sec. 2.
    """
    if not isinstance(embedder, Embedder):
        raise TypeError("fad_from_audio: embedder must be callable (audio (N, T), sr) -> (N, D) with a .name")
    ref, gen = np.asarray(audio_reference), np.asarray(audio_generated)
    for what, x in (("audio_reference", ref), ("audio_generated", gen)):
        if x.ndim != 2:
            raise ValueError(f"fad_from_audio: {what} must be (N clips, T samples), got shape {x.shape}")
    if ref.shape[1] != gen.shape[1]:
        raise ValueError(
            f"fad_from_audio: clips differ in length ({ref.shape[1]} vs {gen.shape[1]} samples); cut them equal"
        )
    e_ref, e_gen = embedder(ref, sr), embedder(gen, sr)
    return frechet_audio_distance(e_ref, e_gen, embedding=embedder.name, reference=reference,
                                  clip_seconds=ref.shape[1] / sr, check=check)


@dataclass(frozen=True)
class FADInfResult:
    """FAD extrapolated to infinitely many generated clips: ``FAD(n) ~ fad_inf + slope / n``, fitted."""

    fad_inf: float
    slope: float
    r2: float
    ns: np.ndarray
    fads: np.ndarray
    embedding: str = "not stated"
    reference: str = "not stated"
    n_reference: int = 0
    clip_seconds: float | None = None

    def __float__(self) -> float:
        return float(self.fad_inf)

    def __repr__(self) -> str:
        clip = f"{self.clip_seconds:g} s clips" if self.clip_seconds is not None else "clip length not stated"
        return (
            f"FAD-inf {self.fad_inf:.4g} (fit FAD = {self.fad_inf:.4g} + {self.slope:.4g}/n, r^2 {self.r2:.3f}, "
            f"n = {int(self.ns.min())}..{int(self.ns.max())} at {len(self.ns)} sizes; embedding: {self.embedding}; "
            f"reference: {self.reference}, {self.n_reference} clips; {clip})"
        )


def fad_inf(
    reference,
    emb_generated,
    rng: np.random.Generator,
    ns: Sequence[int] | None = None,
    n_trials: int = 1,
    embedding: str = "not stated",
    reference_name: str = "not stated",
    clip_seconds: float | None = None,
) -> FADInfResult:
    """FAD-inf: FAD of random subsets of n generated clips, for several n, fitted linearly against 1/n.

    For each n in ``ns``, ``n_trials`` subsets of n generated clips are drawn without replacement (seeded by
    ``rng``) and compared with the whole reference set; a least-squares line ``FAD = a + b / n`` through all
    points gives ``a`` = FAD-inf, the value an infinite generated set would reach.

    It removes the bias (which grows with the embedding dimension over n), not the noise of having only N
    generated clips: with D = 64 and N = 1000 (tests/test_metrics.py) its error is a fraction of FAD(N)'s; with
    D = 8, where the bias is tiny next to that noise, it is no better than FAD(N). The reference statistics are
    used as they are, so a small reference set still biases the result (pass exact :class:`GaussianStats` or
    many reference clips).

    Args:
        reference: reference embeddings (N1, D), or their :class:`GaussianStats` (e.g. exact ones in a test).
        emb_generated: generated embeddings (N2, D).
        rng: ``np.random.default_rng(seed)``.
        ns: sample sizes (default: 8 sizes evenly spaced from N2 // 5 to N2, at least D + 2).
        n_trials: subsets per size (their FADs are all points of the fit).

    Notebook: 06_evaluation.ipynb.
    Reference: Gui et al. 2024, "Adapting Frechet Audio Distance for Generative Music Evaluation", Sec. 3
    (following Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score", Sec. 3).
    """
    ref = reference if isinstance(reference, GaussianStats) else gaussian_stats(reference, "fad_inf: reference")
    gen = _check_embeddings(emb_generated, "fad_inf: emb_generated")
    N, D = gen.shape
    if D != len(ref.mu):
        raise ValueError(f"fad_inf: reference has D={len(ref.mu)} but emb_generated has D={D}")
    if ns is None:
        ns = np.unique(np.linspace(max(N // 5, min(D + 2, N)), N, 8).astype(int))
    ns = np.asarray(ns, dtype=int)
    if len(np.unique(ns)) < 2 or ns.min() < 2 or ns.max() > N:
        raise ValueError(f"fad_inf: need at least 2 distinct sample sizes in 2..{N} (emb_generated has N={N}), got {ns}")
    if n_trials < 1:
        raise ValueError(f"fad_inf: n_trials must be at least 1, got {n_trials}")
    xs, ys = [], []
    for n in ns:
        for _ in range(n_trials):
            idx = rng.choice(N, size=int(n), replace=False)
            s = gaussian_stats(gen[idx])
            xs.append(1.0 / n)
            ys.append(frechet_terms(ref.mu, ref.sigma, s.mu, s.sigma, check=False).distance)
    x, y = np.asarray(xs), np.asarray(ys)
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (intercept + slope * x)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")
    return FADInfResult(float(intercept), float(slope), r2, 1.0 / x, y, embedding, reference_name, ref.n, clip_seconds)


# =====================================================================================================
# Symbolic metrics on a Piece (times in quarter notes; a "beat" is a quarter note, as in MusPy)
_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], bool)  # C major; natural minor scales are its rotations
_NAN = float("nan")


def _entropy_bits(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return _NAN
    p = counts[counts > 0] / total
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: no "-0.0" for a single bin


def pitch_class_histogram(piece: Piece) -> np.ndarray:
    """Share of notes on each pitch class C, C#, ..., B: (12,), summing to 1 (all NaN when there are no notes).

    Counts notes, not their durations (as the lesson and MusPy do).

    Notebook: 06_evaluation.ipynb.
    Reference: the lesson's ``pitch_class_histogram``; Yang & Lerch 2020, Sec. 3.1 ("PCH").
    """
    return _pitch_class_shares(piece.pitches)  # helpers.pitch: the one definition


def pitch_class_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the pitch-class histogram: 0 for one pitch class, log2(12) for all equally.

    Same as MusPy's ``pitch_class_entropy``. NaN without notes.

    Reference: Dong et al. 2020 (MusPy), Sec. 5; Wu & Yang 2020, Sec. 3.
    """
    return _entropy_bits(pitch_class_counts(piece.pitches))


def pitch_entropy(piece: Piece) -> float:
    """Shannon entropy (bits) of the 128-bin pitch histogram (MusPy's ``pitch_entropy``). NaN without notes."""
    return _entropy_bits(np.bincount(piece.pitches, minlength=128).astype(np.float64))


def pitch_range(piece: Piece) -> float:
    """Highest minus lowest pitch, in semitones. NaN without notes (MusPy returns 0 there)."""
    p = piece.pitches
    return float(p.max() - p.min()) if len(p) else _NAN


def n_pitches_used(piece: Piece) -> int:
    """Number of distinct MIDI pitches (MusPy's ``n_pitches_used``)."""
    return int(len(np.unique(piece.pitches)))


def n_pitch_classes_used(piece: Piece) -> int:
    """Number of distinct pitch classes (MusPy's ``n_pitch_classes_used``)."""
    return int(len(np.unique(piece.pitches % 12)))


def pitch_in_scale_rate(piece: Piece, root: int, mode: str = "major") -> float:
    """Share of notes whose pitch class is in the major or natural-minor scale on ``root`` (0 = C). NaN without notes.

    Same as MusPy's ``pitch_in_scale_rate``.

    Reference: Dong et al. 2018 (MuseGAN), Sec. 5; Dong et al. 2020 (MusPy), Sec. 5.
    """
    if mode not in ("major", "minor"):
        raise ValueError(f"pitch_in_scale_rate: mode must be 'major' or 'minor', got {mode!r}")
    scale = np.roll(_MAJOR, int(root) + (3 if mode == "minor" else 0))  # A minor = C major rolled: root + 3
    p = piece.pitches
    return float(scale[p % 12].mean()) if len(p) else _NAN


def scale_consistency(piece: Piece) -> float:
    """Largest :func:`pitch_in_scale_rate` over the 24 major and minor scales; 1 for music in one key.

    Same as MusPy's ``scale_consistency`` (its natural minor scales hold the same pitch classes as the major
    ones, so the maximum over 12 major scales is the same number). NaN without notes.

    Reference: Mogren 2016 (C-RNN-GAN), Sec. 4; Dong et al. 2020 (MusPy), Sec. 5.
    """
    p = piece.pitches
    if not len(p):
        return _NAN
    counts = pitch_class_counts(p)  # (12,)
    in_scale = np.array([counts[np.roll(_MAJOR, r)].sum() for r in range(12)])  # (12,) notes in each major scale
    return float(in_scale.max() / len(p))


def _union_intervals(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge overlapping or touching intervals [start, end) into disjoint ones."""
    order = np.argsort(start, kind="stable")
    s, e = start[order], end[order]
    reach = np.maximum.accumulate(e)  # furthest end so far
    new = np.r_[True, s[1:] > reach[:-1]]  # a gap before this interval starts a new group
    return s[new], np.maximum.reduceat(e, np.flatnonzero(new))


def _sounding_counts(piece: Piece) -> tuple[np.ndarray, np.ndarray]:
    """Segments between consecutive note boundaries, and how many distinct pitches sound in each.

    Returns ``(lengths (S,), counts (S,))``. A pitch held by two voices at once counts once (as in a piano roll).
    Exact in time: no grid, so off-grid timing (triplets, performances) is measured as played.
    """
    n = piece.notes
    pitch, onset = np.asarray(n["pitch"]), np.asarray(n["onset"])
    offset = onset + np.asarray(n["duration"])
    starts, ends = [], []
    for p in np.unique(pitch):
        s, e = _union_intervals(onset[pitch == p], offset[pitch == p])
        starts.append(s)
        ends.append(e)
    s, e = np.concatenate(starts), np.concatenate(ends)
    times, inverse = np.unique(np.r_[s, e], return_inverse=True)  # (K,)
    delta = np.zeros(len(times))
    np.add.at(delta, inverse, np.r_[np.ones(len(s)), -np.ones(len(e))])
    counts = np.cumsum(delta)[:-1]  # (K-1,) pitches sounding on [times[k], times[k+1])
    return np.diff(times), np.rint(counts).astype(np.int64)


def polyphony(piece: Piece) -> float:
    """Mean number of distinct pitches sounding, over the time when at least one sounds.

    ``sum_t count(t) dt / sum_{count(t) > 0} dt``: 1 for a melody, 4 for a four-part chorale with no rests.
    MusPy's definition, measured exactly in continuous time (MusPy counts piano-roll steps; the two agree when
    every note starts and ends on the grid). NaN without notes.

    Reference: Dong et al. 2020 (MusPy), Sec. 5 (``polyphony``).
    """
    if not len(piece):
        return _NAN
    lengths, counts = _sounding_counts(piece)
    return float((lengths * counts).sum() / lengths[counts > 0].sum())


def polyphony_rate(piece: Piece, threshold: int = 2) -> float:
    """Share of the piece's time span [0, end) during which at least ``threshold`` distinct pitches sound.

    MusPy's ``polyphony_rate`` counts steps with *more than* ``threshold`` pitches despite its docstring ("multiple
    pitches"); ours counts ``>= threshold``, so the default 2 means "two or more". NaN without notes.

    Reference: Dong et al. 2018 (MuseGAN), Sec. 5; Dong et al. 2020 (MusPy), Sec. 5.
    """
    if not len(piece):
        return _NAN
    lengths, counts = _sounding_counts(piece)
    return float(lengths[counts >= threshold].sum() / piece.duration_quarters)


def empty_beat_rate(piece: Piece) -> float:
    """Share of beats (quarter notes ``[b, b+1)`` from 0 to the end of the last note) in which no note sounds.

    MusPy counts ``end // resolution + 1`` beats and marks every beat from a note's start to its end *inclusive*,
    so a note ending exactly on a beat marks the next beat too; ours marks the beats a note actually overlaps.
    NaN without notes.

    Reference: Dong et al. 2018 (Pypianoroll); Dong et al. 2020 (MusPy), Sec. 5.
    """
    if not len(piece):
        return _NAN
    n_beats = int(math.ceil(piece.duration_quarters - 1e-9))
    onset = np.asarray(piece.notes["onset"])
    offset = onset + np.asarray(piece.notes["duration"])
    first = np.floor(onset + 1e-9).astype(int)  # first beat a note overlaps
    last = np.ceil(offset - 1e-9).astype(int) - 1  # last beat it overlaps
    cover = np.zeros(n_beats + 1, np.int64)
    np.add.at(cover, first, 1)
    np.add.at(cover, last + 1, -1)
    occupied = np.cumsum(cover)[:n_beats] > 0
    return float(1.0 - occupied.mean())


def groove_consistency(piece: Piece, steps_per_quarter: int = 4) -> float:
    """One minus the mean Hamming distance between the onset patterns of neighbouring bars, per grid step.

    .. math:: GC = 1 - \\frac{1}{T-1} \\sum_{i=1}^{T-1} \\frac{d(G_i, G_{i+1})}{R}

    ``G_i``: binary onset pattern of bar i on a grid of ``steps_per_quarter`` (onsets rounded to it), ``R``
    steps per bar (from ``piece.time_signature``), ``T = ceil(end / R)`` bars counted from time 0 (a pickup shifts
    every bar line; MusPy does the same). MusPy counts ``end // R + 1`` bars, one empty bar too many when the
    piece ends on a bar line. NaN with fewer than two bars or no notes. 1: every bar has the same rhythm.

    Reference: Wu & Yang 2020 (Jazz Transformer), Sec. 3; Dong et al. 2020 (MusPy), Sec. 5.
    """
    from .representations import bar_steps

    if not len(piece):
        return _NAN
    R = bar_steps(piece.time_signature, steps_per_quarter)
    steps = np.rint(np.asarray(piece.notes["onset"]) * steps_per_quarter).astype(np.int64)
    T = int(math.ceil(piece.duration_quarters * steps_per_quarter / R - 1e-9))
    T = max(T, int(steps.max()) // R + 1)
    if T < 2:
        return _NAN
    G = np.zeros((T, R), bool)  # (T, R)
    G[steps // R, steps % R] = True
    return float(1.0 - np.count_nonzero(G[:-1] != G[1:]) / (R * (T - 1)))


def interval_histogram(piece: Piece, max_interval: int = 12) -> np.ndarray:
    """Share of melodic intervals (semitones, next note minus this one, within each voice) per size.

    Returns (2 * max_interval + 1,): entry ``k`` is the share of intervals equal to ``k - max_interval``;
    larger leaps are counted in the two end bins. Notes of a voice are taken in onset order (two notes of one
    voice starting together, a chord, give an interval between them). All NaN when no voice has two notes.

    Notebook: 06_evaluation.ipynb.
    Reference: Yang & Lerch 2020, Sec. 3.1 ("pitch interval", PI).
    """
    diffs = []
    for v in np.unique(piece.notes["voice"]):
        p = np.asarray(piece.notes["pitch"][piece.notes["voice"] == v], dtype=np.int64)  # in onset order
        diffs.append(np.diff(p))
    d = np.concatenate(diffs) if diffs else np.zeros(0, np.int64)
    if not len(d):
        return np.full(2 * max_interval + 1, np.nan)
    counts = np.bincount(np.clip(d, -max_interval, max_interval) + max_interval, minlength=2 * max_interval + 1)
    return counts / counts.sum()


def harmonic_consistency(piece: Piece, window: int = 8) -> float:
    """The lesson's harmonic consistency: mean over windows of ``window`` consecutive notes of the largest share
    of them in one major scale.

    Notes are taken in onset order (all voices). Differs from the lesson in two ways: every window is used
    (the lesson's ``range(len - window)`` skips the last one), and a piece with fewer than ``window`` notes
    gives NaN (the lesson returns 0.0, which reads as "atonal").

    Notebook: 06_evaluation.ipynb.
    Reference: the lesson's ``MusicEvaluator.harmonic_consistency``.
    """
    p = piece.pitches % 12
    if len(p) < window or window < 1:
        return _NAN
    onehot = np.eye(12, dtype=np.int64)[p]  # (N, 12)
    csum = np.vstack([np.zeros(12, np.int64), np.cumsum(onehot, axis=0)])  # (N+1, 12)
    win = csum[window:] - csum[:-window]  # (N - window + 1, 12) pitch-class counts per window
    scales = np.stack([np.roll(_MAJOR, r) for r in range(12)]).astype(np.int64)  # (12 roots, 12 pcs)
    best = (win @ scales.T).max(axis=1)  # (W,) notes in the best major scale
    return float((best / window).mean())


def rhythmic_regularity(piece: Piece) -> float:
    """The lesson's rhythmic regularity: ``1 - min(CV, 1)`` of the inter-onset intervals.

    ``CV = std(IOI) / mean(IOI)`` over the gaps between distinct onset times (a chord is one onset). 1 for an
    even pulse, towards 0 for irregular rhythm. NaN with fewer than three distinct onsets (the lesson: 0.0).
    See :func:`on_grid_rate` for a grid-based alternative.

    Notebook: 06_evaluation.ipynb.
    Reference: the lesson's ``MusicEvaluator.rhythmic_regularity``.
    """
    onsets = np.unique(np.round(np.asarray(piece.notes["onset"]), 9))
    if len(onsets) < 3:
        return _NAN
    ioi = np.diff(onsets)
    return float(1.0 - min(ioi.std() / ioi.mean(), 1.0))


def on_grid_rate(piece: Piece, steps_per_quarter: int = 4, tol: float = 1e-6) -> float:
    """Share of notes whose onset lies on the grid of ``steps_per_quarter`` (default: 16th notes).

    1 for quantised music; triplets and performed timing lower it. NaN without notes.

    Notebook: 06_evaluation.ipynb.
    """
    if not len(piece):
        return _NAN
    x = np.asarray(piece.notes["onset"]) * steps_per_quarter
    return float(np.mean(np.abs(x - np.rint(x)) <= tol * steps_per_quarter))


SCALAR_METRICS: dict[str, Callable[[Piece], float]] = {
    "pitch_class_entropy": pitch_class_entropy,
    "pitch_entropy": pitch_entropy,
    "pitch_range": pitch_range,
    "n_pitch_classes_used": n_pitch_classes_used,
    "scale_consistency": scale_consistency,
    "harmonic_consistency": harmonic_consistency,
    "polyphony": polyphony,
    "polyphony_rate": polyphony_rate,
    "empty_beat_rate": empty_beat_rate,
    "groove_consistency": groove_consistency,
    "rhythmic_regularity": rhythmic_regularity,
    "on_grid_rate": on_grid_rate,
}


def symbolic_metrics(piece: Piece) -> dict[str, float]:
    """Every scalar symbolic metric of one piece (``SCALAR_METRICS``), by name."""
    return {name: float(fn(piece)) for name, fn in SCALAR_METRICS.items()}


def metric_table(pieces: Sequence[Piece]) -> dict[str, np.ndarray]:
    """``{metric name: (len(pieces),) values}`` for a set of pieces (NaN where a metric is undefined)."""
    rows = [symbolic_metrics(p) for p in pieces]
    return {name: np.array([r[name] for r in rows]) for name in SCALAR_METRICS}


# =====================================================================================================
# How far a generator's metric distribution is from real music's
@dataclass(frozen=True)
class DistributionDistance:
    """Overlapped area (1: same distribution, 0: disjoint) and KL(real || generated) in nats of two KDEs."""

    overlap: float
    kl: float
    n_real: int
    n_generated: int

    def __repr__(self) -> str:
        return f"DistributionDistance(OA={self.overlap:.3f}, KL={self.kl:.3f} nats, n_real={self.n_real}, n_gen={self.n_generated})"


def _kde(x: np.ndarray, data: np.ndarray, h: float) -> np.ndarray:
    z = (x[:, None] - data[None, :]) / h  # (G, n)
    return np.exp(-0.5 * z**2).sum(axis=1) / (len(data) * h * np.sqrt(2 * np.pi))


def distribution_distance(real, generated, n_grid: int = 1024, eps: float = 1e-12) -> DistributionDistance:
    """Compare a generator's per-piece values of one metric with real music's, by kernel density estimates.

    Each sample gets a Gaussian KDE with Scott's bandwidth ``h = std * n^(-1/5)``, floored at 1% of the pooled
    range (a metric that is constant in one set, such as scale consistency 1.0, still gets a density). On a grid
    covering both sets +- 4 bandwidths: ``OA = integral min(p, q)``, ``KL = integral p log(p / (q + eps))``.
    NaN values (a metric undefined for a piece) are dropped. Two identical constant samples give OA 1, KL 0.

    Yang & Lerch apply the same two measures to the distributions of pairwise distances (intra-set of the
    real data against inter-set); here they are applied to the metric values directly, which is what the
    leaderboard needs and reads more easily.

    Raises:
        ValueError: if either sample has fewer than 2 finite values.

    Notebook: 06_evaluation.ipynb.
    Reference: Yang & Lerch 2020, "On the evaluation of generative models in music", Sec. 4 (KDE, OA, KL).
    """
    samples = []
    for what, x in (("real", real), ("generated", generated)):
        x = np.asarray(x, dtype=np.float64).ravel()
        x = x[np.isfinite(x)]
        if len(x) < 2:
            raise ValueError(f"distribution_distance: '{what}' has {len(x)} finite values; need at least 2")
        samples.append(x)
    r, g = samples
    pooled = np.r_[r, g]
    span = float(pooled.max() - pooled.min())
    if span == 0.0:  # both sets are the same constant
        return DistributionDistance(1.0, 0.0, len(r), len(g))
    floor = 0.01 * span
    hr = max(float(r.std(ddof=1)) * len(r) ** -0.2, floor)
    hg = max(float(g.std(ddof=1)) * len(g) ** -0.2, floor)
    grid = np.linspace(pooled.min() - 4 * max(hr, hg), pooled.max() + 4 * max(hr, hg), n_grid)  # (G,)
    p, q = _kde(grid, r, hr), _kde(grid, g, hg)
    overlap = float(np.trapezoid(np.minimum(p, q), grid))
    kl = float(np.trapezoid(p * np.log((p + eps) / (q + eps)), grid))
    return DistributionDistance(min(overlap, 1.0), max(kl, 0.0), len(r), len(g))


# =====================================================================================================
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


# =====================================================================================================
# Uncertainty and agreement between metrics
@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap confidence interval.

    ``method`` is how the interval was read from the bootstrap distribution (``'percentile'`` or ``'basic'``);
    ``bias`` is the bootstrap's estimate of the statistic's bias, mean of the resampled statistics minus the
    estimate (NaN when not computed); ``estimate - bias`` is the bias-corrected estimate.
    """

    estimate: float
    low: float
    high: float
    level: float
    n: int
    method: str = "percentile"
    bias: float = float("nan")

    def __repr__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}] ({self.level:.0%} CI, n={self.n})"

    def __contains__(self, x: float) -> bool:
        return self.low <= x <= self.high

    def basic(self) -> "Interval":
        """The basic (pivot) interval from the same resamples as this percentile interval: ``[2 est - high,
        2 est - low]`` (what ``bootstrap_ci(..., method='basic')`` returns; no new resampling)."""
        if self.method != "percentile":
            raise ValueError(f"Interval.basic: needs a percentile interval, this one is {self.method!r}")
        return Interval(self.estimate, 2 * self.estimate - self.high, 2 * self.estimate - self.low, self.level, self.n,
                        "basic", self.bias)


_AXIS_STATISTICS = (np.mean, np.median, np.nanmean, np.nanmedian, np.std, np.sum)


def bootstrap_ci(
    values,
    rng: np.random.Generator,
    statistic: Callable = np.mean,
    n_boot: int = 2000,
    level: float = 0.95,
    vectorized: bool | None = None,
    method: str = "percentile",
) -> Interval:
    """Bootstrap confidence interval of ``statistic`` over items: percentile (default) or basic.

    Draws ``n_boot`` resamples of the items (rows of ``values``) with replacement and computes the statistic on each
    (the bootstrap distribution, quantiles ``q_lo``, ``q_hi`` at ``(1-level)/2`` and ``(1+level)/2``):

    - ``'percentile'``: ``[q_lo, q_hi]``. Fine for a statistic whose resamples scatter around it (a mean).
    - ``'basic'`` (the pivot interval): ``[2 est - q_hi, 2 est - q_lo]``, the percentile interval reflected
      around the estimate. When the statistic is biased, the resamples are shifted from the estimate as the
      estimate is from the truth, and the reflection corrects for it. FAD is such a statistic: a resample repeats
      clips, which shrinks the spread of the set and *raises* its FAD, so the percentile interval of FAD can lie
      entirely above the estimate; the basic interval moves the other way, towards the large-sample FAD.

    The returned :class:`Interval` also carries ``bias = mean(resampled statistics) - estimate``.

    Args:
        values: (n,) or (n, k) (rows are items, e.g. pairs of ratings of one item by two raters).
        rng: ``np.random.default_rng(seed)``; the same seed gives the same interval.
        statistic: function of a sample (n, ...) -> number; NumPy reductions (mean, median, ...) are computed for
            all resamples at once over every axis but the resamples' (``axis=1`` for (n,) items, ``axis=(1, 2)``
            for (n, k)), anything else one resample at a time (same resamples, same result for 1-D and 2-D items:
            a test holds the two paths equal).
        vectorized: force (True) or forbid (False) the vectorised path; None: decide from ``statistic``.

        method: ``'percentile'`` or ``'basic'``.

    Raises:
        ValueError: for fewer than 2 items, a level outside (0, 1), n_boot < 1, an unknown method, or a statistic
            that does not give one number per resample.

    Notebook: 06_evaluation.ipynb.
    Reference: Efron & Tibshirani 1993, "An Introduction to the Bootstrap", Ch. 10 (bias), Ch. 13 (percentile
    intervals); Davison & Hinkley 1997, "Bootstrap Methods and their Application", Sec. 5.2 (basic intervals).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 0 or len(x) < 2:
        raise ValueError(f"bootstrap_ci: need at least 2 items, got {0 if x.ndim == 0 else len(x)}")
    if not 0 < level < 1:
        raise ValueError(f"bootstrap_ci: level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"bootstrap_ci: n_boot must be at least 1, got {n_boot}")
    if method not in ("percentile", "basic"):
        raise ValueError(f"bootstrap_ci: method must be 'percentile' or 'basic', got {method!r}")
    n = len(x)
    idx = rng.integers(0, n, size=(n_boot, n))  # (B, n) one resample per row
    if vectorized is None:
        vectorized = any(statistic is f for f in _AXIS_STATISTICS)
    if vectorized:
        # every axis of a resample but the first (B): a NumPy reduction without ``axis`` pools all of a sample's
        # values, so (n, k) items give one number per resample, as the loop below does
        axes = 1 if x.ndim == 1 else tuple(range(1, x.ndim + 1))
        stats = np.asarray(statistic(x[idx], axis=axes), dtype=np.float64)  # (B,)
    else:
        stats = np.array([statistic(x[i]) for i in idx], dtype=np.float64)  # (B,)
    if stats.shape != (n_boot,):
        raise ValueError(f"bootstrap_ci: the statistic must give one number per resample, got shape "
                         f"{stats.shape[1:]} for each of {n_boot} resamples")
    alpha = (1.0 - level) / 2
    low, high = np.nanquantile(stats, [alpha, 1.0 - alpha])
    estimate = float(statistic(x))
    if method == "basic":
        low, high = 2 * estimate - high, 2 * estimate - low
    return Interval(estimate, float(low), float(high), level, n, method, float(np.nanmean(stats)) - estimate)


def fad_bootstrap(reference, generated, rng: np.random.Generator, n_boot: int = 200, level: float = 0.95,
                  method: str = "percentile") -> Interval:
    """Bootstrap interval of the FAD of ``generated`` (N, D) embeddings against a fixed ``reference``, resampling
    the generated clips (:func:`bootstrap_ci` with ``method``).

    ``reference``: a :class:`GaussianStats` or (M, D) embeddings. The fast path: the reference's square root
    ``S1^1/2`` is computed once, not per resample; the plain path (:func:`frechet_terms` per resample) draws the
    same resamples and gives the same interval (a test holds them equal).

    Notebook: 06_evaluation.ipynb (section 5). Reference: Kilgour et al. 2019 (FAD); Efron & Tibshirani 1993.
    """
    ref = reference if isinstance(reference, GaussianStats) else gaussian_stats(reference, "fad_bootstrap reference")
    gen = _check_embeddings(generated, "fad_bootstrap generated")
    mu1, S1 = _check_stats(ref.mu, ref.sigma, "fad_bootstrap reference")
    if gen.shape[1] != len(mu1):
        raise ValueError(f"fad_bootstrap: generated embeddings have D={gen.shape[1]}, the reference D={len(mu1)}")
    r1, tr1 = _sqrt_psd(S1), float(np.trace(S1))  # once: (D, D)

    def fad(idx):  # the FAD of the resampled clips gen[idx]: frechet_terms with S1^1/2 reused
        e = gen[np.asarray(idx, dtype=np.int64)]
        mu2, S2 = e.mean(axis=0), np.atleast_2d(np.cov(e, rowvar=False))
        M = r1 @ S2 @ r1
        ev = np.linalg.eigvalsh((M + M.T) / 2)
        d = mu1 - mu2
        return float(d @ d + tr1 + np.trace(S2) - 2.0 * np.sqrt(_psd_eigenvalues_clean(ev)).sum())

    return bootstrap_ci(np.arange(len(gen)), rng, fad, n_boot=n_boot, level=level, vectorized=False, method=method)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval of a proportion ``successes / n`` (e.g. an accuracy measured on n clips).

    Unlike the normal approximation ``p +- z sqrt(p(1-p)/n)`` it stays inside [0, 1] and is not empty at 0 or n
    successes, which matters for the handfuls of clips a CPU can generate.

    Raises:
        ValueError: n < 1, successes outside 0..n, or a level outside (0, 1).

    Notebook: 05_musicgen.ipynb (control accuracy against guidance).
    Reference: Wilson 1927, "Probable inference, the law of succession, and statistical inference", JASA 22;
    Brown, Cai & DasGupta 2001, "Interval Estimation for a Binomial Proportion", Statistical Science 16, Sec. 4.1.
    """
    from statistics import NormalDist

    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"wilson_interval: n must be a positive integer, got {n!r}")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: successes must lie in 0..n={n}, got {successes!r}")
    if not 0 < level < 1:
        raise ValueError(f"wilson_interval: level must be in (0, 1), got {level}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact at the ends (no rounding residue)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(float(p), low, high, level, int(n))


def rank_correlation(scores: Mapping[str, Sequence[float]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Spearman's rank correlation between every pair of metrics over the same generators.

    Args:
        scores: ``{metric name: values, one per generator, in the same generator order}``.

    Returns:
        ``(names, rho (M, M), p (M, M))``. Each pair uses the generators where both metrics are finite; a pair with
        fewer than 3 such generators, or a metric constant over them, gets NaN.

    Notebook: 06_evaluation.ipynb ("why quality is subjective": metrics that disagree on the ranking).
    Reference: Spearman 1904; ``scipy.stats.spearmanr``.
    """
    from scipy.stats import spearmanr

    names = list(scores)
    cols = [np.asarray(scores[k], dtype=np.float64) for k in names]
    if len({len(c) for c in cols}) > 1:
        raise ValueError(f"rank_correlation: metrics have different numbers of generators: "
                         f"{ {k: len(c) for k, c in zip(names, cols)} }")
    M = len(names)
    rho, pval = np.full((M, M), np.nan), np.full((M, M), np.nan)
    for i in range(M):
        for j in range(M):
            ok = np.isfinite(cols[i]) & np.isfinite(cols[j])
            a, b = cols[i][ok], cols[j][ok]
            if ok.sum() < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
                continue
            r = spearmanr(a, b)
            rho[i, j], pval[i, j] = float(r.statistic), float(r.pvalue)
    return names, rho, pval
