# %% [markdown]
# # 02 · Markov chains: learning melodies by counting, and where counting breaks
#
# A Markov chain predicts the next note from the few notes before it, using nothing but counts from example music.
# It is the oldest generative music model that still sounds like *something*, and it is the baseline every neural model
# in this course has to beat.
#
# **What you will learn**
# - to reproduce the lesson's `MarkovMusicGenerator` on its five tiny melodies, and fix its two slips
#   (a seed fixed inside `generate`, and a "first-order" chain that is really second-order);
# - why an unsmoothed chain hits dead ends, and how **Kneser–Ney smoothing with backoff** removes them;
# - to train on **thousands of real folk tunes** (the Essen collection) and measure the model on held-out tunes:
#   negative log-likelihood per note, for orders 1 to 6;
# - to see, in numbers, where a higher order stops generalising and starts **copying** its training set;
# - the effect of **[temperature](GLOSSARY.md#temperature)**, with your ears;
# - what a Markov chain cannot do (phrases, returning themes), which leads to the Music Transformer (notebook 03).
#
# **Contents:** 1. The lesson's chain, on five melodies · 2. Smoothing with backoff: interpolated Kneser–Ney ·
# 3. A real corpus: thousands of folk tunes · 4. How good is each order? · 5. Does a higher order compose, or copy? ·
# 6. Listen to each order · 7. Temperature · 8. Bach chorales · 9. Your turn: a generator with knobs ·
# 10. What a Markov chain cannot do · Summary · Exercises · Further reading
#
# **Where you are:** ← previous: [01 · How music becomes numbers](01_representations.ipynb) · next:
# [03 · The Music Transformer](03_music_transformer.ipynb) → · [all notebooks](../README.md#the-notebooks) ·
# [glossary](GLOSSARY.md)
#
# **Run time:** about 2 to 3 minutes (132-175 s measured in three runs with `scripts/execute_notebook.py`
# on a 2-core machine shared with other jobs; expect less on an idle machine).
#
# **Papers cited:** Chen & Goodman, *An empirical study of smoothing techniques for language modeling*
# ([arXiv:cmp-lg/9606011](https://arxiv.org/abs/cmp-lg/9606011); the longer 1998 technical report TR-10-98 holds
# Sec. 2.7 and 3); Kneser & Ney, *Improved backing-off for m-gram language modeling* (ICASSP 1995,
# [doi:10.1109/ICASSP.1995.479394](https://doi.org/10.1109/ICASSP.1995.479394), not on arXiv); Huang et al., *Music
# Transformer* ([arXiv:1809.04281](https://arxiv.org/abs/1809.04281)).

# %%
# %matplotlib inline
import inspect, time
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets
from IPython.display import display

from helpers import markov
from helpers.markov import NGramModel, RawMarkovChain, CorpusIndex
from helpers.chorale import grid_baseline_nll
from helpers.data import load_folk, load_chorales, pitch_name
from helpers.audio import play
from helpers.plots import plot_piano_roll
from helpers.widgets import MusicPanel

plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (9, 3)})
T0 = time.perf_counter()

# %% [markdown]
# ## 1. The lesson's chain, on five melodies
#
# The lesson counts, for every pair of consecutive notes, which note came next, then walks through those counts at
# random. Two slips are worth fixing before anything else:
#
# - it calls `np.random.RandomState(42)` *inside* `generate`, so every call returns the **same** tune. Here the caller
#   passes a `np.random.Generator`: the same seed gives the same tune, and two calls with one generator give two tunes;
# - its docstring says "first-order", but with `order=2` each note depends on the **two** notes before it: a
#   *second-order* chain (a trigram model, in language-model words). Below, `order` always means the number of
#   previous notes the chain looks at.
#
# `RawMarkovChain` in `helpers.markov` is the lesson's model with those two fixes and nothing else.

# %%
# NBVAL_CHECK_OUTPUT
lesson_melodies = [
    [60, 62, 64, 65, 67, 65, 64, 62, 60],
    [64, 62, 60, 62, 64, 64, 64, 62, 62, 62],
    [67, 65, 64, 62, 60, 60, 62, 64, 67],
    [60, 64, 67, 64, 60, 65, 69, 67, 65, 64, 62, 60],
    [60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60],
]
chain = RawMarkovChain(order=2).train(lesson_melodies)
rng = np.random.default_rng(42)
tune_a = chain.generate([60, 64], length=16, rng=rng)
tune_b = chain.generate([60, 64], length=16, rng=rng)  # same generator, next call: a new tune
# (each tune is the 2-note seed followed by 16 generated notes: 18 notes)
print("contexts learned:", len(chain.transitions))
print("tune A:", " ".join(pitch_name(p) for p in tune_a))
print("tune B:", " ".join(pitch_name(p) for p in tune_b))
assert tune_a != tune_b
assert chain.generate([60, 64], 16, np.random.default_rng(42)) == tune_a  # same seed, same tune

# %%
play(markov.events_to_piece(tune_a, qpm=120), instrument="piano")

