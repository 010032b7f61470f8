"""MusicGen, small: a text-conditioned language model over the delayed codes of a residual-VQ codec.

The pipeline of notebook 05 (Copet et al. 2023), each piece from its own module::

    prompt --TextEncoder--> token embeddings (B, S, 384) ----------------------------.
                                                                                      v cross-attention
    audio --Codec.encode--> codes (B, K, T) --delay pattern--> steps (B, K, 1 + T + K - 1) --> MusicTransformer
    audio <--Codec.decode-- codes (B, K, T) <--revert--------- sampled steps <-- guided sampling (this module)

- :func:`lm_config` — the course's one decoder (:class:`helpers.transformer.MusicTransformer`) configured for
  MusicGen: ``n_streams = K`` (K embedding tables summed per step, K heads), ``d_cond`` = the text encoder's width,
  vocabulary = the codebook plus one *special* token (the delay pattern's empty slots and the start step).
- :func:`to_steps` / :func:`from_steps` — codes (B, K, T) <-> the model's steps: the pattern's start step of special
  tokens, then the pattern's steps (any of :data:`helpers.patterns.PATTERNS`; MusicGen's and the shipped LM's is
  :func:`helpers.patterns.delay_pattern`)::

        step   0  1  2  3  4  5  6
        k=0    S a0 a1 a2 a3  S  S        S = special token (start step and empty slots)
        k=1    S  S b0 b1 b2 b3  S
        k=2    S  S  S c0 c1 c2 c3

- :func:`musicgen_loss` — next-step cross-entropy per codebook (:func:`helpers.transformer.stream_cross_entropy`),
  the special slots ignored (their content is fixed).
- :func:`sample_codes` — incremental decoding with the KV cache (text keys/values computed once), one
  :func:`helpers.transformer.sample_next_token` per step: classifier-free guidance (``uncond + scale * (cond -
  uncond)``, one batched pass for both halves; scale 0 = the unconditional model, 1 = the conditional one), the
  special token banned where a code belongs; the pattern's special slots are written, never sampled.
- :func:`load_lm` — an LM checkpoint with the pattern it was trained on (``scripts/train_musicgen.py --pattern``
  stores it in the checkpoint's metadata; files from before that flag: delay), refused if asked for another pattern.
- :class:`MusicGen` — codec + LM + text encoder: ``generate(prompts, seconds, guidance_scale, ...) -> audio``
  over the LM's own pattern, with clear errors for an empty / over-long / non-text prompt, a duration <= 0 or beyond
  the trained range, a negative guidance scale, a pattern other than the LM's.

Notebook: 05_musicgen.ipynb
Reference: Copet et al. 2023, "Simple and Controllable Music Generation" (MusicGen, arXiv:2306.05284), Sec. 2.2
(delay pattern, one loss per codebook), 2.3 (text conditioning, cross-attention, condition dropout, classifier-free
guidance); Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", Sec. 3.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from .checkpoints import read_checkpoint
from .melody import SILENCE, drop_melody, melody_positions
from .modes import in_eval_mode
from .patterns import PATTERNS, START_STEPS, decoding_steps, make_pattern, max_timesteps
from .transformer import (  # noqa: F401 (MusicTransformer re-exported)
    MusicTransformer, MusicTransformerConfig, banned_ids, decoding_threads, drop_condition, guidance_condition,
    load_checkpoint, sample_next_token, stream_cross_entropy)

DEFAULT_PATTERN = "delay"  # MusicGen's, and that of every LM checkpoint saved before the pattern was recorded


def lm_config(n_codebooks: int = 4, codebook_size: int = 1024, max_frames: int = 200, d_text: int = 384,
              pattern: str = "delay", **sizes) -> MusicTransformerConfig:
    """The decoder's configuration for K codebooks of ``codebook_size`` codes, up to ``max_frames`` frames.

    ``max_len`` = the pattern's sequence for ``max_frames`` frames: 1 start step + its decoding steps (delay:
    ``max_frames`` + K - 1); vocabulary ``codebook_size + 1`` (the last id is the special token); absolute positions
    (MusicGen's are sinusoidal; ours are learned); ``sizes``: n_layer, n_head, d_model, d_ff, dropout.
    """
    base = dict(n_layer=4, n_head=4, d_model=256, d_ff=1024, dropout=0.1)
    base.update(sizes)
    max_len = START_STEPS + decoding_steps(pattern, n_codebooks, max_frames)
    return MusicTransformerConfig(vocab_size=codebook_size + 1, max_len=max_len, max_rel=1,
                                  position="absolute", n_streams=n_codebooks, d_cond=d_text, **base)


TEXT_POOLINGS = ("tokens", "pooled", "both")
DEFAULT_TEXT_POOLING = "tokens"  # every LM checkpoint saved before the pooling was recorded


def pool_text(tokens: torch.Tensor, padding: torch.Tensor, pooling: str = "tokens") -> tuple[torch.Tensor, torch.Tensor]:
    """What the decoder cross-attends to: the text encoder's token embeddings, their mean (the sentence embedding of
    a mean-pooling sentence encoder such as MiniLM, before its normalisation), or the mean followed by the tokens.

    Args:
        tokens: (B, L, d); padding: (B, L) bool, True = padding.
        pooling: one of :data:`TEXT_POOLINGS`.

    Returns:
        ``(cond (B, L', d), padding (B, L'))`` with L' = L, 1 or 1 + L; a caption with no token (all padding) pools
        to a padding slot, so a dropped condition stays dropped.
    """
    if pooling not in TEXT_POOLINGS:
        raise ValueError(f"unknown text pooling {pooling!r}; known: {list(TEXT_POOLINGS)}")
    if tokens.dim() != 3 or padding.shape != tokens.shape[:2]:
        raise ValueError(f"tokens must be (B, L, d) and padding (B, L), got {tuple(tokens.shape)} and "
                         f"{tuple(padding.shape)}")
    if pooling == "tokens":
        return tokens, padding
    keep = (~padding).to(tokens.dtype)[..., None]  # (B, L, 1)
    mean = (tokens * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp_min(1.0)  # (B, 1, d)
    empty = padding.all(1, keepdim=True)  # (B, 1)
    if pooling == "pooled":
        return mean, empty
    return torch.cat([mean, tokens], 1), torch.cat([empty, padding], 1)


def lm_text_pooling(path) -> str:
    """The text pooling an LM checkpoint was trained with (``scripts/train_musicgen.py --text-pooling``), or
    :data:`DEFAULT_TEXT_POOLING` for a file saved before it was recorded."""
    pooling = (read_checkpoint(path).get("extra") or {}).get("text_pooling", DEFAULT_TEXT_POOLING)
    if pooling not in TEXT_POOLINGS:
        raise ValueError(f"{path}: unknown text pooling {pooling!r}")
    return pooling


def load_codec(path):
    """The codec of an LM: a :class:`helpers.autoencoder.Autoencoder` (``codec_istft.pt``) or a
    :class:`helpers.codec.Codec` (``codec.pt``), chosen by the checkpoint's config kind; both give ``encode(audio,
    sr) -> (B, K, T)`` and ``decode(codes)``."""
    from . import autoencoder, codec

    kind = (read_checkpoint(path).get("config") or {}).get("kind")
    if kind == "AutoencoderConfig":
        return autoencoder.load_checkpoint(path)
    if kind == "CodecConfig":
        return codec.load_checkpoint(path)
    raise ValueError(f"{path} holds no codec (config kind {kind!r}; expected AutoencoderConfig or CodecConfig)")


def lm_codec_path(lm_path, folder=None):
    """The codec checkpoint whose codes the LM at ``lm_path`` was trained on: the file in ``folder`` (default: the
    LM's own folder, then the shipped checkpoints) whose SHA-256 starts with the ``codec_sha256_16`` the LM's checkpoint records. A ValueError names
    the hash when no file there matches (the codec was retrained or is missing: the LM's tokens mean nothing to
    another codec)."""
    from pathlib import Path

    from .checkpoints import file_sha256

    want = (read_checkpoint(lm_path).get("extra") or {}).get("codec_sha256_16")
    if not want:
        raise ValueError(f"{lm_path} does not record the codec it was trained on (no codec_sha256_16): pass codec_path")
    from .data import DATA_DIR

    folders = [Path(folder)] if folder is not None else list(dict.fromkeys([Path(lm_path).parent, DATA_DIR / "checkpoints"]))
    for f in folders:
        for path in sorted(f.glob("*.pt")):
            if path.resolve() != Path(lm_path).resolve() and file_sha256(path).startswith(want):
                return path
    raise ValueError(f"{lm_path} was trained on the codes of codec {want}, and no checkpoint in "
                     f"{' or '.join(str(f) for f in folders)} has that hash")


def load_pipeline(lm_path, codec_path=None, text_encoder=None, device="cpu") -> "MusicGen":
    """An LM checkpoint as a ready :class:`MusicGen`: its pattern and text pooling (:func:`load_lm`), the codec it
    was trained on (``codec_path``, else :func:`lm_codec_path`), and ``text_encoder`` (default
    :class:`helpers.text_encoder.MiniLMEncoder`, checked by hash)."""
    from .checkpoints import file_sha256

    codec_path = lm_codec_path(lm_path) if codec_path is None else codec_path
    want = (read_checkpoint(lm_path).get("extra") or {}).get("codec_sha256_16")
    if want and not file_sha256(codec_path).startswith(want):
        raise ValueError(f"{lm_path} was trained on the codes of codec {want}, not on {codec_path}")
    if text_encoder is None:
        from .text_encoder import MiniLMEncoder

        text_encoder = MiniLMEncoder()
    return MusicGen(load_codec(codec_path).to(device), load_lm(lm_path, device=device), text_encoder)


def check_pattern(pattern) -> str:
    """``pattern`` if it is one of :data:`helpers.patterns.PATTERNS`, else a ValueError naming them."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; known patterns are {list(PATTERNS)}")
    return pattern


