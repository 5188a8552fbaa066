import numpy as np
import torch

from submodular_attribution.masking import compose_masked, make_fill
from submodular_attribution.regions import divide


def naive_masked(image_u8, labels, subset):
    """SMDL's construction: x_S = sum of the region images E_i = image * 1[label == i], i in S."""
    out = np.zeros_like(image_u8, dtype=np.int64)
    for region in np.flatnonzero(subset):
        out += image_u8 * (labels == region)[..., None]
    return out.astype(np.uint8)


def test_vectorised_masking_equals_naive_region_sum():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(32, 40, 3), dtype=np.uint8)
    labels = divide(image, "grid", grid_size=5)
    m = labels.max() + 1
    subsets = torch.from_numpy(rng.random((9, m)) < 0.4)
    x = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    batch = compose_masked(x, torch.zeros_like(x), torch.from_numpy(labels).long(), subsets)
    for b in range(len(subsets)):
        expected = naive_masked(image, labels, subsets[b].numpy())
        got = (batch[b].permute(1, 2, 0) * 255).round().byte().numpy()
        np.testing.assert_array_equal(got, expected)


def test_kept_plus_complement_is_the_image():
    rng = np.random.default_rng(1)
    x = torch.rand(3, 10, 10)
    labels = torch.from_numpy(divide(np.zeros((10, 10, 3), np.uint8), "grid", grid_size=2)).long()
    subsets = torch.from_numpy(rng.random((4, 4)) < 0.5)
    fill = torch.zeros_like(x)
    total = compose_masked(x, fill, labels, subsets) + compose_masked(x, fill, labels, ~subsets)
    torch.testing.assert_close(total, x.expand(4, -1, -1, -1))


def test_fills():
    x = torch.rand(3, 8, 8)
    assert torch.equal(make_fill(x, "black"), torch.zeros_like(x))
    torch.testing.assert_close(make_fill(x, "mean")[:, 0, 0], x.mean(dim=(1, 2)))
    blurred = make_fill(x, "blur")
    assert blurred.shape == x.shape and blurred.std() < x.std()
