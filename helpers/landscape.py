"""The landscape of music generation systems the lesson compares, with a source for every cell.

Facts here are quoted from the systems' papers or official posts; where a source does not state a figure, the
table says "not stated" instead of guessing (the lesson's own table gives "~1.2B" for MuseNet and "~41M" for Music
Transformer without a source: neither figure appears in the cited papers/posts).

Notebook: 00_welcome.ipynb.
"""
from __future__ import annotations

LANDSCAPE = [
    {
        "system": "Music Transformer",
        "year": 2018,
        "domain": "symbolic (performance events; chorale grid)",
        "output": "MIDI",
        "length": "minute-long piano pieces (thousands of events)",
        "size": "not stated as a total",
        "conditioning": "none, a primer to continue, or a melody (seq2seq)",
        "source": "Huang et al., 'Music Transformer', ICLR 2019 (arXiv:1809.04281)",
    },
    {
        "system": "MuseNet",
        "year": 2019,
        "domain": "symbolic (MIDI tokens)",
        "output": "MIDI",
        "length": "up to 4 minutes, 10 instruments",
        "size": "72 layers, 24 heads, 4,096-token context; parameters not stated",
        "conditioning": "composer/style and instrument tokens",
        "source": "Payne, 'MuseNet', OpenAI blog, 25 April 2019",
    },
    {
        "system": "Jukebox",
        "year": 2020,
        "domain": "raw audio via a 3-level VQ-VAE (hops 8/32/128 at 44.1 kHz)",
        "output": "waveform",
        "length": "minutes; about 9 hours to sample one minute",
        "size": "5B top-level prior, 1B per upsampler",
        "conditioning": "artist, genre, lyrics",
        "source": "Dhariwal et al., 'Jukebox', arXiv:2005.00341 (2020)",
    },
    {
        "system": "MusicLM",
        "year": 2023,
        "domain": "audio tokens (SoundStream + w2v-BERT, MuLan)",
        "output": "waveform, 24 kHz",
        "length": "consistent over several minutes",
        "size": "not stated as a total (three transformer stages)",
        "conditioning": "text (via MuLan), melody",
        "source": "Agostinelli et al., 'MusicLM', arXiv:2301.11325 (2023)",
    },
    {
        "system": "MusicGen",
        "year": 2023,
        "domain": "audio tokens (EnCodec 32 kHz, 4 codebooks at 50 Hz, delay pattern)",
        "output": "waveform, 32 kHz",
        "length": "trained on 30 s clips; longer by windowed continuation",
        "size": "300M, 1.5B, 3.3B",
        "conditioning": "text (T5 encoder), melody (chromagram)",
        "source": "Copet et al., 'Simple and Controllable Music Generation', NeurIPS 2023 (arXiv:2306.05284)",
    },
]

COLUMNS = ("system", "year", "domain", "output", "length", "size", "conditioning", "source")


def landscape_rows(sort_by: str = "year") -> list[dict]:
    """The table's rows, sorted by a column (default: year)."""
    if sort_by not in COLUMNS:
        raise KeyError(f"unknown column {sort_by!r}; columns are {COLUMNS}")
    return sorted(LANDSCAPE, key=lambda r: (r[sort_by], r["system"]))


def landscape_markdown(columns: tuple[str, ...] = COLUMNS) -> str:
    """The table as Markdown (for ``IPython.display.Markdown``)."""
    for c in columns:
        if c not in COLUMNS:
            raise KeyError(f"unknown column {c!r}; columns are {COLUMNS}")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in landscape_rows():
        lines.append("| " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)
