"""Benchmark of a Music Transformer training step on the chorale grid: tokens per second, forward + backward + AdamW.

    .venv/bin/python tests/benchmarks/bench_training.py        (or `make bench`, which calls main())

Batch 16 x 256 tokens (the training script's default), vocabulary 47, relative attention, dropout 0.1, float32, on
the CPU unless a GPU is present. Rows, measured in one run, interleaved (one step of each in turn, repeated) so that
a noisy shared machine slows them alike; the figure is the median over the repeats:

- the config of the checkpoints shipped before issue 20 (4 layers, d=128), as they trained: dropout also on the (B, H, T, T)
  attention weights, attention through the plain softmax path and through ``F.scaled_dot_product_attention``;
- the same model without attention-weight dropout (``attn_dropout=0``; the residual dropout stays);
- the issue-20 chorale config (6 layers, d=160, ``attn_dropout=0``), the one ``mt_relative.pt`` now ships (trained through SDPA).

Threads: ``TORCH_THREADS`` (default: torch's default). The ratio column is against the first row.
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from helpers.transformer import MusicTransformer, MusicTransformerConfig, next_token_loss

BATCH, LENGTH, VOCAB = 16, 256, 47
ROWS = {
    "before: 4x128, attn dropout 0.1, plain softmax": (dict(n_layer=4, d_model=128, d_ff=512, attn_dropout=None), False),
    "before: 4x128, attn dropout 0.1, SDPA": (dict(n_layer=4, d_model=128, d_ff=512, attn_dropout=None), True),
    "before: 4x128, attn dropout 0, plain softmax": (dict(n_layer=4, d_model=128, d_ff=512, attn_dropout=0.0), False),
    "before: 4x128, attn dropout 0, SDPA": (dict(n_layer=4, d_model=128, d_ff=512, attn_dropout=0.0), True),
    "now: 6x160, attn dropout 0, SDPA": (dict(n_layer=6, d_model=160, d_ff=640, attn_dropout=0.0), True),
}


def _setup(changes: dict, sdpa: bool, device: str):
    torch.manual_seed(0)
    cfg = MusicTransformerConfig(vocab_size=VOCAB, n_head=4, dropout=0.1, max_len=LENGTH, max_rel=LENGTH, **changes)
    model = MusicTransformer(cfg).to(device).set_sdpa(sdpa).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = torch.randint(0, VOCAB, (BATCH, LENGTH + 1), generator=torch.Generator().manual_seed(0)).to(device)

    def step():
        loss = next_token_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return model, step


def main(repeats: int = 5, warmup: int = 2) -> dict[str, float]:
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", torch.get_num_threads())))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"training step (forward + backward + AdamW), batch {BATCH} x {LENGTH} tokens, {device}, "
          f"{torch.get_num_threads()} thread(s), median of {repeats} interleaved steps")
    setups = {name: _setup(changes, sdpa, device) for name, (changes, sdpa) in ROWS.items()}
    for _, step in setups.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in setups}
    for _ in range(repeats):
        for name, (_, step) in setups.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    rate = {name: BATCH * LENGTH / float(np.median(t)) for name, t in times.items()}
    first = next(iter(rate.values()))
    print(f"{'config':<48} {'params':>10} {'tokens/s':>9} {'vs first':>8}")
    for name, r in rate.items():
        print(f"{name:<48} {setups[name][0].num_params():>10,} {r:>9,.0f} {r / first:>7.2f}x")
    return rate


if __name__ == "__main__":
    main()
