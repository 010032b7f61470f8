"""Benchmark of helpers.representations: REMI's vectorised encode/decode against its plain loops, and every
encoding's round trip, on the chorale corpus.

    .venv/bin/python tests/benchmarks/bench_representations.py   (or `make bench`, which calls main())

Falls back to random four-voice pieces when data/ is not built. tests/test_representations.py holds the plain and
vectorised REMI equal; this file only measures them.
"""
from __future__ import annotations

import time

import numpy as np

from helpers.data import CORPUS_FILES, DATA_DIR, load_chorales, piece_from_notes
from helpers.representations import REMI, ChoraleGrid, PerformanceEvents, PianoRoll


def _pieces() -> tuple[str, list]:
    if (DATA_DIR / CORPUS_FILES["chorales"]).exists():
        return "the chorale corpus", load_chorales(include_extra=True)
    rng = np.random.default_rng(0)
    pieces = []
    for i in range(400):
        rows = [(int(60 + rng.integers(-12, 13)), t / 4, 0.25 * int(rng.integers(1, 8)), 80, v)
                for v in range(4) for t in range(0, 256, 4)]
        pieces.append(piece_from_notes(rows, id=f"random{i}", voice_names=("S", "A", "T", "B")))
    return "random four-voice pieces", pieces


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    name, pieces = _pieces()
    remi = REMI()
    tokens = [remi.encode(p) for p in pieces]
    n_tokens = sum(len(t) for t in tokens)
    print(f"helpers.representations on {name}: {len(pieces)} pieces, {n_tokens} REMI tokens")
    print(f"{'REMI':<10} {'vectorised s':>12} {'plain s':>9} {'speed-up':>9}")
    for what, fast, plain in (
        ("encode", lambda: [remi.encode(p) for p in pieces], lambda: [remi.encode_plain(p) for p in pieces]),
        ("decode", lambda: [remi.decode(t) for t in tokens], lambda: [remi.decode_plain(t) for t in tokens]),
    ):
        t_fast, t_plain = _best(fast), _best(plain)
        print(f"{what:<10} {t_fast:12.3f} {t_plain:9.3f} {t_plain / t_fast:8.1f}x")
    print(f"{'round trip':<40} {'s':>7}")
    for enc in (ChoraleGrid("hold"), PianoRoll(by_voice=True), PerformanceEvents(), remi):
        print(f"{enc!r:<40.40} {_best(lambda: [enc.round_trip(p) for p in pieces], repeat=1):7.3f}")


if __name__ == "__main__":
    main()
