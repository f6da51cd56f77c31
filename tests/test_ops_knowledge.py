"""The container-ops and image-building entries (issue 12's Docker topics beyond the notes).

Content checks read the real knowledge/ files; the engine test runs, as written, every command block of these
entries that needs nothing but the local demo image (busybox:1.36) and images it builds itself.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from bot.knowledge import Entry, KnowledgeBase, load_knowledge

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
FILES = ("container-ops.yaml", "image-building.yaml")
TOPICS = {
    "container-ops.yaml": {
        "container-lifecycle",
        "container-logs-exec",
        "port-publishing",
        "env-vars",
        "restart-policies",
        "container-resource-limits",
        "healthcheck",
        "log-rotation",
    },
    "image-building.yaml": {
        "dockerfile-basics",
        "dockerfile-cmd-vs-entrypoint",
        "image-layers-cache",
        "multi-stage-build",
        "registry-push",
        "multi-arch-images",
    },
}
DEMO_IMAGE = "busybox:1.36"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE)


def ops_entries(kb: KnowledgeBase) -> list[Entry]:
    return [e for e in kb.entries if Path(e.path).name in FILES]


def test_each_file_holds_exactly_its_topics(kb: KnowledgeBase):
    found: dict[str, set[str]] = {name: set() for name in FILES}
    for e in ops_entries(kb):
        found[Path(e.path).name].add(e.id)
    assert found == TOPICS


def test_every_entry_has_forty_examples_sources_and_related(kb: KnowledgeBase):
    thin = {
        e.id: (len(e.questions), len(e.sources), len(e.related))
        for e in ops_entries(kb)
        if len(e.questions) < 40 or not 1 <= len(e.sources) <= 3 or not e.related
    }
    assert thin == {}


def test_answers_with_commands_fit_a_slack_message(kb: KnowledgeBase):
    long = {e.id: n for e in ops_entries(kb) if (n := len(e.answer) + sum(map(len, e.commands))) > 4000}
    assert long == {}


@pytest.mark.parametrize(
    ("entry_id", "must_say"),
    [
        # A plain engine only marks a container unhealthy, nothing restarts it (Compose and Swarm read it).
        ("healthcheck", ["재시작하지 않아요", "service_healthy"]),
        # daemon.json log options apply to containers created afterwards, and its values are strings.
        ("log-rotation", ["새로 만드는", "문자열", "max-size", "max-file"]),
        # EXPOSE opens nothing; -p without an address listens on every interface, past ufw.
        ("port-publishing", ["문서일 뿐", "127.0.0.1", "ufw", "port is already allocated"]),
        # Restart after reboot needs the daemon itself enabled at boot.
        ("restart-policies", ["systemctl enable docker", "unless-stopped"]),
        # Secrets baked with ENV/ARG are readable from the image.
        ("env-vars", ["docker history", "RUN --mount=type=secret", "`.env`"]),
        ("dockerfile-cmd-vs-entrypoint", ["PID 1", "--entrypoint", 'exec "$@"']),
        ("container-resource-limits", ["OOMKilled", "137", "docker stats"]),
        ("multi-arch-images", ["exec format error", "--platform", "buildx"]),
    ],
)
def test_answers_state_the_points_that_are_easy_to_get_wrong(kb: KnowledgeBase, entry_id, must_say):
    entry = kb.get(entry_id)
    assert entry is not None
    text = "\n".join((entry.answer, *entry.commands))
    assert [s for s in must_say if s not in text] == []


def _offline_blocks(kb: KnowledgeBase) -> list[tuple[str, str]]:
    """Blocks whose images are all the demo image or built in the same block, non-interactive, no sudo."""
    blocks = []
    for e in ops_entries(kb):
        for block in e.commands:
            if DEMO_IMAGE not in block or "sudo " in block or re.search(r"\s-it\s", block):
                continue
            built = set(re.findall(r"docker build (?:.*\s)?-t (\S+)", block))
            used = set(re.findall(r"\b[a-z][\w./-]*:\d[\w.-]*\b", block)) - {DEMO_IMAGE}
            if used <= built:
                blocks.append((e.id, block))
    return blocks


def _names_and_tags(block: str) -> tuple[list[str], list[str]]:
    names, tags = [], []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line.split(" #", 1)[0]) if line.strip().startswith("docker ") else []
        for flag, into in (("--name", names), ("-t", tags)):
            if flag in words:
                into.append(words[words.index(flag) + 1])
    return names, tags


def test_the_offline_command_blocks_run_as_written_on_the_engine(kb, docker_client, tmp_path):
    import docker

    blocks = _offline_blocks(kb)
    assert len(blocks) >= 6, [entry_id for entry_id, _ in blocks]
    failures = []
    for i, (entry_id, block) in enumerate(blocks):
        names, tags = _names_and_tags(block)
        taken = [n for n in names if docker_client.containers.list(all=True, filters={"name": f"^{n}$"})]
        taken += [t for t in tags if docker_client.images.list(name=t)]
        if taken:  # someone else's object with that name: never touch it, and say so
            failures.append(f"{entry_id}: {taken} already exist on this engine, block not run")
            continue
        workdir = tmp_path / f"block{i}"
        workdir.mkdir()
        try:
            run = subprocess.run(
                ["bash", "-e", "-c", block], cwd=workdir, capture_output=True, text=True, timeout=120
            )
            if run.returncode != 0:
                failures.append(f"{entry_id}: exit {run.returncode}\n{block}\n{run.stderr[-600:]}")
        finally:
            for name in names:
                with contextlib.suppress(docker.errors.NotFound):
                    docker_client.containers.get(name).remove(force=True)
            for tag in tags:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    docker_client.images.remove(tag, force=True)
    assert failures == []
