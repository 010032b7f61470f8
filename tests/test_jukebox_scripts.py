"""The training scripts of notebook 04 refuse to overwrite the shipped checkpoints without --overwrite-shipped."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers.paths import load_script

ROOT = Path(__file__).resolve().parent.parent


script = load_script  # scripts/<name>.py as a module


@pytest.mark.parametrize("name, args", [("train_vqvae", ["--hop", "64"]), ("train_priors", ["--which", "top"]),
                                        ("ablate_codebook", []), ("shared_hierarchy", []),
                                        ("jukebox_fad_stages", [])])
def test_scripts_refuse_the_shipped_folder(name, args, capsys):
    mod = script(name)
    with pytest.raises(SystemExit):
        mod.parse_args(args + ["--out", str(ROOT / "data" / "checkpoints" / "x.pt")])
    assert "--overwrite-shipped" in capsys.readouterr().err
    ok = mod.parse_args(args + ["--out", str(ROOT / "data" / "checkpoints" / "x.pt"), "--overwrite-shipped"])
    assert ok.out.endswith("x.pt")
    assert mod.parse_args(args).out.startswith("runs/")


def test_train_priors_writes_where_out_and_work_say_whatever_the_working_directory(tmp_path, monkeypatch):
    """The whole script on a few clips and a tiny prior, run from another folder: the checkpoint, its JSON, the work
    folder and the code cache land beside --out / under --work (relative to that folder), none in the repository's
    runs/ (where the work folder and the code cache always went before)."""
    import json

    monkeypatch.chdir(tmp_path)
    runs = ROOT / "runs"
    before = sorted(runs.rglob("*")) if runs.exists() else []
    tiny = ["--which", "top", "--n-train", "4", "--n-valid", "2", "--steps", "2", "--batch-size", "2",
            "--eval-every", "1", "--n-layer", "1", "--n-head", "2", "--d-model", "16", "--no-progress"]
    results = script("train_priors").main(tiny + ["--out", "out/prior_tiny.pt", "--work", "scratch"])
    assert results["steps"] == 2 and results["n_train_clips"] == 4
    assert (tmp_path / "out" / "prior_tiny.pt").is_file()
    assert json.loads((tmp_path / "out" / "prior_tiny.json").read_text())["which"] == "top"
    assert (tmp_path / "scratch" / "prior_tiny" / "best_fp32.pt").is_file()
    assert len(list((tmp_path / "scratch" / "codes").glob("level_hop1024_*.pt"))) == 2  # train and valid codes
    assert (sorted(runs.rglob("*")) if runs.exists() else []) == before


def test_train_priors_conditions_the_top_prior_on_tempo_and_mode_and_stores_int8(tmp_path):
    """--conditions family tempo_band mode: three label tokens; --int8: the large matrices in int8, loaded back."""
    from helpers import jukebox as J

    tiny = ["--which", "top", "--n-train", "4", "--n-valid", "2", "--steps", "2", "--batch-size", "2",
            "--eval-every", "1", "--n-layer", "1", "--n-head", "2", "--d-model", "64", "--no-progress", "--int8",
            "--conditions", "family", "tempo_band", "mode", "--work", str(tmp_path / "w"),
            "--out", str(tmp_path / "p.pt")]
    results = script("train_priors").main(tiny)
    assert results["conditions"] == ["family", "tempo_band", "mode"] and results["n_codes"] == 62
    assert results["weights"] == "int8" and abs(results["valid_nll_int8"] - results["valid_nll"]) < 1e-2
    raw = torch.load(tmp_path / "p.pt", weights_only=True)  # as stored, before read_checkpoint dequantises
    assert any(v.dtype == torch.int8 for v in raw["state_dict"].values()) and "int8_scales" in raw
    prior = J.load_top_prior(tmp_path / "p.pt")
    assert prior.label_sizes == (8, 3, 2) and prior.label_names == ("family", "tempo_band", "mode")
    label = J.label_of(prior, family="reed", tempo_band="slow", mode="minor")
    assert label.tolist() == [[6, 0, 1]] and J.sample_top(prior, label, 5, torch.Generator()).shape == (1, 5)
    with pytest.raises(ValueError, match="conditioned on"):
        J.label_of(prior, family="reed")
    with pytest.raises(ValueError, match="not one of"):
        J.label_of(prior, family="kazoo", tempo_band="slow", mode="minor")
    with pytest.raises(SystemExit):
        script("train_priors").parse_args(["--which", "top", "--conditions", "mode", "family"])


def test_train_priors_trains_an_upsampler_with_every_conditioning_switch(tmp_path):
    """--guide-upper, --cond-blocks and --input-noise end to end on a tiny upsampler: recorded in the JSON and in the
    checkpoint's config, loaded back; the switches that make no sense are refused."""
    from helpers import jukebox as J

    tiny = ["--which", "upsampler", "--n-train", "4", "--n-valid", "2", "--steps", "2", "--batch-size", "2",
            "--eval-every", "1", "--n-layer", "1", "--n-head", "2", "--d-model", "16", "--length", "32",
            "--no-progress", "--upsampler-labels", "--label-dropout", "0.5", "--guide-upper", "--cond-blocks", "1",
            "--input-noise", "0.1", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "u.pt")]
    results = script("train_priors").main(tiny)
    assert results["guide_upper"] and results["cond_blocks"] == 1 and results["input_noise"] == 0.1
    up = J.load_upsampler(tmp_path / "u.pt")
    assert up.null_upper and up.cond_blocks == 1 and up.ratio == 4
    mod = script("train_priors")
    for bad in (["--which", "upsampler", "--upsampler-labels", "--guide-upper"],  # no label dropout
                ["--which", "top", "--input-noise", "0.2"],
                ["--which", "upsampler", "--input-noise", "1.0"]):
        with pytest.raises(SystemExit):
            mod.parse_args(bad)


