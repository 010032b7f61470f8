"""Benchmark of helpers.markov: fitting the Essen folk corpus at orders 1..6, scoring, sampling, copy index.

    .venv/bin/python tests/benchmarks/bench_markov.py        (or `make bench`, which calls main())

Falls back to synthetic random-walk melodies of the same size when data/folk_essen.jsonl.gz is missing.
"""
from __future__ import annotations

import time

import numpy as np

from helpers import markov


def _corpus() -> tuple[str, list, list]:
    from helpers.data import CORPUS_FILES, DATA_DIR, load_folk

    if (DATA_DIR / CORPUS_FILES["essen"]).exists():
        train = [markov.melody_events(p) for p in markov.normalise_keys(load_folk("essen", "train"))]
        valid = [markov.melody_events(p) for p in markov.normalise_keys(load_folk("essen", "valid"))]
        return "essen (key-normalised)", [m for m in train if len(m) >= 6], [m for m in valid if len(m) >= 6]
    rng = np.random.default_rng(0)
    walks = [np.clip(60 + np.cumsum(rng.choice([-2, -1, 0, 1, 2, 3, -3], size=rng.integers(20, 80))), 40, 90)
             for _ in range(8000)]
    return "synthetic random walks", walks[:7200], walks[7200:]


def _time(fn, repeat: int = 1):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    name, train, valid = _corpus()
    n_events = sum(len(m) for m in train)
    print(f"helpers.markov on {name}: {len(train)} train tunes ({n_events} events), {len(valid)} valid tunes")
    t_index, index = _time(lambda: markov.CorpusIndex([np.asarray(m) for m in train]))
    print(f"{'order':>5} {'fit s':>7} {'valid NLL s':>11} {'64 events s':>11} {'n-grams':>9} {'valid NLL':>9}")
    for order in range(1, 7):
        t_fit, model = _time(lambda: markov.NGramModel(order).fit(train), repeat=2)
        t_nll, nll = _time(lambda: model.nll_per_event(valid))
        rng = np.random.default_rng(0)
        t_sample, _ = _time(lambda: [model.sample(64, rng) for _ in range(10)])
        print(f"{order:>5} {t_fit:7.2f} {t_nll:11.2f} {t_sample / 10:11.3f} {len(model.ng_keys[order]):>9} {nll:9.3f}")
    rng = np.random.default_rng(0)
    model = markov.NGramModel(5).fit(train)
    tunes = [model.generate_ids(64, rng) for _ in range(20)]
    # the index was built on raw events; re-encode the generated ids to events for the query
    t_match, _ = _time(lambda: [index.match_lengths(model.events[t - len(markov.SPECIALS)]) for t in tunes])
    print(f"suffix-array copy index: build {t_index:.2f} s, match 20 generated tunes {t_match:.3f} s")


if __name__ == "__main__":
    main()
