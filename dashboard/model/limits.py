"""The dashboard's caps: what one visitor of a shared demo may ask of the server.

The engine's own bounds (``bnn.config.MAX_*``) only stop absurd requests. A public
demo needs tighter ones, applied on the server whatever the widgets or a hand-edited
link allow: caps on each knob, and a cap on the product of them, because 20,000
epochs are harmless on six points and a 256-unit net is harmless for 100 epochs, but
not both at once with 64 samples on 2,000 points. ``check_config`` and
``check_training_work`` raise :class:`bnn.ConfigError` with a message that names the
knob to turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bnn.config import Config
from bnn.data import batch_size_for, steps_per_epoch
from bnn.errors import ConfigError
from bnn.network import Layout


@dataclass(frozen=True)
class Limits:
    """Caps for a shared demo on a small CPU server (see README, "Sharing a hosted demo")."""

    epochs: int = 20_000
    layers: int = 3
    units: int = 256  # per hidden layer
    train_samples: int = 64
    seed: int = 2**31 - 1  # a browser number widget holds integers exactly only up to 2^53
    predict_samples: int = 1_000
    functions: int = 50  # sampled functions drawn on the band plot
    points: int = 2_000
    upload_bytes: int = 1_000_000  # 1 MB; .streamlit/config.toml caps the server at 1 MB too
    expression_chars: int = 200
    # The toy point table's bound on |x| and |y|: the article's net is not standardised, so
    # values beyond it only saturate the net; typed values that large are almost surely typos.
    # (The engine takes up to bnn.data.MAX_ABS, 1e9: real tables hold millions.)
    point_abs: float = 1e6
    view_abs: float = 1_000.0  # the plotted x range lies within ±view_abs
    # Multiply-adds of one training run, sum over steps of (samples x batch x weights),
    # plus a per-step overhead. 6e10 is about a minute on one core of the project's test
    # machine (measured: ~1.2e9 multiply-adds a second with the backward pass, ~0.5 ms a
    # step); the article's run is 1.2e9.
    training_work: float = 6e10
    step_overhead: float = 6e5  # one step's fixed cost, in multiply-add equivalents
    # Multiply-adds of one prediction over the plotted grid (samples x grid x weights).
    predict_work: float = 3e9
    # Weight x point x evaluation products of one run of another inference method (the Compare page):
    # about a minute on one core.
    method_work: float = 2e10
    grid: int = 100  # x positions of the plotted band and its predictions CSV: the article's 100
    link_chars: int = 7_000  # query string of a shareable link (see dashboard.model.link)


LIMITS = Limits()


def check_field(name: str, value: object, limits: Limits = LIMITS) -> None:
    """Raise ConfigError if one :class:`bnn.Config` field's value lies outside the dashboard's range
    for it. The link decoder calls this before the engine's own (wider) checks, so a message quotes
    the cap that applies here (20,000 epochs), never the engine's (1,000,000). Fields without a cap
    here, and values of the wrong type, are left to the engine."""
    if name == "hidden" and isinstance(value, tuple):
        if len(value) > limits.layers:
            raise ConfigError(f"at most {limits.layers} hidden layers here, got {len(value)}")
        for width in value:
            _within("units per hidden layer", width, 1, limits.units)
    elif name in _RANGES and not (name == "batch_size" and value is None):
        label, low, cap = _RANGES[name]
        _within(label, value, low, getattr(limits, cap))


# field -> (what it is called in a message, its least value, the Limits field of its cap)
_RANGES = {
    "epochs": ("epochs", 1, "epochs"),
    "train_samples": ("train_samples", 1, "train_samples"),
    "seed": ("seed", 0, "seed"),
    "batch_size": ("batch_size", 1, "points"),
}


def _within(label: str, value: object, low: int, cap: int) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= cap:
        raise ConfigError(f"{label} must be in [{low:,}, {cap:,}] here, got {value:,}")


def check_config(config: Config, limits: Limits = LIMITS) -> None:
    """Raise ConfigError if any single knob of ``config`` exceeds the dashboard's caps."""
    for name in ("hidden", *_RANGES):
        check_field(name, getattr(config, name), limits)


