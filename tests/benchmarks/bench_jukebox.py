"""Benchmark of helpers.jukebox: the real-time factor of top-down sampling with the shipped levels and priors.

    .venv/bin/python tests/benchmarks/bench_jukebox.py        (or `make bench`, which calls main())

Samples ``SECONDS`` of audio top-down (top prior -> upsampler -> bottom decoder, KV cache) for a batch of 1 and of 4
clips, with the upsampler that sees the top codes only and with the labelled one at guidance 5 (notebook 04's
pipeline: guidance runs the upsampler on twice the batch), side by side in one run, and prints, per stage, compute seconds per second of audio produced (RTF; < 1 is faster than real time) and
the steps per second of each prior. Jukebox's README: about 3 hours for 20 s on a V100, RTF about 540.
Single-threaded if TORCH_THREADS=1. Notebook: 04_jukebox_vqvae.ipynb.
"""
from __future__ import annotations

import os

import torch

from helpers import jukebox, vqvae
from helpers.data import DATA_DIR

SECONDS = 4.0


def main(seconds: float = SECONDS) -> list[dict]:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", torch.get_num_threads())))
    ckpt = DATA_DIR / "checkpoints"
    top, bottom = (vqvae.load_checkpoint(ckpt / f"vqvae_hop{h}.pt").eval() for h in (256, 64))
    prior = jukebox.load_top_prior(ckpt / "prior_top.pt")
    upsamplers = {"codes only": (jukebox.load_upsampler(ckpt / "upsampler_hop64.pt"), None),
                  "labels, g 5": (jukebox.load_upsampler(ckpt / "upsampler_hop64_labels.pt"), 5.0)}
    print(f"top-down sampling of {seconds:g} s, {torch.get_num_threads()} thread(s); RTF = compute s / audio s")
    print(f"{'upsampler':>11} {'batch':>5} | {'top prior':>9} {'upsampler':>9} {'decode':>7} {'total':>6} | "
          f"{'top steps/s':>11} {'up steps/s':>10}")
    rows = []
    for name, (upsampler, guidance) in upsamplers.items():
        for batch in (1, 4):
            out = jukebox.sample_top_down(top, bottom, prior, upsampler, list(range(batch)), seconds,
                                          torch.Generator().manual_seed(0), guidance_scale=guidance)
            r, t = out["rtf"], out["timing"]
            row = dict(model=name, batch=batch, **r, top_sps=out["top"].shape[1] / t["top_prior"],
                       up_sps=out["bottom"].shape[1] / t["upsampler"])
            rows.append(row)
            print(f"{name:>11} {batch:>5} | {r['top_prior']:>9.2f} {r['upsampler']:>9.2f} {r['decode']:>7.3f} "
                  f"{r['total']:>6.2f} | {row['top_sps']:>11.0f} {row['up_sps']:>10.0f}")
    return rows


if __name__ == "__main__":
    main()
