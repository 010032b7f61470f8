"""Exercise answers: checks that wait for an answer, and reference solutions kept out of sight.

Every exercise of a notebook has a name (``'skew_by_loop'``, ``'copy_share'``, ...). In the notebook the learner
writes an answer in an empty cell, then runs::

    check("skew_by_loop", skew_by_loop)       # "not answered yet" while the answer is None / returns None
    show_solution("skew_by_loop")             # only when wanted: prints the reference solution's source

A check asserts *properties* of the answer, never prints the reference's results: a correct answer passes
every property, a wrong one stops at the first that fails, with an ``AssertionError`` naming it. Each check is
tested with the reference solution (it passes) and with a wrong answer (it fails) in ``tests/test_solutions.py``.

The exercises of ``07_exercises.ipynb`` keep their checks in :mod:`helpers.exercises` (tables of properties
with ✓/✗); here they only gain the "not answered yet" gate and :func:`show_solution`.

Notebooks: 01_representations, 02_markov_chains, 03_music_transformer, 04_jukebox_vqvae, 06_evaluation,
07_exercises, 08_review_audio_features.
Reference: the exercise pattern of the PCP notebooks (Müller et al.): a task, an empty cell, a check.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

NOT_ANSWERED = "not answered yet"


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it lives, its reference solution(s), how an answer is probed and checked.

    Attributes:
        name: the key for :func:`check` and :func:`show_solution`.
        notebook: the notebook that asks it, e.g. ``'02_markov_chains'``.
        answers: the names the learner defines, in the order :func:`check` receives them.
        references: the functions whose source :func:`show_solution` prints (the reference answer first).
        checker: called with the answers once every one is given; asserts properties, returns what it measured.
        probes: for each answer, the arguments of one call that must not return None (None for a value answer,
            which counts as answered when it is not None).
    """

    name: str
    notebook: str
    answers: tuple[str, ...]
    references: tuple[Callable, ...]
    checker: Callable
    probes: tuple


EXERCISES: dict[str, Exercise] = {}


def _register(name: str, notebook: str, answers, references, probes):
    def wrap(checker):
        EXERCISES[name] = Exercise(name, notebook, tuple(answers), tuple(references), checker, tuple(probes))
        return checker

    return wrap


def _exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise KeyError(f"no exercise named {name!r}; known: {', '.join(sorted(EXERCISES))}")
    return EXERCISES[name]


def is_answered(answer, probe=None) -> bool:
    """True once ``answer`` holds an answer: a value that is not None, or a function whose call on ``probe``
    (a tuple of arguments) returns something other than None and does not raise ``NotImplementedError``."""
    if answer is None:
        return False
    if probe is None or not callable(answer):
        return True
    try:
        return answer(*probe()) is not None
    except NotImplementedError:
        return False


def check(name: str, *answers):
    """Check the learner's answer(s) to exercise ``name``, or say it is not answered yet.

    Args:
        name: the exercise (see :data:`EXERCISES`).
        *answers: the learner's functions or values, in the order of ``EXERCISES[name].answers``.

    Returns:
        What the exercise's checker returns (a report or the measured values), or None while an answer is missing
        (then it prints "not answered yet" and never runs or prints the reference).

    Raises:
        AssertionError: naming the first property that the answer violates.
        TypeError: if the number of answers is wrong.
    """
    ex = _exercise(name)
    if len(answers) != len(ex.answers):
        raise TypeError(f"check({name!r}, ...) takes {len(ex.answers)} answer(s) ({', '.join(ex.answers)}), "
                        f"got {len(answers)}")
    missing = [a for a, ans, probe in zip(ex.answers, answers, ex.probes) if not is_answered(ans, probe)]
    if missing:
        print(f"{name}: {NOT_ANSWERED} (fill in {', '.join(missing)}, then run this cell again; "
              f"to see a reference solution: show_solution({name!r}))")
        return None
    return ex.checker(*answers)


def solution_source(name: str) -> str:
    """The source code of exercise ``name``'s reference solution (what :func:`show_solution` prints)."""
    return "\n".join(inspect.getsource(f) for f in _exercise(name).references)


def show_solution(name: str) -> None:
    """Print the reference solution of exercise ``name``: call it only when you want to see it."""
    print(f"# reference solution of {name!r} ({_exercise(name).notebook})\n")
    print(solution_source(name))


def _ok(what: str) -> None:
    print(f"✓ {what}")


def _require(holds, what: str) -> None:
    if not holds:
        raise AssertionError(f"✗ {what}")
    _ok(what)


# ----------------------------------------------------------------------------------------------------
# 01_representations
# ----------------------------------------------------------------------------------------------------
def moved_share_reference(pieces, steps_per_quarter: int) -> float:
    """Exercise 1 (notebook 01): the share of notes that quantising to ``steps_per_quarter`` moves."""
    from collections import Counter

    from .representations import quantization_changes

    total = Counter()
    for p in pieces:
        total.update(quantization_changes(p, steps_per_quarter, monophonic=True))
    return total["moved"] / total["notes"]


def _corpora_01():
    from .data import load_chorales, load_folk

    return {"chorales": load_chorales(include_extra=True), "folk": load_folk("essen")}


@_register("coarser_grid", "01_representations", ["moved_8th"], [moved_share_reference], [None])
def check_coarser_grid(moved_8th: dict) -> dict:
    """``moved_8th = {'chorales': share, 'folk': share}``: notes moved by an 8th-note grid, each within 0.005."""
    _require(isinstance(moved_8th, dict) and set(moved_8th) == {"chorales", "folk"},
             "moved_8th is a dict with the keys 'chorales' and 'folk'")
    _require(all(0 <= float(v) <= 1 for v in moved_8th.values()), "both shares lie in [0, 1] (a share, not a %)")
    corpora = _corpora_01()
    for name, pieces in corpora.items():
        true_8th = moved_share_reference(pieces, 2)
        _require(abs(float(moved_8th[name]) - true_8th) < 0.005,
                 f"{name}: the share of moved notes is right (to 0.005; hint: rep.quantization_changes(p, 2, ...))")
    _require(moved_8th["folk"] > moved_8th["chorales"], "the folk tunes suffer more than the chorales")
    return moved_8th


def copy_share_reference() -> float:
    """Exercise 2 (notebook 01): the share of train tokens that repeat the voice's previous token."""
    from .data import load_chorales
    from .representations import ChoraleGrid

    grid = ChoraleGrid("repeat")
    changes = np.concatenate([grid.changes(grid.encode(p)) for p in load_chorales("train")])
    return float(1 - changes.mean())


