"""Run the Dockerfile's commands without Docker, and check that the app it starts is healthy.

    python3 deploy/check_image.py            (a few minutes: a clean pip install of torch and the app)
    python3 deploy/check_image.py --plan     (only print what it would run, as JSON)

Where no container can be built (no daemon, no base images), this is the next best check of the
image: in a new virtual environment under a temp folder it follows the Dockerfile itself, read at
run time so the two cannot drift: its ENV, the files its COPY lines copy (into a folder standing
for WORKDIR), every RUN line (the same pip lines, the static bundle), then its CMD, and it runs its
HEALTHCHECK command until that succeeds, and runs the main page once (Streamlit's AppTest). Exit
status 0 when both passed, 1 otherwise.

What it cannot check: the base image's own Python (this uses the interpreter that runs it; the
Dockerfile's is printed beside it), and RUN lines that need root (useradd), which it skips and names.
The exposed port is swapped for a free one, and the listening address for 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOT_ONLY = ("useradd", "groupadd", "chown", "apt-get")  # RUN lines that need root in the image
# /_stcore/health answers "ok" before any page has run: the main page is run once too (Streamlit's
# AppTest, in the new environment), so an import the requirements lack shows up here.
SMOKE = """
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=180).run()
problems = [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
print("problems on the main page:", problems) if problems else print("the main page ran cleanly")
raise SystemExit(1 if problems else 0)
"""


@dataclass
class Plan:
    """The Dockerfile, read as the steps this script takes."""

    base: str = ""
    env: dict[str, str] = field(default_factory=dict)
    steps: list[tuple[str, str]] = field(default_factory=list)  # ("copy", "src dst") or ("run", command)
    skipped: list[str] = field(default_factory=list)
    port: int = 0
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)  # the exec form's argv


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comment lines dropped (also inside a continuation, as Docker
    does), lines ending in a backslash joined to the next."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), " ".join(rest.split()) if word.upper() != "RUN" else rest.strip()))
    return pairs


def read_plan(dockerfile: Path) -> Plan:
    plan = Plan()
    for word, args in instructions(dockerfile.read_text()):
        if word == "FROM":
            plan.base = args
        elif word == "ENV":
            plan.env.update(dict(pair.split("=", 1) for pair in shlex.split(args)))
        elif word == "COPY":
            plan.steps.append(("copy", args))
        elif word == "RUN" and args.split()[0] in ROOT_ONLY:
            plan.skipped.append(args)
        elif word == "RUN":
            plan.steps.append(("run", args))
        elif word == "EXPOSE":
            plan.port = int(args.split("/")[0])
        elif word == "CMD":
            plan.cmd = json.loads(args)
        elif word == "HEALTHCHECK":
            plan.healthcheck = json.loads(args.split(" CMD ", 1)[1])  # exec form (hadolint DL3025)
    return plan


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy(args: str, workdir: Path) -> None:
    """COPY src... dest, dest relative to WORKDIR: a folder's contents go to dest (as Docker copies
    a directory), a file into dest when dest is a folder ("." or ending in /), else to dest."""
    *sources, dest = args.split()
    target = workdir / dest
    for source in sources:
        src = REPO / source
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        elif dest == "." or dest.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / src.name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def start(plan: Plan, workdir: Path, env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """The CMD, on a free port and on 127.0.0.1 instead of the Dockerfile's port and 0.0.0.0."""
    cmd = [arg.replace(str(plan.port), str(port)).replace("0.0.0.0", "127.0.0.1") for arg in plan.cmd]
    with log.open("wb") as handle:
        return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def healthy(plan: Plan, workdir: Path, env: dict[str, str], port: int, timeout: float) -> bool:
    """The HEALTHCHECK command itself, retried until it exits 0 or `timeout` seconds pass."""
    command = [arg.replace(f":{plan.port}", f":{port}") for arg in plan.healthcheck]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(command, cwd=workdir, env=env, capture_output=True).returncode == 0:
            return True
        time.sleep(1)
    return False


def check(plan: Plan, folder: Path, timeout: float) -> bool:
    venv, workdir = folder / "venv", folder / "app"
    workdir.mkdir(parents=True)
    print(f"Dockerfile base {plan.base}; this run's Python {sys.version.split()[0]}; work folder {folder}")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, **plan.env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    for kind, args in plan.steps:
        print(f"--- {kind.upper()} {args}", flush=True)
        started = time.monotonic()
        if kind == "copy":
            copy(args, workdir)
        elif subprocess.run(["/bin/sh", "-c", args], cwd=workdir, env=env).returncode != 0:
            print(f"FAILED: RUN {args}")
            return False
        print(f"    {time.monotonic() - started:.0f} s", flush=True)
    for args in plan.skipped:
        print(f"--- skipped (needs root in the image): RUN {args}")
    port = free_port()
    server = start(plan, workdir, env, port, folder / "app.log")
    try:
        ok = healthy(plan, workdir, env, port, timeout)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    print(("ok: the HEALTHCHECK passed" if ok else "FAILED: no healthy answer") + f" (CMD on port {port})")
    if not ok:
        print((folder / "app.log").read_text()[-5000:])
        return False
    ok = subprocess.run([str(venv / "bin" / "python"), "-c", SMOKE], cwd=workdir, env=env).returncode == 0
    print("ok: the main page ran" if ok else "FAILED: the main page did not run cleanly")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", action="store_true", help="print the steps as JSON and stop")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (the venv and app)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the health check")
    args = parser.parse_args(argv)
    plan = read_plan(REPO / "Dockerfile")
    if args.plan:
        print(json.dumps(asdict(plan), indent=2))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="bnn-image-check-"))
    started = time.monotonic()
    try:
        ok = check(plan, folder, args.timeout)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{time.monotonic() - started:.0f} s in all")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
