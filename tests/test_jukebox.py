"""Tests of helpers.jukebox (top prior, upsampler, top-down sampling) and the x_add input of the transformer."""
from __future__ import annotations

import pytest
import torch

from helpers import jukebox as J
from helpers.transformer import MusicTransformer, MusicTransformerConfig, generate
from helpers.vqvae import VQVAE, VQVAEConfig

K_TOP, K_BOTTOM, N_LABELS, RATIO = 12, 10, 3, 4


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tiny_prior(max_len=16):
    cfg = J.top_prior_config(K_TOP, N_LABELS, max_len - 1, n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    prior = MusicTransformer(cfg)
    prior.n_labels = N_LABELS
    return prior.eval()


def tiny_upsampler(max_len=16):
    cfg = MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=max_len)
    return J.Upsampler(cfg, K_TOP, RATIO, seed=0).eval()


# --- x_add in the decoder ---------------------------------------------------------------------------------------
def test_x_add_zero_is_no_op_and_nonzero_changes_logits():
    m = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=9)).eval()
    idx = torch.randint(0, 9, (2, 7), generator=gen())
    base = m(idx)
    assert torch.equal(m(idx, x_add=torch.zeros(2, 7, 16)), base)
    assert not torch.allclose(m(idx, x_add=torch.randn(2, 7, 16, generator=gen(1))), base)
    with pytest.raises(ValueError, match="x_add must have shape"):
        m(idx, x_add=torch.zeros(2, 6, 16))


@pytest.mark.parametrize("position", ["relative", "absolute"])
def test_generate_with_x_add_same_with_and_without_cache_across_window_slides(position):
    # seeded weights: with weights from whatever the global RNG held, about 2% of draws (5 of 300 seeds) are so flat
    # that the added input moves no sampled token and the last assert failed now and then
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=9, position=position, max_len=8)).eval()
    x_add = torch.randn(2, 20, 16, generator=gen(3))
    prompt = torch.randint(0, 9, (2, 2), generator=gen(4))
    a = generate(m, prompt, 18, gen(5), use_cache=True, x_add=x_add)
    b = generate(m, prompt, 18, gen(5), use_cache=False, x_add=x_add)
    assert a.shape == (2, 20) and torch.equal(a, b)
    c = generate(m, prompt, 18, gen(5), use_cache=True)  # the added input is used
    assert not torch.equal(a, c)
    with pytest.raises(ValueError, match="x_add must have shape"):
        generate(m, prompt, 18, gen(5), x_add=x_add[:, :10])


def test_x_add_in_the_cache_matches_the_full_forward():
    """Feeding one step at a time with its x_add slice gives the logits of one full forward pass."""
    m = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=9)).eval()
    idx = torch.randint(0, 9, (1, 6), generator=gen())
    x_add = torch.randn(1, 6, 16, generator=gen(2))
    full = m(idx, x_add=x_add)
    cache, steps = m.start_cache(), []
    for t in range(6):
        logits, cache = m(idx[:, t:t + 1], past=cache, use_cache=True, x_add=x_add[:, t:t + 1])
        steps.append(logits)
    assert torch.allclose(torch.cat(steps, 1), full, atol=1e-5)


# --- top prior ----------------------------------------------------------------------------------------------------
def test_top_prior_batches_put_the_label_first():
    codes = torch.randint(0, K_TOP, (5, 15), generator=gen())
    labels = torch.tensor([0, 1, 2, 1, 0])
    batch = J.top_prior_batches(codes, labels, K_TOP, N_LABELS)(gen(1), 4)
    assert batch.shape == (4, 16)
    assert set(batch[:, 0].tolist()) <= {K_TOP, K_TOP + 1, K_TOP + 2} and int(batch[:, 1:].max()) < K_TOP
    with pytest.raises(ValueError, match="label must lie"):
        J.label_tokens([3], K_TOP, (N_LABELS,))


def test_sample_top_shapes_determinism_and_prompt():
    prior = tiny_prior()
    a = J.sample_top(prior, [0, 2], 15, gen(7))
    assert a.shape == (2, 15) and int(a.max()) < K_TOP
    assert torch.equal(a, J.sample_top(prior, [0, 2], 15, gen(7)))
    prompt = torch.randint(0, K_TOP, (2, 5), generator=gen(8))
    b = J.sample_top(prior, [0, 2], 15, gen(7), prompt=prompt)
    assert b.shape == (2, 15) and torch.equal(b[:, :5], prompt)


def test_untrained_top_prior_draws_every_code_about_equally_and_never_a_label():
    """An untrained prior's logits are nearly flat over codes and labels. Mapping a sampled label to the last code
    (the old clamp) gave code 11 (1 + 3) / 15 = 27% of the draws; masking the labels gives each code 1/12 = 8%."""
    prior = tiny_prior()
    codes = J.sample_top(prior, [0, 1, 2] * 22, 15, gen(11))  # (66, 15): 990 codes
    freq = torch.bincount(codes.flatten(), minlength=K_TOP).float() / codes.numel()
    assert len(freq) == K_TOP  # no label id among the codes
    assert float(freq[-1]) < 0.13 and float(freq.max()) < 0.13 and float(freq.min()) > 0.04, freq.tolist()


