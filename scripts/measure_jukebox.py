"""Does the Jukebox pipeline of notebook 04 play what it is asked for? Family, tempo band, mode and register, judged.

    .venv/bin/python scripts/measure_jukebox.py --out runs/jukebox_control.json
    .venv/bin/python scripts/measure_jukebox.py --prior runs/prior.pt --upsamplers runs/up256.pt runs/up64.pt \
        --guidance 0 1 3 --out runs/mine.json

The pipeline is notebook 04's: the three levels ``--levels`` (top first), the top prior ``--prior`` and one upsampler
per lower level ``--upsamplers`` (default: the shipped files). For every ``--guidance`` scale the script samples
``--per-family`` 4-s clips top-down for each of the corpus's instrument families (label -> top prior -> top codes ->
each upsampler -> the bottom level's decoder; one generator seeded with ``--seed`` per row, so every row starts from
the same top codes; guidance 0 gives every upsampler the null label: the family then reaches the top prior only).
Each sample is asked for the attributes of one held-out test clip, ``--per-family`` clips of each family (the same
clips as the references below): where the top prior is conditioned on tempo band, mode or register too, these are
asked as that clip has them (the combinations the corpus holds; a factorial design would ask for, say, a pipe in the
low register, which no training clip plays), and the robust judge's heads for them are scored as well.

Judges: the robust classifier (``classifier_robust.pt``, trained on real and codec-degraded clips: the course's judge
of generated audio) and the clean one (``classifier.pt``, real clips only). Reported per row and judge: accuracy with
its Wilson 95% interval, per-class accuracy and the confusion matrix (rows: asked, columns: heard). Beside them, the
same judges on references with the same families and counts: the held-out test clips themselves, their
reconstructions by the bottom level (the ceiling: a sample keeps no more of the instrument than the level it is
decoded by), the clips' own codes of each upper level upsampled by the upsamplers below it with the clip's label
(where along the hierarchy a tempo or a mode is lost: the top prior cannot be blamed for what the upsamplers drop;
from the level just above the bottom one at every guidance scale, from higher levels at the largest), and chance.
The reconstructions and the upsampled references stand for one clip each, so they also get the mean
``helpers.audio_quality.onset_agreement`` with it (do the notes start where the clip's do?).

The JSON records every checkpoint's SHA-256 so that notebook 04 can refuse a table of other weights. Runs on one
thread in a few minutes per guidance scale.

Notebook: 04_jukebox_vqvae.ipynb. Reference: Dhariwal et al. 2020, "Jukebox" (arXiv:2005.00341), Sec. 4.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import jukebox as J  # noqa: E402
from helpers.audio_corpus import ATTRIBUTE_CLASSES, FAMILIES, AudioCorpus  # noqa: E402
from helpers.audio_quality import onset_agreement  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.classifier import load_classifier  # noqa: E402
from helpers.intervals import wilson_interval  # noqa: E402
from helpers.paths import shown_path  # noqa: E402

JUDGES = {"robust": "classifier_robust.pt", "clean": "classifier.pt"}
LEVELS, PRIOR, UPSAMPLERS = J.SHIPPED_LEVELS, J.SHIPPED_PRIOR, J.SHIPPED_UPSAMPLERS  # notebook 04's files, top first


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--levels", nargs="+", default=[str(SHIPPED / f) for f in LEVELS], help="the levels, top first")
    p.add_argument("--prior", default=str(SHIPPED / PRIOR))
    p.add_argument("--upsamplers", nargs="+", default=[str(SHIPPED / f) for f in UPSAMPLERS],
                   help="one per lower level, in the order of --levels")
    p.add_argument("--guidance", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0, 5.0],
                   help="guidance scales of the label-conditioned upsamplers (1: the label as trained; 0: the null "
                        "label, the family at the top prior only)")
    p.add_argument("--per-family", type=int, default=18, help="samples per family (default 18: 144 in all)")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/jukebox_control.json")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out inside {SHIPPED.relative_to(ROOT)}/")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    if len(args.upsamplers) != len(args.levels) - 1:
        p.error(f"--upsamplers: one per lower level ({len(args.levels) - 1}), got {len(args.upsamplers)}")
    if args.per_family < 1:
        p.error("--per-family must be >= 1")
    return args


def judge_table(asked: list[str], heard: list[str], families: list[str], within: list[str] | None = None) -> dict:
    """Accuracy with its Wilson interval, per-class accuracy and the confusion matrix (rows asked, columns heard) of
    one attribute (``families``: its classes).

    With ``within`` (each sample's instrument family), also ``unrelated``: the accuracy expected if what is heard did
    not depend on what is asked *inside each family* (``within_family_chance``). The corpus ties register and
    tempo to the instrument (no pipe plays low), so a sample that plays its family's usual register scores above the
    uniform chance without following the register it is asked for; above ``unrelated``, the request itself counts."""
    if len(asked) != len(heard) or not asked:
        raise ValueError(f"asked ({len(asked)}) and heard ({len(heard)}) must be equally long and not empty")
    if within is not None and len(within) != len(asked):
        raise ValueError(f"within ({len(within)}) must give one family per sample ({len(asked)})")
    hits = sum(a == h for a, h in zip(asked, heard))
    ci = wilson_interval(hits, len(asked))
    confusion = [[sum(a == f and h == g for a, h in zip(asked, heard)) for g in families] for f in families]
    per_family = {f: (row[i] / sum(row) if sum(row) else None) for i, (f, row) in enumerate(zip(families, confusion))}
    out = {"accuracy": hits / len(asked), "low": ci.low, "high": ci.high, "n": len(asked),
           "per_family": per_family, "confusion": confusion}
    if within is not None:
        out["unrelated"] = within_family_chance(asked, heard, within)
    return out


def within_family_chance(asked: list[str], heard: list[str], family: list[str]) -> float:
    """The accuracy expected if heard and asked were independent inside each family: the sum over families f of
    P(f) * sum_k P(asked k | f) P(heard k | f), from the samples' own frequencies."""
    total = 0.0
    for f in set(family):
        idx = [i for i, x in enumerate(family) if x == f]
        a, h = Counter(asked[i] for i in idx), Counter(heard[i] for i in idx)
        total += sum(a[k] * h[k] for k in a) / len(idx) / len(family)  # P(f) * sum_k P(a=k|f) P(h=k|f)
    return total


def balanced_test_clips(corpus: AudioCorpus, per_family: int) -> tuple[np.ndarray, dict[str, list[str]]]:
    """The first ``per_family`` test clips of every family (fewer where a family has fewer): (N, T), and their true
    class of every attribute the judges name ({attribute: [class per clip]})."""
    labels = corpus.labels("test")
    fam = labels["family"]
    idx = [i for k in range(len(FAMILIES)) for i in np.flatnonzero(fam == k)[:per_family]]
    truth = {a: [ATTRIBUTE_CLASSES[a][labels[a][i]] for i in idx] for a in ATTRIBUTE_CLASSES}
    return corpus.clips("test")[idx], truth


def asked_from_clips(conditions: list[str], truth: dict[str, list[str]]) -> torch.Tensor:
    """(N, A) class indices of the attributes ``conditions`` (family first) of the clips whose ``truth``
    (``balanced_test_clips``) is given: what a top prior conditioned on them is asked, clip by clip."""
    return torch.tensor([[ATTRIBUTE_CLASSES[c].index(truth[c][i]) for c in conditions]
                         for i in range(len(truth["family"]))])  # (N, A)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build(verbose=False)
    sr = corpus.recipe.sr
    paths = {**{f"level {i} (hop {J.load_level(p).hop})": Path(p) for i, p in enumerate(args.levels)},
             "top prior": Path(args.prior),
             **{f"upsampler {i + 1}": Path(p) for i, p in enumerate(args.upsamplers)},
             **{k: SHIPPED / v for k, v in JUDGES.items()}}
    levels = [J.load_level(p) for p in args.levels]
    prior = J.load_top_prior(args.prior)
    ups = [J.load_upsampler(p) for p in args.upsamplers]
    conditions = list(getattr(prior, "label_names", ("family",)))
    judges = {k: load_classifier(SHIPPED / v) for k, v in JUDGES.items()}
    clips, truth = balanced_test_clips(corpus, args.per_family)  # the references, and what each sample is asked
    asked_idx = asked_from_clips(conditions, truth)  # (N, A)
    asked = {c: truth[c] for c in conditions}
    results = {"command": "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]), "seed": args.seed,
               "threads": args.threads, "per_family": args.per_family, "seconds": args.seconds,
               "temperature": args.temperature, "families": list(FAMILIES), "conditions": conditions,
               "classes": {c: list(ATTRIBUTE_CLASSES[c]) for c in conditions},
               "chance": {c: 1 / len(ATTRIBUTE_CLASSES[c]) for c in conditions},
               "hops": [lv.hop for lv in levels],
               "checkpoints": {k: {"path": shown_path(p, ROOT), "sha256": file_sha256(p)} for k, p in paths.items()},
               "rows": [], "references": {}}

    def judged(audio, truth: dict) -> dict:
        out = {}
        for k, j in judges.items():
            pred = j.predict(audio, sr=sr)
            out[k] = judge_table(truth["family"], pred["family"], list(FAMILIES))  # the family, as before
            if k == "robust":
                for c in conditions[1:]:
                    out[f"{k} {c}"] = judge_table(truth[c], pred[c], list(ATTRIBUTE_CLASSES[c]),
                                                  within=truth["family"])
        return out

    # --- references: the real held-out clips and their bottom-level reconstructions ------------------------------
    bottom = levels[-1]
    recon = torch.cat([bottom.reconstruct(torch.from_numpy(clips[i:i + args.batch].copy()), sr=sr)
                       for i in range(0, len(clips), args.batch)])
    whole = torch.from_numpy(clips.copy())[:, : clips.shape[1] // levels[0].hop * levels[0].hop]  # whole top codes

    def onsets(audio) -> float:  # mean onset agreement with the clip each one stands for
        return float(np.mean([onset_agreement(c, a[: len(c)]) for c, a in zip(whole.numpy(), audio.numpy())]))

    for name, audio in (("held-out test clips", torch.from_numpy(clips.copy())),
                        (f"hop-{bottom.hop} reconstructions", recon)):
        results["references"][name] = judged(audio, truth)
    results["references"][f"hop-{bottom.hop} reconstructions"]["onset_agreement"] = onsets(recon)
    # where a label is lost: the clips' own codes of an upper level, upsampled by the upsamplers below it (the clip's
    # own label), then decoded by the bottom level: from the top level at the largest guidance asked, from the level
    # above the bottom one at every guidance (what the last upsampler keeps, and what guidance trades)
    last = len(levels) - 2
    for k, guide in [(k, max(args.guidance)) for k in range(last)] + [(last, gs) for gs in args.guidance]:
        g = torch.Generator().manual_seed(args.seed)
        out = []
        for i in range(0, len(whole), args.batch):
            codes = J.level_encode(levels[k], whole[i:i + args.batch], sr)  # (b, L_k)
            bottom_codes = J.upsample_codes(codes, ups[k:], g, label=asked_idx[i:i + args.batch],
                                            temperature=args.temperature, guidance_scale=guide,
                                            label_names=conditions)[-1]  # the clip's own attributes
            out.append(levels[-1].decode(bottom_codes))
        audio = torch.cat(out)
        name = f"the clips' hop-{levels[k].hop} codes, upsampled (guidance {guide:g})"
        results["references"][name] = dict(judged(audio, truth), guidance=guide, from_level=k,
                                           onset_agreement=onsets(audio))
        print(f"{name}: family {results['references'][name]['robust']['accuracy']:.2f}, onsets "
              f"{results['references'][name]['onset_agreement']:.2f}", flush=True)
    # --- top-down samples, one generator per row (the same seed: the same top codes for each) ---------------------
    for guidance in args.guidance:
        g = torch.Generator().manual_seed(args.seed)
        t0 = time.perf_counter()
        audio = torch.cat([J.sample_top_down(levels, prior, ups, asked_idx[i:i + args.batch], args.seconds, g,
                                             temperature=args.temperature, guidance_scale=guidance)["audio"]
                           for i in range(0, len(asked_idx), args.batch)])
        seconds = time.perf_counter() - t0
        r = {"guidance": guidance, "sampling_seconds": round(seconds, 1),
             "x_real_time": len(asked_idx) * args.seconds / seconds, **judged(audio, asked)}
        results["rows"].append(r)
        extra = ", ".join(f"{c} {r[f'robust {c}']['accuracy']:.2f}" for c in conditions[1:])
        print(f"guidance {guidance}: family robust {r['robust']['accuracy']:.2f} [{r['robust']['low']:.2f}, "
              f"{r['robust']['high']:.2f}], clean {r['clean']['accuracy']:.2f}; {extra} ({seconds:.0f} s)", flush=True)
    for name, r in results["references"].items():
        print(f"{name}: robust {r['robust']['accuracy']:.2f}, clean {r['clean']['accuracy']:.2f}")
    write_results(Path(args.out), results)
    return results


if __name__ == "__main__":
    main()
