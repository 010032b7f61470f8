"""Build the whole course as a static HTML book that plays and reads offline: ``make book``.

    .venv/bin/python scripts/build_book.py                      # every notebooks/NN_*.ipynb -> build/book/
    .venv/bin/python scripts/build_book.py --out /tmp/b nb.ipynb  # chosen notebooks, another folder

The committed notebooks carry no audio (``scripts/execute_notebook.py`` strips it), so a reader who has not run them
hears nothing. This script runs an in-memory copy of every notebook (fresh kernel, working directory = the notebook's
folder, as ``make test`` does; the ``.ipynb`` files are only read, never written), then turns each into a page:

    notebooks/00_welcome.ipynb ──execute──> outputs with <audio src="data:audio/wav;base64,...">
                                  │  every audio player ──> build/book/audio/00_welcome_01.ogg (OGG Vorbis, soundfile)
                                  │  every $math$        ──> inline SVG (matplotlib mathtext), no MathJax
                                  │  widgets             ──> their settings as a note (what they displayed stays)
                                  └─ nbconvert (lab template, no require.js / MathJax / mermaid / widget scripts)
                                     ──> build/book/00_welcome.html  with contents / previous / next links;
                                         links to 01_x.ipynb lead to 01_x.html
    build/book/index.html: the contents page (chapter titles, players per chapter, run time, build commit).

Plots stay PNG, embedded in the page. Nothing on a page loads from the network: links to papers are links, not
resources. ``tests/test_book.py`` builds a small generated notebook and checks the players, the OGG files, the links and
the absence of remote resources.
"""
from __future__ import annotations

import argparse
import base64
import html
import io
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import nbformat

ROOT = Path(__file__).resolve().parents[1]
AUDIO_RE = re.compile(r"<audio\b.*?</audio>", re.S | re.I)
DATA_URI_RE = re.compile(r"""src=["']data:audio/[\w.+-]+;base64,([A-Za-z0-9+/=\s]+)["']""", re.I)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "[interactive controls: open the notebook in JupyterLab (make lab) to use them]"


# --- audio --------------------------------------------------------------------------------------------------------
def count_audio_players(nb) -> int:
    """Number of ``<audio>`` elements in the HTML outputs of an (executed) notebook."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = out.get("data", {}).get("text/html", "")
            n += len(AUDIO_RE.findall("".join(text) if isinstance(text, list) else text))
    return n


def write_ogg(audio_bytes: bytes, path: Path) -> float:
    """Decode an embedded audio file (WAV or anything soundfile reads) and write it as OGG Vorbis.

    Returns the duration in seconds. Vorbis is lossy but keeps every sample (same length, same rate) at a small
    fraction of 16-bit WAV's size (libsndfile's default quality); the build prints the sizes.
    """
    import soundfile as sf

    audio, sr = sf.read(io.BytesIO(audio_bytes), dtype="float32", always_2d=True)  # (T, C)
    if audio.shape[0] == 0:
        raise ValueError(f"{path.name}: the embedded audio has no samples")
    sf.write(str(path), audio, sr, format="OGG", subtype="VORBIS")
    return audio.shape[0] / sr


def externalise_audio(nb, audio_dir: Path, stem: str) -> list[Path]:
    """Replace every embedded audio player by one that plays ``audio/<stem>_NN.ogg`` (written to ``audio_dir``).

    Raises:
        ValueError: for an ``<audio>`` element without an embedded (data URI) source: the book would be silent there.
    """
    written: list[Path] = []

    def swap(match: re.Match) -> str:
        element = match.group(0)
        src = DATA_URI_RE.search(element)
        if src is None:
            raise ValueError(f"{stem}: an audio player has no embedded data: source: {element[:200]!r}")
        path = audio_dir / f"{stem}_{len(written) + 1:02d}.ogg"
        seconds = write_ogg(base64.b64decode(re.sub(r"\s", "", src.group(1))), path)
        written.append(path)
        return (f'<audio controls preload="metadata" title="{seconds:.1f} s">'
                f'<source src="audio/{path.name}" type="audio/ogg">'
                f"Your browser cannot play OGG Vorbis audio: open audio/{path.name} with a media player.</audio>")

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/html" in data:
                text = data["text/html"]
                text = "".join(text) if isinstance(text, list) else text
                data["text/html"] = AUDIO_RE.sub(swap, text)
    return written


def _walk_widget(state: dict, model_id: str, settings: list[str], seen: set) -> None:
    """Depth-first through a widget and its children: the settings of its controls."""
    if model_id in seen or model_id not in state:
        return
    seen.add(model_id)
    model = state[model_id]
    st = model.get("state", {})
    label = st.get("description") or ""
    if "_options_labels" in st and isinstance(st.get("index"), int):  # Dropdown, RadioButtons, ...
        settings.append(f"{label or 'choice'} = {st['_options_labels'][st['index']]}")
    elif "value" in st and model.get("model_name") not in ("HTMLModel", "LabelModel", "HTMLMathModel"):
        settings.append(f"{label or 'value'} = {st['value']}")
    for child in st.get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            _walk_widget(state, child[len("IPY_MODEL_"):], settings, seen)


def replace_widgets(nb) -> int:
    """A static page cannot run widgets (their scripts would come from a CDN): show their settings as a note.

    What a widget's Output area displayed during the run (a MusicPanel's first piano roll and audio player) is already
    among the cell's outputs, since :func:`execute` does not imitate Output widgets. Returns the number replaced.
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        new_outputs = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_MIME)
            if view is None:
                new_outputs.append(out)
                continue
            n += 1
            settings: list[str] = []
            _walk_widget(state, view.get("model_id", ""), settings, set())
            note = WIDGET_NOTE + (f"\nsettings in this run: {', '.join(settings)}" if settings else "")
            new_outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": note}))
        cell["outputs"] = new_outputs
    nb.metadata.pop("widgets", None)
    return n


