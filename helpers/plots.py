"""Look at the music: piano rolls, waveforms and log-mel spectrograms (matplotlib).

Every function draws into ``ax`` (or a new figure when ``ax`` is None) and returns the ``Axes``, so plots
can be combined: ``fig, axes = plt.subplots(2, 1); plot_piano_roll(p, ax=axes[0]); ...``.

Notebook: ``00_welcome.ipynb`` first, then wherever a piece or a sound is shown.
Reference: piano-roll and spectrogram displays as in Müller, *Fundamentals of Music Processing*
(2nd ed. 2021), Sec. 1.2 and 2.1 (libfmp's ``visualize_piano_roll``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.collections import PolyCollection

from .data import Piece, pitch_name

VOICE_COLORS = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink",
                "tab:olive", "tab:cyan", "tab:gray")


def _new_axes(ax, figsize=(9, 3.2)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, dpi=90)
    return ax


def note_rectangles(onset: np.ndarray, duration: np.ndarray, pitch: np.ndarray, height: float = 0.85) -> np.ndarray:
    """Corners of one rectangle per note, for a ``PolyCollection`` (thousands of notes draw in one go).

    Returns:
        float array (N, 4, 2): (time, pitch) corners, each bar ``height`` semitones tall, centred on its pitch.
    """
    x0 = np.asarray(onset, dtype=float)
    x1 = x0 + np.asarray(duration, dtype=float)
    y0 = np.asarray(pitch, dtype=float) - height / 2
    y1 = y0 + height
    return np.stack([np.stack([x0, y0], -1), np.stack([x1, y0], -1), np.stack([x1, y1], -1), np.stack([x0, y1], -1)], 1)


def quarters_per_bar(time_signature: str) -> float:
    """Length of one bar in quarter notes: ``'3/4'`` -> 3.0, ``'6/8'`` -> 3.0, ``'2/2'`` -> 4.0.

    Raises:
        ValueError: if the time signature is not ``'N/D'`` with positive whole numbers.
    """
    parts = str(time_signature).split("/")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"time signature must look like '3/4', got {time_signature!r}")
    num, den = int(parts[0]), int(parts[1])
    return num * 4.0 / den


MAJOR_TRIAD = (0, 4, 7)  # tonic, major third, fifth
MINOR_TRIAD = (0, 3, 7)


def pitch_ticks(p_lo: int, p_hi: int, tonic: int = -1, mode: str = "") -> list[int]:
    """The pitches a piano roll labels on its y axis, so that the labels read like music.

    - a range of at most 14 semitones: every semitone;
    - up to 24 semitones: the notes of the key's tonic triad (``tonic`` 0..11 with ``mode`` 'major' or 'minor'),
      or of C major (C E G) when the key is unknown, so a C-major progression reads C4 E4 G4 C5 ... (the triad
      rather than the whole scale: labels at least 3 semitones apart stay readable on a short plot);
    - wider: every C (the lowest pitch if the range holds no C).

    Labelling every second semitone from the lowest note, as a plain tick locator does, names whatever notes
    fall on the grid (F#4 / Ab4 / Bb4 for a C-major tune): never that.

    Returns:
        The labelled MIDI pitches, ascending, within [p_lo, p_hi].

    Raises:
        ValueError: if ``p_hi < p_lo`` or ``tonic`` is not -1 or 0..11.
    """
    p_lo, p_hi, tonic = int(p_lo), int(p_hi), int(tonic)
    if p_hi < p_lo:
        raise ValueError(f"pitch_ticks: p_hi ({p_hi}) must be >= p_lo ({p_lo})")
    if not -1 <= tonic <= 11:
        raise ValueError(f"pitch_ticks: tonic must be -1 (unknown) or a pitch class 0..11, got {tonic}")
    span = p_hi - p_lo
    if span <= 14:
        return list(range(p_lo, p_hi + 1))
    if span <= 24:
        if tonic < 0 or mode not in ("major", "minor"):
            tonic, mode = 0, "major"
        degrees = {(tonic + d) % 12 for d in (MAJOR_TRIAD if mode == "major" else MINOR_TRIAD)}
        return [p for p in range(p_lo, p_hi + 1) if p % 12 in degrees]
    return [p for p in range(p_lo, p_hi + 1) if p % 12 == 0] or [p_lo]


def plot_piano_roll(
    piece: Piece,
    ax=None,
    start: float | None = None,
    end: float | None = None,
    title: str | None = None,
    colors: Sequence[str] | dict | None = None,
    bar_lines: bool = True,
):
    """Draw notes as horizontal bars: x = time in quarter notes, y = pitch, one colour per voice.

    The y axis names pitches that read like music (:func:`pitch_ticks`: every semitone, the key's tonic triad,
    or every C, depending on the range).

    Args:
        piece: the piece to draw.
        ax: matplotlib Axes to draw into (None: a new figure).
        start, end: time window in quarter notes (None: from 0 / to the end of the piece); notes that
            overlap the window are drawn (one bar per note), clipped to it by the axis limits.
        title: axes title (None: the piece's title or id).
        colors: one colour per voice index (a list) or ``{voice name or index: colour}``.
        bar_lines: draw a thin line at every bar, from ``piece.time_signature`` (bars counted from 0; a
            pickup bar, if ``piece.meta['pickup_quarters']`` is set, shifts them).

    Returns:
        The Axes. Each voice is one ``PolyCollection`` in ``ax.collections`` holding one rectangle (path) per
        note; the legend lists the voices that have notes.

    Raises:
        ValueError: if ``end <= start``.
    """
    if not isinstance(piece, Piece):
        raise TypeError(f"plot_piano_roll expects a helpers.data.Piece, got {type(piece).__name__}")
    lo = 0.0 if start is None else float(start)
    hi = piece.duration_quarters if end is None else float(end)
    if hi <= lo:
        if end is None and start is None:
            hi = lo + 4.0  # an empty piece: an empty 4/4 bar
        else:
            raise ValueError(f"plot_piano_roll: end ({hi}) must be after start ({lo})")
    ax = _new_axes(ax)
    notes = piece.notes
    visible = notes[(notes["onset"] < hi) & (notes["onset"] + notes["duration"] > lo)]
    for v in np.unique(visible["voice"]).tolist():
        sel = visible[visible["voice"] == v]
        name = piece.voice_names[v] or f"voice {v}"
        ax.add_collection(PolyCollection(
            note_rectangles(sel["onset"], sel["duration"], sel["pitch"]), facecolors=_voice_color(colors, v, name),
            edgecolors="black", linewidths=0.3, label=name,
        ))
    if len(visible):
        p_lo, p_hi = int(visible["pitch"].min()), int(visible["pitch"].max())
    else:
        p_lo, p_hi = 60, 72
    ax.set_ylim(p_lo - 1.5, p_hi + 1.5)
    ax.set_xlim(lo, hi)
    ticks = pitch_ticks(p_lo, p_hi, piece.tonic, piece.mode)
    ax.set_yticks(ticks)
    ax.set_yticklabels([pitch_name(p) for p in ticks])
    for c in range((p_lo // 12 + 1) * 12, p_hi + 1, 12):  # faint line under every C
        ax.axhline(c - 0.5, color="0.88", linewidth=0.6, zorder=0)
    if bar_lines and piece.time_signature:  # free-metre tunes have no time signature, hence no bar lines
        bar = quarters_per_bar(piece.time_signature)
        pickup = float(piece.meta.get("pickup_quarters", 0.0)) % bar if piece.meta else 0.0
        first = pickup + np.ceil((lo - pickup) / bar) * bar
        for x in np.arange(first, hi + 1e-9, bar):
            ax.axvline(x, color="0.75", linewidth=0.6, zorder=0)
    ax.set_xlabel("time (quarter notes)")
    ax.set_ylabel("pitch")
    ax.set_title(piece.title or piece.id if title is None else title)
    if len(visible) and (len(piece.voice_names) > 1 or piece.voice_names[0]):
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize="small", frameon=False,
                  handlelength=1.0, borderaxespad=0.0)
    return ax


def _voice_color(colors, index: int, name: str):
    """Colour of a voice: ``colors[index]``, ``colors[name]`` (dict) or the default cycle."""
    if colors is None:
        return VOICE_COLORS[index % len(VOICE_COLORS)]
    if isinstance(colors, dict):
        if name in colors:
            return colors[name]
        if index in colors:
            return colors[index]
        return VOICE_COLORS[index % len(VOICE_COLORS)]
    if index >= len(colors):
        raise ValueError(f"plot_piano_roll: {len(colors)} colours given but the piece has a voice {index}")
    return colors[index]


def plot_waveform(audio, sr: int, ax=None, start: float = 0.0, duration: float | None = None, title: str | None = None):
    """Draw a mono signal against time in seconds.

    Args:
        audio: mono signal (T,), NumPy or torch.
        sr: its sample rate.
        ax: Axes to draw into (None: a new figure).
        start, duration: the window to show, in seconds (None: to the end).
        title: axes title.

    Returns:
        The Axes (one ``Line2D``).

    Raises:
        ValueError: for a window outside the signal.
    """
    from .audio import _as_audio, _check_sr

    audio = _as_audio(audio)
    sr = _check_sr(sr)
    i0 = int(round(start * sr))
    i1 = len(audio) if duration is None else i0 + int(round(duration * sr))
    if not 0 <= i0 < len(audio) or i1 <= i0:
        raise ValueError(
            f"plot_waveform: window start={start}s duration={duration} is outside the signal "
            f"({len(audio) / sr:.3f} s)"
        )
    seg = audio[i0:i1]
    t = (i0 + np.arange(len(seg))) / sr
    ax = _new_axes(ax, figsize=(9, 2.4))
    ax.plot(t, seg, linewidth=0.6, color="tab:blue")
    ax.set_xlim(t[0], t[-1] if len(t) > 1 else t[0] + 1.0 / sr)
    top = max(float(np.max(np.abs(seg))), 1e-3)
    ax.set_ylim(-1.1 * top, 1.1 * top)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    if title:
        ax.set_title(title)
    return ax


def plot_spectrogram(audio, sr: int, ax=None, title: str | None = None, n_mels: int = 80, hop_length: int = 256,
                     n_fft: int = 1024, colorbar: bool = True):
    """Draw the log-mel spectrogram of a signal (:func:`helpers.audio.log_mel_spectrogram`).

    x is time in seconds, y the mel band, labelled with its centre frequency in Hz.

    Returns:
        The Axes (one image in ``ax.images``).
    """
    from .audio import log_mel_spectrogram, mel_frequencies

    mel = log_mel_spectrogram(audio, sr, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length).numpy()  # (M, frames)
    ax = _new_axes(ax)
    seconds = mel.shape[1] * hop_length / sr
    im = ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, -0.5, n_mels - 0.5),
                   vmin=max(mel.max() - 8 * np.log(10), mel.min()), vmax=mel.max())  # show the top 80 dB
    centres = mel_frequencies(n_mels, 0.0, sr / 2)[1:-1]  # (M,)
    ticks = np.linspace(0, n_mels - 1, 6).round().astype(int)
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{centres[i]:.0f}" for i in ticks])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (Hz, mel scale)")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="log power", pad=0.01)
    return ax


def attention_by_distance(weights, max_distance: int) -> np.ndarray:
    """Mean attention weight that a query puts on the key ``d`` tokens back, for d = 0 .. ``max_distance``.

    Averaged over the queries that have a key that far back in every row (queries ``i >= max_distance``) and over
    the batch, so the numbers of one head are shares of a query's weight (a row sums to at most 1; the rest went
    further back than ``max_distance``).

    Args:
        weights: attention weights (B, H, T, T) or (H, T, T), each row a distribution over keys (causal: key <= query).
        max_distance: the largest distance d to report, < T.

    Returns:
        (H, max_distance + 1) array: entry [h, d] = mean over queries of weights[..., h, i, i - d].

    Notebook: 03_music_transformer.ipynb ("What do the heads look at?").
    Reference: Huang et al. 2018 (Music Transformer), Sec. 3.4 and the attention visualisations of its Sec. 5.
    """
    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=np.float64)
    if w.ndim == 3:
        w = w[None]
    if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"attention_by_distance: weights must be (B, H, T, T) or (H, T, T), got shape {w.shape}")
    T = w.shape[-1]
    if not 0 <= max_distance < T:
        raise ValueError(f"attention_by_distance: max_distance must lie in 0 .. {T - 1}, got {max_distance}")
    queries = np.arange(max_distance, T)  # (Q,)
    out = np.stack([w[:, :, queries, queries - d].mean(axis=(0, 2)) for d in range(max_distance + 1)], axis=1)
    return out  # (H, max_distance + 1)


def plot_attention_by_distance(profile: np.ndarray, ax=None, title: str | None = None, marks=(),
                               ymax: float | None = 1.0):
    """One line per head: attention weight against distance (the output of :func:`attention_by_distance`).

    Args:
        profile: (H, D + 1) mean weight per head and distance.
        ax: Axes to draw into (None: a new figure).
        title: axes title.
        marks: distances to mark with a thin vertical line (e.g. 3, 7, 11: the predicted token's voice).
        ymax: top of the y-axis (1: every panel on the same scale); None: scaled to this profile's largest weight,
            so that a layer whose heads spread thinly stays readable.

    Returns:
        The Axes (one ``Line2D`` per head, labelled "head h").
    """
    profile = np.asarray(profile)
    ax = _new_axes(ax, figsize=(6, 3))
    for d in marks:
        ax.axvline(d, color="0.85", linewidth=0.8, zorder=0)
    for h, row in enumerate(profile):
        ax.plot(np.arange(len(row)), row, "o-", ms=3, label=f"head {h + 1}")
    ax.set_xlabel("distance from query to key (tokens back)")
    ax.set_ylabel("mean attention weight")
    ax.set_ylim(0, ymax if ymax is not None else 1.1 * float(profile.max()))
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def plot_control_accuracy(rows: Sequence[dict], chance: dict, ax=None, title: str | None = None):
    """Accuracy of each attribute against the guidance scale, with Wilson 95% intervals and dashed chance lines.

    Args:
        rows: :func:`helpers.musicgen.control_accuracy`'s rows (``guidance_scale``, ``n``, one accuracy per attribute).
        chance: attribute -> chance accuracy (1 / number of classes); only attributes present in the rows are drawn.

    Notebook: 05_musicgen.ipynb (measured control).
    """
    from .intervals import wilson_interval

    ax = _new_axes(ax, figsize=(6, 3.5))
    scales = [r["guidance_scale"] for r in rows]
    for i, name in enumerate(k for k in chance if all(k in r for r in rows)):
        color = VOICE_COLORS[i % len(VOICE_COLORS)]
        acc = np.array([r[name] for r in rows])
        ci = [wilson_interval(round(r[name] * r["n"]), r["n"]) for r in rows]
        err = np.array([[a - c.low for a, c in zip(acc, ci)], [c.high - a for a, c in zip(acc, ci)]])
        ax.errorbar(scales, acc, yerr=err, marker="o", capsize=3, color=color, label=name)
        ax.axhline(chance[name], color=color, ls="--", lw=1)
    ax.set(xlabel="guidance scale", ylabel="accuracy", ylim=(0, 1.02), xticks=scales,
           title=title or f"does the audio do what the text says? (n = {rows[0]['n']}; dashed: chance)")
    ax.legend(fontsize=8)
    return ax
