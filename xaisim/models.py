"""Models built from one config entry: create, preprocess, load trained weights.

Two kinds of entry, one entry point (:func:`kind` dispatches):

- timm: ``arch`` (a timm name, optionally ``arch.tag``), ``kwargs`` for ``timm.create_model``,
  ``pretrained`` (hub weights) or ``pretrained_file`` (local weights through timm's own loader).
- sklearn: ``sklearn`` (a name in :data:`xaisim.classical.ESTIMATORS`), ``kwargs`` for the
  estimator; see :mod:`xaisim.classical`.

Both take an optional ``input_size``. Preprocessing takes the normalisation from
``timm.data.resolve_model_data_config`` (timm's ImageNet defaults for scikit-learn models) and
resizes to a square without centre crop.

The weights file records the head: ``num_classes`` in its metadata, so a model kept with its
pretrained classifier (``train: {epochs: 0}``) reloads with its own classes (e.g. ImageNet's 1000).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import logging
from pathlib import Path
from typing import Any, Callable, Iterator

import timm
import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_model
from timm.data import create_transform, resolve_model_data_config
from torch import nn

BUILD_KEYS = ("arch", "sklearn", "kwargs", "pretrained", "pretrained_file", "input_size")


def kind(spec: dict[str, Any]) -> str:
    """``sklearn`` or ``timm``: which builder a model entry (or spec) uses."""
    return "sklearn" if spec.get("sklearn") else "timm"


def supports_gradients(model: nn.Module) -> bool:
    """False for models without parameter/input gradients (scikit-learn): gradient methods raise
    :class:`xaisim.explain.Unsupported` for them. A module opts out with ``supports_gradients = False``."""
    return bool(getattr(model, "supports_gradients", True))


def build_spec(entry: dict[str, Any]) -> dict[str, Any]:
    """The part of a model entry that determines the network (what train and explain depend on)."""
    return {k: entry[k] for k in BUILD_KEYS if k in entry}


def check_arch(arch: str) -> None:
    name, _ = timm.models.split_model_name_tag(arch)
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        raise ValueError(f"unknown timm architecture {arch!r}; similar: {', '.join(close) or 'none'}")


def create(spec: dict[str, Any], num_classes: int | None, pretrained: bool | None = None) -> nn.Module:
    """Create a timm network; ``pretrained=False`` skips any weights (the trained ones load later).

    ``num_classes=None`` keeps the architecture's (pretrained) head."""
    if kind(spec) != "timm":
        raise ValueError(f"{spec['sklearn']!r} is a scikit-learn model: it is fitted by xaisim.classical.fit")
    use_weights = bool(spec.get("pretrained") or spec.get("pretrained_file"))
    if pretrained is not None:
        use_weights = use_weights and pretrained
    kwargs = dict(spec.get("kwargs") or {})
    if use_weights and spec.get("pretrained_file"):
        path = Path(spec["pretrained_file"])
        if not path.is_file():
            raise FileNotFoundError(f"pretrained_file {path} of {spec['arch']} does not exist")
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    try:
        with _load_report() as report:
            model = timm.create_model(spec["arch"], pretrained=use_weights, **kwargs)
    except (OSError, RuntimeError, ValueError, SafetensorError) as err:
        if not use_weights:
            raise
        detail = "; ".join(line.strip() for line in str(err).splitlines() if line.strip())[:600]
        hint = ("" if spec.get("pretrained_file") else
                "; offline, set `pretrained_file` to a local weights file or `pretrained: false`")
        where = f"pretrained_file {spec['pretrained_file']}" if spec.get("pretrained_file") else "the hub"
        raise RuntimeError(
            f"cannot load pretrained weights of {spec['arch']} from {where} ({type(err).__name__}: {detail}){hint}"
        ) from err
    if use_weights:
        _check_loaded(model, spec, report, head_trained=num_classes is not None)
    return model


