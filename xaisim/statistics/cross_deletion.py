"""Do two models rely on the same evidence? Cross-model deletion ("cross-testing", Jiang et al. 2022),
per map method a model x model matrix.

On the first ``images`` explained images, the map of explainer A (upsampled bilinearly to the
evaluated model B's input size, pixels ranked largest first, ties in a seeded random order, as
:mod:`.faithfulness` does) chooses the pixels deleted from B's input: the first ``f`` of them for
each fraction ``f`` of ``fractions`` are replaced by the baseline (``baseline``, as faithfulness's;
built with B's params of the method). The **drop** is B's softmax probability of B's *own*
prediction (B's predictions file) on the intact image minus on the deleted one; the **random drop**
that of a random order of the same fraction on the same images (seeded by ``seed`` and B's name,
so adding a model changes no other model's draws).

- ``score[A, B]`` = mean over the images (counted for A) and fractions of
  drop_B(A's order) - drop_B(random): how much more of B's evidence A's map removes than chance.
  The diagonal ``score[B, B]`` is B's own map's excess drop (a deletion-faithfulness score).
- ``normalised[A, B]`` = score[A, B] / score[B, B]: 1 where A's map removes as much of B's
  evidence as B's own map, 0 where no more than random; NaN (logged) where score[B, B] <= 0.01
  (B's own map is no better than random, or so little that the ratio is noise: nothing to be
  relative to).
- ``distance[A, B]`` = max(0, ((score[B, B] - score[A, B]) + (score[A, A] - score[B, A])) / 2):
  symmetric, 0 on the diagonal, in probability units; how much less each map removes of the
  other model's evidence than that model's own map, clipped at 0 (a map that hurts the other
  model more than its own map counts as the same evidence). Entered in the Mantel tests as the
  reference ``cross_deletion/<method>``.

An unsupported A, and each image whose A map is all zero or non-finite, is left out: the rows say
why and how many images were counted, are warned once per A and method, and a pair with no counted
image is NaN (its row and column NaN in the distance). Cost per map method: models x images x
(models + 1) x fractions forwards, and models x images for the intact probabilities.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from xaisim.io import ArrayFile, stacked, write_csv
from xaisim.statistics import MODEL_READS, MODEL_RUN, STATISTICS, log, undefined
from xaisim.statistics.faithfulness import degenerate, method_baseline, probabilities, random_ranks, ranks

OWN_FLOOR = 0.01  # an own excess drop up to this (1 point of probability) is too small to be relative to
SAME_EVIDENCE = 0.5  # the summary's reading: each map removes at least half of the other's own-map evidence
COLUMNS = ["method", "explainer", "evaluated", "fraction", "drop", "random_drop", "images", "counted", "reason"]


def explainer_maps(path: str, images: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``images`` maps of an explanation file (float64), each one's degenerate reason
    (:func:`~xaisim.statistics.faithfulness.degenerate`), and the file's reason ("unsupported: ...")."""
    f = ArrayFile(path)
    if f.meta.get("unsupported"):
        return np.zeros((0, 1, 1)), np.array([], dtype=str), f"unsupported: {f.meta['unsupported']}"
    maps = f.read("maps", 0, min(images, len(f.meta["image_ids"]))).astype(np.float64)
    return maps, degenerate(maps), ""


def pair_rows(drop: np.ndarray, random_drop: np.ndarray, ok: np.ndarray, reasons: np.ndarray, fractions: Sequence[float],
              file_reason: str = "") -> list[dict[str, Any]]:
    """Per fraction: the mean drop (over the counted images, ``drop`` (counted, F)), the mean random
    drop on the same images (``random_drop`` (N, F)), images, counted and the reason none counted."""
    counted = int(ok.sum())
    reason = file_reason or ("" if counted else "; ".join(sorted(set(reasons))) or "no image")
    return [{"fraction": fr, "drop": float(drop[:, k].mean()) if counted else np.nan,
             "random_drop": float(random_drop[ok, k].mean()) if counted else np.nan,
             "images": len(random_drop), "counted": counted, "reason": reason} for k, fr in enumerate(fractions)]


def cross_rows(
    model: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor, explainers: Mapping[str, str], params: Mapping[str, Any], *,
    fractions: Sequence[float], baseline: str, rng: np.random.Generator, batch: int, warn: bool = True,
) -> list[dict[str, Any]]:
    """:func:`pair_rows` of one evaluated model (its images ``x``, own predictions ``targets``) under
    each explainer's maps (name -> explanation file) of one method (``params``: the evaluated model's
    params of it); ``warn``: log the explainers' left-out maps."""
    from xaisim.explain.baselines import make_baseline, mean_std

    mean, std = mean_std(model)
    base = make_baseline(x, mean=mean, std=std, seed=int(rng.integers(2**31)), **method_baseline(baseline, params))
    size, n = tuple(x.shape[-2:]), len(x)
    intact = probabilities(model, x, base, targets, np.zeros((n, size[0] * size[1]), np.int64), [0.0], batch)
    random_drop = intact - probabilities(model, x, base, targets, random_ranks(n, size[0] * size[1], rng), fractions, batch)
    rows = []
    for name, path in explainers.items():
        maps, reasons, file_reason = explainer_maps(path, n)
        ok = reasons == "" if not file_reason else np.zeros(n, dtype=bool)
        drop = np.zeros((0, len(fractions)))
        if ok.any():
            keep = torch.as_tensor(ok, device=x.device)
            drop = intact[ok] - probabilities(model, x[keep], base[keep], targets[torch.from_numpy(ok)], ranks(maps[ok], size, rng),
                                              fractions, batch)
        if warn and not ok.all():
            log.warning("cross-deletion: %d of %d images of explainer %s left out (%s)", int((~ok).sum()), n, name,
                        file_reason or "all-zero or non-finite maps")
        rows += [{"explainer": name, **r} for r in pair_rows(drop, random_drop, ok, reasons, fractions, file_reason)]
    return rows


