"""Per-map normalisation steps, applied by the similarity stage to the raw maps of the explain stage.

A method entry's ``normalise`` is a list of steps, each a name or ``{name: {param: value}}``,
applied in order to every map (over its spatial axes). The step ``resize`` marks where the map is
brought to the common grid (see :mod:`xaisim.similarity.grids`): steps before it run at the map's
native grid, steps after it at the common grid; without ``resize`` the map is resized first.
``none`` (or an empty list) leaves the raw maps as they are. The thesis' recipes::

    GradCAM: [minmax, resize, minmax]          (pytorch-grad-cam: normalise, upsample, normalise)
    IG:      [percentile, resize]              (clip to 0.3/99.7 %, divide by max |x|)
    IG |x|:  [percentile, abs, resize]         (the later "absolute value" run)

A constant map becomes all zero under ``minmax`` and ``zscore``; an all-zero map stays all zero.
"""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from torch import Tensor

from xaisim.registry import Registry

NORMALISERS: Registry = Registry("normalisation step")
register_normaliser = NORMALISERS.register
RESIZE = "resize"

Step = tuple[str, dict[str, Any]]


def _safe_divide(maps: Tensor, scale: Tensor) -> Tensor:
    """maps / scale per map, and 0 where the scale is 0."""
    return torch.where(scale > 0, maps / torch.where(scale > 0, scale, torch.ones_like(scale)), torch.zeros_like(maps))


def _amax(maps: Tensor) -> Tensor:
    return maps.amax(dim=(-2, -1), keepdim=True)


@register_normaliser("abs")
def absolute(maps: Tensor) -> Tensor:
    """|x|."""
    return maps.abs()


@register_normaliser("minmax")
def minmax(maps: Tensor) -> Tensor:
    """(x - min) / (max - min) per map: spans [0, 1]; a constant map becomes 0."""
    shifted = maps - maps.amin(dim=(-2, -1), keepdim=True)
    return _safe_divide(shifted, _amax(shifted))


@register_normaliser("maxabs")
def maxabs(maps: Tensor) -> Tensor:
    """x / max |x| per map: in [-1, 1], sign kept; an all-zero map stays 0."""
    return _safe_divide(maps, _amax(maps.abs()))


def quantiles(maps: Tensor, q: Tensor) -> Tensor:
    """Per-map quantiles (..., len(q)) with numpy's default linear interpolation (no size limit)."""
    flat = maps.flatten(-2).sort(dim=-1).values
    pos = q.to(flat.dtype) * (flat.shape[-1] - 1)
    lo = pos.floor().long()
    hi = pos.ceil().long()
    frac = pos - lo
    return flat[..., lo] + (flat[..., hi] - flat[..., lo]) * frac


@register_normaliser("percentile")
def percentile(
    maps: Tensor,
    *,
    low: Annotated[float, Field(ge=0, le=100)] = 0.3,
    high: Annotated[float, Field(ge=0, le=100)] = 99.7,
) -> Tensor:
    """Clip each map to its ``low``/``high`` percentiles, then divide by max |x| (the thesis' IG)."""
    if low > high:
        raise ValueError(f"percentile: low {low} is above high {high}")
    bounds = quantiles(maps, torch.tensor([low / 100, high / 100], dtype=torch.float64, device=maps.device))
    clipped = torch.maximum(torch.minimum(maps, bounds[..., 1:2, None]), bounds[..., 0:1, None])
    return maxabs(clipped)


@register_normaliser("zscore")
def zscore(maps: Tensor) -> Tensor:
    """(x - mean) / std per map (population std); a constant map becomes 0."""
    centred = maps - maps.mean(dim=(-2, -1), keepdim=True)
    return _safe_divide(centred, centred.square().mean(dim=(-2, -1), keepdim=True).sqrt())


def parse(spec: Any, where: str) -> list[Step]:
    """A config ``normalise`` value as checked ``[(name, params), ...]`` (defaults filled in).

    ``where`` names the config field in the one-line ValueError for an unknown step or bad value.
    """
    if spec is None or spec == "none":
        return []
    items = [spec] if isinstance(spec, (str, dict)) else list(spec)
    steps: list[Step] = []
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        if isinstance(item, dict):
            if len(item) != 1:
                raise ValueError(f"{here}: a step is a name or {{name: {{params}}}} with one name, got {item!r}")
            (name, params), = item.items()
        else:
            name, params = item, {}
        if name == RESIZE:
            if params:
                raise ValueError(f"{here}: 'resize' takes no parameters (the grid is the method entry's 'grid')")
            steps.append((RESIZE, {}))
            continue
        if name == "none":
            continue
        if name not in NORMALISERS.names():
            known = ", ".join(["none", RESIZE, *NORMALISERS.names()])
            raise ValueError(f"{here}: unknown normalisation {name!r}; known: {known}")
        checked = NORMALISERS.check_params(name, params or {}, f"{here}.{name}")
        if name == "percentile" and checked["low"] > checked["high"]:
            raise ValueError(f"{here}.percentile.low: {checked['low']} is above high {checked['high']}")
        steps.append((name, checked))
    if sum(name == RESIZE for name, _ in steps) > 1:
        raise ValueError(f"{where}: 'resize' may appear once")
    return steps


def split(steps: list[Step]) -> tuple[list[Step], list[Step]]:
    """The steps before and after ``resize`` (resize first when the list has none)."""
    names = [name for name, _ in steps]
    if RESIZE not in names:
        return [], steps
    at = names.index(RESIZE)
    return steps[:at], steps[at + 1 :]


def apply(steps: list[Step], maps: Tensor) -> Tensor:
    """Run ``steps`` (none of them ``resize``) on maps (..., h, w)."""
    for name, params in steps:
        maps = NORMALISERS.get(name)(maps, **params)
    return maps
