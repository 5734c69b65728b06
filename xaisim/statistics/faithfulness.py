"""Does a map point at what the model uses? Deletion and insertion curves per model x method
(Petsiuk et al. 2018, RISE), each against a seeded random order.

Per explained image (the first ``images``), the map is upsampled bilinearly to the input size and
its pixels (all channels of a position together) ranked by attribution, largest first; ties go in a
seeded random order. After each of ``steps`` equal fractions of the pixels (and at 0), the
**deletion** curve replaces the pixels ranked so far by the baseline, the **insertion** curve puts
them into the baseline; the value is the model's softmax probability of the map's target class (the
explanation file's ``targets``). AUC: trapezoid over the fractions 0..1. A faithful map has a low
deletion and a high insertion AUC. The **random** reference ranks the pixels in a seeded random
order per image (the same baseline).

The baseline (``baseline``): ``method`` (default) is the method's own (its ``baseline`` param for
IG, KernelSHAP, LIME) and ``zero`` for a method without one; ``zero`` (the normalised zero, i.e. the
dataset-mean colour), ``black`` or ``blur`` (:mod:`xaisim.explain.baselines`) for every method.

"Better than random?" per model x method: the per-image gains (deletion: random AUC - map AUC;
insertion: map AUC - random AUC) in a one-sided paired sign-flip permutation test of their mean
(scipy ``permutation_test``): exact (all 2^n sign flips) for n <= 13 images, smallest attainable p
1 / 2^n; Monte-Carlo with 9999 seeded flips above, smallest p 1 / 10000 (``test``, ``min_p``).
Images with an all-zero or non-finite map, and every image of a model the method does not support,
are NaN rows with the reason in ``faithfulness/per_image``, counted, never averaged in.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from scipy.integrate import trapezoid
from scipy.stats import permutation_test
from torch import Tensor, nn

from xaisim.io import ArrayFile, write_csv
from xaisim.statistics import MODEL_READS, MODEL_RUN, STATISTICS, log, undefined

BASELINES = ("method", "zero", "black", "blur")
CURVES = ("deletion", "insertion")
ORDERS = ("map", "random")
CURVE_COLUMNS = ["method", "model", "curve", "order", "fraction", "probability"]
EXACT_UP_TO = 13  # images: 2^13 sign flips enumerated
RESAMPLES = 9999


def ranks(maps: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Each pixel's rank (N, H*W) in the order of ``maps`` (N, h, w) upsampled bilinearly to ``size``,
    largest first, ties in a random order drawn from ``rng``."""
    up = torch.nn.functional.interpolate(torch.as_tensor(maps, dtype=torch.float64)[:, None], size=size,
                                         mode="bilinear", align_corners=False)[:, 0].reshape(len(maps), -1).numpy()
    out = np.empty(up.shape, dtype=np.int64)
    for i, values in enumerate(up):
        order = np.lexsort((rng.permutation(len(values)), -values))
        out[i, order] = np.arange(len(values))
    return out


def random_ranks(n: int, pixels: int, rng: np.random.Generator) -> np.ndarray:
    """A random rank of each pixel per image (n, pixels)."""
    return np.stack([rng.permutation(pixels) for _ in range(n)]) if n else np.zeros((0, pixels), np.int64)


def probabilities(model: nn.Module, start: Tensor, end: Tensor, targets: Tensor, rank: np.ndarray,
                  fractions: Sequence[float], batch: int) -> np.ndarray:
    """(N, len(fractions)) softmax probability of ``targets`` after each fraction of the pixels, the
    first ranked by ``rank`` ((N, H*W)), is taken from ``end`` into ``start``; ``batch`` inputs per forward."""
    n, c, h, w = start.shape
    counts = np.rint(np.asarray(fractions, dtype=np.float64) * h * w).astype(np.int64)
    masks = torch.as_tensor(rank[:, None, :] < counts[None, :, None], dtype=start.dtype, device=start.device)
    masks = masks.reshape(n, len(counts), 1, h, w)  # 1 where a pixel is taken
    probs = []
    with torch.no_grad():
        for i in range(n):
            inputs = start[i] * (1 - masks[i]) + end[i] * masks[i]
            p = torch.cat([model(inputs[k:k + batch]).double().softmax(1) for k in range(0, len(counts), batch)])
            probs.append(p[:, targets[i]].cpu().numpy())
    return np.stack(probs) if probs else np.zeros((0, len(counts)))


