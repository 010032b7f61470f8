"""The audio corpus: splits, captions, attributes, the cache (built here on a small slice)."""
import difflib
import hashlib
import json
import shutil
from collections import Counter

import numpy as np
import pytest
import torch

from helpers import audio_corpus as ac
from helpers.audio_corpus import AudioCorpus, CorpusRecipe
from helpers.data import CORPUS_FILES, DATA_DIR, load_chorales

SMALL = CorpusRecipe(n_train=8, n_valid=4, n_test=4, clip_seconds=1.0)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return AudioCorpus.build(SMALL, cache_dir=tmp_path_factory.mktemp("cache"), progress=False, verbose=False)


@pytest.fixture(scope="module")
def pools():
    return {s: ac.piece_pools(s) for s in ("train", "valid", "test")}


def test_no_piece_in_two_splits(small, pools):
    ids = {s: {p.id for pool in pools[s].values() for p in pool} for s in pools}
    assert not ids["train"] & ids["valid"] and not ids["train"] & ids["test"] and not ids["valid"] & ids["test"]
    for split in ("train", "valid", "test"):  # every clip comes from a piece of its own split
        assert {a["piece_id"] for a in small.attributes(split)} <= ids[split]
    many = [ac.choose_clip(SMALL, "test", i, pools["test"])[1]["piece_id"] for i in range(60)]
    assert set(many) <= ids["test"]


def test_clips_are_int16_normalised_and_of_the_recipe_length(small):
    for split in ("train", "valid", "test"):
        raw = small.clips(split, dtype=np.int16)
        assert raw.dtype == np.int16 and raw.shape == (SMALL.n_clips(split), SMALL.clip_samples)
        x = small.clips(split)
        assert x.dtype == np.float32
        np.testing.assert_allclose(np.abs(x).max(axis=1), ac.PEAK, atol=1e-4)  # every clip: peak 0.9, none silent


def test_attributes_are_complete_and_consistent(small):
    for split in ("train", "valid", "test"):
        labels = small.labels(split)
        for i, a in enumerate(small.attributes(split)):
            assert a["split"] == split and a["index"] == i
            assert a["family"] in ac.FAMILIES and a["mode"] in ac.MODES and a["texture"] in ac.TEXTURES
            lo, hi = ac.TEMPO_BANDS[a["tempo_band"]]
            assert lo <= a["bpm"] <= hi
            assert a["register"] == ac.register_of(a["median_pitch"])
            assert a["key"].endswith(a["mode"])
            assert len(a["instruments"]) == (4 if a["texture"] == "chorale" else 1)
            for name, classes in ac.ATTRIBUTE_CLASSES.items():
                assert classes[labels[name][i]] == a[name]


def test_instruments_belong_to_their_family():
    from helpers.soundfont import instrument_family

    for family, solos in ac.SOLO.items():
        assert all(instrument_family(name) == family for name in solos)
    for family, settings in ac.CHORALE.items():
        assert all(instrument_family(name) == family for s in settings for name in s)


def test_choices_are_deterministic_and_vary(pools):
    a = [ac.choose_clip(SMALL, "train", i, pools["train"])[1] for i in range(40)]
    b = [ac.choose_clip(SMALL, "train", i, pools["train"])[1] for i in range(40)]
    assert a == b
    for key in ("family", "tempo_band", "mode", "register", "texture"):
        assert len({x[key] for x in a}) > 1, key


def caption_checks(attrs, captions):
    for c in captions:
        for name in attrs["instruments"]:
            assert name.replace("_", " ") in c
        assert attrs["tempo_band"] in c and attrs["key"] in c and attrs["register"] in c
        assert ("chorale" in c) if attrs["texture"] == "chorale" else ("solo" in c and "folk tune" in c)
    assert any(str(attrs["bpm"]) in c for c in captions)
    assert any(attrs["family"] in c for c in captions)


