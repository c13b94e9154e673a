"""The Classify page's whole state, its presets, and its part of the link.

The state is a categorical :class:`bnn.Config`, the labelled point set
(:class:`dashboard.model.labelled.LabelledPoints`) and the square the maps cover. In the link it
travels beside the main page's state, under keys that start with ``c_`` (``c_epochs=900``,
``c_pts=...``), so one address reproduces both pages and neither reads the other's keys. As on
the main page only what differs from the defaults is written, and each bad value is named in a
message and replaced by its default.

The defaults (and the presets' settings) are a 2-32-32-K ReLU network with an N(0, 1) prior,
trained for 600 epochs at a learning rate of 0.02: on the presets' 200-400 points that fit takes
about 0.1 s of CPU (measured on the project's machine), so live mode can train on every edit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnn import datasets2d
from bnn.config import Config
from bnn.errors import BNNError, ConfigError
from dashboard.model import labelled
from dashboard.model.labelled import MAX_CLASSES, LabelledPoints
from dashboard.model.limits import LIMITS, check_field
from dashboard.model.link import CONFIG_KEYS, decode_fields, format_value
from dashboard.model.text import clip

PREFIX = "c_"
GRID = 60  # grid cells per axis of the maps (3,600 inputs: ~0.15 s for 100 draws of the default net)
SAMPLES = 100  # posterior draws behind the maps
BOUNDARY_DRAWS = 8  # draws whose decision boundaries are drawn as thin lines
MAX_RANGE = 100.0  # the square's half-width is at most this


def default_config(classes: int = 2) -> Config:
    """The page's network: 2-32-32-K ReLU, N(0, 1) prior, Adam 0.02, 600 epochs, one MC sample."""
    return Config(likelihood="categorical", classes=classes, hidden=(32, 32), activation="relu", init="scaled",
                  prior_sigma=1.0, lr=0.02, epochs=600)


@dataclass(frozen=True)
class Square:
    """The square [low, high]² the maps cover (and the canvas shows)."""

    low: float = -4.5  # the default preset's (two blobs with a gap)
    high: float = 4.5

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) \
                    or abs(value) > MAX_RANGE:
                raise ConfigError(f"the map's {name} end must be a number within ±{MAX_RANGE:g}, got {value!r}")
        if not self.low < self.high:
            raise ConfigError(f"the map's range must go from low to high, got [{self.low:g}, {self.high:g}]")

    def axis(self, n: int = GRID) -> np.ndarray:
        return np.linspace(self.low, self.high, n)

    def grid(self, n: int = GRID) -> np.ndarray:
        """(n², 2) inputs, x0 varying fastest: row i * n + j is (axis[j], axis[i])."""
        a = self.axis(n)
        x0, x1 = np.meshgrid(a, a)
        return np.stack([x0.ravel(), x1.ravel()], axis=1)


@dataclass(frozen=True)
class ClassifyState:
    """Everything the Classify page's link reproduces."""

    config: Config = field(default_factory=default_config)
    points: LabelledPoints = field(default_factory=lambda: PRESETS["blobs"].points())
    square: Square = field(default_factory=Square)

    def __post_init__(self) -> None:
        if self.config.likelihood != "categorical":
            raise ConfigError("the Classify page trains classifiers: likelihood must be 'categorical'")
        k = self.config.classes
        if k is None or not 2 <= k <= MAX_CLASSES:
            raise ConfigError(f"the Classify page takes 2 to {MAX_CLASSES} classes, got {k!r}")
        if len(self.points) and self.points.classes_present > k:
            raise ConfigError(f"a point has class {self.points.classes_present - 1}, but there are only {k} classes")

    @property
    def classes(self) -> int:
        return int(self.config.classes)

    def replace(self, **changes: Any) -> ClassifyState:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Preset:
    """A data set of :mod:`bnn.datasets2d` with the settings and square that show it well."""

    label: str
    help: str
    make: Callable[[], tuple[np.ndarray, np.ndarray]]
    square: Square
    changes: Mapping[str, Any] = field(default_factory=dict)  # Config fields beyond default_config's

    def points(self) -> LabelledPoints:
        x, y = self.make()
        return LabelledPoints.of(x, y)

    def state(self) -> ClassifyState:
        points = self.points()
        k = max(2, points.classes_present)
        return ClassifyState(config=default_config(k).replace(**self.changes), points=points, square=self.square)