def lm_pattern(path) -> str:
    """The interleaving pattern the LM checkpoint ``path`` was trained on: its metadata's ``'pattern'``
    (``scripts/train_musicgen.py --pattern``); :data:`DEFAULT_PATTERN` for a file saved before the pattern was
    recorded."""
    return check_pattern((read_checkpoint(path).get("extra") or {}).get("pattern", DEFAULT_PATTERN))


def load_lm(path, pattern: str | None = None, device="cpu") -> MusicTransformer:
    """Load an LM checkpoint with its pattern, as ``model.pattern`` (what :class:`MusicGen` samples with).

    Args:
        pattern: None (take the checkpoint's), or the pattern the caller expects: a ValueError if the checkpoint was
            trained on another one (its codes would be read in the wrong order).
    """
    stored = lm_pattern(path)
    if pattern is not None and check_pattern(pattern) != stored:
        raise ValueError(f"{path} holds an LM trained on the {stored!r} pattern, not {pattern!r}: sample it with "
                         f"pattern={stored!r} (or train one with scripts/train_musicgen.py --pattern {pattern})")
    model = load_checkpoint(path, device=device)
    model.pattern = stored
    model.text_pooling = lm_text_pooling(path)
    return model


def special_token(config: MusicTransformerConfig) -> int:
    """The special token's id: the last of the vocabulary."""
    return config.vocab_size - 1


