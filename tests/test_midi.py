"""Tests of helpers.midi on files built like real-world ones (with mido and pretty_midi, in tmp_path)."""
from __future__ import annotations

import time

import mido
import numpy as np
import pretty_midi
import pytest

from helpers.data import piece_from_notes
from helpers.midi import load_midi_folder, quarters_to_seconds, read_midi, seconds_to_quarters, write_midi


def chorale_like(**fields):
    rows = []
    for v, line in enumerate(([72, 74, 76, 74, 72, 71, 72], [67, 67, 67, 65, 64, 62, 64],
                              [64, 62, 60, 59, 60, 55, 55], [48, 47, 45, 43, 45, 43, 36])):
        for i, p in enumerate(line):
            rows.append((p, float(i), 2.0 if i == len(line) - 1 else 1.0, 60 + 5 * v + i, v))
    rows.append((79, 0.5, 0.25, 90, 0))  # a sixteenth-ish ornament off the beat
    return piece_from_notes(rows, id="chorale", voice_names=("S", "A", "T", "B"), **fields)


def note(track, pitch, start_tick, length, velocity=80, channel=0, now=0):
    """Append a note to a mido track whose last event is at tick ``now``; returns the new ``now``."""
    track.append(mido.Message("note_on", note=pitch, velocity=velocity, channel=channel, time=start_tick - now))
    track.append(mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=length))
    return start_tick + length


def tempo_change_file(path, tpq=960):
    """Type 1, 960 ticks per quarter; 120 qpm for 4 quarters, then 60 qpm; 3/4 and D major."""
    mf = mido.MidiFile(type=1, ticks_per_beat=tpq)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    meta.append(mido.MetaMessage("key_signature", key="D", time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=4 * tpq))
    music = mido.MidiTrack()
    music.append(mido.MetaMessage("track_name", name="Melody", time=0))
    music.append(mido.Message("program_change", program=40, time=0))  # violin
    now = 0
    # quarter-note positions 0, 1.5, 3.75 (before the change) and 4, 6.25 (after), ragged lengths in ticks
    for q, length in ((0.0, 960), (1.5, 480), (3.75, 1200), (6.25, 7)):
        now = note(music, 60 + int(4 * q), int(q * tpq), length, now=now)
    mf.tracks += [meta, music]
    mf.save(path)
    return path


def test_tempo_changes_keep_score_time_and_first_tempo(tmp_path):
    piece = read_midi(tempo_change_file(tmp_path / "tempo.mid"))
    n = piece.notes
    assert n["onset"].tolist() == [0.0, 1.5, 3.75, 6.25]
    assert np.allclose(n["duration"], [1.0, 0.5, 1.25, 7 / 960])  # the note across the change too
    assert n["pitch"].tolist() == [60, 66, 75, 85]
    assert piece.qpm == pytest.approx(120.0)
    assert piece.meta["tempo_changes"] == [[0.0, 120.0], [4.0, 60.0]]
    assert piece.time_signature == "3/4"
    assert (piece.key, piece.tonic, piece.mode) == ("D major", 2, "major")
    assert piece.voice_names == ("Melody",) and piece.meta["programs"] == [40]
    assert piece.meta["resolution"] == 960 and piece.collection == "midi" and piece.id == "tempo"


def test_seconds_to_quarters_piecewise():
    # 120 qpm until 2 s (4 quarters), then 60 qpm.
    q = seconds_to_quarters(np.array([0.0, 1.0, 2.0, 3.0, 4.5]), np.array([0.0, 2.0]), np.array([120.0, 60.0]))
    assert np.allclose(q, [0.0, 2.0, 4.0, 5.0, 6.5])


def test_constant_tempo_plays_back_at_the_right_speed(tmp_path):
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=90.0)
    inst = pretty_midi.Instrument(program=0)
    inst.notes.append(pretty_midi.Note(velocity=70, pitch=64, start=2.0, end=3.0))
    pm.instruments.append(inst)
    pm.write(str(tmp_path / "const.mid"))
    piece = read_midi(tmp_path / "const.mid")
    assert piece.qpm == pytest.approx(90.0)
    seconds = piece.notes["onset"] * 60.0 / piece.qpm
    assert seconds[0] == pytest.approx(2.0, abs=1e-3)
    assert piece.duration_seconds == pytest.approx(3.0, abs=1e-3)
    assert piece.time_signature == "4/4"  # pretty_midi writes a 4/4 event when none is given
    assert piece.voice_names == ("Acoustic Grand Piano",)


