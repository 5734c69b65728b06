"""Explanation methods against their floors, KernelSHAP's sample efficiency, speed-up over the thesis' calls.

    .venv/bin/python bench/methods.py [ratio] [efficiency] [thesis] [--out DIR] [--samples N] [--steps N]
                                      [--methods NAME ...] [--threads N]

- ratio: every registered method (:func:`cases`; LRP on resnet50, rollout on the ViT, where they are
  supported) on resnet50 and ViT-S at 224 px (8 real digit images, random weights): the method's
  time divided by its floor, the model passes it cannot avoid, timed in the same run at the best
  batch size of BATCHES (least CPU time per row; target <= 1.25): GradCAM one forward and the
  backward to its layer; saliency, gradient x input/SIGN and LRP one forward and backward to the
  input; IG ``n_steps`` of them; KernelSHAP ``n_samples + 2`` forwards, LIME ``n_samples``; rollout
  one forward. Multi-pass methods get that batch size as their evaluation budget ``evals``.
  ``--samples``/``--steps`` set the budgets (the ratio, not the budget, is measured; the defaults
  keep the whole part under 10 minutes on a 2-core CPU); SLIC asks for n_samples / 2 segments.
  Wall and process-CPU ratios are both written: on a shared machine the CPU ratio is the fair one.
- efficiency: KernelSHAP's L2 error to the exact Shapley values (all 2^S - 2 coalitions) against
  the number of model evaluations per image (the empty and full image included; counted, equal for
  all three), beside captum's KernelShap and shap's KernelExplainer (l1_reg off:
  the same estimator family) on the same images, segments and baseline, over seeds; a small model
  (a 4-block ViT at 32 px) keeps exact enumeration cheap; the estimators see only the coalitions'
  scores, so the model's size does not matter. Per budget, xaisim's mean error over shap's with a
  bootstrap interval, and of the medians. Writes methods_efficiency.{csv,png} (medians and
  interquartile ranges) and methods_efficiency_summary.csv.
- thesis: the thesis' calls against xaisim's on both models: captum KernelShap
  (perturbations_per_eval=1, one image at a time), captum IntegratedGradients (internal_batch_size
  = the batch) and pytorch-grad-cam's GradCAM. Writes methods_thesis.csv.

Results go to bench/results/ (or --out). Add a method by appending a Case to :func:`cases`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from xaisim.explain.gradcam import resolve_layer  # noqa: E402
from xaisim.explain.segment import segment, to_pixels  # noqa: E402

TARGET_RATIO = 1.25
BATCHES = (8, 16, 32)
MODELS = {"resnet50": "resnet50", "vit_small": "vit_small_patch16_224"}
IMAGES = 8
Pass = Callable[[nn.Module, Tensor, Tensor, int, int], None]
"""A floor pass: ``(model, images, targets, rows, batch)``."""


class Clock:
    """Wall and process CPU seconds of a block (CPU time stays meaningful on a shared, loaded machine)."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _chunks(x: Tensor, rows: int, batch: int) -> Iterator[Tensor]:
    """``rows`` model inputs (copies of ``x``'s images) in batches of at most ``batch``."""
    block = x.repeat((batch + len(x) - 1) // len(x), 1, 1, 1)[:batch]
    for done in range(0, rows, batch):
        yield block[: min(batch, rows - done)]


def _targets(targets: Tensor, n: int) -> Tensor:
    return targets.repeat(n // len(targets) + 1)[:n, None]


def forward_pass(model: nn.Module, x: Tensor, targets: Tensor, rows: int, batch: int) -> None:
    """``rows`` forwards without gradients."""
    with torch.no_grad():
        for chunk in _chunks(x, rows, batch):
            model(chunk)


def input_gradient_pass(model: nn.Module, x: Tensor, targets: Tensor, rows: int, batch: int) -> None:
    """``rows`` forwards and backwards to the input (target logit), no parameter gradients."""
    for chunk in _chunks(x, rows, batch):
        chunk = chunk.clone().requires_grad_(True)
        torch.autograd.grad(model(chunk).gather(1, _targets(targets, len(chunk))).sum(), chunk)


def layer_gradient_pass(module: nn.Module) -> Pass:
    """Forwards with an autograd graph only from ``module`` on, and the backward to its output."""

    def run(model: nn.Module, x: Tensor, targets: Tensor, rows: int, batch: int) -> None:
        captured: list[Tensor] = []

        def hook(_m: nn.Module, _a: object, out: Tensor) -> Tensor:
            torch.set_grad_enabled(True)  # the no_grad block below restores the mode
            captured.append(out.detach().requires_grad_(True))
            return captured[-1]

        handle = module.register_forward_hook(hook)
        try:
            for chunk in _chunks(x, rows, batch):
                captured.clear()
                with torch.no_grad():
                    score = model(chunk).gather(1, _targets(targets, len(chunk))).sum()
                    torch.autograd.grad(score, captured[0])
        finally:
            handle.remove()

    return run


def best_batch(model: nn.Module, x: Tensor, targets: Tensor, kind: Pass) -> int:
    """The batch size of BATCHES with the least CPU time per row for ``kind`` (timed after a warm-up)."""
    per_row = {}
    for batch in BATCHES:
        kind(model, x, targets, batch, batch)
        with Clock() as clock:
            kind(model, x, targets, batch, batch)
        per_row[batch] = clock.cpu / batch
    return min(per_row, key=per_row.get)


@dataclass
class Case:
    """One method setting to time: the registered ``method`` with ``params`` against its floor, ``rows(params)``
    passes per image of ``floor``: ``forward``, ``input_gradient`` (forward and backward to the input) or
    ``layer_gradient`` (forward and backward to GradCAM's layer). ``repeat``: timings per case, the
    least CPU time counts (for the cheap cases, whose single timings are noisy)."""

    method: str
    params: dict
    floor: str
    rows: Callable[[dict], int] = lambda _: 1
    models: tuple[str, ...] = tuple(MODELS)
    repeat: int = 3


def cases(samples: int, steps: int) -> list[Case]:
    # 2^S well above the budget (SLIC may return more segments than asked for, rarely fewer), so that
    # every coalition method evaluates exactly its floor's rows
    slic = {"name": "slic", "n_segments": samples // 2}
    return [
        Case("gradcam", {}, "layer_gradient"),
        Case("saliency", {}, "input_gradient"),
        Case("gradient_x_input", {}, "input_gradient"),
        Case("gradient_x_sign", {}, "input_gradient"),
        Case("lrp_epsilon_sign", {}, "input_gradient", models=("resnet50",)),
        Case("attention_rollout", {}, "forward", models=("vit_small",)),
        Case("integrated_gradients", {"n_steps": steps}, "input_gradient", lambda p: p["n_steps"], repeat=1),
        Case("kernelshap", {"segmentation": slic, "n_samples": samples}, "forward", lambda p: p["n_samples"] + 2,
             repeat=1),
        Case("lime", {"segmentation": slic, "n_samples": samples}, "forward", lambda p: p["n_samples"], repeat=1),
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


def ratio(samples: int, steps: int, out: Path, only: list[str]) -> bool:
    rows = []
    for name, arch in MODELS.items():
        model = make(arch)
        x = digits_at(model, IMAGES, 224)
        targets = torch.arange(IMAGES) % 10
        batch = {"forward": best_batch(model, x, targets, forward_pass),
                 "input_gradient": best_batch(model, x, targets, input_gradient_pass)}
        segment(to_pixels(model, x[:1]), "slic")  # warm-up (scikit-image)
        print(f"  {name}: best batch {batch}", flush=True)
        for case in cases(samples, steps):
            if name not in case.models or (only and case.method not in only):
                continue
            fn = METHODS.get(case.method)
            params = METHODS.check_params(case.method, case.params, case.method)
            if case.floor == "layer_gradient":
                floor = layer_gradient_pass(resolve_layer(model, params["layer"], params["depth"])[1])
                size = batch["input_gradient"]
            else:
                floor = forward_pass if case.floor == "forward" else input_gradient_pass
                size = batch[case.floor]
            n_rows = case.rows(params) * IMAGES
            size = min(size, n_rows)
            budget = [size] if METHODS.info(case.method)["needs"].evals else []
            timed: list[tuple[Clock, Clock]] = []
            for _ in range(case.repeat):
                with Clock() as f:
                    floor(model, x, targets, n_rows, size)
                with Clock() as wall:
                    fn(model, x, targets, *budget, **params)
                timed.append((wall, f))
            wall = min((w for w, _ in timed), key=lambda c: c.cpu)
            f = min((f for _, f in timed), key=lambda c: c.cpu)
            load = os.getloadavg()[0]
            rows.append(dict(model=name, method=case.method, floor=case.floor, floor_rows=n_rows, batch=size,
                             wall_s=wall.wall, floor_wall_s=f.wall, cpu_s=wall.cpu, floor_cpu_s=f.cpu,
                             ratio_wall=wall.wall / f.wall, ratio_cpu=wall.cpu / f.cpu, load=load))
            print(f"  {name:9s} {case.method:20s} wall {wall.wall:7.2f} s / floor {f.wall:7.2f} s = "
                  f"{wall.wall / f.wall:.2f}; CPU {wall.cpu:7.2f} s / {f.cpu:7.2f} s = {wall.cpu / f.cpu:.2f} "
                  f"({n_rows} rows of {case.floor}, batch {size}, load {load:.1f})", flush=True)
    table = pd.DataFrame(rows)
    table.round(3).to_csv(out / "methods_ratio.csv", index=False)
    ok = bool((table[["ratio_wall", "ratio_cpu"]].min(axis=1) <= TARGET_RATIO).all())
    print(f"methods: wall / floor max {table['ratio_wall'].max():.2f}, CPU / floor max {table['ratio_cpu'].max():.2f} "
          f"(target <= {TARGET_RATIO}): {'PASS' if ok else 'FAIL'}")
    return ok


def efficiency(out: Path, images: int = 8, n_segments: int = 10, seeds: int = 16) -> bool:
    """L2 error to the exact values vs model evaluations: xaisim, captum KernelShap, shap KernelExplainer
    (budgets below 2^S, where xaisim and shap become exact). Every tool gets exactly the same number
    of evaluations per image, the empty and the full coalition included (counted, checked): xaisim's
    and shap's ``n_samples`` exclude those two (shap evaluates each distinct coalition once), captum's
    includes them. xaisim is worse than shap at a
    budget only if the 95 % bootstrap interval of its mean error over shap's (images and seeds
    resampled) lies above 1."""
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
    budgets = [16, 20, 24, 32, 48, 64, 96, 128, 192, 256, 384]  # model evaluations per image, all of them
    rows = []
    for b in range(images):
        m = int(segs[b].max()) + 1
        z_all, w_all = design(m, 2**m, 0)
        full = np.concatenate([np.zeros((1, m), bool), np.ones((1, m), bool), z_all])
        v = evaluate(model, x[b : b + 1], base[b : b + 1], segs[b : b + 1], [full], targets[b : b + 1], chunk_size=256)[0]
        exact = shapley_values(z_all, w_all, v[2:], float(v[0]), float(v[1]))[0].numpy()
        lookup = {row.tobytes(): i for i, row in enumerate(full)}
        counted = [0]

        def f(z: np.ndarray, v: Tensor = v, lookup: dict = lookup, counted: list = counted) -> np.ndarray:
            counted[0] += len(z)
            return v[[lookup[row.tobytes()] for row in z > 0.5]].numpy()

        explainer = shap.KernelExplainer(f, np.zeros((1, m)))  # evaluates the empty coalition once
        # captum on the m segment indicators directly: its perturbed inputs are the coalitions
        ks = KernelShap(lambda z, f=f: torch.from_numpy(f(z.numpy())))
        for budget in (n for n in budgets if n < 2**m):
            for seed in range(seeds):
                # xaisim's and shap's n_samples exclude the empty and the full coalition, captum's include them
                z, w = design(m, budget - 2, seed)
                ours = shapley_values(z, w, v[[lookup[row.tobytes()] for row in z]], float(v[0]), float(v[1]))[0].numpy()
                np.random.seed(seed)
                counted[0] = 1
                theirs = explainer.shap_values(np.ones((1, m)), nsamples=budget - 2, l1_reg=False, silent=True)[0]
                shap_evaluations = counted[0]
                torch.manual_seed(seed)
                counted[0] = 0
                cap = ks.attribute(torch.ones(1, m, dtype=torch.float64), baselines=0.0, n_samples=budget,
                                   perturbations_per_eval=budget)[0].numpy()
                evaluations = {"xaisim": len(z) + 2, "shap": shap_evaluations, "captum": counted[0]}
                if set(evaluations.values()) != {budget}:
                    raise RuntimeError(f"unequal model evaluations at budget {budget}: {evaluations}")
                for name, est in (("xaisim", ours), ("shap", theirs), ("captum", cap)):
                    rows.append(dict(image=b, segments=m, evaluations=budget, seed=seed, library=name,
                                     l2_error=float(np.linalg.norm(est - exact)), l2_exact=float(np.linalg.norm(exact))))
        print(f"  image {b}: {m} segments, exact from {2**m - 2} coalitions", flush=True)
    data = pd.DataFrame(rows)
    data["relative_error"] = data["l2_error"] / data["l2_exact"]
    data.to_csv(out / "methods_efficiency.csv", index=False)
    curve = data.groupby(["library", "evaluations"])["relative_error"].mean().unstack(0)
    print(curve.round(4).to_string())
    _plot(data, out / "methods_efficiency.png")
    # evaluations captum needs for xaisim's error: captum's error fitted as a power law of the budget
    slope, intercept = np.polyfit(np.log(curve.index), np.log(curve["captum"]), 1)
    needed = np.exp((np.log(curve["xaisim"].to_numpy()) - intercept) / slope)
    fewer = needed / curve.index.to_numpy()
    vs_shap = (curve["xaisim"] / curve["shap"]).to_numpy()
    # medians too: at budgets below 2S shap's solve can be singular and a few runs explode the mean
    median = data.groupby(["library", "evaluations"])["relative_error"].median().unstack(0)
    vs_shap_median = (median["xaisim"] / median["shap"]).to_numpy()
    low, high = _bootstrap_ratio(data, "xaisim", "shap")
    print(f"  captum's error ~ evaluations^{slope:.2f}")
    for n, r, s, lo, hi, med in zip(curve.index, fewer, vs_shap, low, high, vs_shap_median):
        print(f"  {n:5d} evaluations: captum needs {r:5.1f}x as many for the same error; xaisim / shap error "
              f"{s:.2f} (95 % interval {lo:.2f}-{hi:.2f}; of the medians {med:.2f})")
    ratio_shap = float(np.exp(np.log(vs_shap_median).mean()))
    worse = [int(n) for n, lo in zip(curve.index, low) if lo > 1]
    ok = bool((fewer >= 3).all() and not worse)
    print(f"efficiency: captum needs >= {fewer.min():.1f}x the evaluations (target 3x); xaisim / shap error "
          f"{ratio_shap:.2f} (of the medians, geometric mean over budgets), worse than shap beyond noise at {worse or 'no'} budget(s) "
          f"(target: none): {'PASS' if ok else 'FAIL'}")
    pd.DataFrame(dict(evaluations=curve.index, xaisim_over_shap=vs_shap, low=low, high=high,
                      xaisim_over_shap_median=vs_shap_median,
                      captum_needs=fewer)).round(3).to_csv(out / "methods_efficiency_summary.csv", index=False)
    return ok


def _bootstrap_ratio(data: pd.DataFrame, a: str, b: str, draws: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """95 % interval per budget of mean error ``a`` / mean error ``b``, resampling images and seeds crossed
    (images with the same segment count share a seed's coalitions, so seeds are the sampler's replicates)."""
    rng = np.random.default_rng(0)
    low, high = [], []
    for _, at in data.groupby("evaluations"):
        err = {lib: at[at.library == lib].pivot(index="image", columns="seed", values="relative_error").to_numpy()
               for lib in (a, b)}
        n_img, n_seed = err[a].shape
        img = rng.integers(n_img, size=(draws, n_img, 1))
        seed = rng.integers(n_seed, size=(draws, 1, n_seed))
        ratio = err[a][img, seed].mean((1, 2)) / err[b][img, seed].mean((1, 2))
        low.append(np.quantile(ratio, 0.025))
        high.append(np.quantile(ratio, 0.975))
    return np.array(low), np.array(high)


def _plot(data: pd.DataFrame, path: Path) -> None:
    """Median relative error per library and budget, with the interquartile range as a band (medians: a
    few singular solves of shap at the smallest budget would hide every other point in a mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quantiles = data.groupby(["library", "evaluations"])["relative_error"].quantile([0.25, 0.5, 0.75]).unstack()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, q in quantiles.groupby(level=0):
        n = q.index.get_level_values(1)
        ax.plot(n, q[0.5], marker="o", label=name)
        ax.fill_between(n, q[0.25], q[0.75], alpha=0.2)
    ax.set(xscale="log", yscale="log", xlabel="model evaluations per image (empty and full image included)",
           ylabel="relative L2 error to exact (median, IQR)", title="KernelSHAP sample efficiency")
    budgets = sorted(data["evaluations"].unique())
    ax.set_xticks(budgets, [str(n) for n in budgets], fontsize=7)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _grad_cam_reshape(model: nn.Module) -> Callable[[Tensor], Tensor] | None:
    """pytorch-grad-cam's documented reshape transform for ViT tokens (None for CNNs)."""
    if not hasattr(model, "patch_embed"):
        return None

    def tokens(t: Tensor) -> Tensor:
        t = t[:, model.num_prefix_tokens :]
        return t.reshape(t.shape[0], *model.patch_embed.grid_size, t.shape[2]).permute(0, 3, 1, 2)

    return tokens


def thesis(out: Path, samples: int, steps: int, images: int = 2) -> None:
    """The thesis' calls against xaisim's on resnet50 and ViT-S (224 px): captum KernelShap
    (perturbations_per_eval=1, one image at a time; ``images`` images), captum IntegratedGradients
    (internal_batch_size = the batch of IMAGES images) and pytorch-grad-cam's GradCAM (the batch)."""
    rows = [row for name, arch in MODELS.items() for row in _thesis_model(name, arch, samples, steps, images)]
    pd.DataFrame(rows).round(3).to_csv(out / "methods_thesis.csv", index=False)


def _thesis_model(name: str, arch: str, samples: int, steps: int, images: int) -> list[dict]:
    """:func:`thesis` on one model."""
    from captum.attr import IntegratedGradients, KernelShap
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    rows = []
    model = make(arch)
    x = digits_at(model, IMAGES, 224)
    targets = torch.arange(IMAGES) % 10
    batch = {"forward": best_batch(model, x, targets, forward_pass),
             "input_gradient": best_batch(model, x, targets, input_gradient_pass)}
    slic = {"name": "slic", "n_segments": samples // 4}
    segs = segment(to_pixels(model, x[:images]), slic)
    layer = resolve_layer(model)[1]

    def captum_kernelshap() -> None:
        ks = KernelShap(model)
        for b in range(images):
            ks.attribute(x[b : b + 1], baselines=0.0, target=int(targets[b]), feature_mask=segs[b : b + 1, None],
                         n_samples=samples, perturbations_per_eval=1)

    def captum_ig() -> None:
        IntegratedGradients(model).attribute(x, baselines=0.0, target=targets, n_steps=steps,
                                             internal_batch_size=len(x))

    def grad_cam() -> None:
        with GradCAM(model, [layer], reshape_transform=_grad_cam_reshape(model)) as cam:
            cam(x, [ClassifierOutputTarget(int(c)) for c in targets])
        model.zero_grad(set_to_none=True)  # its loss.backward() fills parameter .grad

    ours = {
        "kernelshap": (lambda evals: METHODS.get("kernelshap")(model, x[:images], targets[:images], evals, segmentation=slic,
                                                         n_samples=samples), batch["forward"], captum_kernelshap,
                       f"captum KernelShap, perturbations_per_eval=1, {images} images one at a time, n_samples={samples}"),
        "integrated_gradients": (lambda evals: METHODS.get("integrated_gradients")(model, x, targets, evals, n_steps=steps),
                                 batch["input_gradient"], captum_ig,
                                 f"captum IntegratedGradients, internal_batch_size={IMAGES}, n_steps={steps}"),
        "gradcam": (lambda _evals: METHODS.get("gradcam")(model, x, targets), batch["input_gradient"], grad_cam,
                    f"pytorch-grad-cam GradCAM, batch of {IMAGES}"),
    }
    for method, (call, size, theirs, label) in ours.items():
        repeat = 3 if method == "gradcam" else 1
        if method == "gradcam":
            theirs(), call(size)  # warm-up
        timed = []
        for _ in range(repeat):
            with Clock() as ref:
                theirs()
            with Clock() as own:
                call(size)
            timed.append((ref, own))
        ref = min((r for r, _ in timed), key=lambda c: c.cpu)
        own = min((o for _, o in timed), key=lambda c: c.cpu)
        rows.append(dict(model=name, method=method, thesis_call=label, thesis_wall_s=ref.wall, xaisim_wall_s=own.wall,
                         thesis_cpu_s=ref.cpu, xaisim_cpu_s=own.cpu, speedup_wall=ref.wall / own.wall,
                         speedup_cpu=ref.cpu / own.cpu, load=os.getloadavg()[0]))
        print(f"  {name:9s} {method:20s} {label}: {ref.wall:6.2f} s wall ({ref.cpu:6.2f} s CPU); xaisim "
              f"{own.wall:6.2f} s ({own.cpu:6.2f} s CPU): {ref.wall / own.wall:.2f}x faster "
              f"({ref.cpu / own.cpu:.2f}x in CPU time)", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", default=["ratio", "efficiency", "thesis"])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--samples", type=int, help="n_samples of the perturbation methods (ratio 16, thesis 32)")
    parser.add_argument("--steps", type=int, help="n_steps of integrated_gradients (ratio 8, thesis 16)")
    parser.add_argument("--seeds", type=int, default=32, help="efficiency: sampler seeds per image and budget")
    parser.add_argument("--methods", nargs="*", default=[], help="ratio: only these methods (default all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time ~ wall time unloaded)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    ok = True
    if "ratio" in args.parts:
        ok &= ratio(args.samples or 16, args.steps or 8, args.out, args.methods)
    if "efficiency" in args.parts:
        ok &= efficiency(args.out, seeds=args.seeds)
    if "thesis" in args.parts:
        thesis(args.out, args.samples or 32, args.steps or 16)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
