"""Safe at scale: bad input before the model loads, run identity, claims, shards, SIGKILL + resume, status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from common.errors import ToolkitError
from submodular_attribution.driver import main
from tests import toy_models
from tests.toy_photos import write_toy_photos

PRESET = "smdl_explanation_imagenet_superpixel"

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def toy_set(tmp_path, monkeypatch):
    """6 small random photos, an eval list, and the toy models registered."""
    toy_models.register(monkeypatch)
    write_toy_photos(tmp_path, 6, seed=0, classes=3)
    return tmp_path


def toy_argv(root: Path, save_dir: str = "out", *more: str) -> list[str]:
    return ["--Datasets", str(root / "images"), "--eval-list", str(root / "list.txt"), "--model", "toy",
            "--superpixel-algorithm", "grid", "--grid-size", "2", "--save-dir", str(root / save_dir),
            "--no-progress", "--heartbeat-seconds", "0.1", "--stale-seconds", "1", *more]


def results_of(run_dir: Path) -> dict[str, tuple[dict, bytes]]:
    """json (without wall time) and npy bytes of every result in a run folder."""
    out = {}
    for path in sorted((run_dir / "json").rglob("*.json")):
        data = json.loads(path.read_text())
        data.pop("seconds")
        relative = path.relative_to(run_dir / "json").with_suffix(".npy")
        out[str(relative)] = (data, (run_dir / "npy" / relative).read_bytes())
    return out


# --------------------------------------------------------------------------------------------------------
# Bad input: every row of the README's table. The model must not load for flag errors.

def _forbid_model_load(monkeypatch):
    import models

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the flags were checked")

    monkeypatch.setattr(models, "load_model", refuse)


FLAG_ERRORS = [
    ("region_size_448_segfault", ["--superpixel-algorithm", "slico", "--region-size", "448"], "--region-size 448"),
    ("region_size_150_one_region", ["--superpixel-algorithm", "slico", "--region-size", "150"], "--region-size 150"),
    ("region_size_zero", ["--superpixel-algorithm", "slico", "--region-size", "0"], "--region-size 0"),
    ("region_size_too_many_regions", ["--superpixel-algorithm", "slico", "--region-size", "2"], "--max-regions"),
    ("grid_size_500", ["--grid-size", "500"], "--grid-size 500"),
    ("grid_size_1", ["--grid-size", "1"], "--grid-size 1"),
    ("grid_size_40_over_max_regions", ["--grid-size", "40"], "--max-regions"),
    ("lambda_nan", ["--lambda2", "nan"], "--lambda2 nan"),
    ("lambda_inf", ["--lambda3", "inf"], "--lambda3 inf"),
    ("lambda_negative", ["--lambda1", "-1"], "--allow-negative"),
    ("batch_size_zero", ["--batch-size", "0"], "--batch-size 0"),
    ("min_target_prob_above_1", ["--min-target-prob", "2"], "--min-target-prob 2"),
    ("begin_negative", ["--begin", "-3"], "--begin -3"),
    ("prefetch_negative", ["--prefetch", "-1"], "--prefetch -1"),
    ("stale_below_heartbeat", ["--heartbeat-seconds", "10", "--stale-seconds", "5"], "--stale-seconds"),
    ("shard_out_of_range", ["--shard", "3/2"], "--shard 3/2"),
    ("shard_not_i_over_n", ["--shard", "two"], "--shard two"),
    ("weights_missing", ["--weights", "/nonexistent/w.pth"], "--weights"),
    ("unknown_division_from_config", ["--superpixel-algorithm", "nope"], None),  # argparse's own error
]


@pytest.mark.parametrize("case,flags,expected", FLAG_ERRORS, ids=[c for c, _, _ in FLAG_ERRORS])
def test_bad_flag_is_one_line_before_the_model_loads(case, flags, expected, toy_set, monkeypatch, capsys):
    _forbid_model_load(monkeypatch)
    argv = toy_argv(toy_set) + flags
    with pytest.raises(SystemExit) as info:
        main(PRESET, argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    if expected is not None:
        assert err.count("\n") == 0 and err.startswith("error: ") and expected in err, err
    assert not (toy_set / "out").exists() or not any((toy_set / "out").rglob("*.json"))


def test_negative_lambda_accepted_with_allow_negative(toy_set):
    run_dir, report = main(PRESET, toy_argv(toy_set, "out", "--lambda1", "-0.5", "--allow-negative", "--end", "1"))
    assert report.done == 1


@pytest.mark.parametrize("case", ["save_dir_is_a_file", "save_dir_under_a_file", "save_dir_read_only_mount"])
def test_unwritable_save_dir(case, toy_set, monkeypatch, capsys):
    _forbid_model_load(monkeypatch)
    (toy_set / "a_file").write_text("x")
    target = {"save_dir_is_a_file": toy_set / "a_file", "save_dir_under_a_file": toy_set / "a_file" / "sub",
              "save_dir_read_only_mount": Path("/proc/smdl-results")}[case]
    argv = toy_argv(toy_set) + ["--save-dir", str(target)]
    with pytest.raises(SystemExit) as info:
        main(PRESET, argv)
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.count("\n") == 0 and "--save-dir" in err, err


def test_read_only_folder_for_a_normal_user(tmp_path):
    """chmod 555 stops a normal user (root writes anyway: then the folder is writable and the check passes)."""
    from common.validation import check_writable_dir

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.geteuid() == 0:
            check_writable_dir("--save-dir", folder / "x")
        else:
            with pytest.raises(ToolkitError, match="--save-dir"):
                check_writable_dir("--save-dir", folder / "x")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("content,expected", [
    ("img0.png abc\n", ":1: label 'abc' is not an integer"),
    ("img0.png 1\nimg1.png 2x\n", ":2: label '2x' is not an integer"),
    ("img0.png -4\n", ":1: negative class id"),
    ("img0.png 1\nimg1.png 335.5\n", ":2: label '335.5' is not an integer class id"),
    ("img0.png nan\n", ":1: label 'nan' is not an integer class id"),
    ("# only a comment\n\n", "no samples"),
    ("", "no samples"),
])
def test_bad_eval_list(content, expected, toy_set, monkeypatch, capsys):
    _forbid_model_load(monkeypatch)
    (toy_set / "list.txt").write_text(content)
    with pytest.raises(SystemExit) as info:
        main(PRESET, toy_argv(toy_set))
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.count("\n") == 0 and expected in err, err


def test_float_label_with_zero_fraction_is_the_integer_class(toy_set, monkeypatch):
    """``img0.png 2.0`` explains class 2 (was read as the file name 'img0.png 2.0': "image file not found")."""
    (toy_set / "list.txt").write_text("img0.png 2.0\nimg1.png 1\n")
    run_dir, report = main(PRESET, toy_argv(toy_set))
    assert (report.done, report.failed) == (2, 0)
    assert json.loads((run_dir / "json" / "2" / "img0.json").read_text())["target"] == 2


def test_path_with_a_space_is_not_a_bad_label(tmp_path):
    from common.eval_list import parse_eval_list

    (tmp_path / "my photo.png").write_bytes(b"")
    (tmp_path / "list.txt").write_text("my photo.png\n")
    assert parse_eval_list(tmp_path / "list.txt", tmp_path)[0].label is None


def test_range_that_selects_nothing_warns(toy_set, monkeypatch, capsys):
    _forbid_model_load(monkeypatch)
    _, report = main(PRESET, toy_argv(toy_set) + ["--begin", "50"])
    assert (report.done, report.failed) == (0, 0)
    assert "selects no line of the 6-line eval list" in capsys.readouterr().err


def test_tiny_image_low_probability_and_one_region_are_reported(toy_set, monkeypatch, capsys):
    from PIL import Image

    from submodular_attribution.regions import DIVISIONS
    from submodular_attribution.regions.base import DivisionSpec

    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(toy_set / "images" / "dot.png")
    (toy_set / "list.txt").write_text("dot.png 0\nimg0.png 3\n")
    _, report = main(PRESET, toy_argv(toy_set, "out", "--model", "toy_zero"))
    err = capsys.readouterr().err
    assert report.failed == 1 and "dot.png" in err and "1x1 pixels" in err
    data = json.loads(next((toy_set / "out").rglob("img0.json")).read_text())
    assert data["low_target_prob"] is True and data["min_target_prob"] == 0.01 and data["org_score"] < 1e-6
    assert "--min-target-prob" in err and data["warnings"]

    monkeypatch.setitem(DIVISIONS, "single", DivisionSpec("single", lambda image: np.zeros(image.shape[:2], np.int32),
                                                          "one region", ()))
    argv = toy_argv(toy_set, "out1") + ["--superpixel-algorithm", "single"]
    _, report = main(PRESET, argv)
    assert report.done == 1 and "gives 1 region" in capsys.readouterr().err


def test_slico_never_segfaults_on_a_large_region_size():
    from submodular_attribution.regions import divide

    image = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ToolkitError, match="--region-size 32"):
        divide(image, "slico", region_size=32)
    with pytest.raises(ToolkitError, match="--region-size 31: must be between 1 and 8"):  # one seed: the one check refuses it
        divide(image, "slico", region_size=31)
    assert divide(image, "slico", region_size=8).max() >= 1


def test_garbage_weights_is_our_one_line_error(tmp_path):
    from models.classifiers import _load_state_dict

    garbage = tmp_path / "w.pth"
    garbage.write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(ToolkitError) as info:
        _load_state_dict(garbage)
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message and "--weights" in message


def test_eval_la_unknown_method(capsys):
    from evals.eval_la import main as eval_la_main

    with pytest.raises(SystemExit) as info:
        eval_la_main(["--attr_method", "bogus"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--method: unknown 'bogus'" in err and "choose one of la, agi" in err and "generate_attributions" not in err


def test_eval_that_skips_a_file_exits_non_zero(toy_set, capsys):
    from evals import eval_AUC_faithfulness, eval_highest_confidence

    run_dir, _ = main(PRESET, toy_argv(toy_set, "out", "--end", "2"))
    capsys.readouterr()
    bad = run_dir / "json" / "0" / "corrupt.json"
    bad.write_text("{not json")
    (run_dir / "npy" / "0" / "corrupt.npy").write_bytes(b"x")
    summary = eval_AUC_faithfulness.main(["--explanation-dir", str(run_dir)])
    err = capsys.readouterr().err
    assert summary["exit_status"] == 1 and summary["num_images"] == 2 and "1 result files skipped" in err
    assert eval_AUC_faithfulness.main(["--explanation-dir", str(run_dir), "--allow-skipped"])["exit_status"] == 0
    assert eval_highest_confidence.main(["--explanation-dir", str(run_dir)])["exit_status"] == 1
    bad.unlink()
    assert eval_AUC_faithfulness.main(["--explanation-dir", str(run_dir)])["exit_status"] == 0


# --------------------------------------------------------------------------------------------------------
# Run identity

def test_other_model_or_division_into_the_same_folder_never_serves_old_results(toy_set, capsys):
    run_dir, first = main(PRESET, toy_argv(toy_set, "same", "--end", "2"))
    config = (run_dir / "config.json").read_text()
    assert first.done == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(PRESET, toy_argv(toy_set, "same", "--end", "2", "--model", "toy_b"))
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.count("\n") == 0 and "model: 'toy' -> 'toy_b'" in err, err
    assert (run_dir / "config.json").read_text() == config, "config.json is never overwritten"
    # another division parameter: another folder (its name carries it), nothing served from the first
    other_dir, other = main(PRESET, toy_argv(toy_set, "same", "--end", "2", "--grid-size", "3"))
    assert other_dir != run_dir and other.done == 2 and other.skipped == 0
    # flags that do not change results (batch size) resume without redoing anything
    _, again = main(PRESET, toy_argv(toy_set, "same", "--end", "2", "--batch-size", "3"))
    assert (again.done, again.skipped) == (0, 2)
    assert (run_dir / "config.json").read_text() == config


def test_a_result_of_other_settings_is_recomputed(toy_set):
    run_dir, _ = main(PRESET, toy_argv(toy_set, "out", "--end", "2"))
    path = next((run_dir / "json").rglob("img0.json"))
    data = json.loads(path.read_text())
    data["identity_key"] = "0000000000000000"
    path.write_text(json.dumps(data))
    _, again = main(PRESET, toy_argv(toy_set, "out", "--end", "2"))
    assert (again.done, again.skipped) == (1, 1)
    assert json.loads(path.read_text())["identity_key"] != "0000000000000000"


def test_weights_file_hash_is_part_of_the_identity(tmp_path):
    from common.run_identity import RunIdentity, bind_run_folder, file_sha256

    weights = tmp_path / "w.pth"
    weights.write_bytes(b"a")
    first = RunIdentity.from_settings({"model": "m", "weights_sha256": file_sha256(weights)})
    bind_run_folder(tmp_path / "run", first)
    time.sleep(0.01)
    weights.write_bytes(b"b")
    second = RunIdentity.from_settings({"model": "m", "weights_sha256": file_sha256(weights)})
    with pytest.raises(ToolkitError, match="weights_sha256"):
        bind_run_folder(tmp_path / "run", second)


def test_a_family_or_selector_option_into_the_same_folder_is_refused(toy_set, monkeypatch, capsys):
    """--record-counterfactual (not in the folder name) and a selector option (in the folder name; here forced
    into one folder, as a name collision would) are part of the identity: refused, nothing served."""
    from submodular_attribution import driver

    run_dir, first = main(PRESET, toy_argv(toy_set, "fam", "--end", "2"))
    config = (run_dir / "config.json").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(PRESET, toy_argv(toy_set, "fam", "--end", "2", "--record-counterfactual"))
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.count("\n") == 0 and "record_counterfactual: None -> True" in err, err
    assert (run_dir / "config.json").read_text() == config
    # options greedy does not read change nothing: resumed, not refused
    _, again = main(PRESET, toy_argv(toy_set, "fam", "--end", "2", "--seed", "5", "--lazy-batch", "2"))
    assert (again.done, again.skipped) == (0, 2)

    monkeypatch.setattr(driver, "run_folder_name", lambda args: "one-folder")
    lazy_dir, lazy = main(PRESET, toy_argv(toy_set, "sel", "--end", "2", "--selector", "lazy", "--lazy-batch", "2"))
    assert lazy.done == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(PRESET, toy_argv(toy_set, "sel", "--end", "2", "--selector", "lazy", "--lazy-batch", "3"))
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.count("\n") == 0 and "selector_options" in err and "'lazy_batch': 3" in err, err


def test_zero_shot_evidential_and_reference_files_are_part_of_the_identity(tmp_path):
    """File options by content hash: rewriting --class-names / --templates / --reference / --uncertainty-weights
    in place (same path) gives another identity, as do --bgr, --logit-scale, --evidence-scale."""
    from common.cli_style import normalise_flags
    from common.run_identity import bind_run_folder
    from submodular_attribution.driver import build_parser, run_identity

    files = {name: tmp_path / name for name in ("names.txt", "templates.txt", "ref.npy", "edl.pth")}
    for path in files.values():
        path.write_text("a")
    parser = normalise_flags(build_parser(PRESET))
    clip = ["--model", "clip:ViT-B-32", "--class-names", str(files["names.txt"]), "--templates", str(files["templates.txt"])]
    embed = ["--model", "embed:toy", "--reference", str(files["ref.npy"])]
    edl = ["--uncertainty-model", "resnet18", "--uncertainty-weights", str(files["edl.pth"])]

    def key(*argv):
        return run_identity(parser.parse_args(list(argv)))

    base = {"clip": key(*clip), "embed": key(*embed), "edl": key(*edl)}
    assert len({k.key for k in base.values()} | {key().key}) == 4
    for flags, which in (([*clip, "--bgr"], "clip"), ([*clip, "--logit-scale", "10"], "clip"),
                         ([*clip, "--prototype-recipe", "raw"], "clip"), ([*edl, "--evidence-scale", "5"], "edl")):
        assert key(*flags).key != base[which].key, flags
    time.sleep(0.01)
    for name, which, argv in (("names.txt", "clip", clip), ("templates.txt", "clip", clip), ("ref.npy", "embed", embed),
                              ("edl.pth", "edl", edl)):
        files[name].write_text("b" + name)
        changed = key(*argv)
        assert changed.key != base[which].key, name
        bind_run_folder(tmp_path / f"run-{name}", base[which])
        with pytest.raises(ToolkitError, match="sha256"):
            bind_run_folder(tmp_path / f"run-{name}", changed)
    # --evidence-scale without --uncertainty-model is not used: same identity as the plain run
    assert key("--evidence-scale", "5").key == key().key


# --------------------------------------------------------------------------------------------------------
# Shards: every launcher convention covers the list exactly once

def _cover(shards, items):
    return sorted(x for shard in shards for x in shard.select(items))


@pytest.mark.parametrize("n_items", [0, 1, 5, 11])
@pytest.mark.parametrize("n_shards", [1, 2, 3, 4])
def test_every_launcher_convention_covers_the_list_exactly_once(n_items, n_shards):
    from common.sharding import parse_shard, shard_from_env

    items = list(range(n_items))
    conventions = {
        "--shard": [parse_shard(f"{i}/{n_shards}") for i in range(n_shards)],
        "torchrun": [shard_from_env({"RANK": str(i), "WORLD_SIZE": str(n_shards)}) for i in range(n_shards)],
        "slurm": [shard_from_env({"SLURM_PROCID": str(i), "SLURM_NTASKS": str(n_shards)}) for i in range(n_shards)],
        "slurm-array": [shard_from_env({"SLURM_ARRAY_TASK_ID": str(7 + i), "SLURM_ARRAY_TASK_MIN": "7",
                                        "SLURM_ARRAY_TASK_COUNT": str(n_shards)}) for i in range(n_shards)],
        "array x tasks": [shard_from_env({"SLURM_ARRAY_TASK_ID": str(a), "SLURM_ARRAY_TASK_COUNT": str(n_shards),
                                          "SLURM_PROCID": str(t), "SLURM_NTASKS": "2"})
                          for a in range(n_shards) for t in range(2)],
    }
    for name, shards in conventions.items():
        assert _cover(shards, items) == items, name


def test_torchrun_wins_over_slurm_tasks_and_flag_wins_over_all():
    from common.sharding import resolve_shard

    env = {"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}
    assert (resolve_shard(None, env).index, resolve_shard(None, env).count) == (1, 2)
    assert resolve_shard("0/3", env).count == 3
    assert resolve_shard(None, {}).count == 1


def test_multigpu_launcher_takes_any_module_and_covers_the_list(toy_set):
    """scripts/smdl_multigpu.sh -> scripts/multigpu.sh MODULE: --shard i/N per worker; old EVAL_LIST still read."""
    env = dict(os.environ, GPUS="cpu cpu", LOG_DIR=str(toy_set / "logs"), PYTHON=sys.executable,
               MODULE="tests.toy_models", EVAL_LIST=str(toy_set / "list.txt"))
    argv = [a for a in toy_argv(toy_set, "mg") if a != "--no-progress"]
    argv = argv[:argv.index("--eval-list")] + argv[argv.index("--eval-list") + 2:]
    proc = subprocess.run(["bash", str(ROOT / "scripts/smdl_multigpu.sh"), *argv],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "shard 0/2" in proc.stdout and "shard 1/2" in proc.stdout
    assert len(list((toy_set / "mg").rglob("*.json"))) == 6 + 1  # 6 results + config.json
    logs = "".join(p.read_text() for p in (toy_set / "logs").glob("*.log"))
    assert "\r" not in logs and "\x1b" not in logs, "no escape codes in redirected logs"
    assert "shard 0/2 (--shard): 3 samples" in logs


# --------------------------------------------------------------------------------------------------------
# Claims: processes sharing a folder compute each sample once; a killed worker's claim is taken over

def _workers(run_dir: Path, count: int, n_samples: int, sleep: float, stale: float = 2.0) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "tests.claim_worker", str(run_dir), str(n_samples), str(sleep),
                              str(stale)], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(count)]


@pytest.mark.parametrize("n_workers", [2, 4])
def test_workers_on_one_folder_compute_each_sample_once(tmp_path, n_workers):
    procs = _workers(tmp_path, n_workers, 12, 0.05)
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    computed = [line.split()[0] for line in (tmp_path / "computed.log").read_text().splitlines()]
    assert sorted(computed) == sorted(f"s{i}" for i in range(12)), "each sample computed exactly once"
    assert sum(int(o.split()[0]) for o in outputs) == 12


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.02)
    assert condition(), "timed out"


def test_a_killed_workers_claim_is_taken_over_at_once(tmp_path):
    """Same machine: the claim names host, boot id, pid namespace, pid and start time; a gone pid frees it."""
    from common.claims import ClaimBoard
    from common.status import run_status

    (slow,) = _workers(tmp_path, 1, 1, 60.0, stale=300.0)  # claims s0 and hangs in it; 300 s before it goes stale
    _wait_for(lambda: (tmp_path / "computed.log").exists())
    with ClaimBoard(tmp_path, heartbeat_seconds=0.1, stale_seconds=300) as board:
        assert not board.claim("s0"), "a live worker's claim is respected"
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    status = run_status(tmp_path, ["s0"], lambda n: (tmp_path / "done" / n).exists(), lambda n: n, stale_seconds=300)
    assert (status["claimed"], status["missing"], status["stale"]) == (0, 1, 1), "a dead owner's claim is not 'claimed'"
    (rescuer,) = _workers(tmp_path, 1, 1, 0.0, stale=300.0)  # at once: no waiting for --stale-seconds
    done, elsewhere, taken_over, _ = map(int, rescuer.communicate(timeout=60)[0].split())
    assert (done, elsewhere, taken_over) == (1, 0, 1) and (tmp_path / "done" / "s0").exists()


def test_a_claim_from_another_machine_is_taken_over_only_when_stale(tmp_path):
    from common.claims import ClaimBoard, live_claims

    with ClaimBoard(tmp_path, heartbeat_seconds=0.1, stale_seconds=5) as board:
        path = board.path_of("s0")
        path.write_text(json.dumps({"owner": "elsewhere:1:x", "sample": "s0", "host": "elsewhere", "boot_id": "b",
                                    "pid_ns": "n", "pid": 1, "start_ticks": 1}))
        assert not board.claim("s0"), "its pid says nothing here: wait for its heartbeat to stop"
        assert live_claims(tmp_path, 5)["s0"]["dead"] is False
        os.utime(path, (time.time() - 6, time.time() - 6))
        assert board.claim("s0") and board.takeovers == [("s0", "elsewhere:1:x")]


def test_pid_reuse_and_zombies_are_recognised(tmp_path):
    from common.claims import owner_alive, process_identity

    me = process_identity()
    assert owner_alive(me) is True
    assert owner_alive({**me, "start_ticks": me["start_ticks"] + 1}) is False, "same pid, other start time: reused"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {**me, "pid": child.pid, "start_ticks": None}
        assert owner_alive(record) is True
        child.kill()
        _wait_for(lambda: Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] == "Z")
        assert owner_alive(record) is False, "a zombie (killed, not reaped) is dead"
    finally:
        child.kill()
        child.wait()
    assert owner_alive({**me, "host": "elsewhere"}) is None


def test_a_rerun_waits_for_a_live_worker_and_finishes_what_it_leaves(tmp_path):
    """Never exit 0 with work missing: wait for samples held by live workers; do the ones a dying worker drops."""
    (first,) = _workers(tmp_path, 1, 1, 1.5, stale=300.0)  # holds s0 for 1.5 s, then finishes it
    _wait_for(lambda: (tmp_path / "computed.log").exists())
    (second,) = _workers(tmp_path, 1, 2, 0.0, stale=300.0)
    out = second.communicate(timeout=60)[0]
    assert first.wait(timeout=60) == 0 and second.returncode == 0
    assert list(map(int, out.split())) == [1, 0, 0, 1], "s1 computed, s0 finished by the other worker"
    computed = [line.split()[0] for line in (tmp_path / "computed.log").read_text().splitlines()]
    assert sorted(computed) == ["s0", "s1"], "nothing computed twice"

    (tmp_path / "done" / "s0").unlink()
    (tmp_path / "done" / "s1").unlink()
    (tmp_path / "computed.log").unlink()
    (first,) = _workers(tmp_path, 1, 1, 60.0, stale=300.0)  # holds s0 and will be killed
    _wait_for(lambda: (tmp_path / "computed.log").exists())
    (second,) = _workers(tmp_path, 1, 2, 0.0, stale=300.0)
    _wait_for(lambda: (tmp_path / "done" / "s1").exists())
    time.sleep(1.5)
    assert second.poll() is None and not (tmp_path / "done" / "s0").exists(), "still waiting for the live worker"
    first.send_signal(signal.SIGKILL)
    first.wait()
    out = second.communicate(timeout=60)[0]
    assert second.returncode == 0 and list(map(int, out.split())) == [2, 0, 1, 0]
    assert (tmp_path / "done" / "s0").exists()


def test_a_live_claim_stays_fresh_through_heartbeats(tmp_path):
    from common.claims import ClaimBoard

    with ClaimBoard(tmp_path, heartbeat_seconds=0.05, stale_seconds=0.3) as owner:
        assert owner.claim("x")
        time.sleep(0.5)
        other = ClaimBoard(tmp_path, heartbeat_seconds=0.05, stale_seconds=0.3)
        assert not other.claim("x"), "heartbeats keep a working worker's claim"
    assert not owner.path_of("x").exists(), "released on exit"


# --------------------------------------------------------------------------------------------------------
# SIGKILL mid-run, then resume: every image once, every file valid and equal to an uninterrupted run's

def _status_counts(line: str) -> dict[str, int]:
    """``done 3, failed 0, claimed 0, missing 2 (...)`` -> counts."""
    import re

    return {kind: int(n) for kind, n in re.findall(r"(done|failed|claimed|missing) (\d+)", line)}


def test_sigkill_then_rerun_equals_an_uninterrupted_run(toy_set, capsys):
    """Killed mid-sample, rerun at once (no waiting for --stale-seconds): the dead worker's sample is taken over."""
    reference_dir, _ = main(PRESET, toy_argv(toy_set, "ref"))
    argv = toy_argv(toy_set, "killed") + ["--stale-seconds", "300", "--heartbeat-seconds", "30"]
    env = dict(os.environ, TOY_SLEEP="0.03", TOOLKIT_PROGRESS="plain")
    proc = subprocess.Popen([sys.executable, "-m", "tests.toy_models", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = toy_set / "killed" / reference_dir.name
    deadline = time.time() + 60
    while len(list(run_dir.glob("json/*/*.json"))) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(list(run_dir.glob("json/*/*.json")))
    assert 2 <= before < 6, "killed mid-way"
    held = list((run_dir / ".claims").glob("*.lock"))
    assert held, "the dead worker left its claims (the sample it computed, and the ones prefetched)"

    capsys.readouterr()
    main(PRESET, argv + ["--status"])
    status = capsys.readouterr().out.splitlines()[0]
    counts = _status_counts(status)
    assert counts["done"] == before and counts["claimed"] == 0 and counts["missing"] == 6 - before, status

    _, report = main(PRESET, argv)  # at once
    assert report.done == 6 - before and report.skipped == before and report.claimed_elsewhere == 0
    assert report.taken_over == len(held)
    assert results_of(run_dir) == results_of(reference_dir)
    assert not list(run_dir.rglob("*.tmp")) and not list((run_dir / ".claims").glob("*.lock"))


# --------------------------------------------------------------------------------------------------------
# Prefetching, flag style, progress lines

def test_prefetch_gives_the_same_results_in_the_same_order(toy_set):
    from common.prefetch import prefetch

    def prepare(x):
        if x == 3:
            raise ValueError("three")
        return x * 10

    eager = list(prefetch(range(6), prepare, 0))
    ahead = list(prefetch(range(6), prepare, 2))
    assert [(i, r) for i, r, _ in eager] == [(i, r) for i, r, _ in ahead]
    assert isinstance(ahead[3][2], ValueError) and ahead[4][1] == 40

    plain, _ = main(PRESET, toy_argv(toy_set, "p0", "--prefetch", "0"))
    fetched, _ = main(PRESET, toy_argv(toy_set, "p2", "--prefetch", "3"))
    assert results_of(plain) == results_of(fetched)


def test_underscore_spellings_are_aliases_and_help_shows_hyphens(toy_set, capsys):
    from evals.eval_AUC_faithfulness import build_parser as auc_parser
    from local_attribution.generate_attributions import build_parser as ga_parser

    argv = [a.replace("--eval-list", "--eval_list").replace("--save-dir", "--save_dir") for a in toy_argv(toy_set, "u")]
    _, report = main(PRESET, argv + ["--end", "1"])
    assert report.done == 1
    from common.cli_style import normalise_flags
    from submodular_attribution.driver import build_parser

    smdl_parser = normalise_flags(build_parser(PRESET))
    assert smdl_parser.parse_args(["--eval", "x.txt"]).eval_list == "x.txt", "abbreviations still work"
    parser = ga_parser()
    assert parser.parse_args(["--attr_method", "ig"]).attr_method == parser.parse_args(["--attr-method", "ig"]).attr_method
    text = parser.format_help()
    assert "--method" in text and "--attr_method" not in text and "--spatial-range" in text
    help_text = auc_parser().format_help()
    assert "required arguments:\n  --explanation-dir" in help_text


def test_plain_progress_lines_have_no_escape_codes(toy_set, capsys, monkeypatch):
    monkeypatch.setenv("TOOLKIT_PROGRESS", "plain")
    monkeypatch.setenv("TOOLKIT_PROGRESS_INTERVAL", "0")
    argv = [a for a in toy_argv(toy_set, "pp") if a != "--no-progress"]
    main(PRESET, argv + ["--end", "2"])
    err = capsys.readouterr().err
    assert "2/2 img" in err and "\r" not in err and "\x1b" not in err


def test_progress_counts_finished_samples_only(tmp_path, capsys, monkeypatch):
    """The line never says 2/2 while the second sample is still being computed; skipped ones leave the rate."""
    from common.results import run_samples

    monkeypatch.setenv("TOOLKIT_PROGRESS", "plain")
    monkeypatch.setenv("TOOLKIT_PROGRESS_INTERVAL", "0")
    seen: dict[str, str] = {}

    def process(name: str) -> None:
        seen[name] = capsys.readouterr().err
        time.sleep(0.05)

    run_samples(["done", "a", "b"], run_dir=tmp_path, is_done=lambda n: n == "done", process=process,
                name_of=lambda n: n, desc="t")
    assert "1/3" in seen["a"] and "2/3" not in seen["a"]
    assert "2/3" in seen["b"] and "3/3" not in seen["b"], seen["b"]
    last = capsys.readouterr().err.strip().splitlines()[-1]
    rate = float(last.split(", ")[1].split()[0])
    assert "3/3" in last and rate <= 20.5, f"2 computed in >= 0.1 s; the skipped one is not in the rate ({last})"


def test_la_workers_share_one_partial_folder_and_the_last_assembles(tmp_path):
    """generate_attributions: a batch claimed by another live worker is left to it when not waiting (an error
    naming the images, never a silent exit 0); that worker's finish assembles. (Waiting: test_la_claims_wait.py.)"""
    import torch

    from common.claims import ClaimBoard
    from local_attribution import generate_attributions as ga
    from local_attribution import get_method
    from local_attribution.files import batch_name
    from local_attribution.generate_pt import PackedBatch
    from tests.conftest import toy_classifier

    gen = torch.Generator().manual_seed(0)
    data = PackedBatch(torch.rand(5, 3, 16, 16, generator=gen), torch.tensor([0, 1, 2, 3, 0]), list("abcde"), "t")
    model, method = toy_classifier(size=16), get_method("sm")
    kwargs = dict(batch_size=2, meta={"m": 1}, progress=False)
    reference = ga.compute_attributions(method, model, data, data.labels, tmp_path / "ref.npy", **kwargs)
    output = tmp_path / "shared.npy"
    work = ga.partial_dir(output)
    with ClaimBoard(work, 0.1, 5.0) as worker_a, ClaimBoard(work, 0.1, 5.0) as worker_b:
        assert worker_a.claim(batch_name((2, 4)))  # A is busy with images 2..3
        with pytest.raises(ToolkitError, match=r"images 2\.\.3 are not computed; 1 batches are held by live workers"):
            ga.compute_attributions(method, model, data, data.labels, output, claims=worker_b, wait_for_others=False,
                                    **kwargs)
        assert not output.exists() and len(ga.finished_chunks(work, 5, (3, 16, 16))) == 2
        assert ga.compute_attributions(method, model, data, data.labels, output, claims=worker_a, **kwargs) == output
    assert np.array_equal(np.load(output), np.load(reference)) and not work.exists()


def test_help_of_every_batch_entry_module_does_not_import_torch():
    code = ("import runpy, sys\n"
            "for module in sys.argv[1:]:\n"
            "    sys.argv = ['x', '--help']\n"
            "    try:\n"
            "        runpy.run_module(module, run_name='__main__')\n"
            "    except SystemExit:\n"
            "        pass\n"
            "assert 'torch' not in sys.modules, 'torch imported by --help'\n")
    modules = ["submodular_attribution.smdl_explanation_imagenet_superpixel", "local_attribution.generate_attributions",
               "local_attribution.generate_pt", "evals.eval_la", "evals.eval_AUC_faithfulness",
               "evals.eval_highest_confidence", "baseline_attribution.generate_explanation_maps"]
    proc = subprocess.run([sys.executable, "-c", code, *modules], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import models
    import models.registry

    assert models.DEFAULT_MODEL == models.registry.DEFAULT_MODEL


def test_baseline_generator_shards_cover_the_list_once_and_status_counts(tmp_path, monkeypatch, capsys):
    """generate_explanation_maps composes the same pieces: --shard i/n, claims, --status."""
    from baseline_attribution import generate_explanation_maps as gen
    from models.base import BlackBox
    from tests.conftest import toy_classifier

    monkeypatch.setattr("baseline_attribution.runner.load_model", lambda name, weights=None, device="cpu", batch_size=32:
                        BlackBox(toy_classifier(size=16), batch_size=batch_size))
    from PIL import Image

    (tmp_path / "data").mkdir()
    for i in range(5):
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(tmp_path / "data" / f"{i}.png")
    (tmp_path / "list.txt").write_text("".join(f"{i}.png 1\n" for i in range(5)))
    argv = ["--method", "occlusion", "--eval_list", str(tmp_path / "list.txt"), "--Datasets", str(tmp_path / "data"),
            "--save-dir", str(tmp_path / "out"), "--run", "toy", "--no-progress"]
    method_dir, first = gen.main(argv + ["--shard", "0/2"])
    _, second = gen.main(argv + ["--shard", "1/2"])
    assert (first.done, second.done) == (3, 2)
    assert sorted(p.name for p in method_dir.glob("1/*.npy")) == [f"{i}.npy" for i in range(5)]
    capsys.readouterr()
    gen.main(argv + ["--status"])
    assert "5 samples: done 5, failed 0, claimed 0, missing 0" in capsys.readouterr().out
