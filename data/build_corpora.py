"""Build the corpora shipped in ``data/`` from the music21 corpus (music21 10.5.1).

Writes, deterministically (same music21 version -> same bytes):

* ``data/chorales.npz`` -- Bach's four-part chorales (voices S, A, T, B) on the canonical JSB split
  (Boulanger-Lewandowski, Bengio & Vincent, ICML 2012) as mapped onto music21 files in
  ``data/jsb_split_music21.json``, plus the four-part chorales outside JSB as split ``'extra'``.
* ``data/folk_essen.npz`` -- the Essen Folksong Collection (music21's ``essenFolksong/*.abc``), one voice,
  split 80/10/10 by a hash of the tune id after removing exact duplicates; then a tune's copies (transposed or in
  other note values) in a later split than another copy are dropped (never from train).
* ``data/folk_oneills.npz`` -- O'Neill's Music of Ireland (1903, "1850 melodies"; music21's ``oneills1850/*.abc``),
  same rules, one copy per tune number.

Each file is written by :func:`helpers.data.write_corpus` (note arrays of all pieces plus the JSON of every piece's
other fields, as in :meth:`helpers.data.Piece.to_dict`). Only this script uses music21; the course reads the files
with :mod:`helpers.data` (``load_chorales``, ``load_folk``).

Run:  ``make data``  (or ``.venv/bin/python data/build_corpora.py [--only chorales|essen|oneills]``).
Notebooks: every one that loads a corpus (first 00_welcome.ipynb); data/README.md describes every choice made here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import music21
import numpy as np
from music21 import chord, converter, corpus, expressions, key, meter

DATA = Path(__file__).resolve().parent
sys.path.insert(0, str(DATA.parent))
from helpers.data import CHORALE_VOICES, CORPUS_FILES, PITCH_NAMES, Piece, make_notes, write_corpus  # noqa: E402

MUSIC21_VERSION = "10.5.1"
CORPUS_ROOT = Path(music21.__file__).resolve().parent / "corpus"
SPLIT_FILE = DATA / "jsb_split_music21.json"  # the canonical JSB split as music21 files (see data/README.md)
CHORALE_QPM = 80.0
FOLK_DEFAULT_QPM = 120.0
FOLK_MIN_NOTES = 8
N_WORKERS = 2


# --- writing ------------------------------------------------------------------------------------------
def write_pieces(pieces: list[Piece], path: Path) -> str:
    """Write pieces with :func:`helpers.data.write_corpus` (deterministic bytes, written atomically: a reader never
    sees half a file) and return the file's sha256."""
    return write_corpus(pieces, path)


# --- notes from a music21 part ------------------------------------------------------------------------
def part_to_rows(part, counts: Counter) -> list[list]:
    """The notes of one music21 part as rows ``[pitch, onset, duration, fermata]`` in quarter notes.

    Tied notes are merged into one (a fermata anywhere on the tie counts), grace notes dropped, chords reduced
    to their top note, and two notes starting together keep only the higher one; a note that would overlap the
    next one is cut at the next onset. ``counts`` gathers how often each of these happened.
    """
    rows: list[list] = []
    open_tie: dict[int, list] = {}  # pitch -> row still waiting for a tie continuation
    for el in part.flatten().notes:
        if el.duration.isGrace or el.quarterLength <= 0:
            counts["grace notes dropped"] += 1
            continue
        if isinstance(el, chord.Chord):
            if len(el.pitches) > 1:
                counts["chords reduced to top note"] += 1
            pitch = max(p.midi for p in el.pitches)
            top = max(el.notes, key=lambda n: n.pitch.midi)
            tie = top.tie or el.tie
        else:
            pitch = el.pitch.midi
            tie = el.tie
        onset = float(el.offset)
        dur = float(el.quarterLength)
        fermata = any(isinstance(e, expressions.Fermata) for e in el.expressions)
        prev = open_tie.get(pitch)
        if tie is not None and tie.type in ("stop", "continue") and prev is not None and abs(prev[1] + prev[2] - onset) < 1e-6:
            prev[2] += dur
            prev[3] = prev[3] or fermata
            counts["tied notes merged"] += 1
            if tie.type == "stop":
                open_tie.pop(pitch)
            continue
        row = [pitch, onset, dur, fermata]
        rows.append(row)
        if tie is not None and tie.type in ("start", "continue"):
            open_tie[pitch] = row
        else:
            open_tie.pop(pitch, None)
    rows.sort(key=lambda r: (r[1], -r[0]))
    out: list[list] = []
    for r in rows:
        if out and abs(out[-1][1] - r[1]) < 1e-9:
            counts["simultaneous notes in one voice reduced to the top"] += 1
            continue
        if out and out[-1][1] + out[-1][2] > r[1] + 1e-9:
            counts["overlapping notes cut"] += 1
            out[-1][2] = r[1] - out[-1][1]
        out.append(r)
    return out


