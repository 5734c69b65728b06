"""Does a method depend on the class it explains? The random-logit check (Sixt et al. 2020; Quantus'
``RandomLogit``) per model x map method.

On the first ``images`` explained images, the map the explain stage wrote (for the file's target
class) is compared with a map of the same model and method for a seeded random *other* class
(uniform over the remaining classes, one draw per image), re-explained as the explain stage does
(:class:`xaisim.driver.MapExplainer`), by Spearman rank correlation and cosine similarity on the raw
maps (:func:`xaisim.statistics.sanity.map_similarity`), mean over images. Near 1: the method ignores
the class. Images whose similarity is undefined (an all-zero or constant map) are counted in
``undefined`` and left out of the means; a model the method does not support is one row with the reason.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from xaisim.contract import Unsupported
from xaisim.io import ArrayFile, write_csv
from xaisim.statistics import MODEL_READS, MODEL_RUN, STATISTICS
from xaisim.statistics.sanity import map_similarity

COLUMNS = ["method", "model", "images", "spearman", "spearman_std", "cosine", "cosine_std", "undefined", "reason"]


def other_classes(targets: np.ndarray, classes: int, seed: int) -> np.ndarray:
    """Per image a class other than its target, uniform over the other ``classes`` - 1, seeded."""
    shift = np.random.default_rng(seed).integers(1, classes, size=len(targets))
    return (targets + shift) % classes


def similarity_row(original: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """images, mean/std of Spearman and cosine over the images where both are defined, undefined."""
    sims = map_similarity(original, other)
    ok = np.isfinite(sims["spearman"]) & np.isfinite(sims["cosine"])
    row: dict[str, Any] = {"images": len(original), "undefined": int((~ok).sum()), "reason": ""}
    for key, values in sims.items():
        row[key] = float(values[ok].mean()) if ok.any() else np.nan
        row[f"{key}_std"] = float(values[ok].std(ddof=1)) if ok.sum() > 1 else np.nan
    return row


def check(model: nn.Module, x: torch.Tensor, original: np.ndarray, targets: np.ndarray, classes: int,
          explain: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor], seed: int) -> dict[str, Any]:
    """The :func:`similarity_row` of ``original`` (maps for ``targets``) and ``explain(model, x, others)``
    for :func:`other_classes`; a method that raises :class:`Unsupported` gives the reason."""
    others = torch.as_tensor(other_classes(np.asarray(targets), classes, seed), device=x.device)
    try:
        return similarity_row(original, explain(model, x, others).detach().float().cpu().numpy())
    except Unsupported as err:
        return {"reason": f"not supported: {err}"}


@STATISTICS.register(
    "random_logit",
    reads={**MODEL_READS, "maps": "maps"},
    writes={"random_logit": "random_logit"},
    report={"random_logit": "random-logit check"},
    settings=["random_logit.images", "seed"],
    enabled="random_logit.enabled",
    figures={"random_logit": "once"},
    per_model=True,
    **MODEL_RUN,
)
def random_logit(
    inputs: Mapping[str, Any], tables: Mapping[str, str], *, specs: dict[str, Any], map_methods: dict[str, dict[str, Any]],
    image_size: int, images: int, seed: int, evals: int | str, device: torch.device, memory_mb: float | None = None,
) -> None:
    """Per map method x model: the explain stage's maps against maps for a random other class."""
    from xaisim.driver import MapExplainer, load
    from xaisim.index import num_classes

    paths: Sequence[str] = inputs["maps"]
    files = dict(zip([(m, n) for m in map_methods for n in specs], paths))
    rows = []
    for k, (name, spec) in enumerate(specs.items()):
        e = load(inputs["index"], inputs["subset"], inputs["predictions"][k], spec, inputs["weights"][k],
                 image_size=image_size, target="pred", seed=seed, device=device)
        x, _ = e.first(images, device)
        for method, m in map_methods.items():
            f = ArrayFile(files[method, name])
            if f.meta.get("unsupported"):
                rows.append({"method": method, "model": name, "reason": f"unsupported: {f.meta['unsupported']}"})
                continue
            original = f.read("maps", 0, len(x)).astype(np.float32)
            explainer = MapExplainer(m["method"], m["params"][name], images=len(x), evals=evals,
                                     memory_mb=memory_mb)
            row = check(e.model, x, original, f.read("targets", 0, len(x)), num_classes(e.index),
                        lambda *args, ex=explainer: ex(*args).maps, seed)
            rows.append({"method": method, "model": name, **row})
    write_csv(pd.DataFrame(rows, columns=COLUMNS), tables["random_logit"], index=False, float_format="%.6g")
