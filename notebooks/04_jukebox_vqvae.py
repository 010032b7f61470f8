# %% [markdown]
# # 04 · Jukebox on a laptop: a hierarchical VQ-VAE on raw audio, and priors that sample top-down
#
# Jukebox (Dhariwal et al., 2020) generates raw audio. It first **compresses** 44.1 kHz audio into short sequences of
# discrete codes with [VQ-VAEs](GLOSSARY.md#vq-vae) (three levels, hops 8, 32 and 128 samples per code), then **samples top-down**: a
# transformer prior writes the top codes, *upsamplers* write each lower level conditioned on the level above, and the
# VQ-VAE decoder turns codes back into sound. The lesson prints the compression table and stops. Here we build the
# whole pipeline, three levels as in the paper, small, at 16 kHz, on SoundFont clips, and time it on a CPU.
#
# **What you will learn**
# - why raw audio needs compressing before a transformer can model it: the lesson's compression table, computed for
#   Jukebox's 44.1 kHz and for our 16 kHz;
# - the **VQ bottleneck** line by line: nearest code, [straight-through](GLOSSARY.md#straight-through) gradient,
#   [commitment loss](GLOSSARY.md#commitment-loss), a [codebook](GLOSSARY.md#codebook) learnt by
#   exponential moving averages ([EMA](GLOSSARY.md#ema-codebook)), dead codes restarted;
# - to train a level live and watch its reconstruction error fall within a minute (the course's spectral
#   autoencoder, configured as one level), and to **measure** what switching off EMA averaging or restarts does to
#   codebook usage ([perplexity](GLOSSARY.md#perplexity)) and to reconstruction;
# - to hear and measure what each of **three levels** keeps (players, spectrograms, a table of four quality
#   measures, and notebook 06's one scale with its floors), and what the lesson's first design kept at the same hops;
#   and why Jukebox trains its levels apart (a hierarchy with one shared decoder, trained here, leans on its bottom
#   level);
# - top-down sampling with a **top prior** (conditioned on instrument family, tempo band, mode and register) and two
#   **upsamplers** (each conditioned on the level above, added to its input as in Jukebox, and on the family too), with
#   a prompt continuation and a widget for your own request, timed against Jukebox's published ~540× slower than
#   [real time](GLOSSARY.md#real-time-factor);
# - to measure whether the samples play the family, tempo, mode and register they are asked for, and what the label at the
#   upsamplers and [classifier-free guidance](GLOSSARY.md#classifier-free-guidance) change;
# - where the course departs from the paper: cosine codes, three levels at other rates, shorter contexts.
#
# **Contents:** 1. Why compress: the lesson's table, computed · 2. The bottleneck, line by line · 3. A short live
# training run · 4. EMA and restarts, measured · 5. The shipped levels: what each one keeps · 6. Priors and top-down
# sampling · 7. Listen for yourself · 8. Where the course departs from the paper · Summary · Exercises · Further
# reading
#
# **Where you are:** ← previous: [03 · The Music Transformer](03_music_transformer.ipynb) · next:
# [05 · MusicGen](05_musicgen.ipynb) → · [all notebooks](../README.md#the-notebooks) · [glossary](GLOSSARY.md)
#
# **Run time:** about 1.5 minutes on 2 CPU cores (78 s measured with `scripts/execute_notebook.py` with
# nothing else running, longer under load); sections 3 and 4 train live for about a minute each. The first audio
# notebook also renders the audio corpus into a cache outside the repository on first use (about 2 to 3 minutes,
# once; see `helpers.audio_corpus`).
#
# **Papers cited:** Dhariwal et al., *Jukebox: A Generative Model for Music*
# ([arXiv:2005.00341](https://arxiv.org/abs/2005.00341)); van den Oord et al., *Neural Discrete Representation
# Learning* ([arXiv:1711.00937](https://arxiv.org/abs/1711.00937)); Razavi et al., *Generating Diverse High-Fidelity
# Images with VQ-VAE-2* ([arXiv:1906.00446](https://arxiv.org/abs/1906.00446)); Yu et al., *Vector-quantized Image
# Modeling with Improved VQGAN* (ViT-VQGAN, [arXiv:2110.04627](https://arxiv.org/abs/2110.04627)).

# %%
# %matplotlib inline
import inspect, json, math, os, time
from pathlib import Path
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: idle OpenMP threads sleep instead of spinning
import numpy as np
import torch
import matplotlib.pyplot as plt
import ipywidgets as w
from IPython.display import display

from helpers import audio_eval, audio_quality, autoencoder, jukebox, training, vqvae
from helpers.audio import play
from helpers.audio_corpus import ATTRIBUTE_CLASSES, FAMILIES, AudioCorpus
from helpers.audio_quality import quality_table
from helpers.checkpoints import file_sha256
from helpers.classifier import load_classifier
from helpers.data import DATA_DIR
from helpers.diagrams import draw_jukebox_hierarchy
from helpers.exercises import format_table
from helpers.plots import plot_spectrogram

torch.set_num_threads(2)
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (9, 3)})
CKPT = DATA_DIR / "checkpoints"
corpus = AudioCorpus.build()  # 4-s SoundFont clips at 16 kHz, rendered once into the cache (a few minutes)
SR = corpus.recipe.sr

# %% [markdown]
# ## 1. Why compress: the lesson's table, computed
#
# A transformer writes one token per step. At 44.1 kHz a minute of audio is 2.6 million samples: far too many steps.
# A VQ-VAE level with hop *h* turns every *h* samples into one code from a codebook of *K* entries. Below, for
# Jukebox's three levels and for the three levels this notebook ships (Jukebox's ratio of 4 between neighbours, at
# hops chosen by sampling cost, section 6): codes per second, codes per minute, the compression in *length* (samples
# per code) and in *bits* (16-bit PCM vs log2 K bits per code).

# %%
# NBVAL_CHECK_OUTPUT
def compression_rows(sr, hops, codebook_size, seconds=60):
    pcm_bits = 16 * sr
    rows = []
    for hop in hops:
        cps = sr / hop
        rows.append((hop, cps, cps * seconds, hop, pcm_bits / (cps * math.log2(codebook_size))))
    return rows

print(f"{'level':>22} {'hop':>4} {'codes/s':>8} {'codes/min':>10} {'x length':>9} {'x bits':>7}")
for name, sr, hops, K in [("Jukebox 44.1 kHz", 44100, (8, 32, 128), 2048), ("course 16 kHz", 16000, (64, 256, 1024), 1024)]:
    print(f"{name}: 1 min = {60 * sr:,} samples, codebook {K} ({math.log2(K):.0f} bits/code)")
    for hop, cps, per_min, ratio, bits in compression_rows(sr, hops, K):
        print(f"{'':>22} {hop:>4} {cps:>8.1f} {per_min:>10,.0f} {ratio:>8}x {bits:>6.1f}x")
assert int(44100 / 8) == 5512 and (16000 / 1024, 16000 / 256, 16000 / 64) == (15.625, 62.5, 250)  # quoted below

# %% [markdown]
# Jukebox's bottom level still produces 5,512 codes per second: a transformer sampling one code per step has to run
# 5,512 steps for every second of audio. That is why Jukebox needs hours on a GPU, and why we pick larger hops at
# 16 kHz: our top level writes 15.6 codes per second, the middle one 62.5, the bottom one 250.
#
# The whole pipeline, drawn from the shipped levels' configurations (their hops and rate; the rates in the boxes are
# computed from them). Left, compression: each level has its own encoder and sees the raw audio. Right, generation,
# top-down: the top prior writes the top codes after its label tokens (family, tempo band, mode, register); each
# upsampler writes the level below, conditioned on the codes of the level above (stretched ×4 in time) and, as in
# Jukebox, on the label too (dashed). Section 6 measures what that label buys, against the same upsamplers given the
# null label. The bottom level's decoder turns the bottom codes into audio. Sections 2 to 5 build the left half,
# section 6 the right half.

# %%
level_configs = {hop: json.loads((CKPT / f"level_hop{hop}.json").read_text())["config"] for hop in (64, 256, 1024)}
assert {c["sample_rate"] for c in level_configs.values()} == {SR} and all(h == c["hop"] for h, c in level_configs.items())
draw_jukebox_hierarchy(sorted(level_configs), SR, label="family (+ tempo, mode, register at the top)")
plt.show()

# %% [markdown]
# ## 2. The bottleneck, line by line
#
# `helpers/vqvae.py` holds the whole model. The encoder (strided 1-D convolutions with dilated residual blocks) maps
# audio (B, T) to latents (B, D, T/hop); the decoder mirrors it. Between them, the **vector quantiser**:

# %%
print(inspect.getsource(vqvae.VectorQuantizer.forward))

# %% [markdown]
# - **Nearest code**: the smallest squared distance (`self.nearest`); with L2-normalised latents and codes that is
#   the largest cosine. The normalisation is not Jukebox's (section 8): the course adds it because without it the EMA
#   codebook drifted away from the latents in its runs.
# - **Straight-through** (`z + (q - z).detach()`): the forward pass uses the code, the backward pass copies the gradient
#   to the encoder as if quantisation were the identity (van den Oord et al. 2017, Sec. 3.2).
# - **Commitment loss**: pulls the encoder's latents towards their codes (its weight, printed below, is Jukebox's
#   `commit`).
# - The codebook gets **no gradient**: the forward pass only records statistics; the training loop then calls the
#   model's hook, which applies the EMA update and restarts the dead codes:

# %%
print(inspect.getsource(vqvae.VectorQuantizer.ema_update))
print("hooks the training loop calls after every optimiser step:", vqvae.VQVAE(vqvae.VQVAEConfig.tiny()).training_hooks())
defaults = vqvae.VQVAEConfig()
print(f"defaults: commitment weight {defaults.commit_weight}, EMA decay mu {defaults.mu}, restart below an EMA count of "
      f"{defaults.restart_threshold}, L2-normalised: {defaults.normalize}")

