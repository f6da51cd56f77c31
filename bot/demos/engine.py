"""Reach the Docker engine in DOCKER_HOST (docker SDK defaults) and make sure the demo image is there.

Two timeouts on purpose: the first contact (the API version) gets a short one so an engine that is down
or hung is reported in about two seconds; later requests get a longer per-request timeout. Neither is the
demo's deadline: the runner enforces deadlines per step and per demo itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import docker
import docker.constants
import docker.utils
import requests

from bot.demos.errors import EngineUnavailable
from bot.demos.hostdir import image_writable_paths

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 1.5
REQUEST_TIMEOUT_S = 10.0
# Threads of one service share one client; the pool must not be the bottleneck at the concurrency cap.
MAX_POOL_SIZE = 32
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def engine_unavailable(detail: object, host: str | None = None) -> EngineUnavailable:
    host = (os.environ.get("DOCKER_HOST", "") if host is None else host).strip()
    host = host or "기본 소켓 unix:///var/run/docker.sock"
    return EngineUnavailable(
        f"Docker 엔진에 연결할 수 없습니다 ({host}). 엔진이 켜져 있는지, DOCKER_HOST가 맞는지 확인해 주세요.",
        f"docker engine unreachable: {detail}",
    )


def connect_engine(environment: Mapping[str, str] | None = None) -> docker.APIClient:
    """A low-level client that has answered just now; raises EngineUnavailable (Korean message) otherwise.
    `environment`: DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH of one host of a pool (default: os.environ).

    Through docker-py's public API only: the first client asks the engine its API version (`version()`, one
    request, with the short timeout, so an engine that is down or hung is reported in about two seconds);
    the client the demos use then speaks min(engine, SDK default), as the docker CLI negotiates, with the
    longer per-request timeout. Making a client sends no request."""
    config = docker.utils.kwargs_from_env(environment=environment)
    try:
        with docker.APIClient(
            version=docker.constants.MINIMUM_DOCKER_API_VERSION,
            timeout=CONNECT_TIMEOUT_S,  # type: ignore[arg-type]  # requests takes float seconds; stubs say int
            **config,
        ) as probe:
            engine_version = str(probe.version(api_version=False)["ApiVersion"])
        api = docker.APIClient(
            version=min(engine_version, docker.constants.DEFAULT_DOCKER_API_VERSION, key=_version_key),
            timeout=REQUEST_TIMEOUT_S,  # type: ignore[arg-type]  # as above
            max_pool_size=MAX_POOL_SIZE,
            **config,
        )
    except ENGINE_ERRORS as exc:
        host = environment.get("DOCKER_HOST", "") if environment else None  # {}: os.environ, as docker-py
        raise engine_unavailable(exc, host) from None
    if api.base_url.startswith("http+docker://"):
        # A local socket (unix, npipe, ssh): no proxy or .netrc can apply, yet with trust_env (a public
        # requests.Session setting) requests scans the environment for proxies on every request.
        api.trust_env = False
    return api


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


# (engine URL, image reference) -> (image id, the paths its `dockbot.demo.writable` label names): a keyed
# store. ensure_image fills it; the pool calls that before every run in place of a ping (one request either
# way), so a rebuilt or re-tagged image (a new id) is read again, and a run reads no image of its own.
_WRITABLE_PATHS: dict[tuple[str, str], tuple[str, frozenset[str]]] = {}


def ensure_image(api: docker.APIClient, image: str) -> None:
    """Pull `image` when the engine does not have it; EngineUnavailable (Korean) when it cannot be had."""
    try:
        _remember(api, image, api.inspect_image(image))
        return
    except docker.errors.ImageNotFound:
        pass
    except ENGINE_ERRORS as exc:
        raise engine_unavailable(exc) from None
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    log.info("demo image %s is missing; pulling it", image)
    try:
        api.pull(repository, tag=tag or "latest")
        _remember(api, image, api.inspect_image(image))
    except ENGINE_ERRORS as exc:
        log.warning("cannot pull demo image %s: %s", image, exc)
        raise EngineUnavailable(
            f"데모 이미지 '{image}'가 Docker 호스트에 없고 받아올 수도 없습니다. "
            "관리자가 이미지를 준비하거나 DOCKBOT_DEMO_IMAGE를 바꿔야 합니다.",
            f"demo image {image} missing and not pullable: {exc}",
        ) from None


def _remember(api: docker.APIClient, image: str, info: dict[str, Any]) -> None:
    key, image_id = (api.base_url, image), str(info.get("Id") or "")
    known = _WRITABLE_PATHS.get(key)
    if known is None or known[0] != image_id:
        _WRITABLE_PATHS[key] = (image_id, image_writable_paths(info))


def known_writable_paths(api: docker.APIClient, image: str) -> frozenset[str] | None:
    """What `image` on this engine declared writable when ensure_image last read it (None: never read)."""
    known = _WRITABLE_PATHS.get((api.base_url, image))
    return known[1] if known is not None else None
