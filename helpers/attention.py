"""Relative self-attention, twice: the plain O(L²·D) form and the memory-efficient "skewing" form.

In relative attention the logit of query ``i`` for key ``j`` gets an extra term ``q_i · E[i - j]``: a learned
vector for the *distance* between the two tokens rather than for their absolute positions (Shaw et al. 2018).

- ``relative_logits_plain`` does what the lesson's code does: gather an (L, L, D) tensor holding ``E[i - j]`` for
  every pair, then contract it with the queries. Extra memory O(L²·D): 1 GiB at L = 2048, D = 64 in float32.
- ``relative_logits_skewed`` is Huang et al.'s trick: multiply the queries by the L embeddings once
  (``Q · Erᵀ``, shape (L, L)), then *skew* the result (pad a column, reshape, drop a row) so that entry
  (i, j) lands on distance i - j. Beyond the (L, L) logits, which any attention computes, it needs only
  O(L·D) extra memory.
- ``relative_logits_gather`` is the form used with a key/value cache: ``Q · Eᵀ`` against all ``max_rel``
  embeddings, then pick the right column for each key. Works for any number of new queries at any offset.

The softmax itself twice too: ``masked_attention`` (plain: scores, mask, softmax, weights) and ``sdpa_attention``
(the same numbers through PyTorch's fused ``F.scaled_dot_product_attention``; the relative term enters as an
additive float mask). The modules use SDPA unless asked for the weights; tests hold the two equal.

Conventions used everywhere in this module:

- Causal attention only: query ``i`` sees keys ``j <= i``, so distances ``i - j`` are 0, 1, 2, ...
- ``E`` has shape ``(max_rel, D)`` (one table shared by all heads, as in Shaw et al. and the lesson) or
  ``(H, max_rel, D)`` (one table per head, as in Huang et al.). Row ``r`` is the embedding of distance ``r``.
- *Clipping*: distances ``>= max_rel - 1`` all use the last row ``E[max_rel - 1]``. A model trained with
  ``max_rel = 256`` therefore still runs on 1000 tokens: every key further than 255 steps back gets the same
  "far away" embedding. Both forms clip identically (tested).
- Distances of masked (future) keys would be negative; they are clamped to 0 and then masked, so they never
  matter.

Notebook: 03_music_transformer.ipynb
Reference: Huang et al. 2018, "Music Transformer", Sec. 3.4 and 3.4.1 (skewing); Shaw, Uszkoreit & Vaswani 2018,
"Self-Attention with Relative Position Representations" (clipping).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


# --- distances, masks -----------------------------------------------------------------------------------
def relative_distances(n_query: int, n_key: int, offset: int = 0, device=None) -> torch.Tensor:
    """Matrix of distances ``(offset + i) - j`` between query ``i`` and key ``j``.

    Args:
        n_query: number of queries; query ``i`` sits at absolute position ``offset + i``.
        n_key: number of keys, at positions ``0 .. n_key - 1``.
        offset: position of the first query (the length of the cache when decoding incrementally).

    Returns:
        int64 tensor (n_query, n_key).
    """
    q_pos = torch.arange(n_query, device=device) + offset  # (Lq,)
    k_pos = torch.arange(n_key, device=device)  # (Lk,)
    return q_pos[:, None] - k_pos[None, :]  # (Lq, Lk)


def causal_mask(n_query: int, n_key: int, offset: int = 0, device=None) -> torch.Tensor:
    """Boolean mask, True where key ``j`` lies in the future of query ``i`` (``j > offset + i``) and must be hidden.

    Returns:
        bool tensor (n_query, n_key).
    """
    return relative_distances(n_query, n_key, offset, device) < 0  # (Lq, Lk)


def clipped_index(distances: torch.Tensor, max_rel: int) -> torch.Tensor:
    """Row of ``E`` used for each distance: ``clamp(distance, 0, max_rel - 1)`` (future keys -> 0, masked later)."""
    if max_rel < 1:
        raise ValueError(f"max_rel must be >= 1, got {max_rel}")
    return distances.clamp(0, max_rel - 1)


def _check_qe(q: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """Validate shapes and return E as (H_E, R, D) with H_E in {1, H}."""
    if q.dim() != 4:
        raise ValueError(f"q must have shape (B, H, L, D), got {tuple(q.shape)}")
    if E.dim() == 2:
        E = E.unsqueeze(0)  # (1, R, D)
    if E.dim() != 3 or E.shape[-1] != q.shape[-1] or E.shape[0] not in (1, q.shape[1]):
        raise ValueError(
            f"E must have shape (max_rel, D) or (H, max_rel, D) with D = {q.shape[-1]} and H = {q.shape[1]}, "
            f"got {tuple(E.shape)}"
        )
    return E


# --- three ways to compute the relative logits q_i · E[clip(i - j)] ---------------------------------------
def relative_logits_plain(q: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """Relative logits the direct way: gather an (L, L, D) tensor of embeddings, one per (query, key) pair.

    This is the lesson's formulation (its ``einsum('bhqd,qkd->bhqk', ...)``). Easy to read, but the gathered
    tensor costs L²·D numbers per embedding table.

    Args:
        q: queries (B, H, L, D).
        E: relative embeddings (max_rel, D) or (H, max_rel, D); row r is distance r.

    Returns:
        (B, H, L, L) tensor; entry (i, j) is ``q_i · E[clip(i - j)]`` (entries with j > i are meaningless and
        must be masked).
    """
    E = _check_qe(q, E)  # (HE, R, D)
    L = q.shape[2]
    idx = clipped_index(relative_distances(L, L, device=q.device), E.shape[1])  # (L, L)
    rel = E[:, idx]  # (HE, L, L, D)  <- the O(L²·D) tensor
    if E.shape[0] == 1:  # one table for all heads: the lesson's einsum
        return torch.einsum("bhqd,qkd->bhqk", q, rel[0])  # (B, H, L, L)
    return torch.einsum("bhqd,hqkd->bhqk", q, rel)  # (B, H, L, L)


def skew(x: torch.Tensor) -> torch.Tensor:
    """Huang et al.'s skew: turn "query i, embedding of distance L-1-m" into "query i, key j".

    Input column ``m`` holds distance ``L - 1 - m``. After padding one column on the left, reshaping to
    (L+1, L) and dropping the first row, entry (i, j) holds distance ``i - j`` for every ``j <= i``.
    Entries above the diagonal hold junk and must be masked (the trick is only valid for causal attention).

    Args:
        x: (..., L, L).

    Returns:
        (..., L, L).
    """
    if x.dim() < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"skew needs a square last pair of dims, got {tuple(x.shape)}")
    return skew_padded(F.pad(x, (1, 0)))  # pad: (..., L, L+1), one zero column on the left


def skew_padded(padded: torch.Tensor) -> torch.Tensor:
    """The reshape-and-slice half of :func:`skew`, for an input that already has its zero column on the left.

    Args:
        padded: (..., L, L+1) whose column 0 is zero and column m + 1 holds distance L - 1 - m.

    Returns:
        (..., L, L), a view of ``padded`` (no copy).
    """
    *lead, L, L1 = padded.shape
    if L1 != L + 1:
        raise ValueError(f"skew_padded needs shape (..., L, L+1), got {tuple(padded.shape)}")
    reshaped = padded.reshape(*lead, L + 1, L)  # (..., L+1, L): each row starts one step further left
    return reshaped[..., 1:, :]  # (..., L, L): drop the first row


def ordered_embeddings(E: torch.Tensor, L: int) -> torch.Tensor:
    """The L embeddings the skew needs, ordered by distance L-1, L-2, ..., 0 (clipped at max_rel - 1).

    Args:
        E: (HE, R, D).
        L: sequence length.

    Returns:
        (HE, L, D): row m is ``E[clip(L - 1 - m)]``.
    """
    dist = torch.arange(L - 1, -1, -1, device=E.device)  # (L,): L-1, ..., 0
    return E[:, clipped_index(dist, E.shape[1])]  # (HE, L, D)  <- only O(L·D)


def relative_logits_skewed(q: torch.Tensor, E: torch.Tensor) -> torch.Tensor:
    """Relative logits with the skewing trick: same result as :func:`relative_logits_plain`, O(L·D) extra memory.

    Args:
        q: queries (B, H, L, D).
        E: relative embeddings (max_rel, D) or (H, max_rel, D).

    Returns:
        (B, H, L, L); equal to ``relative_logits_plain(q, E)`` on and below the diagonal.

    Reference: Huang et al. 2018, Sec. 3.4.1 and Figure 1.
    """
    E = _check_qe(q, E)  # (HE, R, D)
    Er = ordered_embeddings(E, q.shape[2])  # (HE, L, D): row m = distance L-1-m
    # Pad by multiplying with a zero row instead of padding the product: the (L, L+1) matrix is then the only
    # L²-sized tensor made, and the result is a view of it (extra memory O(L·D) beyond the logits themselves).
    Er0 = F.pad(Er, (0, 0, 1, 0))  # (HE, L+1, D): a zero row on top
    padded = torch.matmul(q, Er0.transpose(-2, -1))  # (B, H, L, L+1): column 0 zero, column m+1 = distance L-1-m
    return skew_padded(padded)  # (B, H, L, L): column j = distance i-j


def relative_logits_gather(q: torch.Tensor, E: torch.Tensor, n_key: int, offset: int) -> torch.Tensor:
    """Relative logits for queries at positions ``offset ..`` against keys ``0 .. n_key-1`` (the cached case).

    Computes ``q · Eᵀ`` against every row of E (max_rel columns) and picks column ``clip(offset + i - j)`` for
    each key: memory O(Lq·(max_rel + n_key)), no skew, any offset. With one new query this is the row
    ``q_t · E[clip(t - j)]`` for ``j <= t``.

    Args:
        q: queries (B, H, Lq, D).
        E: (max_rel, D) or (H, max_rel, D).
        n_key: number of keys (cache length + Lq).
        offset: absolute position of the first query.

    Returns:
        (B, H, Lq, n_key).
    """
    E = _check_qe(q, E)  # (HE, R, D)
    B, H, Lq, _ = q.shape
    qe = torch.matmul(q, E.transpose(-2, -1))  # (B, H, Lq, R)
    idx = clipped_index(relative_distances(Lq, n_key, offset, q.device), E.shape[1])  # (Lq, Lk)
    return torch.gather(qe, -1, idx.expand(B, H, Lq, n_key))  # (B, H, Lq, Lk)


RELATIVE_LOGITS = {"skew": relative_logits_skewed, "plain": relative_logits_plain}


# --- attention ---------------------------------------------------------------------------------------------
def masked_attention(q, k, v, hide, bias=None, dropout: float = 0.0, training: bool = False):
    """Plain softmax attention: ``softmax((Q Kᵀ + bias) / sqrt(D), hidden keys at -inf) V``, weights returned.

    The reference that :func:`sdpa_attention` is held to (tests), and the path that can return the weights
    (attention maps in notebook 03).

    Args:
        q: (B, H, Lq, D) queries; k, v: (B, H, Lk, D) keys and values.
        hide: bool, broadcastable to (B, H, Lq, Lk): True where a key must not be seen (future, padding). Every
            query must see at least one key.
        bias: (B, H, Lq, Lk) added to ``Q Kᵀ`` before scaling (the relative term), or None.
        dropout: dropout probability on the weights (used only when ``training``).

    Returns:
        (output (B, H, Lq, D), attention weights (B, H, Lq, Lk)).
    """
    D = q.shape[-1]
    scores = torch.matmul(q, k.transpose(-2, -1))  # (B, H, Lq, Lk)
    if bias is not None:
        scores = scores + bias  # (B, H, Lq, Lk)
    scores = (scores / math.sqrt(D)).masked_fill(hide, float("-inf"))  # (B, H, Lq, Lk)
    weights = torch.softmax(scores, dim=-1)  # (B, H, Lq, Lk)
    out = torch.matmul(F.dropout(weights, dropout, training), v)  # (B, H, Lq, D)
    return out, weights


def sdpa_attention(q, k, v, hide, bias=None, dropout: float = 0.0, training: bool = False):
    """The numbers of :func:`masked_attention` through PyTorch's fused ``F.scaled_dot_product_attention``.

    Without a bias the mask is boolean (the fused kernels need no (Lq, Lk) float tensor); with the relative term it
    becomes an additive float mask ``bias / sqrt(D)`` with -inf on hidden keys (SDPA scales only ``Q Kᵀ``).

    Args: as :func:`masked_attention`.

    Returns:
        (output (B, H, Lq, D), None): the fused kernels do not return the weights.
    """
    if bias is None:
        mask = ~hide  # bool: True = takes part in attention
    else:
        mask = (bias / math.sqrt(q.shape[-1])).masked_fill(hide, float("-inf"))  # (B, H, Lq, Lk)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout if training else 0.0)
    return out, None  # (B, H, Lq, D)


def causal_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    rel_logits: torch.Tensor | None = None,
    offset: int = 0,
    dropout: float = 0.0,
    training: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention with a causal mask and an optional relative term (the plain path).

    ``softmax((Q Kᵀ + S_rel) / sqrt(D) + mask) V`` (Huang et al. 2018, Eq. 3).

    Args:
        q: (B, H, Lq, D) queries at positions ``offset .. offset + Lq - 1``.
        k, v: (B, H, Lk, D) keys and values at positions ``0 .. Lk - 1``.
        rel_logits: (B, H, Lq, Lk) relative term, or None (absolute positions).
        offset: position of the first query.
        dropout: dropout probability on the attention weights (used only when ``training``).

    Returns:
        (output (B, H, Lq, D), attention weights (B, H, Lq, Lk)).
    """
    hide = causal_mask(q.shape[2], k.shape[2], offset, q.device)  # (Lq, Lk)
    return masked_attention(q, k, v, hide, rel_logits, dropout, training)


