"""Named things users can add to: one :class:`Registry` per kind (models, data sets,
training methods), filled by a decorator at each definition.

>>> from snnvar.registry import Registry
>>> shapes = Registry("shape")
>>> @shapes.register("square")
... def square(side: float) -> float:
...     return side * side
>>> shapes["square"](3.0), shapes.available()
(9.0, ['square'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Generic, TypeVar, overload

__all__ = ["Registry", "UnknownNameError"]

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name no entry of a :class:`Registry` has; the message lists those it has.

    A ``KeyError`` (the registry is a mapping) and a ``ValueError`` (a bad argument)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Mapping[str, T], Generic[T]):
    """A read-only mapping of names to entries of one kind, extended by :meth:`register`.

    Iteration and :meth:`available` follow the order of registration; looking up a
    name it lacks raises :class:`UnknownNameError` naming it and the names it has.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        """What an entry is, for messages (``"model"``, ``"data set"``, ...)."""
        self._entries: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, entry: T) -> T: ...

    def register(self, name: str, entry: T | None = None) -> T | Callable[[T], T]:
        """Add ``entry`` under ``name``: ``@registry.register("name")`` above its
        definition, or ``registry.register("name", entry)``. Returns the entry (the
        decorator leaves the definition as it is); a name already taken is refused."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")

        def add(item: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = item
            return item

        return add if entry is None else add(entry)

    @contextmanager
    def temporary(self) -> Iterator[Registry[T]]:
        """Registrations made inside the ``with`` block are undone at its end (tests)."""
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries = saved

    def available(self) -> list[str]:
        """The registered names, in order of registration."""
        return list(self._entries)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; available: {self.available()}"
            ) from None

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._entries
        except TypeError:  # unhashable: no name
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.available()})"
