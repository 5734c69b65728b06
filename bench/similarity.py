"""Similarity stage benchmark: the one streamed pass against the thesis' per-pair loop, and peak memory.

    .venv/bin/python bench/similarity.py [--models 14] [--images 1024] [--size 224] [--rss-images 4096]

1. Speed (14 models x 1,024 images x 224^2 float32 maps, files in the page cache): the time to read
   every map once, xaisim's pass (cosine + RBF sigma 80 from the files), and the thesis'
   ``compare_explanations`` loop re-implemented faithfully (per ordered model pair, torch's cosine
   and the RBF of the distance on the whole (N, D) tensors, maps already in memory). Targets: >= 10x
   faster than the thesis loop, <= 3x the read time, the same per-image values to 1e-6.
2. Memory: the whole similarity job (pass, summaries, bootstrap, files) on 14 models x 4,096 images
   x 224^2 maps stored as float16, in a fresh process: peak RSS <= 2 GiB.

Prints one line per measurement with its target; exits 1 if a target is missed. Needs free disk in
$TMPDIR (checked first): 2.9 GB for 1, 5.8 GB for 2.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xaisim.io import ArrayFile, save_arrays  # noqa: E402
from xaisim.similarity import aggregate, stream  # noqa: E402

SIGMA = 80.0
METRICS = {"cosine": ("cosine", {}), "rbf": ("rbf", {"sigma": SIGMA})}
SPEEDUP_TARGET, READ_RATIO_TARGET, VALUE_TOL, RSS_TARGET_MIB = 10.0, 3.0, 1e-6, 2048


def write_maps(folder: Path, models: int, images: int, size: int, dtype: type, seed: int = 0) -> list[str]:
    """Smooth random maps in [0, 1] (GradCAM-like blobs) with image ids, one file per model."""
    rng = np.random.default_rng(seed)
    ids = [f"img{i:05d}" for i in range(images)]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    paths = []
    for m in range(models):
        maps = np.empty((images, size, size), dtype=dtype)
        for start in range(0, images, 256):
            n = min(256, images - start)
            cy, cx = rng.random((2, n, 1, 1), dtype=np.float32)
            w = 0.05 + 0.3 * rng.random((n, 1, 1), dtype=np.float32)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * w**2))
            maps[start : start + n] = blob + 0.1 * rng.random((n, size, size), dtype=np.float32)
        paths.append(str(folder / f"m{m:02d}.safetensors"))
        save_arrays(paths[-1], {"maps": maps}, {"image_ids": ids, "model": f"m{m:02d}"})
    return paths


def read_once(paths: list[str], rows: int = 256) -> float:
    """Seconds to read every map once, ``rows`` maps at a time into one reused buffer (the fastest
    plain read: no page faults after the first slice)."""
    start = time.perf_counter()
    for f in (ArrayFile(p) for p in paths):
        n = f.shape("maps")[0]
        buf = np.empty((min(rows, n), *f.shape("maps")[1:]), dtype=f.dtype("maps"))
        for s in range(0, n, rows):
            f.read_into("maps", s, buf[: min(rows, n - s)])
    return time.perf_counter() - start


def thesis_loop(maps: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The thesis' compare_explanations: for every ordered model pair, whole (N, D) tensors."""
    m = maps.shape[0]
    cos = np.empty((maps.shape[1], m, m))
    rbf = np.empty_like(cos)
    for i, j in itertools.product(range(m), range(m)):
        a, b = maps[i], maps[j]
        cos[:, i, j] = torch.nn.functional.cosine_similarity(a, b, dim=1).numpy()
        rbf[:, i, j] = torch.exp(-0.5 * torch.norm(a - b, dim=1) ** 2 / SIGMA**2).numpy()
    return cos, rbf


def ours(paths: list[str], chunk: int | str) -> stream.Pass:
    return stream.run(paths, [Path(p).stem for p in paths], normalise_steps="none", grid="native", image_size=0,
                      metrics=METRICS, zero_maps="exclude", chunk_size=chunk)


