"""Benchmark of helpers.jukebox: the real-time factor of top-down sampling with notebook 04's levels and priors.

    .venv/bin/python tests/benchmarks/bench_jukebox.py        (or `make bench`, which calls main())

Samples ``SECONDS`` of audio top-down through the three shipped levels (top prior -> upsampler to hop 256 ->
upsampler to hop 64 -> the hop-64 decoder, KV cache) for a batch of 1 and of 4 clips, without guidance and at
notebook 04's guidance scale (guidance runs each upsampler on twice the batch), side by side in one run, and prints,
per stage, compute seconds per second of audio produced (RTF; < 1 is faster than real time) and the steps per second
of each prior. Jukebox's README: about 3 hours for 20 s on a V100, RTF about 540. Single-threaded if
TORCH_THREADS=1; ``bench_threads.py`` measures the same sampling beside a competing process.
Notebook: 04_jukebox_vqvae.ipynb.
"""
from __future__ import annotations

import os

import torch

from helpers import jukebox

SECONDS = 4.0
GUIDANCE = (None, 3.0)


def main(seconds: float = SECONDS) -> list[dict]:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", torch.get_num_threads())))
    pipe = jukebox.load_pipeline()
    levels, prior, ups = pipe["levels"], pipe["prior"], pipe["upsamplers"]
    names = ["top prior"] + [f"up to hop {lv.hop}" for lv in levels[1:]] + ["decode", "total"]
    print(f"top-down sampling of {seconds:g} s, {torch.get_num_threads()} thread(s), hops "
          f"{[lv.hop for lv in levels]}; RTF = compute s / audio s; steps/s per prior")
    print(f"{'guidance':>8} {'batch':>5} | " + " ".join(f"{n:>13}" for n in names) + " | steps/s")
    rows = []
    for guidance in GUIDANCE:
        for batch in (1, 4):
            label = torch.tensor([[f % 8] + [0] * (len(prior.label_sizes) - 1) for f in range(batch)])
            out = jukebox.sample_top_down(levels, prior, ups, label, seconds, torch.Generator().manual_seed(0),
                                          guidance_scale=guidance)
            r, t = out["rtf"], out["timing"]
            stages = [r["top_prior"], *r["upsamplers"], r["decode"], r["total"]]
            sps = [c.shape[1] / s for c, s in zip(out["codes"], [t["top_prior"], *t["upsamplers"]])]
            rows.append(dict(guidance=guidance, batch=batch, rtf=dict(zip(names, stages)), steps_per_second=sps))
            print(f"{str(guidance):>8} {batch:>5} | " + " ".join(f"{v:>13.3f}" for v in stages) + " | "
                  + " ".join(f"{v:.0f}" for v in sps))
    return rows


if __name__ == "__main__":
    main()
