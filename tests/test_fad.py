"""helpers.fad: the Fréchet distance against closed forms, its two square roots, FAD results, FAD-inf, the bootstrap."""
import math
import warnings

import numpy as np
import pytest
import scipy.linalg

from helpers import fad, intervals


# --- Fréchet distance: closed forms ------------------------------------------------------------------
def _random_spd(rng, D, rank=None):
    A = rng.standard_normal((D, rank or D))
    return A @ A.T + (0 if rank else 0.1 * np.eye(D))


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def test_one_dimensional_gaussians_match_the_closed_form():
    # (m1 - m2)^2 + (s1 - s2)^2 for N(1, 2^2) and N(-1, 3^2): 4 + 1
    d = fad.frechet_distance([1.0], [[4.0]], [-1.0], [[9.0]])
    assert _rel(d, 5.0) < 1e-6


def test_diagonal_and_commuting_covariances_match_the_closed_form():
    rng = np.random.default_rng(0)
    D = 6
    a, b = rng.uniform(0.1, 3, D), rng.uniform(0.1, 3, D)
    mu1, mu2 = rng.standard_normal(D), rng.standard_normal(D)
    truth = float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    assert _rel(fad.frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), truth) < 1e-6
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))  # same eigenvectors: S1 and S2 commute
    S1, S2 = Q @ np.diag(a) @ Q.T, Q @ np.diag(b) @ Q.T
    S1, S2 = (S1 + S1.T) / 2, (S2 + S2.T) / 2
    assert _rel(fad.frechet_distance(mu1, S1, mu2, S2), truth) < 1e-6


def test_scaled_covariance_matches_the_closed_form():
    # S2 = c^2 S1 (not diagonal): tr sqrt(S1^1/2 S2 S1^1/2) = c tr S1, so d = |dmu|^2 + (1 - c)^2 tr S1
    rng = np.random.default_rng(1)
    S1 = _random_spd(rng, 8)
    c = 1.7
    dmu = rng.standard_normal(8)
    truth = float(dmu @ dmu + (1 - c) ** 2 * np.trace(S1))
    t = fad.frechet_terms(np.zeros(8), S1, dmu, c**2 * S1)
    assert _rel(t.distance, truth) < 1e-6
    assert _rel(t.tr_sqrt_sqrtm, c * np.trace(S1)) < 1e-6


def test_identical_sets_give_zero_and_the_distance_is_symmetric():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 10)) @ rng.standard_normal((10, 10))
    b = rng.standard_normal((200, 10)) + 0.5
    scale = np.trace(np.cov(a, rowvar=False))
    assert abs(float(fad.frechet_audio_distance(a, a))) < 1e-9 * scale
    ab, ba = float(fad.frechet_audio_distance(a, b)), float(fad.frechet_audio_distance(b, a))
    assert ab > 1.0 and _rel(ab, ba) < 1e-9


def test_identical_sets_with_fewer_samples_than_dimensions_give_zero_not_a_negative_number():
    a = np.random.default_rng(16).standard_normal((10, 64))  # covariance of rank 9
    t = fad.frechet_audio_distance(a, a).terms
    tr = 2 * np.trace(np.cov(a, rowvar=False))
    assert abs(t.distance) < 1e-12 * tr
    naive = tr - 2 * t.tr_sqrt_sqrtm  # what sqrtm alone gives: negative
    assert naive < -1e-8 * tr


def test_singular_covariances_raise_no_scipy_warning_but_the_check_still_runs():
    a = np.random.default_rng(17).standard_normal((50, 16))
    a[:, 0] = 0.0  # a dimension that never varies (a dead unit of an embedding): exactly singular covariances
    b = a + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's "Matrix is singular" LinAlgWarning would fail here
        t = fad.frechet_audio_distance(a, b).terms
    assert np.isfinite(t.tr_sqrt_sqrtm) and t.disagreement < 1e-5 and abs(t.distance - 16 * 0.01) < 1e-9


def test_the_two_square_root_computations_agree_and_report_their_residue():
    rng = np.random.default_rng(3)
    S1, S2 = _random_spd(rng, 12), _random_spd(rng, 12)  # do not commute
    t = fad.frechet_terms(np.zeros(12), S1, np.ones(12), S2)
    assert t.disagreement < 1e-9 and t.imag_residue < 1e-6
    assert _rel(t.tr_sqrt_eig, t.tr_sqrt_sqrtm) < 1e-9
    assert math.isnan(fad.frechet_terms(np.zeros(12), S1, np.ones(12), S2, check=False).tr_sqrt_sqrtm)