def test_generate_never_samples_a_banned_token():
    m = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=9)).eval()
    out = generate(m, torch.zeros(4, 1, dtype=torch.long), 30, gen(1), banned=range(2, 9))
    assert set(out[:, 1:].flatten().tolist()) == {0, 1}
    greedy = generate(m, torch.zeros(4, 1, dtype=torch.long), 10, gen(1), temperature=0.0, banned=range(1, 9))
    assert (greedy[:, 1:] == 0).all()  # argmax over what is left
    with pytest.raises(ValueError, match="banned token ids must lie in 0..8"):
        generate(m, torch.zeros(1, 1, dtype=torch.long), 2, gen(1), banned=[9])
    with pytest.raises(ValueError, match="nothing is left"):
        generate(m, torch.zeros(1, 1, dtype=torch.long), 2, gen(1), banned=range(9))


def test_top_prior_checkpoint_round_trip_and_refusals(tmp_path):
    prior = tiny_prior()
    path = J.save_top_prior(prior, N_LABELS, tmp_path / "p.pt", half=False)
    back = J.load_top_prior(path)
    assert back.n_labels == N_LABELS
    idx = torch.randint(0, K_TOP, (1, 8), generator=gen())
    assert torch.equal(back(idx), prior(idx))
    other = J.top_prior_config(K_TOP, N_LABELS, 15, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    with pytest.raises(ValueError, match="differ in"):
        J.load_top_prior(path, expect=other)
    up = J.save_upsampler(tiny_upsampler(), tmp_path / "u.pt")
    with pytest.raises(ValueError, match="does not hold a top prior"):
        J.load_top_prior(up)
    with pytest.raises(ValueError, match="does not hold an upsampler"):
        J.load_upsampler(path)


# --- upsampler -----------------------------------------------------------------------------------------------------
def test_upsampler_conditioning_and_batches_are_aligned():
    up = tiny_upsampler()
    upper = torch.randint(0, K_TOP, (3, 5), generator=gen())
    assert up.conditioning(upper).shape == (3, 5 * RATIO, 16)
    lower = torch.randint(0, K_BOTTOM, (3, 5 * RATIO), generator=gen(1))
    draw = J.upsampler_batches(lower, upper, RATIO, 8, up.bos)
    batch = draw(gen(2), 6)
    assert batch["tokens"].shape == (6, 9) and batch["upper"].shape == (6, 5)
    for row, s in zip(batch["tokens"], batch["start"]):  # targets are b_s .. b_{s+7}, inputs start one earlier
        i = next(i for i in range(3) if torch.equal(lower[i, s:s + 8], row[1:]))
        assert row[0] == (up.bos if s == 0 else lower[i, s - 1])
    loss = J.upsampler_loss(up.train(), batch)
    loss.backward()
    assert torch.isfinite(loss) and up.up_embed.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="differ by more than ratio"):
        J.upsampler_batches(lower[:, :-1], upper, RATIO, 8, up.bos)


def test_input_noise_corrupts_what_the_upsampler_reads_never_its_targets():
    up = tiny_upsampler()
    upper = torch.randint(0, K_TOP, (4, 5), generator=gen())
    lower = torch.randint(0, K_BOTTOM, (4, 5 * RATIO), generator=gen(1))
    clean = J.upsampler_batches(lower, upper, RATIO, 8, up.bos)(gen(2), 300)
    noisy = J.upsampler_batches(lower, upper, RATIO, 8, up.bos, input_noise=0.5)(gen(2), 300)
    assert "inputs" not in clean and torch.equal(noisy["tokens"], clean["tokens"])  # same crops, true targets
    inputs, read = noisy["inputs"], noisy["tokens"][:, :-1]
    assert inputs.shape == read.shape and int(inputs[read != up.bos].max()) < up.bos  # BOS is never drawn
    assert torch.equal(inputs[read == up.bos], read[read == up.bos])  # the start token stays
    changed = float((inputs != read).float().mean())  # drawn with p 0.5, a random code equals the true one 1/K_BOTTOM
    assert 0.5 * (1 - 1 / K_BOTTOM) - 0.05 < changed < 0.5 * (1 - 1 / K_BOTTOM) + 0.05
    # the loss reads the corrupted inputs: with them it differs from the clean batch's, with the clean ones it is equal
    up.eval()
    assert not torch.isclose(J.upsampler_loss(up, noisy), J.upsampler_loss(up, clean))
    assert torch.isclose(J.upsampler_loss(up, {k: v for k, v in noisy.items() if k != "inputs"}),
                         J.upsampler_loss(up, clean))
    with pytest.raises(ValueError, match="input_noise"):
        J.upsampler_batches(lower, upper, RATIO, 8, up.bos, input_noise=1.0)


def test_upsampler_sample_shapes_determinism_prompt_and_checkpoint(tmp_path):
    up = tiny_upsampler(max_len=8)  # 20 lower codes: the window slides
    upper = torch.randint(0, K_TOP, (2, 5), generator=gen())
    a = up.sample(upper, gen(3))
    assert a.shape == (2, 20) and int(a.max()) < K_BOTTOM
    assert torch.equal(a, up.sample(upper, gen(3)))
    prompt = torch.randint(0, K_BOTTOM, (2, 6), generator=gen(4))
    b = up.sample(upper, gen(3), prompt=prompt)
    assert torch.equal(b[:, :6], prompt)
    path = J.save_upsampler(up, tmp_path / "u.pt", half=False)
    assert torch.equal(J.load_upsampler(path).sample(upper, gen(3)), a)
    other = J.Upsampler(up.config, K_TOP, 2).to_dict()
    with pytest.raises(ValueError, match="differ in"):
        J.load_upsampler(path, expect=other)