def curves(model: nn.Module, x: Tensor, baseline: Tensor, targets: Tensor, rank: np.ndarray, steps: int,
           batch: int) -> dict[str, np.ndarray]:
    """Deletion and insertion curves (N, steps + 1): the softmax probability of ``targets`` after
    0, 1/steps, ..., 1 of the pixels (ranked by ``rank``, (N, H*W)) are replaced by / put into ``baseline``
    (:func:`probabilities`)."""
    fractions = np.linspace(0, 1, steps + 1)
    return {curve: probabilities(model, *((x, baseline) if curve == "deletion" else (baseline, x)), targets, rank,
                                 fractions, batch) for curve in CURVES}


def degenerate(maps: np.ndarray) -> np.ndarray:
    """Per map of ``maps`` (N, ...) why it cannot rank pixels: "non-finite map", "all-zero map" or ""."""
    flat = maps.reshape(len(maps), -1)
    return np.where(~np.isfinite(flat).all(1), "non-finite map", np.where(~(flat != 0).any(1), "all-zero map", ""))


def auc(curve: np.ndarray) -> np.ndarray:
    """Area under each curve (N, steps + 1) over the fractions 0..1 (trapezoid)."""
    return trapezoid(curve, np.linspace(0, 1, curve.shape[1]), axis=1)


def better_than_random(gains: np.ndarray, seed: int) -> dict[str, Any]:
    """One-sided paired sign-flip test of the mean gain over images: p, test, min_p."""
    gains = gains[np.isfinite(gains)]
    n = len(gains)
    if n < 2:
        return {"p": undefined("faithfulness test", f"{n} usable image(s)"), "test": "", "min_p": np.nan}
    exact = n <= EXACT_UP_TO
    res = permutation_test((gains,), np.mean, permutation_type="samples", alternative="greater",
                           n_resamples=np.inf if exact else RESAMPLES, rng=np.random.default_rng(seed))
    return {"p": float(res.pvalue), "test": "exact sign-flip" if exact else f"Monte-Carlo sign-flip ({RESAMPLES})",
            "min_p": 0.5**n if exact else 1 / (RESAMPLES + 1)}


