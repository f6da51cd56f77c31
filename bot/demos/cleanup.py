"""Sweep what earlier demo runs left behind, by label only (never an unfiltered prune: on Engine 20.10 a
volume prune also deletes named volumes that are not ours).

An object labelled `dockbot.demo` is stale when its run is not in progress in this process and either its
expiry has passed, or it was made on this host by a process that is gone (SIGKILL, crash), or by this very
process (the run ended without finishing its cleanup, e.g. the engine stopped mid-demo). Live runs of other
processes on the same engine are left alone until they expire. Order as in Testcontainers' Ryuk: containers
(with their volumes) first, then networks, then volumes.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Container, Mapping

import docker

from bot.demos.runlock import forget, run_state, runs_dir
from bot.demos.runner import ENGINE_ERRORS, EXPIRES_LABEL, LABEL, OWNER_LABEL, active_runs

log = logging.getLogger(__name__)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:  # a killed child that nobody reaped yet is a zombie: it runs nothing any more
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] in {"Z", "X"}
    except (OSError, IndexError):
        return False


def is_stale(labels: Mapping[str, str] | None, *, active: Container[str], now: float | None = None) -> bool:
    """Whether a labelled object belongs to no run that may still be using it."""
    labels = labels or {}
    if labels.get(LABEL) in active:
        return False
    try:
        if float(labels.get(EXPIRES_LABEL, "")) <= (time.time() if now is None else now):
            return True
    except ValueError:
        return True  # no or garbled expiry: not one of ours in a shape we know; reap it
    host, _, pid_text = labels.get(OWNER_LABEL, "").rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another host's run (e.g. the bot in a container): trust its expiry
    state = run_state(labels.get(LABEL, ""))
    if state != "unknown":
        return state == "over"
    pid = int(pid_text)
    return pid == os.getpid() or _process_gone(pid)


class _LiveRuns:
    """The runs in progress in this process, read afresh for every object (a run that starts during the
    sweep registers before it creates anything, so its objects are never taken for leftovers)."""

    def __contains__(self, run_id: object) -> bool:
        return run_id in active_runs()


def sweep(api: docker.APIClient, *, active: Container[str] | None = None) -> list[str]:
    """Remove stale demo containers, networks and volumes; returns "kind name" for each one removed."""
    active = _LiveRuns() if active is None else active
    removed: list[str] = []
    selector = {"label": LABEL}
    swept_runs: set[str] = set()
    seen_runs: set[str] = set()

    def stale(labels: Mapping[str, str] | None) -> bool:
        seen_runs.add((labels or {}).get(LABEL, ""))
        if is_stale(labels, active=active):
            swept_runs.add((labels or {}).get(LABEL, ""))
            return True
        return False

    try:
        for container in api.containers(all=True, filters=selector):
            if stale(container.get("Labels")):
                name = (container.get("Names") or [container["Id"][:12]])[0].lstrip("/")
                if _remove(lambda c=container: api.remove_container(c["Id"], v=True, force=True)):
                    removed.append(f"container {name}")
        for network in api.networks(filters=selector):
            if stale(network.get("Labels")) and _remove(lambda n=network: api.remove_network(n["Id"])):
                removed.append(f"network {network['Name']}")
        for volume in api.volumes(filters=selector).get("Volumes") or []:
            if stale(volume.get("Labels")) and _remove(
                lambda v=volume: api.remove_volume(v["Name"], force=True)
            ):
                removed.append(f"volume {volume['Name']}")
    except ENGINE_ERRORS as exc:
        log.warning("demo sweep stopped: %s", exc)
        return removed
    # Markers of runs that are over and have nothing left on the engine (forget() keeps held ones).
    for marker in runs_dir().glob("*.lock"):
        if marker.stem in swept_runs or marker.stem not in seen_runs:
            forget(marker.stem)
    if removed:
        log.info("demo sweep removed %d objects: %s", len(removed), ", ".join(removed))
    return removed


def _remove(action) -> bool:
    try:
        action()
        return True
    except docker.errors.NotFound:
        return False
    except ENGINE_ERRORS as exc:
        log.warning("demo sweep could not remove an object: %s", exc)
        return False


def sweep_run(api: docker.APIClient, run_id: str) -> bool:
    """Remove every container, network and volume labelled with one run id (a run whose replica died: its
    slot's lease expired); True when none is left. Same order as `sweep`."""
    if not RUN_ID.fullmatch(run_id or ""):
        return True  # not a run id this bot makes: nothing of ours can carry it
    selector = {"label": f"{LABEL}={run_id}"}
    removed: list[str] = []
    try:
        for container in api.containers(all=True, filters=selector):
            if _remove(lambda c=container: api.remove_container(c["Id"], v=True, force=True)):
                name = (container.get("Names") or [container["Id"][:12]])[0].lstrip("/")
                removed.append(f"container {name}")
        for network in api.networks(filters=selector):
            if _remove(lambda n=network: api.remove_network(n["Id"])):
                removed.append(f"network {network['Name']}")
        for volume in api.volumes(filters=selector).get("Volumes") or []:
            if _remove(lambda v=volume: api.remove_volume(v["Name"], force=True)):
                removed.append(f"volume {volume['Name']}")
        left = (
            len(api.containers(all=True, filters=selector))
            + len(api.networks(filters=selector))
            + len(api.volumes(filters=selector).get("Volumes") or [])
        )
    except ENGINE_ERRORS as exc:
        log.warning("sweep of demo run %s stopped: %s", run_id, exc)
        return False
    log.info("demo run %s swept: %s", run_id, ", ".join(removed) or "nothing was left")
    return left == 0
