"""Train an audio autoencoder of :mod:`helpers.autoencoder` on the audio corpus: notebook 05's codec or a Jukebox
level of notebook 04 (the shipped checkpoints were made with this script; their exact commands are in
``data/checkpoints/README.md``).

    .venv/bin/python scripts/train_autoencoder.py --preset codec --minutes 90 --resume      # runs/codec.pt, .json
    .venv/bin/python scripts/train_autoencoder.py --preset codec --init runs/codec.pt --adversarial --steps 2000
    .venv/bin/python scripts/train_autoencoder.py --preset codec --init runs/codec.pt --decoder-only --adversarial
    .venv/bin/python scripts/train_autoencoder.py --preset level --hop 1024 --out runs/level_hop1024.pt
    torchrun --nproc_per_node=4 scripts/train_autoencoder.py --preset codec --device cuda   # several GPUs (DDP)

Presets: ``codec`` (hop 320 = 50 Hz, 4 residual codebooks of 1024, quantizer dropout) and ``level`` (one codebook of
``--codebook-size`` codes at ``--hop``; a Jukebox level). Data: random ``--crop``-second crops of the corpus's train
split; validation on the first ``--n-valid`` valid clips. Loss :func:`helpers.autoencoder.loss_fn` (multi-scale mel
+ multi-resolution STFT + commitment + codebook), or with ``--adversarial`` :func:`adversarial_loss_fn` (plus the
multi-resolution STFT discriminator's hinge and feature-matching losses; only the autoencoder is saved).
``--decoder-only`` (with ``--init``) trains the decoder alone: the encoder and codebooks are frozen and never
restarted, so every clip keeps its codes (checked on the valid clips at the end) and a language model trained on
those codes stays valid while the decoder learns, for example, against the discriminator.

``--minutes`` is a wall-clock budget: training stops after the step that ends past it (the schedule still runs to
``--steps``; with ``--resume``, running the command again continues). At the end the best-validation weights are
scored on the held-out valid clips with 1..K codebooks (:func:`helpers.audio_quality.quality_table`), stored in
float16 if that moves the log-mel distance by less than 1e-3, and described in ``<out>.json`` (command, seed, wall
time, machine, quality table, history). The script refuses to write into ``data/checkpoints/`` unless
``--overwrite-shipped`` is given.

Notebooks: 04_jukebox_vqvae.ipynb, 05_musicgen.ipynb.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import audio_eval  # noqa: E402
from helpers import autoencoder as ae  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.checkpoints import init_record, refuse_shipped_paths, write_results  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=("codec", "level"), default="codec")
    p.add_argument("--hop", type=int, default=None, help="samples per code (codec: 320; level: required)")
    p.add_argument("--synthesis-hop", type=int, default=None, help="STFT hop (default: min(hop, 320))")
    p.add_argument("--n-fft", type=int, default=None,
                   help="STFT size of the encoder's input and the decoder's output (default: 4 x the synthesis hop)")
    p.add_argument("--codebook-size", type=int, default=None, help="codec: 1024; level: 1024")
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--encoder-blocks", type=int, default=3)
    p.add_argument("--decoder-blocks", type=int, default=6)
    p.add_argument("--steps", type=int, default=20000)
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (stop, resumable, after it)")
    p.add_argument("--stop-after", type=int, default=None, help="stop after this step (the schedule still runs to --steps)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--crop", type=float, default=1.0, help="training crop in seconds")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=5e-5)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--grad-clip", type=float, default=10.0)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--n-valid", type=int, default=16, help="held-out valid clips for validation and the final table")
    p.add_argument("--phase-weight", type=float, default=0.0, help="weight of the IF + group-delay phase loss")
    p.add_argument("--pitch-weight", type=float, default=0.0, help="weight of the semitone-spectrogram loss")
    p.add_argument("--pitch-sc-weight", type=float, default=0.0,
                   help="weight of the semitone spectrogram's spectral convergence (linear magnitude)")
    p.add_argument("--encoder-fft", type=int, default=0, help="the encoder also reads an STFT of this size")
    p.add_argument("--no-phase-ramp", action="store_true", help="the decoder predicts the raw frame phase (Vocos)")
    p.add_argument("--adversarial", action="store_true", help="train with the multi-resolution STFT discriminator")
    p.add_argument("--decoder-only", action="store_true",
                   help="with --init: train the decoder alone (encoder and codebooks frozen, no restarts), so the "
                        "codes stay the same and an LM trained on them stays valid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast on CUDA (the codebooks stay float32)")
    p.add_argument("--out", default=None, help="default runs/codec.pt or runs/level_hop<hop>.pt")
    p.add_argument("--work", default="runs")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out/--work inside {SHIPPED.relative_to(ROOT)}/")
    p.add_argument("--resume", action="store_true", help="keep a resume file in the work folder and continue from it")
    p.add_argument("--init", default=None, help="start from this autoencoder checkpoint (same config); fresh optimiser")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.preset == "level" and args.hop is None:
        p.error("--preset level needs --hop")
    if args.out is None:
        args.out = "runs/codec.pt" if args.preset == "codec" else f"runs/level_hop{args.hop}.pt"
    if args.decoder_only and not args.init:
        p.error("--decoder-only needs --init (the encoder and codebooks whose codes it keeps)")
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


def config_from_args(args, sr: int) -> ae.AutoencoderConfig:
    hop = args.hop or 320
    syn = args.synthesis_hop or min(hop, 320)
    common = dict(sample_rate=sr, hop=hop, synthesis_hop=syn, n_fft=args.n_fft or 4 * syn, dim=args.dim,
                  encoder_blocks=args.encoder_blocks, decoder_blocks=args.decoder_blocks,
                  phase_ramp=not args.no_phase_ramp, phase_weight=args.phase_weight,
                  encoder_fft=args.encoder_fft, pitch_weight=args.pitch_weight, pitch_sc_weight=args.pitch_sc_weight)
    if args.decoder_only:
        common["restart_every"] = 0  # a restart would change the codebooks, so the codes
    if args.preset == "codec":
        return ae.AutoencoderConfig(**common, n_codebooks=4, codebook_size=args.codebook_size or 1024)
    return ae.AutoencoderConfig(**common, n_codebooks=1, codebook_size=args.codebook_size or 1024, quantizer_dropout=0.0)


def machine() -> str:
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {torch.get_num_threads()} torch threads, {dev}, torch {torch.__version__}"


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build()
    sr = corpus.recipe.sr
    cfg = config_from_args(args, sr)
    model = ae.Autoencoder(cfg, seed=args.seed)
    init = None
    if args.init:
        model.load_state_dict(init_weights(args.init, cfg))  # refuses another architecture
        init = init_record(args.init)
        print(f"initialised from {args.init} ({init['steps']} steps, sha256 {init['sha256'][:16]}...)", flush=True)
    valid = torch.from_numpy(np.asarray(corpus.clips("valid")[: args.n_valid], dtype=np.float32))  # (N, T)
    codes_before = None
    if args.decoder_only:
        for part in (model.encoder, model.quantizer):
            part.requires_grad_(False)
        codes_before = model.eval().encode(valid[:, None], sr)  # (N, K, frames): what must not change
        model.train()
    net = ae.AdversarialAutoencoder(model, seed=args.seed) if args.adversarial else model
    loss = ae.adversarial_loss_fn if args.adversarial else ae.loss_fn
    out = Path(args.out)
    work = Path(args.work) / out.stem
    tcfg = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr, warmup_steps=args.warmup,
        weight_decay=0.0, grad_clip=args.grad_clip, eval_every=args.eval_every, seed=args.seed, device=args.device,
        amp=args.amp, checkpoint=str(work / "best_fp32.pt"), progress=not args.no_progress,
        resume_file=str(work / "resume.pt") if args.resume else None,
        max_seconds=None if args.minutes is None else 60 * args.minutes, stop_after=args.stop_after,
    )
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params:,} parameters; {cfg}; {tcfg}", flush=True)
    history = train(net, loss, corpus.random_crops("train", args.crop),
                    [valid[i : i + 4] for i in range(0, len(valid), 4)], tcfg,
                    checkpoint_extra={"command": command, "seed": args.seed, "init": init})
    best = ae.load_checkpoint(tcfg.checkpoint) if not args.adversarial else _autoencoder_of(tcfg.checkpoint, cfg)
    best.cpu()
    if codes_before is not None and not torch.equal(best.eval().encode(valid[:, None], sr), codes_before):
        raise RuntimeError("--decoder-only: the codes of the valid clips changed; the encoder was not frozen")
    t0 = time.time()
    table, use_half, delta = audio_eval.fp16_if_lossless(best, ae, work / "best_fp16.pt", valid, sr)
    steps_done = history["step"][-1] if history["step"] else 0
    results = dict(
        command=command, seed=args.seed, machine=machine(), init=init, steps=steps_done, planned_steps=args.steps,
        batch_size=args.batch_size, crop_seconds=args.crop, adversarial=args.adversarial,
        decoder_only=args.decoder_only,
        corpus=corpus.recipe.hash(), valid_clips=len(valid), train_seconds=round(history["seconds"], 1),
        best_step=history["best_step"], best_valid_loss=history["best_valid"], threads=args.threads,
        n_params=n_params, config=cfg.to_dict(), weights="float16" if use_half else "float32",
        fp16_minus_fp32_log_mel=delta, quality=table, eval_seconds=round(time.time() - t0, 1),
    )
    ae.save_checkpoint(best, out, half=use_half, extra=results)
    write_results(out.with_suffix(".json"), dict(results, history={k: history[k] for k in (
        "step", "train_loss", "valid_step", "valid_loss", "metrics", "valid_metrics")}))
    print(json.dumps(results, indent=1), flush=True)
    return results


def init_weights(path, cfg: ae.AutoencoderConfig) -> dict:
    """The state of the autoencoder checkpoint ``path`` for a warm start of ``cfg``: the architecture
    (:data:`helpers.autoencoder.ARCHITECTURE_FIELDS`) must match; loss weights and training switches may differ.

    Raises:
        ValueError: naming the architecture fields that differ."""
    saved = ae.load_checkpoint(path)
    diff = [f for f in ae.ARCHITECTURE_FIELDS if getattr(saved.config, f) != getattr(cfg, f)]
    if diff:
        raise ValueError(f"--init {path}: another architecture (differs in {diff}); a warm start keeps the "
                         "architecture and may change only loss weights and training switches")
    return saved.state_dict()


def _autoencoder_of(path, cfg: ae.AutoencoderConfig) -> ae.Autoencoder:
    """The autoencoder inside a checkpoint of an :class:`AdversarialAutoencoder` (the discriminator is dropped)."""
    from helpers.checkpoints import read_checkpoint

    state = read_checkpoint(path)["state_dict"]
    model = ae.Autoencoder(cfg)
    model.load_state_dict({k[len("autoencoder."):]: v.float() for k, v in state.items() if k.startswith("autoencoder.")})
    return model


if __name__ == "__main__":
    main()
