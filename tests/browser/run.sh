#!/usr/bin/env bash
# The real-browser test: installs what it needs (Debian's chromium, the npm packages pinned in
# package-lock.json), starts the real binary on the built-in demo, and runs check.mjs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser test"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

cargo build --locked --quiet --bin modelwatch --manifest-path "$root/Cargo.toml"
bin="${CARGO_TARGET_DIR:-$root/target}/debug/modelwatch"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
(cd "$work" && exec "$bin" serve --listen "127.0.0.1:$port") >"$work/serve.log" 2>&1 &
server=$!
# A second server with a short incident of its own (incident.toml), started now so its
# incident runs while check.mjs looks at the demo; incident.mjs checks the pages afterwards.
work2="$(mktemp -d)"
port2="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cp "$here/incident.toml" "$work2/incident.toml"
(cd "$work2" && exec "$bin" serve --config incident.toml --listen "127.0.0.1:$port2") >"$work2/serve.log" 2>&1 &
server2=$!
cleanup() {
  kill "$server" "$server2" 2>/dev/null || true
  wait "$server" "$server2" 2>/dev/null || true
  rm -rf "$work" "$work2"
}
trap cleanup EXIT

healthy() { python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; }
for _ in $(seq 1 150); do
  healthy && break
  sleep 0.2
done
if ! healthy; then
  echo "the server did not start:"; cat "$work/serve.log"; exit 1
fi
node "$here/check.mjs" "http://127.0.0.1:$port" "${CARGO_TARGET_DIR:-$root/target}/browser"
if ! node "$here/incident.mjs" "http://127.0.0.1:$port2"; then
  echo "the incident server's log:"; tail -n 40 "$work2/serve.log"; exit 1
fi
