"""timm models built from one config entry: create, preprocess, load trained weights.

A model entry holds ``arch`` (a timm name, optionally ``arch.tag``), ``kwargs`` for
``timm.create_model``, ``pretrained`` (hub weights) or ``pretrained_file`` (local weights through
timm's own loader) and an optional ``input_size``. Preprocessing takes the normalisation from
``timm.data.resolve_model_data_config`` and resizes to a square without centre crop.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Callable

import timm
import torch
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_model
from timm.data import create_transform, resolve_model_data_config
from torch import nn

BUILD_KEYS = ("arch", "kwargs", "pretrained", "pretrained_file", "input_size")


def build_spec(entry: dict[str, Any]) -> dict[str, Any]:
    """The part of a model entry that determines the network (what train and explain depend on)."""
    return {k: entry[k] for k in BUILD_KEYS if k in entry}


def check_arch(arch: str) -> None:
    name, _ = timm.models.split_model_name_tag(arch)
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=5, cutoff=0.6)
        raise ValueError(f"unknown timm architecture {arch!r}; similar: {', '.join(close) or 'none'}")


def create(spec: dict[str, Any], num_classes: int, pretrained: bool | None = None) -> nn.Module:
    """Create the network; ``pretrained=False`` skips any weights (the trained ones load later)."""
    use_weights = bool(spec.get("pretrained") or spec.get("pretrained_file"))
    if pretrained is not None:
        use_weights = use_weights and pretrained
    kwargs = dict(spec.get("kwargs") or {})
    if use_weights and spec.get("pretrained_file"):
        path = Path(spec["pretrained_file"])
        if not path.is_file():
            raise FileNotFoundError(f"pretrained_file {path} of {spec['arch']} does not exist")
        kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
    try:
        return timm.create_model(spec["arch"], pretrained=use_weights, num_classes=num_classes, **kwargs)
    except (OSError, RuntimeError, ValueError, SafetensorError) as err:
        if not use_weights:
            raise
        source = spec.get("pretrained_file") or "the hub"
        raise RuntimeError(
            f"cannot load pretrained weights of {spec['arch']} from {source} ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); offline, set `pretrained_file` to a local "
            "weights file or `pretrained: false`"
        ) from err


def data_config(model: nn.Module, spec: dict[str, Any], image_size: int) -> dict[str, Any]:
    """timm's data config with the input size forced to a square (entry ``input_size`` or image size)."""
    cfg = resolve_model_data_config(model)
    size = int(spec.get("input_size") or image_size)
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


def load_trained(spec: dict[str, Any], weights: str | Path, num_classes: int) -> nn.Module:
    """Rebuild a fine-tuned model from its ``weights.safetensors`` in eval mode."""
    model = create(spec, num_classes, pretrained=False)
    load_model(model, str(weights))
    return model.eval()
