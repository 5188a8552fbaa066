"""Attribution maps for every image of ``data/`` with one method (the original ``generate_attributions.py``).

    python -m local_attribution.generate_pt --eval-list demo
    python -m local_attribution.generate_attributions --model efficientnet_lite0 --method la \\
        --spatial-range 20 --max-iter 20 --sampling-times 20 --save-dir attributions

Reads ``<data>/img_batch.pt`` ``(N, 3, H, W)`` in [0, 1] and ``<data>/label_batch.pt`` ``(N,)`` and writes
``{save-dir}/{model}_la_spatial-range-{S}_max-iter-{K}_sampling-times-{T}_attributions.npy`` for LA, or
``{save-dir}/{model}_{method}_attributions.npy`` for the other methods: float32 ``(N, 3, H, W)``, the raw signed
per-element maps (no channel reduction, no normalisation).

* Target: the label, or the model's prediction where the label is -1 (``--target prediction`` explains the
  prediction everywhere, which is what the original LA/AGI/MFABA code did whatever the label).
* Existing output: nothing is done (as the original). Delete the file to recompute.
* Resume: every finished batch is saved to ``<output>.partial/<first>-<end>.npy``; a killed run continues from
  there (with any ``--batch-size``), and the folder is removed once the output is complete. A partial folder
  made with other settings (model, method, parameters, seed, data) is refused.
* Randomness: stochastic methods get a ``torch.Generator`` seeded with ``--seed`` + index of the batch's first
  image, so a resumed run writes the same bytes as an uninterrupted one with the same ``--batch-size``. The
  global RNGs are not touched (the original seeded them globally with 3407).
* Expected Gradients draws its references from the images of ``--data`` outside the current batch. The
  original drew from all images, the explained one included: an image that draws itself gets an all-zero
  map (x - x = 0), which happens with probability 1/N per image (1 in 7 on the demo set).
* Workers sharing ``--save-dir`` claim batches; a run waits for the batches other live workers hold (a dead
  worker's are taken over at once) and never exits 0 with a batch missing (``--no-wait``: exit 2 naming the
  images other workers still compute).
* Flags: the original's ``--attr_method`` and ``--prefix`` still work (hidden aliases of ``--method`` and
  ``--save-dir``), as do the underscore spellings of every flag.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from common.cli_style import LazyChoices, add_aliases, model_choices, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.sharding import add_scale_arguments, resolve_shard
from common.validation import check_input_file, check_writable_dir
from local_attribution.files import (  # noqa: F401  (re-exported: the original module's names)
    _CHUNK_RE,
    LA_NAME,
    ORIGINAL_SEED,
    assemble,
    attribution_path,
    compute_attributions,
    data_fingerprint,
    default_batch_size,
    finished_chunks,
    internal_batch_size_for,
    method_batch_kwargs,
    method_hparams,
    outside_batch,
    partial_dir,
    pending_batches,
    resolve_targets,
    run_key,
)
from local_attribution.packed import PackedBatch, load_packed  # noqa: F401
from local_attribution.specs import SPECS, add_la_file_arguments

if TYPE_CHECKING:
    import torch


def load_classifier(name: str, weights: str | Path | None = None) -> torch.nn.Module:
    """:func:`models.load_classifier`, imported on first use (keeps torch out of ``--help``)."""
    from models import load_classifier as load

    return load(name, weights=weights)


def resolve_device(device: str | None) -> torch.device:
    """:func:`models.resolve_device`, imported on first use."""
    from models import resolve_device as resolve

    return resolve(device)


def _model_names() -> list[str]:
    from models import list_models

    return list_models()


def run(args: argparse.Namespace) -> Path:
    output = attribution_path(args.prefix, args.model, args.attr_method, args.spatial_range, args.max_iter,
                              args.sampling_times)
    shard = resolve_shard(args.shard)
    if args.status:
        print_status(output, args.stale_seconds)
        return output
    if output.is_file():
        print(f"{output} exists; nothing to do (delete it to recompute)")
        return output
    # LA's flags are checked by its torch-free spec (one line naming the flag and its range), whatever the method
    SPECS[LA_NAME].validate(method_hparams(LA_NAME, args.spatial_range, args.max_iter, args.sampling_times))
    for flag in ("batch_size", "internal_batch_size"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ToolkitError(f"--{flag.replace('_', '-')} {value}: must be >= 1")
    check_input_file("--weights", args.weights)
    check_writable_dir("--save-dir", args.prefix)
    if args.model not in LazyChoices(_model_names):
        raise ToolkitError(f"--model {args.model}: unknown; choose one of {', '.join(_model_names())}")
    from common.claims import ClaimBoard
    from local_attribution import get_method

    hparams = method_hparams(args.attr_method, args.spatial_range, args.max_iter, args.sampling_times)
    method = get_method(args.attr_method, **hparams)
    batch_size = args.batch_size if args.batch_size is not None else default_batch_size(method, args.model)
    data = load_packed(args.data)
    device = resolve_device(args.device)
    model = load_classifier(args.model, weights=args.weights).to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    targets = resolve_targets(model, data, device, batch_size=max(batch_size, 16), mode=args.target)
    meta = {
        "model": args.model, "attr_method": args.attr_method, "hparams": hparams, "seed": args.seed,
        "target": args.target, "weights": None if args.weights is None else str(args.weights),
        "data": data_fingerprint(data), "batch_size": batch_size,
    }
    if args.internal_batch_size is not None:
        internal = args.internal_batch_size
    elif args.batch_size is not None:  # --batch-size alone keeps its meaning: also the largest pass
        internal = args.batch_size
    else:
        internal = internal_batch_size_for(method, batch_size, device)
    print(f"{args.model} / {args.attr_method} {hparams or ''}: {data.images.shape[0]} images, batch {batch_size} "
          f"(internal {internal}), "
          f"device {device} -> {output}" + (f", shard {shard}" if shard.count > 1 else ""))
    with ClaimBoard(partial_dir(output), heartbeat_seconds=args.heartbeat_seconds,
                    stale_seconds=args.stale_seconds) as claims:
        compute_attributions(method, model, data, targets, output, batch_size=batch_size, seed=args.seed,
                             device=device, meta=meta, progress=not args.no_progress,
                             batch_kwargs=method_batch_kwargs(method, data, device), claims=claims, shard=shard,
                             internal_batch_size=internal, wait_for_others=not args.no_wait)
    print(f"wrote {output}")
    return output


def print_status(output: Path, stale_seconds: float) -> None:
    """``--status``: whether the output exists, else how many images the partial folder holds and claims."""
    from common.claims import live_claims

    if output.is_file():
        print(f"{output}: done")
        return
    work = partial_dir(output)
    chunks = [(int(m.group(1)), int(m.group(2))) for m in map(_CHUNK_RE.match, (p.name for p in work.glob("*.npy"))) if m]
    claims = live_claims(work, stale_seconds)
    live = sum(1 for c in claims.values() if not c["stale"])
    print(f"{output}: missing; {sum(e - b for b, e in chunks)} images in {len(chunks)} finished batches in {work}, "
          f"{live} batches claimed by live workers, {len(claims) - live} stale claims")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_attribution.generate_attributions",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default="efficientnet_lite0", metavar="NAME", type=model_choices(),
                        help="network to explain (a models registry name; torchvision ones need --weights FILE)")
    parser.add_argument("--method", dest="attr_method", default=LA_NAME, choices=list(SPECS), metavar="METHOD",
                        help=f"attribution method: {', '.join(SPECS)}")
    add_la_file_arguments(parser, "LA only")
    parser.add_argument("--save-dir", dest="prefix", metavar="DIR", default="attributions",
                        help="output folder for the .npy maps")
    parser.add_argument("--data", default="data", help="folder with img_batch.pt and label_batch.pt (from generate_pt)")
    parser.add_argument("--weights", default=None, help="weights file of the model (needed by torchvision models)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (cuda when available)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per batch and largest forward/backward batch (default: the method's original "
                             "batch size, e.g. 64 for LA, 4 for IG, 1 for BIG; halved for maxvit_t as the original)")
    parser.add_argument("--internal-batch-size", type=int, default=None,
                        help="largest forward/backward batch inside a method (default: --batch-size when given, else "
                             "the method's default for the device: LA 4 on CPU (measured, README), 64 on CUDA; the "
                             "others their original batch size)")
    parser.add_argument("--seed", type=int, default=ORIGINAL_SEED,
                        help="seed of the random generators of stochastic methods (LA, AGI, SG, EG, AttEXplore)")
    parser.add_argument("--target", choices=("label", "prediction"), default="label",
                        help="class to explain: the label (prediction where it is -1), or always the prediction")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    scale = add_scale_arguments(parser)
    scale.add_argument("--no-wait", action="store_true",
                       help="do not wait for the batches other live workers hold: exit 2 naming the missing images "
                            "(the worker that writes the last batch writes the output)")
    return add_aliases(normalise_flags(parser), {"--method": ["--attr-method"], "--save-dir": ["--prefix"]})


def main(argv: list[str] | None = None) -> Path:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
