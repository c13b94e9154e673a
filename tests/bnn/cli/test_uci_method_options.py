"""``python -m bnn uci --method-options JSON``: a method's own settings through the UCI command.

As a user runs it: real processes (started at once, as in test_process.py: importing torch is
most of their time) on a tiny data folder in the benchmark's layout with gap splits
(tests/bnn/evaluation/test_uci_gap.py's, built from a known function), so no real data is
needed. A good option reaches the method and is recorded in the JSON; a bad one ends in one
``error:`` line and exit code 2 (a usage error) before any data is read: one bad case as a
process, every bad case in-process (``cli_run``, the same ``main``). One in-process test checks
what the method is handed: the protocol's settings with the options over them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bnn.evaluation import uci_protocol
from tests.bnn.evaluation.test_uci_gap import write_gap_layout

REPO = Path(__file__).resolve().parents[3]
QUICK = ["--dataset", "yacht", "--protocol", "gap", "--splits", "1", "--epochs", "3", "--samples", "10", "--quiet"]
# case -> (method, --method-options text)
GOOD = {
    "laplace untuned": ("laplace", '{"tune": "none"}'),
    "fullcov rank 2": ("fullcov", '{"rank": 2, "train_samples": 4}'),
}
# case -> (method, --method-options text, a phrase the error line must hold)
BAD = {
    "not JSON": ("laplace", "{tune: none}", "--method-options is not valid JSON"),
    "not an object": ("fullcov", "[5]", "must be a JSON object"),
    "unknown key": ("fullcov", '{"rnak": 5}', "unknown FullCovConfig key(s): rnak"),
    "bad value": ("fullcov", '{"rank": 0}', "rank must be in [1, 1000], got 0"),
    "bad enum": ("laplace", '{"tune": "marginal"}', "tune must be one of"),
    "bbb takes none": ("bbb", '{"rank": 5}', "bbb has no settings of its own"),
}
IN_A_PROCESS = "not JSON"
Run = tuple[int, str, str, Path]  # exit code, stdout, stderr, the JSON the command was asked to write


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The good cases and one bad case as ``python -m bnn uci``, all started at once. The bad case names a
    data folder that does not exist: it must fail on the option, before any data is read."""
    data = tmp_path_factory.mktemp("uci")
    write_gap_layout(data)
    argv: dict[str, tuple[list[str], Path]] = {}
    for name, (method, text) in GOOD.items():
        out = tmp_path_factory.mktemp("out") / "result.json"
        argv[name] = (["--data-dir", str(data), "--method", method, "--method-options", text, "--out", str(out)], out)
    method, text, _ = BAD[IN_A_PROCESS]
    out = tmp_path_factory.mktemp("out") / "result.json"
    argv[IN_A_PROCESS] = (["--data-dir", str(data / "missing"), "--method", method, "--method-options", text,
                           "--out", str(out)], out)
    started = {name: subprocess.Popen([sys.executable, "-m", "bnn", "uci", *QUICK, *args], cwd=REPO, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for name, (args, _) in argv.items()}
    done = {}
    try:
        for name, process in started.items():
            out, err = process.communicate(timeout=180)
            done[name] = (process.returncode, out, err, argv[name][1])
    finally:
        for process in started.values():
            process.kill()  # a no-op for those that ended; after a timeout, no process outlives the tests
    return done


@pytest.mark.timeout(240)
def test_laplace_options_reach_the_method_and_the_json(runs: dict[str, Run]) -> None:
    code, out, err, path = runs["laplace untuned"]
    assert code == 0, err
    assert '| yacht (laplace {"tune": "none"}) | 1 |' in out
    payload = json.loads(path.read_text())
    assert payload["method"] == "laplace" and payload["method_options"] == {"tune": "none"}
    # the protocol's optimiser (3 epochs, lr 1e-3, batches of 128) with the option over Laplace's defaults
    settings = payload["method_settings"]
    assert settings["tune"] == "none" and settings["subset"] == "all" and settings["predictive"] == "glm"
    assert (settings["epochs"], settings["lr"], settings["batch_size"]) == (3, 1e-3, 128)


@pytest.mark.timeout(240)
def test_fullcov_rank_reaches_the_method_and_the_json(runs: dict[str, Run]) -> None:
    code, out, err, path = runs["fullcov rank 2"]
    assert code == 0, err
    payload = json.loads(path.read_text())
    assert payload["method_options"] == {"rank": 2, "train_samples": 4}
    assert payload["method_settings"] == {"rank": 2, "epochs": 3, "lr": 1e-3, "train_samples": 4, "batch_size": 128}
    assert len(payload["splits"]) == 1 and payload["split_protocol"] == "gap"


@pytest.mark.timeout(240)
def test_a_bad_option_in_a_process_is_one_error_line_and_exit_code_2(runs: dict[str, Run]) -> None:
    code, out, err, path = runs[IN_A_PROCESS]
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err  # no traceback, no warning
    assert BAD[IN_A_PROCESS][2] in err, err
    assert not path.exists()


@pytest.mark.parametrize("case", BAD)
def test_bad_method_options_are_one_error_line_and_exit_code_2(
        case: str, tmp_path: Path, cli_run: Callable[..., tuple[int, str, str]]) -> None:
    method, text, phrase = BAD[case]
    out = tmp_path / "result.json"
    code, printed, err = cli_run("uci", "--data-dir", str(tmp_path / "missing"), *QUICK, "--method", method,
                                 "--method-options", text, "--out", str(out))
    assert code == 2 and printed == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and phrase in err, err
    assert not out.exists()


def test_the_method_gets_the_protocols_settings_with_the_options_over_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_run: Callable[..., tuple[int, str, str]]) -> None:
    write_gap_layout(tmp_path)
    handed: list[dict[str, Any]] = []
    real = uci_protocol.fit_method

    def spy(name: str, x: Any, y: Any, config: Any, settings: dict[str, Any]) -> Any:
        handed.append({"name": name, "config_epochs": config.epochs, **settings})
        return real(name, x, y, config, settings)

    monkeypatch.setattr(uci_protocol, "fit_method", spy)
    code, _, err = cli_run("uci", "--data-dir", str(tmp_path), *QUICK[:-1], "--splits", "2", "--method", "laplace",
                           "--method-options", '{"tune": "none", "epochs": 2}', "--quiet")
    assert code == 0, err
    # every split: the protocol's optimiser (lr 1e-3, batches of 128), the options' tune and epochs over
    # the protocol's (3 epochs in the model's config)
    assert handed == [{"name": "laplace", "config_epochs": 3, "epochs": 2, "lr": 1e-3, "batch_size": 128,
                       "tune": "none"}] * 2
