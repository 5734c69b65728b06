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
from typing import Any, Iterator

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


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write arrays and JSON-serialisable metadata to one safetensors file, atomically."""
    with atomic_path(path) as tmp:
        save_file(
            {k: np.ascontiguousarray(v) for k, v in arrays.items()},
            str(tmp),
            # one metadata key: safetensors stores several in hash order, which differs between runs
            metadata={"xaisim": json.dumps(meta, sort_keys=True)},
        )


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

    def read(self, name: str, start: int | None = None, stop: int | None = None) -> np.ndarray:
        if start is None and stop is None:
            return self._file.get_tensor(name)
        return self._file.get_slice(name)[start:stop]
