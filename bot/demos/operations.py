"""The fixed vocabulary of demo steps.

A scenario step is one of the operations below and nothing else: each knows which fields it takes (pydantic,
unknown fields rejected), how to show the equivalent `docker` CLI command with the scenario's friendly names,
and how to execute through a `DemoContext` (bot/demos/runner.py), which owns the docker SDK, the lockdown,
labels and real names. There are deliberately no words for privileged mode, host paths, host networking,
devices or capabilities: a step cannot ask for what the vocabulary cannot say.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from bot.demos.runner import DemoContext

# Scenario-local names (volumes, networks, containers); the runner prefixes them per run.
ALIAS_PATTERN = r"^[a-z][a-z0-9-]{0,29}$"
Alias = Annotated[str, Field(pattern=ALIAS_PATTERN)]
# Docker's own network names: a demo may only use networks it creates itself.
RESERVED_NETWORKS = frozenset({"host", "bridge", "none", "default"})
# Fields that would loosen the sandbox. They are unknown to every operation; naming them in the message
# tells an admin why the field is refused, not just that it is unknown.
SANDBOX_KEYS = frozenset(
    {
        "privileged",
        "cap_add",
        "capabilities",
        "devices",
        "device",
        "network_mode",
        "net",
        "pid",
        "pid_mode",
        "ipc",
        "ipc_mode",
        "userns",
        "userns_mode",
        "security_opt",
        "volumes_from",
        "binds",
        "bind",
        "host_path",
        "volumes",
        "user",
        "sysctls",
        "runtime",
        "cgroup_parent",
        "uts_mode",
        "ports",
        "publish",
    }
)
HOST_DIR_SHOWN = "demo"  # how the per-run temporary directory appears in the shown commands


def shell_quote(arg: str) -> str:
    """Quote for display like a person would: 'single' quotes, or "double" ones when the text has a quote."""
    quoted = shlex.quote(arg)
    if "'" in arg and not any(char in arg for char in '"$`!') and "\\\\" not in arg:
        return f'"{arg}"'
    return quoted


class Expect(BaseModel):
    """What a step's result must show; each check is displayed ✅/❌."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    exit_code: int | None = None
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    lines: Annotated[int, Field(ge=0)] | None = None

    @field_validator("contains", "not_contains", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    def check(self, outcome: Outcome) -> list[tuple[str, bool]]:
        """Each expectation as (Korean text, held?)."""
        checks: list[tuple[str, bool]] = []
        if self.exit_code is not None:
            checks.append((f"종료 코드 {self.exit_code}", outcome.exit_code == self.exit_code))
        for text in self.contains:
            checks.append((f"출력에 '{text}' 있음", text in outcome.output))
        for text in self.not_contains:
            checks.append((f"출력에 '{text}' 없음", text not in outcome.output))
        if self.lines is not None:
            count = len([line for line in outcome.output.splitlines() if line.strip()])
            checks.append((f"출력 {self.lines}줄", count == self.lines))
        return checks


@dataclass(frozen=True)
class Outcome:
    """What executing one step produced: its output (as the CLI would print it) and exit code if any."""

    output: str
    exit_code: int | None = None


class Mount(BaseModel):
    """A mount for `run`: a named volume of this scenario, an anonymous volume, or the per-run temp dir."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["volume", "anonymous", "tempdir"]
    target: str
    source: Alias | None = None
    read_only: bool = False

    @field_validator("target")
    @classmethod
    def _container_path(cls, value: str) -> str:
        parts = value.split("/")
        if (
            not value.startswith("/")
            or value == "/"
            or ".." in parts
            or not re.fullmatch(r"[A-Za-z0-9_./-]+", value)
        ):
            raise ValueError("target must be an absolute path inside the container such as /data")
        if parts[1] in {"proc", "sys", "dev", "etc", "bin"}:
            raise ValueError(f"target may not be under /{parts[1]}")
        return value

    def flag(self) -> str:
        suffix = ":ro" if self.read_only else ""
        if self.type == "volume":
            return f"-v {self.source}:{self.target}{suffix}"
        if self.type == "tempdir":
            return f'-v "$PWD/{HOST_DIR_SHOWN}":{self.target}{suffix}'
        return f"-v {self.target}"


class Operation(BaseModel):
    """Fields every step has. Subclasses add theirs and implement `command` and `execute`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    expect: Expect | None = None
    timeout_s: Annotated[float, Field(gt=0, le=120)] | None = None

    def command(self, image: str) -> str:
        raise NotImplementedError

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        raise NotImplementedError

    def creates(self) -> dict[str, str]:
        """Aliases this step brings into existence: {"volume"|"network"|"container": alias}."""
        return {}

    def removes(self) -> dict[str, str]:
        return {}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        """(kind, alias, field location) this step needs to exist already."""
        return []


class CreateVolume(Operation):
    name: ClassVar[str] = "create_volume"
    op: Literal["create_volume"]
    volume: Alias

    def command(self, image: str) -> str:
        return f"docker volume create {self.volume}"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        ctx.create_volume(self.volume)
        return Outcome(self.volume)

    def creates(self) -> dict[str, str]:
        return {"volume": self.volume}


class RemoveVolume(Operation):
    name: ClassVar[str] = "remove_volume"
    op: Literal["remove_volume"]
    volume: Alias

    def command(self, image: str) -> str:
        return f"docker volume rm {self.volume}"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        ctx.remove_volume(self.volume)
        return Outcome(self.volume)

    def removes(self) -> dict[str, str]:
        return {"volume": self.volume}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("volume", self.volume, ("volume",))]


