#!/usr/bin/env bash
# N replicas of the dashboard behind Debian's nginx, on this machine, without containers:
#   bash deploy/local.sh [--no-affinity] [N]        (N defaults to 2)
# Starts N `streamlit run app.py` on free local ports (the repo's .streamlit/config.toml applies),
# renders deploy/nginx.conf.template (the file docker-compose mounts; only the upstream list, the
# port and the log path differ) and runs nginx as an ordinary process with its own prefix, pid,
# logs and temp folders. Prints the balancer's URL once /_stcore/health answers through it, and
# stops everything on Ctrl-C or SIGTERM.
#   --no-affinity   round robin instead of the cookie hash: uploads then fail with 400 (the tests
#                   use it to show that the affinity is what makes them work)
# Environment: BNN_DEPLOY_DIR (work folder; a new temp folder otherwise), BNN_PORT (the balancer's
# port; a free one otherwise), PYTHON (default .venv/bin/python, else python3).
# Each replica also gets BNN_QUEUE_LOG=<work folder>/queue-<i>.jsonl (the load test reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

affinity=1
if [ "${1:-}" = "--no-affinity" ]; then affinity=0; shift; fi
replicas=${1:-2}
case "$replicas" in ''|*[!0-9]*|0) echo "usage: $0 [--no-affinity] [N>=1]" >&2; exit 2;; esac

# Debian's nginx, installed as scripts/test installs Chromium (sudo when not root).
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx) >/dev/null
  else
    sudo sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx' >/dev/null
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi

PY=${PYTHON:-}
if [ -z "$PY" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
DIR=${BNN_DEPLOY_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bnn-deploy.XXXXXX")}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
healthy() { [ "$(curl -fsS --max-time 2 "$1/_stcore/health" 2>/dev/null)" = ok ]; }

pids=()
nginx_pid=
stop() {
  trap - INT TERM EXIT
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; logs in $DIR"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

servers=""
urls=()
for i in $(seq 1 "$replicas"); do
  port=$(free_port)
  # One torch thread per process, as the Dockerfile's environment sets.
  BNN_QUEUE_LOG="$DIR/queue-$i.jsonl" OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$PY" -m streamlit run app.py --server.headless true --server.port "$port" \
    --server.address 127.0.0.1 >"$DIR/replica-$i.log" 2>&1 &
  pids+=($!)
  servers+="server 127.0.0.1:$port; "
  urls+=("http://127.0.0.1:$port")
  echo "replica $i: http://127.0.0.1:$port (log $DIR/replica-$i.log)"
done

port=${BNN_PORT:-$(free_port)}
template=$(cat deploy/nginx.conf.template)
if [ "$affinity" = 0 ]; then template=$(grep -v '^ *hash \$bnn_route' <<<"$template"); fi
site=${template//'${BNN_UPSTREAM_SERVERS}'/$servers}
site=${site//'${BNN_LISTEN}'/127.0.0.1:$port}
site=${site//'${BNN_ACCESS_LOG}'/$DIR/access.log}
site=${site//'${BNN_CACHE_DIR}'/$DIR/static-cache}
printf '%s\n' "$site" >"$DIR/site.conf"

mkdir -p "$DIR/temp"
user_line=""
# Started by root (CI, a container), nginx would run its workers as nobody, who cannot reach a work
# folder under a private parent (pytest's are 0700): a response larger than the proxy buffers (the
# 4.6 MB Plotly chunk) or an upload body written to temp/ would then be cut off. The balancer listens
# on 127.0.0.1 only, so its workers run as the user who started it.
if [ "$(id -u)" = 0 ]; then user_line="user root root;"; fi
cat >"$DIR/nginx.conf" <<EOF
# Written by deploy/local.sh: the main file around site.conf (deploy/nginx.conf.template, rendered).
$user_line
daemon off;
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $DIR/temp/body;
    proxy_temp_path $DIR/temp/proxy;
    fastcgi_temp_path $DIR/temp/fastcgi;
    uwsgi_temp_path $DIR/temp/uwsgi;
    scgi_temp_path $DIR/temp/scgi;
    include $DIR/site.conf;
}
EOF
"$NGINX" -q -t -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log"
"$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log" &
nginx_pid=$!

url="http://127.0.0.1:$port"
all_healthy() {  # every replica directly, then the balancer
  for u in "${urls[@]}" "$url"; do healthy "$u" || return 1; done
}
for _ in $(seq 1 600); do  # up to 120 s: the replicas import torch and the app first
  if all_healthy; then break; fi
  for pid in "${pids[@]}" "$nginx_pid"; do
    kill -0 "$pid" 2>/dev/null || { echo "a process exited early; logs in $DIR" >&2; exit 1; }
  done
  sleep 0.2
done
all_healthy || { echo "no health answer from every replica and $url within 120 s; logs in $DIR" >&2; exit 1; }
echo "affinity: $([ "$affinity" = 1 ] && echo "cookie bnn_route" || echo "none (round robin)")"
echo "access log: $DIR/access.log"
echo "BNN_URL=$url"
echo "open $url (Ctrl-C stops the balancer and the $replicas replicas)"
wait -n "${pids[@]}" "$nginx_pid" || true
echo "a process exited; stopping the rest" >&2
exit 1
