"""Train the EnCodec-style codec of notebook 05 on the audio corpus (the checkpoint it ships was made with this script).

    .venv/bin/python scripts/train_codec.py                         # writes runs/codec.pt and runs/codec.json
    .venv/bin/python scripts/train_codec.py --steps 3000 --resume   # killed? run it again: it continues
    .venv/bin/python scripts/train_codec.py --out data/checkpoints/codec.pt --overwrite-shipped   # the shipped file

Data: the default :class:`helpers.audio_corpus.AudioCorpus` (4-s SoundFont clips at 16 kHz; built once and cached),
random crops of ``--crop`` seconds of the train split. Validation during training: the first ``--n-valid`` clips of
the valid split (whole 4-s clips). Model: :class:`helpers.codec.Codec` (hop 320 = 50 Hz, 4 x 1024 codes, quantizer
dropout); loss :func:`helpers.codec.loss_fn` (waveform + multi-resolution STFT + commitment).

At the end the best-validation weights are scored on the held-out valid clips with 1..K codebooks (chroma similarity,
log-mel distance, SI-SNR, multi-resolution STFT distance: :mod:`helpers.audio_quality`); they are stored in float16 if
that moves the 4-codebook log-mel distance by less than 1e-3 (else float32); the results go to ``<out>.json`` and into
the checkpoint. The script refuses to write into ``data/checkpoints/`` unless ``--overwrite-shipped`` is given.

Notebook: 05_musicgen.ipynb; exact command of the shipped file: data/checkpoints/README.md.
Reference: Défossez et al. 2022 (EnCodec), Sec. 3; Zeghidour et al. 2021 (SoundStream), Sec. III-C.
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

from helpers import audio_eval, codec  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.checkpoints import init_record, refuse_shipped_paths, write_results  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--min-channels", type=int, default=8)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--code-dim", type=int, default=64)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=float, default=1.0, help="training crop in seconds")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--n-valid", type=int, default=16, help="held-out valid clips for validation and the final table")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/codec.pt")
    p.add_argument("--work", default="runs")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out/--work inside {SHIPPED.relative_to(ROOT)}/ (replaces the codec notebook 05 ships)")
    p.add_argument("--resume", action="store_true", help="keep a resume file in the work folder and continue from it")
    p.add_argument("--init", default=None,
                   help="start from the weights and codebooks of this codec checkpoint (same config), with a fresh "
                        "optimiser and schedule: how the shipped codec was trained further")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


def init_from(model: codec.Codec, path) -> dict:
    """Copy the weights and codebooks (with their EMA statistics) of the codec checkpoint ``path`` into ``model``.

    Raises ValueError if the checkpoint was saved for another configuration. Returns what the results record
    (:func:`helpers.checkpoints.init_record`: the path, its SHA-256 and the steps behind it)."""
    model.load_state_dict(codec.load_checkpoint(path, model.config).state_dict())  # refuses another configuration
    return init_record(path)


def audio_loss(model, batch):
    """:func:`helpers.codec.loss_fn` on the ``'audio'`` entry of a corpus batch (or on a plain (B, T) tensor)."""
    return codec.loss_fn(model, batch["audio"] if isinstance(batch, dict) else batch)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build()
    sr = corpus.recipe.sr
    cfg = codec.CodecConfig(sample_rate=sr, channels=args.channels, min_channels=args.min_channels, depth=args.depth,
                            code_dim=args.code_dim)
    model = codec.Codec(cfg, seed=args.seed)
    init = None
    if args.init:
        init = init_from(model, args.init)
        print(f"initialised from {args.init} ({init['steps']} steps, sha256 {init['sha256'][:16]}...)", flush=True)
    valid = torch.from_numpy(np.asarray(corpus.clips("valid")[: args.n_valid], dtype=np.float32))  # (N, T)
    out = Path(args.out)
    work = Path(args.work) / out.stem
    tcfg = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr, warmup_steps=args.warmup,
        weight_decay=0.0, eval_every=args.eval_every, seed=args.seed, device=args.device,
        checkpoint=str(work / "best_fp32.pt"), progress=not args.no_progress,
        resume_file=str(work / "resume.pt") if args.resume else None,
    )
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params:,} parameters; {cfg}; {tcfg}", flush=True)
    history = train(model, audio_loss, corpus.random_crops("train", args.crop), [valid[i : i + 4] for i in range(0, len(valid), 4)],
                    tcfg, checkpoint_extra={"command": command, "seed": args.seed})
    best = codec.load_checkpoint(tcfg.checkpoint)
    t0 = time.time()
    table, use_half, delta = audio_eval.fp16_if_lossless(best, codec, work / "best_fp16.pt", valid, sr)
    results = dict(
        command=command, seed=args.seed, init=init, steps=args.steps, batch_size=args.batch_size, crop_seconds=args.crop,
        corpus=corpus.recipe.hash(), valid_clips=len(valid), train_seconds=round(history["seconds"], 1),
        best_step=history["best_step"], best_valid_loss=history["best_valid"], threads=args.threads,
        n_params=n_params, config=cfg.to_dict(), weights="float16" if use_half else "float32",
        fp16_minus_fp32_log_mel=delta, quality=table, eval_seconds=round(time.time() - t0, 1),
    )
    codec.save_checkpoint(best, out, half=use_half, extra=results)
    write_results(out.with_suffix(".json"), dict(results, history={k: history[k] for k in (
        "step", "train_loss", "valid_step", "valid_loss")}))
    print(json.dumps(results, indent=1), flush=True)
    return results


if __name__ == "__main__":
    main()