def test_a_disagreeing_square_root_raises_a_warning(monkeypatch):
    rng = np.random.default_rng(4)
    S1, S2 = _random_spd(rng, 4), _random_spd(rng, 4)
    real_sqrtm = scipy.linalg.sqrtm
    monkeypatch.setattr(scipy.linalg, "sqrtm", lambda A: 1.5 * real_sqrtm(A))  # a broken square root
    with pytest.warns(UserWarning, match="disagree"):
        t = fad.frechet_terms(np.zeros(4), S1, np.zeros(4), S2)
    assert t.disagreement > 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fad.frechet_terms(np.zeros(4), S1, np.zeros(4), S2, check=False)  # no second computation, no warning


def test_bad_inputs_are_named():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="emb_generated has 1 embedding"):
        fad.frechet_audio_distance(rng.standard_normal((5, 3)), rng.standard_normal((1, 3)))
    with pytest.raises(ValueError, match="D=3 but emb_generated has D=4"):
        fad.frechet_audio_distance(rng.standard_normal((5, 3)), rng.standard_normal((5, 4)))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        fad.frechet_audio_distance(rng.standard_normal(5), rng.standard_normal((5, 1)))
    with pytest.raises(ValueError, match="not symmetric"):
        fad.frechet_distance(np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2))


# --- the lesson's formula ------------------------------------------------------------------------------
def test_lesson_formula_is_not_zero_for_identical_sets():
    D = 64
    assert fad.frechet_distance(np.zeros(D), np.eye(D), np.zeros(D), np.eye(D)) == pytest.approx(0.0, abs=1e-9)
    assert fad.lesson_frechet_distance(np.zeros(D), np.eye(D), np.zeros(D), np.eye(D)) == pytest.approx(
        2 * D - 2 * np.sqrt(D)
    )


def test_lesson_formula_bounds_the_true_one_from_above_and_never_goes_negative():
    # sum sqrt(m_i) >= sqrt(sum m_i): the lesson's value is an upper bound, equal for rank-1 products
    rng = np.random.default_rng(6)
    for trial in range(50):
        D = int(rng.integers(1, 10))
        rank = int(rng.integers(1, D + 1))
        S1, S2 = _random_spd(rng, D, rank), _random_spd(rng, D, int(rng.integers(1, D + 1)))
        mu1, mu2 = rng.standard_normal(D), rng.standard_normal(D)
        true = fad.frechet_distance(mu1, S1, mu2, S2, check=False)
        lesson = fad.lesson_frechet_distance(mu1, S1, mu2, S2)
        assert lesson >= true - 1e-9 * (1 + np.trace(S1) + np.trace(S2))
        assert lesson >= 0
    v = rng.standard_normal((5, 1))
    S = v @ v.T  # rank 1: the two formulas agree
    assert fad.lesson_frechet_distance(np.zeros(5), S, np.zeros(5), 3 * S) == pytest.approx(
        fad.frechet_distance(np.zeros(5), S, np.zeros(5), 3 * S, check=False), rel=1e-6
    )


# --- FAD results, embedders, FAD-inf -----------------------------------------------------------------
def _tones(rng, n, sr=8000, seconds=0.25, low=200, high=800):
    t = np.arange(int(sr * seconds)) / sr
    f = rng.uniform(low, high, n)
    return (0.3 * np.sin(2 * np.pi * f[:, None] * t[None, :])).astype(np.float32)  # (n, T)


def test_fad_result_states_embedding_reference_counts_and_clip_length():
    rng = np.random.default_rng(7)
    emb = fad.LogMelStatsEmbedder(n_mels=4, n_fft=256, hop_length=128)
    assert isinstance(emb, fad.Embedder)
    low, high = _tones(rng, 12, low=200, high=300), _tones(rng, 10, low=1500, high=2500)
    res = fad.fad_from_audio(emb, low, high, 8000, reference="low tones")
    same = fad.fad_from_audio(emb, low, _tones(np.random.default_rng(8), 10, low=200, high=300), 8000, reference="low tones")
    assert float(res) > float(same) > -1e-9
    text = repr(res)
    for part in ("log-mel mean+std (4 bands", "reference: low tones, 12 clips", "generated: 10 clips", "0.25 s clips"):
        assert part in text
    assert "not stated" in repr(fad.frechet_audio_distance(rng.standard_normal((5, 2)), rng.standard_normal((5, 2))))
    with pytest.raises(ValueError, match="differ in length"):
        fad.fad_from_audio(emb, low, low[:, :100], 8000, reference="x")
    with pytest.raises(TypeError, match="embedder"):
        fad.fad_from_audio(lambda a, sr: a, low, low, 8000, reference="x")  # no .name


