"""A pool of demo engines (DOCKER_HOST=a,b,c; TLS settings per host, see bot/config.py `docker_hosts`).

A demo goes to the least busy healthy engine (busy = demo slots held on it, across replicas when the slots
are shared). An engine that does not answer its ping is skipped for RETRY_AFTER_S and then tried again.
With one host (the usual case) nothing is pinged to choose: the run's own connection check says it all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import DockerHost
from bot.demos.errors import EngineUnavailable

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30.0


@dataclass
class _Engine:
    host: DockerHost
    api: Any = None
    down_until: float = 0.0


class EnginePool:
    """`connect(host)` returns a connected client (cached, checked before each run, reconnected after a
    restart) with the demo image present. `factory`/`checks` are injectable for unit tests above Docker."""

    def __init__(
        self,
        hosts: tuple[DockerHost, ...],
        *,
        image: str,
        factory: Callable[[Mapping[str, str]], Any] | None = None,
        checks: bool = True,
    ) -> None:
        self._engines = {h.name: _Engine(h) for h in hosts or (DockerHost(),)}
        self._image = image
        self._factory = factory
        self._checks = checks  # ping and image checks (off for an injected fake engine)
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        return list(self._engines)

    def pick(self, load: Mapping[str, int]) -> str:
        """The least busy engine that answers (ties: DOCKER_HOST order); EngineUnavailable if none does."""
        if len(self._engines) == 1:
            return next(iter(self._engines))
        now = time.monotonic()
        order = sorted(self._engines, key=lambda name: load.get(name, 0))
        last_error: EngineUnavailable | None = None
        for name in order:
            if self._engines[name].down_until > now:
                continue
            try:
                self.connect(name)
                return name
            except EngineUnavailable as exc:
                last_error = exc
        if last_error is not None:
            raise last_error
        raise EngineUnavailable(
            "데모용 Docker 엔진이 모두 응답하지 않습니다. 잠시 뒤에 다시 시도해 주세요.",
            f"every demo engine is marked down: {', '.join(order)}",
        )

    def connect(self, name: str) -> Any:
        engine = self._engines.get(name)
        if engine is None:
            raise EngineUnavailable(
                "이 데모의 Docker 엔진을 설정에서 찾을 수 없습니다.", f"engine {name} is not in DOCKER_HOST"
            )
        try:
            return self._connect(engine)
        except EngineUnavailable:
            if len(self._engines) > 1:
                log.warning("demo engine %s does not answer; skipped for %.0f s", name, RETRY_AFTER_S)
            engine.down_until = time.monotonic() + RETRY_AFTER_S
            raise

    def _connect(self, engine: _Engine) -> Any:
        from bot.demos import engine as docker_engine

        with self._lock:
            api = engine.api
        factory = self._factory or docker_engine.connect_engine
        environment = engine.host.environment()
        checked = False
        if api is not None and self._checks:
            try:
                # Before every run: answers like a ping (one request either way) and reads the image as it
                # is now, so a rebuilt demo image is seen (engine.py keeps its facts by image id).
                docker_engine.ensure_image(api, self._image)
                checked = True
            except EngineUnavailable:
                api = None  # the engine may have restarted: one fresh try
        if api is None:
            api = factory(environment)
        if self._checks and not checked:
            docker_engine.ensure_image(api, self._image)
        with self._lock:
            engine.api = api
            engine.down_until = 0.0
        return api

    def connected(self) -> list[tuple[str, Any]]:
        """(name, client or the EngineUnavailable) for every engine: `dockbot gc` sweeps each of them."""
        found: list[tuple[str, Any]] = []
        for name in self._engines:
            try:
                found.append((name, self.connect(name)))
            except EngineUnavailable as exc:
                found.append((name, exc))
        return found

    def close(self) -> None:
        for engine in self._engines.values():
            if engine.api is not None and hasattr(engine.api, "close"):
                engine.api.close()
