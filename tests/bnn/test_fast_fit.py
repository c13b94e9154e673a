"""Whole runs on the fast step: equal to autograd's, warm starts, the fallback, no torch._dynamo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import bnn
from bnn.model import BayesMLP
from bnn.train import prepare

REPO = Path(__file__).resolve().parents[2]


def _flat(fitted: bnn.Fitted) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in fitted.model.parameters()])


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("config", [
    bnn.Config(),
    bnn.Config(train_samples=32, kl="mc"),
    bnn.Config(train_samples=4, local_reparam=True),
], ids=["article", "mc-32", "local-4"])
def test_the_whole_article_run_equals_autograd_in_float64(article_points, config: bnn.Config,
                                                          float64) -> None:  # noqa: ANN001
    # Same draws, same maths, another order of float64 operations: after 2000 Adam steps the
    # parameters measured within 4e-12 of their size; 1e-9 leaves 250x.
    x, y = article_points
    fast, slow = bnn.fit(x, y, config), bnn.fit(x, y, config, engine="autograd")
    diff = (_flat(fast) - _flat(slow)).abs().max() / _flat(slow).abs().max()
    assert diff < 1e-9
    np.testing.assert_allclose(fast.history["total"], slow.history["total"], rtol=1e-9)


def test_the_article_run_in_float32_ends_where_autograd_ends(article_points) -> None:  # noqa: ANN001
    # float32 rounding differs between the engines from the first step (~1e-7); this run does not
    # amplify it: 2000 steps end within 4e-6 of the parameters' size (measured). 1e-4 leaves 25x, and is
    # far below what a seed changes (the band's mean moves by ~0.1).
    x, y = article_points
    fast, slow = bnn.fit(x, y, bnn.Config()), bnn.fit(x, y, bnn.Config(), engine="autograd")
    assert float((_flat(fast) - _flat(slow)).abs().max() / _flat(slow).abs().max()) < 1e-4
    a, b = bnn.predict(fast, x), bnn.predict(slow, x)
    np.testing.assert_allclose(a["mean"], b["mean"], atol=1e-3)


def test_a_chaotic_run_separates_only_after_many_steps(float64) -> None:  # noqa: ANN001
    # Minibatches, a learned noise and two tanh layers at lr 0.1: even in float64 a 1e-16
    # difference grows to O(1) over 2000 epochs (measured), as it would between two machines, so
    # past that point the engines can only agree in distribution (the oracle tests check that). Over
    # 100 epochs they still agree to 1e-12 of the parameters' size (measured 3e-15).
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, 30)
    y = np.sin(2 * x) + 0.2 * rng.standard_normal(30)
    cfg = bnn.Config(hidden=(8, 8), activation="tanh", learn_noise=True, batch_size=4, epochs=100)
    fast, slow = bnn.fit(x, y, cfg), bnn.fit(x, y, cfg, engine="autograd")
    assert float((_flat(fast) - _flat(slow)).abs().max() / _flat(slow).abs().max()) < 1e-12


# ---- warm starts: the dashboard writes parameters in place after prepare() -------------------
def _warm_values(article_points) -> dict[str, torch.Tensor]:  # noqa: ANN001
    x, y = article_points
    return bnn.fit(x, y, bnn.Config(epochs=50)).model.state_dict()


def _first_terms(run, x, y) -> tuple[float, ...]:  # noqa: ANN001
    return tuple(float(t.detach()) for t in run.step(x, y))


@pytest.mark.parametrize("how", ["copy_", "load_state_dict", "replace_parameter", "assign_data"])
def test_a_warm_start_written_after_prepare_is_where_the_steps_start(article_points, how: str) -> None:
    # The loss terms a step returns are computed at the parameters it starts from, so they show
    # whether the step read the warm start; two steps later the runs must still agree.
    x, y = article_points
    warm = _warm_values(article_points)
    runs = {}
    for engine in ("fast", "autograd"):
        run = prepare(x, y, bnn.Config(), engine=engine)
        model = run.fitted.model
        if how == "copy_":
            with torch.no_grad():
                for p, (name, value) in zip(model.parameters(), warm.items()):
                    assert name.endswith(("mu", "rho")) and p.shape == value.shape
                    p.copy_(value)
        elif how == "load_state_dict":
            model.load_state_dict(warm)
        elif how == "replace_parameter":
            model.posterior.mu = torch.nn.Parameter(warm["posterior.mu"].clone())
            model.posterior.rho = torch.nn.Parameter(warm["posterior.rho"].clone())
        else:
            model.posterior.mu.data = warm["posterior.mu"].clone()
            model.posterior.rho.data = warm["posterior.rho"].clone()
        runs[engine] = [_first_terms(run, run.x, run.y) for _ in range(3)], run
    cold_run = prepare(x, y, bnn.Config())
    cold = _first_terms(cold_run, cold_run.x, cold_run.y)
    (fast_terms, fast_run), (slow_terms, slow_run) = runs["fast"], runs["autograd"]
    assert fast_run.engine == "fast" and abs(fast_terms[0][2] - cold[2]) > 1.0  # not the cold start's loss
    np.testing.assert_allclose(fast_terms, slow_terms, rtol=1e-4)
    torch.testing.assert_close(fast_run.fitted.model.posterior.mu, slow_run.fitted.model.posterior.mu,
                               rtol=1e-4, atol=1e-5)


def test_the_fitted_parameters_are_the_trained_ones(article_points) -> None:  # noqa: ANN001
    # The model's parameters are views of the step's buffer: what the model holds after fit is
    # what Adam wrote, and saving and loading it round-trips.
    x, y = article_points
    fitted = bnn.fit(x, y, bnn.Config(epochs=30))
    table = bnn.predict(fitted, x)
    copy = BayesMLP(1, bnn.Config())
    copy.load_state_dict(fitted.model.state_dict())
    torch.testing.assert_close(copy.posterior.sigma, fitted.model.posterior.sigma)
    assert np.isfinite(table["mean"]).all()


# ---- the fallback ------------------------------------------------------------------------
class _Custom(BayesMLP):
    """A model the fast step does not know (a subclass may change anything)."""


def test_models_the_fast_step_does_not_cover_train_with_autograd(article_points) -> None:  # noqa: ANN001
    x, y = article_points
    run = prepare(x, y, bnn.Config(epochs=5))
    assert run.engine == "fast"
    frozen = prepare(x, y, bnn.Config())
    frozen.fitted.model.posterior.rho.requires_grad_(False)
    from bnn.train import make_stepper

    stepper, why = make_stepper(frozen.fitted, frozen.generator)
    assert why == "autograd: mu or rho does not require a gradient (frozen by the caller)"
    custom = prepare(x, y, bnn.Config())
    custom.fitted.model.__class__ = _Custom
    stepper, why = make_stepper(custom.fitted, custom.generator)
    assert why == "autograd: the model is a _Custom, not bnn.model.BayesMLP"
    custom.stepper, custom.engine = stepper, why
    terms = custom.step(custom.x, custom.y)
    assert np.isfinite(float(terms.total.detach()))
    with pytest.raises(ValueError, match="does not cover this model: the model is a _Custom"):
        make_stepper(custom.fitted, custom.generator, engine="fast")
    assert prepare(x, y, bnn.Config(), engine="autograd").engine == "autograd: asked for"


def test_a_first_fit_in_a_fresh_process_does_not_import_dynamo() -> None:
    # torch.optim's Optimizer.__init__ imports torch._dynamo: ~1 s of CPU before the first step.
    code = ("import sys, bnn\nfrom bnn import toys\nx, y = toys.article_points()\n"
            "bnn.fit(x, y, bnn.Config(epochs=20))\nbnn.fit(x, y, bnn.Config(epochs=20), engine='autograd')\n"
            "print(sorted(m for m in sys.modules if m.startswith(('torch._dynamo', 'torch.optim'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert "torch._dynamo" not in out.stdout, out.stdout


def test_a_batch_written_in_place_between_steps_is_read_again(article_points) -> None:  # noqa: ANN001
    # The fast step copies a full batch into its buffers once; a caller who edits the points in
    # place (a dashboard moving a point) must still be trained on the new ones.
    x, y = article_points
    runs = [prepare(x, y, bnn.Config(), engine=engine) for engine in ("fast", "autograd")]
    for run in runs:
        run.step(run.x, run.y)
        run.y.add_(1.0)
        run.x.mul_(0.5)
    totals = [float(run.step(run.x, run.y).total.detach()) for run in runs]
    assert totals[0] == pytest.approx(totals[1], rel=1e-5)
