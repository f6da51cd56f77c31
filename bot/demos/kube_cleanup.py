"""Sweep the namespaces of Kubernetes demo runs that are gone (crash, SIGKILL, a cleanup cut short).

A demo namespace is labelled `dockbot.demo=<run id>` with its owner and expiry as annotations; it is stale
by the same rule as the Docker objects (bot/demos/cleanup.is_stale): not a run in progress in this process,
and its run lock is free, its owner process on this host is gone, or it has expired. Deleting the namespace
deletes everything in it. Only namespaces with the label and the `dockbot-demo-` prefix are ever touched.
"""

from __future__ import annotations

import logging
from typing import Any

from kubernetes import client

from bot.demos.cleanup import LiveRuns, is_stale
from bot.demos.kube_runner import (
    KUBE_ERRORS,
    NAMESPACE_PREFIX,
    REQUEST_TIMEOUT_S,
    delete_namespace,
    namespace_of,
)
from bot.demos.runlock import forget
from bot.demos.runner import EXPIRES_LABEL, LABEL, OWNER_LABEL

log = logging.getLogger(__name__)


def sweep_namespaces(api: Any) -> list[str]:
    """Delete stale demo namespaces; returns "namespace <name>" for each one deleted."""
    core = client.CoreV1Api(api)
    removed: list[str] = []
    active = LiveRuns()
    try:
        found = core.list_namespace(label_selector=LABEL, _request_timeout=REQUEST_TIMEOUT_S).items
    except KUBE_ERRORS as exc:
        log.warning("kubernetes demo sweep stopped: %s", exc)
        return removed
    for namespace in found:
        meta = namespace.metadata
        run_id = (meta.labels or {}).get(LABEL, "")
        if not meta.name.startswith(NAMESPACE_PREFIX):
            continue
        annotations = meta.annotations or {}
        labels = {
            LABEL: run_id,
            OWNER_LABEL: annotations.get(OWNER_LABEL, ""),
            EXPIRES_LABEL: annotations.get(EXPIRES_LABEL, ""),
        }
        if not is_stale(labels, active=active):
            continue
        try:
            if not delete_namespace(core, meta.name):
                continue
        except KUBE_ERRORS as exc:
            log.warning("kubernetes demo sweep could not delete %s: %s", meta.name, exc)
            continue
        forget(run_id)
        removed.append(f"namespace {meta.name}")
    if removed:
        log.info("kubernetes demo sweep deleted %d namespaces: %s", len(removed), ", ".join(removed))
    return removed


def sweep_run(api: Any, run_id: str) -> bool:
    """Delete the namespace of one run (a dead replica's, from the shared slot board); True once it is
    gone, False while it is still terminating or the cluster does not answer (the board asks again)."""
    core = client.CoreV1Api(api)
    try:
        return not delete_namespace(core, namespace_of(run_id))
    except KUBE_ERRORS as exc:
        log.warning("kubernetes demo sweep of run %s failed: %s", run_id, exc)
        return False
