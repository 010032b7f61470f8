"""Drawn diagrams of the course's pipelines (matplotlib only: boxes, arrows, labels).

- :func:`draw_jukebox_hierarchy` — Jukebox's levels and its top-down sampling: audio -> one encoder per level ->
  codes at each hop -> a label-conditioned top prior -> upsamplers conditioned on the level above (and, in Jukebox,
  the label) -> the bottom level's decoder -> audio.

The drawing primitives (:func:`_box`, :func:`_arrow`) are small private functions that every diagram of this module
shares. Each diagram returns its ``Figure``; every box is a ``FancyBboxPatch`` whose ``gid`` is its label (tests and
readers find a box by its text).

Notebooks: 04_jukebox_vqvae.ipynb, 05_musicgen.ipynb.
References: Dhariwal et al. 2020, "Jukebox: A Generative Model for Music" (arXiv:2005.00341), Fig. 1 (the VQ-VAE
levels) and Sec. 4 (the top-level prior and the upsamplers); Copet et al. 2023 (MusicGen, arXiv:2306.05284), Fig. 1
and Sec. 2.
"""
from __future__ import annotations

from typing import Sequence

COLORS = {"audio": "#f2f2f2", "encoder": "#cfe2f3", "codes": "#fff2cc", "prior": "#d9ead3", "decoder": "#f4cccc",
          "label": "#e6d5f0", "codec": "#fde9d9", "lm": "#e3f4e1", "text": "#efe6f7"}


def _box(ax, x: float, y: float, text: str, width: float = 1.6, height: float = 0.6, kind: str = "audio",
         fontsize: float = 8.5):
    """A rounded box centred on (x, y) with ``text`` inside; its ``gid`` is the text. Returns the patch."""
    from matplotlib.patches import FancyBboxPatch

    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.08",
                           facecolor=COLORS.get(kind, kind), edgecolor="0.25", linewidth=1.0, zorder=2)
    patch.set_gid(text)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=3)
    return patch


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str | None = None, style: str = "-|>",
           color: str = "0.2", dashed: bool = False, fontsize: float = 7.5, offset: tuple[float, float] = (0.0, 0.0),
           va: str = "center"):
    """An arrow from ``start`` to ``end`` (data coordinates), with an optional label at its middle (moved by
    ``offset``)."""
    from matplotlib.patches import FancyArrowPatch

    arrow = FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, color=color, linewidth=1.0,
                            linestyle="--" if dashed else "-", zorder=1, shrinkA=0, shrinkB=0)
    ax.add_patch(arrow)
    if text:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], text, ha="center", va=va,
                fontsize=fontsize, color=color, zorder=3, bbox=dict(facecolor="white", edgecolor="none", pad=0.5))
    return arrow


def box_labels(fig, first_line: bool = False) -> list[str]:
    """The labels of every box a diagram of this module drew (in drawing order): each box's text, or with
    ``first_line`` its first line only (the stage's name)."""
    from matplotlib.patches import FancyBboxPatch

    labels = [p.get_gid() for ax in fig.axes for p in ax.patches if isinstance(p, FancyBboxPatch) and p.get_gid()]
    return [t.split("\n")[0] for t in labels] if first_line else labels