def max_frames(config: MusicTransformerConfig, pattern: str = "delay") -> int:
    """The longest code sequence (frames) whose steps under ``pattern`` fit the decoder's window (delay:
    ``max_len - K``)."""
    return max_timesteps(pattern, config.n_streams, config.max_len)


def to_steps(codes: torch.Tensor, special: int, pattern: str = "delay") -> torch.Tensor:
    """Codes (B, K, T) -> the LM's steps (B, K, 1 + S): the pattern's start step of special tokens, then its S steps
    (delay: S = T + K - 1), special tokens in the empty slots (:meth:`helpers.patterns.Pattern.to_steps`)."""
    if codes.dim() != 3:
        raise ValueError(f"codes must have shape (B, K, T), got {tuple(codes.shape)}")
    _, K, T = codes.shape
    return make_pattern(pattern, K, T).to_steps(codes, special)


def from_steps(steps: torch.Tensor, n_frames: int, pattern: str = "delay") -> torch.Tensor:
    """The LM's steps (B, K, 1 + S) -> codes (B, K, n_frames): the start step dropped, the pattern reverted."""
    return make_pattern(pattern, steps.shape[1], n_frames).from_steps(steps)


def musicgen_loss(model: MusicTransformer, batch: dict) -> tuple[torch.Tensor, dict]:
    """Next-step cross-entropy per codebook (nats), averaged over the K codebooks; special-token targets ignored.

    Args:
        batch: ``{'steps': (B, K, S) int64, 'cond': (B, L, d_text), 'cond_mask': (B, L) bool, True = padding}``
            (condition dropout is applied when the batch is drawn, see ``scripts/train_musicgen.py``), and for a
            melody-conditioned LM ``'melody': (B, T)`` pitch classes (:mod:`helpers.melody`) with ``'pattern'``.

    Returns:
        ``(loss, {'ce_0': ..., 'ce_{K-1}': ...})``.

    Reference: Copet et al. 2023, Sec. 2.2 (the loss of each codebook, averaged).
    """
    steps = batch["steps"]
    x_add = None
    if batch.get("melody") is not None:  # (B, T) pitch classes: frame p's added at input position p
        x_add = model.project_add(melody_positions(batch["melody"], steps.shape[-1] - 1, batch.get("pattern", "delay")))
    logits = model(steps[..., :-1], cond=batch["cond"], cond_mask=batch["cond_mask"], x_add=x_add)  # (B, K, S - 1, V)
    target = steps[..., 1:].masked_fill(steps[..., 1:] == special_token(model.config), -100)  # (B, K, S - 1)
    ce = stream_cross_entropy(logits, target, ignore_index=-100)  # (K,)
    return ce.mean(), {f"ce_{k}": float(v) for k, v in enumerate(ce.detach())}


