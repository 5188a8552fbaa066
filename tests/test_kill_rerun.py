"""SIGKILL mid-run, then an immediate rerun, for the LA / gradient-method generator and the baseline generator.

As ``tests/test_scale.py::test_sigkill_then_rerun_equals_an_uninterrupted_run`` does for the SMDL driver: the
killed worker's claims name a pid that is gone, so the rerun (started at once, with the default 300 s
``--stale-seconds``) takes them over, finishes the work, exits 0, and writes the bytes of an uninterrupted run;
nothing is computed twice by the rerun. Toy models (``tests/toy_models.py``) keep it fast; ``TOY_SLEEP`` slows
each forward so the kill lands mid-run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import toy_models
from tests.toy_photos import write_toy_photos

ROOT = Path(__file__).resolve().parent.parent
N_IMAGES = 6


@pytest.fixture
def images(tmp_path, monkeypatch):
    """6 random 24 x 24 photos and an eval list; toy models registered in this process."""
    toy_models.register(monkeypatch)
    write_toy_photos(tmp_path, N_IMAGES, seed=1, classes=4)
    return tmp_path


def kill_when(module: str, argv: list[str], ready, sleep: str = "0.05") -> None:
    """Run ``python -m module argv`` (toy models registered, slowed) and SIGKILL it once ``ready()`` holds."""
    env = dict(os.environ, TOY_SLEEP=sleep, TOOLKIT_PROGRESS="off")
    proc = subprocess.Popen([sys.executable, "-m", "tests.toy_entry", module, *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ready() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    finished_early = proc.poll()
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert finished_early is None, f"the run ended before the kill: {err[-2000:]}"
    assert ready(), "timed out"


def test_generate_attributions_killed_then_rerun_at_once(images, capsys):
    from local_attribution import generate_attributions as ga
    from local_attribution.generate_pt import main as pack

    pack(["--img-path", str(images / "images"), "--size", "16", "--out", str(images / "data")])
    common = ["--model", "toy", "--attr-method", "la", "--spatial-range", "2", "--max-iter", "2",
              "--sampling-times", "2", "--batch-size", "1", "--data", str(images / "data"), "--no-progress"]
    reference = ga.main(common + ["--prefix", str(images / "ref")])
    argv = common + ["--prefix", str(images / "killed")]
    output = ga.attribution_path(images / "killed", "toy", "la", 2, 2, 2)
    work = ga.partial_dir(output)
    # Killed while it holds a claim (not in the instant between two batches, which would test nothing).
    kill_when("local_attribution.generate_attributions", argv,
              lambda: len(list(work.glob("0*.npy"))) >= 2 and any((work / ".claims").glob("*.lock")))
    before = len(list(work.glob("0*.npy")))
    assert 2 <= before < N_IMAGES and not output.exists(), "killed mid-way"
    assert list((work / ".claims").glob("*.lock")), "the dead worker left a claim on the batch it was computing"

    capsys.readouterr()
    ga.main(argv + ["--status"])
    status = capsys.readouterr().out
    assert "0 batches claimed by live workers, 1 stale claims" in status, status

    assert ga.main(argv) == output  # at once: the default --stale-seconds 300 is not waited for
    assert "being computed by other workers" not in capsys.readouterr().out
    assert output.read_bytes() == reference.read_bytes()
    assert not work.exists()


def test_generate_explanation_maps_killed_then_rerun_at_once(images, capsys):
    from baseline_attribution import generate_explanation_maps as gen

    common = ["--method", "rise", "--n-masks", "40", "--batch-size", "8", "--model", "toy",
              "--eval-list", str(images / "list.txt"), "--Datasets", str(images / "images"), "--no-progress"]
    ref_dir, ref_report = gen.main(common + ["--save-dir", str(images / "ref")])
    assert ref_report.done == N_IMAGES
    argv = common + ["--save-dir", str(images / "killed")]
    method_dir = images / "killed" / ref_dir.relative_to(images / "ref")
    kill_when("baseline_attribution.generate_explanation_maps", argv,
              lambda: len(list(method_dir.glob("*/*.json"))) >= 2 and any((method_dir / ".claims").glob("*.lock")))
    before = len(list(method_dir.glob("*/*.json")))
    held = list((method_dir / ".claims").glob("*.lock"))
    assert 2 <= before < N_IMAGES and held, "killed mid-way, holding a claim"

    capsys.readouterr()
    gen.main(argv + ["--status"])
    status = capsys.readouterr().out
    assert f"done {before}, failed 0, claimed 0, missing {N_IMAGES - before}" in status, status

    _, report = gen.main(argv)  # at once
    # A claim whose map was written just before the kill is left by a finished sample: skipped, not taken over.
    assert (report.done, report.skipped, report.claimed_elsewhere) == (N_IMAGES - before, before, 0)
    assert report.taken_over <= len(held)  # done == N - before with none left to others: every dead claim was taken
    for path in sorted(ref_dir.glob("*/*.npy")):
        assert (method_dir / path.relative_to(ref_dir)).read_bytes() == path.read_bytes(), path.name
    sidecars = {p.relative_to(method_dir): {k: v for k, v in json.loads(p.read_text()).items() if k != "seconds"}
                for p in method_dir.glob("*/*.json")}
    assert sidecars == {p.relative_to(ref_dir): {k: v for k, v in json.loads(p.read_text()).items() if k != "seconds"}
                        for p in ref_dir.glob("*/*.json")}
    logged = [json.loads(line)["sample"] for line in (method_dir / "log.jsonl").read_text().splitlines()]
    assert sorted(logged) == sorted(f"img{i}.png" for i in range(N_IMAGES)), "every map computed once to the end"
    assert not list((method_dir / ".claims").glob("*.lock"))