def test_fad_inf_extrapolates_closer_to_the_truth_than_the_largest_sample():
    # The bias of FAD(n) grows with D^2 / n; FAD-inf removes it (not the noise of the finite generated set).
    # D = 64, N = 1000: over 10 seeded draws FAD-inf's error is a fraction of the largest sample's.
    D, N = 64, 1000
    err_inf, err_largest = [], []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        S1, S2 = _random_spd(rng, D, D) / D + 0.1 * np.eye(D), _random_spd(rng, D, D) / D + 0.1 * np.eye(D)
        mu2 = 0.2 * rng.standard_normal(D) / np.sqrt(D)
        truth = fad.frechet_distance(np.zeros(D), S1, mu2, S2)
        ref = fad.GaussianStats(np.zeros(D), S1, 10**9)  # the exact reference distribution
        gen = rng.multivariate_normal(mu2, S2, size=N)
        res = fad.fad_inf(ref, gen, np.random.default_rng(0), ns=[200, 360, 520, 680, 840, 1000], n_trials=3)
        largest = fad.frechet_distance(ref.mu, ref.sigma, gen.mean(0), np.cov(gen, rowvar=False), check=False)
        assert largest > truth and res.slope > 0 and len(res.fads) == 18  # FAD(n) is biased upwards
        err_inf.append(abs(res.fad_inf - truth))
        err_largest.append(abs(largest - truth))
    assert np.mean(err_inf) < 0.5 * np.mean(err_largest)
    again = fad.fad_inf(ref, gen, np.random.default_rng(0), ns=[200, 360, 520, 680, 840, 1000], n_trials=3)
    assert again.fad_inf == res.fad_inf  # seeded
    assert "FAD-inf" in repr(res) and "r^2" in repr(res)
    with pytest.raises(ValueError, match="2 distinct sample sizes"):
        fad.fad_inf(ref, gen, rng, ns=[100])


def test_fad_bootstrap_fast_path_equals_frechet_terms_per_resample():
    rng = np.random.default_rng(17)
    ref, gen = rng.standard_normal((60, 6)), rng.standard_normal((40, 6)) * 1.3 + 0.2
    stats = fad.gaussian_stats(ref)

    def plain(idx):
        s = fad.gaussian_stats(gen[np.asarray(idx, dtype=int)])
        return fad.frechet_terms(stats.mu, stats.sigma, s.mu, s.sigma, check=False).distance

    for method in ("percentile", "basic"):
        fast = fad.fad_bootstrap(stats, gen, np.random.default_rng(4), n_boot=100, method=method)
        slow = intervals.bootstrap_ci(np.arange(len(gen)), np.random.default_rng(4), plain, n_boot=100, method=method)
        for a, b in zip((fast.estimate, fast.low, fast.high, fast.bias), (slow.estimate, slow.low, slow.high, slow.bias)):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12)
    assert fast.estimate == pytest.approx(fad.frechet_distance(stats.mu, stats.sigma, gen.mean(0), np.cov(gen, rowvar=False)))
    assert fad.fad_bootstrap(ref, gen, np.random.default_rng(4), n_boot=100, method="basic") == fast  # embeddings or stats
    with pytest.raises(ValueError, match="D=5"):
        fad.fad_bootstrap(stats, gen[:, :5], np.random.default_rng(0))


    assert fad.fad_bootstrap(ref, gen, np.random.default_rng(4), n_boot=100, method="basic") == fast  # embeddings or stats
    with pytest.raises(ValueError, match="D=5"):
        fad.fad_bootstrap(stats, gen[:, :5], np.random.default_rng(0))


# --- a bias-corrected FAD whose interval's coverage is measured -------------------------------------------
def test_fad_inf_repr_says_sizes_times_trials():
    rng = np.random.default_rng(0)
    res = fad.fad_inf(fad.GaussianStats(np.zeros(3), np.eye(3), 10**9), rng.standard_normal((200, 3)), rng,
                    ns=[50, 100, 150, 200], n_trials=3)
    assert "n = 50..200: 4 sizes x 3 trials" in repr(res)


