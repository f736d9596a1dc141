"""The one registry pattern of models, data sets and training methods."""

from __future__ import annotations

import pytest

from snnvar.registry import Registry, UnknownNameError


def test_decorator_and_plain_call_register_in_order() -> None:
    shapes: Registry[object] = Registry("shape")

    @shapes.register("square")
    def square(side: float) -> float:
        return side * side

    assert square(2.0) == 4.0  # the decorator leaves the definition as it is
    assert shapes.register("circle", len) is len
    assert shapes.available() == list(shapes) == ["square", "circle"]
    assert shapes["square"] is square and "circle" in shapes and len(shapes) == 2
    assert [] not in shapes  # an unhashable key is no name


def test_duplicates_unknown_names_and_bad_names_are_refused() -> None:
    shapes: Registry[object] = Registry("shape")
    shapes.register("square", len)
    with pytest.raises(ValueError, match="shape 'square' is already registered"):
        shapes.register("square", str)
    assert shapes["square"] is len
    with pytest.raises(UnknownNameError, match=r"unknown shape 'cube'; available: \['square'\]"):
        shapes["cube"]
    with pytest.raises(KeyError):  # a mapping: get() and `in` work as for a dict
        shapes["cube"]
    assert shapes.get("cube") is None
    with pytest.raises(ValueError, match="non-empty string"):
        shapes.register("")
    with pytest.raises(TypeError):
        shapes["x"] = len  # type: ignore[index]  # read-only


def test_temporary_undoes_registrations() -> None:
    shapes: Registry[object] = Registry("shape")
    with shapes.temporary():
        shapes.register("square", len)
        assert "square" in shapes
    assert shapes.available() == []
