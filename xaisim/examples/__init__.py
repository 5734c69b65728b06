"""Example-based explanation methods, beside the map methods of :mod:`xaisim.explain` (as captum
keeps ``influence/`` beside ``attr/``): each is one registered function

    fn(model, inputs, targets, pool, **params) -> Examples

with ``inputs`` the explained images (N, 3, H, W) on the model's device, ``targets`` their classes
(N,) and ``pool`` the :class:`ReferencePool` of the train split. It scores every explained image
against R reference images drawn from the pool; the driver (:mod:`xaisim.driver`) stores the scores
as the (N, 1, R) "maps" of an explanation file, which the similarity stage compares by rank metrics.

A method registers with :func:`register_example_method`, declaring what it needs (``train_split``)
and its checks (:mod:`xaisim.contract`); a model it cannot explain raises
:class:`~xaisim.contract.Unsupported`. This package imports nothing from :mod:`xaisim.explain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np
import pandas as pd
from torch import Tensor

from xaisim.contract import registrar
from xaisim.registry import Registry

EXAMPLE_METHODS: Registry = Registry("example-based method")
register_example_method = registrar(EXAMPLE_METHODS)  # (name, *, needs, validate=None, check_model=None)


@dataclass
class ReferencePool:
    """The train split a reference set is drawn from: its rows, a loader factory, the seed and the
    memory budget (MiB) of the method's buffers, a performance knob. ``label_targets=False`` (a
    pretrained head with its own classes) takes the model's predicted class as each training
    image's target."""

    rows: pd.DataFrame
    loader: Callable[[pd.DataFrame], Iterable[tuple[Tensor, Tensor]]]
    seed: int
    memory_mb: float = 1024
    label_targets: bool = True
    where: str = "method"  # the config entry, for error messages


class Examples(NamedTuple):
    """What an example-based method returns: ``scores`` (N, R) of the explained images against the
    ``reference`` rows (R rows of the train split), and ``arrays`` and ``meta`` stored beside them
    (rankings, the reference targets, what made the scores)."""

    scores: Tensor
    reference: pd.DataFrame
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]


from xaisim.examples import gradient_similarity  # noqa: E402,F401  (registers methods)
