"""Other music played like the audio corpus: clips whose notes come from outside the corpus, to test the judges.

The attribute classifiers of notebooks 05 and 06 (``helpers.classifier``) are trained on the audio corpus
(:mod:`helpers.audio_corpus`: Bach chorales and Essen folk tunes through the SoundFont). A judge that is right on the
corpus's test split may still hear *the corpus* rather than the instrument, tempo, mode or register: the test pieces
are other chorales and other Essen tunes, the same kinds of music. This module renders music of other kinds
exactly like the corpus (the same instruments per family, tempo bands and BPM draw, transposition and register
targets, SoundFont, clip length, peak and attribute dicts, through :func:`helpers.audio_corpus.arrange_clip` and
:func:`helpers.audio_corpus.render_clip`), so that the classifiers' labels apply, and keeps every kind separate, so
that a whole kind can be held out of training and used to measure generalisation:

    random_melody   a seeded random melody in a major or (harmonic) minor key: a walk in the scale, mostly by
                    step, chord tones of a I-IV-V-style progression on the strong beats, varied rhythms in 4/4,
                    3/4, 2/4 or 6/8, some rests, opening on the tonic triad and closing on the tonic; one instrument
    random_chords   a seeded chord progression in a key (triads and sevenths, tonic first, the dominant with its
                    leading tone, a V-I cadence), block chords or arpeggios; four voices for the families that
                    play chorales (the corpus's quartet settings), one instrument for the others (pipe)
    oneills         O'Neill's Music of Ireland (1903), shipped but never used by the default corpus

Recipe -> clips like the corpus: clip ``i`` of split ``s`` of kind ``k`` uses ``default_rng([seed, 1 + k, s, i])``
(the kind's number in :data:`KINDS`; the corpus uses ``[seed, s, i]``, so no stream is shared). The mode is drawn
major/minor equally often; the tonic of a generated piece uniformly. Splits of the generated kinds are just
other seeds; O'Neill's splits are the shipped splits of the collection (the minor test pool is small: 28 tunes).
Builds go to ``other_music/<recipe hash>`` in the course cache (:func:`helpers.paths.cache_dir`) and are read
back as an :class:`helpers.audio_corpus.AudioCorpus` (clips, attributes, labels).

Notebook: 06_evaluation.ipynb (can the judges be trusted outside their corpus?); used by
``scripts/measure_judges.py`` and ``scripts/train_classifier.py --other-music``.
Reference: holding out whole domains to measure generalisation rather than in-distribution accuracy, as in
"leave-one-domain-out" evaluation (Gulrajani & Lopez-Paz, "In Search of Lost Domain Generalization", ICLR 2021,
Sec. 3).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .audio_corpus import (CHORALE, CORPUS_SAMPLE_RATES, CORPUS_VERSION, FAMILIES, MAX_CACHE_BYTES, MODES,
                           AudioCorpus, arrange_clip, piece_pools)
from .data import CORPUS_FILES, DATA_DIR, PITCH_NAMES, SPLITS, Piece, piece_from_notes

# Bump when the generating code changes what a recipe produces.
OTHER_MUSIC_VERSION = 1
KINDS = ("random_melody", "random_chords", "oneills")

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}  # natural minor; V raises the 7th
# Progressions as scale degrees (0 = I); every one starts on the tonic and holds the dominant (4).
PROGRESSIONS = {
    "major": ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 1, 4, 0), (0, 3, 0, 4), (0, 5, 1, 4)),
    "minor": ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 1, 4, 0), (0, 3, 0, 4), (0, 5, 1, 4)),
}
METRES = {"4/4": (4, 1.0), "3/4": (3, 1.0), "2/4": (2, 1.0), "6/8": (2, 1.5)}  # beats per bar, quarters per beat
# Rhythm cells (durations in beats) for simple and compound beats, with their probabilities.
CELLS = {
    1.0: (((1.0,), 0.35), ((0.5, 0.5), 0.3), ((0.75, 0.25), 0.1), ((0.25, 0.25, 0.5), 0.05), ((2.0,), 0.2)),
    1.5: (((1.0,), 0.35), ((2 / 3, 1 / 3), 0.3), ((1 / 3, 1 / 3, 1 / 3), 0.2), ((2.0,), 0.15)),
}
STEPS = ((-1, 0.3), (1, 0.3), (-2, 0.1), (2, 0.1), (0, 0.03), (-3, 0.04), (3, 0.04), (-4, 0.02), (4, 0.02))
REST_P = 0.07  # probability that a note (not the first) is a rest


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of other music {kind!r}; choose one of {KINDS}")
    return kind


@dataclass(frozen=True)
class OtherMusicRecipe:
    """Everything that decides the clips of one kind; its hash names the cache folder.

    Attributes:
        kind: one of :data:`KINDS`.
        seed: seeds every choice (clip ``i`` of split ``s`` uses ``default_rng([seed, 1 + kind number, s, i])``).
        sr, clip_seconds: as in :class:`helpers.audio_corpus.CorpusRecipe` (16 kHz, 4 s by default).
        n_train, n_valid, n_test: clips per split.
        soundfont: a ``.sf2``/``.sf3`` path, or None for the corpus's default (hashed by content).
    """

    kind: str
    seed: int = 0
    sr: int = 16000
    clip_seconds: float = 4.0
    n_train: int = 800
    n_valid: int = 100
    n_test: int = 200
    soundfont: str | None = None

    window = "opening"  # every clip plays the opening of its piece, like the default corpus (not a field)
    cache_folder = "other_music"

    def __post_init__(self):
        check_kind(self.kind)
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"OtherMusicRecipe: seed must be a non-negative integer, got {self.seed!r}")
        if self.sr not in CORPUS_SAMPLE_RATES:
            raise ValueError(f"OtherMusicRecipe: sr={self.sr} is not one of {CORPUS_SAMPLE_RATES}")
        if not 0.5 <= self.clip_seconds <= 30:
            raise ValueError(f"OtherMusicRecipe: clip_seconds must lie in 0.5..30, got {self.clip_seconds}")
        for name in ("n_train", "n_valid", "n_test"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"OtherMusicRecipe: {name} must be >= 1, got {getattr(self, name)}")
        if self.size_bytes() > MAX_CACHE_BYTES:
            raise ValueError(f"OtherMusicRecipe asks for {self.size_bytes() / 1e9:.2f} GB of audio; the limit is "
                             f"{MAX_CACHE_BYTES / 1e9:.2f} GB")

    def n_clips(self, split: str) -> int:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        return {"train": self.n_train, "valid": self.n_valid, "test": self.n_test}[split]

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sr))

    def size_bytes(self) -> int:
        return 2 * self.clip_samples * (self.n_train + self.n_valid + self.n_test)

    def fingerprint(self) -> dict:
        """The fields, both code versions (this module's and the corpus's arrangement), the SoundFont's content and,
        for O'Neill's, the content of the data file."""
        from .checkpoints import file_sha256
        from .soundfont import soundfont_sha256

        d = asdict(self)
        d.pop("soundfont")
        data = {}
        if self.kind == "oneills":
            path = DATA_DIR / CORPUS_FILES["oneills"]
            data[path.name] = file_sha256(path)
        return {**d, "version": OTHER_MUSIC_VERSION, "corpus_version": CORPUS_VERSION,
                "soundfont_sha256": soundfont_sha256(self.soundfont), "data_sha256": data}

    def hash(self) -> str:
        text = json.dumps(self.fingerprint(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    # --- what AudioCorpus.build calls ---
    def pools(self, split: str):
        """O'Neill's tunes of the split by mode (solo pools of :func:`helpers.audio_corpus.piece_pools`); None for
        the generated kinds."""
        if self.kind != "oneills":
            return None
        pools = piece_pools(split, "oneills")
        return {mode: pools[("solo", mode)] for mode in MODES}

    def choose(self, split: str, index: int, pools) -> tuple[Piece, dict]:
        """The excerpt and attributes of clip ``index`` of ``split`` (deterministic, see the module docstring)."""
        rng = np.random.default_rng([self.seed, 1 + KINDS.index(self.kind), SPLITS.index(split), int(index)])
        mode = MODES[rng.integers(len(MODES))]
        piece_id = f"{self.kind}/{split}/{index}"
        if self.kind == "oneills":
            pool = pools[mode]
            piece = pool[rng.integers(len(pool))]
            return arrange_clip(piece, "solo", rng, self, split, index, "oneills")
        if self.kind == "random_melody":
            piece = random_melody(rng, mode, piece_id)
            return arrange_clip(piece, "solo", rng, self, split, index, self.kind)
        family = FAMILIES[rng.integers(len(FAMILIES))]
        texture = "chorale" if family in CHORALE else "solo"
        piece = random_chords(rng, mode, piece_id, compact=texture == "solo")
        return arrange_clip(piece, texture, rng, self, split, index, self.kind, family=family)


def build(kind: str, seed: int = 0, cache_dir: str | Path | None = None, progress: bool = True,
          verbose: bool = True, **fields) -> AudioCorpus:
    """The clips of one kind (an :class:`helpers.audio_corpus.AudioCorpus` read from the cache; built on first use).

    ``fields`` are the other :class:`OtherMusicRecipe` fields (``n_test=200``, ...).
    """
    return AudioCorpus.build(OtherMusicRecipe(check_kind(kind), seed=seed, **fields), cache_dir=cache_dir,
                             progress=progress, verbose=verbose)


# --- the generators -------------------------------------------------------------------------------------------
def _draw(rng: np.random.Generator, options):
    """One item of ``((item, probability), ...)``."""
    items, p = zip(*options)
    p = np.asarray(p, dtype=float)
    return items[rng.choice(len(items), p=p / p.sum())]


def scale_pitch(tonic_pitch: int, step: int, mode: str, leading_tone: bool = False) -> int:
    """MIDI pitch of scale step ``step`` (0 = the tonic at ``tonic_pitch``, 7 = an octave up) of a major or minor
    scale; ``leading_tone`` raises the minor 7th degree (harmonic minor, used under the dominant)."""
    octave, degree = divmod(int(step), 7)
    pc = SCALES[mode][degree]
    if leading_tone and mode == "minor" and degree == 6:
        pc = 11
    return int(tonic_pitch) + 12 * octave + pc


def chord_pcs(tonic: int, degree: int, mode: str, seventh: bool = False) -> list[int]:
    """Pitch classes (root first) of the diatonic triad (or seventh chord) on scale ``degree`` of a key; in minor
    the dominant (V, V7) and the leading-tone chord take the raised 7th."""
    raise_7 = mode == "minor" and degree in (4, 6)
    return [(tonic + scale_pitch(0, degree + k, mode, leading_tone=raise_7)) % 12 for k in (0, 2, 4, 6)[: 3 + seventh]]


def _key_fields(tonic: int, mode: str, kind: str, time_signature: str) -> dict:
    return {"key": f"{PITCH_NAMES[tonic]} {mode}", "tonic": int(tonic), "mode": mode, "time_signature": time_signature,
            "collection": kind, "meta": {"pickup_quarters": 0.0}}


def random_melody(rng: np.random.Generator, mode: str, piece_id: str = "random_melody", n_bars: int = 6) -> Piece:
    """A random melody in ``mode`` (see the module docstring), ``n_bars`` bars, from ``rng``."""
    if mode not in MODES:
        raise ValueError(f"random_melody: mode must be one of {MODES}, got {mode!r}")
    tonic = int(rng.integers(12))
    tonic_pitch = 60 + tonic  # C4..B4; the arrangement moves it to the clip's register
    metre = tuple(METRES)[rng.integers(len(METRES))]
    beats, beat_q = METRES[metre]
    progression = PROGRESSIONS[mode][rng.integers(len(PROGRESSIONS[mode]))]
    velocity = int(rng.integers(64, 105))
    notes, step, t = [], int(rng.choice([0, 7])), 0.0  # the opening note: the tonic
    for bar in range(n_bars):
        degree = 0 if bar == n_bars - 1 else progression[bar % len(progression)]
        chord = [(degree + k) % 7 for k in (0, 2, 4)]  # chord tones as scale degrees
        last_bar = bar == n_bars - 1
        b = 0
        while b < beats:
            cell = (2.0,) if last_bar and b == beats - 2 else _draw(rng, CELLS[beat_q])
            if sum(cell) > beats - b:  # a two-beat cell on the last beat: one beat
                cell = (1.0,)
            for j, dur in enumerate(cell):
                strong = j == 0 and (b == 0 or (beats == 4 and b == 2))
                if notes and not strong and not last_bar and rng.random() < REST_P:
                    t += dur * beat_q
                    continue
                if notes:
                    # A chord tone of the bar's harmony (the nearest) on strong beats, and on most notes under the
                    # tonic, so that the opening states the key (the third decides the mode).
                    if rng.random() < (1.0 if bar == 0 else 0.9 if strong else 0.6 if degree == 0 else 0.0):
                        tones = (0,) if bar == 0 and strong else chord  # the first bar's strong beats: the tonic
                        cands = [s for s in range(step - 7, step + 8) if s % 7 in tones and s != step]
                        w = np.array([1.0 / abs(s - step) for s in cands])
                        step = cands[rng.choice(len(cands), p=w / w.sum())]
                    else:
                        delta = _draw(rng, STEPS)
                        if (step > 8 and delta > 0) or (step < -4 and delta < 0):
                            delta = -delta  # stay within about two octaves
                        step += delta
                    step = step - 7 if step > 11 else step + 7 if step < -5 else step  # within two octaves and a half
                if last_bar and j == len(cell) - 1 and b + sum(cell) >= beats - 1e-9:  # the final note: the tonic
                    step = 7 * round(step / 7)
                pitch = scale_pitch(tonic_pitch, step, mode, leading_tone=degree == 4)
                vel = int(np.clip(velocity + rng.integers(-8, 9) + (10 if strong else 0), 1, 127))
                notes.append((pitch, t, dur * beat_q * 0.95, vel, 0))
                t += dur * beat_q
            b += int(round(sum(cell)))
    return piece_from_notes(notes, id=piece_id, voice_names=("melody",), title=f"random melody ({piece_id})",
                            **_key_fields(tonic, mode, "random_melody", metre))


def random_chords(rng: np.random.Generator, mode: str, piece_id: str = "random_chords", compact: bool = False,
                  n_chords: int = 8) -> Piece:
    """A random progression in ``mode`` for four voices (S, A, T, B), block or arpeggiated, from ``rng``.

    ``compact``: the bass sits within an octave below the upper voices (for one instrument of a narrow range).
    """
    if mode not in MODES:
        raise ValueError(f"random_chords: mode must be one of {MODES}, got {mode!r}")
    tonic = int(rng.integers(12))
    template = PROGRESSIONS[mode][rng.integers(len(PROGRESSIONS[mode]))]
    degrees = list(template) + [template[0], template[1], 4, 0]  # ends V-I
    degrees = degrees[:n_chords - 2] + [4, 0]
    chord_q = float(rng.choice([2.0, 4.0]))
    texture = rng.choice(["block", "block_beats", "arpeggio"])
    velocity = int(rng.integers(60, 100))
    upper = sorted(rng.choice(range(60, 68)) + np.array([0, 4, 7]))  # a first close position around C4-G5
    notes = []
    for c, degree in enumerate(degrees):
        seventh = bool(rng.random() < {4: 0.5, 1: 0.5, 0: 0.0}.get(degree, 0.15))
        pcs = chord_pcs(tonic, degree, mode, seventh)
        tones = pcs[1:] if seventh else pcs  # three upper voices: third, fifth, seventh (the root in the bass)
        # Voice leading: the assignment of the chord's pitch classes to the upper voices that moves least.
        best = None
        for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
            cand = [p + ((tones[k] - p + 6) % 12 - 6) for p, k in zip(upper, perm)]
            cost = sum(abs(a - b) for a, b in zip(cand, upper)) + (100 if len(set(cand)) < 3 else 0)
            if best is None or cost < best[0]:
                best = (cost, cand)
        upper = sorted(int(p) if 55 <= p <= 81 else int(p - 12 * np.sign(p - 68)) for p in best[1])
        low = upper[0] - 1 if compact else 52
        bass = low - ((low - pcs[0]) % 12)  # the root, at or below ``low``
        t0 = c * chord_q
        voices = [(upper[2], 0), (upper[1], 1), (upper[0], 2), (bass, 3)]  # (pitch, voice): S, A, T, B
        vel = lambda: int(np.clip(velocity + rng.integers(-6, 7), 1, 127))  # noqa: E731
        if texture == "arpeggio":
            notes.append((bass, t0, chord_q * 0.95, vel(), 3))
            order = [2, 1, 0, 1] if rng.random() < 0.5 else [2, 1, 0]
            for j in range(int(chord_q * 2)):  # eighths through the upper voices
                pitch, v = voices[order[j % len(order)]]
                notes.append((pitch, t0 + 0.5 * j, 0.5, vel(), v))
        else:
            strikes = [chord_q] if texture == "block" else [1.0] * int(chord_q)
            t = t0
            for d in strikes:
                notes.extend((pitch, t, d * 0.95, vel(), v) for pitch, v in voices)
                t += d
    return piece_from_notes(notes, id=piece_id, voice_names=("S", "A", "T", "B"), title=f"random chords ({piece_id})",
                            **_key_fields(tonic, mode, "random_chords", "4/4"))
