"""What one run of the main page does about training: preview, train, both, or neither.

Pure decisions, so the tests can go through every case. The inputs are what the page knows at
the start of a run; the rules:

- no points: nothing to train (the chart shows the prior);
- the caps refuse the run, or the fit is cached: nothing to train (the cached band is shown at once);
- Train was pressed: train (a preview first, when one can start from the fit on screen);
- the visitor stopped this very run: nothing, until Train;
- a drag is still in progress (the editor reports the points as they move): a preview only, when
  live mode is on. Each report starts a new run, which ends the previous one, so a drag never
  queues fits; the release is a finished edit and trains;
- live mode, the session's first fit, or a run of these settings that a rerun interrupted: train,
  with a preview first when one can start from the fit on screen.

A press of Train on a fit expected to finish about as soon as a preview would (``quick``: the
article's network trains in a tenth of a second) gets no preview before it: the preview would only
delay the band asked for. An edit in live mode keeps its preview: it answers the edit first
(measured with benchmarks/edit_bench.py on a loaded machine: the first band after a click on the
chart 0.42 s at p50 with the preview, 0.56 s without it, where the fit's own band came at 0.66 s).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Situation:
    """What the page knows when a run starts."""

    has_points: bool
    refused: bool  # the caps refuse this run
    cached: bool  # the fit of these settings is in the server's cache
    clicked: bool  # Train was pressed
    stopped: bool  # the visitor stopped a run of these settings
    dragging: bool  # the last point edit is a drag not yet released
    live: bool  # live mode is on
    pending: bool  # a run of these settings was asked for and did not finish (a rerun interrupted it)
    first: bool  # the session has no finished fit yet
    can_preview: bool  # a fit on screen whose network a preview can start from
    quick: bool = False  # the fit is expected to take about as long as a preview: Train trains it at once


@dataclass(frozen=True)
class Plan:
    preview: bool = False
    train: bool = False


NOTHING = Plan()


def plan(s: Situation) -> Plan:
    """The decision for the situation ``s`` (see the module docstring)."""
    if not s.has_points or s.refused or s.cached:
        return NOTHING
    if s.clicked:
        return Plan(preview=s.can_preview and not s.quick, train=True)
    if s.stopped:
        return NOTHING
    if s.dragging:
        return Plan(preview=s.live and s.can_preview, train=False)
    if s.live or s.first or s.pending:
        return Plan(preview=s.can_preview and not s.first, train=True)
    return NOTHING
