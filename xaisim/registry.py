"""One small registry type shared by methods, metrics and (later) anything else pluggable."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Generic, TypeVar

F = TypeVar("F", bound=Callable)


class Registry(Generic[F]):
    """Name -> function map with a decorator to add entries and a clear error on unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, F] = {}

    def register(self, name: str) -> Callable[[F], F]:
        def add(fn: F) -> F:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = fn
            return fn

        return add

    def get(self, name: str) -> F:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self.names())
            raise KeyError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def check_params(self, name: str, params: dict[str, Any], where: str) -> None:
        """Refuse an unknown name or parameter names the registered function does not take."""
        try:
            fn = self.get(name)
        except KeyError as err:
            raise ValueError(f"{where}: {err.args[0]}") from None
        allowed = [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(f"{where}: unknown parameter(s) {unknown} for {self.kind} {name!r}; allowed: {allowed}")
