"""bnn: Bayes-by-Backprop (Blundell et al. 2015) for small regression networks.

    import bnn
    cfg = bnn.Config()                       # the article's run
    fitted = bnn.fit(x, y, cfg)              # x: (N,) or (N, D); y: (N,)
    table = bnn.predict(fitted, x_new, samples=100, level=0.95)
    before = bnn.prior(cfg)                  # the prior predictive: the same table and draws

    clf = bnn.fit(x2, labels, bnn.Config(likelihood="categorical"))   # labels 0..K-1
    bnn.predict(clf, x_new)                  # p0..p{K-1}, label, entropy = aleatoric + epistemic
"""

from __future__ import annotations

from bnn.config import Activation, Config, Init, KLEstimator, Likelihood, NoiseModel
from bnn.errors import BNNError, ConfigError, ExpressionError, ModelFileError, PointsError
from bnn.expr import compile_expression
from bnn.io import load, save
from bnn.predict import predict, sample_functions
from bnn.prior import Prior, prior
from bnn.train import Fitted, Progress, fit, set_threads

__all__ = [
    "Activation",
    "BNNError",
    "Config",
    "ConfigError",
    "ExpressionError",
    "Fitted",
    "Init",
    "KLEstimator",
    "Likelihood",
    "ModelFileError",
    "NoiseModel",
    "PointsError",
    "Prior",
    "Progress",
    "compile_expression",
    "fit",
    "load",
    "predict",
    "prior",
    "sample_functions",
    "save",
    "set_threads",
]
