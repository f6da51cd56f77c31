"""The bind-mount demos' "host directory", kept on the Docker engine's own host.

A demo host is usually another machine (a DinD container, a VM behind TLS), so a directory on the bot's
filesystem means nothing to it. Instead each run gets a labelled volume; its Mountpoint is a real directory on
the engine's host, and demo containers bind-mount that path (a true bind mount: the engine mounts a host path,
not a volume). The "editor on the host" is the engine's archive API (what `docker cp` uses) on a container
that is created with the volume mounted and never started. No file of the bot's machine is read or written,
and extraction happens inside that container's filesystem view, so a symlink a demo container plants cannot
lead out of it.

Demo containers run as an unprivileged uid; `writable_root_tar` makes a volume's root directory theirs,
unless the image already ships the mount path owned by that uid (`image_writable_paths`): an empty volume
takes the owner and mode of the image directory it is mounted over (Docker's volume copy-up).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from typing import Any

import docker

DEMO_UID = 65534  # nobody: demo containers never run as root, even without capabilities
DEMO_USER = f"{DEMO_UID}:{DEMO_UID}"
EDITOR_TARGET = "/host"
ROLE_LABEL = "dockbot.role"
EDITOR_ROLE = "host-editor"
READ_MAX = 64 * 1024
# Image label: the absolute paths the demo image ships as empty directories owned by DEMO_UID
# (demo-images/Dockerfile), space-separated.
WRITABLE_PATHS_LABEL = "dockbot.demo.writable"


def _dir_entry(name: str) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type = tarfile.DIRTYPE
    entry.mode = 0o1777
    entry.uid = entry.gid = DEMO_UID
    return entry


def writable_root_tar() -> bytes:
    """A tar whose only entry is the extraction root itself: extracted at a volume's mount path, it makes
    the volume's root directory owned by DEMO_UID (mode 1777), which is what an empty volume needs before a
    non-root container can write to it (Docker creates it root-owned 0755)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_dir_entry("/"))
    return buffer.getvalue()


def image_writable_paths(image_info: dict[str, Any]) -> frozenset[str]:
    """The mount paths an image (`inspect_image`) declares owned by DEMO_UID; only plain absolute paths
    count, so a malformed label costs an upload, never a demo."""
    labels = (image_info.get("Config") or {}).get("Labels") or {}
    declared = str(labels.get(WRITABLE_PATHS_LABEL, "")).split()
    return frozenset(
        path for path in declared if path.startswith("/") and ".." not in path.split("/") and "//" not in path
    )


def file_tar(relative: str, content: bytes) -> bytes:
    """`relative` (already validated by the scenario schema) with its parent directories, writable by the
    demo uid, as the archive API takes it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            tar.addfile(_dir_entry("/".join(parts[:depth])))
        entry = tarfile.TarInfo(relative)
        entry.size = len(content)
        entry.mode = 0o666
        entry.uid = entry.gid = DEMO_UID
        tar.addfile(entry, io.BytesIO(content))
    return buffer.getvalue()


def first_regular_file(stream: Any) -> bytes | None:
    """The content of the one file in an archive API download, or None when it is not a regular file
    (a symlink or directory a container put there is never followed)."""
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        member = next(iter(tar.getmembers()), None)
        if member is None or not member.isfile():
            return None
        handle = tar.extractfile(member)
        return handle.read(READ_MAX) if handle is not None else None


class EngineHostDir:
    """One run's host directory on the engine's host: created on first use, removed with the run's labels."""

    def __init__(
        self,
        api: docker.APIClient,
        *,
        image: str,
        volume: str,
        editor: str,
        labels: dict[str, str],
        editor_config: Callable[[], dict[str, Any]],
        image_writable: Callable[[], frozenset[str]] = frozenset,
    ):
        self.api = api
        self.image = image
        self.volume = volume
        self.editor_name = editor
        self.labels = labels
        # The locked-down host config every demo container gets, with this volume mounted at EDITOR_TARGET.
        self._editor_config = editor_config
        # The paths the image ships owned by the demo uid: at EDITOR_TARGET the volume is theirs by copy-up.
        self._image_writable = image_writable
        self._path: str | None = None
        self._editor: str | None = None

    @property
    def created(self) -> bool:
        return self._path is not None

    def path(self) -> str:
        """The directory's path on the engine's host, created on first use."""
        if self._path is None:
            self.api.create_volume(name=self.volume, labels=self.labels)
            labels = {**self.labels, ROLE_LABEL: EDITOR_ROLE}
            created = self.api.create_container(
                self.image,
                command=["true"],
                name=self.editor_name,
                labels=labels,
                host_config=self._editor_config(),
                user=DEMO_USER,
                network_disabled=True,
            )
            self._editor = created["Id"]
            if EDITOR_TARGET not in self._image_writable():
                self.api.put_archive(self._editor, EDITOR_TARGET, writable_root_tar())
            self._path = self.api.inspect_volume(self.volume)["Mountpoint"]
        return self._path

    def _started_editor(self) -> str:
        """The editor container's id (path() creates it with the directory)."""
        self.path()
        if self._editor is None:
            raise RuntimeError("the host directory's editor container was not created")
        return self._editor

    def write(self, relative: str, content: str) -> None:
        self.api.put_archive(
            self._started_editor(), EDITOR_TARGET, file_tar(relative, content.encode("utf-8"))
        )

    def read(self, relative: str) -> str | None:
        """The file's text, or None when it does not exist (or is not a regular file)."""
        editor = self._started_editor()
        try:
            stream, _stat = self.api.get_archive(editor, f"{EDITOR_TARGET}/{relative}")
        except docker.errors.NotFound:
            return None
        content = first_regular_file(stream)
        return None if content is None else content.decode("utf-8", "replace")
