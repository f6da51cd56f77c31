"""How the example in docs/admin.md was produced: real questions through the real Brain into a fresh SQLite
store, real 👍/👎, and real demo runs on the Docker engine (one with a broken step deadline, so it fails).

    DOCKBOT_DB=/tmp/dockbot-example.db python docs/admin_example_db.py
    DOCKBOT_DB=/tmp/dockbot-example.db dockbot stats [--json] [--suggest]
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bot.brain import build_brain
from bot.config import Settings

# (question, how many people asked it), in the styles the team types.
QUESTIONS = [
    ("명명된 볼륨이 뭐야?", 3),
    ("컨테이너 지웠더니 DB 데이터가 날아갔어요", 2),
    ("docker compose depends_on 이 뭐임", 2),
    ("k8s 파드가 뭐예요", 2),
    ("바인드 마운트랑 볼륨 차이", 1),
    # gaps: nothing in the knowledge base covers these yet
    ("헬름 차트가 뭐야?", 3),
    ("헬름 차트 뭔가요", 2),
    ("헬름 차트 설명 좀", 1),
    ("볼륨 백업 어떻게 해요", 2),
    ("볼륨 백업하는 방법 알려줘", 1),
    ("docker volume 백업 어케함", 1),
    ("도커 이미지 용량 줄이는 법", 2),
    ("이미지 크기 줄이려면 어떻게 해", 1),
    ("docker logs 명령어", 2),
    ("컨테이너 로그 어디서 봐요", 1),
    ("포트 포워딩 어떻게 해요", 1),
    ("점심 뭐 먹지", 1),
    ("", 1),
]
VOTES = [
    ("U01", "volume-named", 1),
    ("U02", "volume-named", 1),
    ("U03", "compose-depends-on", -1),
    ("U04", "compose-depends-on", -1),
    ("U05", "k8s-pod", -1),
    ("U03", "compose-depends-on", 1),
]


def main() -> int:
    settings = Settings.from_env()
    if settings.db_path is None:
        print("set DOCKBOT_DB", file=sys.stderr)
        return 2
    for suffix in ("", "-wal", "-shm"):
        Path(f"{settings.db_path}{suffix}").unlink(missing_ok=True)
    brain = build_brain(settings, with_demos=True)
    n = 0
    for text, times in QUESTIONS:
        for _ in range(times):
            n += 1
            answer = brain.ask(text, user=f"U{n % 7:02d}", channel="CDOCKER01", source="example")
            print(f"{answer.outcome:10} {answer.match.entry.id if answer.match else '-':28} {text}")
    for i, (user, entry_id, value) in enumerate(VOTES):
        brain.vote(
            user=user,
            entry_id=entry_id,
            value=value,
            message=f"CDOCKER01:1710000000.{i % 5:06d}",
            channel="CDOCKER01",
        )
    for name in ("volumes", "network", "volumes", "stateless"):
        run = brain.demos.run(name, user="U01", channel="CONBOARD1")
        brain.record_demo(run, user="U01", channel="CONBOARD1")
        print(f"demo {name}: ok={run.ok} {run.duration_s:.1f}s")
    # A scenario an admin mistyped (a 1 ms step deadline): a real failed run, on a private copy.
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "knowledge"
        shutil.copytree(settings.knowledge_dir, copy)
        scenario = copy / "demos" / "stateless.yaml"
        text = scenario.read_text(encoding="utf-8")
        scenario.write_text(text.replace("\nsteps:", "\nstep_timeout_s: 0.001\nsteps:", 1), encoding="utf-8")
        broken = build_brain(dataclasses.replace(settings, knowledge_dir=copy), with_store=False)
        run = broken.demos.run("stateless", user="U02", channel="CONBOARD1")
        brain.record_demo(run, user="U02", channel="CONBOARD1")
        print(f"demo stateless (1 ms deadline): ok={run.ok} error={run.error}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DOCKBOT_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