def sixteen_track_file(path):
    """16 tracks on 16 channels; channel 9 is the drum kit; two tracks share a name."""
    mf = mido.MidiFile(type=1, ticks_per_beat=1920)
    for ch in range(16):
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name="Guitar" if ch in (3, 4) else f"Track {ch}", time=0))
        if ch != 9:
            tr.append(mido.Message("program_change", program=(8 * ch) % 128, channel=ch, time=0))
        now = 0
        for i in range(4):
            pitch = 36 + (i % 2) * 6 if ch == 9 else 40 + 2 * ch + i
            now = note(tr, pitch, i * 1920 + ch * 10, 960, velocity=50 + ch, channel=ch, now=now)
        mf.tracks.append(tr)
    mf.save(path)
    return path


def test_sixteen_tracks_with_drums(tmp_path):
    piece = read_midi(sixteen_track_file(tmp_path / "band.mid"))
    assert len(piece.voice_names) == 16 and len(piece) == 64
    assert piece.meta["is_drum"] == [ch == 9 for ch in range(16)]
    assert piece.voice_names[9] == "drums"
    assert piece.voice_names[3] == "Guitar" and piece.voice_names[4] == "Guitar 2"  # names stay unique
    assert piece.meta["programs"][5] == 40
    assert np.bincount(piece.notes["voice"]).tolist() == [4] * 16
    # Offsets of 10 ticks at 1920 per quarter survive exactly.
    assert piece.voice(2)["onset"][0] == pytest.approx(20 / 1920)
    merged = read_midi(tmp_path / "band.mid", merge_tracks=True)
    assert merged.voice_names == ("merged", "drums") and merged.meta["is_drum"] == [False, True]
    assert np.bincount(merged.notes["voice"]).tolist() == [60, 4]


def test_type0_file_splits_channels_into_voices(tmp_path):
    mf = mido.MidiFile(type=0, ticks_per_beat=96)
    tr = mido.MidiTrack()
    tr.append(mido.Message("program_change", program=73, channel=0, time=0))  # flute
    tr.append(mido.Message("program_change", program=32, channel=1, time=0))  # acoustic bass
    tr.append(mido.Message("note_on", note=72, velocity=90, channel=0, time=0))
    tr.append(mido.Message("note_on", note=36, velocity=70, channel=1, time=0))
    tr.append(mido.Message("note_off", note=72, velocity=0, channel=0, time=48))
    tr.append(mido.Message("note_off", note=36, velocity=0, channel=1, time=48))
    mf.tracks.append(tr)
    mf.save(tmp_path / "type0.mid")
    piece = read_midi(tmp_path / "type0.mid")
    assert piece.voice_names == ("Flute", "Acoustic Bass")
    assert piece.voice("Flute")["duration"].tolist() == [0.5]
    assert piece.voice("Acoustic Bass")["duration"].tolist() == [1.0]
    assert piece.voice("Acoustic Bass")["velocity"].tolist() == [70]


def test_twenty_minute_piece_loads_quickly(tmp_path):
    tpq, qpm = 960, 120
    quarters = 20 * qpm  # 20 minutes
    pm = pretty_midi.PrettyMIDI(resolution=tpq, initial_tempo=qpm)
    for prog, base in ((0, 60), (32, 36)):
        inst = pretty_midi.Instrument(program=prog)
        for i in range(2 * quarters):  # eighth notes
            t = i * 0.25
            inst.notes.append(pretty_midi.Note(velocity=64, pitch=base + i % 12, start=t, end=t + 0.2))
        pm.instruments.append(inst)
    pm.write(str(tmp_path / "long.mid"))
    t0 = time.perf_counter()
    piece = read_midi(tmp_path / "long.mid")
    elapsed = time.perf_counter() - t0
    assert len(piece) == 4 * quarters
    assert piece.duration_seconds == pytest.approx(20 * 60, abs=0.5)
    assert piece.notes["onset"].max() == pytest.approx(quarters - 0.5)
    assert elapsed < 20.0, f"reading a 20-minute file took {elapsed:.1f} s"


