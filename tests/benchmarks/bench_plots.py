"""Benchmark of helpers.plots.plot_piano_roll: the wall time of drawing a piano roll of thousands of notes.

    .venv/bin/python tests/benchmarks/bench_plots.py        (or `make bench`, which calls main())

A four-voice piece of ``n`` notes (the unit test ``test_piano_roll_of_thousands_of_notes_draws_every_note`` checks
that every note is drawn; how long it takes is measured here, not asserted there, since wall time depends on the
machine and its load). Time of ``plot_piano_roll`` plus one ``canvas.draw()`` (Agg backend), best of 3.
Notebook: 01_representations.ipynb (and every notebook that draws a piece).
"""
from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from helpers.data import piece_from_notes  # noqa: E402
from helpers.plots import plot_piano_roll  # noqa: E402

SIZES = (1000, 8000)


def draw_seconds(n: int, repeat: int = 3) -> float:
    """Best wall time (s) of plotting and drawing a piano roll of ``n`` notes in four voices."""
    rows = [(40 + (i * 7) % 40, i * 0.25, 0.5, 80, i % 4) for i in range(n)]
    piece = piece_from_notes(rows, voice_names=("S", "A", "T", "B"))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        ax = plot_piano_roll(piece)
        ax.figure.canvas.draw()
        best = min(best, time.perf_counter() - t0)
        plt.close(ax.figure)
    return best


def main(sizes=SIZES) -> list[dict]:
    print("plot_piano_roll + canvas.draw (Agg), best of 3")
    print(f"{'notes':>6} | {'seconds':>8} {'notes/s':>9}")
    rows = []
    for n in sizes:
        s = draw_seconds(n)
        rows.append({"notes": n, "seconds": s})
        print(f"{n:>6} | {s:>8.3f} {n / s:>9.0f}")
    return rows


if __name__ == "__main__":
    main()