def test_fad_jackknife_follows_its_formula_and_contains_its_estimate():
    rng = np.random.default_rng(1)
    X1, X2 = rng.standard_normal((40, 5)), rng.standard_normal((30, 5)) + 0.5
    G = 10
    iv = fad.fad_jackknife(X1, X2, np.random.default_rng(3), n_groups=G)
    # the same blocks by hand: the permutations are drawn reference first, then generated
    r = np.random.default_rng(3)
    b1, b2 = np.array_split(r.permutation(40), G), np.array_split(r.permutation(30), G)
    full = fad.frechet_distance(X1.mean(0), np.cov(X1, rowvar=False), X2.mean(0), np.cov(X2, rowvar=False))
    deleted = np.array([fad._fad_of(np.delete(X1, a, 0), np.delete(X2, b, 0)) for a, b in zip(b1, b2)])
    centre = G * full - (G - 1) * deleted.mean()
    assert iv.fad == pytest.approx(full) and iv.estimate == pytest.approx(centre) and centre > 0
    assert iv.bias == pytest.approx(full - centre) and iv.bias > 0  # FAD is biased upwards
    se = np.sqrt((G - 1) / G * ((deleted - deleted.mean()) ** 2).sum())
    assert iv.se == pytest.approx(se) and iv.high - iv.low == pytest.approx(2 * 2.2621571628 * se, rel=1e-6)  # t_9
    assert iv.estimate in iv and iv.n_reference == 40 and iv.n_generated == 30
    assert "bias-corrected" in repr(iv) and "16 groups" not in repr(iv)