def weight_count(config: Config, input_dim: int = 1) -> int:
    """P, the number of Bayesian weights and biases of the network ``config`` describes."""
    return Layout.of(input_dim, config.hidden, config.activation).size


def training_work(config: Config, n_points: int, limits: Limits, input_dim: int = 1) -> float:
    """Multiply-adds of a run (forward and backward together, see ``Limits.training_work``)."""
    steps_per, per_sample = _work_terms(config, n_points, input_dim)
    return config.epochs * steps_per * (config.train_samples * per_sample + limits.step_overhead)


def _work_terms(config: Config, n_points: int, input_dim: int) -> tuple[int, int]:
    """Steps per epoch, and multiply-adds of one training sample in one step (batch x weights)."""
    return (steps_per_epoch(n_points, config.batch_size),
            batch_size_for(n_points, config.batch_size) * weight_count(config, input_dim))


def check_training_work(config: Config, n_points: int, limits: Limits = LIMITS, input_dim: int = 1) -> None:
    """Raise ConfigError if the run as a whole is too heavy for a shared server; the message
    says how far to lower the epochs or the training samples to fit the budget."""
    check_config(config, limits)
    if n_points > limits.points:
        raise ConfigError(f"at most {limits.points:,} points here, got {n_points:,}")
    work = training_work(config, n_points, limits, input_dim)
    if work > limits.training_work:
        lower = _what_to_lower(config, n_points, limits, input_dim)
        raise ConfigError(f"this run is about {work / limits.training_work:.1f} times heavier than one visitor may "
                          f"ask of this server (epochs x training samples x points x weights); {lower}")


def _what_to_lower(config: Config, n_points: int, limits: Limits, input_dim: int) -> str:
    """The most epochs, and the most training samples, that fit the budget with the rest unchanged.
    The work is linear in the epochs and affine in the samples (see :func:`training_work`)."""
    steps_per, per_sample = _work_terms(config, n_points, input_dim)
    per_step = config.train_samples * per_sample + limits.step_overhead
    options = []
    epochs = int(limits.training_work // (steps_per * per_step))
    if epochs >= 1:
        options.append(f"the epochs to at most {epochs:,}")
    samples = int((limits.training_work / (config.epochs * steps_per) - limits.step_overhead) // per_sample)
    if 1 <= samples < config.train_samples:
        options.append(f"the training samples to at most {samples:,}")
    lower = f"lower {' or '.join(options)}, or use" if options else "use"
    return f"{lower} fewer units per layer or fewer points"


def affordable_predict_samples(config: Config, requested: int, limits: Limits = LIMITS,
                               input_dim: int = 1) -> int:
    """The most predictive samples (at most ``requested``) the plotted grid can afford."""
    per_sample = limits.grid * weight_count(config, input_dim)
    return max(1, min(requested, limits.predict_samples, int(limits.predict_work // per_sample)))


def method_work(name: str, settings: dict[str, Any], config: Config, n_points: int, input_dim: int = 1) -> float:
    """A rough count of multiply-adds of one method's fit (``bnn.methods``), to refuse runs that
    would hold the server for minutes (see ``Limits.method_work``)."""
    base = weight_count(config, input_dim) * n_points
    if name == "hmc":  # every replica (chains x temperatures) takes up to `steps` gradients an iteration
        replicas = settings["chains"] * settings.get("temperatures", 1)
        iterations = settings["warmup"] + settings["draws"] * settings.get("thin", 1)
        return base * replicas * iterations * settings["steps"]
    if name == "bbb":
        return base * config.epochs * config.train_samples
    if name == "gp":  # a Cholesky of the N x N kernel per L-BFGS step (its default settings if not given)
        return settings.get("restarts", 3) * settings.get("iterations", 100) * n_points**3 / 3
    if name == "fullcov":  # per draw: L eps (P^2, or P k with a rank) and the network on the points
        p = weight_count(config, input_dim)
        per_draw = (p * settings["rank"] if settings.get("rank") else p * p) + base
        return settings["epochs"] * settings.get("train_samples", 64) * per_draw
    return base * settings["epochs"] * settings.get("members", 1)
