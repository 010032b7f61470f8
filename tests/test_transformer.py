"""The Music Transformer: cache == recomputation, sampling knobs, checkpoints, chorale data helpers."""
import pytest
import torch

from helpers.transformer import (
    MusicTransformer,
    MusicTransformerConfig,
    drop_condition,
    filter_top_k,
    filter_top_p,
    generate,
    load_checkpoint,
    next_token_loss,
    sample_next_token,
    save_checkpoint,
    sequence_nll,
    stream_cross_entropy,
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
    draws = torch.stack([sample_next_token(logits, g, top_p=0.8) for _ in range(200)])
    assert set(draws.flatten().tolist()) == {1, 2}


def test_bad_sampling_arguments_raise():
    with pytest.raises(ValueError, match="temperature"):
        sample_next_token(torch.zeros(1, 3), torch.Generator(), temperature=-1)
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


# --- the audio half: K streams, cross-attention, guidance, SDPA -----------------------------------------------
def _cond_model(position="relative", seed=0, n_streams=2, **changes):
    torch.manual_seed(seed)
    cfg = MusicTransformerConfig.tiny(vocab_size=12, position=position, n_streams=n_streams, d_cond=6, **changes)
    model = MusicTransformer(cfg).double().eval()
    with torch.no_grad():  # larger random weights than the init: the condition visibly changes the samples
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


def _cond(B=2, S=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    cond = torch.randn(B, S, 6, generator=g, dtype=torch.float64)
    mask = torch.zeros(B, S, dtype=torch.bool)
    mask[1, 3:] = True  # the second condition is 3 long, padded to 5
    return cond, mask


@pytest.mark.parametrize("position", ["relative", "absolute"])
def test_sdpa_equals_the_plain_softmax_path(position):
    model = _model(position)
    x = torch.randint(0, 20, (2, 30), generator=torch.Generator().manual_seed(0))
    fast = model(x)
    assert torch.allclose(fast, model.set_sdpa(False)(x), atol=1e-10)
    cm = _cond_model(position)
    cond, mask = _cond()
    y = torch.randint(0, 12, (2, 2, 20), generator=torch.Generator().manual_seed(1))
    fast = cm(y, cond=cond, cond_mask=mask)
    assert torch.allclose(fast, cm.set_sdpa(False)(y, cond=cond, cond_mask=mask), atol=1e-10)
    assert all(not b.attn.sdpa and not b.cross.sdpa for b in cm.blocks)


def test_streams_shapes_and_one_stream_equals_the_flat_form():
    model = _cond_model(n_streams=3)
    idx = torch.randint(0, 12, (2, 3, 7))
    assert model(idx).shape == (2, 3, 7, 12)
    with pytest.raises(ValueError, match="K=3"):
        model(idx[:, :2])
    one = _model()
    x = torch.randint(0, 20, (2, 9))
    assert torch.equal(one(x[:, None])[:, 0], one(x))
    # the K embeddings of a step are summed: stream 1's table is rows V..2V-1 of the stacked embedding
    two = _cond_model(n_streams=2)
    emb = two.tok(torch.tensor([[3]])) + two.tok(torch.tensor([[12 + 5]]))  # (1, 1, C)
    assert torch.allclose(two.tok(torch.tensor([[[3], [5]]]) + torch.tensor([[[0], [12]]])).sum(1), emb)


def test_condition_padding_is_ignored_and_the_condition_matters():
    model = _cond_model()
    cond, mask = _cond()
    y = torch.randint(0, 12, (2, 2, 10), generator=torch.Generator().manual_seed(2))
    base = model(y, cond=cond, cond_mask=mask)
    changed_pad = cond.clone()
    changed_pad[1, 3:] = 100.0  # hidden positions
    assert torch.allclose(model(y, cond=changed_pad, cond_mask=mask), base, atol=1e-12)
    changed = cond.clone()
    changed[1, 0] += 1.0  # a visible position
    assert not torch.allclose(model(y, cond=changed, cond_mask=mask)[1], base[1], atol=1e-6)
    assert torch.equal(model(y, cond=changed, cond_mask=mask)[0], base[0])  # rows are independent
    with pytest.raises(ValueError, match="d_cond=0"):
        _model()(torch.zeros(1, 4, dtype=torch.long), cond=cond[:1])
    with pytest.raises(ValueError, match="d_cond=6"):
        model(y, cond=cond[..., :4])


@pytest.mark.parametrize("position", ["relative", "absolute"])
def test_cached_condition_and_streams_equal_full_recomputation(position):
    model = _cond_model(position)
    cond, mask = _cond()
    y = torch.randint(0, 12, (2, 2, 30), generator=torch.Generator().manual_seed(3))
    full = model(y, cond=cond, cond_mask=mask)  # (2, 2, 30, V)
    cache = model.start_cache(cond, mask, batch_size=2)
    assert cache.length == 0 and cache.cross[0][0].shape == (2, 2, 1 + 5, 8)
    cross_before = cache.cross[0][0]
    logits, cache = model(y[..., :4], past=cache, use_cache=True)
    steps = [logits]
    for t in range(4, 30):
        logits, cache = model(y[..., t : t + 1], past=cache, use_cache=True)
        steps.append(logits)
    assert cache.cross[0][0] is cross_before  # computed once, carried along
    assert cache.length == 30
    assert torch.allclose(torch.cat(steps, 2), full, atol=1e-10)
    with pytest.raises(ValueError, match="holds the condition"):
        model(y[..., :1], cond=cond, past=cache, use_cache=True)


def test_guidance_endpoints_cache_and_reproducibility():
    model = _cond_model(max_len=16, max_rel=6)
    cond, mask = _cond()
    prompt = torch.full((2, 2, 1), 11)  # every stream starts with a special token of the vocabulary

    def gen(**kw):
        return generate(model, prompt, 24, torch.Generator().manual_seed(4), align=2, **kw)

    uncond = gen()  # cond=None: the null slot alone
    conditional = gen(cond=cond, cond_mask=mask)
    assert uncond.shape == (2, 2, 25) and not torch.equal(uncond, conditional)
    assert torch.equal(gen(cond=cond, cond_mask=mask, guidance_scale=0.0), uncond)
    assert torch.equal(gen(cond=cond, cond_mask=mask, guidance_scale=1.0), conditional)
    guided = gen(cond=cond, cond_mask=mask, guidance_scale=3.0)
    assert torch.equal(guided, gen(cond=cond, cond_mask=mask, guidance_scale=3.0, use_cache=False))  # across slides
    assert not torch.equal(guided, conditional)
    again = generate(model, prompt, 24, torch.Generator().manual_seed(4), align=2, cond=cond, cond_mask=mask,
                     guidance_scale=3.0, temperature=0.8, top_k=5, top_p=0.9)
    assert torch.equal(again, generate(model, prompt, 24, torch.Generator().manual_seed(4), align=2, cond=cond,
                                       cond_mask=mask, guidance_scale=3.0, temperature=0.8, top_k=5, top_p=0.9))
    single = generate(model, prompt[0], 5, torch.Generator().manual_seed(0), cond=cond[:1], guidance_scale=2.0)
    assert single.shape == (2, 6)  # (K, T) in, (K, T) out
    with pytest.raises(ValueError, match="needs a cond"):
        gen(guidance_scale=3.0)


def test_guidance_combines_logits_as_audiocraft():
    # uncond + (cond - uncond) * scale, checked on the next-step logits of one batched pass
    model = _cond_model()
    cond, mask = _cond()
    y = torch.randint(0, 12, (2, 2, 6), generator=torch.Generator().manual_seed(5))
    c = model(y, cond=cond, cond_mask=mask)[..., -1, :]
    u = model(y)[..., -1, :]
    expected = u + (c - u) * 3.0
    greedy = generate(model, y, 1, torch.Generator(), temperature=0, cond=cond, cond_mask=mask, guidance_scale=3.0)
    assert torch.equal(greedy[..., -1], expected.argmax(-1))


def test_drop_condition_is_seeded_and_drops_whole_examples():
    cond = torch.ones(400, 3, 4)
    mask = torch.zeros(400, 3, dtype=torch.bool)
    mask[:, 2] = True
    c, m = drop_condition(cond, mask, 0.3, torch.Generator().manual_seed(0))
    dropped = m.all(1)
    assert torch.equal(c[dropped], torch.zeros_like(c[dropped])) and torch.equal(c[~dropped], cond[~dropped])
    assert torch.equal(m[~dropped], mask[~dropped])
    assert 0.2 < float(dropped.float().mean()) < 0.4
    c2, m2 = drop_condition(cond, mask, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(m, m2) and torch.equal(c, c2)
    assert not drop_condition(cond, None, 0.0, torch.Generator())[1].any()
    assert drop_condition(cond, None, 1.0, torch.Generator())[1].all()
    with pytest.raises(ValueError, match="p must"):
        drop_condition(cond, mask, 1.5, torch.Generator())


def test_stream_cross_entropy_is_each_streams_cross_entropy_without_the_ignored_targets():
    model = _cond_model(n_streams=3)
    tokens = torch.randint(0, 12, (2, 3, 9), generator=torch.Generator().manual_seed(6))
    tokens[0, 1, 4] = 11
    cond, mask = _cond()
    logits = model(tokens[..., :-1], cond=cond, cond_mask=mask)
    ce = stream_cross_entropy(logits, tokens[..., 1:], ignore_index=11)
    per = []
    for k in range(3):
        t, lg = tokens[:, k, 1:].reshape(-1), logits[:, k].reshape(-1, 12)
        keep = t != 11
        per.append(torch.nn.functional.cross_entropy(lg[keep], t[keep]))
    assert ce.shape == (3,) and torch.allclose(ce, torch.stack(per), atol=1e-12, rtol=0)
    assert not torch.allclose(stream_cross_entropy(logits, tokens[..., 1:]), ce)  # the ignored target counts now
    with pytest.raises(ValueError, match="logits"):
        stream_cross_entropy(logits[:, 0], tokens[:, 0, 1:])


def _stream_loss(model, batch):
    """Mean over streams of :func:`stream_cross_entropy`, conditioned: the loss_fn of the synthetic task below."""
    tokens = batch["tokens"]
    logits = model(tokens[..., :-1], cond=batch["cond"], cond_mask=batch["cond_mask"])  # (B, K, T, V)
    return stream_cross_entropy(logits, tokens[..., 1:]).mean()


def test_two_stream_decoder_with_cross_attention_and_guidance_trains_and_generates():
    # synthetic task: the condition's sign says which of two tokens both streams repeat (stream 1 = stream 0 + 4)
    from helpers.training import TrainConfig, train

    torch.manual_seed(0)
    model = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=10, n_streams=2, d_cond=4, max_len=16))

    def batch_of(generator, batch_size):
        label = torch.randint(0, 2, (batch_size,), generator=generator)  # (B,)
        cond = (2.0 * label - 1.0)[:, None, None] * torch.ones(batch_size, 3, 4)  # (B, S=3, 4)
        mask = torch.rand(batch_size, 3, generator=generator) < 0.3
        mask[:, 0] = False
        cond, mask = drop_condition(cond, mask, 0.1, generator)
        s0 = torch.full((batch_size, 17), 9)  # the first step holds the special token 9
        s0[:, 1:] = (1 + label)[:, None]
        tokens = torch.stack([s0, torch.where(s0 == 9, 9, s0 + 4)], dim=1)  # (B, 2, 17)
        return {"tokens": tokens, "cond": cond, "cond_mask": mask}

    cfg = TrainConfig(steps=60, batch_size=16, lr=1e-2, min_lr=1e-3, warmup_steps=5, eval_every=60, device="cpu",
                      progress=False)
    valid = [batch_of(torch.Generator().manual_seed(99), 16)]
    history = train(model, _stream_loss, batch_of, valid, cfg)
    assert history["train_loss"][-1] < history["train_loss"][0] - 1.0
    assert history["valid_loss"][-1] < 0.5
    cond = torch.stack([-torch.ones(3, 4), torch.ones(3, 4)])  # labels 0 and 1
    prompt = torch.full((2, 2, 1), 9)
    out = generate(model, prompt, 8, torch.Generator().manual_seed(0), temperature=0, cond=cond, guidance_scale=3.0)
    assert out.shape == (2, 2, 9)
    assert out[0, 0, 1:].tolist() == [1] * 8 and out[1, 1, 1:].tolist() == [6] * 8


def test_attn_dropout_only_changes_the_attention_weights_dropout():
    import torch
    from helpers.transformer import MusicTransformer, MusicTransformerConfig

    base = MusicTransformerConfig.tiny(dropout=0.5)
    assert base.attn_dropout is None and MusicTransformerConfig.from_dict(
        {k: v for k, v in base.to_dict().items() if k != "attn_dropout"}) == base  # older files load
    torch.manual_seed(0)
    a = MusicTransformer(base)
    b = MusicTransformer(MusicTransformerConfig.tiny(dropout=0.5, attn_dropout=0.0))
    b.load_state_dict(a.state_dict())
    assert all(blk.attn.attn_dropout == 0.5 for blk in a.blocks) and all(blk.attn.attn_dropout == 0.0 for blk in b.blocks)
    x = torch.randint(0, 20, (2, 16))
    a.eval(), b.eval()
    torch.testing.assert_close(a(x), b(x))  # same function at inference
    # training with every other dropout off: only the model with attention-weight dropout is random
    for m in (a, b):
        m.train()
        for mod in m.modules():
            if isinstance(mod, torch.nn.Dropout):
                mod.p = 0.0
        for blk in m.blocks:
            blk.attn.dropout = 0.0  # the output dropout of the attention
    torch.testing.assert_close(b(x), b(x))
    assert not torch.allclose(a(x), a(x))


def test_generate_builds_no_autograd_graph(monkeypatch):
    """Sampling must not record gradients: with the KV cache every step would hang on the previous one's graph
    (a 32 x 508-token chorale sample grew to 9.6 GB of memory before this was fixed)."""
    from helpers.transformer import MusicTransformer, MusicTransformerConfig, generate

    model = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=12))
    seen = []
    forward = model.forward

    def spy(*args, **kwargs):
        seen.append(torch.is_grad_enabled())
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    generate(model, torch.tensor([[1, 2]]), 5, torch.Generator().manual_seed(0))
    assert seen and not any(seen)


