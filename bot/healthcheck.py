"""Container health check: `python -m bot.healthcheck` exits 0 when the running bot is alive, 1 otherwise.

The image's HEALTHCHECK runs it inside the container, so it reads the same environment as `dockbot serve`:
- HTTP mode (no SLACK_APP_TOKEN): GET http://127.0.0.1:$PORT/healthz must answer 200.
- Socket Mode (SLACK_APP_TOKEN set): there is no port to ask, so the bot touches a heartbeat file
  (DOCKBOT_HEARTBEAT_FILE, default /tmp/dockbot.heartbeat) while its connection is alive; a file older than
  DOCKBOT_HEARTBEAT_MAX_AGE seconds (default 60) means a silently dead bot.

Stdlib only and no bot imports beyond the settings: it runs every 30 s and must stay cheap. It prints one line
saying why, which `docker inspect` shows under State.Health.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HEARTBEAT_FILE = Path("/tmp/dockbot.heartbeat")
DEFAULT_HEARTBEAT_MAX_AGE_S = 60.0
HTTP_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


def heartbeat_file(env: Mapping[str, str] | None = None) -> Path:
    """Where Socket Mode's liveness heartbeat lives (shared with handlers/socket_mode.py, which writes it)."""
    env = os.environ if env is None else env
    return Path(env.get("DOCKBOT_HEARTBEAT_FILE", "").strip() or DEFAULT_HEARTBEAT_FILE)


def check_http(port: int, *, host: str = "127.0.0.1", timeout_s: float = HTTP_TIMEOUT_S) -> Health:
    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        return Health(False, f"{url} answered {error.code}")
    except (OSError, ValueError) as error:
        return Health(False, f"{url} unreachable: {error}")
    if status != 200:
        return Health(False, f"{url} answered {status}")
    return Health(True, f"{url} answered 200")


def check_heartbeat(path: Path, *, max_age_s: float, now: float | None = None) -> Health:
    try:
        modified = path.stat().st_mtime
    except OSError:
        return Health(False, f"no heartbeat file {path} (Socket Mode not connected yet?)")
    age = (time.time() if now is None else now) - modified
    if age > max_age_s:
        return Health(False, f"heartbeat {path} is {age:.0f} s old (limit {max_age_s:.0f} s)")
    return Health(True, f"heartbeat {path} is {max(age, 0):.0f} s old")


def check(env: Mapping[str, str] | None = None) -> Health:
    """The health of the bot that this environment configures (Socket Mode or HTTP)."""
    from bot.config import ConfigError, Settings

    env = os.environ if env is None else env
    try:
        settings = Settings.from_env(env)
    except ConfigError as error:
        return Health(False, f"bad configuration: {error}")
    if settings.slack_app_token:
        raw = env.get("DOCKBOT_HEARTBEAT_MAX_AGE", "").strip()
        try:
            max_age = float(raw) if raw else DEFAULT_HEARTBEAT_MAX_AGE_S
        except ValueError:
            return Health(False, f"DOCKBOT_HEARTBEAT_MAX_AGE must be a number of seconds, got {raw!r}")
        return check_heartbeat(heartbeat_file(env), max_age_s=max_age)
    return check_http(settings.port)


def main() -> int:
    health = check()
    print(("healthy: " if health.ok else "unhealthy: ") + health.reason)
    return 0 if health.ok else 1


if __name__ == "__main__":
    sys.exit(main())
