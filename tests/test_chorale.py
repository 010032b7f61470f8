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


def _forward_as_before(model, idx):
    """The single-stream forward pass as it was before K streams, cross-attention and SDPA, written out: token
    (+ position) embedding, blocks with the plain softmax attention, final norm, tied head. (B, T) -> (B, T, V)."""
    from helpers.attention import causal_attention, relative_logits_skewed

    x = model.tok(idx)  # (B, T, C)
    if model.pos is not None:
        x = x + model.pos(torch.arange(idx.shape[1]))
    for b in model.blocks:
        a, h = b.attn, b.ln1(x)
        B, T, C = h.shape
        q, k, v = (t.view(B, T, a.n_head, a.d_head).transpose(1, 2) for t in a.qkv(h).split(C, dim=-1))
        rel = relative_logits_skewed(q, a.E) if a.E is not None else None
        out, _ = causal_attention(q, k, v, rel)  # (B, H, T, D)
        x = x + a.proj(out.transpose(1, 2).reshape(B, T, C))
        x = x + b.mlp(b.ln2(x))
    return model.head(model.ln_f(x))


@pytest.mark.parametrize("position", ["relative", "absolute"])
def test_shipped_checkpoints_score_as_before(position):
    from helpers.chorale import chorale_nll_table
    from helpers.data import DATA_DIR, load_chorales
    from helpers.transformer import load_checkpoint

    torch.set_num_threads(1)
    model = load_checkpoint(DATA_DIR / "checkpoints" / f"mt_{position}.pt")
    assert model.config.n_streams == 1 and model.config.d_cond == 0  # old files: the new fields take defaults
    grid = ChoraleGrid("repeat")
    pieces = load_chorales("valid")[:2]
    W = model.config.max_len
    x = torch.stack([torch.as_tensor(grid.encode(p)[: W + 1]) for p in pieces])  # (2, W + 1): one full window each
    with torch.no_grad():
        now = torch.nn.functional.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:], reduction="none")
        before = torch.nn.functional.cross_entropy(_forward_as_before(model, x[:, :-1]).transpose(1, 2), x[:, 1:],
                                                   reduction="none")
    assert float((now - before).abs().max()) < 1e-4
    fast = chorale_nll_table(model, grid, pieces)  # SDPA (the default), sliding windows over whole chorales
    plain = chorale_nll_table(model.set_sdpa(False), grid, pieces)
    assert fast["n_tokens"] == plain["n_tokens"] > 2 * W
    for key in ("nll", "nll_change", "nll_repeat"):
        assert abs(fast[key] - plain[key]) < 1e-5, key
