"""What does one upsampler of notebook 04 keep? It upsamples the held-out clips' *own* codes of the level above and
asks the robust judge what it hears, and how well the notes start where the clip's do.

    .venv/bin/python scripts/diagnose_upsampler.py --upsampler data/checkpoints/upsampler_hop64.pt --guidance 1 5
    .venv/bin/python scripts/diagnose_upsampler.py --upsampler runs/up.pt --bottom runs/level_hop64.pt --guidance 3

For 12 test clips per family (96; ``measure_jukebox.balanced_test_clips``), cut to whole top codes (``--multiple``): the
clips' codes of the ``--upper`` level, upsampled by ``--upsampler`` with each clip's label (one generator seeded
with ``--seed`` per guidance scale), decoded by the ``--bottom`` level; judged by ``classifier_robust.pt`` (family,
tempo band, mode against the clip's own) and scored by ``helpers.audio_quality.onset_agreement`` with the clip.
``--reconstruction`` adds the bottom level's reconstructions of the same clips (the ceiling). Prints one line per
row; ``--out`` writes them as JSON. This is how the upsampler variants in ``data/checkpoints/README.md`` were
compared; ``measure_jukebox.py`` runs the same rows for the shipped pipeline.

Notebook: 04_jukebox_vqvae.ipynb (section 6, "where a label is lost").
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from helpers import jukebox as J  # noqa: E402
from helpers.audio_corpus import ATTRIBUTE_CLASSES, AudioCorpus  # noqa: E402
from helpers.audio_quality import onset_agreement  # noqa: E402
from helpers.classifier import load_classifier  # noqa: E402
from measure_jukebox import balanced_test_clips  # noqa: E402

ATTRIBUTES = ("family", "tempo_band", "mode")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upsampler", default=str(SHIPPED / "upsampler_hop64.pt"))
    p.add_argument("--upper", default=str(SHIPPED / "level_hop256.pt"), help="the level whose codes it reads")
    p.add_argument("--bottom", default=str(SHIPPED / "level_hop64.pt"), help="the level it writes")
    p.add_argument("--guidance", type=float, nargs="+", default=[1.0, 5.0],
                   help="guidance scales (1: the label as trained; ignored by an upsampler without labels)")
    p.add_argument("--multiple", type=int, default=1024,
                   help="cut each clip to a multiple of this many samples (default: the top level's hop, as the "
                        "pipeline and measure_jukebox.py cut them)")
    p.add_argument("--per-family", type=int, default=12)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reconstruction", action="store_true", help="also score the bottom level's reconstructions")
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    return p.parse_args(argv)


def scored(audio: torch.Tensor, clips: torch.Tensor, truth: dict, judge, sr: int) -> dict:
    pred = judge.predict(audio, sr=sr)
    row = {a: float(np.mean([t == h for t, h in zip(truth[a], pred[a])])) for a in ATTRIBUTES}
    row["onset_agreement"] = float(np.mean([onset_agreement(c, a) for c, a in zip(clips.numpy(), audio.numpy())]))
    return row


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build(verbose=False)
    sr = corpus.recipe.sr
    upper, bottom, up = J.load_level(args.upper), J.load_level(args.bottom), J.load_upsampler(args.upsampler)
    if upper.hop != bottom.hop * up.ratio:
        raise ValueError(f"--upper hop {upper.hop} != --bottom hop {bottom.hop} x the upsampler's ratio {up.ratio}")
    judge = load_classifier(SHIPPED / "classifier_robust.pt")
    clips, truth = balanced_test_clips(corpus, args.per_family)
    if args.multiple % upper.hop:
        raise ValueError(f"--multiple {args.multiple} must be a multiple of the --upper level's hop {upper.hop}")
    clips = torch.from_numpy(clips.copy())[:, : clips.shape[1] // args.multiple * args.multiple]  # whole top codes
    label = torch.tensor([[ATTRIBUTE_CLASSES[a].index(truth[a][i]) for a in ATTRIBUTE_CLASSES]
                          for i in range(len(clips))])  # (N, 4): each clip's own attributes, the family first
    rows = []
    if args.reconstruction:
        rows.append(dict(row="reconstruction", **scored(bottom.reconstruct(clips, sr=sr), clips, truth, judge, sr)))
    for gs in args.guidance:
        g = torch.Generator().manual_seed(args.seed)
        t0 = time.perf_counter()
        codes = J.level_encode(upper, clips, sr)  # (N, L_upper), all clips at once
        audio = torch.cat([bottom.decode(J.upsample_codes(codes[i:i + args.batch], [up], g,
                                                          label=label[i:i + args.batch], guidance_scale=gs,
                                                          label_names=tuple(ATTRIBUTE_CLASSES))[-1])
                           for i in range(0, len(clips), args.batch)])
        rows.append(dict(row=f"upsampled, guidance {gs:g}", guidance=gs, seconds=round(time.perf_counter() - t0, 1),
                         **scored(audio[:, : clips.shape[1]], clips, truth, judge, sr)))
    for r in rows:
        print(f"{r['row']}: " + ", ".join(f"{k} {r[k]:.3f}" for k in (*ATTRIBUTES, "onset_agreement")), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"command": "python " + " ".join(sys.argv), "upsampler": args.upsampler,
                                              "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
