"""scripts/train_codec.py and scripts/train_musicgen.py: shipped-folder guard, the LM's batches (condition dropout)."""
from pathlib import Path

import pytest
import torch

from helpers import musicgen as mg
from helpers.checkpoints import file_sha256
from helpers.paths import load_script

ROOT = Path(__file__).resolve().parent.parent


load = load_script  # scripts/<name>.py as a module


codec_script, lm_script = load("train_codec"), load("train_musicgen")


@pytest.mark.parametrize("script, default", [(codec_script, "runs/codec.pt"), (lm_script, "runs/musicgen_lm.pt")])
def test_default_output_is_the_scratch_folder(script, default):
    assert script.parse_args([]).out == default


@pytest.mark.parametrize("script", [codec_script, lm_script])
@pytest.mark.parametrize("argv", [["--out", "data/checkpoints/x.pt"], ["--work", "runs/../data/checkpoints"]])
def test_refuses_to_write_into_the_shipped_checkpoints(script, argv, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        script.parse_args(argv)
    assert "--overwrite-shipped" in capsys.readouterr().err
    assert script.parse_args(argv + ["--overwrite-shipped"]).overwrite_shipped


def fake_cache(N=6, P=4, L=5, d=3, K=2, T=7, V=10):
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(N, P, L, dtype=torch.bool)
    mask[:, :, 3:] = False  # 3 real tokens, 2 padding
    return {"codes": torch.randint(0, V, (N, K, T), generator=g).short(),
            "tokens": torch.randn(N, P, L, d, generator=g).half(), "mask": mask}


def test_batches_drop_the_condition_and_are_seeded():
    cache, special = fake_cache(), 10
    draw = mg.caption_batches(cache, special, p_drop=0.5)
    b = draw(torch.Generator().manual_seed(1), 64)
    assert b["steps"].shape == (64, 2, 1 + 7 + 1) and (b["steps"][..., 0] == special).all()
    dropped = b["cond_mask"].all(1)  # (B,) every position padding: the null condition
    assert 10 < int(dropped.sum()) < 54  # about half
    assert (b["cond"][dropped] == 0).all() and (b["cond"][~dropped].abs().sum((1, 2)) > 0).all()
    assert not b["cond_mask"][~dropped][:, :3].any() and b["cond_mask"][:, 3:].all()
    again = draw(torch.Generator().manual_seed(1), 64)
    assert all(torch.equal(b[k], again[k]) for k in b)
    none = mg.caption_batches(cache, special, p_drop=0.0)(torch.Generator().manual_seed(1), 16)
    assert not none["cond_mask"].all(1).any()


def test_validation_batches_and_loss():
    cache = fake_cache()
    valid = mg.fixed_caption_batches(cache, 10, n=5, batch_size=2)
    assert [v["steps"].shape[0] for v in valid] == [2, 2, 1]
    lm = mg.MusicTransformer(mg.lm_config(2, 10, 7, 3, n_layer=1, n_head=1, d_model=8, d_ff=16, dropout=0.0))
    loss, metrics = mg.musicgen_loss(lm, valid[0])
    assert torch.isfinite(loss) and set(metrics) == {"ce_0", "ce_1"}


def test_caption_batches_refuse_a_bad_dropout_probability():
    with pytest.raises(ValueError, match="p_drop"):
        mg.caption_batches(fake_cache(), 10, p_drop=1.5)



def test_measure_control_writes_to_runs_and_guards_the_shipped_table(capsys, monkeypatch):
    control = load("measure_control")
    monkeypatch.chdir(ROOT)
    assert control.parse_args([]).out == "runs/musicgen_control.json"
    assert control.parse_args([]).scales == [0.0, 1.0, 2.0, 3.0, 5.0]
    with pytest.raises(SystemExit):
        control.parse_args(["--out", "data/checkpoints/musicgen_control.json"])
    assert "--overwrite-shipped" in capsys.readouterr().err
    assert control.parse_args([]).codec is None and control.parse_args([]).n == 192
    with pytest.raises(SystemExit):
        control.parse_args(["--n", "0"])
    assert "--n must be >= 1" in capsys.readouterr().err


def test_codec_init_copies_weights_and_codebooks_and_refuses_another_config(tmp_path):
    from helpers import codec as C

    cfg = C.CodecConfig.tiny()
    trained = C.Codec(cfg, seed=0)
    with torch.no_grad():
        trained.quantizer.stages[1].codebook.mul_(3.0)  # a codebook that no fresh model has
    path = C.save_checkpoint(trained, tmp_path / "codec.pt", extra={"steps": 5, "init": {"steps": 7}})
    fresh = C.Codec(cfg, seed=1)
    assert not torch.equal(fresh.quantizer.stages[1].codebook, trained.quantizer.stages[1].codebook)
    info = codec_script.init_from(fresh, path)
    assert info["steps"] == 12 and len(info["sha256"]) == 64
    for (name, a), b in zip(trained.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a.float(), b.float()), name
    other = C.Codec(C.CodecConfig.tiny(codebook_size=8), seed=0)
    with pytest.raises(ValueError, match="another configuration"):
        codec_script.init_from(other, path)


def test_lm_init_copies_weights_and_refuses_another_config(tmp_path):
    from helpers.transformer import save_checkpoint

    cfg = mg.lm_config(2, 10, 7, 3, n_layer=1, n_head=1, d_model=8, d_ff=16, dropout=0.0)
    torch.manual_seed(0)
    trained = mg.MusicTransformer(cfg)
    path = save_checkpoint(trained, tmp_path / "lm.pt", half=False,
                           extra={"steps": 30, "init": {"steps": 60}, "codec_sha256_16": "ab" * 8})
    torch.manual_seed(1)
    fresh = mg.MusicTransformer(cfg)
    info = lm_script.init_from(fresh, path)
    assert info["steps"] == 90 and info["codec_sha256_16"] == "ab" * 8 and fresh.training
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), fresh.state_dict().values()))
    wider = mg.MusicTransformer(mg.lm_config(2, 10, 7, 3, n_layer=1, n_head=1, d_model=16, d_ff=16, dropout=0.0))
    with pytest.raises(ValueError):
        lm_script.init_from(wider, path)