@torch.no_grad()
def encode_clips_and_captions(codec, clips, sr: int, captions: Sequence[Sequence[str]], text_encoder,
                              batch: int = 32) -> dict:
    """The training data of the LM: codes of the clips and token embeddings of every caption of each clip.

    Args:
        codec: a :class:`helpers.codec.Codec`.
        clips: (N, T) float audio (numpy or torch) at ``sr`` Hz, the codec's sample rate.
        captions: N lists of P captions each (e.g. ``AudioCorpus.captions(split)``: P phrasings of the same clip).
        text_encoder: a :class:`~helpers.text_encoder.TextEncoder`.

    Returns:
        ``{'codes': (N, K, T') int16, 'tokens': (N, P, L, d) float16, 'mask': (N, P, L) bool (True = token)}``;
        plain tensors (saved by ``scripts/train_musicgen.py`` as its cache, loadable with ``weights_only=True``).
    """
    clips = torch.as_tensor(clips, dtype=torch.float32)
    if clips.dim() != 2 or len(captions) != clips.shape[0] or not len(captions):
        raise ValueError(f"need clips (N, T) and N caption lists, got clips {tuple(clips.shape)} and "
                         f"{len(captions)} caption lists")
    P = len(captions[0])
    if any(len(c) != P for c in captions):
        raise ValueError("every clip needs the same number of captions")
    codes = torch.cat([codec.encode(clips[i : i + batch, None], sr)  # (b, 1, T): b clips, whatever b
                       for i in range(0, len(clips), batch)])  # (N, K, T')
    flat = [c for cs in captions for c in cs]
    embs = [text_encoder.encode(flat[i : i + 64]) for i in range(0, len(flat), 64)]
    L = max(e.tokens.shape[1] for e in embs)
    tokens = torch.cat([F.pad(e.tokens, (0, 0, 0, L - e.tokens.shape[1])) for e in embs]).half()  # (N * P, L, d)
    mask = torch.cat([F.pad(e.mask, (0, L - e.mask.shape[1])) for e in embs])  # (N * P, L), True = token
    return {"codes": codes.short(), "tokens": tokens.view(len(captions), P, L, -1), "mask": mask.view(len(captions), P, L)}


def caption_batches(data: dict, special: int, p_drop: float, pattern: str = "delay", text_pooling: str = "tokens",
                    p_melody_drop: float = 0.5):
    """``(generator, batch_size) -> batch`` for :func:`helpers.training.train`: random clips of ``data`` (from
    :func:`encode_clips_and_captions`) as steps of ``pattern``, one of each clip's captions at random, and condition
    dropout with probability ``p_drop`` (:func:`helpers.transformer.drop_condition`: the text replaced by zeros,
    every position padding, the null condition that guidance uses).

    With ``data['melody']`` ((N, T) pitch classes, :func:`helpers.melody.dominant_chroma`) every batch carries its
    clips' melodies, each dropped (made silent) with probability ``p_melody_drop``, and also with the text when the
    text is dropped (the null condition of guidance is no text and no melody).

    Reference: Copet et al. 2023, Sec. 2.3 (condition dropout for classifier-free guidance; melody conditioning).
    """
    if not 0.0 <= p_drop <= 1.0:
        raise ValueError(f"p_drop must lie in [0, 1], got {p_drop}")
    codes, tokens, mask = data["codes"], data["tokens"], data["mask"]
    melody = data.get("melody")
    N, P = mask.shape[:2]

    def draw(generator, batch_size: int):
        i = torch.randint(0, N, (batch_size,), generator=generator)  # (B,)
        j = torch.randint(0, P, (batch_size,), generator=generator)  # (B,)
        cond, pad = pool_text(tokens[i, j].float(), ~mask[i, j], text_pooling)  # (B, L', d), (B, L') padding
        cond, pad = drop_condition(cond, pad, p_drop, generator)
        batch = {"steps": to_steps(codes[i].long(), special, pattern), "cond": cond, "cond_mask": pad}
        if melody is not None:
            tune = drop_melody(melody[i].long(), p_melody_drop, generator)  # (B, T)
            batch.update(melody=tune.masked_fill(pad.all(1)[:, None], SILENCE), pattern=pattern)
        return batch

    return draw


