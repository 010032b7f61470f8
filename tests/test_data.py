"""The corpora shipped in data/: the canonical JSB split, no leaks between splits, valid notes, loaders.

These tests read only the shipped files (no music21): data/build_corpora.py made them, data/README.md says how.
"""
import difflib
import hashlib
import itertools
import json
import re
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from helpers.data import (
    CHORALE_VOICES,
    CORPUS_FILES,
    DATA_DIR,
    NOTE_DTYPE,
    PITCH_NAMES,
    SPLITS,
    load_chorales,
    load_folk,
)

SPLIT_FILE = DATA_DIR / "jsb_split_music21.json"
SAME_VOICE = 0.9  # share of the shorter voice that must align for two voices to count as "the same"


@pytest.fixture(scope="module")
def split_file():
    return json.loads(SPLIT_FILE.read_text())


@pytest.fixture(scope="module")
def chorales():
    return load_chorales(include_extra=True)


@pytest.fixture(scope="module")
def same_voices(chorales):
    return same_voice_counts(chorales)


@pytest.fixture(scope="module")
def essen():
    return load_folk("essen")


# --- content comparison (independent of the build script) ------------------------------------------
def voice_tokens(piece):
    """Per voice: (interval to the next note, that note's duration). Transposition-invariant."""
    out = []
    for v in range(len(piece.voice_names)):
        n = piece.voice(v)
        out.append(tuple(zip(np.diff(n.pitch.astype(int)).tolist(), np.round(n.duration[1:], 3).tolist())))
    return out