class RelativeSelfAttention(nn.Module):
    """Multi-head causal self-attention with learned relative position embeddings (or none, for absolute models).

    Args:
        d_model: model width; must be divisible by ``n_head``.
        n_head: number of heads.
        max_rel: number of relative embeddings (distances 0 .. max_rel-1, longer ones clipped); 0 turns the
            relative term off (the absolute-position baseline adds positions to the input instead).
        rel_per_head: one embedding table per head (Huang et al.) instead of one shared by all heads (Shaw et al.).
        dropout: dropout on attention weights and on the output.
        attn_dropout: dropout on the attention weights alone, if not None (``dropout`` then applies to the output
            only).
        method: ``'skew'`` (default) or ``'plain'`` for the full-sequence relative term; both give the same
            numbers, ``'plain'`` exists to check that and to measure its memory.

    The relative embeddings ``self.E`` are an ``nn.Parameter``: trained, and saved in the ``state_dict``.
    ``self.sdpa`` (default True) runs the softmax through ``F.scaled_dot_product_attention`` (:func:`sdpa_attention`,
    the relative term as an additive mask); False, or ``keep_weights``, takes the plain path (:func:`causal_attention`),
    which gives the same numbers (tested) and the weights.

    Notebook: 03_music_transformer.ipynb
    Reference: Huang et al. 2018, Sec. 3.4.
    """

    def __init__(
        self,
        d_model: int,
        n_head: int,
        max_rel: int = 0,
        rel_per_head: bool = False,
        dropout: float = 0.0,
        method: str = "skew",
        attn_dropout: float | None = None,
    ):
        super().__init__()
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
        if method not in RELATIVE_LOGITS:
            raise ValueError(f"method must be one of {sorted(RELATIVE_LOGITS)}, got {method!r}")
        self.n_head, self.d_head, self.max_rel = n_head, d_model // n_head, max_rel
        self.method, self.dropout = method, dropout
        self.attn_dropout = dropout if attn_dropout is None else attn_dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        if max_rel > 0:
            shape = (n_head, max_rel, self.d_head) if rel_per_head else (max_rel, self.d_head)
            self.E = nn.Parameter(torch.randn(shape) * self.d_head**-0.5)
        else:
            self.register_parameter("E", None)
        self.last_weights: torch.Tensor | None = None
        self.keep_weights = False
        self.sdpa = True

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Attend over the cached keys/values plus the new tokens.

        Args:
            x: (B, T, d_model) new tokens.
            past: cached (keys, values), each (B, H, T_past, D), or None.

        Returns:
            (output (B, T, d_model), (keys, values) including the new tokens, each (B, H, T_past + T, D)).
        """
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, self.d_head).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        offset = 0
        if past is not None:
            offset = past[0].shape[2]
            k = torch.cat([past[0], k], dim=2)  # (B, H, T_past + T, D)
            v = torch.cat([past[1], v], dim=2)  # (B, H, T_past + T, D)
        rel = None
        if self.E is not None:
            if offset == 0:
                rel = RELATIVE_LOGITS[self.method](q, self.E)  # (B, H, T, T)
            else:
                rel = relative_logits_gather(q, self.E, k.shape[2], offset)  # (B, H, T, T_past + T)
        drop = self.dropout if self.training else 0.0
        adrop = self.attn_dropout if self.training else 0.0
        if self.sdpa and not self.keep_weights:
            hide = causal_mask(T, k.shape[2], offset, q.device)  # (T, T_past + T)
            out, weights = sdpa_attention(q, k, v, hide, rel, adrop, self.training)  # (B, H, T, D)
        else:
            out, weights = causal_attention(q, k, v, rel, offset, adrop, self.training)  # (B, H, T, D)
        if self.keep_weights:
            self.last_weights = weights.detach()
        out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return F.dropout(self.proj(out), drop, self.training), (k, v)


# --- measuring memory -------------------------------------------------------------------------------------
class TensorMemoryTracker:
    """Peak bytes of tensor storage created inside a ``with`` block, counted op by op (CPU or GPU).

    Every ATen op that runs inside the block is intercepted (``TorchDispatchMode``); each new storage it
    returns is counted until the last tensor using it is garbage-collected. ``peak`` is the largest total
    alive at any moment: the *extra* memory of the computation (inputs created before the block are not counted,
    the output is). Views (reshape, slicing, transpose) share a storage and cost nothing.

    Example:
        >>> with TensorMemoryTracker() as mem:
        ...     y = relative_logits_skewed(q, E)
        >>> mem.peak  # bytes

    Notebook: 03_music_transformer.ipynb; tests/benchmarks/bench_attention.py.
    """

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker._record(out)
                return out

        self._mode = _Mode()
        self.current = 0
        self.peak = 0
        self._alive: dict[int, list] = {}  # storage data_ptr -> [nbytes, number of live tensors]

    def _record(self, out) -> None:
        import weakref

        tensors = out if isinstance(out, (tuple, list)) else (out,)
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            st = t.untyped_storage()
            key = st.data_ptr()
            if key == 0:
                continue
            if key not in self._alive:
                self._alive[key] = [st.nbytes(), 0]
                self.current += st.nbytes()
                self.peak = max(self.peak, self.current)
            self._alive[key][1] += 1
            weakref.finalize(t, self._release, key)

    def _release(self, key: int) -> None:
        entry = self._alive.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self._alive[key]

    def __enter__(self) -> "TensorMemoryTracker":
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)


def benchmark_relative_logits(
    L: int, batch: int = 1, n_head: int = 4, d_head: int = 64, repeats: int = 3, device="cpu", seed: int = 0
) -> dict:
    """Peak memory and median time of the plain and skewed relative logits at one length (forward pass).

    Memory: on CUDA ``torch.cuda.max_memory_allocated`` above what was allocated before; on CPU the
    :class:`TensorMemoryTracker` peak. ``*_extra`` subtracts the (B, H, L, L) float32 logits that every
    attention layer computes anyway (the paper's "intermediate memory"). Timing without the tracker.

    Returns:
        dict with ``L``, ``plain_peak``, ``skew_peak``, ``plain_extra``, ``skew_extra`` (bytes), ``plain_s``,
        ``skew_s`` (seconds, median of ``repeats``).

    Notebook: 03_music_transformer.ipynb; tests/benchmarks/bench_attention.py.
    """
    import statistics
    import time

    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, n_head, L, d_head, generator=g).to(device)  # (B, H, L, D)
    E = torch.randn(L, d_head, generator=g).to(device)  # (L, D): max_rel = L, no clipping
    logits_bytes = batch * n_head * L * L * 4
    out = {"L": L}
    for name, fn in (("plain", relative_logits_plain), ("skew", relative_logits_skewed)):
        with torch.no_grad():
            fn(q, E)  # warm-up
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                y = fn(q, E)
                torch.cuda.synchronize()
                peak = torch.cuda.max_memory_allocated() - base
            else:
                with TensorMemoryTracker() as mem:
                    y = fn(q, E)
                peak = mem.peak
            del y
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                y = fn(q, E)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
                del y
        out[f"{name}_peak"] = peak
        out[f"{name}_extra"] = peak - logits_bytes
        out[f"{name}_s"] = statistics.median(times)
    return out
