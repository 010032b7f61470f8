"""Relative attention: the skewed form equals the plain O(L²·D) form (values and gradients), clipping, the mask."""
import pytest
import torch

from helpers.attention import (
    RelativeSelfAttention,
    causal_attention,
    causal_mask,
    masked_attention,
    sdpa_attention,
    relative_logits_gather,
    relative_logits_plain,
    relative_logits_skewed,
    skew,
)

# Tolerances (the two forms add the same products in a different order): float64 atol 1e-10; float32 atol 1e-5
# plus rtol 1e-5 (the gradient of a clipped row of E sums up to L² products, so it needs a relative bound).
TOL = {torch.float64: dict(atol=1e-10, rtol=0), torch.float32: dict(atol=1e-5, rtol=1e-5)}


def _below_diag(x, L):
    return x[..., ~causal_mask(L, L)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("B,H,L,R", [(1, 1, 1, 4), (2, 3, 5, 8), (3, 2, 17, 4), (1, 4, 33, 40), (2, 2, 64, 7)])
@pytest.mark.parametrize("per_head", [False, True])
def test_skew_equals_plain_values_and_gradients(dtype, B, H, L, R, per_head):
    g = torch.Generator().manual_seed(B * 100 + L)
    q = torch.randn(B, H, L, 8, generator=g, dtype=dtype, requires_grad=True)
    E = torch.randn(*((H,) if per_head else ()), R, 8, generator=g, dtype=dtype, requires_grad=True)
    plain, skewed = relative_logits_plain(q, E), relative_logits_skewed(q, E)
    assert plain.shape == skewed.shape == (B, H, L, L)
    assert torch.allclose(_below_diag(plain, L), _below_diag(skewed, L), **TOL[dtype])
    w = torch.randn(B, H, L, L, generator=g, dtype=dtype).masked_fill(causal_mask(L, L), 0)
    gq_p, gE_p = torch.autograd.grad((plain * w).sum(), (q, E))
    gq_s, gE_s = torch.autograd.grad((skewed * w).sum(), (q, E))
    assert torch.allclose(gq_p, gq_s, **TOL[dtype])
    assert torch.allclose(gE_p, gE_s, **TOL[dtype])


def test_clipping_beyond_max_rel_uses_last_embedding():
    # L = 12 > max_rel = 3: every distance >= 2 must use E[2], in both forms.
    L, R = 12, 3
    q = torch.randn(1, 1, L, 4, dtype=torch.float64)
    E = torch.randn(R, 4, dtype=torch.float64)
    for f in (relative_logits_plain, relative_logits_skewed):
        rel = f(q, E)[0, 0]
        for i in range(L):
            for j in range(i + 1):
                expected = q[0, 0, i] @ E[min(i - j, R - 1)]
                assert torch.isclose(rel[i, j], expected, atol=1e-12), (f.__name__, i, j)


def test_skew_moves_distance_columns_onto_keys():
    # Column m of the input holds distance L-1-m; after the skew, entry (i, j) holds distance i - j.
    L = 5
    dist_of_column = torch.arange(L - 1, -1, -1, dtype=torch.float64)  # (L,)
    x = dist_of_column.expand(L, L).clone()  # every row: L-1, ..., 0
    y = skew(x)
    i, j = torch.tril_indices(L, L)
    assert torch.equal(y[i, j], (i - j).double())


def test_gather_form_matches_skew_for_any_offset():
    L, R = 20, 6
    q = torch.randn(2, 3, L, 8, dtype=torch.float64)
    E = torch.randn(3, R, 8, dtype=torch.float64)
    full = relative_logits_skewed(q, E)
    for offset in (0, 1, 7, 19):
        part = relative_logits_gather(q[:, :, offset:], E, L, offset)  # queries offset.. against all keys
        rows = full[:, :, offset:]
        keep = ~causal_mask(L - offset, L, offset)
        assert torch.allclose(part[..., keep], rows[..., keep], atol=1e-12)


def test_causal_mask_hides_the_future():
    torch.manual_seed(0)
    attn = RelativeSelfAttention(16, 2, max_rel=8).eval()
    x = torch.randn(1, 10, 16)
    y1, _ = attn(x)
    x2 = x.clone()
    x2[:, 6:] += torch.randn(1, 4, 16)  # change the future of position 5
    y2, _ = attn(x2)
    assert torch.allclose(y1[:, :6], y2[:, :6], atol=1e-6)
    assert not torch.allclose(y1[:, 6:], y2[:, 6:], atol=1e-3)
    q = torch.randn(1, 1, 4, 8)
    _, w = causal_attention(q, q, q)
    assert torch.all(w[0, 0].triu(1) == 0)
    assert torch.allclose(w.sum(-1), torch.ones(1, 1, 4))


@pytest.mark.parametrize("per_head", [False, True])
def test_relative_embeddings_are_learned_and_saved(per_head):
    attn = RelativeSelfAttention(16, 2, max_rel=5, rel_per_head=per_head)
    assert "E" in attn.state_dict()
    assert attn.E.requires_grad
    assert attn.E.shape == ((2, 5, 8) if per_head else (5, 8))
    y, _ = attn(torch.randn(2, 7, 16))
    y.square().sum().backward()
    assert attn.E.grad is not None and attn.E.grad.abs().sum() > 0
    assert any(p is attn.E for p in attn.parameters())


def test_module_skew_and_plain_agree():
    torch.manual_seed(1)
    a = RelativeSelfAttention(32, 4, max_rel=6, method="skew").double().eval()
    b = RelativeSelfAttention(32, 4, max_rel=6, method="plain").double().eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 13, 32, dtype=torch.float64)
    assert torch.allclose(a(x)[0], b(x)[0], atol=1e-10)


