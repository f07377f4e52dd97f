# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
import torch.nn.functional as F

from hsnet_mm.models.layers import (batched_level_correlations,
                                    cosine_correlation, mask_support_feature,
                                    stack_level_correlations)


def test_identical_unit_features_correlate_to_one():
    feat = F.normalize(torch.rand(2, 8, 3, 4) + 0.1, dim=1)
    corr = cosine_correlation(feat, feat)
    assert corr.shape == (2, 3, 4, 3, 4)
    diag = corr.reshape(2, 12, 12).diagonal(dim1=1, dim2=2)
    # 1 / (1 + eps)^2 with eps = 1e-5 on the norms
    torch.testing.assert_close(diag, torch.ones(2, 12), atol=3e-5, rtol=0)
    assert corr.max() <= 1 + 1e-6


def test_negative_cosine_clamped_and_zero_vector_stays_zero():
    q = torch.tensor([1., 0.]).view(1, 2, 1, 1)
    s = torch.stack([
        torch.tensor([-1., 0.]),
        torch.tensor([0., 0.]),
        torch.tensor([3., 4.])
    ],
                    dim=1).view(1, 2, 1, 3)
    corr = cosine_correlation(q, s).flatten()
    torch.testing.assert_close(corr, torch.tensor([0., 0., 0.6]))


def test_eps_added_to_norm():
    q = torch.full((1, 1, 1, 1), 2.)
    corr = cosine_correlation(q, q, eps=1.)
    # (2 / (2 + 1)) ** 2
    torch.testing.assert_close(corr.flatten(), torch.tensor([4. / 9.]))


def test_mask_support_feature_bilinear_align_corners():
    feat = torch.ones(1, 2, 4, 4)
    mask = torch.zeros(1, 5, 5)
    mask[:, :, 3:] = 1  # columns 3, 4
    out = mask_support_feature(feat, mask)
    expected = F.interpolate(
        mask[:, None], (4, 4), mode='bilinear', align_corners=True)
    torch.testing.assert_close(out, expected.expand(1, 2, 4, 4))
    # column 2 samples input column 8 / 3: a soft border value
    torch.testing.assert_close(out[0, 0, 0, 2], torch.tensor(2. / 3.))


def test_stack_level_order_and_errors():
    q = [torch.rand(2, 4, 3, 3), torch.rand(2, 6, 3, 3)]
    s = [torch.rand(2, 4, 2, 2), torch.rand(2, 6, 2, 2)]
    level = stack_level_correlations(q, s)
    assert level.shape == (2, 2, 3, 3, 2, 2)
    torch.testing.assert_close(level[:, 1], cosine_correlation(q[1], s[1]))
    with pytest.raises(ValueError, match='same non-zero number'):
        stack_level_correlations(q, s[:1])
    with pytest.raises(ValueError, match='share'):
        cosine_correlation(q[0], s[1])


@pytest.mark.parametrize('n,layers', [(1, 1), (3, 4)])
def test_batched_level_correlations_equal_per_layer(n, layers):
    torch.manual_seed(0)
    q = [torch.randn(n, 6, 5, 7) for _ in range(layers)]
    s = [torch.randn(n, 6, 4, 3) for _ in range(layers)]
    s[0][:, :, :2] = 0  # masked-out support positions stay 0
    ref = stack_level_correlations(q, s)
    out = batched_level_correlations(q, s)
    assert out.shape == ref.shape == (n, layers, 5, 7, 4, 3)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    assert (out[:, 0, :, :, :2] == 0).all()


def test_batched_level_correlations_mixed_shapes_fall_back():
    q = [torch.randn(2, 3, 4, 4), torch.randn(2, 5, 4, 4)]
    s = [torch.randn(2, 3, 3, 3), torch.randn(2, 5, 3, 3)]
    torch.testing.assert_close(
        batched_level_correlations(q, s), stack_level_correlations(q, s))


def _masked_support(n, layers, c, hs, ws, densities, seed=0):
    """Support features masked to a random share ``densities[i]`` of the
    positions of pair i (the same positions in every layer)."""
    gen = torch.Generator().manual_seed(seed)
    keep = torch.stack([
        torch.rand(hs, ws, generator=gen) < d for d in densities
    ]).float()  # (N, Hs, Ws)
    feats = [
        torch.randn(n, c, hs, ws, generator=gen, requires_grad=True)
        for _ in range(layers)
    ]
    return feats, keep


