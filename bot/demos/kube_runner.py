"""The Kubernetes demo runner: one scenario in its own locked-down namespace, through the official client.

Every run gets the namespace `dockbot-demo-<run id>`, labelled `dockbot.demo=<run id>` (owner and expiry as
annotations: label values cannot hold them), with Pod Security Admission "restricted" labels, a ResourceQuota
and a LimitRange. Every pod template is built here (`pod_template`) and re-checked by `check_pod_template`
right before it is sent: the demo image only, non-root, read-only root, no privilege escalation, no
capabilities, RuntimeDefault seccomp, no service-account token, no host namespaces or host paths. Only
stable APIs (core/v1, apps/v1) are used, so any current cluster serves them. Cleanup deletes the namespace,
always; a run killed before that is swept by bot/demos/kube_cleanup.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from bot.demos.kube_operations import NEVER_PULLED_IMAGE, KubeOutcome
from bot.demos.lockdown import LockdownViolation
from bot.demos.result import DemoRun, ProgressCallback, StepResult
from bot.demos.runlock import RunLock
from bot.demos.runner import (
    EXPIRES_LABEL,
    EXPIRY_GRACE_S,
    LABEL,
    OWNER_LABEL,
    StepTimeout,
    finish_run,
    new_run_id,
    owner_id,
    register_run,
    run_step,
    run_steps,
)
from bot.demos.scenario import Scenario

log = logging.getLogger(__name__)

NAMESPACE_PREFIX = "dockbot-demo-"
RUN_LABEL = "dockbot.kube-demo"  # the run id on the objects inside a demo namespace
MANAGED_BY = {"app.kubernetes.io/managed-by": "dockbot"}
CONTAINER = "app"
USER_ID = 65534  # nobody
REQUEST_TIMEOUT_S = 10.0
POLL_S = 0.2
CLEANUP_WAIT_S = 60.0
REVISION = "deployment.kubernetes.io/revision"
PULL_FAILURES = frozenset({"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName"})
KUBE_ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError)
PSA_LABELS = {
    f"pod-security.kubernetes.io/{mode}{suffix}": value
    for mode in ("enforce", "audit", "warn")
    for suffix, value in (("", "restricted"), ("-version", "latest"))
}
QUOTA = {
    "pods": "8",
    "requests.cpu": "500m",
    "requests.memory": "256Mi",
    "limits.cpu": "1",
    "limits.memory": "512Mi",
    "services": "2",
    "services.nodeports": "0",
    "services.loadbalancers": "0",
    "persistentvolumeclaims": "0",
    "configmaps": "5",
    "secrets": "5",
}
LIMITS = {"cpu": "100m", "memory": "32Mi"}
REQUESTS = {"cpu": "10m", "memory": "16Mi"}


def namespace_of(run_id: str) -> str:
    return NAMESPACE_PREFIX + run_id


class KubeContext:
    """What Kubernetes steps may do, and nothing more; owns the run's namespace and its cleanup."""

    def __init__(self, api: client.ApiClient, image: str, pull_policy: str, run_id: str, expires: float):
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.image = image
        self.pull_policy = pull_policy
        self.run_id = run_id
        self.namespace = namespace_of(run_id)
        self.labels = {LABEL: run_id, **MANAGED_BY}  # the namespace's: what the sweep selects
        # Everything inside carries the run id under another key: dockershim copies pod labels onto the
        # pause containers on the engine, and a `dockbot.demo` label there would make the Docker demos'
        # sweep take them for leftovers of a Docker run.
        self.object_labels = {RUN_LABEL: run_id, **MANAGED_BY}
        self.annotations = {OWNER_LABEL: owner_id(), EXPIRES_LABEL: str(int(expires))}
        self._replicas: dict[str, int] = {}
        self._deleted: dict[str, set[str]] = {}
        self._before_delete: dict[str, set[str]] = {}
        self._cluster_ips: dict[str, str] = {}
        self._service_target: dict[str, str] = {}
        self._endpoints_seen: dict[str, frozenset[str]] = {}
        self.created = False

    # the namespace ---------------------------------------------------------------------------------------
    def setup(self, deadline: float) -> None:
        """The run's namespace with its quota and default limits, ready for pods."""
        self.core.create_namespace(
            client.V1Namespace(
                metadata=client.V1ObjectMeta(
                    name=self.namespace,
                    labels={**self.labels, **PSA_LABELS},
                    annotations=self.annotations,
                )
            ),
            _request_timeout=self._timeout(deadline),
        )
        self.created = True
        meta = client.V1ObjectMeta(name="dockbot-demo", labels=self.object_labels)
        self.core.create_namespaced_resource_quota(
            self.namespace,
            client.V1ResourceQuota(metadata=meta, spec=client.V1ResourceQuotaSpec(hard=QUOTA)),
            _request_timeout=self._timeout(deadline),
        )
        self.core.create_namespaced_limit_range(
            self.namespace,
            client.V1LimitRange(
                metadata=meta,
                spec=client.V1LimitRangeSpec(
                    limits=[
                        client.V1LimitRangeItem(
                            type="Container",
                            default=LIMITS,
                            default_request=REQUESTS,
                            max={"cpu": "200m", "memory": "64Mi"},
                        )
                    ]
                ),
            ),
            _request_timeout=self._timeout(deadline),
        )

        # Pods are admitted once the quota has been counted and the namespace's default service account
        # exists; waiting here saves the ReplicaSet controller's retry backoff later.
        def ready() -> bool:
            quota = self.core.read_namespaced_resource_quota(
                "dockbot-demo", self.namespace, _request_timeout=self._timeout(deadline)
            )
            if not (quota.status and quota.status.hard):
                return False
            accounts = self.core.list_namespaced_service_account(
                self.namespace, _request_timeout=self._timeout(deadline)
            )
            return any(account.metadata.name == "default" for account in accounts.items)

        self._poll(ready, deadline)

    def cleanup(self) -> list[str]:
        """Delete the namespace (everything in it goes with it) and wait until it is gone."""
        if not self.created:
            return []
        try:
            if not delete_namespace(self.core, self.namespace):
                return []
        except KUBE_ERRORS as exc:
            return [f"namespace {self.namespace}: {_api_message(exc)}"]
        end = time.monotonic() + CLEANUP_WAIT_S
        while time.monotonic() < end:
            try:
                self.core.read_namespace(self.namespace, _request_timeout=REQUEST_TIMEOUT_S)
            except ApiException as exc:
                if exc.status == 404:
                    return []
            except KUBE_ERRORS as exc:
                return [f"namespace {self.namespace}: {exc}"]
            time.sleep(POLL_S)
        return [f"namespace {self.namespace}: still terminating after {CLEANUP_WAIT_S:g}s"]

    # pods ------------------------------------------------------------------------------------------------
    def pod_template(
        self, app: str, argv: Iterable[str], env: Iterable[tuple[str, str]], port: int | None
    ) -> client.V1PodTemplateSpec:
        """The only pod template a demo ever sends (before check_pod_template looks at it again)."""
        container = client.V1Container(
            name=CONTAINER,
            image=self.image,
            image_pull_policy=self.pull_policy,
            command=list(argv),
            env=[client.V1EnvVar(name=key, value=value) for key, value in env] or None,
            ports=[client.V1ContainerPort(container_port=port)] if port else None,
            resources=client.V1ResourceRequirements(limits=LIMITS, requests=REQUESTS),
            security_context=client.V1SecurityContext(
                run_as_non_root=True,
                run_as_user=USER_ID,
                run_as_group=USER_ID,
                read_only_root_filesystem=True,
                allow_privilege_escalation=False,
                privileged=False,
                capabilities=client.V1Capabilities(drop=["ALL"]),
                seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
            ),
            volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")],
        )
        return client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={**self.object_labels, "app": app}),
            spec=client.V1PodSpec(
                containers=[container],
                automount_service_account_token=False,
                enable_service_links=False,
                host_network=False,
                host_pid=False,
                host_ipc=False,
                # busybox as PID 1 ignores SIGTERM: a short grace keeps deletes and rollouts quick.
                termination_grace_period_seconds=1,
                security_context=client.V1PodSecurityContext(
                    run_as_non_root=True,
                    run_as_user=USER_ID,
                    run_as_group=USER_ID,
                    seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
                ),
                volumes=[
                    client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource(size_limit="16Mi"))
                ],
            ),
        )

    def check_pod_template(self, template: client.V1PodTemplateSpec) -> None:
        """Refuse any pod template that is less locked down than `pod_template` makes it."""
        check_pod_template(template, self.image, self.pull_policy)

    def create_deployment(
        self,
        app: str,
        replicas: int,
        argv: Iterable[str],
        env: Iterable[tuple[str, str]],
        port: int | None,
        deadline: float,
    ) -> KubeOutcome:
        template = self.pod_template(app, argv, env, port)
        self.check_pod_template(template)
        body = client.V1Deployment(
            metadata=client.V1ObjectMeta(name=app, labels={**self.object_labels, "app": app}),
            spec=client.V1DeploymentSpec(
                replicas=replicas,
                selector=client.V1LabelSelector(match_labels={"app": app}),
                template=template,
                revision_history_limit=5,
                progress_deadline_seconds=60,
                # One extra pod at a time and none unavailable: old pods serve until new ones are ready.
                strategy=client.V1DeploymentStrategy(
                    type="RollingUpdate",
                    rolling_update=client.V1RollingUpdateDeployment(max_surge=1, max_unavailable=0),
                ),
            ),
        )
        self.apps.create_namespaced_deployment(self.namespace, body, _request_timeout=self._timeout(deadline))
        self._replicas[app] = replicas
        return KubeOutcome(f"deployment.apps/{app} created")

    def _pods(self, app: str, deadline: float) -> list[client.V1Pod]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"app={app}", _request_timeout=self._timeout(deadline)
        ).items
        return sorted(pods, key=lambda pod: (pod.metadata.creation_timestamp, pod.metadata.name))

    def list_pods(self, app: str, deadline: float) -> KubeOutcome:
        pods = self._pods(app, deadline)
        live = [pod for pod in pods if not _terminating(pod)]
        return KubeOutcome(pod_table(live), {"ready": sum(_ready(pod) for pod in live)})

    def rollout_status(self, app: str, deadline: float) -> KubeOutcome:
        def complete() -> client.V1Deployment | None:
            deployment = self.apps.read_namespaced_deployment(
                app, self.namespace, _request_timeout=self._timeout(deadline)
            )
            return deployment if rollout_complete(deployment) else None

        deployment = self._poll(complete, deadline)
        live = [pod for pod in self._pods(app, deadline) if not _terminating(pod)]
        revision = int((deployment.metadata.annotations or {}).get(REVISION, "0"))
        output = f'deployment "{app}" successfully rolled out (revision {revision})\n' + pod_table(live)
        return KubeOutcome(output, {"ready": sum(_ready(pod) for pod in live), "revision": revision})

    def delete_pods(self, app: str, *, every: bool, deadline: float) -> KubeOutcome:
        live = [pod for pod in self._pods(app, deadline) if not _terminating(pod)]
        if not live:
            return KubeOutcome("No resources found", {}, f"kubectl delete pods -l app={app}")
        chosen = live if every else live[:1]
        self._before_delete[app] = {pod.metadata.name for pod in live}
        for pod in chosen:
            self.core.delete_namespaced_pod(
                pod.metadata.name, self.namespace, _request_timeout=self._timeout(deadline)
            )
        names = [pod.metadata.name for pod in chosen]
        self._deleted.setdefault(app, set()).update(names)
        command = f"kubectl delete pods -l app={app}" if every else f"kubectl delete pod {names[0]}"
        return KubeOutcome("\n".join(f'pod "{name}" deleted' for name in names), {}, command)

    def wait_replaced(self, app: str, deadline: float) -> KubeOutcome:
        """Until the wanted number of pods is ready again, none of them one that was deleted (those may
        still be listed as Terminating while the kubelet stops them, as kubectl shows them too)."""
        deleted = self._deleted.get(app, set())
        wanted = self._replicas.get(app, 1)

        def replaced() -> list[client.V1Pod] | None:
            pods = self._pods(app, deadline)
            live = [pod for pod in pods if not _terminating(pod) and pod.metadata.name not in deleted]
            return pods if sum(_ready(pod) for pod in live) == wanted else None

        pods = self._poll(replaced, deadline)
        live = [pod for pod in pods if not _terminating(pod) and pod.metadata.name not in deleted]
        new = {pod.metadata.name for pod in live} - self._before_delete.get(app, set())
        output = pod_table(pods, marked=new, mark="← 새 파드")
        facts = {"ready": sum(_ready(pod) for pod in live), "replaced": len(new) >= max(1, len(deleted))}
        return KubeOutcome(output, facts)

    # services --------------------------------------------------------------------------------------------
    def create_service(
        self, name: str, app: str, port: int, target_port: int, deadline: float
    ) -> KubeOutcome:
        body = client.V1Service(
            metadata=client.V1ObjectMeta(name=name, labels=self.object_labels),
            spec=client.V1ServiceSpec(
                type="ClusterIP",
                selector={"app": app},
                ports=[client.V1ServicePort(port=port, target_port=target_port, protocol="TCP")],
            ),
        )
        created = self.core.create_namespaced_service(
            self.namespace, body, _request_timeout=self._timeout(deadline)
        )
        self._cluster_ips[name] = created.spec.cluster_ip
        self._service_target[name] = app
        return KubeOutcome(f"service/{name} exposed (ClusterIP {created.spec.cluster_ip})")

    def show_service(self, name: str, deadline: float) -> KubeOutcome:
        app = self._service_target[name]
        wanted = self._replicas.get(app, 1)

        def settled() -> tuple[client.V1Service, list[str]] | None:
            pods = self._pods(app, deadline)
            ready_ips = {pod.status.pod_ip for pod in pods if _ready(pod) and not _terminating(pod)}
            try:
                endpoints = self.core.read_namespaced_endpoints(
                    name, self.namespace, _request_timeout=self._timeout(deadline)
                )
            except ApiException as exc:
                if exc.status == 404:  # the endpoints controller has not written it yet (a busy cluster)
                    return None
                raise
            addresses = sorted(
                f"{address.ip}:{port.port}"
                for subset in endpoints.subsets or []
                for address in subset.addresses or []
                for port in subset.ports or []
            )
            ips = {address.rsplit(":", 1)[0] for address in addresses}
            if len(ready_ips) == wanted and ips == ready_ips:
                service = self.core.read_namespaced_service(
                    name, self.namespace, _request_timeout=self._timeout(deadline)
                )
                return service, addresses
            return None

        service, addresses = self._poll(settled, deadline)
        ports = ",".join(f"{port.port}/{port.protocol}" for port in service.spec.ports or [])
        previous = self._endpoints_seen.get(name)
        self._endpoints_seen[name] = frozenset(addresses)
        output = (
            f"{'NAME':<8} {'TYPE':<10} {'CLUSTER-IP':<15} PORT(S)\n"
            f"{name:<8} {service.spec.type:<10} {service.spec.cluster_ip:<15} {ports}\n\n"
            f"{'NAME':<8} ENDPOINTS\n{name:<8} {', '.join(addresses)}"
        )
        facts = {
            "cluster_ip_same": service.spec.cluster_ip == self._cluster_ips.get(name),
            "endpoints": len(addresses),
            "endpoints_changed": previous is not None and previous != frozenset(addresses),
        }
        return KubeOutcome(output, facts)

    # rollouts --------------------------------------------------------------------------------------------
    def _update_template(
        self, app: str, change: Callable[[client.V1PodTemplateSpec], None], deadline: float
    ) -> client.V1Deployment:
        """Read, change, re-check and replace the Deployment's pod template (again on a write conflict)."""
        for _ in range(5):
            deployment = self.apps.read_namespaced_deployment(
                app, self.namespace, _request_timeout=self._timeout(deadline)
            )
            change(deployment.spec.template)
            check_pod_template(deployment.spec.template, self.image, self.pull_policy)
            try:
                return self.apps.replace_namespaced_deployment(
                    app, self.namespace, deployment, _request_timeout=self._timeout(deadline)
                )
            except ApiException as exc:
                if exc.status != 409:
                    raise
        raise StepTimeout

    def set_env(self, app: str, env: Iterable[tuple[str, str]], deadline: float) -> KubeOutcome:
        pairs = dict(env)

        def change(template: client.V1PodTemplateSpec) -> None:
            container = template.spec.containers[0]
            kept = [var for var in container.env or [] if var.name not in pairs]
            container.env = kept + [client.V1EnvVar(name=key, value=value) for key, value in pairs.items()]

        self._update_template(app, change, deadline)
        return KubeOutcome(f"deployment.apps/{app} env updated")

    def set_never_pulled_image(self, app: str, deadline: float) -> KubeOutcome:
        def change(template: client.V1PodTemplateSpec) -> None:
            container = template.spec.containers[0]
            container.image = NEVER_PULLED_IMAGE
            container.image_pull_policy = "Never"

        self._update_template(app, change, deadline)
        return KubeOutcome(f"deployment.apps/{app} image updated")

    def wait_stalled(self, app: str, deadline: float) -> KubeOutcome:
        wanted = self._replicas.get(app, 1)

        def stalled() -> tuple[list[client.V1Pod], str] | None:
            live = [pod for pod in self._pods(app, deadline) if not _terminating(pod)]
            new = [pod for pod in live if pod.spec.containers[0].image == NEVER_PULLED_IMAGE]
            reasons = [reason for pod in new if (reason := _waiting_reason(pod)) in PULL_FAILURES]
            old_ready = [pod for pod in live if pod not in new and _ready(pod)]
            if reasons and len(old_ready) == wanted:
                return live, reasons[0]
            return None

        live, reason = self._poll(stalled, deadline)
        old_ready = sum(_ready(pod) for pod in live if pod.spec.containers[0].image != NEVER_PULLED_IMAGE)
        output = (
            f'Waiting for deployment "{app}" rollout to finish: 1 out of {wanted} new replicas have been '
            f"updated...\nerror: timed out waiting for the condition ({reason})\n" + pod_table(live)
        )
        return KubeOutcome(output, {"stalled": True, "old_ready": old_ready})

    def _replica_sets(self, app: str, deadline: float) -> list[tuple[int, client.V1ReplicaSet]]:
        sets = self.apps.list_namespaced_replica_set(
            self.namespace, label_selector=f"app={app}", _request_timeout=self._timeout(deadline)
        ).items
        numbered = [(int((rs.metadata.annotations or {}).get(REVISION, "0")), rs) for rs in sets]
        return sorted(numbered, key=lambda pair: pair[0])

    def rollout_undo(self, app: str, deadline: float) -> KubeOutcome:
        """What `kubectl rollout undo` does (apps/v1 has no rollback call): the previous revision's pod
        template becomes the Deployment's template again."""
        deployment = self.apps.read_namespaced_deployment(
            app, self.namespace, _request_timeout=self._timeout(deadline)
        )
        current = int((deployment.metadata.annotations or {}).get(REVISION, "0"))
        earlier = [(number, rs) for number, rs in self._replica_sets(app, deadline) if number < current]
        if not earlier:
            return KubeOutcome(f"error: no rollout history found for deployment {app!r}")
        _, previous = earlier[-1]

        def change(template: client.V1PodTemplateSpec) -> None:
            template.spec = previous.spec.template.spec
            labels = dict(previous.spec.template.metadata.labels or {})
            labels.pop("pod-template-hash", None)
            template.metadata.labels = labels

        self._update_template(app, change, deadline)
        return KubeOutcome(f"deployment.apps/{app} rolled back")

    def rollout_history(self, app: str, deadline: float) -> KubeOutcome:
        sets = self._replica_sets(app, deadline)
        deployment = self.apps.read_namespaced_deployment(
            app, self.namespace, _request_timeout=self._timeout(deadline)
        )
        lines = [f"deployment.apps/{app}", "REVISION  IMAGE                            ENV"]
        for number, rs in sets:
            container = rs.spec.template.spec.containers[0]
            env = " ".join(f"{var.name}={var.value}" for var in container.env or []) or "-"
            lines.append(f"{number:<9} {container.image:<32} {env}")
        current = int((deployment.metadata.annotations or {}).get(REVISION, "0"))
        return KubeOutcome("\n".join(lines), {"revision": current, "revisions": len(sets)})

    def pod_logs(self, app: str, deadline: float) -> KubeOutcome:
        live = [pod for pod in self._pods(app, deadline) if _ready(pod) and not _terminating(pod)]
        lines: list[str] = []
        for pod in live:
            text = self.core.read_namespaced_pod_log(
                pod.metadata.name,
                self.namespace,
                container=CONTAINER,
                tail_lines=3,
                _request_timeout=self._timeout(deadline),
            )
            lines.extend(f"[pod/{pod.metadata.name}] {line}" for line in text.splitlines())
        return KubeOutcome("\n".join(lines))

    # helpers ---------------------------------------------------------------------------------------------
    @staticmethod
    def _timeout(deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepTimeout
        return max(0.5, min(REQUEST_TIMEOUT_S, remaining))

    @staticmethod
    def _poll(probe: Callable[[], Any], deadline: float) -> Any:
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() + POLL_S >= deadline:
                raise StepTimeout
            time.sleep(POLL_S)


def delete_namespace(core: client.CoreV1Api, name: str) -> bool:
    """Start deleting a demo namespace; False when it is already gone. A terminating namespace admits no
    new pods, and its pods are then removed from the API at once (grace 0) rather than after the kubelet's
    slow confirmation (~15 s here); the kubelet still stops their containers, as for any pod gone from
    the API."""
    try:
        core.delete_namespace(name, propagation_policy="Background", _request_timeout=REQUEST_TIMEOUT_S)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    try:
        core.delete_collection_namespaced_pod(
            name, grace_period_seconds=0, _request_timeout=REQUEST_TIMEOUT_S
        )
    except KUBE_ERRORS as exc:
        log.warning("force-deleting the pods of %s failed: %s", name, exc)
    return True


def rollout_complete(deployment: client.V1Deployment) -> bool:
    """kubectl rollout status's test: the newest generation observed, every replica updated and available,
    no old replica left."""
    spec, status = deployment.spec, deployment.status
    wanted = spec.replicas if spec.replicas is not None else 1
    return (
        (status.observed_generation or 0) >= (deployment.metadata.generation or 0)
        and (status.updated_replicas or 0) == wanted
        and (status.replicas or 0) == wanted
        and (status.available_replicas or 0) == wanted
    )


def check_pod_template(template: client.V1PodTemplateSpec, image: str, pull_policy: str) -> None:
    problems = []
    spec = template.spec
    if spec.automount_service_account_token is not False:
        problems.append("service-account token mounted")
    for flag in ("host_network", "host_pid", "host_ipc"):
        if getattr(spec, flag):
            problems.append(f"{flag} set")
    if spec.service_account_name not in (None, "default") or spec.node_name or spec.init_containers:
        problems.append("service account, node or init containers set")
    pod_security = spec.security_context
    if pod_security is None or pod_security.run_as_non_root is not True:
        problems.append("pod may run as root")
    for volume in spec.volumes or []:
        if volume.empty_dir is None or any(
            getattr(volume, other) is not None for other in ("host_path", "secret", "projected", "config_map")
        ):
            problems.append(f"volume {volume.name} is not an emptyDir")
    if len(spec.containers) != 1:
        problems.append(f"{len(spec.containers)} containers")
    for container in spec.containers:
        allowed = {(image, pull_policy), (NEVER_PULLED_IMAGE, "Never")}
        if (container.image, container.image_pull_policy) not in allowed:
            problems.append(f"image {container.image!r} with pull policy {container.image_pull_policy}")
        security = container.security_context
        if (
            security is None
            or security.run_as_non_root is not True
            or security.read_only_root_filesystem is not True
            or security.allow_privilege_escalation is not False
            or security.privileged
            or security.capabilities is None
            or security.capabilities.drop != ["ALL"]
            or security.capabilities.add
        ):
            problems.append(f"container {container.name} is not locked down")
        if any(port.host_port for port in container.ports or []):
            problems.append("host port")
        if not (container.resources and container.resources.limits):
            problems.append("no resource limits")
    if problems:
        raise LockdownViolation("refusing demo pod template: " + ", ".join(problems))


def _ready(pod: client.V1Pod) -> bool:
    return pod.status.phase == "Running" and any(
        condition.type == "Ready" and condition.status == "True" for condition in pod.status.conditions or []
    )


def _terminating(pod: client.V1Pod) -> bool:
    return pod.metadata.deletion_timestamp is not None


def _waiting_reason(pod: client.V1Pod) -> str:
    for status in pod.status.container_statuses or []:
        if status.state and status.state.waiting:
            return status.state.waiting.reason or ""
    return ""


def _status(pod: client.V1Pod) -> str:
    if _terminating(pod):
        return "Terminating"
    return _waiting_reason(pod) or pod.status.phase or "Pending"


def _age(pod: client.V1Pod) -> str:
    started = pod.metadata.creation_timestamp
    seconds = max(0, int(time.time() - started.timestamp())) if started else 0
    return f"{seconds}s" if seconds < 120 else f"{seconds // 60}m"


def pod_table(pods: list[client.V1Pod], *, marked: set[str] | None = None, mark: str = "") -> str:
    """Pods as `kubectl get pods` shows them (plus a marker on some)."""
    width = max([len(pod.metadata.name) for pod in pods] + [4]) + 2
    lines = [f"{'NAME':<{width}}{'READY':<7}{'STATUS':<20}AGE"]
    for pod in pods:
        ready = f"{int(_ready(pod))}/1"
        line = f"{pod.metadata.name:<{width}}{ready:<7}{_status(pod):<20}{_age(pod)}"
        if marked and pod.metadata.name in marked:
            line += f"  {mark}"
        lines.append(line)
    return "\n".join(lines)


def run_kube_scenario(
    api: client.ApiClient,
    scenario: Scenario,
    *,
    image: str,
    pull_policy: str = "IfNotPresent",
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    run_id: str | None = None,
) -> DemoRun:
    """Run every step in a fresh namespace, check its expectations, and always delete the namespace.
    Never raises for cluster trouble: the DemoRun carries a Korean `error` instead."""
    run_id = run_id or new_run_id()
    started = time.monotonic()
    run = DemoRun(
        demo=scenario.name,
        title=scenario.title,
        conclusion=scenario.conclusion,
        explanation=scenario.explanation,
        run_id=run_id,
        total_steps=len(scenario.steps),
        platform="kubernetes",
    )
    ctx = KubeContext(
        api, image, pull_policy, run_id, expires=time.time() + scenario.timeout_s + EXPIRY_GRACE_S
    )
    lock = RunLock.acquire(run_id)  # before anything exists: other processes see the run as live
    register_run(run_id)
    try:
        try:
            ctx.setup(min(started + scenario.step_timeout_s, started + scenario.timeout_s))
        except StepTimeout:
            run.error = "데모용 네임스페이스가 제한 시간 안에 준비되지 않았습니다."
        except KUBE_ERRORS as exc:
            log.warning("demo run %s: namespace setup failed: %s", run_id, exc)
            run.error = (
                "쿠버네티스 API 오류로 데모용 네임스페이스를 만들지 못했습니다: " + _api_message(exc)[:200]
            )
        if run.error is None:
            run_steps(
                run,
                scenario,
                lambda step, deadline, timeout_s: _run_step(ctx, step, deadline, timeout_s, image),
                started=started,
                on_progress=on_progress,
                cancel=cancel,
            )
    except Exception as exc:  # a bug must not leak a namespace: log it, clean up, report
        log.exception("demo %s (run %s) failed unexpectedly", scenario.name, run_id)
        run.error = f"데모 실행 중 예상하지 못한 오류가 났습니다 ({type(exc).__name__})."
    finally:
        finish_run(run, scenario, lock, ctx.cleanup(), started=started)
    return run


def _run_step(ctx: KubeContext, step: Any, deadline: float, timeout_s: float, image: str) -> StepResult:
    return run_step(
        step,
        execute=lambda: step.execute(ctx, deadline),
        image=image,
        timeout_s=timeout_s,
        run_id=ctx.run_id,
        api_errors=KUBE_ERRORS,
        describe=_api_message,
        api_failed_ko="쿠버네티스 API 오류로 단계를 끝내지 못했습니다",
    )


def _api_message(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}"
    return str(exc)