def test_augment_captions_option(capsys):
    assert lm_script.parse_args([]).augment_captions == 0  # the earlier runs' commands mean what they meant
    assert lm_script.parse_args(["--augment-captions", "12"]).augment_captions == 12
    with pytest.raises(SystemExit):
        lm_script.parse_args(["--augment-captions", "-1"])
    assert "--augment-captions must be >= 0" in capsys.readouterr().err


def test_extra_train_option_and_joining_two_caches(capsys):
    assert lm_script.parse_args([]).extra_train == []
    assert lm_script.parse_args(["--extra-train", "1", "4800", "--extra-train", "2", "10"]).extra_train == [[1, 4800], [2, 10]]
    for bad in (["0", "10"], ["1", "0"]):  # the default corpus's own seed, no clips
        with pytest.raises(SystemExit):
            lm_script.parse_args(["--extra-train", *bad])
        assert "--extra-train SEED N" in capsys.readouterr().err
    a, b = fake_cache(N=3, L=5), fake_cache(N=2, L=7)
    joined = lm_script.concat_clips(a, b)
    assert joined["codes"].shape == (5, 2, 7) and joined["tokens"].shape == (5, 4, 7, 3) and joined["mask"].shape == (5, 4, 7)
    assert torch.equal(joined["tokens"][:3, :, :5], a["tokens"]) and not joined["mask"][:3, :, 5:].any()
    assert torch.equal(joined["tokens"][3:], b["tokens"]) and torch.equal(joined["mask"][3:], b["mask"])
    with pytest.raises(ValueError, match="cannot join"):
        lm_script.concat_clips(a, fake_cache(N=2, K=3))


def test_a_truncated_cache_is_named_and_a_cache_is_keyed_by_the_encoders_hash(tmp_path):
    from helpers.text_encoder import MiniLMEncoder

    assert lm_script.text_encoder_hash() == MiniLMEncoder.fingerprint[:16] != "minilm"
    path = tmp_path / "cache.pt"
    torch.save({"train": fake_cache()}, path)
    path.write_bytes(path.read_bytes()[:100])  # a run killed while writing (before writes were atomic)
    with pytest.raises(ValueError, match=f"caption cache {path} cannot be read.*corrupt or truncated"):
        lm_script.load_or_build_cache(None, None, path)


