"""Demo slots: the cap (DOCKBOT_MAX_DEMOS) and one demo per user, in one process or across replicas.

A slot is taken before a run creates anything and given back after its cleanup. It is generic: a `kind`
(docker, kubernetes) and a `host` that says where the run's objects live, so that whoever sweeps a dead run
knows where to look. The cap counts the slots of every kind together: a Kubernetes demo takes one of the
same DOCKBOT_MAX_DEMOS slots as a Docker demo (issue 15), as one user runs one demo of any kind.

- `LocalSlots`: this process only (SQLite or no database: one replica).
- `SharedSlots`: rows in the shared database (PostgreSQL). The replica running a demo renews the slot's
  lease every lease/3 s (`LeaseKeeper`). A replica that dies (SIGKILL, node lost) stops renewing; once the
  lease has expired, the first replica whose keeper looks (every sweep interval) adopts the slot, removes the
  run's objects with the sweeper registered for its kind, and frees the slot. So a dead replica's demo is
  gone within lease + sweep interval + the sweep itself (30 + 15 s by default), without restarting it.
  When the database cannot be reached no slot can be taken: the demo is refused politely.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.demos.errors import DemoBusy

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

USER_BUSY_KO = "이미 실행 중인 데모가 있습니다. 그 데모가 끝난 뒤에 다시 시도해 주세요."
NO_BOARD_KO = (
    "지금은 데모 자리를 확인할 수 없어(공유 데이터베이스 연결 문제) 데모를 시작하지 못했습니다. "
    "질문에는 계속 답할 수 있어요. 잠시 뒤에 다시 시도해 주세요."
)


def full_ko(cap: int) -> str:
    return f"지금은 데모가 {cap}개 실행 중이라 더 시작할 수 없습니다. 잠시 뒤에 다시 시도해 주세요."


def new_run_id() -> str:
    return os.urandom(6).hex()  # 12 hex digits: the run id format of bot/demos/runlock.py


@dataclass(frozen=True)
class Slot:
    run_id: str
    kind: str
    user: str
    host: str


# Removes every object of one run (found by its run id label) where `slot.host` says; True when done.
Sweeper = Callable[[Slot], bool]


class Slots(Protocol):
    def acquire(self, *, kind: str, user: str, host: str, cap: int) -> Slot:
        """A slot for a new run, or DemoBusy with the Korean reason."""
        ...

    def release(self, slot: Slot) -> None: ...

    def load(self, kind: str) -> dict[str, int]:
        """Slots held per host (for the least busy engine)."""
        ...

    def close(self) -> None: ...


class LocalSlots:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, Slot] = {}

    def acquire(self, *, kind: str, user: str, host: str, cap: int) -> Slot:
        with self._lock:
            if any(slot.user == user for slot in self._held.values()):
                raise DemoBusy(USER_BUSY_KO, f"user {user} busy")
            if len(self._held) >= cap:
                raise DemoBusy(full_ko(cap), f"{kind} demos at capacity")
            slot = Slot(new_run_id(), kind, user, host)
            self._held[slot.run_id] = slot
            return slot

    def release(self, slot: Slot) -> None:
        with self._lock:
            self._held.pop(slot.run_id, None)

    def load(self, kind: str) -> dict[str, int]:
        with self._lock:
            counts: dict[str, int] = {}
            for slot in self._held.values():
                if slot.kind == kind:
                    counts[slot.host] = counts.get(slot.host, 0) + 1
            return counts

    def close(self) -> None:
        pass


class SharedSlots:
    def __init__(self, store: Store, *, lease_s: float = 30.0, sweep_every_s: float = 15.0) -> None:
        self.store = store
        self.lease_s = lease_s
        self.sweep_every_s = sweep_every_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self._lock = threading.Lock()
        self._held: dict[str, Slot] = {}
        self._sweepers: dict[str, Sweeper] = {}
        self._keeper = LeaseKeeper(self)

    def register_sweeper(self, kind: str, sweeper: Sweeper) -> None:
        """How to remove a dead run's objects of `kind` (docker: labelled containers, volumes, networks)."""
        self._sweepers[kind] = sweeper
        self._keeper.start()

    def acquire(self, *, kind: str, user: str, host: str, cap: int) -> Slot:
        slot = Slot(new_run_id(), kind, user, host)
        outcome = self.store.take_slot(
            run_id=slot.run_id,
            kind=kind,
            user=user,
            owner=self.owner,
            host=host,
            cap=cap,
            lease_s=self.lease_s,
        )
        if outcome == "user_busy":
            raise DemoBusy(USER_BUSY_KO, f"user {user} busy (on some replica)")
        if outcome == "full":
            raise DemoBusy(full_ko(cap), f"{kind} demos at capacity across replicas")
        if outcome is None:
            raise DemoBusy(NO_BOARD_KO, "demo slots unavailable: the shared database does not answer")
        with self._lock:
            self._held[slot.run_id] = slot
        return slot

    def release(self, slot: Slot) -> None:
        with self._lock:
            self._held.pop(slot.run_id, None)
        if not self.store.release_slot(slot.run_id):
            # The lease runs out and a keeper frees it (after sweeping what the run already cleaned up).
            log.warning(
                "demo slot %s not released (database unavailable); its lease will expire", slot.run_id
            )

    def load(self, kind: str) -> dict[str, int]:
        return self.store.slot_load(kind) or {}

    def renew(self) -> None:
        with self._lock:
            held = list(self._held)
        if not held:
            return
        kept = self.store.renew_slots(self.owner, held, self.lease_s)
        if kept is None:
            return  # the database is away: try again next round (a lease outlives a short outage)
        for run_id in set(held) - kept:
            log.error("demo run %s lost its slot (its lease expired and another replica swept it)", run_id)

    def sweep_expired(self) -> int:
        """Adopt slots of dead replicas, remove their runs' objects, free them. Returns slots freed."""
        freed = 0
        for row in self.store.adopt_expired_slots(self.owner, self.lease_s):
            slot = Slot(row["run_id"], row["kind"], row["user"], row["host"])
            sweeper = self._sweepers.get(slot.kind)
            log.warning(
                "demo run %s of %s (kind %s on %s) lost its replica %s: sweeping it",
                slot.run_id,
                slot.user,
                slot.kind,
                slot.host or "default engine",
                row["dead_owner"],
            )
            try:
                done = sweeper(slot) if sweeper is not None else False
            except Exception:  # another replica (or this one, next round) retries once the lease expires
                log.exception("sweeping demo run %s failed", slot.run_id)
                done = False
            if done and self.store.release_slot(slot.run_id):
                freed += 1
        return freed

    def close(self) -> None:
        self._keeper.stop()


class LeaseKeeper:
    """One daemon thread per replica: renews this replica's leases, sweeps expired ones."""

    def __init__(self, slots: SharedSlots) -> None:
        self._slots = slots
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="demo-lease-keeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        renew_every = max(self._slots.lease_s / 3, 0.1)
        tick = min(renew_every, self._slots.sweep_every_s)
        since_sweep = self._slots.sweep_every_s  # sweep once at start: a replica restarting after a crash
        since_renew = 0.0
        while not self._stop.wait(tick):
            since_renew += tick
            since_sweep += tick
            try:
                if since_renew >= renew_every:
                    since_renew = 0.0
                    self._slots.renew()
                if since_sweep >= self._slots.sweep_every_s:
                    since_sweep = 0.0
                    self._slots.sweep_expired()
            except Exception:  # the keeper must outlive any one failure
                log.exception("demo lease keeper round failed")
