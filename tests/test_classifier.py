"""The attribute classifier: front-end equal to helpers.audio, shapes, loss, evaluation, checkpoints."""
import json

import numpy as np
import pytest
import torch

from helpers import audio, classifier
from helpers.classifier import AttributeClassifier, ClassifierConfig
from helpers.checkpoints import file_sha256, save_weights
from helpers.training import TrainConfig, train

TINY = ClassifierConfig(n_mels=32, channels=(4, 8), embed_dim=16)


def test_logmel_equals_helpers_audio():
    cfg = ClassifierConfig()
    front = classifier.LogMel(cfg.sr, cfg.n_mels, cfg.n_fft, cfg.hop_length)
    x = torch.randn(3, 9000, generator=torch.Generator().manual_seed(0)) * 0.3
    ours = front(x)  # (3, M, F)
    for i in range(3):
        ref = audio.log_mel_spectrogram(x[i].numpy(), cfg.sr, n_mels=cfg.n_mels, n_fft=cfg.n_fft, hop_length=cfg.hop_length)
        torch.testing.assert_close(ours[i], ref, rtol=1e-5, atol=1e-4)


def test_shapes_embedding_and_predictions():
    torch.manual_seed(0)
    model = AttributeClassifier(TINY).eval()
    x = torch.randn(5, 8000) * 0.1
    logits = model(x)
    assert {k: tuple(v.shape) for k, v in logits.items()} == {
        name: (5, len(classes)) for name, classes in TINY.heads}
    e = model.embed(x.numpy(), sr=16000, batch_size=2)  # batching does not change the result
    assert e.shape == (5, TINY.embed_dim)
    torch.testing.assert_close(e, model.embed(x, 16000, batch_size=5), rtol=1e-5, atol=1e-5)
    pred = model.predict(x[0], 16000)
    assert set(pred) == set(TINY.attributes) and pred["mode"][0] in ("major", "minor")
    assert model.predict(torch.zeros(3, 2000), 16000)["mode"][0] in ("major", "minor")  # silence has an answer
    with pytest.raises(TypeError, match="sr"):
        model.embed(x)  # the rate is required: 44.1 kHz audio was classified silently
    with pytest.raises(ValueError, match="sr=22050 Hz.*16000 Hz"):
        model.embed(x, sr=22050)
    with pytest.raises(ValueError, match="samples"):
        model.embed(torch.zeros(3, 100), 16000)
    with pytest.raises(ValueError, match=r"stereo \(2, T\)"):
        model.predict(x[:2], 16000)  # (2, T) as torchaudio and librosa read stereo
    with pytest.raises(ValueError, match="int16-scale"):
        model.predict(x * 31195 / x.abs().max(), 16000)


def test_loss_returns_metrics_and_trains_with_the_course_loop():
    torch.manual_seed(0)
    model = AttributeClassifier(TINY)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3000, generator=g) * 0.1
    labels = {name: torch.randint(0, len(c), (8,), generator=g) for name, c in TINY.heads}
    batch = {"audio": x, **labels}
    loss, metrics = classifier.classifier_loss(model, batch)
    assert loss.dim() == 0 and set(metrics) == {f"{n}_{m}" for n in TINY.attributes for m in ("loss", "acc")}
    # A small batch is memorised: the loss falls.
    hist = train(model, classifier.classifier_loss, lambda gen, b: batch, [batch],
                 TrainConfig(steps=15, batch_size=8, lr=3e-3, warmup_steps=0, eval_every=15, device="cpu", progress=False))
    assert hist["valid_loss"][-1] < float(loss.detach())


def fixed_answer_model(answer: dict[str, int]) -> AttributeClassifier:
    """A TINY classifier whose every head answers the class ``answer[attribute]`` for any clip: weights 0, one bias
    1 (the mode branch's pooled logits are its MLP's output biases plus log 12)."""
    model = AttributeClassifier(TINY).eval()
    with torch.no_grad():
        for name, head in model.heads.items():
            head.weight.zero_(); head.bias.zero_(); head.bias[answer[name]] = 1.0
        last = model.mode_from_chroma.g[-1]
        last.weight.zero_(); last.bias.zero_(); last.bias[answer["mode"]] = 1.0
    return model


