"""Train the Jukebox priors of notebook 04 on the codes of the shipped VQ-VAE levels.

    .venv/bin/python scripts/train_priors.py --which top --minutes 8 --seed 0         # runs/prior_top.pt/.json
    .venv/bin/python scripts/train_priors.py --which upsampler --minutes 8 --seed 0   # runs/upsampler.pt/.json

Outputs go where ``--out`` says (relative paths from the working directory, as for every path argument), and a work
folder ``<--work>/<out stem>/`` (default ``runs/``, likewise) keeps the float32 best checkpoint and, with ``--resume``,
the resume file; nothing is written into the repository unless a path points there.

Data: the train split of ``AudioCorpus.build()`` (4-s clips at 16 kHz) encoded by the two levels ``--top`` and
``--bottom`` (default: the shipped ``data/checkpoints/vqvae_hop256.pt`` and ``vqvae_hop64.pt``); the codes are cached
in ``<--work>/codes/`` under the checkpoint's checksum. Validation: the first ``--n-valid`` valid clips.

- ``--which top``: the top-level prior, a :class:`helpers.transformer.MusicTransformer` over ``[family token, 250 top
  codes]`` (whole clips; the instrument family of the corpus attributes as a label token prefix), ``next_token_loss``.
- ``--which upsampler``: :class:`helpers.jukebox.Upsampler` over bottom codes with the upsampled top codes added to
  its input, crops of ``--length`` bottom codes, ``helpers.jukebox.upsampler_loss``; with ``--upsampler-labels`` the
  clip's instrument family is added to that input too.

``--minutes`` sizes the number of steps from a measured time per step (``--steps`` overrides it). At the end the
best-validation weights are kept, stored in float16 if that changes the validation loss by less than 1e-3 nats, and
sampling speed is measured (steps per second with the KV cache, one 4-s clip). The script refuses to write into
``data/checkpoints/`` unless ``--overwrite-shipped`` is given.

Notebook: 04_jukebox_vqvae.ipynb; exact commands of the shipped files: data/checkpoints/README.md.
Reference: Dhariwal et al. 2020, "Jukebox" (arXiv:2005.00341), Sec. 4 (top-level prior, upsamplers).
"""
from __future__ import annotations

import argparse
import json
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
from helpers.checkpoints import (  # noqa: E402
    atomic_write, file_sha256, load_file, read_checkpoint, refuse_shipped_paths, write_results)
from helpers.training import TrainConfig, evaluate, resolve_device, train  # noqa: E402
from helpers.transformer import MusicTransformer, MusicTransformerConfig, next_token_loss  # noqa: E402
from helpers.vqvae import load_checkpoint as load_vqvae  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--which", choices=["top", "upsampler"], required=True)
    p.add_argument("--top", default=str(SHIPPED / "vqvae_hop256.pt"))
    p.add_argument("--bottom", default=str(SHIPPED / "vqvae_hop64.pt"))
    p.add_argument("--n-layer", type=int, default=None, help="default: 4 (top), 2 (upsampler: it must run at 250 codes/s)")
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--attn-dropout", type=float, default=None,
                   help="dropout on the attention weights alone (default: --dropout); 0 trains faster on a CPU")
    p.add_argument("--length", type=int, default=256, help="upsampler: training window in bottom codes")
    p.add_argument("--upsampler-labels", action="store_true",
                   help="upsampler: condition it on the instrument family too (Jukebox conditions every level)")
    p.add_argument("--label-dropout", type=float, default=0.0,
                   help="upsampler with labels: fraction of crops trained with the null label (for guidance)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--n-train", type=int, default=None, help="train clips to encode (default: all)")
    p.add_argument("--n-valid", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="default runs/prior_top.pt or runs/upsampler.pt")
    p.add_argument("--work", default="runs", help="work folder: <work>/<out stem>/ and the code cache <work>/codes/")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out/--work inside {SHIPPED.relative_to(ROOT)}/ (replaces the priors notebook 04 ships)")
    p.add_argument("--resume", action="store_true", help="continue from <work>/<out stem>/resume.pt if it exists")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.n_layer is None:
        args.n_layer = 4 if args.which == "top" else 2
    if args.out is None:
        args.out = "runs/prior_top.pt" if args.which == "top" else "runs/upsampler.pt"
    if args.label_dropout and not (args.which == "upsampler" and args.upsampler_labels):
        p.error("--label-dropout goes with --which upsampler --upsampler-labels")
    if not 0.0 <= args.label_dropout < 1.0:
        p.error(f"--label-dropout must lie in [0, 1), got {args.label_dropout}")
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


