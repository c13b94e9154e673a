"""The main page's "Compare with the reference": the HMC reference posterior over the band.

The toggle asks :mod:`dashboard.model.reference_jobs` for the reference of the page's points and
model (computed in a background thread, shared by sessions, cached); while it samples, a
progress bar under the chart says how far it is and the page stays usable; when it is done,
the page reruns and the chart shows its band as orange lines, with one number beside the
toggle: how many times wider the reference's band is than the band on screen away from the
data (:func:`bnn.evaluation.reference.width_ratio`). A reference whose diagnostics fail is still
drawn, labelled "not converged", with the reason in one line.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pandas as pd
import streamlit as st

from bnn.evaluation.reference import width_ratio
from bnn.methods import MethodCallback, fit_method
from bnn.methods.base import FittedMethod
from bnn.methods.hmc import HMCConfig
from dashboard import icons
from dashboard.figures.band import BandData
from dashboard.model import runner
from dashboard.model.limits import LIMITS, affordable_predict_samples, method_work
from dashboard.model.link import AppState
from dashboard.model.reference_jobs import JOBS, Job
from dashboard.model.text import escape_markdown
from dashboard.model.view import View
from dashboard.result import Overlay

TOGGLE = "show_reference"  # the toggle's key (a preference of the session, not in the link)
ASKED = "reference_asked"  # the key of the reference this session asked for last
SETTINGS = HMCConfig()  # the sampler's defaults: the reference its docs certify on the article's problem
POLL = 0.5  # seconds between progress redraws while the page waits for the reference
SAMPLES = 400  # pooled draws behind the reference's band


@dataclasses.dataclass(frozen=True)
class Request:
    """What the toggle asked for on this run: the job (None when refused or off) and a message."""

    job: Job | None = None
    refused: str | None = None  # why there is no reference for these settings, escaped


def key_of(state: AppState) -> runner.Key:
    return runner.method_key("hmc", dataclasses.asdict(SETTINGS), state)


def _refusal(state: AppState) -> str | None:
    """Why the reference cannot be computed for ``state`` (plain text), or None."""
    if state.config.learn_noise:
        return ("the reference samples the model with a fixed noise std; turn off "
                "\"Learn the noise\" to compare with it")
    work = method_work("hmc", dataclasses.asdict(SETTINGS), state.config, len(state.points))
    if work > LIMITS.method_work:
        return (f"sampling these points and this network is about {work / LIMITS.method_work:.1f} times more "
                "work than this server allows one visitor; use fewer points or a smaller network")
    return None


def request(state: AppState, dragging: bool = False) -> Request:
    """The reference job of ``state`` if the toggle is on (started if new), else nothing. Mid-drag
    no job starts (each report of a drag is another point set); the session's job for other points
    or settings is released, so that an edit does not leave a sampler running for nobody."""
    ss = st.session_state
    key = key_of(state) if len(state.points) else None
    if not ss.get(TOGGLE) or key is None:
        _release_other(None)
        return Request()
    reason = _refusal(state)
    if reason is not None:
        _release_other(None)
        return Request(refused=escape_markdown(reason))
    if dragging:
        return Request(job=JOBS.get(key))
    _release_other(key)
    points, config = state.points, state.config

    def sample(callback: MethodCallback) -> FittedMethod:
        fitted = fit_method("hmc", points.x, points.y, config, SETTINGS, callback=callback)
        if not fitted.stopped_early:
            certification(fitted)  # ~0.6 s of CPU for the default run: in the job's thread, not the page's rerun
        return fitted

    return Request(job=JOBS.request(key, sample))


def _release_other(key: runner.Key | None) -> None:
    """Release the job this session asked for last unless it is ``key``; remember ``key``."""
    ss = st.session_state
    asked = ss.get(ASKED)
    if asked is not None and asked != key:
        JOBS.release(asked)
    ss[ASKED] = key


@st.cache_data(max_entries=16, show_spinner=False)
def _table(_fitted: FittedMethod, key: runner.Key, view: View) -> pd.DataFrame:
    x = np.linspace(view.x_low, view.x_high, LIMITS.grid)
    samples = affordable_predict_samples(_fitted.config, SAMPLES)
    return _fitted.predict(x, samples=samples, level=view.level, seed=0)


def certification(fitted: FittedMethod) -> tuple[bool, str]:
    """Whether the sample earns the word "reference", and if not, why (one line, plain text)."""
    certificate = getattr(fitted, "certificate", None)  # the HMC sampler's own verdict (bnn.methods.hmc)
    if certificate is not None:
        verdict = certificate()
        return bool(verdict.certified), str(verdict.reason)
    d = fitted.diagnostics()
    rhat, ess = d.get("max_rhat_f", math.nan), d.get("min_ess_f", math.nan)
    if rhat < 1.05 and ess > 200:
        return True, ""
    return False, f"R-hat of f up to {rhat:.2f} (needs < 1.05), ESS down to {ess:.0f} (needs > 200)"


def overlay(req: Request, view: View) -> Overlay | None:
    """The reference's band for the chart, once its job is done."""
    job = req.job
    if job is None or job.result is None:
        return None
    ok, _ = certification(job.result)
    label = "reference (HMC)" if ok else "reference (HMC, not converged)"
    return Overlay(_table(job.result, job.key, view), label)


