"""Gradient similarity: torch.func (vmap of grad) against alibi's per-sample loop, the stage's cost
per quickstart model, and peak memory with chunking.

    .venv/bin/python bench/examples.py [speed] [cost] [memory]

speed:  per-sample gradients + kernel for N explained x R reference images, batched
        (:mod:`xaisim.examples.gradients`: a hooked batched pass, ghost inner products for late
        layers, vmap(grad) for what hooks do not cover; the path printed) against the loop alibi runs (precomputed training gradients: zero_grad and
        backward per sample, gradients to numpy, np.dot per explained image); wall and CPU time,
        the ratio and the largest score difference. Target CPU ratio >= 5 (one torch thread).
cost:   the stage's scoring of 64 explained x 200 reference images at the quickstart's sizes, per
        model, with all parameters and with the "@classifier" and "@last_stage" subsets.
memory: peak RSS of a child process scoring a reference set whose gradient blocks do not fit
        ``memory_mb`` (ResNet18: 45 MB per materialised gradient, 3.7 MB as blocks with the last
        stages' ghost factors) against the size they would need at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

# one thread for numpy's BLAS too (before numpy loads it): the loop's np.dot would otherwise add
# the CPU time of idle-spinning BLAS threads to the loop's
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from similarity import peak_rss_mib  # noqa: E402  (bench/similarity.py)

from xaisim.examples.similarity import gradient_similarity_scores  # noqa: E402

QUICKSTART = {  # name: (arch, kwargs, input size) as in config.yaml
    "ResNet18": ("resnet18", {}, 64),
    "MobileNetV3": ("mobilenetv3_small_100", {}, 64),
    "ConvNeXt": ("convnext_atto", {}, 64),
    "ViT": ("vit_tiny_patch16_224", {"img_size": 32, "patch_size": 8, "depth": 6, "global_pool": "avg",
                                     "class_token": False}, 32),
}


def _model(arch: str, kwargs: dict, classes: int = 10) -> torch.nn.Module:
    import timm

    torch.manual_seed(0)
    return timm.create_model(arch, num_classes=classes, **kwargs).eval()


def _data(n: int, r: int, size: int, classes: int = 10):
    gen = torch.Generator().manual_seed(0)
    x, xr = torch.randn(n, 3, size, size, generator=gen), torch.randn(r, 3, size, size, generator=gen)
    return x, torch.arange(n) % classes, xr, torch.arange(r) % classes


def alibi_loop(model, x, y, xr, yr) -> np.ndarray:
    """alibi's GradientSimilarity (precompute_grads=True, grad_cos): one sample at a time."""
    def grads(xi, yi):
        model.zero_grad()
        F.cross_entropy(model(xi[None]), yi[None]).backward()
        return np.concatenate([p.grad.reshape(-1).numpy() for p in model.parameters() if p.grad is not None])

    train = np.stack([grads(xi, yi) for xi, yi in zip(xr, yr)])
    train_norm = np.linalg.norm(train, axis=1)
    out = []
    for xi, yi in zip(x, y):
        g = grads(xi, yi)[None]
        out.append((g @ train.T) / (np.linalg.norm(g, axis=1)[:, None] @ train_norm[None, :] + 1e-7))
    return np.concatenate(out)


