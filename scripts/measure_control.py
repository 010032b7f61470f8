"""Measure notebook 05's control table: does the MusicGen LM's audio have the attributes its caption asks for?

    .venv/bin/python scripts/measure_control.py                    # writes runs/musicgen_control.json
    .venv/bin/python scripts/measure_control.py --out data/checkpoints/musicgen_control.json --overwrite-shipped

For the first ``--n`` clips of the corpus's TEST split, the caption in the held-out phrasing (a template never used in
training, ``AudioCorpus.captions('test', heldout=True)``): generate ``--seconds`` of audio at each guidance scale
(``helpers.musicgen.control_accuracy``, seeds ``--seed + batch start``), judge it with the attribute classifier
(``--classifier``, default ``data/checkpoints/classifier_robust.pt``: trained also on the codec's reconstructions,
so it hears through the codec; it never sees the text), and count how often it hears the caption's instrument
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
from helpers.codec import load_checkpoint as load_codec  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.transformer import load_checkpoint  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm", default=str(SHIPPED / "musicgen_lm.pt"))
    p.add_argument("--codec", default=str(SHIPPED / "codec.pt"))
    p.add_argument("--classifier", default=str(SHIPPED / "classifier_robust.pt"),
                   help="the judge: an attribute classifier that hears through the codec (scripts/train_classifier.py "
                        "--augment); the clean classifier.pt hears decoded audio at chance")
    p.add_argument("--n", type=int, default=96, help="number of test captions (clips)")
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
    codec = load_codec(args.codec).eval()
    from helpers.text_encoder import MiniLMEncoder

    pipe = mg.MusicGen(codec, load_checkpoint(args.lm), MiniLMEncoder())
    classifier = load_classifier(args.classifier)
    n = min(args.n, corpus.recipe.n_clips("test"))
    attrs = corpus.attributes("test")[:n]
    heldout = [c[0] for c in corpus.captions("test", heldout=True)[:n]]
    trained = [c[0] for c in corpus.captions("test")[:n]]
    sampling = dict(temperature=args.temperature, top_k=args.top_k)
    t0 = time.time()
    rows = mg.control_accuracy(pipe, classifier, heldout, attrs, scales=args.scales, seconds=args.seconds,
                               seed=args.seed, batch_size=args.batch_size, **sampling)
    seconds_sweep = time.time() - t0
    phrasing = mg.control_accuracy(pipe, classifier, trained, attrs, scales=args.scales[-1:], seconds=args.seconds,
                                   seed=args.seed, batch_size=args.batch_size, **sampling)[0]
    real = torch.from_numpy(corpus.clips("test")[:n].copy())
    real = real[:, : int(args.seconds * codec.config.sample_rate)]
    def accuracy(audio):
        judged = classifier.predict(audio[:, None], sr=codec.config.sample_rate)  # (n, 1, T): n clips
        return {k: float(np.mean([p == a[k] for p, a in zip(v, attrs)])) for k, v in judged.items() if k in rows[0]}

    ceiling = accuracy(real)
    with torch.no_grad():  # the same clips through the codec: the best the LM can do under this judge
        decoded = torch.cat([codec.reconstruct(real[i : i + 32, None], codec.config.sample_rate)  # (b, 1, T): b clips
                             for i in range(0, n, 32)])
    ceiling_decoded = accuracy(decoded)
    out = dict(
        command="python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        lm_sha256=file_sha256(args.lm), codec_sha256=file_sha256(args.codec),
        classifier_sha256=file_sha256(args.classifier), corpus=corpus.recipe.hash(),
        n=n, seconds=args.seconds, seed=args.seed, threads=args.threads, sampling=sampling,
        captions_heldout=heldout, attributes=[{k: a[k] for k in ATTRIBUTE_CLASSES} for a in attrs],
        chance={k: 1 / len(v) for k, v in ATTRIBUTE_CLASSES.items()},
        rows=rows, trained_phrasing=phrasing, real_clips=ceiling, real_clips_decoded=ceiling_decoded, sweep_seconds=round(seconds_sweep, 1),
    )
    path = write_results(args.out, out)
    for r in rows + [dict(phrasing, guidance_scale=f"{phrasing['guidance_scale']:g} (trained phrasing)")]:
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "predicted"}, flush=True)
    print("real clips:", {k: round(v, 3) for k, v in ceiling.items()},
          "; through the codec:", {k: round(v, 3) for k, v in ceiling_decoded.items()}, f"; sweep {seconds_sweep:.0f} s; wrote {path}")
    return out


if __name__ == "__main__":
    main()
