"""Tests of scripts/build_book.py (`make book`) on two small generated notebooks, not the course (that takes minutes).

The book is built once per module: chapter 1 plays two clips, draws a plot, shows some math and a panel of widgets
whose Output plays a third clip; chapter 2 plays one clip. The pages are parsed with html.parser and checked for what an offline reader needs: one working
player per player of the executed notebook, OGG Vorbis files that decode, navigation links that lead to pages, and
no resource that would have to come from the network.
"""
from __future__ import annotations

import hashlib
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pytest
import soundfile as sf
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import paths

ROOT = Path(__file__).resolve().parents[1]
SR = 8000
# seconds of each clip, in order; chapter 1's third plays inside a widget (an Output, as helpers.widgets.MusicPanel)
CLIPS = {"01_two_clips": [1.0, 0.5, 0.75], "02_one_clip": [0.25]}


def load_script():
    return paths.load_script("build_book")


bb = load_script()


def clip_cell(seconds: float, freq: float, display: bool) -> str:
    code = f"play(np.sin(2 * np.pi * {freq} * np.arange(int({seconds} * {SR})) / {SR}), sr={SR})"
    return f"display({code})" if display else code


def write_notebooks(folder: Path) -> list[Path]:
    first = new_notebook(cells=[
        new_markdown_cell("# Two clips and a plot\n\nTemperature: $p^{1/T}$, in code `cost = $5` stays.\n\n"
                          "$$\\frac{D\\,N_{1+}(h)}{c(h)}$$"),
        new_code_cell("import numpy as np\nimport matplotlib.pyplot as plt\nfrom helpers.audio import play"),
        new_code_cell(clip_cell(1.0, 440.0, display=True) + "\n" + clip_cell(0.5, 660.0, display=False)),
        new_code_cell("plt.plot(np.arange(10) ** 2)\nplt.title('a plot')\nplt.show()"),
        new_code_cell("import ipywidgets\nout = ipywidgets.Output()\nwith out:\n    "
                      + clip_cell(0.75, 550.0, display=True) + "\n"
                      "controls = [ipywidgets.IntSlider(value=3, description='n'),\n"
                      "            ipywidgets.Dropdown(options=['a', 'b'], value='b', description='pick')]\n"
                      "ipywidgets.VBox([ipywidgets.HBox(controls), out])"),
        new_markdown_cell("See [the paper](https://arxiv.org/abs/1809.04281), [the next chapter](02_one_clip.ipynb) "
                          "and [its clip](02_one_clip.ipynb#One-clip), [my notes](notes.txt) and "
                          "[a term](GLOSSARY.md#nats)."),
    ])
    second = new_notebook(cells=[
        new_markdown_cell("# One clip"),
        new_code_cell("import numpy as np\nfrom helpers.audio import play\n" + clip_cell(0.25, 330.0, display=False)),
    ])
    (folder / "notes.txt").write_text("a file next to the notebooks, not a chapter")
    (folder / "GLOSSARY.md").write_text('# Glossary\n\n<a id="nats"></a>\n### nats\nLog-loss with the natural log; '
                                        'see [chapter 2](02_one_clip.ipynb).\n')
    paths = [folder / "01_two_clips.ipynb", folder / "02_one_clip.ipynb"]
    for nb, path in zip((first, second), paths):
        nbformat.write(nb, path)
    return paths


class Page(HTMLParser):
    """Collects what a page would load or link to."""

    def __init__(self, text: str):
        super().__init__()
        self.audio, self.sources, self.links, self.loads, self.imgs, self.styles = 0, [], [], [], [], []
        self.ids = set()
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "audio":
            self.audio += 1
        if tag == "source":
            self.sources.append(a)
        if tag == "a" and "href" in a:
            self.links.append(a)
        if tag == "img":
            self.imgs.append(a)
        if tag == "style":
            self._in_style = True
        for attr in ("src", "data-src", "poster"):
            if a.get(attr):
                self.loads.append(a[attr])
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def css_urls(css: str) -> list[str]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)  # comments may cite web pages; they load nothing
    return re.findall(r"""url\(\s*['"]?([^'")]+)""", css) + re.findall(r"""@import\s+['"]([^'"]+)""", css)


def remote(url: str) -> bool:
    return bool(re.match(r"(?i)\s*(https?:)?//", url))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("book_src")
    notebooks = write_notebooks(folder)
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in notebooks]
    out = tmp_path_factory.mktemp("book")
    with pytest.MonkeyPatch.context() as mp:  # the kernel imports this worktree's helpers
        mp.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        chapters = bb.build_book(notebooks, out, timeout=120, log=lambda *_: None)
    return out, chapters, notebooks, digests


def test_one_ogg_player_per_player_of_the_executed_notebook(book):
    out, chapters, _, _ = book
    assert [c.page for c in chapters] == ["01_two_clips.html", "02_one_clip.html"]
    for ch in chapters:
        page = Page((out / ch.page).read_text(encoding="utf-8"))
        seconds = CLIPS[ch.stem]
        assert ch.players == len(seconds)  # counted on the executed notebook
        assert page.audio == ch.players
        assert len(page.sources) == ch.players
        for source, want in zip(page.sources, seconds):
            assert source["type"] == "audio/ogg"
            assert source["src"] == f"audio/{ch.stem}_{seconds.index(want) + 1:02d}.ogg"
            path = out / source["src"]
            info = sf.info(str(path))
            assert (info.format, info.subtype) == ("OGG", "VORBIS")
            audio, sr = sf.read(str(path))
            assert sr == SR and len(audio) == int(want * SR)  # every sample kept
            assert np.max(np.abs(audio)) > 0.5  # play() normalises to 0.9; lossy, not silent
        assert sorted(p.name for p in ch.audio) == sorted(Path(s["src"]).name for s in page.sources)
        assert "data:audio" not in (out / ch.page).read_text(encoding="utf-8")  # no WAV left inline


