"""Train the Jukebox priors of notebook 04 on the codes of the shipped VQ-VAE levels.

    .venv/bin/python scripts/train_priors.py --which top --conditions family tempo_band mode register --minutes 8
    .venv/bin/python scripts/train_priors.py --which upsampler --upsampler-labels --label-dropout 0.2 \
        --top data/checkpoints/level_hop1024.pt --bottom data/checkpoints/level_hop256.pt --out runs/up256.pt
    (exact commands of notebook 04's files: data/checkpoints/README.md)

Outputs go where ``--out`` says (relative paths from the working directory, as for every path argument), and a work
folder ``<--work>/<out stem>/`` (default ``runs/``, likewise) keeps the float32 best checkpoint and, with ``--resume``,
the resume file; nothing is written into the repository unless a path points there.

Data: the train split of ``AudioCorpus.build()`` (4-s clips at 16 kHz, cut to whole codes of the ``--top`` level)
encoded by the levels ``--top`` and (for an upsampler) ``--bottom``, either design (``helpers.jukebox.load_level``);
the codes are cached in ``<--work>/codes/`` under the checkpoint's checksum. Validation: the first ``--n-valid`` valid
clips. For notebook 04's three levels, the top prior models the hop-1024 level, one upsampler the hop-256 level
under it, another the hop-64 level under that (``--top`` the upper level, ``--bottom`` the lower one).

- ``--which top``: the top-level prior, a :class:`helpers.transformer.MusicTransformer` over ``[label tokens, top
  codes]`` (whole clips; the corpus attributes named by ``--conditions``, family first, as a prefix of one token
  each), ``next_token_loss``.
- ``--which upsampler``: :class:`helpers.jukebox.Upsampler` over bottom codes with the upsampled top codes added to
  its input, crops of ``--length`` bottom codes, ``helpers.jukebox.upsampler_loss``; with ``--upsampler-labels`` the
  clip's instrument family is added to that input too, and with ``--upsampler-conditions family tempo_band ...``
  the other attributes named (each its own table; guidance then pushes towards all of them).

``--extra-train SEED N`` adds N training clips rendered by the corpus recipe with another seed (the same train-split
pieces in other instruments, keys, registers and crops; its own corpus cache and code caches): the top prior and the
middle upsampler see each clip many times in a run and overfit the 2,400 clips of the corpus alone.

``--init FILE`` starts from the weights of a prior or upsampler of the same configuration (a warm start: fresh
optimiser and schedule; the file's steps are recorded in ``init``); a family-only upsampler file also starts an
upsampler with more ``--upsampler-conditions`` (the new tables zero: ``helpers.jukebox.widen_upsampler``).
``--minutes`` sizes the number of steps from a measured time per step (``--steps`` overrides it). At the end the best-validation weights are kept, stored in float16
if that changes the validation loss by less than 1e-3 nats, and sampling speed is measured (steps per second with the
KV cache, one 4-s clip). The script refuses to write into ``data/checkpoints/`` unless ``--overwrite-shipped`` is
given.

Notebook: 04_jukebox_vqvae.ipynb; exact commands of the shipped files: data/checkpoints/README.md.
Reference: Dhariwal et al. 2020, "Jukebox" (arXiv:2005.00341), Sec. 4 (top-level prior, upsamplers).
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

from helpers import jukebox as J  # noqa: E402
from helpers.audio_corpus import ATTRIBUTE_CLASSES, FAMILIES, AudioCorpus, CorpusRecipe  # noqa: E402
from helpers.checkpoints import (  # noqa: E402
    INT8_MIN_NUMEL, atomic_write, dequantize_int8, file_sha256, init_record, load_file, quantize_int8,
    read_checkpoint, refuse_shipped_paths, write_results)
from helpers.training import TrainConfig, evaluate, resolve_device, train  # noqa: E402
from helpers.transformer import MusicTransformer, MusicTransformerConfig, next_token_loss  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--which", choices=["top", "upsampler"], required=True)
    p.add_argument("--top", default=None,
                   help="the level the top prior models (default: the shipped level_hop1024.pt); for an upsampler, "
                        "the level above it (default: level_hop256.pt)")
    p.add_argument("--bottom", default=None,
                   help="upsampler: the level it writes, hop = the --top level's hop / ratio (default: the shipped "
                        "level_hop64.pt)")
    p.add_argument("--conditions", nargs="+", default=["family"], choices=list(ATTRIBUTE_CLASSES),
                   help="top prior: the labels it is conditioned on, one token each in front of the codes, family "
                        "first (upsamplers take the family)")
    p.add_argument("--n-layer", type=int, default=None, help="default: 4 (top), 2 (upsampler: it must run at 250 codes/s)")
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--attn-dropout", type=float, default=None,
                   help="dropout on the attention weights alone (default: --dropout); 0 trains faster on a CPU")
    p.add_argument("--length", type=int, default=256, help="upsampler: training window in bottom codes")
    p.add_argument("--upsampler-labels", action="store_true",
                   help="upsampler: condition it on the instrument family too (Jukebox conditions every level)")
    p.add_argument("--extra-train", type=int, nargs=2, action="append", default=[], metavar=("SEED", "N"),
                   help="add N training clips rendered by the corpus recipe with another SEED (other pieces of the "
                        "train split, other instruments, keys and registers; built into its own cache)")
    p.add_argument("--upsampler-conditions", nargs="+", default=["family"], choices=list(ATTRIBUTE_CLASSES),
                   help="upsampler with --upsampler-labels: the attributes of its label, family first (the others "
                        "get tables of their own; an --init file conditioned on the family alone is widened)")
    p.add_argument("--label-dropout", type=float, default=0.0,
                   help="upsampler with labels: fraction of crops trained with the null label (for guidance)")
    p.add_argument("--cond-blocks", type=int, default=0,
                   help="upsampler: residual blocks of dilated convolutions over the upper codes (Jukebox's conditioner)")
    p.add_argument("--guide-upper", action="store_true",
                   help="upsampler with --label-dropout: the crops with the null label lose their upper codes too (a "
                        "learned null vector), so that guidance pushes towards the upper codes as well as the label")
    p.add_argument("--input-noise", type=float, default=0.0,
                   help="upsampler: fraction of the codes it reads replaced by random codes while training (the "
                        "targets stay true), so that it follows the upper codes instead of copying its own past")
    p.add_argument("--int8", action="store_true",
                   help="store the large matrices in int8 (one scale per row) if that changes the validation loss "
                        "by less than 0.01 nats (about half the float16 file)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--n-train", type=int, default=None, help="train clips to encode (default: all)")
    p.add_argument("--n-valid", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="default runs/prior_top.pt or runs/upsampler.pt")
    p.add_argument("--work", default="runs", help="work folder: <work>/<out stem>/ and the code cache <work>/codes/")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help=f"allow --out/--work inside {SHIPPED.relative_to(ROOT)}/ (replaces the priors notebook 04 ships)")
    p.add_argument("--resume", action="store_true", help="continue from <work>/<out stem>/resume.pt if it exists")
    p.add_argument("--init", default=None,
                   help="start from the weights of this prior or upsampler (a file of the same configuration as the "
                        "one the other arguments build, refused otherwise): a warm start with a fresh optimiser and "
                        "learning-rate schedule")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.top is None:
        args.top = str(SHIPPED / ("level_hop1024.pt" if args.which == "top" else "level_hop256.pt"))
    if args.bottom is None:
        args.bottom = str(SHIPPED / "level_hop64.pt")
    if args.n_layer is None:
        args.n_layer = 4 if args.which == "top" else 2
    if args.out is None:
        args.out = "runs/prior_top.pt" if args.which == "top" else "runs/upsampler.pt"
    if args.conditions[0] != "family" or len(set(args.conditions)) != len(args.conditions):
        p.error(f"--conditions must start with family and name each attribute once, got {args.conditions}")
    up_conds = args.upsampler_conditions
    if up_conds[0] != "family" or len(set(up_conds)) != len(up_conds):
        p.error(f"--upsampler-conditions must start with family and name each attribute once, got "
                f"{args.upsampler_conditions}")
    if len(args.upsampler_conditions) > 1 and not (args.which == "upsampler" and args.upsampler_labels):
        p.error("--upsampler-conditions goes with --which upsampler --upsampler-labels")
    if args.label_dropout and not (args.which == "upsampler" and args.upsampler_labels):
        p.error("--label-dropout goes with --which upsampler --upsampler-labels")
    if args.guide_upper and not args.label_dropout:
        p.error("--guide-upper goes with --label-dropout (the crops whose label is dropped lose their upper codes)")
    if args.input_noise and args.which != "upsampler":
        p.error("--input-noise is for --which upsampler")
    if not 0.0 <= args.input_noise < 1.0:
        p.error(f"--input-noise must lie in [0, 1), got {args.input_noise}")
    if not 0.0 <= args.label_dropout < 1.0:
        p.error(f"--label-dropout must lie in [0, 1), got {args.label_dropout}")
    for seed, n in args.extra_train:
        if n < 1 or seed == CorpusRecipe().seed:
            p.error(f"--extra-train SEED N: need N >= 1 and a SEED other than the default corpus's "
                    f"({CorpusRecipe().seed}), got {seed} {n}")
    refuse_shipped_paths(p, args, ("out", "work"))
    return args


def level_codes(path: str, corpus: AudioCorpus, split: str, n: int | None, cache_dir: Path,
                chunk: int = 16, multiple: int = 1) -> torch.Tensor:
    """Codes (N, L) of the first ``n`` clips of ``split`` under the level in ``path`` (either design, see
    :func:`helpers.jukebox.load_level`), each clip cut to a whole number of ``multiple`` samples (the coarsest hop of
    the levels trained together, so every level's codes line up); cached in ``cache_dir`` under the level's checksum
    and the clip length."""
    digest = file_sha256(path)[:12]
    clips = corpus.clips(split, dtype=np.int16)  # memory-mapped
    clips = clips[: n or len(clips)]
    T = clips.shape[1] // multiple * multiple
    other = "" if corpus.recipe == CorpusRecipe() else f"_corpus{corpus.recipe.hash()}"  # another recipe's clips
    cache = Path(cache_dir) / f"{Path(path).stem}_{digest}{other}_{split}_{len(clips)}x{T}.pt"
    if cache.exists():
        return load_file(cache, "code cache")
    model = J.load_level(path)
    t0 = time.time()
    codes = torch.cat([J.level_encode(model, torch.from_numpy(np.asarray(clips[i:i + chunk, None, :T],
                                                                          dtype=np.float32) / 32767),
                                      corpus.recipe.sr)  # (b, 1, T): b clips
                       for i in range(0, len(clips), chunk)])  # (N, L)
    print(f"encoded {len(clips)} {split} clips with {Path(path).name} in {time.time() - t0:.0f} s", flush=True)
    atomic_write(cache, lambda tmp: torch.save(codes, tmp))  # a second process never reads half a file
    return codes


def int8_round_trip(state: dict) -> dict:
    """``state`` with every matrix that ``save_weights(int8=True)`` stores in int8 quantised and dequantised."""
    out = {}
    for k, v in state.items():
        if v.is_floating_point() and v.dim() >= 2 and v.numel() >= INT8_MIN_NUMEL:
            v = dequantize_int8(*quantize_int8(v.float())).view_as(v)
        out[k] = v
    return out


def steps_per_second(sample, n_steps: int) -> float:
    t0 = time.perf_counter()
    sample()
    return n_steps / (time.perf_counter() - t0)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    corpus = AudioCorpus.build(verbose=False, progress=False)
    top_level = J.load_level(args.top)
    top_cfg = top_level.config
    codes = Path(args.work) / "codes"
    if args.which == "upsampler":  # the bottom codes first (the top ones may be in the cache by then)
        bottom_cfg = J.load_level(args.bottom).config
        bottom = level_codes(args.bottom, corpus, "train", args.n_train, codes, multiple=top_cfg.hop)
        bottom_valid = level_codes(args.bottom, corpus, "valid", args.n_valid, codes, multiple=top_cfg.hop)
    top = level_codes(args.top, corpus, "train", args.n_train, codes, multiple=top_cfg.hop)
    top_valid = level_codes(args.top, corpus, "valid", args.n_valid, codes, multiple=top_cfg.hop)
    conditions = args.conditions if args.which == "top" else ["family"]
    train_labels, valid_labels = corpus.labels("train"), corpus.labels("valid")
    train_labels = {k: v[: len(top)] for k, v in train_labels.items()}
    extra_train = []
    for seed, n in args.extra_train:  # more training clips: another recipe seed, its own corpus and code caches
        extra = AudioCorpus.build(CorpusRecipe(seed=seed, n_train=n, n_valid=1, n_test=1), verbose=False,
                                  progress=False)
        extra_train.append(dict(seed=seed, n=n, corpus=extra.recipe.hash()))
        if args.which == "upsampler":
            bottom = torch.cat([bottom, level_codes(args.bottom, extra, "train", None, codes, multiple=top_cfg.hop)])
        top = torch.cat([top, level_codes(args.top, extra, "train", None, codes, multiple=top_cfg.hop)])
        more = extra.labels("train")
        train_labels = {k: np.concatenate([v, more[k]]) for k, v in train_labels.items()}
        print(f"--extra-train {seed} {n}: {len(top)} training clips in all", flush=True)
    family = torch.from_numpy(train_labels["family"][: len(top)])
    family_valid = torch.from_numpy(valid_labels["family"][: len(top_valid)])
    label_sizes = tuple(len(ATTRIBUTE_CLASSES[c]) for c in conditions)  # (8,) or (8, 3, 2)
    prior_labels = torch.stack([torch.from_numpy(train_labels[c][: len(top)]) for c in conditions], 1)  # (N, A)
    prior_labels_valid = torch.stack([torch.from_numpy(valid_labels[c][: len(top_valid)]) for c in conditions], 1)
    n_labels = len(FAMILIES)
    g = torch.Generator().manual_seed(args.seed)
    if args.which == "top":
        cfg = J.top_prior_config(top_cfg.codebook_size, label_sizes, top.shape[1], n_layer=args.n_layer,
                                 n_head=args.n_head, d_model=args.d_model, d_ff=4 * args.d_model, dropout=args.dropout,
                                 attn_dropout=args.attn_dropout)
        torch.manual_seed(args.seed)
        model = MusicTransformer(cfg)
        model.n_labels, model.label_sizes = sum(label_sizes), label_sizes
        train_data = J.top_prior_batches(top, prior_labels, top_cfg.codebook_size, label_sizes)
        valid_seqs = J.top_prior_batches(top_valid, prior_labels_valid, top_cfg.codebook_size, label_sizes)
        valid = [valid_seqs(g, args.batch_size) for _ in range(4)]
        loss_fn = next_token_loss
    else:
        ratio = top_cfg.hop // bottom_cfg.hop
        if args.length > bottom.shape[1]:  # a clip of the middle level holds fewer codes than the default window
            print(f"--length {args.length} -> {bottom.shape[1]} (the codes of one clip)", flush=True)
            args.length = int(bottom.shape[1])
        cfg = MusicTransformerConfig(vocab_size=bottom_cfg.codebook_size + 1, n_layer=args.n_layer, n_head=args.n_head,
                                     d_model=args.d_model, d_ff=4 * args.d_model, dropout=args.dropout,
                                     attn_dropout=args.attn_dropout, max_len=args.length, max_rel=args.length)
        up_labels = n_labels if args.upsampler_labels else 0
        up_conditions = args.upsampler_conditions if up_labels else []
        extra = [(c, len(ATTRIBUTE_CLASSES[c])) for c in up_conditions[1:]]  # beyond the family: a table each
        up_args = (cfg, top_cfg.codebook_size, ratio)  # the same upsampler for the run and every copy below
        up_kwargs = dict(n_labels=up_labels, cond_blocks=args.cond_blocks, null_upper=args.guide_upper,
                         extra_labels=extra)
        model = J.Upsampler(*up_args, seed=args.seed, **up_kwargs)
        if extra:  # (N, A): the family first, then each further attribute
            up_train = torch.stack([torch.from_numpy(train_labels[c][: len(top)]) for c in up_conditions], 1)
            up_valid = torch.stack([torch.from_numpy(valid_labels[c][: len(top_valid)]) for c in up_conditions], 1)
        else:
            up_train, up_valid = family, family_valid
        train_data = J.upsampler_batches(bottom, top, ratio, args.length, model.bos,
                                         labels=up_train if up_labels else None,
                                         label_dropout=args.label_dropout if up_labels else 0.0,
                                         null_label=list(model.label_sizes) if extra else n_labels,
                                         input_noise=args.input_noise, drop_upper=args.guide_upper)
        valid_draw = J.upsampler_batches(bottom_valid, top_valid, ratio, args.length, model.bos,
                                         labels=up_valid if up_labels else None)
        valid = [valid_draw(g, args.batch_size) for _ in range(4)]
        loss_fn = J.upsampler_loss

    init = None
    widened = None
    if args.init:  # a warm start: the same configuration, else refused with what differs
        family_only = args.which == "upsampler" and not read_checkpoint(args.init)["config"].get("extra_labels")
        if family_only and model.extra_labels:
            # a family-only file: the same configuration without the further tables, widened with zero ones
            narrow = {k: v for k, v in model.to_dict().items() if k != "extra_labels"}
            warm = J.widen_upsampler(J.load_upsampler(args.init, expect=narrow), model.extra_labels)
            widened = [name for name, _ in model.extra_labels]
        else:
            warm = (J.load_top_prior(args.init, expect=cfg) if args.which == "top"
                    else J.load_upsampler(args.init, expect=model.to_dict()))
        if args.which == "top" and tuple(warm.label_names) != tuple(conditions):  # same sizes, other order
            raise ValueError(f"--init {args.init}: a top prior conditioned on {list(warm.label_names)}, this run's "
                             f"--conditions are {conditions}")
        model.load_state_dict(warm.state_dict())
        init = dict(init_record(args.init), **({"widened_with": widened} if widened else {}))
        print(f"initialised from {args.init} ({init['steps']} steps, sha256 {init['sha256'][:16]}...)", flush=True)

    def fresh():  # an untrained model of the same configuration (a probe, or a copy for a storage check)
        return (MusicTransformer(cfg) if args.which == "top"
                else J.Upsampler(*up_args, **up_kwargs))

    def valid_loss_of(state: dict) -> float:  # the validation loss of a copy holding ``state``
        copy = fresh()
        copy.load_state_dict(state)
        return evaluate(copy.eval(), loss_fn, valid, device)[0]

    steps = args.steps
    if steps is None:  # time a few steps of a throw-away copy and size the run to the budget
        probe = fresh()
        opt = torch.optim.AdamW(probe.parameters(), lr=args.lr)
        t0 = time.perf_counter()
        for _ in range(5):
            loss = loss_fn(probe, train_data(g, args.batch_size))
            opt.zero_grad()
            loss.backward()
            opt.step()
        per_step = (time.perf_counter() - t0) / 5
        steps = max(50, int(args.minutes * 60 / per_step * 0.9))
        print(f"measured {per_step:.3f} s/step -> {steps} steps for {args.minutes} min", flush=True)
    out = Path(args.out)
    work = Path(args.work) / out.stem
    tcfg = TrainConfig(steps=steps, batch_size=args.batch_size, lr=args.lr, min_lr=args.lr / 20,
                       warmup_steps=min(100, steps // 10), weight_decay=0.05, eval_every=args.eval_every,
                       seed=args.seed, device="cpu", checkpoint=str(work / "best_fp32.pt"),
                       resume_file=str(work / "resume.pt") if args.resume else None, progress=not args.no_progress)
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_params:,} parameters; {cfg}", flush=True)
    t0 = time.time()
    history = train(model, loss_fn, train_data, valid, tcfg)
    seconds = time.time() - t0
    # --- best weights, float16 check, sampling speed -------------------------------------------------------------
    device = resolve_device("cpu")
    best = read_checkpoint(tcfg.checkpoint)
    model.load_state_dict(best["state_dict"])
    model.eval()
    v32, _ = evaluate(model, loss_fn, valid, device)
    v16 = valid_loss_of({k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    use_half = abs(v16 - v32) < 1e-3
    # the int8 round trip of every large matrix, as save_weights(int8=True) stores it
    v8 = valid_loss_of(int8_round_trip(model.state_dict())) if args.int8 else None
    use_int8 = v8 is not None and abs(v8 - v32) < 1e-2
    sg = torch.Generator().manual_seed(args.seed)
    if args.which == "top":
        n = top.shape[1]
        sps = steps_per_second(lambda: J.sample_top(model, prior_labels_valid[:1], n, sg), n)
        codes_per_second = top_cfg.sample_rate / top_cfg.hop
    else:
        n = bottom.shape[1]
        sps = steps_per_second(lambda: model.sample(top_valid[:1], sg, label=up_valid[:1] if up_labels else None), n)
        codes_per_second = bottom_cfg.sample_rate / bottom_cfg.hop
    results = dict(command=command, seed=args.seed, which=args.which, steps=steps, batch_size=args.batch_size,
                   train_seconds=round(seconds, 1), threads=args.threads, n_params=n_params, n_train_clips=len(top),
                   best_step=history["best_step"], valid_nll=v32, valid_nll_fp16=v16,
                   weights="int8" if use_int8 else "float16" if use_half else "float32", valid_nll_int8=v8,
                   vqvae_top=str(args.top),
                   vqvae_top_sha256=file_sha256(args.top),
                   vqvae_bottom=str(args.bottom) if args.which == "upsampler" else None,
                   vqvae_bottom_sha256=file_sha256(args.bottom) if args.which == "upsampler" else None,
                   conditions=conditions, n_codes=int(top.shape[1] if args.which == "top" else bottom.shape[1]),
                   sampling_steps_per_second=sps, codes_per_second=codes_per_second,
                   upsampler_labels=bool(args.which == "upsampler" and args.upsampler_labels),
                   upsampler_conditions=(up_conditions if args.which == "upsampler" else None),
                   extra_train=extra_train,
                   label_dropout=args.label_dropout, input_noise=args.input_noise, cond_blocks=args.cond_blocks,
                   guide_upper=args.guide_upper, init=init,
                   sampling_rtf=codes_per_second / sps)
    if args.which == "top":
        J.save_top_prior(model, label_sizes, out, half=use_half, extra=results,
                         label_names=conditions if len(conditions) > 1 else None, int8=use_int8)
    else:
        J.save_upsampler(model, out, half=use_half, extra=results, int8=use_int8)
    keep = ("step", "train_loss", "valid_step", "valid_loss")
    write_results(out.with_suffix(".json"), dict(results, config=cfg.to_dict(), history={k: history[k] for k in keep}))
    print(json.dumps(results, indent=1), flush=True)
    return results


if __name__ == "__main__":
    main()
