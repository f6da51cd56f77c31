"""The Docker commands of the answers, run on the real engine (issue 12: "every command runs as written").

For every entry of the Docker knowledge files, every command block is read from the knowledge base and
its `docker ...` lines are run in order with bash, one entry at a time (the blocks of an entry share their
containers, volumes and networks, as a reader following the answer would). Harmless helpers the docker
lines depend on run too (`mkdir greet && cd greet`, `printf ... > Dockerfile`, inside the test's folder);
other lines (Dockerfile and compose YAML, curl, apt-get, aws) are not run.

How a line of the answer becomes the line that runs (each rule changes only what this machine cannot run
as written, so a command that stops working as written fails here):
- Names: every container, volume and network name the entry uses (`--name x`, `volume create x`,
  `network create x`, `-v x:/path`, `source=x`, `--network x`, `--volumes-from x`, `network connect x y`)
  gets a per-run prefix wherever it appears as a word, so parallel runs and other users of the shared engine
  never collide (`ping -c1 db` still finds the container named `db`, now `kbt1a2b3c-db`).
- Images: no registry is reachable, so the image of a `docker run`/`create` that this run did not build or
  tag is stood in by busybox:1.36 (or by a stand-in built FROM it where the answer relies on the image's
  content, e.g. a `VOLUME` line or an installed node_modules; see CASES). When the answer gives no command
  (and no --entrypoint) after the image, a detached (`-d`) server image runs `sleep 300`, a foreground one
  `true`. A `docker build` runs when its Dockerfile is in the answer and builds FROM busybox:1.36 only.
- Every `run`/`create`/`volume create`/`network create` gets `--label dockbot.kbtest=<prefix>`, so the test
  removes exactly what it made, and a `prune` line gets `-f --filter label=dockbot.kbtest=<prefix>`: on a
  shared engine a bare prune would delete other people's objects (a prompt cannot be answered here either).
- Host ports `-p H:C` get a free host port instead of H; `-it` of run and exec is dropped (no terminal),
  and so is `logs -f` (it follows until Ctrl-C);
  a host path that is not the current folder (`/home/me/data`) is moved under the test's folder (Case.paths).
- A `VAR=$(command)` line runs the command and keeps its output in VAR for the next lines.
- Not run at all, with the reason in SKIPPED: Compose and buildx (plugins not installed here), pull, push,
  login and plugin install (they need the network), builds of the reader's own project or FROM remote base
  images, swarm/service (they would make the shared engine a swarm manager), `system prune` (engine-wide),
  macvlan (needs the host's LAN interface).
Per-entry setup, stand-in images and the expected failures an answer itself announces (`bad address`,
`No such file`) are in CASES.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import shlex
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.knowledge import Entry, load_knowledge

KNOWLEDGE = Path(__file__).resolve().parent.parent / "knowledge"
# The Docker knowledge files whose answers this test runs (add a file here when its commands can run).
DOCKER_FILES = (
    "volumes.yaml",
    "bind-mounts.yaml",
    "containers.yaml",
    "images.yaml",
    "networks.yaml",
    "compose.yaml",
    "practices.yaml",
    "container-ops.yaml",
    "image-building.yaml",
)
IMAGE = "busybox:1.36"
LABEL = "dockbot.kbtest"

SKIPPED = {
    r"^docker compose\b": "Compose is a CLI plugin, not part of the engine, and is not installed here",
    r"^docker (pull|push|login)\b": "needs a registry",
    r"^docker buildx\b": "the buildx plugin is not installed here (multi-platform builds need base images)",
    r"^docker plugin install\b": "needs a registry",
    r"^docker network create -d \"\$PLUGIN\"": "needs the plugin that `plugin install` could not fetch",
    r"^docker (swarm|service)\b": "would turn the shared engine into a swarm manager",
    r"^docker network create -d overlay\b": "needs swarm mode",
    r"^docker system prune\b": "removes every user's unused objects on the shared engine",
    r"^docker network create -d macvlan\b": "needs the host's LAN interface (parent=eth0)",
}
# Harmless shell helpers of a block that the docker lines depend on (a Dockerfile written with printf, a
# folder to cd into); they run too, but only inside the test's folder (no ~, no absolute paths).
HELPERS = re.compile(r"^(mkdir|cd|printf|echo|touch)\b(?!.*(~| /))")
# docker run options that take no value (everything else that starts with '-' takes the next word).
FLAGS = {"-d", "--detach", "--rm", "-i", "-t", "-it", "-ti", "--init", "-P", "--read-only", "--privileged"}


@dataclass
class Case:
    """What an entry's commands need around them. Keys (block, line) count the block's docker lines."""

    setup: list[str] = field(default_factory=list)  # run first, mapped like the answer's lines
    # Dockerfiles of stand-in images, keyed by the image name the answer uses (built FROM busybox:1.36).
    images: dict[str, str] = field(default_factory=dict)
    args: dict[tuple[int, int], str] = field(default_factory=dict)  # stand-in for the command after the image
    fails: dict[tuple[int, int], str] = field(default_factory=dict)  # the answer says this fails (regex)
    shows: dict[tuple[int, int], str] = field(default_factory=dict)  # the output must contain this
    checks: dict[tuple[int, int], list[tuple[str, str]]] = field(default_factory=dict)  # after the line
    skip: dict[tuple[int, int], str] = field(default_factory=dict)  # not run, with the reason
    pick: dict[tuple[int, int], str] = field(default_factory=dict)  # VAR=$(...) then VAR = this (mapped)
    names: tuple[str, ...] = ()  # placeholders the answer uses for "your container" (made in setup)
    paths: dict[str, str] = field(default_factory=dict)  # host paths of the answer -> under the temp dir
    files: dict[str, str] = field(default_factory=dict)  # files the answer expects in the current folder


APP_WITH_VOLUME = 'FROM busybox:1.36\nVOLUME ["/app/feedback"]\nCMD ["sleep", "300"]\n'
NODE_APP = (  # an app image whose `npm ci` installed express under /app/node_modules
    "FROM busybox:1.36\n"
    "RUN mkdir -p /app/node_modules/express && echo 5 > /app/node_modules/express/VERSION\n"
    'WORKDIR /app\nCMD ["sleep", "300"]\n'
)
NGINX_LIKE = (  # what the answers look at inside a running nginx container (and its users)
    "FROM busybox:1.36\nRUN mkdir -p /etc/nginx && echo 'events {}' > /etc/nginx/nginx.conf\n"
    "RUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd\n"
    'CMD ["sh", "-c", "echo started; sleep 300"]\n'
)
SAME_IMAGE = "[ \"$(docker inspect -f '{{ .Image }}' web1)\" = \"$(docker inspect -f '{{ .Image }}' web2)\" ]"


def volume_cleanup_case(old_engine: bool) -> Case:
    """Engines before 23.0 (API < 1.42) have no `prune -a` and prune unused *named* volumes too (the
    answer's warning); 23+ keep named volumes unless `-a`. The test checks the answer on this engine."""
    leftover_gone, leftover_kept = (
        ("! docker volume inspect leftover", ""),
        ("docker volume inspect leftover", ""),
    )
    return Case(
        setup=["docker volume create data", "docker volume create leftover"],
        # The message depends on the CLI: a new one asks for API 1.42, an old one has no -a at all.
        fails={(1, 2): r"requires API version 1\.42|unknown shorthand flag: 'a'"} if old_engine else {},
        checks={(1, 1): [leftover_gone if old_engine else leftover_kept], (1, 2): [leftover_gone]},
    )


CASES: dict[str, Case] = {
    "volume-basics": Case(shows={(1, 1): '"Mountpoint"'}),
    "volume-dockerfile-instruction": Case(
        images={"myapp": APP_WITH_VOLUME},
        shows={(1, 2): "feedback"},  # fb2: the named volume
        checks={(1, 2): [("docker inspect -f '{{ range .Mounts }}{{ .Type }}{{ end }}' fb1", "volume")]},
    ),
    "volume-path-precedence": Case(
        images={"myapp:dev": NODE_APP},
        files={"server.js": "console.log(1)\n"},
        checks={
            (0, 0): [
                ("docker exec dev ls /app/node_modules", "express"),
                ("docker exec dev ls /app", "server.js"),
            ]
        },
    ),
    "volume-anonymous": Case(
        checks={
            (1, 2): [
                ("docker exec a1 sh -c 'echo kept > /app/data/f'", ""),
                ("docker exec a2 cat /app/data/f", "kept"),  # --volumes-from: the same volume
                ("docker exec a3 cat /app/data/f", "kept"),  # mounted by its hash name
            ]
        },
    ),
    "volume-named": Case(
        checks={
            (0, 1): [("docker exec app sh -c 'echo kept > /app/data/f'", "")],
            (0, 3): [("docker exec app2 cat /app/data/f", "kept")],  # the data outlived the container
        },
    ),
    "volume-named-vs-anonymous": Case(checks={(0, 3): [("docker volume inspect data", '"Name"')]}),
    "bind-mount": Case(
        images={"myapp:dev": NODE_APP},
        files={"server.js": "console.log(1)\n", "nginx.conf": "events {}\n"},
        checks={(0, 1): [("docker exec dev2 cat /app/server.js", "console.log")]},
    ),
    "bind-mount-vs-volume-syntax": Case(
        setup=["docker run -d --name web -v data:/app/data busybox:1.36 sleep 300"],
        names=("web",),
        paths={"/home/me": "home-me"},
        shows={(1, 0): "volume"},
    ),
    "container-basics": Case(),
    "container-single-task": Case(
        checks={(0, 3): [("docker exec web ping -c1 db", "1 packets received")]},
    ),
    "container-stateless": Case(
        setup=[
            # A DB container run without -v: its data lands in an anonymous volume (busybox stands in for
            # the image's VOLUME), then the container is removed and the volume is left behind.
            "docker run --name olddb -v /var/lib/postgresql/data busybox:1.36 "
            "sh -c 'echo 17 > /var/lib/postgresql/data/PG_VERSION'",
            "ORPHAN=$(docker inspect -f '{{ range .Mounts }}{{ .Name }}{{ end }}' olddb)",
            "docker rm olddb",
        ],
        shows={(0, 1): "A /data.txt", (1, 3): "PG_VERSION"},
        fails={(0, 3): "No such file"},
        # "여러 개면 위 목록에서 고른 이름을 직접 넣기": the test picks the orphan it made.
        pick={(1, 2): "$ORPHAN"},
        checks={(1, 6): [("docker exec db cat /var/lib/postgresql/data/PG_VERSION", "17")]},
    ),
    "image-vs-container": Case(
        checks={(0, 1): [(SAME_IMAGE + " && echo same-image", "same-image")]},
    ),
    "image-readonly": Case(
        setup=[
            "docker tag busybox:1.36 myapp:1.0",
            "docker tag busybox:1.36 myapp:1.1",
            "docker run -d --name web busybox:1.36 sh -c 'echo x > /changed && sleep 300'",
        ],
        names=("myapp", "web"),
        shows={(0, 1): "/changed", (2, 2): "1.1"},
        skip={(1, 1): "tags for the push of the next line, which needs a registry"},
        checks={(2, 0): [("docker rmi myapp:1.1", "Untagged")]},  # gone, so only `load` can bring it back
    ),
    "network-container-communication": Case(
        setup=["docker run -d --name some-container busybox:1.36 sleep 300"],
        names=("some-container",),
        checks={(0, 2): [("docker exec favorites ping -c1 mongodb", "1 packets received")]},
        shows={(1, 1): "some-container"},
    ),
    "network-create": Case(shows={(1, 1): '"Driver": "bridge"'}),
    "network-driver-bridge": Case(
        shows={(0, 3): "db", (0, 4): "1 packets received"},
        fails={(1, 1): "bad address"},
    ),
    "network-driver-host": Case(),
    "network-driver-overlay": Case(skip={(0, 3): "needs the overlay network of the skipped lines"}),
    "network-driver-none": Case(
        shows={(0, 0): "lo"},
        fails={(0, 1): "unreachable"},
    ),
    "network-driver-plugins": Case(),
    # --- container-ops.yaml and image-building.yaml
    "container-lifecycle": Case(),
    "container-logs-exec": Case(
        images={"nginxlike": NGINX_LIKE},
        setup=["docker run -d --name web nginxlike"],
        shows={(0, 0): "started", (1, 1): "events"},
        checks={(2, 2): [("cat nginx.conf", "events")]},  # docker cp copied it out
    ),
    "env-vars": Case(
        setup=["DB_PASSWORD=s3cret"],
        # The local busybox (Debian's static build) has no printenv applet; sh prints the same variable.
        args={(0, 1): "sh -c 'echo \"$DB_PASSWORD\"'"},
        shows={(0, 0): "GREETING=hello world", (0, 1): "s3cret", (1, 0): "LOG_LEVEL=info"},
    ),
    "dockerfile-cmd-vs-entrypoint": Case(
        shows={(0, 1): "hello world", (0, 2): "hello docker"},
    ),
    "image-layers-cache": Case(setup=["docker tag busybox:1.36 myapp:1.1"], names=("myapp",)),
    "multi-stage-build": Case(
        images={"web:1.0": "FROM busybox:1.36\nUSER 1000\n"},  # the answer's image ends with USER node
        shows={(2, 3): "uid=1000"},
    ),
    "registry-push": Case(
        setup=["docker tag busybox:1.36 myapp:1.0", "ECR_REGISTRY=registry.example.com"],
        names=("myapp", "registry.example.com"),
    ),
    "utility-container": Case(
        # node:24 `npm init` writes the project file into the bind-mounted folder and its cache under
        # $HOME; the stand-in does exactly those two writes as the host user.
        args={(0, 0): "sh -c 'mkdir -p \"$HOME/.npm\" && echo {} > package.json'"},
        checks={(0, 0): [("test -O package.json && cat package.json", "{}")]},
        skip={(2, 1): "runs the image of the skipped build"},
    ),
}


def docker_lines(block: str) -> list[str]:
    """The block's `docker ...` and `VAR=...` lines, comments removed (CASES count these lines)."""
    return [line for line, counted in block_lines(block) if counted]


def block_lines(block: str) -> list[tuple[str, bool]]:
    """The block's lines this test runs, in order: (line, counted); helpers (HELPERS) are not counted."""
    lines = []
    for raw in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"\s+#.*$", "", raw.strip()).strip()
        if re.match(r"^(docker |[A-Z_][A-Z0-9_]*=)", line):
            lines.append((line, True))
        elif HELPERS.match(line):
            lines.append((line, False))
    return lines


