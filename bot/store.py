"""SQLite memory of the bot: every question asked, feedback votes, and the demo audit log.

The store is the admins' loop (what to write next), never part of answering: every public method logs and
swallows its own failures (disk full, read-only file, locked database, a file that is not a database), so
a broken store degrades stats, not answers. When the database cannot be opened at all the store keeps
trying to reopen it, at most once per REOPEN_AFTER_S.

Crash safety: WAL journal and one transaction per write. A process killed mid-write (SIGKILL) leaves the
last committed state; SQLite rolls the partial transaction back on the next open.

Thread safety: one connection guarded by a lock. Bolt runs listeners on a thread pool and demos finish on
their own workers; writes are a few hundred microseconds, so one serialised connection is simpler and
safer than a pool.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from bot.matcher import Answer

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds before retrying a database that could not be opened, and between retention sweeps.
REOPEN_AFTER_S = 30.0
PRUNE_EVERY_S = 3600.0
# How long a writer waits for another process holding the write lock (e.g. `dockbot stats` reading
# while `dockbot serve` writes) before giving up; the failure is then logged and swallowed.
BUSY_TIMEOUT_MS = 2000
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
)
SCHEMA_VERSION = len(MIGRATIONS)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


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
    """The bot's SQLite database. Use `Store.open(path)`; every method is safe to call from any thread."""

    def __init__(self, path: Path, *, retention_days: int = 90, clock: Callable[[], datetime] = utc_now):
        self.path = Path(path)
        self.retention_days = retention_days
        self._clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._next_open_attempt = 0.0
        self._next_prune = 0.0
        self._failing: str | None = None  # the last failure logged, to log each kind once, not per question

    @classmethod
    def open(
        cls, path: Path | str, *, retention_days: int = 90, clock: Callable[[], datetime] = utc_now
    ) -> Store:
        """Open (creating and migrating) the database. Never raises: a bad file is logged and retried."""
        store = cls(Path(path), retention_days=retention_days, clock=clock)
        with store._lock:
            store._connection()
        return store

    # ---- connection management -------------------------------------------------------------------

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                current = 0
            else:
                current = int(row[0])
            if current > SCHEMA_VERSION:
                # A newer dockbot wrote this file: keep using the tables we know rather than refusing.
                log.warning(
                    "store %s: schema version %d is newer than this dockbot's %d",
                    self.path,
                    current,
                    SCHEMA_VERSION,
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version - 1]:
                    conn.execute(statement)
                conn.execute("UPDATE schema_version SET version = ?", (version,))
                log.info("store %s: migrated to schema version %d", self.path, version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
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
        kind = f"{action}: {type(exc).__name__}: {exc}"
        if kind != self._failing:
            log.warning("store %s unavailable (%s); answering continues without it", self.path, kind)
            self._failing = kind
        else:
            log.debug("store %s still failing (%s)", self.path, kind)

    def _recovered(self) -> None:
        if self._failing is not None:
            log.info("store %s works again", self.path)
            self._failing = None

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            # The connection may already have rolled back by itself (e.g. on SQLITE_FULL).
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _write(self, action: str, work: Callable[[sqlite3.Connection], T]) -> T | None:
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

    def _read(self, action: str, work: Callable[[sqlite3.Connection], T], default: T) -> T:
        with self._lock:
            conn = self._connection()
            if conn is None:
                return default
            try:
                return work(conn)
            except Exception as exc:  # whatever breaks here must not break the answer
                self._failed(action, exc)
                return default

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
        self, answer: Answer, *, user: str = "", channel: str = "", source: str = "cli"
    ) -> int | None:
        """Remember one question and how it was answered. Returns its row id, or None if not stored."""
        try:
            entry_id, score = _best_guess(answer)
            text = _clip(getattr(answer, "question", "") or "")
            outcome = str(getattr(answer, "outcome", "") or "")
        except Exception as exc:  # an unexpected Answer shape must not stop the reply either
            self._failed("record_question", exc)
            return None
        now = iso(self._clock())

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO questions (asked_at, source, channel, user_id, text, outcome, entry_id, score)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (now, _clip(source), _clip(channel), _clip(user), text, outcome, entry_id, score),
            )
            return int(cur.lastrowid or 0)

        row_id = self._write("record_question", insert)
        self._prune_if_due()
        return row_id

    def record_vote(
        self, *, user: str, entry_id: str, value: int, message: str = "", channel: str = ""
    ) -> bool:
        """One vote per user per answer message (or per entry without a message); a new vote replaces it."""
        if value not in (1, -1) or not user or not entry_id:
            log.warning("store: ignoring malformed vote (user=%r entry=%r value=%r)", user, entry_id, value)
            return False
        ref = message or f"entry:{entry_id}"
        now = iso(self._clock())

        def upsert(conn: sqlite3.Connection) -> bool:
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

        def insert(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO demo_runs (started_at, user_id, channel, scenario, ok, duration_s, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    started,
                    _clip(user),
                    _clip(channel),
                    _clip(scenario),
                    1 if ok else 0,
                    float(duration_s),
                    _clip(error) if error else None,
                ),
            )
            return int(cur.lastrowid or 0)

        return self._write("record_demo", insert)

    def prune(self) -> int:
        """Forget question texts older than the retention period (the counts stay). Returns rows pruned."""
        cutoff = iso(self._clock() - timedelta(days=self.retention_days))

        def forget(conn: sqlite3.Connection) -> int:
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

        def query(conn: sqlite3.Connection) -> list[QuestionRow]:
            rows = conn.execute(
                "SELECT asked_at, source, channel, user_id, text, outcome, entry_id, score FROM questions"
                f" WHERE {where} ORDER BY asked_at DESC, id DESC LIMIT ?",
                params,
            ).fetchall()
            return [QuestionRow(*row) for row in rows]

        return self._read("questions", query, [])

    def outcome_counts(self) -> OutcomeCounts:
        def query(conn: sqlite3.Connection) -> OutcomeCounts:
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

        def query(conn: sqlite3.Connection) -> list[tuple[str, int]]:
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

        def query(conn: sqlite3.Connection) -> list[EntryVotes]:
            rows = conn.execute(
                "SELECT entry_id, SUM(value = 1), SUM(value = -1) FROM votes GROUP BY entry_id"
                " ORDER BY SUM(value = -1) DESC, SUM(value = 1) ASC, entry_id"
            ).fetchall()
            return [EntryVotes(e, int(up), int(down)) for e, up, down in rows]

        return self._read("votes_by_entry", query, [])

    def vote_of(self, *, user: str, entry_id: str, message: str = "") -> int | None:
        ref = message or f"entry:{entry_id}"

        def query(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT value FROM votes WHERE user_id = ? AND answer_ref = ?", (user, ref)
            ).fetchone()
            return int(row[0]) if row else None

        return self._read("vote_of", query, None)

    def demo_tallies(self) -> list[DemoTally]:
        """Demo runs per scenario with failures, average duration and the last error."""

        def query(conn: sqlite3.Connection) -> list[DemoTally]:
            rows = conn.execute(
                "SELECT scenario, COUNT(*), SUM(ok = 0), AVG(duration_s),"
                " (SELECT error FROM demo_runs d2 WHERE d2.scenario = d.scenario AND d2.ok = 0"
                "  ORDER BY started_at DESC, id DESC LIMIT 1)"
                " FROM demo_runs d GROUP BY scenario ORDER BY COUNT(*) DESC, scenario"
            ).fetchall()
            return [DemoTally(s, int(n), int(f or 0), float(a or 0.0), err) for s, n, f, a, err in rows]

        return self._read("demo_tallies", query, [])

    def demo_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest demo audit rows, newest first."""

        def query(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            cur = conn.execute(
                "SELECT started_at, user_id, channel, scenario, ok, duration_s, error FROM demo_runs"
                " ORDER BY started_at DESC, id DESC LIMIT ?",
                (limit,),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        return self._read("demo_runs", query, [])


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clip(text: str | None) -> str:
    """At most MAX_TEXT_CHARS, and storable: a lone surrogate (possible in JSON from Slack) becomes U+FFFD."""
    text = str(text or "")
    text = text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "…"
    return _SURROGATE.sub("\ufffd", text)


def _best_guess(answer: Answer) -> tuple[str | None, float | None]:
    """The entry the matcher chose, or its best alternative (what an admin should look at next)."""
    match = getattr(answer, "match", None)
    if match is None:
        alternatives = getattr(answer, "alternatives", ()) or ()
        match = alternatives[0] if alternatives else None
    if match is None:
        return None, None
    return match.entry.id, float(match.score)