def pickup_quarters(part) -> float:
    """Length of an incomplete first bar (an anacrusis), 0 if the first bar is full or there are no bars."""
    measures = part.getElementsByClass("Measure")
    if not measures:
        return 0.0
    ts = part.recurse().getElementsByClass(meter.TimeSignature).first()
    if ts is None:  # free metre: no bar length to compare with
        return 0.0
    length = float(measures[0].duration.quarterLength)
    return length if length < float(ts.barDuration.quarterLength) - 1e-6 else 0.0


def first_time_signature(stream) -> str:
    """The first time signature as 'N/D' ('3/4'), or '' when there is none (free metre)."""
    ts = stream.recurse().getElementsByClass(meter.TimeSignature)
    return ts[0].ratioString if ts else ""


# --- chorales -----------------------------------------------------------------------------------------
def load_split_file() -> dict:
    """The canonical JSB split as music21 files (``data/jsb_split_music21.json``)."""
    if not SPLIT_FILE.exists():
        raise FileNotFoundError(f"{SPLIT_FILE} is missing: it defines the chorale split (see data/README.md)")
    return json.loads(SPLIT_FILE.read_text())


VOICE_WORDS = ("soprano", "alto", "tenor", "bass")


def choose_satb_parts(score) -> tuple[list | None, str]:
    """The four sung parts S, A, T, B of a chorale score, or (None, reason).

    Parts are chosen by name (the first word of the part name: 'Soprano', 'Alto', 'Tenor', 'Bass'; instrumental
    parts such as horns, timpani or continuo are ignored; of two parts 'Soprano 1' and 'Soprano 2' the first is
    kept and the other dropped, noted in the returned string); a score whose parts carry no such names (the Humdrum
    files) must have exactly four parts with notes, taken top to bottom.
    """
    with_notes = [p for p in score.parts if len(p.flatten().notes)]
    first_words = [re.split(r"\s+", str(p.partName or "").strip().lower())[0] for p in with_notes]
    if not any(w in VOICE_WORDS for w in first_words):
        if len(with_notes) == 4:
            return with_notes, "by order"
        return None, f"{len(with_notes)} unnamed parts with notes (need 4)"
    chosen, dropped = [], []
    for word in VOICE_WORDS:
        matches = [p for p, w in zip(with_notes, first_words) if w == word]
        if not matches:
            return None, f"no part named {word!r} (parts: {[p.partName for p in with_notes]})"
        chosen.append(matches[0])
        dropped += [str(p.partName) for p in matches[1:]]
    return chosen, "by name" + (f"; dropped {dropped} (five-part chorale: the first part of each name is kept)" if dropped else "")


def chorale_key(score) -> tuple[int, str, str]:
    """(tonic pitch class, mode, source) from the file's Key, else music21's key analysis."""
    keys = [k for k in score.recurse().getElementsByClass(key.KeySignature) if isinstance(k, key.Key)]
    if keys and keys[0].mode in ("major", "minor"):
        return keys[0].tonic.pitchClass, keys[0].mode, "file"
    k = score.analyze("key")
    return k.tonic.pitchClass, k.mode, "analysis (Krumhansl-Schmuckler)"


_TITLES: dict | None = None


