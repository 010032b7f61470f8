"""Store a MusicGen LM checkpoint with 8-bit weights, after measuring what that costs.

    .venv/bin/python scripts/compress_lm.py --lm data/checkpoints/musicgen_lm.pt --out runs/musicgen_lm_int8.pt
    .venv/bin/python scripts/compress_lm.py --lm data/checkpoints/musicgen_lm.pt \\
        --out data/checkpoints/musicgen_lm.pt --overwrite-shipped          # what made the shipped file

Every matrix of at least ``helpers.checkpoints.INT8_MIN_NUMEL`` values is stored as int8 with one float32 scale per
row (:func:`helpers.checkpoints.quantize_int8`), the rest (biases, norms) as float16; the loaders turn them back into
float32, so the model computes exactly as before with slightly rounded weights. What that costs is measured on the
held-out validation clips the way ``scripts/train_musicgen.py`` validates (its codes from the LM's own codec, the first
caption of each clip with the LM's text pooling and pattern, the melody where the LM reads one): the mean loss of the
weights as stored now and as int8. The file is written only if int8 raises the loss by less than ``--tolerance``
nats per code; the checkpoint's metadata keeps everything it had and adds ``storage`` (command, both losses, the
source file's SHA-256), and so does the ``.json`` beside ``--out`` when the LM has one. ``--codec`` names another
codec file as the LM's (its hash is what ``helpers.musicgen.lm_codec_path`` looks for) when that codec gives the same
codes as the one the LM was trained on: a decoder retrained alone (``scripts/train_autoencoder.py --decoder-only``). Half the size of float16 for the course's 4.9 M-parameter LM (9.8 MB to about 5 MB).

Notebook: 05_musicgen.ipynb (the checkpoints it loads). Reference: Jacob et al. 2018 (per-channel symmetric int8
weights); Dettmers et al. 2022 ("LLM.int8()"), Sec. 2 (absmax quantisation per row).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "data" / "checkpoints"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from helpers import musicgen as mg  # noqa: E402
from helpers.audio_corpus import AudioCorpus  # noqa: E402
from helpers.checkpoints import file_sha256, read_checkpoint, refuse_shipped_paths, save_weights, write_results  # noqa: E402
from helpers.transformer import load_checkpoint  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lm", default=str(SHIPPED / "musicgen_lm.pt"))
    p.add_argument("--out", default="runs/musicgen_lm_int8.pt")
    p.add_argument("--n-valid", type=int, default=128, help="validation clips the loss is measured on")
    p.add_argument("--tolerance", type=float, default=0.01, help="largest rise of the validation loss (nats per code)")
    p.add_argument("--cache", default="runs/musicgen_cache")
    p.add_argument("--limit", type=int, default=None, help="encode only the first LIMIT valid clips (smoke tests)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--codec", default=None,
                   help="record this codec as the LM's instead of the one it was trained on: allowed only if it "
                        "gives the same codes (helpers.autoencoder.same_codes: a decoder retrained alone)")
    p.add_argument("--overwrite-shipped", action="store_true",
                   help="allow --out inside data/checkpoints/ (then update SHA256SUMS)")
    args = p.parse_args(argv)
    refuse_shipped_paths(p, args, ("out", "cache"))
    return args


def valid_batches(lm_path, n: int, batch_size: int, cache_dir: Path, limit: int | None = None) -> list[dict]:
    """The validation batches ``scripts/train_musicgen.py`` would build for the LM at ``lm_path`` (its codec, rich
    captions, pattern, text pooling and melody, read from the checkpoint)."""
    import train_musicgen as tm

    extra = read_checkpoint(lm_path).get("extra") or {}
    codec_path = mg.lm_codec_path(lm_path)
    codec = mg.load_codec(codec_path).eval()
    corpus = AudioCorpus.build()
    rich = int(extra.get("rich_captions") or 0)
    name = (f"codec{file_sha256(codec_path)[:16]}_corpus{corpus.recipe.hash()}_valid_text{tm.text_encoder_hash()}"
            + (f"_rich{rich}w{tm.caption_words_hash()}" if rich else "") + ("" if limit is None else f"_limit{limit}") + ".pt")
    full = cache_dir / name.replace("_valid_", "_")  # train_musicgen's own cache (both splits), if it was built here
    cache = tm.load_or_build_cache(codec, corpus, full if full.exists() else cache_dir / name, rich=rich, limit=limit,
                                   augment=int(extra.get("augment_captions") or 0), splits=("valid",))
    data = cache["valid"]
    if extra.get("melody_dropout") is not None:
        T = data["codes"].shape[-1]
        data["melody"] = tm.melody_of_clips(corpus, "valid", codec.config.hop, codec.config.sample_rate, T,
                                            cache_dir / f"melody_corpus{corpus.recipe.hash()}_valid_hop{codec.config.hop}"
                                            f"{'' if limit is None else f'_limit{limit}'}.pt", limit)
    lm = mg.load_lm(lm_path)
    n = min(n, data["codes"].shape[0])
    return mg.fixed_caption_batches(data, mg.special_token(lm.config), n, batch_size, lm.pattern, lm.text_pooling)


def codec_record(lm_path, codec_path) -> dict:
    """The checkpoint metadata that names ``codec_path`` as the LM's codec, after checking that it gives the same codes
    as the codec the LM was trained on (found by :func:`helpers.musicgen.lm_codec_path`).

    Raises:
        SystemExit: naming both files when the codes could differ."""
    from helpers import autoencoder as ae

    trained = mg.lm_codec_path(lm_path)
    a, b = mg.load_codec(trained), mg.load_codec(codec_path)
    if not (isinstance(a, ae.Autoencoder) and isinstance(b, ae.Autoencoder) and ae.same_codes(a, b)):
        raise SystemExit(f"--codec {codec_path}: its encoder or codebooks differ from those of {trained}, which "
                         "the LM was trained on, so its codes would mean something else to the LM")
    return {"codec_sha256_16": file_sha256(codec_path)[:16],
            "codes_trained_on_codec_sha256_16": file_sha256(trained)[:16]}


@torch.no_grad()
def valid_loss(model, batches) -> float:
    """Mean of :func:`helpers.musicgen.musicgen_loss` over ``batches``, weighted by batch size."""
    losses = [float(mg.musicgen_loss(model, b)[0]) for b in batches]
    sizes = [b["steps"].shape[0] for b in batches]
    return float(np.average(losses, weights=sizes))


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    source = read_checkpoint(args.lm)
    if source.get("weights_storage") == "int8":
        raise SystemExit(f"{args.lm} is stored in int8 already")
    source_sha, source_mb = file_sha256(args.lm), Path(args.lm).stat().st_size / 1e6
    codec_extra = codec_record(args.lm, args.codec) if args.codec else {}  # checked before any work
    batches = valid_batches(args.lm, args.n_valid, args.batch_size, Path(args.cache), args.limit)
    model = load_checkpoint(args.lm)
    before = valid_loss(model, batches)
    out = Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:  # the trial file: outside the shipped folder, removed after
        trial = save_weights(model, Path(tmp) / "int8.pt", config=model.config.to_dict(), half=True, int8=True)
        after = valid_loss(load_checkpoint(trial), batches)
    storage = dict(command=command, weights="int8 matrices (one float32 scale per row), float16 rest",
                   source_sha256=source_sha, n_valid=sum(b["steps"].shape[0] for b in batches),
                   valid_loss_before=before, valid_loss_int8=after, rise=after - before, tolerance=args.tolerance)
    print(json.dumps(storage, indent=1), flush=True)
    if after - before >= args.tolerance:
        raise SystemExit(f"int8 raises the validation loss by {after - before:.4f} >= {args.tolerance}: not written")
    extra = dict(source.get("extra") or {}, weights="int8", storage=storage)
    if codec_extra:
        extra.update(codec_extra)
        storage["codec"] = codec_extra
    save_weights(model, out, config=model.config.to_dict(), half=True, int8=True, extra=extra)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, was {source_mb:.2f} MB)")
    sidecar = Path(args.lm).with_suffix(".json")  # the training run's record, if there is one: kept, storage added
    if sidecar.exists():
        record = dict(json.loads(sidecar.read_text()), weights="int8", storage=storage)
        record.update(codec_extra)
        write_results(out.with_suffix(".json"), record)
    return storage


if __name__ == "__main__":
    main()
