# %% [markdown]
# # 01 · How music becomes numbers
#
# A model cannot read a score or listen to a recording: it reads arrays of numbers. How we turn music into numbers
# decides what a model can learn, how long its sequences are, and what it can never say. This notebook builds every
# representation the course uses, checks that each one gives the music back, and measures what each costs on the whole
# corpus.
#
# **What you will learn**
# - what the lesson's first token scheme gets right and wrong;
# - what *quantisation* to a 16th-note grid moves, and how many notes it touches in real music;
# - four symbolic encodings -- the **[chorale grid](GLOSSARY.md#chorale-grid)** of the Music Transformer paper, the
#   **piano roll**, MIDI-like **performance events** and **[REMI](GLOSSARY.md#remi)** tokens -- each with an encoder,
#   a decoder and a vocabulary;
# - what each one loses, measured over every chorale and every folk tune (and how we *prove* the lossless ones are
#   lossless);
# - how big each is next to a mel spectrogram and a raw waveform, in one table computed from the corpus;
# - which representation each later notebook uses, and why.
#
# **Contents:** 1. The lesson's first attempt · 2. A real chorale · 3. Quantisation · 4. The chorale grid · 5. The
# piano roll · 6. Performance events · 7. REMI · 8. The round trip, over the whole corpus · 9. Do they sound the same? ·
# 10. Audio: the waveform and the mel spectrogram · 11. The table · 12. Try it · Summary · Exercises · Further reading
#
# **Where you are:** ← previous: [00 · Welcome](00_welcome.ipynb) · next: [02 · Markov chains](02_markov_chains.ipynb)
# → · [all notebooks](../README.md#the-notebooks) · [glossary](GLOSSARY.md)
#
# **Run time:** about 1.5 minutes (84 s measured with `scripts/execute_notebook.py`
# on a 2-core machine shared with other jobs; expect less on an idle machine).
#
# **Papers cited:** Huang et al., *Music Transformer* ([arXiv:1809.04281](https://arxiv.org/abs/1809.04281)), for
# the chorale grid and performance events; Oore et al., *This Time with Feeling: Learning Expressive Musical
# Performance* ([arXiv:1808.03715](https://arxiv.org/abs/1808.03715)), for performance events; Huang & Yang, *Pop Music
# Transformer* ([arXiv:2002.00212](https://arxiv.org/abs/2002.00212)), for REMI.

# %%
# %matplotlib inline
import time
from collections import Counter

import numpy as np
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from helpers.data import load_chorales, load_folk, piece_from_notes, pitch_name
from helpers.audio import render, play, log_mel_spectrogram
from helpers.plots import plot_piano_roll, plot_spectrogram, plot_waveform
from helpers import representations as rep
from helpers.representations import (ChoraleGrid, PianoRoll, PerformanceEvents, REMI, quantize,
                                     quantize_seconds, quantize_velocity, round_trip_errors, note_table)

plt.rcParams.update({"figure.figsize": (10, 3), "figure.dpi": 80})
SR = 16000  # sample rate for listening and for the audio rows of the table

# %% [markdown]
# ## 1. The lesson's first attempt
#
# The lesson's `MusicRepresentations` class starts with two chords at 120 beats per minute, C-E-G then C-F-A, each a
# quarter note long. It puts them on a 16th-note grid (a **piano roll**: 128 pitches x time steps, a cell holds the
# velocity) and then writes one token per step: `TIME_t`, followed by `NOTE_pitch_velocity` for every cell that sounds.
# Here is the same idea with the
# course's helpers.

# %%
lesson = piece_from_notes(
    [(60, 0, 1, 100), (64, 0, 1, 90), (67, 0, 1, 80),   # C major: C4 E4 G4
     (60, 1, 1, 100), (65, 1, 1, 90), (69, 1, 1, 80)],  # F major, 2nd inversion: C4 F4 A4
    id="lesson", qpm=120)
plain_roll = PianoRoll(onsets=False)
roll = plain_roll.encode(lesson)                 # (128, T) velocities
naive = rep.active_cell_tokens(roll)
print("roll shape:", roll.shape, f"- {100 * rep.roll_sparsity(roll):.1f}% of its cells are silent")
print(naive[:9], "...")

