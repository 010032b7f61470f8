"""The Music Transformer: a decoder-only transformer with relative attention, a key/value cache and sampling.

One readable module in the style of nanoGPT's ``model.py``:

- :class:`MusicTransformerConfig` — every size and switch, saved next to the weights in a checkpoint;
  ``position='relative'`` (Huang et al.) or ``'absolute'`` (learned position embeddings, the baseline), so the two
  can be compared with everything else equal.
- :class:`MusicTransformer` — token embedding, pre-norm blocks (LayerNorm -> attention -> residual,
  LayerNorm -> MLP -> residual), final LayerNorm, output head tied to the embedding.
- :func:`generate` — incremental decoding with a key/value cache (the relative term of each new query is
  computed against the cache, see ``helpers.attention.relative_logits_gather``), temperature / top-k / top-p
  sampling from a caller's ``torch.Generator``, and a sliding window to generate past ``max_len``.
- :func:`sequence_nll` — per-token negative log-likelihood of a whole piece, with a sliding window for long pieces.
- :func:`save_checkpoint` / :func:`load_checkpoint` — weights-only files (``torch.load(weights_only=True)``).

Notebook: 03_music_transformer.ipynb
Reference: Huang et al. 2018, "Music Transformer" (arXiv:1809.04281); Vaswani et al. 2017; nanoGPT (Karpathy).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import RelativeSelfAttention

POSITIONS = ("relative", "absolute")


@dataclass(frozen=True)
class MusicTransformerConfig:
    """Sizes and switches of a :class:`MusicTransformer`.

    Attributes:
        vocab_size: number of token ids.
        n_layer, n_head, d_model, d_ff: depth, heads, width, MLP hidden width.
        dropout: dropout on embeddings, attention weights, attention output and MLP output.
        max_len: training window (the longest sequence the model sees in one forward pass without the cache;
            absolute models cannot go further, relative ones can but are trained up to here).
        max_rel: number of relative distances with their own embedding (longer ones are clipped).
        position: ``'relative'`` or ``'absolute'``.
        rel_per_head: one relative table per head instead of one shared by the heads of a layer.
    """

    vocab_size: int
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 128
    d_ff: int = 512
    dropout: float = 0.1
    max_len: int = 256
    max_rel: int = 256
    position: str = "relative"
    rel_per_head: bool = False

    def __post_init__(self):
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_head={self.n_head}")
        for name in ("vocab_size", "n_layer", "n_head", "d_model", "d_ff", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.position == "relative" and self.max_rel < 1:
            raise ValueError(f"a relative model needs max_rel >= 1, got {self.max_rel}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MusicTransformerConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown MusicTransformerConfig fields {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def tiny(cls, vocab_size: int = 20, position: str = "relative", **changes) -> "MusicTransformerConfig":
        """A configuration small enough for unit tests (a few thousand parameters)."""
        base = dict(n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.0, max_len=32, max_rel=8)
        base.update(changes)
        return cls(vocab_size=vocab_size, position=position, **base)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``."""

    def __init__(self, cfg: MusicTransformerConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = RelativeSelfAttention(
            cfg.d_model,
            cfg.n_head,
            max_rel=cfg.max_rel if cfg.position == "relative" else 0,
            rel_per_head=cfg.rel_per_head,
            dropout=cfg.dropout,
        )
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model), nn.Dropout(cfg.dropout)
        )

    def forward(self, x, past=None):
        a, present = self.attn(self.ln1(x), past)  # (B, T, C)
        x = x + a
        x = x + self.mlp(self.ln2(x))  # (B, T, C)
        return x, present


class MusicTransformer(nn.Module):
    """Decoder-only transformer over token ids (relative or absolute positions).

    ``model(idx)`` gives logits (B, T, V); ``model(idx, past=cache, use_cache=True)`` gives
    ``(logits, new_cache)`` where the cache is a list with one ``(keys, values)`` pair per layer.

    Notebook: 03_music_transformer.ipynb
    Reference: Huang et al. 2018; the block layout follows GPT-2 / nanoGPT (pre-norm).
    """

    def __init__(self, config: MusicTransformerConfig):
        super().__init__()
        self.config = config
        self.tok = nn.Embedding(config.vocab_size, config.d_model)
        self.pos = nn.Embedding(config.max_len, config.d_model) if config.position == "absolute" else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.tok.weight  # weight tying
        self.apply(self._init)

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

    def forward(self, idx: torch.Tensor, past: list | None = None, use_cache: bool = False):
        """Logits for every position of ``idx``.

        Args:
            idx: (B, T) int64 token ids, following the ``past`` tokens if a cache is given.
            past: cache from a previous call (list of per-layer (keys, values)), or None.
            use_cache: also return the updated cache.

        Returns:
            logits (B, T, V), or (logits, cache) if ``use_cache``.
        """
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (B, T), got {tuple(idx.shape)}")
        B, T = idx.shape
        offset = 0 if past is None else past[0][0].shape[2]
        if int(idx.max()) >= self.config.vocab_size or int(idx.min()) < 0:
            raise ValueError(f"token ids must lie in 0..{self.config.vocab_size - 1}, got {int(idx.min())}..{int(idx.max())}")
        x = self.tok(idx)  # (B, T, C)
        if self.pos is not None:
            if offset + T > self.config.max_len:
                raise ValueError(
                    f"an absolute-position model sees at most max_len={self.config.max_len} tokens, "
                    f"got {offset + T}; use a sliding window (generate does)"
                )
            x = x + self.pos(torch.arange(offset, offset + T, device=idx.device))  # (B, T, C)
        x = self.drop(x)
        present = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if past is None else past[i])  # (B, T, C)
            present.append(kv)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        return (logits, present) if use_cache else logits

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Attention weights of every layer for ``idx``: a list of (B, H, T, T) tensors (eval mode)."""
        was_training = self.training
        self.eval()
        for b in self.blocks:
            b.attn.keep_weights = True
        try:
            self(idx)
            return [b.attn.last_weights for b in self.blocks]
        finally:
            for b in self.blocks:
                b.attn.keep_weights, b.attn.last_weights = False, None
            self.train(was_training)


# --- loss and evaluation ------------------------------------------------------------------------------------
def next_token_loss(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats/token) of predicting ``batch[:, 1:]`` from ``batch[:, :-1]``.

    The ``loss_fn`` handed to :func:`helpers.training.train`.

    Args:
        batch: (B, T+1) token ids.
    """
    logits = model(batch[:, :-1])  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))


