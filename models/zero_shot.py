"""open_clip models as zero-shot classifiers (specs/smdl.md §3.1): ``--model clip:<architecture>``.

The image tower gives φ(x), the L2-normalised image embedding (the features the effectiveness term uses);
the logits are φ(x) · Wᵀ with the class prototypes W ``(C, d)``: for every class, each template filled with the
class name is encoded, L2-normalised, averaged over templates and L2-normalised again; the C vectors are stacked
and multiplied by 100 (the CLIP logit scale). ``recipe="raw"`` is the Quilt variant: raw text embeddings
(averaged over templates) times ``logit_scale`` and an unnormalised image embedding.

Architectures: any built-in open_clip name (``ViT-L-14``), ``hf-hub:org/repo`` (from the local Hugging Face
cache only) or ``local-dir:DIR`` (a folder with ``open_clip_config.json``). Weights: ``--weights FILE`` (a
checkpoint) or an open_clip pretrained tag (``openai``) whose file is already in the local cache. Nothing is
downloaded here: a missing file is a one-line error naming the flag and the file.

Prototypes are cached on disk, keyed by architecture, weights (sha256 of the file), class list, templates and
recipe; a missing or unreadable cache file is rebuilt (the original crashed when its file was missing).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from common.errors import ToolkitError
from models.base import ImageClassifier

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RECIPES = ("ensemble", "raw")
LOGIT_SCALE = 100.0


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "region-attribution" / "prototypes"


def imagenet_templates() -> list[str]:
    """The 80 CLIP ImageNet prompt templates as ``str.format`` patterns (``'a bad photo of a {}.'``)."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    return [template("{}") for template in OPENAI_IMAGENET_TEMPLATES]


def imagenet_clip_class_names() -> list[str]:
    """The 1000 ImageNet class names as cleaned for CLIP by OpenAI (the original's ``imagenet_classes``)."""
    from open_clip.zero_shot_metadata import IMAGENET_CLASSNAMES

    return list(IMAGENET_CLASSNAMES)


_CUB_LINE = re.compile(r"^\d+\s+\d+\.(.+)$")  # CUB-200's classes.txt: "1 001.Black_footed_Albatross"


