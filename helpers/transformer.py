"""The Music Transformer: one decoder for every token model of the course, with its cache and sampling.

One readable module in the style of nanoGPT's ``model.py``:

- :class:`MusicTransformerConfig` — every size and switch, saved next to the weights in a checkpoint;
  ``position='relative'`` (Huang et al.) or ``'absolute'`` (learned position embeddings, the baseline), so the two
  can be compared with everything else equal.
- :class:`MusicTransformer` — token embedding, pre-norm blocks (LayerNorm -> self-attention -> residual,
  [LayerNorm -> cross-attention -> residual,] LayerNorm -> MLP -> residual), final LayerNorm, output head tied to
  the embedding. Two switches turn the symbolic model into the audio models' decoder, by configuration, not copies:

  - ``n_streams = K`` parallel token streams per step (the K codebooks of a neural audio codec): K embedding
    tables whose vectors are summed per step, K output heads, logits (B, K, T, V). With K = 1 the input may be
    (B, T) and the logits are (B, T, V), as for the chorale grid. Copet et al. 2023, Sec. 2.2.
  - ``d_cond > 0``: every block attends to a conditioning sequence ``cond`` (B, S, d_cond) (text embeddings),
    projected to ``d_model``, with a key padding mask; a learned *null slot* is always visible, so an example without
    condition (dropped for classifier-free guidance, or unconditional generation) attends to it alone.
    Copet et al. 2023, Sec. 2.3.
- :class:`Cache` — the key/value cache: self-attention keys and values grow by one step per token; the condition's
  keys and values are computed once per generation and reused at every step.
- :func:`sample_next_token` — the one sampling step of every decoder: classifier-free guidance (conditional and
  unconditional logits from one batched forward pass, Ho & Salimans 2022), banned tokens, temperature, top-k,
  top-p, one draw on the model's device from a caller's ``torch.Generator``.
- :func:`generate` — nanoGPT's loop, plus the cache (the relative term of each new query is computed against the
  cache, see ``helpers.attention.relative_logits_gather``), a sliding window to generate past ``max_len``, guidance
  and per-position extra inputs, each in its own few lines; :func:`decoding_threads` runs a small batch's steps on
  one CPU thread (faster on a small machine, measured in ``make bench``).
- :func:`next_token_loss` (one stream), :func:`stream_cross_entropy` (K streams, one cross-entropy each),
  :func:`drop_condition` (condition dropout for guidance), :func:`sequence_nll` (per-token NLL of a long piece).
- :func:`save_checkpoint` / :func:`load_checkpoint` — weights-only files (``torch.load(weights_only=True)``,
  :mod:`helpers.checkpoints`).

Initialisation as GPT-2 / nanoGPT: every weight N(0, 0.02), biases zero, and the projections that write into the
residual stream (attention and cross-attention outputs, the MLP's second layer) N(0, 0.02 / sqrt(2 n_layer)), so
the residual stream's variance does not grow with depth at initialisation (Radford et al. 2019, Sec. 2.3).

The chorale grid's data and evaluation (crops, NLL tables, baselines) are in :mod:`helpers.chorale`; the delay
pattern that interleaves K codebooks is in :mod:`helpers.patterns`.

Notebook: 03_music_transformer.ipynb (chorales), 04 (Jukebox priors), 05 (MusicGen).
Reference: Huang et al. 2018, "Music Transformer" (arXiv:1809.04281), Sec. 3.4-3.4.1; Vaswani et al. 2017;
Copet et al. 2023, "Simple and Controllable Music Generation" (MusicGen), Sec. 2.2-2.3; Ho & Salimans 2022,
"Classifier-Free Diffusion Guidance"; nanoGPT (Karpathy).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import RelativeSelfAttention, masked_attention, sdpa_attention
from .checkpoints import config_from_dict, load_weights, read_checkpoint, save_weights
from .modes import evaluating, in_eval_mode

POSITIONS = ("relative", "absolute")
# Weights that write into the residual stream (GPT-2's c_proj): initialised with std 0.02 / sqrt(2 n_layer).
RESIDUAL_PROJECTIONS = ("attn.proj.weight", "cross.proj.weight", "mlp.2.weight")


@dataclass(frozen=True)
class MusicTransformerConfig:
    """Sizes and switches of a :class:`MusicTransformer`.

    Attributes:
        vocab_size: number of token ids per stream (a caller's special or padding id is one of them).
        n_layer, n_head, d_model, d_ff: depth, heads, width, MLP hidden width.
        dropout: dropout on embeddings, attention weights, attention output and MLP output.
        attn_dropout: dropout on the attention weights alone; None (default) takes ``dropout``. On a CPU the
            (B, H, T, T) dropout mask is the costliest single op of a training step (28% of it for the
            shipped chorale config, measured with torch.profiler), so the chorale model trains with 0 here.
        max_len: training window (the longest sequence the model sees in one forward pass without the cache;
            absolute models cannot go further, relative ones can but are trained up to here).
        max_rel: number of relative distances with their own embedding (longer ones are clipped).
        position: ``'relative'`` or ``'absolute'``.
        rel_per_head: one relative table per head instead of one shared by the heads of a layer.
        n_streams: parallel token streams per step (K codebooks); 1 for a single token sequence.
        d_cond: width of the conditioning sequence for cross-attention; 0 for none.
    """

    vocab_size: int
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    d_ff: int = 512
    dropout: float = 0.1
    attn_dropout: float | None = None
    max_len: int = 256
    max_rel: int = 256
    position: str = "relative"
    rel_per_head: bool = False
    n_streams: int = 1
    d_cond: int = 0
    d_add_in: int | None = None

    def __post_init__(self):
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        for name in ("vocab_size", "n_layer", "n_head", "d_model", "d_ff", "max_len", "n_streams"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_cond < 0:
            raise ValueError(f"d_cond must be >= 0 (0: no cross-attention), got {self.d_cond}")
        if self.d_add_in is not None and self.d_add_in < 1:
            raise ValueError(f"d_add_in must be None (no per-position input) or >= 1, got {self.d_add_in}")
        if self.position == "relative" and self.max_rel < 1:
            raise ValueError(f"a relative model needs max_rel >= 1, got {self.max_rel}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MusicTransformerConfig":
        """Build from a saved dict; fields added since it was saved take their defaults (:func:`config_from_dict`)."""
        return config_from_dict(cls, d)

    @classmethod
    def tiny(cls, vocab_size: int = 20, position: str = "relative", **changes) -> "MusicTransformerConfig":
        """A configuration small enough for unit tests (a few thousand parameters)."""
        base = dict(n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.0, max_len=32, max_rel=8)
        base.update(changes)
        return cls(vocab_size=vocab_size, position=position, **base)


@dataclass(frozen=True)
class Cache:
    """What :func:`generate` keeps between steps (one per forward pass; never modified, a new one is returned).

    Attributes:
        kv: per layer, self-attention ``(keys, values)``, each (B, H, T_past, D); ``None`` before the first token.
        cross: per layer, the condition's ``(keys, values)``, each (B, H, 1 + S, D), computed once
            (:meth:`MusicTransformer.start_cache`); None for a model without cross-attention.
        hide: (B, 1 + S) bool, True on padding slots of the condition (never on the null slot); or None.
    """

    kv: list
    cross: list | None = None
    hide: torch.Tensor | None = None

    @property
    def length(self) -> int:
        """Tokens (steps) already in the cache."""
        return 0 if self.kv[0] is None else self.kv[0][0].shape[2]


class CrossAttention(nn.Module):
    """Multi-head attention from the token stream (queries) to a conditioning sequence (keys and values).

    The keys and values depend on the condition only: :meth:`keys_values` runs once per generation and its result is
    reused at every step. ``self.sdpa`` as in :class:`helpers.attention.RelativeSelfAttention` (False: the plain
    softmax path, same numbers).

    Notebook: 05 (MusicGen). Reference: Vaswani et al. 2017 (encoder-decoder attention); Copet et al. 2023, Sec. 2.3.
    """

    def __init__(self, d_model: int, n_head: int, dropout: float = 0.0):
        super().__init__()
        self.n_head, self.d_head, self.dropout = n_head, d_model // n_head, dropout
        self.q = nn.Linear(d_model, d_model)
        self.kv = nn.Linear(d_model, 2 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.sdpa = True

    def keys_values(self, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the (projected) condition ``c`` (B, S1, C): each (B, H, S1, D)."""
        B, S1, C = c.shape
        k, v = self.kv(c).split(C, dim=-1)  # 2 x (B, S1, C)
        return tuple(t.view(B, S1, self.n_head, self.d_head).transpose(1, 2) for t in (k, v))  # (B, H, S1, D)

    def forward(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, hide: torch.Tensor) -> torch.Tensor:
        """x: (B, T, C) queries; k, v: (B, H, S1, D); hide: (B, S1) bool, True = padding. Returns (B, T, C)."""
        B, T, C = x.shape
        q = self.q(x).view(B, T, self.n_head, self.d_head).transpose(1, 2)  # (B, H, T, D)
        drop = self.dropout if self.training else 0.0
        attend = sdpa_attention if self.sdpa else masked_attention
        out, _ = attend(q, k, v, hide[:, None, None, :], None, drop, self.training)  # (B, H, T, D)
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return F.dropout(self.proj(out), drop, self.training)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))``, [``x + cross(ln(x), cond)``,] then ``x + mlp(ln(x))``."""

    def __init__(self, cfg: MusicTransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = RelativeSelfAttention(
            cfg.d_model,
            cfg.n_head,
            max_rel=cfg.max_rel if cfg.position == "relative" else 0,
            rel_per_head=cfg.rel_per_head,
            dropout=cfg.dropout,
            attn_dropout=cfg.attn_dropout,
        )
        if cfg.d_cond:
            self.ln_cross = nn.LayerNorm(cfg.d_model)
            self.cross = CrossAttention(cfg.d_model, cfg.n_head, cfg.dropout)
        else:
            self.cross = None
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model), nn.Dropout(cfg.dropout)
        )

    def forward(self, x, past=None, cross=None, hide=None):
        a, present = self.attn(self.ln1(x), past)  # (B, T, C)
        x = x + a
        if self.cross is not None:
            x = x + self.cross(self.ln_cross(x), *cross, hide)  # (B, T, C): read the condition
        x = x + self.mlp(self.ln2(x))  # (B, T, C)
        return x, present


class MusicTransformer(nn.Module):
    """Decoder-only transformer over K token streams (relative or absolute positions, optional cross-attention).

    ``model(idx)`` gives logits (B, K, T, V) for idx (B, K, T), or (B, T, V) for idx (B, T) when K = 1;
    ``model(idx, cond=c, cond_mask=m)`` conditions on c (B, S, d_cond); ``model(idx, past=cache, use_cache=True)``
    gives ``(logits, new_cache)`` (a :class:`Cache`).

    The K embedding tables are stacked in one ``nn.Embedding(K * V, C)`` (stream k's token t is row ``k * V + t``)
    and the K heads in one ``nn.Linear(C, K * V)`` tied to it: with K = 1 these are exactly the single-stream
    model's ``tok`` and ``head``, so the chorale checkpoints load unchanged.

    Notebook: 03_music_transformer.ipynb, 04 (Jukebox priors), 05 (MusicGen).
    Reference: Huang et al. 2018; Copet et al. 2023, Sec. 2.2-2.3; the block layout follows GPT-2 / nanoGPT (pre-norm).
    """

    def __init__(self, config: MusicTransformerConfig):
        super().__init__()
        self.config = config
        K, V, C = config.n_streams, config.vocab_size, config.d_model
        self.tok = nn.Embedding(K * V, C)  # K tables of V rows, stacked
        self.pos = nn.Embedding(config.max_len, C) if config.position == "absolute" else None
        if config.d_cond:
            self.cond_proj = nn.Linear(config.d_cond, C)  # text embeddings -> model width
            self.null_cond = nn.Parameter(torch.zeros(1, 1, C))  # the always-visible "no condition" slot
        else:
            self.cond_proj = None
            self.register_parameter("null_cond", None)
        # per-position features (MusicGen-melody's chroma, (B, T, d_add_in)) -> model width, added like x_add
        self.add_in = nn.Linear(config.d_add_in, C, bias=False) if config.d_add_in else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(C)
        self.head = nn.Linear(C, K * V, bias=False)  # K heads of V logits, stacked
        self.head.weight = self.tok.weight  # weight tying (each stream's head with its own table)
        self.apply(self._init)
        for name, p in self.named_parameters():  # the projections into the residual stream: scaled by depth
            if name.endswith(RESIDUAL_PROJECTIONS):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * config.n_layer))
        if self.null_cond is not None:
            nn.init.normal_(self.null_cond, std=0.02)
        if self.add_in is not None:  # starts silent: a warm start from a model without it begins where that one was
            nn.init.zeros_(self.add_in.weight)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def set_sdpa(self, on: bool = True) -> "MusicTransformer":
        """Attention through ``F.scaled_dot_product_attention`` (True, default) or the plain softmax path (False)."""
        for b in self.blocks:
            b.attn.sdpa = on
            if b.cross is not None:
                b.cross.sdpa = on
        return self

    def project_add(self, features: torch.Tensor) -> torch.Tensor:
        """Per-position features (B, T, d_add_in) -> the ``x_add`` (B, T, d_model) of :meth:`forward` (a linear map,
        no bias: all-zero features, e.g. a dropped melody, add nothing)."""
        if self.add_in is None:
            raise ValueError("this model takes no per-position input (d_add_in=None): it was not trained with one")
        if features.dim() != 3 or features.shape[-1] != self.config.d_add_in:
            raise ValueError(f"features must have shape (B, T, d_add_in={self.config.d_add_in}), got "
                             f"{tuple(features.shape)}")
        return self.add_in(features.to(self.add_in.weight.dtype))

    # --- the condition ------------------------------------------------------------------------------------
    def condition(self, cond: torch.Tensor | None, cond_mask: torch.Tensor | None, batch_size: int):
        """The sequence cross-attention reads: the learned null slot, then the projected condition.

        Args:
            cond: (B, S, d_cond) float, or None (unconditional: the null slot alone).
            cond_mask: (B, S) bool, True on padding positions of ``cond`` (variable-length conditions), or None.
            batch_size: B (checked against ``cond``).

        Returns:
            ``(c, hide)``: c (B, 1 + S, C), hide (B, 1 + S) bool (True = padding; the null slot is never hidden).
        """
        if self.cond_proj is None:
            raise ValueError("this model has no cross-attention (d_cond=0): do not pass cond / cond_mask")
        null = self.null_cond.expand(batch_size, 1, -1)  # (B, 1, C)
        if cond is None:
            if cond_mask is not None:
                raise ValueError("cond_mask was given without cond")
            return null, torch.zeros(batch_size, 1, dtype=torch.bool, device=null.device)
        if cond.dim() != 3 or cond.shape[0] != batch_size or cond.shape[2] != self.config.d_cond:
            raise ValueError(
                f"cond must have shape (B={batch_size}, S, d_cond={self.config.d_cond}), got {tuple(cond.shape)}"
            )
        B, S, _ = cond.shape
        if cond_mask is None:
            cond_mask = torch.zeros(B, S, dtype=torch.bool, device=cond.device)
        if cond_mask.shape != (B, S) or cond_mask.dtype != torch.bool:
            raise ValueError(
                f"cond_mask must be a bool tensor of shape {(B, S)}, got {cond_mask.dtype} {tuple(cond_mask.shape)}"
            )
        c = torch.cat([null, self.cond_proj(cond)], dim=1)  # (B, 1 + S, C)
        hide = torch.cat([torch.zeros(B, 1, dtype=torch.bool, device=cond.device), cond_mask], dim=1)  # (B, 1 + S)
        return c, hide

    def start_cache(self, cond=None, cond_mask=None, batch_size: int = 1) -> Cache:
        """An empty cache holding the condition's keys and values for every layer (computed here, once)."""
        if self.cond_proj is None:
            if cond is not None or cond_mask is not None:
                self.condition(cond, cond_mask, batch_size)  # raises
            return Cache(kv=[None] * len(self.blocks))
        c, hide = self.condition(cond, cond_mask, batch_size)
        return Cache(kv=[None] * len(self.blocks), cross=[b.cross.keys_values(c) for b in self.blocks], hide=hide)

    # --- forward ------------------------------------------------------------------------------------------
    def forward(
        self,
        idx: torch.Tensor,
        cond: torch.Tensor | None = None,
        cond_mask: torch.Tensor | None = None,
        past: Cache | None = None,
        use_cache: bool = False,
        x_add: torch.Tensor | None = None,
    ):
        """Logits for every position of ``idx``.

        Args:
            idx: (B, K, T) int64 token ids (or (B, T) when K = 1), following the ``past`` tokens if a cache is given.
            cond: (B, S, d_cond) conditioning sequence (models with ``d_cond > 0``), or None for the null condition.
                Ignored (must be None) when ``past`` holds the condition already.
            cond_mask: (B, S) bool, True on padding positions of ``cond``.
            past: a :class:`Cache` from a previous call or :meth:`start_cache`, or None.
            use_cache: also return the updated cache.
            x_add: (B, T, d_model) added to the token embeddings of the T positions of ``idx`` (after a cache: of
                the new positions only), or None. Jukebox's upsamplers add the upsampled codes of the level above
                to their input this way (Dhariwal et al. 2020, Sec. 4; used in notebook 04 via ``helpers.jukebox``).

        Returns:
            logits (B, K, T, V) (or (B, T, V) for a (B, T) input), or (logits, cache) if ``use_cache``.
        """
        K, V = self.config.n_streams, self.config.vocab_size
        single = idx.dim() == 2 and K == 1
        if single:
            idx = idx[:, None]  # (B, 1, T)
        if idx.dim() != 3 or idx.shape[1] != K:
            form = " or (B, T)" if K == 1 else ""
            raise ValueError(f"idx must have shape (B, K={K}, T){form}, got {tuple(idx.shape)}")
        B, _, T = idx.shape
        offset = 0 if past is None else past.length
        if offset == 0 and (int(idx.max()) >= V or int(idx.min()) < 0):  # checked once, not per generated token
            raise ValueError(f"token ids must lie in 0..{V - 1}, got {int(idx.min())}..{int(idx.max())}")
        rows = idx + torch.arange(K, device=idx.device)[:, None] * V  # (B, K, T): row of stream k's table
        x = self.tok(rows).sum(1)  # (B, K, T, C) -> (B, T, C): the K embeddings of a step, summed
        if x_add is not None:
            if x_add.shape != x.shape:
                raise ValueError(f"x_add must have shape (B, T, d_model) = {tuple(x.shape)}, got {tuple(x_add.shape)}")
            x = x + x_add  # (B, T, C): a per-position input added to the embeddings (Jukebox's upsampler condition)
        if self.pos is not None:
            if offset + T > self.config.max_len:
                raise ValueError(
                    f"an absolute-position model sees at most max_len={self.config.max_len} tokens, "
                    f"got {offset + T}; use a sliding window (generate does)"
                )
            x = x + self.pos(torch.arange(offset, offset + T, device=idx.device))  # (B, T, C)
        x = self.drop(x)
        if past is not None and past.cross is not None:  # the condition's keys/values, computed once
            if cond is not None or cond_mask is not None:
                raise ValueError("the cache holds the condition already: pass cond only to start_cache")
            cross, hide = past.cross, past.hide
        elif self.cond_proj is not None:
            c, hide = self.condition(cond, cond_mask, B)  # (B, 1 + S, C), (B, 1 + S)
            cross = [b.cross.keys_values(c) for b in self.blocks]  # per layer 2 x (B, H, 1 + S, D)
        else:
            if cond is not None or cond_mask is not None:
                self.condition(cond, cond_mask, B)  # raises: no cross-attention
            cross, hide = [None] * len(self.blocks), None
        present = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if past is None else past.kv[i], cross[i], hide)  # (B, T, C)
            present.append(kv)
        logits = self.head(self.ln_f(x))  # (B, T, K * V)
        logits = logits.view(B, T, K, V).transpose(1, 2)  # (B, K, T, V)
        if single:
            logits = logits[:, 0]  # (B, T, V)
        if not use_cache:
            return logits
        return logits, Cache(present, cross if self.cond_proj is not None else None, hide)

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor, **kwargs) -> list[torch.Tensor]:
        """Self-attention weights of every layer for ``idx``: a list of (B, H, T, T) tensors (eval mode)."""
        for b in self.blocks:
            b.attn.keep_weights = True
        try:
            with evaluating(self):
                self(idx, **kwargs)
            return [b.attn.last_weights for b in self.blocks]
        finally:
            for b in self.blocks:
                b.attn.keep_weights, b.attn.last_weights = False, None