def test_train_musicgen_main_end_to_end_on_a_few_clips(tmp_path, capsys):
    """The whole script on 4 clips per split and a tiny LM: cache, training, fp16 check, speed, JSON; then a warm
    start from its output (the steps add up) that reuses the cache."""
    import json

    from helpers.transformer import load_checkpoint

    tiny = ["--limit", "4", "--n-layer", "1", "--n-head", "2", "--d-model", "32", "--d-ff", "64", "--batch-size", "2",
            "--warmup", "0", "--eval-every", "1", "--n-valid", "2", "--augment-captions", "1", "--no-progress",
            "--cache", str(tmp_path / "cache"), "--work", str(tmp_path / "work")]
    first = lm_script.main(tiny + ["--steps", "2", "--out", str(tmp_path / "lm.pt")])
    assert first["steps"] == 2 and first["n_train_clips"] == 4 and first["augment_captions"] == 1
    assert first["init"] is None and first["sampling_steps_per_second"] > 0
    meta = json.loads((tmp_path / "lm.json").read_text())
    assert meta["history"]["valid_step"] == [1, 2] and len(meta["history"]["train_loss"]) == 2
    model = load_checkpoint(tmp_path / "lm.pt")
    assert model.config.d_model == 32 and model.config.n_streams == 4 and model.config.d_cond == 384
    from helpers.text_encoder import MiniLMEncoder

    (cache,) = (tmp_path / "cache").glob(f"*_text{MiniLMEncoder.fingerprint[:16]}_aug1_limit4.pt")  # the encoder's hash
    assert torch.load(cache, weights_only=True)["encoder_sha256"] == MiniLMEncoder.fingerprint
    assert not list((tmp_path / "cache").glob("*.tmp*"))  # written through a temporary file, renamed
    second = lm_script.main(tiny + ["--steps", "1", "--init", str(tmp_path / "lm.pt"), "--out", str(tmp_path / "lm2.pt")])
    assert "cache: reusing" in capsys.readouterr().out
    assert second["init"]["steps"] == 2 and second["init"]["sha256"] == file_sha256(tmp_path / "lm.pt")


def test_train_musicgen_with_the_flatten_pattern_end_to_end(tmp_path):
    """--pattern flatten on a tiny config: the LM's window is the flatten sequence, the checkpoint and the JSON
    record the pattern, load_lm gives it back, MusicGen samples with it; a warm start on another pattern is refused."""
    import json

    from helpers.codec import load_checkpoint as load_codec
    from helpers.patterns import decoding_steps

    tiny = ["--limit", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "16", "--d-ff", "32", "--batch-size", "2",
            "--warmup", "0", "--eval-every", "1", "--n-valid", "2", "--no-progress", "--steps", "1",
            "--cache", str(tmp_path / "cache"), "--work", str(tmp_path / "work")]
    assert lm_script.parse_args([]).pattern == "delay"
    res = lm_script.main(tiny + ["--pattern", "flatten", "--out", str(tmp_path / "flat.pt")])
    K, T = 4, 200  # the shipped codec's codebooks, 4-s clips at 50 Hz
    assert res["pattern"] == "flatten" and res["config"]["max_len"] == 1 + K * T
    assert res["steps_per_audio_second"] == decoding_steps("flatten", K, T) / 4.0 == 200.0
    assert json.loads((tmp_path / "flat.json").read_text())["pattern"] == "flatten"
    lm = mg.load_lm(tmp_path / "flat.pt")
    assert lm.pattern == "flatten"
    with pytest.raises(ValueError, match="'flatten' pattern, not 'delay'"):
        mg.load_lm(tmp_path / "flat.pt", pattern="delay")

    class Text:  # the cache's 384-d embeddings stand in for the text encoder
        dim, max_tokens = 384, 8

        def encode(self, prompts):
            from helpers.text_encoder import TextEmbeddings

            n = 1 if isinstance(prompts, str) else len(prompts)
            return TextEmbeddings(torch.ones(n, 2, 384), torch.ones(n, 2, dtype=torch.bool), torch.ones(n, 384))

    pipe = mg.MusicGen(load_codec(ROOT / "data" / "checkpoints" / "codec.pt"), lm, Text())
    assert pipe.pattern == "flatten" and pipe.max_seconds == 4.0
    assert pipe.generate_codes("x", seconds=0.1, seed=0).shape == (1, K, 5)
    with pytest.raises(ValueError, match="'flatten' pattern"):
        lm_script.main(tiny + ["--pattern", "delay", "--init", str(tmp_path / "flat.pt"), "--out", str(tmp_path / "d.pt")])
    with pytest.raises(SystemExit):
        lm_script.parse_args(["--pattern", "zigzag"])