# %% [markdown]
# **What it gets right.** A fixed time grid makes music look like an image (a roll) or a sentence (tokens); the roll is
# mostly empty, so listing only what sounds is much shorter than the roll.
#
# **What it gets wrong.**
# 1. *Nothing says when a note ends or starts.* C4 is played twice, but the second chord's C4 cells look exactly like a
#    held C4. Decoding gives 5 notes, not 6, and a C4 held through both chords.
# 2. *`TIME_t` is an absolute position:* the vocabulary grows with the length of the piece, and a model must learn
#    `TIME_517` from the few pieces that are that long.
# 3. *One decimal of velocity:* 100/127 and 90/127 print as `0.8` and `0.7`, so only 11 loudness levels survive.

# %%
# NBVAL_CHECK_OUTPUT
decoded_lesson = plain_roll.decode(roll, qpm=120)
print("notes in:", len(lesson), " notes out:", len(decoded_lesson))
for n in decoded_lesson.note_list():
    print(" ", n)
c4_held = piece_from_notes([(60, 0, 2, 100), (64, 0, 1, 90), (67, 0, 1, 80), (65, 1, 1, 90), (69, 1, 1, 80)], qpm=120)
assert rep.active_cell_tokens(plain_roll.encode(c4_held)) == naive, "held or struck twice: the same tokens"

# %%
display(play(lesson, sr=SR, instrument="piano"), play(decoded_lesson, sr=SR, instrument="piano"))

# %% [markdown]
# Listen: in the second clip the C4 is not struck again. A grid is fine; what is missing is a way to mark **onsets**.
# Every encoding below fixes that in its own way. First, real music.
#
# ## 2. A real chorale
#
# The course ships Bach's four-part chorales (soprano, alto, tenor, bass) on the canonical JSB split, and thousands of
# Essen folk melodies (the exact counts are printed below). Times are in quarter notes; `piece.qpm` says how fast to play them.

# %%
t0 = time.perf_counter()
chorales = load_chorales(include_extra=True)          # train + valid + test + extra
folk = load_folk("essen")
print(f"{len(chorales)} chorales ({dict(Counter(p.split for p in chorales))}), {len(folk)} folk tunes, "
      f"loaded in {time.perf_counter() - t0:.1f} s")
piece = load_chorales("valid")[0]
piece

# %%
ax = plot_piano_roll(piece, end=16)
plt.show()
play(piece, sr=SR, instrument="organ", max_seconds=12)

# %% [markdown]
# ## 3. Quantisation: what "exactly" means
#
# Every encoding here works on a grid (16 steps per whole note, 4 per quarter) or a time unit (10 ms), so
# "decode(encode(piece)) gives the notes back" can only mean: *after snapping the notes to that grid*.
# `quantize` does the snapping and its rules are the contract every encoder must honour:
#
# 1. onsets and offsets go to the nearest step (halves upwards);
# 2. a note that collapses to zero length gets one step;
# 3. two notes of one voice on the same pitch never overlap (the later one cuts the earlier);
# 4. for the chorale grid (`monophonic=True`) one voice plays one note at a time: if two notes of a voice land on the
#    same step, the longer stays and the other is dropped.
#
# Triplets show rule 1 at work:

# %%
# NBVAL_CHECK_OUTPUT
triplets = piece_from_notes([(60, 0, 1/3), (62, 1/3, 1/3), (64, 2/3, 1/3), (65, 1, 1)])
print("before:", [str(n) for n in triplets.note_list()])
print("after: ", [str(n) for n in quantize(triplets).note_list()])


# %% [markdown]
# The triplet becomes a 16th, an 8th and a 16th: a 16th grid cannot hold triplets. How often does this happen in real
# music? Count every rule over the whole corpus:

# %%
# NBVAL_CHECK_OUTPUT
def changes(pieces):
    total = Counter()
    for p in pieces:
        total.update(rep.quantization_changes(p, 4, monophonic=True))
    return total

quant = {}
for name, pieces in (("chorales", chorales), ("folk", folk)):
    quant[name] = c = changes(pieces)
    share = {k: f"{100 * v / c['notes']:.2f}%" for k, v in c.items() if k != "notes"}
    print(f"{name:9s} {c['notes']:7d} notes: {share}")

