"""Tests of helpers.review: spectral features on signals with known answers, AP against an independent
computation, post-processing on events with known boundaries."""
import numpy as np
import pytest

from helpers import review as rv

SR = 16000

# --- spectral features -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signals():
    return rv.example_signals(np.random.default_rng(42), sr=SR)


def test_centroids_match_known_answers(signals):
    expected = rv.expected_centroids(SR)
    for name, x in signals.items():
        tol = {"white_noise": 60.0, "sweep": 40.0}.get(name, 0.5)  # exact for tones, statistical otherwise
        assert rv.spectral_centroid(x, SR) == pytest.approx(expected[name], abs=tol), name


def test_centroid_of_other_tones():
    t = np.arange(SR) / SR
    for f in (100.0, 1234.0, 5000.0):
        assert rv.spectral_centroid(np.sin(2 * np.pi * f * t), SR) == pytest.approx(f, abs=1e-6)


def test_flatness_known_answers(signals):
    impulse = np.r_[1.0, np.zeros(1023)]
    assert rv.spectral_flatness(impulse) == pytest.approx(1.0)
    assert rv.spectral_flatness(impulse, power=True) == pytest.approx(1.0)
    assert rv.spectral_flatness(signals["pure_440"]) < 1e-3
    # white noise: Rayleigh magnitudes give 0.846, exponential powers 0.561, not 1
    assert rv.spectral_flatness(signals["white_noise"]) == pytest.approx(rv.WHITE_NOISE_FLATNESS_MAGNITUDE, abs=0.01)
    assert rv.spectral_flatness(signals["white_noise"], power=True) == pytest.approx(rv.WHITE_NOISE_FLATNESS_POWER, abs=0.02)
    flat = {name: rv.spectral_flatness(x) for name, x in signals.items()}
    assert max(flat, key=flat.get) == "white_noise"


