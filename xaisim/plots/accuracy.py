"""Validation accuracy per model under the explanation transform and under timm's own eval transform."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from xaisim.plots import save
from xaisim.plots.palette import family_colour, model_colours


def accuracy_bars(
    table: pd.DataFrame, families: dict[str, str], all_models: list[str], path: str | Path,
    formats: Iterable[str] = ("png",),
) -> None:
    """Per model: accuracy with the squash resize (solid) and timm's centre crop (hatched) (thesis 20240531)."""
    colours = model_colours(all_models)
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(table) + 2), 4.5))
    for offset, column, hatch, name in ((-0.2, "val_accuracy", None, "squash resize (explained)"),
                                        (0.2, "val_accuracy_centre_crop", "//", "timm eval (centre crop)")):
        bars = ax.bar(x + offset, table[column], width=0.4, color=[colours[m] for m in table["model"]],
                      hatch=hatch, edgecolor="black", label=name)
        ax.bar_label(bars, labels=[f"{v:.1%}" for v in table[column]], fontsize=8, padding=2)
    ax.set_xticks(x, table["model"], rotation=30, ha="right")
    for label in ax.get_xticklabels():
        label.set_color(family_colour(families.get(label.get_text(), "")))
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("validation accuracy")
    ax.set_title("Accuracy per model: squash resize vs timm's centre crop")
    ax.legend(loc="lower right", fontsize=8)
    save(fig, path, formats)
