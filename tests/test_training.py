"""The shared training loop: schedule, determinism, checkpoints, metrics, weight decay, hooks, accumulation,
resuming, and DistributedDataParallel under torchrun."""
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn as nn

from helpers import training
from helpers.checkpoints import load_weights, read_checkpoint, save_weights
from helpers.training import (
    TrainConfig, all_reduce_mean_, is_distributed, learning_rate, make_optimizer, plot_history, resolve_device, train,
    weight_decay_groups)

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)
        self.config = type("C", (), {"to_dict": lambda self: {"width": 3}})()

    def forward(self, x):
        return self.lin(x)


W_TRUE = torch.tensor([[1.0, -2.0, 0.5]])


def regression_batch(generator, batch_size):
    x = torch.randn(batch_size, 3, generator=generator)
    return x, x @ W_TRUE.T + 0.3


def mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def mse_with_metrics(model, batch):
    x, y = batch
    err = model(x) - y
    bias = (model.module if hasattr(model, "module") else model).lin.bias
    return (err**2).mean(), {"mae": err.abs().mean(), "bias": float(bias.detach())}


def _cfg(tmp_path=None, **changes):
    base = dict(steps=200, batch_size=16, lr=0.05, min_lr=0.005, warmup_steps=10, weight_decay=0.0,
                eval_every=50, seed=0, device="cpu", progress=False)
    if tmp_path is not None:
        base["checkpoint"] = str(tmp_path / "best.pt")
    base.update(changes)
    return TrainConfig(**base)


def test_learning_rate_warms_up_then_decays_to_min():
    cfg = _cfg(steps=100, warmup_steps=10, lr=1.0, min_lr=0.1)
    lrs = [learning_rate(s, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert learning_rate(100, cfg) == pytest.approx(0.1)
    assert learning_rate(55, cfg) == pytest.approx(0.55)  # half way down the cosine


def test_train_learns_saves_best_and_is_deterministic(tmp_path):
    valid = [regression_batch(torch.Generator().manual_seed(99), 64)]
    torch.manual_seed(0)
    model = Linear()
    seen = []
    hist = train(model, mse, regression_batch, valid, _cfg(tmp_path), callback=lambda h: seen.append(len(h["valid_loss"])))
    assert hist["valid_loss"][-1] < 1e-3 < hist["valid_loss"][0]
    assert hist["valid_step"] == [50, 100, 150, 200] and seen == [1, 2, 3, 4]
    assert torch.allclose(model.lin.weight, W_TRUE, atol=0.02)
    ckpt = read_checkpoint(tmp_path / "best.pt")
    assert ckpt["config"] == {"width": 3} and ckpt["extra"]["step"] == hist["best_step"]
    assert hist["metrics"] == {} and hist["valid_metrics"] == {} and len(hist["grad_norm"]) == 200
    json.dumps(hist)  # plain values only
    torch.manual_seed(0)
    again = Linear()
    hist2 = train(again, mse, regression_batch, valid, _cfg())
    assert hist2["train_loss"] == hist["train_loss"]
    torch.manual_seed(0)
    other = Linear()
    hist3 = train(other, mse, regression_batch, valid, _cfg(seed=1))
    assert hist3["train_loss"] != hist["train_loss"]


def test_keeps_the_best_step_not_the_last(tmp_path):
    # Training pulls w from 0 towards W_TRUE; validation targets lie half way, so the validation loss falls, then
    # rises again: the best step is in the middle, and the checkpoint must hold that step's weights.
    model = Linear()
    nn.init.zeros_(model.lin.weight), nn.init.zeros_(model.lin.bias)
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(5))
    valid = [(x, x @ (0.5 * W_TRUE).T + 0.15)]
    snapshots = {}
    hook = lambda m, step: snapshots.__setitem__(step, {k: v.clone() for k, v in m.state_dict().items()})  # noqa: E731
    hist = train(model, mse, regression_batch, valid, _cfg(tmp_path, steps=120, eval_every=5, lr=0.02, min_lr=0.02),
                 hooks=[hook])
    best = hist["best_step"]
    assert 5 <= best < 120 and hist["valid_loss"][-1] > hist["best_valid"] * 2
    saved = read_checkpoint(tmp_path / "best.pt")
    assert saved["extra"]["step"] == best
    for k, v in saved["state_dict"].items():
        assert torch.equal(v, snapshots[best][k])
        assert not torch.equal(v, snapshots[120][k])


def test_train_accepts_a_dataset():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 3, generator=g)
    data = torch.utils.data.TensorDataset(x, x @ W_TRUE.T + 0.3)
    torch.manual_seed(0)
    model = Linear()
    hist = train(model, mse, data, data, _cfg(steps=150, eval_every=150))
    assert hist["valid_loss"][-1] < 1e-3


