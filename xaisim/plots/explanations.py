"""Explanation maps over their images: overlays, the LIME MNIST example's green/red rendering, grids.

Maps arrive raw at their native grid; for display they are resized to the image (bilinear) and
divided by their largest absolute value. Non-negative maps are drawn as a heat overlay on the grey
image; signed maps in the LIME MNIST example's HSV rendering: hue green for positive and red for negative weight,
saturation = |weight|, value raised by |weight| / 2 so dark pixels stay visible. Segment boundaries
(KernelSHAP, LIME) are drawn when a segmentation is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
from skimage.color import hsv2rgb, rgb2hsv
from skimage.segmentation import find_boundaries
from skimage.transform import resize

from xaisim.plots import save

HUE_GREEN, HUE_RED, VALUE_ADD = 1 / 3, 0.0, 0.5


def display_map(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``m`` resized to ``shape`` and scaled into [-1, 1] by its largest absolute value (all-zero stays 0)."""
    m = np.nan_to_num(np.asarray(m, dtype=np.float64))
    if m.shape != shape:
        m = resize(m, shape, order=1, mode="edge", anti_aliasing=False)
    peak = np.abs(m).max()
    return m / peak if peak > 0 else m


def signed_rendering(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Seed 002's rendering of signed weights in [-1, 1] over an RGB image in [0, 1]."""
    hsv = rgb2hsv(image)
    strength = np.abs(weights)
    hsv[..., 0] = np.where(weights > 0, HUE_GREEN, np.where(weights < 0, HUE_RED, hsv[..., 0]))
    hsv[..., 1] = strength
    hsv[..., 2] = np.minimum(1.0, strength * VALUE_ADD + hsv[..., 2])
    return hsv2rgb(hsv)


@dataclass
class Cell:
    """One panel: an image, optionally a map over it and a segmentation, a caption and its colour."""

    image: np.ndarray | None = None
    map: np.ndarray | None = None
    segments: np.ndarray | None = None
    text: str = ""
    colour: str = "black"


def draw(ax: plt.Axes, cell: Cell) -> None:
    """Draw one cell: the image alone, the map over it, or only its caption (e.g. not supported)."""
    ax.set_xticks([])
    ax.set_yticks([])
    if cell.image is not None:
        image = cell.image
        if cell.map is None:
            ax.imshow(image)
        else:
            m = display_map(cell.map, image.shape[:2])
            if (m < 0).any():
                ax.imshow(signed_rendering(image, m))
            else:
                ax.imshow(image.mean(2), cmap="gray", vmin=0, vmax=1)
                ax.imshow(m, cmap="inferno", vmin=0, vmax=1, alpha=0.6)
        if cell.segments is not None:
            edges = find_boundaries(resize(cell.segments, image.shape[:2], order=0, preserve_range=True), mode="inner")
            ax.imshow(np.ma.masked_where(~edges, edges), cmap="cool", alpha=0.9, interpolation="nearest")
    else:
        ax.set_frame_on(False)
    if cell.text:
        ax.set_title(cell.text, fontsize=8, color=cell.colour)


def grid(
    cells: list[list[Cell]], row_labels: list[str], col_labels: list[str], col_colours: list[str], title: str,
    path: str | Path, formats: Iterable[str] = ("png",),
) -> None:
    """A table of cells with row labels on the left and column headers above the first row."""
    rows, cols = len(cells), len(cells[0])
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols + 0.6, 2.0 * rows + 0.8), squeeze=False,
                             layout="constrained")
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            draw(axes[r, c], cell)
        axes[r, 0].set_ylabel(row_labels[r], fontsize=9)
    for c, (label, colour) in enumerate(zip(col_labels, col_colours)):
        axes[0, c].annotate(label, (0.5, 1.0), xytext=(0, 30), xycoords="axes fraction", textcoords="offset points",
                            ha="center", va="bottom", fontsize=9, fontweight="bold", color=colour)
    fig.suptitle(title)
    save(fig, path, formats)
