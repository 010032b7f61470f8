"""helpers.melody and melody conditioning through the LM (MusicGen-melody), on tiny models."""
import numpy as np
import pytest
import torch

from helpers import melody
from helpers import musicgen as mg
from helpers.transformer import MusicTransformer

SR, HOP = 16000, 320
K, V, D = 2, 12, 8


def scale(notes=(60, 62, 64, 65, 67, 69, 71, 72), seconds=0.25):
    t = np.arange(int(seconds * SR)) / SR
    return np.concatenate([0.5 * np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t) for m in notes])


def test_a_known_scale_gives_its_pitch_classes_frame_by_frame():
    idx = melody.dominant_chroma(scale(), SR, HOP)  # 2 s: 100 frames of 20 ms, 12.5 per note
    assert idx.shape == (1, 100)
    per_note = [int(torch.mode(idx[0, int(i * 12.5) + 2 : int((i + 1) * 12.5) - 2]).values) for i in range(8)]
    assert per_note == [0, 2, 4, 5, 7, 9, 11, 0]  # C D E F G A B C
    transposed = melody.dominant_chroma(scale(tuple(n + 3 for n in (60, 62, 64))), SR, HOP, n_frames=30)
    assert transposed.shape == (1, 30) and int(torch.mode(transposed[0, 3:10]).values) == 3  # E flat


