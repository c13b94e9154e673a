"""The command line in-process (``bnn.cli.main``), checked against the Python API, and bad input.

The few cases that need a real ``python -m bnn`` process are in test_process.py; bounded
reading of input files is in test_input_files.py.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnn
from bnn import cli, toys
from bnn.cli import fit as cli_fit
from bnn.cli import inputs as cli_inputs
from bnn.cli import options as cli_options

COLUMNS = ["x", "mean", "std", "lower", "upper", "epistemic_std", "aleatoric_std", "f_lower", "f_upper"]
SMALL = ["--epochs", "30", "--samples", "20", "--quiet"]  # enough to run every step, quick


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, pd.DataFrame | None, str]:
    """In-process main(): exit code, the CSV it printed (if any), its stderr."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, (pd.read_csv(io.StringIO(out)) if out else None), err


def test_default_run_is_the_articles_and_matches_the_api(article_fit: bnn.Fitted,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fit"]) == 0
    out, err = capsys.readouterr()
    table = pd.read_csv(io.StringIO(out))
    assert list(table.columns) == COLUMNS and len(table) == 100
    np.testing.assert_array_equal(table["x"], np.linspace(-5, 5, 100))
    assert (table["lower"] <= table["mean"]).all() and (table["mean"] <= table["upper"]).all()
    assert (table["f_lower"] <= table["f_upper"]).all()
    # Oracle: the same run through the Python API (conftest's Config() fit on the article's points).
    # Same process, same seed, one thread: the same weights and draws, so the CSV is byte for byte
    # what pandas writes for the API's table (safe_csv changes no numeric table).
    expected = bnn.predict(article_fit, np.linspace(-5, 5, 100), samples=100, level=0.95)
    assert out == expected.to_csv(index=False)
    # The article's picture: the band is narrow where the data are (|x| <= 2) and wide far away.
    width = table["upper"] - table["lower"]
    assert width[table["x"].abs() <= 2].mean() < 0.5 * width[table["x"].abs() >= 4].mean()
    assert err.startswith("trained on 6 points") and err.count("\n") == 1  # the summary line only (no tty bar)


def test_saved_model_predicts_the_same_numbers_and_config_round_trips(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    pred, model, conf = tmp_path / "fit.csv", tmp_path / "m.pt", tmp_path / "c.json"
    options = ["--hidden", "8,8", "--activation", "tanh", "--learn-noise", "--seed", "3", "--lr", "0.05"]
    code = cli.main(["fit", *options, *SMALL, "--grid", "-3:3:41", "--out", str(pred),
                     "--save-model", str(model), "--save-config", str(conf)])
    assert code == 0 and capsys.readouterr() == ("", "")  # --quiet, --out
    saved = bnn.Config.from_json(conf.read_text())
    assert saved == bnn.Config(hidden=(8, 8), activation="tanh", learn_noise=True, seed=3, lr=0.05, epochs=30)

    code, second, err = run_main(capsys, "predict", "--model", str(model), "--grid", "-3:3:41", "--samples", "20")
    assert code == 0, err
    first = pd.read_csv(pred)
    assert len(first) == 41
    pd.testing.assert_frame_equal(first, second, check_exact=True)  # same weights, same seed: same draws

    # --config alone reproduces the run (the JSON holds every setting).
    code = cli.main(["fit", "--config", str(conf), "--samples", "20", "--grid", "-3:3:41", "--quiet",
                     "--out", str(tmp_path / "again.csv")])
    assert code == 0
    pd.testing.assert_frame_equal(first, pd.read_csv(tmp_path / "again.csv"), check_exact=True)


def test_every_config_field_has_an_option_and_the_options_override_the_file(tmp_path: Path) -> None:
    given = {"hidden": ("16,8", (16, 8)), "activation": ("tanh", "tanh"), "prior_sigma": ("2", 2.0),
             "noise_sigma": ("0.3", 0.3), "learn_noise": (None, True), "init": ("scaled", "scaled"),
             "lr": ("0.01", 0.01), "epochs": ("7", 7), "batch_size": ("4", 4), "train_samples": ("2", 2),
             "kl": ("closed", "closed"),  # local_reparam below needs the closed form
             "kl_weight": ("0.5", 0.5), "local_reparam": (None, True),
             "standardize": (None, True), "seed": ("5", 5),
             "likelihood": ("gaussian", "gaussian"), "classes": ("none", None),  # classes needs categorical
             "noise": ("learned", "learned"),  # --noise-model: fit's --noise is the generated points' noise
             "noise_warmup": ("0.5", 0.5)}  # kept for a heteroscedastic noise, ignored by the others
    assert set(given) == {f.name for f in dataclasses.fields(bnn.Config)}  # a new field needs a line here
    argv = ["fit"]
    for name, (text, _) in given.items():
        argv += [cli_options._FLAGS.get(name, "--" + name.replace("_", "-"))] + ([] if text is None else [text])
    expected = bnn.Config(**{name: value for name, (_, value) in given.items()})
    assert cli_options.config_from_args(cli.build_parser().parse_args(argv)) == expected

    conf = tmp_path / "c.json"
    conf.write_text(bnn.Config(epochs=11, hidden=(4,), seed=9).to_json())
    args = cli.build_parser().parse_args(["fit", "--config", str(conf), "--seed", "2", "--hidden", "",
                                          "--no-learn-noise"])
    assert cli_options.config_from_args(args) == bnn.Config(epochs=11, hidden=(), seed=2)
    args = cli.build_parser().parse_args(["fit", "--batch-size", "none", "--batch-size", "3", "--batch-size", "full"])
    assert cli_options.config_from_args(args).batch_size is None
    args = cli.build_parser().parse_args(["fit", "--kl", "mc"])
    assert cli_options.config_from_args(args) == bnn.Config(kl="mc")
    args = cli.build_parser().parse_args(["fit", "--noise-model", "heteroscedastic", "--noise", "0.2",
                                          "--n-points", "9", "--function", "quartic"])
    assert cli_options.config_from_args(args).noise == "heteroscedastic" and args.noise == 0.2  # two options


def test_negative_values_follow_their_option() -> None:
    args = cli.build_parser().parse_args(["fit", "--grid", "-3:-1:5", "--function", "-x^2", "--range", "-1:0",
                                          "--out", "-", "--prior-sigma", "-1"])
    assert (args.grid, args.function, args.range, args.out, args.prior_sigma) == \
        ("-3:-1:5", "-x^2", "-1:0", "-", -1.0)
    np.testing.assert_array_equal(cli_inputs.parse_grid(args.grid), np.linspace(-3, -1, 5))


def test_points_text_and_csv_give_the_api_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x, y = np.array([-1.0, 0.0, 0.5, 2.0]), np.array([1.0, -0.5, 0.25, 3.0])
    pd.DataFrame({"x": x, "y": y}).to_csv(tmp_path / "p.csv", index=False)
    cfg = bnn.Config(epochs=40, seed=1)
    expected = bnn.predict(bnn.fit(x, y, cfg), np.linspace(-2, 2, 9), samples=30)
    text = ";".join(f"{a},{b}" for a, b in zip(x, y))
    for source in (["--points", text], ["--points-csv", str(tmp_path / "p.csv")]):
        code, table, _ = run_main(capsys, "fit", *source, "--epochs", "40", "--seed", "1", "--samples", "30",
                                  "--grid", "-2:2:9", "--quiet")
        assert code == 0
        pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=1e-12)  # CSV round trip only


def test_several_inputs_predict_at_the_training_points_or_an_x_csv(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(12, 2))
    pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "y": x.sum(axis=1)}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"x1": [0.0, 1.0], "x0": [2.0, 3.0], "note": ["a", "b"]}).to_csv(tmp_path / "new.csv", index=False)
    code, table, _ = run_main(capsys, "fit", "--points-csv", str(tmp_path / "p.csv"), *SMALL)
    assert code == 0 and list(table.columns[:3]) == ["x0", "x1", "mean"]
    np.testing.assert_allclose(table[["x0", "x1"]].to_numpy(), x, rtol=1e-15)
    code, table, _ = run_main(capsys, "fit", "--points-csv", str(tmp_path / "p.csv"), *SMALL,
                              "--x-csv", str(tmp_path / "new.csv"))
    assert code == 0 and table[["x0", "x1"]].to_numpy().tolist() == [[2.0, 0.0], [3.0, 1.0]]


