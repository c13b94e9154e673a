"""``python -m bnn classify``: points from a toy or a CSV, the held-out split and scores, the grid and
test tables, bad input as one ``error:`` line; in-process (``cli_run``) except two real processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bnn import datasets2d
from bnn.cli import build_parser
from bnn.cli.classify import CLASSIFY_DEFAULTS, DEFAULT_GRID_POINTS, classifier_config, split

REPO = Path(__file__).resolve().parents[3]
Run = Callable[..., tuple[int, str, str]]
FAST = ["--epochs", "300", "--hidden", "16,16", "--samples", "30", "--quiet"]  # ~0.1 s a fit


def _scores(out: str) -> dict[str, float]:
    return {name: float(value) for name, value in (line.split() for line in out.splitlines())}


def _check_table(table: pd.DataFrame, dims: int = 2, classes: int = 2) -> None:
    inputs = ["x"] if dims == 1 else [f"x{i}" for i in range(dims)]
    probs = [f"p{k}" for k in range(classes)]
    assert list(table.columns[:dims + classes + 1]) == [*inputs, *probs, "label"]
    np.testing.assert_allclose(table[probs].sum(axis=1), 1.0, atol=1e-12)  # float64 softmax means
    np.testing.assert_allclose(table["entropy"], table["aleatoric"] + table["epistemic"], atol=1e-12)
    np.testing.assert_array_equal(table["label"], table[probs].to_numpy().argmax(axis=1))
    for k in range(classes):
        assert (table[f"p{k}_lower"] <= table[f"p{k}"] + 1e-12).all()
        assert (table[f"p{k}"] <= table[f"p{k}_upper"] + 1e-12).all()


def test_moons_scores_and_both_tables(cli_run: Run, tmp_path: Path) -> None:
    grid, test = tmp_path / "grid.csv", tmp_path / "test.csv"
    code, out, err = cli_run("classify", "--dataset", "moons", "--n-points", "200", *FAST,
                             "--grid", "-2:3:10", "--out", str(grid), "--test-out", str(test))
    assert code == 0, err
    scores = _scores(out)
    assert set(scores) == {"held_out", "accuracy", "nll", "brier", "ece"}
    assert scores["held_out"] == 40  # 0.2 of 200
    assert scores["accuracy"] >= 0.9 and 0 <= scores["ece"] <= 1 and scores["nll"] > 0
    table = pd.read_csv(grid)
    assert len(table) == 100
    _check_table(table)
    np.testing.assert_allclose(table["x0"][:10], np.linspace(-2, 3, 10))  # x0 varies fastest
    assert (table["x1"][:10] == -2).all()
    held = pd.read_csv(test)
    assert len(held) == 40 and held.columns[4:6].tolist() == ["label", "true_label"]
    _check_table(held.drop(columns="true_label"))
    assert (held["label"] == held["true_label"]).mean() == scores["accuracy"]


def test_behaviour_moons_held_out_accuracy(cli_run: Run) -> None:
    # classify's defaults (32-32 ReLU, scaled init, N(0, 1) prior, Adam 0.02, 600 epochs) are the
    # behaviour tests' config of docs/classification.md, which measured 0.986-0.996 on fresh moons
    # over three seeds. 0.95 on 100 held-out points allows 5 errors: at a true error of 1.5 % a
    # binomial count goes past 5 with probability 0.4 % (0.05 % at 1 %), so a failure means the fit got worse.
    code, out, err = cli_run("classify", "--dataset", "moons", "--n-points", "500", "--noise", "0.1", "--quiet")
    assert code == 0, err
    scores = _scores(out)
    assert scores["held_out"] == 100 and scores["accuracy"] >= 0.95, scores


def test_defaults_and_overrides() -> None:
    parse = build_parser().parse_args
    config = classifier_config(parse(["classify", "--dataset", "moons"]))
    assert config.likelihood == "categorical"
    assert {name: getattr(config, name) for name in CLASSIFY_DEFAULTS} == CLASSIFY_DEFAULTS
    config = classifier_config(parse(["classify", "--dataset", "moons", "--hidden", "8", "--classes", "3"]))
    assert (config.hidden, config.classes, config.lr) == ((8,), 3, CLASSIFY_DEFAULTS["lr"])


def test_a_config_file_replaces_the_defaults(cli_run: Run, tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"hidden": [4], "epochs": 20}')
    args = build_parser().parse_args(["classify", "--dataset", "xor", "--config", str(tmp_path / "c.json")])
    config = classifier_config(args)
    assert (config.hidden, config.epochs, config.activation, config.likelihood) == ((4,), 20, "sigmoid",
                                                                                     "categorical")


def test_split_is_seeded_disjoint_and_complete() -> None:
    train, test = split(50, 0.2, seed=3)
    assert len(test) == 10 and len(train) == 40
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(50))
    again = split(50, 0.2, seed=3)
    np.testing.assert_array_equal(test, again[1])
    assert not np.array_equal(test, split(50, 0.2, seed=4)[1])
    assert len(split(50, 0.0, seed=0)[1]) == 0


def test_runs_are_seeded(cli_run: Run) -> None:
    args = ["classify", "--dataset", "circles", "--n-points", "100", *FAST]
    first, second = cli_run(*args), cli_run(*args)
    assert first[0] == 0 and first[1] == second[1]
    other = cli_run(*args, "--data-seed", "5")
    assert other[0] == 0 and other[1] != first[1]


def test_default_grid_and_own_axes(cli_run: Run, tmp_path: Path) -> None:
    out = tmp_path / "g.csv"
    assert cli_run("classify", "--dataset", "blobs", "--n-points", "60", *FAST, "--out", str(out))[0] == 0
    table = pd.read_csv(out)
    assert len(table) == DEFAULT_GRID_POINTS**2
    x, _ = datasets2d.blobs(60, seed=0)
    span = x[:, 0].max() - x[:, 0].min()
    assert table["x0"].min() == pytest.approx(x[:, 0].min() - 0.5 * span)  # the data widened by half its range
    code, _, err = cli_run("classify", "--dataset", "blobs", "--n-points", "60", *FAST, "--out", str(out),
                           "--grid", "-1:1:5", "--grid-y", "0:1:3")
    assert code == 0, err
    table = pd.read_csv(out)
    assert len(table) == 15 and sorted(set(table["x1"])) == [0, 0.5, 1] and table["x0"].min() == -1


def test_points_csv_with_three_classes(cli_run: Run, tmp_path: Path) -> None:
    x, labels = datasets2d.spiral(150, arms=3, seed=1)
    pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "label": labels.astype(float)}).to_csv(tmp_path / "p.csv",
                                                                                       index=False)
    grid = tmp_path / "g.csv"
    code, out, err = cli_run("classify", "--points-csv", str(tmp_path / "p.csv"), *FAST, "--grid", "-1:1:4",
                             "--out", str(grid))
    assert code == 0, err
    assert _scores(out)["held_out"] == 30
    _check_table(pd.read_csv(grid), classes=3)


def test_one_input_csv_and_inputs_beyond_two(cli_run: Run, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 80)
    pd.DataFrame({"x": x, "label": (x > 0).astype(int)}).to_csv(tmp_path / "one.csv", index=False)
    code, _, err = cli_run("classify", "--points-csv", str(tmp_path / "one.csv"), *FAST, "--grid", "-3:3:7",
                           "--out", str(tmp_path / "g.csv"))
    assert code == 0, err
    _check_table(pd.read_csv(tmp_path / "g.csv"), dims=1)
    pd.DataFrame({"x0": x, "x1": -x, "x2": x**2, "label": (x > 0).astype(int)}).to_csv(tmp_path / "three.csv",
                                                                                      index=False)
    code, _, err = cli_run("classify", "--points-csv", str(tmp_path / "three.csv"), *FAST,
                           "--test-out", str(tmp_path / "t.csv"))
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "t.csv")) == 16
    code, _, err = cli_run("classify", "--points-csv", str(tmp_path / "three.csv"), *FAST,
                           "--out", str(tmp_path / "g3.csv"))
    assert code == 2 and "grid of one or two inputs" in err


BAD = [  # (options after 'classify', exit code, phrase of the error line)
    ([], 2, "one of the arguments --dataset --points-csv is required"),
    (["--dataset", "moon"], 2, "invalid choice"),
    (["--dataset", "moons", "--likelihood", "gaussian"], 2, "categorical only"),
    (["--dataset", "moons", "--classes", "1"], 1, "classes must be in [2, 1000]"),
    (["--dataset", "moons", "--data-seed", "-1"], 2, "--data-seed must be in [0, 2^63)"),
    (["--dataset", "moons", "--seed", "-1"], 1, "seed must be in [0, 2^63)"),
    (["--dataset", "moons", "--test-fraction", "1"], 2, "--test-fraction must be in [0, 1)"),
    (["--dataset", "moons", "--test-fraction", "-0.1"], 2, "--test-fraction must be in [0, 1)"),
    (["--dataset", "moons", "--test-fraction", "0"], 2, "nothing to show"),
    (["--dataset", "moons", "--n-points", "3", "--test-fraction", "0.1"], 2, "0 to score"),
    (["--dataset", "moons", "--n-points", "1"], 1, "number of points"),
    (["--dataset", "moons", "--noise", "-1"], 1, "noise must be"),
    (["--dataset", "moons", "--grid", "-1:1:501", "--out", "g.csv"], 2, "N in [1, 500]"),
    (["--dataset", "moons", "--grid-x", "1:0:5", "--out", "g.csv"], 2, "--grid-x needs finite A <= B"),
    (["--dataset", "moons", "--grid-y", "a:b", "--out", "g.csv"], 2, "--grid-y must be A:B:N"),
    (["--dataset", "moons", "--grid", "-1:1:5"], 2, "give --out too"),
    (["--dataset", "moons", "--out", "-"], 2, "files only"),
    (["--dataset", "moons", "--test-out", "no/such/t.csv"], 2, "does not exist"),
    (["--dataset", "moons", "--test-fraction", "0", "--test-out", "t.csv"], 2, "needs held-out points"),
    (["--dataset", "moons", "--samples", "0"], 1, "samples"),
    (["--dataset", "moons", "--level", "1.5"], 1, "level"),
    (["--dataset", "moons", "--samples", "10000", "--grid", "-1:1:500", "--out", "g.csv"], 2, "too many draws"),
    (["--points-csv", "p.csv", "--n-points", "10"], 2, "go with --dataset"),
    (["--points-csv", "missing.csv"], 1, "No such file"),
]


@pytest.mark.parametrize(("options", "code", "phrase"), BAD, ids=[" ".join(o) or "none" for o, _, _ in BAD])
def test_bad_input_is_one_error_line(cli_run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     options: list[str], code: int, phrase: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.csv").write_text("x0,x1,label\n0,0,0\n1,1,1\n")
    got, out, err = cli_run("classify", *options, "--epochs", "5")
    assert (got, out) == (code, "")
    assert err.count("\n") == 1 and err.startswith("error: ") and phrase in err, err


@pytest.mark.parametrize(("text", "phrase"), [
    ("x0,x1,y\n0,0,0\n1,1,1\n", "the columns must be x,label or x0,...,x{D-1},label; found x0, x1, y"),
    ("x0,x1,label,z\n0,0,0,1\n1,1,1,1\n", "found x0, x1, label, z"),
    ("x0,x1,label\n0,0,0\n1,1,0.5\n", "whole numbers 0..K-1"),
    ("x0,x1,label\n0,0,0\n1,1,-1\n", "label must lie in 0..0"),
    ("x0,x1,label\n0,0,a\n1,1,1\n", "numbers only"),
    ("x0,x1,label\n0,0,0\n1,1,0\n", "at least 2 classes"),
    ("x0,x1,label\n0,nan,0\n1,1,1\n", "finite"),
])
def test_bad_points_csv(cli_run: Run, tmp_path: Path, text: str, phrase: str) -> None:
    (tmp_path / "p.csv").write_text(text)
    code, _, err = cli_run("classify", "--points-csv", str(tmp_path / "p.csv"), "--test-fraction", "0",
                           "--out", str(tmp_path / "g.csv"), "--epochs", "5")
    assert code == 1 and err.count("\n") == 1 and phrase in err, err


def test_the_command_is_listed(cli_run: Run) -> None:
    assert "classify" in cli_run()[2]
    assert "classify" in build_parser().format_help()


def test_python_m_bnn_classify_as_processes(tmp_path: Path) -> None:
    """Two real processes, started together (torch's import is most of their time)."""
    grid, test = tmp_path / "grid.csv", tmp_path / "test.csv"
    good = ["classify", "--dataset", "moons", "--n-points", "200", "--epochs", "300", "--samples", "30",
            "--grid", "-2:3:12", "--out", str(grid), "--test-out", str(test)]
    bad = ["classify", "--dataset", "moons", "--grid-x", "0:1:100000", "--out", str(grid)]
    started = [subprocess.Popen([sys.executable, "-m", "bnn", *args], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for args in (good, bad)]
    try:
        (good_out, good_err), (bad_out, bad_err) = (p.communicate(timeout=120) for p in started)
    finally:
        for p in started:
            p.kill()
    assert started[0].returncode == 0, good_err
    assert _scores(good_out)["held_out"] == 40
    assert "Traceback" not in good_err and "trained on 160 points for 300 epochs" in good_err
    table = pd.read_csv(grid)
    assert len(table) == 12**2
    _check_table(table)
    held = pd.read_csv(test)
    assert len(held) == 40 and "true_label" in held.columns
    _check_table(held.drop(columns="true_label"))
    assert started[1].returncode == 2 and bad_out == ""
    assert bad_err.splitlines() == ["error: --grid-x needs finite A <= B and N in [1, 500], got '0:1:100000'"]