def test_silence_is_marked_and_bad_input_is_refused():
    audio = np.concatenate([np.zeros(SR // 2), scale((69,), 0.5)])
    idx = melody.dominant_chroma(audio, SR, HOP)
    assert (idx[0, :20] == melody.SILENCE).all() and (idx[0, 30:] == 9).all()  # A after half a second of silence
    assert (melody.dominant_chroma(np.zeros(SR), SR, HOP) == melody.SILENCE).all()
    assert melody.dominant_chroma(np.zeros((3, SR)), SR, HOP, n_frames=60).shape == (3, 60)  # padded with silence
    with pytest.raises(ValueError, match="mono clips"):
        melody.dominant_chroma(np.zeros((2, 1, SR)), SR, HOP)
    hot = melody.one_hot(torch.tensor([[0, -1, 11]]))
    assert hot.shape == (1, 3, 12) and hot[0, 1].sum() == 0 and hot[0, 2, 11] == 1 and hot.sum() == 2
    with pytest.raises(ValueError, match="-1..11"):
        melody.one_hot(torch.tensor([[12]]))


def test_positions_dropout_and_agreement():
    idx = torch.tensor([[4, 5, -1]])
    pos = melody.melody_positions(idx, 5)  # position p carries frame p; past the end: silent
    assert pos.shape == (1, 5, 12) and pos[0, 0, 4] == 1 and pos[0, 1, 5] == 1 and pos[0, 2:].sum() == 0
    with pytest.raises(ValueError, match="patterns"):
        melody.melody_positions(idx, 5, "flatten")
    many = torch.randint(0, 12, (1000, 4))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    dropped = melody.drop_melody(many, 0.5, g())
    assert torch.equal(dropped, melody.drop_melody(many, 0.5, g()))
    share = float((dropped == melody.SILENCE).all(1).float().mean())
    assert 0.45 < share < 0.55 and ((dropped == many).all(1) | (dropped == -1).all(1)).all()  # whole melodies
    assert melody.agreement(torch.tensor([1, 2, 3, -1]), torch.tensor([1, 2, 4, 5])) == pytest.approx(2 / 3)
    assert np.isnan(melody.agreement(torch.tensor([-1]), torch.tensor([3])))


def tiny_melody_lm(frames=6, seed=0):
    torch.manual_seed(seed)
    return MusicTransformer(mg.lm_config(K, V, frames, D, n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.0,
                                         d_add_in=12))


def test_the_melody_input_starts_silent_and_is_refused_by_a_model_without_one():
    lm = tiny_melody_lm()
    assert lm.add_in.weight.abs().sum() == 0  # a warm start from a text-only LM begins where that one was
    codes = torch.randint(0, V, (2, K, 6), generator=torch.Generator().manual_seed(1))
    batch = {"steps": mg.to_steps(codes, V), "cond": torch.randn(2, 3, D), "cond_mask": torch.zeros(2, 3, dtype=torch.bool)}
    plain, _ = mg.musicgen_loss(lm, batch)
    tuned, _ = mg.musicgen_loss(lm, dict(batch, melody=torch.randint(0, 12, (2, 6)), pattern="delay"))
    assert torch.allclose(plain, tuned)
    tuned.backward()
    assert lm.add_in.weight.grad.abs().sum() > 0  # ... and learns from the melody
    no_melody = MusicTransformer(mg.lm_config(K, V, 6, D, n_layer=1, n_head=2, d_model=16, d_ff=32))
    with pytest.raises(ValueError, match="no per-position input"):
        no_melody.project_add(torch.zeros(1, 3, 12))
    with pytest.raises(ValueError, match="d_add_in=12"):
        lm.project_add(torch.zeros(1, 3, 5))


def test_batches_drop_the_melody_with_the_text_and_on_their_own():
    g = torch.Generator().manual_seed(0)
    data = {"codes": torch.randint(0, V, (40, K, 6), generator=g).short(), "tokens": torch.randn(40, 1, 3, D).half(),
            "mask": torch.ones(40, 1, 3, dtype=torch.bool), "melody": torch.randint(0, 12, (40, 6), generator=g)}
    b = mg.caption_batches(data, V, 0.3, p_melody_drop=0.0)(torch.Generator().manual_seed(2), 400)
    text_gone = b["cond_mask"].all(1)
    assert text_gone.any() and (b["melody"][text_gone] == -1).all()  # the null condition: no text, no melody
    assert (b["melody"][~text_gone] >= 0).all() and b["pattern"] == "delay"
    b = mg.caption_batches(data, V, 0.0, p_melody_drop=1.0)(torch.Generator().manual_seed(2), 8)
    assert (b["melody"] == -1).all() and not b["cond_mask"].all()
    valid = mg.fixed_caption_batches(data, V, 8, 4)
    assert torch.equal(valid[1]["melody"], data["melody"][4:8])


def test_melody_sampling_with_the_cache_equals_recomputing_the_prefix():
    """The KV-cached sampler adds each new position's melody exactly as a full forward pass over the prefix does."""
    lm = tiny_melody_lm(frames=5).eval()
    torch.nn.init.normal_(lm.add_in.weight, std=1.0)  # a melody that matters
    cond = torch.randn(2, 3, D, generator=torch.Generator().manual_seed(3))
    tune = torch.tensor([[0, 4, 7, -1, 2], [11, 11, 3, 3, 5]])
    for scale in (None, 2.0):
        got = mg.sample_codes(lm, 5, torch.Generator().manual_seed(0), cond, None, scale, temperature=0.0, melody=tune)
        # the plain reference: no cache, the whole prefix (with its melody) through the model at every step
        guided = scale is not None
        c = torch.cat([cond, torch.zeros_like(cond)]) if guided else cond
        cm = torch.cat([torch.zeros(2, 3, dtype=torch.bool), torch.ones(2, 3, dtype=torch.bool)]) if guided else None
        t = torch.cat([tune, torch.full_like(tune, -1)]) if guided else tune
        x = torch.full((len(c), K, 1), V, dtype=torch.long)
        for s in range(1, 1 + 5 + K - 1):
            with torch.no_grad():
                logits = lm(x, cond=c, cond_mask=cm,
                            x_add=lm.project_add(melody.melody_positions(t, x.shape[-1])))[..., -1, :V]  # (2B|B, K, V)
            if guided:
                logits = logits[2:] + scale * (logits[:2] - logits[2:])
            nxt = logits.argmax(-1)
            nxt = torch.stack([nxt[:, k] if 0 <= s - 1 - k < 5 else torch.full_like(nxt[:, k], V) for k in range(K)], 1)
            nxt = torch.cat([nxt, nxt]) if guided else nxt
            x = torch.cat([x, nxt[..., None]], -1)
        assert torch.equal(got, mg.from_steps(x[:2], 5)), scale
    other = mg.sample_codes(lm, 5, torch.Generator().manual_seed(0), cond, None, 2.0, temperature=0.0,
                            melody=torch.tensor([[5, 5, 5, 5, 5], [1, 1, 1, 1, 1]]))
    assert not torch.equal(got, other)  # another melody, other music
    with pytest.raises(ValueError, match="melody must be"):
        mg.sample_codes(lm, 5, torch.Generator(), cond, None, 2.0, melody=tune[:1])


def test_musicgen_follows_a_reference_clip_only_with_a_melody_lm():
    from helpers import codec as codec_mod
    from tests.test_musicgen import FakeEncoder

    ccfg = codec_mod.CodecConfig.tiny(n_codebooks=K, codebook_size=V)
    lm = MusicTransformer(mg.lm_config(K, V, 12, D, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0, d_add_in=12))
    torch.nn.init.normal_(lm.add_in.weight, std=1.0)
    pipe = mg.MusicGen(codec_mod.Codec(ccfg), lm, FakeEncoder())
    seconds = 6 / ccfg.frame_rate
    ref = torch.from_numpy(scale((60, 67), 3 * ccfg.hop / ccfg.sample_rate)).float()  # 6 frames: C then G
    assert pipe.takes_melody and pipe.melody_of(ref, 6).shape == (1, 6)
    a = pipe.generate_codes(["abc", "de"], seconds, seed=0, melody=ref)  # one reference for both prompts
    assert torch.equal(a, pipe.generate_codes(["abc", "de"], seconds, seed=0, melody=ref))
    assert not torch.equal(a, pipe.generate_codes(["abc", "de"], seconds, seed=0))
    with pytest.raises(ValueError, match="3 melodies for 2 prompts"):
        pipe.generate_codes(["abc", "de"], seconds, melody=torch.stack([ref] * 3))
    text_only = mg.MusicGen(codec_mod.Codec(ccfg), MusicTransformer(mg.lm_config(K, V, 12, D, n_layer=1, n_head=2,
                                                                                    d_model=16, d_ff=32)), FakeEncoder())
    assert not text_only.takes_melody
    with pytest.raises(ValueError, match="not trained with melody"):
        text_only.generate("abc", seconds, melody=ref)
