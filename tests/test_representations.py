"""Tests of helpers.representations: quantisation rules, vocabularies, and exact round trips of every encoding
(on synthetic pieces, and on the whole shipped corpus when data/ is built)."""
import numpy as np
import pytest

from helpers.data import DATA_DIR, CORPUS_FILES, Piece, piece_from_notes
from helpers.representations import (
    REMI,
    Encoding,
    ChoraleGrid,
    PerformanceEvents,
    PianoRoll,
    Vocab,
    note_table,
    quantization_changes,
    quantize,
    quantize_seconds,
    quantize_velocity,
    velocity_bin,
    bin_velocity,
    round_trip_report,
    first_tokens,
    round_trip_errors,
)

SATB = ("S", "A", "T", "B")


def chorale_like(seed: int = 0, steps: int = 64) -> Piece:
    """A random four-voice piece on a 16th grid with re-struck notes, rests and held notes."""
    rng = np.random.default_rng(seed)
    rows = []
    for v, centre in enumerate((72, 64, 57, 48)):
        t = 0
        while t < steps:
            length = int(rng.choice([1, 2, 2, 4, 4, 8]))
            if rng.random() > 0.1:  # else a rest
                rows.append((int(centre + rng.integers(-5, 6)), t / 4, length / 4, int(rng.integers(40, 120)), v))
            t += length
    return piece_from_notes(rows, id=f"random{seed}", voice_names=SATB)


def test_quantize_rules():
    p = piece_from_notes(
        [
            (60, 0, 1 / 3), (62, 1 / 3, 1 / 3), (64, 2 / 3, 1 / 3),  # triplet eighths
            (65, 1.0, 0.05),  # collapses to zero length -> one step
            (67, 1.1, 0.9),  # rounds onto 65's step: monophonic drops the shorter one (65)
            (60, 2.5, 1.0), (60, 2.6, 1.0),  # same pitch, same step after rounding: one stays
        ]
    )
    q = quantize(p, 4)
    assert np.all(np.isclose(q.notes.onset * 4, np.round(q.notes.onset * 4)))
    assert np.all(q.notes.duration > 0)
    assert note_table(q, ("pitch", "onset", "duration"))[:3] == [(60, 0.0, 0.25), (60, 2.5, 1.0), (62, 0.25, 0.5)]
    assert len(q) == 6  # the two C4s on step 10 became one
    info = quantization_changes(p, 4)
    assert info["dropped"] == 1 and info["lengthened_to_one_step"] == 1 and info["moved"] >= 5
    qm = quantize(p, 4, monophonic=True)
    assert 65 not in qm.pitches.tolist() and len(qm) == 5
    # monophonic result: no two notes of the voice overlap
    on, end = qm.notes.onset, qm.notes.onset + qm.notes.duration
    assert np.all(on[1:] >= end[:-1] - 1e-9)
    with pytest.raises(ValueError, match="steps_per_quarter"):
        quantize(p, 0)


def test_vocab_lookup_both_ways():
    v = Vocab(["REST", "C4", "HOLD"])
    assert len(v) == 3 and v.token_to_id["HOLD"] == 2 and v.token_to_id("C4") == 1
    assert v.id_to_token[np.int64(1)] == "C4"
    assert v.decode(v.encode(["HOLD", "REST"])) == ["HOLD", "REST"]
    with pytest.raises(KeyError, match="unknown token 'X'"):
        v.token_to_id["X"]
    with pytest.raises(ValueError, match="unique"):
        Vocab(["A", "A"])


@pytest.mark.parametrize("seed", range(5))
def test_chorale_grid_hold_is_lossless_repeat_merges(seed):
    p = chorale_like(seed)
    q = quantize(p, 4, monophonic=True)
    hold, rep = ChoraleGrid("hold"), ChoraleGrid("repeat")
    assert round_trip_errors(q, hold.decode(hold.encode(p))) == 0
    dec = rep.decode(rep.encode(p))
    # repeat mode loses exactly the re-struck notes: same pitch, same voice, starting where the previous one ends
    n = q.notes
    order = np.lexsort((n.onset, n.voice))
    v, pi, on, end = n.voice[order], n.pitch[order], n.onset[order], (n.onset + n.duration)[order]
    restruck = int(((v[1:] == v[:-1]) & (pi[1:] == pi[:-1]) & np.isclose(on[1:], end[:-1])).sum())
    assert len(q) - len(dec) == restruck == rep.merged_notes(p)
    assert restruck > 0  # the random pieces do contain re-struck notes
    # every sounding cell is the same in both modes
    assert np.array_equal(rep.frames(rep.encode(p)), rep.frames(rep.encode(dec)))


