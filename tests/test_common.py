"""Image loading, eval lists, ranges and shards, atomic writes."""

import re

import numpy as np
import pytest
from PIL import Image

from common.errors import ToolkitError
from common.eval_list import parse_eval_list, select_range, shard_ranges
from common.images import load_image
from common.results import write_json_atomic


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "CMYK", "LA"])
def test_any_mode_loads_as_rgb_uint8(tmp_path, mode):
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8))
    if mode == "I;16":
        img = Image.fromarray((rng.integers(0, 65536, (5, 7))).astype(np.uint16))
    else:
        img = rgb.convert(mode)
    path = tmp_path / ("x.tiff" if mode in ("I;16", "CMYK") else "x.png")
    img.save(path)
    out = load_image(path)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    Image.fromarray(np.full((3, 3), 32768, np.uint16)).save(tmp_path / "a.png")
    assert abs(int(load_image(tmp_path / "a.png")[0, 0, 0]) - 128) <= 1


def test_32bit_integer_image_holding_16bit_data(tmp_path):
    Image.fromarray(np.full((3, 3), 65535, np.int32), mode="I").save(tmp_path / "a.tiff")
    assert load_image(tmp_path / "a.tiff")[0, 0].tolist() == [255, 255, 255]


def test_grayscale_and_palette_keep_their_values(tmp_path):
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray).save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert (out == gray[..., None]).all()
    rgb = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    assert (load_image(tmp_path / "c.png") == rgb).all()


def test_exif_rotation_is_applied(tmp_path):
    img = Image.fromarray(np.zeros((2, 6, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (6, 2, 3)


def test_unsafe_or_colliding_names_are_rejected(tmp_path):
    lst = tmp_path / "l.txt"
    lst.write_text("../outside.png 1\n")
    with pytest.raises(ToolkitError, match=r"l.txt:1.*'\.\.'"):
        parse_eval_list(lst)
    lst.write_text("a/x.jpg 1\na/x.png 1\n")
    with pytest.raises(ToolkitError, match=r"l.txt:2.*line 1"):
        parse_eval_list(lst)
    lst.write_text("/abs/dir/y.png 3\n")
    sample = parse_eval_list(lst, tmp_path)[0]
    assert sample.name == "abs/dir/y.png" and sample.ref == "/abs/dir/y.png"


def test_bad_image_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ToolkitError, match="broken.jpg"):
        load_image(bad)
    with pytest.raises(ToolkitError, match="missing.png"):
        load_image(tmp_path / "missing.png")


def test_eval_list_parsing(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("# comment\n\na/b c.JPEG 12\nplain.png 3\n\nunlabelled file.png\nlast.png 999")
    samples = parse_eval_list(lst, tmp_path / "root")
    assert [s.name for s in samples] == ["a/b c.JPEG", "plain.png", "unlabelled file.png", "last.png"]
    assert [s.label for s in samples] == [12, 3, None, 999]
    assert samples[0].ref == str(tmp_path / "root" / "a/b c.JPEG")
    assert samples[0].stem == "a/b c"


@pytest.mark.parametrize("token,label", [("335", 335), ("335.0", 335), ("+7.00", 7), ("0", 0), ("img.png", None),
                                         ("abc", None)])
def test_label_tokens(token, label):
    from common.eval_list import parse_label

    assert parse_label(token) == label


@pytest.mark.parametrize("token", ["335.5", "1e3", "nan", "inf", "3.0001"])
def test_non_integer_numbers_are_refused_with_file_and_line(tmp_path, token):
    lst = tmp_path / "list.txt"
    lst.write_text(f"ok.png 1\nimg.png {token}\n")
    with pytest.raises(ToolkitError, match=rf"list.txt:2: label '{re.escape(token)}' is not an integer class id"):
        parse_eval_list(lst, tmp_path)


def test_a_file_whose_name_ends_in_a_number_is_still_a_path(tmp_path):
    (tmp_path / "scan 1.5").write_bytes(b"")
    (tmp_path / "list.txt").write_text("scan 1.5\nphoto 2.jpg\n")
    samples = parse_eval_list(tmp_path / "list.txt", tmp_path)
    assert [(s.name, s.label) for s in samples] == [("scan 1.5", None), ("photo 2.jpg", None)]
    (tmp_path / "scan 1.5").unlink()
    with pytest.raises(ToolkitError, match="label '1.5' is not an integer"):
        parse_eval_list(tmp_path / "list.txt", tmp_path)


def test_bad_line_reports_its_number(tmp_path):
    lst = tmp_path / "list.txt"
    lst.write_text("ok.png 1\nnoextension 2\n")
    with pytest.raises(ToolkitError, match=r"list.txt:2"):
        parse_eval_list(lst)


def test_missing_eval_list_names_the_flag(tmp_path):
    with pytest.raises(ToolkitError, match="--eval-list"):
        parse_eval_list(tmp_path / "nope.txt")


def test_end_minus_one_keeps_the_last_line():
    items = list(range(5))
    assert select_range(items, 0, -1) == items
    assert select_range(items, 2, None) == [2, 3, 4]
    assert select_range(items, 1, 3) == [1, 2]


@pytest.mark.parametrize("n,g", [(4891, 2), (10, 3), (7, 8), (1, 1)])
def test_shards_cover_every_line_once(n, g):
    covered = []
    for begin, end in shard_ranges(n, g):
        covered += select_range(list(range(n)), begin, end)
    assert covered == list(range(n))


def test_demo_list_has_the_required_photos():
    names = {s.name for s in parse_eval_list("demo")}
    assert {"chelsea.png", "coffee.png", "camera.png", "rocket.png", "grace_hopper.png", "china.png", "flower.png"} <= names


def test_atomic_json_leaves_no_temp_files(tmp_path):
    write_json_atomic(tmp_path / "d" / "x.json", {"a": 1})
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["x.json"]


def test_shard_cli_prints_ranges(capsys, tmp_path):
    from scripts.shard import main

    lst = tmp_path / "l.txt"
    lst.write_text("".join(f"img{i}.png {i}\n" for i in range(5)))
    assert main(["--eval-list", str(lst), "--shards", "2"]) == [(0, 3), (3, -1)]
    assert capsys.readouterr().out.split("\n")[:2] == ["0 3", "3 -1"]
