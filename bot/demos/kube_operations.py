"""The fixed vocabulary of Kubernetes demo steps (scenarios with `platform: kubernetes`).

Like bot/demos/operations.py for Docker: each operation knows its fields (validated, unknown ones refused),
the equivalent `kubectl` command with the scenario's names, and how to execute through a `KubeStepContext`
(a protocol; bot/demos/kube_runner.py's KubeContext implements it and owns the Kubernetes client, the run's
namespace and the pod lockdown).
There are no words for host paths, host networking, privileges, other images or Service types that open a
port on the node: a step cannot ask for what the vocabulary cannot say.

A step's result carries facts (ready pods, the Service's ClusterIP, ...) and its `expect` checks them; every
operation declares which facts it reports, so `expect: {cluster_ip_same: true}` on a step that cannot know
is a validation error, not an expectation that silently fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from bot.demos.operations import Step, alias, sandbox_hint, shell_quote
from bot.demos.schema import boolean, checked, integer, nested, text, texts

# The image of the bad-image step: `.invalid` never resolves (RFC 6761), and the step also sets
# imagePullPolicy Never, so the kubelet never tries to pull it from anywhere.
NEVER_PULLED_IMAGE = "dockbot.invalid/never-pulled:1"
ENV_NAME = text(
    max_length=40, pattern=r"[A-Z][A-Z0-9_]{0,39}", hint="must be an upper-case name like VERSION"
)


def _env(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping) or not 1 <= len(value) <= 5:
        raise ValueError("must be a mapping of 1 to 5 NAME: value pairs")
    pairs = []
    for key, item in value.items():
        ENV_NAME(key)
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValueError(f"value of {key} must be text or a number")
        pairs.append((str(key), text(max_length=200)(str(item))))
    return tuple(pairs)


def _port(value: Any) -> int:
    # Unprivileged ports only: the pods run as a non-root user without capabilities.
    return integer(low=1024, high=65535)(value)


@dataclass(frozen=True)
class KubeOutcome:
    """What one step produced: output as kubectl would print it, the facts expectations check, and the
    command actually run when it is only known then (the name of the pod that was deleted)."""

    output: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    command: str | None = None


class KubeStepContext(Protocol):
    """What a Kubernetes step may do: the runner's context (bot/demos/kube_runner.py) implements it with
    the kubernetes client inside the run's namespace; steps only name the scenario's app and service."""

    def create_deployment(
        self,
        app: str,
        replicas: int,
        argv: Iterable[str],
        env: Iterable[tuple[str, str]],
        port: int | None,
        deadline: float,
    ) -> KubeOutcome: ...
    def create_service(
        self, name: str, app: str, port: int, target_port: int, deadline: float
    ) -> KubeOutcome: ...
    def show_service(self, name: str, deadline: float) -> KubeOutcome: ...
    def list_pods(self, app: str, deadline: float) -> KubeOutcome: ...
    def pod_logs(self, app: str, deadline: float) -> KubeOutcome: ...
    def delete_pods(self, app: str, *, every: bool, deadline: float) -> KubeOutcome: ...
    def wait_replaced(self, app: str, deadline: float) -> KubeOutcome: ...
    def set_env(self, app: str, env: Iterable[tuple[str, str]], deadline: float) -> KubeOutcome: ...
    def set_never_pulled_image(self, app: str, deadline: float) -> KubeOutcome: ...
    def wait_stalled(self, app: str, deadline: float) -> KubeOutcome: ...
    def rollout_status(self, app: str, deadline: float) -> KubeOutcome: ...
    def rollout_history(self, app: str, deadline: float) -> KubeOutcome: ...
    def rollout_undo(self, app: str, deadline: float) -> KubeOutcome: ...


def _count(template: str) -> Callable[[Any], str]:
    return lambda value: template.format(value)


def _flag(yes: str, no: str) -> Callable[[Any], str]:
    return lambda value: yes if value else no


# expectation field -> how it reads in Korean for the expected value
_EXPECT_TEXT: dict[str, Callable[[Any], str]] = {
    "ready": _count("준비된 파드 {}개"),
    "replaced": _flag("지운 파드 대신 새 파드가 생김", "새 파드가 생기지 않음"),
    "cluster_ip_same": _flag("ClusterIP가 처음과 같음", "ClusterIP가 바뀜"),
    "endpoints": _count("엔드포인트 {}개"),
    "endpoints_changed": _flag("엔드포인트 주소가 바뀜", "엔드포인트 주소가 그대로"),
    "revision": _count("현재 리비전 {}"),
    "revisions": _count("리비전 {}개"),
    "stalled": _flag("새 파드가 이미지를 받지 못해 롤아웃이 멈춤", "롤아웃이 멈추지 않음"),
    "old_ready": _count("이전 파드 {}개가 계속 준비 상태"),
}


@dataclass(frozen=True)
class KubeExpect:
    """What a step's result must show; each check is displayed ✅/❌."""

    contains: tuple[str, ...] = checked(texts(text(max_length=500), max_items=10, one_allowed=True), ())
    not_contains: tuple[str, ...] = checked(texts(text(max_length=500), max_items=10, one_allowed=True), ())
    ready: int | None = checked(integer(low=0, high=10), None)
    replaced: bool | None = checked(boolean, None)
    cluster_ip_same: bool | None = checked(boolean, None)
    endpoints: int | None = checked(integer(low=0, high=10), None)
    endpoints_changed: bool | None = checked(boolean, None)
    revision: int | None = checked(integer(low=1, high=100), None)
    revisions: int | None = checked(integer(low=1, high=100), None)
    stalled: bool | None = checked(boolean, None)
    old_ready: int | None = checked(integer(low=0, high=10), None)

    def facts_used(self) -> list[str]:
        return [name for name in _EXPECT_TEXT if getattr(self, name) is not None]

    def check(self, outcome: KubeOutcome) -> list[tuple[str, bool]]:
        checks = [(f"출력에 '{snippet}' 있음", snippet in outcome.output) for snippet in self.contains]
        checks += [
            (f"출력에 '{snippet}' 없음", snippet not in outcome.output) for snippet in self.not_contains
        ]
        for name in self.facts_used():
            wanted = getattr(self, name)
            checks.append((_EXPECT_TEXT[name](wanted), outcome.facts.get(name) == wanted))
        return checks


