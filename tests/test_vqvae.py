"""Tests of helpers.vqvae: shapes per hop, the bottleneck against closed forms, restarts, determinism, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import vqvae as V

HOPS = (1, 2, 4, 8, 32, 64, 128, 320)
SR = 16000


def clip(B=2, T=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T) / 16000
    return 0.3 * torch.sin(2 * torch.pi * 440 * t)[None] + 0.05 * torch.randn(B, T, generator=g)


# --- shapes --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hop", HOPS)
def test_shapes_for_every_hop(hop):
    m = V.VQVAE(V.VQVAEConfig.tiny(hop=hop))
    assert int(np.prod(m.config.strides)) == hop
    x = clip(T=hop * 6)
    out = m(x)
    assert out.audio.shape == x.shape and out.codes.shape == (2, 6)
    # a length that is not a multiple of the hop is padded inside and trimmed back
    y = clip(B=3, T=hop * 6 + (hop > 1))
    assert m(y).audio.shape == y.shape
    codes = m.encode(y, SR)
    assert codes.shape == (3, 6 + (hop > 1)) and codes.dtype == torch.int64
    assert m.decode(codes).shape == (3, codes.shape[1] * hop)
    assert m.reconstruct(y, SR).shape == y.shape


def test_hop_factorisation_and_widths():
    for hop in range(1, 200):
        assert int(np.prod(V.hop_strides(hop))) == hop
    assert V.hop_strides(128) == (4, 4, 4, 2)
    assert V.stage_widths(64, 3) == [8, 16, 32, 64]
    with pytest.raises(ValueError, match="hop"):
        V.VQVAEConfig(hop=0)


# --- the bottleneck against plain references ---------------------------------------------------------------------
EPS = 1e-5


def smoothed(counts):
    """Laplace smoothing of cluster sizes, written out: (N_k + eps) / (sum N + K eps) * sum N."""
    return (counts + EPS) / (counts.sum() + len(counts) * EPS) * counts.sum()


def hand_quantizer(normalize=False, mu=0.9, threshold=1.0):
    q = V.VectorQuantizer(3, 2, mu=mu, threshold=threshold, normalize=normalize, seed=0)
    q.codebook.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    q.ema_count.fill_(2.0)
    q.ema_sum.copy_(2 * q.codebook)
    q.initialised.fill_(True)
    return q


def test_nearest_matches_the_plain_distances():
    q = V.VectorQuantizer(37, 5, seed=3)
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(q.nearest(x), q.nearest_reference(x))


def test_ema_update_matches_the_one_step_closed_form():
    q = hand_quantizer(normalize=False, mu=0.9)
    z = torch.tensor([[0.9, 1.1, 0.1], [0.1, -0.1, 0.8]])[None]  # (B=1, D=2, L=3): near code 0, 0, 1
    out = q.train()(z)
    assert out.codes.tolist() == [[0, 0, 1]]
    assert out.commit.item() == pytest.approx((0.01 + 0.01 + 0.01 + 0.01 + 0.01 + 0.04) / 6)
    assert torch.allclose(out.z_q, torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])[None])
    assert torch.equal(q.codebook, torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))  # forward alone: no update
    report = V.update_codebooks(q)
    # by hand: n = (2, 1, 0), s = ((2.0, 0.0), (0.1, 0.8), (0, 0))
    count = torch.tensor([0.9 * 2 + 0.1 * 2, 0.9 * 2 + 0.1 * 1, 0.9 * 2 + 0.1 * 0])
    sums = torch.tensor([[0.9 * 2 + 0.1 * 2.0, 0.0], [0.1 * 0.1, 0.9 * 2 + 0.1 * 0.8], [0.9 * -2, 0.0]])
    assert torch.allclose(q.ema_count, count) and torch.allclose(q.ema_sum, sums)
    assert torch.allclose(q.codebook, sums / smoothed(count)[:, None], rtol=1e-6, atol=0)
    assert report == [{"restarted": 0, "alive": 1.0}]
    assert V.update_codebooks(q) == []  # nothing pending any more


def test_ema_update_normalised_codes_lie_on_the_unit_sphere():
    q = hand_quantizer(normalize=True, mu=0.9)
    z = torch.tensor([[3.0, 2.0, 0.2], [0.3, -0.2, 1.6]])[None]
    q.train()(z)
    V.update_codebooks(q)
    zn = torch.nn.functional.normalize(z[0].t(), dim=1)  # the latents as quantised
    s1 = 0.9 * torch.tensor([0.0, 2.0]) + 0.1 * zn[2]
    assert torch.allclose(q.codebook[1], s1 / s1.norm())
    assert torch.allclose(q.codebook.norm(dim=1), torch.ones(3))


def test_gradient_accumulation_sums_the_statistics():
    q = hand_quantizer(mu=0.5)
    z = torch.tensor([[0.9, 0.1], [0.1, 0.8]])[None]  # codes 0, 1
    q.train()(z)
    q.train()(z)
    V.update_codebooks(q)
    assert torch.allclose(q.ema_count, torch.tensor([0.5 * 2 + 0.5 * 2, 0.5 * 2 + 0.5 * 2, 0.5 * 2]))


def test_straight_through_gradient_is_the_gradient_at_the_quantised_output():
    q = hand_quantizer(normalize=False)
    z = torch.tensor([[0.9, 1.1, 0.1], [0.1, -0.1, 0.8]])[None].requires_grad_()
    w = torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])[None]
    out = q.eval()(z)
    (out.z_q**3 * w).sum().backward()
    assert torch.allclose(z.grad, 3 * out.z_q.detach() ** 2 * w)  # d/dq of sum(q^3 w), evaluated at q
    # with normalised latents the same gradient flows back through the normalisation
    qn = hand_quantizer(normalize=True)
    z2 = z.detach().clone().requires_grad_()
    out2 = qn.eval()(z2)
    g = 3 * out2.z_q.detach() ** 2 * w
    (out2.z_q**3 * w).sum().backward()
    (expected,) = torch.autograd.grad(torch.nn.functional.normalize(z2, dim=1), z2, g)
    assert torch.allclose(z2.grad, expected)


def test_restarts_revive_exactly_the_dead_codes():
    q = V.VectorQuantizer(6, 2, mu=0.5, threshold=1.0, normalize=False, seed=0)
    q.initialised.fill_(True)
    q.ema_count.copy_(torch.tensor([4.0, 1.5, 4.0, 1.9, 2.0, 4.0]))
    q.ema_sum.copy_(torch.arange(12.0).reshape(6, 2))
    n = torch.tensor([2.0, 0.0, 2.0, 0.0, 1.0, 0.0])  # new counts 3, 0.75, 3, 0.95, 1.5, 2 -> codes 1 and 3 die
    s = torch.ones(6, 2)
    candidates = torch.tensor([[10.0, 11.0], [20.0, 21.0], [30.0, 31.0], [40.0, 41.0]])
    dead = q.ema_update(n, s, candidates)
    assert dead.tolist() == [False, True, False, True, False, False]
    alive = ~dead
    expected_sum = 0.5 * torch.arange(12.0).reshape(6, 2) + 0.5
    expected_count = 0.5 * torch.tensor([4.0, 1.5, 4.0, 1.9, 2.0, 4.0]) + 0.5 * n
    assert torch.allclose(q.codebook[alive], (expected_sum / smoothed(expected_count)[:, None])[alive], rtol=1e-6, atol=0)
    revived = q.codebook[dead]
    assert all(any(torch.equal(r, c) for c in candidates) for r in revived)  # each a candidate latent...
    assert not torch.equal(revived[0], revived[1])  # ... two different ones
    assert torch.equal(q.ema_sum[dead], revived) and q.ema_count[dead].tolist() == [1.0, 1.0]


def test_with_mu_zero_the_unused_codes_of_a_batch_are_the_restarted_ones():
    q = V.VectorQuantizer(32, 4, mu=0.0, threshold=1.0, normalize=False, seed=0).train()
    z = torch.randn(2, 4, 10, generator=torch.Generator().manual_seed(0))
    q(z)  # initialises from these 20 latents (32 codes: some repeated)
    V.update_codebooks(q)
    z2 = torch.randn(2, 4, 10, generator=torch.Generator().manual_seed(1))
    before = q.codebook.clone()
    codes = q(z2).codes.flatten()
    [report] = V.update_codebooks(q)
    counts = torch.bincount(codes, minlength=32).float()
    used, size = counts > 0, smoothed(counts)
    latents = z2.transpose(1, 2).reshape(-1, 4)
    assert report["restarted"] == int((~used).sum())
    for k in range(32):
        if used[k]:  # mu = 0: the sum of the latents it got over its (smoothed) count, about their mean
            assert torch.allclose(q.codebook[k], latents[codes == k].sum(0) / size[k], rtol=1e-6, atol=1e-7)
            assert torch.allclose(q.codebook[k], latents[codes == k].mean(0), rtol=1e-4)
        else:  # restarted from a latent of the batch
            assert any(torch.equal(q.codebook[k], row) for row in latents)
    assert not torch.equal(before, q.codebook)


def test_codebook_is_initialised_from_the_first_training_batch():
    q = V.VectorQuantizer(8, 3, normalize=True, seed=0)
    z = torch.randn(2, 3, 16, generator=torch.Generator().manual_seed(0))
    q.eval()(z)
    assert not bool(q.initialised)  # eval mode neither initialises nor records
    q.train()(z)
    zn = torch.nn.functional.normalize(z, dim=1).transpose(1, 2).reshape(-1, 3)
    assert bool(q.initialised)
    assert all(any(torch.allclose(c, row) for row in zn) for c in q.codebook)
    assert len({tuple(c.tolist()) for c in q.codebook}) == 8  # 32 latents >= 8 codes: no repeats


def test_unapplied_statistics_warn():
    q = V.VectorQuantizer(4, 2, seed=0).train()
    z = torch.randn(1, 2, 5)
    with pytest.warns(RuntimeWarning, match="training_hooks"):
        for _ in range(V.PENDING_WARNING):
            q(z)


def test_training_mode_under_no_grad_records_and_initialises_nothing():
    """An evaluation or a plot in training mode under torch.no_grad must not move the codebook (module docstring)."""
    q = V.VectorQuantizer(8, 3, seed=0).train()
    z = torch.randn(2, 3, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        q(z)
    assert q._pending is None and not bool(q.initialised) and V.update_codebooks(q) == []
    m = V.VQVAE(V.VQVAEConfig.tiny()).train()
    m(clip())  # with gradients: initialises and records
    V.update_codebooks(m)
    before = m.quantizer.codebook.clone()
    with torch.no_grad():
        m(clip(seed=1))
    assert V.update_codebooks(m) == [] and torch.equal(before, m.quantizer.codebook)


def test_pending_restart_candidates_are_capped_while_counts_accumulate():
    q = V.VectorQuantizer(16, 4, seed=0).train()
    z = torch.randn(2, 4, 50, generator=torch.Generator().manual_seed(0))  # 100 latents per forward
    with pytest.warns(RuntimeWarning, match="training_hooks"):
        for _ in range(300):
            q(z)
    p = q._pending
    assert p["forwards"] == 300 and float(p["count"].sum()) == 300 * 100  # every forward counted...
    assert p["latents"].shape == (100, 4)  # ... but only the latest batch kept as candidates (was 30,000 rows)
    assert torch.equal(p["latents"], torch.nn.functional.normalize(z, dim=1).transpose(1, 2).reshape(-1, 4))
    small = V.VectorQuantizer(16, 4, seed=0).train()  # batches smaller than the codebook: up to K rows kept
    for i in range(5):
        small(torch.randn(1, 4, 6, generator=torch.Generator().manual_seed(i)))
    assert small._pending["latents"].shape == (16, 4)


def test_codes_and_ema_sums_stay_float32_under_autocast():
    """bf16 autocast must not reach the nearest-code search or the EMA sums (an fp32 island)."""
    q = V.VectorQuantizer(64, 8, normalize=False, seed=0).train()
    q.initialise(torch.randn(64, 8, generator=torch.Generator().manual_seed(1)))
    z = torch.randn(4, 8, 256, generator=torch.Generator().manual_seed(2))  # 1024 latents
    ref = q(z)
    ref_sum = q._pending["sum"].clone()
    q._pending = None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = q(z)
    assert torch.equal(out.codes, ref.codes)  # bf16 distances changed about 2% of them
    assert out.z_q.dtype == torch.float32 and q._pending["sum"].dtype == torch.float32
    assert torch.equal(q._pending["sum"], ref_sum)


@pytest.mark.parametrize("normalize, steps", [(False, 400), (True, 1200)])
def test_without_expiry_an_unused_code_keeps_its_vector(normalize, steps):
    """restart_threshold=0: code 2 is never used. Its S and N decay together; once they underflow (N below 1e-12 after
    ~260 steps of mu=0.9, S to 0 after ~1000) the old update slid it to the origin."""
    q = hand_quantizer(normalize=normalize, mu=0.9, threshold=0.0)
    start = q.codebook[2].clone()
    n = torch.tensor([3.0, 2.0, 0.0])
    s = torch.stack([3 * q.codebook[0], 2 * q.codebook[1], torch.zeros(2)])
    for _ in range(steps):
        dead = q.ema_update(n, s, torch.zeros(1, 2))
    assert not dead.any()
    assert torch.equal(q.codebook[2], start)  # not restarted, not moved
    assert torch.allclose(q.codebook[:2], torch.tensor([[1.0, 0.0], [0.0, 1.0]]))  # the used codes at their means


def test_laplace_smoothing_keeps_the_total_and_no_size_is_zero():
    counts = torch.tensor([4.0, 0.0, 1.0, 0.0])
    size = V.laplace_smoothing(counts, 1e-5)
    assert torch.allclose(size, smoothed(counts)) and (size > 0).all()
    assert float(size.sum()) == pytest.approx(5.0) and torch.allclose(size, counts, atol=1e-4)


def test_usage_and_perplexity():
    usage, ppl = V.code_statistics(torch.tensor([0, 1, 2, 3, 0, 1, 2, 3]), 8)
    assert usage.item() == 0.5 and ppl.item() == pytest.approx(4.0)
    usage, ppl = V.code_statistics(torch.tensor([5, 5, 5]), 8)
    assert usage.item() == 1 / 8 and ppl.item() == pytest.approx(1.0)


# --- the model ---------------------------------------------------------------------------------------------------
def train_steps(model, x, steps, lr=3e-3):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    model.train()
    for step in range(steps):
        loss, metrics = V.loss_fn(model, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        for hook in model.training_hooks():
            hook(model, step)
        history.append(loss.item())
    return history, metrics


def test_loss_falls_and_metrics_are_reported():
    torch.manual_seed(123)  # the model must not depend on it
    m = V.VQVAE(V.VQVAEConfig.tiny(hop=8), seed=0)
    history, metrics = train_steps(m, clip(T=256), 25)
    assert set(metrics) == {"recon", "spectral", "commit", "usage", "perplexity"}
    assert np.mean(history[-5:]) < 0.8 * np.mean(history[:5])
    assert 0 < metrics["usage"] <= 1 and 1 <= metrics["perplexity"] <= 16


def test_same_seed_same_model_and_training():
    a, b = V.VQVAE(V.VQVAEConfig.tiny(), seed=1), V.VQVAE(V.VQVAEConfig.tiny(), seed=1)
    torch.manual_seed(0)
    ha, _ = train_steps(a, clip(), 3)
    torch.manual_seed(99)
    hb, _ = train_steps(b, clip(), 3)
    assert ha == hb
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    c = V.VQVAE(V.VQVAEConfig.tiny(), seed=2)
    assert not torch.equal(a.encoder.net[0].weight, c.encoder.net[0].weight)


def test_bad_audio_is_refused_with_clear_errors():
    m = V.VQVAE(V.VQVAEConfig.tiny(hop=8))
    x = clip(T=64)
    with pytest.raises(TypeError, match="sr"):
        m.encode(x[:, None])  # the rate is required: 44.1 kHz audio read as 16 kHz gave codes silently
    with pytest.raises(ValueError, match="pass the audio's sample rate"):
        m.encode(x[:, None], None)
    with pytest.raises(ValueError, match="44100 Hz.*16000 Hz"):
        m.encode(x[:, None], sr=44100)
    with pytest.raises(ValueError, match="2 channels"):
        m.encode(torch.stack([x, x], dim=1), SR)  # (B, 2, T)
    with pytest.raises(ValueError, match=r"stereo \(T, 2\)"):
        m.encode(x[0][:, None].repeat(1, 2), SR)  # (T, 2), as soundfile reads it
    with pytest.raises(ValueError, match=r"stereo \(2, T\)"):
        m.encode(x, SR)  # (2, T), as torchaudio and librosa read it: not two clips
    with pytest.raises(ValueError, match="int16-scale"):
        m.encode(x[:1] * 32767, SR)  # float samples at int16 scale
    with pytest.raises(ValueError, match="silent"):
        m.encode(torch.cat([x[:1], torch.zeros(1, 64), x[1:]]), SR)
    with pytest.raises(ValueError, match="shorter than one code frame"):
        m.encode(x[:1, :5], SR)
    with pytest.raises(ValueError, match="NaN"):
        m.encode(torch.full((1, 64), float("nan")), SR)
    with pytest.raises(ValueError, match="floating-point"):
        m.encode(torch.ones(1, 64, dtype=torch.int64), SR)
    with pytest.raises(ValueError, match="44100 Hz"):
        m.reconstruct(x[:1], sr=44100)
    assert m.encode(x[0].numpy(), sr=16000).shape == (1, 8)  # a mono NumPy clip at the right rate is fine
    assert m.encode(clip(B=3, T=64), SR).shape == (3, 8)  # three clips as (3, T) ...
    assert m.encode(clip(B=3, T=64)[:, None], SR).shape == (3, 8)  # ... or (3, 1, T)
    assert V.check_audio is __import__("helpers.autoencoder", fromlist=["check_audio"]).check_audio  # one definition


def test_two_clips_as_2_1_T_are_accepted():
    m = V.VQVAE(V.VQVAEConfig.tiny(hop=8))
    assert m.encode(clip(T=64)[:, None], SR).shape == (2, 8)


def test_config_round_trip_and_checkpoint_refusal(tmp_path):
    cfg = V.VQVAEConfig.tiny(hop=8)
    assert V.VQVAEConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown VQVAEConfig fields"):
        V.VQVAEConfig.from_dict(dict(cfg.to_dict(), width=3))
    m = V.VQVAE(cfg, seed=4)
    train_steps(m, clip(), 2)
    path = V.save_checkpoint(m, tmp_path / "vq.pt")
    raw = torch.load(path, weights_only=True)
    assert raw["config"]["kind"] == "VQVAEConfig"
    loaded = V.load_checkpoint(path, cfg)
    x = clip(B=3, T=64)
    assert torch.equal(loaded.encode(x, SR), m.encode(x, SR))
    assert torch.allclose(loaded.reconstruct(x, SR), m.reconstruct(x, SR))
    with pytest.raises(ValueError, match=r"another configuration \(differs in \['codebook_size'\]\)"):
        V.load_checkpoint(path, V.VQVAEConfig.tiny(hop=8, codebook_size=32))


# --- torch.distributed: the hook all-reduces the statistics ------------------------------------------------------
def _distributed_update(rank, world, init_file, out_dir):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        q = V.VectorQuantizer(4, 2, mu=0.8, threshold=0.0, normalize=False, seed=0).train()
        q.codebook.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
        q.ema_sum.copy_(q.codebook)
        q.initialised.fill_(True)
        q(_rank_batch(rank))  # each rank sees its own batch
        V.update_codebooks(q)
        torch.save(q.state_dict(), f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _rank_batch(rank):
    return torch.randn(1, 2, 6, generator=torch.Generator().manual_seed(10 + rank))


def test_distributed_update_equals_one_update_on_all_batches(tmp_path):
    import torch.multiprocessing as mp

    mp.start_processes(_distributed_update, args=(2, tmp_path / "init", tmp_path), nprocs=2, start_method="fork")
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    q = V.VectorQuantizer(4, 2, mu=0.8, threshold=0.0, normalize=False, seed=0).train()
    q.codebook.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]]))
    q.ema_sum.copy_(q.codebook)
    q.initialised.fill_(True)
    q(torch.cat([_rank_batch(0), _rank_batch(1)], dim=2))  # one process, both batches
    V.update_codebooks(q)
    for state in states:
        for name in ("codebook", "ema_count", "ema_sum"):
            assert torch.allclose(state[name], getattr(q, name), atol=1e-6), name


def test_waveform_loss_is_relative_to_the_clips_energy():
    x = clip(T=512)
    for recon in ("l1", "l2"):
        _, silence, _ = V.reconstruction_loss(x, torch.zeros_like(x), recon, spectral_weight=0.0)
        _, quiet, _ = V.reconstruction_loss(0.01 * x, 0.01 * 0.5 * x, recon, spectral_weight=0.0)
        _, loud, _ = V.reconstruction_loss(x, 0.5 * x, recon, spectral_weight=0.0)
        assert silence.item() == pytest.approx(1.0)
        assert quiet.item() == pytest.approx(loud.item(), rel=1e-5)
        assert loud.item() == pytest.approx(0.25 if recon == "l2" else 0.5, rel=1e-5)


def test_min_channels_widens_the_audio_rate_layers():
    assert V.stage_widths(64, 4, min_channels=16) == [16, 16, 16, 32, 64]
    assert V.stage_widths(8, 2, min_channels=16) == [8, 8, 8]  # never wider than channels
    cfg = V.VQVAEConfig.tiny(channels=32, min_channels=16)
    model = V.VQVAE(cfg)
    assert model.encoder.net[0].out_channels == 16 and model.decoder.net[-1].in_channels == 16
    assert V.VQVAEConfig.from_dict(cfg.to_dict()) == cfg
    old = {k: v for k, v in V.VQVAEConfig().to_dict().items() if k != "min_channels"}  # saved before the field
    assert V.VQVAEConfig.from_dict(old).min_channels == 8
    with pytest.raises(ValueError, match="min_channels"):
        V.VQVAEConfig(min_channels=0)


def test_trains_through_the_course_training_loop_with_metrics_and_its_hooks():
    """The one training loop (helpers.training.train) records the VQ-VAE's metrics and runs its codebook hook."""
    from helpers.training import TrainConfig, train

    m = V.VQVAE(V.VQVAEConfig.tiny(hop=8), seed=0)
    data = clip(B=4, T=256)
    snapshots = []  # the codebook after each step, seen by a hook of ours that runs after the model's own
    cfg = TrainConfig(steps=6, batch_size=4, lr=3e-3, warmup_steps=1, eval_every=3, device="cpu", progress=False)
    history = train(m, V.loss_fn, lambda g, b: data, [data], cfg,
                    hooks=[lambda model, step: snapshots.append(model.quantizer.codebook.clone())])
    assert set(history["metrics"]) == {"recon", "spectral", "commit", "usage", "perplexity"}
    assert all(len(v) == 6 for v in history["metrics"].values())
    assert set(history["valid_metrics"]) == set(history["metrics"]) and len(history["valid_metrics"]["usage"]) == 2
    # the EMA update ran as a per-step hook at every step (after initialisation): the codebook moves from step to
    # step although it gets no gradient
    assert len(snapshots) == 6 and all(not torch.equal(a, b) for a, b in zip(snapshots[1:], snapshots[2:]))
    assert m.quantizer.codebook.grad is None


