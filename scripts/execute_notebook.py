"""Execute notebooks in place and keep their outputs light enough to commit.

    .venv/bin/python scripts/execute_notebook.py notebooks/01_representations.ipynb [more.ipynb or .py ...]

First reconciles each notebook with its paired py:percent source (``jupytext --sync``: the newer side wins), then runs
every cell top to bottom (fresh kernel, working directory = notebooks/), then removes what should
not be committed: embedded audio players (IPython ``Audio`` stores base64 WAV in the notebook) and widget
state. Plots stay. nbval later re-runs each notebook and compares the cells marked ``# NBVAL_CHECK_OUTPUT``
with the outputs saved here, so run this after every change to a notebook.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

AUDIO_NOTE = "[audio player: run the cell to listen]"


def strip_heavy_outputs(nb) -> int:
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            html = data.get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            if "<audio" in html:
                out["data"] = {"text/plain": AUDIO_NOTE}
                removed += 1
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                out["data"] = {k: v for k, v in data.items() if k == "text/plain"} or {
                    "text/plain": "[interactive widget: run the cell to use it]"
                }
            kept.append(out)
        cell["outputs"] = kept
    nb.metadata.pop("widgets", None)
    return removed


def execute(path: Path, timeout: int = 900) -> None:
    path = path.with_suffix(".ipynb")
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)], check=True)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    t0 = time.time()
    client = NotebookClient(nb, timeout=timeout, startup_timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    # nbclient imitates Output widgets by sending messages on the socket it waits on for the cell's reply, and now and
    # then sees that reply only at the cell's timeout (a MusicPanel cell stalled 10-20 min). Without the imitation
    # what a panel displays lands in the cell's own outputs (see scripts/build_book.py).
    client.widget_registry = {}
    client.execute()
    n = strip_heavy_outputs(nb)
    nbformat.write(nb, path)
    size = path.stat().st_size / 1024
    print(f"{path}: executed in {time.time() - t0:.1f} s, {n} audio output(s) stripped, {size:.0f} KiB")


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or any(a.startswith("-") for a in args):
        sys.exit(__doc__)
    missing = [a for a in args if not any(Path(a).with_suffix(x).is_file() for x in (".ipynb", ".py"))]
    if missing:
        sys.exit(f"no such notebook: {', '.join(missing)} (neither .ipynb nor its paired .py exists)")
    for arg in args:
        execute(Path(arg))