def test_compare_patterns_end_to_end_on_a_few_clips(tmp_path, monkeypatch, capsys):
    """scripts/compare_patterns.py on 2 clips and 2 steps: one row per pattern with K losses, the decoding steps
    per second of audio by formula, speeds, hashes; the defaults are what the notebook checks; the guard."""
    import json

    cmp = load("compare_patterns")
    monkeypatch.chdir(ROOT)
    assert cmp.parse_args([]).out == "runs/musicgen_patterns.json"
    with pytest.raises(SystemExit):
        cmp.parse_args(["--out", "data/checkpoints/musicgen_patterns.json"])
    assert "--overwrite-shipped" in capsys.readouterr().err
    out = tmp_path / "p.json"
    res = cmp.main(["--n-train", "2", "--n-valid", "1", "--steps", "2", "--warmup", "0", "--eval-every", "1",
                    "--batch-size", "2", "--n-layer", "1", "--d-model", "16", "--d-ff", "32", "--repeats", "1",
                    "--cache", str(tmp_path / "cache"), "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["codec_sha256"] == file_sha256(ROOT / "data" / "checkpoints" / "codec_istft.pt")  # the default
    assert [r["pattern"] for r in saved["rows"]] == ["flatten", "parallel", "delay", "valle"]
    assert [r["steps_per_audio_second"] for r in saved["rows"]] == [200.0, 50.0, 53.0, 100.0]  # K = 4, 50 frames
    assert all(len(r["valid_loss_per_codebook"]) == 4 and r["sampling_steps_per_second"] > 0 for r in saved["rows"])
    assert saved["n_train_sequences"] == 8 and saved["threads"] == 1 and saved["config"]["steps"] == 2
    assert res["train_codes_sha256"] == saved["train_codes_sha256"] and len(saved["valid_codes_sha256"]) == 64
    again = cmp.main(["--n-train", "2", "--n-valid", "1", "--steps", "2", "--warmup", "0", "--eval-every", "1",
                      "--batch-size", "2", "--n-layer", "1", "--d-model", "16", "--d-ff", "32", "--repeats", "1",
                      "--patterns", "delay", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "q.json")])
    assert again["rows"][0]["valid_loss_per_codebook"] == res["rows"][2]["valid_loss_per_codebook"]  # seeded


def test_a_melody_lm_warm_starts_from_a_text_only_one(tmp_path):
    """--init from a text-only LM into a melody LM: every shared weight copied, the melody input at zero (so the
    warm start begins exactly where the text-only LM was); another difference is still refused."""
    from helpers.transformer import save_checkpoint

    cfg = mg.lm_config(2, 10, 7, 3, n_layer=1, n_head=1, d_model=8, d_ff=16, dropout=0.0)
    torch.manual_seed(0)
    trained = mg.MusicTransformer(cfg)
    path = save_checkpoint(trained, tmp_path / "lm.pt", half=False, extra={"steps": 30, "codec_sha256_16": "ab" * 8})
    torch.manual_seed(1)
    fresh = mg.MusicTransformer(mg.lm_config(2, 10, 7, 3, n_layer=1, n_head=1, d_model=8, d_ff=16, dropout=0.0,
                                             d_add_in=12))
    torch.nn.init.normal_(fresh.add_in.weight)
    info = lm_script.init_from(fresh, path)
    assert info["steps"] == 30 and fresh.training and fresh.add_in.weight.abs().sum() > 0
    state = fresh.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in trained.state_dict().items())
    wider = mg.MusicTransformer(mg.lm_config(2, 10, 7, 3, n_layer=1, n_head=1, d_model=16, d_ff=16, dropout=0.0,
                                             d_add_in=12))
    with pytest.raises(ValueError, match="differs in"):
        lm_script.init_from(wider, path)


