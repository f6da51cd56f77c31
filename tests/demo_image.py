"""Build the demo image from demo-images/Dockerfile with Debian's static busybox (no registry needed), as
.ci/docker-engine.sh does: for the conftest's missing-image path and the copy-up tests' own tag."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "demo-images" / "Dockerfile"
BUSYBOX = Path("/bin/busybox")  # busybox-static


def build_demo_image(client: Any, tag: str) -> None:
    """`docker build` of demo-images/Dockerfile as `tag` on `client` (a docker.DockerClient)."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        tar.add(BUSYBOX, arcname="busybox")
        tar.add(DOCKERFILE, arcname="Dockerfile")
    context.seek(0)
    # No network: the build needs none, and a test-owned engine may have no bridge at all.
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, network_mode="none")
