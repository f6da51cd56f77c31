"""The fixed vocabulary of demo steps.

A scenario step is one of the operations below and nothing else: each knows which fields it takes (pydantic,
unknown fields rejected), how to show the equivalent `docker` CLI command with the scenario's friendly names,
and how to execute through a `DockerStepContext` (a protocol; bot/demos/runner.py's DemoContext implements
it and owns the docker SDK, the lockdown, labels and real names). There are deliberately no words for
privileged mode, host paths, host networking, devices or capabilities: a step cannot ask for what the
vocabulary cannot say.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from bot.demos.schema import boolean, checked, integer, nested, nested_list, seconds, text, texts

# Scenario-local names (volumes, networks, containers); the runner prefixes them per run.
ALIAS_PATTERN = r"[a-z][a-z0-9-]{0,29}"
alias = text(
    max_length=30, pattern=ALIAS_PATTERN, hint="must be a short name: a-z, 0-9 and -, starting with a letter"
)
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


def sandbox_hint(key: str) -> str:
    """Why an unknown field is refused, when it is one that would loosen the sandbox ('' otherwise)."""
    if key.lower() not in SANDBOX_KEYS:
        return ""
    return (
        f" — '{key}' is refused: demos never get privileged mode, host paths, host networking, "
        "devices or extra capabilities"
    )


def shell_quote(arg: str) -> str:
    """Quote for display like a person would: 'single' quotes, or "double" ones when the text has a quote."""
    quoted = shlex.quote(arg)
    if "'" in arg and not any(char in arg for char in '"$`!') and "\\\\" not in arg:
        return f'"{arg}"'
    return quoted


def _reject_docker_network(value: object) -> str:
    name: str = alias(value)
    if name in RESERVED_NETWORKS:
        raise ValueError(f"'{name}' is Docker's own network; demos only create their own internal networks")
    return name


def _container_path(value: object) -> str:
    path: str = text(max_length=200)(value)
    parts = path.split("/")
    if (
        not path.startswith("/")
        or path == "/"
        or ".." in parts
        or not re.fullmatch(r"[A-Za-z0-9_./-]+", path)
    ):
        raise ValueError("must be an absolute path inside the container such as /data")
    if parts[1] in {"proc", "sys", "dev", "etc", "bin"}:
        raise ValueError(f"may not be under /{parts[1]}")
    return path


def _mount_type(value: object) -> str:
    if value not in MOUNT_TYPES:
        raise ValueError(
            f"must be volume, anonymous or tempdir, not {value!r} (host paths are never mounted; "
            "'tempdir' is a fresh temporary directory per run)"
        )
    return str(value)


MOUNT_TYPES = ("volume", "anonymous", "tempdir")


@dataclass(frozen=True)
class Outcome:
    """What executing one step produced: its output (as the CLI would print it) and exit code if any."""

    output: str
    exit_code: int | None = None


@dataclass(frozen=True)
class Expect:
    """What a step's result must show; each check is displayed ✅/❌."""

    exit_code: int | None = checked(integer(low=0, high=255), None)
    contains: tuple[str, ...] = checked(texts(text(max_length=500), max_items=10, one_allowed=True), ())
    not_contains: tuple[str, ...] = checked(texts(text(max_length=500), max_items=10, one_allowed=True), ())
    lines: int | None = checked(integer(low=0, high=1000), None)

    def check(self, outcome: Outcome) -> list[tuple[str, bool]]:
        """Each expectation as (Korean text, held?)."""
        checks: list[tuple[str, bool]] = []
        if self.exit_code is not None:
            checks.append((f"종료 코드 {self.exit_code}", outcome.exit_code == self.exit_code))
        for snippet in self.contains:
            checks.append((f"출력에 '{snippet}' 있음", snippet in outcome.output))
        for snippet in self.not_contains:
            checks.append((f"출력에 '{snippet}' 없음", snippet not in outcome.output))
        if self.lines is not None:
            count = len([line for line in outcome.output.splitlines() if line.strip()])
            checks.append((f"출력 {self.lines}줄", count == self.lines))
        return checks


@dataclass(frozen=True)
class Mount:
    """A mount for `run`: a named volume of this scenario, an anonymous volume, or the per-run temp dir."""

    type: str = checked(_mount_type)
    target: str = checked(_container_path)
    source: str | None = checked(alias, None)
    read_only: bool = checked(boolean, False)

    def __post_init__(self) -> None:
        if (self.type == "volume") != (self.source is not None):
            raise ValueError("a 'volume' mount needs a source (the volume's name); other mounts take none")

    def flag(self) -> str:
        suffix = ":ro" if self.read_only else ""
        if self.type == "volume":
            return f"-v {self.source}:{self.target}{suffix}"
        if self.type == "tempdir":
            return f'-v "$PWD/{HOST_DIR_SHOWN}":{self.target}{suffix}'
        return f"-v {self.target}"


