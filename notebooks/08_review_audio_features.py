# %% [markdown]
# # 08 · Appendix: the previous lesson's exercises, reviewed and cross-checked
#
# The lesson opens with solutions to three exercises of the lesson before it, on classifying sounds. Each of them
# computes something that is easy to get subtly wrong, so each section here pairs our implementation
# (`helpers/review.py`) with an **independent check**: signals whose answers are known in advance, a second way of
# computing the same metric, events whose boundaries we planted ourselves.
#
# **What you will learn**
# - three spectral features (centroid, flatness, temporal variation), and why white noise does *not* have a flatness
#   of 1;
# - [average precision](GLOSSARY.md#average-precision) (AP) and mAP for multi-label tagging, why ties in the scores matter, and how to check an AP
#   implementation without another library;
# - the post-processing chain of sound-event detection (threshold, gap filling, minimum duration, event extraction),
#   written with `np.diff` instead of frame-by-frame loops.
#
# Randomness: `np.random.default_rng(42)` wherever the lesson says seed 42 (it used the legacy `RandomState`, so our
# noise differs from its printouts).
#
# **Contents:** 1. Spectral features of five test signals · 2. Average precision for multi-label tagging ·
# 3. Post-processing sound-event detections · Summary · Exercises · Further reading
#
# **Where you are:** ← previous: [07 · Exercises](07_exercises.ipynb) · next: this is the last notebook for now; back to
# [00 · Welcome](00_welcome.ipynb) or [all notebooks](../README.md#the-notebooks) · [glossary](GLOSSARY.md)
#
# **Run time:** about 10 seconds (8 s measured with `scripts/execute_notebook.py`
# on a 2-core machine shared with other jobs; expect less on an idle machine).
#
# **Papers cited:** none by name; the metrics are standard (average precision as in Everingham et al., *The PASCAL
# Visual Object Classes (VOC) Challenge*, IJCV 2010, [doi:10.1007/s11263-009-0275-4](https://doi.org/10.1007/s11263-009-0275-4);
# sound-event detection as in Mesaros et al., *Metrics for Polyphonic Sound Event Detection*, Applied Sciences 2016,
# [doi:10.3390/app6060162](https://doi.org/10.3390/app6060162)).

# %%
# %matplotlib inline
import inspect, time
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets

from helpers import review as rv
from helpers.exercises import format_table
from helpers.audio import play

plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (8, 3)})
T0 = time.perf_counter()
SR = 16000

# %% [markdown]
# ## 1. Spectral features of five test signals
#
# The exercise builds five 2-second signals at 16 kHz: a 440 Hz tone, white noise, a sweep from 200 to 4000 Hz, a
# "speech-like" mix of four tones (150, 300, 900, 2500 Hz) pulsing at 4 Hz, and a "music-like" A major triad
# (440, 554, 659 Hz) with a 5 Hz tremolo. Then three features:
#
# - **spectral centroid**: the magnitude-weighted mean frequency, $\sum_f f\,|X(f)| / \sum_f |X(f)|$ (the sound's
#   "brightness");
# - **spectral flatness**: geometric mean over arithmetic mean of the spectrum (1 = perfectly flat, as for an impulse; white noise
#   scores about 0.85, see below; 0 = one line);
# - **temporal variation**: the mean absolute change of the short-time magnitude spectrum
#   ([spectrogram](GLOSSARY.md#spectrogram)) from frame to frame
#   (Hann window of 1024 samples, hop 256), a form of spectral flux.

# %%
signals = rv.example_signals(np.random.default_rng(42), sr=SR)
fig = rv.plot_spectrograms(signals, SR)

# %%
play(np.concatenate([x / np.abs(x).max() * 0.5 for x in signals.values()]), sr=SR, normalize=False)

# %%
# NBVAL_CHECK_OUTPUT
features = rv.feature_table(signals, SR)
cols = ["centroid_hz", "flatness", "flatness_power", "temporal_variation"]
print(format_table([[name, *(f[c] for c in cols)] for name, f in features.items()], ["signal", *cols], digits=2))

# %% [markdown]
# ### Cross-check: centroids we know without an FFT
#
# A pure tone with a whole number of cycles in the signal puts all its energy in one FFT bin, so its centroid is its
# frequency exactly. A sum of equal tones weighs their frequencies equally; an amplitude modulation adds sidebands
# *symmetrically* around each tone, so it does not move the centroid. White noise is flat up to the Nyquist frequency
# (centroid sr/4 = 4000 Hz) and the sweep spends equal time at every frequency from 200 to 4000 Hz (centroid 2100 Hz);
# those two hold up to random fluctuation and spectral leakage.

