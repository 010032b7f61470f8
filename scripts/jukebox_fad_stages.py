"""Where along notebook 04's hierarchy does the Jukebox row of notebook 06 move away from real clips? Each stage's
output on notebook 06's one scale.

    .venv/bin/python scripts/jukebox_fad_stages.py --out runs/jukebox_fad_stages.json
    .venv/bin/python scripts/jukebox_fad_stages.py --upsamplers data/checkpoints/upsampler_hop256.pt runs/up.pt

Notebook 06's held-out chorale clips (cut to whole top codes, padded back to the clip with silence, as its Jukebox row
is) go down the hierarchy as far as a stage and come back up through the bottom level's decoder:

- ``reconstruction``: the bottom level's own codes (the row's bound in notebook 06);
- ``middle codes, last upsampler``: the clips' own middle-level codes, the bottom upsampler writes the rest;
- ``top codes, both upsamplers``: the clips' own top-level codes, both upsamplers write the rest;
- ``top-down``: nothing of the clip but its labels (those the top prior takes: family, tempo band, mode, register): the
  top prior writes the top codes (notebook 06's Jukebox row, sampled the same way: batches of 32, one generator seeded
  with ``--seed``).

Each upsampled row at every ``--guidance`` scale (the clip's label at the upsamplers, the attributes each one takes).
Per row: the plug-in Fréchet distance in the clean classifier's embedding to notebook 06's reference half, the
grouped jackknife's bias-corrected estimate with its 95% interval, the same distance with every clip at the corpus's
peak (:func:`helpers.audio_eval.match_peak`), and the family heard by the robust judge. The JSON holds the checkpoints'
SHA-256; notebook 04 loads it.

Notebook: 04_jukebox_vqvae.ipynb (section 6), 06_evaluation.ipynb (section 5).
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import audio_eval, jukebox  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.classifier import load_classifier  # noqa: E402
from helpers.fad import fad_jackknife  # noqa: E402
from helpers.paths import shown_path  # noqa: E402

BATCH = 32  # notebook 06's batch (the top-down row's generator draws batch by batch)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upsamplers", nargs=2, default=[str(SHIPPED / n) for n in jukebox.SHIPPED_UPSAMPLERS],
                   help="the middle and the bottom upsampler (default: the shipped ones)")
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0, 5.0])
    p.add_argument("--n", type=int, default=None, help="only the first n held-out clips (default: all, as notebook 06)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/jukebox_fad_stages.json")
    p.add_argument("--overwrite-shipped", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    if args.n is not None and args.n < 16:
        p.error("--n must be >= 16 (the jackknife interval uses 16 blocks of clips)")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    corpus = AudioCorpus.build(verbose=False)
    sr, T = corpus.recipe.sr, corpus.recipe.clip_samples
    pool_attrs, pool_audio, ref_pos, held_pos = audio_eval.one_scale_halves(corpus)  # notebook 06's halves
    held_pos = held_pos[: args.n]
    attrs = [pool_attrs[i] for i in held_pos]
    pipe = jukebox.load_pipeline()
    levels, prior = pipe["levels"], pipe["prior"]
    ups = [jukebox.load_upsampler(p) for p in args.upsamplers]
    paths = {**pipe["paths"], **dict(zip(jukebox.SHIPPED_UPSAMPLERS, map(Path, args.upsamplers)))}
    top_hop = levels[0].hop
    held = torch.from_numpy(pool_audio[held_pos][:, : (T // top_hop) * top_hop].copy())  # whole top codes
    clean = load_classifier()
    judge = load_classifier(SHIPPED / "classifier_robust.pt")
    embed = lambda a: clean.embed(a, sr=sr).numpy().astype(np.float64)  # noqa: E731
    ref, ref_groups = embed(pool_audio[ref_pos]), np.array([pool_attrs[i]["piece_id"] for i in ref_pos])
    labels = torch.cat([jukebox.label_of(prior, **{k: a[k] for k in prior.label_names}) for a in attrs])
    batches = range(0, len(held), BATCH)
    rows = []

    held_groups = np.array([a["piece_id"] for a in attrs])  # rows made from the clips' own codes: grouped by piece
    n_groups = min(16, len(set(held_groups)))  # notebook 06's 16 blocks (fewer only for a short --n)

    def score(row: str, guidance, audio: torch.Tensor):
        a = torch.nn.functional.pad(audio, (0, T - audio.shape[-1])).numpy()  # (N, T): padded as notebook 06 pads
        groups = None if row == "top-down" else held_groups  # notebook 06 groups the rows made from real clips
        f, at_peak = (fad_jackknife(ref, embed(x), np.random.default_rng(0), n_groups, reference_groups=ref_groups,
                                    generated_groups=groups) for x in (a, audio_eval.match_peak(a)))
        fam = audio_eval.attribute_accuracy(judge.predict(a, sr=sr), attrs, ("family",))["family"]
        rows.append(dict(row=row, guidance=guidance, fad=float(f.fad), fad_corrected=float(f.estimate),
                         fad_low=float(f.low), fad_high=float(f.high), fad_at_corpus_peak=float(at_peak.fad),
                         family=float(fam.estimate), family_low=float(fam.low), family_high=float(fam.high)))
        print(rows[-1], flush=True)

    def decode(codes: torch.Tensor) -> torch.Tensor:  # bottom codes (N, L) -> audio (N, L * hop)
        return torch.cat([levels[-1].decode(codes[i : i + BATCH][:, None]).reshape(len(codes[i : i + BATCH]), -1)
                          for i in batches])

    with torch.no_grad():
        own = [torch.cat([jukebox.level_encode(lv, held[i : i + BATCH, None], sr) for i in batches]) for lv in levels]
        score("reconstruction", None, decode(own[-1]))
        for g in args.guidance:
            for name, start, chain in (("middle codes, last upsampler", own[1], ups[1:]),
                                       ("top codes, both upsamplers", own[0], ups)):
                gen = torch.Generator().manual_seed(args.seed)
                low = torch.cat([jukebox.upsample_codes(start[i : i + BATCH], chain, gen, label=labels[i : i + BATCH],
                                                        guidance_scale=g, label_names=prior.label_names)[-1]
                                 for i in batches])
                score(name, g, decode(low))
            gen = torch.Generator().manual_seed(args.seed)
            score("top-down", g, torch.cat([jukebox.sample_top_down(levels, prior, ups, labels[i : i + BATCH],
                                                                    corpus.recipe.clip_seconds, gen,
                                                                    guidance_scale=g)["audio"] for i in batches]))
    real = fad_jackknife(ref, embed(pool_audio[held_pos]), np.random.default_rng(0), n_groups,
                         reference_groups=ref_groups, generated_groups=held_groups)
    command = "python scripts/jukebox_fad_stages.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = dict(command=command, seed=args.seed, threads=args.threads, n_clips=len(held_pos),
                  corpus=corpus.recipe.hash(), n_groups=n_groups, real_fad=float(real.fad),
                  checkpoints={k: {"path": shown_path(p, ROOT), "sha256": file_sha256(p)} for k, p in paths.items()},
                  machine=f"{platform.machine()}, {args.threads} torch threads, no GPU, torch {torch.__version__}",
                  rows=rows, wall_seconds=round(time.time() - t0, 1))
    write_results(args.out, result)
    print(f"wrote {args.out} ({result['wall_seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
