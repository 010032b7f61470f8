"""The shared training loop: schedule, determinism, checkpoints, and DistributedDataParallel under torchrun."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from helpers.training import TrainConfig, learning_rate, load_weights, read_checkpoint, resolve_device, save_weights, train

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
    fresh = load_weights(Linear(), tmp_path / "best.pt", config={"width": 3})
    assert torch.allclose(fresh.lin.weight, model.lin.weight) or hist["best_step"] != 200
    torch.manual_seed(0)
    again = Linear()
    hist2 = train(again, mse, regression_batch, valid, _cfg())
    assert hist2["train_loss"] == hist["train_loss"]
    torch.manual_seed(0)
    other = Linear()
    hist3 = train(other, mse, regression_batch, valid, _cfg(seed=1))
    assert hist3["train_loss"] != hist["train_loss"]


def test_train_accepts_a_dataset():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 3, generator=g)
    data = torch.utils.data.TensorDataset(x, x @ W_TRUE.T + 0.3)
    torch.manual_seed(0)
    model = Linear()
    hist = train(model, mse, data, data, _cfg(steps=150, eval_every=150))
    assert hist["valid_loss"][-1] < 1e-3


def test_gradient_clipping_bounds_the_update():
    torch.manual_seed(0)
    model = Linear()
    before = model.lin.weight.detach().clone()
    huge = lambda g, b: (torch.full((b, 3), 1e4), torch.zeros(b, 1))  # noqa: E731
    train(model, mse, huge, None, _cfg(steps=1, warmup_steps=0, lr=0.1, grad_clip=1.0))
    # AdamW's first step moves each weight by ~lr regardless; clipping must keep it finite and close to that
    assert torch.isfinite(model.lin.weight).all()
    assert (model.lin.weight - before).abs().max() < 0.11


def test_weights_mismatch_and_bad_arguments(tmp_path):
    save_weights(Linear(), tmp_path / "w.pt", config={"width": 3})
    with pytest.raises(ValueError, match="width"):
        load_weights(Linear(), tmp_path / "w.pt", config={"width": 4})
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        read_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="warmup_steps"):
        TrainConfig(steps=10, warmup_steps=20)
    with pytest.raises(TypeError, match="train_data"):
        train(Linear(), mse, 42, None, _cfg(steps=1, warmup_steps=0))
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            resolve_device("cuda")


DDP_SCRIPT = """
import json, os, sys
import torch
sys.path.insert(0, {root!r})
torch.set_num_threads(1)
from tests.test_training import Linear, regression_batch, mse
from helpers.training import TrainConfig, train
torch.manual_seed(0)
model = Linear()
cfg = TrainConfig(steps=20, batch_size=8, lr=0.05, warmup_steps=2, eval_every=10, device="cpu", progress=False)
valid = [regression_batch(torch.Generator().manual_seed(99), 32)]
hist = train(model, mse, regression_batch, valid, cfg)
rank = int(os.environ["RANK"])
out = {{"rank": rank, "world": hist["world_size"], "w": model.lin.weight.tolist(), "b": model.lin.bias.tolist(),
       "first_loss": hist["train_loss"][0], "n_valid": len(hist["valid_loss"])}}
with open(os.path.join({out!r}, f"rank{{rank}}.json"), "w") as f:
    json.dump(out, f)
"""


def test_ddp_two_processes_stay_in_sync(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(root=str(ROOT), out=str(tmp_path)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", str(script)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["w"] == r1["w"] and r0["b"] == r1["b"]  # identical parameters after 20 averaged steps
    assert r0["first_loss"] != r1["first_loss"]  # each rank drew its own batches
    assert r0["n_valid"] == 2 and r1["n_valid"] == 0  # only rank 0 validates
    assert math.isfinite(r0["w"][0][0])
