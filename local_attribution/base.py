"""Common interface of the dense attribution methods (LA and its 11 companion methods).

Every method maps a logits model and a batch of images to one signed attribution value per input
element:

    method.attribute(model, x, target) -> A        x, A: (B, 3, H, W)

* ``model`` is any ``torch.nn.Module`` or callable mapping ``x`` (float, values in [0, 1], the
  normalisation lives inside the model) to **logits** ``(B, C)``. Methods apply the softmax
  themselves (once). The model must treat the samples of a batch independently (eval mode, no
  batch statistics), otherwise no per-sample guarantee below holds.
* ``target`` is the explained class per sample; ``None`` means the model's argmax prediction.
* ``internal_batch_size`` is the largest number of images sent through the model in one
  forward/backward pass (Captum's meaning). For methods that evaluate one image per sample at a
  time it is the number of samples per chunk; methods that expand a sample into several images
  (integration paths, noise samples, exploration paths) chunk that expanded set. Its default is
  :meth:`AttributionMethod.default_internal_batch_size` for the inputs' device. Samples are
  processed independently, so the result does not depend on it up to float rounding; LA is the
  exception, its ``sign()`` steps amplify that rounding (see its docstring).
* Stochastic methods draw randomness only from ``generator`` (a ``torch.Generator``; one seeded
  with :data:`common.method_contract.DEFAULT_SEED` (0) is created when it is ``None``). The global
  RNGs are never touched.
* Hyper-parameters are the dataclass fields, declared in :mod:`local_attribution.specs` and validated
  when the method is constructed; every error is a :class:`common.method_contract.MethodError`
  (a ``ToolkitError`` and a ``ValueError``). This is the toolkit's one method contract
  (:mod:`common.method_contract`), shared with the baselines.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

import torch
from torch import Tensor, nn

from common.method_contract import DEFAULT_SEED, DeclaredMethod, MethodError, MethodInfo, MethodSpec

Model = Callable[[Tensor], Tensor]
"""A logits model: ``(B, 3, H, W)`` images in [0, 1] -> ``(B, C)`` logits."""

TargetLike = Tensor | int | Sequence[int] | None

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    """Per-call settings handed from :meth:`AttributionMethod.attribute` to the implementation."""

    batch_size: int
    """Largest number of images per forward/backward pass."""
    generator: torch.Generator | None
    """Source of randomness (``None`` only for deterministic methods)."""
    progress: bool
    """Show a tqdm progress bar."""


@dataclass(frozen=True)
class LocalInfo(MethodInfo):
    """:class:`common.method_contract.MethodInfo` of a method of the zoo, with the zoo's defaults and three more
    fields: ``LocalInfo("ig", "IG", panel_label="IG", default_batch_size=4)``.

    ``name`` is the registry key, equal to the original CLI name (``la``, ``ig``, ``sg``, ...); ``display_name``
    the human-readable name (``"Fast IG"``).
    """

    needs_gradients: bool = True
    stochastic: bool = False
    model_output: str = "logits"
    """What the method reads from the model: its logits (and their gradients)."""
    panel_label: str = ""
    """Short label used in the paper's comparison panel, e.g. ``"FIG"``."""
    differentiates: Literal["probability", "logit"] = "probability"
    """Which model output is differentiated: the softmax probability (or its log) of one class,
    computed from the logits with a single softmax, or the raw logit."""
    default_batch_size: int = 1
    """Batch size of the original code (spec §1.4.5); default ``internal_batch_size`` unless
    :meth:`AttributionMethod.default_internal_batch_size` says otherwise."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.differentiates not in ("probability", "logit"):
            raise TypeError(f"{self.name}: differentiates must be 'probability' or 'logit'")
        if not self.panel_label:
            raise TypeError(f"{self.name}: give its panel_label")


class AttributionMethod(DeclaredMethod, ABC):
    """Base class of every method of the zoo.

    A subclass declares ``info = LocalInfo(...)`` (read back as ``cls.name``, ``cls.panel_label``, ...) and is
    registered with :func:`local_attribution.registry.register`, which makes it a dataclass whose fields are the
    hyper-parameters of its spec (:mod:`local_attribution.specs`; defaults = the original code's defaults).
    """

    info: ClassVar[LocalInfo]
    panel_label = DeclaredMethod.from_info()
    differentiates = DeclaredMethod.from_info()
    default_batch_size = DeclaredMethod.from_info()
    spec: ClassVar[MethodSpec]
    """The declared hyper-parameters (set by the registry)."""
    default_params: ClassVar[dict[str, object]]

    def __post_init__(self) -> None:  # noqa: B027 - a hook the registry replaces
        """Needed: dataclass() makes ``__init__`` call ``__post_init__`` only when the class has one when it is
        decorated; the registry then replaces it with a validation against :attr:`spec`
        (see :mod:`common.method_contract`)."""

    def default_internal_batch_size(self, device: torch.device | str) -> int:
        """``internal_batch_size`` used when none is given, for inputs on ``device``."""
        return self.default_batch_size


    def attribute(
        self,
        model: Model,
        inputs: Tensor,
        target: TargetLike = None,
        *,
        internal_batch_size: int | None = None,
        generator: torch.Generator | None = None,
        progress: bool = False,
    ) -> Tensor:
        """Attribution maps of ``inputs`` for ``target``.

        Args:
            model: logits model, ``(B, 3, H, W)`` in [0, 1] -> ``(B, C)``.
            inputs: images ``(B, 3, H, W)``, floating point, values in [0, 1].
            target: class per sample: a ``(B,)`` integer tensor, a sequence of B ints, or one int
                for all samples; ``None`` = the model's argmax prediction.
            internal_batch_size: largest number of images per forward/backward pass (default
                :meth:`default_internal_batch_size`); changes the result only by float rounding
                (LA: see its docstring).
            generator: randomness of stochastic methods (default: a generator seeded with 0).
            progress: show a progress bar.

        Returns:
            ``(B, 3, H, W)`` float32 tensor on the inputs' device: raw signed attributions, one
            per input element (no absolute value, no channel reduction, no normalisation unless
            the method itself defines one, e.g. Saliency's absolute value).
        """
        out = self._run(self._attribute, model, inputs, target, internal_batch_size, generator, progress)
        return out.detach().to(torch.float32)

    def explain(self, blackbox: object, inputs: Tensor, target: TargetLike, generator: torch.Generator | None) -> Tensor:
        """The family-independent call of :func:`common.attribution_maps.compute_attribution_map`: the maps
        ``(B, 3, S, S)`` of the black box's classifier, chunked by its ``batch_size``."""
        return self.attribute(blackbox.classifier, inputs, target,  # type: ignore[attr-defined]
                              internal_batch_size=blackbox.batch_size, generator=generator)  # type: ignore[attr-defined]

    @abstractmethod
    def _attribute(self, model: Model, x: Tensor, target: Tensor, opts: RunOptions) -> Tensor:
        """Compute the maps; ``x`` is detached, ``target`` is a ``(B,)`` long tensor on x's device."""

    def _run(self, compute: Callable[[Model, Tensor, Tensor, RunOptions], T], model: Model, inputs: Tensor,
             target: TargetLike = None, internal_batch_size: int | None = None,
             generator: torch.Generator | None = None, progress: bool = False) -> T:
        """Validate the arguments of :meth:`attribute` (the same names), then ``compute(model, x, y, opts)`` with
        autograd enabled."""
        with gradients_enabled():
            x = check_inputs(inputs)
            batch_size = self.default_internal_batch_size(x.device) if internal_batch_size is None \
                else int(internal_batch_size)
            if batch_size < 1:
                raise MethodError(f"internal_batch_size must be >= 1, got {internal_batch_size}")
            if isinstance(model, nn.Module) and model.training:
                warnings.warn(
                    f"{self.display_name}: the model is in training mode; call model.eval() first "
                    "(batch-norm/dropout in training mode couple the samples of a batch)",
                    stacklevel=2,
                )
            y = resolve_targets(model, x, target, batch_size)
            if self.stochastic and generator is None:
                generator = torch.Generator().manual_seed(DEFAULT_SEED)
            return compute(model, x, y, RunOptions(batch_size=batch_size, generator=generator, progress=progress))


class gradients_enabled:
    """Context manager: autograd on, even when called under ``no_grad``/``inference_mode``."""

    def __enter__(self) -> None:
        self._stack = [torch.inference_mode(False), torch.enable_grad()]
        for ctx in self._stack:
            ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        for ctx in reversed(self._stack):
            ctx.__exit__(*exc)


def check_inputs(inputs: Tensor) -> Tensor:
    """Validate a ``(B, C, H, W)`` floating-point batch and return a detached copy."""
    if not isinstance(inputs, Tensor):
        raise TypeError(f"inputs must be a torch.Tensor of shape (B, 3, H, W), got {type(inputs).__name__}")
    if inputs.ndim != 4 or inputs.shape[0] == 0:
        raise MethodError(f"inputs must have shape (B, 3, H, W) with B >= 1, got {tuple(inputs.shape)}")
    if not inputs.is_floating_point():
        raise TypeError(f"inputs must be floating point with values in [0, 1], got {inputs.dtype}")
    # clone() turns a tensor created under inference_mode into a normal one autograd can use.
    return inputs.detach().clone()


@torch.no_grad()
def predict(model: Model, x: Tensor, batch_size: int) -> Tensor:
    """Argmax class of every sample, ``(B,)`` long, computed in chunks of ``batch_size``."""
    preds = [check_logits(model(x[i : i + batch_size])).argmax(dim=1) for i in range(0, x.shape[0], batch_size)]
    return torch.cat(preds)


@torch.no_grad()
def num_classes_of(model: Model, x: Tensor) -> int:
    """Number of model outputs C, from one forward of the first sample."""
    return check_logits(model(x[:1])).shape[1]


def check_logits(logits: Tensor) -> Tensor:
    if not isinstance(logits, Tensor) or logits.ndim != 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise MethodError(f"the model must return logits of shape (B, C), got {shape}")
    return logits


def resolve_targets(model: Model, x: Tensor, target: TargetLike, batch_size: int) -> Tensor:
    """``(B,)`` long tensor of explained classes on ``x``'s device (argmax when ``target`` is None)."""
    n = x.shape[0]
    if target is None:
        return predict(model, x, batch_size).to(device=x.device, dtype=torch.long)
    t = torch.as_tensor(target, dtype=torch.long, device=x.device)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise MethodError(f"target must be an int or have shape ({n},), got shape {tuple(t.shape)}")
    if bool((t < 0).any()):
        raise MethodError(f"target classes must be non-negative, got {t.tolist()}")
    return t.clone()


def sample_generators(generator: torch.Generator, n: int) -> list[torch.Generator]:
    """One independent CPU generator per sample, seeded from ``generator``.

    Drawing the sub-seeds for the whole batch up front makes each sample's randomness independent
    of how the batch is chunked; drawing on the CPU makes it independent of the device.
    """
    seeds = torch.randint(0, 2**62, (n,), generator=generator, device=generator.device).tolist()
    return [torch.Generator().manual_seed(int(s)) for s in seeds]


def progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm bar when ``enabled``, else a no-op object with the same ``update``/``close``."""
    if enabled:
        from common.progress import progress_bar as shared_bar

        return shared_bar(total=total, desc=desc, leave=False)
    return _NoBar()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass
