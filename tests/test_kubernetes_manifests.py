"""The Kubernetes manifests (docs/deploy/kubernetes) through .ci/k8s_check.py: kustomize build, bundled
schemas, the deployment's policy, and `kubectl apply --dry-run=client` against a stub API (discovery only).
A check that passes everything proves nothing, so each kind of mistake is also shown to fail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHECK = REPO / ".ci" / "k8s_check.py"

if shutil.which("kubectl") is None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but kubectl is not installed", pytrace=False)
    pytest.skip("kubectl is not installed (apt-get install kubernetes-client)", allow_module_level=True)


def check(manifests: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHECK), str(manifests)], capture_output=True, text=True, timeout=300
    )


def test_the_manifests_build_validate_and_dry_run():
    done = check(REPO / "docs" / "deploy" / "kubernetes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("accepted by kubectl apply --dry-run=client") == 3


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
            "readOnlyRootFilesystem is not true",
        ),
        ("  replicas: 3 ", "  replicas: 1 ", "fewer than 2 replicas"),
        (
            "          readinessProbe:\n            httpGet:",
            "          readinesProbe:\n            httpGet:",
            "Additional properties are not allowed ('readinesProbe'",
        ),
        ('              drop: ["ALL"]', '              drop: ["NET_RAW"]', "do not drop ALL"),
        (
            "            - configMapRef:\n                name: dockbot-settings",
            "            - configMapRef:\n                name: dockbot-setting",
            "missing ConfigMap dockbot-setting",
        ),
    ],
)
def test_each_kind_of_mistake_is_caught(tmp_path, old, new, problem):
    copy = tmp_path / "kubernetes"
    shutil.copytree(REPO / "docs" / "deploy" / "kubernetes", copy)
    deployment = copy / "base" / "deployment.yaml"
    text = deployment.read_text()
    assert old in text
    deployment.write_text(text.replace(old, new, 1))
    done = check(copy)
    assert done.returncode == 1 and problem in done.stderr, done.stderr