def entry_names(lines: list[str], extra: tuple[str, ...]) -> set[str]:
    names = set(extra)
    patterns = (
        r"--name (\S+)",
        r"docker volume (?:create|rm|inspect) (?:--\S+ \S+ )*([\w.-]+)",
        r"docker network (?:create|inspect|rm)(?: -+\S+(?: [^-\s]\S*)?)* ([\w.-]+)$",
        r"-v ([A-Za-z0-9][\w.-]*):/",
        r"source=([A-Za-z0-9][\w.-]*),target",
        r"--network (\S+)",
        r"--volumes-from (\S+)",
        r"docker network connect (\S+) (\S+)",
        r"docker (?:diff|exec|rm|stop|start|inspect)"
        r"(?: (?:-[uwe]|--user|--workdir|--env) \S+| -\S+(?: '[^']*')?)* (\w[\w-]*)",
        r"docker build\b.* -t (\w[\w.-]*)",
        r"docker tag \S+ (\w[\w.-]*)",
    )
    for line in lines:
        for pattern in patterns:
            for match in re.finditer(pattern, line):
                names.update(g for g in match.groups() if g)
    return {n for n in names if re.fullmatch(r"\w[\w.-]*", n) and n not in ("bridge", "host", "none")}


def rename(line: str, names: set[str], prefix: str) -> str:
    """Prefix each name where it stands as a word (not inside a path like /app/data or a file myapp.tar)."""
    for name in sorted(names, key=len, reverse=True):
        line = re.sub(rf"(?<![\w/.$-]){re.escape(name)}(?![\w/-]|\.\w)", prefix + name, line)
    return line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_words(text: str) -> list[str]:
    """Shell words as written (quotes and $(...) kept), so expansions like "$PWD" still happen in bash."""
    words, current, quote, depth = [], "", "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(" and text[i - 1 : i] == "$":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif ch.isspace() and not depth:
            if current:
                words.append(current)
            current = ""
            continue
        current += ch
    if current:
        words.append(current)
    return words