# %% [markdown]
# ## 3. A short live training run
#
# The time-domain VQ-VAE above learns the waveform slowly: in a run as short as a notebook cell its waveform error
# stays where silence's is (section 4's runs print it). The live run therefore trains one level of the course's newer
# autoencoder (`helpers/autoencoder.py`, the design of notebook 05's codec), configured like the bottom level: hop 64,
# one codebook of 256 codes. Its encoder reads a short-time spectrum, its bottleneck is the same idea as above
# (cosine-nearest code, straight-through, commitment), and its decoder predicts a spectrum per frame that an inverse
# STFT turns into the waveform. Its codebook learns by gradient (a codebook loss) instead of EMA; section 4 goes back
# to the EMA codebook. 200 steps on random half-second crops of the train clips, validated every 10 steps on 8
# one-second validation clips.
# The curves: `mel` is the multi-scale mel distance (the main loss), `stft` the multi-resolution STFT distance,
# `commit` the commitment loss.

# %%
valid_clips = torch.from_numpy(corpus.clips("valid")[:8, :SR].copy())  # (8, 16000): 8 one-second validation clips
held_clip = torch.from_numpy(corpus.clips("valid")[8:9].copy())  # (1, 64000): a 4-s validation clip, before and after
live_cfg = autoencoder.AutoencoderConfig(sample_rate=SR, hop=64, synthesis_hop=64, n_fft=256, dim=64, encoder_blocks=1,
                                         decoder_blocks=2, latent_dim=32, n_codebooks=1, codebook_size=256,
                                         quantizer_dropout=0.0)
live = autoencoder.Autoencoder(live_cfg, seed=0)
before = live.reconstruct(held_clip, sr=SR)[0]
t0 = time.time()
live_history = training.train(live, autoencoder.loss_fn, corpus.random_crops("train", 0.5), [valid_clips],
                              training.TrainConfig(steps=200, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=10,
                                                   weight_decay=0.0, grad_clip=10.0, eval_every=10, seed=0,
                                                   device="cpu", progress=False))
after = live.reconstruct(held_clip, sr=SR)[0]
print(f"{sum(p.numel() for p in live.parameters()):,} parameters, 200 steps in {time.time() - t0:.0f} s")
training.plot_history(live_history, smooth=5, metrics=["mel", "stft", "commit"]);
vm = live_history["valid_metrics"]
print(f"validation (steps {live_history['valid_step'][0]} -> {live_history['valid_step'][-1]}): "
      + ", ".join(f"{k} {vm[k][0]:.3f} -> {vm[k][-1]:.3f}" for k in ("mel", "stft")))
dist_before, dist_after = (audio_quality.log_mel_distance(held_clip[0], y, SR) for y in (before, after))
live_usage, live_perplexity = vqvae.code_statistics(live.encode(valid_clips, sr=SR)[:, 0], live_cfg.codebook_size)
print(f"the 4-s clip's log-mel distance: untrained {dist_before:.2f}, trained {dist_after:.2f}; codes used on the "
      f"validation clips: {float(live_usage):.0%} of {live_cfg.codebook_size} (perplexity {float(live_perplexity):.0f})")
assert vm["mel"][-1] < 0.8 * vm["mel"][0] and vm["stft"][-1] < vm["stft"][0]  # the error falls, clearly
assert dist_after < dist_before  # and the held-out clip comes closer to the original

# %%
fig, ax = plt.subplots(1, 3, figsize=(11, 2.4))
for a, (title, y) in zip(ax, [("original", held_clip[0]), ("untrained", before), ("after 200 steps", after)]):
    plot_spectrogram(y.numpy(), SR, ax=a, title=title, colorbar=False)
plt.tight_layout()
display(play(held_clip[0].numpy(), sr=SR), play(before.numpy(), sr=SR), play(after.numpy(), sr=SR))

# %% [markdown]
# What 200 steps teach this design, read from the numbers above: the validation mel distance ends below 80% of its
# first value (asserted) and the multi-resolution STFT distance falls too; the held-out clip's log-mel distance to the
# original falls, and the players (original, untrained, trained) let you hear how far it has come. The codebook usage
# printed above is that of one codebook after one short run.
#
# ## 4. EMA and restarts, measured
#
# Back to the EMA codebook of `helpers/vqvae.py`. Four small runs, equal in everything but the codebook's update: the
# full recipe (EMA with decay 0.99 plus restarts of codes whose EMA count falls below 1), **no restarts** (threshold
# 0), **no averaging** (decay 0: each step sets every code to the mean of the latents the last batch assigned to
# it, and a code the batch did not use is dead at once and restarted), and **neither** (decay 0, no restarts). Every 15
# steps each run is measured on 16 validation crops: the fraction of the codebook used (`usage`), the perplexity, and
# two reconstruction errors (`recon`, the waveform error relative to the clip's energy, 1 = silence; `spectral`, the
# multi-resolution STFT distance). A hook also records, after every step, how far the codebook moved: the norm of the
# change of all code vectors relative to the codebook's norm (`movement`).

# %%
valid_crops = [torch.from_numpy(corpus.clips("valid")[i:i + 8, :8000].copy()) for i in (0, 8)]  # 2 x (8, 0.5 s)
ABLATION = dict(sample_rate=SR, **vqvae.ABLATION_LEVEL)  # a small time-domain level: the four runs' common config
print(ABLATION)
print({label: changes for label, changes in vqvae.ABLATION_VARIANTS.items()})  # each run's change to the config

def codebook_run(label, steps=60, **changes):  # the run named `label` (its changes, then yours), `steps` steps
    cfg = vqvae.VQVAEConfig(**{**ABLATION, **vqvae.ABLATION_VARIANTS.get(label, {}), **changes})
    # AdamW at 2e-3, batches of 8 crops of 0.25 s, validated every 15 steps; records the codebook's movement per step
    return label, vqvae.codebook_ablation_run(cfg, corpus.random_crops("train", 0.25), valid_crops, steps)

t0 = time.time()
ablation = [codebook_run(label) for label in vqvae.ABLATION_VARIANTS]
print(f"4 runs of 60 steps in {time.time() - t0:.0f} s")
fig, ax = plt.subplots(1, 4, figsize=(15, 3))
print(f"{'codebook update':>22} {'usage':>6} {'perplexity':>11} {'recon':>6} {'spectral':>9} {'movement':>9}"
      "   (validation, last step; movement: mean of the last 30 steps)")
for label, h in ablation:
    v = h["valid_metrics"]
    for a, k in zip(ax, ("usage", "spectral", "recon")):
        a.plot(h["valid_step"], v[k], marker="o", label=label)
    ax[3].plot(range(1, len(h["movement"]) + 1), h["movement"], label=label)
    print(f"{label:>22} {v['usage'][-1]:>6.0%} {v['perplexity'][-1]:>11.1f} {v['recon'][-1]:>6.3f} {v['spectral'][-1]:>9.3f} "
          f"{np.mean(h['movement'][30:]):>9.1%}")
ax[0].set(title="codes used on the validation crops (of 64)", xlabel="step")
ax[1].set(title="spectral distance (validation)", xlabel="step"); ax[2].set(title="recon (1 = silence)", xlabel="step")
ax[3].set(title="codebook movement per step", xlabel="step", yscale="log")
ax[0].legend(fontsize=8); plt.tight_layout(); plt.show()
movement = {label: float(np.mean(h["movement"][30:])) for label, h in ablation}
assert movement["no restarts"] < 0.1 * movement["neither"]  # averaging: the codes move >10x less per step
assert movement["EMA 0.99 + restarts"] < movement["no averaging (mu=0)"]
last = {label: {k: vals[-1] for k, vals in h["valid_metrics"].items()} for label, h in ablation}
use = {label: m["usage"] for label, m in last.items()}
spectral = [m["spectral"] for m in last.values()]
spread = (max(spectral) - min(spectral)) / min(spectral)
print(f"spectral distances at the last step differ by {spread:.0%} at most; usage over the steps: "
      + "; ".join(f"{label} {min(h['valid_metrics']['usage']):.0%}..{max(h['valid_metrics']['usage']):.0%}"
                  for label, h in ablation))
usage_full, usage_no_restart = (dict(ablation)[k]["valid_metrics"]["usage"] for k in ("EMA 0.99 + restarts", "no restarts"))
assert use["no restarts"] < 0.5 * use["EMA 0.99 + restarts"] <= 0.5 * use["no averaging (mu=0)"]  # less than half
assert all(n < f for n, f in zip(usage_no_restart, usage_full))  # fewer codes at every validation
assert spread < 0.1  # equal reconstructions, to within 10%
assert min(m["recon"] for m in last.values()) > 0.9  # the waveform error: still silence's, in all four

# %% [markdown]
# Read the numbers above rather than trusting a rule. In 60 steps **restarts** decide the usage: without them, the
# codes no latent chooses stay unused, so the run without restarts uses fewer codes than the full recipe at every
# validation, and less than half as many at the last (asserted). **Averaging** is for stability: with decay 0.99 each
# code is the mean of its latents over about the last 100 batches, so the codebook moves little from one step to the
# next (the last panel, log scale: without restarts, more than ten times less than with decay 0, asserted); with decay
# 0 every code jumps to the mean of whatever the last batch gave it, every step. **No averaging** uses the most codes
# for a reason that is not a virtue: every code the last batch missed is dead at once and restarted, every step, so
# the codebook is mostly the last batch's latents. The **reconstructions** are equal within 10% in spectral distance
# (asserted), and the waveform error stays at silence's in all four: in a run this short, neither the codes kept
# alive nor the codes kept still change what the decoder can do yet.
#
# ### The same four runs, fifty times longer
#
# `scripts/ablate_codebook.py` ran the same four runs for 3,000 steps (the same level, learning rate and crops, the
# cosine schedule stretched to 3,000 steps, 32 validation crops every 100 steps; its command, machine and wall time
# print below). The curves:

# %%
long = json.loads((CKPT / "codebook_ablation.json").read_text())
assert long["corpus"] == corpus.recipe.hash() and long["config"] == {**ABLATION, "sample_rate": SR}
print(f"{long['command']}\n{long['machine']}, {long['wall_seconds']:.0f} s for the four runs")
fig, ax = plt.subplots(1, 4, figsize=(15, 3))
for label, r in long["runs"].items():
    for a, k in zip(ax, ("usage", "recon", "spectral")):
        a.plot(r["valid_step"], r["valid_metrics"][k], label=label)
    ax[3].plot(r["valid_step"], r["movement"], label=label)
