"""Audio generators and symbolic ones on one scale: halves, matched rendering, random codes, accuracy."""
import numpy as np
import pytest
import torch

from helpers import audio_corpus as ac
from helpers import audio_eval as ae
from helpers.audio_corpus import CorpusRecipe
from helpers.classifier import AttributeClassifier, ClassifierConfig
from helpers.codec import Codec, CodecConfig
from helpers.intervals import wilson_interval

RECIPE = CorpusRecipe(n_train=8, n_valid=4, n_test=4, clip_seconds=1.0)


@pytest.fixture(scope="module")
def valid_pools():
    return ac.piece_pools("valid")


def test_chorale_halves_split_the_chorales_only_and_are_seeded():
    attrs = [{"texture": t} for t in ["chorale", "solo", "chorale", "chorale", "solo", "chorale", "chorale"]]
    ref, held = ae.chorale_halves(attrs, np.random.default_rng(0))
    assert len(ref) == 3 and len(held) == 2 and not set(ref) & set(held)
    assert sorted([*ref, *held]) == [0, 2, 3, 5, 6]
    again = ae.chorale_halves(attrs, np.random.default_rng(0))
    assert ref.tolist() == again[0].tolist() and held.tolist() == again[1].tolist()
    assert sorted(np.concatenate(ae.chorale_halves(attrs, np.random.default_rng(0), texture=None))) == list(range(7))
    with pytest.raises(ValueError, match="texture 'chorale'"):
        ae.chorale_halves(attrs[:2], np.random.default_rng(0))


def test_render_matched_reproduces_the_corpus_clip_and_matches_the_register(valid_pools):
    for i in range(6):
        excerpt, attrs = ac.choose_clip(RECIPE, "valid", i, valid_pools)
        corpus_clip = ac.render_clip(excerpt, attrs, RECIPE).astype(np.float32) / 32767
        ours = ae.render_matched(excerpt, attrs, RECIPE)
        assert ours.shape == (RECIPE.clip_samples,) and ours.dtype == np.float32
        np.testing.assert_array_equal(ours, corpus_clip)  # the corpus's own clip, sample for sample
        low = excerpt.transpose(-12 if excerpt.pitches.min() >= 12 else 12)  # an octave away: moved back
        np.testing.assert_array_equal(ae.render_matched(low, attrs, RECIPE), corpus_clip)
    assert ae.silent_window(excerpt, attrs, RECIPE, 100.0) and not ae.silent_window(excerpt, attrs, RECIPE, 0.0)
    np.testing.assert_array_equal(ae.render_matched(excerpt, attrs, RECIPE, 100.0), corpus_clip)  # the opening
    with pytest.raises(ValueError, match="no notes in quarters 100"):
        ae.render_matched(excerpt, attrs, RECIPE, start_quarter=100.0, opening_if_silent=False)


