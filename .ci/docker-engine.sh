#!/usr/bin/env bash
# A real Docker engine for the demo tests: Debian's docker.io when none answers, started here.
# No registry is reachable, so the demo image is built FROM scratch with Debian's static busybox
# (demo-images/Dockerfile: the scenarios' volume paths pre-owned by the demo uid).
set -euo pipefail
image="${DOCKBOT_DEMO_IMAGE:-busybox:1.36}"

if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1 || [ ! -x /bin/busybox ] || ! /bin/busybox --list >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io busybox-static >/dev/null
  fi
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -20 /tmp/dockerd.log; exit 1; }
fi
if [ ! -x /bin/busybox ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi

if ! docker image inspect "$image" >/dev/null 2>&1; then
  ctx=$(mktemp -d)
  cp /bin/busybox "$ctx/busybox"
  docker build -q --network none -t "$image" -f demo-images/Dockerfile "$ctx" >/dev/null
  rm -rf "$ctx"
fi
echo "docker engine: $(docker version --format '{{.Server.Version}}'), demo image: $image"