# --- losses and evaluation ----------------------------------------------------------------------------------
def next_token_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats/token) of predicting ``batch[:, 1:]`` from ``batch[:, :-1]``.

    The ``loss_fn`` handed to :func:`helpers.training.train` for one token stream (notebook 03).

    Args:
        batch: (B, T+1) token ids.
    """
    logits = model(batch[:, :-1])  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


def stream_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """Cross-entropy (nats) of each of K token streams: logits (B, K, T, V), targets (B, K, T) -> (K,).

    Stream k's value is the mean over its targets that are not ``ignore_index`` (a stream whose targets are all
    ignored gives NaN). :func:`helpers.musicgen.musicgen_loss` averages them over the streams and reports each one.

    Reference: Copet et al. 2023, Sec. 2.2 (one loss per codebook, averaged).
    """
    if logits.dim() != 4 or targets.shape != logits.shape[:3]:
        raise ValueError(f"stream_cross_entropy: logits (B, K, T, V) and targets (B, K, T), got "
                         f"{tuple(logits.shape)} and {tuple(targets.shape)}")
    V = logits.shape[-1]
    return torch.stack([F.cross_entropy(logits[:, k].reshape(-1, V), targets[:, k].reshape(-1), ignore_index=ignore_index)
                        for k in range(logits.shape[1])])  # (K,)


def drop_condition(cond: torch.Tensor, cond_mask: torch.Tensor | None, p: float, generator: torch.Generator):
    """Condition dropout for classifier-free guidance: each example loses its whole condition with probability ``p``.

    A dropped example's ``cond`` becomes zeros and its ``cond_mask`` all True (every position is padding), so the
    model sees only its null slot: the same input as the unconditional half of :func:`generate` with guidance
    (:func:`guidance_condition`). The MusicGen LM's training batches drop this way
    (:func:`helpers.musicgen.caption_batches`); audiocraft drops whole batches instead, the same in expectation.

    Args:
        cond: (B, S, d_cond); cond_mask: (B, S) bool (True = padding) or None.
        p: probability of dropping an example's condition, in [0, 1].
        generator: draws which examples are dropped (same seed, same drops); on ``cond``'s device.

    Returns:
        ``(cond, cond_mask)``, new tensors.

    Notebook: 05 (MusicGen). Reference: Ho & Salimans 2022, Sec. 3.2; Copet et al. 2023, Sec. 2.3.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop_condition: p must lie in [0, 1], got {p}")
    B, S, _ = cond.shape
    if cond_mask is None:
        cond_mask = torch.zeros(B, S, dtype=torch.bool, device=cond.device)
    drop = torch.rand(B, generator=generator, device=cond.device) < p  # (B,)
    return cond.masked_fill(drop[:, None, None], 0.0), cond_mask | drop[:, None]


