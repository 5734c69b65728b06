"""Atomic writes and the on-disk formats shared by the stages.

Every output is written to a temporary sibling and renamed into place, so a killed job never leaves
a file that looks complete. Explanation maps are safetensors files (tensors ``maps`` (N, H, W),
``targets`` (N,), metadata as one sorted JSON string) readable slice by slice without loading them
whole; the same content always gives the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd
from safetensors import safe_open
from safetensors.numpy import save_file


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the mode a new file gets
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(df: pd.DataFrame, path: str | Path, **kwargs: Any) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)


def write_json(obj: Any, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_matrix(path: str | Path) -> pd.DataFrame:
    """A model x model CSV matrix (model names as header and index)."""
    return pd.read_csv(path, index_col=0)


def stacked(per_method: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One CSV of per-method model x model matrices (cross-model deletion's): columns method, model (the
    row), the models."""
    frames = [m.rename_axis("model").reset_index().assign(method=method) for method, m in per_method.items()]
    if not frames:
        return pd.DataFrame(columns=["method", "model"])
    table = pd.concat(frames, ignore_index=True)
    return table[["method", "model", *[c for c in table.columns if c not in ("method", "model")]]]


def unstacked(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Method -> model x model matrix of a :func:`stacked` table."""
    return {method: g.drop(columns="method").set_index("model").rename_axis(None)
            for method, g in table.groupby("method", sort=False)}


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write arrays and JSON-serialisable metadata to one safetensors file, atomically."""
    with atomic_path(path) as tmp:
        save_file(
            {k: np.ascontiguousarray(v) for k, v in arrays.items()},
            str(tmp),
            # one metadata key: safetensors stores several in hash order, which differs between runs
            metadata={"xaisim": json.dumps(meta, sort_keys=True)},
        )


_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "BOOL": "?"}


class ArrayFile:
    """Read a file written by :func:`save_arrays`: metadata at once, arrays whole or in slices."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = safe_open(str(self.path), framework="numpy")
        self.meta = json.loads((self._file.metadata() or {}).get("xaisim", "{}"))

    def names(self) -> list[str]:
        return list(self._file.keys())

    def shape(self, name: str) -> list[int]:
        return self._file.get_slice(name).get_shape()

    def dtype(self, name: str) -> np.dtype:
        return np.dtype(_DTYPES[self._header()[name]["dtype"]])

    def read(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        """The array, or its rows ``start:stop`` read with plain file reads (no memory map, so that
        streaming a large file keeps the resident memory at one slice)."""
        if start is None and stop is None:
            return self._file.get_tensor(name)
        info = self._header()[name]
        start, stop, _ = slice(start, stop).indices(info["shape"][0])
        out = np.empty((max(stop - start, 0), *info["shape"][1:]), dtype=self.dtype(name))
        return self.read_into(name, start, out)

    def read_into(self, name: str, start: int, out: np.ndarray) -> np.ndarray:
        """Rows ``start:start + len(out)`` read straight into ``out`` (a reused buffer, or a view whose
        rows are each contiguous, e.g. one model's column of a (B, M, H, W) block): one scatter read
        per 1,024 rows, no copy in between."""
        info = self._header()[name]
        shape, dtype = info["shape"], self.dtype(name)
        if out.dtype != dtype or tuple(out.shape[1:]) != tuple(shape[1:]) or not 0 <= start <= start + len(out) <= shape[0]:
            raise ValueError(f"{self.path}: cannot read rows {start}:{start + len(out)} of {name} {dtype} {shape} "
                             f"into {out.dtype} {out.shape}")
        if not out.size:
            return out
        # one buffer if ``out`` is contiguous, else one per row (a non-contiguous row raises TypeError)
        bufs = [memoryview(out).cast("B")] if out.flags.c_contiguous else [memoryview(row).cast("B") for row in out]
        at = self._data_start + info["data_offsets"][0] + start * out[0].nbytes
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for first in range(0, len(bufs), 1024):  # IOV_MAX buffers per call
                views = bufs[first : first + 1024]
                while views:
                    got = os.preadv(fd, views, at)
                    if not got:
                        raise OSError(f"{self.path}: the file ends before row {start + len(out)} of {name}")
                    at += got
                    while views and got >= len(views[0]):  # a short read goes on where it stopped
                        got -= len(views[0])
                        views = views[1:]
                    if got:
                        views[0] = views[0][got:]
        finally:
            os.close(fd)
        return out

    def _header(self) -> dict[str, Any]:
        if not hasattr(self, "_parsed"):
            with open(self.path, "rb") as f:
                size = int.from_bytes(f.read(8), "little")
                self._parsed = json.loads(f.read(size))
            self._data_start = 8 + size
        return self._parsed

