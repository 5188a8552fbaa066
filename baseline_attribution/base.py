"""The contract every baseline method implements (:mod:`common.method_contract`), and the pieces several of them
share.

    maps = method.attribute(blackbox, inputs, target=None, *, generator=None)

* ``blackbox``: :class:`models.base.BlackBox`; every forward goes through it (chunked by its ``batch_size``,
  counted in its ``forward_count``).
* ``inputs``: float ``(B, 3, S, S)`` RGB in [0, 1] at the model's input size S.
* ``target``: int64 ``(B,)`` class per image, an int for all, or None = the model's top-1 (one counted forward).
* ``generator``: ``torch.Generator`` for the stochastic methods (None = one seeded with
  :data:`common.method_contract.DEFAULT_SEED`, so two calls give the same map); the global RNGs are never touched.
  The random draws are shared by the images of one call and do not depend on ``batch_size``.
* returns float32 ``(B, S, S)`` on the CPU, higher = more important for the target class.
* parameters: declared in :mod:`baseline_attribution.specs`; the registry makes them the dataclass fields and
  validates them when the method is constructed; errors are :class:`common.method_contract.MethodError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from common.method_contract import DEFAULT_SEED, DeclaredMethod, MethodError, MethodSpec
from models.base import BlackBox

MaskFn = Callable[[int, int], torch.Tensor]
"""``(start, end) -> masks (end - start, 1 or 3, S, S)`` in [0, 1]: perturbation ``start..end-1``."""


class BaselineMethod(DeclaredMethod, ABC):
    """Base class of the baseline methods (made dataclasses by the registry; their fields are the parameters).

    A method declares ``info = MethodInfo(name, display_name, needs_gradients, stochastic, model_output)``
    (:class:`common.method_contract.MethodInfo`; ``display_name`` is the folder name of its maps, ``model_output``
    what it reads from the black box: ``"probabilities"``, ``"logits"``, ``"layer"``), read back as ``cls.name``,
    ``cls.stochastic``, ...; ``spec``, ``default_params``: its :class:`~common.method_contract.MethodSpec` and
    ``{field: default}``, set by :func:`baseline_attribution.registry.register`.
    """

    spec: ClassVar[MethodSpec]
    default_params: ClassVar[dict[str, Any]]

    def __post_init__(self) -> None:  # noqa: B027 - a hook the registry replaces
        """Needed: dataclass() makes ``__init__`` call ``__post_init__`` only when the class has one when it is
        decorated; the registry then replaces it with a validation against :attr:`spec`
        (see :mod:`common.method_contract`)."""

    def attribute(self, blackbox: BlackBox, inputs: torch.Tensor, target: torch.Tensor | int | None = None, *,
                  generator: torch.Generator | None = None) -> torch.Tensor:
        """Maps float32 ``(B, S, S)`` on the CPU for ``inputs`` ``(B, 3, S, S)`` in [0, 1] and ``target`` ``(B,)``
        (None = the model's top-1)."""
        images, target = check_inputs(blackbox, inputs, target)
        if self.stochastic and generator is None:
            generator = torch.Generator().manual_seed(DEFAULT_SEED)
        maps = self._attribute(blackbox, images, target, generator)
        return maps.detach().to("cpu", torch.float32)

    def explain(self, blackbox: BlackBox, inputs: torch.Tensor, target: torch.Tensor | int | None,
                generator: torch.Generator | None) -> torch.Tensor:
        """The family-independent call of :func:`common.attribution_maps.compute_attribution_map`: ``(B, S, S)``."""
        return self.attribute(blackbox, inputs, target, generator=generator)

    @abstractmethod
    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        """The maps ``(B, S, S)`` for validated inputs on the black box's device (``generator`` set when stochastic)."""


def check_inputs(blackbox: BlackBox, images: torch.Tensor,
                 target: torch.Tensor | int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate shapes; images to the black box's device, target to int64 ``(B,)`` there (None = the top-1)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise MethodError(f"inputs must be (B, 3, S, S) with B >= 1, got {tuple(getattr(images, 'shape', ()))}")
    size = blackbox.input_size
    if images.shape[2:] != (size, size):
        raise MethodError(f"images are {tuple(images.shape[2:])}, the model {blackbox.name} takes {size} x {size}; "
                          "resize with blackbox.resize first")
    if target is None:
        target = blackbox.predict(images.float()).argmax(dim=1)
    target = torch.as_tensor(target, dtype=torch.int64)
    if target.ndim == 0:
        target = target.repeat(images.shape[0])
    if target.shape != (images.shape[0],):
        raise MethodError(f"target must be an int or (B,) = ({images.shape[0]},), got {tuple(target.shape)}")
    if int(target.min()) < 0 or int(target.max()) >= blackbox.num_classes:
        raise MethodError(f"target {target.tolist()}: class ids must be in 0..{blackbox.num_classes - 1}")
    return images.float().to(blackbox.device), target.to(blackbox.device)


def seed_from(generator: torch.Generator) -> int:
    """A 63-bit seed drawn from ``generator`` (for numpy/scipy samplers that need their own seed)."""
    return int(torch.randint(0, 2**62, (1,), generator=generator).item())


def fill_value(fill: str, blackbox: BlackBox, image: torch.Tensor) -> torch.Tensor | float:
    """What removed pixels become for ``fill`` (:data:`baseline_attribution.specs.FILLS`): ``black`` 0.0, ``grey``
    0.5, ``mean`` the classifier's normalisation mean colour as ``(3, 1, 1)`` on ``image``'s device (0 after the
    model's normalisation, i.e. the dataset mean colour for ImageNet models: what the RISE paper's code fills)."""
    if fill == "black":
        return 0.0
    if fill == "grey":
        return 0.5
    if fill == "mean":
        return blackbox.classifier.mean.reshape(3, 1, 1).to(image.device, image.dtype)
    raise MethodError(f"--fill {fill}: choose one of black, grey, mean")


def masked_scores(blackbox: BlackBox, image: torch.Tensor, target: int, n_masks: int, masks: MaskFn,
                  fill: torch.Tensor | float = 0.0, output: str = "probabilities",
                  on_chunk: Callable[[torch.Tensor, torch.Tensor], None] | None = None) -> torch.Tensor:
    """Target score of ``image * M + fill * (1 - M)`` for the ``n_masks`` masks that ``masks`` builds.

    Args:
        image: ``(3, S, S)`` in [0, 1]; fill: a number or a ``(3, S, S)`` image (what removed pixels become).
        masks: builds masks ``start..end-1`` (see :data:`MaskFn`); called once per chunk of ``batch_size``
            masks, so only one chunk of full-size masks lives in memory.
        output: ``"probabilities"`` (softmax) or ``"logits"``.
        on_chunk: called with each chunk's masks ``(n, 1 or 3, S, S)`` and scores ``(n,)`` (to accumulate a map
            without building the masks twice).

    Returns:
        float ``(n_masks,)`` on the black box's device; ``n_masks`` forwards are counted.
    """
    scores = []
    forward = blackbox.predict if output == "probabilities" else blackbox.predict_logits
    for start in range(0, n_masks, blackbox.batch_size):
        end = min(start + blackbox.batch_size, n_masks)
        mask = masks(start, end).to(image.device)
        perturbed = image * mask + fill * (1.0 - mask) if not (isinstance(fill, float) and fill == 0.0) else image * mask
        scores.append(forward(perturbed)[:, target].float())
        if on_chunk is not None:
            on_chunk(mask, scores[-1])
    return torch.cat(scores) if scores else torch.empty(0, device=image.device)


def minmax(maps: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Per-map ``(m - min) / (max - min + eps)`` over the last two dims (pytorch-grad-cam's ``scale_cam_image``)."""
    low = maps.amin(dim=(-2, -1), keepdim=True)
    high = maps.amax(dim=(-2, -1), keepdim=True)
    return (maps - low) / (high - low + eps)


def resize_maps(maps: torch.Tensor, size: int, mode: str = "bilinear", align_corners: bool = False) -> torch.Tensor:
    """``(B, h, w)`` -> ``(B, size, size)``; bilinear/bicubic use half-pixel centres (cv2.resize's convention), or
    corner-aligned samples with ``align_corners``."""
    if maps.shape[-2:] == (size, size):
        return maps
    kwargs = {} if mode == "nearest" else {"align_corners": align_corners}
    return F.interpolate(maps[:, None].float(), size=(size, size), mode=mode, **kwargs)[:, 0]


def grid_to_image(cells: torch.Tensor, size: int) -> torch.Tensor:
    """Low-resolution masks ``(N, g, g)`` -> ``(N, 1, size, size)`` by nearest-neighbour upsampling (Xplique's GSA)."""
    return F.interpolate(cells[:, None].float(), size=(size, size), mode="nearest")


def fit_linear(z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None, alpha: float = 0.0) -> torch.Tensor:
    """Coefficients ``(M,)`` of the weighted (ridge) linear regression ``y ~ z @ beta + intercept``.

    ``z``: ``(N, M)`` interpretable samples; ``y``: ``(N,)``; ``weights``: ``(N,)`` sample weights (None = 1);
    ``alpha``: L2 penalty on ``beta`` (not on the intercept), as sklearn's ``Ridge(alpha)``;
    ``alpha = 0`` is ``LinearRegression`` (minimum-norm least squares). Solved in float64.
    """
    z64, y64 = z.double(), y.double()
    sw = torch.ones_like(y64) if weights is None else weights.double()
    share = sw / sw.sum()
    zc = z64 - (share[:, None] * z64).sum(0)
    yc = y64 - (share * y64).sum()
    if alpha > 0:
        gram = zc.T @ (sw[:, None] * zc) + alpha * torch.eye(z.shape[1], dtype=torch.float64, device=z.device)
        return torch.linalg.solve(gram, zc.T @ (sw * yc))
    root = sw.sqrt()
    solution = torch.linalg.lstsq((root[:, None] * zc).cpu(), (root * yc).cpu()[:, None], driver="gelsd").solution
    return solution[:, 0].to(z.device)


def segment_image(image: torch.Tensor, kernel_size: float, max_dist: float, ratio: float) -> torch.Tensor:
    """Quickshift superpixels (LIME's default segmentation) of ``image`` ``(3, S, S)`` in [0, 1] -> int64 ``(S, S)``
    labels 0..M-1 (deterministic: skimage seeds its tie-break noise)."""
    from skimage.segmentation import quickshift

    rgb = image.permute(1, 2, 0).double().cpu().numpy()
    labels = quickshift(rgb, kernel_size=kernel_size, max_dist=max_dist, ratio=ratio)
    _, dense = np.unique(labels, return_inverse=True)
    return torch.from_numpy(dense.reshape(labels.shape).astype(np.int64)).to(image.device)


def segment_masks(z: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    """Interpretable samples ``z`` ``(N, M)`` in {0, 1} -> pixel masks ``(N, 1, S, S)``: one matrix product
    with the one-hot segments (no per-sample loop)."""
    onehot = F.one_hot(segments.flatten(), int(segments.max()) + 1).float()  # (S*S, M)
    return (z.float() @ onehot.T).view(z.shape[0], 1, *segments.shape)
