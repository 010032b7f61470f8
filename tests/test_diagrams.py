"""Tests of helpers.diagrams: the drawn MusicGen pipeline has its labelled boxes."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from helpers.diagrams import box_labels, draw_musicgen_pipeline  # noqa: E402


def test_musicgen_pipeline_has_every_stage_in_order():
    fig = draw_musicgen_pipeline(n_codebooks=4, frame_rate=50.0, pattern="delay")
    assert isinstance(fig, matplotlib.figure.Figure)
    labels = box_labels(fig)
    stages = ["audio", "codec encoder", "codes", "interleaving pattern", "text prompt", "text encoder",
              "transformer decoder", "classifier-free guidance", "pattern reverted", "codec decoder", "generated audio"]
    assert labels == stages
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "4 codebooks x 50 Hz" in texts and "(delay)" in texts and "cross-attention" in texts
    assert "T5" in texts and "uncond + s (cond - uncond)" in texts
    other = draw_musicgen_pipeline(n_codebooks=8, frame_rate=75.0, pattern="flatten")
    assert "8 codebooks x 75 Hz" in " ".join(t.get_text() for t in other.axes[0].texts)
    plt.close("all")
