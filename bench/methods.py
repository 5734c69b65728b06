"""Explanation methods against their floors, KernelSHAP's sample efficiency, speed-up over the thesis' calls.

    .venv/bin/python bench/methods.py [ratio] [efficiency] [thesis] [--out DIR] [--samples N]

- ratio: each case of CASES on resnet50 and ViT-S at 224 px (8 real digit images, random weights):
  the method's wall time divided by its floor, the model passes it cannot avoid, timed in the same
  run at the best batch size of BATCHES (target <= 1.25). Perturbation methods run with that batch
  size as their chunk_size. ``--samples`` sets their n_samples (the ratio, not the budget, is
  measured; the default keeps the whole bench at a few minutes on a 2-core CPU) and SLIC asks for
  n_samples / 2 segments, the most KernelSHAP accepts.
- efficiency: KernelSHAP's L2 error to the exact Shapley values (all 2^S - 2 coalitions) against
  the number of model evaluations, beside captum's KernelShap and shap's KernelExplainer (l1_reg off:
  the same estimator family) on the same images, segments and baseline, averaged over seeds; a
  small model (a 4-block ViT at 32 px) keeps exact enumeration cheap; the estimators see only the
  coalitions' scores, so the model's size does not matter. Writes methods_efficiency.{csv,png}.
- thesis: the thesis' call (captum KernelShap, perturbations_per_eval=1, one image at a time) against
  xaisim's kernelshap on resnet50 at 224 px: seconds per image at the same n_samples.

Results go to bench/results/ (or --out). Add a method by appending a Case to CASES.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import timm
import torch
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xaisim.explain import METHODS  # noqa: E402
from xaisim.explain.baselines import mean_std  # noqa: E402
from xaisim.explain.batching import eval_batch  # noqa: E402
from xaisim.explain.segment import segment, to_pixels  # noqa: E402

TARGET_RATIO = 1.25
BATCHES = (8, 16, 32)
MODELS = {"resnet50": dict(arch="resnet50"), "vit_small": dict(arch="vit_small_patch16_224")}


class Clock:
    """Wall and process CPU seconds of a block (CPU time stays meaningful on a shared, loaded machine)."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def forwards(count: Callable[[dict], int]) -> Callable[[nn.Module, Tensor, dict], tuple[Clock, int]]:
    """Floor of a forward-only method: ``count(params)`` forwards per image at the best batch size of
    BATCHES (picked on one forward each, then timed over all rows)."""

    def run(model: nn.Module, x: Tensor, rows: int, batch: int) -> Clock:
        chunk = x.repeat((batch + len(x) - 1) // len(x), 1, 1, 1)[:batch]
        with torch.no_grad(), Clock() as clock:
            for done in range(0, rows, batch):
                model(chunk[: min(batch, rows - done)])
        return clock

    def floor(model: nn.Module, x: Tensor, params: dict) -> tuple[Clock, int]:
        per_row = {}
        for batch in BATCHES:
            run(model, x, batch, batch)  # warm-up
            per_row[batch] = run(model, x, batch, batch).cpu / batch
        best = min(per_row, key=per_row.get)
        return run(model, x, count(params) * len(x), best), best

    return floor


@dataclass
class Case:
    """One method setting to time: the registered ``method`` with ``params`` and its floor."""

    method: str
    params: dict
    floor: Callable[[nn.Module, Tensor, dict], tuple[Clock, int]]
    models: tuple[str, ...] = field(default=tuple(MODELS))


def cases(samples: int) -> list[Case]:
    slic = {"name": "slic", "n_segments": samples // 2}  # as many segments as n_samples allows
    return [
        Case("kernelshap", {"segmentation": slic, "n_samples": samples}, forwards(lambda p: p["n_samples"] + 2)),
        Case("lime", {"segmentation": slic, "n_samples": samples}, forwards(lambda p: p["n_samples"])),
    ]


def digits_at(model: nn.Module, n: int, size: int) -> Tensor:
    """``n`` real handwritten digits (scikit-learn) as size x size RGB, normalised like ``model``'s inputs."""
    from sklearn.datasets import load_digits

    images = torch.from_numpy(load_digits().images[:n] / 16.0).float()[:, None]
    x = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
    x = (x * 255).round().clamp(0, 255).expand(-1, 3, -1, -1) / 255
    mean, std = mean_std(model)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def make(arch: str, size: int = 224, num_classes: int = 10) -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model(arch, num_classes=num_classes).eval()


def ratio(samples: int, out: Path) -> bool:
    rows = []
    for name, spec in MODELS.items():
        model = make(spec["arch"])
        x = digits_at(model, 8, 224)
        targets = torch.arange(8) % 10
        for case in cases(samples):
            if name not in case.models:
                continue
            fn = METHODS.get(case.method)
            params = METHODS.check_params(case.method, case.params, case.method)
            floor, batch = case.floor(model, x, params)
            with eval_batch(batch):
                fn(model, x[:2], targets[:2], **params)  # warm-up (segmentation, allocator)
                with Clock() as wall:
                    fn(model, x, targets, **params)
            rows.append(dict(model=name, method=case.method, n_samples=params.get("n_samples"), batch=batch,
                             wall_s=wall.wall, floor_wall_s=floor.wall, cpu_s=wall.cpu, floor_cpu_s=floor.cpu,
                             ratio_wall=wall.wall / floor.wall, ratio_cpu=wall.cpu / floor.cpu))
            print(f"  {name:10s} {case.method:12s} wall {wall.wall:7.2f} s / floor {floor.wall:7.2f} s = "
                  f"{wall.wall / floor.wall:.2f}; CPU {wall.cpu:7.2f} s / {floor.cpu:7.2f} s = "
                  f"{wall.cpu / floor.cpu:.2f} (batch {batch})", flush=True)
    table = pd.DataFrame(rows)
    table.round(3).to_csv(out / "methods_ratio.csv", index=False)
    ok = bool((table[["ratio_wall", "ratio_cpu"]].min(axis=1) <= TARGET_RATIO).all())
    print(f"methods: wall / floor max {table['ratio_wall'].max():.2f}, CPU / floor max {table['ratio_cpu'].max():.2f} "
          f"(target <= {TARGET_RATIO}): {'PASS' if ok else 'FAIL'}")
    return ok


def efficiency(out: Path, images: int = 4, n_segments: int = 10, seeds: int = 4) -> bool:
    """L2 error to the exact values vs evaluations: xaisim, captum KernelShap, shap KernelExplainer
    (budgets below 2^S - 2, where xaisim and shap become exact)."""
    import warnings

    import shap

    warnings.filterwarnings("ignore", message="Linear regression equation is singular")
    from captum.attr import KernelShap

    from xaisim.explain.kernelshap import design, shapley_values
    from xaisim.explain.perturb import evaluate

    torch.manual_seed(0)
    model = timm.create_model("vit_tiny_patch16_224", num_classes=10, img_size=32, patch_size=8, depth=4,
                              embed_dim=64, num_heads=2).eval()
    x = digits_at(model, images, 32)
    targets = torch.arange(images) % 10
    spec = {"name": "slic", "n_segments": n_segments, "compactness": 1.0, "convert2lab": False}
    segs = segment(to_pixels(model, x), spec)
    base = torch.zeros_like(x)
    budgets = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384]
    rows = []
    for b in range(images):
        m = int(segs[b].max()) + 1
        z_all, w_all = design(m, 2**m, 0)
        full = np.concatenate([np.zeros((1, m), bool), np.ones((1, m), bool), z_all])
        v = evaluate(model, x[b : b + 1], base[b : b + 1], segs[b : b + 1], [full], targets[b : b + 1], chunk_size=256)[0]
        exact = shapley_values(z_all, w_all, v[2:], float(v[0]), float(v[1]))[0].numpy()
        lookup = {row.tobytes(): i for i, row in enumerate(full)}

        def f(z: np.ndarray, v: Tensor = v, lookup: dict = lookup) -> np.ndarray:
            return v[[lookup[row.tobytes()] for row in z > 0.5]].numpy()

        explainer = shap.KernelExplainer(f, np.zeros((1, m)))
        # captum on the m segment indicators directly: its perturbed inputs are the coalitions
        ks = KernelShap(lambda z, f=f: torch.from_numpy(f(z.numpy())))
        for budget in (n for n in budgets if n < 2**m - 2):
            for seed in range(seeds):
                z, w = design(m, budget, seed)
                ours = shapley_values(z, w, v[[lookup[row.tobytes()] for row in z]], float(v[0]), float(v[1]))[0].numpy()
                np.random.seed(seed)
                theirs = explainer.shap_values(np.ones((1, m)), nsamples=budget, l1_reg=False, silent=True)[0]
                torch.manual_seed(seed)
                cap = ks.attribute(torch.ones(1, m, dtype=torch.float64), baselines=0.0, n_samples=budget,
                                   perturbations_per_eval=budget)[0].numpy()
                for name, est in (("xaisim", ours), ("shap", theirs), ("captum", cap)):
                    rows.append(dict(image=b, segments=m, evaluations=budget, seed=seed, library=name,
                                     l2_error=float(np.linalg.norm(est - exact)), l2_exact=float(np.linalg.norm(exact))))
        print(f"  image {b}: {m} segments, exact from {2**m - 2} coalitions", flush=True)
    data = pd.DataFrame(rows)
    data["relative_error"] = data["l2_error"] / data["l2_exact"]
    data.to_csv(out / "methods_efficiency.csv", index=False)
    curve = data.groupby(["library", "evaluations"])["relative_error"].mean().unstack(0)
    print(curve.round(4).to_string())
    _plot(curve, out / "methods_efficiency.png")
    # evaluations captum needs for xaisim's error: captum's error fitted as a power law of the budget
    slope, intercept = np.polyfit(np.log(curve.index), np.log(curve["captum"]), 1)
    needed = np.exp((np.log(curve["xaisim"].to_numpy()) - intercept) / slope)
    fewer = needed / curve.index.to_numpy()
    vs_shap = (curve["xaisim"] / curve["shap"]).to_numpy()
    print(f"  captum's error ~ evaluations^{slope:.2f}")
    for n, r, s in zip(curve.index, fewer, vs_shap):
        print(f"  {n:5d} evaluations: captum needs {r:5.1f}x as many for the same error; xaisim / shap error {s:.2f}")
    ratio_shap = float(np.exp(np.log(vs_shap).mean()))
    ok = bool((fewer >= 3).all() and ratio_shap <= 1.05)
    print(f"efficiency: captum needs >= {fewer.min():.1f}x the evaluations (target 3x); xaisim / shap error "
          f"{ratio_shap:.2f} (geometric mean over budgets, target <= 1.05): {'PASS' if ok else 'FAIL'}")
    return ok


def _plot(curve: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in curve.columns:
        ax.plot(curve.index, curve[name], marker="o", label=name)
    ax.set(xscale="log", yscale="log", xlabel="model evaluations per image", ylabel="relative L2 error to exact",
           title="KernelSHAP sample efficiency")
    ax.set_xticks(curve.index, [str(n) for n in curve.index], fontsize=7)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def thesis(out: Path, samples: int, images: int = 2) -> None:
    """The thesis' captum call, one image and one coalition per forward, against xaisim's batched call."""
    from captum.attr import KernelShap

    model = make("resnet50")
    x = digits_at(model, images, 224)
    targets = torch.arange(images)
    segs = segment(to_pixels(model, x), {"name": "slic", "n_segments": samples // 2})
    ks = KernelShap(model)
    with torch.no_grad():
        model(x[:1])  # warm-up
    with torch.no_grad(), Clock() as captum:
        for b in range(images):
            ks.attribute(x[b : b + 1], baselines=0.0, target=int(targets[b]), feature_mask=segs[b : b + 1, None],
                         n_samples=samples, perturbations_per_eval=1)
    fn = METHODS.get("kernelshap")
    params = dict(segmentation={"name": "slic", "n_segments": samples // 2}, n_samples=samples)
    with eval_batch(8):
        fn(model, x[:1], targets[:1], **params)  # warm-up
        with Clock() as ours:
            fn(model, x, targets, **params)
    print(f"thesis call: captum KernelShap (perturbations_per_eval=1, one image at a time) {captum.wall / images:.2f} s "
          f"wall ({captum.cpu / images:.2f} s CPU) per image, xaisim {ours.wall / images:.2f} s ({ours.cpu / images:.2f} "
          f"s CPU) at n_samples={samples}: {captum.wall / ours.wall:.1f}x faster ({captum.cpu / ours.cpu:.1f}x in CPU time)")
    pd.DataFrame([dict(n_samples=samples, images=images, captum_wall_s=captum.wall, xaisim_wall_s=ours.wall,
                       captum_cpu_s=captum.cpu, xaisim_cpu_s=ours.cpu, speedup_wall=captum.wall / ours.wall,
                       speedup_cpu=captum.cpu / ours.cpu)]).round(3).to_csv(out / "methods_thesis.csv", index=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["ratio", "efficiency", "thesis"])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--samples", type=int, default=24, help="n_samples of the perturbation methods")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time ~ wall time unloaded)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    ok = True
    if "ratio" in args.parts:
        ok &= ratio(args.samples, args.out)
    if "efficiency" in args.parts:
        ok &= efficiency(args.out)
    if "thesis" in args.parts:
        thesis(args.out, args.samples)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
