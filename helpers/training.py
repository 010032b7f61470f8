"""One training loop for every model of the course (Music Transformer now; VQ-VAE and MusicGen later).

``train(model, loss_fn, train_data, valid_data, cfg)`` does what every training run needs and nothing else:

- batches from a callable ``train_data(generator, batch_size) -> batch`` (random crops, augmentation: the model
  decides) or from a ``torch.utils.data.Dataset`` (reshuffled every epoch from ``seed + epoch``, split between ranks
  as a ``DistributedSampler`` does);
- AdamW with weight decay on the weights of linear and convolution layers only (:func:`weight_decay_groups`),
  learning-rate warmup then cosine decay, gradient clipping (the gradient norm before clipping is recorded);
- gradient accumulation over ``grad_accum`` micro-batches per step, and optional mixed precision on CUDA
  (bfloat16 autocast; float16 with a ``GradScaler``);
- metrics: ``loss_fn`` returns ``loss`` or ``(loss, metrics)``; every metric is recorded per step and, averaged over
  the validation batches, at every validation (:func:`plot_history` draws one panel per metric);
- hooks ``fn(model, step)`` after every optimiser step on every rank, the caller's and the model's own
  (``model.training_hooks()``: a VQ-VAE's EMA codebook update and dead-code restarts); :func:`all_reduce_mean_`
  keeps a hook's buffers equal across ranks;
- periodic validation (mean ``loss_fn`` over ``valid_data``, an iterable of batches or a Dataset), a tqdm bar, a
  ``history`` dict and an optional ``callback(history)`` at every validation (live plots in notebooks);
- weights-only checkpoints (``torch.load(weights_only=True)`` can read them) of the best validation step, written by
  :func:`helpers.checkpoints.save_weights` (the checkpoint files, hashes and integrity checks live in
  :mod:`helpers.checkpoints`);
- a resume file (``cfg.resume_file``: model, optimiser, step, history, batch-stream and RNG states, including
  the ``torch.Generator`` s the model keeps, also weights-only) written at every validation and at the end: a run that is killed, or stopped with
  ``cfg.stop_after``, continues from it to the same weights as a run that was never interrupted;
- device choice ``'cpu' | 'cuda' | 'auto'`` and a seed: same seed, same run;
- DistributedDataParallel when started by ``torchrun`` (``WORLD_SIZE`` set): gloo on CPU, nccl on CUDA; every rank
  draws its own batches (seed + rank), gradients are averaged, only rank 0 prints, validates and saves.

Notebook: 03_music_transformer.ipynb (and every later notebook that trains a model)
Reference: the loop follows nanoGPT's ``train.py`` (Karpathy); cosine schedule: Loshchilov & Hutter 2017 (SGDR);
AdamW and decoupled weight decay: Loshchilov & Hutter 2019; which parameters are decayed: minGPT / nanoGPT's
``configure_optimizers``; gradient accumulation and ``no_sync``: the PyTorch DDP notes; EMA codebooks that need
hooks: van den Oord et al. 2017 (VQ-VAE, Appendix A.1) and Jukebox's ``bottleneck.py``.
"""
from __future__ import annotations

import math
import os
import random
import time
import warnings
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm.auto import tqdm

from .checkpoints import atomic_write, load_file, save_weights
from .checkpoints import init_record, read_checkpoint  # noqa: F401 (notebooks 03 and 05 call training.read_checkpoint / init_record)
from .modes import evaluating

AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        steps: optimiser steps (the learning-rate schedule ends here).
        batch_size: examples per micro-batch (per process under DDP).
        grad_accum: micro-batches whose gradients are summed into one optimiser step: a step sees
            ``batch_size * grad_accum`` examples per process (each micro-batch loss is divided by ``grad_accum``).
        lr, min_lr: peak and final learning rate; warmup_steps of linear warmup, then cosine decay to min_lr.
        weight_decay: AdamW decay, applied to the weights of linear and convolution layers only
            (see :func:`weight_decay_groups`: not to biases, norms, embeddings, relative tables, codebooks).
        grad_clip: max global gradient norm (0: no clipping).
        eval_every: validate (and write the resume file) every this many steps, and after the last step.
        seed: seeds batches, the Dataset shuffling, and torch's (dropout), NumPy's and Python's global generators
            (with ``seed + rank`` under DDP).
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'`` or ``'auto'`` (cuda if available).
        amp: mixed precision on CUDA (autocast to ``amp_dtype``); ignored, with a warning, on the CPU.
        amp_dtype: ``'bfloat16'`` (no loss scaling needed) or ``'float16'`` (with a ``GradScaler``).
        checkpoint: path of the best-validation checkpoint (weights only, small), or None not to save.
        save_half: store the checkpoint's weights in float16.
        resume_file: path of the resume file (model + optimiser + RNG states, for continuing a run; not for
            shipping), or None. If it exists when ``train`` starts, training continues from it.
        stop_after: stop after this many steps (the schedule still runs to ``steps``) and write the resume file:
            train in pieces. None: run to ``steps``.
        progress: show a tqdm bar.
        max_seconds: a wall-clock budget: stop (validating and writing the resume file) after the first step
            that ends past it; the schedule still runs to ``steps``, so a later call with a resume file continues.
            None: no budget.
    """

    steps: int = 1000
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 100
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    amp_dtype: str = "bfloat16"
    checkpoint: str | None = None
    save_half: bool = False
    resume_file: str | None = None
    stop_after: int | None = None
    progress: bool = True
    max_seconds: float | None = None

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1 or self.grad_accum < 1:
            raise ValueError("TrainConfig: steps, batch_size, grad_accum and eval_every must be >= 1")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"TrainConfig: warmup_steps={self.warmup_steps} must lie in 0..steps={self.steps}")
        if self.amp_dtype not in AMP_DTYPES:
            raise ValueError(f"TrainConfig: amp_dtype must be one of {sorted(AMP_DTYPES)}, got {self.amp_dtype!r}")
        if self.stop_after is not None and not 1 <= self.stop_after <= self.steps:
            raise ValueError(f"TrainConfig: stop_after={self.stop_after} must lie in 1..steps={self.steps} (or be None)")


# Fields that may change between a run and its resumption (they do not change the trajectory of the weights).
RESUME_FREE_FIELDS = ("device", "checkpoint", "save_half", "resume_file", "stop_after", "progress", "max_seconds")


# --- small pieces --------------------------------------------------------------------------------------
def resolve_device(device: str = "auto") -> torch.device:
    """``'auto'`` -> cuda if available else cpu; anything else is checked and returned as a ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for but CUDA is not available here")
    return dev


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warmup from ~0 to ``lr`` over ``warmup_steps``, then half a cosine down to ``min_lr`` at ``steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))


# Modules whose ``weight`` is decayed (subclasses included); every other parameter is not.
DECAYED_MODULES = (
    nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d,
)


def weight_decay_groups(model: nn.Module) -> tuple[list[str], list[str]]:
    """Split the trainable parameters of ``model`` into those that get weight decay and those that do not.

    The rule (minGPT's): decay only the ``weight`` of ``nn.Linear`` and ``nn.Conv*`` / ``nn.ConvTranspose*``
    layers; embeddings, norms, biases and bare ``nn.Parameter`` s (relative-attention tables, VQ codebooks) are not
    decayed. A model may name more parameters to spare with a method ``no_weight_decay(self) -> set[str]``
    (names as in ``model.named_parameters()``). A tensor shared by a decayed and an undecayed module (the output
    head tied to the token embedding) counts as an embedding: not decayed, as in nanoGPT.

    Returns:
        (decay, no_decay): parameter names, in ``named_parameters()`` order (shared tensors under their first name).

    Raises:
        ValueError: if ``no_weight_decay()`` names a parameter the model does not have.

    Notebook: 03_music_transformer.ipynb
    Reference: Loshchilov & Hutter 2019 (AdamW); minGPT / nanoGPT ``configure_optimizers``.
    """
    spared = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    all_names = {name for name, _ in model.named_parameters(remove_duplicate=False)}
    unknown = spared - all_names
    if unknown:
        raise ValueError(f"{type(model).__name__}.no_weight_decay() names parameters it does not have: {sorted(unknown)}")
    decayed, kept = set(), set()  # ids of tensors that some module decays / some module keeps
    for module_name, module in model.named_modules(remove_duplicate=False):
        for pname, p in module.named_parameters(recurse=False, remove_duplicate=False):
            full = f"{module_name}.{pname}" if module_name else pname
            if isinstance(module, DECAYED_MODULES) and pname == "weight" and full not in spared:
                decayed.add(id(p))
            else:
                kept.add(id(p))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (decay if id(p) in decayed and id(p) not in kept else no_decay).append(name)
    return decay, no_decay


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW (betas 0.9, 0.95) with weight decay on the parameters :func:`weight_decay_groups` decays."""
    decay, no_decay = weight_decay_groups(model)
    params = dict(model.named_parameters())
    groups = [
        {"params": [params[n] for n in decay], "weight_decay": cfg.weight_decay},
        {"params": [params[n] for n in no_decay], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def to_device(batch, device: torch.device):
    """Move a tensor, or a tuple/list/dict of tensors, to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def split_loss(out) -> tuple[torch.Tensor, dict[str, float]]:
    """``loss_fn`` returns ``loss`` or ``(loss, metrics)``; this returns ``(loss, {name: float})``.

    Raises:
        TypeError / ValueError: if the loss is not a 0-d tensor or a metric is not a number or 0-d tensor.
    """
    if isinstance(out, tuple):
        if len(out) != 2 or not isinstance(out[1], dict):
            raise TypeError("loss_fn must return a loss or a pair (loss, metrics dict)")
        loss, metrics = out
    else:
        loss, metrics = out, {}
    if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
        raise TypeError(f"loss_fn must return a 0-d tensor as its loss, got {type(loss).__name__} "
                        f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else ''}")
    values = {}
    for name, v in metrics.items():
        if isinstance(v, torch.Tensor) and v.dim() == 0:
            values[name] = float(v.detach())
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            values[name] = float(v)
        else:
            raise TypeError(f"metric {name!r} must be a number or a 0-d tensor, got {type(v).__name__} "
                            f"{tuple(v.shape) if isinstance(v, torch.Tensor) else ''}")
    return loss, values