@_register("copy_share", "01_representations", ["copy_share"], [copy_share_reference], [None])
def check_copy_share(copy_share) -> float:
    """``copy_share``: a number in (0, 1), within 0.01 of the share of repeated train tokens."""
    _require(np.isscalar(copy_share) and 0 < float(copy_share) < 1, "copy_share is a number between 0 and 1")
    _require(abs(float(copy_share) - copy_share_reference()) < 0.01,
             "it is the share of repeated tokens over the whole train split (count the False entries of "
             "grid.changes, over all train pieces)")
    return float(copy_share)


# ----------------------------------------------------------------------------------------------------
# 02_markov_chains
# ----------------------------------------------------------------------------------------------------
def to_intervals_reference(pitches) -> np.ndarray:
    """Exercise 2 (notebook 02): a melody as the intervals between consecutive notes, in semitones."""
    return np.diff(np.asarray(pitches, dtype=np.int64))


@_register("intervals", "02_markov_chains", ["to_intervals"], [to_intervals_reference], [lambda: ([60, 62, 64],)])
def check_intervals(to_intervals) -> np.ndarray:
    """Properties of any correct ``to_intervals``: n-1 values, transposition-invariant, the melody comes back."""
    rng = np.random.default_rng(0)
    melody = 60 + np.cumsum(rng.integers(-5, 6, size=20))
    out = np.asarray(to_intervals(list(melody)))
    _require(out.shape == (19,), f"a melody of 20 notes gives 19 intervals (got shape {out.shape})")
    _require(np.array_equal(np.asarray(to_intervals(list(melody + 7))), out),
             "transposing the melody leaves the intervals unchanged")
    _require(np.array_equal(melody[0] + np.r_[0, np.cumsum(out)], melody),
             "the first note plus the running sum of the intervals gives the melody back (sign: next minus previous)")
    _require(np.array_equal(np.asarray(to_intervals([60, 60, 67, 65])), [0, 7, -2]),
             "60 60 67 65 -> 0 +7 -2")
    return out


def most_copied_source_reference(sample, train_seqs: Sequence) -> int:
    """Exercise 3 (notebook 02): the index of the training tune from which ``sample`` copies its longest run.

    Every training tune gets its own :class:`~helpers.markov.CorpusIndex`; the longest match decides.
    """
    from .markov import CorpusIndex, encode_events

    sample = encode_events(np.asarray(sample))
    best = [CorpusIndex([encode_events(np.asarray(t))]).longest_copy(sample) for t in train_seqs]
    return int(np.argmax(best))


@_register("copy_detector", "02_markov_chains", ["most_copied_source"], [most_copied_source_reference],
           [lambda: ([60, 62, 64], [[60, 62, 64], [50, 52]])])
def check_copy_detector(most_copied_source) -> int:
    """Planted copies: a sample stitched from two tunes, 9 notes of one and 4 of the other, must point at the first."""
    rng = np.random.default_rng(1)
    train = [list(60 + np.cumsum(rng.integers(-4, 5, size=30))) for _ in range(12)]
    sample = train[7][5:14] + train[3][0:4]  # 9 notes of tune 7, then 4 of tune 3
    got = most_copied_source(sample, train)
    _require(isinstance(got, (int, np.integer)), f"it returns an index (an int), got {type(got).__name__}")
    _require(got == 7, f"a sample with 9 notes of tune 7 and 4 of tune 3 points at tune 7 (got {got})")
    _require(most_copied_source(train[2], train) == 2, "a training tune copies most from itself")
    return int(got)


def lesson_generate_reference(transitions: dict, seed: Sequence[int], length: int) -> list[int]:
    """Exercise 4 (notebook 02): the lesson's ``generate``, with its fixed seed inside (the trap)."""
    rs = np.random.RandomState(42)  # the trap: a new generator with the same seed at every call
    out = list(seed)
    for _ in range(length):
        nxt = transitions.get(tuple(out[-len(seed):]))
        if not nxt:
            nxt = [60, 62, 64, 65, 67]
        out.append(int(nxt[rs.randint(len(nxt))]))
    return out


@_register("fixed_seed_trap", "02_markov_chains", ["lesson_generate"], [lesson_generate_reference],
           [lambda: ({(60, 64): [67, 65]}, [60, 64], 4)])
def check_fixed_seed_trap(lesson_generate) -> list:
    """The trap reproduced: two calls give the same tune, which follows the transitions and has the right length."""
    transitions = {(60, 64): [67, 65, 62], (64, 67): [72, 65], (64, 65): [67, 64], (64, 62): [60, 64],
                   (67, 72): [71, 67], (67, 65): [64, 62]}
    a = list(lesson_generate(transitions, [60, 64], 12))
    b = list(lesson_generate(transitions, [60, 64], 12))
    _require(len(a) == 14 and a[:2] == [60, 64], "the tune is the 2-note seed followed by 12 new notes")
    _require(a == b, "two calls give the same tune: that is the trap")
    _require(all(a[i + 2] in transitions[tuple(a[i:i + 2])] for i in range(len(a) - 2)
                 if tuple(a[i:i + 2]) in transitions), "every note after a known context is one of its continuations")
    _require(len(set(a)) > 1, "the tune is not one repeated note")
    return a


# ----------------------------------------------------------------------------------------------------
# 03_music_transformer
# ----------------------------------------------------------------------------------------------------
def skew_by_loop_reference(x):
    """Exercise 2 (notebook 03): the skew with two Python loops: ``out[..., i, j] = x[..., i, j + L - 1 - i]``."""
    import torch

    L = x.shape[-1]
    out = torch.zeros_like(x)
    for i in range(L):
        for j in range(i + 1):
            out[..., i, j] = x[..., i, j + L - 1 - i]
    return out


def _skew_probe():
    import torch

    return (torch.zeros(2, 2),)


@_register("skew_by_loop", "03_music_transformer", ["skew_by_loop"], [skew_by_loop_reference], [_skew_probe])
def check_skew(skew_by_loop) -> str:
    """Equal to ``attention.skew`` on and below the diagonal, for several sizes and a batch dimension."""
    import torch

    from .attention import causal_mask, skew

    g = torch.Generator().manual_seed(0)
    for L in (1, 2, 5, 9):
        x = torch.randn(3, L, L, generator=g, dtype=torch.float64)
        keep = ~causal_mask(L, L)
        out = skew_by_loop(x)
        _require(tuple(out.shape) == (3, L, L), f"L={L}: the output has the input's shape (3, {L}, {L})")
        _require(torch.equal(out[..., keep], skew(x)[..., keep]), f"L={L}: equal to attention.skew below the diagonal")
    return "skew OK"