def test_a_label_conditioned_upsampler_hears_its_label_at_every_position(tmp_path):
    cfg = MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=8)
    plain = J.Upsampler(cfg, K_TOP, RATIO, seed=0).eval()
    up = J.Upsampler(cfg, K_TOP, RATIO, seed=0, n_labels=N_LABELS).eval()
    assert "n_labels" not in plain.to_dict() and up.to_dict()["n_labels"] == N_LABELS
    for name, p in plain.state_dict().items():  # the label table is new; every other weight is the unlabelled one's
        assert torch.equal(p, up.state_dict()[name])
    upper = torch.randint(0, K_TOP, (2, 5), generator=gen())
    seq = up.inputs(torch.randint(0, K_BOTTOM, (2, 7), generator=gen(1)))  # (2, 8)
    with torch.no_grad():
        logits = {lab: up(seq, up.conditioning(upper, torch.tensor([lab, lab]))[:, :8]) for lab in (0, 1)}
    assert not torch.allclose(logits[0], logits[1])  # changing the label changes the logits ...
    assert (logits[0] - logits[1]).abs().amax(dim=-1).min() > 0  # ... at every position
    with pytest.raises(ValueError, match="pass label"):
        up.conditioning(upper)
    with pytest.raises(ValueError, match="takes no label"):
        plain.conditioning(upper, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="label must be"):
        up.conditioning(upper, torch.tensor([0, N_LABELS + 1]))  # N_LABELS itself is the null label
    a = up.sample(upper, gen(3), label=torch.tensor([0, 1]))
    assert a.shape == (2, 20) and torch.equal(a, up.sample(upper, gen(3), label=torch.tensor([0, 1])))  # same seed
    path = J.save_upsampler(up, tmp_path / "u.pt", half=False)
    back = J.load_upsampler(path)
    assert back.n_labels == N_LABELS and torch.equal(back.sample(upper, gen(3), label=torch.tensor([0, 1])), a)
    lower = torch.randint(0, K_BOTTOM, (3, 5 * RATIO), generator=gen(1))
    labels = torch.tensor([2, 0, 1])
    batch = J.upsampler_batches(lower, upper.repeat(2, 1)[:3], RATIO, 8, up.bos, labels=labels)(gen(2), 4)
    loss = J.upsampler_loss(up.train(), batch)
    loss.backward()
    assert batch["label"].shape == (4,) and up.label_embed.weight.grad.abs().sum() > 0


