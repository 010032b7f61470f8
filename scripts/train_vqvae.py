"""Train one level of the Jukebox VQ-VAE on the audio corpus (the levels notebook 04 ships were made with this script).

    .venv/bin/python scripts/train_vqvae.py --hop 64  --minutes 12 --seed 0   # writes runs/vqvae_hop64.pt/.json
    .venv/bin/python scripts/train_vqvae.py --hop 256 --minutes 12 --seed 0   # the top level

Data: ``AudioCorpus.build()`` (the default recipe: 4-s SoundFont clips at 16 kHz), random 1-s crops of the train
split (``--crop``), batch ``--batch-size``; validation on fixed 1-s crops of the first ``--n-valid`` valid clips.
Training: ``helpers.training.train`` with ``helpers.vqvae.loss_fn`` (relative waveform L2 + multi-resolution STFT +
commitment); the codebook's EMA update and restarts run through ``model.training_hooks()`` after every optimiser step.
``--minutes`` sets the number of steps from a measured time per step (``--steps`` overrides it), so a run fits a wall
clock budget; the step count actually used is written down.

Outputs (scratch folder ``runs/`` unless ``--out`` says otherwise): ``<out>.pt`` (weights only, float16 when that
changes the validation loss by less than 1 %, else float32) and ``<out>.json`` (config, command, seed, wall time,
history and the quality on held-out clips: ``helpers.audio_quality.quality_table`` per clip, averaged, and codebook
usage / perplexity over those clips). The script refuses to write into ``data/checkpoints/`` (the files notebook 04
ships) unless ``--overwrite-shipped`` is given.

Notebook: 04_jukebox_vqvae.ipynb; exact commands of the shipped files: data/checkpoints/README.md.
Reference: Dhariwal et al. 2020, "Jukebox" (arXiv:2005.00341), Sec. 2-3 (one separately trained VQ-VAE per level).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.audio_quality import quality_table  # noqa: E402
from helpers.checkpoints import refuse_shipped_paths, write_results  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402
from helpers.vqvae import VQVAE, VQVAEConfig, code_statistics, load_checkpoint, loss_fn, save_checkpoint  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hop", type=int, required=True, help="audio samples per code (e.g. 64 bottom, 256 top)")
    p.add_argument("--codebook-size", type=int, default=512)
    p.add_argument("--code-dim", type=int, default=64)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--crop", type=float, default=1.0, help="seconds per training crop")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--minutes", type=float, default=12.0, help="wall-clock budget: steps = minutes / measured s/step")
    p.add_argument("--steps", type=int, default=None, help="fixed number of steps (overrides --minutes)")
    p.add_argument("--n-valid", type=int, default=16, help="valid clips for validation and the final quality table")
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="checkpoint to write (default runs/vqvae_hop<H>.pt)")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out inside {SHIPPED.relative_to(ROOT)}/ (replaces the levels notebook 04 ships)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.out is None:
        args.out = f"runs/vqvae_hop{args.hop}.pt"
    refuse_shipped_paths(p, args, ("out",))
    return args


def audio_loss(model, batch):
    """``helpers.vqvae.loss_fn`` on the ``'audio'`` entry of a corpus batch (B, T)."""
    return loss_fn(model, batch["audio"] if isinstance(batch, dict) else batch)


def level_quality(model: VQVAE, clips: torch.Tensor, sr: int) -> dict:
    """Mean quality table (``quality_table``) of ``model.reconstruct`` over ``clips`` (N, T), plus code usage."""
    rows = [quality_table(x, model.reconstruct(x[None], sr)[0], sr) for x in clips]
    table = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
    usage, perplexity = code_statistics(model.encode(clips[:, None], sr), model.config.codebook_size)
    return dict(table, usage=float(usage), perplexity=float(perplexity))


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build(verbose=False, progress=False)
    sr = corpus.recipe.sr
    cfg = VQVAEConfig(sample_rate=sr, hop=args.hop, codebook_size=args.codebook_size, code_dim=args.code_dim,
                      channels=args.channels, depth=args.depth)
    model = VQVAE(cfg, seed=args.seed)
    crop = int(round(args.crop * sr))
    crop -= crop % args.hop
    valid = torch.from_numpy(corpus.clips("valid")[: args.n_valid, :crop].copy())  # (n_valid, crop)
    valid_batches = list(valid.split(args.batch_size))
    steps = args.steps
    if steps is None:  # measure the time of a few steps on a throw-away copy, then size the run to the budget
        probe = VQVAE(cfg, seed=args.seed)
        draw = corpus.random_crops("train", crop / sr)
        opt = torch.optim.AdamW(probe.parameters(), lr=args.lr)
        g = torch.Generator().manual_seed(args.seed)
        t0 = time.perf_counter()
        for i in range(5):
            loss, _ = audio_loss(probe, draw(g, args.batch_size))
            opt.zero_grad()
            loss.backward()
            opt.step()
            probe.training_hooks()[0](probe, i + 1)
        per_step = (time.perf_counter() - t0) / 5
        steps = max(50, int(args.minutes * 60 / per_step * 0.9))  # 10 % for validation
        print(f"measured {per_step:.3f} s/step -> {steps} steps for {args.minutes} min", flush=True)
    tcfg = TrainConfig(steps=steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.lr / 10,
                       warmup_steps=min(100, steps // 10), weight_decay=0.0, eval_every=args.eval_every,
                       seed=args.seed, device="cpu", progress=not args.no_progress)
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters; {cfg}", flush=True)
    t0 = time.time()
    history = train(model, audio_loss, corpus.random_crops("train", crop / sr), valid_batches, tcfg)
    seconds = time.time() - t0
    model.eval()
    out = Path(args.out)
    full = torch.from_numpy(corpus.clips("valid")[: args.n_valid].copy())  # whole 4-s clips
    quality = level_quality(model, full, sr)
    save_checkpoint(model, out.with_suffix(".fp16.tmp"), half=True)
    half = load_checkpoint(out.with_suffix(".fp16.tmp"), cfg)
    quality_half = level_quality(half, full, sr)
    out.with_suffix(".fp16.tmp").unlink()
    use_half = abs(quality_half["mr_stft"] - quality["mr_stft"]) < 0.01 * abs(quality["mr_stft"])
    results = dict(command=command, seed=args.seed, steps=steps, batch_size=args.batch_size, crop_seconds=crop / sr,
                   train_seconds=round(seconds, 1), threads=args.threads, config=cfg.to_dict(),
                   n_params=sum(p.numel() for p in model.parameters()), weights="float16" if use_half else "float32",
                   quality_valid=quality, quality_valid_fp16=quality_half, n_valid=args.n_valid)
    save_checkpoint(model, out, half=use_half, extra=results)
    keep = ("step", "train_loss", "metrics", "valid_step", "valid_loss", "valid_metrics")
    write_results(out.with_suffix(".json"), dict(results, history={k: history[k] for k in keep}))
    print(json.dumps(results, indent=1), flush=True)
    return results


if __name__ == "__main__":
    main()
