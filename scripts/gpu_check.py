"""The course's GPU path, exercised: every model trains a few dozen steps on CUDA with mixed precision, samples, and
every shipped checkpoint gives the same outputs on the GPU as on the CPU.

    .venv/bin/python scripts/gpu_check.py                        # on a CUDA machine: about a minute
    .venv/bin/python scripts/gpu_check.py --out runs/gpu.json    # the same, with the results as JSON
    .venv/bin/python scripts/gpu_check.py                        # on a CPU-only machine: "skipped: no CUDA", exit 0

1. **Train and sample** (``--steps``, default 40): each model of the course, built as the course builds it, trains
   with the one loop (:func:`helpers.training.train`, ``device='cuda'``, ``amp=True``, bfloat16 autocast) on a small
   fixed synthetic set (8 token sequences or 8 clips of tones: memorisable, and no corpus has to be built on a bare
   GPU machine), then samples: the Music Transformer (:func:`helpers.transformer.generate`), the Jukebox VQ-VAE
   level, top prior and upsampler (:mod:`helpers.vqvae`, :mod:`helpers.jukebox`), the codec (:mod:`helpers.codec`),
   the audio autoencoder (:class:`helpers.autoencoder.Autoencoder`, ``AutoencoderConfig.tiny()`` as
   ``scripts/train_autoencoder.py --device cuda --amp`` trains it), the MusicGen LM with guidance
   (:func:`helpers.musicgen.sample_codes`) and the attribute classifier (``predict``). Sizes are the shipped
   checkpoints' configurations (``--tiny``: unit-test sizes). Checked: every loss finite, the last steps' mean loss
   below the first steps' (with at least 20 steps), every sample finite, of its shape, codes in range.
2. **CPU against GPU** (skipped with ``--no-shipped``): each checkpoint of ``data/checkpoints/`` is loaded on both
   devices in float32 (TF32 off) and run on the same inputs. Stated tolerance: ``max |gpu - cpu| <= 1e-4 *
   max |cpu| + 1e-5`` (float32 sums in another order); the token models also decode 32 steps greedily (temperature
   0) on both devices from the same prompt, and must give the same tokens.

Exit status 0 when every check passes or CUDA is missing (the message says ``skipped: no CUDA``), 1 otherwise.
``--device cpu`` runs part 1 on the CPU (no autocast there), which is how the unit test exercises the model building.

Notebook: none (a maintainer's check; README "GPUs and several GPUs"). Reference: PyTorch automatic mixed precision
(``torch.autocast``) and the TF32 notes (``torch.backends.cuda.matmul.allow_tf32``, ``torch.backends.cudnn``).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers import autoencoder as ae  # noqa: E402
from helpers import classifier as clf  # noqa: E402
from helpers import codec as codec_mod  # noqa: E402
from helpers import jukebox, musicgen, transformer, vqvae  # noqa: E402
from helpers.checkpoints import read_checkpoint, write_results  # noqa: E402
from helpers.paths import SHIPPED_CHECKPOINTS  # noqa: E402
from helpers.training import TrainConfig, train  # noqa: E402

SR = 16000
POOL = 8  # examples in each model's fixed training set
RTOL, ATOL = 1e-4, 1e-5  # CPU against GPU: max |gpu - cpu| <= RTOL * max |cpu| + ATOL
GREEDY_STEPS = 32


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:1, ... or cpu (part 1 only, no autocast)")
    p.add_argument("--steps", type=int, default=40, help="training steps per model")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--amp-dtype", choices=["bfloat16", "float16"], default="bfloat16")
    p.add_argument("--tiny", action="store_true", help="unit-test sizes instead of the shipped configurations")
    p.add_argument("--no-shipped", action="store_true", help="skip the CPU-against-GPU check of the shipped files")
    p.add_argument("--models", nargs="*", default=None, help="only these models (default: all)")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    return p.parse_args(argv)


# --- data: small fixed synthetic sets ------------------------------------------------------------------------------
def tone_clips(n: int, seconds: float, seed: int = 0) -> torch.Tensor:
    """(n, T) float32 audio at 16 kHz: two harmonic tones per clip, random pitches, peak 0.5."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SR)) / SR
    pitch = torch.randint(48, 84, (n, 2), generator=g).float()
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)  # (n, 2)
    x = sum(torch.sin(2 * math.pi * k * f0[..., None] * t) / k for k in (1, 2, 3)).sum(1)  # (n, T)
    return 0.5 * x / x.abs().amax(1, keepdim=True)