# %%
# NBVAL_CHECK_OUTPUT
expected = rv.expected_centroids(SR)
tolerance = {"white_noise": 60.0, "sweep": 40.0}
rows = [[n, expected[n], features[n]["centroid_hz"], abs(features[n]["centroid_hz"] - expected[n]), tolerance.get(n, 0.5)]
        for n in signals]
print(format_table(rows, ["signal", "expected Hz", "measured Hz", "|error|", "tolerance"], digits=1))
assert all(r[3] <= r[4] for r in rows)

# %% [markdown]
# ### Cross-check: flatness, and why white noise scores 0.85, not 1
#
# The lesson says white noise has a flatness "close to 1.0". It has the highest flatness of the five, but not 1. The
# spectrum of *one* noise signal is flat only on average: each FFT bin of Gaussian noise is a complex Gaussian, so its
# magnitude follows a Rayleigh distribution, and random values have a geometric mean below their arithmetic mean. For
# a Rayleigh variable $R$, $\exp(E[\log R]) / E[R] = 2e^{-\gamma/2}/\sqrt{\pi} \approx 0.846$ ($\gamma$ is Euler's
# constant); on the power spectrum ($R^2$, exponentially distributed) it is $e^{-\gamma} \approx 0.561$. Only a
# perfectly flat spectrum (a single click, a unit impulse) reaches 1; a pure tone is near 0.

# %%
# NBVAL_CHECK_OUTPUT
impulse = np.r_[1.0, np.zeros(SR - 1)]
rows = [
    ["white noise, magnitude", rv.WHITE_NOISE_FLATNESS_MAGNITUDE, features["white_noise"]["flatness"]],
    ["white noise, power", rv.WHITE_NOISE_FLATNESS_POWER, features["white_noise"]["flatness_power"]],
    ["unit impulse", 1.0, rv.spectral_flatness(impulse)],
    ["pure 440 Hz tone", 0.0, features["pure_440"]["flatness"]],
]
print(format_table(rows, ["signal", "theory", "measured"], digits=3))
assert abs(rows[0][2] - rows[0][1]) < 0.01 and abs(rows[1][2] - rows[1][1]) < 0.02
assert rows[2][2] > 0.999 and rows[3][2] < 1e-3
assert max(features, key=lambda n: features[n]["flatness"]) == "white_noise"

# %%
_, mag = rv.magnitude_spectrum(signals["white_noise"], SR)
r = mag[1:-1] / np.sqrt(np.mean(mag[1:-1] ** 2) / 2)  # scale so the Rayleigh sigma is 1
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.hist(r, bins=80, density=True, alpha=0.6, label="|FFT| of the noise")
x = np.linspace(0, r.max(), 200)
ax.plot(x, x * np.exp(-x**2 / 2), "k", label="Rayleigh density")
ax.axvline(r.mean(), color="C1", label="arithmetic mean")
ax.axvline(np.exp(np.log(r).mean()), color="C2", label="geometric mean")
ax.set(xlabel="normalised magnitude", title="Why white noise is not perfectly 'flat'"); ax.legend(fontsize=8);

# %% [markdown]
# ### Temporal variation
#
# A steady tone's short-time spectrum does not change, so its temporal variation should be (almost) zero; modulate the
# same tone at 4 Hz and it must grow. Note also that the feature, as the exercise defines it, is *not normalised*:
# doubling the signal doubles it, so it mixes loudness with change. The lesson says the speech-like signal "shows
# high temporal variation": compare it with the others in the feature table above, where the noise, whose spectrum is
# redrawn at random in every frame, comes first.

# %%
# NBVAL_CHECK_OUTPUT
t = np.arange(SR) / SR
steady = np.sin(2 * np.pi * 440 * t)
pulsing = steady * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t))
tv = {"steady tone": rv.temporal_variation(steady), "tone at 4 Hz AM": rv.temporal_variation(pulsing),
      "same, twice as loud": rv.temporal_variation(2 * pulsing)}
