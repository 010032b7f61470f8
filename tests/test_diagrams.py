"""Tests of helpers.diagrams on the Agg backend: the boxes a diagram draws, by their labels."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from helpers.diagrams import box_labels, draw_jukebox_hierarchy, draw_musicgen_pipeline  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_course_hierarchy_has_every_stage_with_its_hop_and_rate():
    fig = draw_jukebox_hierarchy((64, 256), 16000, label="family")
    labels = box_labels(fig)
    assert isinstance(fig, matplotlib.figure.Figure)
    for expected in ("encoder, hop 64", "encoder, hop 256", "codes, hop 64\n250 codes/s",
                     "codes, hop 256\n62.5 codes/s", "label: family", "top prior", "upsampler\nhop 256 -> 64",
                     "sampled, hop 256\n62.5 codes/s", "sampled, hop 64\n250 codes/s", "decoder, hop 64"):
        assert expected in labels, expected
    assert labels.count("audio\n16 kHz") == 2  # in and out
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "x4" in texts  # the upsampler stretches the level above by its hop ratio


def test_jukebox_three_levels_give_two_upsamplers_and_draw_into_given_axes():
    fig, ax = plt.subplots()
    assert draw_jukebox_hierarchy((8, 32, 128), 44100, label="artist, genre", ax=ax) is fig
    labels = box_labels(fig)
    assert [x for x in labels if x.startswith("upsampler")] == ["upsampler\nhop 128 -> 32", "upsampler\nhop 32 -> 8"]
    assert "codes, hop 8\n5,512 codes/s" in labels and sum(x.startswith("encoder") for x in labels) == 3
    assert "decoder, hop 8" in labels and not ax.axison


@pytest.mark.parametrize("hops", [(), (256, 64), (64, 64)])
def test_refuses_hops_that_are_not_increasing(hops):
    with pytest.raises(ValueError, match="increasing"):
        draw_jukebox_hierarchy(hops)


def test_the_label_reaches_the_upsamplers_only_when_asked():
    def purple_lines(fig):
        ax = fig.axes[0]
        arrows = [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"
                  and matplotlib.colors.same_color(p.get_edgecolor(), "tab:purple")]
        lines = [ln for ln in ax.lines if matplotlib.colors.same_color(ln.get_color(), "tab:purple")]
        return len(arrows) + len(lines)

    assert purple_lines(draw_jukebox_hierarchy((8, 32, 128), 44100)) == 3  # the label line and one arrow per upsampler
    assert purple_lines(draw_jukebox_hierarchy((64, 256), 16000, label_to_upsamplers=False)) == 0


def test_musicgen_pipeline_has_every_stage_in_order():
    fig = draw_musicgen_pipeline(n_codebooks=4, frame_rate=50.0, pattern="delay")
    assert isinstance(fig, matplotlib.figure.Figure)
    stages = ["audio", "codec encoder", "codes", "interleaving pattern", "text prompt", "text encoder",
              "transformer decoder", "classifier-free guidance", "pattern reverted", "codec decoder", "generated audio"]
    assert box_labels(fig, first_line=True) == stages
    assert box_labels(fig)[2] == "codes\n4 codebooks x 50 Hz"  # the whole text, without first_line
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "4 codebooks x 50 Hz" in texts and "(delay)" in texts and "cross-attention" in texts
    assert "T5" in texts and "uncond + s (cond - uncond)" in texts
    other = draw_musicgen_pipeline(n_codebooks=8, frame_rate=75.0, pattern="flatten")
    assert "8 codebooks x 75 Hz" in " ".join(t.get_text() for t in other.axes[0].texts)
