"""Reach the Docker engine in DOCKER_HOST (docker SDK defaults) and make sure the demo image is there.

Two timeouts on purpose: the first contact (API version + ping) gets a short one so an engine that is down
or hung is reported in about two seconds; later requests get a longer per-request timeout. Neither is the
demo's deadline: the runner enforces deadlines per step and per demo itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import docker
import requests
from docker.transport import UnixHTTPAdapter

from bot.demos.errors import EngineUnavailable

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 1.5
REQUEST_TIMEOUT_S = 10.0
# Threads of one service share one client; the pool must not be the bottleneck at the concurrency cap.
MAX_POOL_SIZE = 32
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


class SharedUnixPoolAdapter(UnixHTTPAdapter):
    """docker-py's unix-socket adapter keys its connection pools by the whole request URL, path and query
    included: nearly every request of a demo opened a new socket and a new pool (15 of the volumes demo's
    23) instead of reusing a kept-alive connection. Here there is one pool per socket, as urllib3 keys
    pools by host; threads sharing the client still get a connection each (up to MAX_POOL_SIZE)."""

    def get_connection(self, url: str, proxies: object = None) -> object:
        return super().get_connection(self.socket_path, proxies)


def engine_unavailable(detail: object, host: str | None = None) -> EngineUnavailable:
    host = (os.environ.get("DOCKER_HOST", "") if host is None else host).strip()
    host = host or "기본 소켓 unix:///var/run/docker.sock"
    return EngineUnavailable(
        f"Docker 엔진에 연결할 수 없습니다 ({host}). 엔진이 켜져 있는지, DOCKER_HOST가 맞는지 확인해 주세요.",
        f"docker engine unreachable: {detail}",
    )


def connect_engine(environment: Mapping[str, str] | None = None) -> docker.APIClient:
    """A low-level client that has answered a ping; raises EngineUnavailable (Korean message) otherwise.
    `environment`: DOCKER_HOST/DOCKER_TLS_VERIFY/DOCKER_CERT_PATH of one host of a pool (default: os.environ).

    One request, not two: docker-py's default `version="auto"` asks GET /version before anything else, but
    the engine's API version is already in the `API-Version` header of the ping we send anyway (what the
    docker CLI negotiates from, too). The client is made with a placeholder version, pings without a
    version prefix, and then speaks min(engine, SDK default)."""
    try:
        api = docker.APIClient(
            version=docker.constants.MINIMUM_DOCKER_API_VERSION,
            timeout=CONNECT_TIMEOUT_S,
            max_pool_size=MAX_POOL_SIZE,
            **docker.utils.kwargs_from_env(environment=environment),
        )
        _share_one_unix_pool(api)
        response = api._get(api._url("/_ping", versioned_api=False))
        response.raise_for_status()
        engine_version = response.headers.get("API-Version", "")
        if not _version_key(engine_version):  # an engine too old to say it in the ping: ask
            engine_version = api.version(api_version=False)["ApiVersion"]
    except ENGINE_ERRORS as exc:
        host = environment.get("DOCKER_HOST", "") if environment else None  # {}: os.environ, as docker-py
        raise engine_unavailable(exc, host) from None
    # docker-py keeps the negotiated version in `_version` (set the same way by its "auto" detection).
    api._version = min(engine_version, docker.constants.DEFAULT_DOCKER_API_VERSION, key=_version_key)
    api.timeout = REQUEST_TIMEOUT_S
    if api.base_url.startswith("http+docker://"):
        # A local socket (unix, npipe, ssh): no proxy or .netrc can apply, yet with trust_env requests
        # scans the whole environment for proxy settings on every request (a third of its per-request CPU).
        api.trust_env = False
    return api


def _share_one_unix_pool(api: docker.APIClient) -> None:
    """Put SharedUnixPoolAdapter in place of docker-py's own on a unix-socket client, before any request."""
    own = getattr(api, "_custom_adapter", None)
    if type(own) is UnixHTTPAdapter:
        shared = SharedUnixPoolAdapter(own.socket_path, own.timeout, max_pool_size=own.max_pool_size)
        api._custom_adapter = shared
        api.mount("http+docker://", shared)
        own.close()


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


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
