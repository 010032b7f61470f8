"""What every ``scripts/make_nbXX.py`` shares: collect markdown and code cells in order, then write the notebook.

    from nbgen import code, md, write
    md("# Title ...")
    code("print(1)")
    write("00_welcome.ipynb")   # -> notebooks/00_welcome.ipynb, without outputs

Then run ``scripts/execute_notebook.py`` on the written file to fill in (light) outputs.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
cells: list = []


def md(text: str) -> None:
    """Append a markdown cell (surrounding blank lines removed)."""
    cells.append(new_markdown_cell(text.strip()))


def code(text: str) -> None:
    """Append a code cell (surrounding blank lines removed)."""
    cells.append(new_code_cell(text.strip()))


def write(name: str) -> Path:
    """Write the collected cells to ``notebooks/<name>`` with the course's kernel metadata."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    out = NOTEBOOKS / name
    nbformat.write(nb, out)
    print(f"wrote {out} ({len(cells)} cells)")
    return out
