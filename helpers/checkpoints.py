"""Checkpoints and the files around them: weights-only save and load, SHA-256 hashes and integrity checks, atomic
writes, the JSON of a run's results, and the training scripts' guard of the shipped folder.

- :func:`save_weights` / :func:`load_weights` / :func:`read_checkpoint` — ``{'config', 'state_dict', 'extra'}`` with
  plain tensors only, so ``torch.load(weights_only=True)`` reads them; a load refuses a checkpoint saved for another
  configuration, and a file in ``data/checkpoints/`` must match its line of ``SHA256SUMS``. Weights are stored in
  float32, float16 (``half``) or, for the large matrices, 8-bit integers with one scale per row (``int8``:
  :func:`quantize_int8`; :func:`read_checkpoint` gives them back as float32, so every loader reads either).
- :func:`file_sha256` — the one file hash of the course (checkpoints, corpora, the SoundFont, the text encoder's
  files); :func:`check_sha256` — the one integrity check (a file against its expected hash, refused with both
  hashes named); :func:`verify_sha256` reads the expected hash from a ``sha256sum``-style manifest.
- :func:`atomic_write` — a temporary file beside the target, then ``os.replace``: a run killed while writing leaves
  the previous file, never half a file; :func:`load_file` — a read whose error names the file.
- :func:`init_record` — what a warm start (``--init``) records about the checkpoint it starts from;
  :func:`dumps_results` / :func:`write_results` — a run's results as JSON with each list on one line, written
  atomically; :func:`config_from_dict` — a model's config back from the dict saved with its weights.
- :func:`refuse_shipped_paths` — ``--out`` inside ``data/checkpoints/`` needs ``--overwrite-shipped``.

The training loop (:mod:`helpers.training`) writes its best checkpoint with :func:`save_weights` and its resume file
with :func:`atomic_write`; every model module loads its checkpoints through :func:`read_checkpoint` and
:func:`load_weights`.

Notebook: 03_music_transformer.ipynb (the shipped checkpoints), and every later notebook that loads one.
Reference: PyTorch's ``torch.load(weights_only=True)`` (no pickled code); ``sha256sum`` (GNU coreutils) manifest
format; POSIX ``rename``/``os.replace`` atomicity within a file system.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
from dataclasses import fields
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .paths import SHIPPED_CHECKPOINTS, missing_data_message

UNREADABLE = (RuntimeError, EOFError, KeyError, ValueError, pickle.UnpicklingError)  # what torch.load / np.load raise
# for a truncated, empty or foreign file (measured: "PytorchStreamReader failed ...", EOFError, KeyError, "Failed to
# read all data for array")


def atomic_write(path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through a temporary file beside it, then ``os.replace``: a run killed while writing leaves the
    previous file (or none), never half a file that the next run loads and crashes on. ``write(tmp)`` writes the
    temporary file (e.g. ``lambda tmp: torch.save(obj, tmp)``); if it raises, the temporary file is removed and the
    error goes on. :func:`save_weights`, :func:`helpers.training.save_resume`, :func:`write_results`,
    :func:`helpers.data.write_corpus` and the training scripts' caches write this way (the
    audio corpus builds its folder the same way)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")  # same folder: os.replace is atomic within a file system
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_file(path, what: str = "file", read: Callable | None = None):
    """``read(path)`` (default ``torch.load(path, map_location='cpu', weights_only=True)``), with an error that names
    the file when it cannot be read.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is corrupt, truncated or not of its kind (``what`` and ``path`` named, the reader's own
            message kept), instead of a bare ``PytorchStreamReader failed reading zip archive``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        return read(path) if read is not None else torch.load(path, map_location="cpu", weights_only=True)
    except UNREADABLE as e:
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"{what} {path} cannot be read ({type(e).__name__}: {first}): it is corrupt or truncated "
                         "(a run killed while writing it?); delete it (a cache is rebuilt) or restore it") from e