def test_chorale_grid_layout_and_vocab():
    p = piece_from_notes([(72, 0, 0.5, 80, 0), (60, 0.25, 0.25, 80, 2), (48, 0, 0.25, 80, 3)], voice_names=SATB)
    rep, hold = ChoraleGrid("repeat"), ChoraleGrid("hold")
    assert len(rep.vocab) == 47 and len(hold.vocab) == 48 and hold.hold_id == 47 and rep.hold_id is None
    assert rep.vocab.id_to_token[0] == "REST" and rep.vocab.id_to_token[1] == "C2" and rep.vocab.id_to_token[46] == "A5"
    t = rep.encode(p)
    assert t.dtype == np.int64 and t.shape == (8,)
    assert rep.vocab.decode(t) == ["C5", "REST", "REST", "C3", "C5", "REST", "C4", "REST"]
    assert hold.vocab.decode(hold.encode(p)) == ["C5", "REST", "REST", "C3", "HOLD", "REST", "C4", "REST"]
    assert rep.frames(t).shape == (2, 4)
    assert rep.changes(t).tolist() == [True] * 4 + [False, False, True, True]
    assert np.array_equal(rep.id_to_pitch(t[:4]), [72, -1, -1, 48])


def test_chorale_grid_decode_accepts_torch_and_stray_hold():
    torch = pytest.importorskip("torch")
    hold = ChoraleGrid("hold")
    h, r, c4 = hold.hold_id, hold.rest_id, int(hold.pitch_to_id(60))
    tokens = torch.tensor([h, r, r, r, c4, r, r, r, h, r, r, r])  # a HOLD with nothing to hold counts as a rest
    d = hold.decode(tokens)
    assert note_table(d) == [(60, 0.25, 0.5, 0)]


def test_chorale_grid_errors():
    g = ChoraleGrid()
    with pytest.raises(ValueError, match="outside the vocabulary range"):
        g.encode(piece_from_notes([(90, 0, 1)]))
    with pytest.raises(ValueError, match="at most 4"):
        g.encode(piece_from_notes([(60, 0, 1, 80, v) for v in range(5)]))
    with pytest.raises(ValueError, match="two notes at once"):
        g.encode(piece_from_notes([(60, 0, 1, 80, 0), (64, 0.5, 1, 80, 0)], voice_names=SATB))
    with pytest.raises(ValueError, match="multiple of 4"):
        g.decode([1, 2, 3])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        g.decode([0, 0, 0, 47])
    with pytest.raises(ValueError, match="mode"):
        ChoraleGrid("drone")


def with_binned_velocity(piece, n_bins=32):
    return quantize_velocity(piece, n_bins)


def test_velocity_bins():
    v = np.arange(1, 128)
    b = velocity_bin(v)
    assert b.min() == 0 and b.max() == 31 and np.all(np.diff(b) >= 0)
    back = bin_velocity(b)
    assert np.all((back >= 1) & (back <= v) & (v - back < 4))  # the bin's lowest velocity, within 4
    assert bin_velocity(velocity_bin(80)) == 80  # the corpora's velocity survives


ALL = ("pitch", "onset", "duration", "voice", "velocity")


@pytest.mark.parametrize("seed", range(4))
def test_piano_roll_lossless_with_onsets_and_voices(seed):
    p = chorale_like(seed)
    q = quantize(p)
    roll = PianoRoll(by_voice=True)
    x = roll.encode(p)
    assert x.shape == (4, 2, 128, int(round(q.duration_quarters * 4))) and x.dtype == np.uint8
    assert round_trip_errors(q, roll.decode(x, voice_names=SATB), ALL) == 0
    # without voices it is still exact on (pitch, onset, duration, velocity) when no two voices share a pitch
    mono = piece_from_notes([(60, 0, 1, 90), (60, 1, 1, 50), (62, 2, 0.5, 70)])
    for r in (PianoRoll(), PianoRoll(by_voice=True)):
        fields = ("pitch", "onset", "duration", "velocity")
        assert round_trip_errors(quantize(mono), r.decode(r.encode(mono)), fields) == 0


