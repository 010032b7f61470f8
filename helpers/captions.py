"""Captions in many words, and a held-out *vocabulary* that tests whether control comes from meaning.

The corpus's first captions (``helpers.audio_corpus.TRAIN_PHRASINGS`` and its clause shuffles) name every clip with
the same few words: the instrument's General MIDI name, ``slow``/``moderate``/``fast``, ``low``/``middle``/``high``.
Held-out *phrasings* of those words test new sentence orders, not new words; a listener who writes "a fiddler" or
"allegro" asks for something the LM never read. This module gives every attribute value many words, split in two:

- ``'train'`` words: several names per instrument, player nouns (``'cellist'``), family nouns (``'woodwinds'``),
  tempo and mood words, sentence frames. :func:`describe` draws training captions from them only.
- ``'heldout'`` words and frames: other names of the same things (``'fiddle'``, ``'violoncello'``, ``'allegro'``,
  ``'mournful'``, ``'Could you play ...'``) that never occur in a training caption, used only to measure.
  :func:`vocabulary_words` lists each side's words; the tests check that the held-out side shares no content word
  with the training side, so a model that follows held-out captions follows what the text encoder makes of their
  meaning.

What each caption states is drawn too: the players always, tempo, mood/key, register, kind of piece and BPM each
with its own probability, so that a short caption ("solo cello") is a caption the LM has seen.

Notebook: 05_musicgen.ipynb (control that survives new words). Reference: Copet et al. 2023, Sec. 3.2 and 4 (text
augmentation; text adherence measured on captions written by people, not by the training templates).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

VOCABULARIES = ("train", "heldout")

# Names of each instrument of the corpus (helpers.audio_corpus.SOLO / CHORALE): (training words, held-out words).
INSTRUMENT_WORDS = {
    "piano": (("piano", "grand piano", "pianist"), ("pianoforte", "Steinway")),
    "harpsichord": (("harpsichord", "harpsichordist"), ("clavecin", "cembalo")),
    "organ": (("organ", "church organ", "organist"), ("harmonium", "chapel harmonium")),
    "drawbar_organ": (("drawbar organ", "electric organ"), ("Hammond", "tonewheel console")),
    "guitar": (("guitar", "acoustic guitar", "guitarist"), ("lute", "lutenist")),
    "steel_guitar": (("steel guitar", "steel-string guitar"), ("dobro", "resonator")),
    "violin": (("violin", "violinist"), ("fiddle", "fiddler")),
    "viola": (("viola", "violist"), ("alto fiddle",)),
    "cello": (("cello", "cellist"), ("violoncello",)),
    "strings": (("strings", "string ensemble", "string section"), ("fiddles", "fiddle consort")),
    "voice": (("voice", "singer", "vocals"), ("vocalist", "soprano")),
    "choir": (("choir", "chorus", "singers"), ("choristers", "a cappella group")),
    "trumpet": (("trumpet", "trumpeter"), ("cornet", "bugle")),
    "french_horn": (("french horn", "horn"), ("hornist", "waldhorn")),
    "trombone": (("trombone", "trombonist"), ("sackbut",)),
    "brass": (("brass", "brass ensemble", "brass section"), ("cornets and tubas",)),
    "oboe": (("oboe",), ("oboist", "cor anglais")),
    "clarinet": (("clarinet", "clarinetist"), ("licorice stick", "chalumeau")),
    "bassoon": (("bassoon", "bassoonist"), ("fagotto",)),
    "flute": (("flute", "flautist", "flute player"), ("flutist", "piccolo", "fife")),
    "recorder": (("recorder", "recorder player"), ("tin whistle", "penny whistle")),
}
# The family as a whole (for ensembles and for captions that name only the family).
FAMILY_WORDS = {
    "piano": (("piano", "keyboard", "keyboard instrument"), ("ivories",)),
    "organ": (("organ", "organ sound"), ("harmonium",)),
    "guitar": (("guitar", "guitars"), ("lutes",)),
    "strings": (("strings", "bowed strings", "string quartet"), ("fiddles",)),
    "voice": (("voices", "vocals", "singing"), ("vocalists", "a cappella")),
    "brass": (("brass", "brass quartet", "horns"), ("cornets and tubas",)),
    "reed": (("woodwinds", "reeds", "wind quartet"), ("oboes and bassoons",)),
    "pipe": (("flute", "flutes"), ("fifes", "whistles")),
}
TEMPO_WORDS = {
    "slow": (("slow", "calm", "unhurried"), ("leisurely", "adagio", "largo")),
    "moderate": (("moderate", "medium tempo", "steady"), ("andante", "moderato")),
    "fast": (("fast", "quick", "lively", "brisk"), ("allegro", "presto", "rapid")),
}
MODE_WORDS = {
    "minor": (("minor", "minor key", "sad", "dark"), ("mournful", "melancholy")),
    "major": (("major", "major key", "happy", "bright"), ("joyful", "sunny")),
}
REGISTER_WORDS = {
    "low": (("low", "low register", "deep", "bass range"), ("rumbling", "baritone")),
    "middle": (("middle", "middle register", "middle range"), ("central", "midrange")),
    "high": (("high", "high register", "treble", "upper range"), ("lofty", "stratospheric")),
}
KIND_WORDS = {
    "chorale": (("chorale", "hymn", "four-part chorale"), ("a psalm", "an anthem")),
    "solo": (("folk tune", "folk song", "tune", "melody"), ("a ballad", "a ditty", "an air")),
}

# Sentence frames. Slots: {players} {tempo} {mood} {register} {kind} {bpm}; a slot the caption leaves out is
# dropped with its clause. Training frames: clause lists joined in a random order, or whole sentences.
TRAIN_CLAUSES = {
    "players": ("on {players}", "for {players}", "{players}", "with {players}", "featuring {players}",
                "performed on {players}", "{players} playing"),
    "tempo": ("{tempo}", "{tempo} pace", "a {tempo} feel"),
    "mood": ("{mood}", "{mood} mood", "in a {mood} mode"),
    "register": ("{register}", "{register} pitch", "pitched {register}"),
    "kind": ("a {kind}", "{kind}", "music: {kind}"),
    "bpm": ("{bpm} BPM", "at {bpm} BPM", "{bpm} beats per minute"),
}
TRAIN_SEPARATORS = (", ", "; ", " - ", ". ", " | ")
TRAIN_SENTENCES = (
    "{players}",
    "music for {players}",
    "a {tempo} {kind} on {players}",
    "{players} playing a {mood} {kind}",
    "a {mood}, {tempo} {kind} for {players}, {register}",
    "{tempo} {kind} featuring {players}",
)
HELDOUT_SENTENCES = (
    "Could you play me {kind} by {players}, {tempo} and {mood}, {register} sounding?",
    "I'd love to hear {players} doing {kind} -- {tempo}, {mood}, {register}.",
    "Imagine {players} giving us {kind}: {tempo}, {mood}, {register}, metronome {bpm}.",
    "Here comes {players} with {kind}; it's {tempo}, {mood} and {register}.",
)
# Words a held-out frame may share with the training side (articles and prepositions: no meaning of their own).
FUNCTION_WORDS = frozenset({"a", "an", "the", "and", "of", "in", "on", "to", "with", "at", "by", "for", "is", "it",
                            "s", "d", "me", "us"})
# How often a training caption states each attribute (the players: always).
STATE_PROBABILITY = {"tempo": 0.7, "mood": 0.6, "register": 0.6, "kind": 0.6, "bpm": 0.2}


def _pick(words: tuple, vocabulary: str) -> tuple:
    return words[VOCABULARIES.index(check_vocabulary(vocabulary))]


def check_vocabulary(vocabulary) -> str:
    if vocabulary not in VOCABULARIES:
        raise ValueError(f"vocabulary must be one of {VOCABULARIES}, got {vocabulary!r}")
    return vocabulary


def players_words(attrs: dict, vocabulary: str, rng: np.random.Generator) -> str:
    """How one caption names the players: an instrument's name or its player (``'cellist'``), the family's name, or
    the instruments of an ensemble (``'violin, viola and cello'``), drawn from ``vocabulary``'s words."""
    names = list(dict.fromkeys(attrs["instruments"]))
    for n in names:
        if n not in INSTRUMENT_WORDS:
            raise ValueError(f"no caption words for the instrument {n!r}; known: {sorted(INSTRUMENT_WORDS)}")
    choice = rng.random()
    if choice < 0.25:  # the family's name
        return str(rng.choice(_pick(FAMILY_WORDS[attrs["family"]], vocabulary)))
    words = [str(rng.choice(_pick(INSTRUMENT_WORDS[n], vocabulary))) for n in names]
    if len(words) == 1:
        prefix = "solo " if attrs["texture"] == "solo" and vocabulary == "train" and rng.random() < 0.3 else ""
        return prefix + words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def slot_words(attrs: dict, vocabulary: str, rng: np.random.Generator) -> dict:
    """One wording of every slot for one clip."""
    return {
        "players": players_words(attrs, vocabulary, rng),
        "tempo": str(rng.choice(_pick(TEMPO_WORDS[attrs["tempo_band"]], vocabulary))),
        "mood": str(rng.choice(_pick(MODE_WORDS[attrs["mode"]], vocabulary))),
        "register": str(rng.choice(_pick(REGISTER_WORDS[attrs["register"]], vocabulary))),
        "kind": str(rng.choice(_pick(KIND_WORDS[attrs["texture"]], vocabulary))),
        "bpm": str(attrs["bpm"]),
    }


