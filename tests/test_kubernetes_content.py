"""The Kubernetes answers (knowledge/kubernetes*.yaml) stay right where a reviewer found them wrong.

These read the repo's real knowledge: they check wording that can be checked mechanically (the term 파드,
deprecated flags and modes, what zero-downtime and HPA need), not the matcher.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.knowledge import Entry, load_knowledge

REPO = Path(__file__).resolve().parent.parent
NEW_TOPICS = (
    "kubectl-basics",
    "k8s-pod-troubleshooting",
    "k8s-configmap-secret",
    "k8s-probes",
    "k8s-resources",
    "k8s-service-types",
    "k8s-ingress",
    "k8s-namespace",
    "k8s-persistent-volume",
    "k8s-statefulset",
    "k8s-hpa",
)


@pytest.fixture(scope="module")
def kb():
    return load_knowledge(REPO / "knowledge")


def entry(kb, entry_id: str) -> Entry:
    found = kb.get(entry_id)
    assert found is not None, f"missing entry {entry_id}"
    return found


def shown_text(e: Entry) -> str:
    return "\n".join([e.title, e.answer, *e.commands])


def command_lines(e: Entry) -> list[str]:
    """Command lines as typed, without `# ...` comments (a comment may name an old flag to explain it)."""
    lines = []
    for block in e.commands:
        for line in block.splitlines():
            code = line.split("#", 1)[0].strip()
            if code:
                lines.append(code)
    return lines


def kubernetes_entries(kb) -> list[Entry]:
    return [e for e in kb.entries if Path(e.path).name.startswith("kubernetes")]


def test_answers_say_pa_de_and_keep_po_de_only_as_an_alias(kb):
    shown = [e.id for e in kb.entries if "포드" in shown_text(e)]
    assert shown == [], f"'포드' shown in {shown} (the Korean docs say 파드)"
    aliases = {alias for group in kb.synonyms.values() for alias in group}
    assert "포드" in aliases and "파드" in kb.synonyms


def test_new_kubernetes_topics_exist_with_enough_real_examples(kb):
    for topic in NEW_TOPICS:
        e = entry(kb, topic)
        assert len(e.questions) >= 30, topic
        assert 1 <= len(e.sources) <= 3, topic


def test_every_kubernetes_entry_links_official_docs(kb):
    for e in kubernetes_entries(kb):
        assert e.sources, f"{e.id} has no sources"
        for url in e.sources:
            assert url.startswith(
                ("https://kubernetes.io/", "https://docs.aws.amazon.com/", "https://aws.amazon.com/")
            )


def test_kube_proxy_recommends_nftables_and_leaves_egress_to_the_cni(kb):
    proxy = entry(kb, "k8s-kube-proxy")
    assert "nftables" in proxy.answer and re.search(r"ipvs.*deprecated", proxy.answer)
    assert "CNI" in proxy.answer and "NetworkPolicy" in proxy.answer
    # Whether a pod may reach the internet is CNI / NetworkPolicy, not kube-proxy: no such example here.
    assert not [q for q in proxy.questions if re.search(r"인터넷에 (나갈|연결되는지)", q)]


def test_autoscaling_uses_the_current_flag_and_says_requests_are_needed(kb):
    for entry_id in ("k8s-why", "k8s-hpa"):
        e = entry(kb, entry_id)
        autoscale = [line for line in command_lines(e) if line.startswith("kubectl autoscale")]
        assert autoscale and all("--cpu=" in line and "--cpu-percent" not in line for line in autoscale)
        assert "requests" in e.answer
    assert "autoscaling/v2" in "\n".join(entry(kb, "k8s-hpa").commands)


def test_zero_downtime_needs_readiness_and_spreading_is_topology_spread(kb):
    deployment = entry(kb, "k8s-deployment")
    assert "readinessProbe" in deployment.answer and "readinessProbe" in "\n".join(deployment.commands)
    scheduler = entry(kb, "k8s-scheduler")
    assert "topologySpreadConstraints" in scheduler.answer
    assert "topologySpreadConstraints" in "\n".join(scheduler.commands)


def test_eks_answer_has_extended_support_pricing_and_auto_mode(kb):
    eks = entry(kb, "eks-vs-ecs")
    assert "연장 지원" in eks.answer and "$0.60" in eks.answer
    assert "Auto Mode" in eks.answer and any("--enable-auto-mode" in line for line in command_lines(eks))


def test_ingress_answer_knows_ingress_nginx_is_retired(kb):
    ingress = entry(kb, "k8s-ingress")
    assert "Gateway API" in ingress.answer and "ingress-nginx" in ingress.answer and "은퇴" in ingress.answer