def test_temporal_variation_orders_steady_and_changing_sounds(signals):
    t = np.arange(SR) / SR
    steady = np.sin(2 * np.pi * 440 * t)
    wobbly = steady * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
    assert rv.temporal_variation(steady) < 1e-3 * rv.stft_magnitude(steady).max()
    assert rv.temporal_variation(wobbly) > 100 * rv.temporal_variation(steady)
    assert rv.temporal_variation(2 * wobbly) == pytest.approx(2 * rv.temporal_variation(wobbly))  # not normalised
    assert rv.stft_magnitude(steady).shape == (513, (SR - 1024) // 256 + 1)


def test_stft_matches_a_direct_frame():
    x = np.random.default_rng(0).standard_normal(4096)
    spec = rv.stft_magnitude(x, n_fft=512, hop=128)
    assert np.allclose(spec[:, 3], np.abs(np.fft.rfft(x[384:896] * np.hanning(512))))
    with pytest.raises(ValueError, match="n_fft"):
        rv.stft_magnitude(x[:100], n_fft=512)


# --- average precision -------------------------------------------------------------------------------


def test_ap_hand_example():
    # ranking + - + - : precision at the positives 1/1 and 2/3
    assert rv.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert rv.average_precision([1, 1, 0], [3, 2, 1]) == 1.0
    assert rv.average_precision([0, 0, 1], [3, 2, 1]) == pytest.approx(1 / 3)
    assert np.isnan(rv.average_precision([0, 0], [1, 2]))


def test_ap_agrees_with_independent_computation_on_random_data_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        y = rng.integers(0, 2, n)
        y[0] = 1
        s = rng.integers(0, 5, n).astype(float)  # many ties
        assert rv.average_precision(y, s) == pytest.approx(rv.average_precision_at_positives(y, s))


def test_ties_do_not_depend_on_order_but_rank_version_does():
    y, s = np.array([1, 0, 1, 0]), np.zeros(4)
    assert rv.average_precision(y, s) == 0.5 == rv.average_precision(y[::-1], s)  # all tied: the prevalence
    assert rv.average_precision_by_rank(y, s) != rv.average_precision_by_rank(y[::-1], s)
    s = np.array([0.9, 0.8, 0.7, 0.1])  # without ties the rank version agrees
    assert rv.average_precision_by_rank(y, s) == pytest.approx(rv.average_precision(y, s))


def test_pr_curve_and_worst_case():
    p, r, th = rv.precision_recall_curve([1, 0, 1, 1], [0.9, 0.5, 0.5, 0.1])
    assert np.allclose(th, [0.9, 0.5, 0.1]) and np.allclose(r, [1 / 3, 2 / 3, 1]) and np.allclose(p, [1, 2 / 3, 3 / 4])
    y = np.array([1, 1, 0, 0, 0])
    assert rv.worst_average_precision(y) == pytest.approx(rv.average_precision(y, [0, 0.1, 1, 2, 3]))
    with pytest.raises(ValueError, match="no positive"):
        rv.precision_recall_curve([0, 0], [1, 2])
    with pytest.raises(ValueError, match="same length"):
        rv.average_precision([1, 0], [1, 2, 3])
    with pytest.raises(ValueError, match="0 and 1"):
        rv.average_precision([2, 0], [1, 2])


def test_map_of_demo_classes():
    Y, S = rv.multilabel_demo(np.random.default_rng(42))
    aps, m = rv.mean_average_precision(Y, S)
    assert aps.shape == (5,) and m == pytest.approx(aps.mean())
    assert aps[0] == 1.0 and aps[2] == 1.0  # "moderate" scores separate the classes perfectly at 0.5
    assert aps[4] == pytest.approx(rv.worst_average_precision(Y[4]))  # inverted = worst possible ranking
    assert np.all(np.diff(aps) <= 1e-12)  # non-increasing order
    Y[3] = 0
    aps, m = rv.mean_average_precision(Y, S)
    assert np.isnan(aps[3]) and m == pytest.approx(np.nanmean(aps))


# --- post-processing ---------------------------------------------------------------------------------


def test_find_runs_with_events_touching_both_edges():
    rows, s, e = rv.find_runs(np.array([[1, 1, 0, 1, 0, 1], [0, 0, 0, 0, 0, 0]]))
    assert rows.tolist() == [0, 0, 0] and s.tolist() == [0, 3, 5] and e.tolist() == [2, 4, 6]
    with pytest.raises(ValueError, match="binary"):
        rv.find_runs(np.array([[0, 2]]))


def test_fill_gaps_fills_only_short_interior_gaps():
    b = np.array([[0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0]])
    assert rv.fill_gaps(b, 2).astype(int).tolist() == [[0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0]]
    assert rv.fill_gaps(b, 3).astype(int).tolist() == [[0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]]
    assert rv.fill_gaps(b, 0).tolist() == b.astype(bool).tolist()


def test_remove_short_keeps_events_of_exactly_min_length():
    b = np.array([[1, 1, 0, 1, 1, 1, 0, 1]])
    assert rv.remove_short(b, 3).astype(int).tolist() == [[0, 0, 0, 1, 1, 1, 0, 0]]
    with pytest.raises(ValueError, match="min_frames"):
        rv.remove_short(b, 0)


def test_lesson_scenario_recovers_planted_events():
    stages = rv.postprocess(rv.sed_predictions(np.random.default_rng(42)))
    truth = sorted(rv.LESSON_EVENTS, key=lambda e: (e[1], rv.SED_CLASSES.index(e[0])))
    for b in stages.values():  # noise stays below the threshold: every stage already equals the truth
        assert rv.extract_events(b) == truth


def test_pipeline_repairs_dropouts_and_removes_blips():
    events = [("Speech", 3, 120), ("Music", 50, 250), ("Dog", 280, 312)]
    dropouts = [("Speech", 60, 63), ("Music", 150, 155)]
    blips = [("Speech", 200, 204), ("Dog", 100, 107)]
    probs = rv.sed_predictions(np.random.default_rng(1), events, dropouts=dropouts, blips=blips)
    stages = rv.postprocess(probs, max_gap=5, min_frames=8)
    assert len(rv.extract_events(stages["threshold"])) == 7
    assert len(rv.extract_events(stages["gap_fill"])) == 5
    assert rv.extract_events(stages["min_duration"]) == sorted(events, key=lambda e: e[1])
    assert np.array_equal(stages["min_duration"], rv.events_to_binary(events, 312))


def test_events_to_binary_round_trip_and_errors():
    events = [("Speech", 0, 5), ("Dog", 3, 9)]
    assert rv.extract_events(rv.events_to_binary(events, 10)) == events
    with pytest.raises(ValueError, match="unknown class"):
        rv.events_to_binary([("Cat", 0, 3)], 10)
    with pytest.raises(ValueError, match="does not fit"):
        rv.events_to_binary([("Dog", 5, 20)], 10)


def test_runs_to_mask_inverts_find_runs():
    b = np.random.default_rng(3).integers(0, 2, size=(4, 50)).astype(bool)
    b[:, 0], b[:, -1] = True, True  # runs touching both edges
    assert np.array_equal(rv.runs_to_mask(b.shape, *rv.find_runs(b)), b)
    assert not rv.runs_to_mask((2, 5), np.array([], int), np.array([], int), np.array([], int)).any()


def test_plots_draw_one_panel_or_curve_per_item():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sigs = rv.example_signals(np.random.default_rng(0), sr=8000, seconds=0.5)
    fig = rv.plot_spectrograms(sigs, 8000)
    assert [ax.get_title() for ax in fig.axes] == list(sigs)
    Y, S = rv.multilabel_demo(np.random.default_rng(42))
    ax = rv.plot_pr_curves(Y, S, rv.MULTILABEL_CLASSES)
    assert len(ax.get_lines()) == 5 and "AP 1.00" in ax.get_legend().get_texts()[0].get_text()
    stages = rv.postprocess(rv.sed_predictions(np.random.default_rng(42)))
    fig = rv.plot_event_stages(stages)
    assert len(fig.axes) == 3 and fig.axes[0].get_title(loc="left").endswith("5 events")
    plt.close("all")


def test_average_precision_matches_scikit_learn():
    """The docstring's claim: AP from the PR curve is scikit-learn's ``average_precision_score`` (which also groups
    tied scores into one threshold), on random labels with and without ties; mAP is its macro average."""
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    worst = 0.0
    for i in range(300):
        n = int(rng.integers(2, 60))
        y = rng.random(n) < rng.random()
        y[int(rng.integers(n))] = True  # at least one positive (AP is undefined without)
        s = rng.integers(0, 5, n).astype(float) if i % 2 else rng.random(n)  # odd draws: many ties
        worst = max(worst, abs(rv.average_precision(y, s) - metrics.average_precision_score(y, s)))
    assert worst < 1e-12
    Y, S = rv.multilabel_demo(np.random.default_rng(42), n=40)
    _, m_ap = rv.mean_average_precision(Y, S)
    assert abs(m_ap - metrics.average_precision_score(Y.T, S.T, average="macro")) < 1e-12
