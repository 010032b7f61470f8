"""Every notebook is paired with a py:percent source (jupytext), and the two must say the same thing.

Edit either side, then run ``.venv/bin/jupytext --sync notebooks/*.ipynb``. These tests fail while a pair disagrees,
so a change made on one side only never reaches main.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PAIRED = sorted(NOTEBOOKS.glob("*.ipynb"))


def unsynced_pairs(folder: Path) -> list[str]:
    """Names of the notebooks in ``folder`` whose paired ``.py`` is missing or says something else.

    The ``.ipynb`` is written out as py:percent with the project's jupytext settings (``pyproject.toml``) and
    compared with the ``.py`` text; cell sources, cell kinds and their order must agree (outputs do not count).
    """
    config = jupytext.config.load_jupytext_config(str(folder / "x.ipynb"))
    bad = []
    for ipynb in sorted(folder.glob("*.ipynb")):
        py = ipynb.with_suffix(".py")
        if not py.exists():
            bad.append(f"{ipynb.name}: no paired {py.name}")
            continue
        nb = nbformat.read(ipynb, as_version=4)
        expected = jupytext.writes(nb, fmt="py:percent", config=config)
        if expected != py.read_text(encoding="utf-8"):
            bad.append(f"{ipynb.name} and {py.name} disagree")
    for py in sorted(folder.glob("*.py")):
        if not py.with_suffix(".ipynb").exists():
            bad.append(f"{py.name}: no paired notebook")
    return bad


def test_every_notebook_has_a_paired_source():
    assert PAIRED, "no notebooks found"
    for ipynb in PAIRED:
        assert ipynb.with_suffix(".py").exists(), f"{ipynb.name} has no paired .py (run jupytext --sync)"


def test_paired_sources_agree():
    bad = unsynced_pairs(NOTEBOOKS)
    assert not bad, "run `.venv/bin/jupytext --sync notebooks/*.ipynb`: " + "; ".join(bad)


def test_the_check_catches_an_unsynced_copy(tmp_path):
    """The check can fail: change one line of a copy's .py and it names that notebook; sync, and it passes."""
    shutil.copy(NOTEBOOKS.parent / "pyproject.toml", tmp_path / "pyproject.toml")
    work = tmp_path / "notebooks"
    work.mkdir()
    for f in PAIRED[:2]:
        shutil.copy(f, work / f.name)
        shutil.copy(f.with_suffix(".py"), work / f.with_suffix(".py").name)
    assert unsynced_pairs(work) == []
    edited = work / PAIRED[0].with_suffix(".py").name
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# %%\nprint('edited on one side only')\n", encoding="utf-8")
    assert unsynced_pairs(work) == [f"{PAIRED[0].name} and {edited.name} disagree"]
    (work / PAIRED[1].with_suffix(".py").name).unlink()
    assert len(unsynced_pairs(work)) == 2
    # `jupytext --sync`, as the README tells a contributor, reconciles the pair: the newer .py wins.
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", edited.name], cwd=work, check=True)
    assert f"{PAIRED[0].name} and {edited.name} disagree" not in unsynced_pairs(work)
    assert "edited on one side only" in (work / PAIRED[0].name).read_text(encoding="utf-8")
