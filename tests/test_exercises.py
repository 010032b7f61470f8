"""Tests of helpers.exercises: the reference solutions, and that the checks catch wrong answers."""
import numpy as np
import pytest

from helpers import exercises as ex

# --- exercise 1 --------------------------------------------------------------------------------------


def test_scale_is_all_steps_and_one_way():
    res = ex.analyze_melody(ex.C_MAJOR_SCALE)
    assert res["step"] == 100.0
    assert res["direction_changes"] == 0 and res["contour_complexity"] == 0.0
    assert res["range"] == 12


def test_twinkle_by_hand():
    # intervals 0 +7 0 +2 0 -2 -2 0 -1 0 -2 0 -2: six unisons, six steps, one leap, one turn (after the A)
    res = ex.analyze_melody(ex.TWINKLE)
    assert res["unison"] == pytest.approx(600 / 13)
    assert res["step"] == pytest.approx(600 / 13)
    assert res["leap"] == pytest.approx(100 / 13)
    assert res["skip"] == res["large_leap"] == 0.0
    assert res["direction_changes"] == 1
    assert res["contour_complexity"] == pytest.approx(1 / 13)
    assert ex.interval_histogram(ex.TWINKLE) == {-2: 4, -1: 1, 0: 6, 2: 1, 7: 1}


def test_zigzag_reaches_one_and_unisons_are_skipped():
    assert ex.contour_complexity([60, 62, 60, 62, 60]) == 0.75  # 3 turns / 4 intervals
    assert ex.contour_complexity([60, 62] * 50) == pytest.approx(98 / 99)  # "~1" for a long zigzag
    assert ex.direction_changes([60, 64, 64, 62]) == 1  # up, (repeat), down
    assert ex.direction_changes([60, 60, 60]) == 0


def test_category_edges():
    pct = ex.interval_category_percentages([60, 60, 62, 66, 73, 81])  # 0, 2, 4, 7, 8
    assert pct == {"unison": 20.0, "step": 20.0, "skip": 20.0, "leap": 20.0, "large_leap": 20.0}


def test_random_walk_is_seeded_and_bounded():
    a = ex.random_walk_melody(np.random.default_rng(42))
    b = ex.random_walk_melody(np.random.default_rng(42))
    c = ex.random_walk_melody(np.random.default_rng(7))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(a) == 20 and a[0] == 60 and np.abs(np.diff(a)).max() <= 5


def test_melody_rejects_bad_input():
    with pytest.raises(ValueError, match="melody"):
        ex.analyze_melody([60])
    with pytest.raises(ValueError, match="MIDI"):
        ex.analyze_melody([60, 200])
    with pytest.raises(TypeError, match="rng"):
        ex.random_walk_melody(42)


def test_check_melody_passes_reference_and_catches_wrong_answer(capsys):
    report = ex.check_melody_analyzer()
    assert not report.failed_required and "✓" in capsys.readouterr().out

    def wrong(melody):  # counts unisons as steps
        res = ex.analyze_melody(melody)
        res["step"] += res["unison"]
        res["unison"] = 0.0
        res["range"] = 0
        return res

    with pytest.raises(AssertionError, match="range 12"):
        ex.check_melody_analyzer(wrong)
    report = ex.check_melody_analyzer(wrong, strict=False)
    assert {p.name for p in report.failed_required} == {"scale: range 12 semitones", "twinkle: mixed intervals (>= 3 categories)"}
    with pytest.raises(KeyError, match="lacks keys"):
        ex.check_melody_analyzer(lambda m: {"step": 100.0})


def test_one_runner_checks_keys_and_converts_values():
    """Both checks that run a learner's metrics function go through _run_answer: missing keys name the input,
    counts come back as int, the rest as float, and a function that still returns None runs the reference."""
    calls = []

    def answer(x):
        calls.append(x)
        return {"a": np.int64(3), "b": np.float32(0.5)}

    results, source = ex._run_answer("check_x", answer, None, {"one": [1, 2], "two": [3]}, ("a", "b"), whole=("a",))
    assert source == "your answer" and results == {"one": {"a": 3, "b": 0.5}, "two": {"a": 3, "b": 0.5}}
    assert type(results["one"]["a"]) is int and type(results["one"]["b"]) is float
    assert calls == [[1, 2], [1, 2], [3]]  # the probe, then every input
    results, source = ex._run_answer("check_x", lambda x: None, lambda x: {"a": len(x)}, {"one": [1, 2]}, ("a",))
    assert source == "reference solution" and results == {"one": {"a": 2.0}}
    with pytest.raises(KeyError, match=r"check_x: the result for 'two' lacks keys \['b'\]"):
        ex._run_answer("check_x", lambda x: {"a": 1, "b": 2} if len(x) > 1 else {"a": 1}, None,
                       {"one": [1, 2], "two": [3]}, ("a", "b"))
    with pytest.raises(KeyError, match="check_rhythm_evaluator: the result for 'metronome' lacks keys"):
        ex.check_rhythm_evaluator(lambda onsets: {"n_onsets": len(onsets)})