def test_navigation_links_lead_to_pages_in_order(book):
    out, chapters, _, _ = book
    index = Page((out / "index.html").read_text(encoding="utf-8"))
    assert [a["href"] for a in index.links] == [c.page for c in chapters] + ["glossary.html"]
    for i, ch in enumerate(chapters):
        page = Page((out / ch.page).read_text(encoding="utf-8"))
        rels = {}
        for a in page.links:
            href = a["href"]
            if href.startswith("#") or remote(href):
                continue
            target, _, frag = href.partition("#")
            assert (out / target).is_file(), f"{ch.page}: link to missing {href}"
            if frag:
                assert frag in Page((out / target).read_text(encoding="utf-8")).ids, f"{ch.page}: no anchor {href}"
            rels.setdefault(a.get("rel"), set()).add(href)
        assert rels["contents"] == {"index.html"}  # top and bottom
        assert rels.get("prev") == ({chapters[i - 1].page} if i > 0 else None)
        assert rels.get("next") == ({chapters[i + 1].page} if i + 1 < len(chapters) else None)
        assert sum(1 for a in page.links if a.get("rel") == "contents") == 2
    # links written in a notebook: to another chapter -> its page; to another file -> that file
    hrefs = [a["href"] for a in Page((out / chapters[0].page).read_text(encoding="utf-8")).links]
    assert "02_one_clip.html" in hrefs and "02_one_clip.html#One-clip" in hrefs
    assert not [h for h in hrefs if ".ipynb" in h]
    (notes,) = [h for h in hrefs if h.endswith("notes.txt")]
    assert (out / notes).resolve() == (chapters[0].source.parent / "notes.txt").resolve()


def test_nothing_is_loaded_from_the_network(book):
    out, chapters, _, _ = book
    css = (out / "book.css").read_text(encoding="utf-8")
    assert len(css) > 10_000  # JupyterLab's theme, shared by every page
    assert not [u for u in css_urls(css) if remote(u)]
    for name in ["index.html"] + [c.page for c in chapters]:
        text = (out / name).read_text(encoding="utf-8")
        page = Page(text)
        assert not [u for u in page.loads if remote(u)], name
        assert not [u for s in page.styles for u in css_urls(s) if remote(u)], name
        for local in (u for u in page.loads if not u.startswith("data:")):
            assert (out / local).is_file(), f"{name} loads missing {local}"
        assert "<script" not in text.lower()  # no MathJax, require.js, widget manager or mermaid
    # a link to a paper is a link, not a resource
    assert any(a["href"] == "https://arxiv.org/abs/1809.04281" for a in Page((out / chapters[0].page).read_text()).links)


def test_plot_math_and_widgets_are_rendered_statically(book):
    out, chapters, _, _ = book
    text = (out / chapters[0].page).read_text(encoding="utf-8")
    page = Page(text)
    assert sum(i["src"].startswith("data:image/png;base64,") for i in page.imgs) == 1  # the plot
    math = [i for i in page.imgs if i.get("class") == "book-math"]
    assert [i["alt"] for i in math] == ["p^{1/T}", "\\frac{D\\,N_{1+}(h)}{c(h)}"]
    assert all(i["src"].startswith("data:image/svg+xml;base64,") for i in math)
    assert "cost = $5" in text  # code is left alone
    assert bb.WIDGET_NOTE in text and "widget-view+json" not in text
    assert "settings in this run: n = 3, pick = b" in text


def test_committed_notebooks_are_only_read(book):
    _, _, notebooks, digests = book
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in notebooks] == digests
    assert bb.count_audio_players(nbformat.read(notebooks[0], as_version=4)) == 0  # the source has no outputs


def test_render_math_skips_code_and_escaped_dollars():
    md = "a $x^2$ b `$y$` c \\$5 and \\$6\n```\n$z$\n```"
    out = bb.render_math(md)
    assert out.count('class="book-math"') == 1
    assert "`$y$`" in out and "\\$5 and \\$6" in out and "```\n$z$\n```" in out
    assert "<code>" in bb.math_svg(r"\notacommand{x}")  # what mathtext cannot draw stays readable


def test_player_without_embedded_audio_is_an_error(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x")])
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"text/html": '<audio src="a.wav"></audio>'})]
    with pytest.raises(ValueError, match="no embedded data"):
        bb.externalise_audio(nb, tmp_path, "nb")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="no notebooks"):
        bb.build_book([], tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.ipynb"):
        bb.build_book([tmp_path / "missing.ipynb"], tmp_path)


def test_a_failing_notebook_is_named(tmp_path):
    bad = tmp_path / "03_broken.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 / 0")]), bad)
    with pytest.raises(RuntimeError, match="03_broken.ipynb failed") as err:
        bb.build_book([bad], tmp_path / "out", timeout=60)
    assert "ZeroDivisionError" in str(err.value.__cause__)


def test_glossary_becomes_a_page_and_term_links_reach_it(book):
    out, chapters, _, _ = book
    glossary = Page((out / "glossary.html").read_text())
    assert "nats" in glossary.ids
    assert any(a["href"] == "02_one_clip.html" for a in glossary.links)  # its links to notebooks lead to pages
    first = Page((out / chapters[0].page).read_text())
    assert any(a["href"] == "glossary.html#nats" for a in first.links)
    assert any(a["href"] == "glossary.html" for a in Page((out / "index.html").read_text()).links)