# %% [markdown]
# ### Where the raw chain breaks: dead ends and zero probabilities
#
# A context that never occurred in the five melodies (or only at a melody's very end) is a **dead end**: the lesson
# then picks one of five notes uniformly at random. And a melody that contains a single transition the chain never saw
# gets probability **zero**, so the chain cannot even be evaluated on new music. We count both, for orders 1 to 3:
# random fallbacks among 100 generated tunes of 32 notes, and how many of the five melodies get probability zero from
# a chain trained on the other four (leave one out).

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'order':>5} {'random fallbacks':>17} {'held-out melodies with p = 0':>29}")
fallbacks, zeros = [], []
for k in (1, 2, 3):
    c = RawMarkovChain(order=k).train(lesson_melodies)
    rng = np.random.default_rng(0)
    for _ in range(100):
        c.generate(lesson_melodies[3][:k], 32, rng)
    zero = sum(RawMarkovChain(order=k).train(lesson_melodies[:i] + lesson_melodies[i + 1:]).probability(m) == 0
               for i, m in enumerate(lesson_melodies))
    print(f"{k:>5} {c.n_fallbacks / 3200:>17.0%} {zero:>25} of 5")
    fallbacks.append(c.n_fallbacks); zeros.append(zero)
assert fallbacks == sorted(fallbacks) and min(zeros) > 0

# %% [markdown]
# The longer the context, the more dead ends (each context is rarer), and held-out melodies get probability zero at
# every order. More data makes dead ends rarer but never removes them. Both problems have one textbook fix.
#
# ## 2. Smoothing with backoff: interpolated Kneser–Ney
#
# `NGramModel(order=k)` (in `helpers.markov`) interpolates every context with its shorter suffix, down to a uniform
# distribution (Chen & Goodman 1998, Sec. 2.7; Kneser & Ney 1995):
#
# $$P(w\mid h) = \frac{\max(c(h,w)-D,\,0)}{c(h)} + \frac{D\,N_{1+}(h\,\bullet)}{c(h)}\;P(w\mid h')$$
#
# where $h'$ is $h$ without its oldest note, $D=n_1/(n_1+2n_2)$ is a discount estimated from how many n-grams were
# seen once and twice, and $N_{1+}(h\,\bullet)$ is the number of different notes seen after $h$. Lower orders use
# *continuation counts* (in how many different contexts a note appears) instead of raw counts: a note that is frequent
# only because it always follows one particular context should not be a popular guess elsewhere.
#
# Each tune is padded with `<s>` start symbols and ends with a `</s>` event, so the model also learns how tunes begin
# and end. Events never seen in training map to `<unk>`, which gets a small probability only from the uniform floor.
#
# First the model written plainly, one n-gram at a time, with Python dictionaries. Counting: raw counts at the highest
# order, then, one order down at a time, *continuation counts* (in how many different longer contexts each n-gram
# was seen):

# %%
print(inspect.getsource(markov.kneser_ney_counts_plain))

# %% [markdown]
# And the probability of one note after one context, the formula above applied from the empty context up:

# %%
print(inspect.getsource(markov.kneser_ney_prob_plain))

# %% [markdown]
# Loops over dictionaries are easy to read and check. `NGramModel`, which this notebook uses to fit models on hundreds
# of thousands of notes, for six orders, many times over, computes exactly the same numbers with whole arrays at
# once: every context gets an integer id, every n-gram an integer code `context_id * V + event_id`,
# and `np.unique` / `np.searchsorted` replace the dictionaries (a sorted array searched by bisection is a dictionary
# for a whole batch of keys at once). The probability of every note of a batch of held-out tunes:

# %%
print(inspect.getsource(NGramModel.token_log_probs))

# %% [markdown]
# Same numbers? Both forms, on 1000 folk tunes of the training split and 100 held-out tunes (loaded as in
# section 3), order 3; both are timed, counting and scoring included:

# %%
# NBVAL_CHECK_OUTPUT
_train_sub = [markov.melody_events(p) for p in load_folk("essen", "train")[:1000] if len(p) >= 3]
_valid_sub = [markov.melody_events(p) for p in load_folk("essen", "valid")[:100] if len(p) >= 3]
_t = time.perf_counter()
_fast_model = NGramModel(3).fit(_train_sub)  # count ...
_fast = _fast_model.token_log_probs(_valid_sub)  # ... and score
_fast_s = time.perf_counter() - _t
_t = time.perf_counter()
_plain = markov.kneser_ney_log_probs_plain(_fast_model, _train_sub, _valid_sub)  # the same, with loops
_plain_s = time.perf_counter() - _t
_diff = max(np.abs(a - b).max() for a, b in zip(_plain, _fast))
assert _diff < 1e-12
print(f"{sum(map(len, _fast))} held-out log-probabilities, max |plain - vectorised| < 1e-12: {_diff < 1e-12}")

# %%
print(f"counting and scoring, {len(_train_sub)} tunes: plain loops {_plain_s * 1e3:.0f} ms, vectorised {_fast_s * 1e3:.0f} ms "
      f"({_plain_s / _fast_s:.0f}x)")