@dataclass(frozen=True)
class KubeOperation(Step):
    """A Kubernetes step: the facts it reports, what it expects of them, how it runs in a KubeStepContext."""

    expect: KubeExpect | None = checked(nested(KubeExpect, what="expect"), None)  # noqa: RUF009 (checked() returns a dataclasses.field)
    facts: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.expect is not None:
            unknown = [name for name in self.expect.facts_used() if name not in self.facts]
            if unknown:
                reports = ", ".join(sorted(self.facts)) or "only its output (contains, not_contains)"
                raise ValueError(
                    f"expect {', '.join(unknown)}: a {self.name} step cannot tell that "
                    f"(it reports: {reports})"
                )

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        raise NotImplementedError


@dataclass(frozen=True)
class _OnDeployment(KubeOperation):
    deployment: str = checked(alias, "")
    required: ClassVar[tuple[str, ...]] = ("deployment",)

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("deployment", self.deployment, ("deployment",))]


@dataclass(frozen=True)
class CreateDeployment(KubeOperation):
    """A Deployment of the demo image running `argv` (a list, never a shell line built from user text)."""

    name: ClassVar[str] = "create_deployment"
    deployment: str = checked(alias, "")
    replicas: int = checked(integer(low=1, high=4), 1)
    argv: tuple[str, ...] = checked(texts(text(max_length=2000), min_items=1, max_items=30), ())
    env: tuple[tuple[str, str], ...] = checked(_env, ())
    port: int | None = checked(_port, None)
    required: ClassVar[tuple[str, ...]] = ("deployment", "argv")

    def command(self, image: str) -> str:
        parts = [f"kubectl create deployment {self.deployment} --image={image} --replicas={self.replicas}"]
        if self.port:
            parts.append(f"--port={self.port}")
        parts.append("-- " + " ".join(shell_quote(arg) for arg in self.argv))
        shown = " ".join(parts)
        if self.env:
            pairs = " ".join(f"{key}={shell_quote(value)}" for key, value in self.env)
            shown += f" && kubectl set env deployment/{self.deployment} {pairs}"
        return shown

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.create_deployment(self.deployment, self.replicas, self.argv, self.env, self.port, deadline)

    def creates(self) -> dict[str, str]:
        return {"deployment": self.deployment}