# %% [markdown]
# Almost every chorale note already sits on the grid; the folk tunes carry triplets and grace notes, which move and,
# rarely, collide (a grace note on its main note's step is dropped: that is rule 4). From here on, an encoding is
# **lossless** when decoding gives back exactly what it promises to keep: `quantize(piece)` for the grid in `hold` mode,
# the roll by voice and REMI; for performance events, which have no voices and a 10 ms clock instead of a grid, the
# quantised notes without their voices (two voices on one pitch become one note).
#
# ## 4. The chorale grid (the Music Transformer paper's JSB format)
#
# Coconet's JSB data, and the Music Transformer paper after it, serialise a chorale as a grid of 16th-note steps with
# the four voices **interleaved**: S, A, T, B at step 0, then S, A, T, B at step 1, and so on. Each token is the pitch a
# voice sounds at that step, or `REST`. A held note simply **repeats** its pitch.

# %%
grid = ChoraleGrid("repeat")
tokens = grid.encode(piece)                  # (4T,) int64
frames = grid.frames(tokens)                 # (T, 4): step x voice
print(grid, "| tokens:", tokens.shape, "| frames:", frames.shape)
for t in range(6):
    print(f"step {t}:", " ".join(f"{v}={grid.vocab.id_to_token[i]:4s}" for v, i in zip("SATB", frames[t])))


