"""The batched core shared by the perturbation methods: evaluate a model on images x coalitions.

A coalition ``z`` (S booleans) of an image with segments ``seg`` (H, W) keeps the pixels of the
segments in ``z`` and replaces the others by the baseline: ``baseline + z[seg] * (x - baseline)``.
All (image, coalition) pairs of a batch are laid out as one list of rows and evaluated in forwards
of ``chunk_size`` rows, whatever image they belong to, under ``torch.no_grad`` (no gradients are
needed, so any callable model returning class scores works). ``chunk_size`` is a performance knob:
it changes how many rows share a forward, not which rows are evaluated. A CUDA out-of-memory error
halves it and retries.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

Output = Literal["raw", "softmax"]
"""What is explained: the model's raw class score (logit) or its softmax probability."""


def evaluate(
    model: nn.Module,
    inputs: Tensor,
    baseline: Tensor,
    segments: Tensor,
    coalitions: list[np.ndarray],
    targets: Tensor,
    output: Output = "raw",
    chunk_size: int = 64,
) -> list[Tensor]:
    """The target score of every coalition: one float64 vector (n_b,) per image ``b``.

    ``inputs``/``baseline`` (B, C, H, W) on the model's device, ``segments`` (B, H, W) labels
    0..S_b-1, ``coalitions[b]`` (n_b, S_b) booleans.
    """
    device = inputs.device
    width = max(c.shape[1] for c in coalitions)
    padded = np.zeros((sum(len(c) for c in coalitions), width), dtype=bool)
    image = np.repeat(np.arange(len(coalitions)), [len(c) for c in coalitions])
    start = 0
    for c in coalitions:
        padded[start : start + len(c), : c.shape[1]] = c
        start += len(c)
    rows = torch.from_numpy(padded).to(device)
    image_t = torch.from_numpy(image).to(device)
    flat_seg = segments.to(device).flatten(1)
    delta = inputs - baseline
    scores = torch.empty(len(padded), dtype=torch.float64)
    start = 0
    with torch.no_grad():
        while start < len(padded):
            stop = min(start + chunk_size, len(padded))
            idx = image_t[start:stop]
            try:
                mask = torch.gather(rows[start:stop], 1, flat_seg[idx]).view(-1, 1, *inputs.shape[-2:])
                out = model(torch.addcmul(baseline[idx], mask.to(inputs.dtype), delta[idx]))
            except torch.OutOfMemoryError:
                if chunk_size == 1:
                    raise
                chunk_size = max(1, chunk_size // 2)
                warnings.warn(f"out of memory: model evaluations halved to chunk_size={chunk_size}", stacklevel=2)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            if output == "softmax":
                out = out.float().softmax(-1)
            scores[start:stop] = out.gather(1, targets.to(device)[idx, None])[:, 0].double().cpu()
            start = stop
    return list(torch.split(scores, [len(c) for c in coalitions]))


def spread(values: list[Tensor], segments: Tensor) -> Tensor:
    """Per-segment values (one vector per image) on pixels: (B, H, W) float32, each pixel its segment's value."""
    return torch.stack([v.float()[s] for v, s in zip(values, segments.cpu())])
