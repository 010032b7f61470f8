"""One training loop for every model of the course (Music Transformer now; VQ-VAE and MusicGen later).

``train(model, loss_fn, train_data, valid_data, cfg)`` does what every training run needs and nothing else:

- batches from a callable ``train_data(generator, batch_size) -> batch`` (random crops, augmentation: the model
  decides) or from a ``torch.utils.data.Dataset`` (shuffled with a seeded sampler, a ``DistributedSampler`` under DDP);
- AdamW, learning-rate warmup then cosine decay, gradient clipping;
- periodic validation (mean ``loss_fn`` over ``valid_data``, an iterable of batches or a Dataset), a tqdm bar, a
  ``history`` dict and an optional ``callback(history)`` at every validation (live plots in notebooks);
- weights-only checkpoints (``torch.load(weights_only=True)`` can read them) of the best validation step;
- device choice ``'cpu' | 'cuda' | 'auto'`` and a seed: same seed, same run;
- DistributedDataParallel when started by ``torchrun`` (``WORLD_SIZE`` set): gloo on CPU, nccl on CUDA; every rank
  draws its own batches (seed + rank), gradients are averaged, only rank 0 prints, validates and saves.

Notebook: 03_music_transformer.ipynb (and every later notebook that trains a model)
Reference: the loop follows nanoGPT's ``train.py`` (Karpathy); cosine schedule: Loshchilov & Hutter 2017 (SGDR).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm.auto import tqdm


@dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        steps: optimiser steps.
        batch_size: examples per step (per process under DDP).
        lr, min_lr: peak and final learning rate; warmup_steps of linear warmup, then cosine decay to min_lr.
        weight_decay: AdamW decay, applied to matrices only (not to biases, norms, embeddings of positions).
        grad_clip: max global gradient norm (0: no clipping).
        eval_every: validate every this many steps (and after the last step).
        seed: seeds batches, dropout and the DistributedSampler.
        device: ``'cpu'``, ``'cuda'``, ``'cuda:1'`` or ``'auto'`` (cuda if available).
        checkpoint: path of the best-validation checkpoint, or None not to save.
        save_half: store the checkpoint's weights in float16.
        progress: show a tqdm bar.
    """

    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 100
    seed: int = 0
    device: str = "auto"
    checkpoint: str | None = None
    save_half: bool = False
    progress: bool = True

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ValueError("TrainConfig: steps, batch_size and eval_every must be >= 1")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"TrainConfig: warmup_steps={self.warmup_steps} must lie in 0..steps={self.steps}")


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


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on parameters of dimension >= 2 that are weight matrices (not norms or biases)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
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


def _scalar_loss(out) -> torch.Tensor:
    """``loss_fn`` may return a loss or ``(loss, metrics)``; this returns the loss."""
    return out[0] if isinstance(out, tuple) else out


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


# --- checkpoints -------------------------------------------------------------------------------------------
def save_weights(model: nn.Module, path, config: dict | None = None, half: bool = False, extra: dict | None = None) -> Path:
    """Save ``{'config', 'state_dict', 'extra'}`` with plain tensors only, so ``weights_only=True`` can load it.

    Args:
        model: the model (a DDP wrapper is unwrapped).
        config: the model's config as a dict (compared on loading).
        half: store floating-point tensors as float16 (halves the file; check that it loses nothing).
        extra: JSON-like metadata (command, seed, results).
    """
    model = model.module if hasattr(model, "module") else model
    state = {
        k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
        for k, v in model.state_dict().items()
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": config or {}, "state_dict": state, "extra": extra or {}}, path)
    return path


def read_checkpoint(path) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)`` and check its layout."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a checkpoint written by save_weights (no 'state_dict')")
    return ckpt


def load_weights(model: nn.Module, path, config: dict | None = None, ckpt: dict | None = None) -> nn.Module:
    """Load weights into ``model`` (cast to its dtype), refusing a checkpoint made for another configuration.

    Raises:
        ValueError: if ``config`` differs from the checkpoint's config; the message shows both.
    """
    ckpt = ckpt if ckpt is not None else read_checkpoint(path)
    saved = ckpt.get("config", {})
    if config is not None and saved != config:
        diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        raise ValueError(
            f"checkpoint {path} was saved for config {saved}, but the model has config {config} "
            f"(they differ in {diff})"
        )
    target = model.state_dict()
    state = {k: v.to(target[k].dtype) if k in target else v for k, v in ckpt["state_dict"].items()}
    model.load_state_dict(state)
    return model


# --- the loop ---------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(model: nn.Module, loss_fn: Callable, valid_data, device: torch.device) -> float:
    """Mean of ``loss_fn(model, batch)`` over the validation batches, in eval mode."""
    was_training = model.training
    model.eval()
    losses = [float(_scalar_loss(loss_fn(model, to_device(b, device)))) for b in valid_data]
    model.train(was_training)
    if not losses:
        raise ValueError("evaluate: valid_data gave no batches")
    return sum(losses) / len(losses)


