# %% [markdown]
# # 00 · Welcome: AI music generation, by doing it
#
# This course teaches how machines make music by making it: every model here is trained on real music that ships with
# the course, every result can be **heard**, and every knob can be turned.
#
# **What you will learn in this notebook**
# - how the course is organised and how to run it (two commands);
# - what the two corpora sound and look like: a Bach chorale and a folk song, as audio, piano roll and spectrogram;
# - what lives in the `helpers` package that the notebooks use;
# - where the systems of the lesson (Music Transformer, MuseNet, Jukebox, MusicLM, MusicGen) sit, with sources.
#
# **How to run it.** On a new machine: `make lab` opens this notebook in JupyterLab, `make test` runs the unit tests and
# every notebook. Run the cells in order (Shift+Enter). Nothing is downloaded: the data and the trained weights are in
# `data/`.
#
# | notebook | topic |
# |---|---|
# | 00 | welcome (this one) |
# | 01 | representations: piano roll, events, REMI, the chorale grid, spectrogram |
# | 02 | Markov chains on thousands of folk tunes |
# | 03 | the Music Transformer: relative attention, skewing, KV cache, Bach chorales |
# | 04–06 | Jukebox VQ-VAE · MusicGen · evaluation (the audio half) |
# | 07 | the lesson's exercises, with checked solutions |
# | 08 | review of the previous lesson's exercises |
#
# **Contents:** The corpora · Listen: a Bach chorale · Listen: a folk song · The instruments of the synthesiser ·
# A tour of `helpers` · Your own music · The landscape · Summary · Exercises · Further reading
#
# **Where you are:** the first notebook · next: [01 · How music becomes numbers](01_representations.ipynb) → ·
# [all notebooks](../README.md#the-notebooks) · [glossary](GLOSSARY.md) of the terms the course uses
# ([nats](GLOSSARY.md#nats), [KV cache](GLOSSARY.md#kv-cache), [top-k / top-p](GLOSSARY.md#top-k-top-p),
# [REMI](GLOSSARY.md#remi), [cadence](GLOSSARY.md#cadence), [pickup](GLOSSARY.md#pickup),
# [codebook](GLOSSARY.md#codebook), [guidance](GLOSSARY.md#guidance), ...)
#
# **Run time:** about 15 seconds (13 s measured with `scripts/execute_notebook.py`
# on a 2-core machine shared with other jobs; expect less on an idle machine).
#
# **Papers cited** (in the landscape table below, each with its source): Huang et al., *Music Transformer*
# ([arXiv:1809.04281](https://arxiv.org/abs/1809.04281)); Dhariwal et al., *Jukebox*
# ([arXiv:2005.00341](https://arxiv.org/abs/2005.00341)); Agostinelli et al., *MusicLM*
# ([arXiv:2301.11325](https://arxiv.org/abs/2301.11325)); Copet et al., *Simple and Controllable Music Generation*
# (MusicGen, [arXiv:2306.05284](https://arxiv.org/abs/2306.05284)); Boulanger-Lewandowski et al., *Modeling Temporal
# Dependencies in High-Dimensional Sequences* (the JSB split, [arXiv:1206.6392](https://arxiv.org/abs/1206.6392)).
# MuseNet has no paper, only OpenAI's [blog post](https://openai.com/index/musenet/).

# %%
# %matplotlib inline
import platform, time
import numpy as np
import torch
import matplotlib.pyplot as plt

import helpers
from helpers.data import load_chorales, load_folk, pitch_name
from helpers.audio import render, play, log_mel_spectrogram
from helpers.plots import plot_piano_roll, plot_spectrogram, plot_waveform

print(f"Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__}")
print("GPU available:", torch.cuda.is_available(), "(everything in this course also runs on a CPU)")

# %% [markdown]
# ## The corpora
#
# Two real collections ship in `data/` (see `data/README.md` for where they come from, their licences and how they were
# built):
#
# - **Bach chorales**: four voices (soprano, alto, tenor, bass), split into train/valid/test as the JSB Chorales
#   benchmark that papers report on (Boulanger-Lewandowski et al., 2012, with 229 / 76 / 77 pieces; the counts here,
#   printed below, hold five pieces fewer since music21 lacks five of them), plus an *extra* set of chorales outside that benchmark that only ever joins
#   training.
# - **Essen folk songs**: thousands of single-line melodies with key and metre.
#
# Loading is fast because each piece keeps its notes in one NumPy array.

