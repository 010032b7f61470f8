"""Tests of helpers.codec: shapes, bitrate, residual VQ against a plain loop, quantizer dropout, checkpoints."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers import codec as C
from helpers import vqvae as V

SR = 16000


def clip(B=2, T=320, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T) / 16000
    return 0.3 * torch.sin(2 * torch.pi * 330 * t)[None] + 0.05 * torch.randn(B, T, generator=g)


def trained_tiny(steps=3, **changes):
    m = C.Codec(C.CodecConfig.tiny(**changes), seed=0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    m.train()
    for step in range(steps):
        loss, _ = C.loss_fn(m, clip(seed=step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        for hook in m.training_hooks():
            hook(m, step)
    return m.eval()


@pytest.mark.parametrize("hop", (4, 8, 20, 320))
def test_shapes_with_one_to_k_codebooks(hop):
    m = C.Codec(C.CodecConfig.tiny(hop=hop))
    K = m.config.n_codebooks
    x = clip(B=3, T=hop * 5)
    codes = m.encode(x, SR)
    assert codes.shape == (3, K, 5) and codes.dtype == torch.int64
    for k in range(1, K + 1):
        assert m.decode(codes[:, :k]).shape == (3, hop * 5)
        assert m.reconstruct(x, SR, n_q=k).shape == x.shape
        assert torch.equal(m.encode(x[:, None], SR, n_q=k), codes[:, :k])  # a prefix of the full code stack
    assert m(x, n_q=2).codes.shape == (3, 2, 5)


def test_encode_does_not_run_the_decoder():
    m = C.Codec(C.CodecConfig.tiny()).eval()
    calls = []
    m.decoder.register_forward_hook(lambda *_: calls.append(1))
    x = clip(B=3)
    codes = m.encode(x, SR)
    assert calls == [] and codes.shape == (3, 3, x.shape[1] // m.hop)
    assert torch.equal(codes, m(x).codes) and calls == [1]  # the same codes as the full forward, which decodes


def test_bitrate_from_codebooks_size_and_frame_rate():
    cfg = C.CodecConfig()
    assert cfg.frame_rate == 50.0 and C.bitrate(cfg) == 2000.0 and C.bitrate(cfg, 1) == 500.0
    small = C.CodecConfig(hop=160, codebook_size=256, n_codebooks=8)
    assert C.bitrate(small) == 16000 / 160 * 8 * 8 and C.Codec(C.CodecConfig.tiny()).bitrate(2) == 2000 * 2 * math.log2(16)
    with pytest.raises(ValueError, match="1..4"):
        C.bitrate(cfg, 5)


def test_residual_vq_matches_a_plain_loop_over_residuals():
    m = trained_tiny()
    rvq = m.quantizer
    z = torch.randn(2, m.config.code_dim, 7, generator=torch.Generator().manual_seed(5))
    out = rvq(z)
    residual = torch.nn.functional.normalize(z, dim=1).transpose(1, 2).reshape(-1, m.config.code_dim)
    for k, stage in enumerate(rvq.stages):  # the plain loop: nearest code of what is left, subtract it
        if k == 0:
            residual = torch.nn.functional.normalize(residual, dim=1)
        ref = stage.nearest_reference(residual)
        assert torch.equal(out.codes[:, k].reshape(-1), ref)
        residual = residual - stage.codebook[ref]
    assert torch.allclose(out.z_q, rvq.lookup(out.codes), atol=1e-6)  # value = sum of the stages' codes


def test_straight_through_reaches_the_encoder_with_unit_gain():
    m = C.Codec(C.CodecConfig.tiny(normalize=False)).eval()
    z = torch.randn(1, m.config.code_dim, 4, requires_grad=True)
    w = torch.randn(1, m.config.code_dim, 4)
    (m.quantizer(z, 3).z_q * w).sum().backward()
    assert torch.allclose(z.grad, w)  # not 3 w: the sum of the stages passes straight through once


def test_quantizer_dropout_is_seeded_and_covers_1_to_k():
    a, b = C.Codec(C.CodecConfig.tiny(), seed=3), C.Codec(C.CodecConfig.tiny(), seed=3)
    draws = [a.draw_n_q() for _ in range(60)]
    assert draws == [b.draw_n_q() for _ in range(60)]
    assert set(draws) == {1, 2, 3}
    m = C.Codec(C.CodecConfig.tiny(quantizer_dropout=False)).train()
    assert m(clip()).codes.shape[1] == 3
    m.eval()
    assert C.Codec(C.CodecConfig.tiny()).eval()(clip()).codes.shape[1] == 3  # eval: all K


def test_only_the_stages_used_are_updated():
    """One training forward with n_q=1, then the hook: stage 1 moves exactly as its EMA update says (recomputed here
    from the encoder's latents and a brute-force nearest code), the unused stages do not move."""
    m = C.Codec(C.CodecConfig.tiny(), seed=0).train()
    x = clip()
    out = m(x, n_q=1)  # initialises and records stage 1 only
    stage = m.quantizer.stages[0]
    init = stage.codebook.clone()
    before = [s.codebook.clone() for s in m.quantizer.stages]
    with torch.no_grad():
        z = F.normalize(m.encoder(x[:, None]), dim=1)  # (B, D, L): 320 samples = 40 frames, no padding
    flat = z.transpose(1, 2).reshape(-1, z.shape[1])  # (N, D)
    codes = ((flat[:, None] - init[None]) ** 2).sum(-1).argmin(1)  # (N,) nearest by every distance
    assert torch.equal(codes, out.codes[:, 0].reshape(-1))
    K, mu, c = stage.codebook_size, stage.mu, stage.fresh_count
    n = torch.bincount(codes, minlength=K).float()
    s = torch.zeros_like(init).index_add_(0, codes, flat)
    count, total = mu * c + (1 - mu) * n, mu * c * init + (1 - mu) * s
    smoothed = (count + 1e-5) / (count.sum() + K * 1e-5) * count.sum()
    expected = F.normalize(total / smoothed[:, None], dim=1)
    reports = C.update_codebooks(m)
    alive = count >= stage.threshold
    assert len(reports) == 1 and reports[0]["restarted"] == int((~alive).sum())  # the dead ones are restarted
    assert alive.sum() > 1 and torch.allclose(stage.codebook[alive], expected[alive], atol=1e-6)
    assert not torch.equal(stage.codebook[alive], init[alive])  # the used codes moved towards their latents
    assert all(torch.equal(b, s.codebook) for b, s in zip(before[1:], m.quantizer.stages[1:]))
    assert not bool(m.quantizer.stages[1].initialised)


def test_training_reduces_the_loss_and_reports_n_q():
    m = C.Codec(C.CodecConfig.tiny(quantizer_dropout=False), seed=0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    x, losses = clip(T=320), []
    for step in range(25):
        loss, metrics = C.loss_fn(m.train(), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        C.update_codebooks(m)
        losses.append(loss.item())
    assert metrics["n_q"] == 3 and set(metrics) == {"recon", "spectral", "commit", "usage", "perplexity", "n_q"}
    assert sum(losses[-5:]) < 0.8 * sum(losses[:5])


def test_determinism_and_checkpoint_refusal(tmp_path):
    a, b = trained_tiny(), trained_tiny()
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    path = C.save_checkpoint(a, tmp_path / "codec.pt")
    loaded = C.load_checkpoint(path, a.config)
    assert torch.equal(loaded.encode(clip(B=3), SR), a.encode(clip(B=3), SR))
    with pytest.raises(ValueError, match="n_codebooks"):
        C.load_checkpoint(path, C.CodecConfig.tiny(n_codebooks=4))
    vq_path = V.save_checkpoint(V.VQVAE(V.VQVAEConfig.tiny()), tmp_path / "vq.pt")
    with pytest.raises(ValueError, match="VQVAEConfig config, not a CodecConfig"):
        C.load_checkpoint(vq_path)
    with pytest.raises(ValueError, match="CodecConfig config, not a VQVAEConfig"):
        V.load_checkpoint(path)
    with pytest.raises(ValueError, match="not a VQVAEConfig"):
        V.VQVAEConfig.from_dict(a.config.to_dict())
    assert C.CodecConfig.from_dict(a.config.to_dict()) == a.config


def test_bad_input():
    m = C.Codec(C.CodecConfig.tiny(hop=8))
    with pytest.raises(ValueError, match="22050 Hz"):
        m.encode(clip()[:, None], sr=22050)
    with pytest.raises(TypeError, match="sr"):
        m.encode(clip()[:, None])  # 44.1 kHz audio gave 552 frames silently: the rate is required
    with pytest.raises(ValueError, match="44100 Hz"):
        m.reconstruct(clip(T=441)[:1], sr=44100)
    with pytest.raises(ValueError, match=r"stereo \(2, T\)"):
        m.encode(clip(), SR)
    with pytest.raises(ValueError, match="int16-scale"):
        m.encode(clip()[:1] * 31195, SR)
    with pytest.raises(ValueError, match="silent"):
        m.encode(torch.zeros(1, 80), SR)
    with pytest.raises(ValueError, match="shorter than one code frame"):
        m.encode(clip(B=1, T=6), SR)
    with pytest.raises(ValueError, match=r"1 <= k <= 3"):
        m.decode(torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="n_q must lie in 1..3"):
        m(clip(), n_q=0)
    with pytest.raises(TypeError, match="CodecConfig"):
        C.Codec(V.VQVAEConfig.tiny())
    with pytest.raises(ValueError, match="n_codebooks"):
        C.CodecConfig(n_codebooks=0)