def similarity(a, b):
    """Share of the shorter sequence that aligns with the other: a written-out repeat does not lower it."""
    matched = sum(m.size for m in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return matched / max(1, min(len(a), len(b)))


def same_voice(a, b):
    """similarity(a, b) >= SAME_VOICE, skipping the alignment when even the shared tokens (an upper bound on
    what can align) are too few."""
    shared = sum((Counter(a) & Counter(b)).values())
    return shared >= SAME_VOICE * min(len(a), len(b)) and similarity(a, b) >= SAME_VOICE


def same_voice_counts(pieces):
    """{(id_a, id_b): number of voices that are the same up to transposition} for candidate pairs
    (pairs sharing at least 8 four-note fragments, found with an index: pairs without are far apart)."""
    tokens = {p.id: voice_tokens(p) for p in pieces}
    index = {}
    for p in pieces:
        for v, seq in enumerate(tokens[p.id]):
            for i in range(len(seq) - 3):
                index.setdefault((v,) + seq[i : i + 4], set()).add(p.id)
    shared = Counter()
    for ids in index.values():
        if 1 < len(ids) < 50:
            shared.update(itertools.combinations(sorted(ids), 2))
    return {
        (a, b): sum(same_voice(x, y) for x, y in zip(tokens[a], tokens[b]))
        for (a, b), n in shared.items()
        if n >= 8
    }


def test_similarity_finds_a_transposed_copy_with_a_written_out_repeat(chorales):
    piece = next(p for p in chorales if p.split == "train")
    first = piece.slice_quarters(0, 8).notes
    rest = piece.notes.copy()
    rest["onset"] += 8
    repeated = piece.with_notes(np.concatenate([first, rest])).transpose(3)  # bars 1-2 twice, 3 semitones up
    assert len(repeated) > len(piece)
    assert all(similarity(x, y) == 1.0 for x, y in zip(voice_tokens(repeated), voice_tokens(piece)))
    other = next(p for p in chorales if p.split == "test")
    assert sum(same_voice(x, y) for x, y in zip(voice_tokens(other), voice_tokens(piece))) <= 1


# --- chorales ------------------------------------------------------------------------------------------
def test_chorale_split_counts_match_the_canonical_split_file(chorales, split_file):
    counts = Counter(p.split for p in chorales)
    for split in SPLITS:
        assert counts[split] == len(split_file["splits"][split]), split
    assert counts["extra"] > 0
    assert set(counts) == set(SPLITS) | {"extra"}


def test_chorales_are_the_files_and_jsb_indices_of_the_split_file(chorales, split_file):
    for split in SPLITS:
        want = {(e["music21"], e["jsb_index"], e["repeats"], e["transposition"]) for e in split_file["splits"][split]}
        got = {
            (p.meta["music21"], p.meta["jsb_index"], p.meta["repeats"], p.meta["transposition"])
            for p in chorales
            if p.split == split
        }
        assert got == want, split
    assert sum(p.meta["transposition"] != 0 for p in chorales) == 4


def test_ids_are_unique(chorales, essen):
    for pieces in (chorales, essen):
        ids = [p.id for p in pieces]
        assert len(ids) == len(set(ids))


def test_no_harmonisation_crosses_splits_except_the_documented_pair(chorales, same_voices):
    split = {p.id: p.split for p in chorales}
    counts = same_voices
    four = {pair for pair, n in counts.items() if n == 4 and split[pair[0]] != split[pair[1]]}
    assert four == {("bwv253", "bwv414")}
    valid = next(p for p in chorales if p.id == "bwv253")
    assert valid.split == "valid" and valid.meta["duplicate_of_train"] == "bwv414"
    assert [p.id for p in chorales if "duplicate_of_train" in p.meta] == ["bwv253"]


def test_extra_shares_no_three_voices_with_valid_or_test(chorales, same_voices):
    split = {p.id: p.split for p in chorales}
    counts = same_voices
    leaks = [
        pair
        for pair, n in counts.items()
        if n >= 3 and {split[pair[0]], split[pair[1]]} & {"extra"} and {split[pair[0]], split[pair[1]]} & {"valid", "test"}
    ]
    assert leaks == []


def test_every_chorale_has_four_monophonic_voices_and_valid_notes(chorales):
    for p in chorales:
        assert p.voice_names == CHORALE_VOICES, p.id
        n = p.notes
        assert n.pitch.min() >= 28 and n.pitch.max() <= 96, p.id
        assert (n.duration > 0).all() and n.onset.min() == 0, p.id
        assert p.qpm == 80.0
        for v in range(4):
            voice = p.voice(v)
            assert len(voice) >= 8, (p.id, v)
            gaps = voice.onset[1:] - (voice.onset[:-1] + voice.duration[:-1])
            assert gaps.min() >= -1e-6, (p.id, v, "overlapping notes in one voice")
        mean_pitch = [p.voice(v).pitch.mean() for v in range(4)]
        assert mean_pitch == sorted(mean_pitch, reverse=True), (p.id, mean_pitch)


def test_chorale_keys_and_fermatas(chorales):
    for p in chorales:
        assert p.mode in ("major", "minor") and 0 <= p.tonic < 12
        assert p.key == f"{PITCH_NAMES[p.tonic]} {p.mode}"
        assert re.fullmatch(r"\d+/\d+", p.time_signature), p.id
    with_fermata = sum(bool(p.notes.fermata.any()) for p in chorales)
    assert with_fermata >= 0.9 * len(chorales)
    # the last soprano note of (nearly) every chorale carries a fermata
    last_s = [bool(p.voice("S").fermata[-1]) for p in chorales]
    assert sum(last_s) >= 0.9 * len(chorales)


def test_expanded_repeats_play_the_opening_twice(chorales):
    expanded = [p for p in chorales if p.meta["repeats"] == "expanded"]
    assert len(expanded) > 20
    # a chorale with a written-out repeat contains its first phrase twice in the soprano
    for p in expanded:
        s = p.voice("S").pitch.tolist()
        assert any(s[i : i + 6] == s[:6] for i in range(1, len(s) - 5)), p.id


def test_transpose_shifts_pitches_and_key_and_rejects_leaving_the_midi_range(chorales):
    p = next(p for p in chorales if p.split == "valid")
    up = p.transpose(5)
    assert np.array_equal(up.pitches, p.pitches + 5)
    assert up.tonic == (p.tonic + 5) % 12 and up.key == f"{PITCH_NAMES[up.tonic]} {p.mode}"
    assert np.array_equal(up.notes.onset, p.notes.onset)
    lo, hi = int(p.pitches.min()), int(p.pitches.max())
    assert p.transpose(127 - hi).pitches.max() == 127 and p.transpose(-lo).pitches.min() == 0
    with pytest.raises(ValueError, match="outside 0..127"):
        p.transpose(128 - hi)
    with pytest.raises(ValueError, match="outside 0..127"):
        p.transpose(-lo - 1)
    assert p.transpose(-5).transpose(5).pitches.tolist() == p.pitches.tolist()


def test_loaders_select_splits_and_reject_unknown_ones(chorales):
    assert len(load_chorales()) == sum(p.split in SPLITS for p in chorales)
    assert {p.split for p in load_chorales("extra")} == {"extra"}
    assert len(load_chorales(["valid", "test"])) == sum(p.split in ("valid", "test") for p in chorales)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load_chorales("dev")
    with pytest.raises(KeyError, match="unknown folk collection"):
        load_folk("nottingham")


# --- folk ----------------------------------------------------------------------------------------------
def test_essen_splits_are_disjoint_by_id_and_content_and_about_80_10_10(essen):
    counts = Counter(p.split for p in essen)
    assert set(counts) == set(SPLITS)
    assert len(essen) > 7000
    for split, share in (("train", 0.8), ("valid", 0.1), ("test", 0.1)):
        assert abs(counts[split] / len(essen) - share) < 0.02, (split, counts)
    content = {}
    for p in essen:
        key = (p.pitches.tobytes(), np.round(p.notes.duration, 6).tobytes())
        assert key not in content, f"{p.id} ({p.split}) repeats {content.get(key)}"
        content[key] = (p.id, p.split)
    by_split = {s: {p.id for p in essen if p.split == s} for s in SPLITS}
    for a, b in itertools.combinations(SPLITS, 2):
        assert not by_split[a] & by_split[b]


def test_essen_split_is_a_fixed_function_of_the_id(essen):
    for p in essen[:500]:
        bucket = int(hashlib.sha1(p.id.encode()).hexdigest()[:8], 16) % 10
        assert p.split == ("train" if bucket < 8 else "valid" if bucket == 8 else "test"), p.id


def test_essen_tunes_are_monophonic_melodies_with_valid_notes(essen):
    for p in essen:
        assert p.voice_names == ("melody",) and p.collection == "essen"
        assert re.fullmatch(r"essen/[A-Za-z0-9]+/\d+", p.id), p.id
        n = p.notes
        assert len(n) >= 8 and n.onset[0] == 0, p.id
        assert (n.duration > 0).all() and n.pitch.min() >= 21 and n.pitch.max() <= 108, p.id
        assert (np.diff(n.onset) > 0).all(), p.id
        assert (n.onset[:-1] + n.duration[:-1] <= n.onset[1:] + 1e-6).all(), p.id
        assert p.mode in ("major", "minor") and p.key == f"{PITCH_NAMES[p.tonic]} {p.mode}"
        assert p.qpm > 0 and "origin" in p.meta
        assert re.fullmatch(r"(\d+/\d+)?", p.time_signature), p.time_signature  # '' = free metre
    assert 0 < sum(not p.time_signature for p in essen) < 0.05 * len(essen)
    # The tonic (from the ABC K: field) agrees with the notes: European tunes end on the tonic or, less
    # often, its third or fifth; the Chinese collections (han1, han2) name the pentatonic key centre (gong)
    # and end on one of its five degrees.
    final = {p.id: (int(p.pitches[-1]) - p.tonic) % 12 for p in essen}
    chinese = [final[p.id] for p in essen if p.id.split("/")[1] in ("han1", "han2")]
    european = [final[p.id] for p in essen if p.id.split("/")[1] not in ("han1", "han2")]
    assert np.mean(np.isin(european, (0, 4, 7))) > 0.97 and np.mean(np.equal(european, 0)) > 0.8
    assert np.mean(np.isin(chinese, (0, 2, 4, 7, 9))) > 0.97


@pytest.mark.skipif(not (DATA_DIR / CORPUS_FILES["oneills"]).exists(), reason="O'Neill's is optional")
def test_oneills_tunes_are_valid_and_split_by_tune():
    tunes = load_folk("oneills")
    assert len(tunes) > 1500 and {p.split for p in tunes} == set(SPLITS)
    numbers = Counter(p.id.split("/")[-1] for p in tunes)
    assert max(numbers.values()) == 1, "a tune number of the book is shipped twice"
    content = Counter((p.pitches.tobytes(), np.round(p.notes.duration, 6).tobytes()) for p in tunes)
    assert max(content.values()) == 1
    for p in tunes:
        assert p.voice_names == ("melody",) and p.collection == "oneills" and len(p) >= 8
        assert (p.notes.duration > 0).all() and (np.diff(p.notes.onset) > 0).all(), p.id
        assert p.mode in ("major", "minor", "dorian", "mixolydian", "phrygian", "lydian", "locrian"), p.mode
        assert p.key == f"{PITCH_NAMES[p.tonic]} {p.mode}" and re.fullmatch(r"\d+/\d+", p.time_signature)


# --- the same tune in two splits, up to transposition and note values (issue 30) -------------------------
# Written apart from data/build_corpora.py (exact fractions here, rounded floats there): the build drops the
# valid/test copy of a tune that another split holds; this checks the shipped files over the whole collection.
def rhythm(values):
    """Values over the smallest one, as exact fractions (note values are binary or triplet parts of a quarter)."""
    exact = [Fraction(float(v)).limit_denominator(192) for v in values]
    unit = min(exact)
    return tuple(v / unit for v in exact)


def melody_signatures(piece):
    """(intervals, durations) and (intervals, inter-onset gaps), both rhythms up to a common factor."""
    pitches = [int(x) for x in piece.pitches]
    steps = tuple(b - a for a, b in zip(pitches, pitches[1:]))
    onsets = [float(x) for x in piece.notes.onset]
    return [("durations", steps, rhythm(piece.notes.duration)),
            ("onsets", steps, rhythm([b - a for a, b in zip(onsets, onsets[1:])]))]


def tunes_in_two_splits(pieces):
    """Signatures that pieces of different splits share: {signature kind: [(id, split), ...]}."""
    where = {}
    for p in pieces:
        for sig in melody_signatures(p):
            where.setdefault(sig, []).append((p.id, p.split))
    return [(sig[0], ids) for sig, ids in where.items() if len({s for _, s in ids}) > 1]


def test_signatures_find_a_transposed_tune_and_one_in_halved_note_values(essen):
    tune = next(p for p in essen if p.id == "essen/ballad20/62")
    up = tune.transpose(5)
    assert melody_signatures(up) == melody_signatures(tune)
    notes = np.array(tune.notes)
    notes["onset"] /= 2
    notes["duration"] /= 2
    halved = tune.with_notes(notes)  # the same tune in halved note values (3/4 written as 3/8)
    assert melody_signatures(halved) == melody_signatures(tune)
    other = next(p for p in essen if p.id == "essen/ballad20/63")
    assert not set(melody_signatures(other)) & set(melody_signatures(tune))


@pytest.mark.parametrize("collection", ["essen", "oneills"])
def test_no_tune_crosses_splits_up_to_transposition_and_note_values(collection):
    if not (DATA_DIR / CORPUS_FILES[collection]).exists():
        pytest.skip(f"{collection} is not shipped")
    assert tunes_in_two_splits(load_folk(collection)) == []


def test_the_dropped_copies_are_listed_and_their_kept_copy_is_in_an_earlier_split(essen):
    report = json.loads((DATA_DIR / "build_report.json").read_text())
    for collection in ("essen", "oneills"):
        shipped = {p.id: p for p in load_folk(collection)}
        dropped = report[collection]["same_tune_in_later_split"]
        assert report[collection]["same_tune_in_later_split_removed"] == len(dropped)
        assert report[collection]["counts"] == dict(Counter(p.split for p in shipped.values()))
        rank = {s: i for i, s in enumerate(SPLITS)}
        for d in dropped:
            assert d["id"] not in shipped and d["split"] in ("valid", "test")
            kept = shipped[d["same_as"]]
            assert kept.split == d["same_as_split"] and rank[kept.split] < rank[d["split"]]
    examples = {d["id"]: d for d in report["essen"]["same_tune_in_later_split"]}
    assert examples["essen/erk5/5"]["same_as"] == "essen/ballad20/62"  # test copy dropped, valid kept (issue 30)
    assert examples["essen/erk5/5"]["transposition"] == -5


def train_fingerprint(pieces):
    """SHA-256 over the fields and the note arrays of the given pieces, in order."""
    h = hashlib.sha256()
    for p in pieces:
        h.update(json.dumps({k: v for k, v in p.to_dict().items() if k != "notes"}, sort_keys=True).encode())
        h.update(np.ascontiguousarray(np.asarray(p.notes).astype(NOTE_DTYPE)).tobytes())
    return h.hexdigest()


# The train pieces the shipped models were trained on (measured on the files before issue 30's deduplication):
# a rebuild may drop valid or test pieces but must never move, change or remove a train piece.
TRAIN_SHA256 = {
    "chorales": "7703c0208cd018784817542a6c693bdef77dcb06fec45383f0e9ef161fa54e5c",  # train + extra
    "essen": "732f75b7301badc4cb4bb748e5446bb5e2941c62a9150b46a33f3d39a145f3af",
    "oneills": "f0eccffcba00be1b956ae3df6156b61ab7da2ac6f525467b6843a3c8bd6c7196",
}


def test_train_splits_are_the_ones_the_models_were_trained_on():
    assert train_fingerprint(load_chorales(["train", "extra"])) == TRAIN_SHA256["chorales"]
    for collection in ("essen", "oneills"):
        if (DATA_DIR / CORPUS_FILES[collection]).exists():
            assert train_fingerprint(load_folk(collection, "train")) == TRAIN_SHA256[collection], collection


# --- files ---------------------------------------------------------------------------------------------
def test_readme_lists_the_sha256_of_every_shipped_file():
    readme = (DATA_DIR / "README.md").read_text()
    for corpus, name in CORPUS_FILES.items():
        path = DATA_DIR / name
        if corpus == "oneills" and not path.exists():
            continue  # optional
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in readme, f"{path.name}: sha256 {digest} is not in data/README.md"

