"""One small registry type shared by methods, metrics and anything else pluggable.

A registered function's keyword-only parameters are its config parameters. Their annotations say
what values are allowed, with pydantic constraints where a type is not enough::

    @METHODS.register("integrated_gradients")
    def integrated_gradients(model, inputs, targets, *, n_steps: Annotated[int, Field(ge=1)] = 50): ...

:meth:`Registry.check_params` validates a config's values against them before any compute starts
and returns the parameters with every default filled in, so that stating a default explicitly
gives the same parameters (and the same cached result) as leaving it out. Nested pydantic models
(e.g. a segmentation spec) come back as plain dicts.

Everything else an entry declares is given at registration and kept with it, never set as an
attribute on the function: ``validate``, a function of the filled-in parameters for rules across
parameters that a type cannot express (it raises ``ValueError("<param>: <problem and fix>")``,
which :meth:`Registry.check_params` prefixes with the config location), and any keyword a kind of
entry defines (a method's ``needs``, a statistic's tables), read back with :meth:`Registry.info`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Callable, Generic, TypeVar

import pydantic

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class Entry(Generic[F]):
    """A registered function, its cross-parameter check and what it declared at registration."""

    fn: F
    validate: Callable[[dict[str, Any]], None] | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[F]):
    """Name -> function map with a decorator to add entries and a clear error on unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[F]] = {}

    def register(
        self, name: str, validate: Callable[[dict[str, Any]], None] | None = None, **info: Any
    ) -> Callable[[F], F]:
        """Decorator adding ``fn`` as ``name``; ``validate(params)`` checks rules across parameters,
        ``info`` is what the entry declares (see :meth:`info`)."""

        def add(fn: F) -> F:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = Entry(fn, validate, info)
            return fn

        return add

    def entry(self, name: str) -> Entry[F]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self.names())
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def get(self, name: str) -> F:
        return self.entry(name).fn

    def info(self, name: str) -> dict[str, Any]:
        """What ``name`` declared at registration (keywords besides ``validate``)."""
        return self.entry(name).info

    def names(self) -> list[str]:
        return sorted(self._entries)

    def check_params(self, name: str, params: dict[str, Any], where: str) -> dict[str, Any]:
        """Validate ``params`` (names, types, ranges); return them with the defaults filled in.

        Raises ValueError with one line naming ``where``, the parameter and what is allowed.
        """
        try:
            entry = self.entry(name)
        except KeyError as err:
            raise ValueError(f"{where}: {err.args[0]}") from None
        model = _params_model(entry.fn)
        allowed = list(model.model_fields)
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"{where}: unknown parameter(s) {unknown} for {self.kind} {name!r}; allowed: {allowed}")
        try:
            checked = model.model_validate(params)
        except pydantic.ValidationError as err:
            first = err.errors()[0]
            # the field and its list/tuple indices; pydantic's union-member tags are left out
            field = ".".join(str(p) for p in first["loc"][:1] + tuple(p for p in first["loc"][1:] if isinstance(p, int)))
            raise ValueError(
                f"{where}.{field}: {first['msg']} (got {first.get('input')!r}) for {self.kind} {name!r}"
            ) from None
        result = {k: _plain(getattr(checked, k)) for k in allowed}
        if entry.validate is not None:
            try:
                entry.validate(result)
            except ValueError as err:
                raise ValueError(f"{where}: {err} for {self.kind} {name!r}") from None
        return result


@cache
def _params_model(fn: Callable) -> type[pydantic.BaseModel]:
    """A pydantic model of ``fn``'s keyword-only parameters (annotation and default)."""
    fields: dict[str, Any] = {}
    for p in inspect.signature(fn, eval_str=True).parameters.values():
        if p.kind is p.KEYWORD_ONLY:
            annotation = Any if p.annotation is p.empty else p.annotation
            fields[p.name] = (annotation, ... if p.default is p.empty else p.default)
    config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return pydantic.create_model(f"{fn.__name__}_params", __config__=config, **fields)


def _plain(value: Any) -> Any:
    """Validated values as plain YAML/JSON types (tuples become lists), so params compare by repr."""
    if isinstance(value, pydantic.BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