def test_fad_jackknife_clips_at_zero_and_keeps_groups_whole():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 6))
    same = fad.fad_jackknife(X[:30], X[30:], np.random.default_rng(0), n_groups=5)
    assert same.low >= 0 and same.estimate >= 0 and same.estimate in same  # truth 0: never a negative distance
    blocks = fad._jackknife_blocks(12, np.repeat(np.arange(4), 3), 2, np.random.default_rng(0), "x")
    assert sorted(np.concatenate(blocks).tolist()) == list(range(12))
    assert all(len(b) == 6 and len(set(np.arange(12)[b] // 3)) == 2 for b in blocks)  # whole pieces only
    with pytest.raises(ValueError, match="fewer than n_groups=16"):
        fad.fad_jackknife(X[:30], X[30:], rng, generated_groups=np.repeat(np.arange(10), 3))
    with pytest.raises(ValueError, match="D=6 but generated has D=5"):
        fad.fad_jackknife(X, X[:, :5], rng)


def test_fad_jackknife_ignores_dead_units():
    rng = np.random.default_rng(3)
    X1, X2 = rng.standard_normal((50, 4)), rng.standard_normal((40, 4)) * 1.2
    dead = lambda X: np.hstack([X, np.zeros((len(X), 7))])  # noqa: E731 seven units that never fire
    a = fad.fad_jackknife(X1, X2, np.random.default_rng(0), n_groups=8)
    b = fad.fad_jackknife(dead(X1), dead(X2), np.random.default_rng(0), n_groups=8)
    assert (a.fad, a.estimate, a.low, a.high) == pytest.approx((b.fad, b.estimate, b.low, b.high), rel=1e-9)


def test_jackknife_removes_most_of_the_bias_where_plain_fad_is_far_off():
    # D = 24 with n = 60 and 80 clips: FAD's bias is several times its spread; the jackknife's mean is near the truth
    D = 24
    rng = np.random.default_rng(4)
    S1, S2 = _random_spd(rng, D) / D, _random_spd(rng, D) / D
    mu2 = rng.standard_normal(D) * 0.1
    truth = fad.frechet_distance(np.zeros(D), S1, mu2, S2)
    res = fad.fad_interval_coverage(np.zeros(D), S1, mu2, S2, 80, 60, np.random.default_rng(0), n_experiments=60)
    assert res.true_distance == pytest.approx(truth)
    assert res.fads.mean() - truth > 3 * res.fads.std()  # the plain FAD misses by far
    assert abs(res.estimates.mean() - truth) < 0.25 * (res.fads.mean() - truth)
    assert res.contains_estimate.all()


def test_coverage_is_measured_near_nominal_for_the_jackknife_and_far_below_for_the_percentile_bootstrap():
    rng = np.random.default_rng(5)
    D = 6
    S1, S2 = _random_spd(rng, D) / D, _random_spd(rng, D) / D
    mu2 = rng.standard_normal(D) * 0.3
    jack = fad.fad_interval_coverage(np.zeros(D), S1, mu2, S2, 120, 90, np.random.default_rng(0), n_experiments=300)
    assert jack.n_experiments == 300 and 0.91 <= jack.coverage.estimate <= 0.99
    assert jack.coverage == intervals.wilson_interval(int(jack.covered.sum()), 300)
    pct = fad.fad_interval_coverage(np.zeros(D), S1, mu2, S2, 120, 90, np.random.default_rng(0), n_experiments=60,
                                  interval=lambda a, b, r: fad.fad_bootstrap(a, b, r, n_boot=100), method="percentile")
    assert pct.coverage.estimate < jack.coverage.estimate - 0.1 and pct.method == "percentile"
    assert "covers the true distance" in repr(jack) and "of 300 experiments" in repr(jack)


def test_coverage_simulation_handles_singular_gaussians_without_changing_the_distance():
    rng = np.random.default_rng(6)
    D, rank = 20, 5  # an embedding with dead units: both covariances live in the same 5 dimensions
    A = np.zeros((D, rank))
    A[:rank] = rng.standard_normal((rank, rank))
    S1, S2 = A @ A.T, 1.3 * A @ A.T
    mu2 = np.zeros(D)
    mu2[:rank] = 0.5
    Q = fad._common_basis(np.zeros(D), S1, mu2, S2)
    assert Q.shape == (D, rank)
    assert fad.frechet_distance(np.zeros(rank), Q.T @ S1 @ Q, Q.T @ mu2, Q.T @ S2 @ Q) == pytest.approx(
        fad.frechet_distance(np.zeros(D), S1, mu2, S2), rel=1e-9)
    res = fad.fad_interval_coverage(np.zeros(D), S1, mu2, S2, 60, 50, np.random.default_rng(0), n_experiments=20)
    assert res.dim == D and np.isfinite(res.estimates).all()
    with pytest.raises(ValueError, match="dimensions differ"):
        fad.fad_interval_coverage(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4), 10, 10, rng)


# --- an embedding that hears notes ---------------------------------------------------------------------
def _chord(pitches, sr=16000, seconds=1.0):
    t = np.arange(int(sr * seconds)) / sr
    return sum(np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * t) for p in pitches).astype(np.float32) / len(pitches)


def test_chroma_stats_embedder_is_key_invariant_and_hears_random_notes():
    emb = fad.ChromaStatsEmbedder()
    assert isinstance(emb, fad.Embedder) and "chroma" in emb.name
    c_major, d_major = _chord([60, 64, 67]), _chord([62, 66, 69])
    cluster = _chord(list(range(60, 72)))  # all twelve pitch classes at once
    out = emb(np.stack([c_major, d_major, cluster, np.zeros_like(c_major)]), 16000)
    assert out.shape == (4, 30) and np.isfinite(out).all()
    assert np.abs(out[0] - out[1]).max() < 5  # percent  # transposed: nearly the same embedding
    assert out[0, :12].sum() == pytest.approx(100.0) and np.all(np.diff(out[0, :12]) <= 1e-12)  # sorted profile
    assert out[0, 0] > out[2, 0] + 10 and out[2, 11] > out[0, 11] + 3  # a triad is steep, a cluster flat
    assert out[0, 12 + 2] > out[0, 12 + 0] + 10  # a major triad sounds its thirds (k=3, 4), not semitones
    assert np.all(out[3] == 0)  # a silent clip
    # features of a hand-made chromagram: two frames, C then G
    c = np.zeros((12, 2))
    c[0, 0] = c[7, 1] = 1.0
    f = fad.ChromaStatsEmbedder.features(c)
    assert f[:2].tolist() == [50.0, 50.0] and np.all(f[12:18] == 0) and f[18 + 7] == 100.0 and f[18:].sum() == 100.0
    with pytest.raises(ValueError, match="12, frames"):
        fad.ChromaStatsEmbedder.features(np.zeros((11, 3)))


def test_draw_gaussian_matches_mean_and_covariance_also_when_singular():
    rng = np.random.default_rng(8)
    A = rng.standard_normal((6, 2))
    S, mu = A @ A.T, np.arange(6.0)
    X = fad.draw_gaussian(mu, S, 20000, np.random.default_rng(0))
    assert X.shape == (20000, 6) and np.linalg.matrix_rank(X - mu) == 2
    assert np.abs(X.mean(0) - mu).max() < 0.1 and np.abs(np.cov(X, rowvar=False) - S).max() < 0.1 * np.abs(S).max()
