"""Notebook 05's pattern comparison: the same small LM trained on the same codes and captions over each codebook
interleaving pattern, with the same budget, then measured the same way.

    .venv/bin/python scripts/compare_patterns.py                        # writes runs/musicgen_patterns.json
    .venv/bin/python scripts/compare_patterns.py --out data/checkpoints/musicgen_patterns.json --overwrite-shipped

What is equal across the patterns: the codec's codes (``--codec``, default the shipped ``codec_istft.pt``, the shipped LM's codec) of the first
``--n-train`` training clips and ``--n-valid`` validation clips, each cut into ``--frames``-frame pieces (50 frames
= 1 s), with their captions (the MiniLM token embeddings; validation: the first caption); the LM's sizes (only the
position table is as long as each pattern's sequence); the seed (the same batches: clips, captions, dropped
conditions); the number of training steps, the batch size and the learning-rate schedule. What is not equal: the
sequence length (flatten K T + 1 steps, parallel T + 1, delay T + K, VALL-E-style 2T + 1), so a training step
costs more for the longer patterns; the JSON records each pattern's training seconds.

Per pattern the JSON holds the validation loss per codebook at the last step (nats per code: every code is
predicted exactly once in every pattern, so the columns compare), its validation curve, the decoding steps per
second of audio, and the measured sampling speed at batch 1 (KV cache, guidance 3 as MusicGen samples: two
sequences per pass) on ``--threads`` threads: steps per second and seconds of compute per second of audio (the
median of ``--repeats`` runs). Plus the command, seed, threads, machine, wall time, the settings (``config``: what
the notebook compares with this script's defaults), the machine's CPU count and its 1-minute load average at each
timing (other jobs on the machine slow every timing) and the SHA-256 of the codec checkpoint and of the codes it
trained on. No weights are saved.

The data cache (codes and caption embeddings) is built once under ``--cache``, named by the codec's SHA-256, the
corpus recipe, the text encoder's fingerprint and the clip counts.

Notebook: 05_musicgen.ipynb (section 3). Reference: Copet et al. 2023 (MusicGen, arXiv:2306.05284), Sec. 2.2 and
Table 3 (the codebook-pattern ablation: 300M-parameter LMs trained on 20K hours, scored with FAD, KL, CLAP and
listeners; this is a ~1M-parameter LM, minutes of CPU and the per-codebook loss).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import musicgen as mg  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.checkpoints import atomic_write, file_sha256, load_file, refuse_shipped_paths, write_results  # noqa: E402
from helpers.patterns import PATTERNS, decoding_steps  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402

# the settings that decide the numbers (the notebook checks the shipped JSON against these defaults)
CONFIG_KEYS = ("n_train", "n_valid", "frames", "n_layer", "n_head", "d_model", "d_ff", "dropout", "cond_dropout",
               "steps", "batch_size", "lr", "min_lr", "warmup", "eval_every", "seed", "guidance", "repeats")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--codec", default=str(SHIPPED / "codec_istft.pt"))
    p.add_argument("--cache", default="runs/musicgen_cache")
    p.add_argument("--patterns", nargs="+", default=list(PATTERNS), choices=PATTERNS)
    p.add_argument("--n-train", type=int, default=256, help="training clips (each cut into 200 / --frames pieces)")
    p.add_argument("--n-valid", type=int, default=32, help="validation clips (each cut the same way)")
    p.add_argument("--frames", type=int, default=50, help="frames per training sequence (50 = 1 s)")
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--d-ff", type=int, default=384)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--cond-dropout", type=float, default=0.2)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=25)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--guidance", type=float, default=3.0, help="guidance scale of the timed sampling")
    p.add_argument("--repeats", type=int, default=3, help="timed sampling runs per pattern (the median is kept)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/musicgen_patterns.json")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out inside {SHIPPED.relative_to(ROOT)}/ (replaces the table notebook 05 shows)")
    args = p.parse_args(argv)
    for name in ("n_train", "n_valid", "frames", "steps", "batch_size", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    refuse_shipped_paths(p, args, ("out", "cache"))
    return args


def config_of(args) -> dict:
    """The settings that decide the numbers, as the JSON records them."""
    return {k: getattr(args, k) for k in CONFIG_KEYS}


def tensor_sha256(*tensors: torch.Tensor) -> str:
    """SHA-256 of the tensors' shapes, dtypes and bytes (the codes a comparison trained on)."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.contiguous().cpu()
        h.update(f"{tuple(t.shape)} {t.dtype};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def cut(data: dict, frames: int, first_caption: bool = False) -> dict:
    """Clips (N, K, T) -> pieces (N * T // frames, K, frames), each piece with its clip's captions (only the first
    with ``first_caption``); the last T % frames frames are dropped."""
    codes = data["codes"]
    n = codes.shape[-1] // frames
    if n < 1:
        raise ValueError(f"--frames {frames} is longer than the clips ({codes.shape[-1]} frames)")
    pieces = codes[..., : n * frames].unflatten(-1, (n, frames)).movedim(2, 1).flatten(0, 1)  # (N * n, K, frames)
    tokens, mask = data["tokens"], data["mask"]
    if first_caption:
        tokens, mask = tokens[:, :1], mask[:, :1]
    return {"codes": pieces.contiguous(), "tokens": tokens.repeat_interleave(n, 0), "mask": mask.repeat_interleave(n, 0)}


def build_data(codec, corpus: AudioCorpus, path: Path, n_train: int, n_valid: int) -> dict:
    """Codes and caption embeddings of the first clips of the train and valid splits
    (:func:`helpers.musicgen.encode_clips_and_captions`), cached at ``path`` (written atomically)."""
    if path.exists():
        print(f"cache: reusing {path}", flush=True)
        return load_file(path, "pattern comparison cache")
    from helpers.text_encoder import MiniLMEncoder

    encoder = MiniLMEncoder(max_tokens=64)
    out = {"encoder_sha256": encoder.fingerprint}
    for split, n in (("train", n_train), ("valid", n_valid)):
        t0 = time.time()
        out[split] = mg.encode_clips_and_captions(codec, corpus.clips(split)[:n], corpus.recipe.sr,
                                                  corpus.captions(split)[:n], encoder)
        print(f"cache {split}: codes {tuple(out[split]['codes'].shape)} ({time.time() - t0:.0f} s)", flush=True)
    atomic_write(path, lambda tmp: torch.save(out, tmp))
    return out


@torch.no_grad()
def valid_loss_per_codebook(model, valid: list[dict]) -> list[float]:
    """Mean cross-entropy (nats) per codebook over the validation batches, weighted by batch size."""
    model.eval()
    sums, n = None, 0
    for b in valid:
        _, metrics = mg.musicgen_loss(model, b)
        ce = np.array([metrics[f"ce_{k}"] for k in range(len(metrics))]) * len(b["steps"])
        sums = ce if sums is None else sums + ce
        n += len(b["steps"])
    return (sums / n).tolist()


@torch.no_grad()
def sampling_seconds(model, cond, cond_mask, frames: int, pattern: str, guidance: float, repeats: int) -> float:
    """Median seconds of :func:`helpers.musicgen.sample_codes` for ``frames`` frames at batch 1 (after a warm-up)."""
    gen = torch.Generator().manual_seed(0)
    mg.sample_codes(model, min(4, frames), gen, cond, cond_mask, guidance, pattern=pattern)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        mg.sample_codes(model, frames, gen, cond, cond_mask, guidance, pattern=pattern)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run_pattern(pattern: str, train_data: dict, valid_data: dict, args, n_codebooks: int, codebook_size: int,
                frame_rate: float) -> dict:
    """Train one LM over ``pattern`` with the shared budget; measure its loss per codebook and sampling speed."""
    d_text = train_data["tokens"].shape[-1]
    cfg = mg.lm_config(n_codebooks, codebook_size, args.frames, d_text, pattern=pattern, n_layer=args.n_layer,
                       n_head=args.n_head, d_model=args.d_model, d_ff=args.d_ff, dropout=args.dropout)
    torch.manual_seed(args.seed)
    model = mg.MusicTransformer(cfg)
    special = mg.special_token(cfg)
    valid = mg.fixed_caption_batches(valid_data, special, len(valid_data["codes"]), args.batch_size, pattern)
    tcfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr,
                       warmup_steps=args.warmup, weight_decay=0.05, eval_every=args.eval_every, seed=args.seed,
                       device="cpu", checkpoint=None, progress=False)
    history = train(model, mg.musicgen_loss, mg.caption_batches(train_data, special, args.cond_dropout, pattern),
                    valid, tcfg)
    per_codebook = valid_loss_per_codebook(model, valid)
    b0 = valid[0]
    seconds = sampling_seconds(model, b0["cond"][:1], b0["cond_mask"][:1], args.frames, pattern, args.guidance,
                               args.repeats)
    load = os.getloadavg()[0]  # other jobs on the machine slow the timings: recorded beside them
    steps = decoding_steps(pattern, n_codebooks, args.frames)
    audio_seconds = args.frames / frame_rate
    row = dict(
        pattern=pattern, sequence_length=cfg.max_len, n_params=model.num_params(),
        valid_loss_per_codebook=per_codebook, valid_loss=float(np.mean(per_codebook)),
        valid_step=history["valid_step"], valid_curve=history["valid_loss"],
        valid_curve_per_codebook=[history["valid_metrics"][f"ce_{k}"] for k in range(n_codebooks)],
        train_seconds=round(history["seconds"], 1),
        decoding_steps=steps, steps_per_audio_second=steps / audio_seconds,
        sampling_seconds=seconds, sampling_steps_per_second=steps / seconds,
        compute_seconds_per_audio_second=seconds / audio_seconds, load_average_1min=load,
    )
    print(f"{pattern}: valid loss per codebook " + " ".join(f"{v:.3f}" for v in per_codebook)
          + f"; {steps / audio_seconds:.0f} steps per second of audio, {steps / seconds:.0f} steps/s, "
            f"{seconds / audio_seconds:.2f} s of compute per second of audio; trained in {history['seconds']:.0f} s",
          flush=True)
    return row


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.time()
    corpus = AudioCorpus.build()
    codec = mg.load_codec(args.codec).eval()  # either kind of codec
    ccfg = codec.config
    codec_sha = file_sha256(args.codec)
    from helpers.text_encoder import MiniLMEncoder

    text_sha = MiniLMEncoder.fingerprint
    name = f"patterns_codec{codec_sha[:16]}_corpus{corpus.recipe.hash()}_text{text_sha[:16]}_{args.n_train}_{args.n_valid}.pt"
    data = build_data(codec, corpus, Path(args.cache) / name, args.n_train, args.n_valid)
    train_data, valid_data = cut(data["train"], args.frames), cut(data["valid"], args.frames, first_caption=True)
    print(f"{len(train_data['codes'])} training and {len(valid_data['codes'])} validation sequences of "
          f"{args.frames} frames", flush=True)
    rows = [run_pattern(p, train_data, valid_data, args, ccfg.n_codebooks, ccfg.codebook_size, ccfg.frame_rate)
            for p in args.patterns]
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]) if argv is None else \
        "python scripts/compare_patterns.py " + " ".join(argv)
    import platform

    results = dict(
        command=command, seed=args.seed, threads=args.threads,
        machine=f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
                f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}, torch {torch.__version__}",
        wall_seconds=round(time.time() - t_start, 1), cpu_count=os.cpu_count(), config=config_of(args),
        codec=Path(args.codec).name, codec_sha256=codec_sha, corpus=corpus.recipe.hash(), text_encoder_sha256=text_sha,
        train_codes_sha256=tensor_sha256(train_data["codes"]), valid_codes_sha256=tensor_sha256(valid_data["codes"]),
        n_train_sequences=len(train_data["codes"]), n_valid_sequences=len(valid_data["codes"]),
        n_codebooks=ccfg.n_codebooks, codebook_size=ccfg.codebook_size, frame_rate=ccfg.frame_rate, rows=rows,
    )
    write_results(Path(args.out), results)
    print(f"wrote {args.out} ({results['wall_seconds']:.0f} s)", flush=True)
    return results


if __name__ == "__main__":
    main()
