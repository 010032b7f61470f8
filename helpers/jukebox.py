"""Jukebox's priors on a laptop: a top-level prior, upsamplers, and top-down sampling with the KV cache.

Jukebox (Dhariwal et al. 2020, Sec. 4) models the codes of its VQ-VAE levels with transformers: a *top-level prior*
writes the top codes (conditioned on artist and genre), then an *upsampler* per lower level writes that level's codes
conditioned on the codes of the level above, and the lowest level's VQ-VAE decoder turns them into audio. Here, with
the course's one decoder (:class:`helpers.transformer.MusicTransformer`) and notebook 04's three levels::

    family, tempo band, mode, register ─► top prior ─► top codes (15.6/s at hop 1024)
                                                          │ embed, conv, upsample x4  (+ the label)
                                                          ▼ (added to the input at every step)
                                          upsampler ─► middle codes (62.5/s at hop 256)
                                                          │ embed, conv, upsample x4  (+ the label)
                                                          ▼
                                          upsampler ─► bottom codes (250/s at hop 64) ─► bottom level's decoder ─► audio

- The **top prior** is a plain :class:`MusicTransformer` whose vocabulary is the top codebook plus one token per
  label class: a sequence is ``[label tokens..., top codes...]``, one token per attribute (:func:`label_tokens`: the
  family alone, or family, tempo band, mode and register, as the shipped one). A label prefix needs no new code in
  the decoder; its cost: once a long sample slides the context window past it, the label is no longer seen (Jukebox
  feeds its conditioning at every position). A 4-s clip (62 top codes + 4 labels) fits the window.
- An **upsampler** (:class:`Upsampler`) is a :class:`MusicTransformer` over the lower codes plus a *conditioner*:
  the upper codes are embedded, passed through a convolution, and upsampled by a transposed convolution with stride
  ``ratio`` (= upper hop / lower hop) to one vector per lower position, which is **added to the input embedding** at
  that position (``x_add`` of ``MusicTransformer.forward``), as in Jukebox (its conditioner is a small convolutional
  decoder; Sec. 4 / Appendix B.2). Token ``t`` of the lower sequence is fed together with the conditioning vector of
  position ``t + 1`` (the code it predicts), after a start token: ``[BOS, b_0, b_1, ...]`` with ``up_0, up_1, ...``.
- The levels are either design (:func:`load_level`): the course's autoencoder with one codebook
  (:class:`helpers.autoencoder.Autoencoder`, notebook 04's shipped levels) or the time-domain
  :class:`helpers.vqvae.VQVAE`.
- :func:`sample_top_down` chains them, for any number of levels, with :func:`helpers.transformer.generate` (KV
  cache) and times every stage: seconds of compute per second of audio (the real-time factor, RTF; < 1 is faster than
  real time). :func:`load_pipeline` loads notebook 04's shipped files.

Shapes: top codes (B, L_top); each lower level (B, L_upper * ratio); conditioning (B, L_upper * ratio, d_model).

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
def label_tokens(labels, codebook_size: int, label_sizes) -> torch.Tensor:
    """Token ids (B, A) of the labels ``labels`` (B, A) (or (B,) for one attribute) in the top prior's vocabulary:
    attribute ``a`` with ``label_sizes[a]`` classes owns the ids ``codebook_size + sum(label_sizes[:a]) + class``.

    >>> label_tokens([[0, 2, 1]], 10, (8, 3, 2)).tolist()   # family 0, tempo band 2, mode 1
    [[10, 20, 22]]
    """
    sizes = tuple(int(n) for n in label_sizes)
    labels = torch.as_tensor(labels, dtype=torch.long)
    if labels.dim() <= 1 and len(sizes) == 1:
        labels = labels.reshape(-1, 1)  # (B, 1)
    if labels.dim() != 2 or labels.shape[1] != len(sizes):
        raise ValueError(f"labels must be (B, {len(sizes)}): one class per attribute of sizes {sizes}, "
                         f"got shape {tuple(labels.shape)}")
    for a, n in enumerate(sizes):
        col = labels[:, a]
        if len(col) and (int(col.min()) < 0 or int(col.max()) >= n):
            raise ValueError(f"label must lie in 0..{n - 1} for attribute {a}, got {col.tolist()}")
    offsets = torch.tensor([0, *sizes[:-1]]).cumsum(0)  # (A,)
    return codebook_size + offsets[None] + labels  # (B, A)


def prior_label_sizes(prior) -> tuple[int, ...]:
    """The classes per label attribute of a top prior (one attribute, the family, for a file without
    ``label_sizes``)."""
    if not hasattr(prior, "n_labels"):
        raise ValueError("the prior has no n_labels attribute: load it with load_top_prior (or set it)")
    return tuple(getattr(prior, "label_sizes", None) or (prior.n_labels,))


def top_prior_config(codebook_size: int, n_labels: int, length: int, **sizes) -> MusicTransformerConfig:
    """The top prior's decoder: vocabulary = codes + labels, window = ``length`` codes + the label tokens.

    ``n_labels``: the number of label tokens, or a tuple of classes per attribute (family, tempo band, mode: one
    token each in front of the codes)."""
    label_sizes = tuple(n_labels) if isinstance(n_labels, (tuple, list)) else (n_labels,)
    n = length + len(label_sizes)
    base = dict(n_layer=4, n_head=4, d_model=128, d_ff=512, dropout=0.1, max_len=n, max_rel=n)
    base.update(sizes)
    return MusicTransformerConfig(vocab_size=codebook_size + sum(label_sizes), **base)


def top_prior_batches(codes: torch.Tensor, labels: torch.Tensor, codebook_size: int, n_labels):
    """A ``train_data`` callable ``(generator, B) -> (B, A + L)`` for ``helpers.training.train``: whole clips of top
    codes ``codes`` (N, L) with their label tokens in front (use with ``next_token_loss``). ``labels``: (N,) with
    ``n_labels`` classes, or (N, A) with ``n_labels`` a tuple of classes per attribute (:func:`label_tokens`)."""
    sizes = tuple(n_labels) if isinstance(n_labels, (tuple, list)) else (n_labels,)
    seqs = torch.cat([label_tokens(labels, codebook_size, sizes), codes], dim=1)  # (N, A + L)

    def draw(generator, batch_size: int):
        return seqs[torch.randint(0, len(seqs), (batch_size,), generator=generator)]  # (B, A + L)

    return draw


def sample_top(prior: MusicTransformer, label, n_codes: int, generator: torch.Generator, prompt=None,
               temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """Top codes (B, n_codes) from the top prior for labels ``label`` ((B,) families, or (B, A) with one class per
    attribute of a prior conditioned on several), continuing ``prompt`` (B, P) codes if given (the result then starts
    with the prompt and holds ``n_codes`` in all).

    The vocabulary holds the label tokens too; their logits are set to -inf at every step (``banned`` of
    :func:`helpers.transformer.generate`), so each code is drawn with the probability the prior gives it among the
    codes alone."""
    sizes = prior_label_sizes(prior)
    codebook_size = prior.config.vocab_size - sum(sizes)
    start = label_tokens(label, codebook_size, sizes)  # (B, A)
    B, A = start.shape
    if prompt is not None:
        prompt = torch.as_tensor(prompt, dtype=torch.long)
        if prompt.dim() != 2 or prompt.shape[0] != B or prompt.shape[1] >= n_codes:
            raise ValueError(f"prompt must be (B={B}, P < n_codes={n_codes}) codes, got {tuple(prompt.shape)}")
        if int(prompt.max()) >= codebook_size:
            raise ValueError(f"prompt codes must lie in 0..{codebook_size - 1}")
        start = torch.cat([start, prompt], dim=1)  # (B, A + P)
    labels = range(codebook_size, codebook_size + sum(sizes))  # never sampled where a code belongs
    out = generate(prior, start, n_codes + A - start.shape[1], generator, temperature=temperature, top_k=top_k,
                   banned=labels)
    return out[:, A:]  # (B, n_codes): drop the label tokens


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

    ``extra_labels`` ``(("tempo_band", 3), ...)``: further attributes after the family, each with its own table
    (classes + its null row, initialised to zero, so that a family-only file loads into it unchanged:
    :func:`widen_upsampler`), all summed into the one label vector. The label is then (B, 1 + E), the family first;
    guidance drops every attribute at once, so it pushes towards all of them (the tempo band and register as well as
    the family) and not towards the family alone.

    Notebook: 04_jukebox_vqvae.ipynb. Reference: Dhariwal et al. 2020, Sec. 4 (upsamplers) and Appendix B.2.
    """

    def __init__(self, config: MusicTransformerConfig, upper_codebook_size: int, ratio: int, seed: int = 0,
                 n_labels: int = 0, cond_blocks: int = 0, null_upper: bool = False, extra_labels=()):
        super().__init__()
        extra_labels = tuple((str(name), int(size)) for name, size in extra_labels)
        if extra_labels and not n_labels:
            raise ValueError("extra_labels go with a family label (n_labels > 0): the family comes first")
        if any(size < 1 for _, size in extra_labels) or len({n for n, _ in extra_labels}) != len(extra_labels):
            raise ValueError(f"extra_labels must be distinct (name, classes >= 1) pairs, got {extra_labels}")
        self.extra_labels = extra_labels
        if ratio < 1:
            raise ValueError(f"ratio must be >= 1, got {ratio}")
        if n_labels < 0:
            raise ValueError(f"n_labels must be >= 0, got {n_labels}")
        if cond_blocks < 0:
            raise ValueError(f"cond_blocks must be >= 0, got {cond_blocks}")
        self.config, self.upper_codebook_size, self.ratio, self.n_labels = config, upper_codebook_size, ratio, n_labels
        self.cond_blocks, self.null_upper = cond_blocks, bool(null_upper)
        if self.null_upper and not n_labels:
            raise ValueError("null_upper goes with a label-conditioned upsampler (n_labels > 0): its guidance drops both")
        self.bos = config.vocab_size - 1
        C = config.d_model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.transformer = MusicTransformer(config)
            self.up_embed = nn.Embedding(upper_codebook_size, C)
            # optional: residual blocks of dilated convolutions (dilation 1, 3, 9, ...) over the upper codes, as
            # Jukebox's conditioner widens what each lower position sees of the level above
            self.up_blocks = nn.ModuleList(nn.Sequential(nn.GELU(), nn.Conv1d(C, C, 3, padding=3 ** i, dilation=3 ** i),
                                                         nn.GELU(), nn.Conv1d(C, C, 1))
                                           for i in range(cond_blocks))
            self.up_conv = nn.Conv1d(C, C, 3, padding=1)
            self.up_stretch = nn.ConvTranspose1d(C, C, ratio, stride=ratio)
            self.label_embed = nn.Embedding(n_labels + 1, C) if n_labels else None  # + the null label
            if self.label_embed is not None:  # the decoder's own embedding scale: a unit-variance label vector
                nn.init.normal_(self.label_embed.weight, std=0.02)  # would drown the tokens at every position
            # null_upper: one learned vector that stands in for the upper codes' conditioning at every position
            self.up_null = nn.Parameter(torch.zeros(C)) if self.null_upper else None
            # one table per further attribute (+ its null row), zero at the start: the family-only model, unchanged
            self.extra_embeds = nn.ModuleList(nn.Embedding(size + 1, C) for _, size in extra_labels)
            for table in self.extra_embeds:
                nn.init.zeros_(table.weight)

    @property
    def label_names(self) -> tuple[str, ...]:
        """The attributes the label holds, in its columns' order (``()`` without a label)."""
        return ("family", *(name for name, _ in self.extra_labels)) if self.n_labels else ()

    @property
    def label_sizes(self) -> tuple[int, ...]:
        """Classes per attribute of the label; each attribute's null id is its size."""
        return (self.n_labels, *(size for _, size in self.extra_labels)) if self.n_labels else ()

    def null_label(self, batch: int, device=None) -> torch.Tensor:
        """The null label of ``batch`` rows: (B,) for a family-only upsampler, (B, 1 + E) with extra labels."""
        row = torch.tensor(self.label_sizes, dtype=torch.long, device=device)  # each attribute's null id
        return row.expand(batch, -1).clone() if self.extra_labels else row[:1].expand(batch).clone()

    def to_dict(self) -> dict:
        d = {"kind": "Upsampler", "transformer": self.config.to_dict(),
             "upper_codebook_size": self.upper_codebook_size, "ratio": self.ratio}
        if self.n_labels:  # files without labels (or without blocks) keep their old config
            d["n_labels"] = self.n_labels
        if self.cond_blocks:
            d["cond_blocks"] = self.cond_blocks
        if self.null_upper:
            d["null_upper"] = True
        if self.extra_labels:
            d["extra_labels"] = [[name, size] for name, size in self.extra_labels]
        return d

    def conditioning(self, upper: torch.Tensor, label: torch.Tensor | None = None,
                     drop_upper: torch.Tensor | None = None) -> torch.Tensor:
        """Upper codes (B, L_up) (and labels (B,) when ``n_labels > 0``) -> (B, L_up * ratio, d_model).

        ``drop_upper`` (B,) bools (an upsampler with ``null_upper``): those rows get the learned null vector in place
        of their upper codes' conditioning, at every position (the label, if any, is still added)."""
        if upper.dim() != 2:
            raise ValueError(f"upper codes must be (B, L_up), got shape {tuple(upper.shape)}")
        if int(upper.min()) < 0 or int(upper.max()) >= self.upper_codebook_size:
            raise ValueError(f"upper codes must lie in 0..{self.upper_codebook_size - 1}")
        e = self.up_embed(upper).transpose(1, 2)  # (B, C, L_up)
        for block in self.up_blocks:
            e = e + block(e)  # (B, C, L_up): receptive field 1 + 2 (1 + 3 + ... + 3^(n-1)) upper codes
        e = F.gelu(self.up_conv(e))  # (B, C, L_up)
        up = self.up_stretch(e).transpose(1, 2)  # (B, L_up * ratio, C)
        if drop_upper is not None:
            if self.up_null is None:
                raise ValueError("drop_upper needs an upsampler trained with null_upper (it has no null upper vector)")
            drop = torch.as_tensor(drop_upper, dtype=torch.bool, device=upper.device).reshape(-1, 1, 1)  # (B, 1, 1)
            up = torch.where(drop, self.up_null.to(up.dtype).expand_as(up), up)
        if self.label_embed is None:
            if label is not None:
                raise ValueError("this upsampler takes no label (n_labels=0): it was trained without one")
            return up
        if label is None:
            raise ValueError(f"this upsampler is conditioned on a label in 0..{self.n_labels - 1}: pass label")
        label = torch.as_tensor(label, dtype=torch.long, device=upper.device)
        if self.extra_labels:
            if label.dim() != 2 or label.shape != (upper.shape[0], len(self.label_sizes)):
                raise ValueError(f"this upsampler is conditioned on {list(self.label_names)}: label must be "
                                 f"(B={upper.shape[0]}, {len(self.label_sizes)}), got shape {tuple(label.shape)}")
            for a, (name, size) in enumerate(zip(self.label_names, self.label_sizes)):
                if int(label[:, a].min()) < 0 or int(label[:, a].max()) > size:
                    raise ValueError(f"label {name} must lie in 0..{size - 1} (or {size}, its null label), got "
                                     f"{label[:, a].tolist()}")
            vec = self.label_embed(label[:, 0])  # (B, C)
            for a, table in enumerate(self.extra_embeds):
                vec = vec + table(label[:, a + 1])
            return up + vec[:, None, :]  # (B, L, C): the label at every position
        label = label.reshape(-1)
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
        to -inf at every step). ``guidance_scale``: classifier-free guidance (1 = the conditional model as trained;
        needs a label-conditioned upsampler): the unconditional half gets the null label, and for an upsampler with
        ``null_upper`` the null upper vector too, so the guidance then pushes towards the upper codes as well as the
        label (0 = no label and no upper codes)."""
        up = self.conditioning(upper, label)  # (B, L, C)
        up_null = None
        if guidance_scale is not None:
            if not self.n_labels:
                raise ValueError("guidance_scale needs a label-conditioned upsampler (n_labels > 0)")
            B = upper.shape[0]
            drop = torch.ones(B, dtype=torch.bool) if self.null_upper else None
            up_null = self.conditioning(upper, self.null_label(B, upper.device), drop)  # every attribute dropped
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
                      labels: torch.Tensor | None = None, label_dropout: float = 0.0, null_label: int | None = None,
                      input_noise: float = 0.0, drop_upper: bool = False):
    """A ``train_data`` callable ``(generator, B) -> dict`` of aligned crops for :func:`upsampler_loss`.

    ``lower`` (N, L) and ``upper`` (N, L / ratio) are the codes of whole clips. A crop takes ``length`` targets
    ``b_s .. b_{s+length-1}`` (any start s), the tokens before them ``b_{s-1} ..`` (BOS when s = 0), and the upper codes
    of the whole clip (the conditioning is computed for the clip, then cut at the same place), and with ``labels``
    (N,) each clip's label, replaced by ``null_label`` in a fraction ``label_dropout`` of the crops (drawn with the
    batch's generator: what classifier-free guidance needs). With ``labels`` (N, A) (an upsampler with
    ``extra_labels``), ``null_label`` is its ``label_sizes`` (each attribute's null id) and a dropped crop loses all.

    ``drop_upper``: the crops that get the null label also get ``drop_upper`` True (for an upsampler with
    ``null_upper``): the unconditional model that guidance extrapolates from then hears neither the label nor the
    upper codes, and guidance pushes towards both.

    ``input_noise`` p > 0 adds ``inputs`` (B, length): the tokens the model reads, with each code (not BOS) replaced
    by a uniformly drawn code with probability p, while the targets stay the true codes. A lower level's codes
    repeat from one position to the next (a held note keeps its code), so an upsampler trained on clean inputs
    learns to copy its own past and leans little on the level above: sampled, it drifts away from the upper codes'
    timing. Corrupted inputs make the upper codes the more reliable source (token corruption against exposure bias,
    in the spirit of scheduled sampling, Bengio et al. 2015). Tried on notebook 04's bottom upsampler, it did not make
    the samples follow the clip's onsets better within 1,000 steps (``data/checkpoints/README.md``); the shipped
    upsamplers were trained without it.
    """
    if not 0.0 <= input_noise < 1.0:
        raise ValueError(f"input_noise must lie in [0, 1), got {input_noise}")
    if not 0.0 <= label_dropout < 1.0:
        raise ValueError(f"label_dropout must lie in [0, 1), got {label_dropout}")
    if label_dropout and (labels is None or null_label is None):
        raise ValueError("label_dropout needs labels and the null_label id that replaces them")
    if drop_upper and not label_dropout:
        raise ValueError("drop_upper drops the upper codes of the crops whose label is dropped: set label_dropout > 0")
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
        if input_noise:
            inputs = batch["tokens"][:, :-1]  # (B, length): what the model reads
            noisy = torch.rand(inputs.shape, generator=generator) < input_noise
            noisy &= inputs != bos  # the start token stays
            random = torch.randint(0, bos, inputs.shape, generator=generator)  # codes only (bos = codebook size)
            batch["inputs"] = torch.where(noisy, random, inputs)
        if labels is None:
            return batch
        label = labels[i]  # (B,) or (B, A)
        if label_dropout:
            drop = torch.rand(batch_size, generator=generator) < label_dropout  # (B,)
            null = torch.as_tensor(null_label, dtype=torch.long).expand_as(label)  # one null id per attribute
            label = torch.where(drop.reshape(-1, *[1] * (label.dim() - 1)), null, label)  # a dropped crop: all null
            if drop_upper:
                batch["drop_upper"] = drop
        return dict(batch, label=label)

    return draw


def upsampler_loss(model: Upsampler, batch: dict) -> torch.Tensor:
    """Cross-entropy (nats/code) of the crops of :func:`upsampler_batches`: tokens[:, :-1] (or the corrupted
    ``inputs``, where the batch has them) with the conditioning of the targets' positions predict tokens[:, 1:]."""
    tokens, s = batch["tokens"], batch["start"]
    up = model.conditioning(batch["upper"], batch.get("label"), batch.get("drop_upper"))  # (B, L, C)
    T = tokens.shape[1] - 1
    idx = s[:, None] + torch.arange(T, device=s.device)[None]  # (B, T): target positions
    up = torch.gather(up, 1, idx[..., None].expand(-1, -1, up.shape[2]))  # (B, T, C)
    logits = model(batch.get("inputs", tokens[:, :-1]), up)  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


# --- checkpoints ---------------------------------------------------------------------------------------------------
def save_top_prior(prior: MusicTransformer, n_labels, path, half: bool = True, extra: dict | None = None,
                   label_names=None, int8: bool = False) -> Path:
    """Weights-only file of a top prior; the config records ``n_labels`` (label tokens in all) next to the decoder's
    config, and for a prior conditioned on several attributes (``n_labels`` a tuple of classes per attribute) their
    ``label_sizes`` and ``label_names``. ``int8``: the large matrices in int8 (``helpers.checkpoints.save_weights``)."""
    return save_weights(prior, path, _top_prior_record(prior, n_labels, label_names), half=half, extra=extra,
                        int8=int8)


def _top_prior_record(prior, n_labels, label_names=None) -> dict:
    sizes = tuple(n_labels) if isinstance(n_labels, (tuple, list)) else (n_labels,)
    record = dict(prior.config.to_dict(), kind="TopPrior", n_labels=sum(sizes))
    if len(sizes) > 1 or label_names is not None:  # files of a family-only prior keep their old config
        names = list(label_names) if label_names is not None else [f"attribute {a}" for a in range(len(sizes))]
        if len(names) != len(sizes):
            raise ValueError(f"label_names {names} must name the {len(sizes)} attributes of sizes {sizes}")
        record.update(label_sizes=list(sizes), label_names=names)
    return record


def load_top_prior(path, expect: MusicTransformerConfig | None = None) -> MusicTransformer:
    """A top prior saved by :func:`save_top_prior`, in eval mode, with ``.n_labels`` (and ``.label_sizes``,
    ``.label_names``) set; with ``expect``, refuse a file saved for another decoder configuration.

    Raises:
        ValueError: the file holds another kind of model, or a configuration other than ``expect``.
    """
    ckpt = read_checkpoint(path)
    cfg = dict(ckpt["config"])
    if cfg.pop("kind", None) != "TopPrior":
        raise ValueError(f"checkpoint {path} does not hold a top prior (config kind {ckpt['config'].get('kind')!r})")
    n_labels = cfg.pop("n_labels")
    sizes, names = cfg.pop("label_sizes", None), cfg.pop("label_names", None)
    prior = MusicTransformer(expect or MusicTransformerConfig.from_dict(cfg))
    load_weights(prior, path, _top_prior_record(prior, tuple(sizes) if sizes else n_labels, names), ckpt=ckpt)
    prior.n_labels = n_labels
    prior.label_sizes = tuple(sizes) if sizes else (n_labels,)
    prior.label_names = tuple(names) if names else ("family",)
    return prior.eval()


def save_upsampler(model: Upsampler, path, half: bool = True, extra: dict | None = None, int8: bool = False) -> Path:
    return save_weights(model, path, model.to_dict(), half=half, extra=extra, int8=int8)


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
                      n_labels=cfg.get("n_labels", 0), cond_blocks=cfg.get("cond_blocks", 0),
                      null_upper=cfg.get("null_upper", False), extra_labels=cfg.get("extra_labels", ()))
    load_weights(model, path, expect if expect is not None else model.to_dict(), ckpt=ckpt)
    return model.eval()