@pytest.mark.parametrize('densities', [(0.3, ), (0.0, 0.25, 0.6, 0.05)])
def test_sparse_support_path_equals_dense(monkeypatch, densities):
    """Skipping masked-out support columns changes nothing, forward and
    backward, for pairs with different masks (one of them empty)."""
    from hsnet_mm.models.layers import correlation
    monkeypatch.setattr(correlation, 'SPARSE_SUPPORT_MIN_SIZE', 0)
    n, layers = len(densities), 3
    torch.manual_seed(0)
    q = [torch.randn(n, 6, 5, 7, requires_grad=True) for _ in range(layers)]
    feats, keep = _masked_support(n, layers, 6, 6, 4, densities)
    ref = stack_level_correlations(q, [f * keep[:, None] for f in feats])
    grad = torch.randn_like(ref)
    ref_grads = torch.autograd.grad(ref, q + feats, grad)

    def no_dense(*args, **kwargs):
        raise AssertionError('the dense bmm ran')

    with monkeypatch.context() as m:
        m.setattr(correlation.torch, 'bmm', no_dense)
        out = batched_level_correlations(q, [f * keep[:, None] for f in feats])
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    for got, want in zip(torch.autograd.grad(out, q + feats, grad), ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_dense_support_falls_back_to_bmm(monkeypatch):
    """A support mask covering most positions takes the dense GEMM."""
    from hsnet_mm.models.layers import correlation
    monkeypatch.setattr(correlation, 'SPARSE_SUPPORT_MIN_SIZE', 0)
    calls = []
    bmm = torch.bmm

    def counting_bmm(*args, **kwargs):
        calls.append(1)
        return bmm(*args, **kwargs)

    monkeypatch.setattr(correlation.torch, 'bmm', counting_bmm)
    q = [torch.randn(2, 4, 3, 3) for _ in range(2)]
    feats, keep = _masked_support(2, 2, 4, 4, 4, (1.0, 0.2))
    s = [f.detach() * keep[:, None] for f in feats]
    out = batched_level_correlations(q, s)
    assert calls == [1]
    monkeypatch.setattr(correlation.torch, 'bmm', bmm)
    torch.testing.assert_close(
        out, stack_level_correlations(q, s), rtol=0, atol=1e-6)


@pytest.mark.parametrize('densities', [(0.3, 0.0), (0.0, 0.0)])
def test_sparse_support_path_under_bf16_autocast(monkeypatch, densities):
    """Under CPU autocast the sparse path returns what the dense one does:
    the GEMM's dtype, the same values (one empty mask, or all empty)."""
    from hsnet_mm.models.layers import correlation
    torch.manual_seed(0)
    q = [torch.randn(2, 6, 5, 7) for _ in range(2)]
    feats, keep = _masked_support(2, 2, 6, 6, 4, densities)
    s = [f.detach() * keep[:, None] for f in feats]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        dense = batched_level_correlations(q, s)
        monkeypatch.setattr(correlation, 'SPARSE_SUPPORT_MIN_SIZE', 0)
        sparse = batched_level_correlations(q, s)
    assert sparse.dtype == dense.dtype == torch.bfloat16
    torch.testing.assert_close(sparse, dense, rtol=0, atol=0)


@pytest.mark.parametrize('keep_count', [5, 16, 23])
def test_sparse_columns_padded_to_gemm_multiple(monkeypatch, keep_count):
    """The gathered support columns are padded with zero columns to a
    multiple of GEMM_COLUMN_MULTIPLE; the result is the dense one."""
    from hsnet_mm.models.layers import correlation
    monkeypatch.setattr(correlation, 'SPARSE_SUPPORT_MIN_SIZE', 0)
    widths = []
    matmul = torch.matmul

    def spy(a, b):
        widths.append(b.shape[-1])
        return matmul(a, b)

    monkeypatch.setattr(correlation.torch, 'matmul', spy)
    torch.manual_seed(0)
    q = [torch.randn(1, 6, 5, 7) for _ in range(2)]
    keep = torch.zeros(1, 8, 8)
    keep.view(-1)[torch.randperm(64)[:keep_count]] = 1
    s = [torch.randn(1, 6, 8, 8) * keep[:, None] for _ in range(2)]
    out = batched_level_correlations(q, s)
    assert widths == [
        -(-keep_count // correlation.GEMM_COLUMN_MULTIPLE) *
        correlation.GEMM_COLUMN_MULTIPLE
    ]
    torch.testing.assert_close(
        out, stack_level_correlations(q, s), rtol=0, atol=1e-6)


def test_autocast_operands_are_the_cast_fp32_normalisation():
    """Under autocast the normalised features are stored in the autocast
    dtype: bit for bit what autocast's cast of the fp32 ones gives."""
    from hsnet_mm.models.layers.correlation import _normalise_stacked
    torch.manual_seed(0)
    feats = [torch.randn(2, 6, 5, 7) for _ in range(3)]
    fp32, norms32 = _normalise_stacked(feats, 1e-5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        bf16, norms = _normalise_stacked(feats, 1e-5)
    assert bf16.dtype == torch.bfloat16 and norms.dtype == torch.float32
    assert torch.equal(bf16, fp32.to(torch.bfloat16))
    assert torch.equal(norms, norms32)


def test_channels_last_features_normalise_alike():
    """Features of either memory layout give the same stacked operands."""
    from hsnet_mm.models.layers.correlation import _normalise_stacked
    torch.manual_seed(0)
    feats = [torch.randn(2, 6, 5, 7) for _ in range(3)]
    cl = [f.contiguous(memory_format=torch.channels_last) for f in feats]
    a, na = _normalise_stacked(feats, 1e-5)
    b, nb = _normalise_stacked(cl, 1e-5)
    assert a.shape == (2, 3, 35, 6)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    torch.testing.assert_close(na, nb, rtol=0, atol=1e-6)


def test_dense_when_the_policy_says_so(monkeypatch):
    """sparse=False (the CUDA default) never gathers columns."""
    from hsnet_mm.models.layers import correlation
    monkeypatch.setattr(correlation, 'SPARSE_SUPPORT_MIN_SIZE', 0)
    torch.manual_seed(0)
    q = [torch.randn(2, 4, 5, 5) for _ in range(2)]
    s = [torch.randn(2, 4, 5, 5) for _ in range(2)]
    for f in s:
        f[..., 2:, :] = 0  # masked out
    sparse = batched_level_correlations(q, s)

    def refuse(*args, **kwargs):
        raise AssertionError('gathered columns with sparse=False')

    monkeypatch.setattr(torch.Tensor, 'index_select', refuse)
    dense = batched_level_correlations(q, s, sparse=False)
    torch.testing.assert_close(dense, sparse, rtol=0, atol=1e-6)
