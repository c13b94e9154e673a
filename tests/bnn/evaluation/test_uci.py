"""The UCI layout reader, the benchmark protocol and ``python -m bnn uci``.

Most tests write a small data folder of the same layout into tmp_path, from a known
function, so the protocol runs in CI even without the real data; the tests on the real
data (``../shared/data/uci`` beside the repository, or $BNN_UCI_DIR) skip when it is absent.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bnn.cli import main
from bnn.cli.uci import markdown_table
from bnn.config import NoiseModel
from bnn.evaluation import uci
from bnn.evaluation.uci_protocol import Protocol, mean_se, run, run_split, standardise_inputs

REAL_DIR = uci.data_dir(Path(__file__).resolve().parents[4] / "shared" / "data" / "uci")
needs_real_data = pytest.mark.skipif(not (REAL_DIR / "yacht" / "data" / "data.txt").is_file(),
                                     reason=f"UCI data not found at {REAL_DIR} (set {uci.ENV_VAR})")
NOISE = 0.5


def write_layout(root: Path, folder: str = "yacht", n: int = 240, splits: int = 2, seed: int = 0) -> np.ndarray:
    """A data set in the benchmark's layout: y = 2 x0 - x1 + 0.5 noise, with a constant column.

    Columns: x0, target, x1, constant (so index_features is not simply the first D columns).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(n, 2))
    y = 2 * x[:, 0] - x[:, 1] + NOISE * rng.standard_normal(n)
    table = np.column_stack([x[:, 0], y, x[:, 1], np.full(n, 7.0)])
    data = root / folder / "data"
    data.mkdir(parents=True)
    np.savetxt(data / "data.txt", table)
    (data / "index_features.txt").write_text("0\n2\n3\n")
    (data / "index_target.txt").write_text("1\n")
    (data / "n_splits.txt").write_text(f"{splits}\n")
    (data / "n_hidden.txt").write_text("16\n")
    for i in range(splits):
        perm = rng.permutation(n)
        cut = n * 3 // 4
        np.savetxt(data / f"index_train_{i}.txt", perm[:cut], fmt="%d")
        np.savetxt(data / f"index_test_{i}.txt", perm[cut:], fmt="%d")
    (root / "published_results.csv").write_text(
        "source,method,dataset,metric,mean,err,err_type,note\n"
        f"{uci.PUBLISHED_SOURCE},{uci.PUBLISHED_METHODS['PBP']},yacht,test_ll,-1.63,0.02,se,\n"
        f"{uci.PUBLISHED_SOURCE},{uci.PUBLISHED_METHODS['PBP']},boston,test_ll,-2.57,0.09,se,\n"
        f"other source,{uci.PUBLISHED_METHODS['PBP']},yacht,test_ll,-9.0,0.1,se,\n"
        f"{uci.PUBLISHED_SOURCE},\"{uci.PUBLISHED_METHODS['MC dropout']}\",yacht,rmse,1.11,0.09,se,\n"
    )
    return table


# ---- the layout -----------------------------------------------------------------------------
def test_load_reads_features_target_and_splits(tmp_path: Path) -> None:
    table = write_layout(tmp_path)
    ds = uci.load(tmp_path, "yacht")
    np.testing.assert_allclose(ds.x, table[:, [0, 2, 3]])
    np.testing.assert_allclose(ds.y, table[:, 1])
    assert (ds.n_splits, ds.n_hidden) == (2, 16)
    train, test = ds.split(1)
    assert train.size == 180 and test.size == 60
    assert not set(train) & set(test)
    assert uci.available(tmp_path) == ["yacht"]


@pytest.mark.parametrize(("given", "short"), [("boston", "boston"), ("bostonHousing", "boston"),
                                              ("Naval-Propulsion-Plant", "naval"), (" protein ", "protein")])
def test_names_and_folder_names_both_work(given: str, short: str) -> None:
    assert uci.canonical_name(given) == short