def test_an_upsampler_with_extra_labels_hears_every_attribute_and_widens_a_family_only_one(tmp_path):
    cfg = MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=8)
    narrow = J.Upsampler(cfg, K_TOP, RATIO, seed=0, n_labels=N_LABELS).eval()
    extra = (("tempo_band", 3), ("register", 2))
    up = J.widen_upsampler(narrow, extra).eval()
    assert up.label_names == ("family", "tempo_band", "register") and up.label_sizes == (N_LABELS, 3, 2)
    assert up.to_dict() == dict(narrow.to_dict(), extra_labels=[["tempo_band", 3], ["register", 2]])
    upper = torch.randint(0, K_TOP, (2, 5), generator=gen())
    seq = up.inputs(torch.randint(0, K_BOTTOM, (2, 7), generator=gen(1)))  # (2, 8)
    lab = torch.tensor([[0, 1, 0], [2, 0, 1]])
    with torch.no_grad():  # widened: the new tables are zero, so the logits are the family-only model's
        assert torch.equal(up(seq, up.conditioning(upper, lab)[:, :8]),
                           narrow(seq, narrow.conditioning(upper, lab[:, 0])[:, :8]))
        for table in up.extra_embeds:
            table.weight.normal_(0.0, 1.0)  # as if trained
        base = up(seq, up.conditioning(upper, lab)[:, :8])
        for a in range(3):  # changing any one attribute changes the logits at every position
            other = lab.clone()
            other[:, a] = (other[:, a] + 1) % up.label_sizes[a]
            assert (up(seq, up.conditioning(upper, other)[:, :8]) - base).abs().amax(dim=-1).min() > 0
    assert torch.equal(up.null_label(2), torch.tensor([[N_LABELS, 3, 2]] * 2))
    with pytest.raises(ValueError, match=r"label must be \(B=2, 3\)"):
        up.conditioning(upper, lab[:, 0])  # the family alone is not enough
    with pytest.raises(ValueError, match="label tempo_band must lie in 0..2"):
        up.conditioning(upper, torch.tensor([[0, 4, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="family-only"):
        J.widen_upsampler(up, extra)
    with pytest.raises(ValueError, match="extra_labels go with"):
        J.Upsampler(cfg, K_TOP, RATIO, extra_labels=extra)
    # guidance drops every attribute at once: scale 0 is the all-null label
    assert torch.equal(up.sample(upper, gen(5), label=lab, guidance_scale=0.0),
                       up.sample(upper, gen(5), label=up.null_label(2)))
    a = up.sample(upper, gen(3), label=lab, guidance_scale=3.0)
    back = J.load_upsampler(J.save_upsampler(up, tmp_path / "u.pt", half=False))
    assert back.extra_labels == extra and torch.equal(back.sample(upper, gen(3), label=lab, guidance_scale=3.0), a)
    with pytest.raises(ValueError, match="differ in"):
        J.load_upsampler(tmp_path / "u.pt", expect=narrow.to_dict())  # a file of another configuration
    # the columns it takes, by name, from a wider label (the top prior's)
    names = ("family", "tempo_band", "mode", "register")
    wide = torch.tensor([[2, 1, 0, 1]])
    assert J.upsampler_label(up, wide, names).tolist() == [[2, 1, 1]]
    assert J.upsampler_label(narrow, wide, names).tolist() == [2]  # a family-only upsampler takes the family
    with pytest.raises(ValueError, match="lacks"):
        J.upsampler_label(up, wide[:, :3], names[:3])
    # batches: (N, A) labels, a dropped crop loses every attribute
    lower = torch.randint(0, K_BOTTOM, (40, 5 * RATIO), generator=gen(1))
    uppers = torch.randint(0, K_TOP, (40, 5), generator=gen(2))
    labels = torch.stack([torch.randint(0, n, (40,), generator=gen(3 + i)) for i, n in enumerate(up.label_sizes)], 1)
    batch = J.upsampler_batches(lower, uppers, RATIO, 8, up.bos, labels=labels, label_dropout=0.5,
                                null_label=list(up.label_sizes))(gen(4), 400)
    dropped = (batch["label"] == torch.tensor(up.label_sizes)).all(1)
    assert 0.4 < float(dropped.float().mean()) < 0.6
    assert not (batch["label"][~dropped] == torch.tensor(up.label_sizes)).any()  # no attribute dropped alone
    loss = J.upsampler_loss(up.train(), batch)
    loss.backward()
    assert all(t.weight.grad.abs().sum() > 0 for t in up.extra_embeds)


def test_label_dropout_trains_the_null_label_and_guidance_mixes_the_two_halves():
    cfg = MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=8)
    up = J.Upsampler(cfg, K_TOP, RATIO, seed=0, n_labels=N_LABELS).eval()
    with torch.no_grad():
        up.label_embed.weight.normal_(0.0, 1.0)  # labels loud enough to move the samples
    lower = torch.randint(0, K_BOTTOM, (40, 5 * RATIO), generator=gen(1))
    upper = torch.randint(0, K_TOP, (40, 5), generator=gen(2))
    labels = torch.randint(0, N_LABELS, (40,), generator=gen(3))
    draw = J.upsampler_batches(lower, upper, RATIO, 8, up.bos, labels=labels, label_dropout=0.5, null_label=N_LABELS)
    batch = draw(gen(4), 400)
    dropped = float((batch["label"] == N_LABELS).float().mean())
    assert 0.4 < dropped < 0.6 and torch.equal(batch["label"], draw(gen(4), 400)["label"])  # seeded
    assert torch.equal(J.upsampler_batches(lower, upper, RATIO, 8, up.bos, labels=labels)(gen(4), 400)["label"] < N_LABELS,
                       torch.ones(400, dtype=torch.bool))  # no dropout: never the null label
    with pytest.raises(ValueError, match="null_label"):
        J.upsampler_batches(lower, upper, RATIO, 8, up.bos, labels=labels, label_dropout=0.2)
    top, lab = upper[:2], torch.tensor([0, 1])
    null = torch.full((2,), N_LABELS)
    cond = up.sample(top, gen(5), label=lab)
    assert torch.equal(up.sample(top, gen(5), label=lab, guidance_scale=1.0), cond)  # scale 1: the conditional model
    assert torch.equal(up.sample(top, gen(5), label=lab, guidance_scale=0.0), up.sample(top, gen(5), label=null))
    strong = up.sample(top, gen(5), label=lab, guidance_scale=4.0)
    assert not torch.equal(strong, cond)
    # the guided logits of one step: uncond + s (cond - uncond), from the two halves of one batch
    seq = up.inputs(torch.randint(0, K_BOTTOM, (2, 7), generator=gen(6)))
    x_c, x_u = up.conditioning(top, lab)[:, :8], up.conditioning(top, null)[:, :8]
    with torch.no_grad():
        lc, lu = up(seq, x_c)[:, -1], up(seq, x_u)[:, -1]
    from helpers.transformer import sample_next_token
    greedy = sample_next_token(torch.cat([lc, lu]), gen(0), top_k=1, guidance_scale=4.0)
    assert torch.equal(greedy, (lu + 4.0 * (lc - lu)).argmax(-1))
    plain = J.Upsampler(cfg, K_TOP, RATIO, seed=0)
    with pytest.raises(ValueError, match="label-conditioned"):
        plain.sample(top, gen(5), guidance_scale=2.0)


def test_generate_guides_on_x_add_with_and_without_the_cache():
    torch.manual_seed(0)
    m = MusicTransformer(MusicTransformerConfig.tiny(vocab_size=9, max_len=8)).eval()
    x_add = 3 * torch.randn(2, 20, 16, generator=gen(3))
    x_null = 3 * torch.randn(2, 20, 16, generator=gen(4))
    prompt = torch.randint(0, 9, (2, 2), generator=gen(5))
    a = generate(m, prompt, 18, gen(6), x_add=x_add, x_add_null=x_null, guidance_scale=2.5)
    b = generate(m, prompt, 18, gen(6), x_add=x_add, x_add_null=x_null, guidance_scale=2.5, use_cache=False)
    assert torch.equal(a, b)  # across window slides too (18 steps, window 8)
    assert torch.equal(generate(m, prompt, 18, gen(6), x_add=x_add, x_add_null=x_null, guidance_scale=1.0),
                       generate(m, prompt, 18, gen(6), x_add=x_add))
    assert torch.equal(generate(m, prompt, 18, gen(6), x_add=x_add, x_add_null=x_null, guidance_scale=0.0),
                       generate(m, prompt, 18, gen(6), x_add=x_null))
    with pytest.raises(ValueError, match="x_add_null goes with"):
        generate(m, prompt, 18, gen(6), x_add=x_add, x_add_null=x_null)  # no guidance_scale


def test_sample_top_down_hands_the_label_to_a_label_conditioned_upsampler():
    bottom = VQVAE(VQVAEConfig.tiny(hop=4, codebook_size=K_BOTTOM))
    top = VQVAE(VQVAEConfig.tiny(hop=16, codebook_size=K_TOP))
    prior = tiny_prior(max_len=32)
    cfg = MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=16)
    up = J.Upsampler(cfg, K_TOP, RATIO, seed=0, n_labels=N_LABELS).eval()
    with torch.no_grad():
        up.label_embed.weight.mul_(50.0)  # a label loud enough to move the samples
    seconds = 20 * 16 / 16000
    out = {lab: J.sample_top_down([top, bottom], prior, [up], [lab], seconds, gen(0)) for lab in (0, 1)}
    assert out[0]["bottom"].shape == (1, 20 * RATIO)
    assert torch.equal(out[0]["bottom"], J.sample_top_down([top, bottom], prior, [up], [0], seconds, gen(0))["bottom"])
    # the top codes differ by label too, so compare the upsampler alone under the same top codes
    same_top = out[0]["top"]
    b0, b1 = (up.sample(same_top, gen(7), label=torch.tensor([lab])) for lab in (0, 1))
    assert not torch.equal(b0, b1)
    guided = [J.sample_top_down([top, bottom], prior, [up], [0], seconds, gen(0), guidance_scale=gs)["bottom"]
              for gs in (2.0, (2.0,))]  # one number, or one per upsampler
    assert torch.equal(*guided) and not torch.equal(guided[0], out[0]["bottom"])
    with pytest.raises(ValueError, match="one per upsampler"):
        J.sample_top_down([top, bottom], prior, [up], [0], seconds, gen(0), guidance_scale=(2.0, 2.0))


def test_dilated_conditioner_widens_what_a_lower_position_sees_and_round_trips(tmp_path):
    cfg = MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=16)
    plain = J.Upsampler(cfg, K_TOP, RATIO, seed=0)
    wide = J.Upsampler(cfg, K_TOP, RATIO, seed=0, cond_blocks=2)  # receptive field 1 + 2 (1 + 3) = 9, then k=3: 11
    assert "cond_blocks" not in plain.to_dict() and wide.to_dict()["cond_blocks"] == 2
    assert torch.equal(plain.up_embed.weight, wide.up_embed.weight)  # no blocks: the same draws as before
    upper = torch.randint(0, K_TOP, (1, 12), generator=gen(1))
    far = upper.clone()
    far[0, 10] = (far[0, 10] + 1) % K_TOP  # five upper codes after position 5
    with torch.no_grad():
        for model, moves in ((plain, False), (wide, True)):
            a, b = model.conditioning(upper), model.conditioning(far)  # (1, 48, C)
            assert a.shape == (1, 12 * RATIO, 16)
            assert (not torch.allclose(a[0, 5 * RATIO], b[0, 5 * RATIO])) == moves
    path = J.save_upsampler(wide, tmp_path / "wide.pt", half=False)
    back = J.load_upsampler(path)
    assert back.cond_blocks == 2 and torch.equal(back.conditioning(upper), wide.eval().conditioning(upper))
    with pytest.raises(ValueError, match="cond_blocks"):
        J.Upsampler(cfg, K_TOP, RATIO, cond_blocks=-1)


