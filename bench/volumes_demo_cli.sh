#!/bin/sh
# The `volumes` demo's steps as a plain docker CLI script, with the same lockdown flags the runner applies
# (bench/bench_demo.py runs this alternately with `dockbot demo volumes`). Names are unique per run.
set -e
image="${DOCKBOT_DEMO_IMAGE:-busybox:1.36}"
id="bench-$$-$(date +%s%N)"
lock="--cap-drop ALL --security-opt no-new-privileges --read-only --tmpfs /tmp:rw,size=16m,mode=1777 \
--pids-limit 64 --memory 64m --memory-swap 64m --cpus 0.5 --init --ulimit nofile=256:256 \
--log-opt max-size=1m --log-opt max-file=1 --network none --label dockbot.bench=$id"
docker volume create --label "dockbot.bench=$id" "$id-data" >/dev/null
docker run --name "$id-writer" $lock -v "$id-data:/data" -v /anon "$image" \
  sh -c 'echo 명명된 볼륨의 메모 > /data/note.txt && echo 익명 볼륨의 메모 > /anon/note.txt && cat /data/note.txt /anon/note.txt'
docker volume ls -q --filter "name=$id"
docker rm -v "$id-writer" >/dev/null
docker volume ls -q --filter "name=$id"
docker run --rm $lock -v "$id-data:/data" -v /anon "$image" \
  sh -c 'cat /data/note.txt; if [ -e /anon/note.txt ]; then cat /anon/note.txt; else echo 익명 볼륨의 파일은 없음; fi'
docker volume rm "$id-data" >/dev/null
docker volume ls -q --filter "name=$id"