def fixed_caption_batches(data: dict, special: int, n: int, batch_size: int, pattern: str = "delay",
                          text_pooling: str = "tokens") -> list[dict]:
    """The first ``n`` clips of ``data`` with their first caption, in batches, no dropout: a validation set."""
    out = []
    for s in range(0, n, batch_size):
        sl = slice(s, min(n, s + batch_size))
        cond, pad = pool_text(data["tokens"][sl, 0].float(), ~data["mask"][sl, 0], text_pooling)
        out.append({"steps": to_steps(data["codes"][sl].long(), special, pattern), "cond": cond, "cond_mask": pad})
        if data.get("melody") is not None:
            out[-1].update(melody=data["melody"][sl].long(), pattern=pattern)
    return out


def check_guidance(guidance_scale) -> float | None:
    """None or a finite number >= 0; a clear error otherwise."""
    if guidance_scale is None:
        return None
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)) or not math.isfinite(guidance_scale):
        raise TypeError(f"guidance_scale must be a finite number (or None), got {guidance_scale!r}")
    if guidance_scale < 0:
        raise ValueError(f"guidance_scale must be >= 0 (0 = unconditional, 1 = conditional, 3 = MusicGen's default), "
                         f"got {guidance_scale}")
    return float(guidance_scale)


def check_seconds(seconds, frame_rate: float, max_frames_: int) -> int:
    """A duration in seconds -> a number of frames in 1..max_frames; a clear error outside the trained range."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise TypeError(f"seconds must be a number, got {seconds!r}")
    longest = max_frames_ / frame_rate
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    frames = int(round(seconds * frame_rate))
    if frames > max_frames_:
        raise ValueError(f"seconds={seconds} is beyond the trained range: at most {longest:g} s ({max_frames_} frames "
                         f"at {frame_rate:g} Hz)")
    return max(frames, 1)


@torch.no_grad()
@in_eval_mode  # sampling runs in eval mode; the model's mode is restored afterwards
def sample_codes(
    model: MusicTransformer,
    n_frames: int,
    generator: torch.Generator,
    cond: torch.Tensor | None = None,
    cond_mask: torch.Tensor | None = None,
    guidance_scale: float | None = None,
    temperature: float = 1.0,
    top_k: int | None = 250,
    batch_size: int | None = None,
    pattern: str = "delay",
    melody: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sample codes (B, K, n_frames) step by step over an interleaving pattern (any of :data:`helpers.patterns.PATTERNS`),
    with the KV cache.

    The sequence starts with the pattern's start step; at each of its S steps the model emits K tokens with
    :func:`helpers.transformer.sample_next_token` (guidance, the special token banned where a code belongs,
    temperature, top-k), and the slots the pattern leaves empty get the special token. The text's keys and values are
    computed once.

    Args:
        cond, cond_mask: text embeddings (B, L, d_text) and their padding mask (B, L) (True = padding), on any device
            (moved to the model's); None with ``batch_size``: the unconditional model (null slot only).
        guidance_scale: None (one pass with ``cond``), else classifier-free guidance with that scale (needs ``cond``).
        temperature, top_k: see :func:`helpers.transformer.sample_next_token`.
        pattern: the pattern the LM was trained on (:func:`caption_batches`).
        melody: (B, T) pitch classes (:func:`helpers.melody.dominant_chroma`) for an LM trained with melody
            conditioning; guidance's unconditional half gets no melody (and no text).

    Reference: Copet et al. 2023, Sec. 2.2-2.3; Ho & Salimans 2022 (guidance).
    """
    guidance_scale = check_guidance(guidance_scale)
    cfg = model.config
    K, special = cfg.n_streams, special_token(cfg)
    if not 1 <= n_frames <= max_frames(cfg, pattern):
        raise ValueError(f"n_frames must lie in 1..{max_frames(cfg, pattern)} for the {pattern} pattern, got {n_frames}")
    B = cond.shape[0] if cond is not None else batch_size
    if B is None:
        raise ValueError("pass cond (B, L, d_text) or, for the unconditional model, batch_size")
    device = next(model.parameters()).device
    cond = None if cond is None else cond.to(device)  # the text encoder may live elsewhere (a CPU encoder, a CUDA LM)
    cond_mask = None if cond_mask is None else cond_mask.to(device)
    guided = guidance_scale is not None
    if guided:
        cond, cond_mask = guidance_condition(cond, cond_mask)  # (2B, L, d): conditional half, then the null half
    p = make_pattern(pattern, K, n_frames)
    filled = p.steps_mask.to(device)  # (K, 1 + S): True where a code belongs
    ban = banned_ids([special], cfg.vocab_size, device)  # a code slot never holds the special token
    x = torch.full((2 * B if guided else B, K, p.start), special, dtype=torch.long, device=device)  # start step(s)
    x_add = None
    if melody is not None:
        if melody.dim() != 2 or melody.shape[0] != B:
            raise ValueError(f"melody must be (B={B}, T) pitch classes, got shape {tuple(melody.shape)}")
        x_add = model.project_add(melody_positions(melody.to(device), p.sequence_length, pattern))  # (B, S + 1, C)
        x_add = torch.cat([x_add, model.project_add(melody_positions(torch.full_like(melody, SILENCE).to(device),
                                                                      p.sequence_length, pattern))]) if guided else x_add
    cache = model.start_cache(cond, cond_mask, len(x))  # the text's keys/values, once
    with decoding_threads(len(x), device):  # small steps: one CPU thread (faster on a small machine)
        for s in range(p.start, p.sequence_length):
            new = None if x_add is None else x_add[:, cache.length : x.shape[-1]]  # the melody of the new positions
            logits, cache = model(x[..., cache.length:], past=cache, use_cache=True, x_add=new)  # (2B|B, K, new, V)
            nxt = sample_next_token(logits[..., -1, :], generator, temperature, top_k, None, guidance_scale, ban)
            nxt = torch.where(filled[:, s], nxt, torch.full_like(nxt, special))  # (B, K); empty slots: special
            nxt = torch.cat([nxt, nxt]) if guided else nxt  # both halves go on with the same tokens
            x = torch.cat([x, nxt[..., None]], dim=-1)  # (2B|B, K, s + 1)
    return p.from_steps(x[:B])  # (B, K, n_frames)


