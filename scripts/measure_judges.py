"""Do the judges hear the instrument, or the corpus? Attribute accuracy on music outside the corpus, clean and decoded.

    .venv/bin/python scripts/measure_judges.py --threads 1 --out runs/judges/before.json
    .venv/bin/python scripts/measure_judges.py --judges runs/judges/classifier.pt runs/judges/classifier_robust.pt \
        --threads 1 --out runs/judges/after.json

For every judge (``--judges``: attribute classifiers, ``helpers.classifier.load_classifier``, SHA-256 checked against
their JSON) and every kind of music (``--kinds``: ``corpus``, the default audio corpus's split; and the kinds of
``helpers.other_music``, the first ``--n`` clips of their split: random melodies, random chord progressions,
O'Neill's tunes, all played by the corpus's instruments), the script predicts instrument family, tempo band, mode
and register of the clean clips and of their reconstructions by each decoder (``--decoders``: the ISTFT codec
with all 4 codebooks, the codec; ``helpers.classifier.reconstructions``, cached in ``--work``), and reports the
accuracy per attribute with its Wilson 95% interval (``helpers.intervals.wilson_interval``) and the confusion
matrix. Every judge's record says which kinds of other music it was trained on (its JSON's ``other_music``), so
the table shows which kinds are held out for it.

The JSON records the command, the SHA-256 of every checkpoint, the recipe hash of every kind and the seconds taken.

Notebook: 06_evaluation.ipynb (can the judges be trusted outside their corpus?).
Reference: leave-one-domain-out evaluation, Gulrajani & Lopez-Paz 2021 ("In Search of Lost Domain Generalization").
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers.audio_corpus import AudioCorpus, CorpusRecipe  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.classifier import decoder_codebooks, evaluate_predictions, load_classifier, reconstructions  # noqa: E402
from helpers.intervals import wilson_interval  # noqa: E402
from helpers.other_music import KINDS as OTHER_KINDS, build as build_other  # noqa: E402
from helpers.paths import shown_path  # noqa: E402

KINDS = ("corpus",) + OTHER_KINDS
SPLITS = ("train", "valid", "test")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--judges", nargs="+", default=[str(SHIPPED / "classifier.pt"), str(SHIPPED / "classifier_robust.pt")],
                   metavar="CKPT", help="attribute classifiers to measure (default: the two shipped judges)")
    p.add_argument("--kinds", nargs="+", default=list(KINDS), metavar="KIND", help=f"music to measure on: {KINDS}")
    p.add_argument("--split", default="test", help="the split of every kind (default test: never trained on)")
    p.add_argument("--n", type=int, default=200, help="clips per kind of other music (the first n of the split)")
    p.add_argument("--n-corpus", type=int, default=None, help="clips of the corpus (default: the whole split)")
    p.add_argument("--decoders", nargs="*", default=[str(SHIPPED / "codec_istft.pt"), str(SHIPPED / "codec.pt")],
                   metavar="CKPT", help="decoders whose reconstructions are judged too (all their codebooks)")
    p.add_argument("--other-music-seed", type=int, default=0, help="seed of the other-music recipes")
    p.add_argument("--cache-dir", default=None, help="cache of the audio corpus and other music (default: the course cache)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--work", default="runs/judges/measure", help="folder of the reconstruction cache")
    p.add_argument("--out", default="runs/judges/measure.json")
    p.add_argument("--overwrite-shipped", action="store_true", help="allow --out inside data/checkpoints/")
    args = p.parse_args(argv)
    bad = [k for k in args.kinds if k not in KINDS]
    if bad:
        p.error(f"--kinds: unknown {bad}; choose from {KINDS}")
    if args.split not in SPLITS:
        p.error(f"--split must be one of {SPLITS}, got {args.split!r}")
    if args.n < 1:
        p.error(f"--n must be >= 1, got {args.n}")
    if args.n_corpus is not None and args.n_corpus < 1:
        p.error(f"--n-corpus must be >= 1, got {args.n_corpus}")
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    for name in ("judges", "decoders"):
        for path in getattr(args, name):
            if not Path(path).is_file():
                p.error(f"--{name} {path}: no such checkpoint")
    stems = [Path(d).stem for d in args.decoders]
    if len(set(stems)) < len(stems) or "clean" in stems:
        p.error(f"--decoders: their file names must differ from each other and from 'clean', got {stems}")
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


def music(kind: str, args) -> tuple[AudioCorpus, dict]:
    """The clips of one kind (its ``--split``, the first ``--n`` clips) and a record of where they come from."""
    if kind == "corpus":
        source = AudioCorpus.build(CorpusRecipe(), cache_dir=args.cache_dir, progress=False)
        n = source.recipe.n_clips(args.split) if args.n_corpus is None else args.n_corpus
    else:
        source = build_other(kind, seed=args.other_music_seed, cache_dir=args.cache_dir, progress=False)
        n = args.n
    if n > source.recipe.n_clips(args.split):
        raise ValueError(f"{kind}: --n {n} asks for more than the {source.recipe.n_clips(args.split)} clips of its "
                         f"{args.split} split")
    return source, {"recipe": source.recipe.hash(), "split": args.split, "clips": n,
                    "seed": source.recipe.seed}


def accuracy_table(pred: dict, labels: dict, heads) -> dict:
    """Per attribute: accuracy, its Wilson 95% interval, correct/n and the confusion matrix."""
    out = {}
    for name, r in evaluate_predictions(pred, labels, heads).items():
        correct = int(np.trace(np.asarray(r["confusion"])))
        ci = wilson_interval(correct, r["n"])
        out[name] = {"accuracy": r["accuracy"], "low": ci.low, "high": ci.high, "correct": correct, "n": r["n"],
                     "confusion": r["confusion"], "classes": r["classes"]}
    return out


def judge_record(path: str) -> dict:
    """What a judge is: its SHA-256 and what it was trained on (from its JSON)."""
    meta_path = Path(path).with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    trained = [o["kind"] for o in meta.get("other_music", [])]
    return {"path": shown_path(path, ROOT), "sha256": file_sha256(path), "corpus": meta.get("corpus_recipe"),
            "other_music": meta.get("other_music", []), "augment": [a["checkpoint"] for a in meta.get("augment", [])],
            "trained_kinds": ["corpus"] + trained}


def cell(r: dict) -> str:
    return f"{r['accuracy']:.3f} [{r['low']:.2f}, {r['high']:.2f}]"


def markdown(report: dict) -> str:
    """One table per judge: rows kind x audio, columns the four attributes (accuracy [Wilson 95%])."""
    lines = []
    for judge, per_kind in report["results"].items():
        rec = report["judges"][judge]
        lines += [f"\n{judge} ({rec['path']}; trained on: {', '.join(rec['trained_kinds'])})\n",
                  "| music | held out | audio | family | tempo band | mode | register |", "|---|---|---|---|---|---|---|"]
        for kind, per_audio in per_kind.items():
            held = "no (test split)" if kind in rec["trained_kinds"] else "yes (whole kind)"
            for audio, r in per_audio.items():
                lines.append(f"| {kind} | {held} | {audio} | " + " | ".join(cell(r[a]) for a in
                                                                           ("family", "tempo_band", "mode", "register")) + " |")
    return "\n".join(lines)


@torch.no_grad()
def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    judges = {}
    for path in args.judges:
        name = Path(path).stem if Path(path).stem not in judges else shown_path(path, ROOT)
        judges[name] = (path, load_classifier(path))
    sr = next(iter(judges.values()))[1].config.sr
    data, results = {}, {name: {} for name in judges}
    for kind in args.kinds:
        source, data[kind] = music(kind, args)
        n = data[kind]["clips"]
        clean = source.clips(args.split)[:n]
        labels = {k: v[:n] for k, v in source.labels(args.split).items()}
        versions = {"clean": clean}
        for d in args.decoders:
            versions[Path(d).stem] = reconstructions(d, clean, sr, Path(args.work) / "recon")
        for name, (_, model) in judges.items():
            results[name][kind] = {v: accuracy_table(model.predict(audio, sr), labels, model.config.heads)
                                   for v, audio in versions.items()}
            print(f"{name} on {kind}: " + "; ".join(
                f"{v} family {r['family']['accuracy']:.3f}" for v, r in results[name][kind].items()), flush=True)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    report = {
        "command": command, "threads": args.threads, "seconds": round(time.time() - t0, 1),
        "judges": {name: judge_record(path) for name, (path, _) in judges.items()},
        "decoders": {Path(d).stem: {"path": shown_path(d, ROOT), "sha256": file_sha256(d),
                                    "n_q": decoder_codebooks(d) or "all"} for d in args.decoders},
        "music": data,
        "results": results,
    }
    write_results(args.out, report)
    print(markdown(report))
    print(f"\nwrote {args.out} ({report['seconds']:.0f} s)")
    return report


if __name__ == "__main__":
    main()