def test_bad_shapes_raise_clear_errors():
    q = torch.randn(1, 2, 4, 8)
    with pytest.raises(ValueError, match="E must have shape"):
        relative_logits_skewed(q, torch.randn(3, 5, 8))  # 3 tables for 2 heads
    with pytest.raises(ValueError, match="q must have shape"):
        relative_logits_plain(torch.randn(4, 8), torch.randn(5, 8))
    with pytest.raises(ValueError, match="square"):
        skew(torch.randn(3, 4))
    with pytest.raises(ValueError, match="divisible"):
        RelativeSelfAttention(10, 3)


def test_memory_tracker_counts_new_storages_not_views_and_frees():
    from helpers.attention import TensorMemoryTracker

    x = torch.zeros(1000)
    with TensorMemoryTracker() as mem:
        a = torch.ones(1000)  # 4000 bytes
        b = a.view(10, 100).t()  # a view: free
        c = torch.ones(500)  # 2000 bytes
        del c
        d = torch.ones(250)  # 1000 bytes, after c was freed
    assert mem.peak == 6000
    assert mem.current == 5000
    assert b.shape == (100, 10) and x.sum() == 0 and d.numel() == 250


def test_skew_needs_far_less_extra_memory_than_plain():
    from helpers.attention import benchmark_relative_logits

    r = benchmark_relative_logits(256, n_head=2, d_head=32, repeats=1)
    logits = 2 * 256 * 256 * 4
    assert r["plain_extra"] >= 256 * 256 * 32 * 4  # the (L, L, D) gather
    assert r["skew_extra"] < 256 * 32 * 4 * 8  # a few (L, D) tensors
    assert r["plain_peak"] - r["plain_extra"] == logits == r["skew_peak"] - r["skew_extra"]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sdpa_attention_equals_masked_attention_with_bias_and_padding(dtype):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8, generator=g, dtype=dtype) for _ in range(3))
    E = torch.randn(5, 8, generator=g, dtype=dtype)
    causal = causal_mask(7, 7)
    rel = relative_logits_skewed(q, E)
    for hide, bias in ((causal, None), (causal, rel)):
        ref, w = masked_attention(q, k, v, hide, bias)
        out, none = sdpa_attention(q, k, v, hide, bias)
        assert none is None and torch.allclose(out, ref, **TOL[dtype])
        assert torch.all(w[..., causal] == 0)
    pad = torch.zeros(2, 1, 1, 7, dtype=torch.bool)
    pad[1, ..., 4:] = True  # the second example's last 3 keys are padding
    ref, w = masked_attention(q, k, v, pad)
    assert torch.allclose(sdpa_attention(q, k, v, pad)[0], ref, **TOL[dtype])
    assert torch.all(w[1, ..., 4:] == 0) and torch.all(w[0] > 0)
