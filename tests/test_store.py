"""The SQLite store: schema and migrations, questions/votes/demo audit, retention, threads, crashes, failures.

Failure cases and how they are produced (tests run as root, where chmod 0444 does not stop writes):
- read-only database: for real, a child bot whose database directory is a read-only bind mount in a
  private mount namespace (EROFS; chmod 0444 when not root) in
  test_a_read_only_database_file_does_not_stop_answers, and at the SQLite layer with `PRAGMA query_only`
  on the store's open connection (the file turning read-only under a running bot);
- disk full: for real, a bot whose database sits on a 1 MiB tmpfs (private mount namespace) that fills up
  mid-run (test_a_full_disk_does_not_stop_answers), and `PRAGMA max_page_count` pinned to the current size,
  so SQLite itself returns SQLITE_FULL;
- locked: a second connection holding an EXCLUSIVE transaction;
- unopenable: the database path is a directory.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import store as store_module
from bot.knowledge import Entry
from bot.matcher import Answer, Match
from bot.store import SCHEMA_VERSION, Store

REPO = Path(__file__).resolve().parent.parent


def entry(entry_id: str) -> Entry:
    return Entry(
        id=entry_id,
        title=entry_id,
        answer="",
        commands=(),
        related=(),
        demo=None,
        keywords=(),
        questions=(),
        path="knowledge/x.yaml",
        line=1,
    )


def answer(text: str, outcome: str, entry_id: str | None = None, score: float = 0.0) -> Answer:
    if outcome == "answered":
        return Answer(text, "answered", Match(entry(entry_id or "x"), score), ())
    if outcome == "suggested":
        return Answer(text, "suggested", None, (Match(entry(entry_id or "x"), score),))
    return Answer(text, outcome, None, ())


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_new_database_uses_wal_and_the_current_schema_version(tmp_path):
    db = tmp_path / "dockbot.db"
    store = Store.open(db)
    assert store.schema_version() == SCHEMA_VERSION
    conn = raw(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"schema_version", "questions", "votes", "demo_runs"} <= tables
    store.close()


def test_a_missing_directory_is_logged_and_not_created(tmp_path, caplog):
    db = tmp_path / "missing" / "dockbot.db"
    store = Store.open(db)
    store.record_question(answer("볼륨이 뭐야", "answered", "volume-named", 0.9), user="U1", channel="C1")
    store.close()
    assert not db.parent.exists()
    assert "does not exist" in caplog.text


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path, caplog):
    db = tmp_path / "dockbot.db"
    first = Store.open(db)
    first.record_question(answer("볼륨이 뭐야", "answered", "volume-named", 0.9), user="U1", channel="C1")
    first.close()
    with caplog.at_level(logging.INFO, logger="bot.store"):
        second = Store.open(db)
    assert not [r for r in caplog.records if "migrated" in r.getMessage()]
    assert [q.text for q in second.questions()] == ["볼륨이 뭐야"]


def test_a_failing_migration_leaves_the_previous_version_and_the_bot_running(tmp_path, monkeypatch, caplog):
    db = tmp_path / "dockbot.db"
    Store.open(db).close()
    broken = (*store_module.MIGRATIONS, ("CREATE TABLE extra (x INTEGER)", "THIS IS NOT SQL"))
    monkeypatch.setattr(store_module, "MIGRATIONS", broken)
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", len(broken))
    with caplog.at_level(logging.WARNING, logger="bot.store"):
        store = Store.open(db)
        # The store is unavailable but answering code calling it does not notice.
        assert store.record_question(answer("q", "no_answer"), user="U1") is None
    assert any("unavailable" in r.getMessage() for r in caplog.records)
    conn = raw(db)
    assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "extra" not in tables  # the half-applied migration was rolled back


def test_every_question_is_recorded_with_its_outcome_entry_and_score(tmp_path):
    store = Store.open(tmp_path / "dockbot.db")
    store.record_question(
        answer("명명된 볼륨?", "answered", "volume-named", 0.91), user="U1", channel="C1", source="slack"
    )
    store.record_question(answer("볼륨 백업", "suggested", "volume-named", 0.42), user="U2", channel="D2")
    store.record_question(answer("점심 뭐 먹지", "no_answer"), user="U3", channel="C1", source="chat")
    rows = {q.text: q for q in store.questions()}
    assert rows["명명된 볼륨?"].outcome == "answered"
    assert rows["명명된 볼륨?"].entry_id == "volume-named"
    assert rows["명명된 볼륨?"].score == pytest.approx(0.91)
    assert (rows["명명된 볼륨?"].user, rows["명명된 볼륨?"].channel, rows["명명된 볼륨?"].source) == (
        "U1",
        "C1",
        "slack",
    )
    assert (rows["볼륨 백업"].outcome, rows["볼륨 백업"].entry_id) == ("suggested", "volume-named")
    assert (rows["점심 뭐 먹지"].entry_id, rows["점심 뭐 먹지"].score) == (None, None)
    assert datetime.fromisoformat(rows["점심 뭐 먹지"].asked_at) <= datetime.now(UTC)
    counts = store.outcome_counts()
    assert (counts.total, counts.answered, counts.suggested, counts.no_answer) == (3, 1, 1, 1)
    assert [q.text for q in store.questions(("no_answer", "suggested"))] == ["점심 뭐 먹지", "볼륨 백업"]


def test_a_huge_question_is_stored_clipped(tmp_path):
    store = Store.open(tmp_path / "dockbot.db")
    store.record_question(answer("볼" * 100_000, "no_answer"), user="U1")
    (row,) = store.questions()
    assert len(row.text) == store_module.MAX_TEXT_CHARS + 1


def test_one_vote_per_user_per_answer_and_it_can_change(tmp_path):
    store = Store.open(tmp_path / "dockbot.db")
    ts = "1700000000.000100"
    assert store.record_vote(user="U1", entry_id="volume-named", value=1, message=ts, channel="C1")
    assert store.record_vote(user="U1", entry_id="volume-named", value=-1, message=ts, channel="C1")
    assert store.vote_of(user="U1", entry_id="volume-named", message=ts) == -1
    # Another answer message of the same entry is another vote; without a message, one per entry.
    assert store.record_vote(user="U1", entry_id="volume-named", value=-1, message="1700000001.000200")
    assert store.record_vote(user="U2", entry_id="volume-named", value=1)
    assert store.record_vote(user="U2", entry_id="volume-named", value=1)
    assert store.record_vote(user="U2", entry_id="bind-mount", value=-1)
    assert not store.record_vote(user="U3", entry_id="bind-mount", value=5)  # malformed: ignored
    votes = {v.entry_id: (v.up, v.down) for v in store.votes_by_entry()}
    assert votes == {"volume-named": (1, 2), "bind-mount": (0, 1)}
    assert store.votes_by_entry()[0].entry_id == "volume-named"  # most 👎 first


def test_demo_runs_are_audited(tmp_path):
    store = Store.open(tmp_path / "dockbot.db")
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.record_demo(
        user="U1", channel="C1", scenario="volumes", ok=True, duration_s=4.5, started_at=started
    )
    store.record_demo(
        user="U2", channel="C2", scenario="volumes", ok=False, duration_s=30.0, error="step 2 timed out"
    )
    store.record_demo(user="U1", channel="C1", scenario="network", ok=True, duration_s=3.0)
    runs = store.demo_runs()
    assert runs[-1] == {
        "started_at": "2026-01-02T03:04:05.000+00:00",
        "user_id": "U1",
        "channel": "C1",
        "scenario": "volumes",
        "ok": 1,
        "duration_s": 4.5,
        "error": None,
    }
    tallies = {t.scenario: t for t in store.demo_tallies()}
    assert (tallies["volumes"].runs, tallies["volumes"].failures) == (2, 1)
    assert tallies["volumes"].failure_rate == 0.5
    assert tallies["volumes"].last_error == "step 2 timed out"
    assert tallies["volumes"].avg_duration_s == pytest.approx(17.25)
    assert tallies["network"].failure_rate == 0.0


def test_retention_forgets_old_question_texts_but_keeps_counts(tmp_path):
    now = datetime(2026, 6, 1, tzinfo=UTC)
    clock = {"now": now - timedelta(days=100)}
    store = Store.open(tmp_path / "dockbot.db", retention_days=90, clock=lambda: clock["now"])
    store.record_question(answer("오래된 질문", "no_answer"), user="U1")
    clock["now"] = now - timedelta(days=10)
    store.record_question(answer("최근 질문", "no_answer"), user="U1")
    clock["now"] = now
    assert store.prune() == 1
    assert [q.text for q in store.questions()] == ["최근 질문"]
    assert store.outcome_counts().no_answer == 2
    assert store.prune() == 0


def test_threads_writing_at_once_lose_nothing(tmp_path):
    store = Store.open(tmp_path / "dockbot.db")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                store.record_question(answer(f"질문 {n}-{i}", "no_answer"), user=f"U{n}")
                vote = 1 if i % 2 else -1
                store.record_vote(user=f"U{n}", entry_id="volume-named", value=vote, message="m")
                store.record_demo(user=f"U{n}", channel="C", scenario="volumes", ok=True, duration_s=0.1)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.outcome_counts().total == 800
    assert sum(t.runs for t in store.demo_tallies()) == 800
    assert sum(v.up + v.down for v in store.votes_by_entry()) == 8  # one changeable vote per user


WRITER = textwrap.dedent(
    """
    import sys
    from bot.store import Store
    from tests.test_store import answer
    store = Store.open(sys.argv[1])
    i = 0
    while True:
        i += 1
        store.record_question(answer(f"질문 {i} " + "x" * (i % 500), "no_answer"), user="U1", channel="C1")
        store.record_vote(user=f"U{i % 50}", entry_id="volume-named", value=1 if i % 3 else -1, message="m")
        store.record_demo(user="U1", channel="C1", scenario="volumes", ok=i % 4 != 0, duration_s=i / 10)
        if i == 20:
            print("writing", flush=True)
    """
)


def test_sigkill_during_writes_leaves_a_consistent_database(tmp_path, spawn):
    db = tmp_path / "dockbot.db"
    observed = 0
    for round_ in range(4):
        child = spawn([sys.executable, "-c", WRITER, str(db)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "writing"
        # Read committed rows from another connection while the child writes, then kill it mid-stream.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with raw(db) as conn:
                count = conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
            if count >= observed + 200:
                break
        time.sleep(0.01 * round_)  # vary the moment of the kill
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        conn = raw(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        now = conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
        assert now >= count >= observed  # nothing committed was lost
        # Every question row is whole: text, outcome and user all written by the same transaction.
        broken = "text IS NULL OR outcome != 'no_answer' OR user_id != 'U1'"
        assert conn.execute(f"SELECT COUNT(*) FROM questions WHERE {broken}").fetchone()[0] == 0
        conn.close()
        observed = now
    store = Store.open(db)
    assert store.schema_version() == SCHEMA_VERSION
    assert store.record_question(answer("재시작 후", "no_answer"), user="U9") is not None


def test_read_only_database_under_a_running_store_is_logged_not_raised(tmp_path, caplog):
    store = Store.open(tmp_path / "dockbot.db")
    store.record_question(answer("before", "no_answer"), user="U1")
    assert store._conn is not None
    # SQLite now refuses writes: "attempt to write a readonly database".
    store._conn.execute("PRAGMA query_only = ON")
    with caplog.at_level(logging.WARNING, logger="bot.store"):
        for _ in range(5):
            assert store.record_question(answer("during", "no_answer"), user="U1") is None
        assert store.record_vote(user="U1", entry_id="e", value=1) is False
        assert store.record_demo(user="U1", channel="C", scenario="volumes", ok=True, duration_s=1) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("readonly" in w for w in warnings)
    assert len(warnings) <= 3  # logged once per kind of failure, not once per question
    assert [q.text for q in store.questions()] == ["before"]  # reads still work
    store._conn.execute("PRAGMA query_only = OFF")
    assert store.record_question(answer("after", "no_answer"), user="U1") is not None


def test_disk_full_is_logged_not_raised(tmp_path, caplog):
    store = Store.open(tmp_path / "dockbot.db")
    assert store._conn is not None
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers SQLITE_FULL
    with caplog.at_level(logging.WARNING, logger="bot.store"):
        results = [store.record_question(answer("가" * 1500, "no_answer"), user="U1") for _ in range(20)]
    assert None in results
    assert any("full" in r.getMessage() for r in caplog.records)
    assert raw(tmp_path / "dockbot.db").execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_locked_database_is_logged_not_raised(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 100)
    db = tmp_path / "dockbot.db"
    store = Store.open(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger="bot.store"):
            assert store.record_question(answer("q", "no_answer"), user="U1") is None
        assert any("locked" in r.getMessage() for r in caplog.records)
    finally:
        other.execute("ROLLBACK")
    assert store.record_question(answer("q", "no_answer"), user="U1") is not None


def test_an_unopenable_path_gives_an_inert_store(tmp_path, caplog):
    (tmp_path / "dir.db").mkdir()
    with caplog.at_level(logging.WARNING, logger="bot.store"):
        store = Store.open(tmp_path / "dir.db")
        assert store.record_question(answer("q", "no_answer"), user="U1") is None
        assert store.record_vote(user="U1", entry_id="e", value=1) is False
        assert store.questions() == []
        assert store.outcome_counts().total == 0
    assert any("unavailable" in r.getMessage() for r in caplog.records)


def test_a_file_that_is_not_a_database_gives_an_inert_store(tmp_path):
    db = tmp_path / "dockbot.db"
    db.write_bytes(os.urandom(8192))
    store = Store.open(db)
    assert store.record_question(answer("q", "no_answer"), user="U1") is None
    assert store.demo_tallies() == []


BRAIN_CHILD = textwrap.dedent(
    """
    import json, logging, sys
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from bot.brain import build_brain
    brain = build_brain(with_demos=False)
    out = []
    for q in sys.argv[1:]:
        a = brain.ask(q, user="U1", channel="C1", source="test")
        out.append([a.outcome, a.match.entry.id if a.match else None])
    out.append(brain.vote(user="U1", entry_id="volume-named", value=1, message="1.2"))
    print(json.dumps(out))
    """
)


def read_only_runner(db_dir: Path) -> tuple[list[str], str]:
    """A command prefix under which `db_dir` is really read-only for the child, and how.

    Root ignores file modes, so as root the child gets a private mount namespace in which db_dir is a
    read-only bind mount (writes fail with EROFS, as on a read-only volume); as another user, chmod does.
    """
    if os.geteuid() != 0:
        for path in db_dir.iterdir():
            path.chmod(0o444)
        db_dir.chmod(0o555)
        return [], "chmod 0444 file in a 0555 directory"
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(
            f"root without mount namespaces (unshare: {probe.stderr.decode().strip()}); "
            "read-only failures are covered at the SQLite layer above"
        )
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
    return ["unshare", "--mount", "--", "sh", "-c", script, str(db_dir)], "read-only bind mount"


def test_a_read_only_database_file_does_not_stop_answers(tmp_path):
    """For real: the bot process cannot write its database file (read-only mount, or chmod when not root)."""
    import json

    db_dir = tmp_path / "db"
    db_dir.mkdir()
    db = db_dir / "dockbot.db"
    store = Store.open(db)
    store.record_question(answer("기존 질문", "no_answer"), user="U0")
    store.close()
    assert sorted(p.name for p in db_dir.iterdir()) == ["dockbot.db"]  # WAL checkpointed on close
    prefix, how = read_only_runner(db_dir)
    env = {**os.environ, "DOCKBOT_DB": str(db), "DOCKBOT_KNOWLEDGE_DIR": str(REPO / "knowledge")}
    env.pop("SLACK_BOT_TOKEN", None)
    try:
        child = subprocess.run(
            [*prefix, sys.executable, "-c", BRAIN_CHILD, "명명된 볼륨이 뭐야?", "점심 뭐 먹지"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        db_dir.chmod(0o755)
    assert child.returncode == 0, f"{how}: {child.stderr[-3000:]}"
    outcomes = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcomes[0] == ["answered", "volume-named"]
    assert outcomes[1][0] == "no_answer"
    # The vote was accepted for the writer thread (the reply never waits for the database); it could not
    # be stored, which the log says, and nothing broke.
    assert outcomes[2] is True
    assert "unavailable" in child.stderr, how
    assert "not written at shutdown" in child.stderr, how
    assert "Traceback" not in child.stderr
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert conn.execute("SELECT COUNT(*) FROM questions").fetchone()[0] == 1  # untouched
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


@pytest.mark.docker
def test_a_demo_run_from_slack_lands_in_the_audit_log(docker_client, tmp_path):
    """`/demo volumes` through `dockbot serve` on the real engine: who, where, scenario, result, duration."""
    from slack_harness import DockbotProcess, FakeSlack, SlackSender, command_form, dockbot_env

    db = tmp_path / "dockbot.db"
    fake = FakeSlack().start()
    bot = DockbotProcess(dockbot_env(fake, DOCKBOT_DB=str(db)), tmp_path / "dockbot.log").start()
    try:
        SlackSender(bot.base_url).command(
            command_form(
                "/demo",
                "volumes",
                channel="CAUDIT01",
                user="UAUDIT01",
                response_url=fake.response_url("audit"),
            )
        )
        fake.wait_for(lambda: fake.calls_of("chat.postMessage", "CAUDIT01"), what="the demo message")
        fake.wait_for(
            lambda: [c for c in fake.calls_of("chat.update", "CAUDIT01") if "결론" in c.all_text],
            timeout=120,
            what="the final demo result",
        )
        store = Store.open(db)
        runs = []
        deadline = time.monotonic() + 30
        while not runs and time.monotonic() < deadline:  # the audit row is written as the run finishes
            runs = store.demo_runs()
            time.sleep(0.1)
    finally:
        bot.stop()
        fake.stop()
    (run,) = runs
    assert (run["user_id"], run["channel"], run["scenario"], run["ok"], run["error"]) == (
        "UAUDIT01",
        "CAUDIT01",
        "volumes",
        1,
        None,
    )
    assert 0 < run["duration_s"] < 120
    assert datetime.fromisoformat(run["started_at"]) <= datetime.now(UTC)


# Every code point, surrogates included (JSON from Slack may carry a lone "\ud800").
ANY_CHAR = st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", "\x00", "\u202e"])
ANY_TEXT = st.text(ANY_CHAR, max_size=3000) | st.just("<!channel> 볼륨?")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(text="a\ud800b\x00\u202e" + "가" * 2500, user="U\udc00", channel="C1")
@given(text=ANY_TEXT, user=st.text(ANY_CHAR, max_size=40), channel=st.text(max_size=40))
def test_any_text_is_stored_never_raises(tmp_path, text, user, channel):
    """Whatever a user types (NUL, RTL marks, lone surrogates from JSON, 3,000 chars) is stored or clipped."""
    store = STORES.setdefault(tmp_path, Store.open(tmp_path / "any.db"))
    row_id = store.record_question(answer(text, "no_answer"), user=user, channel=channel)
    assert row_id is not None
    assert store.record_vote(user=user or "U", entry_id="volume-named", value=1, message=text[:50])
    stored = store.questions(limit=1)[0]
    assert stored.text.replace("\ufffd", "") == store_module._clip(text).replace("\ufffd", "")
    assert len(stored.text) <= store_module.MAX_TEXT_CHARS + 1


STORES: dict[Path, Store] = {}


DISK_FULL_CHILD = textwrap.dedent(
    """
    import json, logging, os, sys
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("bot.store").setLevel(logging.INFO)
    from bot.brain import build_brain
    brain = build_brain(with_demos=False)
    before = brain.ask("명명된 볼륨이 뭐야?", user="U1", channel="C1").outcome
    # Another process fills the disk: write until ENOSPC.
    filler = os.path.join(os.path.dirname(os.environ["DOCKBOT_DB"]), "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"x" * 65536)
                f.flush()
        except OSError as exc:
            print("filled:", exc, file=sys.stderr)
    during = [brain.ask("명명된 볼륨이 뭐야?", user="U1", channel="C1").outcome for _ in range(20)]
    os.remove(filler)
    after = brain.ask("컨테이너 지웠더니 DB 데이터가 날아갔어요", user="U1", channel="C1").outcome
    brain.store.flush(30)  # the writer's next retry lands now that there is space (reads do not wait for it)
    stored = brain.store.outcome_counts().total
    integrity = brain.store._conn.execute("PRAGMA integrity_check").fetchone()[0]
    print(json.dumps({"before": before, "during": during, "after": after, "stored": stored, "ok": integrity}))
    """
)


def test_a_full_disk_does_not_stop_answers(tmp_path):
    """For real: the database lives on a 1 MiB tmpfs (private mount namespace) that fills up mid-run."""
    import json

    if os.geteuid() != 0 or subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode:
        pytest.skip("needs root with mount namespaces to mount a small tmpfs; SQLITE_FULL is covered above")
    mount = tmp_path / "small"
    mount.mkdir()
    db = mount / "dockbot.db"
    script = 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"'
    env = {**os.environ, "DOCKBOT_DB": str(db), "DOCKBOT_KNOWLEDGE_DIR": str(REPO / "knowledge")}
    env.pop("SLACK_BOT_TOKEN", None)
    child = subprocess.run(
        ["unshare", "--mount", "--", "sh", "-c", script, str(mount), sys.executable, "-c", DISK_FULL_CHILD],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    # Every question answered; those asked with space left are stored; the database is consistent.
    asked = (result["before"], result["during"], result["after"])
    assert asked == ("answered", ["answered"] * 20, "answered")
    assert result["stored"] >= 2 and result["ok"] == "ok"
    assert "No space left on device" in child.stderr  # the disk really was full
    assert "full" in child.stderr and "unavailable" in child.stderr  # the store said so, once
    assert "works again" in child.stderr  # and recovered when space came back
    assert "Traceback" not in child.stderr


def test_the_database_and_its_wal_and_shm_files_are_private(tmp_path):
    """Issue 10 finding 8: question texts and user ids are readable by the bot's user only."""
    db = tmp_path / "dockbot.db"
    store = Store.open(db)
    store.record_question(answer("볼륨이 뭐야", "no_answer"), user="U1")
    try:
        files = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
        assert {"dockbot.db", "dockbot.db-wal", "dockbot.db-shm"} <= set(files)
        assert set(files.values()) == {0o600}, files
    finally:
        store.close()
    old = tmp_path / "old.db"  # written by an earlier dockbot with the default umask
    Store.open(old).close()
    old.chmod(0o644)
    Store.open(old).close()
    assert old.stat().st_mode & 0o777 == 0o600


def test_records_submitted_while_another_process_holds_the_lock_are_written_after_it(tmp_path):
    """Submitting never waits for the database; the writer thread retries until the lock is free."""
    db = tmp_path / "dockbot.db"
    store = Store.open(db, background_writes=True)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert all(store.submit_question(answer(f"질문 {n}", "no_answer"), user="U1") for n in range(50))
        assert store.submit_vote(user="U1", entry_id="volume-named", value=1, message="m")
        assert store.submit_demo(user="U1", channel="C", scenario="volumes", ok=True, duration_s=1.0)
        assert not store.flush(0.5)  # still queued: the lock is held
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.flush(30)
    assert store.outcome_counts().total == 50
    assert store.vote_of(user="U1", entry_id="volume-named", message="m") == 1
    assert sum(t.runs for t in store.demo_tallies()) == 1
    store.close()


def test_reads_made_for_a_reply_do_not_wait_for_writes_that_keep_failing(tmp_path):
    """While another process holds the write lock, queued records wait; a thread's topic is still read
    (the conversation's own copy covers this process's writes) and stats read what is already written."""
    from bot.conversation import Conversations

    db = tmp_path / "dockbot.db"
    store = Store.open(db, background_writes=True)
    store.submit_question(answer("질문 0", "no_answer"), user="U1")
    assert store.flush(30)
    conversations = Conversations(store)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        conversations.remember("C1:1.0", "volume-named", "볼륨이 뭐야")
        store.submit_question(answer("질문 1", "no_answer"), user="U1")
        deadline = time.monotonic() + 30
        while store.flush(0.05) or not store.writes_retrying:
            assert time.monotonic() < deadline, "the writer never retried"
        assert conversations.topic("C1:1.0").entry_id == "volume-named"  # from this process's copy
        assert store.recall_topic("C1:1.0", max_age_s=60) is None  # not written yet, and not waited for
        assert store.outcome_counts().total == 1  # what is written, without waiting for the queue
        assert not store.flush(0.2)  # still queued: nothing was dropped
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.flush(30)
    assert store.recall_topic("C1:1.0", max_age_s=60).entry_id == "volume-named"
    assert store.outcome_counts().total == 2
    store.close()
