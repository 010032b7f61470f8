"""Benchmark of helpers.audio: render a whole chorale with every instrument, additive and SoundFont; MIDI and log-mel
timings; the audio corpus's build rate and the default corpus's size.

    .venv/bin/python tests/benchmarks/bench_audio.py        (or `make bench`, which calls main())

Real-time factor = seconds of audio / seconds of rendering (target: at least 50). Uses the first
validation chorale of data/chorales.npz, or a synthetic four-voice piece of the same size when the
corpus is missing. Each timing is the best of a few runs (the machine is shared), after one warm-up.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from helpers import audio
from helpers.data import CORPUS_FILES, DATA_DIR, piece_from_notes
from helpers.midi import read_midi, write_midi

TARGET_RTF = 50.0


def chorale():
    """(description, piece): the first validation chorale, or a synthetic stand-in of 48 quarters."""
    if (DATA_DIR / CORPUS_FILES["chorales"]).exists():
        from helpers.data import load_chorales

        piece = load_chorales("valid")[0]
        return f"chorale {piece.id} (valid[0])", piece
    rng = np.random.default_rng(0)
    rows = []
    for v, (lo, hi) in enumerate(((60, 79), (55, 72), (48, 67), (40, 60))):
        t = 0.0
        while t < 48:
            d = float(rng.choice([0.5, 1.0, 1.0, 1.0, 2.0]))
            rows.append((int(rng.integers(lo, hi)), t, d, 80, v))
            t += d
    return "synthetic 4-voice piece (no corpus)", piece_from_notes(rows, voice_names=("S", "A", "T", "B"), qpm=80.0)


def best_time(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    name, piece = chorale()
    sr = audio.DEFAULT_SR
    print(f"helpers.audio.render on {name}: {len(piece)} notes, {piece.duration_seconds:.1f} s "
          f"at {piece.qpm:g} qpm, sr={sr}")
    print(f"{'instrument':<10} {'audio s':>8} {'render s':>9} {'x real time':>12} {'peak':>6}")
    slow = []
    for inst in [name for name, spec in audio.INSTRUMENTS.items() if not spec.percussion]:
        audio.render(piece, inst, sr=sr)  # warm-up: imports, caches
        seconds, y = best_time(lambda: audio.render(piece, inst, sr=sr))
        rtf = len(y) / sr / seconds
        if rtf < TARGET_RTF:
            slow.append(inst)
        print(f"{inst:<10} {len(y) / sr:8.1f} {seconds:9.3f} {rtf:12.0f} {np.max(np.abs(y)):6.2f}")
    mixed = {"S": "strings", "A": "organ", "T": "organ", "B": "pluck"}
    if set(mixed) == set(piece.voice_names):
        seconds, y = best_time(lambda: audio.render(piece, mixed, sr=sr))
        rtf = len(y) / sr / seconds
        print(f"{'S/A/T/B mix':<10} {len(y) / sr:8.1f} {seconds:9.3f} {rtf:12.0f} {np.max(np.abs(y)):6.2f}")
    soundfont_table(piece)
    corpus_build()
    y = audio.render(piece, "piano", sr=sr)
    t_mel, mel = best_time(lambda: audio.log_mel_spectrogram(y, sr))
    print(f"log_mel_spectrogram of {len(y) / sr:.1f} s: {t_mel * 1000:.1f} ms -> {tuple(mel.shape)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "piece.mid"
        t_write, _ = best_time(lambda: write_midi(piece, path))
        t_read, _ = best_time(lambda: read_midi(path))
    print(f"write_midi {t_write * 1000:.1f} ms, read_midi {t_read * 1000:.1f} ms")
    verdict = "all instruments meet" if not slow else f"BELOW target: {slow}; the others meet"
    print(f"target: render at least {TARGET_RTF:.0f}x faster than real time -- {verdict}")


def soundfont_table(piece) -> None:
    """Real-time factor of SoundFont rendering next to the additive synthesiser, same chorale, same rates."""
    from helpers import soundfont

    print(f"\nSoundFont ({soundfont.default_soundfont().name}, TinySoundFont) next to the additive synthesiser, "
          f"same piece:")
    print(f"{'instrument':<24} {'sr':>6} {'additive x':>11} {'SoundFont x':>12} {'SF peak':>8}")
    slow = []
    for sr in (16000, 22050):
        for additive, gm in (("organ", "organ"), ("strings", "strings"), ("piano", "piano"), (None, "choir"),
                             (None, {"S": "oboe", "A": "clarinet", "T": "clarinet", "B": "bassoon"})):
            if isinstance(gm, dict) and set(gm) != set(piece.voice_names):
                continue
            soundfont.render_soundfont(piece, gm, sr=sr)  # warm-up: reads the font
            seconds, y = best_time(lambda: soundfont.render_soundfont(piece, gm, sr=sr))
            rtf = len(y) / sr / seconds
            if rtf < TARGET_RTF:
                slow.append((gm, sr))
            add = ""
            if additive:
                a_sec, a_y = best_time(lambda: audio.render(piece, additive, sr=sr))
                add = f"{len(a_y) / sr / a_sec:.0f}"
            label = gm if isinstance(gm, str) else "S/A/T/B reed quartet"
            print(f"{label:<24} {sr:6d} {add:>11} {rtf:12.0f} {np.max(np.abs(y)):8.2f}")
    verdict = "all meet" if not slow else f"BELOW target: {slow}"
    print(f"SoundFont target: at least {TARGET_RTF:.0f}x real time -- {verdict}")


def corpus_build(n_clips: int = 60) -> None:
    """Build a small slice of the audio corpus in a temporary folder: clips per second; the default's size."""
    from helpers.audio_corpus import AudioCorpus, CorpusRecipe, cache_root

    default = CorpusRecipe()
    small = CorpusRecipe(n_train=n_clips - 2 * (n_clips // 6), n_valid=n_clips // 6, n_test=n_clips // 6)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        AudioCorpus.build(small, cache_dir=tmp, progress=False, verbose=False)
        seconds = time.perf_counter() - t0
    rate = n_clips / seconds
    n_default = default.n_train + default.n_valid + default.n_test
    print(f"\naudio corpus: {n_clips} clips of {small.clip_seconds:g} s at {small.sr} Hz built in {seconds:.1f} s "
          f"({rate:.1f} clips/s, {rate * small.clip_seconds:.0f} s of audio per second)")
    print(f"default recipe: {n_default} clips, {default.size_bytes() / 1e6:.0f} MB of int16 audio, "
          f"about {n_default / rate:.0f} s to build at this rate")
    built = cache_root() / default.hash() / "complete.json"
    if built.is_file():
        import json

        info = json.loads(built.read_text())
        print(f"default corpus in the cache ({built.parent}): built in {info['build_seconds']:.0f} s, "
              f"{info['bytes'] / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