# %% [markdown]
# On the five melodies, the smoothed chain never falls back to dice, and every next-note distribution sums to one,
# even after a context it never saw:

# %%
# NBVAL_CHECK_OUTPUT
tiny = NGramModel(order=2).fit(lesson_melodies)
for context in ([60, 64], [64, 62], [71, 59]):  # seen, seen, never seen
    p = tiny.prob_table(context)
    top = np.argsort(p)[::-1][:3]
    names = [markov.SPECIALS[i] if i < 3 else pitch_name(tiny.id_to_event([i])[0]) for i in top]
    print(f"after {[pitch_name(c) for c in context]}: sum={p.sum():.3f}  top 3:",
          ", ".join(f"{n} {p[i]:.2f}" for n, i in zip(names, top)))
print(" ".join(pitch_name(p) for p in tiny.sample(16, np.random.default_rng(42), prompt=[60, 64])))

# %% [markdown]
# ## 3. A real corpus: thousands of folk tunes
#
# The Essen Folksong Collection ships with the course (`data/folk_essen.npz`), split into train / valid / test.
# Tunes come in every key; a Markov chain over absolute pitches would have to learn each melody shape twelve times. Two
# remedies, compared below:
#
# - **key normalisation**: transpose every tune so its tonic is the nearest C (`markov.normalise_keys`);
# - **transposition augmentation**: train on every tune in 12 keys (`markov.augment_transpositions`).
#
# A melody becomes a sequence of events: pitches, or `(pitch, duration)` pairs where the duration is the time to the
# next note (`markov.melody_events`). We drop the few tunes shorter than 6 notes, so that every order from 1 to 6 is
# scored on the same tunes.

# %%
# NBVAL_CHECK_OUTPUT
folk = {s: markov.normalise_keys(load_folk("essen", s)) for s in ("train", "valid")}
folk = {s: [p for p in pieces if len(p) >= 6] for s, pieces in folk.items()}
pitch_seqs = {s: [markov.melody_events(p) for p in ps] for s, ps in folk.items()}
dur_seqs = {s: [markov.melody_events(p, with_duration=True) for p in ps] for s, ps in folk.items()}
for s in folk:
    print(f"{s:5}: {len(folk[s])} tunes, {sum(map(len, pitch_seqs[s]))} notes")

# %%
example = folk["train"][0]
print(example)
plot_piano_roll(example, title=f"a training tune: {example.title or example.id} (transposed to C)")
plt.show()
play(example, instrument="pluck", max_seconds=12)

# %% [markdown]
# ## 4. How good is each order? Likelihood on held-out tunes
#
# The [negative log-likelihood (NLL)](GLOSSARY.md#nll) per note, in [nats](GLOSSARY.md#nats), measures how surprised a
# model is by music it has not seen: lower is better, $\ln(\text{vocabulary size})$ is a model that knows nothing. Training NLL always goes down with the order; the
# **validation** NLL shows when the extra context stops being knowledge and starts being memory. (Counts include one
# `</s>` per tune.)

# %%
# NBVAL_CHECK_OUTPUT
orders = range(1, 7)
rows = []
for events, seqs in (("pitch", pitch_seqs), ("pitch+duration", dur_seqs)):
    for k in orders:
        m = NGramModel(k).fit(seqs["train"])
        rows.append((events, k, m.vocab_size, m.nll_per_event(seqs["train"]), m.nll_per_event(seqs["valid"])))
print(f"{'events':15} {'order':>5} {'vocab':>6} {'train NLL':>10} {'valid NLL':>10}")
for events, k, v, tr, va in rows:
    print(f"{events:15} {k:>5} {v:>6} {tr:>10.3f} {va:>10.3f}")
nll_table = rows
best_order = {e: min((r for r in rows if r[0] == e), key=lambda r: r[4])[1] for e in ("pitch", "pitch+duration")}
print("best validation order:", best_order)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharex=True)
for ax, events in zip(axes, ("pitch", "pitch+duration")):
    r = [row for row in nll_table if row[0] == events]
    ax.plot([x[1] for x in r], [x[3] for x in r], "o-", label="train")
    ax.plot([x[1] for x in r], [x[4] for x in r], "s-", label="valid (held out)")
    best = min(r, key=lambda x: x[4])
    ax.axvline(best[1], color="grey", ls=":", label=f"best valid: order {best[1]}")
    ax.set(title=f"events: {events}", xlabel="order (previous events seen)", ylabel="nats per event")
    ax.legend()
plt.tight_layout(); plt.show()

# %% [markdown]
# The training curves fall steeply: with five or six events of context, most contexts occur in one tune only, and the
# model simply knows what comes next *in that tune*. For pitches, the validation curve bottoms out at a middle order
# and then rises: contexts that long are rarely seen again in new tunes, and the gap between the curves is
# memorisation. For `(pitch, duration)` events the gap is even wider, yet the validation NLL keeps creeping down: the
# rhythm of a tune is regular over whole bars, and folk collections often hold several variants of one tune, so long
# contexts still recur in held-out tunes. The backoff keeps the damage small either way.
#
# ### Key normalisation or transposition augmentation?