def _record_metrics(series: dict[str, list], values: dict[str, float], where: str) -> None:
    """Append ``values`` to the lists of ``series``; the metric names must be the same at every call."""
    if series and set(series) != set(values):
        raise ValueError(f"loss_fn returned the metrics {sorted(values)} in {where}, "
                         f"but {sorted(series)} before: return the same metrics every time")
    for name, v in values.items():
        series.setdefault(name, []).append(v)


# --- distributed --------------------------------------------------------------------------------------------
def distributed_setup(device: torch.device) -> tuple[int, int, bool]:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1).

    Returns:
        (rank, world_size, started_here): started_here is True if this call created the process group.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), True


def is_distributed() -> bool:
    """True inside a process group of more than one process (a ``train`` run under torchrun)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_mean_(tensor: torch.Tensor) -> torch.Tensor:
    """Replace ``tensor`` in place by its mean over all ranks (a no-op in a single process); returns it.

    For hooks that update buffers from each rank's own batch (an EMA codebook: Jukebox's ``bottleneck.py``
    all-reduces the code counts and sums the same way) so the buffers stay equal on every rank.
    """
    if not tensor.is_floating_point():
        raise TypeError(f"all_reduce_mean_ needs a floating-point tensor, got {tensor.dtype}")
    if is_distributed():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)  # gloo has no AVG: sum, then divide
        tensor.div_(dist.get_world_size())
    return tensor


# --- the batch stream and the random state (both go into the resume file) ------------------------------------
class BatchStream:
    """Endless training batches from a callable or a Dataset, with a state that a resume file can store.

    - callable ``train_data(generator, batch_size)``: the generator is seeded with ``seed + rank``; its state is
      the stream's state.
    - ``torch.utils.data.Dataset``: every epoch a permutation drawn from ``seed + epoch`` (the same on every
      rank), split between the ranks and cut into batches (the last incomplete one dropped) exactly as a
      ``DistributedSampler`` does, collated with ``default_collate``; the state is ``(epoch, position)``, so a
      resumed stream skips the examples already seen without loading them.
    """

    def __init__(self, train_data, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.data, self.batch_size = train_data, batch_size
        if isinstance(train_data, torch.utils.data.Dataset):
            self.sampler = torch.utils.data.DistributedSampler(train_data, world, rank, shuffle=True, seed=seed)
            if len(self.sampler) < batch_size:
                raise ValueError(f"the training Dataset gives {len(self.sampler)} examples per rank and epoch, "
                                 f"fewer than batch_size={batch_size}")
            self.epoch, self.position, self._indices = 0, 0, None
        elif callable(train_data):
            self.sampler = None
            self.generator = torch.Generator().manual_seed(seed + rank)
        else:
            raise TypeError(f"train_data must be a callable (generator, batch_size) -> batch or a torch Dataset, "
                            f"got {type(train_data).__name__}")

    def __iter__(self):
        return self

    def __next__(self):
        if self.sampler is None:
            return self.data(self.generator, self.batch_size)
        if self._indices is None:
            self.sampler.set_epoch(self.epoch)
            self._indices = list(self.sampler)
        if self.position + self.batch_size > len(self._indices):  # epoch over: drop the incomplete batch
            self.epoch, self.position, self._indices = self.epoch + 1, 0, None
            return next(self)
        idx = self._indices[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return torch.utils.data.default_collate([self.data[i] for i in idx])

    def state_dict(self) -> dict:
        if self.sampler is None:
            return {"generator": self.generator.get_state()}
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        if self.sampler is None:
            self.generator.set_state(state["generator"])
        else:
            self.epoch, self.position, self._indices = state["epoch"], state["position"], None


def model_generators(model: nn.Module) -> dict[str, torch.Generator]:
    """The ``torch.Generator`` s a model keeps as attributes of its modules (a VQ codebook's restart generator,
    a codec's quantizer-dropout generator), by ``module.attribute`` name: random state outside the global one."""
    found = {}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, torch.Generator):
                found[f"{name}.{attr}" if name else attr] = value
    return found