def _global_grad_norm(model):
    return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])))


@pytest.mark.parametrize("clip", [1.0, 0.0])
def test_gradient_clipping_bounds_the_gradient_the_optimiser_sees(clip):
    torch.manual_seed(0)
    model = Linear()
    seen = []
    huge = lambda g, b: (torch.full((b, 3), 1e4), torch.zeros(b, 1))  # noqa: E731
    hist = train(model, mse, huge, None, _cfg(steps=2, warmup_steps=0, lr=0.1, grad_clip=clip),
                 hooks=[lambda m, step: seen.append(_global_grad_norm(m))])
    assert all(n > 1e3 for n in hist["grad_norm"])  # recorded before clipping
    if clip:
        assert all(n == pytest.approx(clip, rel=1e-4) for n in seen)  # what AdamW stepped with
    else:
        assert seen == pytest.approx(hist["grad_norm"], rel=1e-6)
    assert torch.isfinite(model.lin.weight).all()


# --- metrics ------------------------------------------------------------------------------------------------
def test_metrics_are_recorded_for_training_and_validation():
    valid = [regression_batch(torch.Generator().manual_seed(s), 32) for s in (7, 8, 9)]
    torch.manual_seed(0)
    model = Linear()
    after = []  # the bias after each step, seen by a hook
    hist = train(model, mse_with_metrics, regression_batch, valid, _cfg(steps=30, eval_every=10),
                 hooks=[lambda m, step: after.append(float(m.lin.bias.detach()))])
    assert set(hist["metrics"]) == set(hist["valid_metrics"]) == {"mae", "bias"}
    assert len(hist["metrics"]["mae"]) == len(hist["step"]) == 30
    assert len(hist["valid_metrics"]["mae"]) == len(hist["valid_step"]) == 3
    assert hist["metrics"]["bias"][1:] == after[:-1]  # each step's metrics, measured before its update
    with torch.no_grad():  # validation metrics: the mean over the validation batches, with the final weights
        mae = sum(float((model(x) - y).abs().mean()) for x, y in valid) / len(valid)
    assert hist["valid_metrics"]["mae"][-1] == pytest.approx(mae, rel=1e-6)
    assert hist["valid_metrics"]["mae"][-1] < hist["valid_metrics"]["mae"][0]
    json.dumps(hist)


def test_bad_losses_and_metrics_are_named():
    def changing(model, batch):  # one metric at the first step, another after
        changing.calls += 1
        loss = mse(model, batch)
        return loss, {"a": loss} if changing.calls == 1 else {"b": loss}

    changing.calls = 0
    with pytest.raises(ValueError, match="same metrics"):
        train(Linear(), changing, regression_batch, None, _cfg(steps=3, warmup_steps=0))
    with pytest.raises(TypeError, match="'mae'"):
        train(Linear(), lambda m, b: (mse(m, b), {"mae": torch.ones(2)}), regression_batch, None, _cfg(steps=1, warmup_steps=0))
    with pytest.raises(TypeError, match="0-d tensor"):
        train(Linear(), lambda m, b: (m(b[0]) - b[1]) ** 2, regression_batch, None, _cfg(steps=1, warmup_steps=0))