@pytest.mark.parametrize("name", ["vqvae_hop64.pt", "vqvae_hop256.pt"])
def test_shipped_levels_load_with_their_saved_or_default_min_channels(name):
    from helpers.checkpoints import SHIPPED_CHECKPOINTS, read_checkpoint

    path = SHIPPED_CHECKPOINTS / name
    saved = read_checkpoint(path)["config"]
    model = V.load_checkpoint(path)
    default = V.VQVAEConfig.__dataclass_fields__["min_channels"].default
    assert model.config.hop == saved["hop"] and model.config.min_channels == saved.get("min_channels", default)
    # asking for the same configuration explicitly is accepted, another one refused
    V.load_checkpoint(path, V.VQVAEConfig.from_dict(saved))
    with pytest.raises(ValueError, match="another configuration"):
        V.load_checkpoint(path, V.VQVAEConfig.from_dict({**saved, "codebook_size": saved["codebook_size"] * 2}))


def test_a_file_saved_before_a_config_field_existed_loads_with_its_default(tmp_path):
    """Files saved before min_channels existed (the first shipped levels) load with that field's default, whatever
    the shipped files hold today."""
    default = V.VQVAEConfig.__dataclass_fields__["min_channels"].default
    m = V.VQVAE(V.VQVAEConfig.tiny(hop=8, channels=32, min_channels=default))
    path = V.save_checkpoint(m, tmp_path / "new.pt")
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["config"]["min_channels"] == default
    del ckpt["config"]["min_channels"]  # as written before the field existed
    torch.save(ckpt, tmp_path / "old.pt")
    old = V.load_checkpoint(tmp_path / "old.pt")
    assert old.config == m.config and old.config.min_channels == default
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), m.state_dict().values()))
    with pytest.raises(ValueError, match="another configuration"):
        V.load_checkpoint(tmp_path / "old.pt", V.VQVAEConfig.tiny(hop=8, channels=32, min_channels=16))