def test_melody_rich_caption_and_pooling_options(capsys):
    args = lm_script.parse_args([])
    assert args.melody_dropout is None and args.rich_captions == 0 and args.text_pooling == "tokens"
    assert lm_script.parse_args(["--melody-dropout", "0.5", "--text-pooling", "both"]).melody_dropout == 0.5
    for bad, said in ((["--melody-dropout", "1.5"], "--melody-dropout must lie in [0, 1]"),
                      (["--melody-dropout", "0.5", "--pattern", "flatten"], "works with the"),
                      (["--rich-captions", "-2"], "--rich-captions must be >= 0")):
        with pytest.raises(SystemExit):
            lm_script.parse_args(bad)
        assert said in capsys.readouterr().err


def test_measure_melody_asks_for_other_players_and_nothing_else(capsys, monkeypatch):
    mel = load("measure_melody")
    monkeypatch.chdir(ROOT)
    assert mel.parse_args([]).out == "runs/musicgen_melody.json" and mel.parse_args([]).guidance == 3.0
    with pytest.raises(SystemExit):
        mel.parse_args(["--out", "data/checkpoints/musicgen_melody.json"])
    assert "--overwrite-shipped" in capsys.readouterr().err
    tune = {"instruments": ["flute"], "family": "pipe", "texture": "solo", "key": "D minor", "mode": "minor",
            "tempo_band": "slow", "register": "high", "bpm": 60}
    players = {"instruments": ["organ"] * 4, "family": "organ", "texture": "chorale", "key": "C major", "mode": "major",
               "tempo_band": "fast", "register": "low", "bpm": 150}
    asked = mel.players_of(tune, players)
    assert asked["family"] == "organ" and asked["instruments"] == ["organ"] * 4 and asked["texture"] == "chorale"
    assert {k: asked[k] for k in ("key", "mode", "tempo_band", "register", "bpm")} == \
        {k: tune[k] for k in ("key", "mode", "tempo_band", "register", "bpm")}


def test_compress_lm_stores_int8_after_measuring_the_validation_loss(tmp_path, monkeypatch, capsys):
    """scripts/compress_lm.py on a tiny LM: the int8 file is smaller, loads as the same architecture with weights
    within half a quantisation step, records both validation losses, and is refused as input a second time."""
    from helpers.checkpoints import read_checkpoint
    from helpers.transformer import load_checkpoint

    tiny = ["--limit", "2", "--n-layer", "1", "--n-head", "2", "--d-model", "64", "--d-ff", "128", "--batch-size", "2",
            "--warmup", "0", "--eval-every", "1", "--n-valid", "2", "--no-progress", "--steps", "1", "--melody-dropout",
            "0.5", "--cache", str(tmp_path / "cache"), "--work", str(tmp_path / "work")]
    lm_script.main(tiny + ["--out", str(tmp_path / "lm.pt")])
    cmp = load("compress_lm")
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        cmp.parse_args(["--out", "data/checkpoints/musicgen_lm.pt"])
    assert "--overwrite-shipped" in capsys.readouterr().err
    out = tmp_path / "lm_int8.pt"
    storage = cmp.main(["--lm", str(tmp_path / "lm.pt"), "--out", str(out), "--n-valid", "2", "--limit", "2",
                        "--cache", str(tmp_path / "cache")])
    assert storage["n_valid"] == 2 and abs(storage["rise"]) < storage["tolerance"]
    assert out.stat().st_size < 0.7 * (tmp_path / "lm.pt").stat().st_size
    raw = torch.load(out, weights_only=True)
    assert raw["state_dict"]["tok.weight"].dtype == torch.int8 and raw["extra"]["storage"] == storage
    a, b = load_checkpoint(tmp_path / "lm.pt"), load_checkpoint(out)
    assert a.config == b.config and mg.lm_text_pooling(out) == mg.lm_text_pooling(tmp_path / "lm.pt")
    for (k, wa), wb in zip(a.state_dict().items(), b.state_dict().values()):
        step = wa.abs().amax(dim=tuple(range(1, wa.dim()))).clamp_min(1e-12) / 127 if wa.dim() >= 2 else None
        if k in raw.get("int8_scales", {}):
            assert ((wa - wb).abs() <= step.view(-1, *([1] * (wa.dim() - 1))) / 2 + 1e-6).all(), k
    assert read_checkpoint(out)["weights_storage"] == "int8"
    with pytest.raises(SystemExit, match="int8 already"):
        cmp.main(["--lm", str(out), "--out", str(tmp_path / "again.pt"), "--limit", "2", "--cache", str(tmp_path / "cache")])