def test_guide_upper_drops_the_upper_codes_with_the_label_and_guidance_pushes_towards_both(tmp_path):
    cfg = MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=16)
    up = J.Upsampler(cfg, K_TOP, RATIO, seed=0, n_labels=N_LABELS, null_upper=True).eval()
    assert up.to_dict()["null_upper"] is True and "null_upper" not in tiny_upsampler().to_dict()
    with torch.no_grad():
        up.up_null.normal_(0.0, 1.0)
    lower = torch.randint(0, K_BOTTOM, (40, 5 * RATIO), generator=gen(1))
    upper = torch.randint(0, K_TOP, (40, 5), generator=gen(2))
    labels = torch.randint(0, N_LABELS, (40,), generator=gen(3))
    batch = J.upsampler_batches(lower, upper, RATIO, 8, up.bos, labels=labels, label_dropout=0.5, null_label=N_LABELS,
                                drop_upper=True)(gen(4), 200)
    assert torch.equal(batch["drop_upper"], batch["label"] == N_LABELS)  # the same crops lose both
    loss = J.upsampler_loss(up.train(), batch)
    loss.backward()
    assert up.up_null.grad.abs().sum() > 0  # the null vector is trained
    up.eval()
    with torch.no_grad():  # a dropped row does not depend on its upper codes, a kept one does
        a = up.conditioning(upper[:2], labels[:2], torch.tensor([True, False]))
        b = up.conditioning(upper[2:4], labels[:2], torch.tensor([True, False]))
    assert torch.equal(a[0], b[0]) and not torch.allclose(a[1], b[1])
    # guidance: the unconditional half has the null label and the null upper vector
    top, lab = upper[:2], torch.tensor([0, 1])
    seq = up.inputs(torch.randint(0, K_BOTTOM, (2, 7), generator=gen(6)))
    with torch.no_grad():
        lc = up(seq, up.conditioning(top, lab)[:, :8])[:, -1]
        lu = up(seq, up.conditioning(top, torch.full((2,), N_LABELS), torch.ones(2, dtype=torch.bool))[:, :8])[:, -1]
    from helpers.transformer import sample_next_token
    greedy = sample_next_token(torch.cat([lc, lu]), gen(0), top_k=1, guidance_scale=3.0)
    assert torch.equal(greedy, (lu + 3.0 * (lc - lu)).argmax(-1))
    other = torch.randint(0, K_TOP, (2, 5), generator=gen(9))  # scale 0: the unconditional model, any upper codes
    assert torch.equal(up.sample(top, gen(5), label=lab, guidance_scale=0.0),
                       up.sample(other, gen(5), label=lab, guidance_scale=0.0))
    back = J.load_upsampler(J.save_upsampler(up, tmp_path / "gu.pt", half=False))
    assert back.null_upper and torch.equal(back.up_null, up.up_null)
    with pytest.raises(ValueError, match="label_dropout"):
        J.upsampler_batches(lower, upper, RATIO, 8, up.bos, labels=labels, null_label=N_LABELS, drop_upper=True)
    with pytest.raises(ValueError, match="null_upper"):
        tiny_upsampler().conditioning(upper[:1], None, torch.tensor([True]))
    with pytest.raises(ValueError, match="n_labels"):
        J.Upsampler(cfg, K_TOP, RATIO, null_upper=True)