print(format_table([[k, v] for k, v in tv.items()], ["signal", "temporal variation"], digits=3))
assert tv["steady tone"] < 1e-3 * tv["tone at 4 Hz AM"]
assert np.isclose(tv["same, twice as loud"], 2 * tv["tone at 4 Hz AM"])
ranking = sorted(features, key=lambda n: -features[n]["temporal_variation"])
print("\nranking by temporal variation:", " > ".join(ranking))

# %% [markdown]
# ## 2. Average precision for multi-label tagging
#
# A tagger gives every clip a score per class. For one class, sort the clips by score and walk down the list: each
# time a true positive appears, note the precision so far. **AP** averages those precisions over the positives (it is
# the area under the step-wise precision-recall curve); **mAP** averages AP over classes, AudioSet's headline metric.
#
# Walking down a sorted list has one trap: **ties**. When several clips share a score, their order in the sorted list
# is arbitrary, and the lesson's loop gives a different AP for a different order. Our `average_precision` treats tied
# clips as one threshold step (all of them enter together), as the precision-recall curve does:

# %%
print(inspect.getsource(rv.precision_recall_curve))

# %%
# NBVAL_CHECK_OUTPUT
y, s = np.array([1, 0, 1, 0]), np.zeros(4)  # four clips, all with the same score
print(f"threshold AP: {rv.average_precision(y, s):.3f} (reversed input: {rv.average_precision(y[::-1], s):.3f})")
print(f"rank-walk AP: {rv.average_precision_by_rank(y, s):.3f} (reversed input: {rv.average_precision_by_rank(y[::-1], s):.3f})")

# %% [markdown]
# With every score tied, the classifier knows nothing, and the threshold AP gives the prevalence (half the clips are
# positive); the rank walk gives a different answer depending on the order in which the clips happen to be stored.
#
# ### Cross-check against an independent computation
#
# scikit-learn is not a dependency of this course, so the check is written from a different definition:
# for each positive clip, the precision among all clips scored **at least as high** as it (a pairwise comparison
# matrix, no sorting, no cumulative sums), averaged over the positives. On 500 random problems with many ties:

# %%
# NBVAL_CHECK_OUTPUT
rng = np.random.default_rng(0)
diffs = []
for _ in range(500):
    n = int(rng.integers(2, 60))
    y = rng.integers(0, 2, n); y[rng.integers(n)] = 1          # at least one positive
    s = rng.integers(0, 6, n) / 5                                # scores on a coarse grid: ties everywhere
    diffs.append(abs(rv.average_precision(y, s) - rv.average_precision_at_positives(y, s)))
print(f"all 500 agree to 1e-12: {max(diffs) < 1e-12}")
assert max(diffs) < 1e-12

# %% [markdown]
# ### The exercise's five classes
#
# Twenty clips per class, labels drawn with probability 0.5, scores made from the labels: "perfect" (label + tiny
# noise), "near-perfect" (label + noise of 0.2), "moderate" (half the label + uniform noise up to 0.5), "weak"
# (scores unrelated to the labels), "inverted" (one minus the label, plus noise). The lesson expects AP to fall
# strictly from the first class to the last.

# %%
# NBVAL_CHECK_OUTPUT
Y, S = rv.multilabel_demo(np.random.default_rng(42))
aps, m_ap = rv.mean_average_precision(Y, S)
rows = [[name, int(Y[i].sum()), aps[i], rv.average_precision_at_positives(Y[i], S[i]), rv.worst_average_precision(Y[i])]
        for i, name in enumerate(rv.MULTILABEL_CLASSES)]
print(format_table(rows, ["class", "positives", "AP", "AP (independent)", "worst possible AP"], digits=3))
print(f"\nmAP = {m_ap:.3f}")
strict = bool(np.all(np.diff(aps) < 0)); weak_order = bool(np.all(np.diff(aps) <= 0))
print(f"AP strictly decreasing from perfect to inverted: {strict}; non-increasing: {weak_order}")
assert np.allclose(aps, [r[3] for r in rows])

# %% [markdown]
# The strict ordering does not hold, and the reason is in the data, not in the code: "moderate" scores are
# 0.5 · label + U(0, 0.5), so every positive scores at least 0.5 and every negative below 0.5. The classes are perfectly
# separable, and AP is 1, like the "perfect" class (and "near-perfect" too unless its noise of 0.2 happens to push a
# negative above a positive). AP only measures the *ranking*: it cannot tell a confident classifier from a hesitant one
# that ranks just as well. The "inverted" class reaches exactly the worst AP possible for its labels (every positive
# ranked below every negative), which is not 0 but depends on the prevalence. Looking at the scores makes both points:

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.4))
jitter = np.random.default_rng(0).uniform(-0.15, 0.15, S.shape[1])
for i, name in enumerate(rv.MULTILABEL_CLASSES):
    for label, marker in ((1, "o"), (0, "x")):
        keep = Y[i] == label
        ax0.scatter(S[i, keep], i + jitter[keep], marker=marker, color="C0" if label else "C3", s=18)