# %%
# NBVAL_CHECK_OUTPUT
raw = {s: [p for p in load_folk("essen", s) if len(p) >= 6] for s in ("train", "valid")}
raw_seqs = {s: [markov.melody_events(p) for p in ps] for s, ps in raw.items()}
augmented = [markov.melody_events(p) for p in markov.augment_transpositions(raw["train"], range(-5, 7))]
k = 3
key_nll = {
    "as written (mixed keys)": NGramModel(k).fit(raw_seqs["train"]).nll_per_event(raw_seqs["valid"]),
    "augmented, 12 transpositions": NGramModel(k).fit(augmented).nll_per_event(raw_seqs["valid"]),
    "key-normalised (tonic -> C)": NGramModel(k).fit(pitch_seqs["train"]).nll_per_event(pitch_seqs["valid"]),
}
print(f"order {k}, pitch events, validation NLL per note ({len(augmented)} augmented training tunes):")
for name, v in key_nll.items():
    print(f"  {name:30} {v:.3f}")
assert min(key_nll, key=key_nll.get) == "key-normalised (tonic -> C)"
assert key_nll["augmented, 12 transpositions"] > key_nll["as written (mixed keys)"]

# %% [markdown]
# Key normalisation wins clearly: the model pools every tune's statistics *and* knows where the tonic is, so it
# learns how tunes end. Augmentation, perhaps surprisingly, does worse than doing nothing here: it teaches the model
# that all twelve keys are equally likely, while the collection's tunes cluster in a few keys, so probability is spent
# on keys that never come (and it costs 12× the data). Augmentation shines where the model cannot be told the key,
# as on the chorale grid in section 8. Key normalisation needs a key annotation (or a key-finding algorithm). We keep
# key-normalised tunes from here on.
#
# ## 5. Does a higher order compose, or copy?
#
# For generated tunes we measure how much is copied **verbatim** from the training set, with a suffix array of the
# whole training corpus (`markov.CorpusIndex`): the share of generated $(k{+}1)$-grams and 8-grams that occur in some
# training tune, and the longest copied run of notes.

# %%
# NBVAL_CHECK_OUTPUT
models = {k: NGramModel(k).fit(pitch_seqs["train"]) for k in orders}
index = CorpusIndex([models[1].encode(s) for s in pitch_seqs["train"]])  # one id space for every order
held_out = [models[1].encode(s) for s in pitch_seqs["valid"][:100]]  # reference: real tunes the model never saw
ml = [index.match_lengths(s) for s in held_out]
reference = {"share8": np.mean([np.mean(x[: len(x) - 7] >= 8) for x in ml]), "longest": np.mean([x.max() for x in ml]),
             "length": np.mean([len(x) for x in held_out])}
copy_rows = []
for k, m in models.items():
    r = markov.memorisation(m, pitch_seqs["train"], n_tunes=30, length=64, rng=np.random.default_rng(k), index=index)
    copy_rows.append((k, r))
print(f"{'order':>5} {'mean length':>11} {'(k+1)-grams copied':>19} {'8-grams copied':>15} {'longest copy (mean / max)':>26}")
for k, r in copy_rows:
    print(f"{k:>5} {r['length']:>11.1f} {r['share']:>19.0%} {r['share8']:>15.0%} {r['longest']:>18.1f} / {r['longest_max']}")
print(f"held-out real tunes: mean length {reference['length']:.1f}, 8-grams found in train {reference['share8']:.0%}, "
      f"longest copy {reference['longest']:.1f} (mean)")
longest_sample = max(r["longest"] for _, r in copy_rows)
print(f"longest copy, mean: held-out real tunes {reference['longest']:.1f} notes; the most of any order "
      f"{longest_sample:.1f} (order {max(copy_rows, key=lambda x: x[1]['longest'])[0]})")
assert copy_rows[-1][1]["share8"] > max(copy_rows[0][1]["share8"], reference["share8"])
assert reference["longest"] > longest_sample  # real tunes copy longer runs than any order's samples

# %% [markdown]
# (The index uses the ids of the order-1 model; every order is fitted on the same tunes, so the vocabularies are the
# same.) Copying must be judged against a reference, not against zero: folk tunes share formulas, and the collection
# holds variants of the same tunes, so a real held-out tune has a large share of its 8-grams in the training set too
# (last line). Low orders copy *less* than real tunes do: they are more random than folk music. As the order grows, the
# share of copied 8-grams climbs, and at the highest order it overtakes the real tunes': the model is no longer
# composing in the style, it is stitching together pieces of training tunes. Together with the widening gap between
# training and validation NLL (section 4), this is where a higher order starts to memorise.
#
# The longest copy tells the other half of the story (last line of the table): held-out **real** tunes contain longer
# verbatim runs from the training set than the samples of any order. A chain stitches short pieces; a real tune that
# is a variant of a training tune shares whole phrases with it. (The real tunes and the samples have similar mean
# lengths, first column and last lines, so length alone does not explain the gap.)

