"""Benchmark of helpers.fad, helpers.symbolic_metrics and helpers.memorisation: the two matrix square roots, FAD-inf,
symbolic metrics on the chorales, copy search.

    .venv/bin/python tests/benchmarks/bench_metrics.py        (or `make bench`, which calls main())

Prints times and the agreement of the two square-root computations; the symbolic metrics and the memorisation
search run on the JSB chorales shipped in data/ (skipped when the file is missing).
"""
from __future__ import annotations

import time

import numpy as np

from helpers import fad, memorisation, symbolic_metrics


def _time(fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _fd_table() -> None:
    print(f"{'D':>5} {'N':>6} {'eigh s':>8} {'+sqrtm s':>9} {'FAD':>10} {'rel diff':>9} {'imag':>9}")
    rng = np.random.default_rng(0)
    for D, N in ((32, 1000), (128, 1000), (128, 100), (512, 2000), (512, 300)):
        a = rng.standard_normal((N, D))
        b = 1.1 * rng.standard_normal((N, D)) + 0.1
        sa, sb = fad.gaussian_stats(a), fad.gaussian_stats(b)
        t_eig, _ = _time(lambda: fad.frechet_terms(sa.mu, sa.sigma, sb.mu, sb.sigma, check=False), repeat=2)
        t_both, terms = _time(lambda: fad.frechet_terms(sa.mu, sa.sigma, sb.mu, sb.sigma, check=True))
        print(f"{D:>5} {N:>6} {t_eig:8.3f} {t_both:9.3f} {terms.distance:10.4f} {terms.disagreement:9.1e} "
              f"{terms.imag_residue:9.1e}")


def _fad_inf() -> None:
    rng = np.random.default_rng(1)
    D, N = 128, 2000
    ref, gen = rng.standard_normal((N, D)), 1.05 * rng.standard_normal((N, D))
    t, res = _time(lambda: fad.fad_inf(ref, gen, np.random.default_rng(0)))
    print(f"fad_inf D={D}, N={N}, {len(res.ns)} sizes: {t:.2f} s -> {res!r}")


def _symbolic() -> None:
    from helpers.data import CORPUS_FILES, DATA_DIR, load_chorales

    if not (DATA_DIR / CORPUS_FILES["chorales"]).exists():
        print("chorales not found: symbolic metrics and copy search skipped")
        return
    train, valid = load_chorales("train"), load_chorales("valid")
    n_notes = sum(len(p) for p in valid)
    t, table = _time(lambda: symbolic_metrics.metric_table(valid))
    print(f"metric_table on {len(valid)} valid chorales ({n_notes} notes): {t:.2f} s "
          f"({1e3 * t / len(valid):.1f} ms per chorale, {len(table)} metrics)")
    for name, values in table.items():
        print(f"    {name:<22} median {np.nanmedian(values):8.3f}   NaN {int(np.isnan(values).sum())}")
    soprano = [np.asarray(p.voice("S")["pitch"], dtype=np.int64) for p in train]
    queries = [np.asarray(p.voice("S")["pitch"], dtype=np.int64) for p in valid[:20]]
    t_fast, fast = _time(lambda: memorisation.copied_ngrams(queries, soprano, n=8))
    t_plain, plain = _time(lambda: memorisation.copied_ngrams_plain(queries[:3], soprano, n=8))
    assert fast.longest[:3].tolist() == plain.longest.tolist()
    print(f"copied_ngrams, 20 valid soprano lines against {len(soprano)} training ones: {t_fast:.2f} s "
          f"(suffix array); brute force on 3 of them: {t_plain:.2f} s; {fast!r}")


def main() -> None:
    _fd_table()
    _fad_inf()
    _symbolic()


if __name__ == "__main__":
    main()
