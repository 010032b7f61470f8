"""Benchmark of the decoder's fast paths against their plain references (helpers.transformer).

    .venv/bin/python tests/benchmarks/bench_decoder.py        (or `make bench`, which calls main())

1. Attention through ``F.scaled_dot_product_attention`` vs the plain softmax path (``model.set_sdpa(False)``): one
   forward pass of the chorale checkpoints' size (4 layers, 4 heads, d_model 128, 47 tokens), batch 8, random
   weights, absolute and relative positions; tokens/s (median of 3) and the largest logit difference.
2. Generation with the key/value cache vs recomputing the window at every step, for the audio configuration:
   4 token streams (codebooks) of 256 ids, cross-attention to a 16-step condition, classifier-free guidance
   (scale 3, so every forward pass runs a doubled batch); steps/s and codec tokens/s (steps x 4), batch 2,
   and whether both give the same tokens.
CPU, float32, the thread count is printed (``TORCH_THREADS`` sets it).
"""
from __future__ import annotations

import os
import statistics
import time

import torch

from helpers.transformer import MusicTransformer, MusicTransformerConfig, generate

LENGTHS = (256, 1024)
STEPS = (64, 256)


def forward_tokens_per_second(model, x, repeats: int = 3) -> tuple[float, torch.Tensor]:
    """Median tokens/s of ``model(x)`` and its logits."""
    times = []
    with torch.no_grad():
        out = model(x)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return x.numel() / statistics.median(times), out


def print_header(title: str, columns: str) -> None:
    print(f"\n{title}")
    print(columns)
    print("-" * len(columns))


def attention_paths(lengths=LENGTHS, batch: int = 8) -> list[dict]:
    print_header(f"forward pass, batch {batch}: SDPA vs plain softmax attention",
                 f"{'tokens':>6} {'position':>9} | {'plain tok/s':>11} {'SDPA tok/s':>10} {'speed-up':>8} | max |diff|")
    rows = []
    for n in lengths:
        for position in ("absolute", "relative"):
            cfg = MusicTransformerConfig(vocab_size=47, n_layer=4, n_head=4, d_model=128, d_ff=512, max_len=n,
                                         max_rel=256, position=position)
            torch.manual_seed(0)
            model = MusicTransformer(cfg).eval()
            x = torch.randint(0, 47, (batch, n), generator=torch.Generator().manual_seed(0))
            plain, a = forward_tokens_per_second(model.set_sdpa(False), x)
            fast, b = forward_tokens_per_second(model.set_sdpa(True), x)
            diff = float((a - b).abs().max())
            rows.append({"tokens": n, "position": position, "plain": plain, "sdpa": fast, "max_diff": diff})
            print(f"{n:>6} {position:>9} | {plain:>11.0f} {fast:>10.0f} {fast / plain:>7.2f}x | {diff:.1e}")
    return rows


def guided_generation(steps=STEPS, batch: int = 2, K: int = 4, S: int = 16) -> list[dict]:
    print_header(f"generation, {K} streams x 256 ids, cross-attention to {S} steps, guidance 3, batch {batch}",
                 f"{'steps':>5} | {'no cache steps/s':>16} {'cache steps/s':>13} {'cache tok/s':>11} {'speed-up':>8} "
                 "| same tokens")
    rows = []
    for n in steps:
        cfg = MusicTransformerConfig(vocab_size=256, n_layer=4, n_head=4, d_model=128, d_ff=512, max_len=n + 1,
                                     position="absolute", n_streams=K, d_cond=64)
        torch.manual_seed(0)
        model = MusicTransformer(cfg).eval()
        g = torch.Generator().manual_seed(0)
        cond = torch.randn(batch, S, 64, generator=g)
        prompt = torch.full((batch, K, 1), 255)
        speed, outs = {}, {}
        for use_cache in (False, True):
            t0 = time.perf_counter()
            outs[use_cache] = generate(model, prompt, n, torch.Generator().manual_seed(1), cond=cond,
                                       guidance_scale=3.0, use_cache=use_cache, top_k=250)
            speed[use_cache] = n / (time.perf_counter() - t0)
        same = bool(torch.equal(outs[False], outs[True]))
        rows.append({"steps": n, "no_cache": speed[False], "cache": speed[True], "same": same})
        print(f"{n:>5} | {speed[False]:>16.1f} {speed[True]:>13.1f} {speed[True] * K * batch:>11.0f} "
              f"{speed[True] / speed[False]:>7.1f}x | {same}")
    return rows


def main() -> dict:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", torch.get_num_threads())))
    print(f"decoder fast paths, CPU, float32, {torch.get_num_threads()} thread(s)")
    return {"attention": attention_paths(), "generation": guided_generation()}


if __name__ == "__main__":
    main()
