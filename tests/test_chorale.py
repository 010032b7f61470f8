"""The chorale grid's helpers: crops for training, NLL tables and baselines, copy statistics."""
import numpy as np
import pytest
import torch

from helpers.chorale import ChoraleCrops, fixed_crops, grid_baseline_nll, transpose_tokens
from helpers.data import piece_from_notes
from helpers.representations import ChoraleGrid


def test_transpose_tokens_and_crops():
    t = torch.tensor([[0, 1, 5, 46]])
    assert transpose_tokens(t[:, :3], 2, 46).tolist() == [[0, 3, 7]]
    with pytest.raises(ValueError, match="pitch range"):
        transpose_tokens(t, 1, 46)
    seqs = [np.r_[np.arange(1, 41), np.zeros(4, int)].astype(np.int64), np.arange(1, 9)]  # second too short
    crops = ChoraleCrops(seqs, length=8, n_pitch_ids=46, transpose=(-3, 3))
    assert len(crops.seqs) == 1
    batch = crops(torch.Generator().manual_seed(0), 64)
    assert batch.shape == (64, 9)
    pitched = batch[:, 1] != 0
    diffs = batch[:, 1:][pitched[:, None].expand(-1, 8) & (batch[:, 1:] != 0)]
    assert diffs.min() >= 1 and diffs.max() <= 46
    firsts = batch[:, 0]
    shifts = set()
    for row in batch:
        nz = row[row != 0]
        shifts.add(int((nz[1] - nz[0]).item()))
    assert shifts == {1}  # crops are consecutive pitches: transposition moves them together
    assert len(set(firsts.tolist())) > 5
    again = crops(torch.Generator().manual_seed(0), 64)
    assert torch.equal(batch, again)
    # crops start on a soprano token (a multiple of 4): here every soprano token is a rest and no other token is,
    # and transposition keeps rests, so a crop starting one token off has its rests in the wrong columns
    sop_rest = np.where(np.arange(64) % 4 == 0, 0, 10 + np.arange(64) % 7).astype(np.int64)
    aligned = ChoraleCrops([sop_rest], length=12, n_pitch_ids=46)(torch.Generator().manual_seed(1), 200)
    assert (aligned[:, ::4] == 0).all() and (aligned[:, 1::4] != 0).all()
    assert len(set(aligned[:, 1].tolist())) > 3  # several starts and shifts were drawn
    valid = fixed_crops(seqs, 8)
    assert [v.shape for v in valid] == [(5, 9)]
    with pytest.raises(ValueError, match="multiple of 4"):
        ChoraleCrops(seqs, length=6, n_pitch_ids=46)


def test_grid_baseline_on_synthetic_chorales():
    def chorale(shift, id):
        notes = []
        for t in range(8):
            for v, base in enumerate((72, 67, 60, 48)):
                notes.append((base + shift + (t % 3), float(t), 1.0, 80, v))
        return piece_from_notes(notes, id=id, voice_names=("S", "A", "T", "B"))

    train = [chorale(s, f"c{s}") for s in range(-3, 4)]
    res = grid_baseline_nll(train, [chorale(0, "v")], order=4, grid=ChoraleGrid("repeat"))
    aug = grid_baseline_nll(train[:1], [chorale(0, "v")], order=4, transpositions=range(-3, 4))
    assert aug["nll"] < grid_baseline_nll(train[:1], [chorale(0, "v")], order=4)["nll"]
    assert res["n_tokens"] == 8 * 4 * 4
    assert 0 < res["share_repeat"] < 1
    assert np.isfinite(res["nll"]) and res["nll_change"] > res["nll_repeat"]
