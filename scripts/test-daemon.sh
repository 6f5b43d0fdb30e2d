#!/usr/bin/env bash
# Starts or stops a private Docker daemon for tests.
#   scripts/test-daemon.sh start DIR   -> daemon on DIR/docker.sock, image dockgate-test/busybox:latest
#   scripts/test-daemon.sh stop DIR
# The registry for the push/pull test is not started here: the test run's
# global setup (test/support/global-setup.ts) starts its own on a free
# loopback port, so no fixed port can clash.
# The daemon never creates bridge networks or touches iptables or private
# address ranges: test containers run with --network none.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
image=dockgate-test/busybox:latest

log() { printf 'test-daemon: %s\n' "$*" >&2; }

start_daemon() {
  mkdir -p "$dir"
  # Like /var/run on a host: others may pass through to the socket, which
  # dockerd makes root:docker 0660. `mktemp -d` gives 0700, and then the
  # tests that run dockgate as an unprivileged docker-group member (as a
  # systemd unit does) could not reach the daemon at all.
  chmod 755 "$dir"
  dockerd -H "unix://$dir/docker.sock" --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/docker.pid" --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
    >"$dir/dockerd.log" 2>&1 &
  echo $! >"$dir/dockerd.launcher"
  for _ in $(seq 1 60); do
    if docker -H "unix://$dir/docker.sock" version >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "dockerd did not answer within 30 s; last log lines:"; tail -20 "$dir/dockerd.log" >&2
  return 1
}

build_image() {
  local root="$dir/image-root"
  rm -rf "$root"; mkdir -p "$root/bin" "$root/tmp" "$root/etc"
  cp "$(command -v busybox)" "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  tar -C "$root" -c . | docker -H "unix://$dir/docker.sock" import - "$image" >/dev/null
}

# dockerd leaves mounts below its roots (overlay layers, the netns bind
# mount at exec/netns/default); unmount them deepest first so the folder can
# be removed.
unmount_under() {
  local root
  root=$(realpath "$1")
  awk -v root="$root/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done
}

stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

case "$cmd" in
  start)
    start_daemon
    build_image
    log "daemon unix://$dir/docker.sock ready, image $image"
    ;;
  stop)
    docker -H "unix://$dir/docker.sock" ps -aq 2>/dev/null | xargs -r docker -H "unix://$dir/docker.sock" rm -f >/dev/null 2>&1 || true
    stop_pidfile "$dir/registry.pid" # left by older versions of this script
    stop_pidfile "$dir/docker.pid"
    stop_pidfile "$dir/dockerd.launcher"
    unmount_under "$dir"
    ;;
  *) log "unknown command $cmd"; exit 2 ;;
esac
