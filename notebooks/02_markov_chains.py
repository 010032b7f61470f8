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
# - the effect of **temperature**, with your ears;
# - what a Markov chain cannot do (phrases, returning themes), which leads to the Music Transformer (notebook 03).
#
# Run the cells in order; the whole notebook takes a minute or two on a laptop CPU.

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
# The probability of one note in a batch of held-out notes, fully vectorised:

# %%
print(inspect.getsource(NGramModel.token_log_probs))

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
# The Essen Folksong Collection ships with the course (`data/folk_essen.jsonl.gz`), split into train / valid / test.
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
# The negative log-likelihood (NLL) per note measures how surprised a model is by music it has not seen: lower is
# better, $\ln(\text{vocabulary size})$ is a model that knows nothing. Training NLL always goes down with the order; the
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
reference = {"share8": np.mean([np.mean(x[: len(x) - 7] >= 8) for x in ml]), "longest": np.mean([x.max() for x in ml])}
copy_rows = []
for k, m in models.items():
    r = markov.memorisation(m, pitch_seqs["train"], n_tunes=30, length=64, rng=np.random.default_rng(k), index=index)
    copy_rows.append((k, r))
print(f"{'order':>5} {'mean length':>11} {'(k+1)-grams copied':>19} {'8-grams copied':>15} {'longest copy (mean / max)':>26}")
for k, r in copy_rows:
    print(f"{k:>5} {r['length']:>11.1f} {r['share']:>19.0%} {r['share8']:>15.0%} {r['longest']:>18.1f} / {r['longest_max']}")
print(f"held-out real tunes: 8-grams found in train {reference['share8']:.0%}, longest copy {reference['longest']:.1f} (mean)")
assert copy_rows[-1][1]["share8"] > max(copy_rows[0][1]["share8"], reference["share8"])

# %% [markdown]
# (The index uses the ids of the order-1 model; every order is fitted on the same tunes, so the vocabularies are the
# same.) Copying must be judged against a reference, not against zero: folk tunes share formulas, and the collection
# holds variants of the same tunes, so a real held-out tune has a large share of its 8-grams in the training set too
# (last line). Low orders copy *less* than real tunes do: they are more random than folk music. As the order grows, the
# share of copied 8-grams climbs, and at the highest order it overtakes the real tunes': the model is no longer
# composing in the style, it is stitching together pieces of training tunes. Together with the widening gap between
# training and validation NLL (section 4), this is where a higher order starts to memorise.

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
# Tunes with `(pitch, duration)` events carry their own rhythm. One tune per order, same seed:

# %%
dur_models = {k: NGramModel(k).fit(dur_seqs["train"]) for k in (1, 2, 3, 5)}
tunes = {k: markov.events_to_piece(m.sample(48, np.random.default_rng(7)), qpm=110, id=f"order {k}")
         for k, m in dur_models.items()}
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
# Listen for the difference: order 1 wanders with no sense of metre; the higher orders sound more and more like folk
# music phrase by phrase, partly because more and more of each tune is a collage of training tunes (section 5).
#
# ## 7. Temperature
#
# Sampling from $p^{1/T}$ (renormalised): $T<1$ sharpens the distribution towards the most likely notes (repetitive,
# safe), $T>1$ flattens it (adventurous, eventually random). We measure the effect on order-3 pitch tunes: the NLL of
# the tunes under the model itself (how typical they are), their pitch range and how many distinct pitches they use.

# %%
# NBVAL_CHECK_OUTPUT
m3 = models[3]
temps = (0.3, 0.6, 1.0, 1.5, 2.5)
samples = {}
print(f"{'T':>4} {'notes':>6} {'NLL/note under model':>21} {'range (semitones)':>18} {'distinct pitches':>17}")
for t in temps:
    rng = np.random.default_rng(0)
    samples[t] = [m3.sample(48, rng, temperature=t) for _ in range(20)]
    samples[t] = [s for s in samples[t] if len(s) >= 3]
    nll = m3.nll_per_event(samples[t])
    rng_ = np.mean([s.max() - s.min() for s in samples[t]])
    dist = np.mean([len(set(s.tolist())) for s in samples[t]])
    print(f"{t:>4} {np.mean([len(s) for s in samples[t]]):>6.1f} {nll:>21.2f} {rng_:>18.1f} {dist:>17.1f}")

# %%
hot_cold = {t: markov.events_to_piece(samples[t][1], qpm=120, id=f"T={t}") for t in (0.3, 1.0, 2.5)}
fig, axes = plt.subplots(1, 3, figsize=(12, 2.8), sharey=True)
for ax, (t, piece) in zip(axes, hot_cold.items()):
    plot_piano_roll(piece, ax=ax, title=f"temperature {t}")
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
# music21 (225 / 75 / 77 pieces instead of 229 / 76 / 77). Notebook 03 puts its own transformers in this table.
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
    ax.set(title=title, xlabel="note", ylabel="note")
plt.suptitle("where 4-note windows repeat (diagonal lines = returning phrases)"); plt.tight_layout(); plt.show()

# %%
play(markov.events_to_piece(real[i], qpm=140), instrument="pluck", max_seconds=15)

# %%
play(markov.events_to_piece(fake[i], qpm=140), instrument="pluck", max_seconds=15)

# %% [markdown]
# The real tune's self-similarity shows long diagonal lines: whole phrases return. The chain's tune has only short
# dots: it repeats a few notes by chance, never a phrase. To bring back a theme from 30 notes ago, a model must look 30
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
# 2. **Intervals instead of pitches.** Train on the sequence of intervals (`np.diff(pitches)`) rather than pitches. Is
#    the validation NLL (per note) better or worse than with key normalisation? Why might intervals generalise better?
# 3. **Copying detector.** Using `CorpusIndex`, find the training tune from which an order-6 sample copies the most, and
#    play both.
# 4. **Fixed seed trap.** Write the lesson's `generate` with `RandomState(42)` inside, call it twice and confirm the two
#    tunes are equal; then explain why passing a generator is the better interface.
# 5. **A phrase-aware chain.** Generate an 8-bar tune as A A' B A: sample A, then re-use it with a new ending. How do the
#    self-similarity plot and `longest_self_repeat` change? What did *you* add that the chain could not learn?