@torch.no_grad()
@in_eval_mode
def sequence_nll(model: MusicTransformer, tokens, stride: int | None = None, device="cpu") -> torch.Tensor:
    """Negative log-likelihood (nats) of every token of one sequence after the first.

    Pieces longer than ``max_len`` are scored with a sliding window: each window of ``max_len`` tokens scores only
    its last ``stride`` tokens (the first window scores all), so every token has at least
    ``max_len - stride`` tokens of context (or all of them near the start).

    Args:
        tokens: 1-D sequence of ids (list, array or tensor), length N >= 2.
        stride: window step (default ``max_len // 2``); the windows start at multiples of ``stride``.

    Returns:
        float tensor (N - 1,): entry t is ``-log p(tokens[t+1] | tokens[..t])``; the model's mode is left as it was.
    """
    x = torch.as_tensor(tokens, dtype=torch.long, device=device).flatten()  # (N,)
    N, W = len(x), model.config.max_len
    if N < 2:
        raise ValueError(f"sequence_nll needs at least 2 tokens, got {N}")
    stride = stride or W // 2
    if not 0 < stride <= W:
        raise ValueError(f"stride must lie in 1..max_len={W}, got {stride}")
    out = torch.empty(N - 1)
    start, done = 0, 0  # tokens x[1..done] are scored
    while done < N - 1:
        window = x[start : start + W + 1]  # (<= W+1,)
        logits = model(window[None, :-1])[0]  # (w, V)
        nll = F.cross_entropy(logits, window[1:], reduction="none")  # (w,)
        first = done - start  # skip targets already scored
        out[done : start + len(nll)] = nll[first:].float().cpu()
        done = start + len(nll)
        start += stride
    return out


