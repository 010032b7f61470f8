"""Tests of helpers.solutions: every check passes the reference answer, stops a wrong one, waits for a missing one."""
import numpy as np
import pytest
import torch

from helpers import solutions as sol
from helpers.solutions import EXERCISES, NOT_ANSWERED, check, show_solution

from helpers import exercises as ex

# One wrong answer per exercise (a tuple: one entry per answer, or a function that builds it when the test runs):
# plausible mistakes a learner makes.
WRONG = {
    "coarser_grid": ({"chorales": 0.30, "folk": 0.10},),  # the wrong way round (and wrong values)
    "copy_share": (0.5,),
    "intervals": (lambda m: np.diff(m)[::-1],),  # reversed
    "copy_detector": (lambda sample, train: 0,),  # always the first tune
    "fixed_seed_trap": (lambda transitions, seed, n: list(seed) + [int(x) for x in np.random.default_rng().integers(60, 72, n)],),
    "skew_by_loop": (lambda x: x.clone(),),  # forgot to skew
    "per_head_params": (lambda n_layer, n_head, max_rel, d_head: n_layer * n_head * max_rel * d_head,),  # one head too many
    "ap_11_point": (lambda y, s: 0.5,),
    "lesson_exact": (lambda D: (np.eye(D), np.eye(D)),),  # identical full-rank covariances: lesson gives 2D - 2 sqrt(D)
    "clip_counts": (lambda e, k: np.asarray(e)[: len(e) // 6 * k],),  # the first clips of the set, not of each piece
    "chroma_embedder": (type("MeanOnly", (), {"name": "chroma mean", "__call__":  # forgot the standard deviations
                                              lambda self, a, sr: sol.ChromaMeanStdEmbedder()(a, sr)[:, :12]})(),),
    "temperature": (lambda t, n: sol.sample_at_reference(2.0 - t, n),),  # temperature the wrong way round
    "closest_rater": (lambda answers: "simulated-2",),  # always the same rater
    "solo_halves": (lambda attrs, rng: (np.arange(len(attrs))[::2], np.arange(len(attrs))[1::2]),),  # every clip
    "another_hop": (lambda steps, seed=0, **changes: sol.train_level_reference(steps, seed),),  # changes dropped
    "restarts_longer": (lambda steps, seed=0, **changes: sol.ablation_usage_reference(steps, seed),),  # ditto
    "no_stft_loss": lambda: (sol.train_level_reference(20),),  # the STFT loss still on (built when the test runs)
    "level_temperature": (lambda t, seconds=1.0, seed=0: sol.sample_levels_reference(1.0, seconds, seed),),
    "faster_upsampler": (lambda up: up,),  # the shipped one, two layers
    "melody_analyzer": (lambda m: {k: 0.0 for k in ex.MELODY_METRICS},),
    "chord_progression": (lambda rng: ["V"] * 8, ex.chord_consonance),  # does not start on I, V -> V not allowed
    "rhythm_evaluator": (lambda on: {"n_onsets": len(on), "mean_ioi": 0.25, "ioi_cv": 0.1, "swing_ratio": 1.0,
                                     "tempo_stability": 1.0},),
}


def reference_answer(name):
    if name == "coarser_grid":
        return ({k: sol.moved_share_reference(v, 2) for k, v in sol._corpora_01().items()},)
    if name == "copy_share":
        return (sol.copy_share_reference(),)
    if name == "chroma_embedder":
        return (sol.ChromaMeanStdEmbedder(),)  # an instance: the answer is an embedder object
    if name == "no_stft_loss":
        return (sol.mel_only_level_reference(20),)  # an object answer: a level trained briefly
    if name == "chord_progression":
        return (ex.generate_progression, ex.chord_consonance)
    return (EXERCISES[name].references[0],)


def test_every_exercise_has_a_wrong_answer_here():
    assert set(WRONG) == set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_check_passes_the_reference_and_stops_a_wrong_answer(name, capsys):
    check(name, *reference_answer(name))
    out = capsys.readouterr().out
    assert "✓" in out and NOT_ANSWERED not in out
    assert "✗" not in out  # every property and claim holds for the reference answer (none exempted)
    with pytest.raises(AssertionError, match="✗|required properties fail"):
        check(name, *(WRONG[name]() if callable(WRONG[name]) else WRONG[name]))


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_missing_answer_is_not_answered_yet_and_shows_nothing(name, capsys):
    unanswered = [None if probe is None else (lambda *args: None) for probe in EXERCISES[name].probes]
    assert check(name, *unanswered) is None
    out = capsys.readouterr().out
    assert NOT_ANSWERED in out and f"show_solution({name!r})" in out
    assert "def " not in out and "✓" not in out  # neither the reference's source nor its results


def test_function_raising_not_implemented_is_not_answered(capsys):
    def skew_by_loop(x):
        raise NotImplementedError

    assert check("skew_by_loop", skew_by_loop) is None
    assert NOT_ANSWERED in capsys.readouterr().out


def test_show_solution_prints_the_reference_source(capsys):
    show_solution("skew_by_loop")
    out = capsys.readouterr().out
    assert "def skew_by_loop_reference" in out and "L - 1 - i" in out
    with pytest.raises(KeyError, match="no exercise named 'nope'"):
        show_solution("nope")
    with pytest.raises(TypeError, match="takes 1 answer"):
        check("skew_by_loop", None, None)


def test_skew_reference_really_is_a_loop_equal_to_the_skew():
    from helpers.attention import causal_mask, skew

    x = torch.randn(4, 7, 7, dtype=torch.float64)
    keep = ~causal_mask(7, 7)
    assert torch.equal(sol.skew_by_loop_reference(x)[..., keep], skew(x)[..., keep])


NOTEBOOKS = __import__("pathlib").Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("notebook", sorted({e.notebook for e in EXERCISES.values()}))
def test_every_registered_exercise_has_a_check_cell_in_its_notebook(notebook):
    import re

    source = (NOTEBOOKS / f"{notebook}.py").read_text()
    called = set(re.findall(r'check\("([a-z_0-9]+)"', source))
    assert {e.name for e in EXERCISES.values() if e.notebook == notebook} <= called


@pytest.mark.parametrize("notebook, n", [("04_jukebox_vqvae", 5), ("05_musicgen", 4), ("06_evaluation", 6)])
def test_every_numbered_exercise_has_one_check_cell(notebook, n):
    import re

    source = (NOTEBOOKS / f"{notebook}.py").read_text()
    block = source[source.index("# ## Exercises"):source.index("# ## Further reading")]
    numbered = re.findall(r"^# (\d)\. \*\*", block, flags=re.M)
    checked = re.findall(r'^(?:\w+ = )?check\("([a-z_0-9]+)"', block, flags=re.M)  # `x = check(...)` too
    assert len(numbered) == len(checked) == n  # one check cell per exercise
    assert set(checked) == {e.name for e in EXERCISES.values() if e.notebook == notebook}


# ----------------------------------------------------------------------------------------------------
# 05_musicgen: wrong answers and the references of the two training exercises (run on 2 clips and 2 steps), added
# to WRONG and reference_answer so that the tests above cover them
# ----------------------------------------------------------------------------------------------------
WRONG.update({
    "new_words": (lambda a: __import__("helpers.audio_corpus").audio_corpus.captions_of(a, heldout=True)[0],),
    "flatten_pattern": ({"pattern": "delay"}, {"pattern": "delay"}),  # delay twice: no flatten run
    "fewer_codebooks": (lambda codec, codes, n_q: codec.decode(codes),),  # ignores n_q
    "no_dropout": ({"cond_dropout": 0.2, "steps": 2, "init": None},),  # the default dropout
})


@__import__("functools").lru_cache(maxsize=None)
def _runs_05() -> dict:
    """The references of exercises 2 and 4 (notebook 05) on a 2-clip, 2-step version of their runs (once)."""
    import tempfile
    from pathlib import Path

    work = Path(tempfile.mkdtemp(prefix="exercises_05_"))
    tiny = ("--limit", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "16", "--d-ff", "32", "--batch-size", "2",
            "--steps", "2", "--warmup", "0", "--eval-every", "1", "--n-valid", "2", "--threads", "1", "--no-progress")
    return {"flatten_pattern": sol.pattern_runs_reference(tiny=tiny, work=work),
            "no_dropout": (sol.no_dropout_run_reference(tiny=tiny, work=work),)}


_reference_answer_before_05 = reference_answer


def reference_answer(name):  # noqa: F811 (extends the one above with notebook 05's training exercises)
    if name in ("flatten_pattern", "no_dropout"):
        return _runs_05()[name]
    return _reference_answer_before_05(name)


def test_the_exercises_of_notebook_05_are_registered():
    assert {e.name for e in EXERCISES.values() if e.notebook == "05_musicgen"} == {
        "new_words", "flatten_pattern", "fewer_codebooks", "no_dropout"}


def test_notebook_05_training_checks_stop_a_run_of_another_kind(capsys):
    delay, flatten = _runs_05()["flatten_pattern"]
    with pytest.raises(AssertionError, match="the same budget"):
        check("flatten_pattern", delay, dict(flatten, steps=flatten["steps"] + 1))
    (run,) = _runs_05()["no_dropout"]
    with pytest.raises(AssertionError, match="cond_dropout 0"):
        check("no_dropout", dict(run, cond_dropout=0.2))


def test_the_new_words_reference_avoids_every_corpus_word():
    from helpers.audio_corpus import FAMILIES

    words = sol._words_of_the_corpus()
    assert {"organ", "string", "french horn", "string quartet", "drawbar organ"} <= words
    for family in FAMILIES:
        caption = sol.OTHER_WORDS_05[family]
        assert not [w for w in words if w in caption.lower()], family