def test_confusion_matrix_and_evaluate():
    cm = classifier.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    model = fixed_answer_model({"family": 2, "tempo_band": 0, "mode": 1, "register": 1})  # guitar, slow, minor, middle
    x = torch.randn(6, 4000, generator=torch.Generator().manual_seed(0)) * 0.1
    assert model.predict(x, 16000) == {"family": ["guitar"] * 6, "tempo_band": ["slow"] * 6, "mode": ["minor"] * 6,
                                       "register": ["middle"] * 6}
    labels = {"family": np.array([2, 2, 0, 1, 2, 7]), "tempo_band": np.array([0, 0, 0, 0, 0, 0]),
              "mode": np.array([1, 0, 0, 1, 0, 0]), "register": np.array([0, 0, 2, 2, 2, 2])}
    res = classifier.evaluate(model, x, 16000, labels)
    assert {k: v["accuracy"] for k, v in res.items()} == {"family": 0.5, "tempo_band": 1.0, "mode": 2 / 6, "register": 0.0}
    assert res["mode"]["confusion"] == [[0, 4], [0, 2]]  # rows: true major (4), true minor (2); all said minor
    family = np.zeros((8, 8), dtype=int)
    family[[2, 0, 1, 7], 2] = [3, 1, 1, 1]  # every clip said guitar: column 2 holds the true classes' counts
    assert res["family"]["confusion"] == family.tolist() and res["family"]["n"] == 6
    table = classifier.format_confusion(res["mode"])
    assert "predicted" in table and table.splitlines()[1].split() == ["major", "0", "4"]


def test_checkpoint_round_trip_refuses_other_config_and_checks_hash(tmp_path):
    torch.manual_seed(0)
    model = AttributeClassifier(TINY).eval()
    path = save_weights(model, tmp_path / "c.pt", TINY.to_dict())
    (tmp_path / "c.json").write_text(json.dumps({"sha256": file_sha256(path)}))
    loaded = classifier.load_classifier(path)
    x = torch.randn(3, 4000) * 0.1
    torch.testing.assert_close(loaded.embed(x, 16000), model.embed(x, 16000))
    other = ClassifierConfig(n_mels=32, channels=(4, 8), embed_dim=24)
    with pytest.raises(ValueError, match="embed_dim"):
        classifier.load_classifier(path, config=other)
    (tmp_path / "c.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ValueError, match="SHA-256"):
        classifier.load_classifier(path)


@pytest.mark.skipif(not classifier.CHECKPOINT.exists(), reason="no shipped classifier checkpoint")
def test_shipped_checkpoint():
    from helpers.audio_corpus import AudioCorpus

    meta = json.loads(classifier.CHECKPOINT.with_suffix(".json").read_text())
    assert classifier.CHECKPOINT.stat().st_size < 2 * 1024 * 1024
    assert file_sha256(classifier.CHECKPOINT) == meta["sha256"]
    model = classifier.load_classifier()  # the default config: it must match the shipped one
    assert model.config == ClassifierConfig()
    ckpt = torch.load(classifier.CHECKPOINT, map_location="cpu", weights_only=True)
    assert all(v.dtype == (torch.float16 if meta["weights"] == "float16" else torch.float32)
               for v in ckpt["state_dict"].values() if v.is_floating_point())
    # the recorded test results are what the shipped weights give on the shipped corpus's test split (recomputed)
    corpus = AudioCorpus.build(progress=False, verbose=False)
    assert meta["corpus_recipe"] == corpus.recipe.hash()
    again = classifier.evaluate(model, corpus.clips("test"), corpus.recipe.sr, corpus.labels("test"))
    for name in ClassifierConfig().attributes:
        res = meta["results"]["test"][name]
        assert again[name]["confusion"] == res["confusion"] and again[name]["accuracy"] == pytest.approx(res["accuracy"])
        assert meta["test_accuracy"][name] == pytest.approx(again[name]["accuracy"])
    with pytest.raises(ValueError, match="config"):
        classifier.load_classifier(config=TINY)


def test_chroma_finds_the_pitch_class_and_the_mode_branch_ignores_the_key():
    cfg = ClassifierConfig()
    chroma = classifier.Chroma(cfg.sr, cfg.chroma_fft, cfg.hop_length)
    t = torch.arange(16000) / cfg.sr
    for pitch in (57, 62, 70):  # A3, D4, Bb4 as pure tones
        tone = torch.sin(2 * torch.pi * 440.0 * 2 ** ((pitch - 69) / 12) * t)[None]
        assert int(chroma(tone).mean(dim=2).argmax()) == pitch % 12
    torch.manual_seed(0)
    branch = classifier.TranspositionInvariantMode(8, 2)
    c = torch.rand(3, 12, 5)
    for shift in (1, 5, 11):
        torch.testing.assert_close(branch(torch.roll(c, shift, dims=1)), branch(c))


def test_mode_comes_from_the_chroma_branch_alone():
    torch.manual_seed(0)
    model = AttributeClassifier(TINY).eval()
    assert "mode" not in model.heads and set(model.heads) == set(TINY.attributes) - {"mode"}
    x = torch.randn(2, 8000) * 0.1
    mel, chroma = model.features(x)
    out = model.forward_features(mel, chroma)
    assert list(out) == list(TINY.attributes)
    torch.testing.assert_close(out["mode"], model.mode_from_chroma(chroma))
