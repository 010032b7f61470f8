"""Score the course's audio autoencoders on notebook 06's one scale, with every measure's floor, and write the table
notebooks 04 and 05 load (with each checkpoint's SHA-256).

    .venv/bin/python scripts/measure_autoencoders.py                                  # the shipped checkpoints
    .venv/bin/python scripts/measure_autoencoders.py --model "candidate=runs/codec.pt" --out runs/ae.json
    .venv/bin/python scripts/measure_autoencoders.py --out data/checkpoints/autoencoders.json --overwrite-shipped

The scale (notebook 06, section 5): the chorale clips of the audio corpus's valid and test splits, split in two by
:func:`helpers.audio_eval.chorale_halves` (seed 0): the reference half, and the held-out half that every row
reconstructs clip by clip. Per row: Fréchet distance in the clean classifier's embedding against the reference (plug-in, and
the grouped jackknife's bias-corrected estimate with its 95% interval, the method notebook 06 measures the coverage
of), the clean classifier's instrument-family accuracy (Wilson interval), and chroma similarity,
log-mel distance, SI-SNR and multi-resolution STFT distance against the held-out clip. Rows: the held-out real clips
(FAD real-vs-real), each autoencoder with 1..K codebooks, random codes through each decoder, and the floors (white
noise at the clip's level, an unrelated clip). Speed: encode and decode of eight 4-s clips at one thread, as audio
seconds per compute second ("x real time", higher is faster).
"""
from __future__ import annotations

import argparse
import math
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))

from helpers import audio_eval, autoencoder, codec as old_codec, vqvae  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.classifier import CHECKPOINT as CLASSIFIER, load_classifier  # noqa: E402
from helpers.checkpoints import file_sha256, read_checkpoint, refuse_shipped_paths, write_results  # noqa: E402
from helpers.paths import shown_path  # noqa: E402

DEFAULT_MODELS = [  # name in the table, checkpoint
    ("codec_istft", SHIPPED / "codec_istft.pt"),  # helpers.autoencoder: notebook 05's new codec
    ("codec.pt", SHIPPED / "codec.pt"),  # helpers.codec (time-domain): the codec the LM of notebook 05 was trained on
    ("level_hop64.pt", SHIPPED / "level_hop64.pt"),  # helpers.autoencoder, one codebook: notebook 04's bottom level
    ("level_hop256.pt", SHIPPED / "level_hop256.pt"),  # notebook 04's middle level
    ("level_hop1024.pt", SHIPPED / "level_hop1024.pt"),  # notebook 04's top level
    ("vqvae_hop64.pt", SHIPPED / "vqvae_hop64.pt"),  # helpers.vqvae (time-domain): notebook 04's first VQ-VAE design
    ("vqvae_hop256.pt", SHIPPED / "vqvae_hop256.pt"),  # the same design at hop 256
]


def load_any(path):
    """(model, kind, K) for a checkpoint of :mod:`helpers.autoencoder`, :mod:`helpers.codec` or :mod:`helpers.vqvae`."""
    kind = read_checkpoint(path).get("config", {}).get("kind")
    if kind == "AutoencoderConfig":
        m = autoencoder.load_checkpoint(path)
        return m.eval(), kind, m.n_codebooks
    if kind == "CodecConfig":
        m = old_codec.load_checkpoint(path)
        return m.eval(), kind, m.config.n_codebooks
    if kind == "VQVAEConfig":
        return vqvae.load_checkpoint(path).eval(), kind, 1
    raise ValueError(f"{path}: not an autoencoder checkpoint (config kind {kind!r})")


@torch.no_grad()
def reconstruct(model, kind, audio: np.ndarray, sr: int, k: int, batch: int = 16) -> np.ndarray:
    out = []
    for i in range(0, len(audio), batch):
        x = torch.from_numpy(audio[i : i + batch])[:, None]  # (B, 1, T): a batch of mono clips
        y = model.reconstruct(x, sr=sr) if kind == "VQVAEConfig" else model.reconstruct(x, sr=sr, n_q=k)
        out.append(y.reshape(len(x), -1)[:, : audio.shape[1]].numpy())
    return np.concatenate(out).astype(np.float32)


@torch.no_grad()
def random_codes(model, kind, n: int, seconds: float, generator: torch.Generator) -> np.ndarray:
    cfg = model.config
    frames = math.ceil(seconds * cfg.sample_rate / cfg.hop - 1e-9)  # whole codes covering the clip (cut to it later)
    K = getattr(cfg, "n_codebooks", 1)
    codes = torch.randint(0, cfg.codebook_size, (n, K, frames), generator=generator)
    parts = [model.decode(codes[i : i + 16] if K > 1 or kind == "AutoencoderConfig" else codes[i : i + 16, 0])
             for i in range(0, n, 16)]
    return torch.cat([p.reshape(p.shape[0], -1) for p in parts]).numpy().astype(np.float32)