def input_size(spec: dict[str, Any], image_size: int) -> int:
    """The side of the square inputs the network gets: the entry's ``input_size``, else the image size."""
    return int(spec.get("input_size") or image_size)


@functools.lru_cache(maxsize=32)
def _shapes(spec_json: str, size: int, modules: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    spec = json.loads(spec_json)
    got: dict[str, tuple[int, ...]] = {}

    def keep(name: str) -> Callable[..., None]:
        def hook(_module: nn.Module, _args: object, out: Any) -> None:
            got.setdefault(name, tuple((out[0] if isinstance(out, tuple) else out).shape))
        return hook

    for device in ("meta", "cpu"):  # meta: no memory, no init cost; the CPU where an op has no meta kernel
        net = _meta_network(spec_json) if device == "meta" else create(spec, num_classes=None, pretrained=False).eval()
        hooks = [net.get_submodule(m).register_forward_hook(keep(m)) for m in modules]
        try:
            with torch.no_grad():
                got[""] = tuple(net(torch.zeros(1, 3, size, size, device=device)).shape)
            return tuple(got[m] for m in ("", *modules))
        except Exception as err:  # noqa: BLE001 (timm's asserts, shape errors: the message is the report)
            failed = err
            got.clear()
        finally:
            for h in hooks:
                h.remove()
    reason = next((line.strip() for line in str(failed).splitlines() if line.strip()), type(failed).__name__)
    raise ValueError(f"{spec['arch']} does not take {size}x{size} inputs ({reason}); set data.image_size (or the "
                     "entry's input_size) to a size it was built for, or build it for this one (e.g. kwargs: "
                     "{img_size: ...} for timm's ViTs)")


def probe(spec: dict[str, Any], image_size: int, modules: tuple[str, ...] = ()) -> tuple[tuple[int, ...], ...]:
    """One forward of a zero input at the network's input size through ``spec``'s network, built
    without weights (on the meta device: no memory, about 0.3 s; cached): the output shape, then that
    of each module of ``modules`` (dotted paths). ValueError, naming the sizes, where the network
    does not take the input."""
    return _shapes(json.dumps(spec, sort_keys=True), input_size(spec, image_size), tuple(modules))


@functools.lru_cache(maxsize=32)
def _meta_network(spec_json: str) -> nn.Module:
    spec = json.loads(spec_json)
    try:
        with torch.device("meta"):
            return create(spec, num_classes=None, pretrained=False).eval()
    except TypeError:  # kwargs the constructor refuses: the same on any device
        raise
    except Exception:  # noqa: BLE001 (a constructor that needs real tensors: built on the CPU instead)
        return create(spec, num_classes=None, pretrained=False).eval()


def meta_network(spec: dict[str, Any]) -> nn.Module:
    """``spec``'s network without weights on the meta device (its modules and feature_info; cached),
    on the CPU where its constructor needs real tensors. TypeError where timm's constructor refuses
    the entry's kwargs."""
    return _meta_network(json.dumps(spec, sort_keys=True))


@contextlib.contextmanager
def _load_report() -> Iterator[dict[str, list[str]]]:
    """The keys timm's weight loader reports missing or unexpected (it logs them and goes on)."""
    found: dict[str, list[str]] = {"missing": [], "unexpected": []}

    class Keys(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            for kind, start in (("missing", "Missing keys ("), ("unexpected", "Unexpected keys (")):
                if text.startswith(start):
                    found[kind] += text[len(start):text.index(")")].split(", ")

    logger, handler = logging.getLogger("timm.models._builder"), Keys(logging.INFO)
    level = logger.level
    logger.setLevel(min(level or logging.INFO, logging.INFO))
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _check_loaded(model: nn.Module, spec: dict[str, Any], report: dict[str, list[str]], *, head_trained: bool) -> None:
    """Weights that leave layers at random init fail, naming the keys: only a classifier head that
    training replaces may be missing."""
    heads = getattr(model, "pretrained_cfg", {}).get("classifier") or ()
    heads = (heads,) if isinstance(heads, str) else tuple(heads)
    missing = [k for k in report["missing"] if not (head_trained and k.rsplit(".", 1)[0] in heads)]
    if missing or report["unexpected"]:
        source = spec.get("pretrained_file") or "the hub"
        parts = [f"{len(keys)} {kind} key(s) ({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''})"
                 for kind, keys in (("missing", missing), ("unexpected", report["unexpected"])) if keys]
        why = ("" if head_trained else "; with train.epochs 0 the head is not trained, so it must come from the file"
               " (drop kwargs.num_classes)")
        raise RuntimeError(f"weights in {source} do not fit {spec['arch']}: {' and '.join(parts)}{why}; "
                           "give weights of this architecture")


def data_config(model: nn.Module, spec: dict[str, Any], image_size: int) -> dict[str, Any]:
    """timm's data config with the input size forced to a square (entry ``input_size`` or image size)."""
    cfg = resolve_model_data_config(model)
    size = input_size(spec, image_size)
    cfg["input_size"] = (3, size, size)
    return cfg


def transform(
    cfg: dict[str, Any], train: bool, augment: dict[str, Any] | None = None, crop: bool = False
) -> Callable[[Image.Image], torch.Tensor]:
    """timm transforms: eval squashes to the input size (no crop; ``crop``: timm's own centre crop with
    the model's ``crop_pct``); train adds random crop/flip."""
    common = dict(
        input_size=cfg["input_size"],
        interpolation=cfg.get("interpolation", "bilinear"),
        mean=cfg["mean"],
        std=cfg["std"],
    )
    if not train and crop:
        return create_transform(**common, is_training=False, crop_pct=cfg.get("crop_pct"),
                                crop_mode=cfg.get("crop_mode", "center"))
    if not train:
        return create_transform(**common, is_training=False, crop_pct=1.0, crop_mode="squash")
    augment = augment or {}
    return create_transform(
        **common,
        is_training=True,
        scale=tuple(augment.get("scale", (0.08, 1.0))),
        ratio=(3 / 4, 4 / 3),
        hflip=float(augment.get("hflip", 0.5)),
        color_jitter=None,
        auto_augment=None,
    )


def save_trained(model: nn.Module, path: str | Path, head: str) -> None:
    """Write a timm model's weights atomically, with its class count and ``head`` (trained |
    pretrained) in the metadata."""
    from safetensors.torch import save_model

    from xaisim.io import atomic_path

    with atomic_path(path) as tmp:
        # one metadata key: safetensors stores several in hash order, which differs between runs
        meta = json.dumps({"num_classes": model.num_classes, "head": head}, sort_keys=True)
        save_model(model.cpu(), str(tmp), metadata={"xaisim": meta})


def weights_meta(weights: str | Path) -> dict[str, Any]:
    """The ``xaisim`` metadata of a weights file (empty for files from elsewhere)."""
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("xaisim", "{}"))


def load_trained(spec: dict[str, Any], weights: str | Path, num_classes: int) -> nn.Module:
    """Rebuild a trained model from its ``weights.safetensors`` in eval mode.

    ``num_classes`` is the dataset's; a timm model whose file records another class count (its
    pretrained head, ``epochs: 0``) is rebuilt with that one. scikit-learn models come back as
    :class:`xaisim.classical.SklearnClassifier`."""
    if kind(spec) == "sklearn":
        from xaisim import classical

        return classical.SklearnClassifier(classical.load(str(weights)), num_classes).eval()
    classes = int(weights_meta(weights).get("num_classes", num_classes))
    model = create(spec, classes, pretrained=False)
    load_model(model, str(weights))
    return model.eval()


def pretrained_head(weights: str | Path) -> bool:
    """True when the weights keep the architecture's pretrained classifier (``train: {epochs: 0}``)."""
    return weights_meta(weights).get("head") == "pretrained"
