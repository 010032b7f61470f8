"""The Fréchet (Audio) Distance done right: two ways to the matrix square root, checked; a result that states its
embedding, reference set, clip count and clip length; FAD-inf; a bootstrap interval.

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
:func:`fad_bootstrap`             FAD's bootstrap interval over generated clips, reference square root reused
                                  (:func:`helpers.intervals.bootstrap_ci`)
:func:`fad_jackknife`             a bias-corrected FAD and its interval for the true distance (grouped
                                  jackknife over both sets; Quenouille 1956, Efron & Tibshirani 1993, Ch. 11)
:func:`fad_interval_coverage`     an FAD interval's coverage, measured on Gaussians of known distance
:class:`ChromaStatsEmbedder`      an embedding that hears notes (key-invariant pitch-class statistics)
================================  ==========================================================================

Notebook: 06_evaluation.ipynb.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .intervals import Interval, bootstrap_ci, wilson_interval


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
    eigenvalue route zeroes eigenvalues at rounding level and gives 0 to rounding (tests/test_fad.py). The
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
            f"n = {int(self.ns.min())}..{int(self.ns.max())}: {len(np.unique(self.ns))} sizes x "
            f"{len(self.ns) // len(np.unique(self.ns))} trials; embedding: {self.embedding}; "
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
    generated clips: with D = 64 and N = 1000 (tests/test_fad.py) its error is a fraction of FAD(N)'s; with
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


# =====================================================================================================
# An FAD interval whose coverage is measured: grouped jackknife around a bias-corrected estimate
@dataclass(frozen=True)
class FADInterval:
    """FAD, its bias-corrected estimate and a confidence interval for the true (large-sample) distance.

    Attributes:
        fad: the plain plug-in FAD of all clips (biased upwards, section 3 of notebook 06).
        estimate: the bias-corrected estimate ``fad - bias``, clipped at 0 (a distance is never negative).
        low, high: the interval for the true distance, clipped at 0; it always contains ``estimate``.
        level: nominal coverage (0.95).
        se: the jackknife standard error of the bias-corrected estimate.
        bias: the jackknife's estimate of FAD's bias (``fad - estimate`` before clipping).
        n_groups: jackknife groups (each deletes 1/n_groups of *both* sets at once).
        n_reference, n_generated: clips in the two sets.
        method: how the interval was made.
    """

    fad: float
    estimate: float
    low: float
    high: float
    level: float
    se: float
    bias: float
    n_groups: int
    n_reference: int
    n_generated: int
    method: str = "jackknife"

    def __contains__(self, x: float) -> bool:
        return self.low <= x <= self.high

    def __float__(self) -> float:
        return float(self.estimate)

    def __repr__(self) -> str:
        return (f"FAD {self.fad:.4g}; bias-corrected {self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}] "
                f"({self.level:.0%} {self.method} CI, {self.n_groups} groups; {self.n_reference} reference and "
                f"{self.n_generated} generated clips)")


def _jackknife_blocks(n: int, groups, n_groups: int, rng: np.random.Generator, what: str) -> list[np.ndarray]:
    """Rows 0..n-1 split into ``n_groups`` blocks of whole groups (e.g. all clips of one piece), seeded."""
    labels = np.arange(n) if groups is None else np.asarray(groups)
    if len(labels) != n:
        raise ValueError(f"fad_jackknife: {what} has {n} clips but {len(labels)} group labels")
    units = np.unique(labels)
    if len(units) < n_groups:
        raise ValueError(f"fad_jackknife: {what} has {len(units)} independent units (groups), fewer than "
                         f"n_groups={n_groups}")
    blocks = np.array_split(units[rng.permutation(len(units))], n_groups)
    return [np.flatnonzero(np.isin(labels, b)) for b in blocks]


def _fad_of(X1: np.ndarray, X2: np.ndarray) -> float:
    """The plug-in FAD of two embedding sets (no sqrtm cross-check: an inner loop)."""
    s1, s2 = gaussian_stats(X1), gaussian_stats(X2)
    return frechet_terms(s1.mu, s1.sigma, s2.mu, s2.sigma, check=False).distance


def fad_jackknife(reference, generated, rng: np.random.Generator, n_groups: int = 16, level: float = 0.95,
                  reference_groups=None, generated_groups=None) -> FADInterval:
    """A bias-corrected FAD and a confidence interval for the true distance, by a grouped jackknife.

    FAD from n clips is biased upwards by roughly ``a / n_reference + b / n_generated`` (notebook 06, section 3).
    Split each set into ``n_groups`` blocks (seeded), delete block g from *both* sets at once and recompute FAD
    (``fad_g``, from ``(G - 1) / G`` of the clips). A straight line in 1/n through the full FAD and the mean of
    the ``fad_g``, extrapolated to infinitely many clips in both sets, is the jackknife estimate (Quenouille's
    bias correction; FAD-inf's idea applied to both sets)::

        estimate = G * fad - (G - 1) * mean(fad_g)          bias = (G - 1) * (mean(fad_g) - fad)
        se       = sqrt((G - 1) / G * sum((fad_g - mean(fad_g))^2))
        interval = estimate -+ t_{G-1} * se                 (Student's t with G - 1 degrees of freedom)

    The estimate, low and high are clipped at 0 (the true distance is never negative), so the interval always
    contains the estimate. Whether the interval covers the truth 95% of the time is not a theorem: it is
    *measured* by :func:`fad_interval_coverage` (Gaussian embeddings of known distance, in the setting at hand).

    Columns that hold one constant, equal in both sets (dead units of an embedding) add nothing to the distance
    and are dropped first (exact, and faster).

    Args:
        reference: (M, D) reference embeddings (not statistics: blocks of clips are deleted).
        generated: (N, D) generated embeddings.
        rng: seeds the blocks.
        n_groups: G, the number of jackknife blocks (each set needs at least G independent units).
        level: nominal coverage.
        reference_groups, generated_groups: optional label per clip of what is *not* independent (e.g. the piece a
            clip was cut from): a block holds whole groups, so the standard error sees their correlation.

    Raises:
        ValueError: for mismatched dimensions, too few units for ``n_groups``, n_groups < 2 or a bad level.

    Notebook: 06_evaluation.ipynb (sections 3-5 and 8).
    Reference: Quenouille 1956, "Notes on bias in estimation", Biometrika 43; Efron & Tibshirani 1993, Ch. 11
    (the jackknife, its bias and standard error); Chong & Forsyth 2020 and Gui et al. 2024, Sec. 3 (extrapolating
    FID/FAD in 1/n).
    """
    from scipy.stats import t as student_t

    X1 = _check_embeddings(reference, "fad_jackknife reference")
    X2 = _check_embeddings(generated, "fad_jackknife generated")
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(f"fad_jackknife: reference has D={X1.shape[1]} but generated has D={X2.shape[1]}")
    if int(n_groups) != n_groups or n_groups < 2:
        raise ValueError(f"fad_jackknife: n_groups must be an integer >= 2, got {n_groups}")
    if not 0 < level < 1:
        raise ValueError(f"fad_jackknife: level must be in (0, 1), got {level}")
    both = np.concatenate([X1, X2])
    live = np.ptp(both, axis=0) > 0  # columns constant (and equal) across both sets add 0 to every term
    X1, X2 = X1[:, live], X2[:, live]
    b1 = _jackknife_blocks(len(X1), reference_groups, n_groups, rng, "reference")
    b2 = _jackknife_blocks(len(X2), generated_groups, n_groups, rng, "generated")
    G = int(n_groups)
    full = _fad_of(X1, X2)
    deleted = np.array([_fad_of(np.delete(X1, r1, axis=0), np.delete(X2, r2, axis=0)) for r1, r2 in zip(b1, b2)])
    bias = (G - 1) * (float(deleted.mean()) - full)
    centre = full - bias
    se = float(np.sqrt((G - 1) / G * ((deleted - deleted.mean()) ** 2).sum()))
    half = float(student_t.ppf(0.5 + level / 2, G - 1)) * se
    return FADInterval(full, max(centre, 0.0), max(centre - half, 0.0), max(centre + half, 0.0), level, se, bias, G,
                       len(X1), len(X2))


def _common_basis(mu1, S1, mu2, S2, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal (D, k) basis of the span of both covariances and the mean difference: projecting both
    Gaussians on it leaves their Fréchet distance unchanged, and k can be far below D (dead embedding units)."""
    d = (mu2 - mu1)[:, None]
    w, V = np.linalg.eigh(S1 + S2 + d @ d.T)
    return V[:, w > rtol * max(float(w.max()), 1e-300)]


def _gaussian_sampler(mu, S):
    w, V = np.linalg.eigh((S + S.T) / 2)
    keep = w > 1e-12 * max(float(w.max()), 1e-300)
    A = V[:, keep] * np.sqrt(w[keep])  # (D, rank): x = mu + A z

    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        return mu + rng.standard_normal((n, A.shape[1])) @ A.T  # (n, D)

    return draw


@dataclass(frozen=True)
class CoverageResult:
    """How often an interval method covers a known true distance over simulated experiments.

    Attributes:
        method: the interval's name.
        true_distance: the Fréchet distance between the two Gaussians the clips were drawn from.
        n_reference, n_generated: clips per simulated set; dim: the embedding dimension.
        covered: (E,) bool, the interval held the truth in experiment e.
        contains_estimate: (E,) bool, the interval held its own estimate.
        estimates, lows, highs, fads: (E,) the interval's estimate and ends, and the plain FAD, per experiment.
        coverage: the share covered with its Wilson 95% interval (it is itself a measurement of E experiments).
    """

    method: str
    true_distance: float
    n_reference: int
    n_generated: int
    dim: int
    covered: np.ndarray
    contains_estimate: np.ndarray
    estimates: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    fads: np.ndarray
    coverage: Interval

    @property
    def n_experiments(self) -> int:
        return len(self.covered)

    def __repr__(self) -> str:
        c = self.coverage
        return (f"{self.method}: covers the true distance {self.true_distance:.4g} in {int(self.covered.sum())} of "
                f"{self.n_experiments} experiments ({c.estimate:.1%}, Wilson 95% CI [{c.low:.1%}, {c.high:.1%}]); "
                f"contains its estimate in {int(self.contains_estimate.sum())}; mean FAD {self.fads.mean():.4g}, "
                f"mean estimate {self.estimates.mean():.4g} ({self.n_reference} vs {self.n_generated} clips, "
                f"D={self.dim})")


def fad_interval_coverage(mu1, S1, mu2, S2, n_reference: int, n_generated: int, rng: np.random.Generator,
                          n_experiments: int = 200, interval: Callable | None = None,
                          method: str = "jackknife") -> CoverageResult:
    """Measure an FAD interval's coverage: draw both sets from known Gaussians many times, count the hits.

    Each experiment draws ``n_reference`` clips' embeddings from N(mu1, S1) and ``n_generated`` from N(mu2, S2),
    runs ``interval(reference, generated, rng)`` (default :func:`fad_jackknife`) and records whether the interval
    holds the true Fréchet distance (computed from the Gaussians themselves) and its own estimate. The Gaussians
    may be singular (fitted to an embedding with dead units); both are projected on the span of their covariances
    and mean difference first, which leaves every distance unchanged and makes the loop fast.

    Args:
        mu1, S1, mu2, S2: the two true Gaussians (e.g. fitted to a real reference set and a generator's clips).
        n_reference, n_generated: the clip counts of the setting to check (the notebook's own).
        rng: seeds everything.
        n_experiments: simulated experiments (200 give the coverage to about +-3 points).
        interval: ``f(reference (M, D), generated (N, D), rng) -> object with .estimate, .low, .high`` (and
            ``.fad``, or ``.estimate`` is taken as the plain FAD). None: :func:`fad_jackknife`.
        method: the name stored in the result.

    Notebook: 06_evaluation.ipynb (section 3: the interval's measured coverage).
    Reference: Efron & Tibshirani 1993, Ch. 12-14 (coverage as the test of an interval method).
    """
    mu1, S1 = _check_stats(mu1, S1, "fad_interval_coverage (reference)")
    mu2, S2 = _check_stats(mu2, S2, "fad_interval_coverage (generated)")
    if len(mu1) != len(mu2):
        raise ValueError(f"fad_interval_coverage: dimensions differ, D={len(mu1)} and D={len(mu2)}")
    if n_experiments < 1 or n_reference < 2 or n_generated < 2:
        raise ValueError(f"fad_interval_coverage: need n_experiments >= 1 and at least 2 clips per set, got "
                         f"{n_experiments}, {n_reference}, {n_generated}")
    truth = frechet_terms(mu1, S1, mu2, S2, check=False).distance
    Q = _common_basis(mu1, S1, mu2, S2)  # (D, k)
    draw1 = _gaussian_sampler(Q.T @ mu1, Q.T @ S1 @ Q)
    draw2 = _gaussian_sampler(Q.T @ mu2, Q.T @ S2 @ Q)
    make = interval if interval is not None else (lambda a, b, r: fad_jackknife(a, b, r))
    rows = []
    for _ in range(int(n_experiments)):
        iv = make(draw1(rng, n_reference), draw2(rng, n_generated), rng)
        plain = float(getattr(iv, "fad", iv.estimate))
        rows.append((iv.low <= truth <= iv.high, iv.low <= iv.estimate <= iv.high, iv.estimate, iv.low, iv.high, plain))
    covered, contains, est, lo, hi, fads = (np.array(c) for c in zip(*rows))
    return CoverageResult(method, float(truth), int(n_reference), int(n_generated), len(mu1), covered.astype(bool),
                          contains.astype(bool), est, lo, hi, fads, wilson_interval(int(covered.sum()), len(covered)))


# =====================================================================================================
# An embedding that hears notes: pitch-class statistics from the audio's chroma
class ChromaStatsEmbedder:
    """A model-free embedder that hears *notes*: key-invariant pitch-class statistics of a clip's chroma.

    ``(N, T) -> (N, 30)``, in percent, from :func:`helpers.audio_quality.chroma` (12 pitch classes per frame, each
    sounding frame of unit length; silent frames are skipped):

    - **pitch-class profile, sorted** (12): the mean chroma, scaled to sum 1, largest first. Music in a key spends
      most of its time on 7 of the 12 pitch classes (a steep profile); uniformly random notes on all 12 (flat).
    - **intervals sounding together** (6): ``mean_t sum_p c_t[p] c_t[p + k]`` for k = 1..6 semitones (interval
      classes): thirds, fourths and fifths in a chorale, every interval alike in random notes.
    - **pitch-class moves** (12): ``mean_t sum_p c_t[p] c_{t+1}[p + k]`` for k = 0..11: how the chroma moves from
      one frame to the next (k = 0: it stays; 5 and 7: by fourths and fifths).

    Sorting and the sums over p make every feature the same in every key. Where :class:`LogMelStatsEmbedder` and
    the classifier hear instrument, register and loudness (which a renderer gives any notes for free), this one
    hears which notes sound together and how they move. A clip without one sounding frame embeds as zeros.

    Notebook: 06_evaluation.ipynb (sections 4, 5 and 8).
    Reference: Müller, *Fundamentals of Music Processing* (2nd ed. 2021), Sec. 3.1.2 (chroma); Krumhansl 1990,
    *Cognitive Foundations of Musical Pitch* (pitch-class profiles of tonal music); interval-class vectors:
    Forte 1973, *The Structure of Atonal Music*.
    """

    dim = 30

    def __init__(self):
        self.name = "chroma statistics (30-d: sorted pitch-class profile, intervals together, pitch-class moves)"

    @staticmethod
    def features(chromagram: np.ndarray) -> np.ndarray:
        """(12, frames) chroma (unit or zero columns) -> (30,) the statistics above, in percent (loops over k)."""
        c = np.asarray(chromagram, dtype=np.float64)
        if c.ndim != 2 or c.shape[0] != 12:
            raise ValueError(f"ChromaStatsEmbedder.features: chroma must be (12, frames), got shape {c.shape}")
        c = c[:, c.sum(axis=0) > 0]  # sounding frames only
        if c.shape[1] == 0:
            return np.zeros(30)
        profile = c.mean(axis=1)
        profile = np.sort(profile / profile.sum())[::-1]  # (12,) largest first
        together = [float(np.mean((c * np.roll(c, -k, axis=0)).sum(axis=0))) for k in range(1, 7)]  # (6,)
        if c.shape[1] > 1:
            moves = [float(np.mean((c[:, :-1] * np.roll(c[:, 1:], -k, axis=0)).sum(axis=0))) for k in range(12)]
        else:
            moves = [0.0] * 12
        return 100.0 * np.concatenate([profile, together, moves])

    def __call__(self, audio, sr: int) -> np.ndarray:
        from .audio_quality import chroma

        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 2 or audio.shape[0] == 0:
            raise ValueError(f"ChromaStatsEmbedder: audio must be (N clips, T samples), got shape {audio.shape}")
        out = np.zeros((audio.shape[0], self.dim))  # (N, 30)
        for i, clip in enumerate(audio):
            if np.abs(clip).max() > 0:
                out[i] = self.features(chroma(clip, sr).numpy())
        return out


def draw_gaussian(mu, S, n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples (n, D) of N(mu, S), also for a singular S (an embedding with dead units): ``mu + z A^T`` with
    ``A A^T = S`` from the eigendecomposition (only the non-zero eigenvalues).

    Notebook: 06_evaluation.ipynb (a known-truth example: clips drawn from Gaussians fitted to real embeddings).
    """
    mu, S = _check_stats(mu, S, "draw_gaussian")
    return _gaussian_sampler(mu, S)(rng, int(n))