def test_midi_to_hz_exists_once():
    from helpers import audio

    assert ex.midi_to_hz is audio.midi_to_hz and float(ex.midi_to_hz(69)) == 440.0


# --- exercise 2 --------------------------------------------------------------------------------------


def test_transition_matrix_is_stochastic_and_respects_the_lesson():
    m = ex.check_transition_matrix(ex.TRANSITIONS)
    idx = {c: i for i, c in enumerate(ex.NUMERALS)}
    assert set(np.flatnonzero(m[idx["ii"]])) == {idx["V"]}
    assert set(np.flatnonzero(m[idx["vii°"]])) == {idx["I"]}
    assert set(np.flatnonzero(m[idx["V"]])) == {idx["I"], idx["vi"]}
    assert m[idx["V"], idx["I"]] > m[idx["V"], idx["vi"]]
    with pytest.raises(ValueError, match="sums to"):
        ex.check_transition_matrix(m * 0.5)
    with pytest.raises(ValueError, match="shape"):
        ex.check_transition_matrix(np.eye(3))


def test_progression_is_seeded_and_legal():
    a = ex.generate_progression(np.random.default_rng(42))
    assert a == ex.generate_progression(np.random.default_rng(42))
    assert len(a) == 8 and a[0] == "I"
    counts = ex.transition_counts(a)
    assert counts.sum() == 7 and not ((counts > 0) & (ex.TRANSITIONS == 0)).any()
    with pytest.raises(ValueError, match="numeral"):
        ex.generate_progression(np.random.default_rng(0), start="VIII")


def test_cadence_counts_by_hand():
    prog = ["I", "IV", "V", "I", "vi", "ii", "V", "vi", "IV", "I", "vii°", "I"]
    assert ex.cadence_counts(prog) == {"V→I": 1, "vii°→I": 1, "IV→I": 1, "V→vi": 1}
    assert ex.strong_resolutions(prog) == 2


def test_expected_cadences_match_simulation():
    exact = ex.expected_cadence_counts(8)
    sim = ex.simulated_cadence_counts(np.random.default_rng(0), 3000).mean(axis=0)
    assert np.allclose(list(exact.values()), sim, atol=0.05)
    assert max(exact, key=exact.get) == "V→I"


def test_consonance_of_known_chords():
    assert ex.chord_consonance([60, 64, 67]) == 1.0  # major
    assert ex.chord_consonance([60, 63, 67]) == 1.0  # minor
    assert ex.chord_consonance([60, 63, 66]) == pytest.approx(2 / 3)  # diminished: the tritone
    assert ex.chord_consonance([60, 61, 62]) == 0.0  # cluster
    assert ex.chord_consonance([60, 72]) == 1.0  # octave folds onto 1/1
    assert ex.chord_consonance([60, 64], tolerance_cents=10) == 0.0  # tempered third is 13.7 cents off 5/4
    with pytest.raises(ValueError, match="2 pitches"):
        ex.chord_consonance([60])


def test_synthesized_chords_have_the_right_length_and_pitches():
    audio = ex.synthesize_chords([ex.TRIADS["I"], ex.TRIADS["V"]], seconds=0.5, sr=16000)
    assert audio.dtype == np.float32 and len(audio) == 16000 and np.abs(audio).max() <= 1
    assert np.allclose(ex.spectral_peaks(audio[8000:], 16000, 3), ex.midi_to_hz(ex.TRIADS["V"]), atol=3)


def test_progression_piece():
    piece = ex.progression_piece(["I", "V", "I"])
    assert len(piece) == 9 and piece.duration_quarters == 3.0 and piece.qpm == 120.0
    assert sorted(piece.notes.pitch[piece.notes.onset == 1.0].tolist()) == [67, 71, 74]


def test_check_chord_progression_reference_and_wrong_answers():
    report = ex.check_chord_progression()
    assert not report.failed_required
    with pytest.raises(AssertionError, match="starting on I"):
        ex.check_chord_progression(generate=lambda rng: ["V"] + ex.generate_progression(rng)[1:])
    with pytest.raises(AssertionError, match="same seed"):
        counter = iter(range(100))
        ex.check_chord_progression(generate=lambda rng: ex.generate_progression(np.random.default_rng(next(counter))))
    with pytest.raises(AssertionError, match="diminished"):
        ex.check_chord_progression(consonance=lambda p: 1.0)


# --- exercise 3 --------------------------------------------------------------------------------------