# %%
def show_grid(frames, grid, steps=64, title=""):
    pitch = grid.id_to_pitch(frames[:steps]).T.astype(float)          # (4, steps), -1 = rest/hold
    pitch[pitch < 0] = np.nan
    fig, ax = plt.subplots(figsize=(10, 2.2))
    im = ax.imshow(pitch, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(4), list("SATB"))
    ax.set_xlabel("16th-note step (blank = rest or HOLD)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="MIDI pitch", pad=0.01)
    plt.show()

show_grid(frames, grid, title="chorale grid, 'repeat' mode: one token per voice per 16th")

# %% [markdown]
# Because a held note repeats, the grid **cannot tell a re-struck note from a held one**: two quarter notes on the same
# pitch become one half note. The `hold` mode fixes that with one extra token: a note's first step is its pitch, the
# next steps are `HOLD`.

# %%
hold = ChoraleGrid("hold")
h_frames = hold.frames(hold.encode(piece))
print(hold)
for t in range(6):
    print(f"step {t}:", " ".join(f"{v}={hold.vocab.id_to_token[i]:4s}" for v, i in zip("SATB", h_frames[t])))
show_grid(h_frames, hold, title="'hold' mode: a pitch only where a note starts")

# %% [markdown]
# How much does `repeat` lose? We count, over every chorale, the notes of the quantised piece that do not come back.
# The paper's format is `repeat`, so we keep it for the Music Transformer (its per-token [NLL](GLOSSARY.md#nll) is then comparable with the
# paper's table), and state its loss rather than hide it.

# %%
# NBVAL_CHECK_OUTPUT
merged = Counter()
total = Counter()
for p in chorales:
    merged[p.split] += grid.merged_notes(p)
    total[p.split] += len(quantize(p, monophonic=True))
    assert round_trip_errors(quantize(p, monophonic=True), hold.decode(hold.encode(p))) == 0
for s in ("train", "valid", "test", "extra"):
    print(f"{s:6s} {merged[s]:6d} of {total[s]:6d} notes merged by 'repeat' ({100 * merged[s] / total[s]:.1f}%)")
repeat_loss = sum(merged.values()) / sum(total.values())
print(f"all    {100 * repeat_loss:.1f}%   ('hold' mode: 0 notes lost in {len(chorales)} chorales)")

# %% [markdown]
# About one chorale note in seven is a repeated pitch that `repeat` merges. Here is what that looks like and sounds
# like: the chorale decoded from the `repeat` grid, next to the original.

# %%
from_repeat = grid.decode(tokens, qpm=piece.qpm)
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
plot_piano_roll(quantize(piece, monophonic=True), ax=axes[0], end=16, title="quantised original")
plot_piano_roll(from_repeat, ax=axes[1], end=16, title="decoded from 'repeat' (re-struck notes merged)")
axes[0].get_legend().remove()
plt.tight_layout(); plt.show()
play(from_repeat, sr=SR, instrument="organ", max_seconds=12)

# %% [markdown]
# `grid.changes(tokens)` marks the tokens where a voice does something new (a different token from its previous step).
# A model that only learned to copy the previous step gets the others right for free; notebook 03 reports its loss on
# both kinds separately.

# %%
# NBVAL_CHECK_OUTPUT
valid_tokens = np.concatenate([grid.encode(p) for p in load_chorales("valid")])
same_as_before = 1 - np.concatenate([grid.changes(grid.encode(p)) for p in load_chorales("valid")]).mean()
print(f"valid split: {len(valid_tokens)} tokens, {100 * same_as_before:.0f}% repeat the voice's previous token")

# %% [markdown]
# ## 5. The piano roll
#
# The roll is the grid without voices: 128 pitches x steps, each cell the velocity (0 = silent). Three variants:
#
# | variant | array | loses |
# |---|---|---|
# | plain | `(128, T)` | which voice plays a note, re-struck notes (like `repeat`), unisons between voices |
# | with onsets | `(2, 128, T)`: channel 0 = onsets, 1 = sustain | which voice plays a note, unisons between voices |
# | by voice | `(V, 2, 128, T)`, one roll per voice | nothing |

# %%
rolls = {"plain": PianoRoll(onsets=False), "onsets": PianoRoll(), "by voice": PianoRoll(by_voice=True)}
for name, r in rolls.items():
    x = r.encode(piece)
    print(f"{name:9s} shape {str(x.shape):18s} {100 * rep.roll_sparsity(x):.1f}% silent, {x.nbytes} bytes")

# %%
x = rolls["onsets"].encode(piece)                     # (2, 128, T)
lo, hi = grid.low, grid.high
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
for ax, channel, title in zip(axes, (1, 0), ("sustain channel (what sounds)", "onset channel (what starts)")):
    ax.imshow(x[channel, lo:hi + 1, :128], origin="lower", aspect="auto", cmap="Greys",
              extent=(0, 128, lo - 0.5, hi + 0.5), interpolation="nearest")
    ax.set_title(title); ax.set_xlabel("16th-note step")
axes[0].set_ylabel("MIDI pitch")
plt.tight_layout(); plt.show()

# %% [markdown]
# What each variant loses over the whole corpus is measured in section 8.
#
# ## 6. Performance events (MIDI-like)
#
# For piano performances the Music Transformer (and Performance RNN before it) uses events in **real time**:
# `NOTE_ON_p`, `NOTE_OFF_p` (128 each), `TIME_SHIFT_k` (k x 10 ms, up to 1 s) and `VELOCITY_b` (32 bins), 388 tokens
# in all. Time is not tied to a grid, so an expressive performance keeps its timing; but there are no voices, and an
# empty second costs one token while a busy second costs dozens.

# %%
perf = PerformanceEvents()
perf_tokens = perf.encode(piece)
print(perf, "|", len(perf_tokens), "tokens for", f"{piece.duration_seconds:.0f} s")
print(" ".join(perf.vocab.decode(perf_tokens[:16])))
assert len(perf.vocab) == 388

# %% [markdown]
# ## 7. REMI
#
# [REMI](GLOSSARY.md#remi) (Huang & Yang 2020) puts the metre into the tokens: `Bar` starts each bar, `Position_i` says on which 16th of the
# bar the next notes start, and each note is `Pitch`, `Velocity`, `Duration` (in 16ths). We add an optional `Voice`
# token before each note, so a chorale keeps its voices in one stream. A note longer than 64 16ths gets several `Duration`
# tokens that add up (counted below).
#
# Two caveats on our corpora. They have no dynamics (every velocity is 80), so here the `Velocity` tokens carry no
# information; with performed MIDI they would. And our `Bar` tokens count bars from the first note: in a piece with a
# [pickup](GLOSSARY.md#pickup) (this chorale opens with one quarter note) they fall a quarter before the written bar lines, so a metre-aware
# REMI would start counting at the written bar line.

# %%
remi = REMI()
remi_tokens = remi.encode(piece)
print(remi, "|", len(remi_tokens), "tokens")
print(" ".join(remi.vocab.decode(remi_tokens[:19])))

# %% [markdown]
# How are these tokens written? `REMI.encode_plain` says it as a plain loop over the notes in reading order (onset,
# voice, pitch). `remi.encode`, which the course uses, places every token with one sort instead; it gives the same
# tokens (checked here on this chorale, and by `tests/test_representations.py` on the whole corpus), and
# `make bench` times the two. Read the plain one first:

# %%
import inspect

print(inspect.getsource(REMI.encode_plain))
assert np.array_equal(remi.encode_plain(piece), remi_tokens)

# %% [markdown]
# ## 8. The round trip, over the whole corpus
#
# The claim "lossless" is only worth something if it is checked on all the data. `round_trip_report` encodes and
# decodes every piece once, and compares the result note by note with what the encoding promises to keep
# (`enc.reference(piece)`: the quantised piece, with binned velocities where the encoding bins them, compared on
# `enc.fields`). The same pass measures the sizes used in the table of section 11. `tests/test_representations.py`
# asserts the same over the whole corpus.

# %%
encodings = {"grid repeat": grid, "grid hold": hold, "roll plain": rolls["plain"], "roll onsets": rolls["onsets"],
             "roll by voice": rolls["by voice"], "performance": perf, "REMI": remi}
lossless = ("grid hold", "roll by voice", "performance", "REMI")
t0 = time.perf_counter()
reports = {}
for corpus, pieces in (("chorales", chorales), ("folk", folk)):
    for name, enc in encodings.items():
        if isinstance(enc, ChoraleGrid) and corpus == "folk":
            continue  # one voice: the grid would be three quarters rests
        reports[corpus, name] = rep.round_trip_report(enc, pieces)
elapsed = time.perf_counter() - t0
print(f"{len(reports)} encode/decode passes over {len(chorales) + len(folk)} pieces in {elapsed:.0f} s")

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'encoding':14s} {'corpus':9s} {'pieces exact':>14s} {'notes merged':>13s} {'notes wrong':>12s}")
for (corpus, name), r in reports.items():
    merged = 100 * (r["notes"].sum() - r["decoded"].sum()) / r["notes"].sum()
    wrong = 100 * r["errors"].sum() / r["notes"].sum()
    print(f"{name:14s} {corpus:9s} {r['exact']:6d} / {len(r['notes']):5d} {merged:12.1f}% {wrong:11.1f}%")
    if name in lossless:
        assert r["exact"] == len(r["notes"]), f"{name} is not lossless on {corpus}"
