#!/usr/bin/env bash
# CI: the tools tests need besides Docker, installed from the machine's own apt sources only when absent
# (so a machine that has them pays nothing): PostgreSQL for the replica tests (tests/postgres_server.py
# starts its own cluster in a temp dir; the package's default cluster is never used) and kubectl for the
# Kubernetes manifest check (.ci/k8s_check.py).
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || missing+=(postgresql)
command -v kubectl > /dev/null || missing+=(kubernetes-client)
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # policy-rc.d: do not start the package's own cluster; the tests run theirs.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  rm -f /usr/sbin/policy-rc.d
fi
ls -d /usr/lib/postgresql/*/bin | tail -1
kubectl version --client 2>/dev/null | head -1
