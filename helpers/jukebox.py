"""Jukebox's priors on a laptop: a top-level prior, an upsampler, and top-down sampling with the KV cache.

Jukebox (Dhariwal et al. 2020, Sec. 4) models the codes of its VQ-VAE levels with transformers: a *top-level prior*
writes the top codes (conditioned on artist and genre), then an *upsampler* per lower level writes that level's codes
conditioned on the codes of the level above, and the lower level's VQ-VAE decoder turns them into audio. Here, with
the course's one decoder (:class:`helpers.transformer.MusicTransformer`) and two levels::

    label ─► top prior ─► top codes (62.5/s at hop 256)  ─► top VQ-VAE decoder ─► coarse audio
                             │ embed, conv, upsample x ratio
                             ▼ (added to the input at every step)
               upsampler ─► bottom codes (250/s at hop 64) ─► bottom VQ-VAE decoder ─► audio

- The **top prior** is a plain :class:`MusicTransformer` whose vocabulary is the top codebook plus one token per label
  (instrument family): a sequence is ``[label token, top codes...]``. A label token prefix needs no new code in the
  decoder; its cost: once a long sample slides the context window past it, the label is no longer seen (Jukebox
  feeds its conditioning at every position). A 4-s clip (250 top codes + 1) fits the window of 256.
- The **upsampler** (:class:`Upsampler`) is a :class:`MusicTransformer` over the lower codes plus a *conditioner*:
  the upper codes are embedded, passed through a convolution, and upsampled by a transposed convolution with stride
  ``ratio`` (= upper hop / lower hop) to one vector per lower position, which is **added to the input embedding** at
  that position (``x_add`` of ``MusicTransformer.forward``), as in Jukebox (its conditioner is a small convolutional
  decoder; Sec. 4 / Appendix B.2). Token ``t`` of the lower sequence is fed together with the conditioning vector of
  position ``t + 1`` (the code it predicts), after a start token: ``[BOS, b_0, b_1, ...]`` with ``up_0, up_1, ...``.
- :func:`sample_top_down` chains them with :func:`helpers.transformer.generate` (KV cache) and times every stage:
  seconds of compute per second of audio (the real-time factor, RTF; < 1 is faster than real time).

Shapes: top codes (B, L_top); bottom codes (B, L_top * ratio); conditioning (B, L_top * ratio, d_model).

Notebook: 04_jukebox_vqvae.ipynb. Reference: Dhariwal et al. 2020, "Jukebox" (arXiv:2005.00341), Sec. 4 (priors and
upsamplers; "we add the upsampled conditioning to the input"), Sec. 5.3 / README (sampling time on a V100).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoints import load_weights, read_checkpoint, save_weights
from .modes import in_eval_mode
from .transformer import MusicTransformer, MusicTransformerConfig, generate


# --- the top-level prior: codes with a label token in front -------------------------------------------------------
def label_token(label, codebook_size: int, n_labels: int) -> torch.Tensor:
    """Token id(s) of label(s) ``label`` in the top prior's vocabulary: ``codebook_size + label``."""
    label = torch.as_tensor(label, dtype=torch.long)
    if int(label.min()) < 0 or int(label.max()) >= n_labels:
        raise ValueError(f"label must lie in 0..{n_labels - 1}, got {label.tolist()}")
    return codebook_size + label


def top_prior_config(codebook_size: int, n_labels: int, length: int, **sizes) -> MusicTransformerConfig:
    """The top prior's decoder: vocabulary = codes + labels, window = ``length`` codes + the label token."""
    base = dict(n_layer=4, n_head=4, d_model=128, d_ff=512, dropout=0.1, max_len=length + 1, max_rel=length + 1)
    base.update(sizes)
    return MusicTransformerConfig(vocab_size=codebook_size + n_labels, **base)