# --- the codebook ablation and the shared hierarchy (notebook 04, sections 4 and 8) -------------------------------
def test_codebook_ablation_run_records_the_codebook_movement_per_step():
    """One value of movement per step; with mu = 0 a code the batch used jumps to its batch mean, so the codebook
    moves more than with the EMA's decay of 0.99 (no restarts in either; same data, same seed)."""
    crops = lambda g, b: {"audio": clip(B=b, T=256, seed=int(torch.randint(0, 1000, (1,), generator=g)))}  # noqa: E731
    valid = [clip(B=4, T=256, seed=99)]
    runs = {}
    for label in ("no restarts", "neither"):
        cfg = V.VQVAEConfig.tiny(hop=8, **V.ABLATION_VARIANTS[label])
        runs[label] = V.codebook_ablation_run(cfg, crops, valid, steps=12, eval_every=4, seed=0)
    for h in runs.values():
        assert len(h["movement"]) == 12 and h["valid_step"] == [4, 8, 12]
        assert {"usage", "perplexity", "recon", "spectral"} <= set(h["valid_metrics"])
    assert np.mean(runs["neither"]["movement"][2:]) > 3 * np.mean(runs["no restarts"]["movement"][2:])
    assert set(V.ABLATION_VARIANTS) == {"EMA 0.99 + restarts", "no restarts", "no averaging (mu=0)", "neither"}


