"""Measure notebook 05's control table: does the MusicGen LM's audio have the attributes its caption asks for?

    .venv/bin/python scripts/measure_control.py                    # writes runs/musicgen_control.json
    .venv/bin/python scripts/measure_control.py --out data/checkpoints/musicgen_control.json --overwrite-shipped

For the first ``--n`` clips of the corpus's TEST split, three captions each: in a held-out phrasing (a template never
used in training, ``AudioCorpus.captions('test', heldout=True)``), in the held-out *vocabulary* (words and frames no
training caption uses, ``AudioCorpus.described('test', 1, 'heldout')``, see ``helpers.captions``), and in a training
phrasing. For each set, generate ``--seconds`` of audio at each guidance scale
(``helpers.musicgen.control_accuracy``, seeds ``--seed + batch start``), judge it with the attribute classifier
(``--classifier``, default ``data/checkpoints/classifier_robust.pt``: trained also on the codec's reconstructions,
so it hears through the codec; it never sees the text) and by the clean classifier (``--clean-classifier``), and count how often it hears the caption's instrument
family, tempo band, mode and register. Also written: the same classifier on the real test clips and on their codec
reconstructions (the ceilings under this judge: no LM decoded by this codec is expected to beat the second), the chance level of every attribute, a row with the captions in a TRAINING phrasing at the last scale,
the classifier's predictions (for a confusion matrix), and the SHA-256 of the LM and codec files (notebook 05 checks
that the table belongs to the shipped LM).

Notebook: 05_musicgen.ipynb (section 6). Reference: Copet et al. 2023, Sec. 4 (text adherence; measured there with
CLAP and listeners, here with a classifier of the corpus's attributes).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import musicgen as mg  # noqa: E402
from helpers.audio_corpus import ATTRIBUTE_CLASSES, AudioCorpus  # noqa: E402
from helpers.classifier import load_classifier  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm", default=str(SHIPPED / "musicgen_lm.pt"))
    p.add_argument("--codec", default=None,
                   help="the codec the LM was trained on (default: the checkpoint whose SHA-256 the LM records, "
                        "beside it or shipped; helpers.musicgen.lm_codec_path)")
    p.add_argument("--classifier", default=str(SHIPPED / "classifier_robust.pt"),
                   help="the judge: an attribute classifier that hears through the codec (scripts/train_classifier.py "
                        "--augment); the clean classifier.pt hears decoded audio at chance")
    p.add_argument("--clean-classifier", default=str(SHIPPED / "classifier.pt"),
                   help="the second judge: the clean classifier (hears only what sounds like the real instrument)")
    p.add_argument("--n", type=int, default=192, help="number of test captions (clips)")
    p.add_argument("--scales", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0, 5.0])
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=250)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/musicgen_control.json")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out inside {SHIPPED.relative_to(ROOT)}/ (replaces the table notebook 05 loads)")
    args = p.parse_args(argv)
    if args.n < 1 or args.seconds <= 0 or not args.scales:
        p.error("--n must be >= 1, --seconds > 0, and at least one --scales value given")
    refuse_shipped_paths(p, args, ("out",))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build()
    args.codec = str(mg.lm_codec_path(args.lm) if args.codec is None else args.codec)
    pipe = mg.load_pipeline(args.lm, args.codec)  # refuses a codec other than the one the LM records
    codec = pipe.codec
    classifier, clean = load_classifier(args.classifier), load_classifier(args.clean_classifier)
    n = min(args.n, corpus.recipe.n_clips("test"))
    attrs = corpus.attributes("test")[:n]
    caption_sets = {  # every set: one caption per test clip, stating the clip's attributes
        "heldout_phrasing": [c[0] for c in corpus.captions("test", heldout=True)[:n]],
        "heldout_vocabulary": [c[0] for c in corpus.described("test", 1, "heldout")[:n]],
        "trained_phrasing": [c[0] for c in corpus.captions("test")[:n]],
    }
    sampling = dict(temperature=args.temperature, top_k=args.top_k)
    table, seconds = {}, {}
    for name, captions in caption_sets.items():
        t0 = time.time()
        table[name] = mg.control_accuracy(pipe, classifier, captions, attrs, scales=args.scales, seconds=args.seconds,
                                          seed=args.seed, batch_size=args.batch_size, other_judges={"clean": clean},
                                          **sampling)
        seconds[name] = round(time.time() - t0, 1)
        for r in table[name]:
            print(name, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()
                         if k not in ("predicted", "judges")},
                  "clean:", {k: round(v, 3) for k, v in r["judges"]["clean"].items() if k != "predicted"}, flush=True)
    real = torch.from_numpy(corpus.clips("test")[:n].copy())
    real = real[:, : int(args.seconds * codec.config.sample_rate)]

    def accuracy(judge, audio):
        judged = judge.predict(audio[:, None], sr=codec.config.sample_rate)  # (n, 1, T): n clips
        return {k: float(np.mean([p == a[k] for p, a in zip(v, attrs)])) for k, v in judged.items()
                if k in ATTRIBUTE_CLASSES}

    with torch.no_grad():  # the same clips through the codec: the best the LM can do under this judge
        decoded = torch.cat([codec.reconstruct(real[i : i + 32, None], sr=codec.config.sample_rate).reshape(-1, real.shape[1])
                             for i in range(0, n, 32)])  # (n, T)
    ceilings = {judge_name: {"real_clips": accuracy(judge, real), "real_clips_decoded": accuracy(judge, decoded)}
                for judge_name, judge in (("robust", classifier), ("clean", clean))}
    out = dict(
        command="python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        lm_sha256=file_sha256(args.lm), codec_sha256=file_sha256(args.codec),
        classifier_sha256=file_sha256(args.classifier), clean_classifier_sha256=file_sha256(args.clean_classifier),
        corpus=corpus.recipe.hash(), pattern=pipe.pattern, text_pooling=pipe.text_pooling,
        n=n, seconds=args.seconds, seed=args.seed, threads=args.threads, sampling=sampling,
        captions=caption_sets, attributes=[{k: a[k] for k in ATTRIBUTE_CLASSES} for a in attrs],
        chance={k: 1 / len(v) for k, v in ATTRIBUTE_CLASSES.items()},
        rows=table["heldout_phrasing"], rows_vocabulary=table["heldout_vocabulary"],
        rows_trained=table["trained_phrasing"],
        real_clips=ceilings["robust"]["real_clips"], real_clips_decoded=ceilings["robust"]["real_clips_decoded"],
        ceilings=ceilings, sweep_seconds=seconds,
    )
    path = write_results(args.out, out)
    print("ceilings:", {j: {k: {a: round(v, 3) for a, v in d.items()} for k, d in c.items()} for j, c in ceilings.items()},
          f"; wrote {path}")
    return out


if __name__ == "__main__":
    main()
