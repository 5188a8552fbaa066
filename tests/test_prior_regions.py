"""Prior saliency + patch division (specs/smdl.md §2.2) and the driver's per-image region inputs."""

import json

import numpy as np
import pytest

from submodular_attribution.region_inputs import find_region_file, sample_region_inputs
from submodular_attribution.regions import DIVISIONS, divide

IMAGE = np.zeros((224, 224, 3), dtype=np.uint8)


def blocky_prior(grid_size: int, block: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A prior made of g x g constant blocks of distinct values (bilinear resizing to g x g reads them exactly)."""
    values = np.random.default_rng(seed).permutation(grid_size * grid_size).astype(np.float32).reshape(grid_size, grid_size)
    return np.kron(values, np.ones((block, block), dtype=np.float32)), values


def cell_of_pixels(size: int, grid_size: int) -> np.ndarray:
    index = (np.arange(size) * grid_size) // size
    return index[:, None] * grid_size + index[None, :]


def test_prior_patch_gives_g2_over_n_regions_in_descending_saliency():
    prior, values = blocky_prior(10, 7)
    labels = divide(IMAGE, "prior", prior=prior, grid_size=10, cells_per_region=4)
    assert labels.max() + 1 == 25
    ranked_cells = np.argsort(-values.ravel())
    expected_region_of_cell = np.empty(100, dtype=int)
    for region in range(25):
        expected_region_of_cell[ranked_cells[4 * region : 4 * region + 4]] = region
    np.testing.assert_array_equal(labels, expected_region_of_cell[cell_of_pixels(224, 10)])
    # mean prior saliency per region (on the image grid) strictly decreases with the region id
    per_pixel_value = values.ravel()[cell_of_pixels(224, 10)]
    means = [per_pixel_value[labels == r].mean() for r in range(25)]
    assert all(a > b for a, b in zip(means, means[1:]))


def test_prior_face_defaults_and_leftover_cells():
    prior, _ = blocky_prior(28, 2, seed=1)
    assert divide(IMAGE, "prior", prior=prior, grid_size=28, cells_per_region=8).max() + 1 == 98
    # 9 cells, 4 per region: 2 regions; the leftover cell joins the last (least salient) region
    prior, values = blocky_prior(3, 5, seed=2)
    labels = divide(IMAGE, "prior", prior=prior, grid_size=3, cells_per_region=4)
    counts = np.bincount(labels[cell_of_pixels(224, 3) == np.argsort(-values.ravel())[0]])
    assert labels.max() + 1 == 2 and counts.argmax() == 0
    assert np.bincount([labels[cell_of_pixels(224, 3) == c][0] for c in range(9)]).tolist() == [4, 5]


def test_prior_pixel_and_random_patch_variants():
    prior = np.arange(224 * 224, dtype=np.float32).reshape(224, 224)  # saliency grows along the raster order
    labels = divide(IMAGE, "prior", prior=prior, mode="pixel", pixel_groups=112)
    assert labels.max() + 1 == 112 and (np.bincount(labels.ravel()) == 448).all()
    assert labels.ravel()[-1] == 0 and labels.ravel()[0] == 111  # the most salient pixels are group 0
    np.testing.assert_array_equal(divide(IMAGE, "prior", prior=None, mode="random-patch", patch_number=14),
                                  divide(IMAGE, "grid", grid_size=14))


def test_prior_is_a_per_sample_input(tmp_path):
    assert DIVISIONS["prior"].sample_inputs == ("prior",)
    (tmp_path / "5").mkdir()
    np.save(tmp_path / "5" / "a.npy", np.ones((8, 8), dtype=np.float32))
    np.save(tmp_path / "b.npy", np.ones((1, 8, 8, 1), dtype=np.float32))
    assert find_region_file(tmp_path, "5", "a", "--prior-dir") == tmp_path / "5" / "a.npy"
    assert find_region_file(tmp_path, "5", "b", "--prior-dir") == tmp_path / "b.npy"  # fallback DIR/<stem>.npy
    assert sample_region_inputs("prior", {"prior_dir": str(tmp_path)}, "7", "b")["prior"].shape == (8, 8)
    assert sample_region_inputs("slico", {}, "7", "b") == {}


def test_driver_prior_run_and_missing_map(tmp_path, coffee):
    from PIL import Image

    from submodular_attribution.driver import main
    PRESET = "smdl_explanation_imagenet_superpixel"

    (tmp_path / "img").mkdir()
    for name in ("coffee.png", "nomap.png"):
        Image.fromarray(coffee).save(tmp_path / "img" / name)
    (tmp_path / "list.txt").write_text("coffee.png 967\nnomap.png 967\n")
    prior = np.zeros((224, 224), dtype=np.float32)
    prior[112:, 112:] = 2.0
    prior[:112, 112:] = 1.0
    (tmp_path / "prior" / "967").mkdir(parents=True)
    np.save(tmp_path / "prior" / "967" / "coffee.npy", prior)
    argv = ["--Datasets", str(tmp_path / "img"), "--eval-list", str(tmp_path / "list.txt"), "--superpixel-algorithm", "prior",
            "--prior-dir", str(tmp_path / "prior"), "--prior-grid-size", "2", "--prior-cells-per-region", "1",
            "--lambda2", "0", "--save-dir", str(tmp_path / "out"), "--no-progress"]
    run_dir, report = main(PRESET, argv)
    assert run_dir.name == "prior2x2-1-0.0-0.0-1.0-1.0"
    assert (report.done, report.failed) == (1, 1)
    data = json.loads((run_dir / "json/967/coffee.json").read_text())
    assert data["sub-k"] == 4 and data["division_params"]["grid_size"] == 2
    rank_map = np.load(run_dir / "npy/967/coffee.npy")
    assert rank_map.shape == (224, 224)
    error = json.loads((run_dir / "errors.jsonl").read_text().splitlines()[0])
    assert error["sample"] == "nomap.png" and "nomap.npy" in error["error"] and "--prior-dir" in error["error"]


def test_missing_prior_dir_is_a_one_line_error(tmp_path, capsys):
    from submodular_attribution.driver import main
    PRESET = "smdl_explanation_imagenet_superpixel"

    with pytest.raises(SystemExit) as exit_info:
        main(PRESET, ["--superpixel-algorithm", "prior", "--prior-dir", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.strip().count("\n") == 0 and "--prior-dir" in err and "none" in err


@pytest.mark.parametrize("bad", [np.ones((2, 3, 4, 5)), np.array([[np.nan]])])
def test_bad_prior_file_is_a_one_line_error(tmp_path, bad):
    from common.errors import ToolkitError
    from submodular_attribution.region_inputs import load_region_array

    np.save(tmp_path / "p.npy", bad)
    with pytest.raises(ToolkitError, match="p.npy"):
        load_region_array(tmp_path / "p.npy", "prior")