@dataclass(frozen=True)
class RolloutStatus(_OnDeployment):
    """Wait until the Deployment's rollout is complete: every replica updated and available."""

    name: ClassVar[str] = "rollout_status"
    facts: ClassVar[frozenset[str]] = frozenset({"ready", "revision"})

    def command(self, image: str) -> str:
        shown = f"kubectl rollout status deployment/{self.deployment}"
        return f"{shown} && kubectl get pods -l app={self.deployment}"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.rollout_status(self.deployment, deadline)


@dataclass(frozen=True)
class ListPods(_OnDeployment):
    name: ClassVar[str] = "list_pods"
    facts: ClassVar[frozenset[str]] = frozenset({"ready"})

    def command(self, image: str) -> str:
        return f"kubectl get pods -l app={self.deployment}"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.list_pods(self.deployment, deadline)


@dataclass(frozen=True)
class DeletePod(_OnDeployment):
    """Delete the Deployment's oldest pod (or, with `all`, every one of its pods)."""

    name: ClassVar[str] = "delete_pod"
    all: bool = checked(boolean, False)

    def command(self, image: str) -> str:
        if self.all:
            return f"kubectl delete pods -l app={self.deployment}"
        return f"kubectl delete pod <{self.deployment} 파드 하나>"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.delete_pods(self.deployment, every=self.all, deadline=deadline)


@dataclass(frozen=True)
class WaitReplaced(_OnDeployment):
    """Wait until the Deployment has all its replicas ready again, none of them a pod that was deleted."""

    name: ClassVar[str] = "wait_replaced"
    facts: ClassVar[frozenset[str]] = frozenset({"ready", "replaced"})

    def command(self, image: str) -> str:
        return f"kubectl get pods -l app={self.deployment} --watch"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.wait_replaced(self.deployment, deadline)


@dataclass(frozen=True)
class CreateService(KubeOperation):
    """A ClusterIP Service in front of a Deployment's pods (no NodePort or LoadBalancer: nothing opens a
    port on a node)."""

    name: ClassVar[str] = "create_service"
    service: str = checked(alias, "")
    deployment: str = checked(alias, "")
    port: int = checked(integer(low=1, high=65535), 80)
    target_port: int = checked(_port, 8080)
    required: ClassVar[tuple[str, ...]] = ("service", "deployment")

    def command(self, image: str) -> str:
        return (
            f"kubectl expose deployment {self.deployment} --name={self.service} "
            f"--port={self.port} --target-port={self.target_port}"
        )

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.create_service(self.service, self.deployment, self.port, self.target_port, deadline)

    def creates(self) -> dict[str, str]:
        return {"service": self.service}

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("deployment", self.deployment, ("deployment",))]


@dataclass(frozen=True)
class ShowService(KubeOperation):
    """The Service's ClusterIP and its endpoints, once the endpoints are exactly its ready pods."""

    name: ClassVar[str] = "show_service"
    service: str = checked(alias, "")
    required: ClassVar[tuple[str, ...]] = ("service",)
    facts: ClassVar[frozenset[str]] = frozenset({"cluster_ip_same", "endpoints", "endpoints_changed"})

    def command(self, image: str) -> str:
        return f"kubectl get service {self.service} && kubectl get endpoints {self.service}"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.show_service(self.service, deadline)

    def uses(self) -> list[tuple[str, str, tuple[str | int, ...]]]:
        return [("service", self.service, ("service",))]


