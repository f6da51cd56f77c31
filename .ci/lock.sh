#!/usr/bin/env bash
# The image's dependency lock: requirements.lock pins every runtime dependency of pyproject.toml (and theirs)
# with hashes; the Dockerfile installs it with `pip install --require-hashes`, so a build gets exactly the
# reviewed files.
#   bash .ci/lock.sh update   # after changing dependencies in pyproject.toml (keeps existing pins where it can)
#   bash .ci/lock.sh check    # CI: fails when the lock no longer matches pyproject.toml
# uv keeps the versions already pinned in the output file, so `check` re-resolves with the committed lock as
# the starting point: it differs only when pyproject.toml asks for something the lock does not satisfy.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements.lock
# The build system's own requirements (setuptools) are locked too: the image builds the project with
# --no-build-isolation, so nothing unpinned is fetched for the build either.
build_in=$(mktemp -d)/build-system.in
python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
  >"$build_in"
compile() {  # $1: output file (read for preferred pins, then rewritten)
  uv pip compile pyproject.toml "$build_in" --universal --python-version 3.11 --generate-hashes --quiet \
    --no-annotate --custom-compile-command "bash .ci/lock.sh update" -o "$1"
}
command -v uv >/dev/null 2>&1 || pip install -q uv
case "${1:-check}" in
  update) compile "$lock"; echo "lock: $lock updated ($(grep -c '==' "$lock") pins)" ;;
  check)
    fresh=$(mktemp)
    trap 'rm -f "$fresh" "$build_in"' EXIT
    cp "$lock" "$fresh"
    compile "$fresh"
    if ! diff -u "$lock" "$fresh"; then
      echo "lock: $lock is stale for pyproject.toml; run: bash .ci/lock.sh update" >&2
      exit 1
    fi
    echo "lock: $lock matches pyproject.toml ($(grep -c '==' "$lock") pins)"
    ;;
  *) echo "usage: $0 update|check" >&2; exit 2 ;;
esac