def describe(attrs: dict, n: int, seed, vocabulary: str = "train") -> list[str]:
    """``n`` captions of one clip in ``vocabulary``'s words (deterministic in ``seed``: an int or a list of ints).

    ``'train'``: half shuffled clauses, half whole sentences; the players always named, the other attributes each
    with its :data:`STATE_PROBABILITY`. ``'heldout'``: the :data:`HELDOUT_SENTENCES`, every attribute stated, every
    word of the held-out side (used only to measure).
    """
    check_vocabulary(vocabulary)
    if int(n) < 0:
        raise ValueError(f"describe: n must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(int(n)):
        w = slot_words(attrs, vocabulary, rng)
        if vocabulary == "heldout":
            out.append(HELDOUT_SENTENCES[rng.integers(len(HELDOUT_SENTENCES))].format(**w))
            continue
        stated = ["players"] + [k for k, p in STATE_PROBABILITY.items() if rng.random() < p]
        if rng.random() < 0.5:
            clauses = [TRAIN_CLAUSES[k][rng.integers(len(TRAIN_CLAUSES[k]))].format(**w) for k in rng.permutation(stated)]
            out.append(TRAIN_SEPARATORS[rng.integers(len(TRAIN_SEPARATORS))].join(clauses))
        else:
            fits = [s for s in TRAIN_SENTENCES if set(re.findall(r"{(\w+)}", s)) <= set(stated)]
            out.append(fits[rng.integers(len(fits))].format(**w))
    return out


def fingerprint() -> str:
    """SHA-256 of every word list, frame and probability here: what a cache of rich captions depends on."""
    import hashlib

    tables = (INSTRUMENT_WORDS, FAMILY_WORDS, TEMPO_WORDS, MODE_WORDS, REGISTER_WORDS, KIND_WORDS, TRAIN_CLAUSES,
              TRAIN_SEPARATORS, TRAIN_SENTENCES, HELDOUT_SENTENCES, sorted(STATE_PROBABILITY.items()))
    return hashlib.sha256(repr(tables).encode()).hexdigest()


def words_of(text: str) -> set[str]:
    """The lower-case words of a text (letters only: ``"six-string"`` -> ``{'six', 'string'}``)."""
    return set(re.findall(r"[a-z]+", text.lower()))


def vocabulary_words(vocabulary: str, frames: bool = True) -> set[str]:
    """Every word ``vocabulary``'s captions can use: its attribute words and (``frames``) its frames' own words."""
    i = VOCABULARIES.index(check_vocabulary(vocabulary))
    words: set[str] = set()
    for table in (INSTRUMENT_WORDS, FAMILY_WORDS, TEMPO_WORDS, MODE_WORDS, REGISTER_WORDS, KIND_WORDS):
        for pair in table.values():
            for w in pair[i]:
                words |= words_of(w)
    if frames:
        texts = HELDOUT_SENTENCES if vocabulary == "heldout" else (
            TRAIN_SENTENCES + tuple(c for cs in TRAIN_CLAUSES.values() for c in cs) + TRAIN_SEPARATORS + ("solo", "and"))
        for t in texts:
            words |= words_of(re.sub(r"{\w+}", " ", t))
    return words


def shared_words(extra_train_captions: Sequence[str] = ()) -> set[str]:
    """Content words the held-out side shares with the training side (its words plus ``extra_train_captions``'
    words): empty when the held-out vocabulary is really held out."""
    train = vocabulary_words("train") | set().union(*(words_of(c) for c in extra_train_captions))
    return (vocabulary_words("heldout") & train) - FUNCTION_WORDS