def test_zero_length_and_unterminated_notes_are_dropped_and_counted(tmp_path):
    mf = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    tr.append(mido.Message("note_on", note=60, velocity=80, time=0))
    tr.append(mido.Message("note_off", note=60, velocity=0, time=0))  # zero length
    tr.append(mido.Message("note_on", note=62, velocity=80, time=0))
    tr.append(mido.Message("note_on", note=64, velocity=0, time=0))  # zero length, as note_on velocity 0
    tr.append(mido.Message("note_on", note=64, velocity=80, time=0))
    tr.append(mido.Message("note_off", note=62, velocity=0, time=480))
    tr.append(mido.Message("note_off", note=64, velocity=0, time=0))
    tr.append(mido.Message("note_on", note=67, velocity=80, time=0))  # never ends
    mf.tracks.append(tr)
    mf.save(tmp_path / "zero.mid")
    piece = read_midi(tmp_path / "zero.mid")
    assert piece.pitches.tolist() == [62, 64]
    assert piece.meta["dropped_zero_length"] == 1
    assert piece.meta["dropped_unterminated"] == 1
    assert (piece.notes["duration"] > 0).all()
    # No tempo, key or time signature events: MIDI's defaults.
    assert piece.qpm == 120.0 and piece.key == "" and piece.tonic == -1
    assert piece.time_signature == "4/4" and piece.meta["time_signature_from_file"] is False


def test_default_program_is_piano_for_other_pieces(tmp_path):
    piece = piece_from_notes([(60, 0, 1), (64, 1, 1)], id="tune")
    assert read_midi(write_midi(piece, tmp_path / "tune.mid")).meta["programs"] == [0]


def test_write_read_round_trip(tmp_path):
    piece = chorale_like(key="G major", tonic=7, mode="major", time_signature="3/4", qpm=72.0,
                         collection="bach-chorales")
    path = write_midi(piece, tmp_path / "out.mid")
    back = read_midi(path)
    a, b = piece.notes, back.notes
    assert len(a) == len(b)
    assert np.array_equal(a["pitch"], b["pitch"]) and np.array_equal(a["voice"], b["voice"])
    assert np.array_equal(a["velocity"], b["velocity"])
    tick = 1 / 960
    assert np.abs(a["onset"] - b["onset"]).max() <= tick
    assert np.abs(a["duration"] - b["duration"]).max() <= tick
    assert back.voice_names == piece.voice_names
    assert back.qpm == pytest.approx(72.0)
    assert (back.key, back.time_signature) == ("G major", "3/4")
    assert back.meta["programs"] == [19] * 4  # chorales default to the church organ
    # A read piece written again keeps its programs and drum flags.
    again = read_midi(write_midi(back, tmp_path / "again.mid"))
    assert again.meta["programs"] == [19] * 4 and np.array_equal(again.notes, back.notes)


def test_write_programs_and_drums(tmp_path):
    piece = chorale_like()
    back = read_midi(write_midi(piece, tmp_path / "p.mid", programs={"S": 73, 3: 32}, drums=["T"]))
    assert back.meta["programs"][0] == 73 and back.meta["programs"][3] == 32
    assert back.meta["programs"][1] == 19  # voices S A T B: a chorale, so the church organ
    assert back.meta["is_drum"] == [False, False, True, False]
    assert back.voice_names[2] == "drums"
    with pytest.raises(ValueError, match="GM programs are 0..127"):
        write_midi(piece, tmp_path / "bad.mid", programs=128)
    with pytest.raises(ValueError, match="3 values given for 4 voices"):
        write_midi(piece, tmp_path / "bad.mid", programs=[0, 0, 0])
    with pytest.raises(ValueError, match="drums: piece 'chorale' has no voice 'X'"):
        write_midi(piece, tmp_path / "bad.mid", drums=["X"])
    with pytest.raises(ValueError, match=r"drums: voice index 4 outside 0\.\.3"):
        write_midi(piece, tmp_path / "bad.mid", drums=[4])
    with pytest.raises(ValueError, match="programs: piece 'chorale' has no voice 'Alto'"):
        write_midi(piece, tmp_path / "bad.mid", programs={"Alto": 1})
    with pytest.raises(ValueError, match="has no notes"):
        write_midi(piece.with_notes(piece.notes[:0]), tmp_path / "empty.mid")