def chorale_title(score, bwv: str) -> str:
    """The chorale's title: the file's own title, else music21's chorale lists looked up by BWV number
    (``corpus.chorales.ChoraleList`` for BWV 250-438, else ``ChoraleListRKBWV``), else the BWV id."""
    global _TITLES
    if _TITLES is None:
        from music21.corpus.chorales import ChoraleList, ChoraleListRKBWV

        _TITLES = {str(k): v["title"] for k, v in ChoraleListRKBWV().byBWV.items()}
        _TITLES.update({str(k): v["title"] for k, v in ChoraleList().byBWV.items()})  # preferred where both
    title = score.metadata.title if score.metadata is not None else None
    if title and not str(title).lower().startswith("bwv"):
        return str(title).strip()
    number = bwv[3:]
    for candidate in (number, number.split("-")[0]):
        if candidate in _TITLES:
            return str(_TITLES[candidate]).strip()
    return bwv


def parse_chorale(task: dict) -> dict:
    """Parse one chorale file into ``Piece.to_dict()`` (or a dict with 'skip' giving the reason)."""
    path, repeats, transposition = task["music21"], task["repeats"], task["transposition"]
    score = corpus.parse(path)
    if repeats == "expanded":
        score = score.expandRepeats()
    counts: Counter = Counter()
    parts, how = choose_satb_parts(score)
    if parts is None:
        return {"skip": how, "music21": path}
    voiced = [(p, part_to_rows(p, counts)) for p in parts]
    stem = Path(path).name
    stem = stem[: -len(Path(path).suffix)]
    pickup = pickup_quarters(voiced[0][0])
    start = min(rows[0][1] for _, rows in voiced)
    pitch, onset, dur, voice, ferm = [], [], [], [], []
    for v, (_, rows) in enumerate(voiced):
        for p, o, d, f in rows:
            pitch.append(p + transposition)
            onset.append(o - start)
            dur.append(d)
            voice.append(v)
            ferm.append(f)
    notes = make_notes(pitch, onset, dur, velocity=80, voice=voice, fermata=ferm)
    tonic, mode, key_source = chorale_key(score)
    tonic = (tonic + transposition) % 12
    meta = {
        "music21": path,
        "bwv": stem,
        "repeats": repeats,
        "transposition": transposition,
        "jsb_index": task.get("jsb_index"),
        "pickup_quarters": round(pickup, 6),
        "part_names": [str(p.partName or p.id) for p, _ in voiced],
        "parts_chosen": how,
        "key_source": key_source,
        "cleaning": dict(sorted(counts.items())),
    }
    meta.update(task.get("meta", {}))
    piece = Piece(
        id=stem,
        notes=notes,
        title=chorale_title(score, stem),
        voice_names=CHORALE_VOICES,
        key=f"{PITCH_NAMES[tonic]} {mode}",
        tonic=tonic,
        mode=mode,
        time_signature=first_time_signature(score),
        qpm=CHORALE_QPM,
        split=task["split"],
        collection="bach-chorales",
        meta=meta,
    )
    return piece.to_dict()


SAME_VOICE = 0.9  # a voice is "the same" when this share of the shorter one aligns (see voice_similarity)


def voice_tokens(piece: Piece) -> list[tuple]:
    """Transposition-invariant content of each voice: the sequence of (interval to the next note in semitones,
    duration of that next note in quarters). Repeats written out only add a block, so they barely matter."""
    out = []
    for v in range(len(piece.voice_names)):
        n = piece.voice(v)
        out.append(tuple(zip(np.diff(n["pitch"].astype(int)).tolist(), np.round(n["duration"][1:], 3).tolist())))
    return out


