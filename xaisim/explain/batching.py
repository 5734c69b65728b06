"""How the driver splits a map method's work into forward passes, and the retry when a GPU runs
out of memory.

Methods that evaluate the model on many inputs per image (IG's steps, KernelSHAP's coalitions)
declare ``Needs(evals=True)`` and take the evaluation budget, the most evaluations one forward
pass may hold, as their argument ``evals``. The driver sets it from ``explain.eval_batch_size`` (a
performance knob: it never changes a result) and, on a CUDA out-of-memory error, halves both it and
the image batch and retries (:class:`Budget`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import Tensor

from xaisim.explain import Explanation

log = logging.getLogger(__name__)


def concat(parts: list[Explanation]) -> Explanation:
    """One explanation from the explanations of consecutive image batches."""
    extras = {key: torch.cat([p.extras[key] for p in parts]) for key in parts[0].extras}
    return Explanation(torch.cat([p.maps for p in parts]), extras)


class Budget:
    """Image batch and evaluation batch sizes that halve, and stay halved, on out-of-memory errors."""

    def __init__(self, images: int, evals: int) -> None:
        self.images, self.evals = images, max(1, int(evals))

    def run(self, call: Callable[[Tensor, Tensor, int], Explanation], inputs: Tensor, targets: Tensor) -> Explanation:
        """``call(inputs, targets, evals)`` in pieces of at most ``images`` images."""
        parts, start = [], 0
        while start < len(inputs):
            stop = start + self.images
            try:
                parts.append(call(inputs[start:stop], targets[start:stop], self.evals))
            except torch.OutOfMemoryError:
                if self.images == 1 and self.evals == 1:
                    raise
                self.images, self.evals = max(1, self.images // 2), max(1, self.evals // 2)
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                log.warning("out of memory: retrying with %d image(s) and %d evaluation(s) per pass", self.images, self.evals)
                continue
            start = stop
        return concat(parts)