def test_shared_hierarchy_shapes_hooks_and_refusals():
    cfg = V.VQVAEConfig.tiny(hop=8)
    m = V.SharedHierarchy(cfg, top_factor=4, seed=0)
    assert m.hop == 32
    x = clip(B=3, T=32 * 5 + 7)
    out = m(x)
    assert out.audio.shape == x.shape and out.codes[0].shape == (3, 24) and out.codes[1].shape == (3, 6)
    bottom, top = m.encode(x)
    assert bottom.shape == (3, 24) and top.shape == (3, 6)
    assert m.decode(bottom, top).shape == (3, 24 * 8)
    # the one decoder reads both levels: other top codes, other audio
    assert not torch.allclose(m.decode(bottom, top), m.decode(bottom, (top + 1) % cfg.codebook_size))
    # both quantisers learn in the training hook
    loss, metrics = V.loss_fn(m, x)
    loss.backward()
    before = [q.codebook.clone() for q in (m.quantizer, m.top_quantizer)]
    assert len(V.update_codebooks(m)) == 2
    assert all(not torch.equal(b, q.codebook) for b, q in zip(before, (m.quantizer, m.top_quantizer)))
    assert {"recon", "spectral", "usage", "perplexity"} <= set(metrics)
    with pytest.raises(ValueError, match="T >= 32"):
        m(clip(B=2, T=16))
    with pytest.raises(ValueError, match="hop"):
        V.SharedHierarchy(V.VQVAEConfig.tiny(hop=8), top_factor=0)


def test_hierarchy_reliance_swaps_codes_between_clips():
    torch.manual_seed(0)
    m = V.SharedHierarchy(V.VQVAEConfig.tiny(hop=8), seed=0)
    x = clip(B=4, T=32 * 16)
    x[1] = 0.5 * torch.sin(torch.linspace(0, 300, x.shape[1]))  # clips that differ
    m(x)  # the first training-mode forward initialises the codebooks
    r = V.hierarchy_reliance(m, x)
    assert set(r) == {"own", "top_swapped", "bottom_swapped", "both_swapped", "silence", "top_usage", "top_perplexity"}
    bottom, top = m.encode(x)
    from helpers.audio_quality import multi_resolution_stft_loss
    assert r["top_swapped"] == pytest.approx(float(multi_resolution_stft_loss(x, m.decode(bottom, top.roll(1, 0)))))
    assert r["own"] == pytest.approx(float(multi_resolution_stft_loss(x, m.decode(bottom, top))))
    assert 0 < r["top_usage"] <= 1 and r["top_perplexity"] >= 1
    with pytest.raises(ValueError, match="two clips"):
        V.hierarchy_reliance(m, x[:1])