def voice_similarity(a: tuple, b: tuple) -> float:
    """Share of the shorter token sequence that aligns with the other (difflib matching blocks): 1.0 when one
    voice is contained in the other, about 0.3-0.8 for different voices over the same chorale tune."""
    import difflib

    matched = sum(block.size for block in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
    return matched / max(1, min(len(a), len(b)))


def similar_pairs(pieces: list[Piece], min_voices: int = 3) -> list[tuple[str, str, list[float]]]:
    """Pairs of pieces with at least ``min_voices`` voices that are the same up to transposition (similarity
    >= SAME_VOICE), with the four similarities. Candidates are found through shared 4-grams first."""
    tokens = {p.id: voice_tokens(p) for p in pieces}
    index: dict[tuple, set] = {}
    for p in pieces:
        for v, seq in enumerate(tokens[p.id]):
            for i in range(len(seq) - 3):
                index.setdefault((v,) + seq[i : i + 4], set()).add(p.id)
    shared: Counter = Counter()
    for ids in index.values():
        if 1 < len(ids) < 50:
            ids = sorted(ids)
            for i, a in enumerate(ids):
                for b in ids[i + 1 :]:
                    shared[(a, b)] += 1
    out = []
    for (a, b), n in sorted(shared.items()):
        if n < 8:
            continue
        sims = [voice_similarity(x, y) for x, y in zip(tokens[a], tokens[b])]
        if sum(s >= SAME_VOICE for s in sims) >= min_voices:
            out.append((a, b, [round(s, 3) for s in sims]))
    return out


def chorale_tasks(split_file: dict, all_paths: list[str]) -> tuple[list[dict], dict]:
    """The list of chorale files to parse (split, repeats, transposition) and a log of what was left out."""
    groups = split_file["music21_same_harmonisation"]
    in_split = {}
    for split in ("train", "valid", "test"):
        for e in split_file["splits"][split]:
            in_split[e["music21"]] = dict(e, split=split)
    group_of = {m: tuple(g) for g in groups for m in g}
    dup_train = {d["valid"]: d["train"] for d in split_file["same_harmonisation_in_two_splits"]}
    tasks, dropped = [], []
    kept_groups: dict[tuple, str] = {}
    for path, e in in_split.items():
        if path in group_of:
            g = group_of[path]
            if g in kept_groups and path not in dup_train:
                raise ValueError(f"two members of {g} are in the JSB split: {kept_groups[g]} and {path}")
            kept_groups[g] = path
        task = {"music21": path, "repeats": e["repeats"], "transposition": e["transposition"],
                "jsb_index": e["jsb_index"], "split": e["split"], "meta": {}}
        if path in dup_train:
            task["meta"]["duplicate_of_train"] = Path(dup_train[path]).stem
        tasks.append(task)
    listed_extra = list(split_file["music21_files_not_in_jsb"])
    other = [p for p in all_paths if p not in in_split and p not in listed_extra]
    for origin, paths in (("music21_files_not_in_jsb", listed_extra), ("other", other)):
        for path in paths:
            g = group_of.get(path)
            if g is not None and g not in kept_groups and path != g[0]:
                kept_groups[g] = g[0]  # no member in the split: the group's first member is the one shipped
            if g is not None and g in kept_groups:
                if kept_groups[g] != path:
                    dropped.append({"music21": path, "why": f"same harmonisation as {kept_groups[g]} (kept)"})
                    continue
            elif g is not None:
                kept_groups[g] = path
            tasks.append({"music21": path, "repeats": "as_written", "transposition": 0, "jsb_index": None,
                          "split": "extra", "meta": {"extra_origin": origin}})
    return tasks, {"dropped_same_harmonisation": dropped}


def build_chorales(out: Path, pool: Pool) -> dict:
    split_file = load_split_file()
    if split_file.get("music21_version") != music21.__version__:
        raise RuntimeError(f"split file is for music21 {split_file.get('music21_version')}, this is {music21.__version__}")
    all_paths = sorted(
        "bach/" + p.name for p in (CORPUS_ROOT / "bach").iterdir() if p.suffix in (".mxl", ".xml", ".krn")
    )
    tasks, log = chorale_tasks(split_file, all_paths)
    results = pool.map(parse_chorale, tasks, chunksize=4)
    pieces, skipped = [], []
    for task, r in zip(tasks, results):
        if "skip" in r:
            if task["split"] != "extra":
                raise RuntimeError(f"JSB split file {task['music21']} skipped: {r['skip']}")
            skipped.append(r)
            continue
        pieces.append(Piece.from_dict(r))
    # Content check: an extra chorale that holds three or four voices of a JSB piece (up to transposition)
    # is a duplicate or near-duplicate the split file did not name: drop it, so that training on train +
    # extra never sees a valid or test harmonisation. Pairs inside the JSB split are only reported.
    split_of = {p.id: p.split for p in pieces}
    path_of = {p.id: p.meta["music21"] for p in pieces}
    drop, jsb_pairs = set(), []
    for a, b, sims in similar_pairs(pieces):
        sa, sb = split_of[a], split_of[b]
        if sa == "extra" and sb == "extra":
            drop.add(max(a, b))
            why = f"same voices as extra {min(a, b)} (content check {sims})"
        elif "extra" in (sa, sb):
            e, j = (a, b) if sa == "extra" else (b, a)
            drop.add(e)
            why = f"{sum(x >= SAME_VOICE for x in sims)} voices the same as {j} ({split_of[j]}) (content check {sims})"
        else:
            jsb_pairs.append({"pieces": [a, sa, b, sb], "voice_similarity": sims})
            continue
        dropped_id = max(a, b) if sa == sb == "extra" else (a if sa == "extra" else b)
        log["dropped_same_harmonisation"].append({"music21": path_of[dropped_id], "why": why})
    kept = [p for p in pieces if p.id not in drop]
    split_rank = {"train": 0, "valid": 1, "test": 2, "extra": 3}
    kept.sort(key=lambda p: (split_rank[p.split], p.meta["jsb_index"] if p.meta["jsb_index"] is not None else 0, p.id))
    ids = Counter(p.id for p in kept)
    if max(ids.values()) > 1:
        raise RuntimeError(f"duplicate chorale ids: {[i for i, c in ids.items() if c > 1]}")
    sha = write_pieces(kept, out)
    counts = Counter(p.split for p in kept)
    cleaning = Counter()
    for p in kept:
        cleaning.update(p.meta["cleaning"])
    return {
        "file": out.name, "sha256": sha, "bytes": out.stat().st_size, "counts": dict(counts),
        "extra_by_origin": dict(Counter(p.meta.get("extra_origin") for p in kept if p.split == "extra")),
        "skipped_not_four_parts": [(s["music21"], s["skip"]) for s in skipped],
        "dropped": log["dropped_same_harmonisation"],
        "cleaning": dict(cleaning),
        "key_from_analysis": [p.id for p in kept if p.meta["key_source"] != "file"],
        "jsb_pieces_not_in_music21": split_file["jsb_pieces_not_in_music21"],
        "similar_pairs_inside_jsb": jsb_pairs,
    }


# --- folk tunes (ABC) ---------------------------------------------------------------------------------
ABC_TONIC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11, "H": 11}


