"""What a Docker engine still holds of the demos (the test-owned dockerd is tests/second_engine.py)."""

from __future__ import annotations

import socket
from typing import Any

LABEL = "dockbot.demo"


def labelled(api: Any, run_id: str | None = None) -> list[str]:
    """Every container, volume and network labelled dockbot.demo (or with that run id) on `api`'s engine."""
    selector = {"label": f"{LABEL}={run_id}" if run_id else LABEL}
    found = [f"container {c['Id'][:12]}" for c in api.containers(all=True, filters=selector)]
    found += [f"network {n['Name']}" for n in api.networks(filters=selector)]
    found += [f"volume {v['Name']}" for v in api.volumes(filters=selector).get("Volumes") or []]
    return found


def owned_by(api: Any, pid: int) -> list[str]:
    """Demo objects that process `pid` on this host created (the runner's `dockbot.owner` label)."""
    selector = {"label": f"dockbot.owner={socket.gethostname()}:{pid}"}
    found = [f"container {c['Id'][:12]}" for c in api.containers(all=True, filters=selector)]
    found += [f"network {n['Name']}" for n in api.networks(filters=selector)]
    found += [f"volume {v['Name']}" for v in api.volumes(filters=selector).get("Volumes") or []]
    return found
