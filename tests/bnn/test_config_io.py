"""Config validation and JSON round trip; model save/load; point-set checks."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import bnn
from bnn import data
from bnn.io import read_bounded, safe_csv


def test_defaults_are_the_article_run() -> None:
    cfg = bnn.Config()
    assert cfg.hidden == (32,) and cfg.activation == "sigmoid" and cfg.prior_sigma == 10.0
    assert cfg.noise_sigma == 0.1 and cfg.lr == 0.1 and cfg.epochs == 2000 and cfg.train_samples == 1
    assert cfg.init == "article" and cfg.batch_size is None and not cfg.learn_noise


def test_json_round_trip() -> None:
    cfg = bnn.Config(hidden=(16, 8), activation="relu", kl="mc", batch_size=4, learn_noise=True, seed=7)
    text = cfg.to_json()
    assert json.loads(text)["hidden"] == [16, 8]
    assert bnn.Config.from_json(text) == cfg
    assert bnn.Config.from_json(bnn.Config().to_json()) == bnn.Config()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be in"),
        ({"epochs": 2.5}, "epochs must be a whole number"),
        ({"prior_sigma": -1.0}, "prior_sigma must be in"),
        ({"noise_sigma": float("nan")}, "noise_sigma must be a finite number"),
        ({"lr": "fast"}, "lr must be a number"),
        ({"activation": "softmax"}, "activation must be one of"),
        ({"kl": "exact"}, "kl must be one of"),
        ({"hidden": [0]}, "each hidden width must be in"),
        ({"hidden": "32"}, "hidden must be a list"),
        ({"hidden": [2] * 20}, "at most"),
        ({"train_samples": 10**6}, "train_samples must be in"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"learn_noise": "yes"}, "learn_noise must be true or false"),
        ({"local_reparam": True, "kl": "mc"}, "local_reparam"),
    ],
)
def test_bad_config_values_raise_clear_errors(changes: dict, message: str) -> None:
    with pytest.raises(bnn.ConfigError, match=message):
        bnn.Config.from_dict({**bnn.Config().to_dict(), **changes})


def test_unknown_keys_and_bad_json_are_refused() -> None:
    with pytest.raises(bnn.ConfigError, match="unknown config key.*hiddn"):
        bnn.Config.from_dict({"hiddn": [3]})
    with pytest.raises(bnn.ConfigError, match="not valid JSON"):
        bnn.Config.from_json("{hidden: 3")
    with pytest.raises(bnn.ConfigError, match="JSON object"):
        bnn.Config.from_json("[1, 2]")
    with pytest.raises(bnn.ConfigError, match="nested too deeply"):
        bnn.Config.from_json("[" * 100_000)


def test_save_load_round_trip_gives_identical_predictions(tmp_path: Path, article_points) -> None:
    x, y = article_points
    fitted = bnn.fit(x, y, bnn.Config(epochs=300, learn_noise=True, standardize=True, seed=3))
    path = bnn.save(fitted, tmp_path / "model.pt")
    loaded = bnn.load(path)
    assert loaded.config == fitted.config and loaded.scaling == fitted.scaling
    grid = np.linspace(-5, 5, 50)
    pd.testing.assert_frame_equal(bnn.predict(loaded, grid), bnn.predict(fitted, grid))
    pd.testing.assert_frame_equal(loaded.history, fitted.history)
    assert loaded.noise_sigma == pytest.approx(fitted.noise_sigma)


def test_loading_a_foreign_or_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model at all")
    with pytest.raises(bnn.ModelFileError, match="not a bnn model file"):
        bnn.load(junk)
    with pytest.raises(bnn.ModelFileError, match="no such model file"):
        bnn.load(tmp_path / "missing.pt")


def test_a_foreign_pickle_or_an_endless_device_is_refused_quietly(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(("a", "tuple"), protocol=4))  # torch warns about protocol 4 when it unpickles
    torch.save({"format": "something else"}, tmp_path / "other.pt")  # a real torch file, not ours
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        for path in (evil, Path("/dev/zero"), tmp_path / "other.pt"):
            with pytest.raises(bnn.ModelFileError, match="not a bnn model file"):
                bnn.load(path)
        with pytest.raises(bnn.ModelFileError, match="is a folder"):
            bnn.load(tmp_path)


def test_read_bounded_stops_at_the_limit_whatever_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ten.txt"
    path.write_bytes(b"0123456789")
    assert read_bounded(path, 10) == b"0123456789"
    with pytest.raises(bnn.BNNError, match="larger than 9 bytes"):
        read_bounded(path, 9)
    with pytest.raises(bnn.BNNError, match="larger than 1,000 bytes"):
        read_bounded("/dev/zero", 1000)  # no size to check first: the read itself is bounded
    # The bound is not an allocation: a terabyte's bound on a 10-byte file reads 10 bytes.
    assert read_bounded(path, 2**40) == b"0123456789"


def test_csv_cells_a_spreadsheet_would_run_are_quoted() -> None:
    frame = pd.DataFrame({"=cmd|' /C calc'!A0": [1.5, -2.0], "@SUM(1+1)": ["-3", "=1+1"], "label": ["a", "+b"],
                          "n": [-1, 2]})
    rows = safe_csv(frame).splitlines()
    assert rows[0] == "'=cmd|' /C calc'!A0,'@SUM(1+1),label,n"
    assert rows[1:] == ["1.5,'-3,a,-1", "-2.0,'=1+1,'+b,2"]  # numbers keep their sign; text does not start a formula


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([], [], "at least one point"),
        ([1.0, float("nan")], [1.0, 2.0], "finite number; row 2"),
        ([1.0, 2.0], [1.0, float("inf")], "finite number; row 2"),
        ([1.0, 2e9], [1.0, 2.0], "within"),
        ([1.0, 2.0], [1.0], "must match"),
        (["a", "b"], [1.0, 2.0], "numbers only"),
        ([[[1.0]]], [1.0], "2-D table"),
    ],
)
def test_bad_points_raise_points_error(x, y, message: str) -> None:
    with pytest.raises(bnn.PointsError, match=message):
        bnn.fit(x, y, bnn.Config(epochs=1))


def test_too_many_points_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "MAX_POINTS", 10)
    with pytest.raises(bnn.PointsError, match="at most 10 points"):
        bnn.fit(np.zeros(11), np.zeros(11), bnn.Config(epochs=1))


def test_predict_checks_its_inputs(article_fit: bnn.Fitted) -> None:
    with pytest.raises(bnn.PointsError, match="input column"):
        bnn.predict(article_fit, np.zeros((3, 2)))
    with pytest.raises(bnn.ConfigError, match="level"):
        bnn.predict(article_fit, [0.0], level=95)
    with pytest.raises(bnn.ConfigError, match="samples"):
        bnn.predict(article_fit, [0.0], samples=0)


def test_values_in_the_millions_train_when_standardised() -> None:
    # Real tables hold values in the millions (protein has a 5.5e6 feature): the engine takes
    # them, and with standardize=True the fit is as good as on the same data scaled down.
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, 200)
    y = 2 * x + 0.1 * rng.standard_normal(200)
    cfg = bnn.Config(hidden=(), standardize=True, init="scaled", lr=0.05, epochs=300, prior_sigma=1.0)
    small = bnn.predict(bnn.fit(x, y, cfg), [0.5])["mean"].iloc[0]
    big = bnn.predict(bnn.fit(x * 5e6, y * 5e6, cfg), [0.5 * 5e6])["mean"].iloc[0]
    # Standardisation makes the two problems the same up to float rounding.
    assert big / 5e6 == pytest.approx(small, rel=1e-3)