def test_plot_history_draws_one_panel_per_metric():
    valid = [regression_batch(torch.Generator().manual_seed(7), 32)]
    hist = train(Linear(), mse_with_metrics, regression_batch, valid, _cfg(steps=30, eval_every=10))
    axes = plot_history(hist, smooth=5, title="t")
    assert len(axes) == 3 and [a.get_title() for a in axes] == ["loss", "mae", "bias"]
    train_line, valid_line = axes[1].get_lines()
    assert len(train_line.get_xdata()) == 30 - 5 + 1
    assert np.allclose(valid_line.get_ydata(), hist["valid_metrics"]["mae"])
    raw = plot_history(hist, smooth=1, metrics=["mae"])
    assert len(raw) == 2 and np.allclose(raw[1].get_lines()[0].get_ydata(), hist["metrics"]["mae"])
    # without metrics (or with metrics=()), one Axes as before
    plain = train(Linear(), mse, regression_batch, valid, _cfg(steps=30, eval_every=10))
    ax = plot_history(plain, title="plain")
    assert isinstance(ax, matplotlib.axes.Axes) and ax.get_ylabel() == "loss (nats/token)"
    assert isinstance(plot_history(hist, metrics=()), matplotlib.axes.Axes)
    with pytest.raises(ValueError, match="perplexity"):
        plot_history(hist, metrics=["perplexity"])
    matplotlib.pyplot.close("all")


# --- weight decay -------------------------------------------------------------------------------------------
class Mixed(nn.Module):
    """One of each kind of parameter."""

    class MyLinear(nn.Linear):
        pass

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.lin = nn.Linear(4, 4)
        self.sub = Mixed.MyLinear(4, 4)
        self.spared = nn.Linear(4, 4, bias=False)
        self.conv = nn.Conv1d(4, 4, 3)
        self.deconv = nn.ConvTranspose1d(4, 4, 3)
        self.conv2 = nn.Conv2d(1, 1, 1)
        self.norm = nn.LayerNorm(4)
        self.codebook = nn.Parameter(torch.randn(8, 4))
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight  # tied: counts as the embedding
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)

    def no_weight_decay(self):
        return {"spared.weight"}


def test_weight_decay_only_on_linear_and_conv_weights():
    decay, no_decay = weight_decay_groups(Mixed())
    assert decay == ["lin.weight", "sub.weight", "conv.weight", "deconv.weight", "conv2.weight"]
    assert set(no_decay) == {"emb.weight", "lin.bias", "sub.bias", "spared.weight", "conv.bias", "deconv.bias",
                             "conv2.bias", "norm.weight", "norm.bias", "codebook"}  # frozen: in neither
    bad = Mixed()
    bad.no_weight_decay = lambda: {"nope.weight"}
    with pytest.raises(ValueError, match="nope.weight"):
        weight_decay_groups(bad)


def test_weight_decay_shrinks_only_the_decayed_parameters():
    # with a zero loss AdamW's update is the decay alone: p <- p * (1 - lr * wd) for decayed tensors, p otherwise
    model = Mixed()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    zero = lambda m, b: sum((p * 0).sum() for p in m.parameters() if p.requires_grad)  # noqa: E731
    cfg = _cfg(steps=3, warmup_steps=0, lr=0.1, min_lr=0.1, weight_decay=0.5)
    train(model, zero, lambda g, b: torch.zeros(b), None, cfg)
    decay, _ = weight_decay_groups(model)
    for name, p in model.named_parameters():
        expected = before[name] * (1 - 0.1 * 0.5) ** 3 if name in decay else before[name]
        assert torch.allclose(p, expected, rtol=1e-6), name
    opt = make_optimizer(model, cfg)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.5, 0.0]
    assert sum(len(g["params"]) for g in opt.param_groups) == len([p for p in model.parameters() if p.requires_grad])


@pytest.mark.parametrize("position", ["relative", "absolute"])
def test_music_transformer_decays_matrices_not_embeddings_or_tables(position):
    from helpers.transformer import MusicTransformer, MusicTransformerConfig

    cfg = MusicTransformerConfig.tiny(position=position)
    decay, no_decay = weight_decay_groups(MusicTransformer(cfg))
    layers = range(cfg.n_layer)
    assert set(decay) == {f"blocks.{i}.{m}.weight" for i in layers for m in ("attn.qkv", "attn.proj", "mlp.0", "mlp.2")}
    assert "tok.weight" in no_decay  # also the output head (tied)
    assert ("pos.weight" in no_decay) == (position == "absolute")
    assert all(f"blocks.{i}.attn.E" in no_decay for i in layers) == (position == "relative")
    assert {f"blocks.{i}.{n}.{w}" for i in layers for n in ("ln1", "ln2") for w in ("weight", "bias")} <= set(no_decay)