def widen_upsampler(model: Upsampler, extra_labels) -> Upsampler:
    """A copy of a family-conditioned upsampler that also takes ``extra_labels`` (``(("tempo_band", 3), ...)``):
    every weight copied, the new tables zero, so that its logits equal the original's for any value of the new
    attributes until it is trained further (a warm start, ``train_priors.py --init``).

    Raises:
        ValueError: the upsampler takes no family label, or already has extra labels.
    """
    if not model.n_labels or model.extra_labels:
        raise ValueError(f"widen_upsampler takes a family-only upsampler, got label {list(model.label_names)}")
    wide = Upsampler(model.config, model.upper_codebook_size, model.ratio, n_labels=model.n_labels,
                     cond_blocks=model.cond_blocks, null_upper=model.null_upper, extra_labels=extra_labels)
    missing, unexpected = wide.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not k.startswith("extra_embeds.") for k in missing):
        raise ValueError(f"widen_upsampler: unexpected weights {unexpected}, missing {missing}")
    return wide.train(model.training)


# --- the levels: either autoencoder design ------------------------------------------------------------------------
def load_level(path):
    """A VQ-VAE level from its checkpoint, in eval mode: a :class:`helpers.autoencoder.Autoencoder` with one codebook
    (the course's autoencoder design, notebook 04's three levels) or a :class:`helpers.vqvae.VQVAE` (the time-domain
    design of the lesson's first VQ-VAE), told apart by the kind of config the file records.

    Raises:
        ValueError: the file holds another kind of model, or an autoencoder with more than one codebook (a codec,
            not a level).
    """
    from . import autoencoder, vqvae

    kind = read_checkpoint(path)["config"].get("kind")
    if kind == "AutoencoderConfig":
        level = autoencoder.load_checkpoint(path)
        if level.n_codebooks != 1:
            raise ValueError(f"checkpoint {path} holds an autoencoder with {level.n_codebooks} codebooks; a level "
                             "has one")
        return level.eval()
    if kind == "VQVAEConfig":
        return vqvae.load_checkpoint(path).eval()
    raise ValueError(f"checkpoint {path} holds no VQ-VAE level (config kind {kind!r})")


