"""Train a Music Transformer on the Bach chorale grid (the checkpoints notebook 03 ships were made with this script).

    .venv/bin/python scripts/train_music_transformer.py --position relative            # writes runs/mt_relative.pt
    .venv/bin/python scripts/train_music_transformer.py --steps 3000 --resume          # killed? run it again: it continues
    torchrun --nproc_per_node=2 scripts/train_music_transformer.py ...   # same script, DistributedDataParallel

Outputs go to the scratch folder ``runs/`` (ignored by git): ``--out`` (default ``runs/mt_<position>.pt``) and a work
folder ``<work>/<out stem>/`` with the float32 best checkpoint, the history and, with ``--resume``, the resume file
(model, optimiser, step, RNG states: ``helpers.training.TrainConfig.resume_file``). The script refuses to write into
``data/checkpoints/`` (the files notebook 03 ships) unless ``--overwrite-shipped`` is given.

Data: ``load_chorales('train')`` encoded with ``ChoraleGrid('repeat')`` (S A T B per 16th step, held notes
repeated: the format of the Music Transformer paper's JSB experiments), random crops of ``--length`` tokens
starting on a soprano token, random transposition within the vocabulary's range. Validation during training:
non-overlapping crops of the valid split. At the end (rank 0 only) the best-validation weights are scored on
whole valid chorales (sliding window), with and without the pieces marked ``meta['duplicate_of_train']``
(bwv253), overall and on pitch-change tokens; the weights are stored in float16 if that changes the NLL by less
than 1e-3 nats/token, and the results are written to ``<out>.json`` and into the checkpoint.

Notebook: 03_music_transformer.ipynb; exact commands used for the shipped files: data/checkpoints/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers.data import load_chorales  # noqa: E402
from helpers.representations import ChoraleGrid  # noqa: E402
from helpers.checkpoints import refuse_shipped_paths, write_results  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402
from helpers.chorale import ChoraleCrops, chorale_nll_table, fixed_crops  # noqa: E402
from helpers.transformer import (  # noqa: E402
    MusicTransformer,
    MusicTransformerConfig,
    load_checkpoint,
    next_token_loss,
    save_checkpoint,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--position", choices=["relative", "absolute"], default="relative")
    p.add_argument("--length", type=int, default=256, help="training window in tokens (multiple of 4)")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--d-ff", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--attn-dropout", type=float, default=None,
                   help="dropout on the attention weights alone (default: --dropout); 0 saves about a quarter of a CPU step")
    p.add_argument("--max-rel", type=int, default=256)
    p.add_argument("--rel-per-head", action="store_true")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=5e-5)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--transpose", type=int, nargs=2, default=(-5, 6), metavar=("LO", "HI"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="the checkpoint to write (default: runs/mt_<position>.pt)")
    p.add_argument("--work", default="runs", help="folder for the float32 best checkpoint, the history and the resume file")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out/--work inside {SHIPPED.relative_to(ROOT)}/ (replaces the checkpoints notebook 03 ships)")
    p.add_argument("--resume", action="store_true",
                   help="keep a resume file in the work folder and continue from it if it exists")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many steps (the schedule still runs to --steps); continue later with --resume")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.out is None:
        args.out = f"runs/mt_{args.position}.pt"
    if args.stop_after is not None and not args.resume:
        p.error("--stop-after needs --resume (else the stopped run cannot be continued)")
    refuse_shipped_paths(p, args, ("out", "work"))
    return args



def main(argv=None) -> dict | None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rank = int(os.environ.get("RANK", "0"))
    grid = ChoraleGrid("repeat")
    train_pieces, valid_pieces = load_chorales("train"), load_chorales("valid")
    train_tokens = [grid.encode(p) for p in train_pieces]
    valid_tokens = [grid.encode(p) for p in valid_pieces]
    n_pitch = grid.high - grid.low + 1
    cfg = MusicTransformerConfig(
        vocab_size=grid.vocab_size, n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model,
        d_ff=args.d_ff, dropout=args.dropout, attn_dropout=args.attn_dropout, max_len=args.length, max_rel=args.max_rel,
        position=args.position, rel_per_head=args.rel_per_head,
    )
    torch.manual_seed(args.seed)
    model = MusicTransformer(cfg)
    out = Path(args.out)
    work = Path(args.work) / out.stem
    tcfg = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr, warmup_steps=args.warmup,
        weight_decay=args.weight_decay, eval_every=args.eval_every, seed=args.seed, device=args.device,
        checkpoint=str(work / "best_fp32.pt"), progress=not args.no_progress,
        resume_file=str(work / "resume.pt") if args.resume else None, stop_after=args.stop_after,
    )
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    if rank == 0:
        print(f"{model.num_params():,} parameters; {cfg}; {tcfg}", flush=True)
    history = train(
        model, next_token_loss, ChoraleCrops(train_tokens, args.length, n_pitch, tuple(args.transpose)),
        fixed_crops(valid_tokens, args.length), tcfg,
        checkpoint_extra={"command": command, "seed": args.seed},
    )
    if rank != 0:
        return None
    if history["step"][-1] < args.steps:
        print(f"stopped after step {history['step'][-1]} of {args.steps}; the resume file is {tcfg.resume_file}: "
              f"run the same command without --stop-after to continue", flush=True)
        return None
    # --- final evaluation on whole valid chorales, float32 vs float16 weights ------------------------------
    best = load_checkpoint(tcfg.checkpoint)
    dup = tuple(p.id for p in valid_pieces if p.meta.get("duplicate_of_train"))
    t0 = time.time()
    results = {
        "valid_all": chorale_nll_table(best, grid, valid_pieces),
        "valid_without_duplicates": chorale_nll_table(best, grid, valid_pieces, exclude=dup),
        "excluded": list(dup),
    }
    save_checkpoint(best, work / "best_fp16.pt", half=True)
    half = load_checkpoint(work / "best_fp16.pt")
    nll16 = chorale_nll_table(half, grid, valid_pieces)["nll"]
    results["fp16_minus_fp32_nll"] = nll16 - results["valid_all"]["nll"]
    use_half = abs(results["fp16_minus_fp32_nll"]) < 1e-3
    results.update(
        command=command, seed=args.seed, steps=args.steps, batch_size=args.batch_size, length=args.length,
        train_seconds=round(history["seconds"], 1), best_step=history["best_step"],
        best_valid_crop_loss=history["best_valid"], world_size=history["world_size"],
        threads=args.threads, n_params=best.num_params(), config=cfg.to_dict(), weights="float16" if use_half else "float32",
        eval_seconds=round(time.time() - t0, 1),
        history={k: history[k] for k in ("step", "train_loss", "valid_step", "valid_loss")},
    )
    save_checkpoint(best, out, half=use_half, extra={k: v for k, v in results.items() if k != "history"})
    write_results(out.with_suffix(".json"), results)
    write_results(work / "history.json", history)
    print(json.dumps({k: v for k, v in results.items() if k != "history"}, indent=1))
    return results


if __name__ == "__main__":
    main()