def pick(pool):
    """``(generator, batch_size) -> batch``: random rows of a fixed pool (a tensor, or a dict of tensors)."""

    def draw(generator, batch_size: int):
        n = len(pool) if torch.is_tensor(pool) else len(next(iter(pool.values())))
        i = torch.randint(0, n, (batch_size,), generator=generator)
        return pool[i] if torch.is_tensor(pool) else {k: v[i] for k, v in pool.items()}

    return draw


def shipped_config(name: str) -> dict:
    return read_checkpoint(SHIPPED_CHECKPOINTS / name)["config"]


# --- part 1: every model, built, trained and sampled ------------------------------------------------------------------
def build_models(tiny: bool) -> dict:
    """Every model of the course with its loss, fixed training data and a sampler: ``{name: dict(model, loss,
    data, sample)}``; ``sample(model, device, generator)`` returns a dict of named outputs to check.

    ``tiny``: unit-test sizes (seconds on a CPU); else the configurations of the shipped checkpoints (the autoencoder:
    ``AutoencoderConfig.tiny()`` in both)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    out = {}

    # Music Transformer (notebook 03): chorale-grid tokens, next-token loss, generate with the cache
    mt_cfg = (transformer.MusicTransformerConfig.tiny(vocab_size=47) if tiny
              else transformer.MusicTransformerConfig.from_dict(shipped_config("mt_relative.pt")))
    length = min(mt_cfg.max_len, 64)
    out["music_transformer"] = dict(
        model=transformer.MusicTransformer(mt_cfg), loss=transformer.next_token_loss,
        data=pick(torch.randint(0, mt_cfg.vocab_size, (POOL, length + 1), generator=g)),
        sample=lambda m, dev, gen: {"tokens": (transformer.generate(m, torch.tensor([[1, 2, 3, 4]]), 32, gen, top_p=0.95,
                                                                   align=4), mt_cfg.vocab_size)})

    # Jukebox VQ-VAE level (notebook 04): audio in, codes and audio out
    vq_cfg = vqvae.VQVAEConfig.tiny() if tiny else vqvae.VQVAEConfig.from_dict(shipped_config("vqvae_hop64.pt"))
    clips = tone_clips(POOL, 0.25 if tiny else 1.0)
    out["vqvae"] = dict(
        model=vqvae.VQVAE(vq_cfg), loss=vqvae.loss_fn, data=pick(clips),
        sample=lambda m, dev, gen: {"audio": m.reconstruct(clips[:2, None].to(dev), vq_cfg.sample_rate),
                                    "codes": (m.encode(clips[:2, None].to(dev), vq_cfg.sample_rate),
                                              vq_cfg.codebook_size)})

    # Jukebox top prior and upsampler (notebook 04): codes with a label token, codes under upper codes
    top_cfg = (jukebox.top_prior_config(16, 3, 24, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0) if tiny
               else transformer.MusicTransformerConfig.from_dict(
                   {k: v for k, v in shipped_config("prior_top.pt").items()
                    if k not in ("kind", "n_labels", "label_sizes", "label_names")}))
    n_labels = 3 if tiny else shipped_config("prior_top.pt")["n_labels"]
    top_codes = top_cfg.vocab_size - n_labels
    label_sizes = (3,) if tiny else tuple(shipped_config("prior_top.pt").get("label_sizes", (n_labels,)))
    L = top_cfg.max_len - len(label_sizes)
    prior = transformer.MusicTransformer(top_cfg)
    prior.n_labels, prior.label_sizes = n_labels, label_sizes
    codes = torch.randint(0, top_codes, (POOL, L), generator=g)
    prior_labels = torch.stack([torch.randint(0, n, (POOL,), generator=g) for n in label_sizes], 1)  # (POOL, A)
    out["top_prior"] = dict(
        model=prior, loss=transformer.next_token_loss,
        data=jukebox.top_prior_batches(codes, prior_labels, top_codes, label_sizes),
        sample=lambda m, dev, gen: {"codes": (jukebox.sample_top(m, prior_labels[:2], 16, gen), top_codes)})
    if tiny:
        up_cfg, upper_size, ratio = transformer.MusicTransformerConfig.tiny(vocab_size=17, max_len=32, max_rel=32), 16, 4
    else:
        saved = shipped_config(jukebox.SHIPPED_UPSAMPLERS[-1])
        up_cfg = transformer.MusicTransformerConfig.from_dict(saved["transformer"])
        upper_size, ratio = saved["upper_codebook_size"], saved["ratio"]
    up = jukebox.Upsampler(up_cfg, upper_size, ratio)
    upper = torch.randint(0, upper_size, (POOL, 16), generator=g)
    lower = torch.randint(0, up_cfg.vocab_size - 1, (POOL, 16 * ratio), generator=g)
    out["upsampler"] = dict(
        model=up, loss=jukebox.upsampler_loss,
        data=jukebox.upsampler_batches(lower, upper, ratio, min(up_cfg.max_len, 16 * ratio), up.bos),
        sample=lambda m, dev, gen: {"codes": (m.sample(upper[:2, :4].to(dev), gen), up_cfg.vocab_size - 1)})

    # EnCodec-style codec (notebook 05): residual VQ
    cd_cfg = (codec_mod.CodecConfig.tiny() if tiny
              else codec_mod.CodecConfig.from_dict(shipped_config("codec.pt")))
    out["codec"] = dict(
        model=codec_mod.Codec(cd_cfg), loss=codec_mod.loss_fn, data=pick(clips),
        sample=lambda m, dev, gen: {"audio": m.reconstruct(clips[:2, None].to(dev), cd_cfg.sample_rate)})

    # the one audio autoencoder design (notebooks 04-05), as scripts/train_autoencoder.py --device cuda --amp trains it
    ae_cfg = ae.AutoencoderConfig.tiny()
    out["autoencoder"] = dict(
        model=ae.Autoencoder(ae_cfg), loss=ae.loss_fn, data=pick(clips),
        # three clips: Autoencoder.reconstruct passes its checked (B, T) audio on to encode, which takes two clips
        # as one stereo clip and refuses them
        sample=lambda m, dev, gen: {"audio": m.reconstruct(clips[:3, None].to(dev), ae_cfg.sample_rate),
                                    "codes": (m.encode(clips[:3, None].to(dev), ae_cfg.sample_rate), ae_cfg.codebook_size)})

    # MusicGen LM (notebook 05): K codebook streams over the delay pattern, text cross-attention, guidance
    if tiny:
        lm_cfg = musicgen.lm_config(2, 16, 12, 8, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    else:
        lm_cfg = transformer.MusicTransformerConfig.from_dict(shipped_config("musicgen_lm.pt"))
    K, V, frames = lm_cfg.n_streams, lm_cfg.vocab_size - 1, min(musicgen.max_frames(lm_cfg), 50)
    text = torch.randn(POOL, 1, 6, lm_cfg.d_cond, generator=g)
    lm_data = {"codes": torch.randint(0, V, (POOL, K, frames), generator=g).short(), "tokens": text.half(),
               "mask": torch.ones(POOL, 1, 6, dtype=torch.bool)}
    out["musicgen_lm"] = dict(
        model=transformer.MusicTransformer(lm_cfg), loss=musicgen.musicgen_loss,
        data=musicgen.caption_batches(lm_data, V, p_drop=0.1),
        sample=lambda m, dev, gen: {"codes": (musicgen.sample_codes(m, 8, gen, text[:2, 0].to(dev), None,
                                                                    guidance_scale=3.0), V)})

    # the attribute classifier (notebooks 05-06): audio in, one label per attribute
    c_cfg = clf.ClassifierConfig(n_mels=32, channels=(4, 8), embed_dim=16) if tiny else clf.ClassifierConfig()
    long = tone_clips(POOL, 0.5 if tiny else 2.0, seed=1)
    labels = {name: torch.randint(0, len(classes), (POOL,), generator=g) for name, classes in c_cfg.heads}
    out["classifier"] = dict(
        model=clf.AttributeClassifier(c_cfg), loss=clf.classifier_loss, data=pick({"audio": long, **labels}),
        sample=lambda m, dev, gen: {"predicted": m.predict(long[:2, None], SR)})
    return out


def _check_output(name: str, value) -> str | None:
    """None if an output is sane, else what is wrong: finite floats; codes as ``(codes, n)`` within 0..n-1."""
    if isinstance(value, dict):  # the classifier's predictions: one class name per clip and attribute
        return None if all(len(v) == 2 for v in value.values()) else f"{name}: {value}"
    if isinstance(value, tuple):
        codes, n = value
        lo, hi = int(codes.min()), int(codes.max())
        return None if 0 <= lo and hi < n else f"{name}: codes {lo}..{hi} outside 0..{n - 1}"
    return None if bool(torch.isfinite(value).all()) else f"{name}: not finite"


def train_and_sample(name: str, spec: dict, device: str, steps: int, batch_size: int, amp_dtype: str) -> dict:
    """Train one model ``steps`` steps with the course's loop on ``device`` (mixed precision on CUDA), sample, check."""
    cuda = device.startswith("cuda")
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=2e-3, min_lr=2e-4, warmup_steps=min(5, steps),
                      weight_decay=0.0, eval_every=steps, device=device, amp=cuda, amp_dtype=amp_dtype,
                      progress=False, seed=0)
    t0 = time.perf_counter()
    history = train(spec["model"], spec["loss"], spec["data"], None, cfg)
    seconds = time.perf_counter() - t0
    losses = history["train_loss"]
    k = max(1, min(3, len(losses) // 4))
    first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
    problems = [] if all(math.isfinite(v) for v in losses) else ["a training loss is not finite"]
    if steps >= 20 and not last < first:
        problems.append(f"the loss did not fall ({first:.4f} -> {last:.4f})")
    model = spec["model"].eval()
    gen = torch.Generator(device=device).manual_seed(0)
    samples = spec["sample"](model, torch.device(device), gen)
    problems += [p for p in (_check_output(f"{name}.{k}", v) for k, v in samples.items()) if p]
    shapes = {k: list((v[0] if isinstance(v, tuple) else v).shape) if not isinstance(v, dict) else "labels"
              for k, v in samples.items()}
    return dict(model=name, device=device, amp=cfg.amp and cuda, steps=steps, seconds=round(seconds, 2),
                n_params=sum(p.numel() for p in model.parameters()), loss_first=first, loss_last=last,
                samples=shapes, ok=not problems, problems=problems)


# --- part 2: the shipped checkpoints, CPU against GPU -------------------------------------------------------------
def shipped_forwards(device: str) -> dict:
    """Every shipped checkpoint loaded on ``device`` (float32) and run on fixed inputs: ``{name: (output, greedy)}``,
    outputs on the CPU; ``greedy`` holds 32 greedily decoded tokens for the token models, else None."""
    g = torch.Generator().manual_seed(0)
    dev = torch.device(device)
    out = {}
    ck = SHIPPED_CHECKPOINTS
    with torch.no_grad():
        for pos in ("relative", "absolute"):
            m = transformer.load_checkpoint(ck / f"mt_{pos}.pt", device=device)
            x = torch.randint(0, m.config.vocab_size, (2, 64), generator=g)
            greedy = transformer.generate(m, x[:1, :8], GREEDY_STEPS, torch.Generator(device=dev), temperature=0)
            out[f"mt_{pos}"] = (m(x.to(dev)).cpu(), greedy.cpu())
        p = jukebox.load_top_prior(ck / "prior_top.pt").to(dev)
        x = torch.randint(0, p.config.vocab_size - p.n_labels, (2, 64), generator=g)
        first = torch.zeros(1, len(p.label_sizes), dtype=torch.long)  # the first class of every attribute
        greedy = jukebox.sample_top(p, first, GREEDY_STEPS, torch.Generator(device=dev), temperature=0)
        out["prior_top"] = (p(x.to(dev)).cpu(), greedy.cpu())
        full = torch.tensor([[3, 0, 0, 0], [5, 1, 1, 1]])[:, : len(p.label_sizes)]  # (2, A): the prior's attributes
        for name in jukebox.SHIPPED_UPSAMPLERS:  # the label at every level, guided
            ul = jukebox.load_upsampler(ck / name).to(dev)
            label = jukebox.upsampler_label(ul, full, p.label_names)  # the attributes this upsampler takes
            upper = torch.randint(0, ul.upper_codebook_size, (2, 16), generator=g)
            seq = torch.randint(0, ul.config.vocab_size, (2, 64), generator=g)
            greedy = ul.sample(upper[:1, :8].to(dev), torch.Generator(device=dev), temperature=0,
                               label=label[:1].to(dev), guidance_scale=3.0)
            out[name[:-3]] = (ul(seq.to(dev), ul.conditioning(upper.to(dev), label.to(dev))).cpu(), greedy.cpu())
        lm = transformer.load_checkpoint(ck / "musicgen_lm.pt", device=device)
        cond = torch.randn(2, 5, lm.config.d_cond, generator=g)
        steps = torch.randint(0, lm.config.vocab_size, (2, lm.config.n_streams, 40), generator=g)
        greedy = musicgen.sample_codes(lm, GREEDY_STEPS, torch.Generator(device=dev), cond[:1], None,
                                       guidance_scale=3.0, temperature=0)
        out["musicgen_lm"] = (lm(steps.to(dev), cond=cond.to(dev)).cpu(), greedy.cpu())
        audio = torch.randn(3, 1, SR, generator=g) * 0.1
        for name in ("vqvae_hop64", "vqvae_hop256"):
            m = vqvae.load_checkpoint(ck / f"{name}.pt").to(dev).eval()
            out[name] = (m(audio[:, 0].to(dev)).audio.cpu(), m.encode(audio.to(dev), SR).cpu())
        c = codec_mod.load_checkpoint(ck / "codec.pt").to(dev).eval()
        out["codec"] = (c.decoder(c.quantize(audio[:, 0].to(dev), c.config.n_codebooks).z_q).cpu(),
                        c.encode(audio.to(dev), SR).cpu())
        for name in ("codec_istft", *(n[:-3] for n in jukebox.SHIPPED_LEVELS)):  # the codec and notebook 04's levels
            a = ae.load_checkpoint(ck / f"{name}.pt").to(dev).eval()
            out[name] = (a(audio[:, 0].to(dev)).audio.cpu(), a.encode(audio.to(dev), SR).cpu())
        for name in ("classifier", "classifier_robust"):
            m = clf.load_classifier(ck / f"{name}.pt").to(dev)
            logits = m(audio[:, 0].to(dev))
            out[name] = (torch.cat([v for _, v in sorted(logits.items())], dim=1).cpu(), None)
    return out


def compare_shipped(device: str) -> list[dict]:
    """One row per shipped checkpoint: the largest CPU/GPU difference against the stated tolerance, and whether the
    greedy tokens (or, for the autoencoders, the codes) are the same."""
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # float32 against float32
    try:
        cpu, other = shipped_forwards("cpu"), shipped_forwards(device)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    rows = []
    for name, (a, a_tokens) in cpu.items():
        b, b_tokens = other[name]
        diff, scale = float((a - b).abs().max()), float(a.abs().max())
        tol = RTOL * scale + ATOL
        same = None if a_tokens is None else bool(torch.equal(a_tokens, b_tokens))
        rows.append(dict(checkpoint=name, max_abs_diff=diff, max_abs=scale, tolerance=tol, same_tokens=same,
                         ok=diff <= tol and same is not False))
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"skipped: no CUDA (torch {torch.__version__}, CUDA available: False): nothing to check on this "
              "machine; run scripts/gpu_check.py on a GPU machine", flush=True)
        return 0
    where = torch.cuda.get_device_name(torch.device(args.device)) if args.device.startswith("cuda") else "CPU"
    print(f"gpu_check on {args.device} ({where}), torch {torch.__version__}, {args.steps} steps per model"
          + (", mixed precision " + args.amp_dtype if args.device.startswith("cuda") else ", no autocast"), flush=True)
    specs = build_models(args.tiny)
    names = args.models or list(specs)
    results = {"device": args.device, "device_name": where, "torch": torch.__version__, "train": [], "shipped": []}
    for name in names:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="TrainConfig.amp=True is ignored")
            row = train_and_sample(name, specs[name], args.device, args.steps, args.batch_size, args.amp_dtype)
        results["train"].append(row)
        print(f"  train+sample {name:<18} {'ok ' if row['ok'] else 'FAIL'} loss {row['loss_first']:.3f} -> "
              f"{row['loss_last']:.3f} in {row['seconds']:.1f} s; samples {row['samples']}"
              + ("" if row["ok"] else f"  {row['problems']}"), flush=True)
    if not args.no_shipped:
        if not args.device.startswith("cuda"):
            print("  shipped checkpoints: CPU against CPU is not a check; skipped (--device cuda compares them)")
        else:
            print(f"  shipped checkpoints, CPU against {args.device} in float32 (TF32 off), "
                  f"tolerance max|diff| <= {RTOL:g} * max|cpu| + {ATOL:g}:", flush=True)
            for row in compare_shipped(args.device):
                results["shipped"].append(row)
                tokens = "" if row["same_tokens"] is None else f", same tokens: {row['same_tokens']}"
                print(f"    {row['checkpoint']:<18} {'ok ' if row['ok'] else 'FAIL'} max|diff| {row['max_abs_diff']:.2e} "
                      f"(tolerance {row['tolerance']:.2e}){tokens}", flush=True)
    ok = all(r["ok"] for r in results["train"] + results["shipped"])
    results["ok"] = ok
    if args.out:
        write_results(args.out, results)
    print("all checks passed" if ok else "SOME CHECKS FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