def level_encode(level, audio, sr: int) -> torch.Tensor:
    """Codes (B, L) of ``audio`` (B, 1, T) under a level of either design (one codebook)."""
    codes = level.encode(audio, sr)
    return codes[:, 0] if codes.dim() == 3 else codes  # an Autoencoder returns (B, 1, L)


# --- the shipped pipeline of notebook 04 --------------------------------------------------------------------------
SHIPPED_LEVELS = ("level_hop1024.pt", "level_hop256.pt", "level_hop64.pt")  # top first, hop ratio 4
SHIPPED_PRIOR = "prior_top.pt"
SHIPPED_UPSAMPLERS = ("upsampler_hop256.pt", "upsampler_hop64.pt")  # one per lower level


def load_pipeline(folder=None) -> dict:
    """Notebook 04's three levels (top first), top prior and two upsamplers, loaded from ``folder`` (default
    ``data/checkpoints``): ``{"levels": [...], "prior": ..., "upsamplers": [...], "paths": {name: path}}``, ready for
    :func:`sample_top_down`."""
    from .data import DATA_DIR

    folder = Path(folder) if folder is not None else DATA_DIR / "checkpoints"
    paths = {name: folder / name for name in (*SHIPPED_LEVELS, SHIPPED_PRIOR, *SHIPPED_UPSAMPLERS)}
    return {"levels": [load_level(paths[n]) for n in SHIPPED_LEVELS], "prior": load_top_prior(paths[SHIPPED_PRIOR]),
            "upsamplers": [load_upsampler(paths[n]) for n in SHIPPED_UPSAMPLERS], "paths": paths}