def _batches(train_data, cfg: TrainConfig, rank: int, world: int, generator: torch.Generator) -> Iterable:
    """Endless stream of training batches from a callable or a Dataset."""
    if callable(train_data) and not isinstance(train_data, torch.utils.data.Dataset):
        while True:
            yield train_data(generator, cfg.batch_size)
    elif isinstance(train_data, torch.utils.data.Dataset):
        if world > 1:
            sampler = torch.utils.data.DistributedSampler(train_data, world, rank, shuffle=True, seed=cfg.seed)
        else:
            sampler = torch.utils.data.RandomSampler(train_data, generator=generator)
        loader = torch.utils.data.DataLoader(train_data, cfg.batch_size, sampler=sampler, drop_last=True)
        epoch = 0
        while True:
            if world > 1:
                sampler.set_epoch(epoch)
            yield from loader
            epoch += 1
    else:
        raise TypeError(
            f"train_data must be a callable (generator, batch_size) -> batch or a torch Dataset, "
            f"got {type(train_data).__name__}"
        )


def train(
    model: nn.Module,
    loss_fn: Callable,
    train_data,
    valid_data,
    cfg: TrainConfig,
    callback: Callable[[dict], None] | None = None,
    checkpoint_extra: dict | None = None,
) -> dict:
    """Train ``model`` to minimise ``loss_fn(model, batch)``.

    Args:
        model: any ``nn.Module``; if it has ``.config.to_dict()`` the config is saved with the checkpoint.
        loss_fn: ``(model, batch) -> loss`` (or ``(loss, metrics)``); the mean over the batch.
        train_data: ``(generator, batch_size) -> batch`` or a ``torch.utils.data.Dataset``.
        valid_data: an iterable of batches (e.g. a list, re-iterated at every validation), a Dataset, or None.
        cfg: a :class:`TrainConfig`.
        callback: called with the history after every validation (rank 0 only).
        checkpoint_extra: metadata stored in the checkpoint (command line, data description).

    Returns:
        history: dict of lists ``step``, ``train_loss``, ``lr``, ``valid_step``, ``valid_loss``, and
        ``seconds`` (wall time), ``best_valid``, ``best_step``, ``world_size``.
    """
    device = resolve_device(cfg.device)
    rank, world, started_here = distributed_setup(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        torch.cuda.set_device(device)
    torch.manual_seed(cfg.seed + rank)  # dropout; batches use their own generator
    generator = torch.Generator().manual_seed(cfg.seed + rank)
    model = model.to(device)
    net = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None) if world > 1 else model
    if isinstance(valid_data, torch.utils.data.Dataset):
        valid_data = torch.utils.data.DataLoader(valid_data, cfg.batch_size, shuffle=False)
    optimizer = make_optimizer(model, cfg)
    config = model.config.to_dict() if hasattr(getattr(model, "config", None), "to_dict") else None
    history = {"step": [], "train_loss": [], "lr": [], "valid_step": [], "valid_loss": [],
               "seconds": 0.0, "best_valid": float("inf"), "best_step": -1, "world_size": world,
               "config": asdict(cfg)}
    is_main = rank == 0
    bar = tqdm(total=cfg.steps, disable=not (cfg.progress and is_main), desc="train")
    batches = _batches(train_data, cfg, rank, world, generator)
    t0 = time.time()
    model.train()
    for step in range(cfg.steps):
        lr = learning_rate(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(next(batches), device)
        loss = _scalar_loss(loss_fn(net, batch))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        loss_value = float(loss.detach())
        history["step"].append(step + 1)
        history["train_loss"].append(loss_value)
        history["lr"].append(lr)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.3f}", lr=f"{lr:.1e}")
        if valid_data is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
            if is_main:
                v = evaluate(model, loss_fn, valid_data, device)
                history["valid_step"].append(step + 1)
                history["valid_loss"].append(v)
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
    bar.close()
    history["seconds"] = time.time() - t0
    if valid_data is None and cfg.checkpoint and is_main:
        save_weights(model, cfg.checkpoint, config, half=cfg.save_half, extra=dict(checkpoint_extra or {}, step=cfg.steps))
    if started_here:
        dist.destroy_process_group()
    return history


def plot_history(history: dict, ax=None, title: str | None = None, smooth: int = 20):
    """Learning curves: training loss (moving average over ``smooth`` steps) and validation loss, per step.

    Returns:
        the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    tr = np.asarray(history["train_loss"], dtype=float)
    if len(tr):
        k = max(1, min(smooth, len(tr)))
        avg = np.convolve(tr, np.ones(k) / k, mode="valid")
        ax.plot(np.asarray(history["step"])[k - 1 :], avg, label=f"train (mean of {k})", lw=1)
    if history["valid_loss"]:
        ax.plot(history["valid_step"], history["valid_loss"], "o-", ms=3, label="valid")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