# --- hooks ------------------------------------------------------------------------------------------------
class WithOwnHook(Linear):
    def __init__(self):
        super().__init__()
        self.calls = []

    def training_hooks(self):
        return [lambda model, step: self.calls.append(("own", step, model.lin.weight.detach().clone()))]


def test_hooks_run_after_every_step_model_hooks_first():
    torch.manual_seed(0)
    model = WithOwnHook()
    w0 = model.lin.weight.detach().clone()
    hist = train(model, mse, regression_batch, None, _cfg(steps=4, warmup_steps=0),
                 hooks=[lambda m, step: model.calls.append(("mine", step, m))])
    assert [(who, step) for who, step, _ in model.calls] == [(w, s) for s in (1, 2, 3, 4) for w in ("own", "mine")]
    assert model.calls[1][2] is model  # the model itself
    assert not torch.equal(model.calls[0][2], w0)  # after the optimiser step
    assert hist["step"] == [1, 2, 3, 4]


def test_all_reduce_mean_is_a_no_op_in_one_process():
    assert not is_distributed()
    t = torch.tensor([1.0, 2.0])
    assert all_reduce_mean_(t) is t and t.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="floating-point"):
        all_reduce_mean_(torch.tensor([1, 2]))


# --- gradient accumulation and mixed precision ----------------------------------------------------------------
class Rows:
    """Consecutive rows of a fixed data set (ignores the generator), so 2 x b rows == 2b rows."""

    def __init__(self):
        g = torch.Generator().manual_seed(3)
        self.x = torch.randn(4096, 3, generator=g)
        self.y = self.x @ W_TRUE.T + 0.3 + 0.1 * torch.randn(4096, 1, generator=g)
        self.i = 0

    def __call__(self, generator, batch_size):
        sl = slice(self.i, self.i + batch_size)
        self.i += batch_size
        return self.x[sl], self.y[sl]


def _run(cfg, loss_fn=mse):
    torch.manual_seed(0)
    model = Linear()
    hist = train(model, loss_fn, Rows(), None, cfg)
    return model, hist


