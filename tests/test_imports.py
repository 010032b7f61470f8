"""The package's import graph: every module imports alone in a fresh interpreter, and no module imports another that
(directly or through others) imports it back, counting the imports inside functions too (DESIGN: lower floors never
import higher ones)."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "helpers"


def module_names() -> list[str]:
    """Every module of the package, ``helpers.x`` and ``helpers.representations.y``."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _path_of(name: str) -> Path:
    base = ROOT.joinpath(*name.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imports_of(name: str, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (top level or inside a function)."""
    path = _path_of(name)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [module] + [f"{module}.{a.name}" for a in node.names]  # `from . import x` names a module
        else:
            continue
        for t in targets:
            while t and t not in known:  # helpers.x.y -> helpers.x
                t = t.rpartition(".")[0]
            if t and t != name and t != "helpers":
                found.add(t)
    return found


def import_graph() -> dict[str, set[str]]:
    names = module_names()
    return {n: imports_of(n, set(names)) for n in names}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle ``[a, b, ..., a]`` of the directed graph, or None (depth-first search, three colours)."""
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state:
                cycle = visit(m)
                if cycle:
                    return cycle
        stack.pop()
        state[n] = "done"
        return None

    for n in sorted(graph):
        if n not in state:
            cycle = visit(n)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    src = "def f():\n    from .audio import soft_limit\n"  # the cycle audio <-> soundfont went through this
    tree_imports = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ImportFrom)]
    assert tree_imports and tree_imports[0].level == 1


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 30 and graph["helpers.soundfont"] >= {"helpers.data"}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# Run in a fresh interpreter: the heavy third-party libraries are imported once, then each module of the package is
# imported in a forked child of that interpreter, in which no module of the package has been imported (one fresh
# interpreter per module costs a torch import each: a minute on a loaded 2-core machine, against seconds).
ALONE = r"""
import importlib, json, os, sys, traceback
preload, names, failed = sys.argv[1], sys.argv[2:], {}
for lib in filter(None, preload.split(",")):  # the heavy third-party libraries, imported once
    importlib.import_module(lib)
assert not [m for m in sys.modules if m == "helpers" or m.startswith("helpers.")]
for name in names:
    pid = os.fork()
    if pid == 0:  # the child: nothing of the package is imported yet
        try:
            __import__(name)
            os._exit(0)
        except BaseException:
            sys.stderr.write(traceback.format_exc().splitlines()[-1] + "\n")
            os._exit(1)
    if os.waitpid(pid, 0)[1] != 0:
        failed[name] = "failed"
print(json.dumps(failed))
"""


PRELOAD = "numpy,scipy.signal,torch,matplotlib.pyplot"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a fresh interpreter per module (POSIX)")
def test_every_module_imports_alone_in_a_fresh_interpreter():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    names = module_names()
    out = subprocess.run([sys.executable, "-c", ALONE, PRELOAD, *names], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}, out.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a fresh interpreter per module (POSIX)")
def test_a_module_that_fails_alone_is_reported(tmp_path):
    """The check above can fail: a package whose module imports a name its sibling defines only later fails alone."""
    pkg = tmp_path / "helpers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import VALUE\n")
    (pkg / "b.py").write_text("VALUE = 1\nfrom .a import VALUE as AGAIN\n")  # b -> a -> b: fine from a, not from b
    env = dict(os.environ, PYTHONPATH=str(tmp_path), OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "-c", ALONE, "", "helpers.a", "helpers.b"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"helpers.a": "failed"}
