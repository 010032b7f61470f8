"""Benchmark of helpers.attention: memory and time of the plain vs the skewed relative logits.

    .venv/bin/python tests/benchmarks/bench_attention.py        (or `make bench`, which calls main())

B = 1, H = 4 heads, head dim D = 64, one relative table shared by the heads, max_rel = L (no clipping),
forward pass in float32. Memory is measured, not computed: ``torch.cuda.max_memory_allocated`` on a GPU, else
every tensor storage created by the computation is counted op by op (``helpers.attention.TensorMemoryTracker``).
"peak" includes the (B, H, L, L) logits themselves; "extra" is the peak minus those logits (what the skew
saves: the plain form's (L, L, D) tensor). Times are medians of 3 runs (single-threaded if TORCH_THREADS=1).
The target from the issue: at L = 2048, skew needs >= 10x less extra memory and is faster.
"""
from __future__ import annotations

import os

import torch

from helpers.attention import benchmark_relative_logits

LENGTHS = (256, 512, 1024, 2048)
MIB = 2**20


def main(lengths=LENGTHS) -> list[dict]:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", torch.get_num_threads())))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"relative logits, plain (L x L x D gather) vs skewed; B=1, H=4, D=64, float32, {device}, "
          f"{torch.get_num_threads()} thread(s)")
    head = (f"{'L':>5} | {'peak plain':>10} {'peak skew':>10} {'ratio':>6} | {'extra plain':>11} {'extra skew':>10} "
            f"{'ratio':>7} | {'plain ms':>9} {'skew ms':>8} {'speed-up':>8}")
    print(head)
    print("-" * len(head))
    rows = []
    for L in lengths:
        r = benchmark_relative_logits(L, device=device)
        rows.append(r)
        print(f"{L:>5} | {r['plain_peak'] / MIB:>8.1f}Mi {r['skew_peak'] / MIB:>8.1f}Mi "
              f"{r['plain_peak'] / r['skew_peak']:>5.1f}x | {r['plain_extra'] / MIB:>9.1f}Mi "
              f"{r['skew_extra'] / MIB:>8.2f}Mi {r['plain_extra'] / max(r['skew_extra'], 1):>6.0f}x | "
              f"{1e3 * r['plain_s']:>9.1f} {1e3 * r['skew_s']:>8.1f} {r['plain_s'] / r['skew_s']:>7.1f}x")
    last = rows[-1]
    ok = last["plain_extra"] >= 10 * last["skew_extra"] and last["skew_s"] < last["plain_s"]
    print(f"target at L={last['L']} (>= 10x less extra memory, faster): {'met' if ok else 'NOT met'}")
    return rows


if __name__ == "__main__":
    main()
