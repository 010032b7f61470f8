"""Measure notebook 05's melody table: does MusicGen follow a reference tune, and does the text still set the instrument?

    .venv/bin/python scripts/measure_melody.py                    # writes runs/musicgen_melody.json
    .venv/bin/python scripts/measure_melody.py --out data/checkpoints/musicgen_melody.json --overwrite-shipped

For the first ``--n`` clips of the corpus's TEST split (pieces no training clip plays), clip i is the reference tune
and the caption, in a held-out phrasing, states clip i's tempo, key and register but the players of clip i + 1: the
text asks for one instrument, the melody comes from a clip played on another (the same family in about one clip of
eight), so whatever timbre the output has must come from the text. Generated at guidance ``--guidance`` (``helpers.musicgen.MusicGen.generate``, seeds ``--seed + batch
start``) with and without the melody, then measured against the reference:

- **chroma**: :func:`helpers.audio_quality.chroma_similarity` of the reference and the generated clip (the MusicGen
  paper's melody measure, Copet et al. 2023, Sec. 4.3, is a chroma cosine similarity);
- **agreement**: the share of frames whose dominant pitch class (:func:`helpers.melody.dominant_chroma`) is the
  reference's, over the frames where both sound;
- **family**: how often the robust and the clean judge hear the *caption's* instrument family.

Floors and ceiling: the same measures of the melody-conditioned clips against an *unrelated* reference (clip
i + 2's), and of the reference's own codec reconstruction (the most any LM decoded by this codec can keep).

Notebook: 05_musicgen.ipynb (melody conditioning). Reference: Copet et al. 2023, Sec. 2.3 and 4.3.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import musicgen as mg  # noqa: E402
from helpers.audio_corpus import AudioCorpus, captions_of  # noqa: E402
from helpers.audio_quality import chroma_similarity  # noqa: E402
from helpers.checkpoints import file_sha256, refuse_shipped_paths, write_results  # noqa: E402
from helpers.classifier import load_classifier  # noqa: E402
from helpers.melody import agreement, dominant_chroma  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm", default=str(SHIPPED / "musicgen_lm.pt"))
    p.add_argument("--classifier", default=str(SHIPPED / "classifier_robust.pt"))
    p.add_argument("--clean-classifier", default=str(SHIPPED / "classifier.pt"))
    p.add_argument("--n", type=int, default=96, help="number of reference clips")
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/musicgen_melody.json")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out inside {SHIPPED.relative_to(ROOT)}/ (replaces the table notebook 05 loads)")
    args = p.parse_args(argv)
    if args.n < 3 or args.seconds <= 0 or args.guidance < 0:
        p.error("--n must be >= 3, --seconds > 0 and --guidance >= 0")
    refuse_shipped_paths(p, args, ("out",))
    return args


def players_of(tune: dict, players: dict) -> dict:
    """The attributes of clip ``tune`` (tempo, key, mode, register: what its melody already says) with the players
    (instruments, family, texture) of clip ``players``: the caption then asks for another instrument, and nothing
    else that contradicts the melody."""
    return dict(tune, **{k: players[k] for k in ("instruments", "family", "texture")})


def melody_measures(refs: torch.Tensor, audio: torch.Tensor, sr: int, hop: int) -> dict:
    """Per clip: chroma similarity and dominant-pitch agreement of ``audio`` (N, T) against ``refs`` (N, T)."""
    a, b = dominant_chroma(refs, sr, hop), dominant_chroma(audio, sr, hop)
    return {"chroma": [chroma_similarity(r, x, sr) for r, x in zip(refs, audio)],
            "agreement": [agreement(x, y) for x, y in zip(a, b)]}


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build()
    pipe = mg.load_pipeline(args.lm)
    if not pipe.takes_melody:
        raise SystemExit(f"--lm {args.lm} was not trained with melody conditioning (train_musicgen.py --melody-dropout)")
    judges = {"robust": load_classifier(args.classifier), "clean": load_classifier(args.clean_classifier)}
    sr, hop = pipe.codec.config.sample_rate, pipe.codec.config.hop
    n = min(args.n, corpus.recipe.n_clips("test") - 2)
    T = int(args.seconds * sr)
    clips = torch.from_numpy(corpus.clips("test")[: n + 2, :T].copy())  # (n + 2, T)
    attrs = corpus.attributes("test")[: n + 2]
    refs, unrelated = clips[:n], clips[2 : n + 2]
    asked = [players_of(attrs[i], attrs[i + 1]) for i in range(n)]  # clip i's tune, clip i + 1's players
    captions = [captions_of(a, heldout=True)[0] for a in asked]
    out_audio, t0 = {}, time.time()
    for name, use_melody in (("text and melody", True), ("text only", False)):
        parts = []
        for i in range(0, n, args.batch_size):
            j = min(n, i + args.batch_size)
            parts.append(pipe.generate(captions[i:j], args.seconds, args.guidance, seed=args.seed + i,
                                       melody=refs[i:j] if use_melody else None))
        out_audio[name] = torch.cat(parts)[:, :T]  # (n, T)
        print(f"{name}: generated {n} clips ({time.time() - t0:.0f} s)", flush=True)
    with torch.no_grad():
        recon = torch.cat([pipe.codec.reconstruct(refs[i : i + 32, None], sr=sr).reshape(-1, T)
                           for i in range(0, n, 32)])  # (n, T)

    def family(audio):
        return {k: float(np.mean([p == a["family"] for p, a in zip(j.predict(audio[:, None], sr=sr)["family"], asked)]))
                for k, j in judges.items()}

    rows = []
    for name, audio, against in (("text and melody", out_audio["text and melody"], refs),
                                 ("text only", out_audio["text only"], refs),
                                 ("text and melody, against an unrelated tune", out_audio["text and melody"], unrelated),
                                 ("codec reconstruction of the reference", recon, refs)):
        m = melody_measures(against, audio, sr, hop)
        row = {"row": name, "n": n, "chroma": float(np.mean(m["chroma"])), "agreement": float(np.nanmean(m["agreement"])),
               "chroma_per_clip": m["chroma"], "agreement_per_clip": m["agreement"]}
        if name.startswith("text") and "unrelated" not in name:
            row["family"] = family(audio)
        rows.append(row)
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if "per_clip" not in k}, flush=True)
    out = dict(
        command="python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        lm_sha256=file_sha256(args.lm), codec_sha256=file_sha256(mg.lm_codec_path(args.lm)),
        classifier_sha256=file_sha256(args.classifier), clean_classifier_sha256=file_sha256(args.clean_classifier),
        corpus=corpus.recipe.hash(), n=n, seconds=args.seconds, guidance=args.guidance, seed=args.seed,
        threads=args.threads, captions=captions, caption_families=[a["family"] for a in asked],
        reference_families=[a["family"] for a in attrs[:n]], rows=rows, seconds_taken=round(time.time() - t0, 1),
    )
    path = write_results(args.out, out)
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