def test_sample_next_token_guides_bans_and_draws_in_one_place():
    """The one sampling step: guidance is lerp(uncond, cond, s), banned ids are never drawn and the others keep their
    relative probabilities, greedy at temperature 0; generate, the priors and MusicGen all call it."""
    import inspect

    from helpers import jukebox, musicgen, transformer

    cond = torch.tensor([[0.0, 2.0, 1.0, -1.0]])
    uncond = torch.tensor([[1.0, 0.0, 0.5, 0.0]])
    both = torch.cat([cond, uncond])  # (2B, V): conditional rows first
    for s in (0.0, 1.0, 3.0):
        expected = torch.lerp(uncond, cond, s).argmax(-1)
        assert torch.equal(sample_next_token(both, torch.Generator(), temperature=0, guidance_scale=s), expected)
    ban = torch.tensor([1])
    assert int(sample_next_token(cond, torch.Generator(), temperature=0, banned=ban)) == 2
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_next_token(cond.expand(4000, 4), g, banned=ban) for _ in range(2)]).flatten()
    counts = torch.bincount(draws, minlength=4).float()
    assert counts[1] == 0
    p = torch.softmax(torch.tensor([0.0, 1.0, -1.0]), 0)  # classes 0, 2, 3 without the banned one
    assert torch.allclose(counts[[0, 2, 3]] / counts.sum(), p, atol=0.02)
    assert "sample_next_token(" in inspect.getsource(transformer.generate)
    assert "sample_next_token(" in inspect.getsource(musicgen.sample_codes)
    assert "generate(" in inspect.getsource(jukebox.sample_top) and "generate(" in inspect.getsource(jukebox.Upsampler.sample)


