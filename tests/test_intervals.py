"""helpers.intervals: bootstrap intervals (vectorised = loop, basic vs percentile), Wilson, rank correlation."""
import numpy as np
import pytest

from helpers import intervals


# --- bootstrap, rank correlation -----------------------------------------------------------------------
def test_bootstrap_ci_contains_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(14)
    big = rng.normal(3.0, 1.0, 5000)
    ci = intervals.bootstrap_ci(big, np.random.default_rng(0))
    assert big.mean() in ci and 3.0 in ci and ci.low < ci.estimate < ci.high
    small = intervals.bootstrap_ci(big[:100], np.random.default_rng(0))
    ratio = (small.high - small.low) / (ci.high - ci.low)
    assert 5 < ratio < 10  # about sqrt(5000 / 100) = 7.1
    assert intervals.bootstrap_ci(big[:100], np.random.default_rng(0)) == small  # same seed, same interval


def test_bootstrap_vectorised_path_equals_the_loop():
    x = np.random.default_rng(15).exponential(size=50)
    for stat in (np.mean, np.median):
        fast = intervals.bootstrap_ci(x, np.random.default_rng(1), stat, n_boot=500)
        plain = intervals.bootstrap_ci(x, np.random.default_rng(1), stat, n_boot=500, vectorized=False)
        assert fast == plain
    pairs = np.c_[x, x + 1]  # rows are items
    for stat in (np.mean, np.median, np.std):  # (n, k): the reduction pools a resample's values, as the loop does
        fast = intervals.bootstrap_ci(pairs, np.random.default_rng(3), stat, n_boot=500)
        plain = intervals.bootstrap_ci(pairs, np.random.default_rng(3), stat, n_boot=500, vectorized=False)
        assert fast == plain
        assert fast.estimate == pytest.approx(stat(pairs)) and fast.low < fast.estimate < fast.high
    with pytest.raises(ValueError, match="one number per resample"):
        intervals.bootstrap_ci(pairs, np.random.default_rng(3), lambda s, axis: np.mean(s, axis=1), vectorized=True)
    ci = intervals.bootstrap_ci(pairs, np.random.default_rng(2), lambda s: np.mean(s[:, 1] - s[:, 0]), n_boot=100)
    assert ci.low == pytest.approx(1) and ci.high == pytest.approx(1)
    with pytest.raises(ValueError, match="at least 2 items"):
        intervals.bootstrap_ci([1.0], np.random.default_rng(0))


def test_rank_correlation():
    names, rho, p = intervals.rank_correlation(
        {"fad": [1, 2, 3, 4, 5], "oa": [0.9, 0.8, 0.5, 0.4, 0.1], "copy": [1, 4, 9, 16, 25],
         "const": [2, 2, 2, 2, 2], "gappy": [1, np.nan, 3, 4, 5]}
    )
    i = {k: names.index(k) for k in names}
    assert rho[i["fad"], i["copy"]] == pytest.approx(1) and rho[i["fad"], i["oa"]] == pytest.approx(-1)
    assert np.isnan(rho[i["const"], i["fad"]]) and rho[i["gappy"], i["fad"]] == pytest.approx(1)
    with pytest.raises(ValueError, match="different numbers"):
        intervals.rank_correlation({"a": [1, 2, 3], "b": [1, 2]})


def test_wilson_interval_known_values_and_errors():
    from helpers.intervals import wilson_interval

    half = wilson_interval(5, 10)  # Brown, Cai & DasGupta 2001: the Wilson interval of 5/10 is [0.2366, 0.7634]
    assert half.estimate == 0.5 and abs(half.low - 0.23659) < 1e-4 and abs(half.high - 0.76341) < 1e-4
    none, all_ = wilson_interval(0, 10), wilson_interval(10, 10)
    assert none.low == 0.0 and abs(none.high - 0.27753) < 1e-4  # not empty at 0 successes
    assert abs(all_.low - (1 - none.high)) < 1e-12 and all_.high == 1.0  # mirror image
    assert wilson_interval(40, 100).high - wilson_interval(40, 100).low < half.high - half.low  # narrows with n
    for bad in [(3, 0), (-1, 5), (6, 5)]:
        with pytest.raises(ValueError, match="wilson_interval"):
            wilson_interval(*bad)
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 2, level=1.0)


def test_basic_interval_is_the_percentile_interval_reflected_and_corrects_a_known_bias():
    # The squared norm of a sample mean: the truth is 0 for N(0, I) data, the plug-in estimate |x̄|^2 is biased
    # upwards by tr(S)/n, and the bootstrap's bias estimate E*|x̄*|^2 - |x̄|^2 is exactly tr(S_ddof0)/n.
    D, n = 50, 40
    x = np.random.default_rng(16).standard_normal((n, D))
    sq = lambda s: float(np.sum(s.mean(axis=0) ** 2))  # noqa: E731
    pct = intervals.bootstrap_ci(x, np.random.default_rng(3), sq, n_boot=4000)
    basic = intervals.bootstrap_ci(x, np.random.default_rng(3), sq, n_boot=4000, method="basic")
    assert pct.method == "percentile" and basic.method == "basic" and pct.estimate == basic.estimate
    assert basic.low == pytest.approx(2 * pct.estimate - pct.high) and basic.high == pytest.approx(2 * pct.estimate - pct.low)
    assert pct.basic() == basic  # the same interval from the same resamples
    with pytest.raises(ValueError, match="percentile"):
        basic.basic()
    expected_bias = np.trace(np.cov(x, rowvar=False, ddof=0)) / n
    assert pct.bias == pytest.approx(expected_bias, rel=0.05) and basic.bias == pct.bias
    assert pct.low > pct.estimate  # the caveat: the percentile interval lies above the estimate ...
    assert 0.0 not in pct and 0.0 in basic  # ... and misses the truth, which the basic interval holds
    with pytest.raises(ValueError, match="method"):
        intervals.bootstrap_ci(x, np.random.default_rng(0), sq, method="bca")