def timed(fn, *args):
    """(result, wall seconds, CPU seconds of this process) of fn(*args)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def speed(models: int, images: int, size: int, chunk: int | str, tmp: Path) -> bool:
    paths = write_maps(tmp, models, images, size, np.float32)
    read_once(paths)  # into the page cache
    reads = [timed(read_once, paths)[1:] for _ in range(3)]
    read_s, read_cpu = min(r[0] for r in reads), min(r[1] for r in reads)
    runs = [timed(ours, paths, chunk) for _ in range(3)]
    result, ours_s, ours_cpu = runs[0][0], min(r[1] for r in runs), min(r[2] for r in runs)
    maps = torch.stack([torch.from_numpy(ArrayFile(p).read("maps")).flatten(1) for p in paths])
    (cos, rbf), thesis_s, thesis_cpu = timed(thesis_loop, maps)
    # exact values: the same loop in float64 on the first 64 images
    cos64, rbf64 = thesis_loop(maps[:, :64].double())
    exact = max(np.abs(result.sims["cosine"][:64] - cos64).max(), np.abs(result.sims["rbf"][:64] - rbf64).max())
    thesis_err = max(np.abs(cos[:64] - cos64).max(), np.abs(rbf[:64] - rbf64).max())
    vs_thesis = max(np.abs(result.sims["cosine"] - cos).max(), np.abs(result.sims["rbf"] - rbf).max())
    ok = thesis_s / ours_s >= SPEEDUP_TARGET and ours_s / read_s <= READ_RATIO_TARGET and exact <= VALUE_TOL
    gb = models * images * size * size * 4 / 1e9
    print(f"speed: {models} models x {images} maps of {size}x{size} ({gb:.1f} GB float32), cosine+rbf, chunk "
          f"{stream.chunk_images(chunk, models, (size, size))}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:\n"
          f"  read once {read_s:.2f} s (CPU {read_cpu:.2f} s); xaisim pass {ours_s:.2f} s (CPU {ours_cpu:.2f} s) = "
          f"{ours_s / read_s:.2f}x the read (target <= {READ_RATIO_TARGET});\n"
          f"  thesis loop {thesis_s:.1f} s (CPU {thesis_cpu:.1f} s) = {thesis_s / ours_s:.1f}x the pass "
          f"(target >= {SPEEDUP_TARGET}; CPU {thesis_cpu / ours_cpu:.1f}x);\n"
          f"  max |xaisim - exact (float64)| {exact:.1e} (target <= {VALUE_TOL}); the thesis' float32 loop: "
          f"{thesis_err:.1e} from exact, {vs_thesis:.1e} from xaisim: {'PASS' if ok else 'FAIL'}")
    return ok


def job(paths: list[str], chunk: int | str, out: str) -> None:
    """The whole similarity job (pass, both variants, bootstrap, files under ``out``); prints peak
    RSS in MiB."""
    result = ours(paths, chunk)
    os.makedirs(out, exist_ok=True)
    os.chdir(out)  # the job writes the catalogue's paths, relative to the workflow's folder
    same = np.ones((len(result.image_ids), len(result.models), len(result.models)), dtype=bool)
    aggregate.write("bench", result, same, METRICS, {"method": "bench"}, n_boot=1000, seed=0)
    print(peak_rss_mib())


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM of /proc/self/status (getrusage's ru_maxrss keeps
    the parent's peak across fork and exec on Linux, so a child started by a large parent would
    report the parent's)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(models: int, images: int, size: int, chunk: int | str, tmp: Path) -> bool:
    paths = write_maps(tmp, models, images, size, np.float16)
    code = (f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r}); import similarity; "
            f"similarity.job({paths!r}, {chunk!r}, {str(tmp / 'out')!r})")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak = float(done.stdout.strip().splitlines()[-1])
    ok = peak <= RSS_TARGET_MIB
    gb = models * images * size * size * 2 / 1e9
    print(f"memory: {models} models x {images} maps of {size}x{size} ({gb:.1f} GB float16), whole job (cosine+rbf, "
          f"2 variants, 1000 bootstrap resamples) in {seconds:.0f} s, peak RSS {peak:.0f} MiB "
          f"(target <= {RSS_TARGET_MIB}): {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=14)
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rss-images", type=int, default=4096, help="0 skips the memory measurement")
    parser.add_argument("--chunk", type=lambda v: v if v == "auto" else int(v), default="auto",
                        help="similarity.chunk_size (default auto)")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("XAISIM_BENCH_THREADS", torch.get_num_threads())))
    results = []
    with tempfile.TemporaryDirectory(prefix="xaisim-bench-") as tmp:
        need = args.models * args.size**2 * max(4 * args.images, 2 * args.rss_images) * 1.1
        free = shutil.disk_usage(tmp).free
        if free < need:
            print(f"not enough free disk in {tmp}: {free / 1e9:.1f} GB, need {need / 1e9:.1f} GB; set TMPDIR")
            return 1
        results.append(speed(args.models, args.images, args.size, args.chunk, Path(tmp)))
        for p in Path(tmp).glob("*.safetensors"):
            p.unlink()
        if args.rss_images:
            results.append(memory(args.models, args.rss_images, args.size, args.chunk, Path(tmp)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