def abc_tunes(path: Path) -> list[tuple[str, str]]:
    """Split an ABC file into (X number, tune text) pairs, in file order."""
    text = path.read_text(encoding="utf-8", errors="replace")
    chunks = re.split(r"(?m)^(?=X:)", text)
    tunes = []
    for c in chunks:
        m = re.match(r"X:\s*(\d+)", c)
        if m:
            tunes.append((m.group(1), c.strip() + "\n"))
    return tunes


def abc_field(text: str, name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"(?m)^{name}:\s*(.*)$", text)]


def tonic_from_k(k_field: str) -> tuple[int, str]:
    """Tonic pitch class and mode written in an ABC K: field ('G', 'Bb', 'Dm', 'Es' ...); mode '' if not written."""
    m = re.match(r"^\s*([A-Ha-h])\s*(is|es|[#b]|s)?\s*(minor|major|min|maj|mix|dor|phr|lyd|loc|aeo|ion|m)?", k_field, re.I)
    if not m:
        return -1, ""
    pc = ABC_TONIC[m.group(1).upper()]
    acc = (m.group(2) or "").lower()
    pc = (pc + {"#": 1, "is": 1, "b": -1, "es": -1, "s": -1}.get(acc, 0)) % 12
    mode = (m.group(3) or "").lower()
    mode = MODE_NAMES.get(mode, mode)
    return pc, mode


MODE_NAMES = {"m": "minor", "min": "minor", "minor": "minor", "aeo": "minor", "maj": "major", "major": "major",
              "ion": "major", "dor": "dorian", "mix": "mixolydian", "phr": "phrygian", "lyd": "lydian", "loc": "locrian"}


def mode_from_third(pitches: np.ndarray, durations: np.ndarray, tonic: int) -> str:
    """'minor' if the minor third above the tonic sounds longer than the major third, else 'major'."""
    pcs = (pitches - tonic) % 12
    minor = durations[pcs == 3].sum()
    major = durations[pcs == 4].sum()
    return "minor" if minor > major else "major"