ax[0].set(title="codes used (of 64)", xlabel="step"); ax[1].set(title="recon (1 = silence)", xlabel="step")
ax[2].set(title="spectral distance", xlabel="step")
ax[3].set(title="codebook movement per step", xlabel="step", yscale="log"); ax[0].legend(fontsize=8)
plt.tight_layout(); plt.show()
curves = {label: {k: np.array(v) for k, v in r["valid_metrics"].items()} for label, r in long["runs"].items()}
steps_ = np.array(long["runs"]["no restarts"]["valid_step"])
tail = {label: {k: float(v[-10:].mean()) for k, v in c.items()} for label, c in curves.items()}  # the last 1,000 steps
first_90 = {label: int(steps_[np.argmax(c["usage"] >= 0.9)]) for label, c in curves.items()}
moves = {label: float(np.mean(r["movement"][-10:])) for label, r in long["runs"].items()}
print(format_table([(label, first_90[label], f"{t['usage']:.0%}", f"{t['recon']:.3f}", f"{t['spectral']:.3f}",
                     f"{moves[label]:.2%}") for label, t in tail.items()],
                   ["codebook update", "first step with 90% used", "usage", "recon", "spectral", "movement"]))
print("(the last four columns: means over the last 1,000 steps)")
ema, no_avg = ("EMA 0.99 + restarts", "no restarts"), ("no averaging (mu=0)", "neither")
at_300 = list(steps_).index(300)
assert first_90["EMA 0.99 + restarts"] <= 200 and first_90["no restarts"] >= 2 * first_90["EMA 0.99 + restarts"]
assert curves["no restarts"]["recon"][at_300] > curves["EMA 0.99 + restarts"]["recon"][at_300]  # behind, early
assert abs(tail["no restarts"]["usage"] - tail["EMA 0.99 + restarts"]["usage"]) < 0.05  # and then level
assert abs(tail["no restarts"]["recon"] - tail["EMA 0.99 + restarts"]["recon"]) < 0.02
assert max(tail[k]["recon"] for k in ema) < 0.85 * min(tail[k]["recon"] for k in no_avg) < 0.85  # averaging: better
assert max(tail[k]["spectral"] for k in ema) < min(tail[k]["spectral"] for k in no_avg)
assert min(moves[k] for k in no_avg) > 80 * max(moves[k] for k in ema)  # "about a hundred times" (summary)
assert min(moves[k] for k in no_avg) > 0.5 and max(moves[k] for k in ema) < 0.01  # "half its norm", "half a percent"
assert 1.15 < min(tail[k]["recon"] for k in no_avg) / max(tail[k]["recon"] for k in ema) < 1.35  # "about a quarter"

# %% [markdown]
# Now each part shows what it is for.
#
# - **Restarts are for the start.** With them, nine codes in ten are in use by step 200; without them the usage
#   climbs only as the encoder's latents drift back onto the codes they had left (a code no latent chooses keeps its
#   vector, so it can be chosen again), and reaches nine in ten at least twice as late; the waveform error lags
#   meanwhile (higher at step 300), then both runs end level (asserted). So the short run's dead codes were not dead
#   for good, here: 64 codes and about 500 latents a batch give every code a chance. With more codes per latent (a
#   codebook of Jukebox's 2,048) the wait is longer; exercise 2 tries 256.
# - **Averaging is for the reconstruction.** The two runs with decay 0 end with a waveform error about a quarter
#   higher and a larger spectral distance (asserted), and their curves jitter: a codebook that moves half its norm or
#   more every step (the last panel, against about half a percent with averaging) keeps changing what each code
#   means, and the decoder keeps relearning it. This is the payoff of stability that the 60-step runs could not show.
#
# Exercise 2 runs the restarts with a larger codebook.
#
# ## 5. The shipped levels: what each one keeps
#
# Three levels, hops 64, 256 and 1,024 (a ratio of 4 between neighbours, as Jukebox's 8, 32 and 128), each one
# codebook of 1,024 codes of the course's autoencoder design (`helpers/autoencoder.py`, section 3's live run and
# notebook 05's codec: a spectral encoder that also reads a 2048-point STFT, cosine codes, an inverse-STFT decoder,
# multi-scale mel, STFT, phase and semitone losses), trained longer by `scripts/train_autoencoder.py --preset level`
# (command, seed and wall time in `data/checkpoints/README.md` and in each file's JSON). Each sees the raw audio and is
# trained on its own (Jukebox's *separated autoencoders*, Sec. 3.2). We reconstruct held-out **test** clips at each
# level.

# %%
levels = {hop: jukebox.load_level(CKPT / f"level_hop{hop}.pt") for hop in (64, 256, 1024)}
for hop, m in levels.items():
    meta = json.loads((CKPT / f"level_hop{hop}.json").read_text())
    before = f" after {meta['init']['steps']:,} of an earlier run (warm start)" if meta.get("init") else ""
    print(f"hop {hop}: {sum(p.numel() for p in m.parameters()):,} parameters, {meta['steps']:,} steps in "
          f"{meta['train_seconds'] / 60:.0f} min{before}, {SR / hop:g} codes/s, {m.config.codebook_size} codes, "
          f"{m.bitrate():g} bit/s")
test = torch.from_numpy(corpus.clips("test")[:8].copy())  # (8, 64000): 8 held-out clips
test_attrs = corpus.attributes("test")[:8]
test_family = [a["family"] for a in test_attrs]
recon = {hop: m.reconstruct(test, sr=SR) for hop, m in levels.items()}  # hop -> (8, 64000)

# %%
clip = 0
fig, ax = plt.subplots(1, 4, figsize=(15, 3))
plot_spectrogram(test[clip].numpy(), SR, ax=ax[0], title=f"original ({test_family[clip]})", colorbar=False)
for a, hop in zip(ax[1:], levels):
    plot_spectrogram(recon[hop][clip].numpy(), SR, ax=a, title=f"hop {hop}", colorbar=False)
plt.tight_layout()
display(play(test[clip].numpy(), sr=SR), *(play(recon[hop][clip].numpy(), sr=SR) for hop in levels))

# %% [markdown]
# The players: the original, then the bottom (hop 64), middle (hop 256) and top (hop 1,024) levels. The table below
# averages four measures over the 8 test clips: multi-resolution STFT distance (lower is better),
# [SI-SNR](GLOSSARY.md#si-snr) in dB (higher is better; it needs the waveform's phase right, which these levels do not
# try to keep: their losses compare spectra and phase derivatives, not waveforms), log-mel distance (lower is better)
# and [chroma](GLOSSARY.md#chroma)
# similarity (1 = the same pitch classes over time), plus the codebook usage and perplexity of each level's codes.

# %%
quality = {}
print(f"{'level':>9} {'MR-STFT':>8} {'SI-SNR dB':>10} {'log-mel':>8} {'chroma':>7} {'usage':>6} {'perplexity':>11}")
for hop, m in levels.items():
    rows = [quality_table(test[i], recon[hop][i], SR) for i in range(len(test))]
    q = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    usage, perplexity = vqvae.code_statistics(jukebox.level_encode(m, test[:, None], SR), m.config.codebook_size)
    quality[hop] = dict(q, usage=float(usage), perplexity=float(perplexity))
    print(f"{'hop ' + str(hop):>9} {q['mr_stft']:>8.2f} {q['si_snr']:>10.1f} {q['log_mel']:>8.2f} {q['chroma']:>7.2f} "
          f"{float(usage):>6.0%} {float(perplexity):>11.0f}")

# %% [markdown]
# The same levels on [notebook 06](06_evaluation.ipynb)'s one scale, with every measure's floor
# (`scripts/measure_autoencoders.py`; its JSON is loaded here with the checkpoints' SHA-256 checked): 143 held-out
# chorale clips reconstructed, FAD against a reference half of other held-out clips (× the real clips' own FAD), the
# family the clean classifier hears, chroma, log-mel and SI-SNR against the clip. Floors: white noise at the clip's
# level, an unrelated clip, random codes through each decoder. Beside them, the lesson's first design at two of the
# same hops (`vqvae_hop64.pt`, `vqvae_hop256.pt`: section 2's time-domain VQ-VAE, trained 12 minutes each).

# %%
ae_table = audio_eval.load_autoencoder_table(CKPT / "autoencoders.json")
names = [f"level_hop{hop}.pt" for hop in levels] + ["vqvae_hop64.pt", "vqvae_hop256.pt"]
level_rows = audio_eval.format_autoencoder_rows(ae_table, models=names)
print(format_table(level_rows, ["row", "bit/s", "FAD", "x real", "family", "chroma", "log-mel", "SI-SNR dB"], digits=2))
by_row = {r["row"]: r for r in ae_table["rows"]}
noise_chroma, unrelated_chroma = by_row["floor: noise"]["chroma"], by_row["floor: unrelated clip"]["chroma"]
real_fad = by_row["held-out real clips"]["fad"]
one = {hop: by_row[f"level_hop{hop}.pt, 1 codebook"] for hop in levels}
old = {hop: by_row[f"vqvae_hop{hop}.pt, 1 codebook"] for hop in (64, 256)}
print(f"chroma floors: white noise {noise_chroma:.2f}, an unrelated clip {unrelated_chroma:.2f}; FAD of real clips "
      f"{real_fad:.0f}")
assert max(r["fad"] for r in one.values()) < 0.5 * min(r["fad"] for r in old.values())  # under half the first design's
assert min(r["family"] for r in one.values()) > 2 * max(r["family"] for r in old.values())  # heard twice as often
assert 0.4 < min(r["family"] for r in one.values()) and max(r["family"] for r in one.values()) < 0.6  # about half
assert one[256]["chroma"] == max(r["chroma"] for r in one.values()) and one[256]["chroma"] > noise_chroma + 0.05
assert one[64]["chroma"] < noise_chroma + 0.02 and unrelated_chroma < one[1024]["chroma"] < noise_chroma
assert old[64]["chroma"] > noise_chroma + 0.3 and max(r["family"] for r in old.values()) < 0.2  # notes, not timbre
assert one[1024]["chroma"] < 0.5 and levels[64].config.n_fft == 256 and levels[256].config.n_fft == 1024