def test_upsample_codes_chains_the_upsamplers_as_top_down_sampling_does():
    first = J.Upsampler(MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=16), K_TOP, RATIO, seed=0,
                        n_labels=N_LABELS).eval()
    second = J.Upsampler(MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=16), K_BOTTOM, RATIO, seed=1)
    upper = torch.randint(0, K_TOP, (2, 3), generator=gen(1))
    label = torch.tensor([0, 2])
    mid, low = J.upsample_codes(upper, [first, second], gen(5), label=label, temperature=(1.0, 0.5), guidance_scale=2.0)
    assert mid.shape == (2, 3 * RATIO) and low.shape == (2, 3 * RATIO * RATIO)
    g = gen(5)  # by hand, one generator through both: the same codes
    by_hand = first.sample(upper, g, label=label, guidance_scale=2.0)
    assert torch.equal(mid, by_hand) and torch.equal(low, second.sample(by_hand, g, temperature=0.5))
    assert not torch.equal(J.upsample_codes(upper, [first], gen(5), label=torch.tensor([1, 1]))[0],
                           J.upsample_codes(upper, [first], gen(5), label=label)[0])  # the label reaches it
    with pytest.raises(ValueError, match="one per upsampler"):
        J.upsample_codes(upper, [first, second], gen(5), label=label, temperature=(1.0, 0.5, 0.5))


def test_guidance_can_differ_per_upsampler_and_one_number_means_every_one():
    """guidance_scale=(5, 1.5): the first upsampler guided at 5, the second at 1.5, as two calls by hand give; one
    number equals the same number per upsampler; wrong counts and negative scales are refused."""
    first = J.Upsampler(MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=16), K_TOP, RATIO, seed=0,
                        n_labels=N_LABELS).eval()
    second = J.Upsampler(MusicTransformerConfig.tiny(vocab_size=K_BOTTOM + 1, max_len=16), K_BOTTOM, RATIO, seed=1,
                         n_labels=N_LABELS).eval()
    with torch.no_grad():
        for up in (first, second):
            up.label_embed.weight.mul_(50.0)  # a label loud enough to move the samples
    upper, label = torch.randint(0, K_TOP, (2, 3), generator=gen(1)), torch.tensor([0, 2])
    mid, low = J.upsample_codes(upper, [first, second], gen(5), label=label, guidance_scale=(5.0, 1.5))
    g = gen(5)
    by_hand = first.sample(upper, g, label=label, guidance_scale=5.0)
    assert torch.equal(mid, by_hand)
    assert torch.equal(low, second.sample(by_hand, g, label=label, guidance_scale=1.5))
    same = J.upsample_codes(upper, [first, second], gen(5), label=label, guidance_scale=(2.0, 2.0))
    assert all(torch.equal(a, b) for a, b in zip(same, J.upsample_codes(upper, [first, second], gen(5), label=label,
                                                                        guidance_scale=2.0)))
    assert not torch.equal(low, same[1])
    assert J.upsampler_guidance((None, 3), 2) == (None, 3.0)
    with pytest.raises(ValueError, match="one per upsampler"):
        J.upsample_codes(upper, [first, second], gen(5), label=label, guidance_scale=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match=">= 0"):
        J.upsampler_guidance(-1.0, 2)


def test_untrained_upsampler_draws_every_code_about_equally_and_never_bos():
    """BOS used to be clamped to the last code: (1 + 1) / 11 = 18% of the draws instead of 1/10."""
    up = tiny_upsampler(max_len=24)
    lower = up.sample(torch.randint(0, K_TOP, (48, 5), generator=gen(5)), gen(6))  # (48, 20): 960 codes
    freq = torch.bincount(lower.flatten(), minlength=K_BOTTOM).float() / lower.numel()
    assert len(freq) == K_BOTTOM  # BOS never among the codes
    assert float(freq[-1]) < 0.15 and float(freq.max()) < 0.15 and float(freq.min()) > 0.05, freq.tolist()


