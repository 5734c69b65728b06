"""What every Snakemake script does first: log to the rule's log file, seed, pick the device."""

from __future__ import annotations

import logging
import sys
from typing import Any

import torch

from xaisim import runtime


def start(smk: Any) -> torch.device:
    """Send stderr (tracebacks, tqdm, logging) to ``log[0]``; seed and set threads; return the device."""
    sys.stderr = open(smk.log[0], "w", buffering=1)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)
    params = smk.params
    runtime.setup(params.get("seed", 0), smk.threads)
    device = runtime.get_device(params.get("device", "cpu"))
    logging.getLogger("xaisim").info("rule %s on %s with %d thread(s)", smk.rule, device, smk.threads)
    return device