class MusicGen:
    """Text -> music: a frozen :class:`~helpers.text_encoder.TextEncoder`, the LM, and the codec's decoder.

    Args:
        codec: a trained codec (K codebooks, frame rate ``codec.config.frame_rate``): a
            :class:`helpers.autoencoder.Autoencoder` or a :class:`helpers.codec.Codec` (:func:`load_codec`).
        lm: a :class:`MusicTransformer` from :func:`lm_config` with the codec's K and codebook size.
        text_encoder: any :class:`~helpers.text_encoder.TextEncoder` whose ``dim`` is the LM's ``d_cond``.
        pattern: the interleaving pattern the LM was trained on. None: the LM's own (``lm.pattern``, set by
            :func:`load_lm`), else ``'delay'`` (the shipped LM's); a pattern other than the one :func:`load_lm`
            recorded is a ValueError.
        text_pooling: how the LM reads the text (:func:`pool_text`). None: the LM's own (``lm.text_pooling``, set by
            :func:`load_lm`), else ``'tokens'``; another than the recorded one is a ValueError.
        peak: :meth:`generate` limits every clip to this peak (None: the decoder's output as it is).

    Notebook: 05_musicgen.ipynb. Reference: Copet et al. 2023, Sec. 2.
    """

    def __init__(self, codec, lm: MusicTransformer, text_encoder, pattern: str | None = None,
                 text_pooling: str | None = None, peak: float | None = 0.98):
        pooled = getattr(lm, "text_pooling", None)
        if text_pooling is None:
            text_pooling = pooled or DEFAULT_TEXT_POOLING
        elif pooled is not None and text_pooling != pooled:
            raise ValueError(f"the LM was trained on {pooled!r} text conditioning, not {text_pooling!r}")
        if text_pooling not in TEXT_POOLINGS:
            raise ValueError(f"unknown text pooling {text_pooling!r}; known: {list(TEXT_POOLINGS)}")
        if peak is not None and not 0.0 < peak <= 1.0:
            raise ValueError(f"peak must lie in (0, 1] (or None: no limiter), got {peak}")
        self.text_pooling, self.peak = text_pooling, peak
        trained = getattr(lm, "pattern", None)
        if pattern is None:
            pattern = trained or DEFAULT_PATTERN
        elif trained is not None and pattern != trained:
            raise ValueError(f"the LM was trained on the {trained!r} pattern; sampling it with {pattern!r} would read "
                             f"its codes in the wrong order")
        pattern = check_pattern(pattern)
        cfg = lm.config
        if cfg.n_streams != codec.config.n_codebooks or cfg.vocab_size != codec.config.codebook_size + 1:
            raise ValueError(f"the LM ({cfg.n_streams} streams, vocabulary {cfg.vocab_size}) does not fit the codec "
                             f"({codec.config.n_codebooks} codebooks of {codec.config.codebook_size} codes + 1 special)")
        if text_encoder.dim != cfg.d_cond:
            raise ValueError(f"the text encoder gives {text_encoder.dim}-d embeddings, the LM reads d_cond={cfg.d_cond}")
        self.codec, self.lm, self.text_encoder = codec.eval(), lm.eval(), text_encoder
        self.pattern = pattern
        if max_frames(cfg, pattern) < 1:
            raise ValueError(f"the LM's window of {cfg.max_len} steps holds no frame under the {pattern} pattern")

    @property
    def frame_rate(self) -> float:
        return self.codec.config.frame_rate

    @property
    def max_seconds(self) -> float:
        return max_frames(self.lm.config, self.pattern) / self.frame_rate

    def embed(self, prompts) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompts -> (cond (B, L', d), cond_mask (B, L') True = padding), checked by the text encoder, pooled as the
        LM was trained (:func:`pool_text`, ``self.text_pooling``)."""
        out = self.text_encoder.encode(prompts)
        return pool_text(out.tokens, ~out.mask, self.text_pooling)

    @property
    def takes_melody(self) -> bool:
        """Whether the LM was trained with melody conditioning (``scripts/train_musicgen.py --melody-dropout``)."""
        return self.lm.add_in is not None

    def melody_of(self, reference, n_frames: int) -> torch.Tensor:
        """A reference clip (T,) or clips (B, T) at the codec's rate -> its dominant pitch class per codec frame,
        (B, n_frames) (:func:`helpers.melody.dominant_chroma`)."""
        from .melody import dominant_chroma

        if not self.takes_melody:
            raise ValueError("this LM was not trained with melody conditioning (no melody input): pass melody=None")
        return dominant_chroma(reference, self.codec.config.sample_rate, self.codec.config.hop, n_frames)

    @torch.no_grad()
    def generate_codes(self, prompts: str | Sequence[str], seconds: float = 4.0, guidance_scale: float | None = 3.0,
                       temperature: float = 1.0, top_k: int | None = 250, seed: int = 0, melody=None) -> torch.Tensor:
        """Prompts -> codes (B, K, frames); ``seed`` seeds the sampling generator (same seed, same codes).

        ``melody``: None, or a reference clip (T,) / clips (B, T) at the codec's sample rate whose dominant pitch
        class per frame the music should follow (an LM trained with melody conditioning only); one clip serves every
        prompt."""
        check_guidance(guidance_scale)
        frames = check_seconds(seconds, self.frame_rate, max_frames(self.lm.config, self.pattern))
        cond, cond_mask = self.embed(prompts)
        tune = None
        if melody is not None:
            tune = self.melody_of(melody, frames)  # (1 | B, frames)
            if tune.shape[0] == 1:
                tune = tune.expand(cond.shape[0], -1)
            if tune.shape[0] != cond.shape[0]:
                raise ValueError(f"{tune.shape[0]} melodies for {cond.shape[0]} prompts: pass one, or one per prompt")
        gen = torch.Generator(device=next(self.lm.parameters()).device).manual_seed(seed)
        return sample_codes(self.lm, frames, gen, cond, cond_mask, guidance_scale, temperature, top_k,
                            pattern=self.pattern, melody=tune)

    @torch.no_grad()
    def generate(self, prompts: str | Sequence[str], seconds: float = 4.0, guidance_scale: float | None = 3.0,
                 temperature: float = 1.0, top_k: int | None = 250, seed: int = 0, melody=None) -> torch.Tensor:
        """Prompts (and a ``melody`` reference, see :meth:`generate_codes`) -> audio (B, seconds * sample_rate) at
        the codec's sample rate, every clip limited to at most ``self.peak`` (:func:`limit_peaks`; the codec's
        decoder alone can overshoot full scale)."""
        codes = self.generate_codes(prompts, seconds, guidance_scale, temperature, top_k, seed, melody)
        audio = self.codec.decode(codes)
        return audio if self.peak is None else limit_peaks(audio, self.peak)


def limit_peaks(audio: torch.Tensor, peak: float = 0.98) -> torch.Tensor:
    """Scale each clip (the last axis) down so that its largest magnitude is at most ``peak``; clips already inside
    are returned unchanged. A gain per clip, not a clipper: the waveform's shape (and what a judge hears) is kept.

    Args:
        audio: (..., T) float; peak: in (0, 1].
    """
    if not 0.0 < peak <= 1.0:
        raise ValueError(f"peak must lie in (0, 1], got {peak}")
    top = audio.abs().amax(dim=-1, keepdim=True)  # (..., 1)
    return audio * torch.clamp(peak / top.clamp_min(1e-12), max=1.0)


@torch.no_grad()
def control_accuracy(pipe: MusicGen, classifier, captions: Sequence[str], attributes: Sequence[dict],
                     scales: Sequence[float] = (0.0, 1.0, 3.0), seconds: float = 4.0, seed: int = 0,
                     batch_size: int = 16, other_judges: dict | None = None, **sampling) -> list[dict]:
    """Does the music do what the text says? Generate one clip per caption at each guidance scale and judge it with
    the attribute classifier (which never sees the prompt): accuracy per attribute against the caption's attributes.

    Args:
        classifier: an object with ``predict(audio, sr) -> {attribute: [class name per clip]}``, audio (B, 1, T) (e.g.
            :class:`helpers.classifier.AttributeClassifier`).
        attributes: per caption, the attributes it states (``{'family': 'piano', 'mode': 'minor', ...}``); every
            attribute the classifier predicts and the dict holds is scored.
        other_judges: ``{name: classifier}`` that judge the same clips (generated once), reported under
            ``row['judges'][name]``.
        sampling: ``temperature``, ``top_k`` for :meth:`MusicGen.generate`.

    Returns:
        one row per scale: ``{'guidance_scale': s, 'n': number of captions, attribute: accuracy, ...,
        'predicted': {attribute: the classifier's class per caption}}`` (for a confusion matrix), and with
        ``other_judges`` ``'judges': {name: {attribute: accuracy, ..., 'predicted': {...}}}``.

    Notebook: 05_musicgen.ipynb (measured control). Reference: Copet et al. 2023, Sec. 4 (text adherence, measured
    there with CLAP; here with a classifier of the corpus's attributes).
    """
    if len(captions) != len(attributes) or not captions:
        raise ValueError(f"need one attributes dict per caption, got {len(captions)} captions, {len(attributes)} dicts")
    judges = {"": classifier, **(other_judges or {})}
    rows = []
    for scale in scales:
        preds: dict[str, dict[str, list]] = {name: {} for name in judges}
        for i in range(0, len(captions), batch_size):
            audio = pipe.generate(list(captions[i : i + batch_size]), seconds, scale, seed=seed + i, **sampling)
            for name, judge in judges.items():
                for k, v in judge.predict(audio[:, None], sr=pipe.codec.config.sample_rate).items():  # (b, 1, T)
                    preds[name].setdefault(k, []).extend(v)
        scored = {name: score_predictions(p, attributes) for name, p in preds.items()}
        row = {"guidance_scale": float(scale), "n": len(captions), **scored.pop("")}
        if other_judges:
            row["judges"] = scored
        rows.append(row)
    return rows


def score_predictions(predicted: dict[str, list], attributes: Sequence[dict]) -> dict:
    """``{attribute: accuracy, ..., 'predicted': {attribute: classes}}`` for the attributes every caption states."""
    out: dict = {"predicted": {}}
    for k, v in predicted.items():
        truth = [a.get(k) for a in attributes]
        if all(t is not None for t in truth):
            out[k] = sum(p == t for p, t in zip(v, truth)) / len(truth)
            out["predicted"][k] = list(v)
    return out
