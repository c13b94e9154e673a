"""``python -m bnn uci --jobs N`` and ``--backend ray``: the splits in worker processes give the serial figures.

The oracle is the serial run itself (``--jobs 1``, one process, one torch thread): each split is a
fit seeded by its own config, so a worker that gets the same arguments and one thread must produce
the same bits. On real yacht when the data is there (4 splits of 300 steps, well under a second of
fitting each), else on a synthetic folder of the same layout (test_uci.py's). The Ray test needs
``import ray`` (``pip install -r requirements-cluster.txt``) and skips without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from bnn.cli import main
from bnn.cli import uci as uci_cli
from bnn.evaluation import parallel
from tests.bnn.evaluation.test_uci import REAL_DIR, write_layout

QUICK = ["--dataset", "yacht", "--splits", "4", "--steps", "300", "--samples", "50"]
TIMING = {"wall_seconds", "cpu_seconds"}  # and each split's "seconds": the only fields that may differ


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real yacht if present, else a synthetic yacht folder with 4 splits."""
    if (REAL_DIR / "yacht" / "data" / "data.txt").is_file():
        return REAL_DIR
    root = tmp_path_factory.mktemp("uci")
    write_layout(root, splits=4)
    return root


def run_cli(data_dir: Path, tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    assert main(["uci", "--data-dir", str(data_dir), *QUICK, "--out", str(out), *extra]) == 0
    return json.loads(out.read_text())


def without_timing(entry: dict[str, Any]) -> dict[str, Any]:
    splits = [{k: v for k, v in split.items() if k != "seconds"} for split in entry["splits"]]
    return {**{k: v for k, v in entry.items() if k not in TIMING}, "splits": splits}


@pytest.fixture(scope="module")
def serial(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_cli(data_dir, tmp_path_factory.mktemp("serial"), "serial", "--quiet")


def _threads(_: str) -> int:
    return torch.get_num_threads()


def test_workers_run_every_task_with_one_torch_thread() -> None:
    got = list(parallel.map_unordered(_threads, ["a", "b", "c", "d"], jobs=2))
    assert sorted(index for index, _, _ in got) == [0, 1, 2, 3]
    assert [threads for _, threads, _ in got] == [1, 1, 1, 1]
    assert all(cpu >= 0.0 for _, _, cpu in got)


@pytest.mark.timeout(180)
def test_jobs_2_equals_jobs_1(serial: dict[str, Any], data_dir: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    parallel_run = run_cli(data_dir, tmp_path, "jobs2", "--jobs", "2")
    err = capsys.readouterr().err  # not a terminal: one line per split, in the order they finished
    assert sorted(line.split(":")[0] for line in err.splitlines() if " split " in line) == [
        f"yacht split {i}/4" for i in range(1, 5)]
    assert [s["split"] for s in parallel_run["splits"]] == [0, 1, 2, 3]
    # bit for bit, not approximately: the same float operations in the same order
    assert without_timing(parallel_run) == without_timing(serial)
    assert parallel_run["cpu_seconds"] > 0  # the workers' CPU time is counted


@pytest.mark.timeout(180)
def test_several_data_sets_queued_at_once_equal_the_serial_run(tmp_path: Path) -> None:
    # all splits of both sets are queued before the first set's are collected; each set keeps its own entry
    write_layout(tmp_path, folder="yacht", splits=3, seed=1)
    write_layout(tmp_path, folder="bostonHousing", n=160, splits=2, seed=2)
    args = ["uci", "--data-dir", str(tmp_path), "--dataset", "yacht,boston", "--steps", "200", "--samples", "20",
            "--quiet", "--out"]
    runs = {}
    for jobs in ("1", "2"):
        assert main([*args, str(tmp_path / f"{jobs}.json"), "--jobs", jobs]) == 0
        runs[jobs] = json.loads((tmp_path / f"{jobs}.json").read_text())["results"]
    assert [(e["dataset"], len(e["splits"])) for e in runs["2"]] == [("yacht", 3), ("boston", 2)]
    assert [without_timing(e) for e in runs["2"]] == [without_timing(e) for e in runs["1"]]


@pytest.mark.timeout(240)
def test_ray_backend_equals_jobs_1(serial: dict[str, Any], data_dir: Path, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-cluster.txt)")
    try:
        got = run_cli(data_dir, tmp_path, "ray", "--jobs", "2", "--backend", "ray", "--quiet")
        assert ray.cluster_resources().get("CPU") == 2  # the local Ray this run started
    finally:
        ray.shutdown()
    assert without_timing(got) == without_timing(serial)


@pytest.mark.parametrize(("args", "message"), [
    (["--jobs", "0"], "--jobs must be at least 1, got 0"),
    (["--address", "ray://head:10001"], "--address names a Ray cluster: give it with --backend ray"),
])
def test_bad_worker_options_are_usage_errors(args: list[str], message: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["uci", "--data-dir", str(tmp_path / "missing"), *QUICK, *args])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: {message}"


def test_ray_backend_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(uci_cli, "ray_installed", lambda: False)
    code = main(["uci", "--data-dir", str(tmp_path / "missing"), *QUICK, "--backend", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert "pip install -r requirements-cluster.txt" in err and err.startswith("error: --backend ray needs Ray")