def plain(word: str) -> str:
    try:
        parts = shlex.split(word)
    except ValueError:
        return word
    return parts[0] if len(parts) == 1 else word


def adapt_run(
    words: list[str], prefix: str, stand_in_args: str | None, local: frozenset[str] = frozenset()
) -> list[str]:
    """A `docker run`/`create` line with the label, free host ports and a runnable image (`local`: the
    images this run built or tagged, which run as they are)."""
    out = [*words[:2], "--label", f"{LABEL}={prefix}"]
    i, detached = 2, False
    while i < len(words) and words[i].startswith("-"):
        word = words[i]
        if word in ("-it", "-ti", "-t"):
            i += 1
            continue
        detached |= word in ("-d", "--detach")
        if word in FLAGS or (word.startswith("--") and "=" in word):
            out.append(word)
            i += 1
            continue
        value = words[i + 1]
        if word == "-p":
            *ip, _, container_port = [""] * (3 - len(plain(value).split(":"))) + plain(value).split(":")
            value = ":".join(part for part in (*ip, str(free_port()), container_port) if part)
        out += [word, value]
        i += 2
    image, rest = plain(words[i]), words[i + 1 :]
    own = image in local or f"{image}:latest" in local
    if not own:
        image = IMAGE
    if stand_in_args is not None:
        return [*out, image, stand_in_args]
    if not rest and not own and "--entrypoint" not in words:
        # --init: the stand-in sleep then stops at once on `docker stop` (as a server would), not after 10 s.
        out, rest = ([*out, "--init"], ["sleep", "300"]) if detached else (out, ["true"])
    return [*out, image, *rest]