def test_every_attribute_appears_in_its_captions(small, pools):
    for split in ("train", "test"):
        for a, train_caps, held in zip(small.attributes(split), small.captions(split), small.captions(split, heldout=True)):
            caption_checks(a, train_caps)
            caption_checks(a, held)
    for i in range(100):  # many more clips without rendering them
        a = ac.choose_clip(SMALL, "valid", i, pools["valid"])[1]
        caption_checks(a, ac.captions_of(a))
        caption_checks(a, ac.captions_of(a, heldout=True))


def test_heldout_phrasings_never_appear_in_training_captions(small, pools):
    attrs = small.attributes("train") + [ac.choose_clip(SMALL, "train", i, pools["train"])[1] for i in range(200)]
    train_caps = {c for a in attrs for c in ac.captions_of(a)}
    held_caps = {c for a in attrs for c in ac.captions_of(a, heldout=True)}
    assert train_caps and held_caps and not train_caps & held_caps
    assert not set(ac.TRAIN_PHRASINGS) & set(ac.HELDOUT_PHRASINGS)


def test_cache_is_reused_and_rebuilt_when_the_recipe_changes(tmp_path, monkeypatch, capsys):
    tiny = CorpusRecipe(n_train=2, n_valid=1, n_test=1, clip_seconds=0.5)
    first = AudioCorpus.build(tiny, cache_dir=tmp_path, progress=False)
    assert first.path == tmp_path / tiny.hash()
    stamp = (first.path / "complete.json").stat().st_mtime_ns
    again = AudioCorpus.build(tiny, cache_dir=tmp_path, progress=False)
    assert "reusing" in capsys.readouterr().out
    assert again.path == first.path and (again.path / "complete.json").stat().st_mtime_ns == stamp
    other = CorpusRecipe(n_train=2, n_valid=1, n_test=1, clip_seconds=0.5, seed=1)
    assert other.hash() != tiny.hash()
    rebuilt = AudioCorpus.build(other, cache_dir=tmp_path, progress=False)
    assert rebuilt.path != first.path and (rebuilt.path / "complete.json").is_file()
    assert json.loads((rebuilt.path / "recipe.json").read_text())["seed"] == 1
    # The environment variable moves the default cache.
    monkeypatch.setenv("MUSIC_COURSE_CACHE", str(tmp_path / "env"))
    assert ac.cache_root() == tmp_path / "env" / "audio_corpus"
    # Same recipe in another folder: the same samples.
    copy = AudioCorpus.build(tiny, cache_dir=tmp_path / "second", progress=False, verbose=False)
    assert np.array_equal(copy.clips("train", np.int16), first.clips("train", np.int16))


def test_hash_follows_the_soundfont_content_not_its_path(tmp_path):
    from helpers.soundfont import default_soundfont

    copy = tmp_path / "copy.sf2"
    copy.write_bytes(default_soundfont().read_bytes())
    assert CorpusRecipe(soundfont=str(copy)).hash() == CorpusRecipe().hash()
    assert CorpusRecipe(clip_seconds=5.0).hash() != CorpusRecipe().hash()


def test_hash_follows_the_content_of_the_data_files(tmp_path, monkeypatch):
    """A rebuilt data/*.npz is another corpus: the cache of the old files must never be reused (issue 30)."""
    recipe, oneills = CorpusRecipe(), CorpusRecipe(folk="oneills")
    before = recipe.hash(), oneills.hash()
    fingerprint = recipe.fingerprint()
    assert fingerprint["version"] == ac.CORPUS_VERSION == 2
    assert set(fingerprint["data_sha256"]) == {CORPUS_FILES["chorales"], CORPUS_FILES["essen"]}
    for name in CORPUS_FILES.values():
        shutil.copy(DATA_DIR / name, tmp_path / name)
    monkeypatch.setattr(ac, "DATA_DIR", tmp_path)
    assert (recipe.hash(), oneills.hash()) == before  # the same bytes elsewhere: the same corpus
    with open(tmp_path / CORPUS_FILES["essen"], "ab") as f:
        f.write(b"\0")
    assert recipe.hash() != before[0] and oneills.hash() == before[1]
    with open(tmp_path / CORPUS_FILES["chorales"], "ab") as f:
        f.write(b"\0")
    assert oneills.hash() != before[1]


