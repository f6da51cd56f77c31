"""The lockdown policy of demo containers, pure (no engine calls): the one host config every demo
container gets (`host_config_options`, handed to the engine by bot/demos/runner.py) and the check that the
final config is exactly that locked down (`check_lockdown`, run right before each create)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from docker.types import LogConfig, Mount, Ulimit

MEMORY_BYTES = 64 * 1024 * 1024
NANO_CPUS = 500_000_000
PIDS_LIMIT = 64


class LockdownViolation(Exception):
    """A container or mount would be less locked down than every demo container must be."""


def host_config_options(*, network_mode: str, mounts: list[Mount]) -> dict[str, Any]:
    """The create_host_config arguments of every demo container: nothing else is ever asked for."""
    return dict(
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": "rw,size=16m,mode=1777"},
        pids_limit=PIDS_LIMIT,
        mem_limit=MEMORY_BYTES,
        memswap_limit=MEMORY_BYTES,  # equal to mem_limit: no swap
        nano_cpus=NANO_CPUS,
        init=True,  # busybox as PID 1 ignores SIGTERM; tini makes stops and kills prompt
        ulimits=[Ulimit(name="nofile", soft=256, hard=256)],
        log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        network_mode=network_mode,
        mounts=mounts,
        privileged=False,
    )


def check_lockdown(
    host_config: dict[str, Any], *, allowed_networks: Iterable[str], host_dir: str | None
) -> None:
    """Refuse any host config that is not exactly as locked down as `lockdown_host_config` makes it."""
    problems = []
    expected = {
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
        "ReadonlyRootfs": True,
        "PidsLimit": PIDS_LIMIT,
        "Memory": MEMORY_BYTES,
        "MemorySwap": MEMORY_BYTES,
        "NanoCpus": NANO_CPUS,
        "Init": True,
    }
    for key, value in expected.items():
        if host_config.get(key) != value:
            problems.append(f"{key}={host_config.get(key)!r}")
    for key in (
        "Privileged",
        "CapAdd",
        "Devices",
        "Binds",
        "VolumesFrom",
        "PidMode",
        "IpcMode",
        "UsernsMode",
        "PortBindings",
        "Sysctls",
        "DeviceRequests",
        "Links",
        "Runtime",
    ):
        if host_config.get(key):
            problems.append(f"{key} is set")
    if host_config.get("NetworkMode") not in {"none", *allowed_networks}:
        problems.append(f"NetworkMode={host_config.get('NetworkMode')!r}")
    for mount in host_config.get("Mounts") or []:
        if mount.get("Type") == "bind" and (host_dir is None or mount.get("Source") != host_dir):
            problems.append(f"bind mount of {mount.get('Source')!r}")
        elif mount.get("Type") not in {"bind", "volume"}:
            problems.append(f"mount type {mount.get('Type')!r}")
    if problems:
        raise LockdownViolation("refusing demo container: " + ", ".join(problems))