# %%
assert all(np.array_equal(m.events, models[1].events) for m in models.values())
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(list(orders), [r["share8"] for _, r in copy_rows], "o-", label="8-grams found in train")
ax.plot(list(orders), [r["share"] for _, r in copy_rows], "s-", label="(k+1)-grams found in train")
ax.axhline(reference["share8"], color="C0", ls=":", label="8-grams of held-out real tunes")
ax2 = ax.twinx()
ax2.plot(list(orders), [r["longest"] for _, r in copy_rows], "^--", color="C3", label="longest copy (notes)")
ax2.axhline(reference["longest"], color="C3", ls=":")
ax.set(xlabel="order", ylabel="share", title="copying from the training set (dotted: held-out real tunes)")
ax2.set_ylabel("longest copy (notes)", color="C3")
ax.legend(loc="upper left"); plt.tight_layout(); plt.show()

# %% [markdown]
# ## 6. Listen to each order
#
# Tunes with `(pitch, duration)` events carry their own rhythm. To compare orders by ear they must be equally long:
# a chain ends a tune when it draws `</s>`, often after a handful of notes, and a 9-note tune says nothing about
# phrases. So for every order we draw tunes (one generator, seed 7) until one reaches 32 notes (about 8 bars of a folk
# song) and keep its first 32 notes; the cell also counts the draws that ended earlier.

# %%
# NBVAL_CHECK_OUTPUT
N_NOTES = 32
dur_models = {k: NGramModel(k).fit(dur_seqs["train"]) for k in (1, 2, 3, 5)}
tunes, early = {}, {}
for k, m in dur_models.items():
    rng, early[k] = np.random.default_rng(7), 0
    while k not in tunes:
        events = m.sample(N_NOTES, rng)
        if len(events) < N_NOTES:
            early[k] += 1
        else:
            tunes[k] = markov.events_to_piece(events, qpm=110, id=f"order {k}")
for k, piece in tunes.items():
    print(f"order {k}: {len(piece)} notes, {piece.duration_quarters:g} quarter notes "
          f"({early[k]} earlier draws ended before {N_NOTES} notes)")
assert all(len(piece) == N_NOTES for piece in tunes.values())

# %%
fig, axes = plt.subplots(2, 2, figsize=(11, 5))
for ax, (k, piece) in zip(axes.flat, tunes.items()):
    plot_piano_roll(piece, ax=ax, title=f"order {k}: {len(piece)} notes")
plt.tight_layout(); plt.show()

# %%
play(tunes[1], instrument="pluck", max_seconds=15)

# %%
play(tunes[3], instrument="pluck", max_seconds=15)

# %%
play(tunes[5], instrument="pluck", max_seconds=15)

# %% [markdown]
# Listen for the difference, 32 notes each: order 1 wanders with no sense of metre; the higher orders sound more and
# more like folk music phrase by phrase, partly because more and more of each tune is a collage of training tunes
# (section 5). One tune per order is one draw: change the seed above and listen again before you trust your ears.
#
# ## 7. Temperature
#
# Sampling from $p^{1/T}$ (renormalised): $T<1$ sharpens the distribution towards the most likely notes (repetitive,
# safe), $T>1$ flattens it (adventurous, eventually random). We measure the effect on order-3 pitch tunes: the NLL of
# the tunes under the model itself (how typical they are), their pitch range and how many distinct pitches they use.
#
# Range and distinct pitches grow with length, so we compare tunes of one length: at each temperature we draw until
# 20 tunes reach 48 notes. How often a draw ends earlier (the chain drew `</s>`) is itself an effect of temperature
# (first column): the coldest setting ends early least, the hottest most, since flattening the distribution also
# gives the end symbol more probability.

# %%
# NBVAL_CHECK_OUTPUT
m3 = models[3]  # the order-3 pitch model of section 5
temps = (0.3, 0.6, 1.0, 1.5, 2.5)
samples, ended_early = {}, {}
print(f"{'T':>4} {'draws ended early':>18} {'NLL/note under model':>21} {'range (semitones)':>18} {'distinct pitches':>17}")
for t in temps:
    rng, samples[t], drawn = np.random.default_rng(0), [], 0
    while len(samples[t]) < 20:
        s, drawn = m3.sample(48, rng, temperature=t), drawn + 1
        if len(s) == 48:
            samples[t].append(s)
    ended_early[t] = 1 - 20 / drawn
    nll = m3.nll_per_event(samples[t])
    rng_ = np.mean([s.max() - s.min() for s in samples[t]])
    dist = np.mean([len(set(s.tolist())) for s in samples[t]])
    print(f"{t:>4} {ended_early[t]:>18.0%} {nll:>21.2f} {rng_:>18.1f} {dist:>17.1f}")
assert min(ended_early, key=ended_early.get) == temps[0] and max(ended_early, key=ended_early.get) == temps[-1]

# %% [markdown]
# One tune of each of three temperatures, the first of the 20 measured above (each panel has its own pitch axis; the
# title gives the tune's own figures, to set beside the table's means):