def test_plain_piano_roll_merges_restruck_notes():
    p = piece_from_notes([(60, 0, 1, 90), (60, 1, 1, 90), (64, 0, 0.5, 70), (64, 1, 0.5, 70)])
    plain = PianoRoll(onsets=False)
    x = plain.encode(p)
    assert x.shape == (128, 8) and x[60].tolist() == [90] * 8 and x[64].tolist() == [70, 70, 0, 0, 70, 70, 0, 0]
    dec = plain.decode(x)
    assert note_table(dec, ("pitch", "onset", "duration")) == [(60, 0.0, 2.0), (64, 0.0, 0.5), (64, 1.0, 0.5)]
    assert round_trip_errors(quantize(p), dec) == 3  # two C4s missing, one long C4 extra
    with pytest.raises(ValueError, match=r"shape \(2, 128, T\)"):
        PianoRoll().decode(x)


def test_performance_events_vocab_and_tokens():
    pe = PerformanceEvents()
    assert len(pe.vocab) == 388  # the Music Transformer piano setting
    assert pe.vocab.id_to_token[256] == "TIME_SHIFT_1" and pe.vocab.id_to_token[355] == "TIME_SHIFT_100"
    p = piece_from_notes([(60, 0, 1, 100), (64, 0, 4, 100), (67, 1, 0.5, 40)], qpm=60)  # one quarter = 1 s
    tokens = pe.vocab.decode(pe.encode(p))
    assert tokens == [
        "VELOCITY_25", "NOTE_ON_60", "NOTE_ON_64", "TIME_SHIFT_100", "NOTE_OFF_60", "VELOCITY_10", "NOTE_ON_67",
        "TIME_SHIFT_50", "NOTE_OFF_67", "TIME_SHIFT_100", "TIME_SHIFT_100", "TIME_SHIFT_50", "NOTE_OFF_64",
    ]


@pytest.mark.parametrize("seed", range(4))
def test_performance_events_lossless_after_quantize_seconds(seed):
    p = chorale_like(seed)
    p.qpm = 87.0  # times no longer a whole number of 10 ms units per 16th
    pe = PerformanceEvents()
    ref = quantize_seconds(p)
    assert len(set(ref.notes.velocity.tolist())) > 5
    dec = pe.decode(pe.encode(p), qpm=p.qpm)
    assert round_trip_errors(ref, dec, ("pitch", "onset", "duration", "velocity")) == 0
    # 10 ms rounding moves a time by at most 5 ms
    units = ref.notes.onset * 60 / p.qpm / 0.01
    assert np.allclose(units, np.round(units))


def test_performance_decode_is_robust_to_sampled_nonsense():
    pe = PerformanceEvents()
    ids = pe.vocab.encode(["NOTE_OFF_60", "NOTE_ON_60", "TIME_SHIFT_10", "NOTE_ON_62", "TIME_SHIFT_10"])
    dec = pe.decode(ids, qpm=60)
    assert note_table(dec, ("pitch", "onset", "duration")) == [(60, 0.0, 0.2), (62, 0.1, 0.1)]


@pytest.mark.parametrize("seed", range(4))
def test_remi_lossless_with_voices(seed):
    p = chorale_like(seed)
    remi = REMI()
    ids = remi.encode(p)
    dec = remi.decode(ids, voice_names=SATB)
    assert round_trip_errors(with_binned_velocity(quantize(p)), dec, ALL) == 0
    tokens = remi.vocab.decode(ids)
    n_bars = int(np.ceil(quantize(p).notes.onset.max() / 4 + 1e-9))
    assert tokens.count("Bar") == n_bars and tokens[0] == "Bar" and tokens[1] == "Position_0"