# --- the default corpus: the train clips stay, the held-out clips hold no double of a train piece (issue 30) ----
# SHA-256 of the JSON of the default recipe's 2,400 train clip attributes (piece, window start, instruments, tempo,
# transposition, register, ...: with the recipe, they decide every sample). Measured on the cache
# 14a4df3d36febad7 the shipped audio models were trained on: the train clips must stay these.
DEFAULT_TRAIN_CLIPS_SHA256 = "85e4c95914c4816f110f395bd63c54152cc7c6ee7ec7e62c62daa1e206531573"


def clip_attributes(recipe, split):
    """The attributes of every clip of a split, chosen as the build chooses them (nothing rendered)."""
    pools = ac.piece_pools(split, recipe.folk)
    return [ac.choose_clip(recipe, split, i, pools)[1] for i in range(recipe.n_clips(split))]


def test_default_train_clips_are_the_ones_the_audio_models_were_trained_on():
    attrs = clip_attributes(CorpusRecipe(), "train")
    assert hashlib.sha256(json.dumps(attrs, sort_keys=True).encode()).hexdigest() == DEFAULT_TRAIN_CLIPS_SHA256


def voice_tokens(piece):
    """Per voice: (interval to the next note, that note's duration), transposition-invariant."""
    return [[(int(b) - int(a), round(float(d), 3)) for a, b, d in
             zip(piece.voice(v).pitch[:-1], piece.voice(v).pitch[1:], piece.voice(v).duration[1:])]
            for v in range(len(piece.voice_names))]


def same_voice(a, b, share=0.9):
    """At least ``share`` of the shorter voice aligns with the other (a written-out repeat only adds a block)."""
    if sum((Counter(a) & Counter(b)).values()) < share * min(len(a), len(b)):  # bound: skip the alignment
        return False
    aligned = sum(m.size for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return aligned >= share * min(len(a), len(b))


def test_heldout_clips_play_no_double_of_a_train_chorale():
    recipe = CorpusRecipe()
    every = load_chorales(include_extra=True)
    documented = {p.id for p in every if p.meta.get("duplicate_of_train")}
    assert documented == {"bwv253"}  # = bwv414 of train (data/README.md)
    train = [voice_tokens(p) for p in every if p.split in ("train", "extra")]
    for split in ("valid", "test"):
        pools = ac.piece_pools(split)
        in_pools = {p.id: p for (texture, _), pieces in pools.items() if texture == "chorale" for p in pieces}
        assert not documented & set(in_pools)
        used = {a["piece_id"] for a in clip_attributes(recipe, split) if a["texture"] == "chorale"}
        assert used and used <= set(in_pools)
        # Independent of the marking: no held-out chorale of the clips has all four voices of a train (or extra)
        # chorale, up to transposition. (The same check finds bwv253 in bwv414: the last assertion.)
        for pid in sorted(used):
            mine = voice_tokens(in_pools[pid])
            assert not any(all(same_voice(x, y) for x, y in zip(mine, other)) for other in train), pid
    bwv253, bwv414 = (voice_tokens(next(p for p in every if p.id == i)) for i in ("bwv253", "bwv414"))
    assert all(same_voice(x, y) for x, y in zip(bwv253, bwv414))


def test_bad_recipes_and_splits():
    with pytest.raises(ValueError, match="sr=8000"):
        CorpusRecipe(sr=8000)
    with pytest.raises(ValueError, match="GB"):
        CorpusRecipe(n_train=10**6)
    with pytest.raises(ValueError, match="n_valid"):
        CorpusRecipe(n_valid=0)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        SMALL.n_clips("dev")


def test_training_batches(small):
    draw = small.random_crops("train", crop_seconds=0.5)
    a = draw(torch.Generator().manual_seed(0), 5)
    b = draw(torch.Generator().manual_seed(0), 5)
    assert a["audio"].shape == (5, SMALL.sr // 2) and set(ac.ATTRIBUTE_CLASSES) <= set(a)
    assert torch.equal(a["audio"], b["audio"]) and torch.equal(a["family"], b["family"])
    ds = small.dataset("valid")
    x, y = ds[1]
    assert len(ds) == SMALL.n_valid and x.shape == (SMALL.clip_samples,)
    assert y["mode"] == small.labels("valid")["mode"][1]
    with pytest.raises(ValueError, match="crop_seconds"):
        small.random_crops("train", crop_seconds=2.0)


def test_estimate_key_and_mode_agreement():
    from helpers.data import piece_from_notes

    c_major = piece_from_notes([(p, i, 1.0 if p != 60 else 3.0) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60])])
    assert ac.estimate_key(c_major) == (0, "major")
    a_minor = piece_from_notes([(p, i, 2.0 if p in (57, 69) else 1.0) for i, p in enumerate([57, 59, 60, 62, 64, 65, 68, 69, 64, 60, 57])])
    assert ac.estimate_key(a_minor) == (9, "minor")
    share = ac.mode_agreement(SMALL, "valid", n=20)
    assert set(share) == {"chorale", "solo", "all"} and all(0 <= v <= 1 for v in share.values())


