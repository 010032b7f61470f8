"""The audio corpus: short clips rendered from the symbolic corpora, with attributes and captions.

The audio models of notebooks 04-06 (VQ-VAE, MusicGen-style LM, evaluation) need a lot of audio whose content is
known. This module renders it, deterministically, from the shipped chorales and Essen folk tunes through a General
MIDI SoundFont (:mod:`helpers.soundfont`): every clip gets an instrument (or a quartet of one family), a tempo, a
transposition and a register drawn from a seed, and carries these as **attributes** and as **captions** written from
them in several phrasings (some held out, to test whether a text-conditioned model generalises to new wordings).

Recipe -> clips, one clip ``i`` of split ``s`` from its own generator ``default_rng([seed, s, i])``::

    texture   chorale (4 voices, P = chorale_fraction)  |  solo (one Essen melody)
    mode      major | minor, equally often (Essen is 89% major: balanced on purpose); the piece is drawn from
              the pieces of that split, corpus and mode, so no piece is heard in two splits (valid and test
              leave out bwv253, the double of train's bwv414: ``meta['duplicate_of_train']``)
    family    piano organ guitar strings voice brass reed pipe (uniform; chorales: no pipe)
    players   one instrument of the family (solo, or all four voices), or a quartet of the family
    tempo     band slow | moderate | fast (uniform), then BPM uniform inside the band (gaps between bands)
    register  low | middle | high (uniform target), key shift -5..+6, then whole octaves towards the target;
              the label is read from the median pitch of the clip (< 55 low, < 69 middle, else high)
    window    the opening of the piece (default: where a piece states its key, so the caption's key is heard; a
              random 4-s window is often too short to state the written mode: measured in
              ``data/checkpoints/README.md``), or a random bar (``window='random'``); ``clip_seconds`` long
    audio     SoundFont render at ``sr``, cut to exactly ``clip_seconds``, peak-normalised to 0.9, int16

The key and mode come from the corpus files (written in every chorale and Essen tune; moved with the
transposition), so nothing has to be estimated. Tempo is counted in quarter notes per minute (a 6/8 tune's
dotted-quarter beat is slower than its BPM suggests).

The clips are built on first use into a cache folder outside the repository, named by the hash of the recipe
(another recipe, SoundFont or build of the data files, another folder), and reused afterwards: :func:`cache_root`
says where (``audio_corpus/`` in :func:`helpers.paths.cache_dir`: ``$MUSIC_COURSE_CACHE``, else
``$XDG_CACHE_HOME/music-generation-course``, else ``~/.cache/music-generation-course``).

Notebook: 04_jukebox_vqvae.ipynb, 05_musicgen.ipynb, 06_evaluation.ipynb (the audio half).
Reference: captions from attributes as in MusicGen's training on tagged music (Copet et al. 2023, Sec. 4.1 and
App. A); General MIDI rendering of symbolic corpora for audio training as in Slakh (Manilow et al. 2019).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from . import paths
from .data import CORPUS_FILES, DATA_DIR, SPLITS, Piece, load_chorales, load_folk
from .pitch import estimate_key

# Bump when the generating code changes what a recipe produces. 2: the valid/test pools leave out the pieces
# marked as a double of a train chorale (``meta['duplicate_of_train']``: bwv253 = bwv414). The data files a recipe
# reads are hashed into the recipe as well (:meth:`CorpusRecipe.fingerprint`), so a rebuilt corpus file is a new cache.
CORPUS_VERSION = 2
CORPUS_SAMPLE_RATES = (16000, 22050, 24000)  # what the audio models are built for (the default is 16 kHz)
MAX_CACHE_BYTES = 2 * 1024**3  # a recipe asking for more audio than this is refused
PEAK = 0.9  # every clip is scaled to this peak before int16 storage

MODES = ("major", "minor")
TEMPO_BANDS = {"slow": (56, 76), "moderate": (88, 112), "fast": (126, 160)}  # BPM drawn uniformly inside
REGISTERS = ("low", "middle", "high")
REGISTER_EDGES = (55, 69)  # median MIDI pitch: < 55 low, < 69 middle, else high
REGISTER_TARGETS = {"low": 48, "middle": 62, "high": 75}  # where the transposition aims the median
FAMILIES = ("piano", "organ", "guitar", "strings", "voice", "brass", "reed", "pipe")
TEXTURES = ("chorale", "solo")
ATTRIBUTE_CLASSES = {"family": FAMILIES, "tempo_band": tuple(TEMPO_BANDS), "mode": MODES, "register": REGISTERS}

# Solo instruments of each family with the range (lowest, highest MIDI pitch) a melody must stay inside.
SOLO = {
    "piano": {"piano": (21, 108), "harpsichord": (29, 89)},
    "organ": {"organ": (24, 96), "drawbar_organ": (24, 96)},
    "guitar": {"guitar": (40, 84), "steel_guitar": (40, 84)},
    "strings": {"violin": (55, 100), "viola": (48, 88), "cello": (36, 76)},
    "voice": {"voice": (48, 81), "choir": (36, 84)},
    "brass": {"trumpet": (54, 84), "french_horn": (41, 77), "trombone": (40, 72)},
    "reed": {"oboe": (58, 91), "clarinet": (50, 91), "bassoon": (34, 75)},
    "pipe": {"flute": (60, 96), "recorder": (60, 91)},
}
# Chorale settings of each family: one instrument for all four voices, or a quartet (S, A, T, B).
CHORALE = {
    "piano": [("piano",) * 4, ("harpsichord",) * 4],
    "organ": [("organ",) * 4, ("drawbar_organ",) * 4],
    "guitar": [("guitar",) * 4, ("steel_guitar",) * 4],
    "strings": [("strings",) * 4, ("violin", "violin", "viola", "cello")],
    "voice": [("choir",) * 4, ("voice",) * 4],
    "brass": [("brass",) * 4, ("trumpet", "trumpet", "french_horn", "trombone")],
    "reed": [("oboe", "clarinet", "clarinet", "bassoon"), ("clarinet", "clarinet", "bassoon", "bassoon")],
}
ENSEMBLE_NAMES = {"strings": "string quartet", "brass": "brass quartet", "reed": "wind quartet"}


@dataclass(frozen=True)
class CorpusRecipe:
    """Everything that decides the clips; its hash names the cache folder.

    Attributes:
        seed: seeds every choice (clip ``i`` of split ``s`` uses ``default_rng([seed, s, i])``).
        sr: sample rate, one of :data:`CORPUS_SAMPLE_RATES`.
        clip_seconds: length of every clip.
        n_train, n_valid, n_test: clips per split.
        chorale_fraction: probability that a clip is a four-voice chorale (else a solo folk tune).
        folk: the folk collection (``'essen'`` or ``'oneills'``).
        soundfont: a ``.sf2``/``.sf3`` path, or None for pretty_midi's ``TimGM6mb.sf2`` (hashed by content).
        window: ``'opening'`` (every clip starts at the start of its piece) or ``'random'`` (at a random bar).
    """

    seed: int = 0
    sr: int = 16000
    clip_seconds: float = 4.0
    n_train: int = 2400
    n_valid: int = 300
    n_test: int = 300
    chorale_fraction: float = 0.5
    folk: str = "essen"
    soundfont: str | None = None
    window: str = "opening"

    def __post_init__(self):
        if self.window not in ("opening", "random"):
            raise ValueError(f"CorpusRecipe: window must be 'opening' or 'random', got {self.window!r}")
        if self.sr not in CORPUS_SAMPLE_RATES:
            raise ValueError(f"CorpusRecipe: sr={self.sr} is not a rate the audio models support; use one of {CORPUS_SAMPLE_RATES}")
        if not 0.5 <= self.clip_seconds <= 30:
            raise ValueError(f"CorpusRecipe: clip_seconds must lie in 0.5..30, got {self.clip_seconds}")
        for name in ("n_train", "n_valid", "n_test"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"CorpusRecipe: {name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.chorale_fraction <= 1:
            raise ValueError(f"CorpusRecipe: chorale_fraction must lie in 0..1, got {self.chorale_fraction}")
        if self.folk not in ("essen", "oneills"):
            raise ValueError(f"CorpusRecipe: folk must be 'essen' or 'oneills', got {self.folk!r}")
        if self.size_bytes() > MAX_CACHE_BYTES:
            raise ValueError(f"CorpusRecipe asks for {self.size_bytes() / 1e9:.2f} GB of audio; the limit is "
                             f"{MAX_CACHE_BYTES / 1e9:.2f} GB (fewer or shorter clips)")

    cache_folder = "audio_corpus"  # where in the course cache the builds of this kind of recipe go (not a field)

    def n_clips(self, split: str) -> int:
        return {"train": self.n_train, "valid": self.n_valid, "test": self.n_test}[_check_split(split)]

    def pools(self, split: str):
        """What :meth:`choose` draws from for one split (built once per split): :func:`piece_pools`."""
        return piece_pools(split, self.folk)

    def choose(self, split: str, index: int, pools) -> tuple[Piece, dict]:
        """The excerpt and attributes of clip ``index`` of ``split``: :func:`choose_clip`."""
        return choose_clip(self, split, index, pools)

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sr))

    def size_bytes(self) -> int:
        """Bytes of int16 audio the recipe asks for (the attributes add a little)."""
        return 2 * self.clip_samples * (self.n_train + self.n_valid + self.n_test)

    def data_files(self) -> tuple[Path, ...]:
        """The shipped corpus files the clips are drawn from: the chorales and the recipe's folk collection."""
        return tuple(DATA_DIR / CORPUS_FILES[name] for name in ("chorales", self.folk))

    def fingerprint(self) -> dict:
        """What the hash covers: the fields, the code version, the SoundFont's content (not its path) and the
        content of the data files the pieces come from (another build of ``data/*.npz``, another cache)."""
        from .soundfont import soundfont_sha256
        from .checkpoints import file_sha256

        d = asdict(self)
        d.pop("soundfont")
        data = {path.name: file_sha256(path) for path in self.data_files()}
        return {**d, "version": CORPUS_VERSION, "soundfont_sha256": soundfont_sha256(self.soundfont),
                "data_sha256": data}

    def hash(self) -> str:
        """First 16 hex digits of the SHA-256 of :meth:`fingerprint` (names the cache folder)."""
        text = json.dumps(self.fingerprint(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    return split


def cache_root(cache_dir: str | Path | None = None, folder: str = "audio_corpus") -> Path:
    """The folder that holds one sub-folder per recipe hash.

    ``cache_dir`` if given, else ``folder`` (``audio_corpus``; other music: ``other_music``) in the course's cache (:func:`helpers.paths.cache_dir`:
    ``$MUSIC_COURSE_CACHE``, else ``$XDG_CACHE_HOME/music-generation-course``, else
    ``~/.cache/music-generation-course``).
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return paths.cache_dir() / folder


# --- choosing one clip --------------------------------------------------------------------------------------
def register_of(median_pitch: float) -> str:
    """``'low'``, ``'middle'`` or ``'high'`` from the median MIDI pitch of a clip (edges :data:`REGISTER_EDGES`)."""
    lo, hi = REGISTER_EDGES
    return "low" if median_pitch < lo else "middle" if median_pitch < hi else "high"


def tempo_band(bpm: float) -> str:
    """The band of :data:`TEMPO_BANDS` a BPM lies in (between bands: the nearer band)."""
    return min(TEMPO_BANDS, key=lambda b: max(TEMPO_BANDS[b][0] - bpm, bpm - TEMPO_BANDS[b][1], 0))


def piece_pools(split: str, folk: str = "essen") -> dict[tuple[str, str], list[Piece]]:
    """``{(texture, mode): pieces}`` of one split: chorales (train also holds the 'extra' chorales) and folk tunes.

    Valid and test leave out the pieces marked as a double of a train piece (``meta['duplicate_of_train']``: the
    canonical JSB split keeps bwv253 in valid although it is bwv414 of train, see data/README.md), so that no
    held-out clip plays music of the train clips. The train pools are the train pieces as shipped.
    """
    chorales = load_chorales(["train", "extra"] if split == "train" else split)
    tunes = load_folk(folk, split)
    if split != "train":
        chorales, tunes = ([p for p in ps if not p.meta.get("duplicate_of_train")] for ps in (chorales, tunes))
    pools = {}
    for texture, pieces in (("chorale", chorales), ("solo", tunes)):
        for mode in MODES:
            pools[(texture, mode)] = [p for p in pieces if p.mode == mode and len(p) > 0]
    empty = [k for k, v in pools.items() if not v]
    if empty:
        raise ValueError(f"split {split!r} has no pieces for {empty}")
    return pools


def _bar_quarters(piece: Piece) -> float:
    """Quarters per bar from the time signature ('3/4' -> 3, '6/8' -> 3); unknown or free metre: 4."""
    num, _, den = piece.time_signature.partition("/")
    if not (num.isdigit() and den.isdigit()) or int(num) == 0 or int(den) == 0:
        return 4.0
    return 4.0 * int(num) / int(den)


def choose_clip(recipe: CorpusRecipe, split: str, index: int, pools) -> tuple[Piece, dict]:
    """The excerpt (already transposed, times in quarters) and the attributes of clip ``index`` of ``split``.

    Deterministic: the choices come from ``default_rng([recipe.seed, split number, index])``.
    """
    rng = np.random.default_rng([recipe.seed, SPLITS.index(split), index])
    texture = "chorale" if rng.random() < recipe.chorale_fraction else "solo"
    mode = MODES[rng.integers(len(MODES))]
    pool = pools[(texture, mode)]
    piece = pool[rng.integers(len(pool))]
    corpus = "chorales" if texture == "chorale" else recipe.folk
    return arrange_clip(piece, texture, rng, recipe, split, index, corpus)


def arrange_clip(piece: Piece, texture: str, rng: np.random.Generator, recipe, split: str, index: int,
                 corpus: str, family: str | None = None) -> tuple[Piece, dict]:
    """Dress a piece as one clip: family (drawn unless given), players, tempo, window, transposition and register.

    The second half of :func:`choose_clip`, shared with :mod:`helpers.other_music` so that music from outside the
    corpus is played exactly like the corpus. ``recipe`` needs ``clip_seconds`` and ``window``; ``texture``
    ``'chorale'`` plays one voice per player of a :data:`CHORALE` setting (``family`` must have one), ``'solo'``
    one instrument of :data:`SOLO` for every note. Returns the excerpt (transposed, times in quarters) and its
    attributes.
    """
    if family is None:
        families = [f for f in FAMILIES if texture == "solo" or f in CHORALE]
        family = families[rng.integers(len(families))]
    elif family not in FAMILIES or (texture == "chorale" and family not in CHORALE):
        raise ValueError(f"arrange_clip: family {family!r} cannot play texture {texture!r}")
    band = tuple(TEMPO_BANDS)[rng.integers(len(TEMPO_BANDS))]
    bpm = int(rng.integers(TEMPO_BANDS[band][0], TEMPO_BANDS[band][1] + 1))
    target = REGISTERS[rng.integers(len(REGISTERS))]
    key_shift = int(rng.integers(-5, 7))
    # The window: a random bar start such that the window fits (else the start of the piece).
    clip_q = recipe.clip_seconds * bpm / 60.0
    bar = _bar_quarters(piece)
    pickup = float(piece.meta.get("pickup_quarters", 0.0) or 0.0)
    starts = np.arange(pickup, max(piece.duration_quarters - clip_q, 0.0) + 1e-9, bar)
    start = float(starts[rng.integers(len(starts))]) if len(starts) else 0.0  # drawn in both modes (same stream)
    if recipe.window == "opening":
        start = 0.0
    excerpt = piece.slice_quarters(start, start + clip_q)
    if len(excerpt) == 0:  # a window of rests only: take the opening instead
        start, excerpt = 0.0, piece.slice_quarters(0.0, clip_q)
    # Register: aim the median pitch at the target with whole octaves after the key shift; for solos keep the
    # melody inside an instrument's range (try the other registers if no instrument of the family fits).
    median = float(np.median(excerpt.pitches)) + key_shift
    order = [target] + [r for r in rng.permutation(REGISTERS).tolist() if r != target]
    players = None
    for reg in order:
        shift = key_shift + 12 * int(round((REGISTER_TARGETS[reg] - median) / 12))
        lo, hi = int(excerpt.pitches.min()) + shift, int(excerpt.pitches.max()) + shift
        if lo < 21 or hi > 108:
            continue
        if texture == "solo":
            fits = [name for name, (a, b) in SOLO[family].items() if a <= lo and hi <= b]
            if not fits:
                continue
            players = (fits[rng.integers(len(fits))],)
        else:
            settings = CHORALE[family]
            players = settings[rng.integers(len(settings))]
        break
    if players is None:  # nothing fits (rare): the first instrument of the family, no octave move
        shift = key_shift
        players = (next(iter(SOLO[family])),) if texture == "solo" else CHORALE[family][0]
    excerpt = excerpt.transpose(shift)
    median_pitch = float(np.median(excerpt.pitches))
    attrs = {
        "index": int(index), "split": split, "corpus": corpus,
        "piece_id": piece.id, "title": piece.title, "start_quarter": start, "texture": texture,
        "instruments": list(players), "family": family, "bpm": bpm, "tempo_band": tempo_band(bpm),
        "key": excerpt.key, "tonic": int(excerpt.tonic), "mode": excerpt.mode, "transposition": int(shift),
        "register": register_of(median_pitch), "median_pitch": median_pitch,
    }
    return excerpt, attrs


def render_clip(excerpt: Piece, attrs: dict, recipe: CorpusRecipe) -> np.ndarray:
    """The int16 samples (clip_samples,) of one clip: SoundFont render, cut or zero-padded, peak 0.9."""
    from .soundfont import render_soundfont

    voices = dict(enumerate(attrs["instruments"])) if len(attrs["instruments"]) > 1 else attrs["instruments"][0]
    if isinstance(voices, dict):
        voices = {v: voices[v] for v in range(len(excerpt.voice_names))}
    y = render_soundfont(excerpt, voices, sr=recipe.sr, qpm=attrs["bpm"], soundfont=recipe.soundfont, tail=0.0)
    n = recipe.clip_samples
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, len(y))] = y[:n]
    peak = float(np.abs(out).max())
    if peak == 0:
        raise ValueError(f"clip {attrs['split']}/{attrs['index']} ({attrs['piece_id']}) rendered to silence")
    return np.round(out * (PEAK / peak) * 32767).astype(np.int16)


# --- how audible is the mode? ----------------------------------------------------------------------------------
def mode_agreement(recipe: CorpusRecipe, split: str = "valid", n: int = 300) -> dict[str, float]:
    """Fraction of the first ``n`` clips of a split whose written mode the key profile of their own notes finds
    (:func:`helpers.pitch.estimate_key`).

    A ceiling check without audio: if the notes of a clip do not state its mode, no listener (and no
    classifier) can be expected to hear it. Returns ``{'chorale': ..., 'solo': ..., 'all': ...}``.
    """
    pools = piece_pools(split, recipe.folk)
    hits = {"chorale": [], "solo": []}
    for i in range(n):
        excerpt, a = choose_clip(recipe, split, i, pools)
        hits[a["texture"]].append(estimate_key(excerpt)[1] == a["mode"])
    out = {k: float(np.mean(v)) for k, v in hits.items() if v}
    out["all"] = float(np.mean(hits["chorale"] + hits["solo"]))
    return out


# --- captions -------------------------------------------------------------------------------------------------
def players_phrase(attrs: dict) -> str:
    """How the captions name the players: ``'solo flute'``, ``'organ'``, ``'string quartet (violin, viola, cello)'``."""
    names = [n.replace("_", " ") for n in attrs["instruments"]]
    if attrs["texture"] == "solo":
        return f"solo {names[0]}"
    distinct = list(dict.fromkeys(names))
    if len(distinct) == 1:
        return distinct[0]
    return f"{ENSEMBLE_NAMES[attrs['family']]} ({', '.join(distinct)})"


# Each phrasing names the players, the tempo band, the key (with its mode), the register and the texture
# ('chorale' / 'solo ... folk tune'); BPM and family appear in some. Two are held out for testing.
TRAIN_PHRASINGS = (
    "a {tempo} {kind} in {key} on {players}, {register} register",
    "{players}, {tempo} {kind} in {key} ({register} register)",
    "{Key} {kind} for {players} at {bpm} BPM ({tempo} tempo), {register} register, {family} family",
    "{register}-register {players} playing a {tempo} {kind} in {key}",
)
HELDOUT_PHRASINGS = (
    "{tempo} tempo, {key}: a {kind} played by {players} in a {register} register, {family} instruments",
    "{players} in the {register} register; {kind} in {key}, {tempo} at {bpm} BPM",
)


def caption_fields(attrs: dict) -> dict:
    """What a caption can say about one clip: the fields of :data:`TRAIN_PHRASINGS` and :data:`AUGMENT_CLAUSES`."""
    return {
        "tempo": attrs["tempo_band"], "kind": "chorale" if attrs["texture"] == "chorale" else "folk tune",
        "key": attrs["key"], "Key": attrs["key"], "players": players_phrase(attrs), "register": attrs["register"],
        "bpm": attrs["bpm"], "family": attrs["family"],
    }


def captions_of(attrs: dict, heldout: bool = False) -> list[str]:
    """The captions of one clip in every training phrasing (or every held-out one)."""
    fields = caption_fields(attrs)
    return [p.format(**fields) for p in (HELDOUT_PHRASINGS if heldout else TRAIN_PHRASINGS)]


# Caption augmentation for training (in the spirit of MusicGen's text augmentation, Copet et al. 2023, Sec. 3.2:
# the same facts in many orders and wordings, so that the LM learns to find the instrument wherever the sentence
# puts it instead of learning four sentence templates). Each caption is a shuffle of clauses, every clause drawn from
# its own list of wordings, joined by a random separator. The wordings avoid the held-out phrasings' connectors
# ("played by", "instruments", "tempo, <key>:") so that the held-out test stays a test of unseen sentences.
AUGMENT_CLAUSES = {
    "music": ("a {tempo} {kind} in {key}", "{tempo} {kind} in {key}", "{kind} in {key}, {tempo}",
              "{Key} {kind}, {tempo} pace", "a {kind} in {key} at a {tempo} pace", "{key}, {tempo} {kind}"),
    "players": ("on {players}", "for {players}", "{players}", "with {players}", "featuring {players}",
                "performed on {players}", "{players} playing"),
    "register": ("{register} register", "{register}-register", "{register} range", "in the {register} range",
                 "pitched {register}"),
    "family": ("{family} family", "{family} timbre", "{family} sound", "the {family} section"),
    "bpm": ("{bpm} BPM", "at {bpm} BPM", "{bpm} beats per minute"),
}
AUGMENT_SEPARATORS = (", ", "; ", " - ", ". ", " | ")


def augmented_captions(attrs: dict, n: int, seed) -> list[str]:
    """``n`` training captions of one clip in shuffled clauses and varied wording (see :data:`AUGMENT_CLAUSES`).

    Every caption names the players, the tempo band, the key and the register; half name the family, 40% the BPM.
    Deterministic: ``seed`` (an int or a sequence of ints, e.g. ``[recipe seed, split, index]``) seeds
    ``numpy.random.default_rng``. Used by ``scripts/train_musicgen.py --augment-captions``; never by the
    held-out test.
    """
    if int(n) < 0:
        raise ValueError(f"augmented_captions: n must be >= 0, got {n}")
    fields = caption_fields(attrs)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(n)):
        names = ["music", "players", "register"] + [k for k, p in (("family", 0.5), ("bpm", 0.4)) if rng.random() < p]
        clauses = [AUGMENT_CLAUSES[k][rng.integers(len(AUGMENT_CLAUSES[k]))].format(**fields)
                   for k in rng.permutation(names)]
        out.append(AUGMENT_SEPARATORS[rng.integers(len(AUGMENT_SEPARATORS))].join(clauses))
    return out


# --- the corpus -------------------------------------------------------------------------------------------------
class AudioCorpus:
    """Clips, attributes and captions of one recipe, read from its cache folder (see :meth:`build`).

    Example:
        >>> corpus = AudioCorpus.build()                       # doctest: +SKIP
        >>> corpus.clips("train").shape                        # doctest: +SKIP
        (2400, 64000)
        >>> corpus.captions("valid")[0][0]                     # doctest: +SKIP
        'a slow chorale in D minor on organ, low register'
    """

    def __init__(self, path: str | Path, recipe: CorpusRecipe):
        self.path = Path(path)
        self.recipe = recipe
        self._attrs: dict[str, list[dict]] = {}

    # --- building ---
    @classmethod
    def build(cls, recipe: CorpusRecipe | None = None, cache_dir: str | Path | None = None,
              progress: bool = True, verbose: bool = True) -> "AudioCorpus":
        """The corpus of ``recipe`` (default :class:`CorpusRecipe`), built into the cache on first use.

        The folder is ``cache_root(cache_dir) / recipe.hash()``; when it holds a complete build it is reused,
        else the clips are rendered (tqdm progress bar) into a temporary folder that is renamed when done, so an
        interrupted build never looks complete.
        """
        from tqdm.auto import tqdm

        recipe = recipe or CorpusRecipe()
        root = cache_root(cache_dir, recipe.cache_folder)
        path = root / recipe.hash()
        if (path / "complete.json").is_file():
            if verbose:
                print(f"audio corpus: reusing {path}")
            return cls(path, recipe)
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f"{recipe.hash()}.building-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if verbose:
            print(f"audio corpus: building {recipe.n_train}/{recipe.n_valid}/{recipe.n_test} clips of "
                  f"{recipe.clip_seconds:g} s at {recipe.sr} Hz into {path} ({recipe.size_bytes() / 1e6:.0f} MB)")
        t0 = time.perf_counter()
        total = recipe.n_train + recipe.n_valid + recipe.n_test
        bar = tqdm(total=total, desc="rendering clips", disable=not progress)
        for split in SPLITS:
            pools = recipe.pools(split)
            n = recipe.n_clips(split)
            audio = np.lib.format.open_memmap(tmp / f"{split}_audio.npy", mode="w+", dtype=np.int16,
                                              shape=(n, recipe.clip_samples))
            attrs = []
            for i in range(n):
                excerpt, a = recipe.choose(split, i, pools)
                audio[i] = render_clip(excerpt, a, recipe)
                attrs.append(a)
                bar.update(1)
            audio.flush()
            del audio
            (tmp / f"{split}_attributes.json").write_text(json.dumps(attrs, indent=0))
        bar.close()
        seconds = time.perf_counter() - t0
        (tmp / "recipe.json").write_text(json.dumps({**asdict(recipe), "fingerprint": recipe.fingerprint()}, indent=1))
        size = sum(f.stat().st_size for f in tmp.iterdir())
        (tmp / "complete.json").write_text(json.dumps({"build_seconds": round(seconds, 1), "bytes": size}))
        if path.exists():  # another process finished first: keep its copy
            shutil.rmtree(tmp)
        else:
            tmp.rename(path)
        if verbose:
            print(f"audio corpus: built in {seconds:.0f} s, {size / 1e6:.0f} MB at {path}")
        return cls(path, recipe)

    # --- reading ---
    def clips(self, split: str, dtype=np.float32) -> np.ndarray:
        """All clips of a split, (N, clip_samples): float32 in [-1, 1] (``dtype=np.int16``: as stored, memory-mapped)."""
        raw = np.load(self.path / f"{_check_split(split)}_audio.npy", mmap_mode="r")  # (N, T) int16
        if dtype == np.int16:
            return raw
        return (np.asarray(raw, dtype=np.float32) / np.float32(32767)).astype(dtype)

    def attributes(self, split: str) -> list[dict]:
        """One dict per clip (corpus, piece_id, instruments, family, bpm, tempo_band, key, mode, register, ...)."""
        split = _check_split(split)
        if split not in self._attrs:
            self._attrs[split] = json.loads((self.path / f"{split}_attributes.json").read_text())
        return self._attrs[split]

    def labels(self, split: str) -> dict[str, np.ndarray]:
        """Class indices (N,) per attribute of :data:`ATTRIBUTE_CLASSES` (what the classifier predicts)."""
        attrs = self.attributes(split)
        return {name: np.array([classes.index(a[name]) for a in attrs], dtype=np.int64)
                for name, classes in ATTRIBUTE_CLASSES.items()}

    def captions(self, split: str, heldout: bool = False, augment: int = 0) -> list[list[str]]:
        """Per clip, its captions in every training phrasing (``heldout=True``: every held-out phrasing), followed by
        ``augment`` captions of :func:`augmented_captions` (seeded by ``[recipe seed, split, clip index]``)."""
        split = _check_split(split)
        if augment and heldout:
            raise ValueError("captions: augment applies to the training phrasings, not to heldout=True")
        return [captions_of(a, heldout) + augmented_captions(a, augment, [self.recipe.seed, SPLITS.index(split), i])
                for i, a in enumerate(self.attributes(split))]

    def described(self, split: str, n: int, vocabulary: str = "train") -> list[list[str]]:
        """Per clip, ``n`` captions in the many words of :mod:`helpers.captions` (``vocabulary='heldout'``: words and
        frames no training caption uses, for measuring only), seeded by ``[recipe seed, split, clip index, side]``."""
        from .captions import VOCABULARIES, check_vocabulary, describe

        split, side = _check_split(split), VOCABULARIES.index(check_vocabulary(vocabulary))
        return [describe(a, n, [self.recipe.seed, SPLITS.index(split), i, side], vocabulary)
                for i, a in enumerate(self.attributes(split))]

    def __len__(self) -> int:
        return sum(self.recipe.n_clips(s) for s in SPLITS)

    def __repr__(self) -> str:
        r = self.recipe
        return (f"AudioCorpus({r.n_train}/{r.n_valid}/{r.n_test} clips of {r.clip_seconds:g} s at {r.sr} Hz, "
                f"recipe {r.hash()}, {self.path})")

    # --- for training ---
    def dataset(self, split: str):
        """A ``torch.utils.data.Dataset`` of ``(audio (T,) float32, {attribute: class index})``."""
        return ClipDataset(self, split)

    def random_crops(self, split: str, crop_seconds: float | None = None):
        """A callable ``(generator, batch_size) -> {'audio': (B, crop), attribute: (B,)}`` for ``training.train``.

        Clips are drawn uniformly with the torch generator, and a crop of ``crop_seconds`` (None: the whole
        clip) starts at a random sample.
        """
        audio = torch.from_numpy(self.clips(split))  # (N, T) float32
        labels = {k: torch.from_numpy(v) for k, v in self.labels(split).items()}
        n_total = audio.shape[1]
        crop = n_total if crop_seconds is None else int(round(crop_seconds * self.recipe.sr))
        if not 0 < crop <= n_total:
            raise ValueError(f"random_crops: crop_seconds={crop_seconds} must lie in (0, {self.recipe.clip_seconds}]")

        def draw(generator, batch_size: int):
            idx = torch.randint(0, audio.shape[0], (batch_size,), generator=generator)  # (B,)
            start = torch.randint(0, n_total - crop + 1, (batch_size,), generator=generator)  # (B,)
            offsets = start[:, None] + torch.arange(crop)[None, :]  # (B, crop)
            batch = {"audio": audio[idx[:, None], offsets]}  # (B, crop)
            batch.update({k: v[idx] for k, v in labels.items()})
            return batch

        return draw


class ClipDataset(torch.utils.data.Dataset):
    """Map-style dataset over one split of an :class:`AudioCorpus`: ``(audio (T,) float32, {attribute: index})``."""

    def __init__(self, corpus: AudioCorpus, split: str):
        self.audio = corpus.clips(split, dtype=np.int16)  # (N, T) int16, memory-mapped
        self.labels = corpus.labels(split)

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, i: int):
        x = torch.from_numpy(np.asarray(self.audio[i], dtype=np.float32) / np.float32(32767))  # (T,)
        return x, {k: int(v[i]) for k, v in self.labels.items()}
