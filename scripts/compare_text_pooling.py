"""Notebook 05's text-pooling comparison: the same LM trained from scratch three times, reading MiniLM's caption
embedding as its token embeddings, its pooled sentence embedding, or both (``helpers.musicgen.pool_text``), with the
same data, seed, steps and schedule; then each measured the way ``musicgen_control.json`` is, on the held-out
phrasings, the held-out words and the training phrasings.

    .venv/bin/python scripts/compare_text_pooling.py                    # writes runs/musicgen_pooling.json
    .venv/bin/python scripts/compare_text_pooling.py --out data/checkpoints/musicgen_pooling.json --overwrite-shipped

Each pooling runs ``scripts/train_musicgen.py`` (``--rich-captions 12 --extra-train 1 4800``, the shipped LM's data,
no melody; ``--steps`` steps of batch 8 on ``--threads`` threads) into ``--work``, then ``scripts/measure_control.py``
on its first ``--n`` test clips at the guidance ``--scales``. A run whose LM and table are already in ``--work`` with
exactly these commands recorded is reused, not repeated. The JSON holds per pooling: the training command, seconds
and validation loss, the LM's SHA-256 (the weights stay in ``--work``; none is shipped), and the family, tempo, mode
and register heard by both judges per caption set and guidance.

The budget is small (the shipped LM trained 39,500 steps across its runs; each LM here trains ``--steps`` from
scratch), so the table compares the three poolings at equal budget, not at their best.

Notebook: 05_musicgen.ipynb (what differs from the paper). Reference: Copet et al. 2023 (MusicGen), Sec. 2.3 and 4
(text conditioning by cross-attention to T5's token embeddings).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import musicgen as mg  # noqa: E402
from helpers.checkpoints import file_sha256, read_checkpoint, refuse_shipped_paths, write_results  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--poolings", nargs="+", default=list(mg.TEXT_POOLINGS), choices=mg.TEXT_POOLINGS)
    p.add_argument("--steps", type=int, default=2400)
    p.add_argument("--n", type=int, default=96, help="test clips measured per caption set")
    p.add_argument("--scales", type=float, nargs="+", default=[2.0, 3.0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--work", default="runs/pooling")
    p.add_argument("--out", default="runs/musicgen_pooling.json")
    p.add_argument("--overwrite-shipped", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


def train_argv(pooling: str, args) -> list[str]:
    work = Path(args.work)
    return ["scripts/train_musicgen.py", "--codec", "data/checkpoints/codec_istft.pt", "--rich-captions", "12",
            "--extra-train", "1", "4800", "--text-pooling", pooling, "--steps", str(args.steps), "--lr", "1e-3",
            "--min-lr", "1e-4", "--warmup", "100", "--eval-every", str(max(1, args.steps // 4)), "--n-valid", "32",
            "--attn-dropout", "0", "--threads", str(args.threads), "--seed", "0", "--no-progress", "--work", str(work),
            "--out", str(work / f"lm_{pooling}.pt")]


def measure_argv(pooling: str, args) -> list[str]:
    work = Path(args.work)
    return ["scripts/measure_control.py", "--lm", str(work / f"lm_{pooling}.pt"), "--n", str(args.n), "--scales",
            *[f"{s:g}" for s in args.scales], "--threads", str(args.threads), "--out", str(work / f"control_{pooling}.json")]


def recorded(path: Path, argv: list[str], read) -> bool:
    """Whether ``path`` exists and records exactly the command ``argv`` (a finished run to reuse)."""
    return path.exists() and read(path).get("command") == "python " + " ".join(argv)


def run(argv: list[str], log: Path) -> None:
    with open(log, "w") as f:
        subprocess.run([sys.executable, *argv], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, check=True)


def main(argv=None) -> dict:
    args = parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows = []
    for pooling in args.poolings:
        lm, control = work / f"lm_{pooling}.pt", work / f"control_{pooling}.json"
        targ, marg = train_argv(pooling, args), measure_argv(pooling, args)
        if not recorded(lm, targ, lambda p: read_checkpoint(p)["extra"]):
            print(f"training the {pooling!r} LM ...", flush=True)
            run(targ, work / f"train_{pooling}.log")
        if not recorded(control, marg, lambda p: json.loads(p.read_text())) or \
                json.loads(control.read_text())["lm_sha256"] != file_sha256(lm):
            print(f"measuring the {pooling!r} LM ...", flush=True)
            run(marg, work / f"control_{pooling}.log")
        meta, table = read_checkpoint(lm)["extra"], json.loads(control.read_text())
        assert table["text_pooling"] == pooling and table["lm_sha256"] == file_sha256(lm)
        keep = lambda rs: [{k: v for k, v in r.items() if k != "predicted"} | {  # noqa: E731
            "judges": {j: {k: v for k, v in d.items() if k != "predicted"} for j, d in r["judges"].items()}} for r in rs]
        rows.append(dict(
            pooling=pooling, train_command=meta["command"], measure_command=table["command"],
            lm_sha256=table["lm_sha256"], train_seconds=meta["train_seconds"], steps=meta["steps"],
            valid_loss=meta["best_valid_loss"], heldout_phrasing=keep(table["rows"]),
            heldout_vocabulary=keep(table["rows_vocabulary"]), trained_phrasing=keep(table["rows_trained"]),
            ceilings=table["ceilings"], sweep_seconds=table["sweep_seconds"],
        ))
        print(pooling, {s: [round(r["family"], 3) for r in rows[-1][s]] for s in
                        ("heldout_phrasing", "heldout_vocabulary", "trained_phrasing")}, flush=True)
    first = json.loads((work / f"control_{args.poolings[0]}.json").read_text())
    results = dict(
        command="python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]), steps=args.steps, n=args.n,
        scales=args.scales, threads=args.threads, codec_sha256=first["codec_sha256"], corpus=first["corpus"],
        classifier_sha256=first["classifier_sha256"], clean_classifier_sha256=first["clean_classifier_sha256"],
        chance=first["chance"], rows=rows, wall_seconds=round(time.time() - t0, 1),
    )
    write_results(args.out, results)
    return results


if __name__ == "__main__":
    main()
