"""Core values as JSON: one serializer for the pydantic dataclasses the core returns, so a value
has no hand-kept ``dict`` copy and the HTTP API can use the value itself as its response model."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


def json_of(value: Any) -> dict[str, Any]:
    """The value as JSON-ready data: fields and computed fields, nested values included."""
    data = _adapter(type(value)).dump_python(value, mode="json")
    assert isinstance(data, dict)
    return data
