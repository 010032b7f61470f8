"""Benchmark of helpers.vqvae, helpers.codec and helpers.patterns; and a short trial training run (not part of make bench).

    .venv/bin/python tests/benchmarks/bench_vq.py                      (or `make bench`, which calls main())
    .venv/bin/python tests/benchmarks/bench_vq.py --trial vq --seconds 240
    .venv/bin/python tests/benchmarks/bench_vq.py --trial codec --seconds 240

main(): on one thread, the real-time factor (seconds of audio per second of compute) of encode and decode for a
Jukebox level (hop 64, 512 codes) and the codec (hop 320, 4 x 1024 codes), the time of one training step (batch 8 of
1-s clips), the nearest-code search against its plain reference, and building/reverting each codebook pattern.
Each timing is the best of a few runs (the machine is shared), after one warm-up.

--trial: trains one model for a wall-clock budget on random 1-s crops of training chorales rendered at 16 kHz by the
additive synthesiser (helpers.audio.render), and prints the losses, codebook usage and perplexity along the way and
the quality of a held-out chorale's reconstruction (multi-resolution STFT distance, SI-SNR, log-mel distance, chroma
similarity) before and after. For the codec the quality is given for 1..K codebooks.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's helpers, run directly or by run_all
from helpers import audio, audio_quality, autoencoder, codec, vqvae

SR = 16000


def best_time(fn, repeat: int = 3):
    fn()  # warm-up
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_model(name, model, loss_fn, seconds: float = 4.0) -> None:
    x = torch.from_numpy(np.random.default_rng(0).uniform(-0.3, 0.3, int(seconds * SR)).astype(np.float32))[None]
    t_enc, codes = best_time(lambda: model.encode(x, SR))
    t_dec, _ = best_time(lambda: model.decode(codes))
    batch = torch.from_numpy(np.random.default_rng(1).uniform(-0.3, 0.3, (8, SR)).astype(np.float32))

    def step():
        loss, _ = loss_fn(model, batch)
        loss.backward()
        for hook in model.training_hooks():
            hook(model, 0)

    model.train()
    t_step, _ = best_time(step, repeat=2)
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{name:<34} {n_params / 1e3:7.0f}k {seconds / t_enc:10.0f}x {seconds / t_dec:10.0f}x {t_step:10.2f} s")


def bench_nearest() -> None:
    q = vqvae.VectorQuantizer(512, 64, seed=0)
    x = torch.randn(2000, 64)
    t_fast, a = best_time(lambda: q.nearest(x))
    t_plain, b = best_time(lambda: q.nearest_reference(x))
    same = bool((a == b).all())
    print(f"nearest code, 2000 latents x 512 codes of width 64: fast {t_fast * 1e3:.1f} ms, plain (N, K, D) "
          f"{t_plain * 1e3:.1f} ms ({t_plain / t_fast:.0f}x), same codes: {same}")


def bench_patterns() -> None:
    from helpers import patterns

    K, T = 4, 500  # 10 s of codec frames
    codes = torch.randint(0, 1024, (8, K, T))
    print(f"patterns on (8, {K}, {T}) codes: {'pattern':<8} {'steps':>6} {'build ms':>9} {'revert ms':>10} {'plain ms':>9}")
    for name in patterns.PATTERNS:
        p = patterns.make_pattern(name, K, T)
        t_build, seq = best_time(lambda: p.build(codes, special=1024))
        t_revert, back = best_time(lambda: p.revert(seq))
        t_plain, _ = best_time(lambda: patterns.build_reference(p, codes, special=1024), repeat=1)
        assert torch.equal(back, codes)
        print(f"{'':<33}{name:<8} {p.n_steps:6d} {t_build * 1e3:9.2f} {t_revert * 1e3:10.2f} {t_plain * 1e3:9.1f}")


def bench_adversarial_step(config) -> None:
    """One training step of the iSTFT codec with its multi-resolution STFT discriminator, next to the plain step."""
    batch = torch.from_numpy(np.random.default_rng(1).uniform(-0.3, 0.3, (8, SR)).astype(np.float32))
    model = autoencoder.Autoencoder(config)
    gan = autoencoder.AdversarialAutoencoder(model, seed=0).train()
    plain = autoencoder.Autoencoder(config).train()

    def step(net, fn):
        loss, _ = fn(net, batch)
        loss.backward()

    t_gan, _ = best_time(lambda: step(gan, autoencoder.adversarial_loss_fn), repeat=2)
    t_plain, _ = best_time(lambda: step(plain, autoencoder.loss_fn), repeat=2)
    n_disc = sum(p.numel() for p in gan.discriminator.parameters())
    print(f"{'  + MR-STFT discriminator step':<34} {n_disc / 1e3:7.0f}k {'':>11} {'':>11} {t_gan:10.2f} s "
          f"({t_gan / t_plain:.1f}x the plain step)")


def main() -> None:
    torch.set_num_threads(1)
    print("one thread; encode/decode in x real time (4 s clip); train step = loss, backward, hooks on a batch 8 x 1 s")
    print(f"{'model':<34} {'params':>8} {'encode':>11} {'decode':>11} {'train step':>12}")
    bench_model("VQ-VAE level hop 64, 512 codes", vqvae.VQVAE(vqvae.VQVAEConfig(hop=64)), vqvae.loss_fn)
    bench_model("VQ-VAE level hop 128, 512 codes", vqvae.VQVAE(vqvae.VQVAEConfig(hop=128)), vqvae.loss_fn)
    bench_model("codec hop 320, 4 x 1024 codes", codec.Codec(codec.CodecConfig()), codec.loss_fn)
    istft = autoencoder.AutoencoderConfig(phase_weight=3.0, pitch_weight=5.0)  # codec_istft.pt's configuration
    bench_model("iSTFT codec (autoencoder), 4 x 1024", autoencoder.Autoencoder(istft), autoencoder.loss_fn)
    bench_adversarial_step(istft)
    bench_nearest()
    bench_patterns()


# --- trial training ------------------------------------------------------------------------------------------
def training_audio(n_train: int = 8, seed: int = 0):
    """(train signals, held-out signal): training chorales rendered at 16 kHz with instruments in turn, and the first
    validation chorale on the piano."""
    from helpers.data import load_chorales

    names = ("piano", "organ", "strings", "pluck")
    train = [audio.render(p, names[i % 4], sr=SR, seed=seed) for i, p in enumerate(load_chorales("train")[:n_train])]
    valid = audio.render(load_chorales("valid")[0], "piano", sr=SR)
    return train, valid


def crops(signals, generator: torch.Generator, batch: int, length: int = SR) -> torch.Tensor:
    """``batch`` random crops of ``length`` samples (re-drawn when nearly silent)."""
    out = []
    while len(out) < batch:
        i = int(torch.randint(len(signals), (1,), generator=generator))
        s = signals[i]
        start = int(torch.randint(len(s) - length, (1,), generator=generator))
        c = s[start : start + length]
        if np.abs(c).max() > 0.01:
            out.append(torch.from_numpy(c.copy()))
    return torch.stack(out)


def quality(model, clips, **kwargs) -> dict:
    rec = model.reconstruct(clips[:, None], SR, **kwargs)  # (N, 1, T): N clips
    rows = [audio_quality.quality_table(c, r, SR) for c, r in zip(clips, rec)]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def trial(kind: str, seconds: float, seed: int = 0, batch: int = 8, lr: float = 1e-3, changes: dict | None = None) -> None:
    torch.set_num_threads(1)
    train, valid = training_audio(seed=seed)
    clips = torch.stack([torch.from_numpy(valid[i * SR : (i + 1) * SR].copy()) for i in range(2, 6)])
    if kind == "vq":
        cfg = vqvae.VQVAEConfig(**dict(dict(hop=64, codebook_size=512), **(changes or {})))
        model, lf = vqvae.VQVAE(cfg, seed=seed), vqvae.loss_fn
    else:
        model, lf = codec.Codec(codec.CodecConfig(**(changes or {})), seed=seed), codec.loss_fn
    print(f"trial {kind}: {model.config}")
    print(f"{sum(len(s) for s in train) / SR:.0f} s of training audio, batch {batch} x 1 s, lr {lr}, one thread, "
          f"{seconds:.0f} s budget")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    keys = ("recon", "spectral", "commit", "usage", "perplexity")
    window, step, t0 = [], 0, time.time()
    model.train()
    while time.time() - t0 < seconds:
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 20)
        loss, m = lf(model, crops(train, gen, batch))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        applied = [hook(model, step) for hook in model.training_hooks()][0]  # update_codebooks: one dict per stage
        window.append([float(loss.detach())] + [m[k] for k in keys] + [sum(r["restarted"] for r in applied),
                                                                     np.mean([r["alive"] for r in applied])])
        step += 1
        if step == 1 or step % 25 == 0:
            w = np.mean(window, axis=0)
            print(f"step {step:4d} ({time.time() - t0:4.0f} s): loss {w[0]:.3f}  " + "  ".join(
                f"{k} {v:.4g}" for k, v in zip(keys + ("restarts", "alive"), w[1:])), flush=True)
            window = []
    print(f"{step} steps in {time.time() - t0:.0f} s ({(time.time() - t0) / step:.2f} s/step)")
    model.eval()
    if kind == "vq":
        print("held-out chorale, 4 x 1 s:", {k: round(v, 3) for k, v in quality(model, clips).items()})
    else:
        for k in range(1, model.config.n_codebooks + 1):
            print(f"held-out chorale, 4 x 1 s, {k} codebook(s) ({model.bitrate(k):.0f} bit/s):",
                  {kk: round(v, 3) for kk, v in quality(model, clips, n_q=k).items()})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trial", choices=("vq", "codec"), help="run a short training trial instead of the benchmark")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=INT",
                        help="config changes for the trial, e.g. --set channels=128 (whole numbers)")
    args = parser.parse_args()
    if args.trial:
        changes = {k: int(v) for k, v in (item.split("=", 1) for item in args.set)}
        trial(args.trial, args.seconds, args.seed, lr=args.lr, changes=changes)
    else:
        main()
