"""The store on a real PostgreSQL (a test-owned cluster, tests/postgres_server.py): the same SQL and
migrations as SQLite, what replicas share (event keys, demo slots), and an outage never raising."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from types import SimpleNamespace

import psycopg

from bot.database import open_store
from bot.store import MIGRATIONS, SCHEMA_VERSION, Store
from bot.store_postgres import postgres_ddl


@dataclass
class FakeAnswer:  # the shape Store reads from bot.matcher.Answer
    question: str
    outcome: str
    match: object = None
    alternatives: list = field(default_factory=list)


def answer(text: str, outcome: str = "no_answer", entry: str | None = None, score: float = 0.0):
    match = SimpleNamespace(entry=SimpleNamespace(id=entry), score=score) if entry else None
    return FakeAnswer(text, outcome, match)


def test_the_sqlite_migrations_become_postgres_ddl_of_the_same_tables(postgres_url):
    store = open_store(postgres_url)
    try:
        assert store.shared and store.schema_version() == SCHEMA_VERSION
        with psycopg.connect(postgres_url) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            }
            kinds = dict(
                conn.execute(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_name = 'demo_slots'"
                )
            )
        assert {"questions", "votes", "demo_runs", "event_keys", "demo_slots", "schema_version"} <= tables
        assert kinds["lease_until"] == "double precision"  # REAL would be float4: no good for unix seconds
        assert "IDENTITY" in postgres_ddl(MIGRATIONS[0][0])
    finally:
        store.close()


def test_replicas_starting_together_migrate_once(postgres_url, caplog):
    stores: list[Store] = []
    with caplog.at_level(logging.INFO, logger="bot.store"):
        threads = [threading.Thread(target=lambda: stores.append(open_store(postgres_url))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    try:
        migrated = [r for r in caplog.records if "migrated to schema version 1" in r.getMessage()]
        assert len(migrated) == 1
        assert all(s.schema_version() == SCHEMA_VERSION for s in stores)
    finally:
        for s in stores:
            s.close()


def test_records_and_reports_read_the_same_as_on_sqlite(postgres_url, tmp_path):
    def fill(store: Store) -> tuple:
        store.record_question(
            answer("볼륨이 뭐야", "answered", "volume-named", 0.91), user="U1", channel="C1"
        )
        store.record_question(answer("쿠버 네임스페이스", "no_answer"), user="U2", channel="C1")
        store.record_vote(user="U1", entry_id="volume-named", value=1, message="C1:1.1")
        store.record_vote(user="U2", entry_id="volume-named", value=-1, message="C1:1.1")
        store.record_vote(user="U2", entry_id="volume-named", value=1, message="C1:1.1")  # changed its mind
        store.record_demo(user="U1", channel="C1", scenario="volumes", ok=True, duration_s=2.0)
        store.record_demo(user="U1", channel="C1", scenario="volumes", ok=False, duration_s=3.0, error="boom")
        return (
            store.outcome_counts(),
            [(q.text, q.outcome, q.entry_id) for q in store.questions()],
            store.votes_by_entry(),
            store.top_entries(),
            [(t.scenario, t.runs, t.failures, t.last_error) for t in store.demo_tallies()],
            store.vote_of(user="U2", entry_id="volume-named", message="C1:1.1"),
        )

    pg, lite = open_store(postgres_url), Store.open(tmp_path / "dockbot.db")
    try:
        assert fill(pg) == fill(lite)
        assert fill(pg)[0].total == 4
    finally:
        pg.close()
        lite.close()


def test_an_event_key_is_claimed_by_exactly_one_of_many_replicas(postgres_url):
    stores = [open_store(postgres_url) for _ in range(3)]
    wins: list[bool | None] = []
    lock = threading.Lock()

    def claim(store: Store) -> None:
        for n in range(50):
            result = store.claim_key(f"event:Ev{n:04d}")
            with lock:
                wins.append(result)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert wins.count(True) == 50 and wins.count(False) == 250 and None not in wins
    finally:
        for s in stores:
            s.close()


def test_slots_hold_the_cap_and_one_per_user_across_replicas(postgres_url):
    a, b = open_store(postgres_url), open_store(postgres_url)
    try:
        slot = dict(kind="docker", host="unix:///x", cap=2, lease_s=30)
        assert a.take_slot(run_id="r1", user="U1", owner="A", **slot) == "taken"
        assert b.take_slot(run_id="r2", user="U1", owner="B", **slot) == "user_busy"
        assert b.take_slot(run_id="r3", user="U2", owner="B", **slot) == "taken"
        assert a.take_slot(run_id="r4", user="U3", owner="A", **slot) == "full"
        # One cap for every kind: a Kubernetes demo needs one of the same slots (issue 15).
        assert a.take_slot(run_id="r5", user="U3", owner="A", **{**slot, "kind": "kubernetes"}) == "full"
        assert a.slot_load("docker") == {"unix:///x": 2}
        assert a.renew_slots("A", ["r1", "r3"], 30) == {"r1"}  # r3 is B's
        assert b.release_slot("r3")
        assert a.take_slot(run_id="r6", user="U4", owner="A", **slot) == "taken"
    finally:
        a.close()
        b.close()


def test_an_expired_lease_is_adopted_by_one_replica(postgres_url):
    a, b, c = (open_store(postgres_url) for _ in range(3))
    try:
        assert (
            a.take_slot(run_id="dead1", kind="docker", user="U1", owner="A", host="h", cap=2, lease_s=-1)
            == "taken"
        )  # a lease already past: its replica died
        adopted: list[list[dict[str, str]]] = []
        threads = [
            threading.Thread(target=lambda s=s: adopted.append(s.adopt_expired_slots("X", 30)))
            for s in (b, c)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(len(x) for x in adopted) == [0, 1]
        assert next(x for x in adopted if x)[0]["run_id"] == "dead1"
        # Until its run is swept and released, the slot still counts against the cap.
        assert (
            b.take_slot(run_id="r2", kind="docker", user="U2", owner="B", host="h", cap=1, lease_s=30)
            == "full"
        )
    finally:
        for s in (a, b, c):
            s.close()


def test_a_stopped_server_is_logged_and_queued_records_land_after_it_returns(postgres_server, caplog):
    url = postgres_server.new_database("outage_store")
    store = open_store(url, background_writes=True)
    try:
        assert store.submit_question(answer("before"), user="U1")
        assert store.flush(10)
        postgres_server.stop("immediate")
        with caplog.at_level(logging.WARNING, logger="bot.store"):
            for n in range(20):
                assert store.submit_question(answer(f"during {n}"), user="U1")  # never blocks, never raises
            assert store.claim_key("event:during") is None  # "cannot say": the caller decides alone
            assert (
                store.take_slot(run_id="r", kind="docker", user="U", owner="A", host="h", cap=2, lease_s=30)
                is None
            )
        assert any("unavailable" in r.getMessage() for r in caplog.records)
        postgres_server.start()
        assert store.flush(30)
        assert store.outcome_counts().total == 21
    finally:
        store.close()