class CreateNetwork(Operation):
    """Always an internal bridge network: containers reach each other, never the outside."""

    name: ClassVar[str] = "create_network"
    op: Literal["create_network"]
    network: Alias

    @field_validator("network")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_NETWORKS:
            raise ValueError(
                f"'{value}' is Docker's own network; demos only create their own internal networks"
            )
        return value

    def command(self, image: str) -> str:
        return f"docker network create --internal {self.network}"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        ctx.create_network(self.network)
        return Outcome(self.network)

    def creates(self) -> dict[str, str]:
        return {"network": self.network}


class RemoveNetwork(Operation):
    name: ClassVar[str] = "remove_network"
    op: Literal["remove_network"]
    network: Alias

    def command(self, image: str) -> str:
        return f"docker network rm {self.network}"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        ctx.remove_network(self.network)
        return Outcome(self.network)

    def removes(self) -> dict[str, str]:
        return {"network": self.network}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("network", self.network, ("network",))]


class Run(Operation):
    """`docker run` of the demo image with an argv list (never a shell line built from user text)."""

    name: ClassVar[str] = "run"
    op: Literal["run"]
    argv: Annotated[tuple[Annotated[str, Field(max_length=2000)], ...], Field(min_length=1, max_length=50)]
    container: Alias | None = None
    mounts: tuple[Mount, ...] = ()
    network: Alias | None = None
    detach: bool = False
    rm: bool = False

    def command(self, image: str) -> str:
        parts = ["docker run"]
        if self.rm:
            parts.append("--rm")
        if self.detach:
            parts.append("-d")
        if self.container:
            parts.append(f"--name {self.container}")
        parts.append(f"--network {self.network}" if self.network else "--network none")
        parts.extend(mount.flag() for mount in self.mounts)
        parts.append(image)
        parts.append(" ".join(shell_quote(arg) for arg in self.argv))
        return " ".join(parts)

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        return ctx.run_container(
            self.container,
            self.argv,
            self.mounts,
            self.network,
            detach=self.detach,
            remove=self.rm,
            deadline=deadline,
        )

    def creates(self) -> dict[str, str]:
        return {"container": self.container} if self.container and not self.rm else {}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        used: list[tuple[str, str, tuple[str | int, ...]]] = [
            ("volume", m.source, ("mounts", i, "source"))
            for i, m in enumerate(self.mounts)
            if m.type == "volume"
        ]
        if self.network:
            used.append(("network", self.network, ("network",)))
        return used


class RemoveContainer(Operation):
    name: ClassVar[str] = "remove_container"
    op: Literal["remove_container"]
    container: Alias
    volumes: bool = False  # docker rm -v: also its anonymous volumes
    force: bool = False

    def command(self, image: str) -> str:
        flags = ("-f " if self.force else "") + ("-v " if self.volumes else "")
        return f"docker rm {flags}{self.container}"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        ctx.remove_container(self.container, volumes=self.volumes, force=self.force)
        return Outcome(self.container)

    def removes(self) -> dict[str, str]:
        return {"container": self.container}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("container", self.container, ("container",))]


class ListVolumes(Operation):
    """This run's volumes, one name per line (named ones by their friendly name)."""

    name: ClassVar[str] = "list_volumes"
    op: Literal["list_volumes"]

    def command(self, image: str) -> str:
        return "docker volume ls -q"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        return Outcome("\n".join(ctx.list_volumes()))


class ListContainers(Operation):
    name: ClassVar[str] = "list_containers"
    op: Literal["list_containers"]

    def command(self, image: str) -> str:
        return "docker ps -a --format '{{.Names}}'"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        return Outcome("\n".join(ctx.list_containers()))


class RemoveAnonymousVolumes(Operation):
    """`docker volume rm` of this run's anonymous volumes (never a prune: 20.10 prunes named ones too)."""

    name: ClassVar[str] = "remove_anonymous_volumes"
    op: Literal["remove_anonymous_volumes"]

    def command(self, image: str) -> str:
        return "docker volume rm <익명 볼륨 ID...>"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        return Outcome("\n".join(ctx.remove_anonymous_volumes()))


HostPath = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,60}(/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,60}){0,3}$")
]


class WriteHostFile(Operation):
    """Write a file in the run's temporary host directory (as an editor on the host would)."""

    name: ClassVar[str] = "write_host_file"
    op: Literal["write_host_file"]
    path: HostPath
    content: Annotated[str, Field(max_length=2000)]

    def command(self, image: str) -> str:
        return f"echo {shell_quote(self.content)} > {HOST_DIR_SHOWN}/{self.path}"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        ctx.write_host_file(self.path, self.content + "\n")
        return Outcome("")


class ReadHostFile(Operation):
    name: ClassVar[str] = "read_host_file"
    op: Literal["read_host_file"]
    path: HostPath

    def command(self, image: str) -> str:
        return f"cat {HOST_DIR_SHOWN}/{self.path}"

    def execute(self, ctx: DemoContext, deadline: float) -> Outcome:
        text = ctx.read_host_file(self.path)
        if text is None:
            return Outcome(f"cat: {HOST_DIR_SHOWN}/{self.path}: No such file or directory", 1)
        return Outcome(text, 0)


OPERATIONS: dict[str, type[Operation]] = {
    cls.name: cls
    for cls in (
        CreateVolume,
        RemoveVolume,
        CreateNetwork,
        RemoveNetwork,
        Run,
        RemoveContainer,
        ListVolumes,
        ListContainers,
        RemoveAnonymousVolumes,
        WriteHostFile,
        ReadHostFile,
    )
}
