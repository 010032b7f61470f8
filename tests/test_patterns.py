"""Tests of helpers.patterns: every pattern round-trips, matches its plain reference and its step formula."""
from __future__ import annotations

import inspect

import pytest
import torch

from helpers import patterns as P

KS = (1, 2, 3, 4, 8)
TS = (1, 2, 3, 5, 9)
SPECIAL = 99


def random_codes(K, T, batch=(2,), seed=0):
    return torch.randint(0, SPECIAL, (*batch, K, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", P.PATTERNS)
@pytest.mark.parametrize("K", KS)
@pytest.mark.parametrize("T", TS)
def test_revert_build_is_identity_and_matches_the_plain_loops(name, K, T):
    p = P.make_pattern(name, K, T)
    codes = random_codes(K, T, seed=K * 100 + T)
    seq = p.build(codes, SPECIAL)
    assert seq.shape == (2, K, p.n_steps)
    assert torch.equal(p.revert(seq), codes)
    assert torch.equal(seq, P.build_reference(p, codes, SPECIAL))
    assert torch.equal(p.revert(seq), P.revert_reference(p, seq))
    # the special token fills exactly the empty slots, and every code appears once
    assert torch.equal(seq[:, ~p.mask], torch.full_like(seq[:, ~p.mask], SPECIAL))
    assert int(p.mask.sum()) == K * T
    assert p.n_steps == P.decoding_steps(name, K, T)


@pytest.mark.parametrize("name", P.PATTERNS)
def test_revert_ignores_the_special_slots_and_works_without_batch_dims(name):
    p = P.make_pattern(name, 3, 4)
    codes = random_codes(3, 4, batch=())
    seq = p.build(codes, SPECIAL)
    noisy = torch.where(p.mask, seq, torch.full_like(seq, -5))  # whatever a model wrote in the special slots
    assert torch.equal(p.revert(noisy), codes)


def test_step_formulas():
    for K in KS:
        for T in TS:
            assert P.make_pattern("flatten", K, T).n_steps == K * T
            assert P.make_pattern("parallel", K, T).n_steps == T
            assert P.make_pattern("delay", K, T).n_steps == T + K - 1
            assert P.make_pattern("valle", K, T).n_steps == (2 * T if K > 1 else T)
    table = P.decoding_steps_table((1, 4), timesteps=50)
    assert table[1] == {"K": 4, "T": 50, "flatten": 200, "parallel": 50, "delay": 53, "valle": 100}


def test_delay_pattern_orders_codebooks_within_a_frame():
    p = P.delay_pattern(4, 6)
    s = p.step_of_code  # (K, T)
    assert torch.equal(s[1:] - s[:-1], torch.ones(3, 6, dtype=torch.long))  # codebook k one step after k-1
    custom = P.delay_pattern(3, 5, delays=(0, 2, 2))
    assert custom.n_steps == 7 and torch.equal(custom.step_of_code[:, 0], torch.tensor([0, 2, 2]))
    with pytest.raises(ValueError, match="delays"):
        P.delay_pattern(3, 5, delays=(0, 1))


def test_flatten_emits_one_code_per_step_in_frame_order():
    p = P.flatten_pattern(3, 4)
    assert all(len(step) == 1 for step in p.layout)
    assert [c for step in p.layout for c in step][:4] == [(0, 0), (1, 0), (2, 0), (0, 1)]


@pytest.mark.parametrize("name", P.PATTERNS)
def test_docstring_drawing_is_the_computed_one(name):
    drawing = P.make_pattern(name, 3, 4).draw()
    doc = inspect.getdoc(P._PROVIDERS[name])
    assert all(line in doc for line in drawing.splitlines()), f"{name} docstring drawing is out of date:\n{drawing}"


def test_bad_input_is_refused_with_clear_errors():
    p = P.delay_pattern(4, 5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 5\)"):
        p.build(torch.zeros(2, 3, 5, dtype=torch.long), SPECIAL)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 8\)"):
        p.revert(torch.zeros(2, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown pattern"):
        P.make_pattern("zigzag", 2, 2)
    with pytest.raises(ValueError, match="emitted twice"):
        P.Pattern("bad", 1, 2, (((0, 0),), ((0, 0),), ((0, 1),)))
    with pytest.raises(ValueError, match="more than once"):
        P.Pattern("bad", 1, 2, (((0, 0), (0, 1)),))
    with pytest.raises(ValueError, match="emits 1 codes"):
        P.Pattern("bad", 1, 2, (((0, 0),),))
    with pytest.raises(ValueError, match="n_q >= 1"):
        P.parallel_pattern(0, 3)


@pytest.mark.parametrize("name", P.PATTERNS)
def test_the_pattern_owns_its_start_step(name):
    p = P.make_pattern(name, 3, 5)
    codes = random_codes(3, 5)
    steps = p.to_steps(codes, SPECIAL)
    assert p.start == P.START_STEPS == 1 and p.sequence_length == 1 + p.n_steps
    assert steps.shape == (2, 3, p.sequence_length) and (steps[..., : p.start] == SPECIAL).all()
    assert torch.equal(steps[..., p.start :], p.build(codes, SPECIAL))
    assert torch.equal(p.from_steps(steps), codes)
    assert torch.equal(p.steps_mask, torch.cat([torch.zeros(3, 1, dtype=torch.bool), p.mask], dim=1))
    two = P.Pattern(name, 3, 5, p.layout, start=2)  # a longer start: the same codes behind two special steps
    longer = two.to_steps(codes, SPECIAL)
    assert torch.equal(longer[..., 1:], steps) and torch.equal(two.from_steps(longer), codes)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, "):
        p.from_steps(steps[..., 1:])  # without its start step
    with pytest.raises(ValueError, match="start"):
        P.Pattern(name, 3, 5, p.layout, start=0)


def test_a_layout_whose_time_runs_backwards_is_refused():
    """audiocraft's _validate_layout: within a codebook, a later step never emits an earlier frame."""
    forwards = (((0, 0), (1, 0)), ((0, 1),), ((1, 1),))
    assert P.Pattern("ok", 2, 2, forwards).n_steps == 3
    with pytest.raises(ValueError, match="time runs backwards"):
        P.Pattern("bad", 1, 2, (((0, 1),), ((0, 0),)))
    with pytest.raises(ValueError, match="frame 0 of codebook 1 after frame 1"):
        P.Pattern("bad", 2, 2, (((0, 0), (1, 1)), ((0, 1), (1, 0))))


@pytest.mark.parametrize("name", P.PATTERNS)
@pytest.mark.parametrize("K", (1, 2, 4))
def test_max_timesteps_is_the_longest_sequence_that_fits(name, K):
    for max_len in (1, 2, 9, 30):
        T = P.max_timesteps(name, K, max_len)
        assert T == 0 or P.make_pattern(name, K, T).sequence_length <= max_len
        assert P.START_STEPS + P.decoding_steps(name, K, T + 1) > max_len
    assert P.max_timesteps("delay", K, 204) == 204 - K  # the shipped LM: 200 frames of 4 codebooks