def test_remi_bars_follow_time_signature_and_long_notes():
    p = piece_from_notes([(60, 0, 3), (62, 3, 1.5), (64, 10.5, 30)], time_signature="3/4")
    remi = REMI(with_voice=False)
    tokens = remi.vocab.decode(remi.encode(p))
    assert tokens == [
        "Bar", "Position_0", "Pitch_60", "Velocity_20", "Duration_12",
        "Bar", "Position_0", "Pitch_62", "Velocity_20", "Duration_6",
        "Bar", "Bar", "Position_6", "Pitch_64", "Velocity_20", "Duration_64", "Duration_56",
    ]
    assert remi.long_notes(p) == 1
    dec = remi.decode(remi.encode(p), "3/4")
    assert round_trip_errors(p, dec, ("pitch", "onset", "duration")) == 0 and dec.notes.duration.max() == 30
    # a stray Duration (no Pitch before it) is skipped, it does not lengthen the previous note
    ids = remi.vocab.encode(["Bar", "Position_0", "Pitch_60", "Duration_4", "Position_8", "Duration_4"])
    assert note_table(remi.decode(ids), ("pitch", "onset", "duration")) == [(60, 0.0, 1.0)]
    # a piece without a time signature (free metre) gets the default one
    free = piece_from_notes([(60, 0, 1), (62, 4, 1)], time_signature="")
    assert remi.vocab.decode(remi.encode(free)).count("Bar") == 2
    with pytest.raises(ValueError, match="time signature"):
        remi.encode(piece_from_notes([(60, 0, 1)], time_signature="waltz"))


# ----- the whole shipped corpus ----------------------------------------------------------------------
def _have(corpus):
    return (DATA_DIR / CORPUS_FILES[corpus]).exists()


def _corpus(corpus):
    from helpers.data import load_chorales, load_folk

    return load_chorales(include_extra=True) if corpus == "chorales" else load_folk("essen")


@pytest.mark.parametrize("corpus", ["chorales", "essen"])
def test_every_lossless_encoding_round_trips_the_whole_corpus(corpus):
    if not _have(corpus):
        pytest.skip(f"data/{CORPUS_FILES[corpus]} is not built (make data)")
    pieces = _corpus(corpus)
    assert len(pieces) > (350 if corpus == "chorales" else 5000)
    lossless = [PianoRoll(by_voice=True), PerformanceEvents(), REMI()]
    if corpus == "chorales":
        lossless.append(ChoraleGrid("hold"))
    for enc in lossless:
        report = round_trip_report(enc, pieces)
        assert report["exact"] == len(pieces), (enc, [p.id for p, e in zip(pieces, report["errors"]) if e][:5])
        assert report["notes"].sum() > 0.97 * sum(len(p) for p in pieces)  # the references keep the notes


def test_round_trip_report_measures_repeat_merges():
    pieces = [chorale_like(s) for s in range(3)]
    rep_grid = ChoraleGrid("repeat")
    report = round_trip_report(rep_grid, pieces)
    merged = [rep_grid.merged_notes(p) for p in pieces]
    assert np.array_equal(report["notes"] - report["decoded"], merged) and sum(merged) > 0
    assert report["exact"] == 0 and np.all(report["errors"] > report["notes"] - report["decoded"])
    assert np.array_equal(report["length"], [len(rep_grid.encode(p)) for p in pieces])
    roll = round_trip_report(PianoRoll(), pieces)
    assert np.all(roll["silent"] > 0.9 * roll["cells"]) and np.array_equal(roll["cells"], 2 * 128 * roll["length"])


@pytest.mark.parametrize("make", [lambda: ChoraleGrid("repeat"), lambda: ChoraleGrid("hold"), PerformanceEvents, REMI])
def test_decoders_accept_any_token_sequence(make):
    """A model samples any ids in any order: decoding must give a valid Piece, never crash."""
    enc = make()
    rng = np.random.default_rng(0)
    for _ in range(20):
        ids = rng.integers(0, len(enc.vocab), size=4 * int(rng.integers(0, 60)))
        piece = enc.decode(ids)
        assert np.all(piece.notes.duration > 0) and np.all(piece.notes.onset >= 0)
    # and the decoded piece encodes again to the same notes
    again = enc.decode(enc.encode(piece)) if len(piece) else piece
    if not isinstance(enc, PerformanceEvents):
        assert note_table(again, ("pitch", "onset", "duration")) == note_table(piece, ("pitch", "onset", "duration"))


def test_first_tokens_text():
    p = piece_from_notes([(60, 0, 0.25, 80, 0), (64, 0.25, 0.25, 80, 1)], voice_names=("S", "A"))
    for onsets, by_voice in ((True, False), (False, False), (True, True), (False, True)):
        roll = PianoRoll(onsets=onsets, by_voice=by_voice)
        assert first_tokens(roll, p, 3).splitlines()[1] == "C4 | E4"
    assert first_tokens(ChoraleGrid(), p, 5).splitlines()[1] == "C4 REST REST REST REST"


