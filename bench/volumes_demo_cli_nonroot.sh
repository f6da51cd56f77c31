#!/bin/sh
# The `volumes` demo's steps as a docker CLI script with the WHOLE lockdown the runner applies, non-root
# included: --user 65534, so each empty volume's root is handed to that uid before the container starts
# (`docker cp` of a one-entry tar: the archive API call the runner makes), as the runner does.
# HANDOVER_TAR: that tar (bench/bench_demo.py writes it once, outside the timing); empty when the image
# ships /data and /anon owned by 65534 (demo-images/Dockerfile): an empty volume then takes that owner
# (Docker's volume copy-up) and no `docker cp` is needed.
set -e
image="${DOCKBOT_DEMO_IMAGE:-busybox:1.36}"
id="bench-$$-$(date +%s%N)"
lock="--cap-drop ALL --security-opt no-new-privileges --read-only --tmpfs /tmp:rw,size=16m,mode=1777 \
--pids-limit 64 --memory 64m --memory-swap 64m --cpus 0.5 --init --ulimit nofile=256:256 \
--log-opt max-size=1m --log-opt max-file=1 --network none --user 65534:65534 --label dockbot.bench=$id"
docker volume create --label "dockbot.bench=$id" "$id-data" >/dev/null
docker create --name "$id-writer" $lock -v "$id-data:/data" -v /anon "$image" \
  sh -c 'echo 명명된 볼륨의 메모 > /data/note.txt && echo 익명 볼륨의 메모 > /anon/note.txt && cat /data/note.txt /anon/note.txt' >/dev/null
if [ -n "${HANDOVER_TAR:-}" ]; then
  docker cp - "$id-writer:/data" < "$HANDOVER_TAR"
  docker cp - "$id-writer:/anon" < "$HANDOVER_TAR"
fi
docker start -a "$id-writer"
docker volume ls -q --filter "name=$id"
docker rm -v "$id-writer" >/dev/null
docker volume ls -q --filter "name=$id"
docker create --name "$id-reader" $lock -v "$id-data:/data" -v /anon "$image" \
  sh -c 'cat /data/note.txt; if [ -e /anon/note.txt ]; then cat /anon/note.txt; else echo 익명 볼륨의 파일은 없음; fi' >/dev/null
if [ -n "${HANDOVER_TAR:-}" ]; then docker cp - "$id-reader:/anon" < "$HANDOVER_TAR"; fi
docker start -a "$id-reader"
docker rm -v "$id-reader" >/dev/null
docker volume rm "$id-data" >/dev/null
docker volume ls -q --filter "name=$id"
