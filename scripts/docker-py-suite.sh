#!/usr/bin/env bash
# Runs docker-py's own integration suite twice, straight at the daemon and
# through dockgate (`serve --dev`, the platform team: allow everything), and
# prints the tests whose outcome differs. See docs/testing.md.
#
#   bash scripts/docker-py-suite.sh DOCKER_PY_SOURCE
#
# Each run gets a fresh private daemon (scripts/test-daemon.sh): the suite
# leaves containers and networks behind when a test fails, which would
# make the second run fail tests the first did not.
# DOCKER_PY_SOURCE: a checkout of docker-py at the tag matching Debian's
# python3-docker (5.0.3), e.g. `git archive 5.0.3`. Needs Debian's
# python3-docker, python3-pytest, python3-pytest-timeout, python3-paramiko.
set -euo pipefail
src=${1:?docker-py source folder}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/dg-dockerpy.XXXXXX)
cp -r "$src" "$work/docker-py"
# The suite turns every warning into an error; Debian's setuptools warns
# about distutils in docker-py 5.0.3 itself, so every test would error.
sed -i "s/    warnings.simplefilter('error')/    pass/" "$work/docker-py/tests/integration/conftest.py"
gateway=
stop() { [ -z "$gateway" ] || kill "$gateway" 2>/dev/null || true; gateway=; bash "$here/scripts/test-daemon.sh" stop "$work/daemon" >/dev/null || true; }
trap stop EXIT

fresh_daemon() {
  stop
  rm -rf "$work/daemon"
  bash "$here/scripts/test-daemon.sh" start "$work/daemon" >/dev/null
  # Its tests run alpine:3.10 and busybox; no registry is reachable here.
  for image in alpine:3.10 busybox:latest busybox:buildroot-2014.02; do
    docker -H "unix://$work/daemon/docker.sock" tag dockgate-test/busybox:latest "$image"
  done
  rm -rf "$work/docker-py/contexts"   # the context tests keep state in the working folder
}

start_gateway() { # prints the port
  local port
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  (cd "$work" && exec node "$here/dist/main.js" serve --dev --upstream "unix://$work/daemon/docker.sock" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1) &
  gateway=$!
  for _ in $(seq 50); do grep -q '"dockgate listening"' "$work/serve.log" && break; sleep 0.2; done
  echo "$port"
}

run() { # NAME, then the environment that points docker-py at the daemon
  local name=$1; shift
  (cd "$work/docker-py" && env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE "$@" PYTHONPATH=. \
    /usr/bin/python3 -m pytest tests/integration --ignore=tests/integration/client_test.py \
    -p no:cacheprovider --timeout 120 -q -rA >"$work/$name.log" 2>&1) || true
  grep -E '^(PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED) ' "$work/$name.log" | sed 's/ - .*//' | sort >"$work/$name.outcomes"
  echo "$name: $(tail -n 1 "$work/$name.log")"
}
fresh_daemon
run direct DOCKER_HOST="unix://$work/daemon/docker.sock"
fresh_daemon
start_gateway >"$work/port"
run dockgate DOCKER_HOST="tcp://127.0.0.1:$(cat "$work/port")" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$work/certs/clients/admin"
echo "outcomes that differ (< direct, > through dockgate); logs in $work:"
diff "$work/direct.outcomes" "$work/dockgate.outcomes" && echo "none"