ax0.set_yticks(range(5), rv.MULTILABEL_CLASSES); ax0.invert_yaxis()
ax0.set(xlabel="score", title="Scores (o positive, x negative)")
rv.plot_pr_curves(Y, S, rv.MULTILABEL_CLASSES, ax=ax1)
fig.tight_layout()

# %% [markdown]
# ## 3. Post-processing sound-event detections
#
# A sound-event detector outputs, for every class and every frame (here 512 samples at 16 kHz = 32 ms), the probability
# that the sound is active. Turning that into a list of events takes four steps:
#
# 1. **threshold** each frame (probability > 0.5);
# 2. **fill gaps** of at most 5 frames between two detections of the same class (a word pause inside speech);
# 3. **remove** events shorter than 8 frames (a click mistaken for a dog bark);
# 4. **extract** events as (class, start, end).
#
# All four rest on one operation: finding the runs of ones in each row. Pad the row with a zero at both ends, take
# `np.diff`: +1 marks a start, −1 marks the frame after an end. No loop over frames:

# %%
print(inspect.getsource(rv.find_runs))

# %% [markdown]
# The exercise's loop version also differs in one detail: before the first event it treats the leading zeros as a
# "gap" and fills them when they are short, so an event that starts at frame 3 would be stretched back to frame 0. Here
# only gaps *between* two events are filled.
#
# ### The exercise's own predictions
#
# Background noise uniform in [0, 0.15], events boosted by about 0.75 (Speech 20-120, Music 50-250, three Dog barks).
# The noise never crosses the threshold, so every stage already returns the planted events: a check of the
# code, but the gap filling and minimum duration have nothing to do here.

# %%
# NBVAL_CHECK_OUTPUT
probs = rv.sed_predictions(np.random.default_rng(42))
stages = rv.postprocess(probs, threshold=0.5, max_gap=5, min_frames=8)
truth = sorted(rv.LESSON_EVENTS, key=lambda e: (e[1], rv.SED_CLASSES.index(e[0])))
for name, b in stages.items():
    print(f"{name:>12}: {len(rv.extract_events(b))} events, equal to the planted ones: {rv.extract_events(b) == truth}")
assert all(rv.extract_events(b) == truth for b in stages.values())

# %% [markdown]
# ### A harder case with known boundaries
#
# Now plant problems on purpose: two **dropouts** inside true events (3 and 5 frames of low probability, which should be
# filled), two **blips** away from any event (4 and 7 frames of high probability, which should be removed), a Speech
# event that starts at frame 3 (the case the exercise's loop would stretch back to frame 0) and a Dog event that runs to
# the last frame of the clip (an edge case for the padding). The pipeline should return the true events exactly.

# %%
# NBVAL_CHECK_OUTPUT
events = [("Speech", 3, 120), ("Music", 50, 250), ("Dog", 280, 312)]
dropouts = [("Speech", 60, 63), ("Music", 150, 155)]
blips = [("Speech", 200, 204), ("Dog", 100, 107)]
probs = rv.sed_predictions(np.random.default_rng(42), events, dropouts=dropouts, blips=blips)
stages = rv.postprocess(probs, threshold=0.5, max_gap=5, min_frames=8)
for name, b in stages.items():
    print(f"{name:>12}: " + ", ".join(f"{c} {s}-{e}" for c, s, e in rv.extract_events(b)))
truth_binary = rv.events_to_binary(events, probs.shape[1])
assert np.array_equal(stages["min_duration"], truth_binary)
print("\nfinal events equal the planted ones:", rv.extract_events(stages["min_duration"]) == sorted(events, key=lambda e: e[1]))

# %%
fig = rv.plot_event_stages(stages, truth=truth_binary)


# %% [markdown]
# Grey bars are the truth, coloured bars what each stage produces. Turn the two knobs and watch which errors come
# back: a `max_gap` below 5 leaves the Music dropout open; a `min_frames` of 7 or less lets the 7-frame Dog blip through
# (4 or less, the Speech blip too). The slider stops at a `max_gap` of 40; past 80 frames the gap filler would merge the
# Speech blip at frame 200 into the Speech event that ended at frame 120, two sounds that are really separate.

