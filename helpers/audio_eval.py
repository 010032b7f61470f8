"""Audio generators and symbolic ones on one scale: matched clips, a held-out reference, random codes, accuracy.

Notebook 06 ranks every generator of the course by FAD. The symbolic generators write notes; the audio generators of
notebooks 04 and 05 write 4-second clips of the audio corpus's instruments. To put both on one scale, every row of
the audio leaderboard holds the same number of 4-s clips, and clip ``i`` of every row is *matched* to clip ``i`` of
the held-out real clips (the same instrument family, tempo, ...)::

    corpus chorale clips (valid + test) --seeded permutation--> reference half | held-out half (clip i: attrs_i)
                                                                                   |
        held-out real clip i  <--------------------------------------------------+ attrs_i
        codec / VQ-VAE reconstruction of clip i                                    |
        Jukebox-style sample with label family(attrs_i)                            |
        MusicGen-style sample for the held-out caption of clip i                   |
        symbolic piece, rendered like the corpus renders clip i  <-- render_matched(piece, attrs_i)

- :func:`chorale_halves`: which clips are the reference and which the held-out "generator that is real music";
  :func:`one_scale_halves`: those halves of the corpus's valid and test clips, as notebook 06 draws them.
- :func:`render_matched`: a generated piece rendered with the *same* SoundFont, instruments, tempo and register as
  a corpus clip, through the corpus's own :func:`helpers.audio_corpus.render_clip` (so the only difference is the
  notes).
- :func:`random_codes_audio`: uniform random codes through a codec's decoder (the audio random baseline).
- :func:`attribute_accuracy`: the classifier's accuracy on the attributes a row was asked for, with Wilson
  intervals.
- :func:`match_peak`: every clip scaled to the corpus's peak (0.9), to see how much of a row's distance is loudness.

Notebook: 06_evaluation.ipynb (section 5). Reference: Kilgour et al. 2019 (FAD against a reference set of real
audio); Gui et al. 2024, Sec. 4 (the reference set decides the ranking); Copet et al. 2023, Sec. 4 (held-out captions).
"""
from __future__ import annotations

import math

from typing import Sequence

import numpy as np
import torch

from .audio_corpus import PEAK, CorpusRecipe, render_clip
from .data import Piece
from .intervals import Interval, wilson_interval


