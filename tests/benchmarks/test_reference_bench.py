"""Smoke test of the reference benchmark at tiny sizes, and its agreement measure."""

from __future__ import annotations

import json

import numpy as np

from benchmarks import reference_bench as bench


def test_agreement_is_the_relative_disagreement_of_two_std_curves():
    grid = np.array([0.0, 1.0, 2.0, 3.0])
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.05, 2.0, 3.6, 4.3])  # 5 %, 0, 20 %, 7.5 %
    result = bench.agreement(a, b, grid)
    assert result["within_10"] == 0.75 and result["within_25"] == 1.0
    assert abs(result["max"] - 0.2) < 1e-12
    assert result["at"] == 2.0
    assert bench.agreement(b, a, grid) == result  # symmetric


def test_the_benchmark_runs_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    result = bench.main(["--chains", "2", "--temperatures", "3", "--warmup", "20", "--draws", "12", "--steps", "2",
                         "--longer", "2", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "two seeds:" in printed and "2x draws" in printed
    assert ("PASS" in printed or "FAIL" in printed) and "CPU ≤ 20 s per run" in printed
    stored = json.loads(out.read_text())
    assert set(stored) == {"grid", "runs", "two_seeds", "vs_nuts", "longer", "criteria"}
    assert len(stored["runs"]) == 2 and len(stored["runs"][0]["std"]) == 201
    assert stored["longer"][0]["settings"]["draws"] == 24
    assert result["criteria"] == stored["criteria"]
