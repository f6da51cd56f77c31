"""Reach the Docker engine in DOCKER_HOST (docker SDK defaults) and make sure the demo image is there.

Two timeouts on purpose: the first contact (API version + ping) gets a short one so an engine that is down
or hung is reported in about two seconds; later requests get a longer per-request timeout. Neither is the
demo's deadline: the runner enforces deadlines per step and per demo itself.
"""

from __future__ import annotations

import logging
import os

import docker
import requests

from bot.demos.errors import EngineUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 1.5
REQUEST_TIMEOUT_S = 10.0
# Threads of one service share one client; the pool must not be the bottleneck at the concurrency cap.
MAX_POOL_SIZE = 32
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def engine_unavailable(detail: object) -> EngineUnavailable:
    host = os.environ.get("DOCKER_HOST", "").strip() or "기본 소켓 unix:///var/run/docker.sock"
    return EngineUnavailable(
        f"Docker 엔진에 연결할 수 없습니다 ({host}). 엔진이 켜져 있는지, DOCKER_HOST가 맞는지 확인해 주세요.",
        f"docker engine unreachable: {detail}",
    )


def connect_engine() -> docker.APIClient:
    """A low-level client that has answered a ping; raises EngineUnavailable (Korean message) otherwise."""
    try:
        api = docker.APIClient(
            timeout=CONNECT_TIMEOUT_S, max_pool_size=MAX_POOL_SIZE, **docker.utils.kwargs_from_env()
        )
        api.ping()
    except ENGINE_ERRORS as exc:
        raise engine_unavailable(exc) from None
    api.timeout = REQUEST_TIMEOUT_S
    return api


def ping(api: docker.APIClient) -> None:
    """Raise EngineUnavailable unless the engine answers within the connect timeout."""
    try:
        api._get(api._url("/_ping"), timeout=CONNECT_TIMEOUT_S).raise_for_status()
    except ENGINE_ERRORS as exc:
        raise engine_unavailable(exc) from None


def ensure_image(api: docker.APIClient, image: str) -> None:
    """Pull `image` when the engine does not have it; EngineUnavailable (Korean) when it cannot be had."""
    try:
        api.inspect_image(image)
        return
    except docker.errors.ImageNotFound:
        pass
    except ENGINE_ERRORS as exc:
        raise engine_unavailable(exc) from None
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    log.info("demo image %s is missing; pulling it", image)
    try:
        api.pull(repository, tag=tag or "latest")
        api.inspect_image(image)
    except ENGINE_ERRORS as exc:
        log.warning("cannot pull demo image %s: %s", image, exc)
        raise EngineUnavailable(
            f"데모 이미지 '{image}'가 Docker 호스트에 없고 받아올 수도 없습니다. "
            "관리자가 이미지를 준비하거나 DOCKBOT_DEMO_IMAGE를 바꿔야 합니다.",
            f"demo image {image} missing and not pullable: {exc}",
        ) from None