# --- math without MathJax -----------------------------------------------------------------------------------------
# Code (fenced blocks, `spans`) is kept as it is; $$display$$ and $inline$ math outside it becomes an SVG image.
CODE_RE = re.compile(r"(```.*?```|~~~.*?~~~|`+[^`]*?`+)", re.S)
MATH_RE = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$", re.S)


def math_svg(tex: str, display: bool = False) -> str:
    """One TeX formula as an ``<img>`` holding an SVG drawn by matplotlib's mathtext (a TeX subset, no LaTeX needed).

    A formula mathtext cannot parse is shown as its TeX source in ``<code>`` rather than failing the build.
    """
    import matplotlib
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buf = io.BytesIO()
    size = 13 if display else 11
    try:
        with matplotlib.rc_context({"mathtext.fontset": "cm", "svg.fonttype": "path"}):  # TeX's look, no font needed
            depth = mathtext.math_to_image(f"${tex}$", buf, prop=FontProperties(size=size), format="svg")
    except ValueError:
        return f"<code>{html.escape(tex)}</code>"
    uri = "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()
    img = (f'<img class="book-math" alt="{html.escape(tex, quote=True)}" src="{uri}" '
           f'style="vertical-align:-{depth:.1f}pt; margin:0">')
    return f'<div class="book-math-display" style="text-align:center; margin:0.6em 0">{img}</div>' if display else img


def render_math(markdown: str) -> str:
    """Markdown with its ``$...$`` / ``$$...$$`` formulas drawn as SVG; code spans and blocks untouched."""
    parts = CODE_RE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        parts[i] = MATH_RE.sub(lambda m: math_svg(m.group(1), True) if m.group(1) is not None
                               else math_svg(m.group(2)), parts[i])
    return "".join(parts)


def render_all_math(nb) -> None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = render_math(cell.source)
        elif cell.cell_type == "code":
            for out in cell.get("outputs", []):
                md = out.get("data", {}).get("text/markdown")
                if md is not None:
                    out["data"]["text/markdown"] = render_math("".join(md) if isinstance(md, list) else md)


