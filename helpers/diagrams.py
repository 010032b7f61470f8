"""Drawn diagrams of the course's models (matplotlib only: boxes, arrows, labels).

- :func:`draw_musicgen_pipeline` — MusicGen's pipeline (notebook 05): codec encoder -> K codebooks at the frame
  rate -> interleaving pattern -> text-conditioned transformer decoder (text encoder -> cross-attention;
  classifier-free guidance) -> pattern reverted -> codec decoder -> audio.

Each function returns the :class:`matplotlib.figure.Figure`; its boxes are ``FancyBboxPatch`` patches whose
``get_label()`` is the box's first line of text (what the tests look for).

Notebook: 05_musicgen.ipynb. Reference: Copet et al. 2023 (MusicGen, arXiv:2306.05284), Fig. 1 and Sec. 2.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

_COLOURS = {"audio": "#e8f1fb", "codec": "#fde9d9", "codes": "#fff6d5", "lm": "#e3f4e1", "text": "#efe6f7"}


def _box(ax, x: float, y: float, w: float, h: float, text: str, kind: str = "codes", fontsize: float = 9):
    """A rounded box centred at (x, y), ``w`` x ``h`` in axes data units, with ``text`` (lines split by ``\\n``)
    centred in it; the patch's label is the text's first line."""
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                           facecolor=_COLOURS.get(kind, "white"), edgecolor="0.3", linewidth=1.0,
                           label=text.split("\n")[0])
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return patch


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str | None = None, dashed: bool = False,
           fontsize: float = 8, offset: tuple[float, float] = (0.0, 0.12)):
    """An arrow from ``start`` to ``end`` with an optional label beside its middle."""
    arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=1.0, color="0.25",
                            linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0)
    ax.add_patch(arrow)
    if text:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], text, ha="center",
                va="bottom", fontsize=fontsize, color="0.2")
    return arrow


def draw_musicgen_pipeline(n_codebooks: int = 4, frame_rate: float = 50.0, pattern: str = "delay",
                           text_encoder: str = "T5 in MusicGen,\nMiniLM here", figsize=(11, 4.2)):
    """MusicGen's pipeline as boxes and arrows, training path on top, generation path below.

    Args:
        n_codebooks: K, the codec's codebooks; frame_rate: its frames per second (both printed on the codes box).
        pattern: the interleaving pattern's name; text_encoder: what the text box says.

    Returns:
        the figure (boxes labelled: "audio", "codec encoder", "codes", "interleaving pattern", "text prompt",
        "text encoder", "transformer decoder", "classifier-free guidance", "pattern reverted", "codec decoder",
        "generated audio").
    """
    fig, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    w, h = 1.55, 0.75
    # top row: audio -> codes -> steps (training data, and the sequence the LM predicts)
    top = 3.3
    _box(ax, 0.9, top, 1.3, h, "audio\n16 kHz", "audio")
    _box(ax, 2.75, top, w, h, "codec encoder\n(conv / RVQ)", "codec")
    _box(ax, 4.75, top, 1.75, h, f"codes\n{n_codebooks} codebooks x {frame_rate:g} Hz", "codes")
    _box(ax, 6.85, top, 1.75, h, f"interleaving pattern\n({pattern})", "codes")
    _arrow(ax, (1.55, top), (1.97, top))
    _arrow(ax, (3.53, top), (3.87, top))
    _arrow(ax, (5.63, top), (5.97, top))
    # middle: text -> encoder -> cross-attention into the decoder
    mid = 1.95
    _box(ax, 0.9, mid, 1.3, h, "text prompt\n\"slow organ\nchorale\"", "text", fontsize=8)
    _box(ax, 2.75, mid, w, h, f"text encoder\n{text_encoder}", "text", fontsize=8)
    _box(ax, 6.85, mid, 2.1, 0.95, "transformer decoder\nself-attention over steps,\ncross-attention to text",
         "lm", fontsize=8)
    _box(ax, 9.55, mid, 2.0, h, "classifier-free guidance\nuncond + s (cond - uncond)", "lm", fontsize=8)
    _arrow(ax, (1.55, mid), (1.97, mid))
    _arrow(ax, (3.53, mid), (5.8, mid), "token embeddings\n(cross-attention keys, values)", offset=(0.0, 0.05))
    _arrow(ax, (6.85, top - h / 2), (6.85, mid + 0.475), "steps, K tokens each", offset=(-0.85, -0.1))
    _arrow(ax, (7.9, mid), (8.55, mid))
    _arrow(ax, (9.55, mid + h / 2), (7.7, mid + 0.475), "sampled step fed back", dashed=True, offset=(0.75, 0.0))
    # bottom row: sampled steps -> codes -> audio
    low = 0.6
    _box(ax, 9.55, low, 1.75, h, "pattern reverted\nsteps -> codes", "codes", fontsize=8)
    _box(ax, 6.85, low, 1.75, h, f"codec decoder\n{n_codebooks} x T codes -> samples", "codec", fontsize=8)
    _box(ax, 4.75, low, 1.75, h, "generated audio", "audio")
    _arrow(ax, (9.55, mid - h / 2), (9.55, low + h / 2))
    _arrow(ax, (8.67, low), (7.73, low))
    _arrow(ax, (5.97, low), (5.63, low))
    ax.text(0.2, 4.05, "training: predict the next step of the pattern's sequence (one loss per codebook), "
                       "the text dropped at random (here 20%)", fontsize=8, color="0.3", va="top")
    ax.text(0.2, 0.05, "generation: sample step by step (KV cache), then revert and decode", fontsize=8, color="0.3")
    fig.tight_layout()
    return fig


def box_labels(fig) -> list[str]:
    """The labels of the boxes drawn on ``fig`` (the first line of each box's text), in drawing order."""
    return [p.get_label() for ax in fig.axes for p in ax.patches if isinstance(p, FancyBboxPatch)]