EMAIL = re.compile(r"[\s,(<]*([\w.+-]+)@[\w.-]+[)>]?")


def transcriber_credit(z_field: str) -> str:
    """An ABC Z: (transcription) field without e-mail addresses: 'Transcribed by Bob Safranek, rjs@gsp.org' ->
    'Transcribed by Bob Safranek'; an address that stands for the name becomes the name ('henrik.norbeck@...' ->
    'Henrik Norbeck')."""
    z = z_field.strip().strip('"')
    m = EMAIL.search(z)
    credit = EMAIL.sub("", z).strip('" ,')
    if m and (credit.lower().endswith(" by") or not credit):
        credit = f"{credit} {m.group(1).replace('.', ' ').replace('_', ' ').title()}".strip()
    return credit


def parse_abc_tune(task: tuple[str, str, str, str]) -> dict:
    """Parse one ABC tune into ``Piece.to_dict()``, or a dict with 'error' / 'skip' giving the reason."""
    collection, file_stem, x, text = task
    pid = f"{collection}/{file_stem}/{x}"
    try:
        score = converter.parse(text, format="abc")
    except Exception as err:  # noqa: BLE001 -- a tune music21 cannot read is dropped and counted
        return {"error": f"{type(err).__name__}: {str(err)[:80]}", "id": pid}
    counts: Counter = Counter()
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    rows = part_to_rows(parts[0], counts)
    if len(parts) > 1:
        counts["extra parts ignored"] += len(parts) - 1
    if len(rows) < FOLK_MIN_NOTES:
        return {"skip": f"fewer than {FOLK_MIN_NOTES} notes", "id": pid}
    start = rows[0][1]
    pitch = np.array([r[0] for r in rows])
    dur = np.array([r[2] for r in rows])
    notes = make_notes(pitch, [r[1] - start for r in rows], dur, velocity=80, voice=0, fermata=[r[3] for r in rows])
    k_fields = abc_field(text, "K")
    tonic, mode = tonic_from_k(k_fields[0]) if k_fields else (-1, "")
    if tonic < 0:
        k = score.analyze("key")
        tonic, mode = k.tonic.pitchClass, k.mode
    if mode not in ("major", "minor"):
        mode = mode or mode_from_third(pitch, dur, tonic)
    q = abc_field(text, "Q")
    qpm = FOLK_DEFAULT_QPM
    if q:
        qm = re.search(r"(\d+)/(\d+)\s*=\s*(\d+)", q[0]) or re.search(r"^\s*(\d+)\s*$", q[0])
        if qm and len(qm.groups()) == 3:
            qpm = float(qm.group(3)) * 4 * int(qm.group(1)) / int(qm.group(2))
        elif qm:
            qpm = float(qm.group(1))
    # meta stays small (it is parsed on every load): the id already names the file and the X number.
    meta = {"origin": "; ".join(abc_field(text, "O")), "pickup_quarters": round(pickup_quarters(parts[0]), 6)}
    n_fields = abc_field(text, "N")
    if collection == "essen" and n_fields and re.fullmatch(r"[A-Z]\d{4}[A-Z]?", n_fields[0]):
        meta["esac_id"] = n_fields[0]  # the EsAC signature of the tune, e.g. 'E0002D'
    r_fields = abc_field(text, "R")
    if r_fields:
        meta["genre"] = "; ".join(r_fields)
    z_fields = [c for c in (transcriber_credit(z) for z in abc_field(text, "Z")) if c]
    if z_fields:
        meta["transcription"] = "; ".join(z_fields)
    if counts:
        meta["cleaning"] = dict(sorted(counts.items()))
    titles = abc_field(text, "T")
    piece = Piece(
        id=pid,
        notes=notes,
        title=titles[0] if titles else pid,
        voice_names=("melody",),
        key=f"{PITCH_NAMES[tonic]} {mode}",
        tonic=tonic,
        mode=mode,
        time_signature=first_time_signature(score),
        qpm=qpm,
        split="",
        collection=collection,
        meta=meta,
    )
    return piece.to_dict()