PRESETS: dict[str, Preset] = {
    "blobs": Preset("Two blobs with a gap", "Two tight clusters far apart: no data between them, so the "
                    "epistemic map should light up there and all around.",
                    lambda: datasets2d.blobs(200, seed=0), Square(-4.5, 4.5)),
    "overlap": Preset("Overlapping classes", "Labels are coin flips in a strip between the classes: the "
                      "aleatoric map lights up there, and more data would not help.",
                      lambda: datasets2d.overlap(400, seed=0), Square(-4.0, 4.0)),
    "moons": Preset("Moons", "Two interleaving half circles (500 points, noise 0.1).",
                    lambda: datasets2d.moons(500, noise=0.1, seed=0), Square(-2.0, 3.0)),
    "circles": Preset("Circles", "One class inside a ring of the other.",
                      lambda: datasets2d.circles(300, seed=0), Square(-1.8, 1.8)),
    "xor": Preset("XOR", "Opposite quadrants share a class.", lambda: datasets2d.xor(300, seed=0),
                  Square(-1.6, 1.6)),
    "spiral": Preset("Spiral, 3 arms", "Three interleaved arms: a harder fit (more epochs).",
                     lambda: datasets2d.spiral(450, arms=3, seed=0), Square(-1.4, 1.4),
                     {"epochs": 3000, "lr": 0.01}),
}


def active_preset(state: ClassifyState) -> str | None:
    """The preset whose state this is, if any."""
    return next((name for name, p in PRESETS.items() if p.state() == state), None)


# ---- the link -----------------------------------------------------------------------------
# The fields a classifier uses (no noise, no standardising of labels, the likelihood fixed).
_KEYS = {name: PREFIX + key for name, key in CONFIG_KEYS.items()
         if name not in ("likelihood", "noise_sigma", "learn_noise", "noise")}
_SQUARE_KEYS = {"low": PREFIX + "lo", "high": PREFIX + "hi"}
POINTS_KEY = PREFIX + "pts"
KEYS = (*_KEYS.values(), *_SQUARE_KEYS.values(), POINTS_KEY)


@dataclass(frozen=True)
class Decoded:
    state: ClassifyState
    problems: tuple[str, ...] = ()


def encode(state: ClassifyState, max_chars: int = LIMITS.link_chars) -> dict[str, str]:
    """The ``c_`` query keys of ``state``: what differs from the defaults. Points that do not fit
    the link's length are left out (the page says so and offers their CSV)."""
    default = ClassifyState()
    params = {key: format_value(getattr(state.config, name)) for name, key in _KEYS.items()
              if getattr(state.config, name) != getattr(default.config, name)}
    params.update({key: format_value(getattr(state.square, name)) for name, key in _SQUARE_KEYS.items()
                   if getattr(state.square, name) != getattr(default.square, name)})
    if state.points != default.points:
        text = labelled.encode(state.points)
        if len(text) <= max_chars:
            params[POINTS_KEY] = text
    return params


def fits_link(state: ClassifyState) -> bool:
    return state.points == ClassifyState().points or POINTS_KEY in encode(state)


def decode(query: Mapping[str, str | list[str]]) -> Decoded:
    """The state the ``c_`` keys of a query describe (others are ignored). Never raises: each bad
    value becomes a message and its default is used."""
    raw = {k: (v[-1] if isinstance(v, list) else v) for k, v in query.items() if k.startswith(PREFIX)}
    problems: list[str] = []
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        problems.append(f"the link's unknown Classify setting(s) {', '.join(map(repr, unknown))} were ignored")
    default = ClassifyState()
    config = decode_fields(default.config, _KEYS, raw, problems, check_field)
    square = decode_fields(default.square, _SQUARE_KEYS, raw, problems)
    points = default.points
    if POINTS_KEY in raw:
        try:
            points = labelled.decode(raw[POINTS_KEY])
        except BNNError as exc:
            problems.append(f"the link's Classify points could not be read ({exc}); the default points are shown")
    if len(points) and points.classes_present > (config.classes or 2):
        config = config.replace(classes=points.classes_present)
    try:
        return Decoded(ClassifyState(config, points, square), tuple(problems))
    except BNNError as exc:
        problems.append(f"the link's Classify settings do not go together ({clip(str(exc))}); the defaults are used")
        return Decoded(default, tuple(problems))