def test_bad_names_folders_and_splits_get_messages(tmp_path: Path) -> None:
    with pytest.raises(uci.UCIDataError, match="unknown UCI data set 'housing'.*boston"):
        uci.canonical_name("housing")
    with pytest.raises(uci.UCIDataError, match="does not exist"):
        uci.load(tmp_path / "nowhere", "yacht")
    with pytest.raises(uci.UCIDataError, match="has no data.txt"):
        uci.load(tmp_path, "concrete")
    write_layout(tmp_path)
    with pytest.raises(uci.UCIDataError, match="splits 0..1, not 2"):
        uci.load(tmp_path, "yacht").split(2)
    (tmp_path / "yacht" / "data" / "index_test_0.txt").write_text("0\n100000\n")
    with pytest.raises(uci.UCIDataError, match="outside"):
        uci.load(tmp_path, "yacht").split(0)
    (tmp_path / "yacht" / "data" / "n_hidden.txt").unlink()
    with pytest.raises(uci.UCIDataError, match="missing file"):
        uci.load(tmp_path, "yacht")


def test_oversized_or_damaged_files_get_messages_not_tracebacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    write_layout(tmp_path)
    folder = tmp_path / "yacht" / "data"
    monkeypatch.setattr(uci, "MAX_FILE_BYTES", 100)  # the real bound is 64 MiB; a 100-byte one is quick to pass
    with pytest.raises(uci.UCIDataError, match="larger than 100 bytes"):
        uci.load(tmp_path, "yacht")
    monkeypatch.undo()
    (folder / "n_splits.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(uci.UCIDataError, match="not a text file"):
        uci.load(tmp_path, "yacht")
    (tmp_path / "published_results.csv").write_text('method,dataset\n"' + "x" * 200_000 + '",yacht\n')
    with pytest.raises(uci.UCIDataError, match="not a table of published results"):
        uci.published(tmp_path, "yacht")  # a field over csv's 128 kB limit


def test_published_picks_the_papers_columns(tmp_path: Path) -> None:
    write_layout(tmp_path)
    got = uci.published(tmp_path, "yacht")
    assert got == {"PBP": {"test_ll": (-1.63, 0.02)}, "MC dropout": {"rmse": (1.11, 0.09)}}
    assert uci.published(tmp_path / "elsewhere", "yacht") == {}


@needs_real_data
def test_real_published_table_has_all_three_columns_for_all_nine_sets() -> None:
    for name in uci.FOLDERS:
        got = uci.published(REAL_DIR, name)
        assert set(got) == {"VI", "PBP", "MC dropout"}, name
        assert all(set(metrics) == {"rmse", "test_ll"} for metrics in got.values()), name
    assert uci.published(REAL_DIR, "boston")["PBP"]["test_ll"] == (-2.57, 0.09)  # the PBP paper's Table 1


# ---- the protocol ---------------------------------------------------------------------------
def test_mean_se_is_the_standard_error_over_splits() -> None:
    values = [1.0, 2.0, 4.0, 7.0]
    got = mean_se(values)
    assert got["mean"] == pytest.approx(3.5)
    assert got["se"] == pytest.approx(stats.sem(values))
    assert mean_se([2.0]) == {"mean": 2.0, "se": 0.0}


def test_epochs_give_about_the_same_number_of_steps() -> None:
    p = Protocol(steps=10_000, batch_size=128, min_epochs=20, max_epochs=4000)
    assert p.epochs(8611) == math.ceil(10_000 / 68)  # 68 minibatches per epoch
    assert p.epochs(41_157) == 32  # 322 minibatches: 10,000 steps is 32 epochs
    assert p.epochs(277) == 3334  # 3 minibatches
    assert p.epochs(10) == 4000  # one minibatch; capped
    assert Protocol(steps=10, min_epochs=20).epochs(100_000) == 20


def test_config_starts_the_noise_at_a_fixed_share_of_the_target_std() -> None:
    y = np.array([0.0, 10.0, 20.0, 30.0])
    cfg = Protocol(noise_sigma=0.5).config(50, y, split=3)
    assert cfg.noise_sigma == pytest.approx(0.5 * y.std())
    assert cfg.hidden == (50,) and cfg.standardize and cfg.learn_noise and cfg.seed == 3


def test_the_noise_warm_up_reaches_only_a_heteroscedastic_config() -> None:
    y = np.array([0.0, 10.0, 20.0, 30.0])
    warm = Protocol(noise_warmup=0.25)
    assert warm.config(50, y, split=0).noise_warmup == 0.0  # one learned std: nothing to warm up
    hetero = replace(warm, noise=NoiseModel.HETEROSCEDASTIC).config(50, y, split=0)
    assert hetero.noise_warmup == 0.25 and hetero.noise is NoiseModel.HETEROSCEDASTIC
    assert Protocol(noise=NoiseModel.HETEROSCEDASTIC).config(50, y, split=0).noise_warmup == 0.5  # chosen


def test_inputs_are_scaled_with_training_statistics_only() -> None:
    rng = np.random.default_rng(1)
    train, test = rng.normal(3, 2, size=(50, 3)), rng.normal(100, 1, size=(10, 3))
    train[:, 2] = 5.0
    a, b = standardise_inputs(train, test)
    np.testing.assert_allclose(a[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(a[:, :2].std(axis=0), 1)
    np.testing.assert_allclose(a[:, 2], 0)  # a constant column gets std 1, not a division by zero
    np.testing.assert_allclose(b[:, 0], (test[:, 0] - train[:, 0].mean()) / train[:, 0].std())


def test_a_split_recovers_known_noise_and_calibrated_intervals(tmp_path: Path) -> None:
    """Linear truth with noise 0.5: the learned noise, the test LL and coverage match the truth."""
    write_layout(tmp_path, n=1200, splits=1)
    ds = uci.load(tmp_path, "yacht")
    train, test = ds.split(0)
    protocol = Protocol(steps=1200, batch_size=128, lr=1e-2)
    out = run_split(ds.x[train], ds.y[train], ds.x[test], ds.y[test],
                    protocol.config(16, ds.y[train], 0), predict_samples=100)
    # 900 training residuals estimate the noise std to about 0.5/sqrt(1800) = 0.012; the
    # network's own error adds a little. 15 % is a generous band that a wrong scale fails.
    assert out.noise_sigma == pytest.approx(NOISE, rel=0.15)
    # The best possible test LL is that of the true Gaussian, -0.5 log(2 pi 0.25) - 0.5 = -0.726;
    # its mean over 300 points has SE sqrt(0.5/300) = 0.04, so +-0.15 is about 3.5 SE.
    assert out.scores.test_ll == pytest.approx(-0.5 * math.log(2 * math.pi * NOISE**2) - 0.5, abs=0.15)
    # 300 test points: the binomial SE of a 95 % coverage is 0.0126; 4 SE either side.
    assert abs(out.scores.coverage[0.95] - 0.95) < 0.05


def test_run_collects_one_result_per_split(tmp_path: Path) -> None:
    write_layout(tmp_path, splits=3)
    seen: list[int] = []
    result = run(uci.load(tmp_path, "yacht"), Protocol(steps=50, min_epochs=5, predict_samples=20), splits=2,
                 on_split=lambda r: seen.append(r.split))
    assert seen == [0, 1]
    summary = result.summary()
    assert summary["rmse"]["mean"] == pytest.approx(np.mean([r.scores.rmse for r in result.splits]))
    assert set(summary) >= {"rmse", "test_ll", "coverage95"}


# ---- the command line -----------------------------------------------------------------------
def test_cli_writes_the_table_and_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_layout(tmp_path)
    out = tmp_path / "results.json"
    code = main(["uci", "--data-dir", str(tmp_path), "--dataset", "yacht", "--splits", "2", "--epochs", "20",
                 "--samples", "30", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| yacht | 2 |" in printed and "-1.63 ± 0.02" in printed  # the published PBP LL beside ours
    payload = json.loads(out.read_text())
    assert len(payload["splits"]) == 2 and payload["splits"][1]["split"] == 1
    for key in ("rmse", "test_ll", "coverage95"):
        assert set(payload["summary"][key]) == {"mean", "se"}
    assert payload["wall_seconds"] > 0
    assert payload["protocol"]["min_epochs"] == payload["protocol"]["max_epochs"] == 20


def test_cli_runs_a_list_of_data_sets_into_one_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_layout(tmp_path, folder="yacht")
    write_layout(tmp_path, folder="bostonHousing", seed=1)
    out = tmp_path / "both.json"
    code = main(["uci", "--data-dir", str(tmp_path), "--dataset", "yacht,bostonHousing", "--splits", "1",
                 "--epochs", "5", "--samples", "10", "--out", str(out), "--quiet"])
    assert code == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "splits" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| yacht", "| boston"]
    payload = json.loads(out.read_text())
    assert [e["dataset"] for e in payload["results"]] == ["yacht", "boston"]
    assert payload["wall_seconds"] == pytest.approx(sum(e["wall_seconds"] for e in payload["results"]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "housing"], "unknown UCI data set"),
        (["--dataset", "yacht", "--splits", "0"], "--splits must be at least 1"),
        (["--dataset", "concrete"], "has no data.txt"),
        (["--dataset", "yacht", "--out", "/no/such/folder/r.json"], "does not exist"),
    ],
)
def test_cli_bad_input_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                         message: str) -> None:
    write_layout(tmp_path)
    code = main(["uci", "--data-dir", str(tmp_path), "--quiet", *args])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_cli_refuses_a_fifo_or_a_device_as_data_without_reading_it(kind: str, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # bnn.evaluation.uci reads only regular files: a FIFO no one writes to would hang the read,
    # /dev/zero would never end. The timeout turns a regression into a failure, not a hang.
    write_layout(tmp_path)
    data = tmp_path / "yacht" / "data" / "data.txt"
    data.unlink()
    if kind == "fifo":
        os.mkfifo(data)
    else:
        data.symlink_to("/dev/zero")
    code = main(["uci", "--data-dir", str(tmp_path), "--dataset", "yacht", "--splits", "1", "--epochs", "1",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and err.count("\n") == 1 and "data.txt" in err, err


def test_markdown_table_shows_dashes_for_missing_published_figures() -> None:
    entry = {"dataset": "yacht", "splits": [{}], "wall_seconds": 3.0, "published": {},
             "summary": {"rmse": {"mean": 1.234, "se": 0.1}, "test_ll": {"mean": -1.5, "se": 0.05},
                         "coverage95": {"mean": 0.95, "se": 0.01}}}
    row = markdown_table([entry]).splitlines()[2]
    assert row.startswith("| yacht | 1 | 1.23 ± 0.10 | – |") and "95.0 ± 1.0" in row


@needs_real_data
def test_quick_benchmark_on_real_yacht(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The benchmark's whole path on real data, shortened: 2 splits of 600 optimiser steps."""
    out = tmp_path / "yacht.json"
    code = main(["uci", "--data-dir", str(REAL_DIR), "--dataset", "yacht", "--splits", "2", "--steps", "600",
                 "--samples", "50", "--out", str(out), "--quiet"])
    assert code == 0
    assert "| yacht | 2 |" in capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert [s["n_train"] for s in payload["splits"]] == [277, 277] and payload["splits"][0]["n"] == 31
    summary = payload["summary"]
    # Predicting the training mean gives RMSE ~ std(y) = 15.1; even 600 steps get far below.
    assert summary["rmse"]["mean"] < 7.5
    assert 0.0 <= summary["coverage95"]["mean"] <= 1.0 and math.isfinite(summary["test_ll"]["mean"])
    assert payload["published"]["PBP"]["test_ll"] == {"mean": -1.63, "se": 0.02}