def panel(box: st.delta_generator.DeltaGenerator, req: Request, shown: BandData | None, state: AppState,
          ref: Overlay | None) -> st.delta_generator.DeltaGenerator:
    """The line under the toggle: refused, failed, sampling (a progress bar, returned for
    :func:`wait`), or the width ratio and the certification."""
    with box:
        slot = st.empty()
    job = req.job
    if req.refused is not None:
        slot.info(f"No reference: {req.refused}.", icon=icons.ERROR)
    elif job is not None and job.error is not None and job.done.is_set():
        slot.error(f"The reference could not be computed: {escape_markdown(job.error)}.", icon=icons.ERROR)
    elif job is not None and ref is None:
        slot.progress(job.fraction(), text=progress_text(job))
    elif ref is not None and job is not None:
        ok, reason = certification(job.result)
        ratio = width_ratio(shown.table, ref.table, state.points.x) if shown is not None else math.nan
        where = ("Away from the data, the reference's band is "
                 f"**{ratio:.1f}×** as wide as the band on screen." if math.isfinite(ratio) else
                 "The plotted range has no stretch away from the data to compare the widths in.")
        d = job.result.diagnostics()
        runs = (f"HMC, {int(d.get('chains', 0))} chains × {int(d.get('draws_per_chain', 0))} draws, "
                f"{job.result.seconds:.1f} s")
        if ok:
            slot.caption(f"{where} Reference: {runs}; converged (R-hat < 1.05, ESS > 200 at every probe).")
        else:
            slot.warning(f"{where} Reference **not converged** ({escape_markdown(reason)}): its band is drawn, "
                         f"but do not trust it. {runs}.", icon=icons.WARNING)
    return slot


def progress_text(job: Job) -> str:
    p = job.progress
    if p is None or p.phase == "queued":
        return "The reference is waiting for a free slot on the server…"
    return f"Sampling the reference posterior (HMC): {p.phase} {p.step:,} of {p.steps:,}"


def wait(req: Request, slot: st.delta_generator.DeltaGenerator) -> None:
    """At the end of the page: redraw the progress until the reference is done, then rerun so the
    chart shows it. Any click meanwhile reruns the page (Streamlit stops this loop at its next
    ``st`` call), and the job goes on in its thread."""
    job = req.job
    if job is None or job.done.is_set():
        return
    while not job.done.wait(POLL):
        job.touched = time.monotonic()
        slot.progress(job.fraction(), text=progress_text(job))
    st.rerun()