print("REMI notes longer than 64 16ths (several Duration tokens):", sum(remi.long_notes(p) for p in chorales + folk))
print("chorale notes merged into another voice's note by performance events (unisons):",
      sum(len(p) - len(quantize_seconds(p)) for p in chorales))

# %% [markdown]
# Read it row by row. The four lossless encodings give back every piece (each compared with what it promises to keep). The `repeat` grid and the plain roll merge
# re-struck notes (a merged run of *k* notes counts as *k* wrong notes plus one extra in the last column). The roll with
# onsets but without voices loses the unisons of the chorales; so do performance events, whose reference already merges
# two voices on one pitch (last line): the price of a format without voices. The plain roll merges more than `repeat`
# does: besides re-struck notes and unisons, it joins two voices that hand the same pitch from one to the other.
#
# ## 9. Do they sound the same?
#
# Decode the chorale from every representation, render each with the same organ, and compare its log-mel spectrogram
# with the quantised original's, as the mean absolute difference in decibels over all bands and frames (the spectrogram,
# not the samples: a 10 ms time grid moves notes by up to 5 ms, which you cannot hear but which changes every sample).

# %%
# NBVAL_CHECK_OUTPUT
versions = {
    "quantised original": quantize(piece, monophonic=True),
    "chorale grid (repeat)": grid.decode(grid.encode(piece), qpm=piece.qpm),
    "chorale grid (hold)": hold.decode(hold.encode(piece), qpm=piece.qpm),
    "piano roll (plain)": rolls["plain"].decode(rolls["plain"].encode(piece), qpm=piece.qpm),
    "piano roll by voice": rolls["by voice"].round_trip(piece),
    "performance events": perf.decode(perf.encode(piece), qpm=piece.qpm),
    "REMI": remi.round_trip(piece),
}
end = 16  # quarters: the first 12 seconds
audio = {k: render(v.slice_quarters(0, end), instrument="organ", sr=SR) for k, v in versions.items()}

def mel_db(a):
    return 10 / np.log(10) * log_mel_spectrogram(a, SR).numpy()   # (80, frames), natural log -> dB

ref = mel_db(audio["quantised original"])
for k, a in audio.items():
    m = mel_db(a)
    n = min(m.shape[1], ref.shape[1])
    diff = np.abs(m[:, :n] - ref[:, :n]).mean()
    print(f"{k:22s} {len(versions[k]):4d} notes, mean spectrogram difference {diff:4.1f} dB")

