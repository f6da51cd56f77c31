"""Kubernetes scenario files (platform: kubernetes): the repo's three load and are linked from the knowledge,
broken or lockdown-loosening YAML is refused with path:line, and the pod template check refuses tampering.
No cluster is needed here (tests/test_demo_kube.py runs the demos on a real one)."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import pytest

from bot.demos.kube_operations import KUBE_OPERATIONS, NEVER_PULLED_IMAGE
from bot.demos.operations import OPERATIONS
from bot.demos.scenario import load_scenarios
from bot.knowledge import load_knowledge

REPO = Path(__file__).resolve().parent.parent
IMAGE = "busybox:1.36"
HEADER = """\
name: sample
platform: kubernetes
title: 샘플
entry: k8s-pod
explanation: 설명
conclusion: 결론
steps:
"""


def problems_of(tmp_path: Path, steps: str, header: str = HEADER) -> list[str]:
    path = tmp_path / "sample.yaml"
    path.write_text(header + textwrap.indent(textwrap.dedent(steps), "  "), encoding="utf-8")
    scenarios, problems = load_scenarios(tmp_path)
    assert not scenarios, "a file with problems must not yield a scenario"
    return [str(problem) for problem in problems]


def test_repo_kubernetes_demos_load_with_kubectl_commands_and_are_linked():
    scenarios, problems = load_scenarios(REPO / "knowledge" / "demos")
    assert [str(p) for p in problems] == []
    for name in ("self-healing", "service", "rollout"):
        scenario = scenarios[name]
        assert scenario.platform == "kubernetes"
        for step in scenario.steps:
            assert type(step) in KUBE_OPERATIONS.values()
            assert step.command(IMAGE).startswith("kubectl ")
    assert {
        s.platform for s in scenarios.values() if s.name not in {"self-healing", "service", "rollout"}
    } == {"docker"}
    kb = load_knowledge(REPO / "knowledge")
    linked = {entry.id: entry.demo for entry in kb.entries}
    assert linked["k8s-pod"] == "self-healing"
    assert linked["k8s-deployment"] == "rollout"
    assert linked["k8s-service"] == "service"
    assert linked["k8s-service-types"] == "service"


def test_docker_words_are_unknown_in_a_kubernetes_scenario_and_the_other_way(tmp_path):
    found = problems_of(tmp_path, "- {op: run, title: t, argv: [sh]}\n")
    assert any("sample.yaml:8:" in p and "unknown operation 'run'" in p for p in found), found
    docker_header = HEADER.replace("platform: kubernetes\n", "")
    found = problems_of(tmp_path, "- {op: list_pods, title: t, deployment: web}\n", docker_header)
    assert any("unknown operation 'list_pods'" in p for p in found), found
    assert not set(KUBE_OPERATIONS) & set(OPERATIONS)


def test_an_unknown_platform_is_refused(tmp_path):
    found = problems_of(
        tmp_path, "- {op: list_pods, title: t, deployment: web}\n", HEADER.replace("kubernetes", "k3s")
    )
    assert any("sample.yaml:2:" in p and "platform must be one of docker, kubernetes" in p for p in found), (
        found
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("image", "nginx"), ("host_network", "true"), ("privileged", "true"), ("security_context", "{}")],
)
def test_lockdown_loosening_fields_are_refused_by_name(tmp_path, key, value):
    found = problems_of(
        tmp_path,
        f"""\
        - op: create_deployment
          title: t
          deployment: web
          argv: [sleep, "60"]
          {key}: {value}
        """,
    )
    assert any("sample.yaml:12:" in p and f"'{key}' is refused" in p for p in found), found


def test_references_ports_and_expectations_are_checked(tmp_path):
    found = problems_of(
        tmp_path,
        """\
        - {op: list_pods, title: a, deployment: web}
        - {op: create_deployment, title: b, deployment: web, argv: [sleep, "1"], replicas: 9, port: 80}
        - {op: show_service, title: c, service: front}
        - {op: list_pods, title: d, deployment: web, expect: {cluster_ip_same: true}}
        - {op: set_env, title: e, deployment: web, env: {lower: x}}
        """,
    )
    text = "\n".join(found)
    assert "sample.yaml:9:" in text and "must be between 1 and 4" in text  # replicas
    assert "must be between 1024 and 65535" in text  # a privileged port for a non-root pod
    assert "sample.yaml:11:" in text and "cannot tell that" in text and "it reports: ready" in text
    assert "sample.yaml:12:" in text and "upper-case name" in text
    found = problems_of(
        tmp_path,
        """\
        - {op: list_pods, title: a, deployment: web}
        - {op: show_service, title: c, service: front}
        """,
    )
    assert any("sample.yaml:8:" in p and "deployment 'web' is not made by an earlier" in p for p in found)
    assert any("sample.yaml:9:" in p and "service 'front' is not made by an earlier" in p for p in found)


# --- the pod template check ------------------------------------------------------------------------------


@pytest.fixture
def ctx():
    from kubernetes import client

    from bot.demos.kube_runner import KubeContext

    return KubeContext(client.ApiClient(client.Configuration()), IMAGE, "IfNotPresent", "0123456789ab", 0)


def test_the_built_template_passes_and_tampered_ones_are_refused(ctx):
    from kubernetes import client

    from bot.demos.lockdown import LockdownViolation

    template = ctx.pod_template("web", ["sleep", "60"], [("VERSION", "v1")], 8080)
    ctx.check_pod_template(template)
    container = template.spec.containers[0]
    assert container.security_context.run_as_non_root and container.security_context.read_only_root_filesystem
    assert template.spec.automount_service_account_token is False

    def tampered(change) -> client.V1PodTemplateSpec:
        copied = copy.deepcopy(template)
        change(copied)
        return copied

    def image(t, value="nginx:latest"):
        t.spec.containers[0].image = value

    cases = {
        "another image": lambda t: image(t),
        "the never-pulled image with a pull": lambda t: image(t, NEVER_PULLED_IMAGE),
        "root": lambda t: setattr(t.spec.containers[0].security_context, "run_as_non_root", False),
        "writable root": lambda t: setattr(
            t.spec.containers[0].security_context, "read_only_root_filesystem", None
        ),
        "privileged": lambda t: setattr(t.spec.containers[0].security_context, "privileged", True),
        "a capability": lambda t: setattr(
            t.spec.containers[0].security_context, "capabilities", client.V1Capabilities(add=["NET_ADMIN"])
        ),
        "host network": lambda t: setattr(t.spec, "host_network", True),
        "token": lambda t: setattr(t.spec, "automount_service_account_token", True),
        "host path": lambda t: t.spec.volumes.append(
            client.V1Volume(name="h", host_path=client.V1HostPathVolumeSource(path="/"))
        ),
        "host port": lambda t: setattr(t.spec.containers[0].ports[0], "host_port", 8080),
        "no limits": lambda t: setattr(t.spec.containers[0], "resources", None),
    }
    for what, change in cases.items():
        with pytest.raises(LockdownViolation):
            ctx.check_pod_template(tampered(change))
        assert what  # (named for the failure message)