def label_of(prior, **classes) -> torch.Tensor:
    """The (1, A) label of one clip for ``prior``, by class names: ``label_of(prior, family="organ",
    tempo_band="slow", mode="minor")`` (every attribute the prior is conditioned on, see ``prior.label_names``).

    Raises:
        ValueError: an attribute missing or not the prior's, or a class the attribute does not have.
    """
    from .audio_corpus import ATTRIBUTE_CLASSES

    names = tuple(getattr(prior, "label_names", ("family",)))
    if set(classes) != set(names):
        raise ValueError(f"this prior is conditioned on {list(names)}: pass each of them by name, got {sorted(classes)}")
    row = []
    for name in names:
        options = ATTRIBUTE_CLASSES[name]
        if classes[name] not in options:
            raise ValueError(f"{name}={classes[name]!r} is not one of {list(options)}")
        row.append(options.index(classes[name]))
    return torch.tensor([row])  # (1, A)


# --- top-down sampling -----------------------------------------------------------------------------------------------
def level_temperatures(temperature, n_levels: int = 2) -> tuple[float, ...]:
    """Sampling temperatures, top level first, one per level: from one number (every level), a pair
    ``(top, rest)`` (Jukebox's ``temp_top`` and ``temp_rest``), or one number per level.

    >>> level_temperatures(0.9), level_temperatures((1.0, 0.5)), level_temperatures((1.0, 0.5), 3)
    ((0.9, 0.9), (1.0, 0.5), (1.0, 0.5, 0.5))
    """
    if isinstance(temperature, (tuple, list)):
        temps = tuple(temperature)
        if len(temps) == 2:
            temps = (temps[0],) + (temps[1],) * (n_levels - 1)
        if len(temps) != n_levels:
            raise ValueError(f"temperature must be a number, a (top, rest) pair or {n_levels} numbers (one per "
                             f"level), got {temperature!r}")
    else:
        temps = (temperature,) * n_levels
    temps = tuple(float(t) for t in temps)
    if min(temps) <= 0:
        raise ValueError(f"temperatures must be > 0, got {temperature!r}")
    return temps


