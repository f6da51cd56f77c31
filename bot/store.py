"""The bot's memory: every question asked, feedback votes, the demo audit log, and the state several
replicas share (event ids already answered, demo slots with leases).

SQLite (a path, the embedded default) is this module; PostgreSQL (DOCKBOT_DB=postgresql://...) is
bot/store_postgres.py, a small dialect layer over the same SQL and the same MIGRATIONS.

The store is the admins' loop (what to write next), never part of answering: every public method logs and
swallows its own failures (disk full, read-only file, locked database, a file that is not a database), so
a broken store degrades stats, not answers. When the database cannot be opened at all the store keeps
trying to reopen it, at most once per REOPEN_AFTER_S.

Crash safety: WAL journal and one transaction per write. A process killed mid-write (SIGKILL) leaves the
last committed state; SQLite rolls the partial transaction back on the next open.

Answers never wait for a write: Brain uses the `submit_*` methods, which hand the record to a RecordWriter
(bot/record_writer.py, one thread, a bounded queue, retries). Reads wait a moment for what is pending.

Files: the database, its WAL and its shared-memory file are 0600 (question texts and user ids).

Thread safety: one connection guarded by a lock. Bolt runs listeners on a thread pool and demos finish on
their own workers; writes are a few hundred microseconds, so one serialised connection is simpler and
safer than a pool.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from bot.config import DB_URL_SCHEMES
from bot.conversation_topic import Topic
from bot.record_writer import RecordWriter

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds before retrying a database that could not be opened, and between retention sweeps.
REOPEN_AFTER_S = 30.0
PRUNE_EVERY_S = 3600.0
# How long a writer waits for another process holding the write lock (e.g. `dockbot stats` reading
# while `dockbot serve` writes) before giving up; the failure is then logged and swallowed.
BUSY_TIMEOUT_MS = 2000
# How long a read (stats) waits for records still queued for writing, so an admin sees what was just asked.
# It does not wait while the writer retries a failed write (a full disk, a lock held by another process):
# reads made for a reply would otherwise hold up listeners until Slack's 3-second ack window closes.
READ_WAITS_FOR_PENDING_S = 2.0
# Delivered event keys are kept this long (Slack's last retry comes about 5 minutes after the first try).
EVENT_KEY_TTL_S = 15 * 60
PRUNE_EVENT_KEYS_EVERY_S = 60.0
# Question texts are capped: a 100,000-character paste is kept as evidence, not in full.
MAX_TEXT_CHARS = 2000

VoteValue = Literal[1, -1]

# Each migration is a list of statements applied in one transaction together with the version bump,
# so a crash mid-migration leaves the previous version intact. Append; never edit a released one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE questions (
            id INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL,          -- ISO 8601 UTC, sorts as text
            source TEXT NOT NULL,            -- slack | cli | chat | ...
            channel TEXT NOT NULL,
            user_id TEXT NOT NULL,
            text TEXT,                       -- NULL once pruned by retention
            outcome TEXT NOT NULL,           -- answered | suggested | no_answer | invalid
            entry_id TEXT,                   -- the answer, or the best alternative when suggested
            score REAL
        )""",
        "CREATE INDEX questions_asked_at ON questions(asked_at)",
        "CREATE INDEX questions_outcome ON questions(outcome, asked_at)",
        """CREATE TABLE votes (
            user_id TEXT NOT NULL,
            answer_ref TEXT NOT NULL,        -- the answer message (Slack ts) or, without one, 'entry:<id>'
            entry_id TEXT NOT NULL,
            value INTEGER NOT NULL CHECK (value IN (-1, 1)),
            channel TEXT NOT NULL,
            voted_at TEXT NOT NULL,
            PRIMARY KEY (user_id, answer_ref)
        )""",
        "CREATE INDEX votes_entry ON votes(entry_id)",
        """CREATE TABLE demo_runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            user_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            scenario TEXT NOT NULL,
            ok INTEGER NOT NULL,
            duration_s REAL NOT NULL,
            error TEXT
        )""",
        "CREATE INDEX demo_runs_scenario ON demo_runs(scenario, started_at)",
    ),
    (
        # Several replicas: each Slack delivery (event id, channel+message ts) is answered by one of them.
        """CREATE TABLE event_keys (
            key TEXT PRIMARY KEY,
            seen_at REAL NOT NULL            -- unix seconds
        )""",
        "CREATE INDEX event_keys_seen_at ON event_keys(seen_at)",
        # Demo slots: one row per run in progress on any replica; the owner renews lease_until while it runs.
        """CREATE TABLE demo_slots (
            run_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,              -- docker | kubernetes | ...: the cap is per kind
            user_id TEXT NOT NULL,
            owner TEXT NOT NULL,             -- the replica holding the lease (host:pid:random)
            host TEXT NOT NULL,              -- where the run's objects live (a DOCKER_HOST entry, a cluster)
            acquired_at REAL NOT NULL,
            lease_until REAL NOT NULL        -- unix seconds; past it, any replica may sweep the run
        )""",
        "CREATE INDEX demo_slots_lease ON demo_slots(lease_until)",
    ),
    (
        # Follow-ups (bot/conversation.py): the topic of each conversation (Slack thread, DM, chat session).
        """CREATE TABLE conversation_topics (
            thread_key TEXT PRIMARY KEY,     -- slack:<channel>:<thread ts>, slack:<dm>, chat:<session>
            entry_id TEXT NOT NULL,          -- the last entry answered in the conversation
            question TEXT NOT NULL,          -- the question that led there
            updated_at REAL NOT NULL,        -- unix seconds; older than the TTL is forgotten
            -- A question still waiting for its entry (bot/suggestions.py): it got suggestions or a 👎.
            pending_question TEXT NOT NULL DEFAULT '',
            pending_reason TEXT NOT NULL DEFAULT ''  -- picked | after_downvote
        )""",
        "CREATE INDEX conversation_topics_updated ON conversation_topics(updated_at)",
        # Ask a human (bot/experts.py): a question posted to the experts' channel and where it came from.
        """CREATE TABLE expert_requests (
            id INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL,
            user_id TEXT NOT NULL,           -- the asker
            channel TEXT NOT NULL,           -- where the question was asked
            thread_ts TEXT NOT NULL,         -- the asker's thread (the pointer back goes there)
            question TEXT NOT NULL,
            expert_channel TEXT NOT NULL,
            expert_ts TEXT NOT NULL,         -- the experts' thread
            pointed_at TEXT,                 -- when the asker's thread got the pointer to the first reply
            replies TEXT NOT NULL DEFAULT '',  -- the experts' replies, one block per reply (for a draft)
            UNIQUE (expert_channel, expert_ts)
        )""",
        # Learning from use (bot/suggestions.py): questions proposed as examples, decided by an admin.
        """CREATE TABLE suggested_examples (
            id INTEGER PRIMARY KEY,
            entry_id TEXT NOT NULL,
            question TEXT NOT NULL,
            reason TEXT NOT NULL,            -- picked | after_downvote | expert
            suggested_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | rejected
            decided_by TEXT,
            decided_at TEXT,
            UNIQUE (entry_id, question)
        )""",
        "CREATE INDEX suggested_examples_status ON suggested_examples(status, suggested_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class _Entry(Protocol):
    @property
    def id(self) -> str: ...


class _Guess(Protocol):
    @property
    def entry(self) -> _Entry: ...

    @property
    def score(self) -> float: ...


class AnsweredQuestion(Protocol):
    """What the store records of a bot.matcher.Answer: a protocol, so the store never imports the matcher
    (which imports the knowledge, which imports the demos, which use the store: a cycle)."""

    @property
    def question(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def match(self) -> _Guess | None: ...

    @property
    def alternatives(self) -> Sequence[_Guess]: ...


@dataclass(frozen=True)
class QuestionRow:
    asked_at: str
    source: str
    channel: str
    user: str
    text: str
    outcome: str
    entry_id: str | None
    score: float | None


@dataclass(frozen=True)
class EntryVotes:
    entry_id: str
    up: int
    down: int


@dataclass(frozen=True)
class DemoTally:
    scenario: str
    runs: int
    failures: int
    avg_duration_s: float
    last_error: str | None

    @property
    def failure_rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class OutcomeCounts:
    total: int = 0
    answered: int = 0
    suggested: int = 0
    no_answer: int = 0
    invalid: int = 0


class Store:
    """The bot's database (SQLite). Open DOCKBOT_DB with `bot.database.open_store(path_or_url)`; every
    method is safe to call from any thread."""

    dialect = "sqlite"

    def __init__(
        self, path: Path | str, *, retention_days: int = 90, clock: Callable[[], datetime] = utc_now
    ):
        self.path = Path(path)
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._next_open_attempt = 0.0
        self._next_prune = 0.0
        self._next_key_prune = 0.0
        self._next_topic_prune = 0.0
        self._failing: str | None = None  # the last failure logged, to log each kind once, not per question
        self._writer: RecordWriter | None = None

    @classmethod
    def open(
        cls,
        target: Path | str,
        *,
        retention_days: int = 90,
        clock: Callable[[], datetime] = utc_now,
        background_writes: bool = False,
    ) -> Store:
        """Open (creating and migrating) the database this class stores in: a SQLite path here, a
        postgresql:// URL for PostgresStore (bot.database.open_store picks the class from DOCKBOT_DB). Never
        raises on a bad file or an unreachable server: the failure is logged and retried. With
        `background_writes`, the `submit_*` methods queue their records for a writer thread instead of
        writing before returning."""
        if cls is Store and isinstance(target, str) and target.startswith(DB_URL_SCHEMES):
            raise ValueError("a database URL is not a SQLite path: open it with bot.database.open_store")
        store = cls(target, retention_days=retention_days, clock=clock)
        store._first_open()
        if background_writes:
            store._writer = RecordWriter(name=f"store-writer-{store.dialect}")
            atexit.register(store._writer.close)  # what is still queued at exit gets a few seconds
        return store

    @property
    def label(self) -> str:
        """The database as logs name it (never a password)."""
        return str(self.path)

    @property
    def shared(self) -> bool:
        """Whether other processes on other hosts see the same rows (replicas coordinate through it)."""
        return False

    # ---- connection management -------------------------------------------------------------------

    def _first_open(self) -> None:
        with self._lock:
            self._connection()

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if time.monotonic() < self._next_open_attempt:
            return None
        try:
            self._conn = self._connect()
        except Exception as exc:  # whatever breaks here must not break the answer
            self._next_open_attempt = time.monotonic() + REOPEN_AFTER_S
            self._failed("open", exc)
            return None
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        # The directory is the admin's to create: a typo in DOCKBOT_DB must not make directories (at the
        # filesystem root, as root) behind their back. Logged by _failed; answering goes on unrecorded.
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"the directory of DOCKBOT_DB {self.path} does not exist")
        _private_file(self.path)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so every write is one explicit
        # transaction that takes the write lock up front (no lock upgrade deadlocks between processes).
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("store %s: journal_mode is %s, not WAL (unusual filesystem?)", self.path, mode)
            # NORMAL is crash-safe in WAL mode (a killed process loses nothing committed); only a power
            # cut may lose the last transactions, never consistency.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
            # SQLite gives the WAL and -shm files the main file's mode; older files may predate 0600.
            for suffix in ("-wal", "-shm"):
                _private_file(Path(f"{self.path}{suffix}"), create=False)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: Any) -> None:
        """SQLite keeps the schema version in `PRAGMA user_version` (in the file header, transactional);
        files written before that kept it in a schema_version table, which is still read and kept current
        so that an older dockbot opening the file sees the right version."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
            user_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            current = max(user_version, int(row[0]) if row else 0)
            for version in self._pending_migrations(current):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute("UPDATE schema_version SET version = ?", (version,))
                conn.execute(f"PRAGMA user_version = {int(version)}")
                log.info("store %s: migrated to schema version %d", self.label, version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _pending_migrations(self, current: int) -> range:
        if current > SCHEMA_VERSION:
            # A newer dockbot wrote this database: keep using the tables we know rather than refusing.
            log.warning(
                "store %s: schema version %d is newer than this dockbot's %d",
                self.label,
                current,
                SCHEMA_VERSION,
            )
        return range(current + 1, SCHEMA_VERSION + 1)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except sqlite3.Error as exc:
                    self._failed("close", exc)
                self._conn = None

    def schema_version(self) -> int | None:
        return self._read(
            "schema_version",
            lambda c: int(c.execute("SELECT version FROM schema_version").fetchone()[0]),
            None,
        )

    # ---- failure handling ---------------------------------------------------------------------------

    def _failed(self, action: str, exc: BaseException) -> None:
        kind = f"{action}: {type(exc).__name__}: {exc}".splitlines()[0]
        if kind != self._failing:
            log.warning("store %s unavailable (%s); answering continues without it", self.label, kind)
            self._failing = kind
        else:
            log.debug("store %s still failing (%s)", self.label, kind)

    def _recovered(self) -> None:
        if self._failing is not None:
            log.info("store %s works again", self.label)
            self._failing = None

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # The connection may already have rolled back by itself (e.g. on SQLITE_FULL).
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _write(self, action: str, work: Callable[[Any], T]) -> T | None:
        with self._lock:
            conn = self._connection()
            if conn is None:
                return None
            try:
                with self._transaction(conn) as tx:
                    result = work(tx)
            except Exception as exc:  # whatever breaks here must not break the answer
                self._failed(action, exc)
                if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
                    self._drop_connection()
                return None
            self._recovered()
            return result

    def _wait_for_pending(self) -> None:
        """Let queued records land first, so a read sees what was just asked (not while writes fail)."""
        if self._writer is not None:
            self._writer.flush(READ_WAITS_FOR_PENDING_S, unless_retrying=True)

    def _read(self, action: str, work: Callable[[Any], T], default: T, *, after_pending: bool = True) -> T:
        if after_pending:
            self._wait_for_pending()
        with self._lock:
            conn = self._connection()
            if conn is None:
                return default
            try:
                return work(conn)
            except Exception as exc:  # whatever breaks here must not break the answer
                self._failed(action, exc)
                return default

    def _lock_table(self, conn: Any, table: str) -> None:
        """Serialise writers of `table` for the rest of the transaction (BEGIN IMMEDIATE already does)."""

    def _drop_connection(self) -> None:
        try:
            if self._conn is not None:
                self._conn.close()
        except sqlite3.Error:
            pass
        self._conn = None
        self._next_open_attempt = time.monotonic() + REOPEN_AFTER_S

    # ---- writes -------------------------------------------------------------------------------------

    def record_question(
        self, answer: AnsweredQuestion, *, user: str = "", channel: str = "", source: str = "cli"
    ) -> int | None:
        """Remember one question and how it was answered. Returns its row id, or None if not stored."""
        try:
            entry_id, score = _best_guess(answer)
            text = getattr(answer, "question", "") or ""
            outcome = str(getattr(answer, "outcome", "") or "")
        except Exception as exc:  # an unexpected answer shape must not stop the reply either
            self._failed("record_question", exc)
            return None
        return self._insert_question(
            self._clock(),
            source=source,
            channel=channel,
            user=user,
            text=text,
            outcome=outcome,
            entry_id=entry_id,
            score=score,
        )

    def _insert_question(
        self,
        asked_at: datetime,
        *,
        source: str,
        channel: str,
        user: str,
        text: str,
        outcome: str,
        entry_id: str | None,
        score: float | None,
    ) -> int | None:
        now = iso(asked_at)
        text = _clip(text)

        def insert(conn: Any) -> int:
            row = conn.execute(
                "INSERT INTO questions (asked_at, source, channel, user_id, text, outcome, entry_id, score)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (now, _clip(source), _clip(channel), _clip(user), text, outcome, entry_id, score),
            ).fetchone()
            return int(row[0])

        row_id = self._write("record_question", insert)
        self._prune_if_due()
        return row_id

    def record_vote(
        self,
        *,
        user: str,
        entry_id: str,
        value: int,
        message: str = "",
        channel: str = "",
        at: datetime | None = None,
    ) -> bool:
        """One vote per user per answer message (or per entry without a message); a new vote replaces it."""
        if value not in (1, -1) or not user or not entry_id:
            log.warning("store: ignoring malformed vote (user=%r entry=%r value=%r)", user, entry_id, value)
            return False
        ref = message or f"entry:{entry_id}"
        now = iso(at or self._clock())

        def upsert(conn: Any) -> bool:
            conn.execute(
                "INSERT INTO votes (user_id, answer_ref, entry_id, value, channel, voted_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (user_id, answer_ref) DO UPDATE SET"
                " entry_id = excluded.entry_id, value = excluded.value, voted_at = excluded.voted_at",
                (_clip(user), _clip(ref), _clip(entry_id), value, _clip(channel), now),
            )
            return True

        return bool(self._write("record_vote", upsert))

    def record_demo(
        self,
        *,
        user: str,
        channel: str,
        scenario: str,
        ok: bool,
        duration_s: float,
        error: str | None = None,
        started_at: datetime | None = None,
    ) -> int | None:
        """Audit one demo run: who, where, when, which scenario, the result, how long, and the error."""
        if started_at is None:
            started_at = self._clock() - timedelta(seconds=max(duration_s, 0))
        started = iso(started_at)

        def insert(conn: Any) -> int:
            row = conn.execute(
                "INSERT INTO demo_runs (started_at, user_id, channel, scenario, ok, duration_s, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    started,
                    _clip(user),
                    _clip(channel),
                    _clip(scenario),
                    1 if ok else 0,
                    float(duration_s),
                    _clip(error) if error else None,
                ),
            ).fetchone()
            return int(row[0])

        return self._write("record_demo", insert)

    # ---- writes after the reply (a RecordWriter thread when opened with background_writes) ----------

    def submit_question(
        self, answer: AnsweredQuestion, *, user: str = "", channel: str = "", source: str = "cli"
    ) -> bool:
        """Record a question without waiting for the database; False only when it had to be dropped."""
        try:
            entry_id, score = _best_guess(answer)
            fields = {
                "text": getattr(answer, "question", "") or "",
                "outcome": str(getattr(answer, "outcome", "") or ""),
            }
        except Exception as exc:  # an unexpected answer shape must not stop the reply either
            self._failed("record_question", exc)
            return False
        asked_at = self._clock()
        return self._submit(
            "question",
            lambda: (
                self._insert_question(
                    asked_at,
                    source=source,
                    channel=channel,
                    user=user,
                    entry_id=entry_id,
                    score=score,
                    **fields,
                )
                is not None
            ),
        )

    def submit_vote(
        self, *, user: str, entry_id: str, value: int, message: str = "", channel: str = ""
    ) -> bool:
        """`record_vote` after the reply; False for a malformed vote (never queued) or a full queue."""
        if value not in (1, -1) or not user or not entry_id:
            return self.record_vote(user=user, entry_id=entry_id, value=value)  # logs and refuses
        voted_at = self._clock()
        return self._submit(
            "vote",
            lambda: self.record_vote(
                user=user, entry_id=entry_id, value=value, message=message, channel=channel, at=voted_at
            ),
        )

    def submit_demo(self, **audit: Any) -> bool:
        """`record_demo` after the reply (same keyword arguments)."""
        audit.setdefault("started_at", self._clock() - timedelta(seconds=max(audit.get("duration_s", 0), 0)))
        return self._submit("demo audit", lambda: self.record_demo(**audit) is not None)

    def _submit(self, action: str, write: Callable[[], bool]) -> bool:
        if self._writer is None:
            return write()
        return self._writer.submit(action, write)

    @property
    def writes_retrying(self) -> bool:
        """A queued write keeps failing (the database is locked by another process, full or gone)."""
        return self._writer is not None and self._writer.retrying

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every submitted record is written; False when some are still pending."""
        return self._writer is None or self._writer.flush(timeout)

    # ---- state shared by replicas -----------------------------------------------------------------

    def claim_key(self, key: str, *, now: float | None = None) -> bool | None:
        """Insert-if-absent: True the first time any replica claims `key` (within EVENT_KEY_TTL_S), False
        after that, None when the database cannot say (the caller decides alone)."""
        now = time.time() if now is None else now

        def claim(conn: Any) -> bool:
            if now >= self._next_key_prune:
                self._next_key_prune = now + PRUNE_EVENT_KEYS_EVERY_S
                conn.execute("DELETE FROM event_keys WHERE seen_at < ?", (now - EVENT_KEY_TTL_S,))
            row = conn.execute(
                "INSERT INTO event_keys (key, seen_at) VALUES (?, ?)"
                " ON CONFLICT (key) DO NOTHING RETURNING key",
                (_clip(key), now),
            ).fetchone()
            return row is not None

        return self._write("claim_key", claim)

    def take_slot(
        self, *, run_id: str, kind: str, user: str, owner: str, host: str, cap: int, lease_s: float
    ) -> Literal["taken", "user_busy", "full"] | None:
        """Take one of `cap` slots (of every kind together: Docker and Kubernetes demos share the cap) for a
        run of `kind`, unless this user holds a slot of any kind. Leases that expired still count until a
        sweep has removed their run. None: the database cannot say."""
        now = time.time()

        def take(conn: Any) -> Literal["taken", "user_busy", "full"]:
            self._lock_table(conn, "demo_slots")
            if conn.execute(
                "SELECT 1 FROM demo_slots WHERE user_id = ? AND lease_until >= ? LIMIT 1", (user, now)
            ).fetchone():
                return "user_busy"
            held = conn.execute("SELECT COUNT(*) FROM demo_slots").fetchone()[0]
            if int(held) >= cap:
                return "full"
            conn.execute(
                "INSERT INTO demo_slots (run_id, kind, user_id, owner, host, acquired_at, lease_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, kind, _clip(user), owner, host, now, now + lease_s),
            )
            return "taken"

        return self._write("take_slot", take)

    def renew_slots(self, owner: str, run_ids: list[str], lease_s: float) -> set[str] | None:
        """Extend this owner's leases; returns the run ids still held (a missing one was swept)."""
        if not run_ids:
            return set()
        now = time.time()
        marks = ", ".join("?" * len(run_ids))

        def renew(conn: Any) -> set[str]:
            rows = conn.execute(
                "UPDATE demo_slots SET lease_until = ?"
                f" WHERE owner = ? AND run_id IN ({marks}) RETURNING run_id",
                (now + lease_s, owner, *run_ids),
            ).fetchall()
            return {str(r[0]) for r in rows}

        return self._write("renew_slots", renew)

    def adopt_expired_slots(self, owner: str, lease_s: float, *, limit: int = 10) -> list[dict[str, str]]:
        """Take over slots whose lease expired (their replica died) so that this replica sweeps them;
        another replica sees them held again and leaves them. Returns run_id, kind, host, user of each."""
        now = time.time()

        def adopt(conn: Any) -> list[dict[str, str]]:
            self._lock_table(conn, "demo_slots")
            rows = conn.execute(
                "SELECT run_id, kind, host, user_id, owner FROM demo_slots WHERE lease_until < ?"
                " ORDER BY lease_until LIMIT ?",
                (now, limit),
            ).fetchall()
            for row in rows:
                conn.execute(
                    "UPDATE demo_slots SET owner = ?, lease_until = ? WHERE run_id = ?",
                    (owner, now + lease_s, row[0]),
                )
            return [
                {
                    "run_id": str(r[0]),
                    "kind": str(r[1]),
                    "host": str(r[2]),
                    "user": str(r[3]),
                    "dead_owner": str(r[4]),
                }
                for r in rows
            ]

        return self._write("adopt_expired_slots", adopt) or []

    def release_slot(self, run_id: str) -> bool:
        def release(conn: Any) -> bool:
            conn.execute("DELETE FROM demo_slots WHERE run_id = ?", (run_id,))
            return True

        return bool(self._write("release_slot", release))

    def slot_load(self, kind: str) -> dict[str, int] | None:
        """Slots held per host for `kind` (to send a run to the least busy engine)."""

        def query(conn: Any) -> dict[str, int]:
            rows = conn.execute(
                "SELECT host, COUNT(*) FROM demo_slots WHERE kind = ? GROUP BY host", (kind,)
            ).fetchall()
            return {str(h): int(n) for h, n in rows}

        return self._read("slot_load", query, None)

    def prune(self) -> int:
        """Forget question texts older than the retention period (the counts stay). Returns rows pruned."""
        cutoff = iso(self._clock() - timedelta(days=self.retention_days))

        def forget(conn: Any) -> int:
            cur = conn.execute(
                "UPDATE questions SET text = NULL WHERE asked_at < ? AND text IS NOT NULL", (cutoff,)
            )
            return cur.rowcount

        pruned = self._write("prune", forget) or 0
        if pruned:
            log.info("store: pruned the text of %d questions older than %d days", pruned, self.retention_days)
        return pruned

    def _prune_if_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_S
            self.prune()

    # ---- reads (stats) ------------------------------------------------------------------------------

    def questions(self, outcomes: tuple[str, ...] | None = None, *, limit: int = 5000) -> list[QuestionRow]:
        """The most recent questions whose text is still kept, optionally only some outcomes."""
        where = "text IS NOT NULL"
        params: list[Any] = []
        if outcomes:
            where += f" AND outcome IN ({', '.join('?' * len(outcomes))})"
            params.extend(outcomes)
        params.append(limit)

        def query(conn: Any) -> list[QuestionRow]:
            rows = conn.execute(
                "SELECT asked_at, source, channel, user_id, text, outcome, entry_id, score FROM questions"
                f" WHERE {where} ORDER BY asked_at DESC, id DESC LIMIT ?",
                params,
            ).fetchall()
            return [QuestionRow(*row) for row in rows]

        return self._read("questions", query, [])

    def outcome_counts(self) -> OutcomeCounts:
        def query(conn: Any) -> OutcomeCounts:
            counts = dict(conn.execute("SELECT outcome, COUNT(*) FROM questions GROUP BY outcome").fetchall())
            return OutcomeCounts(
                total=sum(counts.values()),
                answered=counts.get("answered", 0),
                suggested=counts.get("suggested", 0),
                no_answer=counts.get("no_answer", 0),
                invalid=counts.get("invalid", 0),
            )

        return self._read("outcome_counts", query, OutcomeCounts())

    def top_entries(self, limit: int = 5) -> list[tuple[str, int]]:
        """The entries answered most often: the team's most asked topics."""

        def query(conn: Any) -> list[tuple[str, int]]:
            return [
                (str(e), int(n))
                for e, n in conn.execute(
                    "SELECT entry_id, COUNT(*) AS n FROM questions"
                    " WHERE outcome = 'answered' AND entry_id IS NOT NULL"
                    " GROUP BY entry_id ORDER BY n DESC, entry_id LIMIT ?",
                    (limit,),
                ).fetchall()
            ]

        return self._read("top_entries", query, [])

    def votes_by_entry(self) -> list[EntryVotes]:
        """Votes per entry, the most 👎 first."""

        def query(conn: Any) -> list[EntryVotes]:
            rows = conn.execute(
                f"SELECT entry_id, {_COUNT_UP}, {_COUNT_DOWN} FROM votes GROUP BY entry_id"
                f" ORDER BY {_COUNT_DOWN} DESC, {_COUNT_UP} ASC, entry_id"
            ).fetchall()
            return [EntryVotes(e, int(up), int(down)) for e, up, down in rows]

        return self._read("votes_by_entry", query, [])

    def vote_of(self, *, user: str, entry_id: str, message: str = "") -> int | None:
        ref = message or f"entry:{entry_id}"

        def query(conn: Any) -> int | None:
            row = conn.execute(
                "SELECT value FROM votes WHERE user_id = ? AND answer_ref = ?", (user, ref)
            ).fetchone()
            return int(row[0]) if row else None

        return self._read("vote_of", query, None)

    def demo_tallies(self) -> list[DemoTally]:
        """Demo runs per scenario with failures, average duration and the last error."""

        def query(conn: Any) -> list[DemoTally]:
            rows = conn.execute(
                "SELECT scenario, COUNT(*), SUM(CASE WHEN ok = 0 THEN 1 ELSE 0 END), AVG(duration_s),"
                " (SELECT error FROM demo_runs d2 WHERE d2.scenario = d.scenario AND d2.ok = 0"
                "  ORDER BY started_at DESC, id DESC LIMIT 1)"
                " FROM demo_runs d GROUP BY scenario ORDER BY COUNT(*) DESC, scenario"
            ).fetchall()
            return [DemoTally(s, int(n), int(f or 0), float(a or 0.0), err) for s, n, f, a, err in rows]

        return self._read("demo_tallies", query, [])

    def demo_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest demo audit rows, newest first."""

        def query(conn: Any) -> list[dict[str, Any]]:
            cur = conn.execute(
                "SELECT started_at, user_id, channel, scenario, ok, duration_s, error FROM demo_runs"
                " ORDER BY started_at DESC, id DESC LIMIT ?",
                (limit,),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return self._read("demo_runs", query, [])

    # ---- conversations, experts, suggested examples (bot/conversation.py, experts.py, suggestions.py) ---

    def recall_topic(self, key: str, *, max_age_s: float) -> Topic | None:
        """The topic of conversation `key` if it was updated within max_age_s, else None."""

        def query(conn: Any) -> Topic | None:
            row = conn.execute(
                "SELECT entry_id, question, pending_question, pending_reason FROM conversation_topics"
                " WHERE thread_key = ? AND updated_at >= ?",
                (_clip(key), time.time() - max_age_s),
            ).fetchone()
            return Topic(*(str(value) for value in row)) if row else None

        # No wait for queued writes: this process's own topics are in Conversations' local copy, and the
        # read is made for a reply.
        return self._read("recall_topic", query, None, after_pending=False)

    def submit_topic(self, key: str, topic: Topic, *, max_age_s: float) -> bool:
        """`remember_topic` through the writer queue, after the reply."""
        return self._submit("topic", lambda: self.remember_topic(key, topic, max_age_s=max_age_s))

    def remember_topic(self, key: str, topic: Topic, *, max_age_s: float) -> bool:
        """Set the topic of conversation `key`; expired topics are swept on the way (a small table)."""
        now = time.time()

        def upsert(conn: Any) -> bool:
            if now >= self._next_topic_prune:
                self._next_topic_prune = now + PRUNE_EVENT_KEYS_EVERY_S
                conn.execute("DELETE FROM conversation_topics WHERE updated_at < ?", (now - max_age_s,))
            conn.execute(
                "INSERT INTO conversation_topics"
                " (thread_key, entry_id, question, updated_at, pending_question, pending_reason)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (thread_key) DO UPDATE SET"
                " entry_id = excluded.entry_id, question = excluded.question,"
                " updated_at = excluded.updated_at, pending_question = excluded.pending_question,"
                " pending_reason = excluded.pending_reason",
                (
                    _clip(key),
                    _clip(topic.entry_id),
                    _clip(topic.question),
                    now,
                    _clip(topic.pending),
                    _clip(topic.pending_reason),
                ),
            )
            return True

        return bool(self._write("remember_topic", upsert))

    def record_expert_request(
        self, *, user: str, channel: str, thread_ts: str, question: str, expert_channel: str, expert_ts: str
    ) -> int | None:
        """Remember a question posted to the experts' channel, to point the asker at the first reply."""
        now = iso(self._clock())

        def insert(conn: Any) -> int:
            row = conn.execute(
                "INSERT INTO expert_requests (asked_at, user_id, channel, thread_ts, question,"
                " expert_channel, expert_ts) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    now,
                    _clip(user),
                    _clip(channel),
                    _clip(thread_ts),
                    _clip(question),
                    _clip(expert_channel),
                    _clip(expert_ts),
                ),
            ).fetchone()
            return int(row[0])

        return self._write("record_expert_request", insert)

    def expert_request(
        self, *, request_id: int | None = None, expert_channel: str = "", expert_ts: str = ""
    ) -> dict[str, Any] | None:
        """One request, by id or by its experts' thread (expert_channel, expert_ts); None if unknown."""
        params: tuple[int | str, ...]
        if request_id is not None:
            where, params = "id = ?", (request_id,)
        else:
            where, params = "expert_channel = ? AND expert_ts = ?", (expert_channel, expert_ts)

        def query(conn: Any) -> dict[str, Any] | None:
            cur = conn.execute(
                "SELECT id, asked_at, user_id, channel, thread_ts, question, expert_channel, expert_ts,"
                f" pointed_at, replies FROM expert_requests WHERE {where}",
                params,
            )
            row = cur.fetchone()
            return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

        return self._read("expert_request", query, None)

    def record_expert_reply(self, request_id: int, *, user: str, text: str) -> bool:
        """Keep an expert's reply for the draft; True for the first reply only (any replica): the asker's
        thread gets one pointer, not one per reply."""
        now = iso(self._clock())
        reply = f"<@{_clip(user)}>: {_clip(text)}\n\n"

        def append(conn: Any) -> bool:
            first = conn.execute(
                "UPDATE expert_requests SET pointed_at = ? WHERE id = ? AND pointed_at IS NULL RETURNING id",
                (now, request_id),
            ).fetchone()
            conn.execute(
                "UPDATE expert_requests SET replies = replies || ? WHERE id = ?", (reply, request_id)
            )
            return first is not None

        return bool(self._write("record_expert_reply", append))

    def suggest_example(self, *, entry_id: str, question: str, reason: str) -> bool:
        """Propose `question` as an example of `entry_id` (pending until an admin decides; once per pair)."""
        now = iso(self._clock())

        def insert(conn: Any) -> bool:
            row = conn.execute(
                "INSERT INTO suggested_examples (entry_id, question, reason, suggested_at)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (entry_id, question) DO NOTHING RETURNING id",
                (_clip(entry_id), _clip(question), _clip(reason), now),
            ).fetchone()
            return row is not None

        return bool(self._write("suggest_example", insert))

    def suggested_examples(self, status: str = "pending", *, limit: int = 100) -> list[dict[str, Any]]:
        """Suggested examples with this status, oldest first (the review queue)."""

        def query(conn: Any) -> list[dict[str, Any]]:
            cur = conn.execute(
                "SELECT id, entry_id, question, reason, suggested_at, status, decided_by, decided_at"
                " FROM suggested_examples WHERE status = ? ORDER BY suggested_at, id LIMIT ?",
                (status, limit),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return self._read("suggested_examples", query, [])

    def decide_example(self, suggestion_id: int, *, status: str, admin: str) -> dict[str, Any] | None:
        """Approve or reject a pending suggestion; returns it, or None if it was not pending."""
        if status not in ("approved", "rejected"):
            raise ValueError(f"status must be approved or rejected, not {status!r}")
        now = iso(self._clock())

        def decide(conn: Any) -> dict[str, Any] | None:
            cur = conn.execute(
                "UPDATE suggested_examples SET status = ?, decided_by = ?, decided_at = ?"
                " WHERE id = ? AND status = 'pending' RETURNING id, entry_id, question, reason",
                (status, _clip(admin), now, suggestion_id),
            )
            row = cur.fetchone()
            return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

        return self._write("decide_example", decide)


# Portable SQL (SQLite and PostgreSQL): a boolean is not a number in PostgreSQL.
_COUNT_UP = "SUM(CASE WHEN value = 1 THEN 1 ELSE 0 END)"
_COUNT_DOWN = "SUM(CASE WHEN value = -1 THEN 1 ELSE 0 END)"


def _private_file(path: Path, *, create: bool = True) -> None:
    """Make `path` readable by its owner only (creating it empty when asked and absent)."""
    # Any OSError (exists, read-only file system, not ours): SQLite then reports what matters, if anything.
    if create:
        with suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    with suppress(OSError):
        if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clip(text: str | None) -> str:
    """At most MAX_TEXT_CHARS, and storable: a lone surrogate (possible in JSON from Slack) becomes U+FFFD."""
    text = str(text or "")
    text = text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "…"
    return _SURROGATE.sub("\ufffd", text)


def _best_guess(answer: AnsweredQuestion) -> tuple[str | None, float | None]:
    """The entry the matcher chose, or its best alternative (what an admin should look at next)."""
    match = getattr(answer, "match", None)
    if match is None:
        alternatives = getattr(answer, "alternatives", ()) or ()
        match = alternatives[0] if alternatives else None
    if match is None:
        return None, None
    return match.entry.id, float(match.score)
