"""The checks every frozen config dataclass runs on its fields (``bnn.Config``, the methods' configs,
the dashboard's view): coerce JSON-friendly values to the field's type, or raise
:class:`bnn.errors.ConfigError` with a message that names the field and the value."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

from bnn.errors import ConfigError


def require(ok: bool, message: str, value: object) -> None:
    if not ok:
        raise ConfigError(f"{message}, got {value!r}")


def as_enum(kind: type[Enum], value: object, name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)  # type: ignore[attr-defined]
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}") from None


def as_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return out


def as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return value