# ----- one base class for the round-trip contract ----------------------------------------------------
ENCODINGS = [ChoraleGrid("repeat"), ChoraleGrid("hold"), PianoRoll(), PianoRoll(by_voice=True), PerformanceEvents(),
             REMI(), REMI(with_voice=False)]


@pytest.mark.parametrize("enc", ENCODINGS, ids=repr)
def test_round_trip_is_written_once_in_the_base_class(enc):
    assert isinstance(enc, Encoding)
    for name in ("round_trip", "decode_like"):
        assert name not in vars(type(enc)), f"{type(enc).__name__} redefines {name}"
    p = chorale_like(5)
    p.time_signature, p.qpm, p.id = "3/4", 72.0, "ctx"
    back = enc.round_trip(p)
    assert back.qpm == 72.0 and back.id == "ctx"
    assert note_table(back, enc.fields) == note_table(enc.decode(enc.encode(p), **enc.decode_context(p)), enc.fields)
    if isinstance(enc, REMI):  # the metre travels through decode_context: bars of 12 steps, not 16
        assert back.time_signature == "3/4" and round_trip_errors(enc.reference(p), back, enc.fields) == 0


def test_the_drawing_of_the_encodings_is_what_they_give():
    import doctest

    import helpers.representations.encoding as module

    result = doctest.testmod(module)
    assert result.attempted >= 9 and result.failed == 0


# ----- REMI: vectorised encode/decode against the plain loops ------------------------------------------
def _assert_remi_plain_equal(remi, piece):
    ids = remi.encode(piece)
    assert np.array_equal(ids, remi.encode_plain(piece)), piece.id
    context = remi.decode_context(piece)
    fields = ("pitch", "onset", "duration", "velocity", "voice")
    assert note_table(remi.decode(ids, **context), fields) == note_table(remi.decode_plain(ids, **context), fields)


@pytest.mark.parametrize("remi", [REMI(), REMI(with_voice=False, max_duration=8), REMI(steps_per_quarter=12)], ids=repr)
def test_remi_vectorised_equals_plain_loops(remi):
    pieces = [chorale_like(s) for s in range(4)]
    pieces.append(piece_from_notes([(60, 0, 3), (62, 3, 1.5), (64, 10.5, 30), (65, 10.5, 0.2)], time_signature="3/4"))
    pieces.append(piece_from_notes([(60, 1 / 3, 1 / 3), (67, 2 / 3, 5), (60, 40, 1)], time_signature=""))
    for p in pieces:
        _assert_remi_plain_equal(remi, p)
    # sampled nonsense: every branch of decode (stray Durations, Durations before any Pitch, Bars without notes)
    rng = np.random.default_rng(1)
    fields = ("pitch", "onset", "duration", "velocity", "voice")
    for _ in range(200):
        ids = rng.integers(0, len(remi.vocab), size=int(rng.integers(0, 80)))
        assert note_table(remi.decode(ids), fields) == note_table(remi.decode_plain(ids), fields)


@pytest.mark.parametrize("corpus", ["chorales", "essen"])
def test_remi_vectorised_equals_plain_loops_on_the_corpus(corpus):
    """The whole chorale corpus, and 600 folk tunes drawn with a fixed seed (to keep the test to seconds)."""
    if not _have(corpus):
        pytest.skip(f"data/{CORPUS_FILES[corpus]} is not built (make data)")
    pieces = _corpus(corpus)
    if corpus == "essen":
        pieces = [pieces[i] for i in np.random.default_rng(0).choice(len(pieces), 600, replace=False)]
    remi = REMI()
    for p in pieces:
        _assert_remi_plain_equal(remi, p)


def test_every_public_name_of_the_package_is_importable_from_it():
    """The split into modules moved nothing out of reach: what any module defines publicly is in __all__."""
    import inspect

    import helpers.representations as package

    defined = set()
    for module in ("quantisation", "vocab", "encoding", "chorale_grid", "piano_roll", "performance", "remi", "report"):
        mod = __import__(f"helpers.representations.{module}", fromlist=["_"])
        defined |= {name for name, obj in vars(mod).items()
                    if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and obj.__module__ == mod.__name__}
    assert defined == set(package.__all__)
    assert all(getattr(package, name) is not None for name in package.__all__)
