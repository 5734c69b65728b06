"""Device choice, seeding and thread settings shared by every torch stage."""

from __future__ import annotations

import logging
import os
import random
import resource
import time

import numpy as np
import torch


def get_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; an explicit device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device: {name!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def setup(seed: int, threads: int | None = None) -> None:
    """Seed every generator and ask torch for deterministic kernels (bitwise reruns on the CPU)."""
    if threads:
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """Mixed precision on CUDA when enabled; a no-op elsewhere."""
    return torch.autocast(device.type, enabled=enabled and device.type == "cuda")


def log_start_cost(what: str) -> dict[str, float]:
    """Log (and return) what the job paid before its first forward: wall seconds since the process
    started and CPU seconds so far (interpreter, imports, model build, weights, data), on the
    ``xaisim.start`` logger, which ``bench/`` reads from the job logs."""
    import psutil

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cost = {"wall_s": time.time() - psutil.Process().create_time(), "cpu_s": usage.ru_utime + usage.ru_stime}
    logging.getLogger("xaisim.start").info("start cost before the first forward (%s): %.2f s wall, %.2f s CPU",
                                           what, cost["wall_s"], cost["cpu_s"])
    return cost