class DockerStepContext(Protocol):
    """What a Docker step may do: the runner's context (bot/demos/runner.py) implements it with the docker
    SDK and the lockdown; steps only name scenario-local aliases and never see the engine."""

    def run_container(
        self,
        alias: str | None,
        argv: Iterable[str],
        mounts: Iterable[Mount],
        network: str | None,
        *,
        detach: bool,
        remove: bool,
        deadline: float,
    ) -> Outcome: ...
    def container_logs(self, alias: str, *, deadline: float) -> Outcome: ...
    def remove_container(self, alias: str, *, volumes: bool, force: bool) -> None: ...
    def list_containers(self) -> list[str]: ...
    def create_volume(self, alias: str) -> None: ...
    def remove_volume(self, alias: str) -> None: ...
    def list_volumes(self) -> list[str]: ...
    def remove_anonymous_volumes(self) -> list[str]: ...
    def create_network(self, alias: str) -> None: ...
    def remove_network(self, alias: str) -> None: ...
    def read_host_file(self, relative: str) -> str | None: ...
    def write_host_file(self, relative: str, content: str) -> None: ...


@dataclass(frozen=True)
class Step:
    """Fields every step of every platform has (Docker: Operation, Kubernetes: KubeOperation, which add
    their own `expect` and `execute`). Subclasses add theirs (all with defaults, so they can follow these)
    and implement `command`. `op` is the vocabulary word; `name` is the same as a class constant."""

    op: str = checked(text(max_length=40))
    title: str = checked(text(max_length=200))
    timeout_s: float | None = checked(seconds(high=120), None)
    name: ClassVar[str]
    required: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        missing = [field for field in self.required if getattr(self, field) in (None, (), "")]
        if missing:
            raise ValueError("missing field " + ", ".join(f"'{field}'" for field in missing))

    def command(self, image: str) -> str:
        raise NotImplementedError

    def creates(self) -> dict[str, str]:
        """Aliases this step brings into existence: {"volume"|"network"|"container": alias}."""
        return {}

    def removes(self) -> dict[str, str]:
        return {}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        """(kind, alias, field location) this step needs to exist already."""
        return []


@dataclass(frozen=True)
class Operation(Step):
    """A Docker step: what it expects of its outcome, and how it runs in a DockerStepContext."""

    expect: Expect | None = checked(nested(Expect, what="expect"), None)  # noqa: RUF009 (checked() returns a dataclasses.field)

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        raise NotImplementedError


@dataclass(frozen=True)
class CreateVolume(Operation):
    name: ClassVar[str] = "create_volume"
    volume: str = checked(alias, "")
    required: ClassVar[tuple[str, ...]] = ("volume",)

    def command(self, image: str) -> str:
        return f"docker volume create {self.volume}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        ctx.create_volume(self.volume)
        return Outcome(self.volume)

    def creates(self) -> dict[str, str]:
        return {"volume": self.volume}


@dataclass(frozen=True)
class RemoveVolume(Operation):
    name: ClassVar[str] = "remove_volume"
    volume: str = checked(alias, "")
    required: ClassVar[tuple[str, ...]] = ("volume",)

    def command(self, image: str) -> str:
        return f"docker volume rm {self.volume}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        ctx.remove_volume(self.volume)
        return Outcome(self.volume)

    def removes(self) -> dict[str, str]:
        return {"volume": self.volume}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("volume", self.volume, ("volume",))]


@dataclass(frozen=True)
class CreateNetwork(Operation):
    """Always an internal bridge network: containers reach each other, never the outside."""

    name: ClassVar[str] = "create_network"
    network: str = checked(_reject_docker_network, "")
    required: ClassVar[tuple[str, ...]] = ("network",)

    def command(self, image: str) -> str:
        return f"docker network create --internal {self.network}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        ctx.create_network(self.network)
        return Outcome(self.network)

    def creates(self) -> dict[str, str]:
        return {"network": self.network}


@dataclass(frozen=True)
class RemoveNetwork(Operation):
    name: ClassVar[str] = "remove_network"
    network: str = checked(alias, "")
    required: ClassVar[tuple[str, ...]] = ("network",)

    def command(self, image: str) -> str:
        return f"docker network rm {self.network}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        ctx.remove_network(self.network)
        return Outcome(self.network)

    def removes(self) -> dict[str, str]:
        return {"network": self.network}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("network", self.network, ("network",))]


