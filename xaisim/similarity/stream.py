"""The one pass of a method: every model's raw maps, chunk by chunk, prepared and compared by all metrics.

Each chunk of images is read once from every model's explanation file, normalised and resized
(:mod:`~xaisim.similarity.normalise`, :mod:`~xaisim.similarity.grids`) into one (B, M, H, W)
float32 block, and every metric of the method is computed from it (:class:`~xaisim.similarity.metrics.Chunk`
shares the work between metrics). A thread reads the next chunk while this one is compared; the
chunk size (``chunk_size``, by default derived from :data:`CHUNK_MB`) bounds the memory and never
changes a value.

Degenerate maps, counted per model:

- an all-zero map (after preparation, sum of squares 0; e.g. GradCAM of a layer without gradient) is handled by the
  ``zero_maps`` policy: ``exclude`` (default) leaves every pair involving it out for that image
  (NaN in the per-image values), ``zero`` gives those pairs similarity 0 (the thesis' cosine);
- a map with NaN or Inf is always left out (NaN), whatever the policy;
- a model whose file says ``unsupported`` (the method cannot explain it) is left out of the
  method's matrices and listed with its reason; a method that explains no model has empty (0 x 0)
  matrices, with a warning.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Sequence

import numpy as np
import pandas as pd
import torch

from xaisim.io import ArrayFile
from xaisim.similarity import grids, normalise
from xaisim.similarity.metrics import METRICS, Chunk, gram_blocks, gram_buffer

log = logging.getLogger(__name__)
ZeroMaps = Literal["exclude", "zero"]
CHUNK_MB = 128  # memory of the two chunks' float32 maps (one compared, one being read) with chunk_size "auto"


@dataclass
class Pass:
    """Result of one pass: per-image similarities (N, M, M) per metric entry and the map counts."""

    models: list[str]
    image_ids: list[str]
    grid: tuple[int, int]
    sims: dict[str, np.ndarray]
    counts: pd.DataFrame
    native: dict[str, tuple[int, int]] = field(default_factory=dict)


def open_files(paths: Sequence[str], models: Sequence[str]) -> tuple[dict[str, ArrayFile], dict[str, str]]:
    """The supported models' files (config order) and the unsupported ones' reasons; checks alignment."""
    files, unsupported = {}, {}
    for model, path in zip(models, paths):
        f = ArrayFile(path)
        if f.meta.get("unsupported"):
            unsupported[model] = str(f.meta["unsupported"])
        else:
            files[model] = f
    if not files:
        log.warning("no model supports this method; its matrices are empty (%s)",
                    "; ".join(f"{m}: {r}" for m, r in unsupported.items()))
        return files, unsupported
    first = next(iter(files.values()))
    for f in files.values():
        if f.meta["image_ids"] != first.meta["image_ids"]:
            raise ValueError(f"{f.path}: explains other images than {first.path}; rerun explain for both")
    return files, unsupported


def prepare(maps: torch.Tensor, steps: list[normalise.Step], hw: tuple[int, int]) -> torch.Tensor:
    """Raw maps (B, h, w) -> normalised maps at ``hw`` (float32), following ``steps``."""
    before, after = normalise.split(steps)
    maps = normalise.apply(before, maps.float())
    return normalise.apply(after, grids.resize(maps, hw))


def chunk_images(chunk_size: int | str, models: int, hw: tuple[int, int]) -> int:
    """Images per chunk: ``chunk_size``, or for ``auto`` as many as keep the two chunks' float32
    maps (2 x images x models x grid) within :data:`CHUNK_MB` (at least one)."""
    if chunk_size == "auto":
        blocks, width = gram_blocks(hw[0] * hw[1])
        return max(1, CHUNK_MB * 2**20 // (2 * 4 * models * blocks * width))
    return int(chunk_size)


class _Reader:
    """Reads every model's prepared maps of a range of images into a chunk (:class:`Chunk`).

    The storage (:func:`~xaisim.similarity.metrics.gram_buffer`, model-major: each model's maps
    of the chunk lie one after the other) and the raw read buffers are allocated once and reused
    chunk after chunk (a fresh allocation costs a page fault per 4 KiB on first touch); float32 maps
    that need no preparation are read straight into it, one scatter read per model.
    """

    def __init__(self, files: Sequence[ArrayFile], steps: list[normalise.Step], hw: tuple[int, int], chunk: int) -> None:
        self.files, self.steps, self.hw = files, steps, hw
        self.buffer = gram_buffer(chunk, len(files), hw[0] * hw[1])
        self.raw: dict[Any, np.ndarray] = {}

    def read(self, start: int, stop: int) -> Chunk:
        n, pixels = stop - start, self.hw[0] * self.hw[1]
        buffer = self.buffer[:, :n]
        for j, f in enumerate(self.files):
            native, dtype = tuple(f.shape("maps")[1:]), f.dtype("maps")
            dest = buffer[j, :, :pixels].unflatten(-1, self.hw)
            as_is = not self.steps and native == self.hw
            if as_is and dtype == np.float32:
                f.read_into("maps", start, dest.numpy())
                continue
            if (dtype, native) not in self.raw:
                self.raw[dtype, native] = np.empty((self.buffer.shape[1], *native), dtype=dtype)
            maps = torch.from_numpy(f.read_into("maps", start, self.raw[dtype, native][:n]))
            dest.copy_(maps if as_is else prepare(maps, self.steps, self.hw))
        return Chunk(buffer[:, :, :pixels].transpose(0, 1).unflatten(-1, self.hw), buffer)


def _chunks(files: list[ArrayFile], steps: list[normalise.Step], hw: tuple[int, int], n: int,
            chunk: int) -> Iterator[tuple[int, Chunk]]:
    """(first image, chunk) of every chunk in order; a thread reads the next chunk into a second
    buffer while the caller compares this one (file reads and torch kernels release the GIL), and
    torch computes with one thread less than the job has (a busy OpenMP thread pool on every
    core makes the reader and the compute wait for each other: 1.9x slower on 2 cores)."""
    starts = range(0, n, chunk)
    readers = [_Reader(files, steps, hw, chunk) for _ in starts[:2]]
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, threads - 1))  # the reader thread has a core of the job's own
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(readers[0].read, 0, min(chunk, n)) if n else None
            for i, start in enumerate(starts):
                maps = future.result()
                if i + 1 < len(starts):
                    future = pool.submit(readers[(i + 1) % 2].read, starts[i + 1], min(starts[i + 1] + chunk, n))
                yield start, maps
    finally:
        torch.set_num_threads(threads)


def run(
    paths: Sequence[str],
    models: Sequence[str],
    *,
    normalise_steps: Any,
    grid: grids.Grid,
    image_size: int,
    metrics: dict[str, tuple[str, dict[str, Any]]],
    zero_maps: ZeroMaps,
    chunk_size: int | str = "auto",
) -> Pass:
    """Per-image similarities of every supported model pair for every metric entry ``{name: (metric, params)}``.

    ``chunk_size`` (images per chunk, or ``auto``: :func:`chunk_images`) bounds the memory and never
    changes a value: every metric is computed image by image.
    """
    steps = normalise.parse(normalise_steps, "normalise")
    files, unsupported = open_files(paths, models)
    names = list(files)
    native = {m: tuple(f.shape("maps")[1:]) for m, f in files.items()}
    hw = grids.common_grid(grid, list(native.values()), image_size, names) if names else (0, 0)
    ids = next(iter(files.values()), ArrayFile(paths[0])).meta["image_ids"]
    n, m = len(ids), len(names)
    sims = {name: np.empty((n, m, m), dtype=np.float64) for name in metrics}
    zero = np.zeros((n, m), dtype=bool)
    nonfinite = np.zeros((n, m), dtype=bool)
    chunk = min(chunk_images(chunk_size, m, hw), max(n, 1)) if names else 1
    for start, maps in _chunks(list(files.values()), steps, hw, n if names else 0, chunk):
        stop = start + len(maps.maps)
        sq_norm = maps.gram().diagonal(dim1=1, dim2=2)  # shared with the metrics; NaN/Inf propagate
        bad = ~torch.isfinite(sq_norm)
        if bad.any():
            maps.maps[bad] = 0
            maps = Chunk(maps.maps, maps.buffer)
        nonfinite[start:stop] = bad.numpy()
        zero[start:stop] = (sq_norm == 0).numpy()
        for name, (metric, params) in metrics.items():
            sims[name][start:stop] = METRICS.get(metric)(maps, **params).numpy()
    _apply_policy(sims, zero, nonfinite, zero_maps)
    counts = pd.DataFrame(
        {
            "model": list(models),
            "images": [n if mod in files else 0 for mod in models],
            "zero_maps": [int(zero[:, names.index(mod)].sum()) if mod in files else 0 for mod in models],
            "nonfinite_maps": [int(nonfinite[:, names.index(mod)].sum()) if mod in files else 0 for mod in models],
            "unsupported": [unsupported.get(mod, "") for mod in models],
        }
    )
    for row in counts.itertuples():
        if row.unsupported:
            log.warning("%s: not supported (%s); left out of the matrices", row.model, row.unsupported)
        if row.zero_maps or row.nonfinite_maps:
            log.warning("%s: %d all-zero and %d non-finite maps of %d (zero_maps: %s)",
                        row.model, row.zero_maps, row.nonfinite_maps, n, zero_maps)
    return Pass(names, list(ids), hw, sims, counts, native)


def _apply_policy(sims: dict[str, np.ndarray], zero: np.ndarray, nonfinite: np.ndarray, policy: ZeroMaps) -> None:
    """Pairs with a zero map: NaN (exclude) or 0 (zero); pairs with a non-finite map: NaN."""
    def pairs(flags: np.ndarray) -> np.ndarray:
        return flags[:, :, None] | flags[:, None, :]

    zero_pairs, bad_pairs = pairs(zero), pairs(nonfinite)
    for values in sims.values():
        values[zero_pairs] = np.nan if policy == "exclude" else 0.0
        values[bad_pairs] = np.nan