@pytest.mark.parametrize(
    "name, content",
    [
        ("corrupt.mid", b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\xff\xff\x90<"),
        ("garbage.mid", bytes(range(256)) * 4),
        ("notes.mid", b"These are not the notes you are looking for.\n"),
        ("empty.mid", b""),
    ],
)
def test_unreadable_files_raise_value_error_naming_the_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=name) as info:
        read_midi(path)
    assert info.value.__cause__ is not None  # the parser's own error is kept


def test_truncated_real_file_raises(tmp_path):
    good = write_midi(chorale_like(), tmp_path / "good.mid").read_bytes()
    (tmp_path / "cut.mid").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="cut.mid"):
        read_midi(tmp_path / "cut.mid")


def test_file_without_notes_and_missing_file(tmp_path):
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(pretty_midi.Instrument(program=0))
    pm.write(str(tmp_path / "silent.mid"))
    with pytest.raises(ValueError, match="silent.mid.*no notes"):
        read_midi(tmp_path / "silent.mid")
    with pytest.raises(FileNotFoundError, match="missing.mid"):
        read_midi(tmp_path / "missing.mid")


def test_load_midi_folder_skips_bad_files(tmp_path):
    write_midi(chorale_like(), tmp_path / "a.mid")
    (tmp_path / "b.mid").write_bytes(b"not midi")
    with pytest.raises(ValueError, match="b.mid"):
        load_midi_folder(tmp_path)
    with pytest.warns(UserWarning, match="b.mid"):
        pieces = load_midi_folder(tmp_path, skip_bad=True)
    assert [p.id for p in pieces] == ["a"]


def test_load_midi_folder_without_midi_raises_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not music")
    with pytest.raises(FileNotFoundError, match="no .mid or .midi file"):
        load_midi_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_midi_folder(tmp_path / "missing")


def test_data_does_not_import_midi():
    """helpers.data is the base layer: it must load without helpers.midi (no import cycle)."""
    import subprocess
    import sys

    code = "import sys, helpers.data; assert 'helpers.midi' not in sys.modules, 'helpers.data imported helpers.midi'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- real files with high resolution and long durations (issue 19) ---------------------------------------
QUARTET_TPQ = 10080  # the resolution of the string-quartet file pretty_midi refused
QUARTET_TEMPI = ((0, 100.0), (400, 80.0), (800, 132.0))  # (quarter, qpm): 240 s + 300 s + 182 s = 12 minutes
QUARTET_VOICES = (("Violin I", 40, 0, 76), ("Viola", 41, 1, 64), ("Cello", 42, 2, 48), ("Drums", 0, 9, 38))


