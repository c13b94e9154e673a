"""Classification in the engine: the config, the labels, the loss, the engines, the table, the file.

The categorical loss is checked against torch.nn.functional.cross_entropy on the same draws and
the existing KL; everything else against the definitions in bnn.config and bnn.uncertainty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import bnn
from bnn import datasets2d
from bnn.errors import ConfigError, PointsError
from bnn.loss import negative_elbo
from bnn.model import BayesMLP
from bnn.train import prepare

CLF = bnn.Config(likelihood="categorical", hidden=(8,), activation="relu", init="scaled", prior_sigma=1.0,
                 lr=0.02, epochs=20)


def test_gaussian_stays_the_default_and_old_configs_load_as_gaussian() -> None:
    assert bnn.Config().likelihood is bnn.Likelihood.GAUSSIAN and bnn.Config().classes is None
    old = {k: v for k, v in bnn.Config().to_dict().items() if k not in ("likelihood", "classes")}
    assert bnn.Config.from_dict(old) == bnn.Config()  # a file or link written before the field
    cfg = bnn.Config(likelihood="categorical", classes=3)
    assert bnn.Config.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize(("changes", "message"), [
    ({"likelihood": "poisson"}, "likelihood must be one of"),
    ({"likelihood": "categorical", "classes": 1}, r"classes must be in \[2, 1000\]"),
    ({"likelihood": "categorical", "classes": 2.5}, "classes must be a whole number"),
    ({"classes": 3}, "classes is for likelihood='categorical' only"),
    ({"likelihood": "categorical", "learn_noise": True}, "learn_noise is for likelihood='gaussian' only"),
])
def test_bad_classification_configs_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        bnn.Config(**changes)


@pytest.mark.parametrize(("labels", "classes", "message"), [
    ([0, 1, 2, 0.5], None, r"whole numbers 0..K-1 .*row 4 holds 0.5"),
    ([0, 1, -1, 0], None, r"must lie in 0..1 for 2 classes; row 3 holds -1"),
    ([0, 1, 3, 0], 3, r"must lie in 0..2 for 3 classes; row 3 holds 3"),
    ([0, 0, 0, 0], None, "at least 2 classes"),
    ([0, 1, float("nan"), 0], None, "finite number"),
    (["a", "b", "a", "b"], None, "numbers only"),
    ([0, 1, 0], None, "x has 4 points but labels has 3"),
])
def test_bad_labels_are_refused(labels: list, classes: int | None, message: str) -> None:
    x = np.zeros((4, 2))
    with pytest.raises(PointsError, match=message):
        bnn.fit(x, labels, CLF.replace(classes=classes))


def test_classes_are_inferred_or_set_and_recorded_in_the_fit() -> None:
    x, labels = datasets2d.spiral(60, arms=3)
    fitted = bnn.fit(x, labels, CLF.replace(epochs=2))
    assert fitted.config.classes == 3 and fitted.model.layout.widths == (2, 8, 3)
    fitted = bnn.fit(x, labels.astype(float), CLF.replace(epochs=2, classes=5))  # whole floats are labels too
    table = bnn.predict(fitted, x[:4], samples=7)
    assert [c for c in table.columns if c.startswith("p") and "_" not in c] == ["p0", "p1", "p2", "p3", "p4"]


def _model(config: bnn.Config, input_dim: int = 3) -> BayesMLP:
    g = torch.Generator().manual_seed(3)
    model = BayesMLP(input_dim, config, generator=g)
    with torch.no_grad():  # random, not the article's all-zero start, so every term matters
        model.posterior.mu.normal_(0.0, 1.0, generator=g)
        model.posterior.rho.normal_(-1.0, 0.5, generator=g)
    return model


@pytest.mark.parametrize("kl", ["closed", "mc"])
@pytest.mark.parametrize("n_total", [9, 90])  # full batch, and a batch of a 10x larger data set
def test_categorical_loss_terms_against_cross_entropy(kl: str, n_total: int) -> None:
    config = bnn.Config(likelihood="categorical", classes=4, hidden=(5,), activation="tanh", kl=kl,
                        prior_sigma=2.0)
    model = _model(config)
    g = torch.Generator().manual_seed(11)
    x, labels = torch.randn(9, 3, generator=g), torch.randint(0, 4, (9,), generator=g)
    samples, kl_weight = 5, 0.7
    terms = negative_elbo(model, x, labels, n_total=n_total, samples=samples, kl=config.kl, kl_weight=kl_weight,
                          generator=torch.Generator().manual_seed(5))
    # Replay the engine's draw: its first random numbers are the (S, P) weight noise.
    eps = torch.randn(samples, model.layout.size, generator=torch.Generator().manual_seed(5))
    mu, sigma = model.posterior.mu, model.posterior.sigma
    nll = 0.0
    for s in range(samples):  # one sample at a time, the mean cross-entropy times the batch size
        logits = model(x, weights=(mu + sigma * eps[s]).unsqueeze(0))[0]  # (B, K)
        nll = nll + F.cross_entropy(logits, labels) * x.shape[0]
    nll = nll / samples * (n_total / x.shape[0])
    if kl == "closed":
        kl_term = model.kl()
    else:
        w = mu + sigma * eps
        kl_term = (model.posterior.log_q(w) - model.posterior.log_prior(w, 2.0)).mean()
    torch.testing.assert_close(terms.nll, nll)
    torch.testing.assert_close(terms.kl, kl_term)
    torch.testing.assert_close(terms.total, nll + kl_weight * kl_term)


def test_local_reparameterisation_loss_is_the_cross_entropy_of_its_draws() -> None:
    config = bnn.Config(likelihood="categorical", classes=3, hidden=(4,), local_reparam=True)
    model = _model(config)
    x, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    terms = negative_elbo(model, x, labels, n_total=6, samples=4, generator=torch.Generator().manual_seed(2))
    logits = model(x, samples=4, generator=torch.Generator().manual_seed(2))  # the same draws, (S, B, K)
    assert logits.shape == (4, 6, 3)
    expected = F.cross_entropy(logits.reshape(-1, 3), labels.repeat(4), reduction="sum") / 4
    torch.testing.assert_close(terms.nll, expected)
    torch.testing.assert_close(terms.kl, model.kl())


def test_a_classifier_takes_the_fast_engine_but_with_local_reparameterisation() -> None:
    x, labels = datasets2d.moons(20)
    assert prepare(x, labels, CLF).engine == "fast"  # its gradients: tests/bnn/test_fast_categorical.py
    run = prepare(x, labels, CLF.replace(local_reparam=True))
    assert run.engine.startswith("autograd: local reparameterisation is not covered for a categorical")


@pytest.mark.parametrize("changes", [
    {"kl": "mc", "train_samples": 3}, {"batch_size": 7}, {"local_reparam": True, "train_samples": 2},
    {"standardize": True}, {"kl_weight": 0.1}, {"hidden": ()}, {"hidden": (4, 4), "activation": "sigmoid"},
])
def test_every_training_option_runs_and_lowers_the_loss(changes: dict) -> None:
    x, labels = datasets2d.blobs(40, seed=1)
    fitted = bnn.fit(x * 10 + 5, labels, CLF.replace(epochs=30, **changes), callback_every=1)
    history = fitted.history
    assert np.isfinite(history[["nll", "kl", "total"]]).all().all() and history["noise_sigma"].isna().all()
    assert history["total"].tail(5).mean() < history["total"].head(5).mean()
    assert np.isnan(fitted.noise_sigma)


def test_standardize_scales_the_inputs_only() -> None:
    x, labels = datasets2d.blobs(40, seed=1)
    fitted = bnn.fit(x * 10 + 5, labels, CLF.replace(epochs=2, standardize=True))
    s = fitted.scaling
    np.testing.assert_allclose(s.x_mean, (x * 10 + 5).mean(axis=0))
    assert (s.y_mean, s.y_std) == (0.0, 1.0)


def test_prediction_table_of_a_classifier() -> None:
    x, labels = datasets2d.spiral(90, arms=3, seed=2)
    fitted = bnn.fit(x, labels, CLF.replace(epochs=50))
    table = bnn.predict(fitted, x[:5], samples=50, level=0.8)
    assert list(table.columns) == ["x0", "x1", "p0", "p1", "p2", "label", "entropy", "aleatoric", "epistemic",
                                   "p0_lower", "p0_upper", "p1_lower", "p1_upper", "p2_lower", "p2_upper"]
    np.testing.assert_allclose(table[["p0", "p1", "p2"]].sum(axis=1), 1.0)
    np.testing.assert_allclose(table["entropy"], table["aleatoric"] + table["epistemic"])
    probs = fitted.sample_probabilities(x[:5], samples=50)  # the same seed: the table's draws
    assert probs.shape == (50, 5, 3)
    np.testing.assert_allclose(table["p1"], probs[:, :, 1].mean(axis=0))
    np.testing.assert_allclose(table["p2_lower"], np.percentile(probs[:, :, 2], 10, axis=0))
    assert (table["p0_lower"] <= table["p0"]).all() and (table["p0"] <= table["p0_upper"]).all()
    with pytest.raises(ConfigError, match="categorical"):
        bnn.fit(x, x[:, 0], bnn.Config(epochs=1)).sample_probabilities(x[:2])


def test_a_saved_classifier_loads_and_predicts_the_same(tmp_path: Path) -> None:
    x, labels = datasets2d.xor(50)
    fitted = bnn.fit(x, labels, CLF.replace(epochs=10, standardize=True))
    again = bnn.load(bnn.save(fitted, tmp_path / "clf.pt"))
    assert again.config == fitted.config and again.config.classes == 2
    np.testing.assert_array_equal(bnn.predict(again, x, samples=20), bnn.predict(fitted, x, samples=20))


def test_a_predictive_without_k_outputs_says_it_does_not_classify_yet() -> None:
    prior = bnn.prior(bnn.Config(likelihood="categorical", classes=2), input_dim=2)  # bnn.prior builds 1 output
    with pytest.raises(ConfigError, match="Prior does not support likelihood='categorical' yet"):
        bnn.predict(prior, [[0.0, 0.0]], samples=3)


@pytest.mark.parametrize("dim", [1, 5])
def test_inputs_of_any_dimension(dim: int) -> None:
    rng = np.random.default_rng(dim)
    x = rng.normal(size=(80, dim))
    labels = (x.sum(axis=1) > 0).astype(int) + (x[:, 0] > 1)  # three classes, linear boundaries
    fitted = bnn.fit(x if dim > 1 else x[:, 0], labels, CLF.replace(epochs=200))
    table = bnn.predict(fitted, x, samples=30)
    assert list(table.columns[:dim]) == (["x"] if dim == 1 else [f"x{i}" for i in range(dim)])
    # An easy, nearly separable problem: well above the 1/3 of guessing after 200 steps.
    assert (table["label"] == labels).mean() > 0.8
