"""The common grid on which the models' maps are compared, and resizing to it.

A method entry's ``grid``:

- ``input`` (default): the data's ``image_size`` square (the thesis' choice);
- ``coarsest``: the smallest native grid among the models (GradCAM at its real resolution);
- an int ``n``: an n x n square;
- ``native``: no resizing; every model's maps must have the same shape (e.g. the (1, R) gradient
  similarity scores over a reference set of training images).

Resizing is bilinear with half-pixel centres (torch ``align_corners=False``, like cv2 and
pytorch-grad-cam); shrinking uses antialiasing so that a coarse grid averages rather than samples.
"""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

Grid = int | str
GRIDS = ("input", "coarsest", "native")
LARGEST = 4096  # a common grid's side: 4096^2 pixels a map (64 MiB in float32)


def check(grid: Grid, where: str) -> Grid:
    """``grid`` if it is one of :data:`GRIDS` or an int in [1, :data:`LARGEST`]; else a one-line ValueError."""
    if isinstance(grid, bool) or not (grid in GRIDS or (isinstance(grid, int) and 1 <= grid <= LARGEST)):
        raise ValueError(f"{where}: grid must be one of {', '.join(GRIDS)} or a size in [1, {LARGEST}], got {grid!r}")
    return grid


def common_grid(grid: Grid, native: Sequence[tuple[int, int]], image_size: int, names: Sequence[str]) -> tuple[int, int]:
    """The (h, w) every model's maps are brought to, given each model's native (h, w)."""
    if grid == "input":
        return (image_size, image_size)
    if grid == "coarsest":
        return min(native, key=lambda hw: (hw[0] * hw[1], hw))
    if grid == "native":
        if len(set(native)) > 1:
            shapes = ", ".join(f"{n} {tuple(hw)}" for n, hw in zip(names, native))
            raise ValueError(f"grid 'native' needs maps of one shape, got {shapes}; choose grid input, coarsest or a size")
        return tuple(native[0])
    return (int(grid), int(grid))


def resize(maps: Tensor, hw: tuple[int, int]) -> Tensor:
    """Bilinear (half-pixel) resize of maps (B, h, w) to ``hw``; unchanged if already that size."""
    if tuple(maps.shape[-2:]) == tuple(hw):
        return maps
    shrink = hw[0] < maps.shape[-2] or hw[1] < maps.shape[-1]
    return F.interpolate(maps[:, None], size=hw, mode="bilinear", align_corners=False, antialias=shrink)[:, 0]
