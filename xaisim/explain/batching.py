"""How a method splits its work into forward passes, and the retry when a GPU runs out of memory.

Methods that evaluate the model on many inputs per image (IG's steps, KernelSHAP's coalitions)
put at most :func:`eval_batch_size` evaluations into one forward pass. The explain stage sets it
from ``explain.eval_batch_size`` (a performance knob: it never changes a result) and, on a CUDA
out-of-memory error, halves both it and the image batch and retries (:class:`Budget`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import Tensor

from xaisim.explain import Explanation

log = logging.getLogger(__name__)

_EVAL_BATCH: ContextVar[int] = ContextVar("xaisim_eval_batch_size", default=64)


def eval_batch_size() -> int:
    """The most model evaluations a method may put into one forward pass."""
    return _EVAL_BATCH.get()


@contextmanager
def eval_batch(n: int) -> Iterator[None]:
    """Set :func:`eval_batch_size` to ``n`` inside the block."""
    token = _EVAL_BATCH.set(max(1, int(n)))
    try:
        yield
    finally:
        _EVAL_BATCH.reset(token)


def concat(parts: list[Explanation]) -> Explanation:
    """One explanation from the explanations of consecutive image batches."""
    extras = {key: torch.cat([p.extras[key] for p in parts]) for key in parts[0].extras}
    return Explanation(torch.cat([p.maps for p in parts]), extras)


class Budget:
    """Image batch and evaluation batch sizes that halve, and stay halved, on out-of-memory errors."""

    def __init__(self, images: int, evals: int) -> None:
        self.images, self.evals = images, evals

    def run(self, call: Callable[[Tensor, Tensor], Explanation], inputs: Tensor, targets: Tensor) -> Explanation:
        """``call`` on ``inputs``/``targets`` in pieces of at most ``images`` images."""
        parts, start = [], 0
        while start < len(inputs):
            stop = start + self.images
            try:
                with eval_batch(self.evals):
                    parts.append(call(inputs[start:stop], targets[start:stop]))
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