def test_residual_projections_start_smaller_by_the_square_root_of_twice_the_depth():
    """GPT-2 / nanoGPT initialisation: N(0, 0.02) everywhere, N(0, 0.02 / sqrt(2 n_layer)) into the residual stream."""
    from helpers.transformer import RESIDUAL_PROJECTIONS

    torch.manual_seed(0)
    cfg = MusicTransformerConfig(vocab_size=64, n_layer=8, n_head=4, d_model=128, d_ff=512, d_cond=16)
    model = MusicTransformer(cfg)
    small = 0.02 / (2 * cfg.n_layer) ** 0.5
    seen = 0
    for name, p in model.named_parameters():
        if name.endswith(RESIDUAL_PROJECTIONS):
            seen += 1
            assert abs(float(p.detach().std()) - small) < 0.1 * small, name
        elif name.endswith("weight") and p.dim() == 2 and "rel" not in name:
            assert abs(float(p.detach().std()) - 0.02) < 0.1 * 0.02, name
    assert seen == 3 * cfg.n_layer  # attention, cross-attention and MLP output of every block


def test_a_checkpoint_loads_to_the_same_logits_whatever_the_fresh_initialisation(tmp_path):
    """The initialisation changes fresh models only: loading overwrites every parameter (shipped files included)."""
    saved = _model(seed=1)
    path = save_checkpoint(saved, tmp_path / "m.pt", half=False)
    x = torch.randint(0, 20, (2, 12), generator=torch.Generator().manual_seed(0))
    a = load_checkpoint(path, MusicTransformer(saved.config)).double()
    torch.manual_seed(123)
    b = load_checkpoint(path, MusicTransformer(saved.config)).double()
    assert torch.equal(a(x), b(x)) and torch.allclose(a(x), saved(x))


