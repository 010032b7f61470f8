"""Knobs for the notebooks: a panel that turns settings into music you can see and hear.

Every generator in the course (Markov chain, Music Transformer, ...) is a function ``settings -> Piece``. A
:class:`MusicPanel` puts ipywidgets controls in front of such a function; pressing the button calls it, then draws
the piano roll and plays the result. ``panel.generate()`` does the same without a browser (tests use it).

:class:`AudioPanel` does the same for generators that return audio (``settings -> waveform``): it draws the
spectrogram and plays the sound; a bad setting (an empty prompt, a duration out of range) prints the generator's
error message in the output area instead of failing silently in a callback.

Notebook: 01_representations.ipynb, 02_markov_chains.ipynb, 03_music_transformer.ipynb, 05_musicgen.ipynb.
"""
from __future__ import annotations

from typing import Callable, Mapping

from .data import Piece


class MusicPanel:
    """Controls + a button + an output area showing the piano roll, an audio player and optional text.

    Args:
        make_piece: called with the current value of every control as keyword arguments; returns a Piece.
        controls: name -> ipywidgets control (e.g. ``IntSlider``); names must match ``make_piece``'s arguments.
        instrument: timbre for playback (see ``helpers.audio.INSTRUMENTS``).
        describe: optional ``Piece -> str`` printed above the plot (first tokens, statistics, ...).
        max_quarters: only this many quarter notes are plotted and played, to keep things snappy.
        button: text of the button.

    Example:
        >>> import ipywidgets as w
        >>> panel = MusicPanel(lambda seed: my_model.sample(seed=seed), {"seed": w.IntText(0)})
        >>> panel.widget   # display it in a notebook cell
    """

    def __init__(
        self,
        make_piece: Callable[..., Piece],
        controls: Mapping[str, object],
        instrument: str = "piano",
        describe: Callable[[Piece], str] | None = None,
        max_quarters: float = 32.0,
        button: str = "Generate",
        sr: int = 22050,
    ):
        import ipywidgets as w

        from .audio import INSTRUMENTS

        if not callable(make_piece):
            raise TypeError("MusicPanel: make_piece must be callable (settings -> Piece)")
        if instrument not in INSTRUMENTS:
            raise ValueError(f"MusicPanel: unknown instrument {instrument!r}; choose one of {sorted(INSTRUMENTS)}")
        self.make_piece = make_piece
        self.controls = dict(controls)
        self.instrument = instrument
        self.describe = describe
        self.max_quarters = float(max_quarters)
        self.sr = int(sr)
        self.button = w.Button(description=button, button_style="primary")
        self.output = w.Output()
        self.button.on_click(lambda _: self.show())
        self.widget = w.VBox([w.HBox(list(self.controls.values()) + [self.button]), self.output])
        self.last_piece: Piece | None = None

    def values(self) -> dict:
        """The current setting of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def generate(self) -> Piece:
        """Call the generator with the current settings and return its piece (no drawing)."""
        piece = self.make_piece(**self.values())
        if not isinstance(piece, Piece):
            raise TypeError(f"MusicPanel: the generator returned {type(piece).__name__}, expected a Piece")
        self.last_piece = piece
        return piece

    def show(self) -> Piece:
        """Generate, then draw the piano roll and the audio player in the output area."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        from .audio import play
        from .plots import plot_piano_roll

        self.output.clear_output(wait=True)
        with self.output:
            piece = self.generate()
            if self.describe is not None:
                print(self.describe(piece))
            shown = piece.slice_quarters(0, self.max_quarters) if piece.duration_quarters > self.max_quarters else piece
            fig, ax = plt.subplots(figsize=(10, 3))
            plot_piano_roll(shown, ax=ax, title=f"{piece.id}: first {shown.duration_quarters:g} quarters")
            plt.show()
            display(play(shown, instrument=self.instrument, sr=self.sr))
        return piece


class AudioPanel:
    """Controls + a button + an output area showing the spectrogram and an audio player of a generated waveform.

    Args:
        make_audio: called with the current value of every control as keyword arguments; returns a mono waveform
            (1-D numpy array or tensor) at ``sr``.
        controls: name -> ipywidgets control (``Text``, ``FloatSlider``, ...); names must match ``make_audio``'s
            arguments.
        sr: the waveform's sample rate in Hz.
        describe: optional ``settings dict -> str`` printed above the plot.
        button: text of the button.

    Example:
        >>> import ipywidgets as w
        >>> panel = AudioPanel(lambda prompt: pipe.generate(prompt)[0], {"prompt": w.Text("solo flute")}, sr=16000)
        >>> panel.widget   # display it in a notebook cell
    """

    def __init__(self, make_audio, controls: Mapping[str, object], sr: int, describe=None, button: str = "Generate"):
        import ipywidgets as w

        if not callable(make_audio):
            raise TypeError("AudioPanel: make_audio must be callable (settings -> waveform)")
        if isinstance(sr, bool) or not isinstance(sr, int) or sr <= 0:
            raise ValueError(f"AudioPanel: sr must be a positive int (Hz), got {sr!r}")
        self.make_audio, self.controls, self.sr, self.describe = make_audio, dict(controls), sr, describe
        self.button = w.Button(description=button, button_style="primary")
        self.output = w.Output()
        self.button.on_click(lambda _: self.show())
        self.widget = w.VBox([w.VBox(list(self.controls.values()) + [self.button]), self.output])
        self.last_audio = None

    def values(self) -> dict:
        """The current setting of every control."""
        return {name: control.value for name, control in self.controls.items()}

    def generate(self):
        """Call the generator with the current settings; return its waveform as a 1-D float32 numpy array."""
        import numpy as np

        audio = self.make_audio(**self.values())
        audio = audio.detach().cpu().numpy() if hasattr(audio, "detach") else np.asarray(audio)
        if audio.ndim != 1 or audio.size == 0 or not np.isfinite(audio).all():
            raise ValueError(f"AudioPanel: the generator must return a non-empty finite 1-D waveform, got shape "
                             f"{audio.shape}")
        self.last_audio = audio.astype(np.float32)
        return self.last_audio

    def show(self):
        """Generate, then draw the spectrogram and the player in the output area; a ValueError or TypeError from
        the generator (bad settings) is printed there instead, and None returned."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        from .audio import play
        from .plots import plot_spectrogram

        self.output.clear_output(wait=True)
        with self.output:
            try:
                audio = self.generate()
            except (ValueError, TypeError) as err:  # shown to the learner: what to change, from the generator
                print(f"cannot generate with these settings: {err}")
                return None
            if self.describe is not None:
                print(self.describe(self.values()))
            fig, ax = plt.subplots(figsize=(10, 3))
            plot_spectrogram(audio, self.sr, ax=ax, title=f"{len(audio) / self.sr:.1f} s", colorbar=False)
            plt.show()
            display(play(audio, sr=self.sr))
        return audio
