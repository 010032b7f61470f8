"""Where the course's files are: the shipped data (``data/``, ``data/checkpoints/``) and the cache of derived data.

- :data:`DATA_DIR` — the corpora and checkpoints that ship with the course: ``data/`` beside the ``helpers``
  package in a clone (``make`` installs it editable, so it stays there), or ``$MUSIC_COURSE_DATA``.
  :func:`shipped_file` returns a file in it, with a message that says what to do when the package was installed
  without it (``pip install .`` copies the ``helpers`` package only, not ``data/``).
- :func:`load_script` — a script of ``scripts/`` (beside the package in a clone) as a module, without running it:
  notebooks read a measuring script's settings from it, the tests call its functions.
- :func:`cache_dir` — derived data (rendered audio, encoded codes), rebuilt when missing and named by the hash of its
  recipe: ``$MUSIC_COURSE_CACHE``, else ``$XDG_CACHE_HOME/music-generation-course``, else
  ``~/.cache/music-generation-course`` (the XDG Base Directory rules: a relative ``XDG_CACHE_HOME`` is ignored).

Nothing here imports more than the standard library: every module may ask where a file is.

Notebook: every notebook that loads a corpus or a checkpoint (first 00_welcome.ipynb).
Reference: the XDG Base Directory Specification 0.8 (freedesktop.org), ``$XDG_CACHE_HOME``.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DATA_ENV = "MUSIC_COURSE_DATA"  # another data/ folder (e.g. the clone's, for a non-editable install)
CACHE_ENV = "MUSIC_COURSE_CACHE"
CACHE_NAME = "music-generation-course"


def data_dir() -> Path:
    """``$MUSIC_COURSE_DATA`` if set, else the ``data/`` folder beside the ``helpers`` package (the clone's)."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser().resolve() if env else Path(__file__).resolve().parent.parent / "data"


DATA_DIR = data_dir()
SHIPPED_CHECKPOINTS = DATA_DIR / "checkpoints"
SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "scripts"  # the training and measuring scripts (a clone's)


def load_script(name: str):
    """``scripts/<name>.py`` as a module, without running its ``main``: its functions and its argument defaults (the
    settings a shipped JSON was made with). Registered in ``sys.modules`` under ``name`` (dataclasses and pickling
    look a module up there; a script that imports another script finds this one).

    Raises:
        FileNotFoundError: no such script (``scripts/`` comes with a clone of the repository, not with ``pip install .``).
    """
    path = SCRIPTS_DIR / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"no script {path}: the scripts/ folder comes with a clone of the course's repository")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def missing_data_message(path: Path) -> str:
    """Why a shipped file is not there, and what to do: the words of every 'data not found' error."""
    return (f"{path} does not exist: the course's data folder {DATA_DIR} is missing. The helpers package finds the "
            f"corpora and checkpoints in data/ beside it, which a non-editable install (pip install .) does not "
            f"copy: install it editable from the repository (make, or pip install -e .), or set {DATA_ENV} to the "
            f"repository's data/ folder")


def shipped_file(*parts: str) -> Path:
    """The path of a shipped file, ``DATA_DIR / parts``, checked to exist.

    Raises:
        FileNotFoundError: the file is missing; when the whole data folder is, the message says how to install the
            package so that it is found (:func:`missing_data_message`).
    """
    path = DATA_DIR.joinpath(*parts)
    if path.exists():
        return path
    if not DATA_DIR.is_dir():
        raise FileNotFoundError(missing_data_message(path))
    raise FileNotFoundError(f"{path} is missing from the data folder {DATA_DIR}; restore it with git, or rebuild it "
                            "(data/README.md says how each file is made: `make data` for the corpora)")


def cache_dir() -> Path:
    """The course's cache folder: ``$MUSIC_COURSE_CACHE``, else ``$XDG_CACHE_HOME/music-generation-course`` (an
    absolute path only, as the XDG rules say), else ``~/.cache/music-generation-course``. Not created here."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / CACHE_NAME


def shown_path(path, root) -> str:
    """``path`` as a results file records it: relative to ``root`` (POSIX separators) when it lies inside it, so that
    the file reads the same on every clone; otherwise as given."""
    path = Path(path)
    full, root = path.resolve(), Path(root).resolve()
    return full.relative_to(root).as_posix() if full.is_relative_to(root) else str(path)
