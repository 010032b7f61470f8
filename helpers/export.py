"""Keep what you made: save a piece (or a sound) as MIDI and WAV with one call, with download links in the notebook.

    saved = save(piece, "my_chorale")            # outputs/my_chorale.mid + outputs/my_chorale.wav
    saved                                        # last line of a cell: two links that download the files
    save(audio, "my_sound", sr=16000)            # a signal has no notes: outputs/my_sound.wav only

- :func:`save` writes ``<folder>/<name>.mid`` through :func:`helpers.midi.write_midi` (a piece only) and
  ``<folder>/<name>.wav`` through :func:`helpers.audio.render` + :func:`helpers.audio.write_wav`, and returns a
  :class:`Saved` that a notebook shows as links (plain text elsewhere).
- :func:`check_name` says what is wrong with a file name before anything is written.

The folder is relative to the working directory (the notebook's folder in JupyterLab), so the links open the
files JupyterLab serves. Files of the same name are overwritten: re-running a cell replaces its output.

Notebook: ``03_music_transformer.ipynb`` (keep a generated chorale); any notebook that makes a piece.
Reference: MIDI 1.0 Detailed Specification (MIDI Manufacturers Association, 1996), Standard MIDI Files;
Microsoft/IBM RIFF WAVE format (1991), 16-bit PCM.
"""
from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import quote

from .audio import DEFAULT_SR, _as_audio, normalize_peak, render, write_wav
from .data import Piece
from .midi import write_midi

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
SUFFIXES = (".mid", ".midi", ".wav")


@dataclass(frozen=True)
class Saved:
    """The files :func:`save` wrote; a notebook displays them as download links.

    Attributes:
        midi: the ``.mid`` file, or None when a signal (no notes) was saved.
        wav: the ``.wav`` file.
        seconds: duration of the WAV file.
    """

    midi: Path | None
    wav: Path
    seconds: float

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.midi, self.wav) if p is not None)

    def __repr__(self) -> str:
        return "saved " + ", ".join(str(p) for p in self.paths) + f" ({self.seconds:.1f} s)"

    def _repr_html_(self) -> str:
        links = []
        for p in self.paths:
            rel = os.path.relpath(p)  # the kernel's working directory is the notebook's folder
            href = quote(Path(rel).as_posix())
            kind = "MIDI" if p.suffix == ".mid" else "WAV"
            links.append(f'<a href="{href}" download="{html.escape(p.name, quote=True)}">'
                         f"download {kind}: {html.escape(rel)}</a>")
        return "<div>" + " &nbsp;·&nbsp; ".join(links) + f" ({self.seconds:.1f} s)</div>"


def check_name(name) -> str:
    """``name`` if it makes a safe file name stem, else a ValueError that says why.

    A name is 1–100 characters, letters, digits, ``.``, ``_`` and ``-``, starting with a letter or digit, and no
    extension of its own (:func:`save` adds ``.mid`` and ``.wav``).
    """
    if not isinstance(name, str):
        raise TypeError(f"save: name must be a string such as 'my_chorale', got {type(name).__name__}")
    if name.lower().endswith(SUFFIXES):
        raise ValueError(f"save: name {name!r} has an extension; give the name alone ({Path(name).stem!r}): "
                         "save writes .mid and .wav itself")
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"save: name {name!r} is not a plain file name: use 1-100 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit, no folders (pass folder=... for those)")
    return name


def save(
    piece_or_audio,
    name: str,
    folder: str | Path = "outputs",
    sr: int = DEFAULT_SR,
    instrument: str | Mapping = "piano",
    qpm: float | None = None,
    programs=None,
    normalize: bool = True,
) -> Saved:
    """Save a piece as ``<folder>/<name>.mid`` and ``<folder>/<name>.wav`` (a signal: the WAV only), with one call.

    Args:
        piece_or_audio: a :class:`~helpers.data.Piece`, or a mono signal (NumPy array or torch tensor) at ``sr``.
        name: the file name without extension, e.g. ``"my_chorale"`` (see :func:`check_name`).
        folder: where to write; created if missing. Relative to the working directory (the notebook's folder).
        sr: sample rate of the WAV (a piece is rendered at it; a signal is taken to be at it).
        instrument: the synth instrument of the WAV, or a per-voice dict, as in :func:`helpers.audio.render`.
        qpm: tempo of the WAV for a piece (None: ``piece.qpm``; the MIDI file always carries ``piece.qpm``).
        programs: General MIDI programs for the MIDI file, as in :func:`helpers.midi.write_midi`.
        normalize: scale the WAV's peak to 0.9 (as :func:`helpers.audio.play` does); False keeps the level, which
            must then stay within [-1, 1].

    Returns:
        :class:`Saved` (the paths and the duration); as the last line of a cell it shows download links.

    Raises:
        ValueError: for an empty piece or signal, a bad name (:func:`check_name`), a folder that is a file,
            or what :func:`~helpers.audio.render` / :func:`~helpers.midi.write_midi` refuse.
        TypeError: for anything but a piece or a signal.

    Example:
        >>> save(piece, "bach_continuation", instrument="organ")   # doctest: +SKIP
        download MIDI: outputs/bach_continuation.mid · download WAV: outputs/bach_continuation.wav (24.3 s)
    """
    check_name(name)
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"save: folder {str(folder)!r} exists and is not a folder")
    if isinstance(piece_or_audio, Piece):
        piece = piece_or_audio
        if len(piece) == 0:
            raise ValueError(f"save: piece {piece.id!r} has no notes, nothing to save")
        audio = render(piece, instrument=instrument, sr=sr, qpm=qpm)
    elif isinstance(piece_or_audio, (str, bytes, Path, dict)) or piece_or_audio is None:
        raise TypeError(f"save: expects a helpers.data.Piece or a mono signal, got {type(piece_or_audio).__name__}")
    else:
        piece = None
        audio = _as_audio(piece_or_audio, what="save: audio")
    if normalize:
        audio = normalize_peak(audio)
    folder.mkdir(parents=True, exist_ok=True)
    midi_path = write_midi(piece, folder / f"{name}.mid", programs=programs) if piece is not None else None
    wav_path = write_wav(folder / f"{name}.wav", audio, sr)
    return Saved(midi=midi_path, wav=wav_path, seconds=len(audio) / sr)