# %%
t0 = time.perf_counter()
chorales = {s: load_chorales(s) for s in ("train", "valid", "test", "extra")}
folk = {s: load_folk("essen", s) for s in ("train", "valid", "test")}
print(f"loaded in {time.perf_counter() - t0:.2f} s")


# %%
# NBVAL_CHECK_OUTPUT
def describe(name, split_dict):
    for split, pieces in split_dict.items():
        notes = sum(len(p) for p in pieces)
        hours = sum(p.duration_seconds for p in pieces) / 3600
        print(f"{name:9s} {split:6s} {len(pieces):5d} pieces {notes:8d} notes {hours:6.1f} h at the shipped tempo")

describe("chorales", chorales)
describe("folk", folk)

# %% [markdown]
# ## Listen: a Bach chorale
#
# A chorale is a hymn tune (the soprano) harmonised in four parts. Below: its notes as a **piano roll** (time left to
# right in quarter notes, pitch bottom to top, one colour per voice), then the sound rendered by the course's small
# synthesiser with an organ timbre.

# %%
chorale = chorales["valid"][0]
print(chorale)
print("key:", chorale.key, "| time signature:", chorale.time_signature, "| voices:", chorale.voice_names)
beats_per_bar = 4 * int(chorale.time_signature.split("/")[0]) / int(chorale.time_signature.split("/")[1])
end = 8 * beats_per_bar + chorale.meta.get("pickup_quarters", 0)  # the pickup, then 8 full bars
ax = plot_piano_roll(chorale, end=end, title=f"{chorale.title} (pickup and the first 8 bars)")

# %%
sr = 22050
audio = render(chorale.slice_quarters(0, end), instrument="organ", sr=sr)
play(audio, sr=sr)

# %% [markdown]
# The same sound as a **log-mel spectrogram** (time left to right, frequency bottom to top on the mel scale, brightness
# = energy) and as a **waveform** (a 50 ms zoom). Symbolic models (notebooks 02–03) generate notes, which the piano
# roll shows; audio models (notebooks 04–06) generate the sound itself, which the spectrogram and waveform show.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
plot_spectrogram(audio, sr, ax=axes[0], title="log-mel spectrogram")
plot_waveform(audio, sr, ax=axes[1], start=1.0, duration=0.05, title="waveform, 50 ms")
plt.tight_layout()

# %% [markdown]
# ## The same chorale, two synthesisers
#
# The course turns notes into sound in two ways. The **additive synthesiser** above (`helpers.audio`) builds every note
# from sine waves and an envelope: it is transparent (you can read every line of it) and it teaches what a timbre is
# made of. The **SoundFont** renderer (`helpers.soundfont`) plays recorded samples of real instruments from a General
# MIDI SoundFont (`TimGM6mb.sf2`, which comes with `pretty_midi`): it sounds like instruments, and it renders the audio
# corpus that the audio notebooks (04–06) train on, so it is what the audio models learn from. The same excerpt, first
# additive, then SoundFont:

# %%
excerpt = chorale.slice_quarters(0, end)
additive = render(excerpt, "organ", sr=sr)
sampled = render(excerpt, "organ", sr=sr, synth="soundfont")  # General MIDI program 19, church organ
print(f"additive {len(additive) / sr:.2f} s, SoundFont {len(sampled) / sr:.2f} s of audio")
display(play(additive, sr=sr))
display(play(sampled, sr=sr))

# %% [markdown]
# General MIDI names that the additive synthesiser does not have (`"flute"`, `"choir"`, `"oboe"`, ...) or program
# numbers choose the SoundFont by themselves, and each voice can have its own instrument: here a wind quartet.

# %%
quartet = {"S": "oboe", "A": "clarinet", "T": "clarinet", "B": "bassoon"}
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
plot_spectrogram(sampled, sr, ax=axes[0], title="SoundFont organ")
plot_spectrogram(render(excerpt, quartet, sr=sr), sr, ax=axes[1], title="SoundFont wind quartet")
plt.tight_layout()
play(excerpt, instrument=quartet, sr=sr)

# %% [markdown]
# ## Listen: a folk song
#
# A single melodic line from the Essen collection, played with a plucked-string timbre.