# %% [markdown]
# What the levels keep, measured on that scale. **The instrument:** all three keep far more of it than the lesson's
# first design at the same hops: their Fréchet distances are under half the time-domain levels', and the clean
# classifier hears the family in about half of their reconstructions, more than twice as often (asserted). **The
# notes** are another matter: only the middle level (hop 256) keeps more of them than white noise does (chroma
# above noise's); the bottom level (hop 64) sits at noise's level and the top level (hop 1,024) below it, though
# above an unrelated clip's. The time-domain hop-64 level keeps the notes far better (chroma 0.3 above noise's), and
# almost none of the instrument (heard in under a fifth of its reconstructions). So neither design yet gives one
# level both, and the top level, whose codes the top prior writes, keeps little of the notes (chroma under 0.5). Why
# the bottom level loses the notes, in our reading: its decoder synthesises with a 256-point
# STFT (16 ms frames, 62.5 Hz between bins), too coarse in frequency to place the lower partials; the middle level's
# 1,024-point frames are the codec's kind. A trial recorded in `data/checkpoints/README.md` (the bottom level with
# 1,024-point frames, the same budget) gave back part of the notes and none of the instrument. Exercise 1 lets you
# try another hop.
#
# ## 6. Priors and top-down sampling
#
# Now the generative half (`helpers/jukebox.py`). The three priors are the course's one decoder
# (`helpers.transformer.MusicTransformer`, relative attention, KV cache), trained by `scripts/train_priors.py` on the
# codes of the shipped levels (all 2,400 train clips, each cut to 62 top codes, 3.97 s):
# - the **top prior** models `[family, tempo band, mode, register, 62 top codes]`: four label tokens from the corpus
#   attributes in front (Jukebox conditions on artist, genre and the lyrics);
# - two **upsamplers**, one per lower level: hop 256 under hop 1,024, and hop 64 under hop 256. Each embeds the codes
#   of the level above, convolves them, upsamples them ×4 with a transposed convolution and **adds them to its input**
#   at every position (`x_add`), as Jukebox does; and each adds an embedding of the family at every position, as
#   Jukebox's upsamplers take its labels too, because the family decides the timbre, which the lower levels carry. The
#   family is replaced by a *null label* in 20% of the training crops, so each upsampler also knows the codes without
#   it, and can be sampled with **classifier-free guidance** on the family, as notebook 05 guides MusicGen by its
#   text: the next code's logits are `uncond + s (cond - uncond)`, the unconditional half run with the null label.

# %%
print(inspect.getsource(jukebox.Upsampler.conditioning))
pipe = jukebox.load_pipeline()  # the three levels, the top prior, the two upsamplers
prior, upsamplers = pipe["prior"], pipe["upsamplers"]
print("the top prior's label tokens:", dict(zip(prior.label_names, prior.label_sizes)))
assert [lv.hop for lv in pipe["levels"]] == sorted(levels, reverse=True)
assert all(up.n_labels == len(FAMILIES) and up.ratio == 4 for up in upsamplers)
for name, m, f, hop in [("top prior", prior, "prior_top", 1024),
                        ("upsampler 1024 -> 256", upsamplers[0], "upsampler_hop256", 256),
                        ("upsampler 256 -> 64", upsamplers[1], "upsampler_hop64", 64)]:
    meta, K = json.loads((CKPT / f"{f}.json").read_text()), levels[hop].config.codebook_size
    print(f"{name}: {sum(p.numel() for p in m.parameters()):,} parameters ({meta['weights']}); trained "
          f"{meta['steps']:,} steps of batch {meta['batch_size']} ({meta['train_seconds'] / 60:.0f} min, "
          f"{meta['n_train_clips']:,} clips); validation NLL {meta['valid_nll']:.2f} nats per code (uniform over {K} "
          f"codes: {math.log(K):.2f})")

# %% [markdown]
# Four new 4-second clips, one per family, sampled side by side (a batch of 4), then one clip alone, at guidance
# `GUIDANCE` (the scale chosen below, from the measurement). The timing is the
# [real-time factor](GLOSSARY.md#real-time-factor) as the course states it: seconds of audio produced per second of
# computing, "× real time" (above 1 is faster than real time); guidance runs each upsampler on twice the batch.
# Sampling runs on **one thread** from here on: at these sizes each step is a string of small kernels, and a second
# OpenMP thread mostly waits for the first (`make bench`, `tests/benchmarks/bench_threads.py`, measured one thread
# fastest with and without a competing process; `data/checkpoints/README.md` has the table). Each
# clip is then played with the family the course's judge (`classifier_robust.pt`) hears in it: a label is a
# *request*; whether the samples follow it is measured on four clips here, and on 143 in the next cell.

# %%
torch.set_num_threads(1)  # sampling: one thread (the training cells above used two)
jbc = json.loads((CKPT / "jukebox_control.json").read_text())
GUIDANCE = max(jbc["rows"], key=lambda r: r["robust"]["accuracy"])["guidance"]  # the best measured scale (below)
families = ["piano", "organ", "strings", "reed"]
label4 = torch.cat([jukebox.label_of(prior, family=f, tempo_band="moderate", mode="major", register="middle")
                    for f in families])
out4 = jukebox.sample_top_down(pipe["levels"], prior, upsamplers, label4, 4.0, torch.Generator().manual_seed(0),
                               guidance_scale=GUIDANCE)
out1 = jukebox.sample_top_down(pipe["levels"], prior, upsamplers, label4[:1], 4.0, torch.Generator().manual_seed(1),
                               guidance_scale=GUIDANCE)
stages = ["top prior", "up to 256", "up to 64", "decode", "total"]
print(f"{'batch':>6} " + " ".join(f"{n:>10}" for n in stages) + "   (x real time: audio s per compute s)")
for out in (out1, out4):
    r = [out["rtf"]["top_prior"], *out["rtf"]["upsamplers"], out["rtf"]["decode"], out["rtf"]["total"]]
    print(f"{out['batch']:>6} " + " ".join(f"{1 / v:>10.2f}" for v in r))  # the course shows the inverse of the RTF
assert out4["rtf"]["total"] < out1["rtf"]["total"]  # side by side, the per-step overhead is shared
judge = load_classifier(CKPT / "classifier_robust.pt")  # the course's judge of generated audio (notebook 05)
heard = judge.predict(out4["audio"], sr=SR)["family"]
for f, a, h in zip(families, out4["audio"], heard):
    print(f"asked for {f}, the judge hears {h}"); display(play(a.numpy(), sr=SR))

# %% [markdown]
# **Do the samples play what they are asked for?** Four clips say little. `scripts/measure_jukebox.py` samples 18
# clips per family (143 in all: the test split holds 17 pipe clips), each asked for the family, tempo band, mode and
# register of one held-out test clip (combinations the corpus holds: it has no pipe in the low register), the same
# top codes for every row, at five guidance scales, and asks two judges what they hear: the robust classifier (trained on
# real and decoded clips: the course's judge of generated audio) and the clean one (real clips only: it hears a
# family only where it sounds like the real instrument). Guidance 0 gives the upsamplers the null label: the family
# then reaches the top prior only, as in a pipeline whose upsamplers never see it. Beside them, the same judges on the
# held-out clips themselves and on their reconstructions by the hop-64 level, the **ceiling**: a sample decoded by
# that level can keep no more of the instrument than the level does. Below them, *where a label is lost*: the same
# clips' own codes of an upper level, upsampled with the clip's family and decoded (from the top level at guidance 5;
# from the middle level at every scale, which isolates the last upsampler). For the rows that stand for one clip each,
# the last column is the **onset agreement** with that clip (`audio_quality.onset_agreement`: the correlation of the
# two clips' spectral flux, 1 = the notes start at the same moments). Its JSON is loaded here, every checkpoint
# checked by its SHA-256. Accuracies with their [Wilson](GLOSSARY.md#wilson-interval) 95% intervals; for tempo band,
# mode and register, in brackets, the accuracy a row would have if what it plays did not depend on what it is asked
# *within each family* (`measure_jukebox.within_family_chance`). The corpus ties register and tempo to the
# instrument (a pipe never plays low), so samples that play their family's usual register score above a uniform
# guess without following the request: a row follows an attribute only above its bracketed value.

# %%
for name, rec in jbc["checkpoints"].items():
    assert file_sha256(CKPT / Path(rec["path"]).name) == rec["sha256"], f"{name}: measured on other weights"
assert jbc["families"] == list(FAMILIES) and jbc["conditions"] == list(prior.label_names)
ci = lambda t: f"{t['accuracy']:.2f} [{t['low']:.2f}, {t['high']:.2f}]"  # noqa: E731
others = jbc["conditions"][1:]  # what the top prior is asked besides the family
cu = lambda t: f"{ci(t)} ({t['unrelated']:.2f})"  # noqa: E731 (and what a sample scores that ignores the request)
table = [(f"{r['guidance']:g}", ci(r["robust"]), ci(r["clean"]), *(cu(r[f"robust {c}"]) for c in others), "")
         for r in jbc["rows"]]
table += [(name, ci(r["robust"]), ci(r["clean"]), *(cu(r[f"robust {c}"]) for c in others),
           f"{r['onset_agreement']:.2f}" if "onset_agreement" in r else "") for name, r in jbc["references"].items()]
table += [("chance", f"{jbc['chance']['family']:.2f}", f"{jbc['chance']['family']:.2f}",
           *(f"{jbc['chance'][c]:.2f}" for c in others), "")]
print(f"{jbc['rows'][0]['robust']['n']} samples, {jbc['per_family']} per family (fewer where the test split has fewer), "
      f"{jbc['seconds']:g} s each\n")
print(format_table(table, ["guidance / reference", "family (robust)", "family (clean)",
                           *(f"{c.replace('_', ' ')} (robust)" for c in others), "onsets"]))
rows = {r["guidance"]: r for r in jbc["rows"]}
ceiling = jbc["references"]["hop-64 reconstructions"]
real = jbc["references"]["held-out test clips"]
best = rows[GUIDANCE]
fig, ax = plt.subplots(figsize=(4.6, 4))
conf = np.array(best["robust"]["confusion"])
ax.imshow(conf, cmap="Blues")
ax.set_xticks(range(len(FAMILIES)), FAMILIES, rotation=60); ax.set_yticks(range(len(FAMILIES)), FAMILIES)
for (a, b), v in np.ndenumerate(conf):
    ax.text(b, a, v, ha="center", va="center", fontsize=8)
