"""Attribution maps for every image of ``data/`` with one method (the original ``generate_attributions.py``).

    python -m local_attribution.generate_pt --eval-list demo
    python -m local_attribution.generate_attributions --model efficientnet_lite0 --attr_method la \\
        --spatial_range 20 --max_iter 20 --sampling_times 20 --prefix attributions

Reads ``<data>/img_batch.pt`` ``(N, 3, H, W)`` in [0, 1] and ``<data>/label_batch.pt`` ``(N,)`` and writes
``{prefix}/{model}_la_spatial-range-{S}_max-iter-{K}_sampling-times-{T}_attributions.npy`` for LA, or
``{prefix}/{model}_{method}_attributions.npy`` for the other methods: float32 ``(N, 3, H, W)``, the raw signed
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
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.cli_style import LazyChoices, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.results import write_json_atomic, write_npy_atomic
from common.sharding import add_scale_arguments, resolve_shard
from common.validation import check_input_file, check_range, check_writable_dir, flag_name
from local_attribution.generate_pt import PackedBatch, load_packed

LA_NAME = "la"

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
ORIGINAL_SEED = 3407
_CHUNK_RE = re.compile(r"^(\d+)-(\d+)\.npy$")


def run_key(model: str, method: str, spatial_range: int = 20, max_iter: int = 20, sampling_times: int = 20) -> str:
    """The original's file stem: ``{model}_la_spatial-range-{S}_max-iter-{K}_sampling-times-{T}`` for LA,
    ``{model}_{method}`` otherwise."""
    if method == LA_NAME:
        return f"{model}_la_spatial-range-{spatial_range}_max-iter-{max_iter}_sampling-times-{sampling_times}"
    return f"{model}_{method}"


def attribution_path(prefix: str | Path, model: str, method: str, spatial_range: int = 20, max_iter: int = 20,
                     sampling_times: int = 20) -> Path:
    """``{prefix}/{run_key}_attributions.npy``."""
    return Path(prefix) / f"{run_key(model, method, spatial_range, max_iter, sampling_times)}_attributions.npy"


def partial_dir(output: str | Path) -> Path:
    """Folder holding the finished batches of an interrupted run: ``<output>.partial``."""
    output = Path(output)
    return output.with_name(output.name + ".partial")


def method_hparams(method: str, spatial_range: int, max_iter: int, sampling_times: int) -> dict[str, Any]:
    """Hyper-parameters set from the command line: LA's three, none for the others (their defaults)."""
    if method == LA_NAME:
        return {"spatial_range": spatial_range, "max_iter": max_iter, "sampling_times": sampling_times}
    return {}


def default_batch_size(method: Any, model: str) -> int:
    """The original's batch size: the method's ``default_batch_size``, halved for ``maxvit_t`` when above 2
    (except Expected Gradients), as ``generate_attributions.py`` did to fit MaxViT in GPU memory."""
    size = int(method.default_batch_size)
    if model == "maxvit_t" and getattr(method, "name", "") != "eg" and size > 2:
        size //= 2
    return size


def internal_batch_size_for(method: Any, batch_size: int, device: torch.device | str) -> int:
    """Images per forward/backward pass when ``--internal-batch-size`` is not given: the method's default for
    ``device`` (LA measured its own: 4 on the CPU; the others: their original batch size), at most ``batch_size``."""
    default = getattr(method, "default_internal_batch_size", None)
    return batch_size if default is None else min(batch_size, int(default(device)))


def outside_batch(images: torch.Tensor, begin: int, end: int) -> torch.Tensor | None:
    """The images ``(N - (end - begin), 3, H, W)`` not in ``begin..end-1``, or None when there are none."""
    import torch

    if begin == 0 and end >= images.shape[0]:
        return None
    return torch.cat([images[:begin], images[end:]])