# %%
hot_cold = {t: markov.events_to_piece(samples[t][0], qpm=120, id=f"T={t}") for t in (0.3, 1.0, 2.5)}
fig, axes = plt.subplots(1, 3, figsize=(12, 2.8))
for ax, (t, piece) in zip(axes, hot_cold.items()):
    s = samples[t][0]
    plot_piano_roll(piece, ax=ax, title=f"T = {t}: {len(s)} notes, range {s.max() - s.min()}, {len(set(s.tolist()))} pitches")
plt.tight_layout(); plt.show()

# %%
play(hot_cold[0.3], instrument="organ", max_seconds=10)

# %%
play(hot_cold[2.5], instrument="organ", max_seconds=10)

# %% [markdown]
# ## 8. Bach chorales: the same counting model on the canonical JSB split
#
# The chorales follow the canonical JSB train/valid/test split that papers report on. One valid chorale, **bwv253**,
# is the same harmonisation as the training chorale bwv414 (the data marks it with `meta['duplicate_of_train']`): a
# model that memorises looks better on it, so we report the validation NLL with and without it.
#
# First the soprano line as a melody (key-normalised, `(pitch, duration)` events):

# %%
# NBVAL_CHECK_OUTPUT
chorales = {s: markov.normalise_keys(load_chorales(s)) for s in ("train", "valid")}
dups = [p.id for p in chorales["valid"] if p.meta.get("duplicate_of_train")]
valid_nodup = [p for p in chorales["valid"] if not p.meta.get("duplicate_of_train")]
print("valid chorales duplicating a training one:", dups)
sop = lambda pieces: [markov.melody_events(p, "S", with_duration=True) for p in pieces]
print(f"{'order':>5} {'valid NLL (all)':>16} {'valid NLL (without dup)':>24}")
for k in (1, 2, 3, 4):
    m = NGramModel(k).fit(sop(chorales["train"]))
    print(f"{k:>5} {m.nll_per_event(sop(chorales['valid'])):>16.3f} {m.nll_per_event(sop(valid_nodup)):>24.3f}")

# %% [markdown]
# ### The counting baseline on the chorale grid
#
# The Music Transformer (notebook 03) models all four voices on a 16th-note grid, S A T B at every step, a held note
# repeating its pitch (`ChoraleGrid('repeat')`). The same n-gram model, reading that token stream like text, is the
# **counting baseline** for notebook 03's table (`chorale.grid_baseline_nll`, built on `markov.NGramModel`). About four
# tokens in five just repeat the voice's previous pitch, so we also report the NLL on the tokens where a voice **changes** pitch: a model that has
# only learned to copy cannot look good there. (Pitches as written, no key normalisation, as in the paper's data.)

# %%
# NBVAL_CHECK_OUTPUT
train_ch, valid_ch = load_chorales("train"), load_chorales("valid")
valid_ch_nodup = [p for p in valid_ch if not p.meta.get("duplicate_of_train")]
settings = {"as written, order 4": (4, (0,)), "as written, order 8": (8, (0,)),
            "12 transpositions, order 8": (8, range(-5, 7))}
print(f"{'training data, order':27} {'valid':>6} {'no dup':>7} {'on changes':>11} {'on repeats':>11} {'repeats':>8}")
grid_rows = {}
for name, (k, shifts) in settings.items():
    r = grid_baseline_nll(train_ch, valid_ch, order=k, transpositions=shifts)
    r_nodup = grid_baseline_nll(train_ch, valid_ch_nodup, order=k, transpositions=shifts)
    grid_rows[name] = r
    print(f"{name:27} {r['nll']:>6.3f} {r_nodup['nll']:>7.3f} {r['nll_change']:>11.3f} {r['nll_repeat']:>11.3f} {r['share_repeat']:>8.0%}")

# %% [markdown]
# Training on the chorales in 12 keys (transposition augmentation) helps the counting model a lot: it sees each
# voice-leading pattern at every pitch. For comparison, the Music Transformer paper (Huang et al. 2018, its JSB
# Chorales table) reports 0.417 (baseline transformer) and 0.357 nats per token (relative attention) on this split and
# format: well below the counting model. What still differs: our notes come from music21's encodings, not from the JSB
# files (held against re-struck notes and fermatas are quantised differently), and 5 JSB pieces are missing from
# music21, so our split holds fewer pieces than the JSB files' 229 / 76 / 77 (our counts: the line below).
# Notebook 03 puts its own transformers in this table.

# %%
# NBVAL_CHECK_OUTPUT
print(f"our split: {len(train_ch)} train / {len(valid_ch)} valid / {len(load_chorales('test'))} test chorales")
#
# ## 9. Your turn: a generator with knobs
#
# Choose the corpus, the order, the temperature, the length and the seed, then press **Generate**: the tune is drawn,
# then played. (Models are fitted once per corpus and order, then cached.)

# %%
corpora = {"Essen folk (pitch+duration)": dur_seqs["train"], "Bach sopranos (pitch+duration)": sop(chorales["train"])}
_cache = {}

