"""Run every benchmark: each ``tests/benchmarks/bench_*.py`` module's ``main()``, in file-name order.

    .venv/bin/python tests/benchmarks/run_all.py            (what `make bench` runs)
    .venv/bin/python tests/benchmarks/run_all.py audio markov   (only files whose name contains a word)

Each benchmark prints its own table. A benchmark that fails prints its traceback and the others still
run; the harness then exits with status 1 and lists the failures, so CI notices.

``bench_threads.py`` (thread settings under load) is the one that runs other processes: each thread setting in a
fresh Python process (OpenMP reads its settings at start), beside a CPU-burning competitor it starts and stops
itself; with its defaults it takes several minutes on a 2-core machine (``bench_threads.py --seconds 0.5 --repeat 1``
alone for a quick look).
"""
from __future__ import annotations

import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def discover(filters: list[str] | None = None) -> list[Path]:
    """The ``bench_*.py`` files next to this script, sorted; only those matching a filter word if given."""
    files = sorted(HERE.glob("bench_*.py"))
    if filters:
        files = [f for f in files if any(word in f.stem for word in filters)]
    return files


def load(path: Path):
    """Import a benchmark file as a module (no package needed)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(path: Path) -> tuple[bool, float]:
    """Import ``path`` and call its ``main()``; returns (succeeded, seconds). Errors are printed, not raised."""
    t0 = time.perf_counter()
    try:
        module = load(path)
        if not callable(getattr(module, "main", None)):
            raise AttributeError(f"{path.name} has no main() function")
        module.main()
    except Exception:  # report and carry on with the next benchmark
        traceback.print_exc()
        return False, time.perf_counter() - t0
    return True, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # `helpers` importable without installing
    files = discover(argv or None)
    if not files:
        print(f"no benchmark matches {argv} in {HERE}", file=sys.stderr)
        return 1
    results = []
    for path in files:
        print(f"\n=== {path.name} " + "=" * max(0, 70 - len(path.name)), flush=True)
        ok, seconds = run(path)
        sys.stdout.flush()
        results.append((path.name, ok, seconds))
    print("\n=== summary " + "=" * 62)
    for name, ok, seconds in results:
        print(f"{name:<40} {'ok' if ok else 'FAILED':>6} {seconds:8.1f} s")
    failed = [name for name, ok, _ in results if not ok]
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
