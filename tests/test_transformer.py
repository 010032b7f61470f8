"""The Music Transformer: cache == recomputation, sampling knobs, checkpoints, chorale data helpers."""
import numpy as np
import pytest
import torch

from helpers.transformer import (
    MusicTransformer,
    MusicTransformerConfig,
    filter_top_k,
    filter_top_p,
    generate,
    load_checkpoint,
    next_token_loss,
    sample_next,
    save_checkpoint,
    sequence_nll,
)


def _model(position="relative", seed=0, **changes):
    torch.manual_seed(seed)
    return MusicTransformer(MusicTransformerConfig.tiny(position=position, **changes)).double().eval()


@pytest.mark.parametrize("position", ["relative", "absolute"])
def test_cached_logits_equal_full_recomputation_at_every_step(position):
    # max_rel = 8 and 30 tokens: the cached relative term is checked beyond the clipping distance too.
    model = _model(position)
    x = torch.randint(0, 20, (2, 30), generator=torch.Generator().manual_seed(0))
    full = model(x)  # (2, 30, V)
    logits, cache = model(x[:, :5], use_cache=True)  # prefill 5 tokens
    steps = [logits]
    for t in range(5, 30):
        logits, cache = model(x[:, t : t + 1], past=cache, use_cache=True)
        steps.append(logits)
    assert cache.kv[0][0].shape == (2, 2, 30, 8)
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-10)


def test_relative_model_runs_past_max_rel_and_absolute_refuses_past_max_len():
    rel = _model("relative", max_len=16, max_rel=4)
    assert rel(torch.zeros(1, 40, dtype=torch.long)).shape == (1, 40, 20)
    ab = _model("absolute", max_len=16)
    with pytest.raises(ValueError, match="max_len=16"):
        ab(torch.zeros(1, 17, dtype=torch.long))


def test_generate_with_and_without_cache_give_the_same_tokens_across_window_slides():
    model = _model("relative", max_len=16, max_rel=6)
    prompt = torch.tensor([1, 2, 3, 4])
    a = generate(model, prompt, 40, torch.Generator().manual_seed(5), align=4)
    b = generate(model, prompt, 40, torch.Generator().manual_seed(5), use_cache=False, align=4)
    assert a.shape == (44,) and torch.equal(a[:4], prompt)
    assert torch.equal(a, b)


def test_same_seed_same_tokens_different_seed_different_tokens():
    model = _model()
    prompt = torch.tensor([[3, 4], [5, 6]])
    a = generate(model, prompt, 30, torch.Generator().manual_seed(1))
    b = generate(model, prompt, 30, torch.Generator().manual_seed(1))
    c = generate(model, prompt, 30, torch.Generator().manual_seed(2))
    assert a.shape == (2, 32)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_top_k_one_is_greedy():
    model = _model()
    prompt = torch.tensor([7])
    greedy = generate(model, prompt, 20, torch.Generator().manual_seed(0), temperature=0)
    for seed in range(3):
        k1 = generate(model, prompt, 20, torch.Generator().manual_seed(seed), temperature=1.5, top_k=1)
        assert torch.equal(k1, greedy)
    # greedy really follows argmax
    logits = model(greedy[None, :-1])[0]
    assert torch.equal(logits.argmax(-1)[0:], greedy[1:])


def test_top_k_keeps_exactly_k():
    logits = torch.tensor([[0.1, 3.0, 2.0, -1.0, 0.5]])
    kept = torch.isfinite(filter_top_k(logits, 2))
    assert kept.tolist() == [[False, True, True, False, False]]


def test_top_p_keeps_the_smallest_set_with_enough_mass():
    probs = torch.tensor([[0.05, 0.5, 0.3, 0.15]])
    logits = probs.log()
    cases = {0.5: [1], 0.51: [1, 2], 0.8: [1, 2], 0.81: [1, 2, 3], 0.95: [1, 2, 3], 0.96: [0, 1, 2, 3]}
    for p, keep in cases.items():
        kept = torch.isfinite(filter_top_p(logits, p))[0]
        assert sorted(torch.nonzero(kept).flatten().tolist()) == keep, p
        assert probs[0, kept].sum() >= p - 1e-6
    # sampling never leaves the nucleus
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_next(logits, g, top_p=0.8) for _ in range(200)])
    assert set(draws.flatten().tolist()) == {1, 2}


def test_bad_sampling_arguments_raise():
    with pytest.raises(ValueError, match="temperature"):
        sample_next(torch.zeros(1, 3), torch.Generator(), temperature=-1)
    with pytest.raises(ValueError, match="top_p"):
        filter_top_p(torch.zeros(1, 3), 0.0)
    with pytest.raises(ValueError, match="position"):
        MusicTransformerConfig(vocab_size=5, position="rotary")


def test_checkpoint_round_trip_and_config_mismatch(tmp_path):
    model = _model().float()
    path = save_checkpoint(model, tmp_path / "m.pt", half=False, extra={"seed": 0})
    loaded = load_checkpoint(path)
    x = torch.randint(0, 20, (1, 10))
    assert torch.equal(loaded(x), model(x))
    assert loaded.config == model.config
    other = MusicTransformer(MusicTransformerConfig.tiny(position="absolute"))
    with pytest.raises(ValueError, match="position") as err:
        load_checkpoint(path, model=other)
    assert "'relative'" in str(err.value) and "'absolute'" in str(err.value)
    half = load_checkpoint(save_checkpoint(model, tmp_path / "h.pt", half=True))
    assert half.tok.weight.dtype == torch.float32
    assert torch.allclose(half(x), model(x), atol=1e-2)
    assert (tmp_path / "h.pt").stat().st_size < (tmp_path / "m.pt").stat().st_size


def test_sequence_nll_sliding_window_matches_one_pass_when_it_fits():
    model = _model(max_len=64)
    x = torch.randint(0, 20, (50,), generator=torch.Generator().manual_seed(3))
    one_pass = sequence_nll(model, x)
    manual = torch.nn.functional.cross_entropy(model(x[None, :-1])[0], x[1:], reduction="none")
    assert torch.allclose(one_pass, manual.float(), atol=1e-5)
    small = _model(max_len=16)  # same weights, shorter window: 50 tokens need 6 windows
    small.load_state_dict(model.state_dict())
    windowed = sequence_nll(small, x, stride=8)
    assert windowed.shape == (49,)
    assert torch.allclose(windowed[:16], one_pass[:16], atol=1e-5)  # the first window sees everything
    assert not torch.allclose(windowed[16:], one_pass[16:], atol=1e-5)  # later ones see less context


def test_next_token_loss_decreases_when_training_on_one_batch():
    model = _model().float().train()
    batch = torch.randint(0, 20, (4, 17), generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = float(next_token_loss(model, batch).detach())
    for _ in range(30):
        loss = next_token_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first - 1.0


def test_attention_maps_shape_and_rows_sum_to_one():
    model = _model()
    maps = model.attention_maps(torch.randint(0, 20, (1, 12)))
    assert len(maps) == 2 and maps[0].shape == (1, 2, 12, 12)
    assert torch.allclose(maps[1].sum(-1), torch.ones(1, 2, 12, dtype=maps[1].dtype))
    assert model.blocks[0].attn.last_weights is None  # not kept after the call