# --- top-down ------------------------------------------------------------------------------------------------------
def test_sample_top_down_shapes_determinism_and_prompt():
    bottom = VQVAE(VQVAEConfig.tiny(hop=4, codebook_size=K_BOTTOM))
    top = VQVAE(VQVAEConfig.tiny(hop=16, codebook_size=K_TOP))
    prior, up = tiny_prior(max_len=32), tiny_upsampler(max_len=16)
    seconds = 20 * 16 / 16000  # 20 top codes
    out = J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0))
    assert out["top"].shape == (1, 20) and out["bottom"].shape == (1, 80) and out["audio"].shape == (1, 320)
    assert out["audio_top"].shape == (1, 320) and set(out["rtf"]) == {"top_prior", "upsampler", "upsamplers", "decode", "total"}
    again = J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0))
    assert torch.equal(again["audio"], out["audio"])
    t = torch.arange(160) / 16000
    prompt = (0.3 * torch.sin(2 * torch.pi * 440 * t))[None]  # 10 top codes, 40 bottom codes
    cont = J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0), prompt_audio=prompt, sr=16000)
    assert torch.equal(cont["top"][:, :10], top.encode(prompt, 16000))
    assert torch.equal(cont["bottom"][:, :40], bottom.encode(prompt, 16000))
    with pytest.raises(ValueError, match="sample rate"):  # the prompt's rate is required
        J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0), prompt_audio=prompt)
    with pytest.raises(ValueError, match="44100 Hz"):
        J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0), prompt_audio=prompt, sr=44100)
    with pytest.raises(ValueError, match="upsampler ratio"):
        J.sample_top_down([top, bottom], prior, [J.Upsampler(up.config, K_TOP, 2)], 1, seconds, gen(0))


def test_sample_top_down_takes_one_temperature_per_level():
    bottom = VQVAE(VQVAEConfig.tiny(hop=4, codebook_size=K_BOTTOM))
    top = VQVAE(VQVAEConfig.tiny(hop=16, codebook_size=K_TOP))
    prior, up = tiny_prior(max_len=32), tiny_upsampler(max_len=16)
    seconds = 20 * 16 / 16000
    one = J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0), temperature=0.7)
    pair = J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0), temperature=(0.7, 0.7))
    assert torch.equal(one["bottom"], pair["bottom"])  # a number is the same temperature at both levels
    cold, hot = (J.sample_top_down([top, bottom], prior, [up], 1, seconds, gen(0), temperature=(1.0, t)) for t in (0.05, 5.0))
    assert torch.equal(cold["top"], hot["top"])  # the bottom's temperature leaves the top codes alone
    assert not torch.equal(cold["bottom"], hot["bottom"])
    assert J.level_temperatures(0.9) == (0.9, 0.9) and J.level_temperatures([1.0, 0.5]) == (1.0, 0.5)
    for bad in ((1.0, 1.0, 1.0), (1.0, 0.0), -1.0):
        with pytest.raises(ValueError, match="temperature"):
            J.level_temperatures(bad)


# --- three levels, several labels ----------------------------------------------------------------------------------
SIZES = (3, 2, 2)  # family, tempo band, mode (tiny)


def tiny_prior_sizes(max_len=24):
    cfg = J.top_prior_config(K_TOP, SIZES, max_len - len(SIZES), n_layer=2, n_head=2, d_model=16, d_ff=32,
                             dropout=0.0)
    torch.manual_seed(0)
    prior = MusicTransformer(cfg)
    prior.n_labels, prior.label_sizes = sum(SIZES), SIZES
    return prior.eval()


def test_label_tokens_give_each_attribute_its_own_ids():
    assert J.label_tokens([[0, 2, 1]], 10, (8, 3, 2)).tolist() == [[10, 20, 22]]
    assert J.label_tokens([1, 2], 10, (3,)).tolist() == [[11], [12]]  # one attribute: (B,) is fine
    with pytest.raises(ValueError, match="for attribute 1"):
        J.label_tokens([[0, 3, 0]], 10, (8, 3, 2))
    with pytest.raises(ValueError, match=r"labels must be \(B, 3\)"):
        J.label_tokens([0, 1], 10, (8, 3, 2))


def test_prior_with_several_labels_batches_samples_and_round_trips(tmp_path):
    codes = torch.randint(0, K_TOP, (5, 12), generator=gen())
    labels = torch.tensor([[0, 1, 0], [2, 0, 1], [1, 1, 1], [0, 0, 0], [2, 1, 0]])
    batch = J.top_prior_batches(codes, labels, K_TOP, SIZES)(gen(1), 4)
    assert batch.shape == (4, 15) and int(batch[:, 3:].max()) < K_TOP
    assert set(batch[:, 1].tolist()) <= {K_TOP + 3, K_TOP + 4} and set(batch[:, 2].tolist()) <= {K_TOP + 5, K_TOP + 6}
    prior = tiny_prior_sizes()
    out = J.sample_top(prior, labels[:2], 12, gen(2))
    assert out.shape == (2, 12) and int(out.max()) < K_TOP  # label tokens are never drawn as codes
    assert torch.equal(out, J.sample_top(prior, labels[:2], 12, gen(2)))
    # the tempo and mode tokens reach the codes: changing either changes the prior's first code logits
    seqs = J.label_tokens(torch.tensor([[0, 0, 0], [0, 1, 0], [0, 0, 1]]), K_TOP, SIZES)  # (3, 3)
    first = prior(seqs)[:, -1]  # (3, V): the logits of the first code
    assert not torch.allclose(first[0], first[1]) and not torch.allclose(first[0], first[2])
    path = J.save_top_prior(prior, SIZES, tmp_path / "p.pt", half=False, label_names=["family", "tempo_band", "mode"])
    back = J.load_top_prior(path)
    assert back.label_sizes == SIZES and back.label_names == ("family", "tempo_band", "mode") and back.n_labels == 7
    assert torch.equal(J.sample_top(back, labels[:2], 12, gen(2)), J.sample_top(prior, labels[:2], 12, gen(2)))
    with pytest.raises(ValueError, match=r"labels must be \(B, 3\)"):
        J.sample_top(back, [0, 1], 12, gen(2))  # a family alone is not enough for this prior