# --- sampling ---------------------------------------------------------------------------------------------
def filter_top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row, set the others to -inf (``k`` None or 0: keep all)."""
    if not k or k >= logits.shape[-1]:
        return logits
    if k < 0:
        raise ValueError(f"top_k must be >= 0, got {k}")
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


def filter_top_p(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Nucleus filter: keep the smallest set of most likely tokens whose probability mass is >= ``p``.

    Reference: Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration".
    """
    if p is None or p >= 1.0:
        return logits
    if not 0.0 < p:
        raise ValueError(f"top_p must lie in (0, 1], got {p}")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
    probs = torch.softmax(sorted_logits, dim=-1)  # (..., V)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # mass of the more likely tokens
    drop_sorted = mass_before >= p  # already reached p without this token
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sample_next_token(
    logits: torch.Tensor,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    guidance_scale: float | None = None,
    banned: torch.Tensor | None = None,
) -> torch.Tensor:
    """One sampling step, the same for every decoder of the course (:func:`generate`, the Jukebox priors through it,
    and :func:`helpers.musicgen.sample_codes`): guidance, banned tokens, temperature, top-k, top-p, one draw.

    1. Classifier-free guidance (``guidance_scale`` not None): ``logits`` hold the conditional rows, then the
       unconditional rows (:func:`guidance_condition`); the next-token logits are
       ``uncond + (cond - uncond) * guidance_scale`` (audiocraft's ``lm.py``), with ``torch.lerp``, exact at 0 (the
       unconditional model) and 1 (the conditional one). Greater than 1 sharpens towards the condition.
    2. ``banned`` token ids get logit -inf before anything else, so the others keep their relative probabilities
       (a prior's label tokens, MusicGen's special token where a code belongs).
    3. ``temperature == 0``: greedy (argmax); else logits / temperature, :func:`filter_top_k`, :func:`filter_top_p`,
       and one draw per row from the softmax with ``generator``.

    Args:
        logits: (..., V), or (2B, ...) with guidance.
        generator: a ``torch.Generator`` on the logits' device (``torch.Generator(device='cuda')`` for a GPU model).
        banned: (n,) int64 token ids on the logits' device, or None.

    Returns:
        (...) int64 token ids on the logits' device ((B, ...) with guidance).

    Reference: Ho & Salimans 2022, Sec. 3.2 (guidance); Holtzman et al. 2020 (top-p); audiocraft's
    ``LMModel._sample_next_token``.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if guidance_scale is not None:
        cond_logits, uncond_logits = logits.chunk(2)  # 2 x (B, ..., V)
        logits = torch.lerp(uncond_logits, cond_logits, float(guidance_scale))  # (B, ..., V)
    if banned is not None:
        logits = logits.index_fill(-1, banned, float("-inf"))  # banned tokens get no mass
    if temperature == 0:
        return logits.argmax(-1)
    if generator.device.type != logits.device.type:
        raise ValueError(
            f"the generator is on {generator.device} but the logits are on {logits.device}: "
            f"pass torch.Generator(device={str(logits.device)!r}) so that sampling stays on the device"
        )
    logits = filter_top_p(filter_top_k(logits.float() / temperature, top_k), top_p)  # (..., V)
    probs = torch.softmax(logits, dim=-1).reshape(-1, logits.shape[-1])  # (N, V)
    return torch.multinomial(probs, 1, generator=generator).view(logits.shape[:-1])  # (...)


def banned_ids(banned: Sequence[int] | None, vocab_size: int, device) -> torch.Tensor | None:
    """``banned`` token ids as a (n,) int64 tensor on ``device`` for :func:`sample_next_token`, checked: every id in
    0..V-1, and not all V of them (something must be left to sample). None stays None."""
    if banned is None:
        return None
    ban = torch.as_tensor(list(banned), dtype=torch.long, device=device).flatten()  # (n,)
    if ban.numel() and (int(ban.min()) < 0 or int(ban.max()) >= vocab_size):
        raise ValueError(f"banned token ids must lie in 0..{vocab_size - 1}, got {ban.tolist()}")
    if len(set(ban.tolist())) >= vocab_size:
        raise ValueError(f"banned holds all {vocab_size} token ids of the vocabulary: nothing is left to sample")
    return ban


@torch.no_grad()
def guidance_condition(cond: torch.Tensor | None, cond_mask: torch.Tensor | None):
    """The condition for a classifier-free-guidance batch: the conditional half, then the null half.

    ``(B, S, d_cond)`` -> ``(2B, S, d_cond)`` with zeros in the second half, and a mask ``(2B, S)`` whose second half is
    all padding (only the learned null slot stays visible: what :func:`drop_condition` trains).
    Reference: Ho & Salimans 2022; audiocraft's ``lm.py``.
    """
    if cond is None:
        raise ValueError("guidance_scale needs a cond (the unconditional half uses the null condition)")
    if cond_mask is None:
        cond_mask = torch.zeros(cond.shape[:2], dtype=torch.bool, device=cond.device)
    cond = torch.cat([cond, torch.zeros_like(cond)])  # (2B, S, d_cond): conditional half, then null half
    cond_mask = torch.cat([cond_mask, torch.ones_like(cond_mask)])  # (2B, S): the null half is all padding
    return cond, cond_mask


ONE_THREAD_ROWS = 8
"""On a CPU, decoding steps of at most this many rows (the batch, doubled under guidance) run on one intra-op thread
(:func:`decoding_threads`). 0 turns the rule off (every step uses ``torch.get_num_threads()``)."""


@contextlib.contextmanager
def decoding_threads(rows: int, device):
    """``with decoding_threads(rows, device):`` one intra-op thread inside when the steps are small, the caller's
    thread count restored afterwards (even after an error).

    A decoding step of a small batch is a hundred small operations (tens of microseconds each on one core). With two
    threads each operation pays for handing half of it to the other thread and waiting for it at the end; with
    ``OMP_WAIT_POLICY=PASSIVE`` (the notebooks' setting, which keeps idle threads from spinning on a busy machine) that
    costs more than the second core gives back. ``tests/benchmarks/bench_musicgen.py`` prints it side by side (the
    shipped MusicGen LM, guidance 3, 200 frames, the course's 2-core machine, quiet, 6 December 2026): with the passive
    policy, batch 1 (2 rows) 270 steps/s with this rule against 127 on two threads, batch 16 (32 rows, two threads
    either way) 53 and 53; a one-off run over batch sizes, 8 rows: about 150 against 90. Without the passive policy
    the idle thread spins, and on a quiet machine two threads win at batch 1 (385 against 304 steps/s), but lose
    badly once other work holds the other core (``tests/benchmarks/bench_threads.py``). Hence one thread up to
    :data:`ONE_THREAD_ROWS` rows, on CPU only (a GPU's work is not split by these threads); training and batched
    scoring are untouched.

    Notebook: 03, 04, 05 (every sampler goes through :func:`generate` or :func:`helpers.musicgen.sample_codes`).
    Reference: PyTorch's CPU threading notes (``torch.set_num_threads``); the OpenMP specification, ``OMP_WAIT_POLICY``.
    """
    before = torch.get_num_threads()
    small = torch.device(device).type == "cpu" and 0 < rows <= ONE_THREAD_ROWS and before > 1
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if small:
            torch.set_num_threads(before)


def _as_streams(prompt, K: int, device) -> tuple[torch.Tensor, bool, bool]:
    """A prompt of any accepted shape -> ``(x, unbatched, flat)``: x (B, K, T0) int64 on ``device``, and how to give
    the result the prompt's shape again (``unbatched``: no batch axis; ``flat``: K = 1 without a stream axis)."""
    x = torch.as_tensor(prompt, dtype=torch.long, device=device)
    unbatched = x.dim() == (1 if K == 1 else 2)
    x = x[None] if unbatched else x
    flat = K == 1 and x.dim() == 2
    x = x[:, None] if flat else x  # (B, K, T0)
    if x.dim() != 3 or x.shape[1] != K:
        raise ValueError(f"prompt must have shape (B, K={K}, T0) or (K, T0){' or (B, T0) or (T0,)' if K == 1 else ''}")
    if x.shape[-1] < 1:
        raise ValueError("generate needs a prompt of at least one step")
    return x, unbatched, flat


def _window_start(n: int, length: int, align: int) -> int:
    """First position of a window of at most ``length`` tokens ending at ``n``, rounded up to a multiple of ``align``."""
    start = max(0, n - length)
    return start + (-start) % align


def _positions(x_add: torch.Tensor | None, a: int, b: int) -> torch.Tensor | None:
    """The extra input of absolute positions a..b-1, (B, b - a, C), or None."""
    return None if x_add is None else x_add[:, a:b]


@torch.no_grad()  # no autograd graph: with the cache it would link every step (gigabytes over a long sample)
@in_eval_mode  # sampling runs in eval mode (no dropout); the model's mode is restored afterwards
def generate(
    model: MusicTransformer,
    prompt,
    n_new: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    align: int = 1,
    cond: torch.Tensor | None = None,
    cond_mask: torch.Tensor | None = None,
    guidance_scale: float | None = None,
    x_add: torch.Tensor | None = None,
    banned: Sequence[int] | None = None,
    x_add_null: torch.Tensor | None = None,
) -> torch.Tensor:
    """Continue ``prompt`` by ``n_new`` sampled steps (one token per stream per step).

    The loop of nanoGPT's ``generate``, with four additions, each in its own place:

    - **cache** (``use_cache``): the first step reads the whole window and fills every layer's keys and values; each
      later step feeds only the newest step (its relative term is computed for the new query row only). The
      condition's keys and values are computed once, before the first step (:meth:`MusicTransformer.start_cache`).
      Without the cache each step recomputes the whole window and the condition.
    - **sliding window**: when the context outgrows ``max_len``, the model restarts from the last ``max_len // 2``
      steps (shifted so the kept part starts at a multiple of ``align``, e.g. 4 to keep the chorale grid's soprano
      first), and the cache is rebuilt from them.
    - **guidance** (``guidance_scale`` not None; Ho & Salimans 2022, Copet et al. 2023 Sec. 2.3): the batch is
      doubled once, the first half with ``cond``, the second with the null condition (:func:`guidance_condition`),
      both in one forward pass; :func:`sample_next_token` combines the two halves' logits. A condition carried by
      the extra inputs instead (a label-conditioned upsampler) guides the same way: ``x_add`` in the first half,
      ``x_add_null`` (the same input with the null label) in the second.
    - **extra inputs** (``x_add``): the per-position input added to the embedding of the token at each absolute
      position (Jukebox's upsampler condition); position t's slice goes in with token t, with or without the cache
      and across window slides.

    Args:
        prompt: (T0,) or (B, T0) token ids when K = 1; (K, T0) or (B, K, T0) for K streams; T0 >= 1 (a caller may
            start every stream with a special token id of its vocabulary).
        n_new: number of steps to add.
        generator: a ``torch.Generator`` on the model's device; the same seed gives the same tokens.
        temperature, top_k, top_p: see :func:`sample_next_token`; applied to every stream.
        align: window starts are kept on multiples of this (in absolute step positions).
        cond: (B, S, d_cond) conditioning sequence (models with ``d_cond > 0``), on any device (moved to the
            model's); None: unconditional (null slot).
        cond_mask: (B, S) bool, True on padding positions of ``cond``.
        guidance_scale: None (no guidance: one pass with ``cond`` as given), or the guidance coefficient
            (0: unconditional, 1: conditional, e.g. 3: MusicGen's default); needs ``cond`` or ``x_add_null``.
        x_add: (B, T0 + n_new - 1, d_model) or longer, or None (see :meth:`MusicTransformer.forward`).
        x_add_null: with ``guidance_scale``, the extra inputs of the unconditional half (``x_add``'s shape).
        banned: token ids that are never sampled (e.g. a prior's label or start tokens, which the model may predict
            but which are not codes): :func:`sample_next_token` sets their logits to -inf first. Mapping a sampled
            banned token to a code afterwards would give that code the banned tokens' mass.

    Returns:
        int64 tensor shaped like the prompt with ``n_new`` more steps: (B, T0 + n_new), (B, K, T0 + n_new), ...

    Notebook: 03_music_transformer.ipynb, 04 (Jukebox priors), 05 (MusicGen).
    Reference: nanoGPT's ``GPT.generate`` (Karpathy); Huang et al. 2018, Sec. 3.4.1 (relative attention with a
    cache); Ho & Salimans 2022; Dhariwal et al. 2020, Sec. 4 (upsampler conditioning).
    """
    device = next(model.parameters()).device
    cfg = model.config
    x, unbatched, flat = _as_streams(prompt, cfg.n_streams, device)  # (B, K, T0)
    B, T0 = x.shape[0], x.shape[-1]
    if x_add is not None:
        need = (B, T0 + n_new - 1, cfg.d_model)
        if x_add.dim() != 3 or x_add.shape[0] != B or x_add.shape[1] < need[1] or x_add.shape[2] != need[2]:
            raise ValueError(f"x_add must have shape (B, >= T0 + n_new - 1, d_model) = {need}, got {tuple(x_add.shape)}")
        x_add = x_add.to(device)
    cond = None if cond is None else cond.to(device)  # the condition's encoder may live on another device
    cond_mask = None if cond_mask is None else cond_mask.to(device)
    ban = banned_ids(banned, cfg.vocab_size, device)

    guided = guidance_scale is not None
    if x_add_null is not None and (not guided or x_add is None or x_add_null.shape != x_add.shape):
        raise ValueError("x_add_null goes with guidance_scale and an x_add of the same shape "
                         f"(got {None if x_add is None else tuple(x_add.shape)} and {tuple(x_add_null.shape)})")
    if guided:  # one batch of 2B rows from here on: the same tokens under the condition, then under the null one
        if x_add_null is None or cond is not None:  # a cross-attention condition (with or without x_add)
            cond, cond_mask = guidance_condition(cond, cond_mask)
        x = torch.cat([x, x])  # (2B, K, T0)
        if x_add is not None:
            x_add = torch.cat([x_add, x_add if x_add_null is None else x_add_null.to(device)])

    W = cfg.max_len
    start = _window_start(T0, W, align)  # absolute position of the window's first step
    empty = model.start_cache(cond, cond_mask, len(x)) if use_cache else None  # the condition's keys/values, once
    cache = None  # no keys/values yet: the next step reads the whole window
    with decoding_threads(len(x), device):  # small steps: one CPU thread (faster, see its docstring)
        for _ in range(n_new):
            T = x.shape[-1]
            if T - start > W:  # the window is full: slide it, rebuild the cache from what it keeps
                start, cache = _window_start(T, max(W // 2, 1), align), None
            if not use_cache:  # the whole window, the condition too, every step
                logits = model(x[..., start:], cond=cond, cond_mask=cond_mask, x_add=_positions(x_add, start, T))
            else:  # prefill the window once, then the newest step only
                first = start if cache is None else T - 1
                logits, cache = model(x[..., first:], past=empty if cache is None else cache, use_cache=True,
                                      x_add=_positions(x_add, first, T))
            nxt = sample_next_token(logits[..., -1, :], generator, temperature, top_k, top_p, guidance_scale, ban)
            nxt = torch.cat([nxt, nxt]) if guided else nxt  # (2B|B, K): both halves go on with the same token
            x = torch.cat([x, nxt[..., None]], dim=-1)  # (2B|B, K, T + 1)

    x = x[:B, 0] if flat else x[:B]
    return x[0] if unbatched else x


# --- checkpoints ------------------------------------------------------------------------------------------
def save_checkpoint(model: MusicTransformer, path, half: bool = True, extra: dict | None = None) -> Path:
    """Save weights (float16 if ``half``) with the config dict; plain tensors and dicts only (weights-only loadable).

    Args:
        extra: small JSON-like metadata to store with it (training command, seed, validation NLL, ...).
    """
    return save_weights(model, path, config=model.config.to_dict(), half=half, extra=extra)


def load_checkpoint(path, model: MusicTransformer | None = None, device="cpu") -> MusicTransformer:
    """Load a checkpoint written by :func:`save_checkpoint` (``torch.load(..., weights_only=True)``).

    Args:
        path: the ``.pt`` file.
        model: load into this model; its config must equal the checkpoint's, else ValueError naming both.
            If None, a new model is built from the saved config.

    Returns:
        the model, in eval mode, weights in float32.
    """
    ckpt = read_checkpoint(path)
    saved = MusicTransformerConfig.from_dict(ckpt["config"])  # fields added since the file was saved: defaults
    ckpt = dict(ckpt, config=saved.to_dict())
    if model is None:
        model = MusicTransformer(saved)
    load_weights(model, path, config=model.config.to_dict(), ckpt=ckpt)
    return model.to(device).eval()
