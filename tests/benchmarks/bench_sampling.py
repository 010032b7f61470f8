"""Benchmark of helpers.transformer.generate: tokens per second with and without the key/value cache.

    .venv/bin/python tests/benchmarks/bench_sampling.py        (or `make bench`, which calls main())

Model: the size of the shipped chorale checkpoints (4 layers, 4 heads, d_model 128, d_ff 512, 47 tokens), random
weights (speed does not depend on them), ``max_len`` = the sequence length so that no window slides. One sequence
(batch 1), temperature 1, float32. To measure the speed *at* a length without spending minutes on the quadratic
no-cache run, the prompt holds the first ``n - 64`` tokens and the last 64 are generated: without the cache
every step recomputes the whole prefix; with it the prompt is run once (prefill, included in the time) and each
new token goes through the layers alone.
"""
from __future__ import annotations

import os
import time

import torch

from helpers.transformer import MusicTransformer, MusicTransformerConfig, generate

LENGTHS = (512, 1024)


NEW = 64


def tokens_per_second(model, n: int, use_cache: bool, seed: int = 0) -> tuple[float, torch.Tensor]:
    """Tokens/s generating the last ``NEW`` tokens of an ``n``-token sequence, and the tokens."""
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(1, model.config.vocab_size, (n - NEW,), generator=g)
    t0 = time.perf_counter()
    out = generate(model, prompt, NEW, g, use_cache=use_cache)
    return NEW / (time.perf_counter() - t0), out


def main(lengths=LENGTHS) -> list[dict]:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", torch.get_num_threads())))
    print(f"sampling speed, batch 1, CPU, {torch.get_num_threads()} thread(s)")
    head = f"{'tokens':>6} {'position':>9} | {'no cache tok/s':>14} {'cache tok/s':>11} {'speed-up':>8} | same tokens"
    print(head)
    print("-" * len(head))
    rows = []
    for n in lengths:
        for position in ("relative", "absolute"):
            cfg = MusicTransformerConfig(vocab_size=47, n_layer=4, n_head=4, d_model=128, d_ff=512, dropout=0.1,
                                         max_len=n + 1, max_rel=256, position=position)
            torch.manual_seed(0)
            model = MusicTransformer(cfg).eval()
            slow, a = tokens_per_second(model, n, use_cache=False)
            fast, b = tokens_per_second(model, n, use_cache=True)
            rows.append({"tokens": n, "position": position, "no_cache": slow, "cache": fast})
            print(f"{n:>6} {position:>9} | {slow:>14.0f} {fast:>11.0f} {fast / slow:>7.1f}x | {bool(torch.equal(a, b))}")
    return rows


if __name__ == "__main__":
    main()
