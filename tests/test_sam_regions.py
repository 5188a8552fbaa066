"""SAM regions: the original's post-processing on hand-made masks, the automatic generator path on a random
vit_b, precomputed masks from files, one-line checkpoint errors."""

import numpy as np
import pytest

from common.errors import ToolkitError
from submodular_attribution.regions import divide
from submodular_attribution.regions.sam import labels_from_disjoint_masks, processing_sam_concepts, sam_labels
from tests.sam_helpers import small_sam  # noqa: F401  (fixture)


def box(top, bottom, left, right, size=100):
    mask = np.zeros((size, size), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask


def test_processing_sam_concepts_hand_made_overlaps():
    big = box(0, 100, 0, 60)        # 6000 px
    small = box(20, 30, 50, 70)     # 200 px; overlap with big = 100 px: 1/60 of big, 1/2 of small -> small keeps it
    tiny = box(90, 92, 90, 92)      # 4 px <= 0.05 % of 10000 -> dropped (its pixels join the residual)
    left = box(60, 70, 70, 80)      # 100 px
    right = box(60, 70, 75, 85)     # 100 px; overlap 50 px, equal shares -> removed from the earlier mask (left)
    kept = processing_sam_concepts(np.stack([big, small, tiny, left, right]))
    expected = [big & ~small, small, box(60, 70, 70, 75), right]
    residual = ~(big | small | right | box(60, 70, 70, 75))
    assert len(kept) == 5
    for got, want in zip(kept, expected + [residual]):
        np.testing.assert_array_equal(got, want)
    assert kept[4][90:92, 90:92].all(), "the dropped tiny mask is part of the residual"
    labels = labels_from_disjoint_masks(kept)
    assert (np.stack(kept).sum(axis=0) == 1).all() and labels.max() == 4


def test_processing_sam_concepts_edge_cases():
    whole = processing_sam_concepts(np.zeros((0, 8, 8), dtype=bool))
    assert len(whole) == 1 and whole[0].all()  # no masks: one region
    full = processing_sam_concepts(np.ones((1, 8, 8), dtype=bool))
    assert len(full) == 1  # nothing left over: no residual region


def test_sam_automatic_generator_on_random_vit_b(small_sam):  # noqa: F811
    from models.sam import build_mask_generator

    image = (np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8)
    generator = build_mask_generator(small_sam, points_per_side=2, stability_score_thresh=0.0, pred_iou_thresh=0.0)
    labels = sam_labels(image, generator)
    assert labels.shape == (48, 48) and labels.dtype == np.int32
    assert set(np.unique(labels)) == set(range(labels.max() + 1))


def test_sam_checkpoint_errors(tmp_path):
    from models.sam import load_sam

    with pytest.raises(ToolkitError, match="--sam-checkpoint"):
        load_sam("vit_b", None)
    with pytest.raises(ToolkitError, match="--sam-checkpoint .*missing.pth"):
        load_sam("vit_b", tmp_path / "missing.pth")
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ToolkitError, match="not a SAM vit_b checkpoint"):
        load_sam("vit_b", tmp_path / "bad.pth")
    with pytest.raises(ToolkitError, match="--sam-model-type"):
        load_sam("vit_x", tmp_path / "bad.pth")


def test_masks_division_reads_label_maps_and_stacks():
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    label_map = np.repeat(np.repeat(np.array([[0, 7], [7, 3]]), 5, axis=0), 5, axis=1)  # 10 x 10, ids 0, 3, 7
    labels = divide(image, "masks", masks=label_map)
    assert labels.shape == (20, 20) and labels.max() == 2 and labels[0, 0] == 0 and labels[19, 19] == 1
    stack = np.stack([box(0, 10, 0, 10, size=20), box(5, 15, 5, 15, size=20)]).astype(np.uint8)
    np.testing.assert_array_equal(divide(image, "masks", masks=stack),
                                  labels_from_disjoint_masks(processing_sam_concepts(stack.astype(bool))))
    with pytest.raises(ToolkitError, match="--mask-dir"):
        divide(image, "masks")
