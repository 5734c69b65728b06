"""Every figure of the pipeline: one module per figure family, one palette, one way of saving.

Modules: :mod:`palette` (one colour per family and per model), :mod:`clusters` (dendrograms,
linkage comparison, Louvain graph, clustered heatmap, embeddings), :mod:`distributions`
(histograms, matrices, box plots), :mod:`explanations` (overlays, grids, green/red rendering),
:mod:`accuracy`; :mod:`jobs` reads a figure job's inputs and draws them. Every figure is written
by :func:`save`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from xaisim.io import atomic_path  # noqa: E402

plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.titlesize": 12, "savefig.dpi": 120})


def save(fig: plt.Figure, path: str | Path, formats: Iterable[str] = ("png",)) -> None:
    """Write ``fig`` to ``path`` (PNG) and next to it in every other format asked for (svg, pdf)."""
    path = Path(path)
    for fmt in dict.fromkeys(["png", *formats]):
        with atomic_path(path.with_suffix(f".{fmt}")) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight")
    plt.close(fig)


def message(text: str, title: str, path: str | Path, formats: Iterable[str] = ("png",)) -> None:
    """A figure that says why there is nothing to draw (e.g. fewer than two models, no image)."""
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    ax.set_title(title)
    ax.axis("off")
    save(fig, path, formats)
