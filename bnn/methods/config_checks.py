"""Checks shared by the methods' frozen config dataclasses (same messages as :class:`bnn.Config`).

Each method config holds only what is the method's own (a dropout rate, a number of
members or chains); the model itself, widths, activation, prior, noise and seed, is
always the one of :class:`bnn.Config`, so every method fits the same model.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from bnn.checks import as_float, as_int, require
from bnn.config import MAX_EPOCHS
from bnn.errors import ConfigError


def check_int(owner: Any, name: str, low: int, high: int) -> None:
    """Coerce field ``name`` of a frozen dataclass to int and check low <= value <= high."""
    value = as_int(getattr(owner, name), name)
    require(low <= value <= high, f"{name} must be in [{low}, {high}]", value)
    object.__setattr__(owner, name, value)


def check_float(owner: Any, name: str, low: float, high: float, open_low: bool = False) -> None:
    """Coerce field ``name`` to float and check it lies in [low, high] ((low, high] if open_low)."""
    value = as_float(getattr(owner, name), name)
    ok = (low < value if open_low else low <= value) and value <= high
    require(ok, f"{name} must be in {'(' if open_low else '['}{low:g}, {high:g}]", value)
    object.__setattr__(owner, name, value)


def check_training(owner: Any) -> None:
    """The optimiser fields most methods share: epochs, lr, batch_size, weight_decay."""
    check_int(owner, "epochs", 1, MAX_EPOCHS)
    check_float(owner, "lr", 0.0, 10.0, open_low=True)
    if owner.batch_size is not None:
        check_int(owner, "batch_size", 1, 10**9)
    if owner.weight_decay is not None:
        check_float(owner, "weight_decay", 0.0, 1e6)


def from_dict(cls: type, data: dict[str, Any] | None) -> Any:
    """Build a method config from a JSON-like dict, naming unknown keys."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"a method config must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**data)