ax.set(xlabel="heard (robust judge)", ylabel="asked", title=f"top-down samples, guidance {GUIDANCE:g}")
plt.tight_layout(); plt.show()

# %%
chance = jbc["chance"]
assert GUIDANCE == max(rows, key=lambda g: rows[g]["robust"]["accuracy"]) and GUIDANCE > 1  # guidance chosen here
assert chance["family"] < rows[0.0]["robust"]["low"] and rows[0.0]["robust"]["high"] < best["robust"]["low"]
assert rows[1.0]["robust"]["accuracy"] > rows[0.0]["robust"]["accuracy"]  # the label as trained adds, guidance more
assert best["robust"]["low"] <= ceiling["robust"]["accuracy"] <= best["robust"]["high"]  # as often as the level keeps it
assert best["robust"]["accuracy"] >= 0.8  # "four clips in five"
assert best["clean"]["accuracy"] > 2 * rows[0.0]["clean"]["accuracy"] and best["clean"]["low"] > 0.4  # the clean judge too
assert all(r["robust mode"]["low"] < chance["mode"] < r["robust mode"]["high"] for r in rows.values())  # mode: chance
unrelated = lambda r, c: r[f"robust {c}"]["unrelated"]  # noqa: E731 (heard independent of asked, within a family)
assert all(r["robust register"]["low"] > unrelated(r, "register") for r in rows.values())  # register: every row
assert all(r["robust tempo_band"]["accuracy"] > unrelated(r, "tempo_band") + 0.05 for r in rows.values())  # tempo: a
assert any(r["robust tempo_band"]["low"] < unrelated(r, "tempo_band") for r in rows.values())  # little, not always clear
assert max(r["robust tempo_band"]["accuracy"] for r in rows.values()) < 0.45 < ceiling["robust tempo_band"]["low"]
assert ceiling["robust tempo_band"]["low"] > 1.5 * chance["tempo_band"]  # the level keeps the tempo ...
assert 0.75 < ceiling["robust tempo_band"]["accuracy"] < 0.85 and 0.7 < ceiling["robust"]["accuracy"] < 0.8  # (4/5, 3/4)
assert 0.3 < rows[0.0]["robust"]["accuracy"] < 0.4  # about a third
assert ceiling["robust mode"]["low"] < chance["mode"] < ceiling["robust mode"]["high"] < real["robust mode"]["low"]
assert best["clean"]["accuracy"] > ceiling["clean"]["accuracy"]
# where the tempo is lost: the last upsampler, from the clips' own middle-level codes, at each guidance scale
mid = {r["guidance"]: r for r in jbc["references"].values() if r.get("from_level") == len(jbc["hops"]) - 2}
top_up = next(r for r in jbc["references"].values() if r.get("from_level") == 0)
assert mid[0.0]["robust tempo_band"]["low"] > 1.5 * unrelated(mid[0.0], "tempo_band")  # with no label the tempo comes
assert mid[max(mid)]["robust tempo_band"]["accuracy"] < mid[0.0]["robust tempo_band"]["accuracy"] - 0.1  # through; the
assert mid[max(mid)]["robust tempo_band"]["low"] > unrelated(mid[max(mid)], "tempo_band")  # strongest guidance loses some
assert mid[max(mid)]["robust"]["accuracy"] > 1.5 * mid[0.0]["robust"]["accuracy"]  # while the family is heard more
assert 0.6 < max(r["onset_agreement"] for r in mid.values()) / ceiling["onset_agreement"] < 0.75  # 2/3 at best
assert mid[0.0]["onset_agreement"] == max(r["onset_agreement"] for r in mid.values())  # ... with no label
assert mid[max(mid)]["onset_agreement"] < min(r["onset_agreement"] for g, r in mid.items() if g <= 1)
assert top_up["robust tempo_band"]["accuracy"] < mid[max(mid)]["robust tempo_band"]["accuracy"]  # less from the top
assert 0.65 < mid[0.0]["robust tempo_band"]["accuracy"] < 0.75 and 0.45 < mid[max(mid)]["robust tempo_band"]["accuracy"] < 0.6
assert 0.75 < ceiling["robust register"]["accuracy"] < 0.85  # the level keeps the register (four fifths)
assert top_up["robust register"]["low"] > unrelated(top_up, "register")  # and the clips' own top codes carry it
assert one[64]["family"] < 2 / 3 < ceiling["robust"]["accuracy"]  # the clean classifier on the one scale, this judge here
bottom_up = upsamplers[-1].config  # "two layers and a second of context"
assert bottom_up.n_layer == 2 and 0.9 < bottom_up.max_len * jbc["hops"][-1] / SR < 1.1
print(f"family at guidance {GUIDANCE:g}: robust {ci(best['robust'])}, clean {ci(best['clean'])}; the level's "
      f"reconstructions: robust {ci(ceiling['robust'])}, clean {ci(ceiling['clean'])}; tempo band heard in the "
      f"reconstructions {ci(ceiling['robust tempo_band'])}, mode {ci(ceiling['robust mode'])}; in the samples (each "
      f"row's 'unrelated' value in brackets): register " + ", ".join(cu(r["robust register"]) for r in rows.values())
      + "; tempo band " + ", ".join(cu(r["robust tempo_band"]) for r in rows.values()))

# %% [markdown]
# What the table shows, row by row (the cell above asserts each reading):
#
# - **The family.** With the null label at the upsamplers (guidance 0), the family reaches the top prior only, and
#   the samples are heard as the asked family in about a third of the clips: above chance, so the top codes carry
#   some of it down, but far from the reconstructions of real clips. Given to the upsamplers as trained
#   (guidance 1) it is heard more often, and with classifier-free guidance more often still, up to the **ceiling**:
#   at the best scale the robust judge hears the asked family in four clips of five, about as often as in the hop-64
#   level's own reconstructions of real clips (the ceiling lies inside the row's interval). The priors carry the
#   family as far as the level can; the level, whose reconstructions of these clips are heard as their family in
#   about three quarters of them by this judge (and in under two thirds by the clean classifier, section 5), is the
#   limit. The clean judge, which hears a family only where it sounds like the real instrument, hears it in the
#   samples more often than in the reconstructions: guidance pushes each clip towards its family's sound.
# - **The register** is followed in every row: each row's interval lies above its bracketed value, the share a
#   sample would score by playing its family's usual register whatever it is asked. The register is pitch height,
#   which the top codes carry; the level keeps it (four fifths of its reconstructions).
# - **Mode** is asked of the top prior but not followed: every row's interval holds chance. It is lost by the bottom
#   level itself (its reconstructions are heard in the right mode only at chance), so no prior could carry it to the
#   judge.
# - **The tempo** comes through a little: every row is heard at the asked tempo more often than its bracketed value,
#   by 0.05 and more, but below 0.45, and not every interval clears that value. The level keeps the tempo (four
#   fifths of its reconstructions), and the rows *where a label is lost* show where it goes. From the clips' own
#   middle codes with no label (guidance 0) the last upsampler keeps it in seven clips of ten; guided towards the
#   family, it lets the family be heard more often and the tempo less often (about half at guidance 5). From the
#   clips' own top codes it is kept less often still. Its onsets agree with the clip's at best (with no label) about
#   two thirds as well as the level's reconstructions do, and least at the strongest guidance: the last upsampler
#   writes 250 codes per second from two layers and a second of context, and keeps the instrument better than the
#   timing. `data/checkpoints/README.md` records what was tried on it: three changes (a deeper model, a wider
#   conditioner, corrupted inputs, each for 1,000 steps) and guidance on the middle codes as well as the family kept
#   the timing and the instrument together no better; the same model trained longer (the shipped one: 5,000 steps,
#   then 5,000 more from those weights) kept the onsets better at each step, at every guidance scale, and the family
#   at guidance 5 at least as well (`scripts/diagnose_upsampler.py` scores any upsampler this way).
# - The confusion matrix shows which families the samples are taken for. Guidance was chosen as the best of five
#   scales on these same 143 samples, so that row is a little optimistic.

# %% [markdown]
# The same question for how the samples *sound*, on [notebook 06](06_evaluation.ipynb)'s one scale:
# `scripts/jukebox_fad_stages.py` sends notebook 06's held-out chorale clips down the hierarchy as far as a stage
# (their own codes of that level) and back up through the upsamplers below and the bottom level's decoder, and
# measures each row's Fréchet distance to real clips (the plug-in FAD, × the real clips' own, and its bias-corrected
# interval), also with every clip brought to the corpus's peak (notebook 06, section 5, "How much of a distance is
# loudness?"), and the family the robust judge hears. The `top-down` row is notebook 06's Jukebox row:

# %%
stages = json.loads((CKPT / "jukebox_fad_stages.json").read_text())
for name, rec in stages["checkpoints"].items():
    assert file_sha256(CKPT / Path(rec["path"]).name) == rec["sha256"], f"{name}: measured on other weights"
assert stages["corpus"] == corpus.recipe.hash()
print(f"{stages['n_clips']} held-out chorale clips; real clips' own FAD {stages['real_fad']:.0f}; {stages['command']}")
print(format_table([(r["row"], "" if r["guidance"] is None else f"{r['guidance']:g}", f"{r['fad']:.0f}",
                     f"{r['fad'] / stages['real_fad']:.1f}",
                     f"{r['fad_corrected']:.0f} [{r['fad_low']:.0f}, {r['fad_high']:.0f}]",
                     f"{r['fad_at_corpus_peak']:.0f}", f"{r['family']:.2f}") for r in stages["rows"]],
                   ["from the clip's own ...", "guidance", "FAD", "x real", "b.c. [95%]", "at corpus peak", "family"]))
rec_fad = next(r["fad"] for r in stages["rows"] if r["row"] == "reconstruction")
by_stage = {(r["row"], r["guidance"]): r["fad"] for r in stages["rows"]}
last_share = {g: (by_stage["middle codes, last upsampler", g] - rec_fad) / (by_stage["top-down", g] - rec_fad)
              for g in sorted({r["guidance"] for r in stages["rows"] if r["guidance"] is not None})}
