#!/bin/sh
# Start dockerd like docker:dind does for compose.yaml: with DOCKER_TLS_CERTDIR set, make a CA, a server
# certificate for this hostname and a client certificate (key readable by the bot's non-root user), then
# listen on tcp 2376 with mutual TLS; without it, plain tcp 2375. Always also the local unix socket.
set -eu

# CI's engine refuses --privileged (its capability bounding set lacks CAP_SYS_RESOURCE), so .ci/compose.ci.yaml
# runs this container with explicit capabilities instead, where cgroups and /sys come read-only: mount them
# read-write as privileged mode would (the inner dockerd must create cgroups for the demo containers).
if [ "${DEMO_HOST_REMOUNT_CGROUPS:-}" = 1 ]; then
  mount -o remount,rw /sys
  mount -o remount,rw /sys/fs/cgroup
  grep ' /sys/fs/cgroup/' /proc/self/mounts | while read -r _ path _ opts _; do
    umount "$path"
    mount -t cgroup -o "$(printf '%s' "$opts" | sed 's/\bro\b/rw/')" cgroup "$path"
  done
fi

certs="${DOCKER_TLS_CERTDIR:-}"
if [ -z "$certs" ]; then
  exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 "$@"
fi

mkdir -p "$certs/ca" "$certs/server" "$certs/client"
cd "$certs"
[ -s ca/key.pem ] || openssl genrsa -out ca/key.pem 2048 2>/dev/null
[ -s ca/cert.pem ] || openssl req -new -x509 -key ca/key.pem -out ca/cert.pem -days 30 \
  -subj "/CN=dockbot demo-host CA" 2>/dev/null

sign() { # name, extensions: a key, a CSR, a certificate signed by the CA
  openssl genrsa -out "$1/key.pem" 2048 2>/dev/null
  openssl req -new -key "$1/key.pem" -out "$1/csr.pem" -subj "/CN=dockbot demo-host $1" 2>/dev/null
  printf '[ ext ]\n%s\n' "$2" >"$1/openssl.cnf"
  openssl x509 -req -in "$1/csr.pem" -CA ca/cert.pem -CAkey ca/key.pem -CAcreateserial -days 30 \
    -extfile "$1/openssl.cnf" -extensions ext -out "$1/cert.pem" 2>/dev/null
  cp ca/cert.pem "$1/ca.pem"
}
sign server "subjectAltName = DNS:$(hostname),DNS:localhost,IP:127.0.0.1
extendedKeyUsage = serverAuth"
sign client "extendedKeyUsage = clientAuth"
chmod 0644 client/key.pem   # the bot runs as uid 10001 and mounts this volume read-only
chmod 0600 ca/key.pem server/key.pem

exec dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2376 --tlsverify \
  --tlscacert "$certs/server/ca.pem" --tlscert "$certs/server/cert.pem" --tlskey "$certs/server/key.pem" "$@"