def adapt(
    line: str, prefix: str, stand_in_args: str | None = None, local: frozenset[str] = frozenset()
) -> str:
    """The line as it runs here (see the module docstring); `&&` chains are adapted part by part."""
    segments = []
    for segment in line.split(" && "):
        words = raw_words(segment)
        head = [plain(w) for w in words[:3]]
        if head[:2] in (["docker", "run"], ["docker", "create"]):
            words = adapt_run(words, prefix, stand_in_args, local)
        elif head[:2] == ["docker", "logs"]:
            words = [w for w in words if w not in ("-f", "--follow")]  # follows until Ctrl-C otherwise
        elif head[:2] == ["docker", "exec"]:
            words = [w for w in words if w not in ("-it", "-ti", "-t")]  # no terminal here
        elif head in (["docker", "volume", "create"], ["docker", "network", "create"]):
            words = [*words[:3], "--label", f"{LABEL}={prefix}", *words[3:]]
        elif len(head) == 3 and head[0] == "docker" and head[2] == "prune":
            words = [*words, "-f", "--filter", f"label={LABEL}={prefix}"]
        segments.append(" ".join(words))
    return " && ".join(segments)


class Runner:
    def __init__(self, workdir: Path, prefix: str, case: Case, docker_client):
        self.workdir, self.prefix, self.case, self.client = workdir, prefix, case, docker_client
        self.cwd = workdir
        self.env = {**os.environ, "PWD": str(workdir)}
        self.names: set[str] = set()

    def local_images(self) -> frozenset[str]:
        """The tags this run made (built stand-ins, `docker build`, `docker tag`): they run as they are."""
        tags = {tag for image in self.client.images.list() for tag in image.tags}
        return frozenset(tag for tag in tags if tag.startswith(self.prefix))

    def helper(self, line: str) -> None:
        """A HELPERS line (`mkdir greet && cd greet`, `printf ... > Dockerfile`); `cd` moves this runner."""
        for part in line.split(" && "):
            if part.startswith("cd "):
                self.cwd = (self.cwd / plain(part[3:].strip())).resolve()
                assert self.workdir in (self.cwd, *self.cwd.parents), f"{line!r} leaves the test folder"
                continue
            done = self.shell(part)
            assert done.returncode == 0, f"{line!r}: {done.stdout}{done.stderr}"

    def unbuildable(self, line: str) -> str | None:
        """Why a `docker build` line cannot run here, or None when its Dockerfile builds offline."""
        words = [plain(w) for w in raw_words(line)]
        name = words[words.index("-f") + 1] if "-f" in words else "Dockerfile"
        dockerfile = self.cwd / name
        if not dockerfile.is_file():
            return "its Dockerfile and context are the reader's project, not in the answer"
        text = dockerfile.read_text(encoding="utf-8")
        stages = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", text))
        bases = re.findall(r"(?im)^FROM\s+(\S+)", text)
        if any(base != IMAGE and base not in stages for base in bases):
            return "its base images need the network"
        return None

    def mapped(self, line: str) -> str:
        line = rename(line, self.names, self.prefix)
        for host, under in self.case.paths.items():
            line = line.replace(host, str(self.workdir / under))
        return line

    def shell(self, line: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", line], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=180
        )

    def run(self, line: str, stand_in_args: str | None = None) -> tuple[int, str]:
        """Run one (already mapped) line; `VAR=...` lines set VAR for the following lines."""
        assignment = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
        if assignment:
            var, value = assignment.groups()
            inner = re.fullmatch(r"\$\((.*)\)", value)
            if inner is None:
                self.env[var] = value
                return 0, value
            done = self.shell(adapt(inner.group(1), self.prefix))
            self.env[var] = done.stdout.strip()
            return done.returncode, done.stdout + done.stderr
        done = self.shell(adapt(line, self.prefix, stand_in_args, self.local_images()))
        return done.returncode, done.stdout + done.stderr

    def check(self, command: str, expect: str) -> None:
        must_fail = command.startswith("! ")
        done = self.shell(
            adapt(self.mapped(command.removeprefix("! ")), self.prefix, local=self.local_images())
        )
        output = done.stdout + done.stderr
        assert (done.returncode != 0) == must_fail, f"check {command!r}: {output}"
        assert expect in output, f"check {command!r} should show {expect!r}: {output}"

    def build(self, name: str, dockerfile: str) -> str:
        tag = rename(name, self.names, self.prefix)
        tag = tag if ":" in tag else f"{tag}:latest"
        self.client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, pull=False)
        return tag

    def clean(self) -> None:
        docker_client = self.client
        networks = docker_client.networks.list(filters={"label": f"{LABEL}={self.prefix}"})
        # Disconnect first: on an engine without a default bridge (`--bridge=none`, as the test-owned
        # engine of bench/fresh_clone_tests.py), removing a container that was started on the default
        # network and then `network connect`ed leaves its endpoint on the connected network ("has
        # active endpoints" for ever); an explicit disconnect while the container exists releases it.
        for network in networks:
            network.reload()
            for container_id in network.attrs.get("Containers") or {}:
                network.disconnect(container_id, force=True)
        volumes = set()
        for container in docker_client.containers.list(all=True, filters={"label": f"{LABEL}={self.prefix}"}):
            volumes |= {m.get("Name") for m in container.attrs.get("Mounts", []) if m.get("Name")}
            container.remove(force=True, v=True)
        volumes |= {v.name for v in docker_client.volumes.list(filters={"label": f"{LABEL}={self.prefix}"})}
        volumes |= {self.prefix + n for n in self.names} | {
            self.env.get("ORPHAN", ""),
            self.env.get("VOL", ""),
        }
        from docker.errors import DockerException

        for name in volumes - {""}:
            with contextlib.suppress(DockerException):  # already gone with its container
                docker_client.volumes.get(name).remove(force=True)
        for network in networks:
            network.remove()
        for image in docker_client.images.list():
            for tag in image.tags:
                if tag.startswith(self.prefix):
                    docker_client.images.remove(tag, noprune=False)


def docker_entries() -> list[Entry]:
    kb = load_knowledge(KNOWLEDGE)
    return [e for e in kb.entries if Path(e.path).name in DOCKER_FILES]


def skipped_reason(line: str) -> str | None:
    for pattern, reason in SKIPPED.items():
        if re.search(pattern, line):
            return reason
    return None


@pytest.fixture(scope="module")
def old_engine(docker_client) -> bool:
    version = docker_client.version()["Version"]
    return int(version.split(".")[0]) < 23


@pytest.mark.docker
@pytest.mark.parametrize("entry", docker_entries(), ids=lambda e: e.id)
def test_the_answer_commands_run_on_the_real_engine(entry: Entry, docker_client, old_engine, tmp_path):
    if not docker_client.images.list(name=IMAGE):
        pytest.fail(f"the local demo image {IMAGE} is missing (.ci/docker-engine.sh builds it)")
    case = volume_cleanup_case(old_engine) if entry.id == "volume-cleanup" else CASES.get(entry.id, Case())
    blocks = [block_lines(block) for block in entry.commands]
    prefix = f"kbt{secrets.token_hex(3)}-"
    runner = Runner(tmp_path, prefix, case, docker_client)
    image_names = tuple(name.split(":")[0] for name in case.images)
    every_line = [*case.setup, *(line for b in blocks for line, _ in b)]
    runner.names = entry_names(every_line, case.names + image_names)
    for name, content in case.files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    ran = 0
    try:
        for name, dockerfile in case.images.items():
            runner.build(name, dockerfile)
        for line in case.setup:
            code, output = runner.run(runner.mapped(line))
            assert code == 0, f"setup {line!r}: {output}"
        for b, lines in enumerate(blocks):
            runner.cwd = tmp_path  # each block starts in the reader's project folder
            counted = [line for line, is_counted in lines if is_counted]
            for line, is_counted in lines:
                if not is_counted:
                    runner.helper(line)
                    continue
                i = counted.index(line)
                reason = case.skip.get((b, i)) or skipped_reason(line)
                if reason is None and line.startswith("docker build"):
                    reason = runner.unbuildable(line)
                if reason:
                    continue
                code, output = runner.run(runner.mapped(line), case.args.get((b, i)))
                ran += 1
                shown = adapt(runner.mapped(line), prefix, case.args.get((b, i)), runner.local_images())
                where = f"{entry.id} block {b} line {i}: {line!r} ran as {shown!r}"
                if (b, i) in case.fails:
                    assert code != 0 and re.search(case.fails[(b, i)], output), (
                        f"{where} should fail: {output}"
                    )
                else:
                    assert code == 0, f"{where} failed: {output}"
                if (b, i) in case.shows:
                    assert case.shows[(b, i)] in output, f"{where} should show {case.shows[(b, i)]!r}"
                if (b, i) in case.pick:
                    var = line.split("=", 1)[0]
                    runner.env[var] = runner.shell(f'printf %s "{case.pick[(b, i)]}"').stdout
                for command, expect in case.checks.get((b, i), []):
                    runner.check(command, expect)
    finally:
        runner.clean()
    if ran == 0:
        pytest.skip("no command of this entry can run offline on the engine (see SKIPPED)")
    left = docker_client.containers.list(all=True, filters={"label": f"{LABEL}={prefix}"})
    assert left == []