def chorale_halves(attributes: Sequence[dict], rng: np.random.Generator, texture: str = "chorale",
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the clips of one ``texture`` in ``attributes``, split in two halves by a seeded permutation.

    Args:
        attributes: the attribute dicts of the candidate clips (e.g. valid + test of an ``AudioCorpus``).
        rng: draws the permutation (same seed, same halves).
        texture: ``'chorale'`` or ``'solo'``; None: every clip.

    Returns:
        ``(reference, heldout)``: integer positions into ``attributes``; the reference gets the larger half when the
        count is odd.

    Raises:
        ValueError: when fewer than 2 clips have the texture.
    """
    pos = np.array([i for i, a in enumerate(attributes) if texture is None or a["texture"] == texture], dtype=np.int64)
    if len(pos) < 2:
        raise ValueError(f"chorale_halves: need at least 2 clips of texture {texture!r}, found {len(pos)}")
    pos = pos[rng.permutation(len(pos))]
    half = (len(pos) + 1) // 2
    return pos[:half], pos[half:]


def one_scale_halves(corpus) -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    """Notebook 06's one scale: the valid and test clips of an :class:`helpers.audio_corpus.AudioCorpus` pooled, and
    their chorales split by :func:`chorale_halves` with seed 0, as the notebook and every script that reports on its
    scale split them.

    Returns:
        ``(attributes, audio, reference, heldout)``: the pooled clips' attribute dicts and audio (N, T) float32, and
        the positions of the reference half and the held-out half in them.
    """
    attributes = corpus.attributes("valid") + corpus.attributes("test")
    audio = np.concatenate([corpus.clips("valid"), corpus.clips("test")]).astype(np.float32)
    reference, heldout = chorale_halves(attributes, np.random.default_rng(0))
    return attributes, audio, reference, heldout


def render_matched(piece: Piece, attrs: dict, recipe: CorpusRecipe, start_quarter: float = 0.0,
                   opening_if_silent: bool = True) -> np.ndarray:
    """A piece rendered the way the audio corpus rendered the clip with attributes ``attrs``: float32 (clip_samples,).

    The window starts at ``start_quarter`` and lasts ``recipe.clip_seconds`` at the clip's tempo (``attrs['bpm']``
    quarter notes per minute); it is moved by whole octaves so that its median pitch is as close as possible to the
    clip's (``attrs['median_pitch']``: the register, keeping the piece's own key), then rendered by
    :func:`helpers.audio_corpus.render_clip` with the clip's instruments (one per voice, or one for all), the
    recipe's SoundFont and sample rate, cut to the clip length and peak-normalised to :data:`helpers.audio_corpus.PEAK` as every corpus
    clip is. Rendering a clip's own excerpt (from :func:`~helpers.audio_corpus.choose_clip`) with its attributes
    gives exactly the corpus clip (a test holds this). A window of rests only is replaced by the opening of the
    piece when ``opening_if_silent`` (what ``choose_clip`` does for corpus clips; :func:`silent_window` tells
    whether it happened).

    Raises:
        ValueError: for a window without notes (the opening too, with ``opening_if_silent``), naming the piece and
            the window.
    """
    if attrs["bpm"] <= 0:
        raise ValueError(f"render_matched: attrs['bpm'] must be positive, got {attrs['bpm']}")
    clip_q = recipe.clip_seconds * attrs["bpm"] / 60.0
    excerpt = piece.slice_quarters(start_quarter, start_quarter + clip_q)
    if len(excerpt) == 0 and opening_if_silent:
        start_quarter, excerpt = 0.0, piece.slice_quarters(0.0, clip_q)
    if len(excerpt) == 0:
        raise ValueError(f"render_matched: piece {piece.id!r} has no notes in quarters "
                         f"{start_quarter:g}..{start_quarter + clip_q:g}")
    shift = 12 * int(round((attrs["median_pitch"] - float(np.median(excerpt.pitches))) / 12))
    if int(excerpt.pitches.min()) + shift < 0 or int(excerpt.pitches.max()) + shift > 127:
        shift = 0  # an octave move that leaves MIDI's range: keep the piece where it is
    excerpt = excerpt.transpose(shift)
    audio = render_clip(excerpt, {**attrs, "piece_id": piece.id}, recipe)  # (T,) int16
    return audio.astype(np.float32) / np.float32(32767)


def silent_window(piece: Piece, attrs: dict, recipe: CorpusRecipe, start_quarter: float = 0.0) -> bool:
    """True when the window :func:`render_matched` would render from ``start_quarter`` holds no note."""
    clip_q = recipe.clip_seconds * attrs["bpm"] / 60.0
    return len(piece.slice_quarters(start_quarter, start_quarter + clip_q)) == 0


def match_peak(audio, peak: float = PEAK) -> np.ndarray:
    """Scale every clip of ``audio`` (n, T) so that its largest magnitude is ``peak`` (the corpus stores every clip at
    :data:`helpers.audio_corpus.PEAK`, 0.9); a silent clip stays silent. A gain per clip: what changes is the level,
    not the sound. Notebook 06 scores the audio rows again after it, because the classifier's embedding (a log-mel
    front end that only ever heard clips at the corpus's peak) hears loudness too.
    """
    if not 0.0 < peak <= 1.0:
        raise ValueError(f"match_peak: peak must lie in (0, 1], got {peak}")
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"match_peak: audio must be (n, T), got shape {a.shape}")
    top = np.abs(a).max(axis=1, keepdims=True)  # (n, 1)
    return np.where(top > 0, a * (peak / np.maximum(top, 1e-12)), a)


@torch.no_grad()
def random_codes_audio(codec, n: int, seconds: float, generator: torch.Generator, batch_size: int = 32) -> torch.Tensor:
    """Audio (n, T) decoded from uniform random codes: every codebook, every frame, an independent uniform code.

    The random baseline of an audio leaderboard: what the decoder makes of codes no model chose.
    ``codec`` is a :class:`helpers.codec.Codec` (codes (B, K, frames)).
    """
    if n < 1:
        raise ValueError(f"random_codes_audio: n must be >= 1, got {n}")
    cfg = codec.config
    if seconds * cfg.frame_rate < 1:
        raise ValueError(f"random_codes_audio: seconds={seconds} is shorter than one frame ({1 / cfg.frame_rate:.3f} s)")
    frames = math.ceil(seconds * cfg.frame_rate - 1e-9)  # whole frames covering the clip (62.5 -> 63 at hop 1024)
    T = int(round(seconds * cfg.sample_rate))
    codes = torch.randint(0, cfg.codebook_size, (n, cfg.n_codebooks, frames), generator=generator)  # (n, K, F)
    return torch.cat([codec.decode(codes[i : i + batch_size])[:, :T] for i in range(0, n, batch_size)])  # (n, T)


@torch.no_grad()
def embed_and_predict(classifier, audio, sr: int, batch_size: int = 64) -> tuple[np.ndarray, dict[str, list[str]]]:
    """One pass of an :class:`helpers.classifier.AttributeClassifier` over N clips: its embeddings (N, D) float64
    (what ``classifier.embed`` gives) and its predicted class names (what ``classifier.predict`` gives).

    The fast path: the two methods each run the convolutional stack; here the embedding is computed once and the
    heads read it (mode from the chroma branch), as ``forward_features`` does in eval mode. A test holds the result
    equal to the two methods.
    """
    names = classifier.config.attributes
    D = classifier.config.embed_dim

    def both(x):  # (B, T) -> (B, D + sum of classes): embedding, then every head's logits in config order
        mel, chroma = classifier.features(x)
        e = classifier.embed_mel(mel)  # (B, D)
        logits = {name: head(e) for name, head in classifier.heads.items()}
        if classifier.mode_from_chroma is not None:
            logits["mode"] = classifier.mode_from_chroma(chroma)
        return torch.cat([e] + [logits[n] for n in names], dim=1)

    out = classifier._batched(audio, sr, batch_size, both)  # (N, D + classes)
    pred, start = {}, D
    for name, classes in classifier.config.heads:
        idx = out[:, start : start + len(classes)].argmax(1)
        pred[name] = [classes[i] for i in idx.tolist()]
        start += len(classes)
    return out[:, :D].numpy().astype(np.float64), pred


def attribute_accuracy(predicted: dict[str, Sequence[str]], attributes: Sequence[dict], names: Sequence[str],
                       level: float = 0.95) -> dict[str, Interval]:
    """Share of clips whose predicted attribute equals the attribute asked for, with its Wilson interval.

    The Wilson score interval (:func:`helpers.intervals.wilson_interval`) stays inside [0, 1] and is never empty:
    143 hits out of 143 clips give [0.97, 1.00], not the [1.00, 1.00] a bootstrap of all-hits returns.

    Args:
        predicted: ``{attribute: [class name per clip]}`` (what ``AttributeClassifier.predict`` returns).
        attributes: per clip, the attributes it was asked for (the matched held-out clip's).
        names: the attributes to score (e.g. ``('family', 'mode', 'tempo_band')``).
        level: the interval's nominal coverage.

    Raises:
        ValueError: for an attribute the classifier did not predict or a length mismatch.
    """
    out = {}
    for name in names:
        if name not in predicted:
            raise ValueError(f"attribute_accuracy: the prediction has no attribute {name!r}; it has {sorted(predicted)}")
        pred = list(predicted[name])
        if len(pred) != len(attributes):
            raise ValueError(f"attribute_accuracy: {len(pred)} predictions of {name!r} for {len(attributes)} clips")
        hits = sum(p == a[name] for p, a in zip(pred, attributes))
        out[name] = wilson_interval(int(hits), len(pred), level)
    return out


# --- autoencoders on the one scale ----------------------------------------------------------------------------
QUALITY_MEASURES = ("chroma", "log_mel", "si_snr", "mr_stft")


def quality_means(reference: np.ndarray, estimate: np.ndarray, sr: int) -> dict[str, float]:
    """Mean over clips of :func:`helpers.audio_quality.quality_table` (chroma, log-mel, SI-SNR, MR-STFT) between
    ``reference`` (N, T) and ``estimate`` (N, T), clip i against clip i."""
    from .audio_quality import quality_table

    if reference.shape != estimate.shape:
        raise ValueError(f"quality_means: reference {reference.shape} and estimate {estimate.shape} differ in shape")
    rows = [quality_table(r, e, sr) for r, e in zip(reference, estimate)]
    return {m: float(np.mean([q[m] for q in rows])) for m in QUALITY_MEASURES}


def quality_by_codebooks(model, clips, sr: int, batch: int = 8) -> list[dict]:
    """Mean :func:`quality_means` of a codec's reconstructions of ``clips`` (N, T) with its first 1..K codebooks: one
    row per K, with the bit rate (``{'n_codebooks', 'bitrate', 'chroma', 'log_mel', 'si_snr', 'mr_stft'}``). Works for
    any model with ``reconstruct(audio, sr, n_q)``, ``bitrate(k)`` and ``config.n_codebooks``
    (:class:`helpers.autoencoder.Autoencoder`, :class:`helpers.codec.Codec`): what the training scripts store."""
    clips = np.asarray(clips, dtype=np.float32)
    rows = []
    for k in range(1, model.config.n_codebooks + 1):
        rec = np.concatenate([np.asarray(model.reconstruct(torch.from_numpy(clips[i : i + batch, None]), sr=sr, n_q=k))
                              for i in range(0, len(clips), batch)])
        rows.append(dict(n_codebooks=k, bitrate=model.bitrate(k), **quality_means(clips, rec, sr)))
    return rows


def fp16_if_lossless(model, module, path, clips, sr: int, tolerance: float = 1e-3) -> tuple[list[dict], bool, float]:
    """Should a codec ship in float16? Save ``model`` in float16 to ``path`` with ``module.save_checkpoint``, load it
    back with ``module.load_checkpoint``, and compare :func:`quality_by_codebooks` on ``clips``: float16 if the
    all-codebook log-mel distance moves by less than ``tolerance``.

    Returns ``(table of the weights that ship, use_half, fp16 minus fp32 log-mel)``."""
    table32 = quality_by_codebooks(model, clips, sr)
    module.save_checkpoint(model, path, half=True)
    table16 = quality_by_codebooks(module.load_checkpoint(path), clips, sr)
    delta = table16[-1]["log_mel"] - table32[-1]["log_mel"]
    use_half = abs(delta) < tolerance
    return (table16 if use_half else table32), use_half, delta


def floor_estimates(audio: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """What an estimate that knows nothing about clip i looks like, for every clip of ``audio`` (N, T), N >= 2:

    - ``'noise'``: white Gaussian noise at the clip's RMS level;
    - ``'unrelated clip'``: another clip of the same set (a random derangement: never clip i itself).

    Scored against the clips with :func:`quality_means`, they are each measure's floor (a chroma of 0.44 against
    noise is "no pitch information", not "44% of it")."""
    audio = np.asarray(audio, dtype=np.float32)
    n = len(audio)
    if n < 2:
        raise ValueError(f"floor_estimates: need at least 2 clips, got {n}")
    rms = np.sqrt((audio.astype(np.float64) ** 2).mean(axis=1, keepdims=True))
    noise = (rng.standard_normal(audio.shape) * rms).astype(np.float32)
    perm = rng.permutation(n)
    fixed = perm == np.arange(n)
    while fixed.any():  # a derangement: move every fixed point by one place
        perm = np.where(fixed, np.roll(perm, 1), perm)
        fixed = perm == np.arange(n)
    return {"noise": noise, "unrelated clip": audio[perm]}


def score_audio_row(audio: np.ndarray, heldout: np.ndarray, held_attrs: Sequence[dict], reference_emb: np.ndarray,
                    classifier, sr: int, rng: np.random.Generator, quality: bool = True) -> dict:
    """One row of the autoencoders' table on notebook 06's one scale: ``audio`` (N, T), clip i standing for held-out
    clip i (a reconstruction, a floor).

    Returns ``{'fad'`` (plug-in FAD in the classifier's embedding against the reference embeddings
    ``reference_emb`` (M, D)), ``'fad_corrected', 'fad_low', 'fad_high'`` (the grouped jackknife's bias-corrected
    estimate and 95% interval, :func:`helpers.fad.fad_jackknife`, the method whose coverage notebook 06
    measures), ``'family', 'family_low', 'family_high'`` (the classifier's family accuracy against the held-out
    clips' families, Wilson interval), and, with ``quality``, :func:`quality_means` against the held-out clips ``}``.
    """
    from .fad import fad_jackknife
    from .intervals import wilson_interval

    emb, pred = embed_and_predict(classifier, audio, sr)
    jk = fad_jackknife(reference_emb, emb, rng)
    hits = sum(p == a["family"] for p, a in zip(pred["family"], held_attrs))
    fam = wilson_interval(hits, len(held_attrs))
    row = {"fad": jk.fad, "fad_corrected": jk.estimate, "fad_low": jk.low, "fad_high": jk.high,
           "family": fam.estimate, "family_low": fam.low, "family_high": fam.high}
    if quality:
        row.update(quality_means(heldout, audio, sr))
    return row


def load_autoencoder_table(path, root=None) -> dict:
    """The autoencoders' table written by ``scripts/measure_autoencoders.py``, checked: every checkpoint it scored
    (and the classifier that scored it) must still have the SHA-256 recorded, so a table never describes weights
    other than the ones a notebook loads.

    Raises:
        ValueError: naming the file whose hash differs (re-run the script after retraining).
    """
    import json
    from pathlib import Path

    from .checkpoints import file_sha256

    root = Path(root) if root is not None else Path(__file__).resolve().parent.parent
    table = json.loads(Path(path).read_text())
    for what in [table["classifier"], *table["models"].values()]:
        f = root / what["path"]
        if file_sha256(f) != what["sha256"]:
            raise ValueError(f"{path} was measured on another {what['path']} (SHA-256 differs): re-run "
                             "scripts/measure_autoencoders.py")
    return table


def format_autoencoder_rows(table: dict, models: Sequence[str] | None = None) -> list[tuple]:
    """Rows (name, bit/s, FAD, FAD / real-vs-real, family, chroma, log-mel, SI-SNR) of a
    :func:`load_autoencoder_table` for printing with ``helpers.exercises.format_table`` (floors and the real clips
    first, then each model's codebook counts)."""
    real = next(r for r in table["rows"] if r["row"] == "held-out real clips")["fad"]
    out = []
    for r in table["rows"]:
        if models is not None and r["model"] is not None and r["model"] not in models:
            continue
        out.append((r["row"], r["bitrate"] or "-", r["fad"], r["fad"] / real, r["family"], r.get("chroma", "-"),
                    r.get("log_mel", "-"), r.get("si_snr", "-")))  # "-": not measured (no bit rate, no clip to match)
    return out


__all__ = ["chorale_halves", "render_matched", "silent_window", "embed_and_predict", "random_codes_audio", "attribute_accuracy",
           "quality_means", "quality_by_codebooks", "fp16_if_lossless", "floor_estimates", "score_audio_row", "load_autoencoder_table", "format_autoencoder_rows"]