def test_function_points_from_toys_and_expressions() -> None:
    parser = cli.build_parser()
    x, y = cli_inputs.function_points(parser.parse_args(["fit", "--function", "quartic"]))
    np.testing.assert_array_equal(np.c_[x, y], np.c_[toys.article_points()])  # a toy alone: its default points
    x, y = cli_inputs.function_points(parser.parse_args(["fit", "--function", "sin(3*x) + 0.3*x^2"]))
    grid = np.linspace(-2, 2, cli_inputs.EXPRESSION_POINTS)
    np.testing.assert_allclose(y, np.sin(3 * grid) + 0.3 * grid**2, rtol=1e-15)
    args = parser.parse_args(["fit", "--function", "exp(-x^2)", "--n-points", "5", "--range", "0:1", "--noise",
                              "0.1", "--data-seed", "4"])
    x, y = cli_inputs.function_points(args)
    noise = 0.1 * np.random.default_rng(4).standard_normal(5)  # toys.generate's documented noise
    np.testing.assert_allclose(y, np.exp(-np.linspace(0, 1, 5) ** 2) + noise, rtol=1e-12)
    x, y = cli_inputs.function_points(parser.parse_args(["fit", "--function", "step", "--n-points", "4"]))
    np.testing.assert_array_equal(x, np.linspace(-3, 3, 4))  # the toy's interval, its noise
    assert np.abs(y - np.where(x < 0, -1, 1)).max() < 0.05 * 4  # 4 sigma of the toy's noise 0.05