def test_compare_text_pooling_runs_the_same_commands_but_the_pooling_and_reuses_finished_runs(tmp_path, monkeypatch, capsys):
    import json

    cmp = load("compare_text_pooling")
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        cmp.parse_args(["--out", "data/checkpoints/musicgen_pooling.json"])
    assert "--overwrite-shipped" in capsys.readouterr().err
    args = cmp.parse_args(["--work", str(tmp_path), "--steps", "40"])
    assert args.poolings == list(mg.TEXT_POOLINGS)
    cmds = {p: cmp.train_argv(p, args) for p in args.poolings}
    differ = [i for i, parts in enumerate(zip(*cmds.values())) if len(set(parts)) > 1]
    assert [cmds["tokens"][i] for i in differ] == ["tokens", str(tmp_path / "lm_tokens.pt")]  # only the pooling
    assert "--melody-dropout" not in cmds["both"] and cmds["both"][cmds["both"].index("--eval-every") + 1] == "10"
    m = cmp.measure_argv("pooled", args)
    assert m[m.index("--lm") + 1] == str(tmp_path / "lm_pooled.pt") and m[m.index("--scales") + 1 :][:2] == ["2", "3"]
    log = tmp_path / "c.json"
    assert not cmp.recorded(log, m, lambda p: json.loads(p.read_text()))
    log.write_text(json.dumps({"command": "python " + " ".join(m)}))
    assert cmp.recorded(log, m, lambda p: json.loads(p.read_text()))
    assert not cmp.recorded(log, cmp.measure_argv("both", args), lambda p: json.loads(p.read_text()))


def test_compare_lm_storage_needs_the_lms_and_guards_the_shipped_folder(monkeypatch, capsys):
    cmp = load("compare_lm_storage")
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        cmp.parse_args([])  # --lm is required
    with pytest.raises(SystemExit):
        cmp.parse_args(["--lm", "a.pt", "--out", "data/checkpoints/lm_storage.json"])
    assert "--overwrite-shipped" in capsys.readouterr().err
    args = cmp.parse_args(["--lm", "a.pt", "b.pt"])
    assert args.seeds[0] == 0 and args.guidance == 3.0  # seed offset 0 and guidance 3: notebook 06's MusicGen row


def test_compress_lm_names_another_codec_only_if_it_gives_the_same_codes(tmp_path):
    """``--codec``: a codec whose decoder alone was retrained may be recorded as the LM's; one with other codebooks
    is refused, naming both files."""
    from helpers import autoencoder as ae
    from helpers.checkpoints import file_sha256, save_weights

    cmp = load("compress_lm")
    cfg = ae.AutoencoderConfig(dim=8, encoder_blocks=1, decoder_blocks=1, latent_dim=8, n_codebooks=2,
                               codebook_size=8, codebook_dim=4)
    trained = ae.Autoencoder(cfg, seed=0)
    ae.save_checkpoint(trained, tmp_path / "codec.pt")
    lm = torch.nn.Linear(2, 2)
    save_weights(lm, tmp_path / "lm.pt", {"kind": "none"}, extra={"codec_sha256_16": file_sha256(tmp_path / "codec.pt")[:16]})
    with torch.no_grad():
        trained.decoder.head.bias.add_(0.1)
    ae.save_checkpoint(trained, tmp_path / "other" / "decoder_retrained.pt")
    rec = cmp.codec_record(tmp_path / "lm.pt", tmp_path / "other" / "decoder_retrained.pt")
    assert rec == {"codec_sha256_16": file_sha256(tmp_path / "other" / "decoder_retrained.pt")[:16],
                   "codes_trained_on_codec_sha256_16": file_sha256(tmp_path / "codec.pt")[:16]}
    with torch.no_grad():
        trained.quantizer.stages[0].codebook.weight[0] += 1.0
    ae.save_checkpoint(trained, tmp_path / "other" / "requantized.pt")
    with pytest.raises(SystemExit, match="requantized.pt.*codebooks differ.*codec.pt"):
        cmp.codec_record(tmp_path / "lm.pt", tmp_path / "other" / "requantized.pt")