def upsampler_guidance(guidance_scale, n_upsamplers: int) -> tuple[float | None, ...]:
    """Classifier-free guidance scales, one per upsampler (top first), from None (no guidance anywhere), one number
    (every upsampler) or one number (or None) per upsampler: the family can be pushed hard where the codes are
    written from little context and left as trained where they are not.

    >>> upsampler_guidance(None, 2), upsampler_guidance(3, 2), upsampler_guidance((5, 1.5), 2)
    ((None, None), (3.0, 3.0), (5.0, 1.5))
    """
    if isinstance(guidance_scale, (tuple, list)):
        scales = tuple(guidance_scale)
        if len(scales) != n_upsamplers:
            raise ValueError(f"guidance_scale: one number or one per upsampler ({n_upsamplers}), got "
                             f"{guidance_scale!r}")
    else:
        scales = (guidance_scale,) * n_upsamplers
    scales = tuple(None if g is None else float(g) for g in scales)
    if any(g is not None and g < 0 for g in scales):
        raise ValueError(f"guidance_scale must be >= 0, got {guidance_scale!r}")
    return scales


def upsampler_label(upsampler: Upsampler, label, label_names=("family",)) -> torch.Tensor | None:
    """What ``upsampler`` takes of a label whose columns are ``label_names``: None (no label), the family (B,), or
    (B, 1 + E) columns picked by name (an upsampler with ``extra_labels``), so that the top prior's (B, A) label
    (family, tempo band, mode, register) serves every upsampler whatever it was trained on.

    >>> up = Upsampler(MusicTransformerConfig(vocab_size=9, n_layer=1, n_head=1, d_model=8, d_ff=8, max_len=8,
    ...                max_rel=8), 4, 2, n_labels=8, extra_labels=[("register", 3)])
    >>> upsampler_label(up, [[5, 2, 1, 0]], ("family", "tempo_band", "mode", "register")).tolist()
    [[5, 0]]

    Raises:
        ValueError: ``label_names`` does not match the label's columns, or lacks an attribute the upsampler needs.
    """
    if not upsampler.n_labels:
        return None
    label = torch.as_tensor(label, dtype=torch.long)
    label = label.reshape(-1, 1) if label.dim() < 2 else label  # (B, A)
    names = tuple(label_names)
    if label.shape[1] != len(names):
        raise ValueError(f"label has {label.shape[1]} columns but label_names names {len(names)}: {list(names)}")
    missing = [n for n in upsampler.label_names if n not in names]
    if missing:
        raise ValueError(f"this upsampler is conditioned on {list(upsampler.label_names)}; the label lacks {missing} "
                         f"(it holds {list(names)})")
    cols = label[:, [names.index(n) for n in upsampler.label_names]]  # (B, 1 + E)
    return cols if upsampler.extra_labels else cols[:, 0]


