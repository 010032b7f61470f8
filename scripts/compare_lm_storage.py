"""Two copies of one MusicGen LM (e.g. its float16 file and the int8 file of ``scripts/compress_lm.py``), sampled the
way notebook 06 samples its MusicGen row, several seeds each: does the storage move the one-scale FAD or the family
heard more than the seed does?

    git show <commit>:data/checkpoints/musicgen_lm.pt > runs/musicgen_lm_fp16.pt     # the float16 file, from git
    .venv/bin/python scripts/compare_lm_storage.py --lm runs/musicgen_lm_fp16.pt data/checkpoints/musicgen_lm.pt \\
        --seeds 0 1000 2000 3000 4000 --out runs/lm_storage.json

Per LM and seed offset s: notebook 06's 143 held-out chorale clips, their held-out-phrasing captions, 4 s each at
guidance 3, clip i with seed i + s (notebook 06 uses s = 0); the plug-in Fréchet distance in the clean classifier's
embedding to notebook 06's reference half, the grouped-jackknife estimate with its 95% interval, and the family heard by
the robust judge. The JSON holds every run, each LM's SHA-256, and the mean and standard deviation over seeds.

Notebook: 06_evaluation.ipynb (the one scale), 05_musicgen.ipynb (the LM's storage).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import audio_eval, musicgen  # noqa: E402
from helpers.audio_corpus import AudioCorpus, captions_of  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.classifier import load_classifier  # noqa: E402
from helpers.data import DATA_DIR  # noqa: E402
from helpers.fad import fad_jackknife  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm", nargs="+", required=True, help="LM checkpoints to compare")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1000, 2000, 3000, 4000], help="seed offsets")
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/lm_storage.json")
    p.add_argument("--overwrite-shipped", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    corpus = AudioCorpus.build(verbose=False)
    sr, seconds = corpus.recipe.sr, corpus.recipe.clip_seconds
    pool_attrs, pool_audio, ref_pos, held_pos = audio_eval.one_scale_halves(corpus)  # notebook 06's halves
    held_attrs = [pool_attrs[i] for i in held_pos]
    prompts = [captions_of(a, heldout=True)[i % 2] for i, a in enumerate(held_attrs)]
    clean, judge = load_classifier(), load_classifier(DATA_DIR / "checkpoints" / "classifier_robust.pt")
    embed = lambda a: clean.embed(a, sr=sr).numpy().astype(np.float64)  # noqa: E731
    ref, ref_groups = embed(pool_audio[ref_pos]), np.array([pool_attrs[i]["piece_id"] for i in ref_pos])
    runs = []
    for path in args.lm:
        pipe = musicgen.load_pipeline(path)
        for s in args.seeds:
            with torch.no_grad():
                audio = torch.cat([pipe.generate(prompts[i : i + args.batch_size], seconds=seconds,
                                                 guidance_scale=args.guidance, seed=i + s)
                                   for i in range(0, len(prompts), args.batch_size)]).numpy()
            f = fad_jackknife(ref, embed(audio), np.random.default_rng(0), reference_groups=ref_groups)
            family = audio_eval.attribute_accuracy(judge.predict(audio, sr=sr), held_attrs, ("family",))["family"]
            runs.append(dict(lm=str(path), seed_offset=s, fad=float(f.fad), fad_bias_corrected=float(f.estimate),
                             low=float(f.low), high=float(f.high), family=float(family.estimate)))
            print(runs[-1], flush=True)
    summary = {}
    for path in args.lm:
        mine = [r for r in runs if r["lm"] == str(path)]
        summary[str(path)] = dict(sha256=file_sha256(path), **{
            f"{k}_{stat}": float(fn([r[k] for r in mine])) for k in ("fad", "family")
            for stat, fn in (("mean", np.mean), ("std", lambda v: np.std(v, ddof=1)))})
    results = dict(command="python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]), seeds=args.seeds,
                   guidance=args.guidance, n_clips=len(prompts), threads=args.threads, summary=summary, runs=runs,
                   wall_seconds=round(time.time() - t0, 1))
    write_results(args.out, results)
    print(summary)
    return results


if __name__ == "__main__":
    main()
