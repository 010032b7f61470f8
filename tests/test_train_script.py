"""scripts/train_music_transformer.py: writes to runs/ by default and refuses to overwrite the shipped checkpoints."""
from pathlib import Path

import pytest
from helpers.paths import load_script

ROOT = Path(__file__).resolve().parent.parent
script = load_script("train_music_transformer")


def test_default_output_is_the_scratch_folder():
    assert script.parse_args([]).out == "runs/mt_relative.pt"
    assert script.parse_args(["--position", "absolute"]).out == "runs/mt_absolute.pt"
    args = script.parse_args(["--resume", "--stop-after", "10"])
    assert args.resume and args.stop_after == 10


@pytest.mark.parametrize("argv", [
    ["--out", "data/checkpoints/mt_relative.pt"],
    ["--out", str(ROOT / "data" / "checkpoints" / "new.pt")],
    ["--out", "runs/../data/checkpoints/mt_relative.pt"],
    ["--work", "data/checkpoints"],
])
def test_refuses_to_write_into_the_shipped_checkpoints(argv, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit):
        script.parse_args(argv)
    assert "--overwrite-shipped" in capsys.readouterr().err
    assert script.parse_args(argv + ["--overwrite-shipped"]).overwrite_shipped


def test_stop_after_needs_resume(capsys):
    with pytest.raises(SystemExit):
        script.parse_args(["--stop-after", "5"])
    assert "--resume" in capsys.readouterr().err