print("share of the distance from the reconstructions to the top-down samples already there after the last "
      "upsampler: " + ", ".join(f"guidance {g:g}: {v:.0%}" for g, v in last_share.items()))
steps_added = {g: {"last upsampler": by_stage["middle codes, last upsampler", g] - rec_fad,
                   "middle upsampler": by_stage["top codes, both upsamplers", g] - by_stage["middle codes, last upsampler", g],
                   "top prior": by_stage["top-down", g] - by_stage["top codes, both upsamplers", g]} for g in last_share}
for g, added in steps_added.items():
    print(f"guidance {g:g}, FAD added by " + ", ".join(f"the {k} {v:.0f}" for k, v in added.items()))
assert all(v > 0 for added in steps_added.values() for v in added.values())  # "the distance grows at every stage"
g_hi, g_lo = max(last_share), min(last_share)
assert max(steps_added[g_hi], key=steps_added[g_hi].get) == "last upsampler" and 0.45 < last_share[g_hi] < 0.65
assert max(steps_added[g_lo], key=steps_added[g_lo].get) == "top prior"  # guidance 1: the top prior adds the most,
assert steps_added[g_lo]["top prior"] > 0.6 * sum(steps_added[g_lo].values())  # two thirds of the way and more
assert last_share[g_lo] < 0.5 < last_share[g_hi]

# %% [markdown]
# The distance grows at every stage. At guidance 5, the scale these samples are drawn at, the last upsampler adds
# the most, about half of the way from the level's reconstructions to the top-down samples: given the clips' own
# middle codes it already writes music further from real clips than the level's own codes are, as it writes the
# timing worse. At guidance 1 the top prior adds the most, two thirds of the way and more: the clips' own top codes,
# upsampled, stay close to real clips, the top codes it writes do not (asserted). The last upsampler was trained four
# times as long as its first version (10,000 steps, `data/checkpoints/README.md`), and each doubling took it closer
# to real clips at this stage; the middle upsampler and the top prior, trained twice as long, overfit their fewer
# codes and did not improve. `data/checkpoints/README.md` ("Tried") records what training both on three times the
# clips did instead (the same recipe rendered with another seed), measured as this table and section 6's are.

# %% [markdown]
# Why are the upsamplers the slow stage? The bottom one must write 250 codes per second of audio, the middle one 62.5,
# the top prior 15.6, one transformer step each. The measured steps per second of each model and what each candidate
# hop would cost:

# %%
sps = {name: c.shape[1] / t for name, c, t in zip(["top prior", "upsampler to 256", "upsampler to 64"], out1["codes"],
                                                  [out1["timing"]["top_prior"], *out1["timing"]["upsamplers"]])}
assert out1["timing"]["upsamplers"][-1] > out1["timing"]["top_prior"]  # the bottom upsampler is the slow stage
assert out1["codes"][2].shape[1] == 16 * out1["codes"][0].shape[1]  # 16 times the top prior's steps
print(", ".join(f"{name}: {v:.0f} steps/s" for name, v in sps.items()))
for hop in (32, 64, 128, 256, 1024):
    print(f"hop {hop:>4} at 16 kHz: {SR / hop:>6.1f} codes/s -> {sps['upsampler to 64'] / (SR / hop):6.2f} x real time "
          f"(an upsampler of the bottom one's size)")

# %% [markdown]
# Jukebox, for comparison: its README puts sampling at about 3 hours for 20 seconds of audio on a V100, about 540× slower
# than real time, with a 5-billion-parameter top prior and 1-billion-parameter upsamplers at 44.1 kHz (5,512 bottom
# codes per second). Our numbers, measured above on this machine's CPU:

# %%
ours = sum(p.numel() for m in (prior, *upsamplers) for p in m.parameters())
jukebox_params, jukebox_rtf = 5e9 + 2 * 1e9, 3 * 3600 / 20
print(f"Jukebox: {1 / jukebox_rtf:.4f} x real time (V100), {jukebox_params / 1e9:.0f} B prior parameters")
print(f"ours:    {1 / out1['rtf']['total']:.2f} x real time (batch 1), {1 / out4['rtf']['total']:.2f} x (batch 4) on "
      f"the CPU, {ours / 1e6:.2f} M prior parameters: {jukebox_params / ours:,.0f}x smaller")

# %% [markdown]
# **A prompt continuation.** Encode the first second of a held-out test clip at all three levels (whole top codes:
# 15 of them, 0.96 s), then let the priors continue it to 4 seconds (the labels from the clip's attributes). First the
# original, then the continuation: up to the dashed line it is the bottom level's reconstruction of the prompt, the
# rest is new.

# %%
i = 1
cont = jukebox.sample_top_down(pipe["levels"], prior, upsamplers,
                               jukebox.label_of(prior, **{k: test_attrs[i][k] for k in prior.label_names}), 4.0,
                               torch.Generator().manual_seed(2), prompt_audio=test[i:i + 1, :SR], sr=SR,
                               guidance_scale=GUIDANCE)