def test_patterns():
    pats = ex.rhythm_patterns(42)
    assert np.allclose(pats["metronome"], np.arange(8) * 0.25)
    assert np.allclose(pats["swing"], [0, 0.33, 0.5, 0.83, 1.0, 1.33, 1.5, 1.83])
    assert len(pats["human"]) == 8 and np.abs(pats["human"] - pats["metronome"]).max() < 0.1
    assert len(pats["random"]) == 16 and np.all(np.diff(pats["random"]) > 0)
    assert np.array_equal(pats["random"], ex.rhythm_patterns(42)["random"])


def test_rhythm_metrics_known_values():
    metro = ex.evaluate_rhythm(ex.metronome_pattern())
    assert metro["ioi_cv"] == 0.0 and metro["swing_ratio"] == 1.0 and metro["tempo_stability"] == 1.0
    assert metro["mean_ioi"] == 0.25 and metro["n_onsets"] == 8
    assert ex.swing_ratio(ex.swing_pattern()) == pytest.approx(0.33 / 0.17)
    # IOIs 1, 2 -> mean 1.5, std 0.5, CV 1/3
    assert ex.ioi_cv([0, 1, 3]) == pytest.approx(1 / 3)
    # local tempi of [1,1,1,2,2,2] IOIs in windows of 3: 1, 4/3, 5/3, 2 -> var/mean^2
    on = np.concatenate([[0], np.cumsum([1, 1, 1, 2, 2, 2])])
    local = np.array([1, 4 / 3, 5 / 3, 2])
    assert ex.tempo_stability(on) == pytest.approx(1 - local.var() / local.mean() ** 2)
    assert ex.tempo_stability(ex.metronome_pattern(), method="local_cv") == 1.0
    assert ex.tempo_stability(ex.swing_pattern(), method="local_cv") < ex.tempo_stability(ex.swing_pattern())


def test_rhythm_rejects_bad_input():
    with pytest.raises(ValueError, match="increasing"):
        ex.evaluate_rhythm([0, 0.5, 0.4, 1.0])
    with pytest.raises(ValueError, match="method"):
        ex.tempo_stability(ex.metronome_pattern(), method="x")
    with pytest.raises(ValueError, match="at least"):
        ex.evaluate_rhythm([0, 1])


def test_click_track_places_clicks_at_onsets():
    sr = 8000
    audio = ex.click_track([0.0, 0.5, 1.0], sr=sr, lead_in=0.1)
    assert audio.dtype == np.float32 and np.abs(audio).max() == pytest.approx(1.0)
    starts = np.flatnonzero(np.abs(audio) > 0.05)
    first_of_each = starts[np.r_[True, np.diff(starts) > 100]]
    assert np.allclose(first_of_each / sr, [0.1, 0.6, 1.1], atol=2 / sr)


def test_check_rhythm_reference_and_wrong_answer():
    report = ex.check_rhythm_evaluator()
    assert not report.failed_required and all(p.holds for p in report.properties)

    def inverted_swing(onsets):
        res = ex.evaluate_rhythm(onsets)
        res["swing_ratio"] = 1 / res["swing_ratio"]
        return res

    with pytest.raises(AssertionError, match="swing: ratio"):
        ex.check_rhythm_evaluator(inverted_swing)
    assert "Exercise 3" in ex.summary_table([report]) and "✓ holds" in ex.summary_table([report])


def test_unanswered_learner_cells_fall_back_to_the_reference(capsys):
    def my_melody_analyzer(melody):
        return None  # the empty learner cell

    report = ex.check_melody_analyzer(my_melody_analyzer)
    assert report.source == "reference solution" and not report.failed_required
    report = ex.check_chord_progression(generate=lambda rng: None, consonance=lambda p: ex.chord_consonance(p))
    assert report.source == "reference generator and your consonance"
    assert ex.check_rhythm_evaluator(lambda onsets: None).source == "reference solution"
    assert ex.check_rhythm_evaluator(ex.evaluate_rhythm).source == "your answer"


def test_legality_follows_the_lessons_moves_not_our_weights():
    # Our weights are a subset of the lesson's moves; I -> I is allowed by the lesson though we never draw it.
    assert not ((ex.TRANSITIONS > 0) & ~ex.ALLOWED_MOVES).any()
    i = ex.NUMERALS.index("I")
    assert ex.ALLOWED_MOVES[i].all() and ex.TRANSITIONS[i, i] == 0
    tonic_repeat = ["I", "I", "V", "I", "IV", "V", "I", "I"]  # only moves the lesson allows
    report = ex.check_chord_progression(generate=lambda rng: tonic_repeat, strict=False)
    legal = next(p for p in report.properties if p.name == "only moves the lesson allows")
    assert legal.holds
    report = ex.check_chord_progression(generate=lambda rng: ["I", "IV", "ii", "V", "I", "V", "I", "I"], strict=False)
    legal = next(p for p in report.properties if p.name == "only moves the lesson allows")
    assert not legal.holds and "IV→ii" in legal.detail
