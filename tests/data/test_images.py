"""Shared image helpers: fixed random subsets and uint8 resizing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_bench.data.images import nhwc_to_nchw, resize_images, subset_indices


def test_subset_indices_are_fixed_sorted_and_spread() -> None:
    a, b = subset_indices(10000, 500), subset_indices(10000, 500)
    assert np.array_equal(a, b) and len(np.unique(a)) == 500 and np.all(np.diff(a) > 0)
    assert a.max() > 9000 and a.min() < 1000  # not a prefix
    assert subset_indices(100, 0) is None and subset_indices(100, 100) is None and subset_indices(100, 500) is None


def test_resize_modes() -> None:
    x = torch.randint(0, 256, (3, 2, 28, 28), dtype=torch.uint8)
    assert resize_images(x, 28) is x
    up = resize_images(x, 32)
    assert up.shape == (3, 2, 32, 32) and up.dtype == torch.uint8
    flat = torch.full((1, 1, 28, 28), 200, dtype=torch.uint8)
    assert torch.equal(resize_images(flat, 13), torch.full((1, 1, 13, 13), 200, dtype=torch.uint8))
    padded = resize_images(x, 32, "pad")
    assert torch.equal(padded[:, :, 2:30, 2:30], x)
    assert padded[:, :, :2].sum() == 0 and padded[:, :, :, 30:].sum() == 0
    assert torch.equal(resize_images(padded, 28, "pad"), x)  # padding to a smaller size crops the centre
    with pytest.raises(ValueError, match="uint8 NCHW"):
        resize_images(x.float(), 32)


def test_nhwc_to_nchw() -> None:
    x = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    t = nhwc_to_nchw(x)
    assert t.shape == (2, 3, 4, 5) and t.is_contiguous() and t[1, 2, 3, 4] == x[1, 3, 4, 2]
    assert nhwc_to_nchw(x[..., 0]).shape == (2, 1, 4, 5)
