"""The lockdown policy alone (bot/demos/lockdown.py): no engine, the host config as docker-py builds it."""

from __future__ import annotations

import pytest
from docker.types import HostConfig

from bot.demos.lockdown import MEMORY_BYTES, LockdownViolation, check_lockdown, host_config_options


def locked(network_mode: str = "none") -> dict:
    return dict(HostConfig(version="1.41", **host_config_options(network_mode=network_mode, mounts=[])))


def test_the_policy_passes_its_own_check():
    config = locked()
    check_lockdown(config, allowed_networks=(), host_dir=None)
    assert config["Memory"] == config["MemorySwap"] == MEMORY_BYTES and config["CapDrop"] == ["ALL"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("Privileged", True),
        ("CapAdd", ["SYS_ADMIN"]),
        ("CapDrop", []),
        ("ReadonlyRootfs", False),
        ("Memory", 0),
        ("PidMode", "host"),
        ("NetworkMode", "host"),
        ("Binds", ["/:/host"]),
        ("Mounts", [{"Type": "bind", "Source": "/etc", "Target": "/x"}]),
        ("Mounts", [{"Type": "npipe", "Source": "x", "Target": "/x"}]),
    ],
)
def test_any_loosening_is_refused_and_named(key: str, value: object):
    with pytest.raises(LockdownViolation, match=key if key != "Mounts" else "mount"):
        check_lockdown({**locked(), key: value}, allowed_networks=(), host_dir=None)


def test_only_the_runs_own_networks_and_host_dir_are_allowed():
    check_lockdown(locked("dockbot-r1-net"), allowed_networks=("dockbot-r1-net",), host_dir=None)
    with pytest.raises(LockdownViolation):
        check_lockdown(locked("dockbot-r2-net"), allowed_networks=("dockbot-r1-net",), host_dir=None)
    bind = {"Type": "bind", "Source": "/var/lib/docker/volumes/r1/_data", "Target": "/srv"}
    check_lockdown({**locked(), "Mounts": [bind]}, allowed_networks=(), host_dir=bind["Source"])
