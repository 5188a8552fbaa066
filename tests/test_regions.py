import numpy as np
import pytest

from common.errors import ToolkitError
from common.images import resize_image
from submodular_attribution.regions import compact_labels, divide, region_masks


@pytest.fixture(scope="module")
def photo224(coffee):
    return resize_image(coffee, 224)


@pytest.mark.parametrize("method", ["slico", "seeds", "grid"])
def test_regions_partition_the_image(photo224, method):
    labels = divide(photo224, method)
    assert labels.shape == (224, 224) and labels.dtype == np.int32
    m = labels.max() + 1
    assert set(np.unique(labels)) == set(range(m)), "every id in 0..m-1 is used"
    assert labels.min() == 0
    masks = region_masks(labels)
    assert masks.shape == (m, 224, 224) and masks.any(axis=(1, 2)).all(), "no empty region"
    region_images = photo224[None] * masks[..., None]
    np.testing.assert_array_equal(region_images.sum(axis=0), photo224)  # the regions sum to the image


def test_slico_gives_about_49_regions_on_a_224_photo(photo224):
    m = divide(photo224, "slico").max() + 1
    assert 40 <= m <= 56


def test_seeds_gives_at_most_50_regions(photo224):
    m = divide(photo224, "seeds").max() + 1
    assert 20 <= m <= 50


def test_region_size_controls_the_count(photo224):
    coarse = divide(photo224, "slico", region_size=45).max() + 1
    fine = divide(photo224, "slico", region_size=30).max() + 1
    assert coarse < fine


def test_grid_cells_are_equal_blocks():
    labels = divide(np.zeros((8, 12, 3), np.uint8), "grid", grid_size=4)
    assert labels.max() == 15
    assert (labels[:2, :3] == 0).all() and (labels[6:, 9:] == 15).all()
    assert np.bincount(labels.ravel()).tolist() == [6] * 16


def test_compact_labels_drops_empty_ids():
    assert compact_labels(np.array([[5, 5], [9, 2]])).tolist() == [[1, 1], [2, 0]]


def test_unknown_division_and_parameter_fail_with_one_line():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ToolkitError, match="--superpixel-algorithm"):
        divide(image, "watershed")
    with pytest.raises(ToolkitError, match="grid_size"):
        divide(image, "grid", region_size=3)