@dataclass(frozen=True)
class SetEnv(_OnDeployment):
    """Change the pod template (an environment value): a new ReplicaSet and a rolling update."""

    name: ClassVar[str] = "set_env"
    env: tuple[tuple[str, str], ...] = checked(_env, ())
    required: ClassVar[tuple[str, ...]] = ("deployment", "env")

    def command(self, image: str) -> str:
        pairs = " ".join(f"{key}={shell_quote(value)}" for key, value in self.env)
        return f"kubectl set env deployment/{self.deployment} {pairs}"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.set_env(self.deployment, self.env, deadline)


@dataclass(frozen=True)
class SetNeverPulledImage(_OnDeployment):
    """Point the pod template at an image that is nowhere (and is never pulled): the rollout stalls."""

    name: ClassVar[str] = "set_never_pulled_image"

    def command(self, image: str) -> str:
        return f"kubectl set image deployment/{self.deployment} app={NEVER_PULLED_IMAGE}"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.set_never_pulled_image(self.deployment, deadline)


@dataclass(frozen=True)
class WaitStalled(_OnDeployment):
    """Wait until a new pod cannot get its image while the old pods are all still ready."""

    name: ClassVar[str] = "wait_stalled"
    facts: ClassVar[frozenset[str]] = frozenset({"stalled", "old_ready"})

    def command(self, image: str) -> str:
        return (
            f"kubectl rollout status deployment/{self.deployment} --timeout=10s; "
            f"kubectl get pods -l app={self.deployment}"
        )

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.wait_stalled(self.deployment, deadline)


@dataclass(frozen=True)
class RolloutUndo(_OnDeployment):
    name: ClassVar[str] = "rollout_undo"

    def command(self, image: str) -> str:
        return f"kubectl rollout undo deployment/{self.deployment}"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.rollout_undo(self.deployment, deadline)


@dataclass(frozen=True)
class RolloutHistory(_OnDeployment):
    name: ClassVar[str] = "rollout_history"
    facts: ClassVar[frozenset[str]] = frozenset({"revision", "revisions"})

    def command(self, image: str) -> str:
        return f"kubectl rollout history deployment/{self.deployment}"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.rollout_history(self.deployment, deadline)


@dataclass(frozen=True)
class PodLogs(_OnDeployment):
    """The last lines each ready pod of the Deployment logged."""

    name: ClassVar[str] = "pod_logs"

    def command(self, image: str) -> str:
        return f"kubectl logs -l app={self.deployment} --prefix"

    def execute(self, ctx: KubeStepContext, deadline: float) -> KubeOutcome:
        return ctx.pod_logs(self.deployment, deadline)


KUBE_OPERATIONS: dict[str, type[KubeOperation]] = {
    cls.name: cls
    for cls in (
        CreateDeployment,
        RolloutStatus,
        ListPods,
        DeletePod,
        WaitReplaced,
        CreateService,
        ShowService,
        SetEnv,
        SetNeverPulledImage,
        WaitStalled,
        RolloutUndo,
        RolloutHistory,
        PodLogs,
    )
}

# Fields that would loosen the pod lockdown, named as refused (like the Docker ones).
KUBE_SANDBOX_KEYS = frozenset(
    {
        "image",
        "host_network",
        "hostnetwork",
        "host_path",
        "hostpath",
        "privileged",
        "security_context",
        "service_account",
        "node_port",
        "nodeport",
        "type",
        "host_port",
        "hostport",
        "run_as_user",
    }
)


def kube_sandbox_hint(key: str) -> str:
    if key.lower() in KUBE_SANDBOX_KEYS:
        return (
            f" — '{key}' is refused: Kubernetes demo pods always run the demo image as a non-root user "
            "with a read-only root, no host access and no service-account token"
        )
    return sandbox_hint(key)
