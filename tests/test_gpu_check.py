"""scripts/gpu_check.py: skips cleanly without CUDA, and its model building, training, sampling and CPU/GPU comparison
run on the CPU with tiny sizes (the GPU itself is exercised where there is one)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.paths import load_script

ROOT = Path(__file__).resolve().parent.parent
gpu_check = load_script("gpu_check")

COURSE_MODELS = {"music_transformer", "vqvae", "top_prior", "upsampler", "codec", "autoencoder", "musicgen_lm",
                 "classifier"}


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the script runs instead of skipping")
def test_without_cuda_the_script_says_skipped_and_exits_0():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "scripts/gpu_check.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("skipped: no CUDA") and "train+sample" not in out.stdout


def test_every_model_of_the_course_is_built_trained_and_sampled_on_the_cpu(tmp_path):
    rc = gpu_check.main(["--device", "cpu", "--tiny", "--steps", "3", "--batch-size", "2",
                         "--out", str(tmp_path / "gpu.json")])
    results = json.loads((tmp_path / "gpu.json").read_text())
    assert rc == 0 and results["ok"] and results["shipped"] == []
    rows = {r["model"]: r for r in results["train"]}
    assert set(rows) == COURSE_MODELS
    for r in rows.values():
        assert r["ok"] and r["steps"] == 3 and not r["amp"] and r["samples"], r
    assert rows["autoencoder"]["n_params"] == sum(
        p.numel() for p in gpu_check.ae.Autoencoder(gpu_check.ae.AutoencoderConfig.tiny()).parameters())


def test_the_shipped_comparison_runs_and_fails_on_a_difference(monkeypatch):
    rows = gpu_check.compare_shipped("cpu")  # CPU against CPU: the code path, every checkpoint, equal to the bit
    assert {r["checkpoint"] for r in rows} == {p.stem for p in gpu_check.SHIPPED_CHECKPOINTS.glob("*.pt")}
    assert all(r["ok"] and r["max_abs_diff"] == 0.0 for r in rows)
    assert all(r["same_tokens"] for r in rows if not r["checkpoint"].startswith("classifier"))
    real = gpu_check.shipped_forwards

    def off_by(device):  # a device whose outputs are off by 1e-3 of their scale, and whose greedy tokens differ
        out = real("cpu")
        if device == "cpu":
            return out
        return {k: (a + 1e-3 * a.abs().max(), None if t is None else t + 1) for k, (a, t) in out.items()}

    monkeypatch.setattr(gpu_check, "shipped_forwards", off_by)
    rows = gpu_check.compare_shipped("other")
    assert not any(r["ok"] for r in rows)
    assert all(r["max_abs_diff"] > r["tolerance"] for r in rows)