def test_random_codes_audio_is_seeded_and_decodes_to_the_clip_length():
    codec = Codec(CodecConfig.tiny(), seed=0).eval()
    a = ae.random_codes_audio(codec, 5, 0.25, torch.Generator().manual_seed(0), batch_size=2)
    frames = int(0.25 * codec.config.frame_rate)
    assert a.shape == (5, frames * codec.hop)
    assert torch.equal(a, ae.random_codes_audio(codec, 5, 0.25, torch.Generator().manual_seed(0), batch_size=2))
    whole = ae.random_codes_audio(codec, 5, 0.25, torch.Generator().manual_seed(0), batch_size=5)
    torch.testing.assert_close(a, whole, rtol=1e-4, atol=1e-6)  # batching changes only the rounding
    assert not torch.equal(a, ae.random_codes_audio(codec, 5, 0.25, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="n must be"):
        ae.random_codes_audio(codec, 0, 0.25, torch.Generator())


def test_attribute_accuracy_counts_hits_with_an_interval():
    attrs = [{"family": f, "mode": "major"} for f in ("organ", "piano", "organ", "reed")]
    pred = {"family": ["organ", "piano", "piano", "reed"], "mode": ["major"] * 4}
    acc = ae.attribute_accuracy(pred, attrs, ("family", "mode"))
    assert acc["family"].estimate == 0.75 and acc["mode"].estimate == 1.0
    assert 0.0 <= acc["family"].low <= 0.75 <= acc["family"].high <= 1.0
    assert acc["family"] == wilson_interval(3, 4)  # the Wilson interval, not a bootstrap
    assert acc["mode"].high == 1.0 and acc["mode"].low < 0.6  # all hits: not collapsed to [1.00, 1.00]
    with pytest.raises(ValueError, match="no attribute 'tempo_band'"):
        ae.attribute_accuracy(pred, attrs, ("tempo_band",))
    with pytest.raises(ValueError, match="3 predictions"):
        ae.attribute_accuracy({"family": ["organ"] * 3}, attrs, ("family",))


def test_embed_and_predict_equals_embed_and_predict_separately():
    model = AttributeClassifier(ClassifierConfig(n_mels=32, channels=(4, 8), embed_dim=16)).train()
    audio = np.random.default_rng(0).standard_normal((5, 8000)).astype(np.float32) * 0.1
    emb, pred = ae.embed_and_predict(model, audio, sr=16000, batch_size=2)
    np.testing.assert_allclose(emb, model.embed(audio, sr=16000).numpy(), rtol=1e-5, atol=1e-6)
    assert pred == model.predict(audio, sr=16000) and emb.shape == (5, 16) and model.training  # mode restored
    with pytest.raises(ValueError, match="8000"):
        ae.embed_and_predict(model, audio, sr=8000)


def test_floor_estimates_never_pair_a_clip_with_itself():
    import numpy as np
    from helpers import audio_eval

    audio = np.random.default_rng(0).standard_normal((7, 100)).astype(np.float32)
    floors = audio_eval.floor_estimates(audio, np.random.default_rng(3))
    unrelated = floors["unrelated clip"]
    for i in range(7):
        assert not np.array_equal(unrelated[i], audio[i])
        assert any(np.array_equal(unrelated[i], a) for a in audio)
    rms = np.sqrt((audio.astype(np.float64) ** 2).mean(axis=1))
    assert np.allclose(np.sqrt((floors["noise"].astype(np.float64) ** 2).mean(axis=1)), rms, rtol=0.35)


def test_the_autoencoder_table_refuses_weights_it_did_not_measure(tmp_path):
    import json
    import pytest
    from helpers import audio_eval
    from helpers.checkpoints import file_sha256

    (tmp_path / "a.pt").write_bytes(b"weights")
    (tmp_path / "clf.pt").write_bytes(b"ears")
    table = {"classifier": {"path": "clf.pt", "sha256": file_sha256(tmp_path / "clf.pt")},
             "models": {"a": {"path": "a.pt", "sha256": file_sha256(tmp_path / "a.pt")}},
             "rows": [{"row": "held-out real clips", "model": None, "bitrate": None, "fad": 100.0, "family": 1.0},
                      {"row": "a, 1 codebook", "model": "a", "bitrate": 500.0, "fad": 300.0, "family": 0.5,
                       "chroma": 0.9, "log_mel": 1.0, "si_snr": -3.0}]}
    (tmp_path / "t.json").write_text(json.dumps(table))
    loaded = audio_eval.load_autoencoder_table(tmp_path / "t.json", root=tmp_path)
    rows = audio_eval.format_autoencoder_rows(loaded)
    assert rows[1][:4] == ("a, 1 codebook", 500.0, 300.0, 3.0)
    (tmp_path / "a.pt").write_bytes(b"other weights")
    with pytest.raises(ValueError, match="a.pt"):
        audio_eval.load_autoencoder_table(tmp_path / "t.json", root=tmp_path)


def test_quality_by_codebooks_works_for_both_codec_designs():
    import numpy as np
    import torch
    from helpers import audio_eval, autoencoder, codec

    clips = (0.3 * np.random.default_rng(0).standard_normal((3, 16 * 40))).astype(np.float32)
    for model in (autoencoder.Autoencoder(autoencoder.AutoencoderConfig.tiny()), codec.Codec(codec.CodecConfig.tiny())):
        rows = audio_eval.quality_by_codebooks(model.eval(), clips, 16000)
        assert [r["n_codebooks"] for r in rows] == list(range(1, model.config.n_codebooks + 1))
        assert all(r["bitrate"] == model.bitrate(r["n_codebooks"]) for r in rows)
        rec = model.reconstruct(torch.from_numpy(clips[:, None]), sr=16000, n_q=1).numpy()
        assert rows[0]["log_mel"] == audio_eval.quality_means(clips, rec, 16000)["log_mel"]


def test_fp16_if_lossless_keeps_float16_when_it_loses_nothing(tmp_path):
    import numpy as np
    from helpers import audio_eval, autoencoder

    model = autoencoder.Autoencoder(autoencoder.AutoencoderConfig.tiny()).eval()
    clips = (0.3 * np.random.default_rng(0).standard_normal((3, 16 * 40))).astype(np.float32)
    table, use_half, delta = audio_eval.fp16_if_lossless(model, autoencoder, tmp_path / "h.pt", clips, 16000)
    assert (tmp_path / "h.pt").exists() and abs(delta) < 1e-3 and use_half
    assert [r["n_codebooks"] for r in table] == [1, 2, 3]
    _, strict, _ = audio_eval.fp16_if_lossless(model, autoencoder, tmp_path / "h.pt", clips, 16000, tolerance=0.0)
    assert strict is (delta == 0.0)


def test_match_peak_scales_each_clip_to_the_corpus_peak_and_keeps_silence():
    rng = np.random.default_rng(0)
    a = np.stack([0.3 * rng.standard_normal(100), np.zeros(100), 2.0 * np.sin(np.arange(100.0))]).astype(np.float32)
    b = ae.match_peak(a)
    assert b.shape == a.shape and np.allclose(np.abs(b).max(1), [ac.PEAK, 0.0, ac.PEAK])
    assert np.allclose(b[0] / a[0], b[0][0] / a[0][0])  # a gain per clip: the shape of the waveform is kept
    assert np.allclose(ae.match_peak(b), b)  # a clip at the corpus peak is left as it is
    with pytest.raises(ValueError, match="peak"):
        ae.match_peak(a, peak=1.5)
    with pytest.raises(ValueError, match=r"\(n, T\)"):
        ae.match_peak(a[0])


def test_one_scale_halves_pool_valid_and_test_and_split_the_chorales_as_notebook_06_does():
    class Corpus:  # the two methods the helper reads
        def attributes(self, split):
            return [{"texture": t, "split": split} for t in ("chorale", "solo", "chorale", "chorale")]

        def clips(self, split):
            return np.full((4, 10), 1 if split == "valid" else 2, dtype=np.int16)

    attrs, audio, ref, held = ae.one_scale_halves(Corpus())
    assert [a["split"] for a in attrs] == ["valid"] * 4 + ["test"] * 4
    assert audio.dtype == np.float32 and audio.shape == (8, 10) and audio[0, 0] == 1 and audio[4, 0] == 2
    r, h = ae.chorale_halves(attrs, np.random.default_rng(0))
    assert np.array_equal(ref, r) and np.array_equal(held, h)
    assert sorted([*ref, *held]) == [0, 2, 3, 4, 6, 7]  # the chorales only
