"""Why Jukebox trains its levels apart: a two-level hierarchy with one shared decoder (VQ-VAE-2's design), trained on
the course's clips, and how much its top level carries; beside it the same top level trained on its own.

    .venv/bin/python scripts/shared_hierarchy.py --steps 2000 --out runs/shared_hierarchy.json

:class:`helpers.vqvae.SharedHierarchy` (bottom hop ``--hop``, top hop 4x that, one decoder reading both levels' codes)
is trained with the VQ-VAE loss of :func:`helpers.vqvae.loss_fn` on random half-second crops of the train clips.
Every ``--eval-every`` steps :func:`helpers.vqvae.hierarchy_reliance` scores ``--n-valid`` one-second validation crops:
the multi-resolution STFT distance to the clip of the reconstruction from its own codes, with the top codes (or the
bottom codes, or both) of another clip, and of silence. Then a :class:`helpers.vqvae.VQVAE` with the top level's hop
and the same widths and codebook is trained alone for the same steps (Jukebox's separated autoencoders, Sec. 3.2), and
scored the same way (its own reconstruction, another clip's). The JSON holds the command, seed, threads, machine,
wall time and the curves; notebook 04 (section 8) plots it.

Notebook: 04_jukebox_vqvae.ipynb. Reference: Dhariwal et al. 2020 (Jukebox), Sec. 3.2 ("the top level is bypassed or
collapses"); Razavi et al. 2019 (VQ-VAE-2), Sec. 3.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import training, vqvae  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.audio_quality import multi_resolution_stft_loss  # noqa: E402
from helpers.checkpoints import refuse_shipped_paths, write_results  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--hop", type=int, default=64, help="the bottom level's hop (the top level's is 4x)")
    p.add_argument("--codebook-size", type=int, default=256)
    p.add_argument("--width", type=int, default=32, help="channels and code width")
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--n-valid", type=int, default=32, help="one-second validation crops")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/shared_hierarchy.json")
    p.add_argument("--overwrite-shipped", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    if min(args.steps, args.eval_every, args.n_valid - 1) < 1:
        p.error("--steps and --eval-every must be >= 1, --n-valid >= 2 (clips swap codes)")
    return args


@torch.no_grad()
def separate_scores(model: vqvae.VQVAE, audio: torch.Tensor) -> dict:
    """A level trained alone, scored as :func:`helpers.vqvae.hierarchy_reliance` scores the shared one."""
    codes = model.encode(audio[:, None], sr=model.config.sample_rate)
    dist = lambda y: float(multi_resolution_stft_loss(audio, y[:, : audio.shape[-1]]))  # noqa: E731
    usage, perplexity = vqvae.code_statistics(codes, model.config.codebook_size)
    return dict(own=dist(model.decode(codes)), swapped=dist(model.decode(codes.roll(1, 0))),
                silence=dist(torch.zeros_like(audio)), usage=float(usage), perplexity=float(perplexity))


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    corpus = AudioCorpus.build(verbose=False)
    sr = corpus.recipe.sr
    clips = corpus.clips("valid")
    if len(clips) < args.n_valid:
        raise ValueError(f"--n-valid {args.n_valid}: the validation split has {len(clips)} clips")
    valid = torch.from_numpy(clips[: args.n_valid, :sr].copy())  # (n, 1 s)
    level = dict(codebook_size=args.codebook_size, code_dim=args.width, channels=args.width, depth=args.depth)
    warmup = min(20, args.steps)
    tcfg = training.TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=warmup,
                                eval_every=args.eval_every, seed=args.seed, device="cpu", progress=False)
    loss = lambda m, batch: vqvae.loss_fn(m, batch["audio"] if isinstance(batch, dict) else batch)  # noqa: E731
    crops = corpus.random_crops("train", 0.5)

    shared = vqvae.SharedHierarchy(vqvae.VQVAEConfig(sample_rate=sr, hop=args.hop, **level), seed=args.seed)
    curve = []
    h = training.train(shared, loss, crops, [valid[:8]], tcfg,
                       callback=lambda hist: curve.append(dict(step=hist["valid_step"][-1],
                                                               **vqvae.hierarchy_reliance(shared, valid))))
    print("shared:", curve[-1], f"({h['seconds']:.0f} s)", flush=True)
    alone = vqvae.VQVAE(vqvae.VQVAEConfig(sample_rate=sr, hop=args.hop * shared.top_factor, **level), seed=args.seed)
    h2 = training.train(alone, loss, crops, [valid[:8]], tcfg)
    top_alone = separate_scores(alone, valid)
    print("top level alone:", top_alone, f"({h2['seconds']:.0f} s)", flush=True)
    command = "python scripts/shared_hierarchy.py " + " ".join(sys.argv[1:] if argv is None else argv)
    result = dict(command=command, seed=args.seed, threads=args.threads, steps=args.steps, corpus=corpus.recipe.hash(),
                  hops=[args.hop, args.hop * shared.top_factor], level=level, n_valid=args.n_valid,
                  training=dict(lr=args.lr, batch_size=args.batch_size, crop_seconds=0.5, warmup_steps=warmup),
                  parameters=dict(shared=sum(p.numel() for p in shared.parameters()),
                                  top_alone=sum(p.numel() for p in alone.parameters())),
                  machine=f"{platform.machine()}, {args.threads} torch threads, no GPU, torch {torch.__version__}",
                  load_average=os.getloadavg()[0], shared=curve, shared_seconds=h["seconds"],
                  top_alone=top_alone, top_alone_seconds=h2["seconds"], wall_seconds=round(time.time() - t0, 1))
    write_results(args.out, result)
    print(f"wrote {args.out} ({result['wall_seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
