"""The dashboard's whole state as a short link, and point sets as CSV.

The state is the run's :class:`bnn.Config`, how the result is viewed (:class:`View`),
which true function to draw, and the point set (:class:`Points`). A link holds only
what differs from the defaults, one readable query key per field (``epochs=5000``),
so a person can read and hand-edit it. Points travel compactly: float32 values,
byte-shuffled (the HDF5/Blosc "shuffle" filter: equal-significance bytes side by side
compress better), deflated and base64url-encoded, about 8 characters a point.

Points are always held as float32 values, whether typed, generated, uploaded or read
from a link. The network computes in float32 anyway, so a fit on the points a link
carries is the same fit, bit for bit, as on the points that made the link.

Decoding is strict but forgiving: each bad value is named in a message and replaced
by its default, so the rest of a hand-edited link still works.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any
from urllib.parse import urlencode

import numpy as np

from bnn import toys
from bnn.config import Config
from bnn.errors import BNNError, ConfigError
from dashboard.model.limits import LIMITS, check_field
from dashboard.model.points import Points
from dashboard.model.text import clip
from dashboard.model.view import View

LINK_VERSION = "1"

__all__ = ["LINK_VERSION", "AppState", "Decoded", "Encoded", "LinkError", "Points", "View", "decode", "encode"]


class LinkError(BNNError):
    """A link's query holds a value that cannot be read (wrong form, too long)."""


@dataclass(frozen=True)
class AppState:
    """Everything a link reproduces. ``expression`` (a formula of x), when set, is the true
    function drawn; else ``toy`` names one of :mod:`bnn.toys` ("" for none)."""

    config: Config = field(default_factory=Config)
    view: View = field(default_factory=View)
    points: Points = field(default_factory=Points.article)
    toy: str = "quartic"
    expression: str = ""

    def __post_init__(self) -> None:
        if self.toy and self.toy not in toys.names():
            raise ConfigError(f"unknown toy function {self.toy!r}; choose one of {', '.join(toys.names())}")
        if len(self.expression) > LIMITS.expression_chars:
            raise ConfigError(f"the formula is longer than {LIMITS.expression_chars} characters")

    def replace(self, **changes: Any) -> AppState:
        return dataclasses.replace(self, **changes)


# ---- query keys -------------------------------------------------------------------------
CONFIG_KEYS = {
    "hidden": "hidden", "activation": "act", "prior_sigma": "prior", "noise_sigma": "noise",
    "learn_noise": "learn_noise", "init": "init", "lr": "lr", "epochs": "epochs", "batch_size": "batch",
    "train_samples": "mc", "kl": "kl", "kl_weight": "kl_weight", "local_reparam": "local",
    "standardize": "std", "seed": "seed", "likelihood": "lik", "classes": "classes", "noise": "noise_model",
    "noise_warmup": "noise_warmup",
}
_VIEW_KEYS = {
    "samples": "samples", "level": "level", "inner": "inner", "band": "band", "functions": "funcs",
    "x_low": "xmin", "x_high": "xmax",
}
_OTHER_KEYS = ("v", "toy", "expr", "pts", "npts")
IGNORED_KEYS = ("embed", "embed_options")  # Streamlit's own query keys
PAGE_PREFIXES = ("c_",)  # keys another page's state owns (the Classify page: dashboard.model.classify_state)
_INT = re.compile(r"\d{1,19}")  # a count or a layer width: digits only
_SIGNED_INT = re.compile(r"[+-]?\d{1,19}")  # a field's value: its range check says what is allowed
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?")
_B64 = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Encoded:
    """A link's query parameters; ``points_in_link`` is False when the points did not fit."""

    params: dict[str, str]
    points_in_link: bool

    @property
    def query(self) -> str:
        return urlencode(self.params)


@dataclass(frozen=True)
class Decoded:
    """The state a link describes, with one message per value that was replaced by its default."""

    state: AppState
    problems: tuple[str, ...] = ()
    points_left_out: int | None = None  # the sender's point count, when they did not fit the link


def encode(state: AppState, max_chars: int = LIMITS.link_chars) -> Encoded:
    """The query of a link to ``state``: only what differs from the defaults."""
    params: dict[str, str] = {}
    defaults = AppState()
    for name, key in CONFIG_KEYS.items():
        if name == "learn_noise":  # read from old links; ``noise_model`` says it now (Config mirrors the two)
            continue
        value = getattr(state.config, name)
        if value != getattr(defaults.config, name):
            params[key] = format_value(value)
    for name, key in _VIEW_KEYS.items():
        value = getattr(state.view, name)
        if value != getattr(defaults.view, name):
            params[key] = format_value(value)
    if state.toy != defaults.toy:
        params["toy"] = state.toy or "none"
    if state.expression:
        params["expr"] = state.expression
    if state.points != defaults.points:
        with_points = {**params, "pts": encode_points(state.points)}
        if len(urlencode(with_points)) <= max_chars:
            return Encoded(with_points, True)
        params["npts"] = str(len(state.points))
        return Encoded(params, False)
    return Encoded(params, True)