def method_batch_kwargs(method: Any, data: PackedBatch,
                        device: torch.device | str) -> Callable[[int, int], dict[str, Any]] | None:
    """Per-batch keyword arguments: for a method whose ``attribute`` takes ``background`` (Expected Gradients),
    the images of ``data`` outside the batch as references (None = the method's own default, i.e. the
    other images of the batch, when one batch holds everything)."""
    if "background" not in inspect.signature(method.attribute).parameters:
        return None

    def kwargs(begin: int, end: int) -> dict[str, Any]:
        refs = outside_batch(data.images, begin, end)
        return {"background": None if refs is None else refs.to(device)}

    return kwargs


def data_fingerprint(data: PackedBatch) -> str:
    """sha1 of the image and label bytes (detects a ``--data`` folder that changed under a partial run)."""
    digest = hashlib.sha1()
    digest.update(str(tuple(data.images.shape)).encode())
    digest.update(memoryview(data.images.contiguous().numpy()).cast("B"))
    digest.update(memoryview(data.labels.contiguous().numpy()).cast("B"))
    return digest.hexdigest()


def resolve_targets(classifier: torch.nn.Module, data: PackedBatch, device: torch.device, batch_size: int,
                    mode: str = "label") -> torch.Tensor:
    """Explained class per image, int64 ``(N,)``: the label, or the argmax prediction where the label is -1
    (everywhere when ``mode == "prediction"``)."""
    import torch

    targets = data.labels.clone()
    todo = torch.arange(targets.numel()) if mode == "prediction" else torch.nonzero(targets < 0).flatten()
    with torch.inference_mode():
        for i in range(0, todo.numel(), batch_size):
            idx = todo[i:i + batch_size]
            targets[idx] = classifier(data.images[idx].to(device)).argmax(dim=1).cpu()
    return targets


def finished_chunks(folder: Path, n_images: int, image_shape: tuple[int, ...]) -> list[tuple[int, int, Path]]:
    """``(begin, end, file)`` of the valid chunk files of a partial folder (invalid ones are ignored)."""
    chunks = []
    if not folder.is_dir():
        return chunks
    for path in sorted(folder.iterdir()):
        match = _CHUNK_RE.match(path.name)
        if not match:
            continue
        begin, end = int(match.group(1)), int(match.group(2))
        if not 0 <= begin < end <= n_images:
            continue
        try:
            arr = np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            continue
        if tuple(arr.shape) == (end - begin, *image_shape):
            chunks.append((begin, end, path))
    return chunks


def pending_batches(covered: np.ndarray, batch_size: int) -> list[tuple[int, int]]:
    """Contiguous ``(begin, end)`` batches of at most ``batch_size`` images not yet ``covered`` (bool ``(N,)``),
    never crossing a multiple of ``batch_size`` (so workers sharing a partial folder cut the same batches)."""
    batches, i, n = [], 0, covered.size
    while i < n:
        if covered[i]:
            i += 1
            continue
        j = i + 1
        while j < n and not covered[j] and j % batch_size != 0:
            j += 1
        batches.append((i, j))
        i = j
    return batches


