"""Notebook 04's codebook ablation, run long enough to show what EMA averaging and restarts are each for.

    .venv/bin/python scripts/ablate_codebook.py --steps 1500 --out runs/codebook_ablation.json

Section 4 of notebook 04 trains four small hop-64 levels for 60 steps, equal in everything but the codebook's update
(:data:`helpers.vqvae.ABLATION_VARIANTS`: EMA 0.99 + restarts, no restarts, no averaging, neither), and finds the
reconstructions still equal. This script runs the same four (the notebook's configuration, learning rate, batch and
crops, :func:`helpers.vqvae.codebook_ablation_run`) for ``--steps`` steps, validating every ``--eval-every`` on
``--n-valid`` half-second crops of the validation clips: codebook usage and perplexity, the relative waveform error and
the multi-resolution STFT distance, and the codebook's movement per step (averaged over each validation interval).
The JSON (command, seed, threads, machine, wall time, the curves) is what the notebook plots next to its live runs.

Notebook: 04_jukebox_vqvae.ipynb (section 4). Reference: Dhariwal et al. 2020 (Jukebox), Sec. 3.1 (random restarts);
van den Oord et al. 2017, Appendix A.1 (EMA updates).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import vqvae  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.checkpoints import refuse_shipped_paths, write_results  # noqa: E402

LEVEL = vqvae.ABLATION_LEVEL  # notebook 04, section 4 (ABLATION)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--n-valid", type=int, default=32, help="half-second validation crops (multiple of 8)")
    p.add_argument("--codebook-size", type=int, default=LEVEL["codebook_size"])
    p.add_argument("--variants", nargs="+", default=list(vqvae.ABLATION_VARIANTS), choices=list(vqvae.ABLATION_VARIANTS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/codebook_ablation.json")
    p.add_argument("--overwrite-shipped", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    if args.steps < 1 or args.eval_every < 1:
        p.error("--steps and --eval-every must be >= 1")
    if args.n_valid < 8 or args.n_valid % 8:
        p.error(f"--n-valid must be a positive multiple of 8, got {args.n_valid}")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    corpus = AudioCorpus.build(verbose=False)
    clips = corpus.clips("valid")
    if len(clips) < args.n_valid:
        raise ValueError(f"--n-valid {args.n_valid}: the validation split has {len(clips)} clips")
    valid = [torch.from_numpy(clips[i : i + 8, :8000].copy()) for i in range(0, args.n_valid, 8)]  # (8, 0.5 s) each
    runs = {}
    for label in args.variants:
        cfg = vqvae.VQVAEConfig(sample_rate=corpus.recipe.sr, **{**LEVEL, "codebook_size": args.codebook_size},
                                **vqvae.ABLATION_VARIANTS[label])
        h = vqvae.codebook_ablation_run(cfg, corpus.random_crops("train", 0.25), valid, args.steps,
                                        eval_every=args.eval_every, seed=args.seed)
        move = np.asarray(h["movement"])
        edges = [0, *h["valid_step"]]  # the mean movement over each validation interval
        runs[label] = dict(config_changes=vqvae.ABLATION_VARIANTS[label], valid_step=h["valid_step"],
                           valid_metrics={k: h["valid_metrics"][k] for k in ("usage", "perplexity", "recon", "spectral")},
                           movement=[float(move[a:b].mean()) for a, b in zip(edges[:-1], edges[1:])],
                           seconds=h["seconds"])
        last = {k: v[-1] for k, v in runs[label]["valid_metrics"].items()}
        print(f"{label:22s} {h['seconds']:6.0f} s  " + "  ".join(f"{k} {v:.3f}" for k, v in last.items()), flush=True)
    command = "python scripts/ablate_codebook.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = dict(command=command, seed=args.seed, threads=args.threads, steps=args.steps,
                  eval_every=args.eval_every, n_valid=args.n_valid, corpus=corpus.recipe.hash(),
                  config={**LEVEL, "codebook_size": args.codebook_size, "sample_rate": corpus.recipe.sr},
                  training=dict(lr=2e-3, batch_size=8, crop_seconds=0.25, warmup_steps=5, min_lr=1e-4),
                  machine=f"{platform.machine()}, {args.threads} torch threads, no GPU, torch {torch.__version__}",
                  load_average=os.getloadavg()[0], runs=runs, wall_seconds=round(time.time() - t0, 1))
    write_results(args.out, result)
    print(f"wrote {args.out} ({result['wall_seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