def test_train_priors_widens_a_family_only_upsampler_with_further_conditions(tmp_path):
    """--upsampler-conditions: an upsampler that also takes the tempo band and register, warm-started from a
    family-only file (the new tables zero: the first validation loss is the file's), recorded in the JSON; a file
    that already has other further conditions is refused, and so are conditions without the family first."""
    import json

    from helpers import jukebox as J

    tiny = ["--which", "upsampler", "--n-train", "4", "--n-valid", "2", "--batch-size", "2", "--eval-every", "1",
            "--n-layer", "1", "--n-head", "2", "--d-model", "16", "--length", "32", "--no-progress", "--attn-dropout",
            "0", "--dropout", "0", "--upsampler-labels", "--label-dropout", "0.5", "--work", str(tmp_path / "w")]
    mod = script("train_priors")
    first = mod.main(tiny + ["--steps", "20", "--lr", "1e-2", "--out", str(tmp_path / "a.pt")])
    more = ["--upsampler-conditions", "family", "tempo_band", "register"]
    wide = mod.main(tiny + more + ["--steps", "1", "--lr", "1e-9", "--init", str(tmp_path / "a.pt"),
                                   "--out", str(tmp_path / "b.pt")])
    assert wide["upsampler_conditions"] == ["family", "tempo_band", "register"]
    assert wide["init"]["widened_with"] == ["tempo_band", "register"] and wide["init"]["steps"] == 20
    history = json.loads((tmp_path / "b.json").read_text())["history"]
    assert history["valid_loss"][0] == pytest.approx(first["valid_nll"], abs=2e-3)  # float16 storage of a.pt
    up = J.load_upsampler(tmp_path / "b.pt")
    assert up.label_names == ("family", "tempo_band", "register") and up.label_sizes == (8, 3, 3)
    again = mod.main(tiny + more + ["--steps", "1", "--init", str(tmp_path / "b.pt"), "--out", str(tmp_path / "c.pt")])
    assert "widened_with" not in again["init"]  # the same configuration: a plain warm start
    with pytest.raises(ValueError, match="extra_labels"):  # other further conditions than the file's
        mod.main(tiny + ["--upsampler-conditions", "family", "mode", "--steps", "1", "--init", str(tmp_path / "b.pt"),
                         "--out", str(tmp_path / "d.pt")])
    for bad in (["--which", "upsampler", "--upsampler-labels", "--upsampler-conditions", "mode", "family"],
                ["--which", "upsampler", "--upsampler-conditions", "family", "mode"]):  # without --upsampler-labels
        with pytest.raises(SystemExit):
            mod.parse_args(bad)