def draw_jukebox_hierarchy(hops: Sequence[int] = (64, 256), sample_rate: int = 16000, label: str = "family",
                           title: str | None = None, ax=None, label_to_upsamplers: bool = True):
    """Jukebox's hierarchy and top-down sampling, for the levels ``hops`` (bottom first) at ``sample_rate``.

    Left half, compression (training): the audio goes through one encoder per level, separately, and each gives its
    codes at ``sample_rate / hop`` codes per second. Right half, generation (sampling, top-down): a top prior writes
    the top codes after the ``label`` token; each upsampler writes the level below, conditioned on the codes of the
    level above and on the label; the bottom level's decoder turns the bottom codes into audio.

    Args:
        hops: the levels' hops, bottom (smallest) first, e.g. (64, 256) (the course) or (8, 32, 128) (Jukebox).
        sample_rate: audio samples per second (16000 here, 44100 in Jukebox).
        label: what the top prior is conditioned on (Jukebox: artist and genre; the course: instrument family).
        title: the figure's title (default: the levels and the rate).
        ax: draw into these axes (a new figure when None).
        label_to_upsamplers: draw the label reaching every upsampler (Jukebox's upsamplers take the labels:
            ``upsamplers.update(labels)`` in its ``hparams.py``); False for a pipeline whose upsamplers see only the
            level above (the course's shipped upsampler).

    Returns:
        the matplotlib ``Figure``; :func:`box_labels` lists its boxes.
    """
    import matplotlib.pyplot as plt

    hops = [int(h) for h in hops]
    if not hops or sorted(hops) != hops or len(set(hops)) != len(hops):
        raise ValueError(f"hops must be distinct and increasing (bottom level first), got {hops}")
    n = len(hops)
    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 1.3 + 1.1 * n), dpi=90)
    else:
        fig = ax.figure
    rate = lambda h: f"{sample_rate / h:,.4g} codes/s"  # noqa: E731
    top_y = n - 1  # level i (0 = bottom) at height i
    # --- compression: audio -> one encoder per level -> codes ---------------------------------------------------
    _box(ax, 0.0, (n - 1) / 2, f"audio\n{sample_rate / 1000:g} kHz", width=1.3, kind="audio")
    for i, h in enumerate(hops):
        _box(ax, 2.0, i, f"encoder, hop {h}", width=1.9, kind="encoder")
        _arrow(ax, (0.65, (n - 1) / 2), (1.05, i))
        _box(ax, 4.2, i, f"codes, hop {h}\n{rate(h)}", width=1.8, kind="codes")
        _arrow(ax, (2.95, i), (3.3, i))
    ax.plot([5.45, 5.45], [-0.6, top_y + 1.3], color="0.6", lw=0.8, ls=":")
    # --- generation, top-down: label -> top prior -> upsamplers -> decoder ----------------------------------
    _box(ax, 7.0, top_y + 1.0, f"label: {label}", width=2.1, height=0.45, kind="label")
    _box(ax, 7.0, top_y, "top prior", width=1.6, kind="prior")
    _arrow(ax, (7.0, top_y + 0.775), (7.0, top_y + 0.3))
    _box(ax, 9.6, top_y, f"sampled, hop {hops[-1]}\n{rate(hops[-1])}", width=2.0, kind="codes")
    _arrow(ax, (7.8, top_y), (8.6, top_y))
    if n > 1 and label_to_upsamplers:  # the label reaches every upsampler too (dashed)
        ax.plot([5.95, 5.75, 5.75], [top_y + 1.0, top_y + 1.0, 0], color="tab:purple", lw=1.0, ls="--", zorder=1)
    for i in range(n - 2, -1, -1):
        _box(ax, 7.0, i, f"upsampler\nhop {hops[i + 1]} -> {hops[i]}", width=2.2, kind="prior")
        if label_to_upsamplers:
            _arrow(ax, (5.75, i), (5.9, i), color="tab:purple")
        _arrow(ax, (9.0, i + 0.7), (7.6, i + 0.3), text=f"x{hops[i + 1] // hops[i]}")  # conditioned on the level above
        _box(ax, 9.6, i, f"sampled, hop {hops[i]}\n{rate(hops[i])}", width=2.0, kind="codes")
        _arrow(ax, (8.1, i), (8.6, i))
    _box(ax, 11.9, 0, f"decoder, hop {hops[0]}", width=1.8, kind="decoder")
    _arrow(ax, (10.6, 0), (11.0, 0))
    out_y = 1.0 if n > 1 else -1.0
    _box(ax, 11.9, out_y, f"audio\n{sample_rate / 1000:g} kHz", width=1.3, kind="audio")
    _arrow(ax, (11.9, 0.3 if n > 1 else -0.3), (11.9, out_y - 0.3 if n > 1 else out_y + 0.3))
    ax.text(2.6, top_y + 0.75, "compress (each level trained on its own)", ha="center", fontsize=9, style="italic")
    ax.text(9.6, top_y + 1.0, "sample top-down", ha="center", va="center", fontsize=9, style="italic")
    ax.set_xlim(-0.8, 13.0)
    ax.set_ylim(-0.6 if n > 1 else -1.4, top_y + 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title if title is not None else
                 f"{n} levels at {sample_rate / 1000:g} kHz, hops {', '.join(map(str, hops))}", fontsize=10)
    return fig


