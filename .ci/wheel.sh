#!/usr/bin/env bash
# The package installs anywhere (issue 13): build the wheel, install it in a clean venv (no system site
# packages, dependencies from the package index), and from a directory outside the repo check that it starts,
# answers from the starter knowledge shipped as package data, and validates it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python -m pip wheel -q --no-deps -w "$work/dist" "$repo"
wheel=("$work"/dist/dockbot-*.whl)
if unzip -l "${wheel[0]}" | grep -q "starter_knowledge/drafts/"; then
  echo "wheel.sh: knowledge/drafts/ must not be shipped" >&2
  exit 1
fi
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q "${wheel[0]}"

cd "$work"   # outside the repo: nothing may come from the source tree
unset DOCKBOT_KNOWLEDGE_DIR DOCKBOT_DB
export XDG_CACHE_HOME="$work/cache"
bin="$work/venv/bin"
question="명명된 볼륨이 뭐야?"
"$bin/dockbot" --version
"$bin/dockbot" validate
"$bin/dockbot" ask --json "$question" | "$bin/python" -c '
import json, sys
reply = json.load(sys.stdin)
assert reply.get("outcome") == "answered", reply
print("wheel.sh: ask answered with", reply["match"]["id"])'
chat="$(printf '%s\n' "$question" | "$bin/dockbot" chat)"
echo "$chat" | tail -n 5
grep -q "^\[명명된 볼륨" <<<"$chat" || { echo "wheel.sh: chat did not answer" >&2; exit 1; }
echo "wheel.sh: the wheel installs, starts and answers"
