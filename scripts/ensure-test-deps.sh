#!/usr/bin/env bash
# Makes sure the system parts the tests use for real are present: podman (container cubes), a local
# busybox image (no registry is reachable on the build machines, so it is built here), PostgreSQL and
# Chromium (the web UI's browser tests).
# Idempotent and quiet when everything is already in place.
set -euo pipefail

IMAGE=localhost/conveyor-test-busybox:latest

install_podman() {
  if command -v podman >/dev/null 2>&1; then return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-test-deps: podman is missing; install podman, runc and busybox-static (the container tests need them)" >&2
    exit 1
  fi
  echo "ensure-test-deps: installing podman, runc, busybox-static (once)…" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc busybox-static >/dev/null
}

build_image() {
  if podman image exists "$IMAGE" 2>/dev/null; then return; fi
  local busybox
  busybox=$(command -v busybox || true)
  [ -x /bin/busybox ] && busybox=/bin/busybox
  if [ -z "$busybox" ]; then
    echo "ensure-test-deps: busybox is missing; install busybox-static" >&2
    exit 1
  fi
  local root
  root=$(mktemp -d)
  mkdir -p "$root/bin" "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for c in sh echo ls cat env test true false sleep mkdir printf head tr wc id pwd rm cp touch grep sed; do
    ln -sf busybox "$root/bin/$c"
  done
  tar -C "$root" -cf "$root.tar" .
  podman import -q "$root.tar" "$IMAGE" >/dev/null
  rm -rf "$root" "$root.tar"
}

# The PostgreSQL tests need a server at 127.0.0.1:5432 that user postgres reaches without a password
# (these machines run one; a fresh Debian gets one here), unless CONVEYOR_TEST_PG_URL names another.
ensure_postgres() {
  [ -n "${CONVEYOR_TEST_PG_URL:-}" ] && return
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      echo "ensure-test-deps: PostgreSQL is missing; install it, or set CONVEYOR_TEST_PG_URL" >&2
      exit 1
    fi
    echo "ensure-test-deps: installing postgresql (once)…" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$(id -u)" = 0 ] && ! grep -q '^host all all 127.0.0.1/32 trust' "/etc/postgresql/$version/main/pg_hba.conf"; then
    # Tests connect as postgres over TCP without a password, as on the build machines.
    sed -i '1i host all all 127.0.0.1/32 trust' "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 0.2; done
  echo "ensure-test-deps: PostgreSQL did not start; see /var/log/postgresql" >&2
  exit 1
}

# The web UI's browser tests drive Debian's Chromium through playwright-core (never a downloaded
# browser: the build machines reach only npm and Debian), unless CONVEYOR_CHROMIUM names another.
install_chromium() {
  if [ -x "${CONVEYOR_CHROMIUM:-/usr/bin/chromium}" ]; then return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-test-deps: chromium is missing; install Debian's chromium package, or set CONVEYOR_CHROMIUM" >&2
    exit 1
  fi
  echo "ensure-test-deps: installing chromium (once)…" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

install_podman
install_chromium
build_image
ensure_postgres