def assemble(chunks: list[tuple[int, int, Path]], output: Path, shape: tuple[int, ...]) -> None:
    """Copy the chunks into a float32 ``.npy`` of ``shape`` (through a memory-mapped temp file + rename)."""
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")  # per process: two workers may finish together
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
    try:
        for begin, end, path in chunks:
            out[begin:end] = np.load(path)
        out.flush()
        del out
        os.replace(tmp, output)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def compute_attributions(
    method: Any,
    model: torch.nn.Module,
    data: PackedBatch,
    targets: torch.Tensor,
    output: str | Path,
    *,
    batch_size: int,
    seed: int = ORIGINAL_SEED,
    device: torch.device | str = "cpu",
    meta: dict[str, Any] | None = None,
    progress: bool = True,
    batch_kwargs: Callable[[int, int], dict[str, Any]] | None = None,
    claims: Any = None,
    shard: Any = None,
    internal_batch_size: int | None = None,
) -> Path | None:
    """Run ``method`` over ``data`` in batches with resume, write ``output`` (float32 ``(N, 3, H, W)``).

    Args:
        method: an object with ``attribute(model, x, target, *, internal_batch_size, generator)`` and
            ``stochastic`` (see :mod:`local_attribution.base`).
        model: logits model, ``(B, 3, H, W)`` in [0, 1] -> ``(B, C)``, on ``device``.
        data: the images ``(N, 3, H, W)``.
        targets: int64 ``(N,)`` classes to explain.
        output: the ``.npy`` to write; finished batches go to ``<output>.partial/`` meanwhile.
        batch_size: images per ``attribute`` call.
        internal_batch_size: largest number of images per forward/backward pass inside ``attribute``;
            None = :func:`internal_batch_size_for` (the method's default for ``device``, at most ``batch_size``).
        seed: base seed of the per-batch generators of stochastic methods.
        meta: settings stored in the partial folder; a partial folder with other settings is refused.
        batch_kwargs: ``(begin, end) -> more keyword arguments`` for ``attribute`` on images begin..end-1
            (e.g. Expected Gradients' ``background``, see :func:`method_batch_kwargs`).
        claims: a :class:`common.claims.ClaimBoard` on the partial folder, shared by workers computing the same
            output: each batch is computed by the worker that claims it.
        shard: a :class:`common.sharding.Shard`: this worker starts with its block of the batches (then helps
            with the rest through the claims).

    Returns:
        ``output``, or None when other workers still hold claims on batches (the last one assembles).

    Raises:
        ToolkitError: the partial folder belongs to a run with other settings.
    """
    import torch

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    device = torch.device(device)
    n = data.images.shape[0]
    image_shape = tuple(data.images.shape[1:])
    work = partial_dir(output)
    meta = {**(meta or {}), "n_images": n, "image_shape": list(image_shape)}
    meta_path = work / "meta.json"
    if meta_path.is_file():
        stored = json.loads(meta_path.read_text())
        diff = sorted(k for k in set(stored) | set(meta) if k != "batch_size" and stored.get(k) != meta.get(k))
        if diff:
            raise ToolkitError(f"{work}: a partial run with other settings ({', '.join(diff)}) is there; rerun with its "
                               f"settings ({meta_path}) or delete the folder")
    write_json_atomic(meta_path, meta)

    internal = internal_batch_size if internal_batch_size is not None else internal_batch_size_for(
        method, batch_size, device)
    chunks = finished_chunks(work, n, image_shape)
    covered = np.zeros(n, dtype=bool)
    for begin, end, _ in chunks:
        covered[begin:end] = True
    todo = pending_batches(covered, batch_size)
    if shard is not None and shard.count > 1 and todo:
        first = shard.select(todo)
        start = todo.index(first[0]) if first else 0
        todo = todo[start:] + todo[:start]
    bar = None
    if progress:
        from common.progress import progress_bar

        bar = progress_bar(total=n, initial=int(covered.sum()), unit="img", desc=output.stem[:40])
    for begin, end in todo:
        key = f"{begin}-{end}"
        if claims is not None:
            if not claims.claim(key):
                continue
            if any(b <= begin and end <= e for b, e, _ in finished_chunks(work, n, image_shape)):
                claims.release(key)
                continue
        x = data.images[begin:end].to(device)
        y = targets[begin:end].to(device)
        generator = torch.Generator().manual_seed(seed + begin) if getattr(method, "stochastic", False) else None
        maps = method.attribute(model, x, y, internal_batch_size=internal, generator=generator,
                                **(batch_kwargs(begin, end) if batch_kwargs is not None else {}))
        maps = torch.as_tensor(maps).detach().to("cpu", torch.float32)
        if tuple(maps.shape) != (end - begin, *image_shape):
            raise ToolkitError(f"--attr_method {meta.get('attr_method')}: returned shape {tuple(maps.shape)}, expected "
                               f"{(end - begin, *image_shape)}")
        path = work / f"{begin:06d}-{end:06d}.npy"
        write_npy_atomic(path, maps.numpy())
        if claims is not None:
            claims.release(key)
        if bar is not None:
            bar.update(end - begin)
    if bar is not None:
        bar.close()
    chunks = finished_chunks(work, n, image_shape)
    covered[:] = False
    for begin, end, _ in chunks:
        covered[begin:end] = True
    if not covered.all():
        print(f"{int((~covered).sum())} images are being computed by other workers; the last one writes {output}")
        return None
    assemble(sorted(chunks), output, (n, *image_shape))
    shutil.rmtree(work, ignore_errors=True)
    return output