def decode(query: Mapping[str, str | list[str]]) -> Decoded:
    """The state a link's query describes. Never raises on bad values: each one becomes a
    message and its default is used instead."""
    raw = {k: (v[-1] if isinstance(v, list) else v) for k, v in query.items()
           if k not in IGNORED_KEYS and not k.startswith(PAGE_PREFIXES)}
    problems: list[str] = []
    unknown = sorted(set(raw) - set(CONFIG_KEYS.values()) - set(_VIEW_KEYS.values()) - set(_OTHER_KEYS))
    if unknown:
        problems.append(f"the link's unknown setting(s) {', '.join(map(repr, unknown))} were ignored")
    if raw.get("v", LINK_VERSION) != LINK_VERSION:
        problems.append(f"the link is of format v={raw['v']!r}; this app reads v={LINK_VERSION}, so some "
                        "settings may differ")
    config = decode_fields(Config(), CONFIG_KEYS, raw, problems, check_field)
    view = decode_fields(View(), _VIEW_KEYS, raw, problems)
    state = AppState(config=config, view=view)
    state = _decode_truth(state, raw, problems)
    points_left_out = None
    if "pts" in raw:
        try:
            state = state.replace(points=decode_points(raw["pts"]))
        except BNNError as exc:
            problems.append(f"the link's points could not be read ({exc}); the article's points are shown")
    elif "npts" in raw:
        if _INT.fullmatch(raw["npts"]):
            points_left_out = int(raw["npts"])
        else:
            problems.append(f"npts={clip(raw['npts'])!r} was ignored: it must be a count of points, such as 900")
    return Decoded(state, tuple(problems), points_left_out)


def decode_fields(default: Any, keys: dict[str, str], raw: dict[str, str], problems: list[str],
                   check: Callable[[str, Any], None] | None = None) -> Any:
    """Each present key parsed and checked alone, so one bad value spares the others. ``check``
    (the dashboard's cap on a field) runs before the dataclass's own checks, so that a message
    quotes the range that applies here rather than the engine's wider one."""
    good: dict[str, Any] = {}
    for name, key in keys.items():
        if key not in raw:
            continue
        try:
            value = _parse(raw[key], getattr(default, name), name)
            if check is not None:
                check(name, value)
            dataclasses.replace(default, **{name: value})  # the dataclass's checks of this field alone
        except BNNError as exc:
            problems.append(f"{key}={clip(raw[key])!r} was ignored: {exc}")
            continue
        good[name] = value
    try:
        return dataclasses.replace(default, **good)
    except BNNError as exc:  # a combination of individually valid values
        problems.append(f"the link's settings do not go together ({exc}); the defaults are used")
        return default


def _decode_truth(state: AppState, raw: dict[str, str], problems: list[str]) -> AppState:
    if "toy" in raw:
        toy = "" if raw["toy"] == "none" else raw["toy"]
        try:
            state = state.replace(toy=toy)
        except BNNError as exc:
            problems.append(f"toy={clip(raw['toy'])!r} was ignored: {exc}")
    if "expr" in raw:
        try:
            state = state.replace(expression=raw["expr"].strip())
        except BNNError as exc:
            problems.append(f"expr was ignored: {exc}")
    return state


def _parse(text: str, default: Any, name: str) -> Any:
    """A query value in the type of the field's default."""
    if len(text) > 64:
        raise LinkError(f"the value is {len(text)} characters long; no setting needs more than 64")
    if name == "hidden":
        if text == "none":
            return ()
        parts = text.split("-")
        if not all(_INT.fullmatch(p) for p in parts):
            raise LinkError("hidden must be layer widths joined by '-', such as 32 or 32-16, or 'none'")
        return tuple(int(p) for p in parts)
    if name == "band":
        return text  # View checks the names; '-' joins several
    if name == "batch_size":
        return None if text == "full" else _parse_int(text)
    if isinstance(default, bool):
        if text not in ("0", "1", "true", "false"):
            raise LinkError("use 1 or 0")
        return text in ("1", "true")
    if isinstance(default, Enum):
        return text  # the dataclass checks it against its members
    if isinstance(default, int):
        return _parse_int(text)
    if not _FLOAT.fullmatch(text):
        raise LinkError("not a number")
    return float(text)


def _parse_int(text: str) -> int:
    """A whole number, sign included: -4 is a whole number, and the field's own range check
    then says it must be >= 0 (a message "not a whole number" would be wrong)."""
    if not _SIGNED_INT.fullmatch(text):
        raise LinkError("not a whole number")
    return int(text)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return "-".join(map(str, value)) if value else "none"
    if value is None:
        return "full"
    if isinstance(value, float):
        return repr(value).replace("e+", "e")  # '+' would read back as a space
    return str(value)


# ---- points -----------------------------------------------------------------------------
def encode_points(points: Points) -> str:
    """float32 bytes, shuffled by significance, deflated, base64url without padding."""
    raw = np.frombuffer(points.to_bytes(), dtype=np.uint8).reshape(-1, 4).T.copy().tobytes()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")


def inflate(text: str, max_points: int, point_bytes: int) -> bytes:
    """The bytes of a link's points (base64url of deflated bytes, ``point_bytes`` a point), inflated at
    most to ``max_points`` points' worth (no zip bombs); raises LinkError saying what is wrong."""
    if len(text) > LIMITS.link_chars:
        raise LinkError(f"the points take {len(text):,} characters; a link holds at most {LIMITS.link_chars:,}")
    if not _B64.fullmatch(text):
        raise LinkError("the points hold characters that a link never writes")
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, point_bytes * max_points + 1)
    except (ValueError, zlib.error):
        raise LinkError("the points are damaged (was the link cut short?)") from None
    if len(raw) > point_bytes * max_points or inflater.unconsumed_tail:
        raise LinkError(f"the link holds more than {max_points:,} points")
    if not inflater.eof or len(raw) % point_bytes:
        raise LinkError("the points are damaged (was the link cut short?)")
    return raw


def decode_points(text: str, max_points: int = LIMITS.points) -> Points:
    """Inverse of :func:`encode_points`; raises LinkError or PointsError with a reason."""
    raw = inflate(text, max_points, 8)
    values = np.frombuffer(raw, dtype=np.uint8).reshape(4, -1).T.copy().view("<f4").ravel()
    half = values.size // 2
    if not half:
        return Points.none()  # every point deleted: the sender's chart showed the prior
    return Points.of(values[:half], values[half:], max_points=max_points)