def read_lines(path: str | Path, flag: str) -> list[str]:
    """Non-blank, non-``#`` lines of a text file; a one-line error naming ``flag`` when missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"{flag} {path}: file not found")
    lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    if not lines:
        raise ToolkitError(f"{flag} {path}: the file has no entries")
    return lines


def read_class_names(path: str | Path) -> list[str]:
    """``--class-names FILE``: one name per line, in class-id order (CUB's ``classes.txt`` format also works)."""
    names = []
    for line in read_lines(path, "--class-names"):
        match = _CUB_LINE.match(line)
        names.append(match.group(1).replace("_", " ") if match else line)
    return names


def read_templates(path: str | Path) -> list[str]:
    """``--templates FILE``: one prompt per line with ``{}`` where the class name goes."""
    templates = read_lines(path, "--templates")
    for number, template in enumerate(templates, 1):
        if template.count("{}") != 1:
            raise ToolkitError(f"--templates {path}: entry {number} {template!r} must contain '{{}}' exactly once")
    return templates


def build_prototypes(encode_texts: Callable[[list[str]], torch.Tensor], class_names: Sequence[str],
                     templates: Sequence[str], logit_scale: float = LOGIT_SCALE, recipe: str = "ensemble",
                     batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """Zero-shot class prototypes ``(C, d)`` float32.

    ``ensemble`` (CLIP): per class, normalise each template's embedding, average, normalise, then × ``logit_scale``.
    ``raw`` (Quilt): the average of the raw embeddings × ``logit_scale``.

    Args:
        encode_texts: list of n strings -> ``(n, d)`` text embeddings.
    """
    if recipe not in RECIPES:
        raise ToolkitError(f"--prototype-recipe {recipe}: choose one of {', '.join(RECIPES)}")
    texts = [template.format(name) for name in class_names for template in templates]
    starts = range(0, len(texts), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="class prototypes", unit="batch", leave=False)
    embeddings = torch.cat([encode_texts(texts[start : start + batch_size]).double().cpu() for start in starts])
    embeddings = embeddings.view(len(class_names), len(templates), -1)
    if recipe == "ensemble":
        mean = nn.functional.normalize(embeddings, dim=-1).mean(dim=1)
        prototypes = nn.functional.normalize(mean, dim=-1)
    else:
        prototypes = embeddings.mean(dim=1)
    return (prototypes * logit_scale).float()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def prototype_cache_path(cache_dir: Path, arch: str, weights_id: str, class_names: Sequence[str],
                         templates: Sequence[str], recipe: str, logit_scale: float) -> Path:
    """The cache file of one (architecture, weights, classes, templates, recipe, scale) combination."""
    key = json.dumps([arch, weights_id, list(class_names), list(templates), recipe, float(logit_scale)])
    safe_arch = re.sub(r"[^A-Za-z0-9_.-]+", "_", arch)[-60:]
    return cache_dir / f"{safe_arch}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.pt"


def cached_prototypes(path: Path, num_classes: int, build: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, str]:
    """Load the prototypes at ``path`` or build and store them; returns them and ``"cache"`` or ``"built"``."""
    if path.is_file():
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            prototypes = stored["prototypes"] if isinstance(stored, dict) else stored
            if isinstance(prototypes, torch.Tensor) and prototypes.ndim == 2 and prototypes.shape[0] == num_classes:
                return prototypes.float(), "cache"
        except Exception:  # noqa: BLE001 - a damaged cache file is rebuilt
            pass
    prototypes = build()
    from common.results import atomic_write

    atomic_write(path, lambda handle: torch.save({"prototypes": prototypes}, handle), "wb")
    return prototypes, "built"


class ClipImageEmbedding(nn.Module):
    """``(B, 3, S, S)`` normalised -> image embedding ``(B, d)`` (L2-normalised unless ``normalise`` is False)."""

    def __init__(self, clip_model: nn.Module, normalise: bool = True) -> None:
        super().__init__()
        self.clip_model = clip_model
        self.normalise = normalise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.clip_model.encode_image(x, normalize=self.normalise).float()


class ZeroShotClassifier(ImageClassifier):
    """A zero-shot CLIP classifier; ``bgr=True`` swaps the channels before normalisation (the original fed
    OpenCV's BGR array to CLIP as if it were RGB)."""

    def __init__(self, *args, bgr: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.bgr = bgr
        self.prototype_status = ""
        self.prototype_path: Path | None = None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return super().normalize(x.flip(1) if self.bgr else x)


_UNREADABLE = ("weights_only", "PytorchStreamReader", "invalid load key", "Ran out of input", "deserializing header")


def looks_like_checkpoint(path: str | Path) -> bool:
    """Whether the file starts like a checkpoint: a torch zip (``PK``), a pickle (protocol >= 2) or safetensors
    (8-byte header length, then ``{``)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(9)
    except OSError:
        return False
    return head[:2] == b"PK" or head[:1] == b"\x80" or (len(head) == 9 and head[8:9] == b"{")


def checkpoint_problem(exc: BaseException, path: str | Path) -> str:
    """One clause for a checkpoint that failed to load: ``not a readable checkpoint file (UnpicklingError)`` for a file
    that is no checkpoint at all or a damaged one (torch's many-line ``weights_only`` advice is dropped: it does not
    apply, and loading untrusted pickles is not offered), else the first line of the error (e.g. missing keys: a
    checkpoint of another architecture)."""
    text = str(exc).strip()
    name = exc.__class__.__name__
    if (not looks_like_checkpoint(path) or name in ("UnpicklingError", "EOFError", "SafetensorError")
            or any(key in text for key in _UNREADABLE)):
        return f"not a readable checkpoint file ({name})"
    first = text.splitlines()[0] if text else name
    return f"not an open_clip checkpoint of this architecture ({first[:200]})"


def _hf_cached_file(repo_id: str, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename)
    return found if isinstance(found, str) else None


def _resolve_pretrained_tag(arch: str, tag: str) -> Path | None:
    """The local file of open_clip's pretrained ``tag`` for ``arch`` (None when ``tag`` is not a tag).

    Raises ToolkitError when it is a tag but its file is not in the local cache (no download is attempted).
    """
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        return None
    hub = cfg.get("hf_hub", "")
    if hub:
        repo_id, filename = os.path.split(hub)
        names = [filename] if filename else ["open_clip_pytorch_model.bin"]
        names = [n[:-4] + ".safetensors" for n in names if n.endswith((".bin", ".pth"))] + names
        if filename == "" or filename == "open_clip_pytorch_model.bin":
            names.insert(0, "open_clip_model.safetensors")
        for name in names:
            found = _hf_cached_file(repo_id, name)
            if found:
                return Path(found)
        where = f"the Hugging Face cache ({repo_id})"
    else:
        url = cfg.get("url", "")
        candidate = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if candidate.is_file():
            return candidate
        where = str(candidate)
    raise ToolkitError(f"clip:{arch} has no weights on this machine: --weights {tag} (open_clip's pretrained tag; the "
                       f"CLIP presets use it when --weights is not given) needs a file in {where}, which is not there, "
                       "and nothing is downloaded here; copy the checkpoint to this machine and pass --weights FILE")


def _resolve_source(arch: str, weights: str | Path | None) -> tuple[str, Path, dict]:
    """(open_clip model name, local weights file, tag overrides: mean, std, quick_gelu) for ``clip:<arch>`` and
    ``--weights``."""
    import open_clip

    tag_cfg: dict = {}
    if arch.startswith("hf-hub:"):
        config = _hf_cached_file(arch[len("hf-hub:"):], "open_clip_config.json")
        if config is None:
            raise ToolkitError(f"--model clip:{arch}: its open_clip_config.json is not in the local Hugging Face cache; "
                               "copy the model folder here and use clip:local-dir:DIR")
        arch = "local-dir:" + str(Path(config).parent)
    if arch.startswith("local-dir:"):
        folder = Path(arch[len("local-dir:"):])
        if not (folder / "open_clip_config.json").is_file():
            raise ToolkitError(f"--model clip:{arch}: no {folder / 'open_clip_config.json'}")
        if weights is None:
            from open_clip.factory import _find_checkpoint_in_dir

            found = _find_checkpoint_in_dir(folder)
            if found is None:
                raise ToolkitError(f"--weights: clip:{arch} has no checkpoint in {folder}; pass --weights FILE")
            weights = found
    elif arch not in open_clip.list_models():
        raise ToolkitError(f"--model clip:{arch}: not an open_clip architecture (e.g. ViT-L-14, ViT-B-16, RN101; "
                           "see open_clip.list_models()), nor hf-hub:ID or local-dir:DIR")
    if weights is None:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(arch)) if not arch.startswith("local-dir:") else ""
        raise ToolkitError(f"--weights is required for clip:{arch}: a checkpoint file, or a pretrained tag already in the "
                           f"local cache ({tags or 'none known'})")
    path = Path(weights)
    if not path.is_file():
        tagged = None if arch.startswith("local-dir:") else _resolve_pretrained_tag(arch, str(weights))
        if tagged is None:
            raise ToolkitError(f"--weights {weights}: file not found (nor an open_clip pretrained tag of {arch})")
        tag_cfg = open_clip.get_pretrained_cfg(arch, str(weights))
        path = tagged
    return arch, path, {k: tag_cfg[k] for k in ("mean", "std", "quick_gelu") if k in tag_cfg}


def load_zero_shot(arch: str, weights: str | Path | None = None, pretrained: bool = True,
                   class_names: str | Path | Sequence[str] | None = None, templates: str | Path | Sequence[str] | None = None,
                   bgr: bool = False, prototype_cache: str | Path | None = None, recipe: str = "ensemble",
                   logit_scale: float = LOGIT_SCALE, progress: bool = True) -> ZeroShotClassifier:
    """The zero-shot classifier ``clip:<arch>`` (see the module docstring).

    Args:
        class_names: a ``--class-names`` file or a list; default the 1000 ImageNet names cleaned for CLIP.
        templates: a ``--templates`` file or a list of ``{}`` patterns; default the 80 ImageNet templates.
        pretrained: False builds the architecture randomly initialised, without weights (tests, benchmarks).

    Raises:
        ToolkitError: unknown architecture, missing weights / cache entry / class-name or template file.
    """
    # Only local files are used: without this, a hub lookup of a missing file retries for ~46 s before failing.
    # An explicit HF_HUB_OFFLINE=0 in the environment is left as it is.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import open_clip

    names = list(class_names) if isinstance(class_names, (list, tuple)) else (
        read_class_names(class_names) if class_names else imagenet_clip_class_names())
    prompts = list(templates) if isinstance(templates, (list, tuple)) else (
        read_templates(templates) if templates else imagenet_templates())
    if pretrained:
        model_name, weights_path, preprocess = _resolve_source(arch, weights)
        weights_id = file_sha256(weights_path)
    else:
        model_name, weights_path, preprocess, weights_id = arch, None, {}, "random-init"
    root_logger = logging.getLogger()
    level = root_logger.level
    root_logger.setLevel(logging.ERROR)  # open_clip logs "initialized randomly" warnings: we load the weights next
    try:
        # OpenAI's weights were trained with QuickGELU: their tags say so (a checkpoint file needs the
        # "-quickgelu" architecture name, e.g. clip:ViT-L-14-quickgelu).
        model = open_clip.create_model(model_name, pretrained=None, load_weights=False, pretrained_text=False,
                                       pretrained_image=False, device="cpu",
                                       force_quick_gelu=bool(preprocess.get("quick_gelu", False)))
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        raise ToolkitError(f"--model clip:{arch}: open_clip cannot build it ({str(exc).splitlines()[0]})") from exc
    finally:
        root_logger.setLevel(level)
    if weights_path is not None:
        try:
            open_clip.load_checkpoint(model, str(weights_path))
        except Exception as exc:  # noqa: BLE001 - any unreadable or mismatched checkpoint is a user error
            raise ToolkitError(f"--weights {weights}: {checkpoint_problem(exc, weights_path)}; pass an open_clip checkpoint of {arch} "
                               "(.pt, .bin or .safetensors)") from exc
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)

    def encode_texts(texts: list[str]) -> torch.Tensor:
        with torch.inference_mode():
            return model.encode_text(tokenizer(texts))

    cache_dir = Path(prototype_cache) if prototype_cache else default_cache_dir()
    cache_path = prototype_cache_path(cache_dir, arch, weights_id, names, prompts, recipe, logit_scale)
    prototypes, status = cached_prototypes(
        cache_path, len(names),
        lambda: build_prototypes(encode_texts, names, prompts, logit_scale, recipe, progress=progress),
    )
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    mean = tuple(preprocess.get("mean", cfg.get("mean", CLIP_MEAN)))
    std = tuple(preprocess.get("std", cfg.get("std", CLIP_STD)))
    size = model.visual.image_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    head = nn.Linear(prototypes.shape[1], prototypes.shape[0], bias=False)
    with torch.no_grad():
        head.weight.copy_(prototypes)
    if hasattr(model, "transformer") and hasattr(model, "visual"):
        model.transformer = None  # the text tower is done once the prototypes exist; free its memory
    body = ClipImageEmbedding(model, normalise=recipe == "ensemble")
    classifier = ZeroShotClassifier(body, head, mean, std, size, f"clip:{arch}", names, bgr=bgr)
    classifier.prototype_status = status
    classifier.prototype_path = cache_path
    return classifier
