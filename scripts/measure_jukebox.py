"""Does the Jukebox pipeline of notebook 04 play the family it is asked for? Measured by two judges.

    .venv/bin/python scripts/measure_jukebox.py --out runs/jukebox_control.json
    .venv/bin/python scripts/measure_jukebox.py --upsampler mine=runs/upsampler.pt --guidance 1 2 --out runs/mine.json

For every upsampler (the shipped ones by default, or each ``--upsampler NAME=PATH``), and for a label-conditioned
one at every ``--guidance`` scale, the script samples ``--per-family`` 4-s clips top-down for each of the corpus's
instrument families (label -> top prior -> top codes -> upsampler -> bottom codes -> the hop-64 level's decoder; one
generator seeded with ``--seed`` per row, so every row starts from the same top codes), and asks two
judges which family they hear: the robust classifier (``classifier_robust.pt``, trained on real and codec-degraded
clips: the course's judge of generated audio) and the clean one (``classifier.pt``, real clips only). Reported per
upsampler and judge: accuracy with its Wilson 95% interval, per-family accuracy and the confusion matrix (rows: asked,
columns: heard). Beside them, the same judges on two references with the same families and counts: the held-out test
clips themselves and their reconstructions by the hop-64 level (the ceiling: a sample can keep no more of the
instrument than the level it is decoded by), and chance (1 / number of families).

The JSON records every checkpoint's SHA-256 so that notebook 04 can refuse a table of other weights. Runs on one
thread in a few minutes per upsampler.

Notebook: 04_jukebox_vqvae.ipynb. Reference: Dhariwal et al. 2020, "Jukebox" (arXiv:2005.00341), Sec. 4.
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

from helpers import jukebox as J  # noqa: E402
from helpers.audio_corpus import FAMILIES, AudioCorpus  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.classifier import load_classifier  # noqa: E402
from helpers.intervals import wilson_interval  # noqa: E402
from helpers.paths import shown_path  # noqa: E402
from helpers.vqvae import load_checkpoint as load_vqvae  # noqa: E402

JUDGES = {"robust": "classifier_robust.pt", "clean": "classifier.pt"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upsampler", action="append", default=[], metavar="NAME=PATH",
                   help="measure this upsampler (repeatable; default: the shipped upsampler_hop64*.pt files)")
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0, 2.0, 3.0],
                   help="guidance scales for a label-conditioned upsampler (1: the label as trained)")
    p.add_argument("--per-family", type=int, default=12, help="samples per family (default 12: 96 in all)")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/jukebox_control.json")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out inside {SHIPPED.relative_to(ROOT)}/")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    for spec in args.upsampler:
        if "=" not in spec:
            p.error(f"--upsampler takes NAME=PATH, got {spec!r}")
    if args.per_family < 1:
        p.error("--per-family must be >= 1")
    return args


def judge_table(asked: list[str], heard: list[str], families: list[str]) -> dict:
    """Accuracy with its Wilson interval, per-family accuracy and the confusion matrix (rows asked, columns heard)."""
    if len(asked) != len(heard) or not asked:
        raise ValueError(f"asked ({len(asked)}) and heard ({len(heard)}) must be equally long and not empty")
    hits = sum(a == h for a, h in zip(asked, heard))
    ci = wilson_interval(hits, len(asked))
    confusion = [[sum(a == f and h == g for a, h in zip(asked, heard)) for g in families] for f in families]
    per_family = {f: (row[i] / sum(row) if sum(row) else None) for i, (f, row) in enumerate(zip(families, confusion))}
    return {"accuracy": hits / len(asked), "low": ci.low, "high": ci.high, "n": len(asked),
            "per_family": per_family, "confusion": confusion}


def balanced_test_clips(corpus: AudioCorpus, per_family: int) -> tuple[np.ndarray, list[str]]:
    """The first ``per_family`` test clips of every family (fewer where a family has fewer): (N, T), their families."""
    fam = corpus.labels("test")["family"]
    idx = [i for k in range(len(FAMILIES)) for i in np.flatnonzero(fam == k)[:per_family]]
    return corpus.clips("test")[idx], [FAMILIES[fam[i]] for i in idx]


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build(verbose=False)
    sr = corpus.recipe.sr
    paths = {"top level": SHIPPED / "vqvae_hop256.pt", "bottom level": SHIPPED / "vqvae_hop64.pt",
             "top prior": SHIPPED / "prior_top.pt", **{k: SHIPPED / v for k, v in JUDGES.items()}}
    ups = ({s.split("=", 1)[0]: Path(s.split("=", 1)[1]) for s in args.upsampler} if args.upsampler else
           {"label at the top only": SHIPPED / "upsampler_hop64.pt",
            "label at both levels": SHIPPED / "upsampler_hop64_labels.pt"})
    top, bottom = load_vqvae(paths["top level"]).eval(), load_vqvae(paths["bottom level"]).eval()
    prior = J.load_top_prior(paths["top prior"])
    judges = {k: load_classifier(SHIPPED / v) for k, v in JUDGES.items()}
    families = list(FAMILIES)
    asked = [f for f in families for _ in range(args.per_family)]
    labels = torch.tensor([families.index(f) for f in asked])
    results = {"command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]), "seed": args.seed,
               "threads": args.threads, "per_family": args.per_family, "seconds": args.seconds,
               "temperature": args.temperature, "families": families, "chance": 1 / len(families),
               "checkpoints": {k: {"path": shown_path(p, ROOT), "sha256": file_sha256(p)} for k, p in paths.items()},
               "upsamplers": {}, "rows": [], "references": {}}
    # --- references: the real held-out clips and their hop-64 reconstructions ------------------------------------
    clips, clip_families = balanced_test_clips(corpus, args.per_family)
    recon = torch.cat([bottom.reconstruct(torch.from_numpy(clips[i:i + args.batch].copy()), sr=sr)
                       for i in range(0, len(clips), args.batch)])
    for name, audio in (("held-out test clips", torch.from_numpy(clips.copy())), ("hop-64 reconstructions", recon)):
        results["references"][name] = {k: judge_table(clip_families, j.predict(audio, sr=sr)["family"], families)
                                       for k, j in judges.items()}
    # --- top-down samples, one generator per upsampler (the same seed: the same top codes for each) ---------------
    for name, path in ups.items():
        up = J.load_upsampler(path)
        results["upsamplers"][name] = {"path": shown_path(path, ROOT), "sha256": file_sha256(path),
                                       "label_conditioned": bool(up.n_labels)}
        for guidance in (args.guidance if up.n_labels else [None]):
            g = torch.Generator().manual_seed(args.seed)
            t0 = time.perf_counter()
            audio = torch.cat([J.sample_top_down(top, bottom, prior, up, labels[i:i + args.batch], args.seconds, g,
                                                 temperature=args.temperature, guidance_scale=guidance)["audio"]
                               for i in range(0, len(labels), args.batch)])
            seconds = time.perf_counter() - t0
            r = {"upsampler": name, "guidance": guidance, "sampling_seconds": round(seconds, 1),
                 "x_real_time": len(labels) * args.seconds / seconds,
                 **{k: judge_table(asked, j.predict(audio, sr=sr)["family"], families) for k, j in judges.items()}}
            results["rows"].append(r)
            print(f"{name}, guidance {guidance}: robust {r['robust']['accuracy']:.2f} [{r['robust']['low']:.2f}, "
                  f"{r['robust']['high']:.2f}], clean {r['clean']['accuracy']:.2f} ({seconds:.0f} s, batch {args.batch})",
                  flush=True)
    for name, r in results["references"].items():
        print(f"{name}: robust {r['robust']['accuracy']:.2f}, clean {r['clean']['accuracy']:.2f}")
    write_results(Path(args.out), results)
    return results


if __name__ == "__main__":
    main()
