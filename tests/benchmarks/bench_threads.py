"""Benchmark: how many threads should sampling use on a small machine that is busy with other work?

    .venv/bin/python tests/benchmarks/bench_threads.py                      (or `make bench`, which calls main())
    .venv/bin/python tests/benchmarks/bench_threads.py --seconds 0.5 --repeat 1 --burners 1   (a quick check)

On a 2-core machine with other work running, two OpenMP threads can spin instead of working: at the end of each
parallel region a thread busy-waits for the others (``OMP_WAIT_POLICY=ACTIVE``-like behaviour, the default of GNU
OpenMP for a while), and when the other core is taken, the spinning thread holds a core the work needs. Jukebox
sampling with ``torch.set_num_threads(2)`` measured 3.9-21.9 s of compute per second of audio at a load of 3-8,
against 0.28-0.62 with one thread (issue 30).

What it measures, for Jukebox top-down sampling (top prior -> upsamplers -> bottom decoder, the shipped levels and
priors: three levels, two upsamplers, guidance 3, one clip, :func:`helpers.jukebox.sample_top_down`) and MusicGen sampling (the shipped codec, LM and MiniLM,
one prompt, guidance 3, :meth:`helpers.musicgen.MusicGen.generate`) and notebook 03's chorale continuations (the
shipped relative Music Transformer continuing 50 held-out openings of 8 quarter notes side by side, as notebook 03's
section 7 does, T 0.9, top-p 0.95; "audio" is the music made at the notebook's 72 quarter notes per minute, all 50
continuations counted):

- settings: 1 thread; 2 threads; 2 threads with ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep), each in every
  decoding step (the library's rule of one thread for small steps, ``helpers.transformer.decoding_threads``, which
  this measurement motivated, is switched off in the workers, so that the setting is the one measured). OpenMP reads
  its settings once, when the runtime starts, so each setting runs in a fresh Python process (``OMP_NUM_THREADS``
  and ``torch.set_num_threads`` both set to the thread count);
- load: none added, and ``--burners`` competing processes that burn a core each (a pure-Python busy loop) for the
  whole measurement; the machine's own load average is printed beside each row (other work counts too);
- per row: the real-time factor (wall seconds of sampling per second of audio, the median of ``--repeat`` runs after
  one warm-up; < 1 is faster than real time), the CPU seconds the process used per second of audio (spinning shows
  here: CPU time far above wall time with nothing to show for it), and two ratios: against 1 thread under the same
  load, and against the same setting without the added load.

Notebooks: 03_music_transformer.ipynb, 04_jukebox_vqvae.ipynb, 05_musicgen.ipynb (their ``torch.set_num_threads``), and the training scripts'
``--threads``. Reference: the OpenMP specification, ``OMP_WAIT_POLICY``; PyTorch's CPU threading notes
(``torch.set_num_threads``).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (  # (name, threads, extra environment)
    ("1 thread", 1, {}),
    ("2 threads", 2, {}),
    ("2 threads, PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
)
WORKLOADS = ("jukebox", "musicgen", "chorales")
SECONDS = 2.0  # of audio per sample
REPEAT = 3
BURNERS = 1
BURN = "while True:\n    pass\n"  # one core, all the time


# --- the worker: one workload, one setting, in its own process ----------------------------------------------------
def _sampler(workload: str):
    """(sample(seconds, seed) -> seconds of audio made) for a workload, with the shipped models loaded."""
    import torch

    from helpers.data import DATA_DIR

    ckpt = DATA_DIR / "checkpoints"
    if workload == "jukebox":
        from helpers import jukebox

        pipe = jukebox.load_pipeline(ckpt)
        label = torch.zeros(1, len(pipe["prior"].label_sizes), dtype=torch.long)  # piano, the first class of each

        def sample(seconds: float, seed: int) -> float:
            gen = torch.Generator().manual_seed(seed)
            return jukebox.sample_top_down(pipe["levels"], pipe["prior"], pipe["upsamplers"], label, seconds, gen,
                                           guidance_scale=3.0)["seconds_audio"]
    elif workload == "musicgen":
        from helpers import musicgen
        from helpers.text_encoder import MiniLMEncoder

        pipe = musicgen.load_pipeline(ckpt / "musicgen_lm.pt", text_encoder=MiniLMEncoder())

        def sample(seconds: float, seed: int) -> float:
            audio = pipe.generate("a slow chorale on a church organ", seconds, guidance_scale=3.0, seed=seed)
            return audio.shape[-1] / pipe.codec.config.sample_rate
    elif workload == "chorales":
        import numpy as np

        from helpers import transformer
        from helpers.data import load_chorales
        from helpers.representations import ChoraleGrid

        model = transformer.load_checkpoint(ckpt / "mt_relative.pt").eval()
        grid = ChoraleGrid("repeat")  # notebook 03's encoding
        tokens = [grid.encode(p) for p in load_chorales(["valid"])]
        openings = torch.as_tensor(np.stack([t[:128] for t in tokens if len(t) >= 128][:50]))  # (50, 128)
        per_second = 16 * 72 / 60  # tokens per second of music: 16 per quarter note (4 steps x 4 voices), 72 qpm

        def sample(seconds: float, seed: int) -> float:
            n = max(4, int(seconds * per_second) // 4 * 4)  # whole chords
            transformer.generate(model, openings, n, torch.Generator().manual_seed(seed), temperature=0.9,
                                 top_p=0.95, align=4)
            return n / per_second * len(openings)
    else:
        raise ValueError(f"unknown workload {workload!r}: use one of {WORKLOADS}")
    return sample


def worker(workload: str, threads: int, seconds: float, repeat: int) -> dict:
    """Sample ``repeat`` times after a warm-up; wall and CPU seconds per second of audio (medians)."""
    import torch

    from helpers import transformer

    torch.set_num_threads(threads)
    transformer.ONE_THREAD_ROWS = 0  # the setting under study, in every step (not decoding_threads)
    sample = _sampler(workload)
    sample(min(seconds, 0.25), seed=99)  # warm-up: first-call allocations and kernel choices
    wall, cpu = [], []
    for seed in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()  # process_time: every thread of this process
        made = sample(seconds, seed)
        wall.append((time.perf_counter() - w0) / made)
        cpu.append((time.process_time() - c0) / made)
    return {"rtf": statistics.median(wall), "cpu_per_audio_s": statistics.median(cpu),
            "threads": torch.get_num_threads(), "load": os.getloadavg()[0]}


# --- the driver: fresh processes, a competing load, the table ------------------------------------------------------
def _run_worker(workload: str, threads: int, env_extra: dict, seconds: float, repeat: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **env_extra)
    if "OMP_WAIT_POLICY" not in env_extra:
        env.pop("OMP_WAIT_POLICY", None)  # the runtime's default, whatever the caller's shell says
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    cmd = [sys.executable, __file__, "--worker", workload, "--threads", str(threads), "--seconds", str(seconds),
           "--repeat", str(repeat)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"worker {workload} with {threads} thread(s) {env_extra} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(workloads=WORKLOADS, seconds: float = SECONDS, repeat: int = REPEAT, burners: int = BURNERS) -> list[dict]:
    """Every workload x load x setting, each setting in a fresh process; returns one dict per row."""
    rows = []
    for workload in workloads:
        for n_burn in sorted({0, burners}):
            procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(n_burn)]
            try:
                for name, threads, env_extra in SETTINGS:
                    r = _run_worker(workload, threads, env_extra, seconds, repeat)
                    rows.append(dict(r, workload=workload, burners=n_burn, setting=name))
            finally:  # stop the competitors this function started, whatever happened
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait()
    for r in rows:  # the ratios, against 1 thread under the same load and against the same setting without load
        one = next(x for x in rows if x["workload"] == r["workload"] and x["burners"] == r["burners"]
                   and x["setting"] == SETTINGS[0][0])
        idle = next(x for x in rows if x["workload"] == r["workload"] and x["burners"] == 0
                    and x["setting"] == r["setting"])
        r["vs_1_thread"], r["vs_no_load"] = r["rtf"] / one["rtf"], r["rtf"] / idle["rtf"]
    return rows


def print_table(rows: list[dict], seconds: float, repeat: int) -> None:
    print(f"sampling {seconds:g} s of audio, median of {repeat} run(s) after a warm-up, {os.cpu_count()} CPU(s); "
          "RTF = wall s / audio s, CPU = CPU s of the process / audio s")
    head = (f"{'workload':>8} {'burners':>7} {'load':>5} | {'setting':<18} | {'RTF':>6} {'CPU':>6} | "
            f"{'vs 1 thread':>11} {'vs no load':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['workload']:>8} {r['burners']:>7} {r['load']:>5.1f} | {r['setting']:<18} | {r['rtf']:>6.2f} "
              f"{r['cpu_per_audio_s']:>6.2f} | {r['vs_1_thread']:>10.2f}x {r['vs_no_load']:>9.2f}x")


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=SECONDS, help="seconds of audio per sample")
    p.add_argument("--repeat", type=int, default=REPEAT, help="samples per setting (the median is reported)")
    p.add_argument("--burners", type=int, default=BURNERS, help="competing CPU-burning processes in the loaded rows")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    p.add_argument("--worker", choices=WORKLOADS, help=argparse.SUPPRESS)  # internal: one setting, print JSON
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args([] if argv is None and __name__ != "__main__" else argv)
    if args.seconds <= 0 or args.repeat < 1 or args.burners < 0:
        p.error("need --seconds > 0, --repeat >= 1 and --burners >= 0")
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, args.seconds, args.repeat)))
        return []
    rows = measure(args.workloads, args.seconds, args.repeat, args.burners)
    print_table(rows, args.seconds, args.repeat)
    return rows


if __name__ == "__main__":
    main()
