"""``generate_attributions`` and batches held by other live workers (issue 16): a run waits for them instead of
exiting 0 with work missing, uses what the other worker wrote, computes what it gave up, and with ``--no-wait``
exits non-zero naming the images it leaves to others.

The other worker is a real process (``HOLDER`` below) holding a claim on one batch through
:class:`common.claims.ClaimBoard`; the run under test is in this process with the toy model (fast).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests import toy_models
from tests.toy_photos import write_toy_photos

ROOT = Path(__file__).resolve().parent.parent
N_IMAGES = 4
HELD = (1, 2)  # the batch (images 1..1) the other worker holds

HOLDER = """
import os, sys, time
from pathlib import Path
import numpy as np
from common.claims import ClaimBoard
work, name, seconds, fill = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
with ClaimBoard(work, heartbeat_seconds=0.2, stale_seconds=300) as board:
    assert board.claim(name)
    print("claimed", flush=True)
    time.sleep(seconds)
    if fill != "none":  # finish the batch: a recognisable map, written atomically
        np.save(work / "tmp.npy", np.full((1, 3, 16, 16), float(fill), dtype=np.float32))
        os.replace(work / "tmp.npy", work / "000001-000002.npy")
    board.release(name)
"""


@pytest.fixture
def la_run(tmp_path, monkeypatch):
    """Packed toy data, the argv of a Saliency run on it (batch 1), its output path and a reference output."""
    from local_attribution import generate_attributions as ga
    from local_attribution.generate_pt import main as pack

    toy_models.register(monkeypatch)
    write_toy_photos(tmp_path, N_IMAGES, seed=2, classes=4)
    pack(["--eval-list", str(tmp_path / "list.txt"), "--Datasets", str(tmp_path / "images"), "--size", "16",
          "--save-dir", str(tmp_path / "data")])
    argv = ["--model", "toy", "--method", "sm", "--batch-size", "1", "--data", str(tmp_path / "data"),
            "--no-progress", "--heartbeat-seconds", "0.2", "--stale-seconds", "300"]
    reference = np.load(ga.main(argv + ["--save-dir", str(tmp_path / "ref")]))
    output = ga.attribution_path(tmp_path / "run", "toy", "sm")
    return argv + ["--save-dir", str(tmp_path / "run")], output, reference


def hold(output: Path, seconds: float, fill: str) -> subprocess.Popen:
    """Start the other worker on ``output``'s partial folder; return once it holds the claim on HELD."""
    from local_attribution.files import batch_name, partial_dir

    work = partial_dir(output)
    work.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(work), batch_name(HELD), str(seconds), fill],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "claimed", proc.stderr.read()
    return proc


@pytest.mark.parametrize("fill", ["7", "none"])
def test_a_run_waits_for_a_batch_a_live_worker_holds(la_run, capsys, fill):
    """fill 7: the other worker finishes its batch (all 7s), the run waits and takes it as it is; none: the other
    worker gives its batch up unfinished, the run computes it. Either way exit 0 with every image."""
    from local_attribution import generate_attributions as ga

    argv, output, reference = la_run
    holder = hold(output, 1.5, fill)
    started = time.monotonic()
    try:
        assert ga.main(argv) == output
    finally:
        holder.wait(timeout=60)
    assert holder.returncode == 0, holder.stderr.read()
    assert time.monotonic() - started >= 1.0, "returned before the other worker was done with its batch"
    maps = np.load(output)
    expected = reference.copy()
    if fill != "none":
        expected[HELD[0]:HELD[1]] = float(fill)
    np.testing.assert_array_equal(maps, expected)
    assert "waiting for 1 samples held by other workers" in capsys.readouterr().err
    assert not ga.partial_dir(output).exists()


def test_no_wait_exits_non_zero_naming_the_missing_images_then_a_rerun_takes_over(la_run, capsys):
    """--no-wait with a live holder: exit 2, one line naming images 1 and that a live worker holds them; the
    holder dies; the rerun (at once, stale after 300 s) takes its claim over and writes every image."""
    from local_attribution import generate_attributions as ga

    argv, output, reference = la_run
    holder = hold(output, 120, "7")
    try:
        with pytest.raises(SystemExit) as info:
            ga.main(argv + ["--no-wait"])
        err = capsys.readouterr().err
        assert info.value.code == 2 and not output.exists()
        error = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(error) == 1 and "images 1 are not computed" in error[0] and "held by live workers" in error[0], err
    finally:
        holder.kill()  # the worker dies holding its claim
        holder.wait(timeout=60)
    assert ga.main(argv) == output
    np.testing.assert_array_equal(np.load(output), reference)


def test_image_ranges_names_runs():
    from local_attribution.files import image_ranges

    assert image_ranges(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)) == "0..1, 3, 6..8"
    assert image_ranges(np.zeros(3, dtype=bool)) == ""


def test_two_workers_started_together_both_exit_0_with_the_whole_output(la_run):
    """Two generate_attributions processes on one output (slowed toy forwards so they overlap): each computes
    some batches, waits for the other's, and both exit 0 once the one .npy equals an uninterrupted run's."""
    import os

    argv, output, reference = la_run
    env = dict(os.environ, TOY_SLEEP="0.3", TOOLKIT_PROGRESS="off")
    workers = [subprocess.Popen([sys.executable, "-m", "tests.toy_entry", "local_attribution.generate_attributions",
                                 *argv], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    results = [worker.communicate(timeout=240) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err[-1500:] for _, err in results]
    np.testing.assert_array_equal(np.load(output), reference)
    assert not output.with_name(output.name + ".partial").exists()


def test_an_output_already_there_is_recomputed_not_taken_as_done(tmp_path):
    """compute_attributions over an existing .npy (scripts.benchmark_la times reruns into one folder) computes
    every batch and replaces it; only an output another worker writes during the call counts as done."""
    import torch

    from local_attribution import get_method
    from local_attribution.files import compute_attributions
    from local_attribution.packed import PackedBatch
    from tests.conftest import toy_classifier

    data = PackedBatch(torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0)),
                       torch.tensor([0, 1, 2]), list("abc"), "t")
    model, method = toy_classifier(size=16), get_method("sm")
    reference = np.load(compute_attributions(method, model, data, data.labels, tmp_path / "ref.npy", batch_size=1,
                                             progress=False))
    output = tmp_path / "old.npy"
    np.save(output, np.zeros_like(reference))
    assert compute_attributions(method, model, data, data.labels, output, batch_size=1, progress=False) == output
    np.testing.assert_array_equal(np.load(output), reference)
    assert np.abs(reference).sum() > 0