# %%
def show_pipeline(max_gap=5, min_frames=8):
    st = rv.postprocess(probs, threshold=0.5, max_gap=max_gap, min_frames=min_frames)
    rv.plot_event_stages(st, truth=truth_binary)
    plt.show()
    ok = np.array_equal(st["min_duration"], truth_binary)
    print(f"final events equal the truth: {ok}")

widgets.interact(show_pipeline, max_gap=widgets.IntSlider(5, 0, 40, description="max_gap"),
                 min_frames=widgets.IntSlider(8, 1, 40, description="min_frames"));

# %% [markdown]
# ## Summary
#
# - **Spectral features.** The centroid matches the known answers (exactly for tones, within a stated tolerance for noise
#   and the sweep). White noise has the highest flatness but not 1: about 0.85 on magnitudes and 0.56 on powers, as the
#   Rayleigh and exponential distributions predict; only a flat spectrum such as an impulse gives 1. Temporal variation
#   is (almost) zero for a steady tone, grows with modulation, and is not normalised (it doubles with the amplitude); noise has
#   the most.
# - **Average precision.** Computed from the precision-recall curve with ties as one step, and checked against a
#   pairwise definition on 500 tie-heavy problems. The lesson's ordering perfect > near-perfect > moderate > weak >
#   inverted holds only as "≥": its "moderate" class is perfectly separable, so AP = 1.
# - **Post-processing.** Run finding with `np.diff` on padded rows; the exercise's own data never exercises gap filling
#   or minimum duration, so a second case plants dropouts, blips and edge events, and the pipeline recovers the planted
#   boundaries exactly.

# %%
print(f"notebook ran in {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# ## Exercises
#
# 1. **Normalised flux.** Divide the temporal variation by the mean magnitude of the STFT. Does the ranking of the five
#    signals change? Which version would you use to compare recordings of different loudness?
# 2. **Flatness of coloured noise.** Filter the white noise with a one-pole low-pass filter (`scipy.signal.lfilter`)
#    and watch the flatness fall. What does the centroid do?
# 3. **Interpolated AP.** PASCAL VOC once used an 11-point interpolated AP. Implement it as `ap_11_point(y_true, scores)`
#    (checked below) and compare with ours on the
#    five classes: which one is larger, always?
# 4. **A moderate class that is moderate.** Change the "moderate" scores so that AP lands near 0.75 on average over
#    seeds, and check the lesson's strict ordering over 100 seeds.
# 5. **Hysteresis.** Replace the single threshold by two (start an event above 0.6, end it below 0.4). Which of the
#    planted problems does it solve without gap filling?
#
# Exercise 3 has a check: write `ap_11_point`, run the cell; "not answered yet" until you do.
# `show_solution("ap_11_point")` prints a reference solution, when you want one.

# %%
# NBVAL_CHECK_OUTPUT
from helpers.solutions import check, show_solution

def ap_11_point(y_true, scores):
    # exercise 3: your code, the mean over recall levels 0, 0.1, ..., 1 of the best precision at that recall or above
    return None

check("ap_11_point", ap_11_point)

# %% [markdown]
# ## Further reading
#
# - Müller, *Fundamentals of Music Processing* (2nd ed., Springer 2021), chapters 2 (Fourier analysis) and 6.1
#   (novelty functions, spectral flux), with the
#   [FMP notebooks](https://www.audiolabs-erlangen.de/resources/MIR/FMP/C0/C0.html).
# - Peeters (2004), *A large set of audio features for sound description* (CUIDADO project report, IRCAM): the
#   definitions of centroid, flatness and flux used in most toolkits.
# - Everingham et al. (2010), *The PASCAL Visual Object Classes (VOC) Challenge*, IJCV 88
#   ([doi:10.1007/s11263-009-0275-4](https://doi.org/10.1007/s11263-009-0275-4)), Sec. 4.2: the 11-point AP of
#   exercise 3.
# - Mesaros, Heittola & Virtanen (2016), *Metrics for Polyphonic Sound Event Detection*, Applied Sciences 6(6)
#   ([doi:10.3390/app6060162](https://doi.org/10.3390/app6060162)): event-based and segment-based scores.
# - Back to the start: [00 · Welcome](00_welcome.ipynb).