# --- pages ---------------------------------------------------------------------------------------------------------
# The lab template's own small rules (its notebook_css block), kept since that block now links book.css.
LAB_MISC_CSS = """
* { -webkit-print-color-adjust: exact; }
a.anchor-link { display: none; }
.jp-InputArea { overflow: hidden; }
.jp-InputArea-editor { overflow: hidden; }
.cm-editor.cm-s-jupyter .highlight pre { padding: var(--jp-code-padding) 4px; margin: 0; font-family: inherit;
  font-size: inherit; line-height: inherit; color: inherit; }
.jp-OutputArea-output pre { line-height: inherit; font-family: inherit; }
.jp-RenderedText pre { color: var(--jp-content-font-color1); font-size: var(--jp-code-font-size); }
.jp-Collapser { display: none; }
@page { margin: 0.5in; }
@media print { .jp-Cell-inputWrapper, .jp-Cell-outputWrapper { display: block; } }
"""

BOOK_CSS = """
nav.book-nav { display:flex; gap:1.2em; align-items:baseline; justify-content:space-between; flex-wrap:wrap;
  font-family: var(--jp-ui-font-family, sans-serif); font-size:14px; padding:0.6em 1em; margin:0 0 1em 0;
  border-bottom:1px solid #ddd; background:#fafafa; }
nav.book-nav.bottom { border-top:1px solid #ddd; border-bottom:none; margin:2em 0 0 0; }
nav.book-nav a { text-decoration:none; }
nav.book-nav .book-nav-empty { color:#999; }
"""

TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block notebook_css %}<link rel="stylesheet" href="book.css">{% endblock notebook_css %}
{%- block body_header -%}
{{ super() }}
{{ resources.book_nav_top }}
{%- endblock body_header -%}
{% block body_footer %}
{{ resources.book_nav_bottom }}
{{ super() }}
{% endblock body_footer %}
"""


@dataclass
class Chapter:
    source: Path
    title: str = ""
    page: str = ""
    audio: list[Path] = field(default_factory=list)
    players: int = 0
    seconds: float = 0.0

    @property
    def stem(self) -> str:
        return self.source.stem


def chapter_title(nb, fallback: str) -> str:
    """The first markdown heading of the notebook (without the '#'s), else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def nav_html(chapters: list[Chapter], i: int, where: str) -> str:
    def link(j: int, arrow_left: bool) -> str:
        if not 0 <= j < len(chapters):
            return '<span class="book-nav-empty"></span>'
        title = html.escape(chapters[j].title)
        text = f"&larr; {title}" if arrow_left else f"{title} &rarr;"
        rel = "prev" if arrow_left else "next"
        return f'<a rel="{rel}" href="{chapters[j].page}">{text}</a>'

    return (f'<nav class="book-nav {where}">{link(i - 1, True)}'
            f'<a rel="contents" href="index.html">Contents</a>{link(i + 1, False)}</nav>')


HREF_RE = re.compile(r"""(<a\s[^>]*?href=)(["'])([^"']*)\2""", re.I)


def rewrite_links(page: str, source_dir: Path, pages: dict[Path, str], out: Path) -> str:
    """Relative links of a notebook, made to work in the book.

    A link to a notebook of the book (``01_representations.ipynb#Piano-roll``) goes to its page (same anchor: nbconvert
    and JupyterLab derive heading ids alike); a link to another file of the repository (``../data/README.md``) goes to
    that file from the book's folder (valid while the book stays in build/book); web links and anchors stay.
    """
    def fix(m: re.Match) -> str:
        href = html.unescape(m.group(3))
        if not href or re.match(r"(?i)[a-z][a-z0-9+.-]*:|#|/", href):
            return m.group(0)
        target, _, frag = href.partition("#")
        path = (source_dir / unquote(target)).resolve()
        if path in pages:
            new = pages[path]
        elif path.exists():
            new = quote(os.path.relpath(path, out.resolve()).replace(os.sep, "/"))
        else:
            return m.group(0)
        new += f"#{frag}" if frag else ""
        return f"{m.group(1)}{m.group(2)}{html.escape(new, quote=True)}{m.group(2)}"

    return HREF_RE.sub(fix, page)