def quartet_file(path, midi_type=1, quarters=1200, seed=0):
    """A long, high-resolution file like a real string-quartet export: a conductor track (tempo changes, one
    repeated tempo, a time-signature change, a key), three string tracks with programs, a drum track on channel
    10; notes with triplet and odd tick lengths, one zero-length note and two overlapping notes of one pitch.

    Returns:
        ``(path, expected)``: expected notes as (voice, pitch, start tick, end tick, velocity).
    """
    rng = np.random.default_rng(seed)
    tpq = QUARTET_TPQ
    conductor = [(0, mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)),
                 (0, mido.MetaMessage("key_signature", key="Eb", time=0)),
                 (600 * tpq, mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0)),
                 (500 * tpq, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(80), time=0))]  # repeats: skipped
    conductor += [(q * tpq, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
                  for q, bpm in QUARTET_TEMPI]
    tracks, expected = [conductor], []
    for name, program, channel, centre in QUARTET_VOICES:
        events = [(0, mido.MetaMessage("track_name", name=name, time=0)),
                  (0, mido.Message("program_change", program=program, channel=channel, time=0))]
        tick = 0
        while tick < quarters * tpq:
            length = int(rng.choice([tpq, tpq // 2, tpq // 3, 2 * tpq, 3 * tpq + 7]))  # triplets, odd ticks
            pitch, velocity = int(centre + rng.integers(-7, 8)), int(rng.integers(30, 120))
            if rng.random() < 0.9:  # else a rest
                gap = length if channel == 9 else 0  # drums: short hits
                end = tick + length - gap // 2
                events += [(tick, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel, time=0)),
                           (end, mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=0))]
                expected.append((name, pitch, tick, end, velocity))
            tick += length
        tracks.append(events)
    viola = tracks[2]
    at = 100 * tpq + 1  # pitches 100 and 101 lie outside the random notes' range
    viola += [(at, mido.Message("note_on", note=100, velocity=50, channel=1, time=0), 2),  # zero length: dropped
              (at, mido.Message("note_off", note=100, velocity=0, channel=1, time=0), 3),
              (at, mido.Message("note_on", note=101, velocity=60, channel=1, time=0)),  # overlapping 101s:
              (at + tpq, mido.Message("note_on", note=101, velocity=70, channel=1, time=0)),  # one note-off ends both
              (at + 2 * tpq, mido.Message("note_off", note=101, velocity=0, channel=1, time=0))]
    expected += [("Viola", 101, at, at + 2 * tpq, 60), ("Viola", 101, at + tpq, at + 2 * tpq, 70)]
    mf = mido.MidiFile(type=1, ticks_per_beat=tpq)
    for events in tracks:
        # at one tick: note-offs before note-ons, then the zero-length note (rank 2 and 3)
        events.sort(key=lambda e: (e[0], e[2] if len(e) > 2 else int(e[1].type == "note_on")))
        track, now = mido.MidiTrack(), 0
        for tick, msg, *_ in events:
            track.append(msg.copy(time=tick - now))
            now = tick
        mf.tracks.append(track)
    if midi_type == 0:
        merged = mido.merge_tracks(mf.tracks, skip_checks=True)
        # one track: no track names (they all sit at delta 0, so dropping them moves nothing)
        merged = mido.MidiTrack(m for m in merged if m.type != "track_name" or m.time)
        mf = mido.MidiFile(type=0, ticks_per_beat=tpq, tracks=[merged])
    mf.save(path)
    return path, expected


@pytest.mark.parametrize("midi_type", [1, 0])
def test_long_high_resolution_quartet_loads_exactly(tmp_path, midi_type):
    path, expected = quartet_file(tmp_path / "quartet.mid", midi_type)
    mf = mido.MidiFile(path)
    last_tick = max(e[3] for e in expected)
    assert last_tick > 1e7 and mf.length > 10 * 60  # what pretty_midi refuses as "likely corrupt":
    with pytest.raises(ValueError, match="likely corrupt"):
        pretty_midi.PrettyMIDI(str(path))
    t0 = time.perf_counter()
    piece = read_midi(path)
    elapsed = time.perf_counter() - t0

    # notes: every pitch, onset, duration and velocity, per voice, exactly in ticks
    by_channel = {name: ("drums" if channel == 9 else name) for name, _, channel, _ in QUARTET_VOICES}
    if midi_type == 0:  # one track: voices are named after their programs (the drums stay 'drums')
        by_channel = {name: ("drums" if ch == 9 else pretty_midi.program_to_instrument_name(prog))
                      for name, prog, ch, _ in QUARTET_VOICES}
    assert set(piece.voice_names) == set(by_channel.values())
    for name, *_ in QUARTET_VOICES:
        mine = sorted((p, s, e, v) for n, p, s, e, v in expected if n == name)
        got = piece.voice(by_channel[name])
        table = sorted(zip(got["pitch"].tolist(), (got["onset"] * QUARTET_TPQ).round().astype(int).tolist(),
                           ((got["onset"] + got["duration"]) * QUARTET_TPQ).round().astype(int).tolist(),
                           got["velocity"].tolist()))
        assert table == mine, name
    assert piece.meta["dropped_zero_length"] == 1 and piece.meta["dropped_unterminated"] == 0

    # drums, programs, metre, key, tempo map
    drum_voice = piece.voice_names.index("drums")
    assert piece.meta["is_drum"][drum_voice] and sum(piece.meta["is_drum"]) == 1
    assert sorted(piece.meta["programs"]) == sorted(prog for _, prog, _, _ in QUARTET_VOICES)
    assert piece.time_signature == "4/4" and piece.meta["time_signature_changes"] == [[0.0, "4/4"], [600.0, "3/4"]]
    assert piece.key == "Eb major" and piece.qpm == 100.0
    assert [q for q, _ in piece.meta["tempo_changes"]] == [q for q, _ in QUARTET_TEMPI]
    assert [qpm for _, qpm in piece.meta["tempo_changes"]] == [6e7 / mido.bpm2tempo(bpm) for _, bpm in QUARTET_TEMPI]

    # times in seconds, with the tempo changes applied, as mido plays the file
    now, played = 0.0, []
    for msg in mf:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and msg.note != 100:
            played.append(now)
    onsets = quarters_to_seconds(piece.notes["onset"], piece.meta["tempo_changes"])
    assert np.abs(np.sort(onsets) - np.sort(played)).max() < 1e-6
    ends = quarters_to_seconds(piece.notes["onset"] + piece.notes["duration"], piece.meta["tempo_changes"])
    assert ends.max() == pytest.approx(mf.length, abs=1e-6) and mf.length > 10 * 60
    assert elapsed < 20.0, f"reading took {elapsed:.1f} s"
    # the same file cut short is still refused, naming the file
    cut = tmp_path / "quartet_cut.mid"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="quartet_cut.mid: not a readable MIDI file"):
        read_midi(cut)


def test_reader_agrees_with_pretty_midi_where_pretty_midi_reads(tmp_path):
    """The tick reader pairs notes and groups instruments as pretty_midi does (the previous reader)."""
    files = [tempo_change_file(tmp_path / "tempo.mid"), sixteen_track_file(tmp_path / "band.mid"),
             quartet_file(tmp_path / "short.mid", quarters=60, seed=3)[0],
             write_midi(chorale_like(), tmp_path / "chorale.mid")]
    for path in files:
        piece, pm = read_midi(path), pretty_midi.PrettyMIDI(str(path))
        instruments = [inst for inst in pm.instruments if inst.notes]
        assert piece.meta["programs"] == [inst.program for inst in instruments], path.name
        assert piece.meta["is_drum"] == [inst.is_drum for inst in instruments], path.name
        tempo = piece.meta["tempo_changes"]
        for v, inst in enumerate(instruments):
            got = piece.voice(v)
            start = quarters_to_seconds(got["onset"], tempo)
            end = quarters_to_seconds(got["onset"] + got["duration"], tempo)
            ours = sorted(zip(got["pitch"].tolist(), np.round(start, 6).tolist(), np.round(end, 6).tolist(),
                              got["velocity"].tolist()))
            theirs = sorted((n.pitch, round(n.start, 6), round(n.end, 6), n.velocity) for n in inst.notes)
            assert ours == theirs, (path.name, v)


def test_absurdly_long_files_are_refused_as_corrupt(tmp_path):
    mf = mido.MidiFile(ticks_per_beat=96)
    tr = mido.MidiTrack()
    tr.append(mido.Message("note_on", note=60, velocity=80, time=0))
    tr.append(mido.Message("note_off", note=60, velocity=0, time=2**27))  # 1.4 million quarter notes
    mf.tracks.append(tr)
    mf.save(tmp_path / "endless.mid")
    with pytest.raises(ValueError, match="endless.mid.*likely corrupt"):
        read_midi(tmp_path / "endless.mid")


def test_quarters_to_seconds_inverts_seconds_to_quarters():
    tempo = [[0.0, 120.0], [4.0, 60.0], [10.0, 90.0]]
    q = np.array([0.0, 1.0, 4.0, 5.5, 10.0, 12.0])
    s = quarters_to_seconds(q, tempo)
    assert np.allclose(s, [0.0, 0.5, 2.0, 3.5, 8.0, 8.0 + 2 * 60 / 90])
    change_seconds = quarters_to_seconds([t[0] for t in tempo], tempo)
    assert np.allclose(seconds_to_quarters(s, change_seconds, [t[1] for t in tempo]), q)
    with pytest.raises(ValueError, match="start at quarter 0"):
        quarters_to_seconds(q, [[1.0, 120.0]])
