"""helpers.autoencoder: shapes and bit rates per configuration, the plain references of every trick, losses and the
discriminator, determinism, restarts, input checks and checkpoint refusal."""
import math

import pytest
import torch

from helpers import autoencoder as ae
from helpers.paths import load_script

SR = 16000


def tiny(**changes):
    return ae.Autoencoder(ae.AutoencoderConfig.tiny(**changes), seed=0)


def clips(b=3, t=16 * 40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(b, t, generator=g)


# --- STFT with same padding --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_fft,hop", [(64, 16), (1280, 320), (256, 64)])
def test_istft_equals_the_plain_overlap_add_loop(n_fft, hop):
    g = torch.Generator().manual_seed(1)
    spec = torch.complex(torch.randn(2, n_fft // 2 + 1, 7, generator=g), torch.randn(2, n_fft // 2 + 1, 7, generator=g))
    fast, plain = ae.istft_same(spec, n_fft, hop), ae.istft_same_reference(spec, n_fft, hop)
    assert fast.shape == plain.shape == (2, 7 * hop)
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("n_fft,hop", [(64, 16), (1280, 320)])
def test_stft_same_has_one_frame_per_hop_and_inverts(n_fft, hop):
    x = clips(t=hop * 12)
    spec = ae.stft_same(x, n_fft, hop)
    assert spec.shape == (3, n_fft // 2 + 1, 12)
    torch.testing.assert_close(ae.istft_same(spec, n_fft, hop), x, atol=1e-5, rtol=1e-4)


def test_stft_same_refuses_a_length_off_the_hop():
    with pytest.raises(ValueError, match="multiple of the hop"):
        ae.stft_same(torch.zeros(1, 100), 64, 16)


# --- configurations: shapes and bit rates -----------------------------------------------------------------------
@pytest.mark.parametrize("changes,k", [({}, 3), ({"n_codebooks": 1, "quantizer_dropout": 0.0}, 1),
                                       ({"hop": 16, "synthesis_hop": 16}, 3), ({"hop": 64}, 2)])
def test_shapes_per_configuration(changes, k):
    cfg = ae.AutoencoderConfig.tiny(**dict(changes, n_codebooks=changes.get("n_codebooks", k)))
    model = ae.Autoencoder(cfg).eval()
    x = clips(t=cfg.hop * 5 + 3)  # not a multiple of the hop: padded inside, trimmed outside
    out = model(x)
    assert out.audio.shape == x.shape
    assert out.codes.shape == (3, cfg.n_codebooks, 6)
    codes = model.encode(x, sr=SR)
    assert codes.shape == (3, cfg.n_codebooks, 6) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < cfg.codebook_size
    assert model.decode(codes).shape == (3, 6 * cfg.hop)
    assert model.decode(codes[:, :1]).shape == (3, 6 * cfg.hop)
    assert model.reconstruct(x, sr=SR).shape == x.shape


def test_bitrate_of_the_codec_and_a_level():
    assert ae.AutoencoderConfig().bitrate() == 2000.0  # 50 frames/s x 4 x 10 bits: MusicGen's codec
    assert [ae.AutoencoderConfig().bitrate(k) for k in (1, 2, 3)] == [500.0, 1000.0, 1500.0]
    level = ae.AutoencoderConfig(hop=1024, synthesis_hop=256, n_fft=1024, n_codebooks=1, codebook_size=2048)
    assert level.bitrate() == pytest.approx(16000 / 1024 * 11)
    assert ae.Autoencoder(ae.AutoencoderConfig.tiny()).bitrate(2) == pytest.approx(16000 / 32 * 2 * 4)
    with pytest.raises(ValueError, match="n_codebooks"):
        ae.AutoencoderConfig().bitrate(5)


@pytest.mark.parametrize("bad,match", [({"hop": 48, "synthesis_hop": 32}, "multiple"), ({"n_fft": 15}, "n_fft"),
                                       ({"quantizer_dropout": 1.5}, "quantizer_dropout"), ({"dim": 0}, "dim"),
                                       ({"mel_weight": -1.0}, "mel_weight")])
def test_config_refuses_impossible_values(bad, match):
    with pytest.raises(ValueError, match=match):
        ae.AutoencoderConfig.tiny(**bad)


def test_config_round_trips_through_a_dict_and_names_unknown_fields():
    cfg = ae.AutoencoderConfig.tiny()
    assert ae.AutoencoderConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        ae.AutoencoderConfig.from_dict(dict(cfg.to_dict(), wobble=1))
    with pytest.raises(ValueError, match="CodecConfig"):
        ae.AutoencoderConfig.from_dict(dict(cfg.to_dict(), kind="CodecConfig"))


# --- the quantizer -----------------------------------------------------------------------------------------------
def test_cosine_lookup_equals_the_plain_loop():
    q = ae.FactorizedVQ(8, 64, 4, seed=3)
    e = torch.randn(500, 4, generator=torch.Generator().manual_seed(2))
    assert torch.equal(q.nearest(e), q.nearest_reference(e))
    # scaling a latent does not change its code: nearest means largest cosine
    assert torch.equal(q.nearest(e * 7.5), q.nearest(e))


def test_lookup_is_computed_in_float32_under_autocast():
    q = ae.FactorizedVQ(8, 1024, 8, seed=0)
    e = torch.randn(4000, 8, generator=torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = q.nearest(e)
    assert torch.equal(under, q.nearest_reference(e))


def test_residual_stages_quantise_what_the_previous_left():
    model = tiny().eval()
    rq = model.quantizer
    z = torch.randn(2, 8, 5, generator=torch.Generator().manual_seed(0))
    q = rq(z, 3)
    # by hand: each stage sees z minus the contributions of the stages before it
    residual, total = z, torch.zeros_like(z)
    for k, stage in enumerate(rq.stages):
        out = stage(residual)
        assert torch.equal(out.codes, q.codes[:, k])
        total, residual = total + out.z_q, residual - out.z_q
    torch.testing.assert_close(q.z_q, total)
    torch.testing.assert_close(rq.lookup(q.codes), q.z_q, atol=1e-6, rtol=1e-5)  # decode path = training path


def test_quantizer_dropout_draws_from_the_modules_generator():
    a = ae.ResidualQuantizer(8, 4, 16, 4, dropout=0.5, seed=5)
    b = ae.ResidualQuantizer(8, 4, 16, 4, dropout=0.5, seed=5)
    draws_a, draws_b = [a.draw_n_q(8) for _ in range(20)], [b.draw_n_q(8) for _ in range(20)]
    assert all(torch.equal(x, y) for x, y in zip(draws_a, draws_b))
    stacked = torch.stack(draws_a)  # (20, 8)
    assert (stacked[:, 4:] == 4).all()  # the second half of each batch keeps every stage
    assert set(stacked[:, :4].unique().tolist()) == {1, 2, 3, 4}
    assert (ae.ResidualQuantizer(8, 4, 16, 4, dropout=0.0).draw_n_q(8) == 4).all()


def test_per_example_stages_mask_the_later_codebooks():
    model = tiny().train()
    x = clips(b=3)
    n_q = torch.tensor([1, 2, 3])
    out = model(x, n_q=n_q)
    assert torch.equal(out.n_q, n_q)
    eval_out = model.eval()(x, n_q=n_q)
    for i, k in enumerate(n_q.tolist()):  # example i decodes like a k-codebook reconstruction of itself
        alone = model(x[i : i + 1], n_q=k)
        torch.testing.assert_close(eval_out.audio[i : i + 1], alone.audio, atol=1e-5, rtol=1e-4)


def test_statistics_are_recorded_only_when_training_with_gradients():
    model = tiny()
    stage = model.quantizer.stages[0]
    x = clips()
    model.eval()(x)
    with torch.no_grad():
        model.train()(x)
    assert float(stage.used.sum()) == 0 and stage._candidates is None
    model.train()(x)
    assert float(stage.used.sum()) == x.shape[0] * math.ceil(x.shape[1] / model.hop)


def test_dead_codes_are_restarted_from_latents_of_the_last_batch():
    model = tiny(codebook_size=64, restart_every=2)
    stage = model.quantizer.stages[0]
    model.train()(clips())
    used = stage.used.clone()
    before = stage.codebook.weight.detach().clone()
    assert ae.restart_dead_codes(model, 1) == []  # not a restart step
    n = ae.restart_dead_codes(model, 2)
    dead = used == 0
    assert n[0] == int(dead.sum()) > 0
    after = stage.codebook.weight.detach()
    assert torch.equal(after[~dead], before[~dead])
    assert not torch.equal(after[dead], before[dead])
    cands = {tuple(r.tolist()) for r in stage.in_proj(model.encoder(clips())).transpose(1, 2).reshape(-1, 4).detach()}
    assert all(tuple(r.tolist()) in cands for r in after[dead])
    assert float(stage.used.sum()) == 0  # counts start again
    assert ae.restart_dead_codes(model, 4) == [0, 0, 0]  # no batch recorded since: nothing to restart from


# --- the model: determinism, bad input, checkpoints -------------------------------------------------------------
def test_same_seed_same_model_and_same_training():
    a, b = tiny(), tiny()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(next(ae.Autoencoder(ae.AutoencoderConfig.tiny(), seed=1).parameters()), next(a.parameters()))
    from helpers.training import TrainConfig, train

    runs = []
    for _ in range(2):
        m = tiny()
        data = lambda g, n: clips(b=n, seed=int(torch.randint(0, 1000, (1,), generator=g)))  # noqa: E731
        train(m, ae.loss_fn, data, None, TrainConfig(steps=3, batch_size=2, warmup_steps=0, progress=False, seed=4))
        runs.append(m.encode(clips(), sr=SR))
    assert torch.equal(runs[0], runs[1])


def test_encode_does_not_run_the_decoder():
    model = tiny()

    def boom(*a, **k):
        raise AssertionError("decoder called")

    model.decoder.forward = boom
    assert model.encode(clips(), sr=SR).shape[1] == 3


@pytest.mark.parametrize("audio,kw,match", [
    (clips(), {}, "sr"),
    (clips(), {"sr": 44100}, "44100"),
    (0.1 * torch.randn(2, 4000), {"sr": SR}, r"\(2, T\)"),
    (0.1 * torch.randn(4000, 2), {"sr": SR}, r"\(T, 2\)"),
    (0.1 * torch.randn(3, 2, 4000), {"sr": SR}, "channels"),
    (3000.0 * torch.randn(1, 4000), {"sr": SR}, "int16"),
    (torch.zeros(1, 4000), {"sr": SR}, "silent"),
    (0.1 * torch.randn(1, 20), {"sr": SR}, "shorter than one code frame"),
    (torch.full((1, 4000), float("nan")), {"sr": SR}, "NaN"),
    (torch.randint(-3, 3, (1, 4000)), {"sr": SR}, "floating-point"),
])
def test_bad_input_gets_a_clear_error(audio, kw, match):
    """(2, T) is refused as stereo; two mono clips go in as (2, 1, T) (tested below)."""
    model = tiny()
    with pytest.raises((ValueError, TypeError), match=match):
        model.encode(audio, **kw)


def test_two_mono_clips_go_in_as_2_1_T():
    x = clips(b=2)
    model = tiny()
    assert model.encode(x[:, None], sr=SR).shape[0] == 2
    assert model.reconstruct(x[:, None], sr=SR).shape == x.shape


def test_decode_refuses_codes_out_of_range_or_too_many_codebooks():
    model = tiny()
    with pytest.raises(ValueError, match="0..15"):
        model.decode(torch.full((1, 1, 4), 16))
    with pytest.raises(ValueError, match="1 <= k <= 3"):
        model.decode(torch.zeros(1, 4, 4, dtype=torch.long))


def test_checkpoint_round_trip_and_refusals(tmp_path):
    model = tiny()
    path = ae.save_checkpoint(model, tmp_path / "a.pt")
    back = ae.load_checkpoint(path, model.config)
    x = clips()
    assert torch.equal(back.encode(x, sr=SR), model.encode(x, sr=SR))
    with pytest.raises(ValueError, match="differs in \\['codebook_size'\\]"):
        ae.load_checkpoint(path, ae.AutoencoderConfig.tiny(codebook_size=32))
    from helpers import vqvae

    vq_path = vqvae.save_checkpoint(vqvae.VQVAE(vqvae.VQVAEConfig.tiny()), tmp_path / "vq.pt")
    with pytest.raises(ValueError, match="VQVAEConfig config, not an AutoencoderConfig"):
        ae.load_checkpoint(vq_path)
    half = ae.load_checkpoint(ae.save_checkpoint(model, tmp_path / "h.pt", half=True))
    assert half.decode(model.encode(x, sr=SR)).dtype == torch.float32


# --- losses and the discriminator -------------------------------------------------------------------------------
def test_reconstruction_losses_are_zero_for_a_copy_and_grow_with_noise():
    x = clips(t=8000)
    cfg = ae.AutoencoderConfig()
    same = ae.reconstruction_losses(x, x.clone(), cfg)
    assert float(same["mel"]) == 0.0 and float(same["stft"]) < 1e-6
    small = ae.reconstruction_losses(x, x + 0.01 * torch.randn_like(x), cfg)
    large = ae.reconstruction_losses(x, x + 0.1 * torch.randn_like(x), cfg)
    assert 0 < float(small["mel"]) < float(large["mel"]) and 0 < float(small["stft"]) < float(large["stft"])


def test_discriminator_shapes_and_features():
    disc = ae.MultiResolutionDiscriminator(sizes=(256, 128), channels=4)
    outs = disc(clips(t=4000))
    assert len(outs) == 2
    for (logits, feats), n_fft in zip(outs, (256, 128)):
        frames, bins = 4000 // (n_fft // 4) + 1, n_fft // 2 + 1
        assert logits.shape[:2] == (3, 1) and logits.shape[2] == frames
        assert len(feats) == 5 and all(f.shape[:3] == (3, 4, frames) for f in feats)
        assert feats[0].shape[3] == math.ceil(bins / 2)


def test_hinge_and_feature_matching_in_closed_form():
    real, fake = [torch.tensor([2.0, 0.5])], [torch.tensor([-2.0, 0.0])]
    d, g = ae.hinge_losses(real, fake)
    assert float(d) == pytest.approx((0 + 0.5) / 2 + (0 + 1) / 2)
    assert float(g) == pytest.approx((3 + 1) / 2)
    f = [[torch.tensor([1.0, -1.0])]]
    assert float(ae.feature_matching_loss(f, f)) == 0.0
    assert float(ae.feature_matching_loss(f, [[torch.tensor([0.0, 0.0])]])) == pytest.approx(1.0)


def test_adversarial_step_moves_each_network_along_its_own_loss_only():
    torch.manual_seed(0)
    model = ae.AdversarialAutoencoder(tiny(quantizer_dropout=0.0), ae.MultiResolutionDiscriminator(sizes=(128, 64), channels=4))
    model.train()  # no dropout draw (quantizer_dropout 0): the second pass below sees the same reconstruction
    x = clips(t=16 * 64)
    loss, metrics = ae.adversarial_loss_fn(model, x)
    loss.backward()
    assert {"mel", "stft", "g_adv", "feat", "d_loss"} <= set(metrics)
    d_grads = [p.grad.clone() for p in model.discriminator.parameters()]
    g_grads = [p.grad.clone() for p in model.autoencoder.parameters() if p.grad is not None]
    # the discriminator's gradient is that of its own hinge loss alone
    model.zero_grad()
    out = model.autoencoder(x)
    real = model.discriminator(x)
    fake = model.discriminator(out.audio.detach())
    d_loss, _ = ae.hinge_losses([r[0] for r in real], [f[0] for f in fake])
    d_loss.backward()
    for a, b in zip(d_grads, model.discriminator.parameters()):
        torch.testing.assert_close(a, b.grad, atol=1e-5, rtol=1e-4)
    assert g_grads and all(torch.isfinite(g).all() for g in g_grads)


def test_validation_of_an_adversarial_run_scores_the_autoencoder_alone():
    inner = tiny()
    model = ae.AdversarialAutoencoder(inner, ae.MultiResolutionDiscriminator(sizes=(64,), channels=2)).eval()
    loss, metrics = ae.adversarial_loss_fn(model, clips())
    plain, plain_metrics = ae.loss_fn(inner.eval(), clips())
    assert set(metrics) == set(plain_metrics) and float(loss.detach()) == pytest.approx(float(plain.detach()))


def test_the_generator_saved_from_an_adversarial_wrapper_is_the_autoencoder(tmp_path):
    inner = tiny()
    wrapped = ae.AdversarialAutoencoder(inner, ae.MultiResolutionDiscriminator(sizes=(64,), channels=2))
    back = ae.load_checkpoint(ae.save_checkpoint(wrapped, tmp_path / "g.pt"))
    assert set(back.state_dict()) == set(inner.state_dict())


def test_the_evaluating_context_restores_the_mode_even_after_an_error():
    model = tiny().train()
    with pytest.raises(RuntimeError):
        with ae.evaluating(model):
            assert not model.training
            raise RuntimeError("boom")
    assert model.training


@pytest.mark.parametrize("ramp", [True, False])
def test_a_constant_decoder_output_is_a_steady_tone_only_with_the_phase_ramp(ramp):
    """The decoder's network sees the same features every frame of a held note and outputs the same spectrum. With
    the bin phase ramp that is a pure tone at the bin's frequency; without it the partial restarts every frame and
    its energy spreads over neighbouring frequencies (the chroma of low notes is lost)."""
    n_fft, hop, frames, k = 1280, 320, 50, 9  # bin 9 at 16 kHz: 112.5 Hz, a low A
    mag = torch.zeros(1, n_fft // 2 + 1, frames)
    mag[0, k] = 1.0
    phase = torch.zeros_like(mag)
    if ramp:
        phase = phase + ae.bin_phase_ramp(n_fft // 2 + 1, frames, n_fft, hop, phase)
    y = ae.istft_same(torch.polar(mag, phase), n_fft, hop)[0, n_fft:-n_fft]  # away from the edges
    power = torch.fft.rfft(y * torch.hann_window(len(y))).abs() ** 2
    f = torch.fft.rfftfreq(len(y), 1 / 16000)
    near = (f - k * 16000 / n_fft).abs() < 3.0  # within half a semitone of 112.5 Hz
    share = float(power[near].sum() / power.sum())
    assert (share > 0.99) if ramp else (share < 0.5), share


def test_bin_phase_ramp_is_the_phase_advance_of_a_bin_centred_sinusoid():
    n_fft, hop, k = 64, 16, 5
    t = torch.arange(16 * 20, dtype=torch.float64)
    x = torch.cos(2 * math.pi * k / n_fft * t)[None].float()
    spec = ae.stft_same(x, n_fft, hop)[0, k]  # (frames,)
    ramp = ae.bin_phase_ramp(n_fft // 2 + 1, spec.shape[0], n_fft, hop, x)[k]
    rel = torch.angle(spec[2:-2]) - ramp[2:-2]  # the phase relative to the ramp: constant for a held tone
    rel = torch.remainder(rel - rel[0] + math.pi, 2 * math.pi) - math.pi
    assert float(rel.abs().max()) < 1e-3


def test_phase_loss_ignores_a_global_shift_and_sees_a_frame_to_frame_jump():
    x = clips(b=3, t=16 * 30)
    spec = ae.stft_same(x, 64, 16)
    zero = ae.phase_loss(spec, spec * torch.exp(torch.tensor(1.3j)))  # one constant phase shift: inaudible
    assert float(zero["if"]) < 1e-5 and float(zero["gd"]) < 1e-5
    jumpy = spec.clone()
    jumpy[:, :, ::2] *= -1  # every other frame's phase flipped by pi
    assert float(ae.phase_loss(spec, jumpy)["if"]) > 1.0
    assert float(ae.anti_wrap(torch.tensor(2 * math.pi + 0.1))) == pytest.approx(0.1, abs=1e-6)


def test_the_phase_term_enters_the_loss_only_when_weighted():
    x = clips(b=3, t=16 * 30)
    plain = tiny()
    assert "phase" not in ae.loss_fn(plain, x)[1]
    weighted = tiny(phase_weight=1.0)
    loss, metrics = ae.loss_fn(weighted, x)
    assert metrics["phase"] > 0


def test_semitone_bands_put_a_note_in_its_own_band():
    sr = 16000
    fb = ae.semitone_filterbank(sr)
    assert fb.shape[1] == ae.SEMITONE_FFT // 2 + 1 and (fb.sum(dim=1) > 0).all()
    t = torch.arange(sr, dtype=torch.float32) / sr
    bands = []
    for midi in (45, 46, 57):  # A2, Bb2, A3: 110, 116.5, 220 Hz
        f = 440 * 2 ** ((midi - 69) / 12)
        spec = ae.semitone_spectrogram(torch.sin(2 * math.pi * f * t)[None], sr)[0].mean(dim=1)
        bands.append(int(spec.argmax()))
    assert bands[1] - bands[0] == 3 and bands[2] - bands[0] == 36  # 3 bands per semitone
    x = clips(t=8000)
    assert float(ae.semitone_loss(x, x, sr)) == 0.0
    a110 = torch.sin(2 * math.pi * 110 * t)[None]
    shifted = float(ae.semitone_loss(a110, torch.sin(2 * math.pi * 116.5 * t)[None], sr))
    quieter = float(ae.semitone_loss(a110, 0.9 * a110, sr))
    assert shifted > 3 * quieter > 0  # a semitone off costs more than 10% of loudness


def test_the_pitch_term_enters_the_loss_only_when_weighted():
    x = clips(b=3, t=16 * 300)
    assert "pitch" not in ae.loss_fn(tiny(), x)[1] and "pitch_sc" not in ae.loss_fn(tiny(), x)[1]
    assert ae.loss_fn(tiny(pitch_weight=1.0), x)[1]["pitch"] > 0
    assert ae.loss_fn(tiny(pitch_sc_weight=1.0), x)[1]["pitch_sc"] > 0


def test_semitone_convergence_is_zero_when_equal_one_for_silence_and_hears_a_wrong_loud_note_first():
    sr = 16000
    t = torch.arange(sr, dtype=torch.float32) / sr
    tone = lambda f, a=1.0: a * torch.sin(2 * math.pi * f * t)  # noqa: E731
    melody = (tone(220) + tone(330, 0.1))[None]  # a loud A3, a quiet E4
    assert float(ae.semitone_convergence_loss(melody, melody, sr)) == 0.0
    assert float(ae.semitone_convergence_loss(melody, torch.zeros_like(melody), sr)) == pytest.approx(1.0)
    loud_wrong = float(ae.semitone_convergence_loss(melody, (tone(233.1) + tone(330, 0.1))[None], sr))
    quiet_wrong = float(ae.semitone_convergence_loss(melody, (tone(220) + tone(349.2, 0.1))[None], sr))
    assert loud_wrong > 5 * quiet_wrong > 0  # linear in magnitude: the loud note's error dominates
    # the log distance weighs the two mistakes far more alike
    log_loud = float(ae.semitone_loss(melody, (tone(233.1) + tone(330, 0.1))[None], sr))
    log_quiet = float(ae.semitone_loss(melody, (tone(220) + tone(349.2, 0.1))[None], sr))
    assert log_loud / log_quiet < loud_wrong / quiet_wrong


def test_a_warm_start_may_change_loss_weights_but_not_the_architecture(tmp_path):
    script = load_script("train_autoencoder")
    path = ae.save_checkpoint(tiny(), tmp_path / "a.pt")
    state = script.init_weights(path, ae.AutoencoderConfig.tiny(pitch_weight=2.0, phase_weight=1.0))
    assert set(state) == set(tiny().state_dict())
    with pytest.raises(ValueError, match="dim"):
        script.init_weights(path, ae.AutoencoderConfig.tiny(dim=32))


def test_the_diagnosis_scripts_probe_and_frame_chroma():
    script = load_script("diagnose_autoencoder")
    from helpers.pitch import chroma_filterbank
    sr, n_fft = 16000, 1280
    t = torch.arange(sr, dtype=torch.float32) / sr
    fb = torch.from_numpy(chroma_filterbank(sr, n_fft, 55.0, 5000.0, kernel="nearest")).float()
    a440 = torch.sin(2 * math.pi * 440 * t)[None]
    rows = script.frame_chroma(ae.stft_same(a440, n_fft, 320).abs(), fb)  # (frames, 12)
    assert rows.shape[1] == 12 and (rows.argmax(dim=1) == 9).all()  # A
    assert torch.allclose(rows.norm(dim=1), torch.ones(len(rows)))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(400, 6, generator=g)
    y = torch.nn.functional.normalize(x @ torch.rand(6, 12, generator=g), dim=1)  # linear, positive
    assert script.ridge_cosine(x[:300], y[:300], x[300:], y[300:], lam=1e-3) > 0.99  # linear: near 1
    assert script.ridge_cosine(x[:300], y[torch.randperm(300, generator=g)], x[300:], y[300:]) < \
        script.ridge_cosine(x[:300], y[:300], x[300:], y[300:])  # shuffled targets: lower
    ctx = script.with_context(torch.arange(10.0).view(1, 2, 5), k=1)  # (5 frames, 3 x 2)
    assert ctx.shape == (5, 6) and ctx[0, :2].tolist() == [0.0, 0.0] and ctx[0, 2:4].tolist() == [0.0, 5.0]


def test_same_codes_holds_when_only_the_decoder_differs():
    a, b = tiny(), tiny()
    assert ae.same_codes(a, b)
    with torch.no_grad():
        b.decoder.head.weight.add_(1.0)  # another decoder: the codes are the same
    assert ae.same_codes(a, b)
    with torch.no_grad():
        b.quantizer.stages[1].codebook.weight[3] += 0.5  # one code of one codebook moved
    assert not ae.same_codes(a, b)
    assert not ae.same_codes(a, ae.Autoencoder(ae.AutoencoderConfig.tiny(), seed=1))  # other weights
    assert not ae.same_codes(a, tiny(dim=8))  # another architecture