prompt_s = SR // 1024 * 1024 / SR  # the first second, cut to whole top codes
assert torch.equal(cont["codes"][0][0, :SR // 1024], jukebox.level_encode(levels[1024], test[i:i + 1, None, :SR // 1024 * 1024], SR)[0])
print(f"clip {i} ({', '.join(test_attrs[i][k] for k in prior.label_names)}): prompt {prompt_s:.2f} s "
      f"({SR // 1024} top codes), continued to {cont['seconds_audio']:.2f} s")
display(play(test[i].numpy(), sr=SR), play(cont["audio"][0].numpy(), sr=SR))
fig, ax = plt.subplots(1, 2, figsize=(12, 3))
plot_spectrogram(test[i].numpy(), SR, ax=ax[0], title="original", colorbar=False)
plot_spectrogram(cont["audio"][0].numpy(), SR, ax=ax[1], title="1 s prompt + continuation", colorbar=False)
ax[1].axvline(prompt_s, color="w", ls="--"); plt.tight_layout()

# %% [markdown]
# **Your own request.** Pick a family, a tempo band, a mode, a register and a guidance scale; each click samples a new 4-s clip
# (about a second or two of computing) and plays it with what the judge hears.

# %%
pick = {name: w.Dropdown(options=list(classes), description=name.replace("_", " "))
        for name, classes in ATTRIBUTE_CLASSES.items() if name in prior.label_names}
guidance_pick = w.FloatSlider(value=GUIDANCE, min=0.0, max=6.0, step=0.5, description="guidance")
seed_pick = w.IntText(value=0, description="seed")
go, request_out = w.Button(description="sample"), w.Output()

def request(_=None):
    label = jukebox.label_of(prior, **{k: p.value for k, p in pick.items()})
    out = jukebox.sample_top_down(pipe["levels"], prior, upsamplers, label, 4.0,
                                  torch.Generator().manual_seed(seed_pick.value), guidance_scale=guidance_pick.value)
    said = judge.predict(out["audio"], sr=SR)
    with request_out:
        request_out.clear_output(wait=True)
        print("the judge hears: " + ", ".join(f"{k.replace('_', ' ')} {said[k][0]}" for k in pick))
        display(play(out["audio"][0].numpy(), sr=SR))

go.on_click(request)
w.VBox([w.HBox(list(pick.values())), w.HBox([guidance_pick, seed_pick, go]), request_out])

# ## 7. Listen for yourself
#
# Pick a test clip and a level: the cell below returns at once, and each change of the controls decodes and plays the
# chosen level in the output area.

# %%
clip_pick = w.Dropdown(options=[(f"{i}: {f}", i) for i, f in enumerate(test_family)], value=0, description="clip")
level_pick = w.ToggleButtons(options=[("original", 0)] + [(f"hop {hop}", hop) for hop in levels], value=64,
                             description="level")
listen_out = w.Output()

def listen(_=None):
    x = test[clip_pick.value]
    y = x if level_pick.value == 0 else levels[level_pick.value].reconstruct(x[None], sr=SR)[0]
    with listen_out:
        listen_out.clear_output(wait=True)
        display(play(y.numpy(), sr=SR))

clip_pick.observe(listen, "value"); level_pick.observe(listen, "value"); listen()
w.VBox([w.HBox([clip_pick, level_pick]), listen_out])

# %% [markdown]
# ## 8. Where the course departs from the paper
#
# This notebook builds Jukebox's pipeline small; four of its choices are not the paper's. Jukebox's own settings are
# taken from its code (`jukebox/hparams.py` in [openai/jukebox](https://github.com/openai/jukebox)) and every number
# below is computed from them or from the shipped files.
#
# **Cosine codes.** The course's VQ-VAE normalises latents and codes to unit length, so the nearest code is the one
# with the largest cosine. Jukebox's bottleneck does not: it finds the nearest code by Euclidean distance between raw
# latents and codes (the VQ-VAE of its Sec. 2.2, with EMA codebook updates, and the random restarts of Sec. 3.1). The
# L2-normalised lookup comes from ViT-VQGAN (Yu et al. 2021, Sec. 3.2), which reports that factorised, L2-normalised
# codes improve codebook usage and reconstruction; `helpers.autoencoder` (section 3's live level, the three shipped
# levels, notebook 05's codec) uses it too, and learns its codebook by gradient instead of EMA. Section 2's
# time-domain level, as shipped (`vqvae_hop64.pt`):

# %%
JUKEBOX = dict(sr=44100, hops=(8, 32, 128), codebook_size=2048, n_ctx=8192, temp_top=1.0, temp_rest=0.99)  # hparams.py
first_design = vqvae.load_checkpoint(CKPT / "vqvae_hop64.pt")
norms = first_design.quantizer.codebook.norm(dim=1)  # one length per code
print(f"vqvae_hop64.pt: normalize={first_design.config.normalize}; its {len(norms)} codes have lengths "
      f"{float(norms.min()):.4f} to {float(norms.max()):.4f}")
assert first_design.config.normalize and torch.allclose(norms, torch.ones_like(norms), atol=1e-3)

# %% [markdown]
# **Three levels, at other rates.** Jukebox compresses 44.1 kHz audio at three hops; the course has three levels too,
# with the same ratio of 4 between neighbours, at 16 kHz and at larger hops. Section 1's table, read level by level:
# Jukebox's drawing below, and the codes per second of each level.

# %%
jb_rows = compression_rows(JUKEBOX["sr"], JUKEBOX["hops"], JUKEBOX["codebook_size"])
course_hops = tuple(sorted(levels))
course_rows = compression_rows(SR, course_hops, levels[64].config.codebook_size)  # bottom level first
print(f"Jukebox: {len(JUKEBOX['hops'])} levels, codes/s " + ", ".join(f"{r[1]:,.1f}" for r in jb_rows)
      + f" (hops {', '.join(map(str, JUKEBOX['hops']))} at {JUKEBOX['sr']:,} Hz)")
print(f"course:  {len(course_hops)} levels, codes/s " + ", ".join(f"{r[1]:,.1f}" for r in course_rows)
      + f" (hops {', '.join(map(str, course_hops))} at {SR:,} Hz)")
print(f"the course's bottom level writes {course_rows[0][1]:g} codes/s, {course_rows[0][1] / jb_rows[-1][1]:.2f} x "
      f"Jukebox's top level ({jb_rows[-1][1]:.1f})")
assert len(course_hops) == len(JUKEBOX["hops"]) and course_rows[0][1] < jb_rows[-1][1]
assert [b // a for a, b in zip(course_hops, course_hops[1:])] == [b // a for a, b in zip(JUKEBOX["hops"], JUKEBOX["hops"][1:])]
draw_jukebox_hierarchy(JUKEBOX["hops"], JUKEBOX["sr"], label="artist, genre", title="Jukebox: 3 levels at 44.1 kHz")
plt.show()

# %% [markdown]
# Even the course's *bottom* level is coarser in time than Jukebox's *top* level (fewer codes per second, printed
# above). The course's levels sit where Jukebox has none because a prior takes one step per code: section 6 prints
# what each hop would cost on this machine.
#
# **Shorter contexts.** A prior sees a window of codes of its own level. Jukebox's top prior and both upsamplers (the
# 5B model) see `n_ctx` codes each; the course's top prior sees one clip's top codes, its middle upsampler one clip's
# middle codes, and its bottom upsampler a window of bottom codes that slides along the clip. In seconds of audio:

# %%
codes = {"Jukebox top prior": JUKEBOX["n_ctx"], "Jukebox middle upsampler": JUKEBOX["n_ctx"],
         "Jukebox bottom upsampler": JUKEBOX["n_ctx"],
         "course top prior": prior.config.max_len - len(prior.label_sizes),  # the label tokens take 3 positions
         "course middle upsampler": upsamplers[0].config.max_len, "course bottom upsampler": upsamplers[1].config.max_len}
rates = {"Jukebox top prior": jb_rows[2][1], "Jukebox middle upsampler": jb_rows[1][1],
         "Jukebox bottom upsampler": jb_rows[0][1], "course top prior": course_rows[2][1],
         "course middle upsampler": course_rows[1][1], "course bottom upsampler": course_rows[0][1]}
contexts = {name: codes[name] / rates[name] for name in codes}
for name, sec in contexts.items():
    print(f"{name:>25}: {codes[name]:>5,} codes = {sec:5.2f} s of audio")
print(f"the course's bottom upsampler window covers {upsamplers[1].config.max_len // upsamplers[1].ratio} middle codes; "
      f"Jukebox's bottom upsampler sees "
      f"{contexts['Jukebox bottom upsampler'] / contexts['course bottom upsampler']:.1f} x more audio")
assert contexts["course bottom upsampler"] < contexts["Jukebox bottom upsampler"] < contexts["Jukebox middle upsampler"]
assert contexts["course top prior"] < contexts["Jukebox top prior"] and 0.9 < contexts["course bottom upsampler"] < 1.1
assert 3.9 < contexts["course middle upsampler"] < 4.0 and 3.9 < contexts["course top prior"] < 4.0  # one clip each

# %% [markdown]
# The course's bottom upsampler hears about a second of the codes it writes: enough for a note's attack and decay, not
# for a phrase, which has to come from the middle codes it is conditioned on; the top prior and the middle upsampler
# see a whole clip. Jukebox's sampling script also samples its levels at different temperatures (`temp_top` 1.0,
# `temp_rest` 0.99 in the same file); `jukebox.sample_top_down` takes one temperature, a `(top, rest)` pair, or one per
# level (exercise 4).
#
# **Separate autoencoders, as in the paper.** Here the course follows Jukebox. A hierarchical VQ-VAE of VQ-VAE-2's
# kind (Razavi et al. 2019) shares one decoder: the upper levels' codes feed the lower level's decoder. On raw audio
# Jukebox found that such a model passes everything through the least compressed level, and the top level is used
# little or collapses altogether, bypassed (Sec. 3.2, "separated autoencoders"). Training each level as its own
# autoencoder on the audio forces every level to carry the whole signal at its own compression. The shipped levels
# were trained that way, one run each (the three at the same time, one thread each):

# %%
commands = {hop: json.loads((CKPT / f"level_hop{hop}.json").read_text())["command"] for hop in course_hops}
for hop, command in commands.items():
    print(f"hop {hop}: {command}")
assert all(f"--hop {hop}" in command for hop, command in commands.items())

# %% [markdown]
# Can the course show the bypass? `scripts/shared_hierarchy.py` trained a small hierarchy of VQ-VAE-2's kind on the
# course's clips (`vqvae.SharedHierarchy`: a hop-64 level and a hop-256 level above it, one decoder reading both
# levels' codes) and asked every 250 steps how much each level carries: swap one level's codes for another clip's
# (`vqvae.hierarchy_reliance`) and see how far the reconstruction moves from the clip (multi-resolution STFT
# distance), as a share of how far it moves when both levels' codes are swapped (the other clip's reconstruction).
# Then the same hop-256 level, trained alone for as many steps:

# %%
shared = json.loads((CKPT / "shared_hierarchy.json").read_text())
assert shared["corpus"] == corpus.recipe.hash() and shared["hops"] == [64, 256]
print(f"{shared['command']}\n{shared['machine']}, {shared['wall_seconds']:.0f} s; {shared['parameters']['shared']:,} "
      f"parameters, codebooks of {shared['level']['codebook_size']}")
curve = shared["shared"]
share = {k: np.array([(c[f"{k}_swapped"] - c["own"]) / (c["both_swapped"] - c["own"]) for c in curve])
         for k in ("top", "bottom")}
fig, ax = plt.subplots(figsize=(6, 3))
for k in share:
    ax.plot([c["step"] for c in curve], share[k], marker="o", label=f"swap the {k} codes")
ax.set(xlabel="training step", ylabel="share of swapping both", ylim=(0, 1), title="what each level carries (shared decoder)")
ax.legend(); plt.tight_layout(); plt.show()
alone = shared["top_alone"]
print(format_table([(c["step"], f"{c['own']:.3f}", f"{share['top'][i]:.2f}", f"{share['bottom'][i]:.2f}",
                     f"{c['top_usage']:.0%}") for i, c in enumerate(curve) if i in (0, 3, len(curve) - 1)],
                   ["step", "distance, own codes", "top swapped (share)", "bottom swapped (share)", "top codes used"]))
print(f"the hop-256 level trained alone: distance {alone['own']:.3f} with its codes, {alone['swapped']:.3f} with "
      f"another clip's, {alone['silence']:.3f} for silence; {alone['usage']:.0%} of its codes used")
assert share["top"][0] < 0.15 and share["bottom"][0] > 0.85  # bypassed at first
assert share["top"][-1] < 0.4 < 0.65 < share["bottom"][-1]  # then about a third, the bottom level about 7 in 10
assert all(b > 1.5 * t for b, t in zip(share["bottom"], share["top"]))  # the decoder leans on the bottom level throughout
assert curve[-1]["top_usage"] > 0.85  # not a collapse of the top codebook: its codes are used, they carry less
assert alone["own"] < alone["swapped"] - 0.3  # alone, the top level's codes describe the clip

# %% [markdown]
# The top level was bypassed at first (swapping its codes moved the reconstruction a tenth as far as swapping both)
# and learnt to carry about a third of it by the last step, while the bottom level carries seven tenths: the shared
# decoder leans on the level with four times the codes, at every step (asserted). Its codebook did not collapse
# (nearly nine codes in ten are in use): the top codes are used, they just say less about the clip. Jukebox reports
# worse for its larger models, a top level "utilized very little", sometimes collapsing completely (Sec. 3.2); this
# small model, 3,000 steps, shows the lean, not the collapse. For top-down sampling even this much is a
# problem: the codes a top prior writes would decide a third of the music at most. Trained alone, the same level has
# to carry the whole clip and does (another clip's codes move its reconstruction far away): the course's levels are
# trained that way.

# %% [markdown]
# ## Summary
#
# The numbers below are this notebook's measurements (test clips; sampling on this machine).

# %%
for hop in levels:
    q = quality[hop]
    print(f"hop {hop}: MR-STFT {q['mr_stft']:.2f}, SI-SNR {q['si_snr']:.1f} dB, log-mel {q['log_mel']:.2f}, "
          f"chroma {q['chroma']:.2f}; codebook usage {q['usage']:.0%}, perplexity {q['perplexity']:.0f}")
print(f"one scale: FAD x real " + ", ".join(f"hop {h} {one[h]['fad'] / real_fad:.1f}" for h in levels)
      + f" (time-domain hop 64: {old[64]['fad'] / real_fad:.1f}); family heard by the clean classifier "
      + ", ".join(f"{one[h]['family']:.2f}" for h in levels) + f"; chroma " + ", ".join(f"{one[h]['chroma']:.2f}" for h in levels)
      + f" (white noise {noise_chroma:.2f})")
r1 = out1["rtf"]
print(f"sampling, x real time (batch 1): top prior {1 / r1['top_prior']:.1f}, upsamplers "
      + ", ".join(f"{1 / v:.2f}" for v in r1["upsamplers"]) + f", decode {1 / r1['decode']:.0f}, total "
      f"{1 / r1['total']:.2f}; Jukebox ~{1 / jukebox_rtf:.4f}")
print(f"family heard by the robust judge in {best['robust']['n']} samples: guidance 0 (the family at "
      f"the top prior only) {ci(rows[0.0]['robust'])}, guidance 1 {ci(rows[1.0]['robust'])}, guidance {GUIDANCE:g} "
      f"{ci(best['robust'])}; hop-64 reconstructions {ci(ceiling['robust'])}; chance {jbc['chance']['family']:.3f}")
print(f"at guidance {GUIDANCE:g} (in brackets: heard independently of the request, within each family): register "
      f"{cu(best['robust register'])}, tempo band {cu(best['robust tempo_band'])}, mode {cu(best['robust mode'])}")
print(f"live run (section 3): validation mel {vm['mel'][0]:.3f} -> {vm['mel'][-1]:.3f} in 200 steps; ablation "
      f"(section 4): usage " + ", ".join(f"{label} {u:.0%}" for label, u in use.items())
      + "; codebook movement per step " + ", ".join(f"{label} {v:.1%}" for label, v in movement.items()))
print("ablation, 3,000 steps: first step with 90% of the codes used " + ", ".join(f"{k} {v}" for k, v in first_90.items())
      + "; waveform error over the last 1,000 steps " + ", ".join(f"{k} {t['recon']:.2f}" for k, t in tail.items()))
print("one-scale FAD, share of the way from the hop-64 reconstructions to the top-down samples already covered by the "
      "last upsampler: " + ", ".join(f"guidance {g:g} {v:.0%}" for g, v in last_share.items()))
print(f"shared hierarchy: the top level carries {share['top'][0]:.2f} -> {share['top'][-1]:.2f} of a swap of both, "
      f"the bottom level {share['bottom'][0]:.2f} -> {share['bottom'][-1]:.2f}")
print(f"context in seconds: course bottom upsampler {contexts['course bottom upsampler']:.2f}, Jukebox bottom "
      f"upsampler {contexts['Jukebox bottom upsampler']:.2f}")

# %% [markdown]
# - Raw audio is too long for a transformer; a VQ-VAE turns *hop* samples into one discrete code. The hop and the
#   design decide what survives: the three levels of the course's spectral design keep the instrument (the clean
#   classifier hears it in about half of their reconstructions, where it heard under a fifth through the lesson's
#   time-domain levels) but only the middle one keeps more of the notes than noise; the time-domain hop-64 level keeps
#   the notes and loses the instrument (section 5). The hop also decides how many steps a prior must take per second.
# - The bottleneck is four ideas: nearest code, straight-through gradient, commitment loss, an EMA codebook with
#   restarts. The codebook learns in a training hook, not by gradient. Restarts bring the codes into use early
#   (section 4: in 3,000 steps, nine in ten codes by step 200, at least twice as late without them, then level);
#   averaging keeps the codes still (about a hundred times less movement per step than decay 0) and that is what the
#   reconstruction gains from (a waveform error about a quarter lower at the end); in runs as short as a cell
#   neither changes the reconstruction yet.
# - A time-domain level learns the waveform slowly; a level of the spectral autoencoder (`helpers.autoencoder`)
#   learns within a minute (section 3's mel curve).
# - Top-down sampling chains a top prior with label tokens in front, two upsamplers that add the upsampled codes of
#   the level above to their input, and the bottom decoder. Sampling cost is steps per second of audio: the bottom
#   upsampler, with 16 times as many codes per second as the top prior, dominates; sampling several clips side by side
#   shares the per-step overhead. These priors are tiny (their sizes, training steps and validation losses are
#   printed in section 6).
# - A label must reach the level that decides the timbre: at the top prior alone the family is heard in about a
#   third of the samples; given to the upsamplers too, and sampled with classifier-free guidance, in four of five,
#   as often as the hop-64 level's own reconstructions keep it (section 6's table): the level, not the priors, is
#   now the limit. The register, asked of the top prior, is followed at every scale. The mode is not (chance): the
#   level loses it. The tempo comes through only a little: the level keeps it, and the last upsampler loses much of
#   it (its onsets agree with the clip's less than the level's, and less the harder guidance pushes the family); at
#   guidance 5 that stage is also where the largest share of the samples' distance from real clips on notebook 06's
#   scale arises, at guidance 1 the top prior. Notebook 06 scores these samples on its one scale. The timings depend
#   on the machine's load; `make bench` (`tests/benchmarks/bench_jukebox.py`) measures them again.
# - Where the course departs from Jukebox (section 8): cosine codes (ViT-VQGAN's), three levels at 16 kHz whose bottom
#   is coarser than Jukebox's top, and contexts of about a second for the bottom upsampler; like Jukebox, each level is
#   its own autoencoder. A hierarchy with one shared decoder, trained on these clips, leans on its bottom level (its
#   top level first bypassed, then carrying about a third).
#
# ## Exercises
#
# Each exercise has a check cell: it says "not answered yet" until you fill in the answer, then checks properties of
# it (✓ or ✗). `show_solution(name)` prints a reference solution, when you want one. Each check runs in seconds; the
# runs the questions ask for take a minute or two on 2 CPU cores.
#
# 1. **Another hop.** Write `train_level(steps, seed=0, **changes)`: section 3's live level with the fields in
#    `changes` replaced (`dataclasses.replace(live_cfg, **changes)`, `autoencoder.Autoencoder(cfg, seed=seed)`), trained
#    `steps` steps with section 3's `TrainConfig` (no validation data: pass `None`, and `warmup_steps=min(10, steps)`).
#    Then train `level_128 = train_level(200, hop=128)` and put it next to `live` on `held_clip` with `quality_table`:
#    which measure suffers most from half the codes per second?
# 2. **Restarts, longer.** Write `ablation_usage(steps, seed=0, **changes)`: section 4's run (`ABLATION` with
#    `changes` replacing its fields, the same `TrainConfig` with `warmup_steps=min(5, steps)` and `seed=seed`), returning
#    the fraction of the codebook used when the trained level encodes the 16 validation crops at once
#    (`vqvae.code_statistics(m.encode(torch.cat(valid_crops), sr=SR), cfg.codebook_size)`). Compare
#    `ablation_usage(200, codebook_size=256)` with `restart_threshold=0.0` added, then both at 600 steps (or plot
#    section 4's curves with `codebook_run(label, 600, codebook_size=256)`): with four times the codes of the
#    3,000-step runs, how far has the run without restarts recovered the codes it lost, and how fast?
# 3. **No STFT loss.** Train section 3's level on the mel loss alone: `mel_only = train_level(200, stft_weight=0.0)`.
#    Listen to it next to `live` and compare both on `held_clip` with `quality_table`: which measure gets worse
#    without the STFT term?
# 4. **Temperature, per level.** `jukebox.sample_top_down` takes `temperature=(top, rest)`: one for the top prior,
#    one for both upsamplers. Write `sample_levels(temperature, seconds=1.0, seed=0)`: one piano clip at a moderate
#    tempo in major, middle register (`jukebox.label_of(prior, family="piano", tempo_band="moderate", mode="major",
#    register="middle")`) sampled top-down with the shipped levels and priors (`pipe`), seeded with
#    `torch.Generator().manual_seed(seed)`. Sample at
#    `(0.5, 1.0)`, `(1.5, 1.0)`, `(1.0, 0.5)` and `(1.0, 1.5)` and count the distinct codes at the top and the bottom
#    level (`len(set(codes.tolist()))`): which level reacts more to its temperature, and what do you hear?
# 5. **Faster upsampler.** Write `one_layer(upsampler)`: a new `jukebox.Upsampler` with the shipped one's sizes but
#    one transformer layer (`dataclasses.replace(upsampler.config, n_layer=1)`). Time the bottom upsampler's
#    `sample(out1["codes"][1], torch.Generator().manual_seed(0), label=torch.tensor([0]))` against
#    `one_layer(upsamplers[1])`'s: how much faster per step is one layer, and what would it do to section 6's total
#    speed? (Untrained, it writes codes at random; training it is `scripts/train_priors.py --which upsampler
#    --n-layer 1`, which takes longer than this notebook.)

# %%
import dataclasses
from helpers.solutions import check, show_solution

def train_level(steps, seed=0, **changes):
    # exercise 1: your code, section 3's level with `changes` replaced, trained `steps` steps; return the model
    return None

check("another_hop", train_level)

# %%
def ablation_usage(steps, seed=0, **changes):
    # exercise 2: your code, the fraction of the codebook used on the 16 validation crops after a section-4 run
    return None

check("restarts_longer", ablation_usage)

# %%
mel_only = None  # exercise 3: your level trained with stft_weight=0 (e.g. train_level(200, stft_weight=0.0))

check("no_stft_loss", mel_only)

# %%
def sample_levels(temperature, seconds=1.0, seed=0):
    # exercise 4: your code, the dict of jukebox.sample_top_down for one piano clip at this temperature
    return None

check("level_temperature", sample_levels)

# %%
def one_layer(upsampler):
    # exercise 5: your code, a new jukebox.Upsampler like `upsampler` with one transformer layer
    return None

check("faster_upsampler", one_layer)

# %% [markdown]
# ## Further reading
#
# - P. Dhariwal, H. Jun, C. Payne, J. W. Kim, A. Radford, I. Sutskever, "Jukebox: A Generative Model for Music",
#   2020, [arXiv:2005.00341](https://arxiv.org/abs/2005.00341).
# - A. van den Oord, O. Vinyals, K. Kavukcuoglu, "Neural Discrete Representation Learning" (VQ-VAE), 2017,
#   [arXiv:1711.00937](https://arxiv.org/abs/1711.00937).
# - A. Razavi, A. van den Oord, O. Vinyals, "Generating Diverse High-Fidelity Images with VQ-VAE-2", 2019,
#   [arXiv:1906.00446](https://arxiv.org/abs/1906.00446).
# - J. Yu, X. Li, J. Y. Koh, H. Zhang, R. Pang, J. Qin, A. Ku, Y. Xu, J. Baldridge, Y. Wu, "Vector-quantized Image
#   Modeling with Improved VQGAN" (ViT-VQGAN), 2021, [arXiv:2110.04627](https://arxiv.org/abs/2110.04627).
#
# Previous: [03 · The Music Transformer](03_music_transformer.ipynb) · Next: [05 · MusicGen](05_musicgen.ipynb) (the
# [README](../README.md#the-notebooks) lists all notebooks).
