"""What every explanation method declares and raises, map-based (:mod:`xaisim.explain`) or
example-based (:mod:`xaisim.examples`); both packages import this module, neither imports the other.

A method declares at registration what it needs of the driver (:mod:`xaisim.driver`), as
``needs=Needs(...)``, and its checks: ``validate(params)`` for rules across parameters, and, where a
rule depends on the model or the data, ``check_model(params, model, config)`` (a model entry and
the whole config, before any compute), which returns the maps' native (h, w) for that model where it
knows it (the config check refuses ``grid: native`` over models whose shapes differ). Both raise ``ValueError("<param>: <problem and fix>")``,
which the config check prefixes with the config location. The workflow reads the needs from
the resolved config (:func:`xaisim.config.resolve`), never from a method's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from torch import nn

    from xaisim.registry import Registry

ModelCheck = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], "tuple[int, int] | None"]
"""``check_model(params, model entry, config)``: raises ``ValueError("<param>: <problem and fix>")``;
returns the native (h, w) of the model's maps, or None where it does not know it."""


@dataclass(frozen=True)
class Needs:
    """What a method needs of the driver.

    ``gradients``: gradients through the model; without them the method runs forward passes only,
    may run under AMP and explains any model that returns class scores (scikit-learn's too).
    ``train_split``: a reference pool drawn from the train split (example-based methods).
    ``evals``: the method evaluates the model many times per image and takes the evaluation budget,
    the most evaluations one forward pass may hold, as its argument ``evals`` (a performance knob:
    it never changes a result; halved on a CUDA out-of-memory error).
    """

    gradients: bool
    train_split: bool = False
    evals: bool = False


def registrar(registry: Registry) -> Callable[..., Callable[[Callable], Callable]]:
    """The ``register_...(name, *, needs, validate=None, check_model=None)`` decorator of a kind of method."""

    def register(
        name: str,
        *,
        needs: Needs,
        validate: Callable[[dict[str, Any]], None] | None = None,
        check_model: ModelCheck | None = None,
    ) -> Callable[[Callable], Callable]:
        return registry.register(name, validate, needs=needs, check_model=check_model)

    return register


class Unsupported(Exception):
    """Raised for a model a method cannot explain (e.g. attention rollout on a CNN).

    The message is the reason, one line; the driver records it as a "not supported" outcome.
    """


def require(needs: Needs, model: nn.Module, method: str) -> None:
    """Raise :class:`Unsupported` if ``model`` lacks what ``method`` needs (gradients)."""
    from xaisim.models import supports_gradients

    if needs.gradients and not supports_gradients(model):
        raise Unsupported(f"{method} needs gradients, which {type(model).__name__} does not have")