def test_three_levels_top_down_shapes_conditioning_at_every_level_and_prompt():
    levels = [VQVAE(VQVAEConfig.tiny(hop=h, codebook_size=k)) for h, k in ((64, K_TOP), (16, K_TOP), (4, K_BOTTOM))]
    prior = tiny_prior_sizes(max_len=24)
    ups = []
    for k_lower in (K_TOP, K_BOTTOM):
        cfg = MusicTransformerConfig.tiny(vocab_size=k_lower + 1, max_len=16)
        up = J.Upsampler(cfg, K_TOP, RATIO, seed=0, n_labels=SIZES[0]).eval()
        with torch.no_grad():
            up.label_embed.weight.mul_(50.0)  # a label loud enough to move the samples
        ups.append(up)
    seconds = 10 * 64 / 16000  # 10 top codes
    label = torch.tensor([[1, 0, 1]])
    out = J.sample_top_down(levels, prior, ups, label, seconds, gen(0))
    assert [c.shape for c in out["codes"]] == [(1, 10), (1, 40), (1, 160)]
    assert out["audio"].shape == (1, 640) and len(out["audio_levels"]) == 3
    assert len(out["rtf"]["upsamplers"]) == 2
    assert torch.equal(out["audio"], J.sample_top_down(levels, prior, ups, label, seconds, gen(0))["audio"])
    # the family reaches every upsampler: changing it changes each one's logits under the same codes
    for up, upper, lower in zip(ups, out["codes"], out["codes"][1:]):
        seq = up.inputs(lower)[:, :-1]
        a, b = (up(seq, up.conditioning(upper, torch.tensor([lab]))) for lab in (0, 1))
        assert not torch.allclose(a, b)
    t = torch.arange(320) / 16000
    prompt = (0.3 * torch.sin(2 * torch.pi * 440 * t))[None]  # 5 top codes
    cont = J.sample_top_down(levels, prior, ups, label, seconds, gen(0), prompt_audio=prompt, sr=16000)
    for lv, c, n in zip(levels, cont["codes"], (5, 20, 80)):
        assert torch.equal(c[:, :n], lv.encode(prompt[:, None], 16000)[:, :n])
    ragged = J.sample_top_down(levels, prior, ups, label, seconds, gen(0), prompt_audio=prompt[:, :350], sr=16000)
    assert torch.equal(ragged["codes"][2][:, :80], cont["codes"][2][:, :80])  # cut to whole top codes (320 of 350)
    with pytest.raises(ValueError, match="shorter than one top code"):
        J.sample_top_down(levels, prior, ups, label, seconds, gen(0), prompt_audio=prompt[:, :60], sr=16000)
    three = J.sample_top_down(levels, prior, ups, label, seconds, gen(0), temperature=(1.0, 0.5, 0.5))
    assert torch.equal(three["audio"], J.sample_top_down(levels, prior, ups, label, seconds, gen(0),
                                                         temperature=(1.0, 0.5))["audio"])  # (top, rest)
    with pytest.raises(ValueError, match="one upsampler per lower level"):
        J.sample_top_down(levels, prior, ups[:1], label, seconds, gen(0))
    with pytest.raises(ValueError, match="upper hop 64"):
        J.sample_top_down([levels[0], levels[2]], prior, ups[:1], label, seconds, gen(0))


def test_load_level_reads_either_design_and_refuses_a_codec(tmp_path):
    from helpers import autoencoder as ae
    from helpers import vqvae

    level = ae.Autoencoder(ae.AutoencoderConfig.tiny(n_codebooks=1))
    ae.save_checkpoint(level, tmp_path / "level.pt", half=False)
    back = J.load_level(tmp_path / "level.pt")
    x = torch.randn(2, 1, 4 * level.hop, generator=gen())
    assert J.level_encode(back, x, 16000).shape == (2, 4) and not back.training
    codec = ae.Autoencoder(ae.AutoencoderConfig.tiny(n_codebooks=2))
    ae.save_checkpoint(codec, tmp_path / "codec.pt", half=False)
    with pytest.raises(ValueError, match="2 codebooks"):
        J.load_level(tmp_path / "codec.pt")
    vq = VQVAE(VQVAEConfig.tiny(hop=16, codebook_size=K_TOP))
    vqvae.save_checkpoint(vq, tmp_path / "vq.pt")
    assert isinstance(J.load_level(tmp_path / "vq.pt"), VQVAE)
    prior = tiny_prior()
    J.save_top_prior(prior, N_LABELS, tmp_path / "prior.pt", half=False)
    with pytest.raises(ValueError, match="no VQ-VAE level"):
        J.load_level(tmp_path / "prior.pt")