def _timed(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process) of fn(*args, **kwargs)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def speed(n: int = 16, r: int = 64) -> bool:
    """Best of 2 after a warm-up, each; the ratio is judged on CPU time (one torch thread; wall time on
    a shared machine is noise)."""
    ok = True
    for name, (arch, kwargs, size) in [("test_efficientnet", ("test_efficientnet", {}, 32)), *QUICKSTART.items()]:
        model = _model(arch, kwargs)
        x, y, xr, yr = _data(n, r, size)
        def ours(x=x, y=y, xr=xr, yr=yr, model=model):
            return gradient_similarity_scores(model, x, y, lambda: [(xr, yr)], len(xr), kernel="grad_cos", memory_mb=4096)

        alibi_loop(model, x[:2], y[:2], xr[:2], yr[:2])  # warm both up (first-call costs of the kernels)
        ours(x[:2], y[:2], xr[:2], yr[:2])
        loops = [_timed(alibi_loop, model, x, y, xr, yr) for _ in range(2)]
        runs = [_timed(ours) for _ in range(2)]
        loop, t_loop, c_loop = loops[0][0], min(t[1] for t in loops), min(t[2] for t in loops)
        got, t_ours, c_ours = runs[0][0], min(t[1] for t in runs), min(t[2] for t in runs)
        diff = float(np.abs(got.scores.numpy() - loop).max())
        path = got.meta["path"]
        ok &= c_loop / c_ours >= 5
        print(f"speed {name:18s} P={got.n_parameters:>10,d} {n}x{r} at {size}px ({path}): loop {t_loop:6.2f} s "
              f"(CPU {c_loop:6.2f}), xaisim {t_ours:6.2f} s (CPU {c_ours:6.2f}), ratio CPU {c_loop / c_ours:5.2f} "
              f"(target >= 5), wall {t_loop / t_ours:5.2f}, max |diff| {diff:.1e}", flush=True)
    return ok


def cost(n: int = 64, r: int = 200) -> bool:
    for name, (arch, kwargs, size) in QUICKSTART.items():
        model = _model(arch, kwargs)
        x, y, xr, yr = _data(n, r, size)
        ref = [(xr[i : i + 32], yr[i : i + 32]) for i in range(0, r, 32)]
        for prefixes in (["@classifier"], ["@last_stage"], []):
            start = time.perf_counter()
            got = gradient_similarity_scores(model, x, y, lambda ref=ref: ref, r, kernel="grad_cos", prefixes=prefixes)
            print(f"cost {name:12s} {n}x{r} at {size}px, parameters {prefixes or 'all'}: "
                  f"{time.perf_counter() - start:6.1f} s, P={got.n_parameters:,d}, passes {got.meta['passes']}", flush=True)
    return True


def _memory_child(memory_mb: float, n: int, r: int) -> None:
    model = _model("resnet18", {})
    x, y, xr, yr = _data(n, r, 64)
    ref = [(xr[i : i + 16], yr[i : i + 16]) for i in range(0, r, 16)]
    start = time.perf_counter()
    got = gradient_similarity_scores(model, x, y, lambda: ref, r, kernel="grad_dot", memory_mb=memory_mb)
    peak = peak_rss_mib()
    print(json.dumps({"peak_mb": peak, "seconds": time.perf_counter() - start, "P": got.n_parameters, **got.meta}))


def memory(memory_mb: float = 128, n: int = 24, r: int = 200) -> bool:
    done = subprocess.run([sys.executable, __file__, "_memory_child", str(memory_mb), str(n), str(r)],
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    need = 4 * out["values_per_image"] * (n + r) / 2**20
    full = 4 * out["P"] * (n + r) / 2**20
    base = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r}); import timm; "
                           "from similarity import peak_rss_mib; timm.create_model('resnet18'); print(peak_rss_mib())"],
                          capture_output=True, text=True, check=True)
    baseline = float(base.stdout.strip())
    ok = out["peak_mb"] - baseline <= 2.5 * memory_mb
    print(f"memory ResNet18 {n}x{r} at 64px ({out['path']}): all gradient blocks at once would take {need:,.0f} MB "
          f"({full:,.0f} MB materialised); with memory_mb="
          f"{memory_mb:g}: peak RSS {out['peak_mb']:,.0f} MB ({out['peak_mb'] - baseline:,.0f} MB above the "
          f"{baseline:,.0f} MB of torch+timm+model), chunks of {out['chunk']}, groups of {out['group']}, "
          f"{out['passes']} passes, {out['seconds']:.1f} s: {'PASS' if ok else 'FAIL'} (target <= 2.5 x memory_mb)")
    return ok


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1:2] == ["_memory_child"]:
        _memory_child(float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    chosen = sys.argv[1:] or ["speed", "cost", "memory"]
    results = [{"speed": speed, "cost": cost, "memory": memory}[c]() for c in chosen]
    sys.exit(0 if all(results) else 1)
