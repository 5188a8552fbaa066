"""LA's attribution files and their resumable batch run (a library module, no command line).

File names (``{prefix}/{model}_la_spatial-range-S_max-iter-K_sampling-times-T_attributions.npy``, the
original's), the ``<output>.partial/`` folder of finished batches, targets, and :func:`compute_attributions`,
the batch loop with resume and claims that ``python -m local_attribution.generate_attributions`` and
``scripts.benchmark_la`` run; ``evals.eval_la`` and ``visualization.la_figures`` read the same names.
"""

from __future__ import annotations

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

from common.errors import ToolkitError
from common.method_contract import check_finite_map
from common.results import run_samples, write_json_atomic, write_npy_atomic
from local_attribution.packed import PackedBatch

if TYPE_CHECKING:
    import torch

LA_NAME = "la"

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
    try:
        names = sorted(os.listdir(folder))
    except OSError:  # no partial folder (yet, or any more: another worker assembled the output)
        return []
    matches = (_CHUNK_RE.match(name) for name in names)
    return [(int(m.group(1)), int(m.group(2)), folder / m.group(0)) for m in matches
            if m and _valid_chunk(folder / m.group(0), int(m.group(1)), int(m.group(2)), n_images, image_shape)]


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
    wait_for_others: bool = True,
) -> Path:
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
        wait_for_others: wait for the batches other live workers hold until they are written (or their
            owner dies and this worker computes them), as :func:`common.results.run_samples` does; False:
            leave them and raise (the worker holding the last batch writes ``output``).

    Returns:
        ``output``, complete (written here or by another worker sharing the partial folder).

    Raises:
        ToolkitError: the partial folder belongs to a run with other settings; a batch gave NaN/inf maps or
            failed (logged to ``<output>.partial/errors.jsonl``, ``output`` not written); images are missing
            (held by live workers with ``wait_for_others=False``): the message names them.
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
    todo = pending_batches(covered_images(finished_chunks(work, n, image_shape), n), batch_size)
    if shard is not None and shard.count > 1 and todo:
        first = shard.select(todo)
        start = todo.index(first[0]) if first else 0
        todo = todo[start:] + todo[:start]
    bar = None
    if progress:
        from common.progress import progress_bar

        bar = progress_bar(total=n, initial=n - sum(e - b for b, e in todo), unit="img", desc=output.stem[:40])

    before = _file_identity(output)  # an output already there (benchmark_la recomputes one) is not "done"

    def assembled_elsewhere() -> bool:
        """Another worker sharing the partial folder has written ``output`` since this call began."""
        now = _file_identity(output)
        return now is not None and now != before

    def is_done(batch: tuple[int, int]) -> bool:
        """The batch's images are in a valid chunk file (this worker's or another's), or the output is written."""
        return assembled_elsewhere() or _chunk_covering(work, batch, n, image_shape)

    def process(batch: tuple[int, int]) -> None:
        begin, end = batch
        x = data.images[begin:end].to(device)
        y = targets[begin:end].to(device)
        generator = torch.Generator().manual_seed(seed + begin) if getattr(method, "stochastic", False) else None
        maps = method.attribute(model, x, y, internal_batch_size=internal, generator=generator,
                                **(batch_kwargs(begin, end) if batch_kwargs is not None else {}))
        maps = torch.as_tensor(maps).detach().to("cpu", torch.float32)
        if tuple(maps.shape) != (end - begin, *image_shape):
            raise ToolkitError(f"--method {meta.get('attr_method')}: returned shape {tuple(maps.shape)}, expected "
                               f"{(end - begin, *image_shape)}")
        # a map with NaN/inf is never written: run_samples logs the batch as failed and the run goes on
        check_finite_map(maps.numpy(), f"--method {meta.get('attr_method')}, {batch_name(batch)}")
        write_npy_atomic(work / f"{begin:06d}-{end:06d}.npy", maps.numpy())
        if bar is not None:
            bar.update(end - begin)

    # the one batch loop of the toolkit: claims, waiting for batches live workers hold, takeover of dead ones
    report = run_samples(todo, run_dir=work, is_done=is_done, process=process, name_of=batch_name, progress=False,
                         claims=claims, wait_for_others=wait_for_others)
    if bar is not None:
        bar.close()
    if assembled_elsewhere():  # after this worker's batches were written
        return output
    if report.failed:
        raise ToolkitError(f"{report.failed} batches ({', '.join(report.failures)}) gave NaN/inf maps or failed, "
                           f"logged to {work / 'errors.jsonl'}; {output} is not written")
    chunks = finished_chunks(work, n, image_shape)
    missing = ~covered_images(chunks, n)
    if missing.any() and assembled_elsewhere():  # and removed the chunks meanwhile
        return output
    if missing.any():
        holders = f"; {report.claimed_elsewhere} batches are held by live workers (the last one writes {output})" \
            if report.claimed_elsewhere else ""
        raise ToolkitError(f"{output}: images {image_ranges(missing)} are not computed{holders}; rerun the same "
                           "command to compute them")
    try:
        assemble(sorted(chunks), output, (n, *image_shape))
    except OSError:
        if assembled_elsewhere():  # and removed the chunks meanwhile
            return output
        raise
    shutil.rmtree(work, ignore_errors=True)
    return output


def _file_identity(path: Path) -> tuple[int, int] | None:
    """``(inode, mtime in ns)`` of ``path``, None when it does not exist (a rename over it changes both)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def batch_name(batch: tuple[int, int]) -> str:
    """``images 4..7`` for the batch ``(4, 8)``: its claim name and its name in ``errors.jsonl`` and messages."""
    return f"images {batch[0]}..{batch[1] - 1}"


def covered_images(chunks: list[tuple[int, int, Path]], n_images: int) -> np.ndarray:
    """bool ``(n_images,)``: True for the images some chunk of ``chunks`` holds."""
    covered = np.zeros(n_images, dtype=bool)
    for begin, end, _ in chunks:
        covered[begin:end] = True
    return covered


def image_ranges(mask: np.ndarray) -> str:
    """``0..3, 8, 10..11`` for the True runs of a bool ``(N,)`` mask (for messages)."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return ", ".join(f"{b}" if e - b == 1 else f"{b}..{e - 1}" for b, e in zip(edges[::2], edges[1::2]))


def _chunk_covering(work: Path, batch: tuple[int, int], n_images: int, image_shape: tuple[int, ...]) -> bool:
    """True when a valid chunk file in ``work`` holds the images of ``batch`` (by file name first: only the
    chunks whose range covers the batch are opened)."""
    begin, end = batch
    try:
        names = [m for m in map(_CHUNK_RE.match, os.listdir(work)) if m]
    except OSError:
        return False
    for match in names:
        first, stop = int(match.group(1)), int(match.group(2))
        if first <= begin and end <= stop and _valid_chunk(work / match.group(0), first, stop, n_images, image_shape):
            return True
    return False


def _valid_chunk(path: Path, begin: int, end: int, n_images: int, image_shape: tuple[int, ...]) -> bool:
    """The chunk file of images begin..end-1 is readable and has their shape."""
    if not 0 <= begin < end <= n_images:
        return False
    try:
        arr = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return tuple(arr.shape) == (end - begin, *image_shape)
