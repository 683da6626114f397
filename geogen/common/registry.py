"""A small generic registry for the things users add (scene parts, renderers, variants, metrics)."""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from .errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → object, with clash errors on register and "did you mean" on lookup."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj
        return deco

    def add(self, name: str, obj: T) -> None:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj

    def get(self, name: str) -> T:
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UserError(f"unknown {self.kind} {name!r} (choose from {', '.join(sorted(self._items))}){hint}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def ordered(self) -> list[str]:
        """Names in registration order (e.g. the order of rows in a report)."""
        return list(self._items)

    def remove(self, name: str) -> None:
        """Unregister ``name`` (tests that register a temporary entry)."""
        self.get(name)
        del self._items[name]

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
