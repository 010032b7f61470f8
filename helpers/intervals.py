"""Uncertainty and agreement of measurements: bootstrap and Wilson intervals, rank correlation between metrics.

================================  ==========================================================================
part                              what it computes (and where it comes from)
================================  ==========================================================================
:class:`Interval`                 a statistic with its interval, level, sample size, method and bias
:func:`bootstrap_ci`              percentile or basic (pivot) bootstrap 95% intervals, with the bootstrap's
                                  bias estimate (Efron & Tibshirani 1993, Ch. 10 and 13)
:func:`wilson_interval`           the Wilson score interval of a proportion (Wilson 1927)
:func:`rank_correlation`          Spearman's rho between metrics over the leaderboard's generators
================================  ==========================================================================

Notebook: 05_musicgen.ipynb (control accuracy), 06_evaluation.ipynb (every interval of the leaderboard).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np


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
