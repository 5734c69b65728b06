"""Model-by-model similarity of explanations, image by image, in one streamed pass per method.

- :mod:`~xaisim.similarity.metrics`: the metric registry (``register_metric``, ``METRICS``) and metrics;
- :mod:`~xaisim.similarity.normalise`: per-map normalisation steps of a method entry;
- :mod:`~xaisim.similarity.grids`: the common grid and resizing;
- :mod:`~xaisim.similarity.stream`: the one pass over every model's maps;
- :mod:`~xaisim.similarity.aggregate`: per-pair summaries, variants, output files.
"""

from xaisim.similarity.metrics import METRICS, Chunk, register_metric

__all__ = ["METRICS", "Chunk", "register_metric"]