def rng_state(device: torch.device, model: nn.Module | None = None) -> dict:
    """The torch (and CUDA), NumPy and Python random states of this process, and the states of the model's own
    generators (:func:`model_generators`), as tensors and plain numbers."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    return {
        "model_generators": {k: g.get_state() for k, g in model_generators(model).items()} if model is not None else {},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss_next": gauss_next},
    }


def set_rng_state(state: dict, device: torch.device, model: nn.Module | None = None) -> None:
    """Restore what :func:`rng_state` returned.

    Raises:
        ValueError: if the model's generators are not those that were saved.
    """
    if model is not None:
        generators = model_generators(model)
        if set(generators) != set(state["model_generators"]):
            raise ValueError(f"the model has the generators {sorted(generators)}, the resume file holds "
                             f"{sorted(state['model_generators'])}")
        for k, g in generators.items():
            g.set_state(state["model_generators"][k])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"].tolist()), p["gauss_next"]))


RESUME_FORMAT = "helpers.training resume file v1"


def _comparable(cfg_dict: dict) -> dict:
    return {k: v for k, v in cfg_dict.items() if k not in RESUME_FREE_FIELDS}


def save_resume(path, model, optimizer, scaler, history, cfg, model_config, ranks: list[dict]) -> Path:
    """Write the resume file (atomically: a run killed while writing keeps the previous one).

    ``ranks`` holds, per rank, its RNG states, batch-stream state and history (each rank draws its own batches).
    Everything is a tensor or a plain Python value, so ``torch.load(weights_only=True)`` reads it.
    """
    model = model.module if hasattr(model, "module") else model
    state = {
        "format": RESUME_FORMAT,
        "step": len(history["step"]),
        "train_config": asdict(cfg),
        "model_config": model_config,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        "ranks": ranks,
    }
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_resume(path, cfg: TrainConfig, model_config: dict | None, world: int) -> dict:
    """Read a resume file and check that it belongs to this run (same training settings, model and world size).

    Raises:
        ValueError: naming the settings that differ (delete the file, or pass another ``resume_file``, to start over).
    """
    state = load_file(path, "resume file")
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise ValueError(f"{path} is not a resume file written by helpers.training.train")
    saved, now = _comparable(state["train_config"]), _comparable(asdict(cfg))
    diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
    if diff:
        raise ValueError(
            f"resume file {path} was written with other training settings: "
            + ", ".join(f"{k}={saved.get(k)!r} there, {now.get(k)!r} now" for k in diff)
            + "; delete it or pass another resume_file to start over"
        )
    if state["model_config"] != model_config:
        raise ValueError(f"resume file {path} was written for the model config {state['model_config']}, "
                         f"but this model has {model_config}")
    if len(state["ranks"]) != world:
        raise ValueError(f"resume file {path} was written by {len(state['ranks'])} process(es), "
                         f"this run has {world}: resume with the same number of processes")
    return state


# --- the loop ---------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(model: nn.Module, loss_fn: Callable, valid_data, device: torch.device,
             autocast: Callable = nullcontext) -> tuple[float, dict[str, float]]:
    """Mean of ``loss_fn(model, batch)`` over the validation batches, in eval mode, and the mean of every metric.

    Returns:
        (loss, {metric name: mean over the batches}).
    """
    losses, metrics = [], {}
    with evaluating(model):
        for b in valid_data:
            with autocast():
                loss, values = split_loss(loss_fn(model, to_device(b, device)))
            losses.append(float(loss))
            _record_metrics(metrics, values, "validation")
    if not losses:
        raise ValueError("evaluate: valid_data gave no batches")
    return sum(losses) / len(losses), {k: sum(v) / len(v) for k, v in metrics.items()}


def _optimiser_step(net, loss_fn, batches, optimizer, scaler, cfg: TrainConfig, device, autocast):
    """One optimiser step: ``grad_accum`` micro-batches whose gradients add up (each loss divided by
    ``grad_accum``; under DDP the gradients are averaged across ranks on the last micro-batch only), then
    unscaling (float16 only), clipping and the AdamW step.

    Returns:
        (mean loss, mean of every metric, global gradient norm before clipping) over the micro-batches.
    """
    model = net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net
    optimizer.zero_grad(set_to_none=True)
    loss_value, metric_sums = 0.0, {}
    for micro in range(cfg.grad_accum):
        batch = to_device(next(batches), device)
        last = micro == cfg.grad_accum - 1
        with nullcontext() if last or net is model else net.no_sync():
            with autocast():
                loss, metrics = split_loss(loss_fn(net, batch))
            scaler.scale(loss / cfg.grad_accum).backward()
        loss_value += float(loss.detach()) / cfg.grad_accum
        for name, v in metrics.items():
            metric_sums[name] = metric_sums.get(name, 0.0) + v / cfg.grad_accum
    scaler.unscale_(optimizer)  # no-op unless float16 loss scaling is on
    if cfg.grad_clip > 0:
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)  # returns the norm before clipping
    else:
        grad_norm = nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    scaler.step(optimizer)
    scaler.update()
    return loss_value, metric_sums, float(grad_norm)


def _write_resume(cfg: TrainConfig, model, optimizer, scaler, history, config, batches, device) -> None:
    """Gather every rank's random states, batch stream and history; rank 0 writes the resume file."""
    mine = {"rng": rng_state(device, model), "batches": batches.state_dict(), "history": history}
    if is_distributed():
        ranks = [None] * dist.get_world_size()
        dist.all_gather_object(ranks, mine)
    else:
        ranks = [mine]
    if not is_distributed() or dist.get_rank() == 0:
        save_resume(cfg.resume_file, model, optimizer, scaler, history, cfg, config, ranks)
    if is_distributed():
        dist.barrier()