def test_train_priors_extra_train_option_and_a_code_cache_per_recipe(tmp_path, capsys):
    """--extra-train SEED N parses like train_musicgen's (the default seed and N < 1 refused), and level_codes keeps
    the codes of another recipe's clips in a cache file of their own (the same level, split and size otherwise)."""
    import numpy as np
    from helpers.audio_corpus import CorpusRecipe

    mod = script("train_priors")
    assert mod.parse_args(["--which", "top"]).extra_train == []
    assert mod.parse_args(["--which", "top", "--extra-train", "1", "4800"]).extra_train == [[1, 4800]]
    for bad in (["0", "10"], ["1", "0"]):
        with pytest.raises(SystemExit):
            mod.parse_args(["--which", "top", "--extra-train", *bad])
        assert "--extra-train SEED N" in capsys.readouterr().err

    class Clips:  # what level_codes reads of a corpus: its recipe and a split's clips
        def __init__(self, recipe, seed):
            self.recipe = recipe
            self._clips = (np.random.default_rng(seed).standard_normal((2, 4096)) * 3000).astype(np.int16)

        def clips(self, split, dtype=None):
            return self._clips

    level = ROOT / "data" / "checkpoints" / "level_hop1024.pt"
    default, other = Clips(CorpusRecipe(), 0), Clips(CorpusRecipe(seed=5, n_train=2, n_valid=1, n_test=1), 1)
    a = mod.level_codes(str(level), default, "train", None, tmp_path, multiple=1024)
    b = mod.level_codes(str(level), other, "train", None, tmp_path, multiple=1024)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and any(f"corpus{other.recipe.hash()}" in n for n in names)
    assert a.shape == b.shape == (2, 4) and not torch.equal(a, b)  # two caches, each its own clips' codes
    assert torch.equal(mod.level_codes(str(level), other, "train", None, tmp_path, multiple=1024), b)  # read back


def test_train_priors_warm_starts_from_a_file_of_the_same_configuration_and_refuses_another(tmp_path):
    """--init: the run starts from the file's weights (a step at a learning rate of 1e-9 gives them back: the first
    validation loss equals the file's), records the file and its steps; a file of another size, or a top prior with
    other conditions, is refused with what differs."""
    import json

    tiny = ["--which", "top", "--n-train", "4", "--n-valid", "2", "--batch-size", "2", "--eval-every", "1",
            "--n-layer", "1", "--n-head", "2", "--d-model", "16", "--no-progress", "--attn-dropout", "0",
            "--dropout", "0", "--work", str(tmp_path / "w")]
    mod = script("train_priors")
    first = mod.main(tiny + ["--steps", "30", "--lr", "1e-2", "--out", str(tmp_path / "a.pt")])
    warm = mod.main(tiny + ["--steps", "1", "--lr", "1e-9", "--init", str(tmp_path / "a.pt"),
                            "--out", str(tmp_path / "b.pt")])
    assert warm["init"]["steps"] == 30 and warm["init"]["path"].endswith("a.pt")
    assert len(warm["init"]["sha256"]) == 64
    history = json.loads((tmp_path / "b.json").read_text())["history"]
    assert history["valid_loss"][0] == pytest.approx(first["valid_nll"], abs=2e-3)  # float16 storage of a.pt
    cold = mod.main(tiny + ["--steps", "1", "--lr", "1e-9", "--out", str(tmp_path / "c.pt")])
    assert abs(cold["valid_nll"] - first["valid_nll"]) > 0.01  # an untrained prior scores otherwise
    with pytest.raises(ValueError, match="d_model"):
        mod.main(tiny[:-2] + ["--d-model", "32", "--work", str(tmp_path / "w"), "--steps", "1",
                              "--init", str(tmp_path / "a.pt"), "--out", str(tmp_path / "d.pt")])
    with pytest.raises(ValueError, match="vocab_size"):  # one more label token: another vocabulary
        mod.main(tiny + ["--steps", "1", "--conditions", "family", "mode", "--init", str(tmp_path / "a.pt"),
                         "--out", str(tmp_path / "e.pt")])
    three = tiny + ["--steps", "1", "--conditions", "family", "tempo_band", "mode"]
    mod.main(three + ["--out", str(tmp_path / "f.pt")])
    with pytest.raises(ValueError, match="conditions"):  # the same vocabulary, the labels in another order
        mod.main(tiny + ["--steps", "1", "--conditions", "family", "mode", "tempo_band",
                         "--init", str(tmp_path / "f.pt"), "--out", str(tmp_path / "g.pt")])