BAD = [
    (["fit", "--function", "quartic", "--noise", "0.1", "--data-seed", "-1"], "--data-seed must be in [0, 2^63)"),
    (["fit", "--points", "1,2;a,b"], "point 2 ('a,b') must be numbers"),
    (["fit", "--points", "1;2"], "at least two"),
    (["fit", "--points", "1,2;3,4,5"], "same count of numbers"),
    (["fit", "--points", ";"], "--points is empty"),
    (["fit", "--points", "1,inf"], "finite"),
    (["fit", "--grid", "-5:5"], "--grid must be A:B:N"),
    (["fit", "--grid", "5:-5:10"], "finite A <= B"),
    (["fit", "--grid", "0:1:0"], "N in [1,"),
    (["fit", "--range", "0:1"], "go with --function"),
    (["fit", "--function", "sin(x)", "--range", "1"], "--range must be A:B"),
    (["fit", "--function", "sin(x)", "--range", "1:0"], "low <= high"),
    (["fit", "--function", "foo"], "unknown function 'foo': the toys are quartic"),
    (["fit", "--function", "x.__class__"], "attribute access"),
    (["fit", "--function", "1/x", "--n-points", "3", "--range", "-1:1"], "infinite"),
    (["fit", "--function", "sin(3*x"], "'(' was never closed"),
    (["fit", "--points-csv", "no/such.csv"], "No such file or directory: no/such.csv"),
    (["fit", "--config", "no/such.json"], "No such file or directory"),
    (["fit", "--epochs", "0"], "epochs must be in [1,"),
    (["fit", "--epochs", "ten"], "invalid int value: 'ten'"),
    (["fit", "--hidden", "32,x"], "argument --hidden: expected widths such as 32"),
    (["fit", "--batch-size", "half"], "argument --batch-size: expected a whole number or 'none'"),
    (["fit", "--activation", "swish"], "invalid choice: 'swish'"),
    (["fit", "--kl", "mc", "--local-reparam"], "local_reparam"),
    (["fit", "--level", "1.5"], "level must be a probability"),
    (["fit", "--samples", "0"], "samples must be a whole number"),
    (["fit", "--samples", "10000", "--grid", "0:1:100000"], "too many draws"),
    (["fit", "--out", "no/such/dir/p.csv"], "the folder no/such/dir does not exist"),
    (["fit", "--points", "1,2", "--function", "sin(x)"], "not allowed with"),
    (["fit", "--points", "1,2,3;4,5,6", "--grid", "0:1:3"], "give them with --x-csv"),
    (["fit", "--unknown"], "unrecognized arguments: --unknown"),
    (["predict"], "required: --model"),
    (["predict", "--model", "no/such.pt"], "no such model file"),
    (["predict", "--model", "."], ". is a folder, not a file"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "choose a command"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_bad_input_exits_non_zero_with_one_line(argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths above must not exist
    code, table, err = run_main(capsys, *argv)
    assert code != 0 and table is None  # refused before training: nothing on stdout
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize("content", ["x,y\n1,2\n3\n4,5,6,7\n", "a,b\n1,2\n", "", "x,y\n1,oops\n"])
def test_bad_csv_files_are_refused(content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.csv").write_text(content)
    code, _, err = run_main(capsys, "fit", "--points-csv", str(tmp_path / "p.csv"))
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1 and str(tmp_path / "p.csv") in err


def test_bad_config_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("{not json", '{"epochs": -3}', '{"layers": 2}', "[1, 2]"):
        (tmp_path / "c.json").write_text(text)
        code, _, err = run_main(capsys, "fit", "--config", str(tmp_path / "c.json"))
        assert code == 1 and err.startswith(f"error: {tmp_path / 'c.json'}: ") and err.count("\n") == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_and_a_summary_line(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    x, y = toys.article_points()
    cli_fit.train(x, y, bnn.Config(epochs=30), quiet=False)
    err = capsys.readouterr().err  # not a terminal: no bar (tqdm's disable=None), one summary line
    assert err.startswith("trained on 6 points for 30 epochs") and err.count("\n") == 1
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    cli_fit.train(x, y, bnn.Config(epochs=30), quiet=False)
    assert "training: 100%" in terminal.getvalue() and "30/30" in terminal.getvalue()
    cli_fit.train(x, y, bnn.Config(epochs=30), quiet=True)
    assert capsys.readouterr().err == ""


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fit", "--help"]) == 0
    assert "--prior-sigma" in capsys.readouterr().out


def test_tables_are_written_byte_for_byte_as_pandas_writes_numbers(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # Negative numbers start with '-' but are numbers, not text: safe_csv leaves them alone.
    table = pd.DataFrame({"x0": [-5.0, 1e-12, 3.0], "x1": [0.1, -0.2, 2.5e9], "mean": [-1.5, 2.25, -1e9]})
    cli_options.write_table(table, str(tmp_path / "t.csv"))
    assert (tmp_path / "t.csv").read_bytes() == table.to_csv(index=False).encode()
    cli_options.write_table(table, "-")
    assert capsys.readouterr().out == table.to_csv(index=False)


def test_text_a_spreadsheet_would_run_is_written_as_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = pd.DataFrame({"x": [-1.0, 2.0], "=label": ["=cmd|' /C calc'!A0", "plain"]})
    expected = "x,'=label\n-1.0,'=cmd|' /C calc'!A0\n2.0,plain\n"
    cli_options.write_table(table, str(tmp_path / "t.csv"))
    assert (tmp_path / "t.csv").read_text() == expected
    cli_options.write_table(table, None)
    assert capsys.readouterr().out == expected