def _model_names() -> list[str]:
    from models import list_models

    return list_models()


def _method_names() -> list[str]:
    from local_attribution import list_methods

    return list_methods()


def run(args: argparse.Namespace) -> Path:
    from common.claims import ClaimBoard
    from local_attribution import get_method

    output = attribution_path(args.prefix, args.model, args.attr_method, args.spatial_range, args.max_iter,
                              args.sampling_times)
    shard = resolve_shard(args.shard)
    if args.status:
        print_status(output, args.stale_seconds)
        return output
    if output.is_file():
        print(f"{output} exists; nothing to do (delete it to recompute)")
        return output
    for flag in ("spatial_range", "max_iter", "sampling_times"):
        check_range(flag_name(flag), getattr(args, flag), 1)
    check_input_file("--weights", args.weights)
    check_writable_dir("--prefix", args.prefix)
    hparams = method_hparams(args.attr_method, args.spatial_range, args.max_iter, args.sampling_times)
    try:
        method = get_method(args.attr_method, **hparams)
    except ValueError as exc:
        raise ToolkitError(f"--attr_method {args.attr_method}: {exc}") from exc
    batch_size = args.batch_size if args.batch_size is not None else default_batch_size(method, args.model)
    if batch_size < 1:
        raise ToolkitError(f"--batch-size {batch_size}: must be >= 1")
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
    if internal < 1:
        raise ToolkitError(f"--internal-batch-size {internal}: must be >= 1")
    print(f"{args.model} / {args.attr_method} {hparams or ''}: {data.images.shape[0]} images, batch {batch_size} "
          f"(internal {internal}), "
          f"device {device} -> {output}" + (f", shard {shard}" if shard.count > 1 else ""))
    with ClaimBoard(partial_dir(output), heartbeat_seconds=args.heartbeat_seconds,
                    stale_seconds=args.stale_seconds) as claims:
        written = compute_attributions(method, model, data, targets, output, batch_size=batch_size, seed=args.seed,
                                       device=device, meta=meta, progress=not args.no_progress,
                                       batch_kwargs=method_batch_kwargs(method, data, device), claims=claims,
                                       shard=shard, internal_batch_size=internal)
    if written is not None:
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
    parser.add_argument("--model", default="efficientnet_lite0", type=LazyChoices(_model_names), metavar="NAME",
                        help="network to explain (torchvision ones need --weights FILE)")
    parser.add_argument("--attr_method", default=LA_NAME, type=LazyChoices(_method_names), metavar="METHOD",
                        help="attribution method (la, agi, attexplore, big, deeplift, eg, fast_ig, guided_ig, ig, mfaba, "
                             "sg, sm; local_attribution.list_methods() has them all)")
    parser.add_argument("--spatial_range", type=int, default=20,
                        help="LA only: s, neighbourhood divisor (eps = x / s per element)")
    parser.add_argument("--max_iter", type=int, default=20, help="LA only: K, steps per exploration path")
    parser.add_argument("--sampling_times", type=int, default=20,
                        help="LA only: T, T-1 targeted paths + 1 untargeted path")
    parser.add_argument("--prefix", default="attributions", help="output folder for the .npy maps")
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
    add_scale_arguments(parser)
    return normalise_flags(parser)


def main(argv: list[str] | None = None) -> Path:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
