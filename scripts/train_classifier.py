"""Train the attribute classifier ("the course's ears") on the audio corpus and ship its checkpoint.

    .venv/bin/python scripts/train_classifier.py --steps 1500 --seed 0 --threads 1 \
        --out data/checkpoints/classifier.pt --work runs/classifier --overwrite-shipped

Data: the default audio corpus (``helpers.audio_corpus.CorpusRecipe()``, built into the cache on first use).
Log-mel spectrograms and chromagrams of every clip are computed once with the model's own front-ends; training batches are random
3-second crops (in frames) of random training clips, labelled with instrument family, tempo band, mode and
register. Validation: the whole clips of the valid split (mean summed cross-entropy) every ``--eval-every`` steps;
the best-validation weights are kept (``helpers.training.train``). At the end the best weights are scored on the
test split (held-out pieces: no test piece is in train) with a confusion matrix per attribute; they are stored in
float16 when that changes no prediction on valid and test, else in float32; the results, the command and the
file's SHA-256 go to ``<out>.json``, which ``helpers.classifier.load_classifier`` checks.

Notebook: 05_musicgen.ipynb, 06_evaluation.ipynb; exact command of the shipped file: data/checkpoints/README.md.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.audio_corpus import AudioCorpus, CorpusRecipe  # noqa: E402
from helpers.classifier import (  # noqa: E402
    AttributeClassifier,
    ClassifierConfig,
    classifier_loss,
    evaluate_predictions,
    file_sha256,
    format_confusion,
)
from helpers.training import (  # noqa: E402
    TrainConfig, load_weights, read_checkpoint, refuse_shipped_paths, save_weights, train)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--crop-seconds", type=float, default=3.0, help="length of the random training crops")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache-dir", default=None, help="audio corpus cache (default: helpers.audio_corpus.cache_root())")
    p.add_argument("--out", default="runs/classifier.pt")
    p.add_argument("--work", default="runs/classifier", help="folder for the float32 best checkpoint")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help="allow --out/--work inside data/checkpoints/ (replaces the classifier the notebooks ship)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


@torch.no_grad()
def features(model: AttributeClassifier, audio: np.ndarray, batch: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T) clips -> log-mel (N, M, frames) and chroma (N, 12, frames) with the model's front-ends."""
    parts = [model.features(torch.from_numpy(audio[i : i + batch])) for i in range(0, len(audio), batch)]
    return torch.cat([m for m, _ in parts]), torch.cat([c for _, c in parts])


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.time()
    corpus = AudioCorpus.build(CorpusRecipe(), cache_dir=args.cache_dir, progress=not args.no_progress)
    config = ClassifierConfig()
    torch.manual_seed(args.seed)
    model = AttributeClassifier(config)
    feats = {s: features(model, corpus.clips(s)) for s in ("train", "valid")}
    mels = {s: f[0] for s, f in feats.items()}  # (N, M, frames)
    chromas = {s: f[1] for s, f in feats.items()}  # (N, 12, frames)
    labels = {s: {k: torch.from_numpy(v) for k, v in corpus.labels(s).items()} for s in ("train", "valid")}
    n_frames = mels["train"].shape[2]
    crop = min(n_frames, int(round(args.crop_seconds * config.sr / config.hop_length)))
    print(f"log-mels: train {tuple(mels['train'].shape)}, valid {tuple(mels['valid'].shape)}; crops of {crop} frames")

    def train_data(generator: torch.Generator, batch_size: int) -> dict:
        idx = torch.randint(0, len(mels["train"]), (batch_size,), generator=generator)  # (B,)
        start = torch.randint(0, n_frames - crop + 1, (batch_size,), generator=generator)  # (B,)
        frames = start[:, None] + torch.arange(crop)[None, :]  # (B, crop)
        mel = mels["train"][idx[:, None], :, frames].transpose(1, 2)  # (B, M, crop)
        chroma = chromas["train"][idx[:, None], :, frames].transpose(1, 2)  # (B, 12, crop)
        return {"mel": mel, "chroma": chroma, **{k: v[idx] for k, v in labels["train"].items()}}

    valid_data = [{"mel": mels["valid"][i : i + 100], "chroma": chromas["valid"][i : i + 100],
                   **{k: v[i : i + 100] for k, v in labels["valid"].items()}}
                  for i in range(0, len(mels["valid"]), 100)]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    fp32_path = work / "classifier_fp32.pt"
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr,
                      warmup_steps=args.warmup, weight_decay=args.weight_decay, eval_every=args.eval_every,
                      seed=args.seed, device=args.device, checkpoint=str(fp32_path), progress=not args.no_progress)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    history = train(model, classifier_loss, train_data, valid_data, cfg,
                    checkpoint_extra={"command": command, "corpus_recipe": corpus.recipe.hash()})

    # Score the best weights on valid and test (whole clips), in float32 and in float16.
    best = AttributeClassifier(config)
    load_weights(best, fp32_path, config=config.to_dict())
    best.eval()
    clips = {s: corpus.clips(s) for s in ("valid", "test")}
    preds32 = {s: best.predict(clips[s]) for s in clips}
    results32 = {s: evaluate_predictions(preds32[s], corpus.labels(s), config.heads) for s in clips}
    half_path = work / "classifier_fp16.pt"
    save_weights(best, half_path, config.to_dict(), half=True)
    half = AttributeClassifier(config)
    load_weights(half, half_path, config=config.to_dict())
    half.eval()
    changed = {s: int(sum(a != b for name in preds32[s] for a, b in zip(preds32[s][name], half.predict(clips[s])[name])))
               for s in clips}
    use_half = all(v == 0 for v in changed.values())
    extra = {"command": command, "seed": args.seed, "steps": args.steps, "best_step": history["best_step"],
             "best_valid_loss": history["best_valid"], "corpus_recipe": corpus.recipe.hash(),
             "test_accuracy": {k: v["accuracy"] for k, v in results32["test"].items()}}
    out = Path(args.out)
    save_weights(best, out, config.to_dict(), half=use_half, extra=extra)
    n_params = sum(p.numel() for p in best.parameters())
    report = {
        **extra,
        "config": config.to_dict(),
        "parameters": n_params,
        "weights": "float16" if use_half else "float32",
        "fp16_changed_predictions": changed,
        "bytes": out.stat().st_size,
        "sha256": file_sha256(out),
        "train_seconds": round(history["seconds"], 1),
        "total_seconds": round(time.time() - t_start, 1),
        "threads": args.threads,
        "corpus": {"recipe": corpus.recipe.fingerprint(), "hash": corpus.recipe.hash(),
                   "clips": {s: corpus.recipe.n_clips(s) for s in ("train", "valid", "test")}},
        "results": {"valid": results32["valid"], "test": results32["test"]},
        "history": {"valid_step": history["valid_step"], "valid_loss": history["valid_loss"],
                    "train_loss_every_10": history["train_loss"][::10]},
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    print(f"wrote {out} ({report['bytes'] / 1e6:.2f} MB, {report['weights']}, sha256 {report['sha256']})")
    for name, r in results32["test"].items():
        print(f"\ntest {name}: accuracy {r['accuracy']:.3f} (n={r['n']})\n{format_confusion(r)}")
    # The checkpoint must load back through the public loader (hash checked).
    from helpers.classifier import load_classifier

    load_classifier(out)
    return report


if __name__ == "__main__":
    main()