def fitted(corpus, order):
    if (corpus, order) not in _cache:
        _cache[corpus, order] = NGramModel(order).fit([s for s in corpora[corpus] if len(s) >= order])
    return _cache[corpus, order]

def new_tune(corpus, order, temperature, length, seed):
    events = fitted(corpus, order).sample(length, np.random.default_rng(seed), temperature=temperature)
    return markov.events_to_piece(events, qpm=100, id=f"{corpus}, order {order}, T={temperature:.1f}, seed {seed}")

panel = MusicPanel(new_tune, {
    "corpus": widgets.Dropdown(options=list(corpora), description="corpus"),
    "order": widgets.IntSlider(value=3, min=1, max=6, description="order"),
    "temperature": widgets.FloatSlider(value=1.0, min=0.2, max=2.5, step=0.1, description="temperature"),
    "length": widgets.IntSlider(value=48, min=8, max=128, step=8, description="length"),
    "seed": widgets.IntText(value=0, description="seed"),
}, instrument="pluck", max_quarters=40, describe=lambda p: f"{len(p)} notes, {p.duration_quarters:g} quarters")
panel.widget

# %%
# The same panel without a browser: the settings above, one tune (what the button draws and plays).
tune = panel.generate()
assert len(tune) > 0 and np.array_equal(tune.notes, panel.generate().notes)  # same settings and seed, same tune
print(tune)

# %% [markdown]
# ## 10. What a Markov chain cannot do
#
# Real folk tunes are built from phrases that **come back**: A A B B, a first line repeated with a different ending, a
# theme recalled at the end. A chain of order $k$ forgets everything older than $k$ notes, so it can only repeat a
# phrase by accident. We measure, for every tune, the longest stretch of notes that the tune repeats inside itself
# (`markov.longest_self_repeat`), for real validation tunes and for order-3 tunes asked for the same length (the chain may end a tune a little early,
# when it draws `</s>`).

# %%
# NBVAL_CHECK_OUTPUT
real = [s for s in pitch_seqs["valid"] if 40 <= len(s) <= 80][:100]
rng = np.random.default_rng(1)
fake = []
while len(fake) < len(real):
    s = models[3].sample(len(real[len(fake)]), rng)
    if len(s) >= 40:
        fake.append(s)
rep_real = np.array([markov.longest_self_repeat(s) for s in real])
rep_fake = np.array([markov.longest_self_repeat(s) for s in fake])
print(f"tunes of 40-80 notes: {len(real)} real, {len(fake)} generated (order 3)")
print(f"longest self-repeat, median notes: real {np.median(rep_real):.0f}, generated {np.median(rep_fake):.0f}")
print(f"share repeating a stretch of >= 8 notes: real {np.mean(rep_real >= 8):.0%}, generated {np.mean(rep_fake >= 8):.0%}")
assert np.mean(rep_real >= 8) > 2 * np.mean(rep_fake >= 8)


# %%
def self_similarity(seq, w=4):
    # (n-w+1, n-w+1): 1 where the w-note windows starting at i and j are equal
    win = np.lib.stride_tricks.sliding_window_view(np.asarray(seq), w)
    return (win[:, None, :] == win[None, :, :]).all(-1)

i = int(np.argmax(rep_real))
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, seq, title in ((axes[0], real[i], "a real tune"), (axes[1], fake[i], "order-3 chain, similar length")):
    ax.imshow(self_similarity(seq), cmap="Greys", origin="lower")
    ax.set(title=title, xlabel="window start i (note)", ylabel="window start j (note)")
plt.suptitle("black: the 4-note windows at i and j are equal (diagonal lines = returning phrases)")
plt.tight_layout(); plt.show()

# %%
# NBVAL_CHECK_OUTPUT
for name, seq in (("real tune", real[i]), ("order-3 tune", fake[i])):
    sim = self_similarity(seq)
    off = np.triu(sim, 1)  # above the main diagonal: pairs i < j of equal windows
    print(f"{name:12}: {len(seq)} notes, {int(off.sum())} pairs of equal 4-note windows off the main diagonal, "
          f"longest repeated stretch {markov.longest_self_repeat(seq)} notes")

# %%
play(markov.events_to_piece(real[i], qpm=140), instrument="pluck", max_seconds=15)

# %%
play(markov.events_to_piece(fake[i], qpm=140), instrument="pluck", max_seconds=15)

