"""How much of the instrument family a frozen text encoder carries into captions in words the LM never read: the text
side's ceiling for notebook 05's held-out-words row.

    .venv/bin/python scripts/probe_text_encoder.py                       # writes runs/text_probe.json
    .venv/bin/python scripts/probe_text_encoder.py --other-encoder /path/to/all-mpnet-base-v2 \\
        --out data/checkpoints/text_probe.json --overwrite-shipped      # what made the shipped table

A linear probe (:func:`helpers.text_encoder.linear_probe`) is fitted on the sentence embeddings of *training*
captions of the corpus's train clips (per clip: its first training phrasing and ``--rich`` captions in the training
words of :mod:`helpers.captions`, as ``scripts/train_musicgen.py --rich-captions`` trains on) to predict the clip's
instrument family, then scored on the first ``--n-test`` test clips in the three caption sets of
``scripts/measure_control.py`` (held-out phrasing, held-out words, training phrasing: the very captions of
``musicgen_control.json``). A conditioner's first layer is such a read-out; if the probe cannot find the family in a
held-out-words caption, an LM trained on the same captions will not either.

Rows: the shipped MiniLM with the shipped training words, and with a *richer* training vocabulary
(:data:`RICHER_TRAIN_WORDS`: 156 training words against 94, more names, players and descriptions of every
instrument and family, no held-out word among them, checked); with ``--other-encoder DIR`` (a sentence-transformers folder on the disk, e.g. all-mpnet-base-v2, 110 M
parameters against MiniLM's 22 M; read with ``local_files_only``, its ``model.safetensors`` hashed into the JSON),
the same two rows for it. Chance is the share of the most common family among the test clips.

Notebook: 05_musicgen.ipynb (words the model never read). Reference: Alain & Bengio 2016 (linear probes).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import captions as C  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.text_encoder import MiniLMEncoder, linear_probe  # noqa: E402

# A richer training side: many more names per instrument and family (players, makes, descriptions). None is a
# held-out word (:func:`richer_vocabulary` checks it with helpers.captions.shared_words).
RICHER_TRAIN_WORDS = {
    "piano": ("piano", "grand piano", "pianist", "upright piano", "concert grand", "acoustic piano", "piano player",
              "keyboardist"),
    "harpsichord": ("harpsichord", "harpsichordist", "baroque keyboard", "plucked keyboard", "virginal", "spinet"),
    "organ": ("organ", "church organ", "organist", "pipe organ", "cathedral organ", "organ pipes"),
    "drawbar_organ": ("drawbar organ", "electric organ", "jazz organ", "rock organ", "combo organ", "B3 organ"),
    "guitar": ("guitar", "acoustic guitar", "guitarist", "classical guitar", "nylon-string guitar", "Spanish guitar",
               "guitar player"),
    "steel_guitar": ("steel guitar", "steel-string guitar", "slide guitar", "pedal steel", "lap steel",
                     "bottleneck guitar"),
    "violin": ("violin", "violinist", "solo violin", "bowed violin", "violin player", "concert violin"),
    "viola": ("viola", "violist", "viola player", "bowed viola"),
    "cello": ("cello", "cellist", "cello player", "bowed cello"),
    "strings": ("strings", "string ensemble", "string section", "string orchestra", "orchestral strings", "violins",
                "chamber strings"),
    "voice": ("voice", "singer", "vocals", "human voice", "vocal line", "lead vocal", "tenor", "crooner"),
    "choir": ("choir", "chorus", "singers", "church choir", "vocal ensemble", "massed voices", "glee club"),
    "trumpet": ("trumpet", "trumpeter", "trumpet player", "jazz trumpet", "fanfare trumpet", "flugelhorn"),
    "french_horn": ("french horn", "horn", "horn player", "orchestral horn", "horn call"),
    "trombone": ("trombone", "trombonist", "slide trombone", "bass trombone", "trombone player"),
    "brass": ("brass", "brass ensemble", "brass section", "brass band", "brass choir", "brass quintet", "tuba"),
    "oboe": ("oboe", "oboe player", "double reed", "English horn", "oboe d'amore"),
    "clarinet": ("clarinet", "clarinetist", "clarinet player", "bass clarinet", "jazz clarinet", "single reed"),
    "bassoon": ("bassoon", "bassoonist", "contrabassoon", "bassoon player"),
    "flute": ("flute", "flautist", "flute player", "concert flute", "silver flute", "transverse flute"),
    "recorder": ("recorder", "recorder player", "descant recorder", "treble recorder", "wooden recorder",
                 "block flute"),
}
RICHER_FAMILY_WORDS = {
    "piano": ("piano", "keyboard", "keyboard instrument", "keys", "piano music"),
    "organ": ("organ", "organ sound", "organ music", "organ chords"),
    "guitar": ("guitar", "guitars", "plucked strings", "fretted strings", "guitar music"),
    "strings": ("strings", "bowed strings", "string quartet", "string orchestra", "violin family"),
    "voice": ("voices", "vocals", "singing", "vocal music", "sung"),
    "brass": ("brass", "brass quartet", "horns", "brass instruments", "brass band"),
    "reed": ("woodwinds", "reeds", "wind quartet", "reed instruments", "double reeds", "wind ensemble"),
    "pipe": ("flute", "flutes", "flute music", "airy flute", "breathy flute"),
}


@contextlib.contextmanager
def richer_vocabulary():
    """:mod:`helpers.captions` with :data:`RICHER_TRAIN_WORDS` as its training words (held-out side unchanged),
    restored on exit; a ValueError if the richer side shares a content word with the held-out side."""
    saved = dict(C.INSTRUMENT_WORDS), dict(C.FAMILY_WORDS)
    try:
        for table, richer in ((C.INSTRUMENT_WORDS, RICHER_TRAIN_WORDS), (C.FAMILY_WORDS, RICHER_FAMILY_WORDS)):
            for k, words in richer.items():
                table[k] = (words, table[k][1])
        if C.shared_words():
            raise ValueError(f"the richer training words share {sorted(C.shared_words())} with the held-out side")
        yield
    finally:
        C.INSTRUMENT_WORDS.clear(), C.INSTRUMENT_WORDS.update(saved[0])
        C.FAMILY_WORDS.clear(), C.FAMILY_WORDS.update(saved[1])


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=1200, help="train clips whose captions fit the probe")
    p.add_argument("--rich", type=int, default=3, help="rich training captions per train clip (besides one phrasing)")
    p.add_argument("--n-test", type=int, default=192, help="test clips (measure_control.py's --n)")
    p.add_argument("--other-encoder", default=None, help="a sentence-transformers folder to probe beside MiniLM")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/text_probe.json")
    p.add_argument("--overwrite-shipped", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    return args


class FolderEncoder:
    """A sentence-transformers model read from a folder on the disk (no hub): its sentence embeddings."""

    def __init__(self, folder):
        from sentence_transformers import SentenceTransformer

        self.folder = Path(folder)
        weights = self.folder / "model.safetensors"
        if not weights.exists():
            raise FileNotFoundError(f"--other-encoder {folder}: no model.safetensors (only safetensors weights are read)")
        self.sha256 = file_sha256(weights)
        self.model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)

    def pooled(self, texts: list[str]) -> torch.Tensor:
        return torch.as_tensor(self.model.encode(texts, batch_size=64, convert_to_numpy=True))


class MiniLM:
    def __init__(self):
        self.encoder = MiniLMEncoder()

    def pooled(self, texts: list[str]) -> torch.Tensor:
        return torch.cat([self.encoder.encode(texts[i : i + 128]).pooled for i in range(0, len(texts), 128)])


def probe_rows(encoder, name: str, corpus: AudioCorpus, args, families: list[str]) -> list[dict]:
    test = corpus.attributes("test")[: args.n_test]
    y_test = [families.index(a["family"]) for a in test]
    sets = {
        "heldout_phrasing": [c[0] for c in corpus.captions("test", heldout=True)[: args.n_test]],
        "heldout_vocabulary": [c[0] for c in corpus.described("test", 1, "heldout")[: args.n_test]],
        "trained_phrasing": [c[0] for c in corpus.captions("test")[: args.n_test]],
    }
    tested = {k: encoder.pooled(v) for k, v in sets.items()}  # the held-out side does not change with the vocabulary
    rows = []
    for vocabulary in ("shipped", "richer"):
        with richer_vocabulary() if vocabulary == "richer" else contextlib.nullcontext():
            t0 = time.time()
            train = corpus.attributes("train")[: args.n_train]
            phr = corpus.captions("train")[: args.n_train]
            rich = corpus.described("train", args.rich)[: args.n_train]
            texts = [t for p, r in zip(phr, rich) for t in [p[0], *r]]
            y = [families.index(a["family"]) for a in train for _ in range(1 + args.rich)]
            x = encoder.pooled(texts)
            n_words = len(C.vocabulary_words("train", frames=False))
            row = dict(encoder=name, vocabulary=vocabulary, n_training_words=n_words, n_train_captions=len(texts))
            for k, e in tested.items():
                r = linear_probe(x, y, e, y_test, n_classes=len(families))
                row[k] = r["test_accuracy"]
                row["train_accuracy"] = r["train_accuracy"]
            row["seconds"] = round(time.time() - t0, 1)
        print(row, flush=True)
        rows.append(row)
    return rows


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    corpus = AudioCorpus.build()
    families = sorted({a["family"] for a in corpus.attributes("train")})
    test_fams = [a["family"] for a in corpus.attributes("test")[: args.n_test]]
    chance = max(test_fams.count(f) for f in families) / len(test_fams)
    minilm = MiniLM()
    rows = probe_rows(minilm, "all-MiniLM-L6-v2", corpus, args, families)
    other = None
    if args.other_encoder:
        enc = FolderEncoder(args.other_encoder)
        other = dict(folder=enc.folder.name, model_sha256=enc.sha256,
                     n_params=sum(p.numel() for p in enc.model.parameters()))
        rows += probe_rows(enc, enc.folder.name, corpus, args, families)
    results = dict(
        command="python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]), threads=args.threads,
        corpus=corpus.recipe.hash(), minilm_fingerprint=MiniLMEncoder.fingerprint, caption_words=C.fingerprint(),
        minilm_params=sum(p.numel() for p in minilm.encoder.model.parameters()), other_encoder=other,
        n_train_clips=args.n_train, rich_per_clip=args.rich, n_test=args.n_test, families=families, chance=chance,
        rows=rows, wall_seconds=round(time.time() - t0, 1),
    )
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
