"""What every Snakemake script does first: log to the rule's log file, seed, pick the device."""

from __future__ import annotations

import logging
import random
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def start(smk: Any, *, torch: bool = True) -> torch.device | None:
    """Send stderr (tracebacks, tqdm, logging) to ``log[0]``; seed and set threads; return the device.

    Performance knobs come as resources, not params (changing them reruns nothing): ``device``, and
    ``num_workers`` DataLoader processes, counted in the job's threads (torch gets the rest).
    ``torch=False`` (tables and figures that need no torch) sets up the log and seeds Python's and
    numpy's generators only (importing torch costs seconds per job); the seed also fixes what
    libraries draw from numpy's global generator, e.g. seaborn's strip-plot jitter.
    """
    sys.stderr = open(smk.log[0], "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)
    random.seed(smk.params.get("seed", 0))
    np.random.seed(smk.params.get("seed", 0))
    if not torch:
        logging.getLogger("xaisim").info("rule %s (no torch)", smk.rule)
        return None
    from xaisim import runtime

    threads = max(1, smk.threads - int(smk.resources.get("num_workers", 0)))
    runtime.setup(smk.params.get("seed", 0), threads)
    device = runtime.get_device(smk.resources.get("device", "cpu"))
    logging.getLogger("xaisim").info("rule %s on %s with %d torch thread(s)", smk.rule, device, threads)
    return device


def explain_args(smk: Any, device: torch.device) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The inputs and keyword arguments every explain-type stage (maps, example scores) passes on:
    ``(index, subset, predictions, spec, weights)`` and the model, method, target and output."""
    i, p, w = smk.input, smk.params, smk.wildcards
    kwargs = dict(
        model_name=w.model,
        method_name=w.method,
        method=p.method,
        params=p.method_params,
        image_size=p.image_size,
        batch_size=smk.resources.batch_size,
        target=p.target,
        seed=p.seed,
        device=device,
        out_path=smk.output[0],
    )
    return (i.index, i.subset, i.predictions, p.spec, i.weights), kwargs