@torch.no_grad()
def upsample_codes(codes: torch.Tensor, upsamplers, generator: torch.Generator, label=None, temperature=1.0,
                   top_k: int | None = None, guidance_scale=None, label_names=("family",)) -> list[torch.Tensor]:
    """The codes of every lower level under given upper codes (B, L): each upsampler in turn writes the level below
    the previous one, as :func:`sample_top_down` does after its top prior. Given a clip's *own* upper codes, this
    asks where along the hierarchy something is lost: what the upsamplers drop, no top prior can put back.

    Args:
        codes: (B, L) codes of the level above ``upsamplers[0]``.
        upsamplers: :class:`Upsampler` s, top first; label: (B,) families for the label-conditioned ones, or
            (B, A) whose columns ``label_names`` names (each upsampler takes its own, :func:`upsampler_label`).
        temperature: one number, or one per upsampler; guidance_scale: as in :func:`sample_top_down` (one number,
            or one per upsampler).

    Returns:
        one (B, L x ratios so far) tensor per upsampler, the bottom level's last.
    """
    upsamplers = list(upsamplers)
    temps = (tuple(temperature) if isinstance(temperature, (tuple, list)) else (temperature,) * len(upsamplers))
    if len(temps) != len(upsamplers):
        raise ValueError(f"temperature: one number or one per upsampler ({len(upsamplers)}), got {temperature!r}")
    guides = upsampler_guidance(guidance_scale, len(upsamplers))
    out = []
    for up, t, gs in zip(upsamplers, temps, guides):
        codes = up.sample(codes, generator, None, t, top_k, label=upsampler_label(up, label, label_names),
                          guidance_scale=gs if up.n_labels else None)  # (B, L * ratio)
        out.append(codes)
    return out