def extra_rel_params_reference(n_layer: int, n_head: int, max_rel: int, d_head: int) -> int:
    """Exercise 1 (notebook 03): parameters a per-head relative table adds over one table shared per layer."""
    return n_layer * (n_head - 1) * max_rel * d_head


@_register("per_head_params", "03_music_transformer", ["extra_rel_params"], [extra_rel_params_reference],
           [lambda: (1, 2, 4, 8)])
def check_per_head_params(extra_rel_params) -> int:
    """The formula against the parameter counts of real models, for three configurations."""
    from .transformer import MusicTransformer, MusicTransformerConfig

    for n_layer, n_head, d_model, max_rel in ((1, 2, 16, 8), (2, 4, 32, 16), (3, 8, 64, 5)):
        sizes = [MusicTransformer(MusicTransformerConfig.tiny(n_layer=n_layer, n_head=n_head, d_model=d_model,
                                                              d_ff=2 * d_model, max_rel=max_rel,
                                                              rel_per_head=per_head)).num_params()
                 for per_head in (False, True)]
        got = extra_rel_params(n_layer, n_head, max_rel, d_model // n_head)
        _require(got == sizes[1] - sizes[0], f"n_layer={n_layer}, n_head={n_head}, max_rel={max_rel}, "
                 f"d_head={d_model // n_head}: {sizes[1] - sizes[0]} extra parameters (your formula: {got})")
    return int(got)


# ----------------------------------------------------------------------------------------------------
# 08_review_audio_features
# ----------------------------------------------------------------------------------------------------
def ap_11_point_reference(y_true, scores) -> float:
    """Exercise 3 (notebook 08): PASCAL VOC's 11-point interpolated AP (Everingham et al. 2010, Sec. 4.2).

    The mean, over recall levels r = 0, 0.1, ..., 1, of the highest precision reached at a recall >= r.
    """
    from .review import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(np.mean([max([p for p, r in zip(precision, recall) if r >= level], default=0.0)
                          for level in np.linspace(0, 1, 11)]))


@_register("ap_11_point", "08_review_audio_features", ["ap_11_point"], [ap_11_point_reference],
           [lambda: ([1, 0, 1], [0.9, 0.5, 0.2])])
def check_ap_11_point(ap_11_point) -> float:
    """Known answers (perfect ranking 1, a worked example) and agreement with the reference on random problems."""
    _require(abs(ap_11_point([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) - 1.0) < 1e-9, "a perfect ranking scores 1")
    # ranking + - + : precision 1 at recall 0.5, 2/3 at recall 1 -> 6 levels at 1, 5 levels at 2/3
    _require(abs(ap_11_point([1, 0, 1], [0.9, 0.5, 0.2]) - (6 + 5 * 2 / 3) / 11) < 1e-9,
             "ranking + - +: (6 x 1 + 5 x 2/3) / 11")
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, size=30)
        y[0] = 1
        s = rng.random(30)
        if abs(ap_11_point(y, s) - ap_11_point_reference(y, s)) >= 1e-9:
            raise AssertionError("✗ 20 random problems of 30 items: your AP differs from the 11-point definition")
    _ok("20 random problems of 30 items agree with the 11-point definition")
    return float(ap_11_point([1, 0, 1], [0.9, 0.5, 0.2]))


# ----------------------------------------------------------------------------------------------------
# 04_jukebox_vqvae
# ----------------------------------------------------------------------------------------------------
LIVE_LEVEL = dict(hop=64, synthesis_hop=64, n_fft=256, dim=64, encoder_blocks=1, decoder_blocks=2, latent_dim=32,
                  n_codebooks=1, codebook_size=256, quantizer_dropout=0.0)
"""Section 3's live level of notebook 04 (``helpers.autoencoder``, one codebook), as AutoencoderConfig fields."""


def train_level_reference(steps: int, seed: int = 0, **changes):
    """Exercise 1 (notebook 04): section 3's live level with config ``changes`` (e.g. ``hop=128``), trained
    ``steps`` steps as in section 3 (0.5-s train crops, batch 8)."""
    from . import autoencoder, training
    from .audio_corpus import AudioCorpus

    corpus = AudioCorpus.build()
    cfg = autoencoder.AutoencoderConfig(**{"sample_rate": corpus.recipe.sr, **LIVE_LEVEL, **changes})
    model = autoencoder.Autoencoder(cfg, seed=seed)
    training.train(model, autoencoder.loss_fn, corpus.random_crops("train", 0.5), None,
                   training.TrainConfig(steps=steps, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=min(10, steps),
                                        weight_decay=0.0, grad_clip=10.0, seed=seed, device="cpu", progress=False))
    return model.eval()


def _valid_audio_04(n: int = 4, seconds: float = 1.0):
    import torch

    from .audio_corpus import AudioCorpus

    corpus = AudioCorpus.build()
    clips = corpus.clips("valid")[:n, : int(seconds * corpus.recipe.sr)]
    return torch.from_numpy(np.asarray(clips, dtype=np.float32)), corpus.recipe.sr


def _mel_distance_04(model, audio, sr: int) -> float:
    from .autoencoder import multi_scale_mel_loss

    return float(multi_scale_mel_loss(audio, model.reconstruct(audio, sr=sr), sr))


def _require_trained_level(model, what: str) -> float:
    """The model is an Autoencoder whose mel distance on 4 validation clips is below its untrained twin's."""
    from .autoencoder import Autoencoder

    _require(isinstance(model, Autoencoder), f"{what} is a helpers.autoencoder.Autoencoder")
    audio, sr = _valid_audio_04()
    trained, untrained = _mel_distance_04(model, audio, sr), _mel_distance_04(Autoencoder(model.config, seed=0), audio, sr)
    _require(trained < untrained, f"{what} has learnt: its mel distance on 4 validation clips ({trained:.2f}) is "
             f"below the untrained model's ({untrained:.2f})")
    return trained


@_register("another_hop", "04_jukebox_vqvae", ["train_level"], [train_level_reference], [lambda: (1,)])
def check_another_hop(train_level) -> dict:
    """``train_level(steps, seed=0, **changes)``: the live level with the changes, trained; hop 128 gives 125 codes/s."""
    model = train_level(12, 0, hop=128)
    _require(getattr(getattr(model, "config", None), "hop", None) == 128, "train_level(12, hop=128) gives a hop-128 level")
    _require(model.config.n_codebooks == 1 and all(getattr(model.config, k) == v for k, v in LIVE_LEVEL.items()
                                                   if k != "hop"),
             "every other setting is section 3's (one codebook of 256 codes, the same blocks)")
    audio, sr = _valid_audio_04()
    codes = model.encode(audio, sr=sr)
    _require(tuple(codes.shape) == (4, 1, sr // 128), f"1 s of audio gives {sr / 128:g} codes (got {tuple(codes.shape)})")
    return {"hop": 128, "mel distance": _require_trained_level(model, "the hop-128 level")}


def ablation_usage_reference(steps: int, seed: int = 0, **changes) -> float:
    """Exercise 2 (notebook 04): section 4's run with config ``changes`` (e.g. ``codebook_size=256``) for ``steps``
    steps; returns the fraction of the codebook used on 16 validation crops of 0.5 s."""
    import torch

    from . import training, vqvae
    from .audio_corpus import AudioCorpus

    corpus = AudioCorpus.build()
    cfg = vqvae.VQVAEConfig(**{"sample_rate": corpus.recipe.sr, **vqvae.ABLATION_LEVEL, **changes})  # changes win
    model = vqvae.VQVAE(cfg, seed=seed)
    training.train(model, lambda m, batch: vqvae.loss_fn(m, batch["audio"]), corpus.random_crops("train", 0.25), None,
                   training.TrainConfig(steps=steps, batch_size=8, lr=2e-3, warmup_steps=min(5, steps), seed=seed,
                                        device="cpu", progress=False))
    valid = torch.from_numpy(np.asarray(corpus.clips("valid")[:16, :8000], dtype=np.float32))  # (16, 0.5 s)
    usage, _ = vqvae.code_statistics(model.encode(valid, sr=corpus.recipe.sr), cfg.codebook_size)
    return float(usage)


@_register("restarts_longer", "04_jukebox_vqvae", ["ablation_usage"], [ablation_usage_reference], [lambda: (1,)])
def check_restarts_longer(ablation_usage) -> dict:
    """``ablation_usage(steps, seed=0, **changes)``: usage in [0, 1], the size asked for, fewer codes without restarts."""
    with_restarts = ablation_usage(30, 0, codebook_size=128)
    without = ablation_usage(30, 0, codebook_size=128, restart_threshold=0.0)
    _require(all(0.0 <= float(u) <= 1.0 for u in (with_restarts, without)), "usage is a fraction of the codebook, in [0, 1]")
    reference = ablation_usage_reference(30, 0, codebook_size=128)
    _require(abs(float(with_restarts) - reference) <= 0.1,
             f"it is section 4's run with 128 codes (usage {float(with_restarts):.0%}, the reference {reference:.0%})")
    _require(float(without) < float(with_restarts),
             f"without restarts fewer codes are used ({float(without):.0%} vs {float(with_restarts):.0%})")
    return {"restarts": float(with_restarts), "no restarts": float(without)}


def mel_only_level_reference(steps: int = 200, seed: int = 0):
    """Exercise 3 (notebook 04): section 3's live level trained without its multi-resolution STFT loss."""
    return train_level_reference(steps, seed, stft_weight=0.0)


@_register("no_stft_loss", "04_jukebox_vqvae", ["mel_only"], [mel_only_level_reference, train_level_reference], [None])
def check_no_stft_loss(mel_only) -> float:
    """``mel_only``: the live level (hop 64) trained with ``stft_weight=0`` and the mel loss kept, and it has learnt."""
    cfg = getattr(mel_only, "config", None)
    _require(getattr(cfg, "stft_weight", None) == 0, "mel_only was trained with stft_weight=0")
    _require(cfg.mel_weight > 0 and cfg.hop == 64 and cfg.n_codebooks == 1,
             "the mel loss is kept, and it is section 3's level (hop 64, one codebook)")
    return _require_trained_level(mel_only, "mel_only")


_JUKEBOX_04: dict = {}


def _jukebox_models_04():
    """The shipped levels and priors of notebook 04 (loaded once; the upsampler is the one to the bottom level)."""
    if not _JUKEBOX_04:
        from . import jukebox

        pipe = jukebox.load_pipeline()
        _JUKEBOX_04.update(pipe, upsampler=pipe["upsamplers"][-1])
    return _JUKEBOX_04


def sample_levels_reference(temperature, seconds: float = 1.0, seed: int = 0) -> dict:
    """Exercise 4 (notebook 04): one piano clip (moderate tempo, major, middle register) sampled top-down at ``temperature`` (a number,
    or (top, rest))."""
    import torch

    from .jukebox import label_of, sample_top_down

    m = _jukebox_models_04()
    return sample_top_down(m["levels"], m["prior"], m["upsamplers"],
                           label_of(m["prior"], family="piano", tempo_band="moderate", mode="major",
                                    register="middle"), seconds,
                           torch.Generator().manual_seed(seed), temperature=temperature)


def distinct_codes(codes) -> float:
    """The fraction of distinct codes in a sample (B, L): how spread out the sampled codes are."""
    codes = np.asarray(codes)
    return float(np.mean([len(set(row.tolist())) / len(row) for row in codes.reshape(-1, codes.shape[-1])]))


@_register("level_temperature", "04_jukebox_vqvae", ["sample_levels"], [sample_levels_reference],
           [lambda: ((1.0, 1.0), 0.1)])
def check_level_temperature(sample_levels) -> dict:
    """``sample_levels(temperature, seconds=1.0, seed=0)``: each level's temperature reaches its own level only."""
    spread = {}
    for level, pairs in (("top", ((0.3, 1.0), (3.0, 1.0))), ("bottom", ((1.0, 0.3), (1.0, 3.0)))):
        cold, hot = (sample_levels(t) for t in pairs)
        _require(isinstance(cold, dict) and {"top", "bottom"} <= set(cold), "it returns sample_top_down's dict")
        spread[level] = (distinct_codes(cold[level]), distinct_codes(hot[level]))
        _require(spread[level][1] > spread[level][0], f"{level} temperature 3 spreads the {level} codes more than 0.3 "
                 f"({spread[level][1]:.0%} vs {spread[level][0]:.0%} distinct)")
        if level == "bottom":
            _require(np.array_equal(np.asarray(cold["top"]), np.asarray(hot["top"])),
                     "the bottom's temperature leaves the top codes alone (same seed, same top temperature)")
    return spread


def one_layer_upsampler_reference(upsampler):
    """Exercise 5 (notebook 04): an untrained upsampler like ``upsampler`` but with one transformer layer."""
    from dataclasses import replace

    from .jukebox import Upsampler

    return Upsampler(replace(upsampler.config, n_layer=1), upsampler.upper_codebook_size, upsampler.ratio, seed=0,
                     n_labels=upsampler.n_labels, extra_labels=upsampler.extra_labels)


@_register("faster_upsampler", "04_jukebox_vqvae", ["one_layer"], [one_layer_upsampler_reference],
           [lambda: (_jukebox_models_04()["upsampler"],)])
def check_faster_upsampler(one_layer) -> dict:
    """``one_layer(upsampler)``: an Upsampler with one layer, every other size the shipped one's, that samples."""
    import torch
    from dataclasses import asdict

    from .jukebox import Upsampler

    shipped = _jukebox_models_04()["upsampler"]
    small = one_layer(shipped)
    _require(isinstance(small, Upsampler) and small is not shipped, "one_layer returns a new jukebox.Upsampler")
    _require(small.config.n_layer == 1, f"it has one transformer layer (got {small.config.n_layer})")
    same = {k: v for k, v in asdict(shipped.config).items() if k != "n_layer"}
    _require({k: v for k, v in asdict(small.config).items() if k != "n_layer"} == same
             and (small.ratio, small.upper_codebook_size, small.label_sizes)
             == (shipped.ratio, shipped.upper_codebook_size, shipped.label_sizes),
             "every other size is the shipped upsampler's (vocabulary, width, heads, ratio, context, labels)")
    n_small, n_shipped = (sum(p.numel() for p in m.parameters()) for m in (small, shipped))
    _require(n_small < n_shipped, f"it has fewer parameters ({n_small:,} vs {n_shipped:,})")
    top = torch.zeros(1, 4, dtype=torch.long)
    label = None
    if small.n_labels:  # class 0 of each attribute it takes: (1,) for the family alone, (1, 1 + E) with more
        label = torch.zeros((1, len(small.label_sizes)) if small.extra_labels else (1,), dtype=torch.long)
    out = small.sample(top, torch.Generator().manual_seed(0), label=label)
    _require(tuple(out.shape) == (1, 4 * shipped.ratio), f"4 top codes give {4 * shipped.ratio} bottom codes")
    return {"parameters": n_small, "shipped": n_shipped}


# ----------------------------------------------------------------------------------------------------
# 06_evaluation
# ----------------------------------------------------------------------------------------------------
def lesson_exact_pair_reference(D: int):
    """Exercise 1 (notebook 06): two D x D covariances for which the lesson's Fréchet distance is exact.

    The lesson's ``sqrt(tr(S1 S2))`` equals the true ``tr sqrt(S1^1/2 S2 S1^1/2)`` when that matrix has at most one
    non-zero eigenvalue: here ``S1`` has rank one, so ``S1^1/2 I S1^1/2 = S1`` does too.
    """
    u = np.arange(1, D + 1, dtype=np.float64)
    return np.outer(u, u), np.eye(D)


@_register("lesson_exact", "06_evaluation", ["exact_pair"], [lesson_exact_pair_reference], [lambda: (4,)])
def check_lesson_exact(exact_pair) -> dict:
    """``exact_pair(D) -> (S1, S2)``: two non-zero D x D covariances on which the lesson's formula is exact."""
    from .fad import frechet_terms, lesson_frechet_distance

    gaps = {}
    for D in (2, 5):
        pair = exact_pair(D)
        _require(isinstance(pair, tuple) and len(pair) == 2, f"exact_pair({D}) returns a tuple (S1, S2)")
        S1, S2 = (np.asarray(S, dtype=np.float64) for S in pair)
        _require(S1.shape == S2.shape == (D, D), f"exact_pair({D}) gives two {D} x {D} matrices")
        for S in (S1, S2):
            _require(np.allclose(S, S.T) and np.linalg.eigvalsh(S).min() > -1e-9 and np.trace(S) > 0,
                     f"D={D}: both are covariances (symmetric, positive semi-definite) and not zero")
        mu = np.zeros(D)
        true = frechet_terms(mu, S1, mu, S2).distance
        lesson = lesson_frechet_distance(mu, S1, mu, S2)
        _require(abs(lesson - true) <= 1e-8 * max(1.0, abs(true)),
                 f"D={D}: the lesson's formula gives the true distance ({lesson:.6g} vs {true:.6g}; hint: "
                 f"S1^1/2 S2 S1^1/2 may have only one non-zero eigenvalue)")
        gaps[D] = lesson - true
    return gaps


def first_clips_reference(emb, k: int, per_piece: int = 6) -> np.ndarray:
    """Exercise 2 (notebook 06): the first ``k`` of the ``per_piece`` clips of every piece (rows piece by piece)."""
    emb = np.asarray(emb)
    n_pieces = len(emb) // per_piece
    return emb.reshape(n_pieces, per_piece, *emb.shape[1:])[:, :k].reshape(n_pieces * k, *emb.shape[1:])


@_register("clip_counts", "06_evaluation", ["first_clips"], [first_clips_reference], [lambda: (np.zeros((12, 2)), 3)])
def check_clip_counts(first_clips) -> np.ndarray:
    """The right rows, in order, for several k, and all rows for k = per_piece; the clip count shrinks as asked."""
    x = np.arange(32 * 6 * 2, dtype=np.float64).reshape(32 * 6, 2)  # 32 pieces x 6 clips, 2 numbers each
    out = np.asarray(first_clips(x, 3))
    _require(out.shape == (96, 2), f"3 clips of each of 32 pieces: shape (96, 2) (got {out.shape})")
    _require(np.array_equal(out[:3], x[:3]) and np.array_equal(out[3:6], x[6:9]),
             "piece 0 gives its clips 0, 1, 2 and piece 1 its clips 6, 7, 8 (rows are piece by piece)")
    _require(np.array_equal(out, first_clips_reference(x, 3)), "every piece keeps its first 3 clips, in order")
    _require(np.array_equal(np.asarray(first_clips(x, 6)), x), "k = 6 keeps every clip")
    _require(np.asarray(first_clips(x, 1)).shape == (32, 2), "k = 1 keeps one clip per piece")
    return out


class ChromaMeanStdEmbedder:
    """Exercise 3 (notebook 06): the mean and standard deviation over time of each chroma bin, ``(N, T) -> (N, 24)``.

    Unlike :class:`helpers.fad.ChromaStatsEmbedder` it is not key-invariant: it hears *which* pitch classes
    sound (C or D), not only how they relate.
    """

    name = "chroma mean+std (24-d)"

    def __call__(self, audio, sr: int) -> np.ndarray:
        from .audio_quality import chroma

        rows = []
        for clip in np.asarray(audio, dtype=np.float32):
            c = chroma(clip, sr).numpy()  # (12, frames)
            rows.append(np.concatenate([c.mean(axis=1), c.std(axis=1)]))
        return np.array(rows)  # (N, 24)


def _tone(midi_pitches, sr: int = 16000, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (sum(np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * t) for p in midi_pitches) / len(midi_pitches)
            ).astype(np.float32)


@_register("chroma_embedder", "06_evaluation", ["chroma_embedder"], [ChromaMeanStdEmbedder], [None])
def check_chroma_embedder(chroma_embedder) -> np.ndarray:
    """An embedder: a name, (N, T) -> (N, 24) finite; the mean part peaks at the pitch class played; a steady tone
    has (almost) no spread over time."""
    _require(isinstance(getattr(chroma_embedder, "name", None), str) and chroma_embedder.name,
             "it has a non-empty name (every FAD states its embedding)")
    audio = np.stack([_tone([69]), _tone([60, 64, 67]), _tone([62])])  # A, C major triad, D
    out = np.asarray(chroma_embedder(audio, 16000), dtype=np.float64)
    _require(out.shape == (3, 24) and np.isfinite(out).all(), f"3 clips give 3 rows of 24 numbers (got {out.shape})")
    _require(int(np.argmax(out[0, :12])) == 9, "an A (440 Hz) peaks at pitch class 9 (C = 0) in the first 12 numbers")
    _require(set(np.argsort(out[1, :12])[-3:].tolist()) == {0, 4, 7}, "a C major triad's top three are C, E, G")
    _require(int(np.argmax(out[2, :12])) == 2, "a D peaks at pitch class 2: this embedding hears the key")
    _require(out[0, 12:].max() < 0.05, "a steady tone barely changes over time: the last 12 numbers (std) are small")
    return out


def sample_at_reference(temperature: float, n: int, seed: int = 0) -> list:
    """Exercise 4 (notebook 06): n chorales of 8 bars from the relative transformer at ``temperature``.

    As section 4 samples them: each starts from a training chorale's first chord, top-p 0.95, 4 voices per step.
    """
    import torch

    from .data import DATA_DIR, load_chorales
    from .representations import ChoraleGrid
    from .transformer import generate, load_checkpoint

    grid = ChoraleGrid("repeat")
    model = load_checkpoint(DATA_DIR / "checkpoints" / "mt_relative.pt")
    steps = 16 * 32  # 8 bars of 4 quarters, 4 sixteenths each, 4 voices: 512 tokens
    prompt = torch.as_tensor(np.stack([grid.encode(p)[:4] for p in load_chorales("train")[:n]]))  # (n, 4)
    out = generate(model, prompt, steps - 4, torch.Generator().manual_seed(seed), temperature=temperature, top_p=0.95,
                   align=4)
    return [grid.decode(o.numpy(), qpm=72, id=f"t={temperature} {i}") for i, o in enumerate(out)]


def _repeat_share(pieces) -> float:
    from .representations import ChoraleGrid

    grid = ChoraleGrid("repeat")
    return float(1 - np.mean(np.concatenate([grid.changes(grid.encode(p)) for p in pieces])))


@_register("temperature", "06_evaluation", ["sample_at"], [sample_at_reference], [lambda: (1.0, 1)])
def check_temperature(sample_at) -> dict:
    """n pieces that fill 8 bars; a colder temperature repeats more (notebook 03's repetition attractor)."""
    cold, hot = sample_at(0.7, 4), sample_at(1.3, 4)
    _require(len(cold) == 4 and len(hot) == 4, "sample_at(t, 4) returns 4 pieces")
    _require(all(p.duration_quarters >= 31 for p in cold + hot), "every piece fills its 8 bars (32 quarter notes)")
    shares = {0.7: _repeat_share(cold), 1.3: _repeat_share(hot)}
    _require(shares[0.7] > shares[1.3], f"temperature 0.7 repeats the previous step more often than 1.3 "
             f"({shares[0.7]:.0%} vs {shares[1.3]:.0%} of tokens)")
    return shares


def closest_rater_reference(answers) -> str:
    """Exercise 5 (notebook 06): the simulated rater whose A/B answers agree most with rater "you"."""
    from .listening import agreement

    raters = sorted({a["rater"] for a in answers if a.get("simulated", False)})
    percent = {r: agreement(answers, "you", r, np.random.default_rng(0), kind="ab")["percent"].estimate for r in raters}
    return max(raters, key=lambda r: percent[r])


def _ab_answers(rater: str, preferred: Sequence[str], simulated: bool) -> list[dict]:
    return [{"rater": rater, "item": f"pair {i}", "kind": "ab", "preferred": p, "simulated": simulated}
            for i, p in enumerate(preferred)]


@_register("closest_rater", "06_evaluation", ["closest_rater"], [closest_rater_reference],
           [lambda: (_ab_answers("you", "ab", False) + _ab_answers("simulated-1", "ab", True),)])
def check_closest_rater(closest_rater) -> str:
    """Planted answers: "you" agree with simulated-1 on 11 of 12 pairs and with simulated-2 on 7."""
    one = list("xxyyxyxyxxyy")
    two = list("xyyxyyxxyxxy")  # agrees with one on 6 of 12
    you = one[:10] + two[10:]  # agrees with one on 11 of 12 pairs, with two on 7
    answers = _ab_answers("simulated-1", one, True) + _ab_answers("simulated-2", two, True)
    got = closest_rater(answers + _ab_answers("you", you, False))
    _require(got == "simulated-1", f"you agree with simulated-1 on 11 of 12 pairs, with simulated-2 on 7: simulated-1 is the closest (got {got!r})")
    got = closest_rater(answers + _ab_answers("you", two, False))
    _require(got == "simulated-2", f"answers equal to simulated-2's: simulated-2 is the closest (got {got!r})")
    return got


def solo_halves_reference(attributes, rng):
    """Exercise 6 (notebook 06): reference and held-out halves of the corpus's *solo* clips."""
    from .audio_eval import chorale_halves

    return chorale_halves(attributes, rng, texture="solo")


@_register("solo_halves", "06_evaluation", ["solo_halves"], [solo_halves_reference],
           [lambda: ([{"texture": "solo"}] * 2, np.random.default_rng(0))])
def check_solo_halves(solo_halves) -> tuple:
    """Two disjoint halves of exactly the solo clips, sizes within one, the same for the same seed."""
    textures = ["solo", "chorale", "solo", "solo", "chorale", "solo", "solo", "chorale", "solo"]
    attrs = [{"texture": t} for t in textures]
    ref, held = (np.asarray(h) for h in solo_halves(attrs, np.random.default_rng(0)))
    solo = {i for i, t in enumerate(textures) if t == "solo"}
    _require(set(ref.tolist()).isdisjoint(held.tolist()), "no clip is in both halves")
    _require(set(ref.tolist()) | set(held.tolist()) == solo, "together the halves hold every solo clip and nothing else")
    _require(abs(len(ref) - len(held)) <= 1, f"the halves differ in size by at most 1 ({len(ref)} and {len(held)})")
    again = solo_halves(attrs, np.random.default_rng(0))
    _require(np.array_equal(np.asarray(again[0]), ref), "the same seed gives the same halves")
    return ref, held


# ----------------------------------------------------------------------------------------------------
# 07_exercises: the checks live in helpers.exercises; here only the gate and the hidden references
# ----------------------------------------------------------------------------------------------------
def _register_07() -> None:
    from . import exercises as ex

    EXERCISES["melody_analyzer"] = Exercise(
        "melody_analyzer", "07_exercises", ("my_melody_analyzer",),
        (ex.analyze_melody, ex.melodic_intervals, ex.interval_category_percentages, ex.pitch_range,
         ex.direction_changes, ex.contour_complexity),
        lambda analyzer: ex.check_melody_analyzer(analyzer, seed=42), (lambda: (list(ex.C_MAJOR_SCALE),),))
    EXERCISES["chord_progression"] = Exercise(
        "chord_progression", "07_exercises", ("my_progression", "my_consonance"),
        (ex.generate_progression, ex.chord_consonance, ex.interval_is_consonant),
        lambda generate, consonance: ex.check_chord_progression(generate, consonance, seed=42),
        (lambda: (np.random.default_rng(0),), lambda: (list(ex.TRIADS["I"]),)))
    EXERCISES["rhythm_evaluator"] = Exercise(
        "rhythm_evaluator", "07_exercises", ("my_rhythm_evaluator",),
        (ex.evaluate_rhythm, ex.inter_onset_intervals, ex.ioi_cv, ex.swing_ratio, ex.tempo_stability),
        lambda evaluator: ex.check_rhythm_evaluator(evaluator, seed=42), (lambda: (list(ex.metronome_pattern()),),))


_register_07()


# ----------------------------------------------------------------------------------------------------
# 05_musicgen
# ----------------------------------------------------------------------------------------------------
# Exercise 1's new words: each family described without its own word or any instrument name of the corpus.
OTHER_WORDS_05 = {
    "piano": "a hammered keyboard", "organ": "a church keyboard with stops", "guitar": "a plucked fretted instrument",
    "strings": "bowed instruments", "voice": "singers", "brass": "valved metal horns",
    "reed": "woodwinds with a vibrating cane", "pipe": "a breathy whistle",
}
# exercise 2 and 4's short runs of scripts/train_musicgen.py: a tiny LM, a minute or so on 2 cores
EX05_TINY = ("--limit", "32", "--n-layer", "2", "--n-head", "4", "--d-model", "64", "--d-ff", "128",
             "--batch-size", "4", "--steps", "60", "--warmup", "5", "--eval-every", "30", "--n-valid", "8",
             "--threads", "2", "--no-progress")


def _words_of_the_corpus() -> set:
    """The family words (singular stems) and every instrument name the corpus's captions use."""
    from .audio_corpus import CHORALE, ENSEMBLE_NAMES, FAMILIES, SOLO

    names = {n for fam in SOLO.values() for n in fam} | {n for sets in CHORALE.values() for s in sets for n in s}
    stems = {f[:-1] if f.endswith("s") and not f.endswith("ss") else f for f in FAMILIES}  # strings -> string
    return stems | {n.replace("_", " ") for n in names} | set(ENSEMBLE_NAMES.values())


def my_caption_reference(attributes: dict) -> str:
    """Exercise 1 (notebook 05): a caption of the clip in words the corpus's captions never use for its players."""
    tempo = {"slow": "unhurried", "moderate": "walking-pace", "fast": "quick"}[attributes["tempo_band"]]
    kind = "chorale" if attributes["texture"] == "chorale" else "folk melody"
    return (f"{OTHER_WORDS_05[attributes['family']]} performing a {tempo} {kind} in {attributes['key']}, "
            f"pitched {attributes['register']}")


def _test_attributes_05(n: int = 16) -> list[dict]:
    from .audio_corpus import AudioCorpus

    return AudioCorpus.build().attributes("test")[:n]


_PROBE_CLIP_05 = {"family": "organ", "instruments": ["organ"] * 4, "texture": "chorale", "tempo_band": "slow",
                  "bpm": 66, "key": "D minor", "mode": "minor", "register": "low"}


@_register("new_words", "05_musicgen", ["my_caption"], [my_caption_reference], [lambda: (dict(_PROBE_CLIP_05),)])
def check_new_words(my_caption) -> list[str]:
    """16 captions (the first 16 test clips), each a non-empty string that names the players in new words, none a
    phrasing the model was trained or tested on; clips of different families get different captions."""
    from .audio_corpus import captions_of

    attrs = _test_attributes_05(16)
    caps = [my_caption(a) for a in attrs]
    _require(all(isinstance(c, str) and c.strip() for c in caps), "my_caption returns a non-empty string per clip")
    known = {c for a in attrs for c in captions_of(a) + captions_of(a, heldout=True)}
    _require(not known & set(caps), "no caption is one of the corpus's own phrasings")
    words = _words_of_the_corpus()
    used = sorted({w for c in caps for w in words if w in c.lower()})
    _require(not used, f"no caption uses a family word or instrument name of the corpus (found: {used})")
    by_family = {}
    for a, c in zip(attrs, caps):
        by_family.setdefault(a["family"], set()).add(c)
    _require(all(not (s & t) for f, s in by_family.items() for g, t in by_family.items() if f < g),
             "clips of different families get different captions")
    return caps


def _train_musicgen_05():
    """scripts/train_musicgen.py as a module (its ``main(argv)`` returns the results it writes)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "train_musicgen.py"
    spec = importlib.util.spec_from_file_location("train_musicgen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _runs_05():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "runs" / "exercises_05"


def pattern_runs_reference(tiny=EX05_TINY, work=None) -> tuple[dict, dict]:
    """Exercise 2 (notebook 05): the same short run of scripts/train_musicgen.py over delay and over flatten.

    The shell form (from the repository's root)::

        python scripts/train_musicgen.py --pattern flatten <EX05_TINY> --out runs/exercises_05/flatten.pt
    """
    script, work = _train_musicgen_05(), _runs_05() if work is None else work
    return tuple(script.main([*tiny, "--pattern", p, "--cache", str(work / "cache"), "--work", str(work),
                              "--out", str(work / f"{p}.pt")]) for p in ("delay", "flatten"))


@_register("flatten_pattern", "05_musicgen", ["delay_run", "flatten_run"], [pattern_runs_reference], [None, None])
def check_flatten_pattern(delay_run: dict, flatten_run: dict) -> dict:
    """Two runs of the script's results: delay and flatten, the same budget; flatten takes K times as many steps
    per frame and more compute per second of audio. Returns what to compare (loss per code, compute)."""
    _require(delay_run.get("pattern") == "delay" and flatten_run.get("pattern") == "flatten",
             "one run over delay, one over flatten (the results' 'pattern')")
    same = ("steps", "batch_size", "seed", "n_train_clips", "cond_dropout")
    _require(all(delay_run[k] == flatten_run[k] for k in same), f"the same budget and data ({', '.join(same)})")
    sizes = ("n_layer", "n_head", "d_model", "d_ff", "n_streams", "vocab_size")
    _require(all(delay_run["config"][k] == flatten_run["config"][k] for k in sizes), "the same LM sizes")
    K, rate = flatten_run["config"]["n_streams"], flatten_run["frame_rate"]
    _require(abs(flatten_run["steps_per_audio_second"] - K * rate) < 1e-9,
             f"flatten decodes K x {rate:g} = {K * rate:g} steps per second of audio")
    compute = {r["pattern"]: 1 / r["real_time_factor"] for r in (delay_run, flatten_run)}
    _require(compute["flatten"] > compute["delay"], f"flatten needs more compute per second of audio "
             f"({compute['flatten']:.2f} s vs {compute['delay']:.2f} s)")
    return {"compute_seconds_per_audio_second": compute,
            "valid_loss_per_code": {r["pattern"]: r["best_valid_loss"] for r in (delay_run, flatten_run)}}


def decode_first_reference(codec, codes, n_q: int):
    """Exercise 3 (notebook 05): decode only the first ``n_q`` codebooks of ``codes`` (B, K, T)."""
    return codec.decode(codes[:, :n_q])


def _tiny_codec_and_codes_05():
    """A tiny random codec (4 codebooks of 16 codes) and 2 clips of 6 frames of codes."""
    import torch

    from .codec import Codec, CodecConfig

    codec = Codec(CodecConfig.tiny(n_codebooks=4, codebook_size=16), seed=0).eval()
    return codec, torch.randint(0, 16, (2, 4, 6), generator=torch.Generator().manual_seed(0))


@_register("fewer_codebooks", "05_musicgen", ["decode_first"], [decode_first_reference],
           [lambda: (*_tiny_codec_and_codes_05(), 1)])
def check_fewer_codebooks(decode_first):
    """On a tiny random codec: audio of the right length; all K codebooks = the codec's decode; with n_q codebooks
    the codebooks after the n_q-th change nothing and the n_q-th does."""
    import torch

    codec, codes = _tiny_codec_and_codes_05()
    full = decode_first(codec, codes, 4)
    _require(tuple(full.shape) == (2, 6 * codec.config.hop), f"2 clips of 6 frames x hop samples (got {tuple(full.shape)})")
    _require(torch.allclose(full, codec.decode(codes)), "with all 4 codebooks it equals codec.decode(codes)")
    other = codes.clone()
    other[:, 2:] = (other[:, 2:] + 1) % 16  # codebooks 3 and 4 changed
    _require(torch.allclose(decode_first(codec, codes, 2), decode_first(codec, other, 2)),
             "with 2 codebooks, changing codebooks 3 and 4 changes nothing")
    other[:, 1] = (other[:, 1] + 1) % 16
    _require(not torch.allclose(decode_first(codec, codes, 2), decode_first(codec, other, 2)),
             "with 2 codebooks, changing codebook 2 changes the audio")
    return full


def no_dropout_run_reference(tiny=EX05_TINY, work=None) -> dict:
    """Exercise 4 (notebook 05): the short run of scripts/train_musicgen.py without condition dropout.

    The shell form (from the repository's root)::

        python scripts/train_musicgen.py --cond-dropout 0 <EX05_TINY> --out runs/exercises_05/no_dropout.pt
    """
    script, work = _train_musicgen_05(), _runs_05() if work is None else work
    return script.main([*tiny, "--cond-dropout", "0", "--cache", str(work / "cache"), "--work", str(work),
                        "--out", str(work / "no_dropout.pt")])


@_register("no_dropout", "05_musicgen", ["no_dropout_run"], [no_dropout_run_reference], [None])
def check_no_dropout(no_dropout_run: dict) -> dict:
    """The script's results of a run with condition dropout 0 (the text never dropped) that trained."""
    _require(no_dropout_run.get("cond_dropout") == 0, "the run never dropped the text (cond_dropout 0)")
    _require(no_dropout_run.get("steps", 0) >= 1 and no_dropout_run.get("init") is None, "a fresh run that trained")
    uniform = float(np.log(no_dropout_run["config"]["vocab_size"]))
    _require(no_dropout_run["best_valid_loss"] < uniform,
             f"its validation loss is below uniform guessing (ln {no_dropout_run['config']['vocab_size']} = {uniform:.2f})")
    return {k: no_dropout_run[k] for k in ("cond_dropout", "steps", "best_valid_loss")}