# %%
tune = folk["valid"][3]
print(tune, "| origin:", tune.meta.get("origin", "?"))
print("first notes:", " ".join(pitch_name(p) for p in tune.pitches[:16]))
plot_piano_roll(tune, title=tune.title)
play(tune, instrument="pluck", sr=sr)

# %% [markdown]
# ## The instruments of the synthesiser
#
# `helpers.audio` renders notes with a few additive-synthesis timbres. They are simple on purpose (you can read the code
# in a few minutes), but distinct: compare the same phrase on each.

# %%
from helpers.audio import INSTRUMENTS
phrase = tune.slice_quarters(0, 8)
for name, instrument in INSTRUMENTS.items():
    if instrument.percussion:  # the drum kit maps pitches to drums: not for melodies
        continue
    print(name)
    display(play(phrase, instrument=name, sr=sr))

# %% [markdown]
# ## A tour of `helpers`
#
# Each concept of the course has one module; the notebooks import from them so that cells stay short. The first line of
# each module's docstring:

# %%
import importlib, pkgutil
for info in sorted(pkgutil.iter_modules(helpers.__path__), key=lambda m: m.name):
    module = importlib.import_module(f"helpers.{info.name}")
    first_line = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    print(f"helpers.{info.name:16s} {first_line}")

# %% [markdown]
# ## Your own music
#
# Everything works on a folder of your own MIDI files: `load_midi_folder(path)` returns the same `Piece` objects as the
# shipped corpora. Here we write two chorales to MIDI in a temporary folder and read them back.

# %%
import tempfile
from pathlib import Path
from helpers.midi import load_midi_folder, write_midi

with tempfile.TemporaryDirectory() as folder:
    for piece in chorales["test"][:2]:
        write_midi(piece, Path(folder) / f"{piece.id}.mid")
    mine = load_midi_folder(folder)
for original, loaded in zip(chorales["test"][:2], mine):
    same = np.array_equal(original.pitches, loaded.pitches)
    print(f"{loaded.id}: {len(loaded)} notes, voices {loaded.voice_names}, pitches identical: {same}")
    assert same

# %% [markdown]
# ## The landscape
#
# The lesson compares five systems. Each cell below is taken from the system's paper or official post (named in the last
# column); "not stated" means that source gives no figure. The lesson's own table lists parameter counts for MuseNet and
# the Music Transformer ("~1.2B", "~41M") that those sources do not give: treat such figures with care.

# %%
from IPython.display import Markdown
from helpers.landscape import landscape_markdown
Markdown(landscape_markdown())

# %% [markdown]
# The course follows the same path, at laptop scale: symbolic models first (Markov chains, the Music Transformer), then
# audio models that compress sound into discrete codes (a Jukebox-style VQ-VAE) and generate those codes (MusicGen-style
# codebook patterns), then evaluation.
#
# ## Summary
#
# - Two real corpora ship with the course and load in a fraction of a second.
# - Any piece can be seen (piano roll, spectrogram, waveform) and heard (`play`), through the transparent additive
#   synthesiser or through real instrument samples (a General MIDI SoundFont).
# - `helpers` has one module per concept; your own MIDI folder loads into the same objects.
#
# ## Exercises
#
# 1. Pick another chorale (`chorales["train"][k]`) and play it with each instrument. Which timbre makes the inner voices
#    (alto, tenor) easiest to follow?
# 2. Transpose the folk tune up a fifth (`tune.transpose(7)`) and play both. What changes, what stays?
# 3. Plot the piano roll of the longest chorale in the corpus (hint: `max(..., key=lambda p: p.duration_quarters)`).

# %% [markdown]
# ## Further reading
#
# - Briot, Hadjeres & Pachet, *Deep Learning Techniques for Music Generation: A Survey*
#   ([arXiv:1709.01620](https://arxiv.org/abs/1709.01620)): the landscape before 2019, representation by representation.
# - Ji, Luo & Yang, *A Comprehensive Survey on Deep Music Generation: Multi-level Representations, Algorithms,
#   Evaluations, and Future Directions* ([arXiv:2011.06801](https://arxiv.org/abs/2011.06801)).
# - Müller, *Fundamentals of Music Processing* (2nd ed., Springer 2021), and its
#   [FMP notebooks](https://www.audiolabs-erlangen.de/resources/MIR/FMP/C0/C0.html): the audio and score basics.
# - Next: [01 · How music becomes numbers](01_representations.ipynb).
