"""Benchmark LA and its 11 companion methods: speed, model passes, peak memory and Insertion/Deletion AUC.

    python -m scripts.benchmark_la                         # 7 demo photos, all 12 methods, EfficientNet-Lite0, CPU
    python -m scripts.benchmark_la --limit 2 --methods la ig sm

For every method, the demo photos (``--eval-list demo``, resized to 224) are explained in batches of the
method's original batch size (``--batch-size`` to override) for the label class, exactly as
``local_attribution.generate_attributions`` does (same per-batch seeds), and then scored with LA's
Insertion/Deletion protocol (:mod:`evals.la_insertion_deletion`: zeros substrate, 224 steps, softmax of the
clean prediction). Printed and written to ``<save-dir>/la_benchmark.{md,csv}``; the maps go to
``<save-dir>/attributions/`` (readable by ``visualization.la_figures``) and the 12-method figure of the first
photo to ``<save-dir>/la_methods_<photo>.png``.

Columns:

* images/s and seconds: wall-clock time of the attribution only (not the evaluation, not the model load).
* user-s/img, sys-s/img: CPU time of the process (``getrusage``) over the same span, per image; on a shared
  machine these are the comparable numbers.
* forwards/img, backwards/img: images sent through the network forward, and images whose logits were
  back-propagated (one per backward sweep; a sweep through 8 images counts 8), per explained image.
* peak RSS (MB): the process's peak resident set size while the method ran (Linux: ``VmHWM`` after returning
  freed heap to the OS with ``malloc_trim`` and resetting the mark through ``/proc/self/clear_refs``); it
  includes the model and the data, i.e. the "RSS before" value. Where
  that reset is not possible, ``ru_maxrss`` (never decreases, so only the largest method is exact). On CUDA:
  ``torch.cuda.max_memory_allocated``.
* insertion (higher is better), deletion (lower is better): mean AUC over the photos.

Timings depend on the machine and on what else runs on it; this is a script for people, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from common.cli_style import add_aliases, model_choices, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import parse_eval_list
from local_attribution.files import (
    ORIGINAL_SEED,
    attribution_path,
    compute_attributions,
    method_batch_kwargs,
    method_hparams,
    partial_dir,
    resolve_targets,
)
from local_attribution.packed import pack_samples
from local_attribution.specs import add_la_file_arguments, add_methods_argument
from scripts.benchmark_tables import write_table_files

COLUMNS = ["method", "images", "batch", "images/s", "seconds", "user-s/img", "sys-s/img", "forwards/img",
           "backwards/img", "peak RSS (MB)", "RSS before (MB)", "insertion", "deletion"]


def format_markdown(rows: list[dict[str, Any]], notes: list[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch  # here, not at module level: --help and flag errors answer without it

    from evals.la_insertion_deletion import insertion_deletion
    from local_attribution import METHODS, get_method, list_methods
    from local_attribution.pass_counter import PassCounter
    from models import BlackBox, load_classifier
    from scripts.peak_memory import PeakMemory

    methods = args.methods or list_methods()
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ToolkitError(f"--methods {' '.join(unknown)}: unknown; choose from {', '.join(list_methods())}")
    samples = parse_eval_list(args.eval_list, args.Datasets)[: args.limit]
    data = pack_samples(samples, 224, source=str(args.eval_list))
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ToolkitError(f"--device {args.device}: CUDA is not available here; use --device cpu")
    blackbox = BlackBox(load_classifier(args.model, weights=args.weights), device=device,
                        batch_size=args.eval_batch_size)
    model = PassCounter(blackbox.classifier).eval()
    targets = resolve_targets(blackbox.classifier, data, device, batch_size=16)
    out_dir = Path(args.out_dir)
    attr_dir = out_dir / "attributions"
    memory = PeakMemory(device)
    n = data.images.shape[0]
    notes = [
        f"command: python -m scripts.benchmark_la {' '.join(args.argv)}".rstrip(),
        f"{n} photos ({', '.join(data.names)}), {args.model}, device {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"load average at start {os.getloadavg()[0]:.1f}",
        f"LA: spatial_range {args.spatial_range}, max_iter {args.max_iter}, sampling_times {args.sampling_times}; "
        f"seed {args.seed}; target = label",
        f"peak memory: {memory.kind}; seconds/images-per-second exclude model load, a warm-up pass and evaluation",
        "Insertion/Deletion: LA protocol (zeros substrate, 224 steps of 672 elements, softmax of the clean prediction)",
    ]
    print("\n".join(notes[1:]))
    # Warm-up (first-call kernel selection would otherwise be charged to the first method).
    warm = data.images[:1].to(device).requires_grad_(True)
    model(warm).sum().backward()
    rows: list[dict[str, Any]] = []
    maps_for_figure: dict[str, np.ndarray] = {}
    for name in methods:
        hparams = method_hparams(name, args.spatial_range, args.max_iter, args.sampling_times)
        method = get_method(name, **hparams)
        batch = args.batch_size or int(method.default_batch_size)
        output = attribution_path(attr_dir, args.model, name, args.spatial_range, args.max_iter, args.sampling_times)
        shutil.rmtree(partial_dir(output), ignore_errors=True)  # never time a resumed run
        model.reset()
        before = memory.start()
        cpu_start = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        compute_attributions(method, model, data, targets, output, batch_size=batch, seed=args.seed, device=device,
                             meta={"benchmark": name}, progress=False,
                             batch_kwargs=method_batch_kwargs(method, data, device))
        seconds = time.perf_counter() - start
        cpu_end = resource.getrusage(resource.RUSAGE_SELF)
        peak = memory.peak()
        forwards, backwards = model.forward_images, model.backward_images
        maps = np.load(output)
        maps_for_figure[name] = maps[0]
        result = insertion_deletion(blackbox, data.images, maps, batch_size=args.eval_batch_size)
        row = {
            "method": METHODS[name].display_name, "images": n, "batch": batch, "images/s": n / seconds,
            "seconds": seconds, "user-s/img": (cpu_end.ru_utime - cpu_start.ru_utime) / n,
            "sys-s/img": (cpu_end.ru_stime - cpu_start.ru_stime) / n, "forwards/img": forwards / n, "backwards/img": backwards / n,
            "peak RSS (MB)": peak, "RSS before (MB)": before,
            "insertion": result.insertion_auc, "deletion": result.deletion_auc,
        }
        rows.append(row)
        print(f"{row['method']:<20} {row['images/s']:8.3f} img/s {seconds:8.1f} s  fwd/img {row['forwards/img']:7.0f} "
              f"bwd/img {row['backwards/img']:7.0f}  peak {peak:7.0f} MB  ins {row['insertion']:.4f}  "
              f"del {row['deletion']:.4f}", flush=True)

    markdown = format_markdown(rows, notes)
    print()
    print(markdown)
    table_md, table_csv = write_table_files(out_dir, "la_benchmark", markdown, rows, COLUMNS)
    from common.figures import method_panel

    stem = Path(data.names[0]).stem
    figure = method_panel(data.images[0].numpy(), maps_for_figure, out_dir / f"la_methods_{stem}.png",
                          row_labels=[stem])
    print(f"wrote {table_md}, {table_csv}, {figure}")
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_la", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    photos = parser.add_argument_group("photos")
    photos.add_argument("--eval-list", default="demo", metavar="LIST", help="eval list or 'demo' (the built-in photos)")
    photos.add_argument("--Datasets", default=".", metavar="DIR", help="root of the eval-list paths")
    photos.add_argument("--limit", type=int, default=None, metavar="N", help="use only the first N images")
    add_methods_argument(parser, "run")
    parser.add_argument("--model", default="efficientnet_lite0", metavar="NAME",
                        type=model_choices(), help="network")
    parser.add_argument("--weights", default=None, help="weights file (torchvision models)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    add_la_file_arguments(parser, "LA")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per attribution batch (default: each method's original batch size)")
    parser.add_argument("--eval-batch-size", type=int, default=100, help="images per forward in the evaluation")
    parser.add_argument("--seed", type=int, default=ORIGINAL_SEED, help="seed of the stochastic methods")
    parser.add_argument("--save-dir", dest="out_dir", metavar="DIR", default="benchmark_results",
                        help="folder for the table, maps and figure")
    return add_aliases(normalise_flags(parser), {"--save-dir": ["--out-dir"]})


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    import sys

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.limit is not None and args.limit < 1:
        raise SystemExit("error: --limit must be >= 1")
    return exit_on_toolkit_error(run)(args)


if __name__ == "__main__":
    main()