# %% [markdown]
# Every plot of this kind has the main diagonal (each window equals itself). Off it, the real tune (the one with the
# longest self-repeat of the 100) shows long diagonal lines: a whole phrase returns, and a line of length n means n
# consecutive windows are equal. The chain's tune of similar length shows nothing, or next to nothing, off the
# diagonal (counts above): it repeats at most a few notes by chance, never a phrase. To bring back a theme from 30 notes ago, a model must look 30
# notes back; an n-gram table that long would be all zeros (section 4). A model that can **attend** to any earlier note,
# and learn *which* earlier notes matter (the Music Transformer, notebook 03), is the way out.
#
# ## Summary
#
# - A Markov chain of order $k$ is an $(k{+}1)$-gram model: counts of what follows each $k$-note context.
# - Unsmoothed, it has dead ends and gives zero probability to new music; interpolated Kneser–Ney with backoff fixes
#   both, and makes held-out likelihood a fair yardstick.
# - Key normalisation lets tunes in different keys share statistics.
# - On held-out Essen tunes (table below, computed above), the validation NLL of pitch models is best at a middle
#   order; higher orders win mostly on the training set, and their tunes are increasingly copied from it.
# - On the chorale grid, the same counting model is the baseline for the Music Transformer (notebook 03); report its
#   NLL on pitch changes, not only overall.
# - Temperature trades typicality for variety; neither makes phrases return.

# %%
# NBVAL_CHECK_OUTPUT
print("NLL per event (nats), Essen folk, key-normalised")
print(f"{'order':>5} {'pitch train':>12} {'pitch valid':>12} {'p+d train':>10} {'p+d valid':>10}")
by = {(e, k): (tr, va) for e, k, _, tr, va in nll_table}
for k in orders:
    print(f"{k:>5} {by['pitch', k][0]:>12.3f} {by['pitch', k][1]:>12.3f} {by['pitch+duration', k][0]:>10.3f} {by['pitch+duration', k][1]:>10.3f}")
print("best validation order:", best_order)
for name, r in grid_rows.items():
    print(f"chorale grid, counting baseline ({name}): {r['nll']:.3f} nats/token on valid, {r['nll_change']:.3f} on pitch changes")

# %%
print(f"notebook ran in {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# ## Exercises
#
# 1. **Modified Kneser–Ney.** Chen & Goodman use three discounts ($D_1, D_2, D_{3+}$) instead of one. Add them to a copy of
#    `NGramModel` and check that the order-3 validation NLL goes down. *Check:* `prob_table` must still sum to one.
# 2. **Intervals instead of pitches.** Write `to_intervals(pitches)` (the interval from each note to the next, in
#    semitones), train on the interval sequences rather than the pitches. Is the validation NLL (per note) better or
#    worse than with key normalisation? Why might intervals generalise better?
# 3. **Copying detector.** Write `most_copied_source(sample, train_seqs)`: the index of the training tune from which
#    `sample` copies its longest run of notes (hint: one `CorpusIndex` per training tune). Then use it on an order-6
#    sample and play both.
# 4. **Fixed seed trap.** Write the lesson's `generate` with `RandomState(42)` inside, as
#    `lesson_generate(transitions, seed, length)` (`transitions` maps a tuple of the last notes to a list of possible
#    next notes), call it twice and confirm the two tunes are equal; then explain why passing a generator is the
#    better interface.
# 5. **A phrase-aware chain.** Generate an 8-bar tune as A A' B A: sample A, then re-use it with a new ending. How do the
#    self-similarity plot and `longest_self_repeat` change? What did *you* add that the chain could not learn?
#
# Exercises 2 (the conversion), 3 and 4 have a check: write your answer in the cell, then run the check below it. Until
# you answer, the check says "not answered yet". `show_solution("name")` prints a reference solution, when you want one.

# %%
from helpers.solutions import check, show_solution

def to_intervals(pitches):
    # exercise 2: your code, the intervals between consecutive notes (next minus previous), in semitones
    return None

check("intervals", to_intervals)

# %%
def most_copied_source(sample, train_seqs):
    # exercise 3: your code, the index into train_seqs of the tune that sample copies its longest run from
    return None

check("copy_detector", most_copied_source)

# %%
def lesson_generate(transitions, seed, length):
    # exercise 4: your code, the lesson's generate with np.random.RandomState(42) inside
    return None

check("fixed_seed_trap", lesson_generate)

# %% [markdown]
# ## Further reading
#
# - Chen & Goodman (1998), *An empirical study of smoothing techniques for language modeling*, TR-10-98, Harvard
#   (the ACL 1996 version: [arXiv:cmp-lg/9606011](https://arxiv.org/abs/cmp-lg/9606011)): every smoothing method
#   compared, with modified Kneser–Ney (exercise 1).
# - Jurafsky & Martin, *Speech and Language Processing* (3rd ed. draft), chapter 3, "N-gram Language Models":
#   perplexity, smoothing and backoff, gently ([web.stanford.edu/~jurafsky/slp3](https://web.stanford.edu/~jurafsky/slp3/)).
# - Conklin & Witten (1995), *Multiple viewpoint systems for music prediction*, Journal of New Music Research 24(1):
#   n-gram models of melody with several views of each note (pitch, interval, duration), the ancestor of exercise 2.
# - Pearce (2005), *The construction and evaluation of statistical models of melodic structure in music perception
#   and composition* (PhD thesis, City University London; the IDyOM model): smoothed n-grams of melody, evaluated on
#   held-out folk songs from the Essen collection.
# - Next: [03 · The Music Transformer](03_music_transformer.ipynb), the model that looks further back.
