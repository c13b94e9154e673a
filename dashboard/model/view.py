"""How a fit is looked at: which bands, at which level, over which x range.

These choices change the picture, never the training, so the dashboard re-draws a
cached fit when only they change. The defaults are the article's plot: the 95 %
percentile band of f from 100 posterior draws on x in [-5, 5].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from bnn.errors import ConfigError
from dashboard.model.limits import LIMITS


class Band(StrEnum):
    """An uncertainty a shaded band shows (the chart draws each chosen one)."""

    F = "f"
    """The network function f: epistemic only (the article's band; columns f_lower/f_upper)."""
    NOISE = "noise"
    """The noise alone around the mean: mean +- z * aleatoric std (for a heteroscedastic noise it
    follows sigma(x))."""
    Y = "y"
    """A new observation y = f + noise: epistemic and aleatoric (columns lower/upper)."""


BAND_ORDER = (Band.Y, Band.NOISE, Band.F)  # drawn in this order (widest first); the first chosen frames the axis


@dataclass(frozen=True)
class View:
    samples: int = 100  # posterior draws behind the band (the article's 100)
    level: float = 0.95  # central probability of the band
    inner: float = 0.0  # a second, inner band at this level (0: none)
    band: tuple[Band, ...] = (Band.F,)  # the bands drawn, at least one
    functions: int = 5  # sampled functions drawn over the band
    x_low: float = -5.0
    x_high: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "band", _band(self.band))
        for name in ("samples", "functions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be a whole number, got {value!r}")
        for name in ("level", "inner", "x_low", "x_high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
            object.__setattr__(self, name, float(value))
        self._check_ranges()

    def _check_ranges(self) -> None:
        if not 1 <= self.samples <= LIMITS.predict_samples:
            raise ConfigError(f"samples must be in [1, {LIMITS.predict_samples}], got {self.samples}")
        if not 0 <= self.functions <= LIMITS.functions:
            raise ConfigError(f"the number of drawn functions must be in [0, {LIMITS.functions}], got {self.functions}")
        if not 0.5 <= self.level <= 0.99:
            raise ConfigError(f"level must be in [0.5, 0.99], got {self.level}")
        if self.inner != 0 and not 0.05 <= self.inner < self.level:
            raise ConfigError(f"the inner level must be 0 (none) or in [0.05, {self.level:g}) (below the "
                              f"outer level), got {self.inner:g}")
        lim = LIMITS.view_abs
        if not -lim <= self.x_low < self.x_high <= lim:
            raise ConfigError(f"the x range must satisfy -{lim:g} <= xmin < xmax <= {lim:g}, "
                              f"got [{self.x_low:g}, {self.x_high:g}]")


def _band(value: object) -> tuple[Band, ...]:
    """One band or several ("f", ("f", "y"), "f-noise-y": a link writes them joined by '-'), in
    :data:`BAND_ORDER`, each once."""
    items = value.split("-") if isinstance(value, str) else value
    if not isinstance(items, (tuple, list)) or not items:
        raise ConfigError(f"band must name at least one of 'f', 'noise' and 'y', got {value!r}")
    try:
        chosen = {Band(v) for v in items}
    except (ValueError, TypeError):
        raise ConfigError(f"each band must be 'f' (the function), 'noise' (the noise alone) or 'y' (an "
                          f"observation), got {value!r}") from None
    return tuple(b for b in BAND_ORDER if b in chosen)