def test_window_opening_or_random(pools):
    opening = [ac.choose_clip(SMALL, "train", i, pools["train"])[1]["start_quarter"] for i in range(30)]
    rand = CorpusRecipe(n_train=8, n_valid=4, n_test=4, clip_seconds=1.0, window="random")
    starts = [ac.choose_clip(rand, "train", i, pools["train"])[1]["start_quarter"] for i in range(30)]
    assert set(opening) == {0.0} and len(set(starts)) > 3
    with pytest.raises(ValueError, match="window"):
        CorpusRecipe(window="middle")


def test_augmented_captions_name_every_attribute_vary_and_never_use_a_heldout_phrasing(small, pools):
    attrs = [ac.choose_clip(SMALL, "train", i, pools["train"])[1] for i in range(60)]
    held = {c for a in attrs for c in ac.captions_of(a, heldout=True)}
    seen = set()
    for i, a in enumerate(attrs):
        caps = ac.augmented_captions(a, 10, [0, 0, i])
        assert len(caps) == 10 and caps == ac.augmented_captions(a, 10, [0, 0, i])  # deterministic per seed
        assert caps != ac.augmented_captions(a, 10, [0, 0, i + 1000])
        for c in caps:  # players, tempo band, key, register, texture: in every one
            assert ac.players_phrase(a) in c and a["tempo_band"] in c and a["key"] in c and a["register"] in c
            assert ("chorale" in c) if a["texture"] == "chorale" else ("folk tune" in c)
            assert "played by" not in c and "instruments" not in c  # the held-out connectors stay unseen
        seen |= set(caps)
    assert not seen & held and not seen & {c for a in attrs for c in ac.captions_of(a)}
    assert len(seen) == 600  # no two alike
    first_words = {c.split()[0] for c in seen}  # the instrument is not always in the same place
    assert len(first_words) > 10
    assert ac.augmented_captions(attrs[0], 0, 0) == []
    with pytest.raises(ValueError, match="n must be >= 0"):
        ac.augmented_captions(attrs[0], -1, 0)


def test_corpus_captions_append_the_augmented_ones(small):
    plain, aug = small.captions("train"), small.captions("train", augment=3)
    assert all(len(b) == len(a) + 3 and b[: len(a)] == a for a, b in zip(plain, aug))
    assert aug[1][-3:] == ac.augmented_captions(small.attributes("train")[1], 3, [SMALL.seed, 0, 1])
    with pytest.raises(ValueError, match="heldout"):
        small.captions("test", heldout=True, augment=2)