CORPUS_DIRS = {"essen": "essenFolksong", "oneills": "oneills1850"}


def split_of_id(pid: str) -> str:
    """Fixed split by piece: the first 8 hex digits of sha1(id) modulo 10 -> 0..7 train, 8 valid, 9 test."""
    bucket = int(hashlib.sha1(pid.encode("utf-8")).hexdigest()[:8], 16) % 10
    return "train" if bucket < 8 else ("valid" if bucket == 8 else "test")


def content_key(piece: Piece) -> tuple:
    return tuple(zip(piece.notes["pitch"].tolist(), np.round(piece.notes["duration"], 6).tolist()))


def tune_signatures(piece: Piece) -> tuple[tuple, tuple]:
    """Two signatures of a melody that ignore its key and its note values (see data/README.md, "Split"):

    * ``'durations'``: (interval to the next note in semitones, the next note's duration), the durations divided
      by the piece's shortest one: the same tune transposed, or written in halved or doubled note values
      (Boehme's ``altdeu`` books write 3/2 where Erk writes 3/4);
    * ``'onsets'``: (interval to the next note, time from this onset to the next), divided by the shortest such
      gap: the same tune whose notes start at the same moments but are held for another length (a note written
      as a shorter note plus a rest, another length of the final note).

    Two tunes with equal ``'durations'`` or equal ``'onsets'`` signatures are the same tune (intervals + rhythm).
    """
    intervals = tuple(np.diff(piece.notes["pitch"].astype(int)).tolist())
    dur = piece.notes["duration"]
    gaps = np.diff(piece.notes["onset"])
    return (("durations", intervals, tuple(np.round(dur / dur.min(), 4).tolist())),
            ("onsets", intervals, tuple(np.round(gaps / gaps.min(), 4).tolist())))


SPLIT_RANK = {"train": 0, "valid": 1, "test": 2}


