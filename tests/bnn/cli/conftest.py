"""What the CLI tests share: ``bnn.cli.main`` run in-process, and a cap on this process's memory."""

from __future__ import annotations

import resource
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bnn import cli

HEADROOM = 3 * 2**30  # bytes a capped test may map beyond what the process holds (a bounded read needs 0.3 GB)


@pytest.fixture
def cli_run(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``cli_run("fit", ...)`` -> (exit code, stdout, stderr), in this process (no torch import to pay)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def memory_cap() -> Iterator[None]:
    """For tests that read an endless source: if the read ever loses its bound again, the test fails
    with MemoryError after HEADROOM more bytes instead of exhausting a shared machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    mapped = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmSize:"))
    cap = mapped + HEADROOM if hard == resource.RLIM_INFINITY else min(mapped + HEADROOM, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