def draw_musicgen_pipeline(n_codebooks: int = 4, frame_rate: float = 50.0, pattern: str = "delay",
                           text_encoder: str = "T5 in MusicGen,\nMiniLM here", figsize=(11, 4.2)):
    """MusicGen's pipeline as boxes and arrows, training path on top, generation path below (notebook 05).

    Args:
        n_codebooks: K, the codec's codebooks; frame_rate: its frames per second (both printed on the codes box).
        pattern: the interleaving pattern's name; text_encoder: what the text box says.

    Returns:
        the figure; :func:`box_labels` with ``first_line=True`` lists its stages: "audio", "codec encoder",
        "codes", "interleaving pattern", "text prompt", "text encoder", "transformer decoder", "classifier-free
        guidance", "pattern reverted", "codec decoder", "generated audio".
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    w, h = 1.55, 0.75
    # top row: audio -> codes -> steps (training data, and the sequence the LM predicts)
    top = 3.3
    _box(ax, 0.9, top, "audio\n16 kHz", width=1.3, height=h, kind="audio", fontsize=9)
    _box(ax, 2.75, top, "codec encoder\n(conv / RVQ)", width=w, height=h, kind="codec", fontsize=9)
    _box(ax, 4.75, top, f"codes\n{n_codebooks} codebooks x {frame_rate:g} Hz", width=1.75, height=h, kind="codes",
         fontsize=9)
    _box(ax, 6.85, top, f"interleaving pattern\n({pattern})", width=1.75, height=h, kind="codes", fontsize=9)
    _arrow(ax, (1.55, top), (1.97, top))
    _arrow(ax, (3.53, top), (3.87, top))
    _arrow(ax, (5.63, top), (5.97, top))
    # middle: text -> encoder -> cross-attention into the decoder
    mid = 1.95
    _box(ax, 0.9, mid, "text prompt\n\"slow organ\nchorale\"", width=1.3, height=h, kind="text", fontsize=8)
    _box(ax, 2.75, mid, f"text encoder\n{text_encoder}", width=w, height=h, kind="text", fontsize=8)
    _box(ax, 6.85, mid, "transformer decoder\nself-attention over steps,\ncross-attention to text", width=2.1,
         height=0.95, kind="lm", fontsize=8)
    _box(ax, 9.55, mid, "classifier-free guidance\nuncond + s (cond - uncond)", width=2.0, height=h, kind="lm",
         fontsize=8)
    _arrow(ax, (1.55, mid), (1.97, mid))
    _arrow(ax, (3.53, mid), (5.8, mid), "token embeddings\n(cross-attention keys, values)", offset=(0.0, 0.05),
           va="bottom")
    _arrow(ax, (6.85, top - h / 2), (6.85, mid + 0.475), "steps, K tokens each", offset=(-0.85, -0.1), va="bottom")
    _arrow(ax, (7.9, mid), (8.55, mid))
    _arrow(ax, (9.55, mid + h / 2), (7.7, mid + 0.475), "sampled step fed back", dashed=True,
           offset=(0.75, 0.0), va="bottom")
    # bottom row: sampled steps -> codes -> audio
    low = 0.6
    _box(ax, 9.55, low, "pattern reverted\nsteps -> codes", width=1.75, height=h, kind="codes", fontsize=8)
    _box(ax, 6.85, low, f"codec decoder\n{n_codebooks} x T codes -> samples", width=1.75, height=h, kind="codec",
         fontsize=8)
    _box(ax, 4.75, low, "generated audio", width=1.75, height=h, kind="audio", fontsize=9)
    _arrow(ax, (9.55, mid - h / 2), (9.55, low + h / 2))
    _arrow(ax, (8.67, low), (7.73, low))
    _arrow(ax, (5.97, low), (5.63, low))
    ax.text(0.2, 4.05, "training: predict the next step of the pattern's sequence (one loss per codebook), "
                       "the text dropped at random (here 20%)", fontsize=8, color="0.3", va="top")
    ax.text(0.2, 0.05, "generation: sample step by step (KV cache), then revert and decode", fontsize=8, color="0.3")
    fig.tight_layout()
    return fig
