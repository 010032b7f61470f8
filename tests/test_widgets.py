import ipywidgets as w
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from helpers.data import piece_from_notes
from helpers.widgets import MusicPanel


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