@torch.no_grad()
def speed(model, kind, clips: np.ndarray, sr: int) -> dict:
    """Encode and decode of the clips (B, T) at the current thread count: audio seconds per compute second."""
    x = torch.from_numpy(clips)[:, None]
    audio_s = clips.shape[0] * clips.shape[1] / sr
    def encode():
        return model.encode(x, sr=sr)

    codes = encode()
    best_e, best_d = float("inf"), float("inf")
    for _ in range(3):
        t = time.perf_counter(); encode(); best_e = min(best_e, time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); model.decode(codes); best_d = min(best_d, time.perf_counter() - t)  # noqa: E702
    return {"encode_x_real_time": audio_s / best_e, "decode_x_real_time": audio_s / best_d}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                   help="an autoencoder checkpoint to score (repeatable); the shipped ones are always scored")
    p.add_argument("--no-default", action="store_true", help="score only the --model checkpoints")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/autoencoders.json")
    p.add_argument("--overwrite-shipped", action="store_true")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out",))
    torch.set_num_threads(args.threads)
    t_start = time.time()

    corpus = AudioCorpus.build(verbose=False)
    sr, seconds = corpus.recipe.sr, corpus.recipe.clip_seconds
    pool_attrs, pool, ref_pos, held_pos = audio_eval.one_scale_halves(corpus)  # notebook 06's halves
    held, held_attrs = pool[held_pos], [pool_attrs[i] for i in held_pos]
    clf = load_classifier()
    ref_emb = audio_eval.embed_and_predict(clf, pool[ref_pos], sr)[0]

    rows = [dict(row="held-out real clips", model=None, n_codebooks=None, bitrate=None,
                 **audio_eval.score_audio_row(held, held, held_attrs, ref_emb, clf, sr, np.random.default_rng(0), quality=False))]
    for name, audio in audio_eval.floor_estimates(held, np.random.default_rng(1)).items():
        rows.append(dict(row=f"floor: {name}", model=None, n_codebooks=None, bitrate=None,
                         **audio_eval.score_audio_row(audio, held, held_attrs, ref_emb, clf, sr, np.random.default_rng(0))))
        print(rows[-1], flush=True)
    specs = ([] if args.no_default else [(n, Path(p_)) for n, p_ in DEFAULT_MODELS])
    specs += [(s.split("=", 1)[0], Path(s.split("=", 1)[1])) for s in args.model]
    models = {}
    for name, path in specs:
        model, kind, K = load_any(path)
        n_params = sum(p_.numel() for p_ in model.parameters())
        models[name] = dict(path=shown_path(path, ROOT),
                            sha256=file_sha256(path), kind=kind, bytes=path.stat().st_size, n_params=n_params,
                            hop=model.config.hop, n_codebooks=K, codebook_size=model.config.codebook_size,
                            **speed(model, kind, held[:8], sr))
        for k in range(1, K + 1):
            rec = reconstruct(model, kind, held, sr, k)
            bitrate = sr / model.config.hop * k * np.log2(model.config.codebook_size)
            rows.append(dict(row=f"{name}, {k} codebook{'s' if k > 1 else ''}", model=name, n_codebooks=k,
                             bitrate=float(bitrate),
                             **audio_eval.score_audio_row(rec, held, held_attrs, ref_emb, clf, sr, np.random.default_rng(0))))
            print(rows[-1], flush=True)
        rnd = random_codes(model, kind, len(held), seconds, torch.Generator().manual_seed(0))[:, : held.shape[1]]
        rows.append(dict(row=f"floor: random codes through {name}", model=name, n_codebooks=K, bitrate=None,
                         **audio_eval.score_audio_row(rnd, held, held_attrs, ref_emb, clf, sr, np.random.default_rng(0))))
    results = dict(
        command="python " + " ".join([Path(sys.argv[0]).as_posix()] + (argv if argv is not None else sys.argv[1:])),
        scale=(f"audio corpus {corpus.recipe.hash()} chorale clips of valid+test: {len(ref_pos)} reference, "
               f"{len(held_pos)} held-out, {seconds:g} s at {sr} Hz; clean classifier embedding"),
        classifier=dict(path=str(CLASSIFIER.relative_to(ROOT)), sha256=file_sha256(CLASSIFIER)),
        threads=args.threads, seconds=round(time.time() - t_start, 1), models=models, rows=rows,
    )
    write_results(args.out, results)
    print(json.dumps({r["row"]: round(r["fad"], 1) for r in rows}, indent=1))
    return results


if __name__ == "__main__":
    main()
