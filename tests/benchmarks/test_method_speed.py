"""Smoke tests of the methods' before/after benchmark at tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import method_speed
from bnn import toys
from bnn.config import Config
from bnn.methods import hmc


def test_a_tiny_run_prints_the_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "speed.json"
    code = method_speed.main(["--rounds", "1", "--epochs", "3", "--uci-epochs", "1", "--hmc-chains", "3",
                              "--hmc-warmup", "3", "--hmc-draws", "2", "--json", str(out_file)])
    out = capsys.readouterr().out
    assert code == 0
    for case in method_speed.CASES:
        assert f"\n{case} " in out
    assert "autograd (masks: not covered)" in out  # dropout's after is its before, said so
    saved = json.loads(out_file.read_text())
    assert set(saved["results"]) == set(method_speed.CASES)
    assert all(r["after_cpu_s"] > 0 and len(r["before_rounds"]) == 1 for r in saved["results"].values())


def test_the_benchmarks_hmc_before_is_the_fit_on_autograds_gradient() -> None:
    # "after" is hmc.fit itself; "before" is hmc.fit with chains=None forced on its gradient functions
    # (autograd): the same random stream, so over a short run the chains agree to rounding, which
    # the leapfrog amplifies (measured 2e-8 apart on weights of size ~10 in 7 iterations).
    x, y = toys.article_points()
    settings = hmc.HMCConfig(chains=2, warmup=4, draws=4, steps=4)
    with method_speed.hmc_gradient_by_autograd() as calls:
        before = hmc.fit(x, y, Config(), settings)
    assert calls  # the fit went through the forced functions
    assert all(getattr(hmc, name) is vars(hmc)[name] for name in method_speed.GRADIENT_FUNCTIONS if name in vars(hmc))
    after = method_speed.hmc_run(x, y, Config(), settings, fast=True)
    torch.testing.assert_close(before.samples, after.samples, rtol=0, atol=1e-6)
    torch.testing.assert_close(method_speed.hmc_run(x, y, Config(), settings, fast=False).samples, before.samples,
                               rtol=0, atol=0)
