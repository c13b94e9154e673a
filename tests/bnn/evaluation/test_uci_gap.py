"""The gap splits of Foong et al. (2019): their reader, the protocol on them, ``python -m bnn uci --protocol gap``.

As in test_uci.py, a small folder of the same layout (with a ``gap/`` folder built here the
way the published one was: sort along feature d, hold out the middle third) runs every code
path in CI; the tests on the real files skip when ``../shared/data/uci`` (or $BNN_UCI_DIR) is absent.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bnn.cli import main
from bnn.cli.uci import markdown_table
from bnn.evaluation import uci
from bnn.evaluation.uci_protocol import Protocol, run
from tests.bnn.evaluation.test_uci import REAL_DIR, write_layout

REPO = Path(__file__).resolve().parents[3]
needs_real_gap = pytest.mark.skipif(not (REAL_DIR / "yacht" / "gap" / "n_splits.txt").is_file(),
                                    reason=f"UCI gap splits not found at {REAL_DIR} (set {uci.ENV_VAR})")
# Real gap splits in which the test third is not strictly between training rows, because the
# held-out feature values reach the feature's minimum or maximum (many rows share it) or the
# feature is constant: boston ZN (mostly 0) and CHAS (0/1); concrete slag, fly ash and
# superplasticiser (mostly 0); energy roof area (4 values, the test third at the top) and overall
# height (2 values, both in the test third); naval's two constant columns. Every other split
# (74 of 81) has training rows strictly below and above.
NO_STRICT_GAP = {"boston": {1, 3}, "concrete": {1, 2, 4}, "energy": {3, 4}, "naval": {8, 11}}


def write_gap_layout(root: Path, folder: str = "yacht", n: int = 240, seed: int = 0) -> np.ndarray:
    """test_uci's layout plus ``gap/``: split d sorts the rows along input feature d (a stable sort,
    so the constant third feature keeps the row order) and holds out the middle third."""
    table = write_layout(root, folder=folder, n=n, seed=seed)
    x = table[:, [0, 2, 3]]
    gap = root / folder / "gap"
    gap.mkdir()
    (gap / "n_splits.txt").write_text(f"{x.shape[1]}\n")
    for d in range(x.shape[1]):
        order = np.argsort(x[:, d], kind="stable")
        test = order[n // 3: 2 * n // 3]
        np.savetxt(gap / f"index_train_{d}.txt", np.setdiff1d(order, test), fmt="%d")
        np.savetxt(gap / f"index_test_{d}.txt", test, fmt="%d")
    return table


def assert_held_out_between(feature: np.ndarray, train: np.ndarray, test: np.ndarray, strict: bool) -> None:
    """No training row lies strictly inside the test rows' range of the feature, and the training rows
    reach both ends of it; ``strict``: some training rows lie strictly below it and some strictly above."""
    lo, hi = feature[test].min(), feature[test].max()
    inside = (feature[train] > lo) & (feature[train] < hi)
    assert not inside.any(), f"{inside.sum()} training rows inside the held-out range [{lo}, {hi}]"
    assert feature[train].min() <= lo and feature[train].max() >= hi
    if strict:
        assert (feature[train] < lo).any() and (feature[train] > hi).any()


# ---- the reader -----------------------------------------------------------------------------
def test_gap_reader_gives_disjoint_parts_with_the_middle_third_held_out(tmp_path: Path) -> None:
    write_gap_layout(tmp_path, n=240)
    ds = uci.load(tmp_path, "yacht")
    assert ds.count("gap") == 3 and ds.count() == ds.n_splits == 2  # one gap split per input feature
    for d in range(3):
        train, test = ds.split(d, "gap")
        assert not set(train) & set(test) and len(set(train) | set(test)) == 240
        assert test.size == 80
        assert_held_out_between(ds.x[:, d], train, test, strict=d < 2)  # feature 2 is constant
    # the standard splits are unchanged by the gap folder beside them
    assert ds.split(0)[0].size == 180 and ds.split(0, uci.SplitProtocol.STANDARD)[1].size == 60


def test_gap_reader_errors_are_messages(tmp_path: Path) -> None:
    write_layout(tmp_path)  # no gap/ folder: the standard protocol still loads
    ds = uci.load(tmp_path, "yacht")
    with pytest.raises(uci.UCIDataError, match="yacht has no gap splits"):
        ds.count("gap")
    with pytest.raises(uci.UCIDataError, match="unknown split protocol 'gaps'.*standard, gap"):
        ds.split(0, "gaps")
    other = tmp_path / "other"
    write_gap_layout(other)
    ds = uci.load(other, "yacht")
    with pytest.raises(uci.UCIDataError, match="yacht gap has splits 0..2, not 3"):
        ds.split(3, "gap")
    gap = other / "yacht" / "gap"
    (gap / "index_test_1.txt").write_text("0\n1\n")
    (gap / "index_train_1.txt").write_text("1\n2\n")
    with pytest.raises(uci.UCIDataError, match=r"gap split 1: rows \[1\] are in both"):
        ds.split(1, "gap")
    (gap / "n_splits.txt").write_text("4\n")
    with pytest.raises(uci.UCIDataError, match="says 4, but there is one gap split per input feature"):
        ds.count("gap")


@needs_real_gap
def test_real_gap_splits_hold_out_the_middle_third_between_training_rows() -> None:
    """All 81 real splits: disjoint, covering every row, a third held out, none of the training rows
    inside the held-out range; strictly between training rows except the splits NO_STRICT_GAP names."""
    counts = {}
    for name in uci.FOLDERS:
        ds = uci.load(REAL_DIR, name)
        counts[name] = ds.count("gap")
        n = ds.y.size
        for d in range(counts[name]):
            train, test = ds.split(d, "gap")
            assert np.intersect1d(train, test).size == 0 and np.union1d(train, test).size == n, (name, d)
            assert abs(test.size - n / 3) <= 1, (name, d)
            strict = d not in NO_STRICT_GAP.get(name, set())
            assert_held_out_between(ds.x[:, d], train, test, strict=strict)
            if not strict:  # the held-out values reach the feature's minimum or maximum
                feature = ds.x[:, d]
                assert feature[test].min() == feature.min() or feature[test].max() == feature.max(), (name, d)
    assert counts == {"boston": 13, "concrete": 8, "energy": 8, "kin8nm": 8, "naval": 16, "power": 4,
                      "protein": 9, "wine": 11, "yacht": 6}


# ---- the protocol and the command -----------------------------------------------------------
def test_gap_run_reports_the_mean_and_the_worst_feature_split(tmp_path: Path) -> None:
    write_gap_layout(tmp_path)
    result = run(uci.load(tmp_path, "yacht"), Protocol(steps=50, min_epochs=5, predict_samples=20), splits=2,
                 split_protocol="gap")
    assert [r.split for r in result.splits] == [0, 1]
    assert [r.n_train for r in result.splits] == [160, 160] and [r.scores.n for r in result.splits] == [80, 80]
    lls = [r.scores.test_ll for r in result.splits]
    worst, summary = result.worst(), result.summary()
    assert worst["test_ll"] == {"value": min(lls), "split": int(np.argmin(lls))}
    assert worst["rmse"]["value"] == max(r.scores.rmse for r in result.splits) >= summary["rmse"]["mean"]
    assert worst["coverage95"]["value"] == min(r.scores.coverage[0.95] for r in result.splits)
    assert result.split_protocol == uci.SplitProtocol.GAP


def test_gap_table_gives_mean_and_worst_split() -> None:
    stat = {"mean": -1.5, "se": 0.05}
    entry = {"dataset": "yacht", "split_protocol": "gap", "method": "dropout", "splits": [{}] * 6,
             "wall_seconds": 12.0,
             "summary": {"rmse": {"mean": 1.234, "se": 0.1}, "test_ll": stat, "coverage95": {"mean": 0.9, "se": 0.02}},
             "worst": {"rmse": {"value": 2.5, "split": 4}, "test_ll": {"value": -3.25, "split": 4},
                       "coverage95": {"value": 0.61, "split": 2}}}
    head, _, row = markdown_table([entry]).splitlines()
    assert "test LL (worst, feature)" in head and "LL PBP" not in head
    assert row == ("| yacht (dropout) | 6 | 1.23 ± 0.10 | 2.50 (4) | -1.50 ± 0.05 | -3.25 (4) | 90.0 ± 2.0 | 61.0 (2) "
                   "| 12 |")


def test_gap_cli_without_gap_files_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_layout(tmp_path)
    code = main(["uci", "--data-dir", str(tmp_path), "--dataset", "yacht", "--protocol", "gap", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and "has no gap splits" in err and err.count("\n") == 1


@pytest.mark.timeout(120)
def test_python_m_bnn_uci_protocol_gap_in_a_process(tmp_path: Path) -> None:
    """The command as a user runs it, finding the data through $BNN_UCI_DIR (no --data-dir)."""
    write_gap_layout(tmp_path)
    out = tmp_path / "gap.json"
    env = {**os.environ, uci.ENV_VAR: str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bnn", "uci", "--dataset", "yacht", "--protocol", "gap",
                           "--splits", "2", "--epochs", "5", "--samples", "10", "--out", str(out), "--quiet"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    head, _, row = done.stdout.splitlines()
    assert "RMSE (worst, feature)" in head and row.startswith("| yacht | 2 |")
    payload = json.loads(out.read_text())
    assert payload["split_protocol"] == "gap" and payload["published"] == {}
    assert [s["n_train"] for s in payload["splits"]] == [160, 160]
    assert set(payload["worst"]["test_ll"]) == {"value", "split"}


@needs_real_gap
def test_quick_gap_benchmark_on_real_yacht(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The gap protocol's whole path on real data, shortened: yacht's first 2 feature splits, 300 steps."""
    out = tmp_path / "yacht-gap.json"
    code = main(["uci", "--data-dir", str(REAL_DIR), "--dataset", "yacht", "--protocol", "gap", "--splits", "2",
                 "--steps", "300", "--samples", "30", "--out", str(out), "--quiet"])
    assert code == 0
    assert "| yacht | 2 |" in capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert [(s["n_train"], s["n"]) for s in payload["splits"]] == [(206, 102), (206, 102)]  # 308 rows, a third out
    summary, worst = payload["summary"], payload["worst"]
    # std(y) is 15.1: predicting the training mean would sit near it; 300 steps reach about 7.
    assert summary["rmse"]["mean"] < 11.0 and worst["rmse"]["value"] >= summary["rmse"]["mean"]
    assert math.isfinite(summary["test_ll"]["mean"]) and worst["test_ll"]["value"] <= summary["test_ll"]["mean"]
