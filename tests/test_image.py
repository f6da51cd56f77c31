"""What the shipped Dockerfile, .dockerignore and compose.yaml promise (issue 6), read as data.

The image itself is built and run on the real engine by .ci/image.sh (hadolint, `docker compose config`,
`dockbot validate/ask/serve` in the container, the whole stack with a demo on demo-host); these tests pin the
properties a careless edit could silently drop.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bot.yamlfile import read_yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return read_yaml(ROOT / "compose.yaml").data


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _final_stage(dockerfile: str) -> str:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]


def test_no_service_gets_a_docker_socket(compose: dict) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            assert "docker.sock" not in source, f"{name} mounts {source}"


def test_bot_talks_to_demo_host_over_tls_only(compose: dict) -> None:
    env = compose["services"]["bot"]["environment"]
    assert env["DOCKER_HOST"] == "tcp://demo-host:2376"
    assert env["DOCKER_TLS_VERIFY"] == "1"
    assert env["DOCKER_CERT_PATH"].startswith("/certs/")
    assert compose["services"]["demo-host"]["environment"]["DOCKER_TLS_CERTDIR"] == "/certs"


def test_demo_host_is_private(compose: dict) -> None:
    demo_host = compose["services"]["demo-host"]
    assert "ports" not in demo_host and "expose" not in demo_host
    assert demo_host["networks"] == ["demo"]
    assert compose["networks"]["demo"]["internal"] is True
    assert any(v.endswith(":/var/lib/docker") for v in demo_host["volumes"]), "its own storage volume"


def test_bot_storage_and_knowledge(compose: dict) -> None:
    bot = compose["services"]["bot"]
    volumes = bot["volumes"]
    assert "./knowledge:/app/knowledge:ro" in volumes
    named = {v.split(":")[0] for v in volumes if not v.startswith((".", "/"))}
    assert "dockbot-data" in named and "dockbot-data" in compose["volumes"]
    assert bot["environment"]["DOCKBOT_DB"].startswith("/data/")
    assert [entry["path"] for entry in bot["env_file"]] == [".env"]
    assert bot["read_only"] is True and bot["cap_drop"] == ["ALL"]


def test_env_file_is_never_shipped() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", ".env", ".env.example"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    assert tracked.stdout.split() == [".env.example"]
    assert ".env" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    # The build context is an allow-list ("*" then "!path" lines) that never lets .env in.
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()]
    allowed = [line[1:] for line in ignore if line.startswith("!")]
    assert "*" in ignore
    assert allowed and not any(path.startswith(".env") for path in allowed)


def test_env_example_names_every_setting_the_bot_reads() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    config = (ROOT / "bot" / "config.py").read_text(encoding="utf-8")
    read = set(re.findall(r'"((?:SLACK|DOCKBOT)_[A-Z_]+|PORT)"', config))
    fixed_by_compose = {"DOCKBOT_DB", "DOCKBOT_KNOWLEDGE_DIR"}
    assert read - fixed_by_compose <= names, sorted(read - fixed_by_compose - names)


def test_final_stage_is_lean_and_unprivileged(dockerfile: str) -> None:
    final = _final_stage(dockerfile)
    assert final.startswith("${BASE_IMAGE}")
    user = re.findall(r"^USER (\S+)", final, flags=re.MULTILINE)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in final and "bot.healthcheck" in final
    assert re.search(r'^ENTRYPOINT \["dockbot"\]\s*^CMD \["serve"\]', final, flags=re.MULTILINE)
    assert "COPY --from=builder /opt/venv" in final
    assert "secret" not in final and "apt-get" not in final and "pip install" not in final
    assert "org.opencontainers.image." in final


def test_ca_bundle_only_as_a_build_secret(dockerfile: str) -> None:
    assert "--mount=type=secret,id=ca" in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith(("COPY", "ADD", "ENV", "ARG")):
            assert "ca-cert" not in line.lower() and "secrets" not in line, line
