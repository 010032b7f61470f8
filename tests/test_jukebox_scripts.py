"""The training scripts of notebook 04 refuse to overwrite the shipped checkpoints without --overwrite-shipped."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name, args", [("train_vqvae", ["--hop", "64"]), ("train_priors", ["--which", "top"])])
def test_scripts_refuse_the_shipped_folder(name, args, capsys):
    mod = script(name)
    with pytest.raises(SystemExit):
        mod.parse_args(args + ["--out", str(ROOT / "data" / "checkpoints" / "x.pt")])
    assert "--overwrite-shipped" in capsys.readouterr().err
    ok = mod.parse_args(args + ["--out", str(ROOT / "data" / "checkpoints" / "x.pt"), "--overwrite-shipped"])
    assert ok.out.endswith("x.pt")
    assert mod.parse_args(args).out.startswith("runs/")