def matrices(long: pd.DataFrame, models: Sequence[str]) -> dict[str, dict[str, pd.DataFrame]]:
    """``score``, ``normalised`` and ``distance`` (explainer rows x evaluated columns) per method of
    the :func:`cross_rows` table (see the module docstring)."""
    out: dict[str, dict[str, pd.DataFrame]] = {"score": {}, "normalised": {}, "distance": {}}
    for method, g in long.groupby("method", sort=False):
        excess = g.assign(excess=g["drop"] - g["random_drop"]).groupby(["explainer", "evaluated"])["excess"].mean()
        score = excess.unstack().reindex(index=models, columns=models)
        own = pd.Series(np.diag(score.to_numpy(dtype=float)), index=models)
        for b, value in own.items():
            if not value > OWN_FLOOR:
                undefined(f"cross-deletion normalised {method} on {b}",
                          f"its own map's excess drop is {value:.3g}, not > {OWN_FLOOR}")
        normalised = score / own.where(own > OWN_FLOOR)
        gap = own.to_numpy()[None, :] - score.to_numpy(dtype=float)  # [A, B]: B's own minus A's on B
        distance = np.clip((gap + gap.T) / 2, 0, None)
        np.fill_diagonal(distance, np.where(np.isfinite(np.diag(distance)), 0.0, np.nan))
        out["score"][method], out["normalised"][method] = score, normalised
        out["distance"][method] = pd.DataFrame(distance, index=models, columns=models)
    return out


def same_evidence(normalised: pd.DataFrame, at_least: float = SAME_EVIDENCE) -> list[str]:
    """The pairs ``A-B`` of a normalised matrix with both normalised[A, B] and [B, A] >= ``at_least``."""
    v, names = normalised.to_numpy(dtype=float), list(normalised.index)
    i, j = np.triu_indices(len(names), 1)
    return [f"{names[a]}-{names[b]}" for a, b in zip(i, j) if v[a, b] >= at_least and v[b, a] >= at_least]


@STATISTICS.register(
    "cross_deletion",
    reads={**MODEL_READS, "maps": "maps"},
    writes={"cross_deletion": "cross_deletion", "score": "cross_deletion/score",
            "normalised": "cross_deletion/normalised", "distance": "cross_deletion/distance"},
    report={"cross_deletion": "cross-model deletion (Jiang et al. 2022)"},
    settings=["cross_deletion.images", "cross_deletion.fractions", "cross_deletion.baseline", "seed"],
    enabled="cross_deletion.enabled",
    figures={"cross_deletion": "map_methods"},
    **MODEL_RUN,
)
def cross_deletion(
    inputs: Mapping[str, Any], tables: Mapping[str, str], *, specs: dict[str, Any], map_methods: dict[str, dict[str, Any]],
    image_size: int, images: int, fractions: list[float], baseline: str, seed: int, evals: int | str,
    device: torch.device, memory_mb: float | None = None,
) -> None:
    """Every evaluated model (loaded once, :func:`xaisim.driver.load`) under every explainer's maps of
    every map method: the long table and the per-method matrices (:func:`matrices`); ``evals``,
    ``memory_mb``: inputs per forward, or ``"auto"``: sized to the memory."""
    from xaisim.driver import load
    from xaisim.explain.batching import auto_evals

    files = dict(zip([(m, n) for m in map_methods for n in specs], inputs["maps"]))
    rows = []
    for k, (name, spec) in enumerate(specs.items()):
        e = load(inputs["index"], inputs["subset"], inputs["predictions"][k], spec, inputs["weights"][k],
                 image_size=image_size, target="pred", seed=seed, device=device)
        x, targets = e.first(images, device)
        per_forward = auto_evals(e.model, x[:1], memory_mb) if evals == "auto" else max(1, int(evals))
        for method, m in map_methods.items():
            got = cross_rows(e.model, x, targets, {a: files[method, a] for a in specs}, m["params"][name],
                             fractions=fractions, baseline=baseline, rng=np.random.default_rng([seed, *name.encode()]),
                             batch=per_forward, warn=k == 0)
            rows += [{"method": method, "evaluated": name, **r} for r in got]
    long = pd.DataFrame(rows, columns=COLUMNS)
    write_csv(long, tables["cross_deletion"], index=False, float_format="%.8g")
    for kind, per_method in matrices(long, list(specs)).items():
        write_csv(stacked(per_method), tables[kind], index=False, float_format="%.8g")