INT8_MIN_NUMEL = 4096  # matrices at least this large are stored in int8 by save_weights(int8=True); the rest stay float


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric 8-bit quantisation with one scale per row (the first axis: an output channel)::

        scale[r] = max |w[r, ...]| / 127          q = round(w / scale[r])  in  -127..127
        w ~ q * scale[r]                          |w - q * scale[r]| <= scale[r] / 2   (tested)

    A row of zeros gets scale 1 (q = 0). Returns ``(q int8, scale float32 of shape (rows,))``; the inverse is
    :func:`dequantize_int8`. Reference: Jacob et al. 2018 ("Quantization and Training of Neural Networks for
    Efficient Integer-Arithmetic-Only Inference"), symmetric per-channel weights; here only for storage, the model
    computes in float32."""
    w = w.detach().float().cpu()
    if w.dim() < 1:
        raise ValueError(f"quantize_int8: needs a tensor with rows, got shape {tuple(w.shape)}")
    absmax = w.reshape(w.shape[0], -1).abs().amax(dim=1)
    scale = torch.where(absmax > 0, absmax / 127.0, torch.ones_like(absmax))
    q = torch.round(w / scale.view(-1, *([1] * (w.dim() - 1)))).clamp_(-127, 127).to(torch.int8)
    return q, scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``q * scale`` row by row, float32 (the inverse of :func:`quantize_int8` up to half a step per row)."""
    if q.dtype != torch.int8 or scale.dim() != 1 or scale.shape[0] != q.shape[0]:
        raise ValueError(f"dequantize_int8: expected int8 rows and one scale per row, got {q.dtype} {tuple(q.shape)} "
                         f"and scales {tuple(scale.shape)}")
    return q.float() * scale.float().view(-1, *([1] * (q.dim() - 1)))


def save_weights(model: nn.Module, path, config: dict | None = None, half: bool = False, extra: dict | None = None,
                 int8: bool = False) -> Path:
    """Save ``{'config', 'state_dict', 'extra'}`` with plain tensors only, so ``weights_only=True`` can load it;
    written atomically (:func:`atomic_write`).

    Args:
        model: the model (a DDP wrapper is unwrapped).
        config: the model's config as a dict (compared on loading).
        half: store floating-point tensors as float16 (halves the file; check that it loses nothing).
        extra: JSON-like metadata (command, seed, results).
        int8: store every floating-point matrix of at least :data:`INT8_MIN_NUMEL` values as int8 with a float32
            scale per row (:func:`quantize_int8`, about a quarter of float32), the scales under ``'int8_scales'``;
            the other tensors as ``half`` says. :func:`read_checkpoint` dequantises them. Check what it costs
            (``scripts/compress_lm.py`` measures the validation loss before and after).
    """
    model = model.module if hasattr(model, "module") else model
    state, shared, scales = {}, {}, {}
    for k, v in model.state_dict().items():
        tied = (v.data_ptr(), tuple(v.shape), v.stride(), v.dtype)  # tied weights (an embedding and its head): saved once
        if tied not in shared:
            if int8 and v.is_floating_point() and v.dim() >= 2 and v.numel() >= INT8_MIN_NUMEL:
                shared[tied] = quantize_int8(v)
            else:
                shared[tied] = ((v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone(), None)
        state[k], scale = shared[tied]
        if scale is not None:
            scales[k] = scale
    ckpt = {"config": config or {}, "state_dict": state, "extra": extra or {}}
    if scales:
        ckpt["int8_scales"] = scales
    return atomic_write(path, lambda tmp: torch.save(ckpt, tmp))  # a killed run leaves the previous best


def refuse_shipped_paths(parser, args, names=("out", "work")) -> None:
    """The training scripts' guard: ``parser.error`` when an output argument lies in ``data/checkpoints/`` and
    ``--overwrite-shipped`` was not given (an exercise run must not replace a file the notebooks load).

    ``names`` are the ``args`` attributes holding output paths (``None`` values are skipped).
    """
    for name in names:
        value = getattr(args, name, None)
        if value is None:
            continue
        path = Path(value).resolve()
        if (path == SHIPPED_CHECKPOINTS or SHIPPED_CHECKPOINTS in path.parents) and not args.overwrite_shipped:
            parser.error(f"--{name} {value} lies in data/checkpoints/, which holds the shipped checkpoints; write "
                         "elsewhere (default runs/) or pass --overwrite-shipped to replace them")


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks (the one file hash of the course: checkpoints, corpora, the SoundFont,
    the text encoder's files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def check_sha256(path, expected: str, fix: str) -> str:
    """The one integrity check: the SHA-256 of ``path`` must be ``expected``; returns it.

    Raises:
        ValueError: ``refusing <path>: its SHA-256 is <actual>, not <expected>`` and ``fix`` (what to do about it);
            the file is never read further.
    """
    digest = file_sha256(path)
    if digest != expected:
        raise ValueError(f"refusing {path}: its SHA-256 is {digest}, not {expected}: {fix}")
    return digest


def read_manifest(manifest) -> dict[str, str]:
    """A ``sha256sum``-style manifest (lines ``<hex>  <file name>``, ``*`` before binary names) as {name: hex}."""
    listed = {}
    for line in Path(manifest).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            listed[name.strip().lstrip("*")] = digest
    return listed


RETRAINED = "after retraining on purpose, update the list: `cd data/checkpoints && sha256sum *.pt > SHA256SUMS`"


def verify_sha256(path, manifest) -> str:
    """Check ``path`` against its line in a ``sha256sum``-style ``manifest`` (:func:`check_sha256`); return the hash.

    Raises:
        ValueError: the file is not listed, or its SHA-256 differs from the listed one (both named).
    """
    path, manifest = Path(path), Path(manifest)
    listed = read_manifest(manifest)
    if path.name not in listed:
        raise ValueError(f"{path.name} is not listed in {manifest}: refusing unverified weights ({RETRAINED})")
    return check_sha256(path, listed[path.name], f"the file was changed or damaged, {manifest} lists another hash "
                                                 f"(restore it with git; {RETRAINED})")


def read_checkpoint(path) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)`` and check its layout.

    A file in the shipped folder ``data/checkpoints/`` must also match its SHA-256 in ``data/checkpoints/SHA256SUMS``;
    any other file that cannot be read raises a ValueError naming it (:func:`load_file`).
    """
    path = Path(path)
    if not path.exists():
        if SHIPPED_CHECKPOINTS in path.resolve().parents and not SHIPPED_CHECKPOINTS.is_dir():
            raise FileNotFoundError(missing_data_message(path))
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.resolve().parent == SHIPPED_CHECKPOINTS.resolve():
        verify_sha256(path, SHIPPED_CHECKPOINTS / "SHA256SUMS")
    ckpt = load_file(path, "checkpoint")
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint written by save_weights (no 'state_dict')")
    scales = ckpt.pop("int8_scales", None)
    if scales:  # int8 matrices (save_weights(int8=True)) back to float32, so that every loader reads either kind
        state = dict(ckpt["state_dict"])
        for k, scale in scales.items():
            if k not in state:
                raise ValueError(f"{path}: an int8 scale for {k!r}, which the state_dict does not hold")
            try:
                state[k] = dequantize_int8(state[k], scale)
            except ValueError as e:
                raise ValueError(f"{path}: {k}: {e}") from None
        ckpt = dict(ckpt, state_dict=state, weights_storage="int8")
    return ckpt


def init_record(path, keys: tuple[str, ...] = ()) -> dict:
    """What a run that starts from the weights of another checkpoint (a script's ``--init``) records about it.

    Returns the path, the file's SHA-256, and ``steps``: the training steps behind it, its own ``extra['steps']``
    (or ``extra['step']``, what the training loop's best-step checkpoint records)
    plus those its own ``extra['init']`` recorded (so a chain of warm starts adds up; None if it saved no steps);
    plus the ``keys`` of its ``extra`` asked for (e.g. the codec an LM trained on).
    """
    extra = read_checkpoint(path).get("extra") or {}
    steps = extra.get("steps", extra.get("step"))  # a script's final file, or the loop's best-step checkpoint
    if steps is not None:
        steps = int(steps) + int((extra.get("init") or {}).get("steps") or 0)
    record = dict(path=Path(path).as_posix(), sha256=file_sha256(path), steps=steps)
    return dict(record, **{k: extra.get(k) for k in keys})


def dumps_results(obj, indent: int = 1, float32_lists: bool = True) -> str:
    """JSON text of a run's results, as ``json.dumps(obj, indent=indent)`` but with every list of plain values
    (a loss history, a confusion row) on one line, so a 20,000-step history is a few lines and not 20,000.

    With ``float32_lists`` a float inside such a list is written as the shortest decimal that reads back to the same
    float32 (``4.2669783`` for the float32 loss ``4.2669782638549805``): a history of float32 losses loses nothing, and
    takes half the bytes. Floats outside lists (the summary: best loss, timings) keep every float64 digit.
    ``json.loads(dumps_results(obj, float32_lists=False)) == json.loads(json.dumps(obj))`` for any object
    ``json.dumps`` takes.
    """
    def value(v) -> str:
        if not (float32_lists and isinstance(v, float) and math.isfinite(v) and 0 < abs(v) < 3e38):
            return json.dumps(v)  # ints, bools, None, strings, 0.0, nan, inf, and floats beyond float32's range
        if 1e-4 <= abs(v) < 1e16:
            return np.format_float_positional(np.float32(v), unique=True, trim="0")  # 4.2669783, 2.0
        return np.format_float_scientific(np.float32(v), unique=True, trim="0")  # 1.0e-07

    def encode(o, level: int) -> str:
        pad, end = " " * (indent * (level + 1)), " " * (indent * level)
        if isinstance(o, dict):
            if not o:
                return "{}"
            # json.dumps({k: 0}) is '{"<key>": 0}': json's own rule for every key (1 -> "1", True -> "true")
            items = [f"{pad}{json.dumps({k: 0})[1:-4]}: {encode(v, level + 1)}" for k, v in o.items()]
            return "{\n" + ",\n".join(items) + "\n" + end + "}"
        if isinstance(o, (list, tuple)):
            if not any(isinstance(v, (dict, list, tuple)) for v in o):
                return "[" + ", ".join(value(v) for v in o) + "]"
            return "[\n" + ",\n".join(pad + encode(v, level + 1) for v in o) + "\n" + end + "]"
        return json.dumps(o)

    return encode(obj, 0)


def write_results(path, results) -> Path:
    """A run's results as JSON (:func:`dumps_results`), written atomically (:func:`atomic_write`): what every training
    and measuring script writes beside its checkpoint, so a killed run never leaves half a JSON file."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(dumps_results(results)))


def config_from_dict(cls, d: dict, kind: bool = False):
    """The config dataclass ``cls`` from the dict saved with a checkpoint: fields added to ``cls`` since the file was
    saved take their defaults, a field ``cls`` does not know is refused (a file of another model or version).

    Args:
        kind: the dict may carry ``'kind'``, the name of the config class it was saved from; it must be ``cls``'s.

    Raises:
        ValueError: an unknown field, or another kind (both named).
    """
    d = dict(d)
    if kind:
        saved = d.pop("kind", cls.__name__)
        if saved != cls.__name__:
            raise ValueError(f"this is a {saved} configuration, not a {cls.__name__}")
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
    return cls(**d)


def _same_config(a, b) -> bool:
    """Equal configs, where a key missing on one side (at any depth) counts as None: a field added later with default
    None (e.g. the transformer's ``attn_dropout``) does not make older files unloadable."""
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same_config(a.get(k), b.get(k)) for k in set(a) | set(b))
    return a == b


def load_weights(model: nn.Module, path, config: dict | None = None, ckpt: dict | None = None) -> nn.Module:
    """Load weights into ``model`` (cast to its dtype), refusing a checkpoint made for another configuration.

    Raises:
        ValueError: if ``config`` differs from the checkpoint's config; the message shows both.
    """
    ckpt = ckpt if ckpt is not None else read_checkpoint(path)
    saved = ckpt.get("config", {})
    diff = sorted(k for k in set(saved) | set(config) if not _same_config(saved.get(k), config.get(k))) if config is not None else []
    if diff:
        raise ValueError(
            f"checkpoint {path} was saved for config {saved}, but the model has config {config} "
            f"(they differ in {diff})"
        )
    target = model.state_dict()
    state = {k: v.to(target[k].dtype) if k in target else v for k, v in ckpt["state_dict"].items()}
    model.load_state_dict(state)
    return model
