"""Does a method depend on the weights? Model-parameter randomisation (Adebayo et al. 2018).

As Quantus' MPRT: the modules that define ``reset_parameters`` (convolutions, linear layers,
norms) are re-initialised cascading from the top (the head first), seeded; at each depth, a
fraction of those modules, the randomised model explains the same images for the same target
classes as the trained one, and each map is compared with the trained model's map by Spearman
rank correlation and cosine similarity (on the raw maps, mean over images). A method whose maps
stay alike as more layers are randomised does not depend on what the model learnt. A method that
raises :class:`xaisim.contract.Unsupported` for a model gives one row with the reason.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata
from torch import nn

from xaisim.contract import Unsupported
from xaisim.io import write_csv
from xaisim.statistics import MODEL_READS, MODEL_RUN, STATISTICS

COLUMNS = ["model", "depth", "layers", "of_layers", "spearman", "spearman_std", "cosine", "cosine_std", "images", "undefined", "reason"]


def randomisable(model: nn.Module) -> list[nn.Module]:
    """Modules with their own ``reset_parameters``, top (last registered) first."""
    return [m for m in reversed(list(model.modules())) if hasattr(m, "reset_parameters") and m is not model]


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(1) / denom, np.nan)


def map_similarity(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Per image Spearman correlation and cosine similarity of two stacks of maps (N, ...)."""
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.where(norms > 0, (a * b).sum(1) / norms, np.nan)
    return {"spearman": _pearson_rows(rankdata(a, axis=1), rankdata(b, axis=1)), "cosine": cosine}


def _summary(values: np.ndarray, key: str) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    return {key: float(finite.mean()) if len(finite) else np.nan,
            f"{key}_std": float(finite.std(ddof=1)) if len(finite) > 1 else np.nan}


def mprt(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
    explain: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor], depths: Sequence[float], seed: int,
) -> list[dict[str, Any]]:
    """Rows (depth, layers, of_layers, spearman, cosine, ...) of one model, cascading randomisation.

    ``explain(model, inputs, targets)`` gives maps (B, h, w). Images whose maps make a similarity
    undefined (an all-zero or constant map) are counted in ``undefined`` and left out of the means.
    A method that raises :class:`Unsupported` gives one row with the reason.
    """
    model = copy.deepcopy(model).eval()
    try:
        original = explain(model, inputs, targets).detach().float().cpu().numpy()
    except Unsupported as err:
        return [{"reason": f"not supported: {err}"}]
    layers = randomisable(model)
    if not layers:
        return [{"reason": "no module with reset_parameters to randomise"}]
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    rows, done = [], 0
    try:
        for depth in sorted(depths):
            k = max(1, math.ceil(depth * len(layers)))
            with torch.no_grad():
                for module in layers[done:k]:
                    module.reset_parameters()
            done = max(done, k)
            sims = map_similarity(original, explain(model, inputs, targets).detach().float().cpu().numpy())
            undefined = int((~np.isfinite(sims["spearman"]) | ~np.isfinite(sims["cosine"])).sum())
            rows.append({"depth": depth, "layers": done, "of_layers": len(layers), "images": len(inputs),
                         **_summary(sims["spearman"], "spearman"), **_summary(sims["cosine"], "cosine"),
                         "undefined": undefined, "reason": ""})
    finally:
        torch.random.set_rng_state(generator_state)
    return rows


def sanity_table(
    models: dict[str, dict[str, Any]], methods: dict[str, dict[str, Any]], *, index_path: str, subset_path: str,
    image_size: int, images: int, depths: Sequence[float], seed: int, evals: int | str, device: torch.device,
    memory_mb: float | None = None,
) -> pd.DataFrame:
    """MPRT rows of every method and model, the first ``images`` explained images for the predicted class.

    ``models``: name -> {spec, weights, predictions}; ``methods``: name -> {method (registered key),
    params (model name -> the method's params for that model)}; ``evals``: the evaluation budget
    (``"auto"``: sized to ``memory_mb``).
    Each model is loaded once (:func:`xaisim.driver.load`) and explained as the explain stage does
    (:class:`xaisim.driver.MapExplainer`)."""
    from xaisim.driver import MapExplainer, load

    out = []
    for name, entry in models.items():
        e = load(index_path, subset_path, entry["predictions"], entry["spec"], entry["weights"], image_size=image_size,
                 target="pred", seed=seed, device=device)
        x, targets = e.first(images, device)
        targets = targets.to(device)
        for method, m in methods.items():
            explainer = MapExplainer(m["method"], m["params"][name], images=len(x), evals=evals,
                                     memory_mb=memory_mb)
            rows = mprt(e.model, x, targets, lambda *args, ex=explainer: ex(*args).maps, depths, seed)
            out += [{"method": method, "model": name, **r} for r in rows]
    return pd.DataFrame(out, columns=["method", *COLUMNS])


@STATISTICS.register(
    "sanity",
    reads=MODEL_READS,
    writes={"sanity": "sanity"},
    report={"sanity": "randomisation sanity"},
    settings=["sanity.images", "sanity.depths", "seed"],
    enabled="sanity.enabled",
    figures={"sanity": "map_methods"},
    per_model=True,
    **MODEL_RUN,
)
def sanity(
    inputs: Mapping[str, Any], tables: Mapping[str, str], *, specs: dict[str, Any], map_methods: dict[str, dict[str, Any]],
    image_size: int, images: int, depths: Sequence[float], seed: int, evals: int | str, device: torch.device,
    memory_mb: float | None = None,
) -> None:
    """:func:`sanity_table` of every map method and model; ``evals``, ``memory_mb``: the evaluation budget."""
    models = {m: {"spec": specs[m], "weights": w, "predictions": p}
              for m, w, p in zip(specs, inputs["weights"], inputs["predictions"])}
    table = sanity_table(models, map_methods, index_path=inputs["index"], subset_path=inputs["subset"],
                         image_size=image_size, images=images, depths=depths, seed=seed, evals=evals, device=device,
                         memory_mb=memory_mb)
    write_csv(table, tables["sanity"], index=False, float_format="%.6g")