@torch.no_grad()
def sequence_nll(model: MusicTransformer, tokens, stride: int | None = None, device="cpu") -> torch.Tensor:
    """Negative log-likelihood (nats) of every token of one sequence after the first.

    Pieces longer than ``max_len`` are scored with a sliding window: each window of ``max_len`` tokens scores only
    its last ``stride`` tokens (the first window scores all), so every token has at least
    ``max_len - stride`` tokens of context (or all of them near the start).

    Args:
        tokens: 1-D sequence of ids (list, array or tensor), length N >= 2.
        stride: window step (default ``max_len // 2``); the windows start at multiples of ``stride``.

    Returns:
        float tensor (N - 1,): entry t is ``-log p(tokens[t+1] | tokens[..t])``.
    """
    model.eval()
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


def sample_next(
    logits: torch.Tensor,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Draw one token per row from ``logits`` (B, V). ``temperature == 0`` means greedy (argmax).

    Returns:
        (B,) int64.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if temperature == 0:
        return logits.argmax(-1)
    logits = filter_top_p(filter_top_k(logits.float() / temperature, top_k), top_p)  # (B, V)
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)  # (B,)


def _window_start(n: int, length: int, align: int) -> int:
    """First position of a window of at most ``length`` tokens ending at ``n``, rounded up to a multiple of ``align``."""
    start = max(0, n - length)
    return start + (-start) % align


@torch.no_grad()
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
) -> torch.Tensor:
    """Continue ``prompt`` by ``n_new`` sampled tokens.

    With ``use_cache`` each step feeds only the newest token and reuses every layer's keys and values (and the
    relative term is computed for the new query row only). Without it each step recomputes the whole window.
    When the context reaches ``max_len``, the window slides: the model restarts from the last ``max_len // 2``
    tokens (shifted so the kept part starts at a multiple of ``align``, e.g. 4 to keep the chorale grid's
    soprano first), and the cache is rebuilt from them.

    Args:
        prompt: (T0,) or (B, T0) token ids, T0 >= 1.
        n_new: number of tokens to add.
        generator: a ``torch.Generator``; the same seed gives the same tokens.
        temperature, top_k, top_p: see :func:`sample_next`.
        align: window starts are kept on multiples of this (in absolute token positions).

    Returns:
        (B, T0 + n_new) int64 (or (T0 + n_new,) for a 1-D prompt).
    """
    model.eval()
    device = next(model.parameters()).device
    x = torch.as_tensor(prompt, dtype=torch.long, device=device)
    squeeze = x.dim() == 1
    x = x[None] if squeeze else x  # (B, T0)
    if x.shape[1] < 1:
        raise ValueError("generate needs a prompt of at least one token")
    W = model.config.max_len
    start = _window_start(x.shape[1], W, align)  # absolute position of the window's first token
    cache = None
    for _ in range(n_new):
        if x.shape[1] - start > W:  # the window is full: slide it, rebuild the cache
            start, cache = _window_start(x.shape[1], max(W // 2, 1), align), None
        if not use_cache:
            logits = model(x[:, start:])  # (B, T, V): recompute everything
        elif cache is None:
            logits, cache = model(x[:, start:], use_cache=True)  # prefill
        else:
            logits, cache = model(x[:, -1:], past=cache, use_cache=True)  # (B, 1, V): one new token
        nxt = sample_next(logits[:, -1], generator, temperature, top_k, top_p)  # (B,)
        x = torch.cat([x, nxt[:, None]], dim=1)  # (B, T+1)
    return x[0] if squeeze else x


# --- checkpoints ------------------------------------------------------------------------------------------
def save_checkpoint(model: MusicTransformer, path, half: bool = True, extra: dict | None = None) -> Path:
    """Save weights (float16 if ``half``) with the config dict; plain tensors and dicts only (weights-only loadable).

    Args:
        extra: small JSON-like metadata to store with it (training command, seed, validation NLL, ...).
    """
    from .training import save_weights

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
    from .training import load_weights, read_checkpoint

    ckpt = read_checkpoint(path)
    if model is None:
        model = MusicTransformer(MusicTransformerConfig.from_dict(ckpt["config"]))
    load_weights(model, path, config=model.config.to_dict(), ckpt=ckpt)
    return model.to(device).eval()
