"""Benchmark of helpers.musicgen: sampling speed of the shipped LM over the delay pattern, with guidance.

    .venv/bin/python tests/benchmarks/bench_musicgen.py        (or `make bench`, which calls main())

Samples 4 s (200 frames + 3 delay steps + the start step) with classifier-free guidance (the batch doubled: the
conditional and unconditional halves in one pass) for a batch of 1 and of 16 captions, with the KV cache
(``sample_codes``) and, side by side in the same run, by recomputing the whole prefix at every step
(``helpers.transformer.generate`` with ``use_cache=False``, which ``test_transformer.py`` holds equal to the cached
path). Prints steps per second and the real-time factor against MusicGen's 50 steps per second of audio
(> 1: faster than real time). Random caption embeddings stand in for the text encoder (its cost is paid once per
prompt, not per step). Single-threaded if TORCH_THREADS=1.

A third row per batch, "all threads", is the KV-cache path with the small-step rule of
:func:`helpers.transformer.decoding_threads` turned off (``ONE_THREAD_ROWS = 0``): every step on all the process's
threads. The first row keeps the rule (batch 1 with guidance, 2 rows, decodes on one thread; batch 16, 32 rows, on
all), so its ratio to the third says what the rule gains. Run it with ``OMP_WAIT_POLICY=PASSIVE`` (the notebooks'
setting) and without: the rule was chosen for both. Notebook: 05_musicgen.ipynb.
"""
from __future__ import annotations

import os
import time

import torch

from helpers import musicgen as mg
from helpers import transformer
from helpers.data import DATA_DIR
from helpers.transformer import generate, load_checkpoint

FRAMES = 200


def _uncached(lm, frames: int, cond, mask, scale: float):
    """Guided sampling without the cache: every step recomputes the whole prefix (the plain reference's cost)."""
    K, special = lm.config.n_streams, mg.special_token(lm.config)
    start = torch.full((cond.shape[0], K, 1), special, dtype=torch.long)
    return generate(lm, start, frames + K - 1, torch.Generator().manual_seed(0), top_k=250, use_cache=False,
                    cond=cond, cond_mask=mask, guidance_scale=scale)


def main(frames: int = FRAMES) -> list[dict]:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", torch.get_num_threads())))
    lm = load_checkpoint(DATA_DIR / "checkpoints" / "musicgen_lm.pt")
    K = lm.config.n_streams
    steps = frames + K - 1
    print(f"MusicGen LM ({lm.num_params():,} parameters), {frames} frames = {frames / 50:g} s, guidance 3, "
          f"{torch.get_num_threads()} thread(s)")
    print(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; one thread for steps of at most "
          f"{transformer.ONE_THREAD_ROWS} rows (guidance doubles the batch)")
    print(f"{'batch':>5} {'path':>12} {'steps/s':>8} {'x real time':>12} {'against KV cache':>17}")
    rows = []
    for batch in (1, 16):
        g = torch.Generator().manual_seed(batch)
        cond = torch.randn(batch, 20, lm.config.d_cond, generator=g)
        mask = torch.zeros(batch, 20, dtype=torch.bool)
        mg.sample_codes(lm, 4, torch.Generator().manual_seed(0), cond, mask, 3.0)  # warm-up
        t0 = time.perf_counter()
        mg.sample_codes(lm, frames, torch.Generator().manual_seed(0), cond, mask, 3.0)
        cached = steps / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        _uncached(lm, frames, cond, mask, 3.0)
        plain = steps / (time.perf_counter() - t0)
        rule, transformer.ONE_THREAD_ROWS = transformer.ONE_THREAD_ROWS, 0  # every step on all threads
        try:
            t0 = time.perf_counter()
            mg.sample_codes(lm, frames, torch.Generator().manual_seed(0), cond, mask, 3.0)
            all_threads = steps / (time.perf_counter() - t0)
        finally:
            transformer.ONE_THREAD_ROWS = rule
        for path, sps in (("KV cache", cached), ("recompute", plain), ("all threads", all_threads)):
            rows.append(dict(batch=batch, path=path, steps_per_second=sps, real_time=sps / 50))
            print(f"{batch:>5} {path:>12} {sps:>8.1f} {sps / 50:>12.2f} {sps / cached:>16.2f}x")
    return rows


if __name__ == "__main__":
    main()
