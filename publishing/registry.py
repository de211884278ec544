"""Destination kind -> its adapter: one registration per provider module in ``publishing.adapters``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publishing.adapters.base import Adapter

_ADAPTERS: dict[str, Adapter] = {}


def register(adapter_class: type[Adapter]) -> type[Adapter]:
    """Class decorator: ``@registry.register`` on an adapter with a ``kind``."""
    kind = adapter_class.kind
    existing = _ADAPTERS.get(kind)
    if existing is not None and type(existing) is not adapter_class:
        raise ValueError(f"An adapter for {kind!r} is already registered.")
    _ADAPTERS[kind] = adapter_class()
    return adapter_class


def unregister(kind: str) -> None:
    """For tests that register an adapter of their own."""
    _ADAPTERS.pop(kind, None)


def adapter_or_none(kind: str) -> Adapter | None:
    return _ADAPTERS.get(kind)


def adapter_for(kind: str) -> Adapter:
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        raise LookupError(f"No adapter delivers to {kind} destinations yet.")
    return adapter


def kinds() -> list[str]:
    return sorted(_ADAPTERS)