def _new_history(cfg: TrainConfig, world: int) -> dict:
    return {"step": [], "train_loss": [], "lr": [], "grad_norm": [], "metrics": {},
            "valid_step": [], "valid_loss": [], "valid_metrics": {},
            "seconds": 0.0, "best_valid": float("inf"), "best_step": -1, "world_size": world,
            "config": asdict(cfg)}


def train(
    model: nn.Module,
    loss_fn: Callable,
    train_data,
    valid_data,
    cfg: TrainConfig,
    callback: Callable[[dict], None] | None = None,
    checkpoint_extra: dict | None = None,
    hooks: Sequence[Callable[[nn.Module, int], None]] = (),
) -> dict:
    """Train ``model`` to minimise ``loss_fn(model, batch)``.

    Args:
        model: any ``nn.Module``; if it has ``.config.to_dict()`` the config is saved with the checkpoint. It may
            define ``training_hooks(self) -> list`` (hooks added to ``hooks``, before them) and
            ``no_weight_decay(self) -> set[str]`` (see :func:`weight_decay_groups`).
        loss_fn: ``(model, batch) -> loss`` or ``(loss, metrics)`` with ``metrics`` a dict name -> float or 0-d
            tensor (the same names every call); the loss is the mean over the batch.
        train_data: ``(generator, batch_size) -> batch`` or a ``torch.utils.data.Dataset``.
        valid_data: an iterable of batches (e.g. a list, re-iterated at every validation), a Dataset, or None.
        cfg: a :class:`TrainConfig`.
        callback: called with the history after every validation (rank 0 only).
        checkpoint_extra: metadata stored in the checkpoint (command line, data description).
        hooks: functions ``fn(model, step)`` called after every optimiser step (step counts from 1), on every
            rank, with the unwrapped model (not the DDP wrapper).

    Returns:
        history: lists ``step``, ``train_loss``, ``lr``, ``grad_norm`` (before clipping), ``valid_step``,
        ``valid_loss``; dicts of lists ``metrics`` (aligned with ``step``) and ``valid_metrics`` (aligned with
        ``valid_step``); ``seconds`` (wall time, summed over resumptions), ``best_valid``, ``best_step``,
        ``world_size``, ``config``. Plain Python values only (``json.dumps`` takes it). Under DDP the training
        losses and metrics are those of this rank's batches; validation is on rank 0 only.
    """
    device = resolve_device(cfg.device)
    rank, world, started_here = distributed_setup(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    use_amp = cfg.amp and device.type == "cuda"
    if cfg.amp and not use_amp:
        warnings.warn(f"TrainConfig.amp=True is ignored on {device}: mixed precision needs CUDA; training in float32")
    amp_dtype = AMP_DTYPES[cfg.amp_dtype]

    def autocast():
        return torch.autocast(device_type="cuda", dtype=amp_dtype) if use_amp else nullcontext()

    torch.manual_seed(cfg.seed + rank)  # dropout and any global draw; batches use their own generator
    np.random.seed(cfg.seed + rank)
    random.seed(cfg.seed + rank)
    batches = BatchStream(train_data, cfg.batch_size, cfg.seed, rank, world)
    model = model.to(device)
    optimizer = make_optimizer(model, cfg)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
    config = model.config.to_dict() if hasattr(getattr(model, "config", None), "to_dict") else None
    history = _new_history(cfg, world)
    if cfg.resume_file and Path(cfg.resume_file).exists():
        state = read_resume(cfg.resume_file, cfg, config, world)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler.is_enabled() and state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        mine = state["ranks"][rank]  # this rank's random states, batch stream and history
        set_rng_state(mine["rng"], device, model)
        batches.load_state_dict(mine["batches"])
        history = dict(mine["history"], config=asdict(cfg))
    start = len(history["step"])
    stop = cfg.stop_after or cfg.steps
    net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None) if world > 1 else model
    hooks = list(model.training_hooks() if hasattr(model, "training_hooks") else []) + list(hooks)
    if isinstance(valid_data, torch.utils.data.Dataset):
        valid_data = torch.utils.data.DataLoader(valid_data, cfg.batch_size, shuffle=False)
    is_main = rank == 0
    bar = tqdm(total=cfg.steps, initial=start, disable=not (cfg.progress and is_main), desc="train")
    t0, seconds_before = time.time(), history["seconds"]
    model.train()
    for step in range(start, stop):
        lr = learning_rate(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss_value, metric_sums, grad_norm = _optimiser_step(net, loss_fn, batches, optimizer, scaler, cfg, device, autocast)
        for hook in hooks:
            hook(model, step + 1)
        history["step"].append(step + 1)
        history["train_loss"].append(loss_value)
        history["lr"].append(lr)
        history["grad_norm"].append(grad_norm)
        _record_metrics(history["metrics"], metric_sums, f"training step {step + 1}")
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.3f}", lr=f"{lr:.1e}")
        out_of_time = cfg.max_seconds is not None and seconds_before + time.time() - t0 >= cfg.max_seconds
        if cfg.max_seconds is not None and world > 1:  # every rank stops at the same step
            flag = torch.tensor(float(out_of_time), device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            out_of_time = bool(flag.item())
        at_eval = (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps or out_of_time
        if valid_data is not None and at_eval:
            if is_main:
                v, v_metrics = evaluate(model, loss_fn, valid_data, device, autocast)
                history["valid_step"].append(step + 1)
                history["valid_loss"].append(v)
                _record_metrics(history["valid_metrics"], v_metrics, "validation")
                if v < history["best_valid"]:
                    history["best_valid"], history["best_step"] = v, step + 1
                    if cfg.checkpoint:
                        extra = dict(checkpoint_extra or {}, step=step + 1, valid_loss=v)
                        save_weights(model, cfg.checkpoint, config, half=cfg.save_half, extra=extra)
                bar.write(f"step {step + 1}: train {loss_value:.4f}  valid {v:.4f}  ({time.time() - t0:.0f} s)")
                if callback is not None:
                    callback(history)
            if world > 1:
                dist.barrier()
        if valid_data is None and step + 1 == cfg.steps and cfg.checkpoint and is_main:
            save_weights(model, cfg.checkpoint, config, half=cfg.save_half, extra=dict(checkpoint_extra or {}, step=cfg.steps))
        history["seconds"] = seconds_before + time.time() - t0
        if cfg.resume_file and (at_eval or step + 1 == stop):
            _write_resume(cfg, model, optimizer, scaler, history, config, batches, device)
        if out_of_time:
            if is_main:
                bar.write(f"stopping after step {step + 1}: the budget of {cfg.max_seconds:.0f} s is spent")
            break
    bar.close()
    if started_here:
        dist.destroy_process_group()
    return history


def _moving_average(steps, values, smooth: int):
    """``(steps, values)`` smoothed by a moving average over ``smooth`` points (the first ``smooth - 1`` dropped)."""
    values = np.asarray(values, dtype=float)
    k = max(1, min(smooth, len(values)))
    return np.asarray(steps)[k - 1 :], np.convolve(values, np.ones(k) / k, mode="valid"), k


def _plot_curves(ax, history: dict, train_values, valid_values, smooth: int, ylabel: str) -> None:
    if len(train_values):
        x, y, k = _moving_average(history["step"], train_values, smooth)
        ax.plot(x, y, label=f"train (mean of {k})" if k > 1 else "train", lw=1)
    if valid_values:
        ax.plot(history["valid_step"], valid_values, "o-", ms=3, label="valid")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)


def plot_history(history: dict, ax=None, title: str | None = None, smooth: int = 20,
                 metrics: Sequence[str] | None = None, ncols: int = 3):
    """Learning curves: training loss (moving average over ``smooth`` steps; 1 = raw) and validation loss, per
    step; then one small panel per metric (training and validation) in a grid of ``ncols`` columns.

    Args:
        history: what :func:`train` returned (or read back from JSON).
        ax: an Axes for the loss alone, or a sequence of at least ``1 + number of metrics`` Axes; None: a new
            figure (a single Axes if there are no metrics to show, else a grid).
        metrics: names of the metrics to draw (default: all that the history holds; ``()``: the loss only).

    Returns:
        the Axes when only the loss is drawn, else the array of the Axes that were drawn into (loss first).

    Notebook: 03_music_transformer.ipynb (and every later notebook that trains a model)
    """
    import matplotlib.pyplot as plt

    train_m, valid_m = history.get("metrics", {}), history.get("valid_metrics", {})
    names = list(dict.fromkeys([*train_m, *valid_m])) if metrics is None else list(metrics)
    missing = [n for n in names if n not in train_m and n not in valid_m]
    if missing:
        raise ValueError(f"plot_history: the history has no metric {missing}; it has {sorted({*train_m, *valid_m})}")
    if not names and (ax is None or not isinstance(ax, (list, tuple, np.ndarray))):
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.2))
        _plot_curves(ax, history, history["train_loss"], history["valid_loss"], smooth, "loss (nats/token)")
        ax.legend()
        if title:
            ax.set_title(title)
        return ax
    if ax is None:
        ncols = max(1, min(ncols, 1 + len(names)))
        nrows = math.ceil((1 + len(names)) / ncols)
        fig, grid = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 2.6 * nrows), squeeze=False)
        for a in grid.ravel()[1 + len(names) :]:
            a.set_visible(False)
        axes = grid.ravel()[: 1 + len(names)]
    else:
        axes = np.asarray(ax, dtype=object).ravel()
        if len(axes) < 1 + len(names):
            raise ValueError(f"plot_history: {len(axes)} Axes given for the loss and {len(names)} metrics")
        axes, fig = axes[: 1 + len(names)], axes[0].figure
    _plot_curves(axes[0], history, history["train_loss"], history["valid_loss"], smooth, "loss")
    axes[0].set_title("loss", fontsize=9)
    axes[0].legend(fontsize=7)
    for a, name in zip(axes[1:], names):
        _plot_curves(a, history, train_m.get(name, []), valid_m.get(name, []), smooth, "")
        a.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes
