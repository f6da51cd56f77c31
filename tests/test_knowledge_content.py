"""The repository's knowledge content: defects a reviewer found (issue 12) that a test can keep fixed.

Each test reads the real knowledge/ files; a failure names the entry and what is wrong with it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from bot.knowledge import Entry, KnowledgeBase, load_knowledge

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge(KNOWLEDGE)


def entry(kb: KnowledgeBase, entry_id: str) -> Entry:
    found = kb.get(entry_id)
    assert found is not None, f"entry '{entry_id}' is missing"
    return found


def everything(e: Entry) -> str:
    return "\n".join((e.answer, *e.commands))


def docker_lines(block: str) -> list[list[str]]:
    """The `docker ...` command lines of a command block as words (comments and YAML lines dropped)."""
    lines = []
    for raw in block.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line.startswith("VOL=$("):
            line = line[len("VOL=$(") :].rstrip(")")
        if not line.startswith(("docker ", "sudo docker ")):
            continue
        try:
            lines.append(shlex.split(line))
        except ValueError:
            lines.append(line.split())
    return lines


def test_answers_speak_one_polite_register(kb: KnowledgeBase):
    # 해요체 throughout: no 합니다체 sentence endings in any answer.
    formal = re.compile(r"[가-힣]+(?:습니다|입니다|됩니다|합니다|니까\?)")
    found = {e.id: formal.findall(e.answer) for e in kb.entries}
    assert {k: v for k, v in found.items() if v} == {}


def test_no_end_of_life_or_stale_image_versions_in_any_entry(kb: KnowledgeBase):
    # node 20 is end-of-life (24 is the LTS), nginx 1.27 and older are past (Kubernetes manifests too).
    stale = re.compile(r"\b(?:node:(?:1[0-9]|20|21|23)(?:-\w+)?|nginx:1\.(?:1\d|2[0-7]))\b")
    found = {e.id: stale.findall(everything(e)) for e in kb.entries}
    assert {k: v for k, v in found.items() if v} == {}


def test_a_command_block_never_reuses_a_live_container_name_or_host_port(kb: KnowledgeBase):
    # The second `docker run --name x` of a block fails with "Conflict. The container name is already in use",
    # the second `-p 8080:80` with "port is already allocated", unless the first container was removed.
    problems = []
    for e in kb.entries:
        for block in e.commands:
            names: dict[str, set[str]] = {}  # container name -> host ports it holds
            for words in docker_lines(block):
                if words[1:2] == ["rm"] or words[1:3] == ["container", "rm"]:
                    for gone in words[2:]:
                        names.pop(gone, None)
                if words[1:2] not in (["run"], ["create"]) or "--rm" in words:
                    continue
                name = words[words.index("--name") + 1] if "--name" in words else ""
                ports = {words[i + 1].rsplit(":", 1)[0] for i, w in enumerate(words[:-1]) if w == "-p"}
                if name and name in names:
                    problems.append(f"{e.id}: '--name {name}' twice in one block")
                taken = set().union(*names.values()) if names else set()
                if ports & taken:
                    problems.append(f"{e.id}: host port {sorted(ports & taken)} published twice in one block")
                names[name or f"unnamed-{len(names)}"] = ports
    assert problems == []


def test_postgres_containers_get_a_password_so_they_keep_running(kb: KnowledgeBase):
    # Without POSTGRES_PASSWORD the official image exits at once (an exited container's name doesn't resolve).
    problems = []
    for e in kb.entries:
        for block in e.commands:
            for words in docker_lines(block):
                runs_postgres = words[:2] == ["docker", "run"] and any(
                    w.startswith("postgres") for w in words[2:]
                )
                if runs_postgres and not any(w.startswith("POSTGRES_PASSWORD") for w in words):
                    problems.append(f"{e.id}: {' '.join(words)}")
    assert problems == []


def test_a_container_run_as_the_host_user_gets_a_writable_home(kb: KnowledgeBase):
    problems = []
    for e in kb.entries:
        for block in e.commands:
            for words in docker_lines(block):
                if (
                    words[:2] == ["docker", "run"]
                    and "-u" in words
                    and not any(w.startswith("HOME=") for w in words)
                ):
                    problems.append(f"{e.id}: {' '.join(words)}")
    assert problems == []


def test_volume_cleanup_lists_dangling_first_and_warns_before_pruning(kb: KnowledgeBase):
    cleanup = entry(kb, "volume-cleanup")
    answer = cleanup.answer
    assert answer.index("docker volume ls -f dangling=true") < answer.index("prune")
    assert "docker version" in answer and "23" in answer  # pre-23 engines prune named volumes too
    assert "⚠️" in answer and answer.index("⚠️") < answer.index("volume prune -a")
    assert "container prune" in answer  # removing stopped DB containers frees their volumes for prune
    first_commands = cleanup.commands[0]
    assert "dangling=true" in first_commands and "prune" not in first_commands
    assert "--volumes" in answer and "익명" in answer[answer.index("--volumes") :]


def test_anonymous_volume_answers_say_the_data_can_be_reused(kb: KnowledgeBase):
    for entry_id in ("volume-anonymous", "volume-named-vs-anonymous"):
        text = everything(entry(kb, entry_id))
        assert "다시 못 씁" not in text and "재사용이 안 됩" not in text
        assert "--volumes-from" in text and "-V" in text, entry_id


def test_node_modules_volume_goes_stale_and_renew_anon_volumes_is_shown(kb: KnowledgeBase):
    for entry_id in ("volume-path-precedence", "dev-vs-prod"):
        text = everything(entry(kb, entry_id))
        assert "docker compose up -d --build -V" in text and "package.json" in text, entry_id


def test_deleted_db_container_rescue_steps(kb: KnowledgeBase):
    stateless = everything(entry(kb, "container-stateless"))
    for step in ("VOLUME", "docker volume ls -f dangling=true", "docker volume inspect", "cp -a"):
        assert step in stateless


def test_postgres_18_volume_path_and_major_upgrades(kb: KnowledgeBase):
    named = everything(entry(kb, "volume-named"))
    assert "/var/lib/postgresql postgres:18" in named
    assert "pg_upgrade" in named and "pg_dump" in named


def test_host_networking_on_docker_desktop_is_ga_not_beta(kb: KnowledgeBase):
    host = entry(kb, "network-driver-host").answer
    assert "베타" not in host and "4.34" in host


def test_compose_install_is_current(kb: KnowledgeBase):
    install = everything(entry(kb, "compose-install-linux"))
    assert "docker-compose-linux-x86_64 " not in install and "$(uname -m)" in install
    answer = entry(kb, "compose-install-linux").answer
    # docker-ce's official install already brings the plugin: check first, install only when missing.
    assert answer.index("docker compose version") < answer.index("설치하면")
    assert "docker-compose-plugin" in answer and "CentOS Linux 7/8은 지원이 끝난" in answer


def test_volume_instruction_caveat_is_the_legacy_builders(kb: KnowledgeBase):
    answer = entry(kb, "volume-dockerfile-instruction").answer
    assert "legacy" in answer and "BuildKit" in answer


def test_image_readonly_answers_save_and_load(kb: KnowledgeBase):
    text = everything(entry(kb, "image-readonly"))
    assert "docker save -o" in text and "docker load -i" in text


def test_every_docker_entry_links_official_documentation(kb: KnowledgeBase):
    missing = [
        e.id for e in kb.entries if not e.id.startswith(("k8s-", "eks-", "kubectl-")) and not e.sources
    ]
    assert missing == []


DOCKER_WORDS = re.compile(r"docker|도커|kubectl|k8s|쿠버|helm|헬름|\bpods?\b|파드|포드|compose|컴포즈", re.I)


def test_off_topic_holds_no_docker_or_kubernetes_question(kb: KnowledgeBase):
    # In-domain questions no entry answers belong in uncovered.yaml (by topic), not off-topic.yaml.
    assert [q for q in kb.off_topic if DOCKER_WORDS.search(q)] == []


def test_examples_have_no_spacing_twins_near_copies_or_templated_personas(kb: KnowledgeBase):
    # Examples that differ only in spacing/punctuation (or nearly not at all) teach nothing new, and a persona
    # template repeated across entries (팀장님, 면접에서) teaches the template, not the intent.
    seen: dict[str, str] = {}
    twins = []
    for e in kb.entries:
        keys: list[str] = []
        for q in e.questions:
            key = re.sub(r"[\s\"'`?!.,~ㅠㅜ]+", "", q.casefold())
            if key in seen:
                twins.append((seen[key], q))
            seen.setdefault(key, q)
            twins += [(e.id, q) for other in keys if len(key) > 12 and fuzz.ratio(key, other) >= 95]
            keys.append(key)
    assert twins == []
    questions = [q for e in kb.entries for q in e.questions]
    for persona in ("팀장님", "신입인데", "면접", "어제 장애"):
        assert sum(persona in q for q in questions) <= 2, persona


def test_no_answer_replies_say_what_the_knowledge_covers_in_both_doors():
    # A question outside the knowledge is told what the bot does answer (terminal and Slack), in 파드 terms.
    from bot.matcher import UNCOVERED_REPLY
    from handlers.blocks import NO_ANSWER_HINT_KO

    templates = Path(__file__).resolve().parent.parent / "bot" / "templates"
    for text in (
        UNCOVERED_REPLY,
        (templates / "answer.txt.j2").read_text(encoding="utf-8"),
        NO_ANSWER_HINT_KO,  # Slack's Block Kit answer (handlers/blocks.py)
    ):
        areas = ("볼륨", "네트워크", "Compose", "파드", "Ingress", "ConfigMap")
        assert [area for area in areas if area not in text] == []
        assert "포드" not in text
