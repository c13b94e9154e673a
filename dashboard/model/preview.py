"""A quick preview of a fit: the fit on screen, trained on for a moment on the new points.

When a point moves, the posterior of the fit on screen is a good start for the posterior of
the new points: a few hundred more steps from it (about a tenth of a second for the article's
network) give a band that already follows the edit, while the seeded fit from scratch, the one
the link reproduces, trains behind it and replaces it when done. A preview is never cached and
never in the link; its band is labelled as a preview. Plain Python and torch (no Streamlit).
"""

from __future__ import annotations

import time

import torch

import bnn
from bnn.train import prepare
from dashboard.model.limits import LIMITS, training_work
from dashboard.model.points import Points

PREVIEW_STEPS = 300  # optimiser steps at most: about 0.12 s for the article's network on one core
PREVIEW_SECONDS = 0.2  # and at most this long, whatever the network and the number of points
QUICK_SECONDS = 0.4  # a fit expected to take less than this gets no preview (its own band comes as soon)


def expected_seconds(previous: bnn.Fitted, previous_points: int, config: bnn.Config, points: int) -> float:
    """How long a fit of ``config`` on ``points`` points should take, from how long ``previous`` (on
    ``previous_points``) took, scaled by the ratio of their work (:func:`limits.training_work`)."""
    done = training_work(previous.config, previous_points, LIMITS)
    return previous.seconds * training_work(config, points, LIMITS) / done if done > 0 else float("inf")


def quick(previous: bnn.Fitted | None, previous_points: int, config: bnn.Config, points: int) -> bool:
    """Whether the fit is expected within ``QUICK_SECONDS`` (False without a finished fit to judge by)."""
    if previous is None or previous.stopped_early or previous.seconds <= 0:
        return False
    return expected_seconds(previous, previous_points, config, points) < QUICK_SECONDS


def warm_start(previous: bnn.Fitted, points: Points, config: bnn.Config, steps: int = PREVIEW_STEPS,
               seconds: float = PREVIEW_SECONDS) -> bnn.Fitted | None:
    """``previous``'s variational parameters trained on ``points`` with ``config`` for at most ``steps``
    steps and ``seconds`` seconds; None when they cannot start from it (another network shape, no points).

    The parameters are copied in model units: with standardising, the new points' scaling may
    differ a little from the one ``previous`` was trained under, which the steps then correct."""
    if not len(points):
        return None
    run = prepare(points.x, points.y, config)
    source = previous.model.state_dict()
    target = run.fitted.model.state_dict()
    if source.keys() != target.keys() or any(source[k].shape != target[k].shape for k in source):
        return None
    with torch.no_grad():  # what is trained: the posterior's μ and ρ, and a learned noise (a fixed one is the config's)
        for name, param in run.fitted.model.named_parameters():
            if param.requires_grad:
                param.copy_(source[name])
    start = time.perf_counter()
    done = 0
    while done < steps and time.perf_counter() - start < seconds:
        for xb, yb in run.batches():
            run.update(xb, yb)  # no loss terms: a preview shows the band, not the loss
            done += 1
            if done >= steps:
                break
    run.fitted.model.eval()
    run.fitted.stopped_early = True  # a preview is never a finished fit: no downloads, never cached
    run.fitted.seconds = time.perf_counter() - start
    if not all(bool(torch.isfinite(p).all()) for p in run.params):
        return None  # a preview that diverged shows nothing; the fit from scratch says what happened
    return run.fitted
