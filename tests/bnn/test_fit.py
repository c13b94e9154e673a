"""Training and prediction on the article's problem and small synthetic ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import bnn
from bnn.errors import TrainingDiverged

REQUIRED = ["x", "mean", "std", "lower", "upper", "epistemic_std", "aleatoric_std"]


@pytest.fixture(scope="module")
def article_fit32(article_points: tuple[np.ndarray, np.ndarray]) -> bnn.Fitted:
    # The article's problem and model with 32 samples a step: the article's own single-sample
    # run ends on a noisy Adam iterate (lr 0.1); over seeds 0-4 it kept 97 % of the points
    # inside its 95 % band, the 32-sample run 100 % (measured, see the issue note).
    x, y = article_points
    return bnn.fit(x, y, bnn.Config(train_samples=32))


def test_band_contains_the_training_points(article_fit32: bnn.Fitted, article_points) -> None:
    x, y = article_points
    table = bnn.predict(article_fit32, x, samples=1000)
    assert ((table["lower"] <= y) & (y <= table["upper"])).all(), table
    assert ((table["f_lower"] <= table["mean"]) & (table["mean"] <= table["f_upper"])).all()


def test_band_is_much_wider_far_from_the_data(article_fit32: bnn.Fitted, article_points) -> None:
    x, _ = article_points
    near = bnn.predict(article_fit32, x, samples=1000)
    far = bnn.predict(article_fit32, [-4.5, 4.5], samples=1000)
    near_width = (near["f_upper"] - near["f_lower"]).mean()
    # Measured ~8-15x over seeds; 3x is "much wider" with room for seed-to-seed spread.
    assert (far["f_upper"] - far["f_lower"]).min() > 3 * near_width
    assert far["epistemic_std"].min() > 3 * near["epistemic_std"].mean()


def test_default_run_table_shape_and_order(article_fit: bnn.Fitted) -> None:
    grid = np.linspace(-5, 5, 100)
    table = bnn.predict(article_fit, grid)
    assert list(table.columns[: len(REQUIRED)]) == REQUIRED
    assert len(table) == 100 and np.allclose(table["x"], grid)
    assert (table["lower"] <= table["mean"]).all() and (table["mean"] <= table["upper"]).all()
    # y's interval includes the noise, so it is at least as wide as f's.
    assert ((table["upper"] - table["lower"]) >= (table["f_upper"] - table["f_lower"]) - 1e-9).all()
    assert article_fit.history["epoch"].iloc[-1] == 2000


def test_interval_level_and_sample_count(article_fit: bnn.Fitted) -> None:
    wide = bnn.predict(article_fit, [0.0, 3.0], level=0.99)
    narrow = bnn.predict(article_fit, [0.0, 3.0], level=0.5)
    assert ((wide["upper"] - wide["lower"]) > (narrow["upper"] - narrow["lower"])).all()
    f = bnn.sample_functions(article_fit, [0.0, 3.0], samples=7)
    assert f.shape == (7, 2)


def test_same_seed_same_result_other_seed_other_result(article_points) -> None:
    x, y = article_points
    cfg = bnn.Config(epochs=200, train_samples=4)
    a, b = bnn.fit(x, y, cfg), bnn.fit(x, y, cfg)
    pd.testing.assert_frame_equal(a.history, b.history)
    pd.testing.assert_frame_equal(bnn.predict(a, x), bnn.predict(b, x))
    c = bnn.fit(x, y, cfg.replace(seed=1))
    assert not np.allclose(bnn.predict(a, x)["mean"], bnn.predict(c, x)["mean"])
    # The predictive draws are seeded too: another predictive seed, other draws.
    assert not np.allclose(bnn.predict(a, x, seed=5)["mean"], bnn.predict(a, x)["mean"])


def test_callback_streams_terms_and_can_stop(article_points) -> None:
    x, y = article_points
    seen: list[bnn.Progress] = []

    def callback(progress: bnn.Progress) -> bool:
        seen.append(progress)
        return progress.step >= 50

    fitted = bnn.fit(x, y, bnn.Config(epochs=500), callback=callback, callback_every=10)
    assert [p.step for p in seen] == [10, 20, 30, 40, 50]
    assert fitted.stopped_early and fitted.history["step"].iloc[-1] == 50
    assert all(abs(p.total - (p.nll + p.kl)) < 1e-3 * abs(p.total) for p in seen)
    assert seen[-1].fitted is fitted


def test_minibatches_and_loss_terms_recorded() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (200, 3))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] + 0.1 * rng.standard_normal(200)
    cfg = bnn.Config(hidden=(16,), activation="relu", batch_size=32, epochs=30, lr=0.01, init="scaled",
                     prior_sigma=1.0, standardize=True)
    fitted = bnn.fit(x, y, cfg, callback_every=7)
    steps_per_epoch = 7  # ceil(200 / 32)
    assert fitted.history["step"].iloc[-1] == 30 * steps_per_epoch
    first, last = fitted.history["nll"].iloc[0], fitted.history["nll"].iloc[-1]
    assert last < 0.5 * first
    table = bnn.predict(fitted, x[:5])
    assert list(table.columns[:3]) == ["x0", "x1", "x2"]


def test_steps_per_epoch_counts_the_last_short_batch() -> None:
    from bnn.data import batch_size_for, steps_per_epoch

    assert [steps_per_epoch(n, b) for n, b in ((6, None), (6, 4), (6, 6), (6, 100), (200, 32), (1, 1))] == [
        1, 2, 1, 1, 7, 1]
    assert [batch_size_for(n, b) for n, b in ((6, None), (6, 4), (6, 100))] == [6, 4, 6]


def test_learned_noise_recovers_the_true_noise() -> None:
    # 400 points with noise std 0.5 around a line: the maximum-likelihood noise is within
    # ~0.5/sqrt(2*400) = 0.018 of 0.5; 0.06 allows for the fit's small misfit and optimiser noise.
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 400)
    y = 2 * x + 1 + 0.5 * rng.standard_normal(400)
    cfg = bnn.Config(hidden=(), learn_noise=True, noise_sigma=2.0, lr=0.05, epochs=600, train_samples=8,
                     init="scaled", prior_sigma=10.0)
    fitted = bnn.fit(x, y, cfg)
    assert abs(fitted.noise_sigma - 0.5) < 0.06
    assert fitted.history["noise_sigma"].iloc[0] > 1.0  # it did move from its start


def test_standardised_fit_reports_original_units() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(1000, 1010, 100)
    y = 50 * (x - 1005) + 3000 + 5 * rng.standard_normal(100)
    fitted = bnn.fit(x, y, bnn.Config(hidden=(), standardize=True, learn_noise=True, noise_sigma=10.0,
                                      init="scaled", lr=0.05, epochs=2000, train_samples=8, prior_sigma=1.0))
    table = bnn.predict(fitted, [1005.0])
    assert abs(table["mean"].iloc[0] - 3000) < 5  # about one noise std
    # True noise 5; the estimate's own sampling error is ~5/sqrt(200) = 0.35, so [4, 6] is ~3 errors.
    assert 4 < fitted.noise_sigma < 6


def test_hidden_layers_and_activations_build(article_points) -> None:
    x, y = article_points
    for hidden, act in [((), "sigmoid"), ((8, 8), "tanh"), ((4, 4, 4), "relu")]:
        fitted = bnn.fit(x, y, bnn.Config(hidden=hidden, activation=act, epochs=5))
        assert fitted.model.layout.widths == (1, *hidden, 1)
        assert np.isfinite(bnn.predict(fitted, x)["mean"]).all()


def test_local_reparameterisation_trains(article_points) -> None:
    x, y = article_points
    fitted = bnn.fit(x, y, bnn.Config(local_reparam=True, train_samples=8, epochs=1000))
    table = bnn.predict(fitted, x)
    assert np.abs(table["mean"] - y).max() < 1.0


def test_a_diverging_fit_raises_naming_the_epoch_and_what_to_lower(article_points) -> None:
    x, y = article_points
    wild = bnn.Config(lr=10, hidden=(64, 64), activation="relu", init="scaled", prior_sigma=1e6, epochs=200)
    seen: list[float] = []
    with pytest.raises(TrainingDiverged, match=r"by epoch \d+ of 200; lower the learning rate \(now 10\), or the "
                                              r"prior σ \(now 1e\+06\)") as caught:
        bnn.fit(x, y, wild, callback=lambda p: seen.append(p.total))
    assert isinstance(caught.value, bnn.BNNError)  # the dashboard and the CLI show BNNErrors as messages
    assert seen and all(np.isfinite(seen))  # the callback never saw a NaN loss


def test_the_methods_trainer_raises_the_same_error() -> None:
    # Adam's bounded steps rarely blow up the MAP networks, so feed the trainer a loss that is NaN.
    from bnn.methods import optimise
    from bnn.methods.base import prepare

    data = prepare(np.linspace(-2, 2, 8), np.zeros(8), bnn.Config())
    w0 = torch.zeros((2, 5))

    def nan_nll(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return w.sum(dim=1) * float("nan")

    with pytest.raises(TrainingDiverged, match="ensemble: training diverged: the loss became nan at epoch 1"):
        optimise.train(w0, data, nan_nll, weight_decay=0.0, epochs=5, lr=0.1, batch_size=None, learn_noise=False,
                       generator=torch.Generator().manual_seed(0), method="ensemble")


def test_weights_broken_by_the_last_step_alone_still_raise(article_points, monkeypatch: pytest.MonkeyPatch) -> None:
    # The loss is computed before the step's update, so a last update that breaks the weights
    # leaves every reported loss finite: the fit checks the parameters once at the end too.
    from bnn import train

    x, y = article_points
    calls: list[int] = []

    def breaking(original):  # noqa: ANN001, ANN202 - fit calls step() on reported steps, update() between
        def step(self: train.Training, xb: torch.Tensor, yb: torch.Tensor) -> object:
            terms = original(self, xb, yb)
            calls.append(1)
            if len(calls) == 5:  # the last of 5 full-batch epochs
                self.fitted.model.posterior.mu.data[0] = float("inf")
            return terms
        return step

    monkeypatch.setattr(train.Training, "step", breaking(train.Training.step))
    monkeypatch.setattr(train.Training, "update", breaking(train.Training.update))
    with pytest.raises(TrainingDiverged, match="variational parameters were no longer finite numbers by epoch 5"):
        bnn.fit(x, y, bnn.Config(epochs=5))