# %%
for k, a in audio.items():
    print(k); display(play(a, sr=SR))

# %% [markdown]
# The lossless grid encodings give exactly the same sound. Performance events differ a little: notes move by up to 5 ms,
# and where two voices sing the same pitch one note is left. The `repeat` grid and the plain roll differ where a note
# should have been struck again: listen to the repeated chords.
#
# ## 10. Audio: the waveform and the mel spectrogram
#
# A model that works on sound itself sees either the **waveform** (16,000 or 44,100 numbers per second) or a **mel
# spectrogram** (here 80 mel bands every 256 samples).

# %%
wave = audio["quantised original"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
plot_waveform(wave, SR, ax=axes[0], title="12 seconds")
plot_waveform(wave, SR, ax=axes[1], start=1.0, duration=0.03, title="30 ms: the organ's waveform")
plt.tight_layout(); plt.show()
plot_spectrogram(wave, SR, title="log-mel spectrogram (80 bands, hop 256)")
plt.show()
mel = log_mel_spectrogram(wave, SR)
print("waveform:", wave.shape, " mel:", tuple(mel.shape))


# %% [markdown]
# ## 11. The table: what each representation costs, over the whole corpus
#
# For every representation: vocabulary size, sequence length per piece (mean and 95th percentile), per second of music,
# and storage (token ids in the smallest whole number of bytes, roll cells 1 byte, audio 4-byte floats). Sequence length
# for a roll is its number of steps (one 128-pitch vector per step); the audio rows are computed from each piece's
# duration at its tempo. One caution on the per-second columns: the sources carry no tempo, so every chorale plays at
# 80 quarter notes per minute and every folk tune at 120. The per-second rates of the grid and the roll are fixed by
# that choice (which is why their mean and 95th percentile agree); compare per-second figures across representations,
# and per-piece figures across corpora.

# %%
# NBVAL_CHECK_OUTPUT
def table_rows(corpus):
    rows = []
    for name, enc in encodings.items():
        if (corpus, name) not in reports:
            continue
        r = reports[corpus, name]
        if isinstance(enc, PianoRoll):  # length = steps; each step is a vector of cells, 1 byte each
            s = rep.size_summary(r["length"], r["seconds"], bytes_per_item=np.mean(r["cells"] / r["length"]))
            rows.append((name, s, r["silent"].sum() / r["cells"].sum()))
        else:
            vocab = len(enc.vocab)
            rows.append((name, rep.size_summary(r["length"], r["seconds"], rep.bytes_per_token(vocab), vocab), None))
    secs = reports[corpus, "REMI"]["seconds"]
    for sr in (16000, 44100):
        samples = np.floor(secs * sr)
        rows.append((f"waveform {sr / 1000:g} kHz", rep.size_summary(samples, secs, 4), None))  # float32
        frames = 1 + samples // 256
        rows.append((f"mel 80 x frames {sr / 1000:g} kHz", rep.size_summary(frames, secs, 80 * 4), None))
    return rows

table = {}
for corpus in ("chorales", "folk"):
    table[corpus] = table_rows(corpus)
    secs = reports[corpus, "REMI"]["seconds"]
    print(f"{corpus}: {len(secs)} pieces, mean {secs.mean():.0f} s")
    print(f"  {'representation':24s} {'vocab':>6s} {'mean len':>9s} {'p95 len':>9s} {'per s':>8s} {'p95/s':>8s} {'kB':>8s} {'silent':>7s}")
    for name, s, sparsity in table[corpus]:
        vocab = "-" if s["vocab"] is None else str(s["vocab"])
        sp = "" if sparsity is None else f"{100 * sparsity:.1f}%"
        print(f"  {name:24s} {vocab:>6s} {s['mean']:9.0f} {s['p95']:9.0f} {s['per_s_mean']:8.1f} "
              f"{s['per_s_p95']:8.1f} {s['kb_mean']:8.1f} {sp:>7s}")

# %% [markdown]
# Which tokens are common? A model spends most of its effort on the frequent ones: the histograms below count every
# token of every chorale.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, (name, enc) in zip(axes, (("chorale grid (repeat)", grid), ("performance events", perf), ("REMI", remi))):
    counts = np.bincount(np.concatenate([enc.encode(p) for p in chorales]), minlength=len(enc.vocab))
    ax.bar(np.arange(len(counts)), counts, width=1.0)
    ax.set_yscale("log"); ax.set_title(name); ax.set_xlabel("token id")
    top = int(np.argmax(counts))
    ax.annotate(enc.vocab.id_to_token[top], (top, counts[top]), fontsize=8)
axes[0].set_ylabel("count (log)")
plt.tight_layout(); plt.show()

# %% [markdown]
# ## 12. Try it: any piece, any representation
#
# Pick a piece and an encoding: you see its first tokens (or, for a roll, its first steps) and hear the piece decoded
# from it.

# %%
import ipywidgets as widgets
from helpers.widgets import MusicPanel

choices = {f"chorale {p.id} ({p.split})": p for p in chorales[:6]}
in_grid_range = [p for p in folk[:60] if grid.low <= p.pitches.min() and p.pitches.max() <= grid.high]
choices.update({f"folk {p.id}": p for p in in_grid_range[:6]})  # tunes the chorale grid can hold too (as soprano)
encoders = {"chorale grid (repeat)": grid, "chorale grid (hold)": hold, "piano roll (onsets)": rolls["onsets"],
            "piano roll (plain)": rolls["plain"], "performance events": perf, "REMI": remi}
shown = {}

def decoded(piece_name, encoding, n_tokens):
    p, enc = choices[piece_name], encoders[encoding]
    shown["text"] = rep.first_tokens(enc, p, n_tokens)
    return enc.round_trip(p)

panel = MusicPanel(
    decoded,
    {"piece_name": widgets.Dropdown(options=list(choices), description="piece"),
     "encoding": widgets.Dropdown(options=list(encoders), description="encoding"),
     "n_tokens": widgets.IntSlider(value=24, min=8, max=96, step=8, description="tokens")},
    instrument="organ", describe=lambda piece: shown["text"], max_quarters=16, button="Encode, decode, play", sr=SR)
panel.show()  # the first setting, before you touch anything
panel.widget

# %% [markdown]
# ## Summary
#
# The numbers below are computed from the table above.

# %%
c = {name: s for name, s, _ in table["chorales"]}
n_pickup = sum(p.meta.get("pickup_quarters", 0) > 0 for p in chorales)
f = {name: s for name, s, _ in table["folk"]}
sp = {name: sparsity for name, _, sparsity in table["chorales"]}
display(Markdown(f'''
- A **16th-note grid** holds almost all of the corpus: quantising moves
  {100 * quant["chorales"]["moved"] / quant["chorales"]["notes"]:.2f}% of the chorale notes and
  {100 * quant["folk"]["moved"] / quant["folk"]["notes"]:.2f}% of the folk notes (triplets, grace notes), and drops
  {quant["chorales"]["dropped"]} and {quant["folk"]["dropped"]} notes that collide with another of their voice. Every
  lossless encoding gives back exactly what it promises to keep (the quantised piece; for performance events, its
  notes without voices), for all {len(chorales)} chorales and {len(folk)} folk tunes (checked in {elapsed:.0f} s above and in the tests).
- **Chorale grid** ({c["grid repeat"]["vocab"]} tokens in `repeat`, {c["grid hold"]["vocab"]} in `hold`):
  {c["grid repeat"]["mean"]:.0f} tokens per chorale on average, {c["grid repeat"]["per_s_mean"]:.1f} per second; `repeat`
  merges {100 * repeat_loss:.1f}% of the notes. **Notebook 03 (Music Transformer)** uses `repeat`, because it is the
  paper's format (so its per-token NLL is comparable with the paper's table), and reports its loss separately on the
  tokens where a voice changes.
- **Piano roll**: {c["roll plain"]["per_s_mean"]:.1f} steps per second, each a 128-pitch vector
  {100 * sp["roll plain"]:.1f}% silent: an image, natural for convolutional and diffusion models, wasteful for a
  sequence model. Its lossless form needs an onset channel and one roll per voice.
- **Performance events** ({c["performance"]["vocab"]} tokens): {c["performance"]["per_s_mean"]:.1f} tokens per second
  for chorales, {f["performance"]["per_s_mean"]:.1f} for folk tunes; the right choice for expressive piano, where
  timing is not on a grid; it drops voices.
- **REMI** ({c["REMI"]["vocab"]} tokens): {c["REMI"]["per_s_mean"]:.1f} tokens per second for chorales,
  {f["REMI"]["per_s_mean"]:.1f} for folk tunes, with bars and beats spelled out, so metre is easy to learn (once the
  bars are counted from the written bar line rather than from the first note: {n_pickup} of the {len(chorales)}
  chorales open with a pickup).
  **Notebook 02 (Markov chains)** models folk melodies as a stream of (pitch, duration) events, the same idea as REMI's
  note tokens without the bar structure (`helpers.markov.melody_events`).
- **Audio**: a waveform costs {c["waveform 16 kHz"]["per_s_mean"]:.0f} numbers per second at 16 kHz and
  {c["waveform 44.1 kHz"]["per_s_mean"]:.0f} at 44.1 kHz (a chorale: {c["waveform 44.1 kHz"]["kb_mean"] / 1000:.1f} MB);
  a mel spectrogram {80 * c["mel 80 x frames 16 kHz"]["per_s_mean"]:.0f} numbers per second at 16 kHz. Per second,
  the 16 kHz waveform holds {c["waveform 16 kHz"]["per_s_mean"] / c["grid repeat"]["per_s_mean"]:.0f} times as many
  numbers as the chorale grid has tokens, the mel spectrogram
  {80 * c["mel 80 x frames 16 kHz"]["per_s_mean"] / c["grid repeat"]["per_s_mean"]:.0f} times:
  the audio models of the lesson (Jukebox's VQ-VAE, MusicGen: the audio half of the course plan, notebooks 04-06)
  start by compressing sound into a few discrete codes per frame before any sequence model sees it.
'''))

# %% [markdown]
# ## Exercises
#
# 1. **A coarser grid.** Quantise the chorales and the folk tunes to 8th notes (`steps_per_quarter=2`). What share of
#    notes moves (over `chorales` and `folk` as loaded in section 2), and how many are dropped? Which corpus suffers
#    more, and why? (`rep.quantization_changes` counts them for one piece.)
# 2. **The copying baseline.** Using `grid.changes`, compute on the *train* split the share of tokens that repeat the
#    voice's previous token. A model that always copies would be right this often: what does that say about per-token
#    accuracy as a measure?
# 3. **REMI without voices.** Build `REMI(with_voice=False)`. How much shorter are the chorales' sequences? Use
#    `round_trip_errors(..., fields=("pitch", "onset", "duration", "voice"))` to show what is lost, and decode a chorale
#    to hear whether you can still tell the voices apart.
# 4. **A finer clock.** Make `PerformanceEvents(time_unit=0.008, max_shift=125)`: same longest shift, finer steps. How does
#    the vocabulary and the number of tokens per second change?
#
#
# Exercises 1 and 2 have checks: put your answer in the cell and run it; until then it says "not answered yet".
# `show_solution("name")` prints a reference solution, when you want one.

# %%
# NBVAL_CHECK_OUTPUT
from helpers.solutions import check, show_solution

# Exercise 1: the share (0..1) of notes that an 8th-note grid moves, per corpus
moved_8th = None  # e.g. {"chorales": ..., "folk": ...}
check("coarser_grid", moved_8th)

# %%
# NBVAL_CHECK_OUTPUT
# Exercise 2: your answer here (a number between 0 and 1)
copy_share = None
check("copy_share", copy_share)

# %% [markdown]
# ## Further reading
#
# - Oore et al. (2018), *This Time with Feeling* ([arXiv:1808.03715](https://arxiv.org/abs/1808.03715)): performance
#   events, and why expressive timing needs them.
# - Huang & Yang (2020), *Pop Music Transformer* ([arXiv:2002.00212](https://arxiv.org/abs/2002.00212)): REMI, and what
#   bar and position tokens buy a model.
# - Fradet et al. (2021), *MidiTok: A Python package for MIDI file tokenization* (ISMIR late-breaking demo;
#   [github.com/Natooz/MidiTok](https://github.com/Natooz/MidiTok)): the common tokenisations side by side.
# - Müller, *Fundamentals of Music Processing* (2nd ed., Springer 2021), chapter 1: score, MIDI and audio
#   representations, and the [FMP notebooks](https://www.audiolabs-erlangen.de/resources/MIR/FMP/C0/C0.html).
# - Next: [02 · Markov chains](02_markov_chains.ipynb).