def exporter():
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"book.html.j2": TEMPLATE})],
                        template_file="book.html.j2", exclude_input_prompt=True, exclude_output_prompt=True)


def execute(nb, cwd: Path, timeout: int) -> None:
    """Run every cell of ``nb`` in place (a fresh python3 kernel, inline plots)."""
    from nbclient import NotebookClient

    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline")  # not Agg (make's): plots show
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=timeout, startup_timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}})
    # nbclient imitates a browser's Output widget by sending comm messages on the shell socket while it awaits the
    # cell's execute_reply there; now and then the reply is then only seen at the cell's timeout (a MusicPanel cell
    # stalled 20 min). Without the imitation, what an Output widget displays lands in the cell's own outputs, which is
    # what a static page shows anyway.
    client.widget_registry = {}
    client.execute(env=env)


def write_css(exp, out: Path) -> Path:
    """JupyterLab's light theme and notebook styles, once for every page (about 250 KiB it would otherwise repeat)."""
    env = exp.environment
    css = [env.loader.get_source(env, f"static/{name}")[0] for name in ("index.css", "theme-light.css")]
    path = out / "book.css"
    path.write_text("\n".join(css + [LAB_MISC_CSS, BOOK_CSS]), encoding="utf-8")
    return path


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def index_html(chapters: list[Chapter], title: str, glossary: bool = False) -> str:
    rows = "\n".join(
        f'<li><a href="{c.page}">{html.escape(c.title)}</a> '
        f'<span class="meta">({c.source.name}; {c.players} audio player{"s" if c.players != 1 else ""}; '
        f"ran in {c.seconds:.0f} s)</span></li>"
        for c in chapters
    )
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<style>
{PAGE_STYLE}
li {{ margin: 0.4em 0; }} .meta {{ color: #666; font-size: 0.9em; }} footer {{ color: #666; font-size: 0.85em; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Every notebook of the course, run once with its outputs: read the code, look at the plots and <b>listen</b> to
every audio player without installing anything. To change a cell and hear the difference, open the notebooks in
JupyterLab (<code>make lab</code>).</p>
<nav><ol start="0" style="list-style:none; padding-left:0">
{rows}
</ol></nav>
{'<p>The terms the course uses: <a href="glossary.html">glossary</a>.</p>' if glossary else ''}
<footer>Built by <code>make book</code> from commit {html.escape(git_commit())} on {stamp}.
Audio: OGG Vorbis (most browsers; if yours plays nothing, open the files in <code>audio/</code> with a media
player).</footer>
</body></html>
"""


GLOSSARY = "GLOSSARY.md"
PAGE_STYLE = """body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 46em; margin: 2em auto;
  padding: 0 1em; line-height: 1.5; color: #222; }"""  # the book's own pages: contents and glossary


def glossary_html(markdown_text: str, title: str) -> str:
    """The course glossary (``notebooks/GLOSSARY.md``) as a page of the book: its ``<a id="term">`` anchors stay, so
    the notebooks' links ``GLOSSARY.md#term`` become ``glossary.html#term``."""
    import mistune

    body = mistune.html(markdown_text)  # raw HTML (the anchors) passes through
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Glossary: {html.escape(title)}</title>
<style>
{PAGE_STYLE}
h3 {{ margin-bottom: 0.2em; }} nav {{ color: #666; }}
</style></head>
<body>
<nav><a href="index.html">contents</a></nav>
{body}
<nav><a href="index.html">contents</a></nav>
</body></html>
"""


def build_book(notebooks: list[Path], out: Path, timeout: int = 1200, title: str = "AI music generation, by doing it",
               log=print) -> list[Chapter]:
    """Execute ``notebooks`` (in memory) and write the book to ``out``; returns one :class:`Chapter` per page.

    Raises:
        FileNotFoundError: for a notebook that does not exist.
        ValueError: for no notebooks, or two notebooks with the same name.
    """
    notebooks = [Path(p).with_suffix(".ipynb") for p in notebooks]
    if not notebooks:
        raise ValueError("build_book: no notebooks given")
    for p in notebooks:
        if not p.is_file():
            raise FileNotFoundError(f"build_book: no notebook {p}")
    stems = [p.stem for p in notebooks]
    if len(set(stems)) != len(stems):
        raise ValueError(f"build_book: notebook names repeat: {stems}")
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for old in [*audio_dir.glob("*.ogg"), *out.glob("*.html"), *out.glob("*.css")]:  # no stale pages or clips
        old.unlink()

    chapters, executed = [], []
    for path in notebooks:
        ch = Chapter(source=path, page=f"{path.stem}.html")
        nb = nbformat.read(path, as_version=4)  # the committed file is only read
        t0 = time.time()
        try:
            execute(nb, path.parent.resolve(), timeout)
        except Exception as e:  # CellExecutionError / timeout: name the notebook, keep the kernel's traceback
            raise RuntimeError(f"build_book: {path} failed while running; fix it, or build the others "
                               "(scripts/build_book.py NN_name.ipynb ...)") from e
        ch.seconds = time.time() - t0
        replace_widgets(nb)
        ch.players = count_audio_players(nb)
        ch.title = chapter_title(nb, path.stem)
        ch.audio = externalise_audio(nb, audio_dir, path.stem)
        render_all_math(nb)
        chapters.append(ch)
        executed.append(nb)
        log(f"{path.name}: ran in {ch.seconds:.1f} s, {ch.players} audio player(s)")

    exp = exporter()
    write_css(exp, out)
    pages = {ch.source.resolve(): ch.page for ch in chapters}
    pages.update({ch.source.with_suffix(".py").resolve(): ch.page for ch in chapters})  # the paired scripts too
    glossary = notebooks[0].parent.resolve() / GLOSSARY
    if glossary.is_file():  # a page of its own, so that term links work offline
        page = glossary_html(glossary.read_text(encoding="utf-8"), title)
        (out / "glossary.html").write_text(rewrite_links(page, glossary.parent, pages, out), encoding="utf-8")
        pages[glossary] = "glossary.html"
    for i, (ch, nb) in enumerate(zip(chapters, executed)):
        resources = {"metadata": {"name": ch.title},
                     "book_nav_top": nav_html(chapters, i, "top"), "book_nav_bottom": nav_html(chapters, i, "bottom")}
        body, _ = exp.from_notebook_node(nb, resources=resources)
        body = rewrite_links(body, ch.source.parent.resolve(), pages, out)
        (out / ch.page).write_text(body, encoding="utf-8")
    (out / "index.html").write_text(index_html(chapters, title, glossary=glossary.is_file()), encoding="utf-8")
    return chapters


def size_report(out: Path, chapters: list[Chapter]) -> str:
    kib = lambda n: f"{n / 1024:8.0f} KiB"  # noqa: E731
    lines = [f"{'page':34s} {'html':>12s} {'audio':>12s} {'players':>8s}"]
    total = 0
    for ch in chapters:
        h = (out / ch.page).stat().st_size
        a = sum(p.stat().st_size for p in ch.audio)
        total += h + a
        lines.append(f"{ch.page:34s} {kib(h)} {kib(a)} {ch.players:8d}")
    for name in ("index.html", "book.css"):
        n = (out / name).stat().st_size
        total += n
        lines.append(f"{name:34s} {kib(n)}")
    lines.append(f"{'total':34s} {total / 2**20:8.2f} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks in reading order (default: notebooks/NN_*.ipynb, sorted)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="output folder (default build/book)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    t0 = time.time()
    chapters = build_book(notebooks, args.out, timeout=args.timeout)
    print(size_report(args.out, chapters))
    print(f"built in {time.time() - t0:.0f} s; open {args.out / 'index.html'}")


if __name__ == "__main__":
    sys.exit(main())