def test_measure_jukebox_judge_table_counts_hits_per_family_with_a_wilson_interval(capsys):
    mod = script("measure_jukebox")
    fams = ["piano", "organ", "reed"]
    asked = ["piano", "piano", "organ", "organ", "reed", "reed"]
    heard = ["piano", "organ", "organ", "organ", "piano", "reed"]
    t = mod.judge_table(asked, heard, fams)
    assert t["accuracy"] == pytest.approx(4 / 6) and t["n"] == 6 and t["low"] < 4 / 6 < t["high"]
    assert t["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows asked, columns heard
    assert t["per_family"] == {"piano": 0.5, "organ": 1.0, "reed": 0.5}
    perfect = mod.judge_table(["organ"] * 12, ["organ"] * 12, fams)
    assert perfect["high"] == 1.0 and perfect["low"] < 1.0  # Wilson: no [1, 1] collapse
    with pytest.raises(ValueError, match="equally long"):
        mod.judge_table(asked, heard[:-1], fams)
    # unrelated: inside each family, what is heard does not depend on what is asked
    family = ["a", "a", "a", "a", "b", "b"]
    regs, always_low = ["low", "low", "high", "high", "high", "high"], ["low", "low", "low", "low", "high", "high"]
    t = mod.judge_table(regs, always_low, ["low", "high"], within=family)  # a plays low, b high, whatever is asked
    assert t["accuracy"] == pytest.approx(4 / 6) and t["unrelated"] == pytest.approx(4 / 6)  # no more than that
    follows = mod.judge_table(regs, regs, ["low", "high"], within=family)
    assert follows["accuracy"] == 1.0 and follows["unrelated"] == pytest.approx(4 / 6 * 0.5 + 2 / 6 * 1.0)
    assert mod.within_family_chance(["x", "y"], ["y", "x"], ["f", "f"]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one family per sample"):
        mod.judge_table(regs, regs, ["low", "high"], within=family[:-1])
    with pytest.raises(SystemExit):
        mod.parse_args(["--levels", "a.pt", "b.pt", "c.pt", "--upsamplers", "u.pt"])
    assert "one per lower level (2)" in capsys.readouterr().err


def test_measure_jukebox_asks_each_sample_for_a_held_out_clips_attributes_balanced_over_families():
    """The asked labels are the attributes of the balanced test clips (the references), clip by clip: every family
    equally often, and only combinations the corpus holds (no pipe in the low register)."""
    from helpers.audio_corpus import ATTRIBUTE_CLASSES, FAMILIES, AudioCorpus

    mod = script("measure_jukebox")
    corpus = AudioCorpus.build(verbose=False, progress=False)
    clips, truth = mod.balanced_test_clips(corpus, 3)
    conditions = ["family", "tempo_band", "mode", "register"]
    asked = mod.asked_from_clips(conditions, truth)  # (24, 4)
    assert asked.shape == (24, 4) and len(clips) == 24
    assert torch.bincount(asked[:, 0], minlength=8).tolist() == [3] * 8
    for a, c in enumerate(conditions):
        assert [ATTRIBUTE_CLASSES[c][int(v)] for v in asked[:, a]] == truth[c]
    train = corpus.labels("train")
    held = {(int(f), int(r)) for f, r in zip(train["family"], train["register"])}
    assert all((int(f), int(r)) in held for f, r in asked[:, [0, 3]])
    assert FAMILIES.index("pipe") in asked[:, 0].tolist()


def test_diagnose_upsampler_scores_the_clips_own_codes_upsampled(tmp_path):
    """One clip per family through the shipped bottom upsampler at two scales, with the reconstruction row; a level
    pair the upsampler does not join is refused."""
    import json

    mod = script("diagnose_upsampler")
    rows = mod.main(["--per-family", "1", "--guidance", "1", "5", "--reconstruction", "--out", str(tmp_path / "d.json")])
    assert [r["row"] for r in rows] == ["reconstruction", "upsampled, guidance 1", "upsampled, guidance 5"]
    for r in rows:
        assert all(0.0 <= r[a] <= 1.0 for a in mod.ATTRIBUTES) and -1.0 <= r["onset_agreement"] <= 1.0
    assert rows[0]["onset_agreement"] > rows[2]["onset_agreement"]  # the level's own codes keep the timing better
    assert json.loads((tmp_path / "d.json").read_text())["rows"] == rows
    with pytest.raises(ValueError, match="ratio"):
        mod.main(["--per-family", "1", "--upper", str(ROOT / "data" / "checkpoints" / "level_hop1024.pt")])


def test_ablate_codebook_runs_the_variants_and_writes_their_curves(tmp_path):
    """Two of the four variants, a few steps: one validation per interval, one movement value per interval."""
    import json

    out = tmp_path / "a.json"
    r = script("ablate_codebook").main(["--steps", "6", "--eval-every", "3", "--n-valid", "8", "--variants",
                                        "no restarts", "neither", "--out", str(out)])
    assert list(r["runs"]) == ["no restarts", "neither"]
    for run in r["runs"].values():
        assert run["valid_step"] == [3, 6] and len(run["movement"]) == 2
        assert all(0 <= u <= 1 for u in run["valid_metrics"]["usage"])
    assert r["runs"]["neither"]["config_changes"] == {"mu": 0.0, "restart_threshold": 0.0}
    assert json.loads(out.read_text())["command"].startswith("python scripts/ablate_codebook.py --steps 6")
    with pytest.raises(SystemExit):
        script("ablate_codebook").parse_args(["--n-valid", "12"])


def test_shared_hierarchy_script_scores_the_shared_model_and_the_top_level_alone(tmp_path):
    import json

    out = tmp_path / "s.json"
    r = script("shared_hierarchy").main(["--steps", "4", "--eval-every", "2", "--n-valid", "4", "--width", "8",
                                         "--codebook-size", "16", "--depth", "1", "--out", str(out)])
    assert [c["step"] for c in r["shared"]] == [2, 4] and r["hops"] == [64, 256]
    for c in r["shared"]:
        assert c["own"] < c["silence"] and c["both_swapped"] > 0
    assert set(r["top_alone"]) == {"own", "swapped", "silence", "usage", "perplexity"}
    assert json.loads(out.read_text())["steps"] == 4


def test_jukebox_fad_stages_scores_each_stage_on_the_one_scale(tmp_path):
    """16 held-out clips, one guidance scale: the four rows in order, the reconstruction nearer real clips than the
    top-down samples, every row's interval holding its estimate; a too-short --n refused."""
    import json

    out = tmp_path / "f.json"
    r = script("jukebox_fad_stages").main(["--n", "16", "--guidance", "5", "--out", str(out)])
    assert [row["row"] for row in r["rows"]] == ["reconstruction", "middle codes, last upsampler",
                                                 "top codes, both upsamplers", "top-down"]
    by = {row["row"]: row for row in r["rows"]}
    assert by["reconstruction"]["fad"] < by["top-down"]["fad"]
    assert all(row["fad_low"] <= row["fad_corrected"] <= row["fad_high"] and 0 <= row["family"] <= 1 for row in r["rows"])
    assert set(r["checkpoints"]) >= {"upsampler_hop64.pt", "level_hop64.pt", "prior_top.pt"}
    assert json.loads(out.read_text())["n_clips"] == 16
    with pytest.raises(SystemExit):
        script("jukebox_fad_stages").parse_args(["--n", "8"])