def top_prior_batches(codes: torch.Tensor, labels: torch.Tensor, codebook_size: int, n_labels: int):
    """A ``train_data`` callable ``(generator, B) -> (B, 1 + L)`` for ``helpers.training.train``: whole clips of top
    codes ``codes`` (N, L) with their label token in front (use with ``next_token_loss``)."""
    seqs = torch.cat([label_token(labels, codebook_size, n_labels)[:, None], codes], dim=1)  # (N, 1 + L)

    def draw(generator, batch_size: int):
        return seqs[torch.randint(0, len(seqs), (batch_size,), generator=generator)]  # (B, 1 + L)

    return draw


def sample_top(prior: MusicTransformer, label, n_codes: int, generator: torch.Generator, prompt=None,
               temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """Top codes (B, n_codes) from the top prior for labels ``label`` (B,), continuing ``prompt`` (B, P) codes if
    given (the result then starts with the prompt and holds ``n_codes`` in all).

    The vocabulary holds the label tokens too; their logits are set to -inf at every step (``banned`` of
    :func:`helpers.transformer.generate`), so each code is drawn with the probability the prior gives it among the
    codes alone."""
    if not hasattr(prior, "n_labels"):
        raise ValueError("the prior has no n_labels attribute: load it with load_top_prior (or set it)")
    n_labels = prior.n_labels
    codebook_size = prior.config.vocab_size - n_labels
    label = torch.as_tensor(label, dtype=torch.long).reshape(-1)
    start = label_token(label, codebook_size, n_labels)[:, None]  # (B, 1)
    if prompt is not None:
        prompt = torch.as_tensor(prompt, dtype=torch.long)
        if prompt.dim() != 2 or prompt.shape[0] != len(label) or prompt.shape[1] >= n_codes:
            raise ValueError(f"prompt must be (B={len(label)}, P < n_codes={n_codes}) codes, got {tuple(prompt.shape)}")
        if int(prompt.max()) >= codebook_size:
            raise ValueError(f"prompt codes must lie in 0..{codebook_size - 1}")
        start = torch.cat([start, prompt], dim=1)  # (B, 1 + P)
    labels = range(codebook_size, codebook_size + n_labels)  # never sampled where a code belongs
    out = generate(prior, start, n_codes + 1 - start.shape[1], generator, temperature=temperature, top_k=top_k,
                   banned=labels)
    return out[:, 1:]  # (B, n_codes): drop the label token


# --- the upsampler -------------------------------------------------------------------------------------------------
class Upsampler(nn.Module):
    """Lower-level codes conditioned on the upper level's codes, Jukebox style (conditioning added to the input).

    ``self.transformer`` predicts lower codes (vocabulary ``lower_codebook_size + 1``: the last id is the start token
    BOS); ``self.conditioning(upper)`` maps upper codes (B, L_up) to (B, L_up * ratio, d_model): embedding ->
    Conv1d(k=3) -> GELU -> ConvTranspose1d(stride ratio), so each of the ``ratio`` lower positions under one upper
    code gets its own vector (the phase within the upper code).

    With ``n_labels > 0`` the label (the instrument family) is embedded and added to the conditioning at every
    position, as Jukebox conditions its upsamplers on artist and genre too (``upsamplers.update(labels)`` in its
    ``hparams.py``): the label then reaches the level that decides the timbre, not only the top prior. The table has
    one more row, the *null label* (id ``n_labels``): trained in place of the label on a fraction of the crops
    (``upsampler_batches(..., label_dropout=p)``), it is the unconditional model that classifier-free guidance
    extrapolates from (``sample(..., guidance_scale=s)``), as MusicGen does with its text.

    Notebook: 04_jukebox_vqvae.ipynb. Reference: Dhariwal et al. 2020, Sec. 4 (upsamplers) and Appendix B.2.
    """

    def __init__(self, config: MusicTransformerConfig, upper_codebook_size: int, ratio: int, seed: int = 0,
                 n_labels: int = 0):
        super().__init__()
        if ratio < 1:
            raise ValueError(f"ratio must be >= 1, got {ratio}")
        if n_labels < 0:
            raise ValueError(f"n_labels must be >= 0, got {n_labels}")
        self.config, self.upper_codebook_size, self.ratio, self.n_labels = config, upper_codebook_size, ratio, n_labels
        self.bos = config.vocab_size - 1
        C = config.d_model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.transformer = MusicTransformer(config)
            self.up_embed = nn.Embedding(upper_codebook_size, C)
            self.up_conv = nn.Conv1d(C, C, 3, padding=1)
            self.up_stretch = nn.ConvTranspose1d(C, C, ratio, stride=ratio)
            self.label_embed = nn.Embedding(n_labels + 1, C) if n_labels else None  # + the null label
            if self.label_embed is not None:  # the decoder's own embedding scale: a unit-variance label vector
                nn.init.normal_(self.label_embed.weight, std=0.02)  # would drown the tokens at every position

    def to_dict(self) -> dict:
        d = {"kind": "Upsampler", "transformer": self.config.to_dict(),
             "upper_codebook_size": self.upper_codebook_size, "ratio": self.ratio}
        return dict(d, n_labels=self.n_labels) if self.n_labels else d  # files without labels keep their old config

    def conditioning(self, upper: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        """Upper codes (B, L_up) (and labels (B,) when ``n_labels > 0``) -> (B, L_up * ratio, d_model)."""
        if upper.dim() != 2:
            raise ValueError(f"upper codes must be (B, L_up), got shape {tuple(upper.shape)}")
        if int(upper.min()) < 0 or int(upper.max()) >= self.upper_codebook_size:
            raise ValueError(f"upper codes must lie in 0..{self.upper_codebook_size - 1}")
        e = self.up_embed(upper).transpose(1, 2)  # (B, C, L_up)
        e = F.gelu(self.up_conv(e))  # (B, C, L_up)
        up = self.up_stretch(e).transpose(1, 2)  # (B, L_up * ratio, C)
        if self.label_embed is None:
            if label is not None:
                raise ValueError("this upsampler takes no label (n_labels=0): it was trained without one")
            return up
        if label is None:
            raise ValueError(f"this upsampler is conditioned on a label in 0..{self.n_labels - 1}: pass label")
        label = torch.as_tensor(label, dtype=torch.long, device=upper.device).reshape(-1)
        if label.shape[0] != upper.shape[0] or int(label.min()) < 0 or int(label.max()) > self.n_labels:
            raise ValueError(f"label must be {upper.shape[0]} values in 0..{self.n_labels - 1} (or {self.n_labels}, "
                             f"the null label), got {label.tolist()}")
        return up + self.label_embed(label)[:, None, :]  # (B, L, C): the label at every position

    def inputs(self, lower: torch.Tensor) -> torch.Tensor:
        """Lower codes (B, L) -> the sequence fed to the transformer, ``[BOS, b_0, ..., b_{L-1}]`` (B, 1 + L)."""
        bos = torch.full((lower.shape[0], 1), self.bos, dtype=torch.long, device=lower.device)  # (B, 1)
        return torch.cat([bos, lower.long()], dim=1)

    def forward(self, seq: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for input tokens ``seq`` (B, T) with conditioning vectors ``up`` (B, T, C) (of the
        positions each token predicts)."""
        return self.transformer(seq, x_add=up)

    @torch.no_grad()
    @in_eval_mode  # the upsampler's mode is restored afterwards
    def sample(self, upper: torch.Tensor, generator: torch.Generator, prompt: torch.Tensor | None = None,
               temperature: float = 1.0, top_k: int | None = None, label=None,
               guidance_scale: float | None = None) -> torch.Tensor:
        """Lower codes (B, L_up * ratio) under upper codes (B, L_up) (and ``label`` (B,) for a label-conditioned
        upsampler), continuing ``prompt`` lower codes (B, P); the start token BOS is never sampled (its logit is set
        to -inf at every step). ``guidance_scale``: classifier-free guidance on the label (the unconditional half
        gets the null label; 1 = the label as trained, 0 = no label; needs a label-conditioned upsampler)."""
        up = self.conditioning(upper, label)  # (B, L, C)
        up_null = None
        if guidance_scale is not None:
            if not self.n_labels:
                raise ValueError("guidance_scale needs a label-conditioned upsampler (n_labels > 0)")
            up_null = self.conditioning(upper, torch.full((upper.shape[0],), self.n_labels, dtype=torch.long))
        L = up.shape[1]
        start = self.inputs(prompt if prompt is not None else upper.new_zeros(upper.shape[0], 0))  # (B, 1 + P)
        if prompt is not None and (prompt.shape[0] != upper.shape[0] or int(prompt.max()) >= self.bos):
            raise ValueError(f"prompt must be (B={upper.shape[0]}, P) codes in 0..{self.bos - 1}, got {tuple(prompt.shape)}")
        if start.shape[1] > L:
            raise ValueError(f"prompt of {start.shape[1] - 1} codes is longer than the {L} the upper codes cover")
        out = generate(self.transformer, start, L + 1 - start.shape[1], generator, temperature=temperature,
                       top_k=top_k, x_add=up, banned=[self.bos],  # BOS is a start token, never a code
                       guidance_scale=guidance_scale, x_add_null=up_null)
        return out[:, 1:]  # (B, L): drop BOS


def upsampler_batches(lower: torch.Tensor, upper: torch.Tensor, ratio: int, length: int, bos: int,
                      labels: torch.Tensor | None = None, label_dropout: float = 0.0, null_label: int | None = None):
    """A ``train_data`` callable ``(generator, B) -> dict`` of aligned crops for :func:`upsampler_loss`.

    ``lower`` (N, L) and ``upper`` (N, L / ratio) are the codes of whole clips. A crop takes ``length`` targets
    ``b_s .. b_{s+length-1}`` (any start s), the tokens before them ``b_{s-1} ..`` (BOS when s = 0), and the upper codes
    of the whole clip (the conditioning is computed for the clip, then cut at the same place), and with ``labels``
    (N,) each clip's label, replaced by ``null_label`` in a fraction ``label_dropout`` of the crops (drawn with the
    batch's generator: what classifier-free guidance needs).
    """
    if not 0.0 <= label_dropout < 1.0:
        raise ValueError(f"label_dropout must lie in [0, 1), got {label_dropout}")
    if label_dropout and (labels is None or null_label is None):
        raise ValueError("label_dropout needs labels and the null_label id that replaces them")
    if lower.shape[1] != upper.shape[1] * ratio:
        raise ValueError(f"lower codes {tuple(lower.shape)} and upper codes {tuple(upper.shape)} differ by more "
                         f"than ratio {ratio}")
    if not 1 <= length <= lower.shape[1]:
        raise ValueError(f"length must lie in 1..{lower.shape[1]}, got {length}")
    seqs = torch.cat([torch.full_like(lower[:, :1], bos), lower], dim=1)  # (N, 1 + L)

    def draw(generator, batch_size: int):
        i = torch.randint(0, len(seqs), (batch_size,), generator=generator)  # (B,)
        s = torch.randint(0, lower.shape[1] - length + 1, (batch_size,), generator=generator)  # (B,)
        pos = s[:, None] + torch.arange(length + 1)[None]  # (B, length + 1)
        batch = {"tokens": seqs[i[:, None], pos], "upper": upper[i], "start": s}
        if labels is None:
            return batch
        label = labels[i]
        if label_dropout:
            drop = torch.rand(batch_size, generator=generator) < label_dropout  # (B,)
            label = torch.where(drop, torch.full_like(label, null_label), label)
        return dict(batch, label=label)

    return draw


def upsampler_loss(model: Upsampler, batch: dict) -> torch.Tensor:
    """Cross-entropy (nats/code) of the crops of :func:`upsampler_batches`: tokens[:, :-1] with the conditioning of
    the targets' positions predict tokens[:, 1:]."""
    tokens, s = batch["tokens"], batch["start"]
    up = model.conditioning(batch["upper"], batch.get("label"))  # (B, L, C)
    T = tokens.shape[1] - 1
    idx = s[:, None] + torch.arange(T, device=s.device)[None]  # (B, T): target positions
    up = torch.gather(up, 1, idx[..., None].expand(-1, -1, up.shape[2]))  # (B, T, C)
    logits = model(tokens[:, :-1], up)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


# --- checkpoints ---------------------------------------------------------------------------------------------------
def save_top_prior(prior: MusicTransformer, n_labels: int, path, half: bool = True, extra: dict | None = None) -> Path:
    """Weights-only file of a top prior; the config records ``n_labels`` next to the decoder's config."""
    return save_weights(prior, path, dict(prior.config.to_dict(), kind="TopPrior", n_labels=n_labels),
                        half=half, extra=extra)


def load_top_prior(path, expect: MusicTransformerConfig | None = None) -> MusicTransformer:
    """A top prior saved by :func:`save_top_prior`, in eval mode, with ``.n_labels`` set; with ``expect``, refuse a
    file saved for another decoder configuration.

    Raises:
        ValueError: the file holds another kind of model, or a configuration other than ``expect``.
    """
    ckpt = read_checkpoint(path)
    cfg = dict(ckpt["config"])
    if cfg.pop("kind", None) != "TopPrior":
        raise ValueError(f"checkpoint {path} does not hold a top prior (config kind {ckpt['config'].get('kind')!r})")
    n_labels = cfg.pop("n_labels")
    prior = MusicTransformer(expect or MusicTransformerConfig.from_dict(cfg))
    load_weights(prior, path, dict(prior.config.to_dict(), kind="TopPrior", n_labels=n_labels), ckpt=ckpt)
    prior.n_labels = n_labels
    return prior.eval()


def save_upsampler(model: Upsampler, path, half: bool = True, extra: dict | None = None) -> Path:
    return save_weights(model, path, model.to_dict(), half=half, extra=extra)


def load_upsampler(path, expect: dict | None = None) -> Upsampler:
    """An upsampler saved by :func:`save_upsampler`, in eval mode; with ``expect`` (a ``to_dict()``), refuse a file
    saved for another configuration.

    Raises:
        ValueError: another kind of model, or a configuration other than ``expect``.
    """
    ckpt = read_checkpoint(path)
    cfg = ckpt["config"]
    if cfg.get("kind") != "Upsampler":
        raise ValueError(f"checkpoint {path} does not hold an upsampler (config kind {cfg.get('kind')!r})")
    model = Upsampler(MusicTransformerConfig.from_dict(cfg["transformer"]), cfg["upper_codebook_size"], cfg["ratio"],
                      n_labels=cfg.get("n_labels", 0))
    load_weights(model, path, expect if expect is not None else model.to_dict(), ckpt=ckpt)
    return model.eval()


# --- top-down sampling -----------------------------------------------------------------------------------------------
def level_temperatures(temperature) -> tuple[float, float]:
    """``(top, bottom)`` sampling temperatures from one number (both levels) or a pair (top prior, upsampler).

    >>> level_temperatures(0.9), level_temperatures((1.0, 0.5))
    ((0.9, 0.9), (1.0, 0.5))
    """
    pair = tuple(temperature) if isinstance(temperature, (tuple, list)) else (temperature, temperature)
    if len(pair) != 2:
        raise ValueError(f"temperature must be a number or a (top, bottom) pair, got {temperature!r}")
    pair = tuple(float(t) for t in pair)
    if min(pair) <= 0:
        raise ValueError(f"temperatures must be > 0, got {temperature!r}")
    return pair


@torch.no_grad()
def sample_top_down(top_vqvae, bottom_vqvae, prior: MusicTransformer, upsampler: Upsampler, label, seconds: float,
                    generator: torch.Generator, prompt_audio: torch.Tensor | None = None,
                    temperature: float | tuple[float, float] = 1.0, top_k: int | None = None,
                    sr: int | None = None, guidance_scale: float | None = None) -> dict:
    """Sample audio top-down: label -> top codes -> bottom codes -> audio, timing every stage.

    Args:
        top_vqvae, bottom_vqvae: the two :class:`helpers.vqvae.VQVAE` levels (hops ``ratio`` apart).
        prior: the top prior (:func:`load_top_prior`); upsampler: an :class:`Upsampler` for the bottom level.
        label: instrument family index (int) or (B,) indices.
        seconds: length of the result (rounded down to whole top codes).
        generator: draws every sample (same seed, same audio).
        prompt_audio: (B, T) or (B, 1, T) audio whose codes the sample continues at both levels, or None (from
            scratch).
        temperature: one temperature for both levels, or ``(top, bottom)``: one for the top prior and one for the
            upsampler (Jukebox samples its levels at different temperatures).
        sr: the prompt's sample rate (required with ``prompt_audio``; it must be the levels' rate).
        guidance_scale: classifier-free guidance on the label in the upsampler (a label-conditioned one trained
            with label dropout); None: the label as trained, no guidance.

    Returns:
        dict with ``top`` (B, L_top) and ``bottom`` (B, L_top * ratio) codes, ``audio_top`` and ``audio`` (B, T)
        (decoded from the top and from the bottom level), ``seconds_audio``, and ``timing``: seconds of compute per
        stage (``top_prior``, ``upsampler``, ``decode``) and ``rtf`` per stage and ``total``: compute seconds per second
        of audio produced (B clips of ``seconds_audio`` each; a batch shares the per-step overhead).
    """
    t_top, t_bottom = level_temperatures(temperature)
    hop_top, hop_bottom = top_vqvae.hop, bottom_vqvae.hop
    if hop_top != hop_bottom * upsampler.ratio:
        raise ValueError(f"top hop {hop_top} != bottom hop {hop_bottom} x upsampler ratio {upsampler.ratio}")
    rate = top_vqvae.config.sample_rate  # the levels' rate (the prompt's, sr, is checked against it)
    n_top = int(seconds * rate // hop_top)
    if n_top < 1:
        raise ValueError(f"seconds={seconds} is shorter than one top code ({hop_top / rate:.3f} s)")
    label = torch.as_tensor(label, dtype=torch.long).reshape(-1)
    prompt_top = prompt_bottom = None
    if prompt_audio is not None:
        if prompt_audio.dim() == 2:  # (B, T): B clips (a (2, T) prompt is two clips, not stereo)
            prompt_audio = prompt_audio[:, None]
        prompt_top = top_vqvae.encode(prompt_audio, sr)  # (B, P)
        prompt_bottom = bottom_vqvae.encode(prompt_audio, sr)[:, : prompt_top.shape[1] * upsampler.ratio]  # (B, P*r)
    t0 = time.perf_counter()
    top = sample_top(prior, label, n_top, generator, prompt_top, t_top, top_k)  # (B, n_top)
    t1 = time.perf_counter()
    bottom = upsampler.sample(top, generator, prompt_bottom, t_bottom, top_k, label=label if upsampler.n_labels else None,
                              guidance_scale=guidance_scale)  # (B, n_top * ratio)
    t2 = time.perf_counter()
    audio = bottom_vqvae.decode(bottom)  # (B, T)
    t3 = time.perf_counter()
    audio_top = top_vqvae.decode(top)
    secs = n_top * hop_top / rate
    timing = {"top_prior": t1 - t0, "upsampler": t2 - t1, "decode": t3 - t2}
    made = secs * len(label)  # seconds of audio produced: the B clips are sampled side by side
    rtf = {k: v / made for k, v in timing.items()}
    rtf["total"] = sum(timing.values()) / made
    return {"top": top, "bottom": bottom, "audio": audio, "audio_top": audio_top, "seconds_audio": secs,
            "timing": timing, "rtf": rtf, "batch": len(label)}
