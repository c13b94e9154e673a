"""Typed errors whose messages a person can act on.

Every check of user input in ``bnn`` raises a subclass of :class:`BNNError`, so a
caller (the dashboard, the CLI) can catch one type and show ``str(exc)`` as is.
"""

from __future__ import annotations


class BNNError(ValueError):
    """Base of every input error raised by ``bnn``; the message is meant for a person."""


class ConfigError(BNNError):
    """A configuration value is unknown, of the wrong type or out of range."""


class PointsError(BNNError):
    """A point set is empty, too large, or holds non-finite or too-large numbers."""


class ExpressionError(BNNError):
    """A typed expression of x is malformed, too long or uses something not allowed."""


class ModelFileError(BNNError):
    """A saved model file cannot be read or does not hold a bnn model."""


class InputFileError(BNNError):
    """An input file cannot be read, or holds more than the reader allows."""


class TrainingDiverged(BNNError):
    """The loss stopped being a finite number during training."""