def level_codes(path: str, corpus: AudioCorpus, split: str, n: int | None, cache_dir: Path,
                chunk: int = 16) -> torch.Tensor:
    """Codes (N, L) of the first ``n`` clips of ``split`` under the VQ-VAE level in ``path`` (cached in ``cache_dir``
    under the level's checksum)."""
    digest = file_sha256(path)[:12]
    clips = corpus.clips(split, dtype=np.int16)  # memory-mapped
    clips = clips[: n or len(clips)]
    cache = Path(cache_dir) / f"{Path(path).stem}_{digest}_{split}_{len(clips)}.pt"
    if cache.exists():
        return load_file(cache, "code cache")
    model = load_vqvae(path)
    t0 = time.time()
    codes = torch.cat([model.encode(torch.from_numpy(np.asarray(clips[i:i + chunk, None], dtype=np.float32) / 32767),
                                    corpus.recipe.sr)  # (b, 1, T): b clips
                       for i in range(0, len(clips), chunk)])  # (N, L)
    print(f"encoded {len(clips)} {split} clips with {Path(path).name} in {time.time() - t0:.0f} s", flush=True)
    atomic_write(cache, lambda tmp: torch.save(codes, tmp))  # a second process never reads half a file
    return codes


def steps_per_second(sample, n_steps: int) -> float:
    t0 = time.perf_counter()
    sample()
    return n_steps / (time.perf_counter() - t0)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build(verbose=False, progress=False)
    top_cfg, bottom_cfg = load_vqvae(args.top).config, load_vqvae(args.bottom).config
    codes = Path(args.work) / "codes"
    if args.which == "upsampler":  # the bottom codes first (the top ones may be in the cache by then)
        bottom = level_codes(args.bottom, corpus, "train", args.n_train, codes)
        bottom_valid = level_codes(args.bottom, corpus, "valid", args.n_valid, codes)
    top = level_codes(args.top, corpus, "train", args.n_train, codes)
    top_valid = level_codes(args.top, corpus, "valid", args.n_valid, codes)
    family = torch.from_numpy(corpus.labels("train")["family"][: len(top)])
    family_valid = torch.from_numpy(corpus.labels("valid")["family"][: len(top_valid)])
    n_labels = len(FAMILIES)
    g = torch.Generator().manual_seed(args.seed)
    if args.which == "top":
        cfg = J.top_prior_config(top_cfg.codebook_size, n_labels, top.shape[1], n_layer=args.n_layer,
                                 n_head=args.n_head, d_model=args.d_model, d_ff=4 * args.d_model, dropout=args.dropout,
                                 attn_dropout=args.attn_dropout)
        torch.manual_seed(args.seed)
        model = MusicTransformer(cfg)
        model.n_labels = n_labels
        train_data = J.top_prior_batches(top, family, top_cfg.codebook_size, n_labels)
        valid_seqs = J.top_prior_batches(top_valid, family_valid, top_cfg.codebook_size, n_labels)
        valid = [valid_seqs(g, args.batch_size) for _ in range(4)]
        loss_fn = next_token_loss
    else:
        ratio = top_cfg.hop // bottom_cfg.hop
        cfg = MusicTransformerConfig(vocab_size=bottom_cfg.codebook_size + 1, n_layer=args.n_layer, n_head=args.n_head,
                                     d_model=args.d_model, d_ff=4 * args.d_model, dropout=args.dropout,
                                     attn_dropout=args.attn_dropout, max_len=args.length, max_rel=args.length)
        up_labels = n_labels if args.upsampler_labels else 0
        model = J.Upsampler(cfg, top_cfg.codebook_size, ratio, seed=args.seed, n_labels=up_labels)
        train_data = J.upsampler_batches(bottom, top, ratio, args.length, model.bos,
                                         labels=family if up_labels else None,
                                         label_dropout=args.label_dropout if up_labels else 0.0, null_label=n_labels)
        valid_draw = J.upsampler_batches(bottom_valid, top_valid, ratio, args.length, model.bos,
                                         labels=family_valid if up_labels else None)
        valid = [valid_draw(g, args.batch_size) for _ in range(4)]
        loss_fn = J.upsampler_loss
    steps = args.steps
    if steps is None:  # time a few steps of a throw-away copy and size the run to the budget
        probe = (MusicTransformer(cfg) if args.which == "top"
                 else J.Upsampler(cfg, top_cfg.codebook_size, ratio, n_labels=up_labels))
        opt = torch.optim.AdamW(probe.parameters(), lr=args.lr)
        t0 = time.perf_counter()
        for _ in range(5):
            loss = loss_fn(probe, train_data(g, args.batch_size))
            opt.zero_grad()
            loss.backward()
            opt.step()
        per_step = (time.perf_counter() - t0) / 5
        steps = max(50, int(args.minutes * 60 / per_step * 0.9))
        print(f"measured {per_step:.3f} s/step -> {steps} steps for {args.minutes} min", flush=True)
    out = Path(args.out)
    work = Path(args.work) / out.stem
    tcfg = TrainConfig(steps=steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.lr / 20,
                       warmup_steps=min(100, steps // 10), weight_decay=0.05, eval_every=args.eval_every,
                       seed=args.seed, device="cpu", checkpoint=str(work / "best_fp32.pt"),
                       resume_file=str(work / "resume.pt") if args.resume else None, progress=not args.no_progress)
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params:,} parameters; {cfg}", flush=True)
    t0 = time.time()
    history = train(model, loss_fn, train_data, valid, tcfg)
    seconds = time.time() - t0
    # --- best weights, float16 check, sampling speed -------------------------------------------------------------
    device = resolve_device("cpu")
    best = read_checkpoint(tcfg.checkpoint)
    model.load_state_dict(best["state_dict"])
    model.eval()
    v32, _ = evaluate(model, loss_fn, valid, device)
    half = {k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model16 = (MusicTransformer(cfg) if args.which == "top"
               else J.Upsampler(cfg, top_cfg.codebook_size, ratio, n_labels=up_labels))
    model16.load_state_dict(half)
    v16, _ = evaluate(model16.eval(), loss_fn, valid, device)
    use_half = abs(v16 - v32) < 1e-3
    sg = torch.Generator().manual_seed(args.seed)
    if args.which == "top":
        n = top.shape[1]
        sps = steps_per_second(lambda: J.sample_top(model, [0], n, sg), n)
        codes_per_second = top_cfg.codes_per_second
    else:
        n = bottom.shape[1]
        sps = steps_per_second(lambda: model.sample(top_valid[:1], sg, label=family_valid[:1] if up_labels else None), n)
        codes_per_second = bottom_cfg.codes_per_second
    results = dict(command=command, seed=args.seed, which=args.which, steps=steps, batch_size=args.batch_size,
                   train_seconds=round(seconds, 1), threads=args.threads, n_params=n_params, n_train_clips=len(top),
                   best_step=history["best_step"], valid_nll=v32, valid_nll_fp16=v16,
                   weights="float16" if use_half else "float32", vqvae_top=str(args.top), vqvae_bottom=str(args.bottom),
                   sampling_steps_per_second=sps, codes_per_second=codes_per_second,
                   upsampler_labels=bool(args.which == "upsampler" and args.upsampler_labels),
                   label_dropout=args.label_dropout,
                   sampling_rtf=codes_per_second / sps)
    if args.which == "top":
        J.save_top_prior(model, n_labels, out, half=use_half, extra=results)
    else:
        J.save_upsampler(model, out, half=use_half, extra=results)
    keep = ("step", "train_loss", "valid_step", "valid_loss")
    write_results(out.with_suffix(".json"), dict(results, config=cfg.to_dict(), history={k: history[k] for k in keep}))
    print(json.dumps(results, indent=1), flush=True)
    return results


if __name__ == "__main__":
    main()
