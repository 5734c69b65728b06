"""One colour per family and per model, the same in every figure.

Families have fixed colours and markers; models take colours from their position in the config's
model list (tab10 up to 10 models, tab20 up to 20, then husl), so a model keeps its colour whatever
subset of models a figure shows.
"""

from __future__ import annotations

import seaborn as sns
from matplotlib.colors import to_hex

FAMILY_COLOURS = {"cnn": "#1f77b4", "transformer": "#d62728", "hybrid": "#9467bd", "classical": "#7f7f7f"}
FAMILY_MARKERS = {"cnn": "o", "transformer": "s", "hybrid": "D", "classical": "^"}
COMMUNITY_PALETTE = "Set2"


def family_colour(family: str) -> str:
    return FAMILY_COLOURS.get(family, "#000000")


def family_marker(family: str) -> str:
    return FAMILY_MARKERS.get(family, "o")


def model_colours(models: list[str]) -> dict[str, str]:
    """Colour of each model, by its position in the full config list ``models``."""
    n = len(models)
    name = "tab10" if n <= 10 else "tab20" if n <= 20 else "husl"
    return {m: to_hex(c) for m, c in zip(models, sns.color_palette(name, n))}


def community_colours(n: int) -> list[str]:
    return [to_hex(c) for c in sns.color_palette(COMMUNITY_PALETTE, max(n, 1))]


def family_legend_handles(families: set[str] | list[str]) -> list:
    """Legend entries (marker and colour) for the families present."""
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], marker=family_marker(f), color=family_colour(f), linestyle="", markersize=8, label=f)
        for f in sorted(set(families))
    ]
