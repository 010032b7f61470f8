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

Other music (``--other-music random_melody:1200 random_chords:1200``): the first N train clips of each named kind of
``helpers.other_music`` (music outside the corpus played by the same instruments) join the training clips, and its
valid clips the validation, so that the judge learns the instrument rather than the corpus; the kinds left out
(e.g. ``oneills``) stay held out for ``scripts/measure_judges.py``. ``--augment`` reconstructs them too.

Notebook: 05_musicgen.ipynb, 06_evaluation.ipynb; exact command of the shipped file: data/checkpoints/README.md.
"""
from __future__ import annotations

import argparse
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
    format_confusion,
    reconstructions,
)
from helpers.checkpoints import (  # noqa: E402
    file_sha256, load_weights, refuse_shipped_paths, save_weights, write_results)
from helpers.other_music import KINDS as OTHER_KINDS, OtherMusicRecipe  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402


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
    p.add_argument("--augment", nargs="*", default=[], metavar="CKPT",
                   help="decoders (helpers.codec or helpers.vqvae checkpoints) whose reconstructions of the train clips "
                        "are mixed into training, so the classifier hears through them (the judge of notebook 05)")
    p.add_argument("--augment-p", type=float, default=0.5,
                   help="probability that a training example is a reconstruction (one of --augment at random)")
    p.add_argument("--other-music", nargs="*", default=[], metavar="KIND:N",
                   help=f"also train on the first N train clips of a kind of other music ({', '.join(OTHER_KINDS)}; "
                        "helpers.other_music, built into the cache on first use) and validate on its valid clips, so "
                        "the classifier hears the instrument rather than the corpus; a kind left out stays a held-out "
                        "kind for scripts/measure_judges.py")
    p.add_argument("--other-music-seed", type=int, default=0, help="seed of the other-music recipes")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-clock budget of the training loop (stops after the first step past it; None: none)")
    p.add_argument("--out", default="runs/classifier.pt")
    p.add_argument("--work", default="runs/classifier", help="folder for the float32 best checkpoint")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help="allow --out/--work inside data/checkpoints/ (replaces the classifier the notebooks ship)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--evaluate-only", metavar="CKPT", default=None,
                   help="train nothing: score this classifier on the current corpus's valid and test splits (and on "
                        "the reconstructions of the decoders its JSON names) and rewrite the results in its JSON "
                        "(after the corpus changed; the weights and the training facts stay)")
    args = p.parse_args(argv)
    if not 0.0 <= args.augment_p <= 1.0:
        p.error(f"--augment-p must lie in [0, 1], got {args.augment_p}")
    for path in args.augment:
        if not Path(path).is_file():
            p.error(f"--augment {path}: no such checkpoint")
    args.other_music = [parse_other_music(p, spec) for spec in args.other_music]
    kinds = [k for k, _ in args.other_music]
    if len(set(kinds)) < len(kinds):
        p.error(f"--other-music names a kind twice: {kinds}")
    if args.other_music and args.evaluate_only:
        p.error("--other-music trains; --evaluate-only trains nothing: use one of them")
    if args.max_minutes is not None and args.max_minutes <= 0:
        p.error(f"--max-minutes must be positive, got {args.max_minutes}")
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


def parse_other_music(parser, spec: str) -> tuple[str, int]:
    """``'random_melody:1200'`` -> ``('random_melody', 1200)``; a clear error naming --other-music otherwise."""
    kind, sep, n = spec.partition(":")
    if not sep or kind not in OTHER_KINDS or not n.isdigit() or int(n) < 1:
        parser.error(f"--other-music {spec!r}: expected KIND:N with KIND one of {OTHER_KINDS} and N a positive number "
                     "of train clips")
    return kind, int(n)


def other_music(args) -> list:
    """The other-music collections of ``--other-music`` (``helpers.audio_corpus.AudioCorpus``), each with the first N
    train clips (its recipe's ``n_train``; valid and test clips do not depend on it)."""
    from helpers.other_music import build

    return [build(kind, seed=args.other_music_seed, n_train=n, cache_dir=args.cache_dir, progress=not args.no_progress)
            for kind, n in args.other_music]


@torch.no_grad()
def features(model: AttributeClassifier, audio: np.ndarray, batch: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, T) clips -> log-mel (N, M, frames) and chroma (N, 12, frames) with the model's front-ends."""
    parts = [model.features(torch.from_numpy(audio[i : i + batch])) for i in range(0, len(audio), batch)]
    return torch.cat([m for m, _ in parts]), torch.cat([c for _, c in parts])


def score_splits(model: AttributeClassifier, corpus, decoders, cache: Path):
    """A trained classifier on the corpus's valid and test clips and on each decoder's reconstructions of the test
    clips: ``(clips, predictions, results, decoded_test)``, with ``results[split][attribute]`` from
    :func:`helpers.classifier.evaluate_predictions` and ``decoded_test[decoder stem][attribute]`` an accuracy."""
    sr, heads = model.config.sr, model.config.heads
    clips = {s: corpus.clips(s) for s in ("valid", "test")}
    preds = {s: model.predict(clips[s], sr) for s in clips}
    results = {s: evaluate_predictions(preds[s], corpus.labels(s), heads) for s in clips}
    decoded_test = {}  # test accuracy on each decoder's reconstructions of the test clips
    for a in decoders:
        r = evaluate_predictions(model.predict(reconstructions(a, clips["test"], sr, cache), sr), corpus.labels("test"), heads)
        decoded_test[Path(a).stem] = {k: v["accuracy"] for k, v in r.items()}
    return clips, preds, results, decoded_test


def evaluate_only(args) -> dict:
    """Re-score a trained classifier on the current corpus (``--evaluate-only``): valid and test results, test on each
    decoder's reconstructions (the decoders its JSON lists, checked by hash), float16 agreement; everything else in
    the JSON (training command, steps, best step, training time) stays, and ``rescored`` records when, on which
    corpus, and by which command."""
    import json

    ckpt = Path(args.evaluate_only)
    meta_path = ckpt.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    if file_sha256(ckpt) != meta["sha256"]:
        raise ValueError(f"{ckpt}: its SHA-256 differs from {meta_path}'s; this is not the classifier it describes")
    corpus = AudioCorpus.build(CorpusRecipe(), cache_dir=args.cache_dir, progress=not args.no_progress)
    config = ClassifierConfig()
    model = AttributeClassifier(config)
    load_weights(model, ckpt, config=config.to_dict())
    model.eval()
    decoders = []
    for entry in meta.get("augment", []):
        path = ckpt.parent / entry["checkpoint"]
        if file_sha256(path) != entry["sha256"]:
            raise ValueError(f"{path}: not the decoder this classifier was trained on (SHA-256 differs)")
        decoders.append(str(path))
    _, _, results, decoded_test = score_splits(model, corpus, decoders, Path(args.work) / "recon")
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *sys.argv[1:]])
    meta.update(
        corpus_recipe=corpus.recipe.hash(),
        corpus={"recipe": corpus.recipe.fingerprint(), "hash": corpus.recipe.hash(),
                "clips": {s: corpus.recipe.n_clips(s) for s in ("train", "valid", "test")}},
        results={"valid": results["valid"], "test": results["test"]},
        test_accuracy={k: v["accuracy"] for k, v in results["test"].items()},
        rescored={"command": command, "corpus": corpus.recipe.hash(),
                  "note": "weights trained (and their best step chosen) on an earlier valid split; train clips unchanged"},
    )
    if decoded_test:
        meta["test_accuracy_decoded"] = decoded_test
    write_results(meta_path, meta)
    for name, r in results["test"].items():
        print(f"test {name}: accuracy {r['accuracy']:.3f} (n={r['n']})")
    for name, acc in decoded_test.items():
        print(f"test, reconstructed by {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    return meta


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.evaluate_only:
        torch.set_num_threads(args.threads)
        return evaluate_only(args)
    torch.set_num_threads(args.threads)
    t_start = time.time()
    corpus = AudioCorpus.build(CorpusRecipe(), cache_dir=args.cache_dir, progress=not args.no_progress)
    config = ClassifierConfig()
    torch.manual_seed(args.seed)
    model = AttributeClassifier(config)
    work = Path(args.work)
    others = other_music(args)
    audio = {s: np.concatenate([corpus.clips(s)] + [o.clips(s) for o in others]) for s in ("train", "valid")}
    versions = ["clean"] + [Path(a).stem for a in args.augment]  # clean audio, then each decoder's reconstructions
    feats = {}
    for s in ("train", "valid"):
        parts = [features(model, audio[s])] + [features(model, reconstructions(a, audio[s], config.sr, work / "recon"))
                                               for a in args.augment]
        feats[s] = (torch.stack([m for m, _ in parts]), torch.stack([c for _, c in parts]))  # (V, N, ...) each
    mels = {s: f[0] for s, f in feats.items()}  # (V, N, M, frames)
    chromas = {s: f[1] for s, f in feats.items()}  # (V, N, 12, frames)
    labels = {s: {k: torch.from_numpy(np.concatenate([corpus.labels(s)[k]] + [o.labels(s)[k] for o in others]))
                  for k in corpus.labels(s)} for s in ("train", "valid")}
    n_frames = mels["train"].shape[3]
    crop = min(n_frames, int(round(args.crop_seconds * config.sr / config.hop_length)))
    print(f"log-mels (versions {versions}): train {tuple(mels['train'].shape)}, valid {tuple(mels['valid'].shape)}; crops of {crop} frames")

    def train_data(generator: torch.Generator, batch_size: int) -> dict:
        idx = torch.randint(0, mels["train"].shape[1], (batch_size,), generator=generator)  # (B,)
        start = torch.randint(0, n_frames - crop + 1, (batch_size,), generator=generator)  # (B,)
        frames = start[:, None] + torch.arange(crop)[None, :]  # (B, crop)
        version = torch.zeros(batch_size, dtype=torch.long)  # (B,) 0 = clean audio
        if len(versions) > 1:
            decoded = torch.rand(batch_size, generator=generator) < args.augment_p
            pick = torch.randint(1, len(versions), (batch_size,), generator=generator)
            version = torch.where(decoded, pick, version)
        mel = mels["train"][version[:, None], idx[:, None], :, frames].transpose(1, 2)  # (B, M, crop)
        chroma = chromas["train"][version[:, None], idx[:, None], :, frames].transpose(1, 2)  # (B, 12, crop)
        return {"mel": mel, "chroma": chroma, **{k: v[idx] for k, v in labels["train"].items()}}

    valid_data = [{"mel": mels["valid"][v, i : i + 100], "chroma": chromas["valid"][v, i : i + 100],
                   **{k: t[i : i + 100] for k, t in labels["valid"].items()}}
                  for v in range(len(versions)) for i in range(0, mels["valid"].shape[1], 100)]  # every version
    work.mkdir(parents=True, exist_ok=True)
    fp32_path = work / "classifier_fp32.pt"
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr,
                      warmup_steps=args.warmup, weight_decay=args.weight_decay, eval_every=args.eval_every,
                      seed=args.seed, device=args.device, checkpoint=str(fp32_path), progress=not args.no_progress,
                      max_seconds=None if args.max_minutes is None else 60 * args.max_minutes)
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    history = train(model, classifier_loss, train_data, valid_data, cfg,
                    checkpoint_extra={"command": command, "corpus_recipe": corpus.recipe.hash()})

    # Score the best weights on valid and test (whole clips), in float32 and in float16.
    best = AttributeClassifier(config)
    load_weights(best, fp32_path, config=config.to_dict())
    best.eval()
    clips, preds32, results32, decoded_test = score_splits(best, corpus, args.augment, work / "recon")
    half_path = work / "classifier_fp16.pt"
    save_weights(best, half_path, config.to_dict(), half=True)
    half = AttributeClassifier(config)
    load_weights(half, half_path, config=config.to_dict())
    half.eval()
    changed = {s: int(sum(a != b for name in preds32[s]
                          for a, b in zip(preds32[s][name], half.predict(clips[s], config.sr)[name])))
               for s in clips}
    use_half = all(v == 0 for v in changed.values())
    extra = {"command": command, "seed": args.seed, "steps": args.steps, "best_step": history["best_step"],
             "best_valid_loss": history["best_valid"], "corpus_recipe": corpus.recipe.hash(),
             "test_accuracy": {k: v["accuracy"] for k, v in results32["test"].items()},
             "augment": [{"checkpoint": Path(a).name, "sha256": file_sha256(a)} for a in args.augment],
             "augment_p": args.augment_p if args.augment else 0.0, "test_accuracy_decoded": decoded_test,
             "other_music": [{"kind": o.recipe.kind, "recipe": o.recipe.hash(), "seed": o.recipe.seed,
                              "train_clips": o.recipe.n_train, "valid_clips": o.recipe.n_valid} for o in others],
             "steps_done": len(history["step"])}
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
    write_results(out.with_suffix(".json"), report)
    print(f"wrote {out} ({report['bytes'] / 1e6:.2f} MB, {report['weights']}, sha256 {report['sha256']})")
    for name, r in results32["test"].items():
        print(f"\ntest {name}: accuracy {r['accuracy']:.3f} (n={r['n']})\n{format_confusion(r)}")
    for name, acc in decoded_test.items():
        print(f"test, reconstructed by {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    # The checkpoint must load back through the public loader (hash checked).
    from helpers.classifier import load_classifier

    load_classifier(out)
    return report


if __name__ == "__main__":
    main()
