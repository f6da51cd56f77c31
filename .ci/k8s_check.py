"""CI check of the Kubernetes manifests (docs/deploy/kubernetes): build, schema, policy, kubectl dry run.

For the default deployment and each overlay:
1. `kubectl kustomize` builds it (in a temp copy, with secrets.env from the example and the knowledge
   ConfigMaps generated from knowledge/), so a broken kustomization fails here;
2. every object is checked against a bundled minimal JSON schema for its kind (.ci/k8s-schemas.yaml, with
   the `jsonschema` package): required fields, types, and no unknown keys where a typo is common
   (containers, probes, securityContext). kubeconform cannot be downloaded here; these schemas are a
   hand-written subset of the Kubernetes OpenAPI for the kinds this repo uses, not the full API;
3. the policy the deployment promises: 2+ replicas, probes, resources, a non-root, read-only, no-escalation,
   drop-ALL bot container, a PodDisruptionBudget selecting it, every referenced ConfigMap/Secret present;
4. `kubectl apply --dry-run=client --validate=false` against a stub API server in this process that only
   answers discovery (kubectl needs it to map kinds to resources) and 404 for every object: kubectl parses,
   maps and prints "created (dry run)" for each object; nothing is sent anywhere.

Exit 0 when all hold; prints each problem with the object it is in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "docs" / "deploy" / "kubernetes"
SCHEMAS = yaml.safe_load((Path(__file__).parent / "k8s-schemas.yaml").read_text(encoding="utf-8"))
VARIANTS = [".", "socket-mode", "demo-host-sysbox"]
# Created by the admin by hand (certificates), so not in the bundle on purpose.
EXTERNAL_SECRETS = {"dockbot-demo-host-tls"}

RESOURCES = {
    "/api/v1": [
        ("namespaces", "Namespace", False),
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
    ],
    "/apis/apps/v1": [("deployments", "Deployment", True), ("statefulsets", "StatefulSet", True)],
    "/apis/policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "/apis/networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
}


class _StubApi(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/version":
            return self._json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-stub"})
        if path == "/api":
            return self._json(
                200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        if path == "/apis":
            groups = []
            for prefix in RESOURCES:
                if prefix.startswith("/apis/"):
                    group, version = prefix.split("/")[2:4]
                    gv = {"groupVersion": f"{group}/{version}", "version": version}
                    groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
            return self._json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if path in RESOURCES:
            group_version = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
            resources = [
                {
                    "name": name,
                    "singularName": "",
                    "namespaced": namespaced,
                    "kind": kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update"],
                }
                for name, kind, namespaced in RESOURCES[path]
            ]
            return self._json(
                200, {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}
            )
        return self._json(
            404,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
                "message": "not found (stub)",
            },
        )


def build(variant: str, workdir: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["kubectl", "kustomize", str(workdir / variant)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"kubectl kustomize {variant} failed:\n{out.stderr}")
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def schema_problems(obj: dict[str, Any]) -> list[str]:
    key = f"{obj.get('apiVersion')}/{obj.get('kind')}"
    schema = SCHEMAS.get(key)
    where = f"{key} {obj.get('metadata', {}).get('name')}"
    if schema is None:
        return [f"{where}: no bundled schema for this kind (add one to .ci/k8s-schemas.yaml)"]
    validator = jsonschema.Draft202012Validator({**schema, "$defs": SCHEMAS["$defs"]})
    return [
        f"{where}: {'/'.join(map(str, e.absolute_path)) or '.'}: {e.message}"
        for e in validator.iter_errors(obj)
    ]


def policy_problems(objects: list[dict[str, Any]]) -> list[str]:
    problems: list[str] = []
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[obj["metadata"]["name"]] = obj
    bot = by_kind.get("Deployment", {}).get("dockbot")
    if bot is None:
        return ["Deployment dockbot is missing"]
    spec = bot["spec"]
    if spec.get("replicas", 1) < 2:
        problems.append("Deployment dockbot: fewer than 2 replicas")
    pod = spec["template"]["spec"]
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        problems.append("Deployment dockbot: pod securityContext.runAsNonRoot is not true")
    for container in pod["containers"]:
        name = f"Deployment dockbot container {container['name']}"
        sc = container.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in container:
                problems.append(f"{name}: no {probe}")
        resources = container.get("resources", {})
        if not resources.get("requests") or "memory" not in resources.get("limits", {}):
            problems.append(f"{name}: resources need requests and a memory limit")
    labels = spec["template"]["metadata"]["labels"]
    pdbs = [
        p
        for p in by_kind.get("PodDisruptionBudget", {}).values()
        if p["spec"]["selector"].get("matchLabels", {}).items() <= labels.items()
    ]
    if not pdbs:
        problems.append("no PodDisruptionBudget selects Deployment dockbot")
    for obj in objects:
        for kind, name in _references(obj):
            if name not in by_kind.get(kind, {}) and not (kind == "Secret" and name in EXTERNAL_SECRETS):
                problems.append(f"{obj['kind']} {obj['metadata']['name']}: refers to a missing {kind} {name}")
    return problems


def _references(obj: dict[str, Any]) -> list[tuple[str, str]]:
    pod = obj.get("spec", {}).get("template", {}).get("spec")
    if not pod:
        return []
    refs = []
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            refs.append(("ConfigMap", volume["configMap"]["name"]))
        if "secret" in volume:
            refs.append(("Secret", volume["secret"]["secretName"]))
    for container in pod.get("containers", []):
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                refs.append(("ConfigMap", source["configMapRef"]["name"]))
            if "secretRef" in source:
                refs.append(("Secret", source["secretRef"]["name"]))
    if pod.get("serviceAccountName"):
        refs.append(("ServiceAccount", pod["serviceAccountName"]))
    return refs


def dry_run(bundle: Path, workdir: Path) -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "stub",
                "clusters": [
                    {"name": "stub", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
                ],
                "users": [{"name": "stub", "user": {}}],
                "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub"}}],
            }
        )
    )
    try:
        out = subprocess.run(
            [
                "kubectl",
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(workdir / "kube-cache"),
                "apply",
                "--dry-run=client",
                "--validate=false",
                "-f",
                str(bundle),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    if out.returncode != 0:
        raise SystemExit(f"kubectl apply --dry-run=client failed:\n{out.stderr}")
    return out.stdout


def main(manifests: Path = MANIFESTS) -> int:
    if shutil.which("kubectl") is None:
        print("k8s-check: kubectl is not installed (apt-get install kubernetes-client)", file=sys.stderr)
        return 1
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dockbot-k8s-") as tmp:
        workdir = Path(tmp) / "kubernetes"
        shutil.copytree(manifests, workdir, ignore=shutil.ignore_patterns("secrets.env", "knowledge.yaml"))
        shutil.copy(workdir / "base" / "secrets.env.example", workdir / "base" / "secrets.env")
        with (workdir / "base" / "generated" / "knowledge.yaml").open("w", encoding="utf-8") as out:
            subprocess.run(
                [
                    sys.executable,
                    str(workdir / "base" / "make-knowledge-configmap.py"),
                    str(REPO / "knowledge"),
                ],
                stdout=out,
                check=True,
            )
        for variant in VARIANTS:
            objects = build(variant, workdir)
            found = [p for obj in objects for p in schema_problems(obj)] + policy_problems(objects)
            problems += [f"{variant}: {p}" for p in found]
            bundle = Path(tmp) / f"{variant.strip('.') or 'default'}.yaml"
            bundle.write_text(yaml.safe_dump_all(objects, allow_unicode=True), encoding="utf-8")
            created = [line for line in dry_run(bundle, Path(tmp)).splitlines() if "(dry run)" in line]
            if len(created) != len(objects):
                problems.append(
                    f"{variant}: kubectl dry run printed {len(created)} of {len(objects)} objects"
                )
            print(
                f"k8s-check {variant}: {len(objects)} objects built, schema- and policy-checked, "
                f"{len(created)} accepted by kubectl apply --dry-run=client"
            )
    for problem in problems:
        print(f"k8s-check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else MANIFESTS))
