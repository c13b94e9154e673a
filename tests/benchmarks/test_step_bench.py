"""Smoke tests of the step benchmark: tiny sizes, the peers skipped (NumPyro/JAX are not test dependencies)."""

from __future__ import annotations

import pytest

from benchmarks import step_bench
from benchmarks.step_scaling import compare


def test_a_tiny_run_prints_the_table_and_the_targets(capsys: pytest.CaptureFixture[str]) -> None:
    # no fresh-process first fits here (each is a process importing torch: the slow test below runs one;
    # tests/bnn/test_fast_fit.py checks in a fresh process that a fit never imports torch._dynamo)
    code = step_bench.main(["--samples", "1", "--rounds", "1", "--round-seconds", "0.01", "--fresh", "0",
                            "--no-peers", "--core", "-1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "fast" in out and "autograd" in out and "article" in out
    assert "NumPyro/JAX peers skipped (--no-peers)" in out
    assert "article / fast at S=1" in out  # the target lines read the measured ratios


@pytest.mark.slow
def test_a_tiny_run_with_first_fits(capsys: pytest.CaptureFixture[str]) -> None:
    code = step_bench.main(["--samples", "1", "--rounds", "1", "--round-seconds", "0.01", "--fresh", "1",
                            "--fresh-epochs", "20", "--no-peers", "--core", "-1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "PASS  first fit, after import bnn" in out or "FAIL  first fit, after import bnn" in out
    fast_row = next(line for line in out.splitlines() if line.strip().startswith("fast ") and "no" in line)
    assert fast_row.split()[-1] == "no"  # the fast engine's first fit never imported torch._dynamo


def test_missing_peers_are_reported_not_raised() -> None:
    message = step_bench.peers_available("/nonexistent/python")
    assert message is not None and "requirements-peers.txt" in message


def test_targets_read_the_ratios() -> None:
    res = {"fast": {"cpu_us": 40.0, "wall_us": 40.0}, "article": {"cpu_us": 8000.0, "wall_us": 8000.0},
           "numpyro": {"cpu_us": 20.0, "wall_us": 20.0}}
    lines, verdicts = step_bench.report({10: res}, {}, None)
    assert "PASS  article / fast at S=10 >= 150: 200.0" in lines
    assert "FAIL  fast / NumPyro at S=10 <= 1.5: 2.00" in lines
    assert verdicts == [True, False]


def test_the_scaling_comparison_times_both_engines() -> None:
    fast, slow = compare(n=20, dim=2, width=8, depth=2, samples=3, rounds=1, round_seconds=0.005)
    assert fast > 0 and slow > 0
