import ipywidgets as w
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from helpers.data import piece_from_notes
from helpers.widgets import AudioPanel, MusicPanel


def _scale(start, length):
    return piece_from_notes([(start + i, i * 0.5, 0.5) for i in range(length)], id=f"scale{start}")


def test_panel_passes_every_control_value_to_the_generator():
    panel = MusicPanel(_scale, {"start": w.IntSlider(value=60, min=40, max=80), "length": w.IntText(8)})
    assert panel.generate().pitches.tolist() == list(range(60, 68))
    panel.controls["start"].value = 50
    piece = panel.show()  # draws and plays into the output area
    assert piece.pitches[0] == 50 and panel.last_piece is piece
    import matplotlib.pyplot as plt

    fig = plt.gcf()  # the piano roll it drew (outside a kernel the Output widget captures nothing)
    assert fig.axes and fig.axes[0].get_title().startswith("scale50")
    plt.close("all")


def test_panel_rejects_bad_generators_and_instruments():
    with pytest.raises(ValueError, match="unknown instrument 'kazoo'"):
        MusicPanel(_scale, {}, instrument="kazoo")
    with pytest.raises(TypeError, match="callable"):
        MusicPanel(42, {})
    panel = MusicPanel(lambda: np.zeros(3), {})
    with pytest.raises(TypeError, match="returned ndarray"):
        panel.generate()


def _tone(freq, seconds):
    if seconds <= 0:
        raise ValueError(f"seconds must be > 0, got {seconds}")
    t = np.arange(int(seconds * 8000)) / 8000
    return np.sin(2 * np.pi * freq * t)


def test_audio_panel_passes_controls_draws_and_reports_bad_settings(capsys):
    import matplotlib.pyplot as plt

    panel = AudioPanel(_tone, {"freq": w.FloatSlider(value=440, min=100, max=1000), "seconds": w.FloatSlider(0.5)},
                       sr=8000, describe=lambda v: f"tone at {v['freq']:g} Hz")
    assert panel.generate().shape == (4000,) and panel.last_audio.dtype == np.float32
    panel.controls["seconds"].value = 0.25
    audio = panel.show()
    assert audio.shape == (2000,) and plt.gcf().axes[0].get_title() == "0.2 s"
    plt.close("all")
    panel.controls["seconds"].value = 0.0
    assert panel.show() is None  # the generator's error is printed, nothing is drawn
    assert "seconds must be > 0" in capsys.readouterr().out


def test_audio_panel_rejects_bad_generators():
    with pytest.raises(TypeError, match="callable"):
        AudioPanel(42, {}, sr=8000)
    with pytest.raises(ValueError, match="sr must be a positive int"):
        AudioPanel(_tone, {}, sr=0)
    with pytest.raises(ValueError, match="1-D waveform"):
        AudioPanel(lambda: np.zeros((2, 3)), {}, sr=8000).generate()
    with pytest.raises(ValueError, match="finite"):
        AudioPanel(lambda: np.array([0.0, np.nan]), {}, sr=8000).generate()
