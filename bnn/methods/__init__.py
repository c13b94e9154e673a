"""Inference methods for the same model behind one protocol.

Every method fits the model of :class:`bnn.Config` (widths, activation, N(0,
prior_sigma^2) prior, Gaussian noise, or a softmax over K logits for
``likelihood="categorical"``: :mod:`bnn.methods.likelihood`) to points and returns a
:class:`~bnn.methods.base.FittedMethod` whose ``predict`` gives the table of
:func:`bnn.predict` (a classifier's: class probabilities and the entropy's split) and whose
``sample_functions`` gives (S, N) draws ((S, N, K) class probabilities for a classifier):

    from bnn.methods import fit_method
    fitted = fit_method("ensemble", x, y, bnn.Config(), {"members": 10})
    table = fitted.predict(x_new, samples=100, level=0.95, seed=0)

The methods: ``bbb`` Bayes-by-Backprop (the engine), ``dropout`` MC dropout, ``ensemble``
a deep ensemble, ``laplace`` a GGN Laplace approximation with its prior tuned by the evidence, ``hmc``
the reference sampler, ``gp`` exact GP regression (a different model: a smooth prior on functions),
``fullcov`` full-covariance Gaussian VI. All but ``gp`` (regression only) fit classifiers too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from bnn.config import Config
from bnn.errors import ConfigError
from bnn.methods import bbb, dropout, ensemble, fullcov, gp, hmc, laplace
from bnn.methods.base import FittedMethod, MethodCallback, MethodProgress
from bnn.methods.config_checks import from_dict


@dataclass(frozen=True)
class Method:
    """A registry entry: how to configure and fit one method."""

    name: str
    label: str  # for people
    reference: str  # the paper it follows
    config_class: type
    fit: Callable[..., FittedMethod]


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("bbb", "Bayes-by-Backprop", "Blundell et al. 2015", bbb.BBBConfig, bbb.fit),
        Method("dropout", "MC dropout", "Gal & Ghahramani 2016", dropout.DropoutConfig, dropout.fit),
        Method("ensemble", "Deep ensemble", "Lakshminarayanan et al. 2017", ensemble.EnsembleConfig, ensemble.fit),
        Method("laplace", "Laplace (GGN)", "Immer et al. 2021", laplace.LaplaceConfig, laplace.fit),
        Method("hmc", "HMC (reference)", "Neal 2011; Hoffman & Gelman 2014", hmc.HMCConfig, hmc.fit),
        Method("gp", "GP (RBF), a smooth prior on functions", "Rasmussen & Williams 2006", gp.GPConfig, gp.fit),
        Method("fullcov", "Full-covariance VI", "Titsias & Lazaro-Gredilla 2014", fullcov.FullCovConfig, fullcov.fit),
    )
}


def names() -> list[str]:
    return list(METHODS)


def get(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None


def config_for(name: str, settings: Any = None) -> Any:
    """The method's config from None (defaults), a dict (JSON, the CLI) or the dataclass itself."""
    method = get(name)
    if settings is None or isinstance(settings, dict):
        return from_dict(method.config_class, settings)
    if not isinstance(settings, method.config_class):
        raise ConfigError(f"method {name!r} takes a {method.config_class.__name__}, got {type(settings).__name__}")
    return settings


def fit_method(name: str, x: ArrayLike, y: ArrayLike, config: Config | None = None, method_config: Any = None,
               callback: MethodCallback | None = None) -> FittedMethod:
    """Fit method ``name`` to (x, y) under the model of ``config``.

    ``method_config``: the method's own settings, as its config dataclass, a dict or None
    (defaults); ``callback(MethodProgress)`` returning True stops the method.
    """
    method = get(name)
    return method.fit(x, y, config or Config(), config_for(name, method_config), callback)


__all__ = ["METHODS", "FittedMethod", "Method", "MethodCallback", "MethodProgress", "fit_method", "get",
           "config_for", "names"]