def method_baseline(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`~xaisim.explain.baselines.make_baseline` keywords for setting ``kind`` and a method's ``params``."""
    if kind != "method":
        return {"kind": kind}
    return {"kind": params.get("baseline", "zero"), **{k: params[k] for k in ("blur_sigma", "noise_std") if k in params}}


def explanation_rows(model: nn.Module, x: Tensor, path: str, params: Mapping[str, Any], *, images: int, steps: int,
                     baseline: str, seed: int, batch: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per image AUCs (map and random order, deletion and insertion, the reason) and the mean curves
    of one explanation file, on the images ``x`` (the first ``images`` explained ones)."""
    from xaisim.explain.baselines import make_baseline, mean_std

    f = ArrayFile(path)
    ids = list(f.meta["image_ids"])[:images]
    head = pd.DataFrame({"method": f.meta["method"], "model": f.meta["model"], "image_id": ids})
    columns = [f"{c}_{o}" for c in CURVES for o in ORDERS]
    if f.meta.get("unsupported"):
        return head.assign(**dict.fromkeys(columns, np.nan), reason=f"unsupported: {f.meta['unsupported']}"), pd.DataFrame()
    maps = f.read("maps", 0, len(ids)).astype(np.float64)
    reason = degenerate(maps)
    ok = reason == ""
    targets = torch.as_tensor(f.read("targets", 0, len(ids)), dtype=torch.long)
    rng = np.random.default_rng(seed)
    mean, std = mean_std(model)
    base = make_baseline(x, mean=mean, std=std, seed=seed, **method_baseline(baseline, params))
    size = tuple(x.shape[-2:])
    out = head.assign(**dict.fromkeys(columns, np.nan), reason=reason)
    mean_curves = []
    if ok.any():
        keep = torch.as_tensor(ok, device=x.device)
        for order, rank in (("map", ranks(maps[ok], size, rng)), ("random", random_ranks(int(ok.sum()), size[0] * size[1], rng))):
            got = curves(model, x[keep], base[keep], targets[ok], rank, steps, batch)
            for curve, values in got.items():
                out.loc[ok, f"{curve}_{order}"] = auc(values)
                mean_curves += [{"method": f.meta["method"], "model": f.meta["model"], "curve": curve, "order": order,
                                 "fraction": fr, "probability": p} for fr, p in zip(np.linspace(0, 1, steps + 1), values.mean(0))]
    if (~ok).any():
        log.warning("%s/%s: %d of %d maps left out of the faithfulness (all zero or non-finite)",
                    f.meta["model"], f.meta["method"], int((~ok).sum()), len(ok))
    return out, pd.DataFrame(mean_curves)


def summary(per_image: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Per method x model: images, counted, mean AUCs, gains over random, p, test, min_p, verdict, reason."""
    rows = []
    for (method, model), g in per_image.groupby(["method", "model"], sort=False):
        counted = g[g["reason"] == ""]
        row = {"method": method, "model": model, "images": len(g), "counted": len(counted)}
        verdicts = []
        for curve in CURVES:
            m, r = counted[f"{curve}_map"], counted[f"{curve}_random"]
            gains = (r - m) if curve == "deletion" else (m - r)
            test = better_than_random(gains.to_numpy(), seed)
            row |= {f"{curve}_auc": m.mean(), f"{curve}_random": r.mean(), f"{curve}_gain": gains.mean(),
                    f"{curve}_p": test["p"]}
            row["test"], row["min_p"] = test["test"] or row.get("test", ""), test["min_p"]
            if np.isfinite(test["p"]):
                verdicts.append(f"{curve} {'better' if test['p'] < 0.05 else 'not better'} than random")
        row["verdict"] = "; ".join(verdicts) or "undefined"
        row["reason"] = "" if len(counted) else g["reason"].iloc[0]
        rows.append(row)
    return pd.DataFrame(rows)


def faithfulness_tables(
    models: dict[str, dict[str, Any]], methods: dict[str, dict[str, Any]], maps: Sequence[str], *, index_path: str,
    subset_path: str, image_size: int, images: int, steps: int, baseline: str, seed: int, batch: int | str,
    device: torch.device, memory_mb: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-image rows and mean curves of every map file (method-major, ``models`` order); each model
    loaded once (:func:`xaisim.driver.load`, as the sanity statistic does). ``batch``: inputs per
    forward, or ``"auto"``: as many as ``memory_mb`` holds for that model."""
    from xaisim.driver import load
    from xaisim.explain.batching import auto_evals

    paths = dict(zip([(m, n) for m in methods for n in models], maps))
    per_image, mean_curves = [], []
    for name, entry in models.items():
        e = load(index_path, subset_path, entry["predictions"], entry["spec"], entry["weights"], image_size=image_size,
                 target="pred", seed=seed, device=device)
        x, _ = e.first(images, device)
        per_forward = auto_evals(e.model, x[:1], memory_mb) if batch == "auto" else max(1, int(batch))
        for method, m in methods.items():
            rows, c = explanation_rows(e.model, x, paths[method, name], m["params"][name], images=images, steps=steps,
                                       baseline=baseline, seed=seed, batch=per_forward)
            per_image.append(rows)
            mean_curves.append(c)
    drawn = [c for c in mean_curves if len(c)]  # an empty frame would make the columns objects (float format lost)
    return (pd.concat(per_image, ignore_index=True),
            pd.concat(drawn, ignore_index=True) if drawn else pd.DataFrame(columns=CURVE_COLUMNS))


@STATISTICS.register(
    "faithfulness",
    reads={**MODEL_READS, "maps": "maps"},
    writes={"faithfulness": "faithfulness", "per_image": "faithfulness/per_image", "curves": "faithfulness/curves"},
    report={"faithfulness": "faithfulness (deletion and insertion against random)"},
    settings=["faithfulness.images", "faithfulness.steps", "faithfulness.baseline", "seed"],
    enabled="faithfulness.enabled",
    figures={"faithfulness": "map_methods"},
    per_model=True,
    **MODEL_RUN,
)
def faithfulness(
    inputs: Mapping[str, Any], tables: Mapping[str, str], *, specs: dict[str, Any], map_methods: dict[str, dict[str, Any]],
    image_size: int, images: int, steps: int, baseline: str, seed: int, evals: int | str, device: torch.device,
    memory_mb: float | None = None,
) -> None:
    """:func:`faithfulness_tables` of every map method and model and their :func:`summary`; ``evals``,
    ``memory_mb``: the evaluation budget (inputs per forward, or ``"auto"``: sized to the memory)."""
    models = {m: {"spec": specs[m], "weights": w, "predictions": p}
              for m, w, p in zip(specs, inputs["weights"], inputs["predictions"])}
    per_image, mean_curves = faithfulness_tables(
        models, map_methods, inputs["maps"], index_path=inputs["index"], subset_path=inputs["subset"],
        image_size=image_size, images=images, steps=steps, baseline=baseline, seed=seed, batch=evals, device=device,
        memory_mb=memory_mb)
    write_csv(per_image, tables["per_image"], index=False, float_format="%.8g")
    write_csv(mean_curves, tables["curves"], index=False, float_format="%.6g")
    write_csv(summary(per_image, seed), tables["faithfulness"], index=False, float_format="%.6g")