@torch.no_grad()
def sample_top_down(levels, prior: MusicTransformer, upsamplers, label, seconds: float,
                    generator: torch.Generator, prompt_audio: torch.Tensor | None = None,
                    temperature=1.0, top_k: int | None = None,
                    sr: int | None = None, guidance_scale=None) -> dict:
    """Sample audio top-down through any number of levels: label -> top codes -> each lower level's codes, written by
    its upsampler under the codes of the level above -> the bottom level's decoder -> audio; every stage timed::

        label ─► top prior ─► codes of levels[0] ─► upsamplers[0] ─► codes of levels[1] ─► ... ─► levels[-1].decode

    Args:
        levels: the VQ-VAE levels, top first (:func:`load_level`; each hop = the next one's hop x its upsampler's
            ratio).
        prior: the top prior (:func:`load_top_prior`); upsamplers: one :class:`Upsampler` per lower level, in the same
            order (``upsamplers[i]`` writes ``levels[i + 1]`` under ``levels[i]``).
        label: instrument family index (int) or (B,) indices; for a prior conditioned on several attributes, (B, A)
            in the order of ``prior.label_names``, the family first (each upsampler takes the attributes it was
            trained on: the family, or more, :func:`upsampler_label`).
        seconds: length of the result (rounded down to whole top codes).
        generator: draws every sample (same seed, same audio).
        prompt_audio: (B, T) or (B, 1, T) audio whose codes the sample continues at every level, or None (from
            scratch); cut to whole top codes first (T // top hop of them), so that every level's prompt ends at the
            same sample.
        temperature: one temperature for every level, a ``(top, rest)`` pair, or one per level (Jukebox samples its
            levels at different temperatures).
        sr: the prompt's sample rate (required with ``prompt_audio``; it must be the levels' rate).
        guidance_scale: classifier-free guidance on the family in every label-conditioned upsampler (trained with
            label dropout), or one scale per upsampler (:func:`upsampler_guidance`); None: the label as trained, no
            guidance.

    Returns:
        dict with ``codes`` (one (B, L_i) tensor per level, top first), ``top`` and ``bottom`` (the first and last of
        them), ``audio`` (B, T) decoded from the bottom level and ``audio_levels`` (each level's codes decoded by its
        own decoder, top first; ``audio_top`` is the first), ``seconds_audio``, and ``timing``: seconds of compute
        per stage (``top_prior``, ``upsampler`` for all upsamplers, ``decode``) with ``upsamplers`` (one per
        upsampler), and ``rtf`` for the same stages and ``total``: compute seconds per second of audio produced (B
        clips of ``seconds_audio`` each; a batch shares the per-step overhead).
    """
    levels, upsamplers = list(levels), list(upsamplers)
    if len(levels) < 2 or len(upsamplers) != len(levels) - 1:
        raise ValueError(f"sample_top_down needs two or more levels and one upsampler per lower level, got "
                         f"{len(levels)} levels and {len(upsamplers)} upsamplers")
    for upper, lower, up in zip(levels, levels[1:], upsamplers):
        if upper.hop != lower.hop * up.ratio:
            raise ValueError(f"upper hop {upper.hop} != lower hop {lower.hop} x upsampler ratio {up.ratio}")
    temps = level_temperatures(temperature, len(levels))
    guides = upsampler_guidance(guidance_scale, len(upsamplers))
    rate = levels[0].config.sample_rate  # the levels' rate (the prompt's, sr, is checked against it)
    n_top = int(seconds * rate // levels[0].hop)
    if n_top < 1:
        raise ValueError(f"seconds={seconds} is shorter than one top code ({levels[0].hop / rate:.3f} s)")
    label = torch.as_tensor(label, dtype=torch.long)
    label = label.reshape(-1) if label.dim() < 2 else label  # (B,) or (B, A)
    family = label if label.dim() == 1 else label[:, 0]  # (B,)
    names = ("family",) if label.dim() == 1 else tuple(  # a prior without names: the family first
        getattr(prior, "label_names", None) or ("family", *(f"attribute {a}" for a in range(1, label.shape[1]))))
    prompts = [None] * len(levels)
    if prompt_audio is not None:
        if prompt_audio.dim() == 2:  # (B, T): B clips (a (2, T) prompt is two clips, not stereo)
            prompt_audio = prompt_audio[:, None]
        whole = prompt_audio.shape[-1] // levels[0].hop * levels[0].hop  # whole top codes: no zero-padded last frame
        if whole == 0:
            raise ValueError(f"prompt_audio of {prompt_audio.shape[-1]} samples is shorter than one top code "
                             f"({levels[0].hop} samples)")
        prompts = [level_encode(lv, prompt_audio[..., :whole], sr) for lv in levels]  # aligned: L_i = whole / hop_i
    t0 = time.perf_counter()
    codes = [sample_top(prior, label, n_top, generator, prompts[0], temps[0], top_k)]  # (B, n_top)
    t_top = time.perf_counter() - t0
    t_up = []
    for i, up in enumerate(upsamplers):
        t1 = time.perf_counter()
        codes.append(up.sample(codes[-1], generator, prompts[i + 1], temps[i + 1], top_k,
                               label=upsampler_label(up, label, names),
                               guidance_scale=guides[i] if up.n_labels else None))  # (B, L_i * ratio)
        t_up.append(time.perf_counter() - t1)
    t2 = time.perf_counter()
    audio = levels[-1].decode(codes[-1])  # (B, T)
    t3 = time.perf_counter()
    audio_levels = [lv.decode(c) for lv, c in zip(levels[:-1], codes[:-1])] + [audio]
    secs = n_top * levels[0].hop / rate
    timing = {"top_prior": t_top, "upsampler": sum(t_up), "decode": t3 - t2}
    made = secs * len(family)  # seconds of audio produced: the B clips are sampled side by side
    rtf = {k: v / made for k, v in timing.items()}
    rtf["total"] = sum(timing.values()) / made
    timing["upsamplers"] = t_up
    rtf["upsamplers"] = [t / made for t in t_up]
    return {"codes": codes, "top": codes[0], "bottom": codes[-1], "audio": audio, "audio_levels": audio_levels,
            "audio_top": audio_levels[0], "seconds_audio": secs, "timing": timing, "rtf": rtf, "batch": len(family)}