def test_how_an_answer_line_becomes_the_line_that_runs():
    names = entry_names(["docker run -d --name db -v pgdata:/var/lib/postgresql/data postgres:17"], ())
    assert names == {"db", "pgdata"}
    assert entry_names(["docker exec -u root -it web sh"], ()) == {"web"}
    renamed = rename(
        "docker run --rm -v pgdata:/data busybox:1.36 ping -c1 db && cat /db/pgdata.txt", names, "p-"
    )
    assert renamed == "docker run --rm -v p-pgdata:/data busybox:1.36 ping -c1 p-db && cat /db/pgdata.txt"
    ran = adapt('docker run -it --rm -p 8080:80 -v "$PWD":/app -u "$(id -u):$(id -g)" node:24 npm init', "p-")
    words = raw_words(ran)
    assert words[:4] == ["docker", "run", "--label", f"{LABEL}=p-"] and "-it" not in words
    assert '"$PWD":/app' in words and '"$(id -u):$(id -g)"' in words  # expansions left to bash
    port = words[words.index("-p") + 1]
    assert port.endswith(":80") and port != "8080:80"
    assert words[-3:] == [IMAGE, "npm", "init"]  # the stand-in image, the answer's own command
    assert adapt("docker run -d --name web nginx:1.30", "p-").endswith(f"{IMAGE} sleep 300")
    assert adapt("docker run --rm myimage", "p-").endswith(f"{IMAGE} true")
    assert adapt("docker volume prune -a", "p-") == f"docker volume prune -a -f --filter label={LABEL}=p-"
    assert skipped_reason("docker system prune --volumes") and skipped_reason("docker compose up -d")
    assert skipped_reason("docker volume prune") is None
