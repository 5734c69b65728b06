"""How the driver splits a map method's work into forward passes, and the retry when a GPU runs
out of memory.

Methods that evaluate the model on many inputs per image (IG's steps, KernelSHAP's coalitions)
declare ``Needs(evals=True)`` and take the evaluation budget, the most evaluations one forward
pass may hold, as their argument ``evals``. The driver sets it from ``explain.eval_batch_size`` (a
performance knob: it never changes a result) and, on a CUDA out-of-memory error, halves both it and
the image batch and retries (:class:`Budget`).

``eval_batch_size: auto`` (the default) sizes it to ``explain.memory_mb`` (:func:`auto_evals`): one
probing forward of one sample sums the bytes of every leaf module's output (the activations a
backward keeps), times :data:`BACKWARD_FACTOR`; the batch is the most samples whose footprint fits
the budget less the model's own parameter and buffer bytes. It bounds CPU RSS, where no
out-of-memory error comes (the kernel kills the job), as well as GPU memory.
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


BACKWARD_FACTOR = 3
"""A sample's footprint per leaf-activation byte: the activations a backward keeps, their gradients,
and the allocator's temporaries. A bound, not an estimate: the measured peak of one forward and
backward on CPU was 0.65–1.3 times the leaf-output bytes (ViT-Tiny, EfficientNet-B0, ResNet18 at
224 px); the rest is room for Integrated Gradients' and KernelSHAP's own buffers."""


class MemoryBudgetError(RuntimeError):
    """``explain.memory_mb`` cannot hold the model and one sample."""


def sample_bytes(model: torch.nn.Module, sample: Tensor) -> int:
    """Bytes of every leaf module's output in one forward of ``sample`` (one input, batch 1)."""
    total = 0

    def hook(_module: torch.nn.Module, _inputs: object, out: object) -> None:
        nonlocal total
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, Tensor):
                total += t.numel() * t.element_size()

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(sample[:1])
    finally:
        for h in handles:
            h.remove()
    return total + sample[:1].numel() * sample.element_size()


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


def auto_evals(model: torch.nn.Module, sample: Tensor, memory_mb: float) -> int:
    """The most model evaluations per forward pass whose footprint (:func:`sample_bytes` ×
    :data:`BACKWARD_FACTOR` each) fits ``memory_mb`` MiB less the model's own bytes."""
    per, own = BACKWARD_FACTOR * sample_bytes(model, sample), model_bytes(model)
    free = memory_mb * 2**20 - own
    if free < per:
        raise MemoryBudgetError(
            f"explain.memory_mb: {memory_mb:g} MiB cannot hold the model ({own / 2**20:.0f} MiB) and one sample "
            f"({per / 2**20:.0f} MiB); raise explain.memory_mb to at least {(own + per) / 2**20:.0f}"
        )
    return int(free // per)


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