def cross_split_copies(pieces: list[Piece]) -> list[dict]:
    """The pieces to drop so that no tune crosses splits up to transposition and note values.

    Pieces are grouped by :func:`tune_signatures` (two pieces with one signature in common are in one group, and
    groups are closed under that relation). In a group that spans splits, the members in its earliest split
    (train, else valid) stay and the members in later splits are dropped: a train piece is never dropped, so
    models trained on the train split stay valid. Copies inside one split are kept (no leak). Returns one dict
    per dropped piece, in input order: ``id``, ``split``, ``same_as`` (a kept member of the earliest split, the
    first in file order), ``same_as_split``, ``transposition`` (semitones from the kept copy's first note),
    ``time_scale`` (its note values over the kept copy's), ``signatures`` (which of the two equal the kept
    copy's; empty when the two are linked only through a third member of the group).
    """
    parent = list(range(len(pieces)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sigs = [tune_signatures(p) for p in pieces]
    for which in range(2):
        first: dict[tuple, int] = {}
        for i, s in enumerate(sigs):
            j = first.setdefault(s[which], i)
            if j != i:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(pieces)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        earliest = min(SPLIT_RANK[pieces[i].split] for i in members)
        kept = [i for i in members if SPLIT_RANK[pieces[i].split] == earliest]
        for i in members:
            if SPLIT_RANK[pieces[i].split] > earliest:
                p, q = pieces[i], pieces[kept[0]]
                same = [s[0] for s, t in zip(sigs[i], sigs[kept[0]]) if s == t]
                field, diff = ("duration", False) if "durations" in same else ("onset", True)
                shortest = [np.diff(x.notes[field]).min() if diff else x.notes[field].min() for x in (p, q)]
                out.append({
                    "id": p.id, "split": p.split, "same_as": q.id, "same_as_split": q.split,
                    "transposition": int(p.notes["pitch"][0]) - int(q.notes["pitch"][0]),
                    "time_scale": round(float(shortest[0] / shortest[1]), 4),
                    "signatures": same,
                    "_index": i,
                })
    out.sort(key=lambda d: d.pop("_index"))
    return out


def build_folk(collection: str, out: Path, pool: Pool) -> dict:
    folder = CORPUS_ROOT / CORPUS_DIRS[collection]
    tasks = []
    for path in sorted(folder.glob("*.abc")):
        for x, text in abc_tunes(path):
            tasks.append((collection, path.stem, x, text))
    results = pool.map(parse_abc_tune, tasks, chunksize=50)
    errors, short, pieces = Counter(), 0, []
    error_examples = {}
    for r in results:
        if "error" in r:
            reason = r["error"].split(":")[0]
            errors[reason] += 1
            error_examples.setdefault(reason, []).append(r["id"])
        elif "skip" in r:
            short += 1
        else:
            pieces.append(Piece.from_dict(r))
    ids = Counter(p.id for p in pieces)
    seen: dict[tuple, str] = {}
    unique, duplicates, same_number = [], [], []
    numbers: dict[str, str] = {}
    for p in pieces:
        if ids[p.id] > 1:
            raise RuntimeError(f"{collection}: id {p.id} appears {ids[p.id]} times")
        c = content_key(p)
        if c in seen:
            duplicates.append((p.id, seen[c]))
            continue
        if collection == "oneills":
            # O'Neill's files overlap (two transcriptions of tunes 732-758, 1116-1135, ...): X is the tune's
            # number in the book, so a number already shipped is the same tune in another transcription.
            number = p.id.split("/")[-1]
            if number in numbers:
                same_number.append((p.id, numbers[number]))
                continue
            numbers[number] = p.id
        seen[c] = p.id
        unique.append(p)
    for p in unique:
        p.split = split_of_id(p.id)
    # The same tune transposed or in other note values in another split (issue 30): drop the later copy.
    copies = cross_split_copies(unique)
    if any(c["split"] == "train" for c in copies):
        raise RuntimeError("cross_split_copies would drop a train piece")
    dropped_ids = {c["id"] for c in copies}
    unique = [p for p in unique if p.id not in dropped_ids]
    sha = write_pieces(unique, out)
    cleaning = Counter()
    for p in unique:
        cleaning.update(p.meta.get("cleaning", {}))
    return {
        "file": out.name, "sha256": sha, "bytes": out.stat().st_size, "tunes_in_corpus": len(tasks),
        "parse_errors": dict(errors), "parse_error_examples": {k: v[:5] for k, v in error_examples.items()},
        "fewer_than_min_notes": short, "exact_duplicates_removed": len(duplicates),
        "same_tune_number_removed": len(same_number), "same_number_examples": same_number[:5],
        "duplicate_examples": duplicates[:5],
        "same_tune_in_later_split_removed": len(copies),
        "same_tune_in_later_split_removed_by_split": dict(sorted(Counter(c["split"] for c in copies).items())),
        "same_tune_in_later_split": copies,
        "counts": dict(Counter(p.split for p in unique)), "cleaning": dict(cleaning),
        "time_signatures_missing": sum(1 for p in unique if not p.time_signature),
        "final_is_tonic": sum(int(p.pitches[-1]) % 12 == p.tonic for p in unique),
        "modes": dict(Counter(p.mode for p in unique)),
        "total_notes": int(sum(len(p) for p in unique)),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("chorales", "essen", "oneills"), action="append")
    ap.add_argument("--report", type=Path, default=DATA / "build_report.json")
    args = ap.parse_args(argv)
    if music21.__version__ != MUSIC21_VERSION:
        raise RuntimeError(f"build with music21 {MUSIC21_VERSION} (found {music21.__version__}): see data/README.md")
    which = args.only or ["chorales", "essen", "oneills"]
    report = json.loads(args.report.read_text()) if args.report.exists() else {}
    with Pool(N_WORKERS) as pool:
        for name in which:
            t0 = time.time()
            if name == "chorales":
                r = build_chorales(DATA / CORPUS_FILES["chorales"], pool)
            elif name == "essen":
                r = build_folk("essen", DATA / CORPUS_FILES["essen"], pool)
            else:
                r = build_folk("oneills", DATA / CORPUS_FILES["oneills"], pool)
            r["build_seconds"] = round(time.time() - t0, 1)
            report[name] = r
            print(name, json.dumps({k: v for k, v in r.items() if k not in ("dropped",)}, default=str)[:1500], flush=True)
    args.report.write_text(json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")


if __name__ == "__main__":
    main()