@dataclass(frozen=True)
class Run(Operation):
    """`docker run` of the demo image with an argv list (never a shell line built from user text)."""

    name: ClassVar[str] = "run"
    argv: tuple[str, ...] = checked(texts(text(max_length=2000), min_items=1, max_items=50), ())
    container: str | None = checked(alias, None)
    mounts: tuple[Mount, ...] = checked(nested_list(Mount, what="mount", max_items=8), ())
    network: str | None = checked(alias, None)
    detach: bool = checked(boolean, False)
    rm: bool = checked(boolean, False)
    required: ClassVar[tuple[str, ...]] = ("argv",)

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

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
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
            if m.type == "volume" and m.source is not None
        ]
        if self.network:
            used.append(("network", self.network, ("network",)))
        return used


@dataclass(frozen=True)
class RemoveContainer(Operation):
    name: ClassVar[str] = "remove_container"
    container: str = checked(alias, "")
    volumes: bool = checked(boolean, False)  # docker rm -v: also its anonymous volumes
    force: bool = checked(boolean, False)
    required: ClassVar[tuple[str, ...]] = ("container",)

    def command(self, image: str) -> str:
        flags = ("-f " if self.force else "") + ("-v " if self.volumes else "")
        return f"docker rm {flags}{self.container}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        ctx.remove_container(self.container, volumes=self.volumes, force=self.force)
        return Outcome(self.container)

    def removes(self) -> dict[str, str]:
        return {"container": self.container}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("container", self.container, ("container",))]


@dataclass(frozen=True)
class Logs(Operation):
    """`docker logs` of a container this run started (detached); waits for it to exit first, within the
    step's deadline, so a long-running container's whole story is shown (e.g. a reader seeing a live edit)."""

    name: ClassVar[str] = "logs"
    container: str = checked(alias, "")
    required: ClassVar[tuple[str, ...]] = ("container",)

    def command(self, image: str) -> str:
        return f"docker wait {self.container} && docker logs {self.container}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        return ctx.container_logs(self.container, deadline=deadline)

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("container", self.container, ("container",))]


@dataclass(frozen=True)
class ListVolumes(Operation):
    """This run's volumes, one name per line (named ones by their friendly name)."""

    name: ClassVar[str] = "list_volumes"

    def command(self, image: str) -> str:
        return "docker volume ls -q"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        return Outcome("\n".join(ctx.list_volumes()))


@dataclass(frozen=True)
class ListContainers(Operation):
    name: ClassVar[str] = "list_containers"

    def command(self, image: str) -> str:
        return "docker ps -a --format '{{.Names}}'"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        return Outcome("\n".join(ctx.list_containers()))


@dataclass(frozen=True)
class RemoveAnonymousVolumes(Operation):
    """`docker volume rm` of this run's anonymous volumes (never a prune: 20.10 prunes named ones too)."""

    name: ClassVar[str] = "remove_anonymous_volumes"

    def command(self, image: str) -> str:
        return "docker volume rm <익명 볼륨 ID...>"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        return Outcome("\n".join(ctx.remove_anonymous_volumes()))


host_path = text(
    max_length=250,
    pattern=r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,60}(/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,60}){0,3}",
    hint="must be a relative path inside the demo directory such as src/app.js",
)


@dataclass(frozen=True)
class WriteHostFile(Operation):
    """Write a file in the run's temporary host directory (as an editor on the host would)."""

    name: ClassVar[str] = "write_host_file"
    path: str = checked(host_path, "")
    content: str = checked(text(max_length=2000), "")
    required: ClassVar[tuple[str, ...]] = ("path", "content")

    def command(self, image: str) -> str:
        return f"echo {shell_quote(self.content)} > {HOST_DIR_SHOWN}/{self.path}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        ctx.write_host_file(self.path, self.content + "\n")
        return Outcome("")


@dataclass(frozen=True)
class ReadHostFile(Operation):
    name: ClassVar[str] = "read_host_file"
    path: str = checked(host_path, "")
    required: ClassVar[tuple[str, ...]] = ("path",)

    def command(self, image: str) -> str:
        return f"cat {HOST_DIR_SHOWN}/{self.path}"

    def execute(self, ctx: DockerStepContext, deadline: float) -> Outcome:
        content = ctx.read_host_file(self.path)
        if content is None:
            return Outcome(f"cat: {HOST_DIR_SHOWN}/{self.path}: No such file or directory", 1)
        return Outcome(content, 0)


OPERATIONS: dict[str, type[Operation]] = {
    cls.name: cls
    for cls in (
        CreateVolume,
        RemoveVolume,
        CreateNetwork,
        RemoveNetwork,
        Run,
        RemoveContainer,
        Logs,
        ListVolumes,
        ListContainers,
        RemoveAnonymousVolumes,
        WriteHostFile,
        ReadHostFile,
    )
}