def test_gradient_accumulation_equals_the_larger_batch():
    base = dict(steps=20, warmup_steps=2, grad_clip=0.5)  # the clipping sees the accumulated gradient too
    big, h_big = _run(_cfg(batch_size=16, **base))
    acc, h_acc = _run(_cfg(batch_size=8, grad_accum=2, **base))
    small, _ = _run(_cfg(batch_size=8, **base))
    for a, b in zip(acc.parameters(), big.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert h_acc["train_loss"] == pytest.approx(h_big["train_loss"], rel=1e-5)
    assert h_acc["grad_norm"] == pytest.approx(h_big["grad_norm"], rel=1e-5)
    assert not torch.allclose(small.lin.weight, big.lin.weight, atol=1e-4)  # the check can fail


def test_amp_on_cpu_warns_and_changes_nothing():
    ref, h_ref = _run(_cfg(steps=10, warmup_steps=0))
    with pytest.warns(UserWarning, match="amp=True is ignored"):
        amp, h_amp = _run(_cfg(steps=10, warmup_steps=0, amp=True))
    assert h_amp["train_loss"] == h_ref["train_loss"]
    assert torch.equal(amp.lin.weight, ref.lin.weight)


# --- resuming -------------------------------------------------------------------------------------------------
class Noisy(nn.Module):
    """Dropout (torch RNG), its own generator, and a noise term from NumPy's and Python's global generators:
    all must resume."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.3), nn.Linear(8, 1))
        self.generator = torch.Generator().manual_seed(5)  # the model's own (as a VQ codebook's restarts)

    def forward(self, x):
        if self.training:
            x = x + 0.01 * torch.randn(x.shape, generator=self.generator)
        return self.net(x)


def noisy_loss(model, batch):
    x, y = batch
    jitter = float(np.random.rand()) + random.random()
    return ((model(x) - y) ** 2).mean() * (1 + 0.01 * jitter)


def _noisy_run(cfg, data=regression_batch, hooks=()):
    torch.manual_seed(1)
    model = Noisy()
    valid = [regression_batch(torch.Generator().manual_seed(99), 32)]
    hist = train(model, noisy_loss, data, valid, cfg, hooks=hooks)
    return model, hist


def _same_run(a, b):
    (ma, ha), (mb, hb) = a, b
    for (k, v), w in zip(ma.state_dict().items(), mb.state_dict().values()):
        assert torch.equal(v, w), k
    for key in ("step", "train_loss", "lr", "grad_norm", "valid_step", "valid_loss", "best_step", "best_valid"):
        assert ha[key] == hb[key], key


def test_a_stopped_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    straight = _noisy_run(_cfg(steps=30, eval_every=10, weight_decay=0.1))
    resume = str(tmp_path / "resume.pt")
    first = _noisy_run(_cfg(steps=30, eval_every=10, weight_decay=0.1, resume_file=resume, stop_after=13))
    assert first[1]["step"][-1] == 13
    state = torch.load(resume, weights_only=True)
    assert state["step"] == 13 and state["ranks"][0]["history"]["step"][-1] == 13
    saved = Path(resume).read_bytes()
    np.random.seed(123), random.seed(123), torch.manual_seed(123)  # whatever happens in between
    second = _noisy_run(_cfg(steps=30, eval_every=10, weight_decay=0.1, resume_file=resume))
    _same_run(second, straight)
    again = _noisy_run(_cfg(steps=30, eval_every=10, weight_decay=0.1, resume_file=resume))
    _same_run(again, straight)  # the file now holds the finished run: nothing left to train, same weights
    # the check can fail: resuming from step 13 without NumPy's random state gives other weights
    Path(resume).write_bytes(saved)
    restore = training.set_rng_state
    monkeypatch.setattr(training, "set_rng_state", lambda *args: (restore(*args), np.random.seed(7)))
    wrong = _noisy_run(_cfg(steps=30, eval_every=10, weight_decay=0.1, resume_file=resume))
    assert not torch.equal(wrong[0].net[0].weight, straight[0].net[0].weight)
    # ... and without the model's own generator
    Path(resume).write_bytes(saved)
    monkeypatch.setattr(training, "set_rng_state", lambda state, device, model: (restore(state, device, model), model.generator.manual_seed(5)))
    wrong = _noisy_run(_cfg(steps=30, eval_every=10, weight_decay=0.1, resume_file=resume))
    assert not torch.equal(wrong[0].net[0].weight, straight[0].net[0].weight)


def test_a_killed_run_resumes_from_its_last_save_to_the_same_weights(tmp_path):
    x = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.TensorDataset(x, x @ W_TRUE.T)  # 100 // 16 = 6 batches per epoch: resume mid-epoch
    straight = _noisy_run(_cfg(steps=30, eval_every=10), data=data)

    def kill(model, step):
        if step == 27:
            raise KeyboardInterrupt

    resume = str(tmp_path / "resume.pt")
    with pytest.raises(KeyboardInterrupt):
        _noisy_run(_cfg(steps=30, eval_every=10, resume_file=resume), data=data, hooks=[kill])
    assert torch.load(resume, weights_only=True)["step"] == 20  # the last save before the kill
    _same_run(_noisy_run(_cfg(steps=30, eval_every=10, resume_file=resume), data=data), straight)


def test_resume_refuses_other_settings(tmp_path):
    resume = str(tmp_path / "resume.pt")
    _run(_cfg(steps=10, warmup_steps=0, resume_file=resume, stop_after=5))
    with pytest.raises(ValueError, match="lr=0.05 there, 0.01 now"):
        _run(_cfg(steps=10, warmup_steps=0, resume_file=resume, lr=0.01))
    with pytest.raises(ValueError, match="steps=10 there, 20 now"):
        _run(_cfg(steps=20, warmup_steps=0, resume_file=resume))
    _, hist = _run(_cfg(steps=10, warmup_steps=0, resume_file=resume, progress=True))  # free fields may change
    assert hist["step"] == list(range(1, 11))


def test_weights_mismatch_and_bad_arguments(tmp_path):
    save_weights(Linear(), tmp_path / "w.pt", config={"width": 3})
    with pytest.raises(ValueError, match="width"):
        load_weights(Linear(), tmp_path / "w.pt", config={"width": 4})
    load_weights(Linear(), tmp_path / "w.pt", config={"width": 3, "added_later": None})  # a new None field: loads
    with pytest.raises(ValueError, match="added_later"):
        load_weights(Linear(), tmp_path / "w.pt", config={"width": 3, "added_later": 0.5})
    save_weights(Linear(), tmp_path / "n.pt", config={"inner": {"width": 3}})  # nested, as the Jukebox upsampler
    load_weights(Linear(), tmp_path / "n.pt", config={"inner": {"width": 3, "added_later": None}})
    with pytest.raises(ValueError, match="inner"):
        load_weights(Linear(), tmp_path / "n.pt", config={"inner": {"width": 3, "added_later": 1}})
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        read_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="warmup_steps"):
        TrainConfig(steps=10, warmup_steps=20)
    with pytest.raises(ValueError, match="stop_after"):
        TrainConfig(steps=10, warmup_steps=0, stop_after=11)
    with pytest.raises(ValueError, match="amp_dtype"):
        TrainConfig(amp_dtype="int8")
    with pytest.raises(TypeError, match="train_data"):
        train(Linear(), mse, 42, None, _cfg(steps=1, warmup_steps=0))
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            resolve_device("cuda")


# --- DistributedDataParallel --------------------------------------------------------------------------------
class EMAModel(Linear):
    """A model whose own hook keeps an EMA of its batches' mean input, as a VQ-VAE keeps its codebook."""

    def __init__(self):
        super().__init__()
        self.register_buffer("ema", torch.zeros(3))  # synced across ranks by the hook
        self.raw = torch.zeros(3)  # the same average of this rank's batches only (not a buffer: DDP leaves it)
        self.last = None

    def forward(self, x):
        if self.training:
            self.last = x.detach().mean(0)
        return super().forward(x)

    def training_hooks(self):
        from helpers.training import all_reduce_mean_

        def update(model, step):
            model.raw.mul_(0.9).add_(0.1 * model.last)
            model.ema.mul_(0.9).add_(0.1 * all_reduce_mean_(model.last.clone()))
        return [update]


DDP_SCRIPT = """
import json, os, sys
import torch
import torch.distributed as dist
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
from tests.test_training import EMAModel, Linear, regression_batch, mse
from helpers.training import TrainConfig, is_distributed, train
dist.init_process_group("gloo")  # started here, so the three runs below share it
valid = [regression_batch(torch.Generator().manual_seed(99), 32)]
def run(**changes):
    torch.manual_seed(0)
    model = EMAModel()
    base = dict(steps=20, batch_size=8, lr=0.05, warmup_steps=2, eval_every=10, device="cpu", progress=False)
    hist = train(model, mse, regression_batch, valid, TrainConfig(**dict(base, **changes)))
    return model, hist
model, hist = run(grad_accum=2)
resume = os.path.join({out!r}, "resume.pt")
run(resume_file=resume, stop_after=7)
resumed, _ = run(resume_file=resume)
straight, _ = run()
rank = int(os.environ["RANK"])
out = {{"rank": rank, "world": hist["world_size"], "w": model.lin.weight.tolist(), "b": model.lin.bias.tolist(),
       "first_loss": hist["train_loss"][0], "n_valid": len(hist["valid_loss"]), "distributed": is_distributed(),
       "ema": model.ema.tolist(), "raw": model.raw.tolist(),
       "resumed": resumed.lin.weight.tolist(), "straight": straight.lin.weight.tolist()}}
with open(os.path.join({out!r}, f"rank{{rank}}.json"), "w") as f:
    json.dump(out, f)
dist.destroy_process_group()
"""


def test_ddp_two_processes_stay_in_sync(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(root=str(ROOT), out=str(tmp_path)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    # --standalone: torchrun picks a free port itself (two test runs on one machine do not collide)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2 and r0["distributed"] and r1["distributed"]
    assert r0["w"] == r1["w"] and r0["b"] == r1["b"]  # identical parameters after 20 averaged (accumulated) steps
    assert r0["first_loss"] != r1["first_loss"]  # each rank drew its own batches
    assert r0["n_valid"] == 2 and r1["n_valid"] == 0  # only rank 0 validates
    assert math.isfinite(r0["w"][0][0])
    assert r0["raw"] != r1["raw"]  # each rank's own average differs...
    assert r0["ema"] == r1["ema"]  # ...the hook's all-reduced buffer does not
    assert r0["ema"] == pytest.approx([(a + b) / 2 for a, b in zip(r0["raw"], r1["raw"])], abs=1e-6)
    assert r0["resumed"] == r0["straight"] and r1["resumed"] == r1["straight"]  # resuming under DDP
