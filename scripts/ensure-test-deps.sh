#!/usr/bin/env bash
# Makes sure the system parts the tests use for real are present: podman (container cubes) and a
# local busybox image (no registry is reachable on the build machines, so it is built here).
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

install_podman
build_image