@pytest.mark.parametrize("B, inside", [(1, 1), (4, 1), (5, 2)])
def test_small_decoding_steps_run_on_one_thread_and_the_thread_count_comes_back(monkeypatch, B, inside):
    """decoding_threads: up to ONE_THREAD_ROWS rows (the batch, doubled under guidance) every step of generate and of
    MusicGen's sample_codes runs on one CPU thread; more rows keep the caller's count; the count is restored, also
    after an error inside."""
    from helpers import musicgen
    from helpers.transformer import ONE_THREAD_ROWS, decoding_threads

    assert ONE_THREAD_ROWS == 8
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []

        def record_threads(module):  # every forward call notes the intra-op thread count it ran with
            forward = module.forward

            def spy(*args, **kwargs):
                seen.append(torch.get_num_threads())
                return forward(*args, **kwargs)

            monkeypatch.setattr(module, "forward", spy)
            return module

        model = record_threads(MusicTransformer(MusicTransformerConfig.tiny(vocab_size=12, d_cond=4)))
        # guidance doubles the batch: 2, 8, 10 rows
        cond = torch.randn(B, 3, 4)
        generate(model, torch.ones(B, 2, dtype=torch.long), 4, torch.Generator().manual_seed(0), cond=cond,
                 guidance_scale=3.0)
        assert seen == [inside] * 4 and torch.get_num_threads() == 2
        seen.clear()
        lm = record_threads(MusicTransformer(musicgen.lm_config(2, 8, max_frames=8, d_text=4, d_model=16, n_layer=1,
                                                                n_head=2, d_ff=32)))
        musicgen.sample_codes(lm, 3, torch.Generator().manual_seed(0), cond, None, 3.0)
        assert seen and set(seen) == {inside} and torch.get_num_threads() == 2
        with pytest.raises(RuntimeError, match="inside"):
            with decoding_threads(2, "cpu"):
                assert torch.get_num_threads() == 1
                raise RuntimeError("an error inside")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
