"""Tests of helpers.musicgen on tiny configurations (no pretrained text encoder needed: a fake one plugs in)."""
import pytest
import torch

from helpers import codec as codec_mod
from helpers import musicgen as mg
from helpers.text_encoder import TextEmbeddings, TextEncoder, check_prompts
from helpers.transformer import MusicTransformer

K, V, D = 3, 16, 8


class FakeEncoder:
    """A deterministic stand-in for a TextEncoder: one embedding per character, mask True at real tokens."""

    dim = D
    max_tokens = 12

    def encode(self, prompts) -> TextEmbeddings:
        prompts = check_prompts(prompts)
        L = max(len(p) for p in prompts)
        if L > self.max_tokens:
            raise ValueError("prompt too long for max_tokens")
        tokens = torch.zeros(len(prompts), L, D)
        mask = torch.zeros(len(prompts), L, dtype=torch.bool)
        for i, p in enumerate(prompts):
            for j, ch in enumerate(p):
                tokens[i, j] = torch.sin(torch.arange(D) * (ord(ch) % 7 + 1.0))
                mask[i, j] = True
        return TextEmbeddings(tokens, mask, tokens.sum(1))


def tiny_lm(frames=12, seed=0):
    torch.manual_seed(seed)
    cfg = mg.lm_config(K, V, frames, D, n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    return MusicTransformer(cfg)


def test_config_and_step_round_trip():
    cfg = tiny_lm().config
    assert cfg.vocab_size == V + 1 and mg.special_token(cfg) == V and mg.max_frames(cfg) == 12
    codes = torch.randint(0, V, (2, K, 5))
    steps = mg.to_steps(codes, V)
    assert steps.shape == (2, K, 1 + 5 + K - 1)
    assert (steps[..., 0] == V).all() and (steps[:, 1, 1] == V).all() and torch.equal(steps[:, 0, 1], codes[:, 0, 0])
    assert torch.equal(mg.from_steps(steps, 5), codes)


def test_loss_ignores_special_slots_and_learns():
    lm = tiny_lm()
    codes = torch.randint(0, V, (4, K, 6), generator=torch.Generator().manual_seed(0))
    cond = torch.randn(4, 3, D)
    batch = {"steps": mg.to_steps(codes, V), "cond": cond, "cond_mask": torch.zeros(4, 3, dtype=torch.bool)}
    loss, metrics = mg.musicgen_loss(lm, batch)
    assert set(metrics) == {f"ce_{k}" for k in range(K)}
    assert abs(float(loss.detach()) - torch.log(torch.tensor(float(V + 1)))) < 0.3  # near uniform at initialisation
    opt = torch.optim.Adam(lm.parameters(), lr=1e-2)
    for _ in range(30):
        loss2, _ = mg.musicgen_loss(lm, batch)
        opt.zero_grad()
        loss2.backward()
        opt.step()
    assert float(loss2.detach()) < float(loss.detach()) - 0.5


def test_sampling_shapes_valid_codes_and_seed():
    lm = tiny_lm()
    enc = FakeEncoder()
    e = enc.encode(["abc", "de"])
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    a = mg.sample_codes(lm, 7, g(), e.tokens, ~e.mask, guidance_scale=2.0)
    b = mg.sample_codes(lm, 7, g(), e.tokens, ~e.mask, guidance_scale=2.0)
    assert a.shape == (2, K, 7) and torch.equal(a, b)
    assert int(a.max()) < V and int(a.min()) >= 0  # the special token is never a code


def test_guidance_zero_is_unconditional_and_one_is_conditional():
    lm = tiny_lm()
    with torch.no_grad():  # make the condition matter at initialisation
        lm.cond_proj.weight.mul_(300.0)
    e = FakeEncoder().encode(["abc", "de"])
    cond, mask = e.tokens, ~e.mask
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    zero = mg.sample_codes(lm, 8, g(), cond, mask, guidance_scale=0.0)
    uncond = mg.sample_codes(lm, 8, g(), batch_size=2)
    assert torch.equal(zero, uncond)
    one = mg.sample_codes(lm, 8, g(), cond, mask, guidance_scale=1.0)
    plain = mg.sample_codes(lm, 8, g(), cond, mask, guidance_scale=None)
    assert torch.equal(one, plain)
    strong = mg.sample_codes(lm, 8, g(), cond, mask, guidance_scale=5.0)
    assert not torch.equal(strong, uncond)  # the condition matters once guided


def test_sampling_follows_a_memorised_sequence_through_the_pattern():
    """Teach the LM one code matrix (greedy sampling must reproduce it): the pattern round trip through generation."""
    lm = tiny_lm()
    codes = torch.randint(0, V, (1, K, 6), generator=torch.Generator().manual_seed(1))
    cond = torch.randn(1, 2, D)
    batch = {"steps": mg.to_steps(codes, V), "cond": cond, "cond_mask": torch.zeros(1, 2, dtype=torch.bool)}
    opt = torch.optim.Adam(lm.parameters(), lr=3e-2)
    lm.train()
    for _ in range(150):
        loss, _ = mg.musicgen_loss(lm, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = mg.sample_codes(lm, 6, torch.Generator().manual_seed(0), cond, None, guidance_scale=None, temperature=0)
    assert torch.equal(out, codes)


def test_pipeline_and_bad_input():
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    codec = codec_mod.Codec(ccfg)
    lm = tiny_lm()
    pipe = mg.MusicGen(codec, lm, FakeEncoder())
    assert isinstance(pipe.text_encoder, TextEncoder)
    frames_per_second = ccfg.frame_rate
    seconds = 5 / frames_per_second
    audio = pipe.generate(["abc", "xyz"], seconds=seconds, guidance_scale=3.0, seed=0)
    assert audio.shape == (2, 5 * ccfg.hop)
    assert torch.equal(audio, pipe.generate(["abc", "xyz"], seconds=seconds, guidance_scale=3.0, seed=0))
    with pytest.raises(ValueError, match="empty"):
        pipe.generate("   ", seconds=seconds)
    with pytest.raises(TypeError, match="text"):
        pipe.generate([3], seconds=seconds)
    with pytest.raises(ValueError, match="too long"):
        pipe.generate("x" * 40, seconds=seconds)
    with pytest.raises(ValueError, match="> 0"):
        pipe.generate("abc", seconds=0)
    with pytest.raises(ValueError, match="trained range"):
        pipe.generate("abc", seconds=pipe.max_seconds * 2)
    with pytest.raises(ValueError, match=">= 0"):
        pipe.generate("abc", seconds=seconds, guidance_scale=-1)
    with pytest.raises(TypeError):
        pipe.generate("abc", seconds="long")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_lm_with_a_cpu_text_encoder():
    """The text encoder stays on the CPU (its default); sample_codes moves the condition to the LM's device."""
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    cpu = mg.MusicGen(codec_mod.Codec(ccfg), tiny_lm(), FakeEncoder())
    gpu = mg.MusicGen(codec_mod.Codec(ccfg), tiny_lm().cuda(), FakeEncoder())
    for scale in (None, 3.0):
        codes = gpu.generate_codes(["abc", "xyz"], seconds=5 / ccfg.frame_rate, guidance_scale=scale, temperature=0.0)
        assert codes.device.type == "cuda"
        want = cpu.generate_codes(["abc", "xyz"], seconds=5 / ccfg.frame_rate, guidance_scale=scale, temperature=0.0)
        assert (codes.cpu() == want).float().mean() > 0.9  # greedy: the same codes but for near-ties of the logits


def test_mismatched_parts_are_refused():
    codec = codec_mod.Codec(codec_mod.CodecConfig.tiny(n_codebooks=2, codebook_size=V))
    with pytest.raises(ValueError, match="does not fit the codec"):
        mg.MusicGen(codec, tiny_lm(), FakeEncoder())


class CountingClassifier:
    """Says 'loud' when the clip's RMS is above the median of the batch: a judge that never sees the prompt."""

    def predict(self, audio, sr=None):
        rms = audio.pow(2).mean(-1).sqrt()
        return {"level": ["loud" if float(r) >= float(rms.median()) else "soft" for r in rms], "other": ["x"] * len(rms)}


def test_control_accuracy_rows_and_checks():
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    pipe = mg.MusicGen(codec_mod.Codec(ccfg), tiny_lm(), FakeEncoder())
    caps = ["abc", "de", "fgh", "ij"]
    attrs = [{"level": "loud"}, {"level": "soft"}, {"level": "loud"}, {"level": "soft"}]
    rows = mg.control_accuracy(pipe, CountingClassifier(), caps, attrs, scales=(0, 2), seconds=4 / ccfg.frame_rate,
                               batch_size=3)
    assert [r["guidance_scale"] for r in rows] == [0.0, 2.0]
    assert all(set(r) == {"guidance_scale", "n", "level", "predicted"} for r in rows)  # 'other' is not in the captions
    assert all(r["level"] in (0.0, 0.25, 0.5, 0.75, 1.0) and r["n"] == 4 for r in rows)
    for r in rows:  # the accuracy is the share of predictions equal to the caption's attribute
        assert set(r["predicted"]) == {"level"} and len(r["predicted"]["level"]) == 4
        assert r["level"] == sum(p == a["level"] for p, a in zip(r["predicted"]["level"], attrs)) / 4
    with pytest.raises(ValueError, match="one attributes dict per caption"):
        mg.control_accuracy(pipe, CountingClassifier(), caps, attrs[:2])


def test_encode_clips_and_captions_shapes_and_errors():
    codec = codec_mod.Codec(codec_mod.CodecConfig.tiny()).eval()
    enc = FakeEncoder()
    clips = 0.3 * torch.randn(3, 4 * codec.config.hop, generator=torch.Generator().manual_seed(0))
    caps = [["slow organ", "organ"], ["fast flute", "a flute"], ["piano", "piano in C"]]
    out = mg.encode_clips_and_captions(codec, clips, 16000, caps, enc, batch=1)  # three batches
    assert out["codes"].shape == (3, codec.config.n_codebooks, 4) and out["codes"].dtype == torch.int16
    assert out["tokens"].shape == (3, 2, 10, D) and out["tokens"].dtype == torch.float16
    assert out["mask"].shape == (3, 2, 10) and out["mask"][:, :, 0].all() and not out["mask"][2, 0, 5:].any()
    assert torch.equal(out["codes"].long(), codec.encode(clips[:, None], 16000))
    assert torch.allclose(out["tokens"][1, 1, :7].float(), enc.encode("a flute").tokens[0], atol=1e-3)
    with pytest.raises(ValueError, match="caption lists"):
        mg.encode_clips_and_captions(codec, clips, 16000, caps[:2], enc)
    with pytest.raises(ValueError, match="same number of captions"):
        mg.encode_clips_and_captions(codec, clips, 16000, [caps[0], caps[1], ["piano"]], enc)
